"""The mesh index: ``govern check`` loads only the checked products' neighbourhood, and says exactly
what a check of the whole mesh says, also after files change.

Every comparison is between ``check`` (index) and ``check --no-index`` (whole mesh loaded) in the
same repository, on the whole JSON report but the run's id and start time.
"""

from __future__ import annotations

import os
import shutil
import sqlite3
import subprocess
import time
from pathlib import Path

import pytest

from engine.gather.index import INDEX_PATH, INDEX_VERSION, SCHEMA, UNCHANGED, MeshIndex, refresh
from engine.gather.mesh import discover

M = "examples/mesh"
NOW = "2026-11-21T09:00:00Z"


def report(govern, root: Path, *paths: str, index: bool = True) -> dict:
    run = govern("check", "--now", NOW, *paths, "--format", "json", "--index" if index else "--no-index", cwd=root)
    assert run.code in (0, 1, 3), run.err
    data = run.json()
    del data["run"]["id"], data["run"]["started_at"]
    return data


def same_either_way(govern, root: Path, *paths: str) -> dict:
    with_index = report(govern, root, *paths)
    assert with_index == report(govern, root, *paths, index=False)
    return with_index


def findings(data: dict) -> set[tuple[str, str]]:
    return {(f["product"], f["rule"]) for f in data["findings"]}


def edit(path: Path, old: str, new: str) -> None:
    text = path.read_text()
    assert old in text
    path.write_text(text.replace(old, new, 1))


def demo_product_folders(root: Path) -> list[str]:
    products, _ = discover(root / M)
    return sorted({os.path.relpath(p.parent, root) for p in products})


def test_every_demo_product_checks_the_same_with_the_index(govern, demo_copy):
    folders = demo_product_folders(demo_copy)
    assert len(folders) == 14
    for folder in folders:
        same_either_way(govern, demo_copy, folder)
    assert (demo_copy / M / INDEX_PATH).is_file()


def test_an_audit_leaves_the_index_the_next_check_uses(govern, demo_copy):
    """A mesh audited whole has its index saved and up to date: the check that follows neither
    reads the mesh's files again nor saves the index anew (its inode and time stay)."""
    mesh = demo_copy / M
    past = time.time() - 60  # files older than the index by more than its time stamps' margin
    for path in [mesh, *mesh.rglob("*")]:
        os.utime(path, (past, past))
    assert not (mesh / INDEX_PATH).exists()
    assert govern("audit", M, "--now", NOW, "--no-store", "--format", "json", cwd=demo_copy).code == 1
    saved = (mesh / INDEX_PATH).stat()
    assert findings(same_either_way(govern, demo_copy, f"{M}/orders/returns")) == set()
    now = (mesh / INDEX_PATH).stat()
    assert (now.st_ino, now.st_mtime_ns) == (saved.st_ino, saved.st_mtime_ns)


def test_generated_products_check_the_same_with_the_index(govern, tmp_path):
    """A generated mesh: lineage across domains, contracts of 30 columns, violations and waivers."""
    mesh = tmp_path / "mesh"
    assert govern("generate", str(mesh), "--products", "120", "--domains", "4", "--seed", "7", "--as-of", NOW[:10]).code == 0
    products, _ = discover(mesh)
    for descriptor in products[::9]:
        same_either_way(govern, mesh, os.path.relpath(descriptor, mesh))


def test_only_the_neighbourhood_is_loaded(demo_copy):
    root = demo_copy / M
    index = refresh(root)
    products, contracts, _ = index.neighbourhood([root / "orders/returns"])
    shown = sorted(os.path.relpath(p, root) for p in products + contracts)
    # orders_returns reads orders_order_items and feeds no one: itself, the upstream, their contracts.
    assert shown == [
        "orders/order_items/dataproduct.yaml",
        "orders/order_items/orders-order-items-v1.odcs.yaml",
        "orders/returns/dataproduct.yaml",
        "orders/returns/orders-returns-v1.odcs.yaml",
    ]
    # orders_order_items reads two products and feeds three: all five, but only the contracts it
    # publishes and reads (what its downstream products publish reaches no input document).
    products, contracts, _ = index.neighbourhood([root / "orders/order_items"])
    assert sorted(os.path.relpath(p, root) for p in products) == [
        "customers/profiles/dataproduct.yaml",
        "finance/invoices/dataproduct.yaml",
        "inventory/stock_levels/dataproduct.yaml",
        "orders/order_items/dataproduct.yaml",
        "orders/returns/dataproduct.yaml",
        "orders/shipments/shipping_shipments.odps.yaml",
    ]
    assert sorted(os.path.relpath(p, root) for p in contracts) == [
        "customers/profiles/customers-profiles-v1.odcs.yaml",
        "inventory/stock_levels/inventory-stock-levels-v1.odcs.yaml",
        "orders/order_items/orders-order-items-v1.odcs.yaml",
    ]


def test_a_port_naming_no_contract_checks_the_same_with_the_index(govern, demo_copy):
    """Such a port reads every contract of its upstream (here for column lineage: no LIN-005)."""
    edit(
        demo_copy / M / "orders/order_items/dataproduct.yaml",
        "  - product: customers_profiles\n    contractId: customers-profiles-v1\n",
        "  - product: customers_profiles\n",
    )
    data = same_either_way(govern, demo_copy, f"{M}/orders/order_items")
    assert findings(data) == {("orders_order_items", "LIN-004")}


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        # an upstream is deprecated: the downstream's LIN rule fires
        (
            ("orders/order_items/dataproduct.yaml", "status: active", "status: deprecated"),
            ("orders_returns", "LIN-002"),
        ),
        # a cycle appears through a file the check does not name
        (
            (
                "orders/order_items/dataproduct.yaml",
                "inputPorts:\n",
                "inputPorts:\n  - {product: orders_returns, contractId: orders-returns-v1}\n",
            ),
            ("orders_returns", "LIN-003"),
        ),
    ],
)  # fmt: skip
def test_a_changed_neighbour_is_seen(govern, demo_copy, change, expected):
    before = same_either_way(govern, demo_copy, f"{M}/orders/returns")
    assert expected not in findings(before)
    file, old, new = change
    edit(demo_copy / M / file, old, new)
    after = same_either_way(govern, demo_copy, f"{M}/orders/returns")
    assert expected in findings(after)


def test_a_removed_upstream_and_a_new_downstream_are_seen(govern, demo_copy):
    same_either_way(govern, demo_copy, f"{M}/orders/returns")
    for name in os.listdir(demo_copy / M / "orders/order_items"):
        (demo_copy / M / "orders/order_items" / name).unlink()
    after = same_either_way(govern, demo_copy, f"{M}/orders/returns")
    assert ("orders_returns", "CON-007") in findings(after)  # the upstream is not found
    reader = demo_copy / M / "finance/refunds/dataproduct.yaml"
    reader.parent.mkdir()
    source = (demo_copy / M / "finance/invoices/dataproduct.yaml").read_text()
    reader.write_text(
        source.replace("name: finance_invoices", "name: finance_refunds").replace(
            "product: orders_order_items", "product: orders_returns"
        )
    )
    same_either_way(govern, demo_copy, f"{M}/orders/returns")
    root = demo_copy / M
    products, _, _ = refresh(root).neighbourhood([root / "orders/returns"])
    assert reader in products


def age(root: Path, seconds: float = 60) -> None:
    """Date every folder and file below ``root`` back, beyond the index's time stamps' margin."""
    past = time.time() - seconds
    for path in [root, *root.rglob("*")]:
        os.utime(path, (past, past), follow_symlinks=False)


def indexed(root: Path) -> MeshIndex:
    """The mesh's files and folders dated back, then its index written."""
    age(root)
    return refresh(root)


def listed(monkeypatch) -> list[str]:
    """The folders the walk lists from now on (engine.gather.mesh.scan_folder's calls)."""
    import engine.gather.index as index_module

    calls: list[str] = []
    real = index_module.scan_folder

    def scan(folder: str, unreadable=None):
        calls.append(os.path.basename(folder))
        return real(folder, unreadable)

    monkeypatch.setattr(index_module, "scan_folder", scan)
    return calls


def fresh(root: Path) -> tuple[list[str], dict]:
    """The index's files and product entries as a rebuild from nothing gives them."""
    built = refresh(root)
    (root / INDEX_PATH).unlink()
    again = refresh(root)
    assert again.order() == built.order()
    return again.order(), again.entries()


def test_an_audit_taking_batches_does_not_hold_the_index_locked(demo_copy, monkeypatch):
    """Between two batches of an audit, another process may write to the index (a check updating
    its meta row), and the batches still hold every file once, in the walk's order."""
    root = demo_copy / M
    index = refresh(root)
    monkeypatch.setattr("engine.gather.index.PAGE", 5)  # the files are read 5 at a time: 28 in 6 pages
    groups = index.batches(2)
    taken = [next(groups)]
    other = sqlite3.connect(root / INDEX_PATH, timeout=0)  # fails at once if the index is locked
    try:
        with other:
            other.execute("UPDATE meta SET written_ns = written_ns + 1")
    finally:
        other.close()
    taken.extend(groups)
    assert len(taken) > 2
    files = [p for g in taken for p in g]
    assert [os.path.relpath(p, root) for p in files] == [key for (key,) in stored(root, "SELECT key FROM files ORDER BY seq")]


def test_a_first_index_forks_its_workers_as_soon_as_the_walk_has_found_enough_files(demo_copy, monkeypatch):
    """A first index reads every file in the workers: they are forked when the walk has found
    engine.parallel.MIN_ITEMS files (8 here), not after it has found them all, so they do not
    inherit the parent's walk of a large mesh. A stored index with nothing to read again forks none."""
    import engine.gather.index as index_module
    from engine import parallel

    root = demo_copy / M
    for module in (parallel, index_module):
        monkeypatch.setattr(module, "MIN_ITEMS", 8)
    found: list[str] = []
    real_add, real_start = index_module.Walk.add, parallel.Workers.start
    forked_at: list[int] = []

    def add(walk, key, *args, **kwargs):
        found.append(key)
        real_add(walk, key, *args, **kwargs)

    def start(workers):
        if workers._pool is None:
            forked_at.append(len(found))
        real_start(workers)

    monkeypatch.setattr(index_module.Walk, "add", add)
    monkeypatch.setattr(parallel.Workers, "start", start)
    with parallel.Workers(2) as workers:
        first = refresh(root, [], workers)
        assert (forked_at, len(found)) == ([8], 28)
        order, entries = first.order(), first.entries()
    assert (order, entries) == fresh(root)  # as read in the parent
    with parallel.Workers(2) as workers:
        refresh(root, [], workers)
    assert forked_at == [8]


def test_unchanged_folders_are_not_listed_again(demo_copy, monkeypatch):
    """Only a folder whose modification time, change time or inode moved since the index was
    written is listed: an entry added, removed or renamed in it changes them. Every file is still
    stat'ed, so an edit in place is seen without its folder being listed."""
    root = demo_copy / M
    first = indexed(root)
    calls = listed(monkeypatch)
    again = refresh(root)
    assert calls == ["mesh"]  # the mesh's own folder only (the index's .govern folder is created in it)
    assert (again.order(), again.entries()) == (first.order(), first.entries())
    edit(root / "orders/returns/dataproduct.yaml", "name: orders_returns", "name: orders_returned")
    assert refresh(root).entries()["orders/returns/dataproduct.yaml"]["name"] == "orders_returned"
    assert calls == ["mesh", "mesh"]
    calls.clear()
    added = root / "finance/refunds"
    added.mkdir()
    source = (root / "finance/invoices/dataproduct.yaml").read_text()
    (added / "dataproduct.yaml").write_text(source.replace("invoices", "refunds"))
    age(root / "finance/refunds")
    index = refresh(root)
    assert calls == ["mesh", "finance", "refunds"]  # the folder gained an entry; the new one was never listed
    assert (index.order(), index.entries()) == fresh(root)
    assert "finance/refunds/dataproduct.yaml" in index.order()


def test_a_folder_set_back_in_time_is_listed_all_the_same(demo_copy, monkeypatch):
    """Setting a folder's modification time back to what it was does not hide what changed in it:
    its change time moved, and a folder put in another's place has another inode."""
    root = demo_copy / M
    indexed(root)
    calls = listed(monkeypatch)
    returns, customers, profiles = root / "orders/returns", root / "customers", root / "customers/profiles"
    times = {folder: folder.stat().st_mtime_ns for folder in (returns, customers, profiles)}
    contract = returns / "orders-returns-v1.odcs.yaml"
    contract.rename(contract.with_name("orders-returns-v2.odcs.yaml"))
    profiles.rename(customers / "old_profiles")
    shutil.copytree(customers / "old_profiles", profiles)
    shutil.rmtree(customers / "old_profiles")
    for folder, mtime in times.items():
        os.utime(folder, ns=(mtime, mtime))
    index = refresh(root)
    assert sorted(calls) == ["customers", "mesh", "profiles", "returns"]
    assert "orders/returns/orders-returns-v2.odcs.yaml" in index.order()
    assert (index.order(), index.entries()) == fresh(root)


def stored(root: Path, sql: str, *args) -> list[tuple]:
    """Run ``sql`` on the index stored in the mesh at ``root`` (committed)."""
    db = sqlite3.connect(root / INDEX_PATH)
    try:
        with db:
            return db.execute(sql, args).fetchall()
    finally:
        db.close()


def test_a_folder_changed_just_before_the_index_was_written_is_listed_until_saved_again(demo_copy, monkeypatch):
    """Time stamps cannot tell two changes within their resolution apart: a folder modified less
    than 2 seconds before the index was written is listed, and the index saved again, which moves
    the time it trusts past the folder's."""
    root = demo_copy / M
    indexed(root)
    ((written,),) = stored(root, "SELECT written_ns FROM meta")
    recent = root / "orders/returns"
    os.utime(recent, ns=(written - 10**9, written - 10**9))  # a second before the index
    stored(root, "UPDATE meta SET folders = ?", refresh_text(root))  # the index as if written with the folder at that time
    calls = listed(monkeypatch)
    refresh(root)
    assert calls == ["mesh", "returns"]
    ((saved,),) = stored(root, "SELECT written_ns FROM meta")
    assert saved > written
    stored(root, "UPDATE meta SET written_ns = ?", written + 10 * 10**9)  # as if saved again 10 seconds later
    calls.clear()
    refresh(root)
    assert calls == ["mesh"]


def test_files_written_just_before_the_index_are_read_again_and_compared_by_key(demo_copy):
    """Files modified within the time stamps' resolution of the index (as right after ``govern
    generate``) are read again; when they declare what they did, the stored facts are kept. Each is
    compared with its stored entry found by key: by name, which no contract has, every contract
    was compared with every other's row (quadratic: 5 s for 3,000 such files of 10,000 products)."""
    root = demo_copy / M
    before = indexed(root)
    stored(root, "UPDATE meta SET written_ns = ?", time.time_ns())  # every file now too recent to trust
    edges = stored(root, "SELECT * FROM edges ORDER BY seq")
    again = refresh(root)
    assert again.order() == before.order() and again.entries() == before.entries()
    assert stored(root, "SELECT * FROM edges ORDER BY seq") == edges
    conn = sqlite3.connect(":memory:")
    try:
        conn.executescript(SCHEMA + "CREATE TEMP TABLE kept (seq INTEGER PRIMARY KEY);")
        conn.execute("ATTACH DATABASE ? AS old", (str(root / INDEX_PATH),))
        plan = [row[3] for row in conn.execute("EXPLAIN QUERY PLAN " + UNCHANGED)]
    finally:
        conn.close()
    assert "SEARCH o USING INDEX files_key (key=?)" in plan, plan


def refresh_text(root: Path) -> str:
    """The folders' text the walk gives now."""
    from engine.gather.index import _walk

    return _walk(root, "", 0).folders


def test_a_folder_holding_a_link_is_listed_every_time(demo_copy, monkeypatch, tmp_path):
    root = demo_copy / M
    items = root / "orders/order_items/dataproduct.yaml"
    moved = root / "orders/order_items/elsewhere.yaml"
    items.rename(moved)
    items.symlink_to(moved)
    indexed(root)
    calls = listed(monkeypatch)
    refresh(root)
    assert calls == ["mesh", "order_items"]


def test_a_link_leaving_the_mesh_declares_nothing(govern, demo_copy, tmp_path):
    """As in a full load, a descriptor that links outside the mesh is not read: the product it would
    declare is not an upstream of anything."""
    outside = tmp_path / "outside.yaml"
    items = demo_copy / M / "orders/order_items/dataproduct.yaml"
    outside.write_bytes(items.read_bytes())
    items.unlink()
    items.symlink_to(outside)
    data = same_either_way(govern, demo_copy, f"{M}/orders/returns")
    assert ("orders_returns", "CON-007") in findings(data)


def test_a_folder_outside_the_configured_mesh_is_left_as_it_was(govern, demo_copy, tmp_path):
    outside = tmp_path / "elsewhere"
    outside.mkdir()
    for name in os.listdir(demo_copy / M / "orders/returns"):
        (outside / name).write_bytes((demo_copy / M / "orders/returns" / name).read_bytes())
    assert govern("check", "--now", NOW, str(outside), cwd=demo_copy).code == 1
    assert sorted(os.listdir(outside)) == ["dataproduct.yaml", "orders-returns-v1.odcs.yaml"]


def database(path: Path, script: str) -> None:
    db = sqlite3.connect(path)
    try:
        db.executescript(script)
    finally:
        db.close()


@pytest.mark.parametrize(
    "damage",
    [
        "not a database",
        "PRAGMA user_version = 999; CREATE TABLE meta (written_ns, digest, files, folders);",
        f"PRAGMA user_version = {INDEX_VERSION};",
        f"PRAGMA user_version = {INDEX_VERSION}; CREATE TABLE meta (x); INSERT INTO meta VALUES (1);",
        f"PRAGMA user_version = {INDEX_VERSION}; CREATE TABLE meta (written_ns, digest, files, folders);",
        "dir",
        "no folder",
    ],
)
def test_a_damaged_or_unwritable_index_is_rebuilt_or_done_without(govern, demo_copy, damage):
    index = demo_copy / M / INDEX_PATH
    if damage == "no folder":  # not even its temporary file can be written: it is built in memory
        index.parent.write_text("not a folder")
    else:
        index.parent.mkdir(exist_ok=True)
    if damage == "dir":  # the index cannot be renamed into place: the check runs on a fresh one anyway
        index.mkdir()
    elif damage == "not a database":
        index.write_text(damage)
    elif damage != "no folder":
        database(index, damage)
    same_either_way(govern, demo_copy, f"{M}/orders/returns")
    if damage == "no folder":
        assert index.parent.read_text() == "not a folder"
    else:  # no temporary file is left behind
        assert [p.name for p in index.parent.iterdir() if p.name.endswith(".tmp")] == []
    if damage not in ("dir", "no folder"):
        assert stored(demo_copy / M, "PRAGMA user_version") == [(INDEX_VERSION,)]
        assert stored(demo_copy / M, "SELECT count(*) FROM files") == [(28,)]  # the demo's descriptors and contracts


def test_the_temporary_file_of_a_killed_build_is_removed_by_the_next(govern, demo_copy):
    """A build killed outright leaves its temporary file (as large as the index): the next build
    removes it, but not the file of a build whose process still runs."""
    folder = (demo_copy / M / INDEX_PATH).parent
    folder.mkdir()
    gone = subprocess.Popen(["true"])
    gone.wait()
    abandoned = folder / f".index.db.{gone.pid}.tmp"
    running = folder / f".index.db.{os.getppid()}.tmp"  # (the process that started the tests)
    for file in (abandoned, running):
        file.write_bytes(b"half an index")
    same_either_way(govern, demo_copy, f"{M}/orders/returns")
    assert sorted(p.name for p in folder.iterdir() if p.name.endswith(".tmp")) == [running.name]
    assert stored(demo_copy / M, "SELECT count(*) FROM files") == [(28,)]


@pytest.mark.parametrize(
    "damage",
    [
        "DROP TABLE files",
        "DROP TABLE edges",
        "DROP TABLE nodes",
        "DELETE FROM files WHERE seq = 3",
        "UPDATE meta SET folders = 5",
        "a folder's files",
        "a folder's line twice",
    ],
)
def test_an_index_damaged_where_the_signatures_still_match_is_rebuilt(govern, demo_copy, damage):
    """The usual case compares only a digest of the signatures: what else it then trusts (the
    tables, the number of files, the folders' text) is checked too."""
    root = demo_copy / M
    expected = same_either_way(govern, demo_copy, f"{M}/orders/returns")
    good = stored(root, "SELECT * FROM files ORDER BY seq")
    stored(
        root, "UPDATE meta SET written_ns = written_ns + ?", 10**12
    )  # as if written long after the files, so that the digest decides
    ((folders,),) = stored(root, "SELECT folders FROM meta")
    lines = folders.split("\n")
    if damage == "a folder's files":  # a folder listing a file of no kind
        line = next(line for line in lines if line.startswith("orders/returns\t"))
        key, signature, _, subfolders = line.split("\t")
        lines[lines.index(line)] = "\t".join([key, signature, "notes.txt", subfolders])
        stored(root, "UPDATE meta SET folders = ?", "\n".join(lines))
    elif damage == "a folder's line twice":
        stored(
            root,
            "UPDATE meta SET folders = ?",
            "\n".join([*lines, next(line for line in lines if line.startswith("orders/returns\t"))]),
        )
    else:
        stored(root, damage)
    assert same_either_way(govern, demo_copy, f"{M}/orders/returns") == expected
    assert stored(root, "SELECT * FROM files ORDER BY seq") == good  # rebuilt or used, whole


def test_entries_damaged_inside_the_index_are_an_error_naming_it(govern, demo_copy):
    """The entries of an index whose tables and signatures hold are trusted: entries damaged by
    hand are an error naming the index (no traceback), and removing it mends the check."""
    root = demo_copy / M
    expected = same_either_way(govern, demo_copy, f"{M}/orders/returns")
    stored(root, "UPDATE files SET outputs = 'not json' WHERE key = 'orders/returns/dataproduct.yaml'")
    run = govern("check", "--now", NOW, f"{M}/orders/returns", "--format", "json", cwd=demo_copy)
    assert run.code == 3
    assert f"{M}/.govern/index.db: the mesh index is damaged (" in run.err
    assert "Traceback" not in run.err
    (root / INDEX_PATH).unlink()
    assert report(govern, demo_copy, f"{M}/orders/returns") == expected


def test_paths_with_tabs_and_line_breaks_are_indexed(govern, demo_copy):
    """The signatures are a text of tab-separated lines: a folder named with a tab and a line break
    still checks as without the index, and a change inside it is seen."""
    odd = demo_copy / M / "orders" / "re\tturns\nx"
    (demo_copy / M / "orders" / "returns").rename(odd)
    first = same_either_way(govern, demo_copy, str(odd.relative_to(demo_copy)))
    assert first == same_either_way(govern, demo_copy, str(odd.relative_to(demo_copy)))
    assert [p["id"] for p in first["products"]] == ["orders_returns"]
    assert "NAM-001" not in {rule for _, rule in findings(first)}
    edit(odd / "dataproduct.yaml", "name: orders_returns", "name: OrdersReturns")
    after = same_either_way(govern, demo_copy, str(odd.relative_to(demo_copy)))
    assert "NAM-001" in {rule for _, rule in findings(after)}


def test_the_index_links_the_mesh_as_a_whole_load_does(demo_copy):
    """The index links its entries in SQL (engine.gather.index._link); a whole load links the same
    summaries in memory (engine.gather.mesh.link_facts): the same publishers, edges in the same
    order, cycles and depths, with a duplicated product, a cycle, a port naming only a contract
    (marketing_campaigns's), an empty product, a product nobody has, and a descriptor that fails
    to load."""
    from engine.gather.mesh import link_facts

    root = demo_copy / M
    shutil.copytree(root / "orders/returns", root / "orders/returns_again")  # the same id, left out
    ports = root / "orders/order_items/dataproduct.yaml"
    ports.write_text(ports.read_text() + "  - product: orders_returns\n")  # a cycle with orders_returns
    payments = root / "finance/payments/dataproduct.yaml"
    payments.write_text(
        payments.read_text()
        + '  - product: ""\n    contractId: customers-profiles-v1\n'
        + "  - product: nobody\n    contractId: nothing-v1\n"
    )
    (root / "marketing/campaigns/dataproduct.yaml").write_text("name: [unclosed\n")
    index = refresh(root)
    entries, order = index.entries(), index.order()
    products = [key for key in order if key.endswith(("dataproduct.yaml", ".odps.yaml"))]
    contracts = [key for key in order if key not in products]
    whole = link_facts([entries[key] for key in products])
    linked = index._facts_of(products, contracts)
    assert linked == whole
    assert ("orders_returns", "orders_order_items", None) in whole.edges
    assert ("customers_segments", "marketing_campaigns", "customers-segments-v1") in whole.edges
    assert ("customers_profiles", "finance_payments", "customers-profiles-v1") in whole.edges
    assert whole.cycles["orders_returns"] == ["orders_order_items", "orders_returns"]
    assert {} in [entries[key] for key in products]


def test_a_named_descriptor_discovery_skips_is_indexed_once(govern, demo_copy):
    """A descriptor named on the command line that discovery leaves out (in a hidden folder) is
    added to the index, once however often it is named, and checks as without the index."""
    root = demo_copy / M
    draft = root / ".drafts/refunds"
    draft.mkdir(parents=True)
    source = (root / "finance/invoices/dataproduct.yaml").read_text()
    (draft / "dataproduct.yaml").write_text(source.replace("invoices", "refunds"))
    named = f"{M}/.drafts/refunds/dataproduct.yaml"
    checked = same_either_way(govern, demo_copy, named, named)
    assert [p["id"] for p in checked["products"]] == ["finance_refunds"]
    assert stored(root, "SELECT seq, kind FROM files WHERE key = ?", ".drafts/refunds/dataproduct.yaml") == [(28, "product")]
    assert stored(root, "SELECT count(*) FROM files") == [(29,)]


def _damage_pages(database: Path, table: str) -> None:
    """Overwrite every page of ``table`` (or index) with garbage: what a failing disk leaves, and
    what a first look at the index (its meta row, its number of files) does not see."""
    with sqlite3.connect(database) as db:
        size = db.execute("PRAGMA page_size").fetchone()[0]
        pages = [page for (page,) in db.execute("SELECT pageno FROM dbstat WHERE name = ?", (table,))]
    assert pages
    with database.open("r+b") as f:
        for page in pages:
            f.seek((page - 1) * size)
            f.write(b"\xff" * size)


def test_a_check_rebuilds_an_index_whose_pages_turn_out_damaged_and_reports_as_without_one(govern, demo_copy):
    index = demo_copy / M / INDEX_PATH
    reference = govern("check", "--now", NOW, "--no-index", f"{M}/orders/returns", "--format", "json", cwd=demo_copy)
    assert govern("check", "--now", NOW, f"{M}/orders/returns", cwd=demo_copy).code == reference.code
    time.sleep(2.1)  # (files older than the index's time stamp margin: the stored index is used as it is)
    _damage_pages(index, "files_key")
    run = govern("check", "--now", NOW, f"{M}/orders/returns", "--format", "json", cwd=demo_copy)
    assert (run.code, run.err) == (reference.code, "")
    assert {k: v for k, v in run.json().items() if k != "run"} == {k: v for k, v in reference.json().items() if k != "run"}
    assert stored(demo_copy / M, "PRAGMA quick_check") == [("ok",)]  # (rebuilt)


def test_an_audit_that_finds_index_pages_damaged_removes_the_index_and_says_to_run_again(govern, demo_copy):
    index = demo_copy / M / INDEX_PATH
    assert govern("audit", "--now", NOW, "--no-store", cwd=demo_copy).code == 1
    time.sleep(2.1)
    _damage_pages(index, "files_key")
    run = govern("audit", "--now", NOW, "--no-store", "--batch", "5", cwd=demo_copy)
    assert (run.code, run.out) == (3, "")
    assert run.err == (
        f"error: {index}: the mesh index is damaged (database disk image is malformed): it was removed; run the audit "
        "again, which rebuilds it\n"
    )
    assert not index.exists()
    assert govern("audit", "--now", NOW, "--no-store", "--batch", "5", cwd=demo_copy).code == 1


def test_an_index_with_no_room_to_be_written_is_built_for_the_run_in_memory(govern, demo_copy, monkeypatch):
    """A full disk beside the mesh (here: a database file SQLite may not grow) ended check and
    audit with a traceback and exit 1; the index only ever saves time."""
    import engine.gather.index as index

    built = index._new

    def full(file: Path):
        conn, temporary = built(file)
        if temporary is not None:
            conn.execute("PRAGMA max_page_count = 8")  # (SQLite answers as to a full disk: SQLITE_FULL)
        return conn, temporary

    monkeypatch.setattr(index, "_new", full)
    with_index = report(govern, demo_copy, f"{M}/orders/returns")
    assert with_index == report(govern, demo_copy, f"{M}/orders/returns", index=False)
    assert not (demo_copy / M / INDEX_PATH).exists()
    assert [p.name for p in (demo_copy / M / ".govern").iterdir()] == []  # (no half-built file left)


@pytest.mark.parametrize(
    ("root", "path", "key"),
    [("/srv/mesh", "/srv/mesh/orders/x/dataproduct.yaml", "orders/x/dataproduct.yaml"), ("/srv/mesh", "/srv/mesh", ".")]
    + [("/", "/srv/mesh/orders", "srv/mesh/orders")],  # (a mesh at the root: its separator is the root's one character)
)
def test_a_files_key_is_its_path_below_the_mesh_also_when_the_mesh_is_the_root(root, path, key):
    """(With the mesh at /, the walk dropped the first character of every key: tmp became mp, and
    nothing checked was found in the index.)"""
    from engine.gather.index import _key

    assert _key(Path(root), path) == key

"""Audits load a batch of products at a time, with the mesh index's facts about the whole mesh, and
report exactly what an audit that loads the whole mesh reports: in the parent (more than
``--batch`` products, one process or another engine) or in the worker processes (engine/shards.py:
the embedded engine over several workers, every audit large enough to start them).

Every comparison is of the whole JSON report but the run's id and start time, between an audit
in one process whose batch holds the whole mesh and audits with small batches, in the same repository.
"""

from __future__ import annotations

import shutil
import weakref
from pathlib import Path

import pytest

import engine.gather.index
import engine.gather.targets
import engine.parallel
import engine.shards
from engine.gather.index import refresh
from engine.gather.mesh import discover

from .test_imported_lineage import dbt_manifest
from .test_lineage import edit

M = "examples/mesh"
NOW = "2026-11-21T09:00:00Z"


def audit_report(govern, root: Path, mesh: str, batch: int, jobs: int = 1) -> dict:
    run = govern(
        "audit", mesh, "--now", NOW, "--format", "json", "--no-store", "--batch", str(batch), "--jobs", str(jobs), cwd=root
    )
    assert run.code in (0, 1, 3), run.err
    data = run.json()
    del data["run"]["id"], data["run"]["started_at"]
    return data


@pytest.fixture
def loads(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """The number of descriptor files each load of (part of) the mesh was given."""
    sizes: list[int] = []
    real = engine.gather.targets.load_mesh

    def counting(root, product_files=None, contract_files=None, **kwargs):
        sizes.append(len(product_files))
        return real(root, product_files, contract_files, **kwargs)

    monkeypatch.setattr(engine.gather.targets, "load_mesh", counting)
    return sizes


@pytest.fixture
def parts(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """The number of results of each batch the worker processes evaluated; workers even for a
    handful of products (they start at 64 otherwise)."""
    counts: list[int] = []
    real = engine.shards.evaluate_in_workers

    def counting(*args, **kwargs):
        for part in real(*args, **kwargs):
            counts.append(len(part.docs))  # (a worker sends its results as JSON)
            yield part

    monkeypatch.setattr(engine.shards, "evaluate_in_workers", counting)
    monkeypatch.setattr(engine.parallel, "MIN_ITEMS", 1)
    return counts


def test_the_demo_mesh_audits_the_same_in_batches(govern, demo_copy, loads):
    whole = audit_report(govern, demo_copy, M, 1000)
    assert loads == [14]  # one load of the whole mesh
    assert len(whole["products"]) == 14 and whole["lineage"]["edges"]
    for batch in (1, 4):
        loads.clear()
        assert audit_report(govern, demo_copy, M, batch) == whole
        # Every batch holds its own products and their neighbours, never the whole mesh.
        assert len(loads) == (14 if batch == 1 else 4) and max(loads) < 14


def test_the_demo_mesh_audits_the_same_in_the_workers(govern, demo_copy, parts):
    whole = audit_report(govern, demo_copy, M, 1000)
    assert parts == []  # one process: no workers
    for batch in (1, 4, 1000):
        parts.clear()
        assert audit_report(govern, demo_copy, M, batch, jobs=2) == whole
        # 14 products in batches of at most `batch` (a folder's files stay together)
        assert len(parts) == {1: 14, 4: 4, 1000: 1}[batch] and sum(parts) == 14


def break_files(root: Path) -> None:
    """Broken YAML, a product id claimed twice, a contract id claimed twice, a broken contract beside
    a product, a contract no product publishes."""
    mesh = root / M
    (mesh / "orders/returns/dataproduct.yaml").write_text("kind: DataProduct\nname: [broken\n")
    (mesh / "zz_copies/contract").mkdir(parents=True)
    shutil.copy(mesh / "orders/shipments/shipping_shipments.odps.yaml", mesh / "zz_copies")  # the same product id again
    shutil.copy(mesh / "orders/order_items/orders-order-items-v1.odcs.yaml", mesh / "zz_copies/contract")  # contract id again
    (mesh / "marketing/leads/marketing-leads-v1.odcs.yaml").write_text("id: marketing-leads-v1\nstatus: [\n")
    unpublished = mesh / "inventory/loose/spare.odcs.yaml"
    unpublished.parent.mkdir()
    shutil.copy(mesh / "orders/order_items/orders-order-items-v1.odcs.yaml", unpublished)
    text = unpublished.read_text().replace("id: orders-order-items-v1", "id: inventory-spare-v1", 1)
    unpublished.write_text(text)


def test_lineage_facts_are_reported_the_same_in_batches(govern, demo_copy, parts):
    """A batch is linked with the part of the index's facts its files consult: a cycle through
    products in other batches, a reference to a product the mesh lacks (the demo's), and ports
    naming only a contract, which nobody publishes, or another batch's product publishes (one
    with a file, one without: then only the index's publishers link the port)."""
    mesh = demo_copy / M
    edit(
        mesh / "orders/order_items/dataproduct.yaml",
        "inputPorts:\n",
        "inputPorts:\n  - {product: orders_returns, contractId: orders-returns-v1}\n",
    )
    edit(
        mesh / "orders/shipments/shipping_shipments.odps.yaml",
        "inputPorts:\n",
        "inputPorts:\n  - {name: unknown, version: 1.0.0, contractId: nobody-publishes-v1}\n"
        "  - {name: ledger, version: 1.0.0, contractId: finance-ledger-v1}\n"
        "  - {name: ledger_extra, version: 1.0.0, contractId: finance-ledger-extra-v1}\n",
    )
    edit(
        mesh / "finance/ledger/dataproduct.yaml",
        "outputPorts:\n",
        "outputPorts:\n  - {name: extra, contractId: finance-ledger-extra-v1}\n",
    )
    whole = audit_report(govern, demo_copy, M, 1000)
    assert not [p for p in whole["products"] if p["verdict"] == "error"]
    edges = {(e["from"], e["to"]) for e in whole["lineage"]["edges"]}
    assert {
        ("orders_returns", "orders_order_items"),
        ("(publisher of nobody-publishes-v1)", "shipping_shipments"),
        ("finance_ledger", "shipping_shipments"),
        ("finance_gl_raw", "finance_ledger"),
    } <= edges
    extra = [e for e in whole["lineage"]["edges"] if e["contractId"] == "finance-ledger-extra-v1"]
    assert [(e["from"], e["to"]) for e in extra] == [("finance_ledger", "shipping_shipments")]
    assert {f["product"] for f in whole["findings"] if f["rule"] == "LIN-003"} == {"orders_order_items", "orders_returns"}
    depth = {n["id"]: n["depth"] for n in whole["lineage"]["nodes"]}
    assert depth["shipping_shipments"] > depth["finance_ledger"] > 0
    for batch, jobs in ((1, 1), (1, 2), (3, 2)):
        assert audit_report(govern, demo_copy, M, batch, jobs=jobs) == whole
    assert len(parts) == 14 + 5  # the worker processes' batches of 1 and of 3 products


def test_files_that_fail_to_load_are_reported_the_same_in_batches(govern, demo_copy, loads):
    """Each failure in its own batch or together with others."""
    break_files(demo_copy)
    whole = audit_report(govern, demo_copy, M, 1000)
    errors = [(p["source"], p["errors"][0].split(": ", 1)[1]) for p in whole["products"] if p["verdict"] == "error"]
    assert errors == [
        (f"{M}/marketing/leads/dataproduct.yaml", "invalid YAML: while parsing a flow node did not find expected node content"),
        (f"{M}/orders/returns/dataproduct.yaml", "invalid YAML: while parsing a flow sequence did not find expected ',' or ']'"),
        (
            f"{M}/zz_copies/shipping_shipments.odps.yaml",
            f"product 'shipping_shipments' is already defined in {M}/orders/shipments/shipping_shipments.odps.yaml",
        ),
        (
            f"{M}/zz_copies/contract/orders-order-items-v1.odcs.yaml",
            f"contract id 'orders-order-items-v1' is already used by {M}/orders/order_items/orders-order-items-v1.odcs.yaml",
        ),
    ]
    assert whole["products"][-1]["id"] == "inventory-spare-v1"
    for batch in (1, 2, 5):
        loads.clear()
        assert audit_report(govern, demo_copy, M, batch) == whole
        assert len(loads) > 1


def test_files_that_fail_to_load_are_reported_the_same_by_the_workers(govern, demo_copy, parts):
    break_files(demo_copy)
    whole = audit_report(govern, demo_copy, M, 1000)
    assert whole["summary"]["verdicts"]["error"] == 4
    for batch in (1, 2, 5):
        parts.clear()
        assert audit_report(govern, demo_copy, M, batch, jobs=2) == whole
        assert len(parts) > 1 and sum(parts) == len(whole["products"])


def test_a_port_naming_no_contract_reads_every_contract_of_its_upstream_in_batches(govern, demo_copy, parts):
    """A batch loads the contracts its products read, not every contract of every neighbour: a port
    that names no contract reads all of its upstream's (here for column lineage), in any batch."""
    descriptor = demo_copy / M / "orders/order_items/dataproduct.yaml"
    text = descriptor.read_text()
    port = "  - product: customers_profiles\n    contractId: customers-profiles-v1\n"
    assert port in text
    descriptor.write_text(text.replace(port, "  - product: customers_profiles\n"))
    whole = audit_report(govern, demo_copy, M, 1000)
    # LIN-004 for the port; no LIN-005: its column lineage resolved in customers-profiles-v1 shows
    # that only the (internal) customer key comes from the restricted product
    assert [(f["rule"], f["message"]) for f in whole["findings"] if f["product"] == "orders_order_items"] == [
        ("LIN-004", 'reads "customers_profiles" of domain customers without a contract (contractId is not set)')
    ]
    for batch, jobs in ((1, 1), (1, 2), (4, 2)):
        assert audit_report(govern, demo_copy, M, batch, jobs=jobs) == whole
    assert len(parts) == 14 + 4  # the worker processes' batches of 1 and of 4 products


def test_a_generated_mesh_audits_the_same_in_batches(govern, tmp_path, loads, monkeypatch):
    """Lineage within and across domains, contracts of 30 columns, violations and waivers: in the
    parent and in the workers (150 products start them without lowering their threshold)."""
    root = tmp_path / "gen"
    assert govern("generate", str(root), "--products", "150", "--domains", "4", "--seed", "11", "--as-of", NOW[:10]).code == 0
    products, _ = discover(root / "mesh")
    assert len(products) == 150
    whole = audit_report(govern, root, "mesh", 150)
    assert loads == [150]
    assert whole["summary"]["findings"]["open"] > 0 and whole["waivers"]["applied"]
    loads.clear()
    assert audit_report(govern, root, "mesh", 40) == whole
    assert len(loads) == 4 and max(loads) < 150
    batches: list[int] = []
    real = engine.shards.evaluate_in_workers

    def counting(workers, evaluator, index, size, graph, progress):
        batches.append(size)
        return real(workers, evaluator, index, size, graph, progress)

    monkeypatch.setattr(engine.shards, "evaluate_in_workers", counting)
    for batch in (40, 1000):
        assert audit_report(govern, root, "mesh", batch, jobs=2) == whole
    # at most 40 products a batch, in whole rounds of the two workers (four of 38, not 40, 40, 40
    # and 30); then two batches a worker, at least 100 products each
    assert batches == [38, 100]


def test_a_batch_is_released_before_the_next_is_loaded(govern, tmp_path, monkeypatch):
    """What bounds an audit's memory: when a batch is loaded, no earlier batch is still referenced
    (checked without the cyclic collector, which an audit pauses), in the parent..."""
    root = tmp_path / "gen"
    assert govern("generate", str(root), "--products", "120", "--domains", "3", "--seed", "5", "--as-of", NOW[:10]).code == 0
    alive_at_load = track_loads(monkeypatch, engine.gather.targets)
    run = govern("audit", "mesh", "--now", NOW, "--format", "json", "--no-store", "--batch", "30", "--jobs", "1", cwd=root)
    assert run.code in (0, 1), run.err
    assert len(run.json()["products"]) == 120
    assert alive_at_load == [0, 0, 0, 0]


def test_a_worker_releases_a_batch_before_the_next(govern, tmp_path, monkeypatch):
    """... and in a worker process (its batch function, run here as a worker runs it)."""
    import gc
    from datetime import datetime, timezone

    from engine.config import load_settings
    from engine.governance import load_governance
    from engine.policy.library import load_library

    root = tmp_path / "gen"
    assert govern("generate", str(root), "--products", "120", "--domains", "3", "--seed", "5", "--as-of", NOW[:10]).code == 0
    monkeypatch.chdir(root)
    settings = load_settings(start=root)
    index = refresh(settings.mesh)
    monkeypatch.setattr(engine.shards, "_evaluator", None)
    monkeypatch.setattr(engine.parallel, "_engine", None)
    engine.shards._start(load_library(settings.policies), load_governance(settings.governance), datetime.now(timezone.utc), 30.0)
    alive_at_load = track_loads(monkeypatch, engine.gather.targets)
    enabled = gc.isenabled()
    gc.disable()
    try:
        results = [len(engine.shards._run((n, index.batch(files))).docs) for n, files in enumerate(index.batches(30), 1)]
    finally:
        if enabled:
            gc.enable()
    assert results == [30, 30, 30, 30]
    assert alive_at_load == [0, 0, 0, 0]


def test_the_workers_never_hold_the_mesh_index(govern, tmp_path, monkeypatch):
    """The workers are forked before the mesh index is opened (or while it is first built), and
    each is sent its batch's files and facts: no worker holds the index, nor its database
    connection, which must not be used across a fork (forked after it, each would have its own)."""
    import gc
    import os

    from engine.gather.index import MeshIndex

    root = tmp_path / "gen"
    assert govern("generate", str(root), "--products", "120", "--domains", "3", "--seed", "5", "--as-of", NOW[:10]).code == 0
    mesh = root / "mesh"
    seen = tmp_path / "seen"
    real = engine.shards.load_batch

    def spying(batch, *args, **kwargs):
        held = sum(isinstance(o, MeshIndex) and o.root == mesh for o in gc.get_objects())
        with seen.open("a") as f:
            f.write(f"{os.getpid()} {len(batch.files)} {held}\n")
        return real(batch, *args, **kwargs)

    monkeypatch.setattr(engine.shards, "load_batch", spying)
    for _ in range(2):  # the index built (workers forked to read the files), then read (forked before)
        seen.unlink(missing_ok=True)
        run = govern("audit", "mesh", "--now", NOW, "--format", "json", "--no-store", "--batch", "30", "--jobs", "2", cwd=root)
        assert run.code in (0, 1), run.err
        assert len(run.json()["products"]) == 120
        batches = [line.split() for line in seen.read_text().splitlines()]
        assert len(batches) == 4 and sum(int(files) for _, files, _ in batches) == 240  # a descriptor and a contract a product
        assert {pid for pid, _, _ in batches} - {str(os.getpid())} == {pid for pid, _, _ in batches}
        assert [held for _, _, held in batches] == ["0"] * 4


def test_a_mesh_too_small_for_batches_is_audited_the_same_by_workers_started_early(govern, tmp_path, monkeypatch):
    """Workers started before the index is read (its stored index holds 130 files) find a mesh of
    fewer than 64 products: it is loaded whole, and its 70 targets are evaluated by those workers
    (they carry the engine for that too; no cache, whose stored results would leave nothing to evaluate)."""
    from engine.gather.index import stored_files

    monkeypatch.setenv("GOVERN_CACHE_DIR", "off")

    root = tmp_path / "gen"
    assert govern("generate", str(root), "--products", "60", "--domains", "3", "--seed", "5", "--as-of", NOW[:10]).code == 0
    contract = next((root / "mesh").rglob("*.odcs.yaml"))
    cid = contract.name.removesuffix(".odcs.yaml")
    for n in range(10):  # contracts no product publishes are targets of their own
        copy = root / "mesh" / "loose" / f"c{n}" / f"loose-{n}.odcs.yaml"
        copy.parent.mkdir(parents=True)
        copy.write_text(contract.read_text().replace(f"id: {cid}", f"id: loose-{n}", 1))
    one = audit_report(govern, root, "mesh", 2000, jobs=1)
    assert len(one["products"]) == 70
    assert stored_files(root / "mesh") == 130 >= engine.parallel.MIN_ITEMS
    events: list[str] = []
    real_start, real_refresh = engine.parallel.Workers.start, engine.gather.index.refresh

    def start(self):
        events.append("fork" if self._pool is None else "running")
        real_start(self)

    def refresh(*args, **kwargs):
        events.append("index")
        return real_refresh(*args, **kwargs)

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(engine.parallel.Workers, "start", start)
        patch.setattr(engine.gather.index, "refresh", refresh)
        assert audit_report(govern, root, "mesh", 2000, jobs=2) == one
    assert events[:2] == ["fork", "index"]  # forked before the index was read
    assert "running" in events  # and used


def track_loads(monkeypatch: pytest.MonkeyPatch, module) -> list[int]:
    """For each load of (part of) a mesh through ``module.load_mesh``: how many meshes loaded before are still alive."""
    real = module.load_mesh
    loaded: list[weakref.ref] = []
    alive_at_load: list[int] = []

    def tracking(*args, **kwargs):
        alive_at_load.append(sum(ref() is not None for ref in loaded))
        mesh = real(*args, **kwargs)
        loaded.append(weakref.ref(mesh))
        return mesh

    monkeypatch.setattr(module, "load_mesh", tracking)
    return alive_at_load


def test_imported_lineage_is_audited_with_the_whole_mesh(govern, demo_copy, tmp_path, loads):
    """Imported lineage adds edges the mesh index does not know of, so --batch does not apply."""
    manifest = dbt_manifest(tmp_path)
    run = govern(
        "audit", M, "--now", NOW, "--no-store", "--format", "json", "--batch", "1", "--dbt-manifest", str(manifest), cwd=demo_copy
    )
    assert run.code == 1, run.err  # (the demo mesh has blocking findings)
    assert loads == [14]
    assert [e for e in run.json()["lineage"]["edges"] if not e["declared"]] == [
        {"from": "customers_profiles", "to": "orders_returns", "contractId": None, "declared": False}
    ]


@pytest.mark.parametrize(
    "products, jobs, batch, size",
    [
        (1_000, 2, 2_000, 250),  # two batches a worker
        (150, 2, 2_000, 100),  # at least 100 products a batch
        (10_000, 2, 2_000, 1_667),  # six batches, three rounds of the two workers (not five of 2,000)
        (100_000, 2, 2_000, 2_000),  # fifty batches
        (9_000, 4, 2_000, 1_125),  # eight batches, two rounds of four workers
        (120, 2, 30, 30),
    ],
)
def test_batches_come_in_whole_rounds_of_the_workers(products, jobs, batch, size):
    assert engine.shards.shard_size(products, jobs, batch) == size
    count = -(-products // size)
    assert count % jobs == 0 or count < jobs

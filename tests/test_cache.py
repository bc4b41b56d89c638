"""The cache (engine/cache.py): what comes out of it is exactly what loading gives, an entry is used
only for the very bytes it was derived from, and a cache that is off, damaged or unwritable only
costs time.

Each test points GOVERN_CACHE_DIR at a folder of its own, so "cold" and "warm" are exact.
"""

from __future__ import annotations

import json
import math
import os
import shutil
import sqlite3
import subprocess
import sys
from contextlib import closing
from pathlib import Path

import pytest

from engine import cache, parallel
from engine.gather import files, yamlsrc
from engine.gather.mesh import discover
from engine.governance import load_governance
from engine.parallel import Workers
from engine.policy import library as library_module
from engine.policy.library import load_library

from .conftest import CORPORA, DEMO, REPO, corpus_manifest


@pytest.fixture
def cache_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    folder = tmp_path / "cache"
    monkeypatch.setenv("GOVERN_CACHE_DIR", str(folder))
    return folder


def entries(folder: Path, kind: str) -> list[str]:
    """The keys of the stored entries of ``kind`` (after writing what this process holds)."""
    cache.flush()
    if not (folder / cache.DATABASE).exists():
        return []
    with closing(sqlite3.connect(folder / cache.DATABASE)) as db:
        return [key for (key,) in db.execute("SELECT key FROM entries WHERE kind = ? ORDER BY key", (kind,))]


def stored(folder: Path, kind: str, key: str) -> bytes:
    with closing(sqlite3.connect(folder / cache.DATABASE)) as db:
        return db.execute("SELECT value FROM entries WHERE kind = ? AND key = ?", (kind, key)).fetchone()[0]


def store(folder: Path, kind: str, key: str, value: bytes) -> None:
    with closing(sqlite3.connect(folder / cache.DATABASE)) as db, db:
        db.execute("UPDATE entries SET value = ? WHERE kind = ? AND key = ?", (value, kind, key))


def no_parsing(monkeypatch: pytest.MonkeyPatch) -> None:
    """Make any YAML parse fail the test: what follows must come from the cache."""

    def parse(*args: object) -> None:
        raise AssertionError(f"parsed {args[1]!r} although it is in the cache")

    monkeypatch.setattr(files, "load_text", parse)
    monkeypatch.setattr("engine.gather.yamlsrc.load_text", parse)


def corpus_files() -> list[tuple[Path, str]]:
    out = []
    for r in corpus_manifest():
        path = CORPORA / r["source"] / r["path"]
        if r["kind"].startswith("odcs-contract"):
            out.append((path, "contract"))
        elif r["kind"].startswith(("odps-", "dps-")):
            out.append((path, "product"))
    return out


def demo_files() -> list[tuple[Path, str]]:
    products, contracts = discover(DEMO)
    return [(p, "product") for p in products] + [(c, "contract") for c in contracts]


def model(loaded: object) -> object:
    return loaded.contract if hasattr(loaded, "contract") else loaded.product  # type: ignore[attr-defined]


def assert_round_trip(items: list[tuple[Path, str]], folder: Path, monkeypatch: pytest.MonkeyPatch) -> int:
    """Load every file without the cache, then twice with it (the second time with parsing
    forbidden); each time the same model, lines and file, or the same error. The number cached."""
    monkeypatch.setenv("GOVERN_CACHE_DIR", "off")
    fresh = [files.load_one(item) for item in items]
    monkeypatch.setenv("GOVERN_CACHE_DIR", str(folder))
    first = [files.load_one(item) for item in items]
    cached = [item for item, loaded in zip(items, fresh, strict=True) if not isinstance(loaded, tuple)]
    with monkeypatch.context() as m:
        no_parsing(m)
        again = [files.load_one(item) for item in cached]
    for item, a, b in zip(items, fresh, first, strict=True):
        if isinstance(a, tuple):
            assert a == b, item  # an error, the same each time, never cached
            continue
        assert model(a) == model(b), item
    for item, c in zip(cached, again, strict=True):
        a = fresh[items.index(item)]
        assert model(a) == model(c), item
        assert (a.doc.file, a.doc.lines) == (c.doc.file, c.doc.lines), item
    return len(cached)


def test_restored_demo_files_are_the_loaded_ones(cache_dir, monkeypatch):
    items = demo_files()
    assert len(items) == 28
    assert assert_round_trip(items, cache_dir, monkeypatch) == 28
    assert len(entries(cache_dir, "files")) == 28


def test_restored_corpus_files_are_the_loaded_ones(corpora, cache_dir, monkeypatch):
    items = corpus_files()
    assert len(items) > 70
    cached = assert_round_trip(items, cache_dir, monkeypatch)
    assert cached == len(entries(cache_dir, "files"))
    assert cached > 70


def test_values_json_has_no_words_for_survive_the_cache(tmp_path, cache_dir, monkeypatch):
    contract = tmp_path / "odd.odcs.yaml"
    contract.write_text(
        "apiVersion: v3.0.2\nkind: DataContract\nid: odd\nversion: 1.0.0\nstatus: active\n"
        "slaProperties:\n  - {property: latency, value: .inf, unit: d}\n  - {property: retention, value: .nan}\n"
        "  - {property: frequency, value: 123456789012345678901234567890}\n"
        "  - {property: latency, value: 1.0e+999}\n"
        'schema:\n  - name: t\n    properties:\n      - {name: "ünï\\u2028code", logicalType: string}\n',
        encoding="utf-8",
    )
    monkeypatch.setenv("GOVERN_CACHE_DIR", "off")
    fresh = files.load_one((contract, "contract"))
    monkeypatch.setenv("GOVERN_CACHE_DIR", str(cache_dir))
    files.load_one((contract, "contract"))
    with monkeypatch.context() as m:
        no_parsing(m)
        again = files.load_one((contract, "contract"))
    values = [s.value for s in again.contract.sla]
    assert values[0] == math.inf and math.isnan(values[1]) and values[2] == 123456789012345678901234567890
    assert values[3] == math.inf
    assert [s.value for s in fresh.contract.sla][2] == values[2]
    assert again.contract.objects[0].properties[0].name == "ünï\u2028code"
    assert again.doc.lines == fresh.doc.lines


def test_text_beyond_ascii_survives_the_cache(tmp_path, cache_dir, monkeypatch):
    # no float JSON lacks a number for: the entry is written by pydantic's serializer
    contract = tmp_path / "names.odcs.yaml"
    contract.write_text(
        "apiVersion: v3.0.2\nkind: DataContract\nid: names\nversion: 1.0.0\nstatus: active\n"
        'schema:\n  - name: "tä\\u2028ble"\n    properties:\n      - {name: "ünï\\"code\\u0000", logicalType: string}\n'
        'customProperties:\n  - {property: "ключ", value: 1.5}\n',
        encoding="utf-8",
    )
    assert assert_round_trip([(contract, "contract")], cache_dir, monkeypatch) == 1
    restored = files.load_one((contract, "contract"))
    assert restored.contract.objects[0].name == "tä\u2028ble"
    assert restored.contract.objects[0].properties[0].name == 'ünï"code\x00'


def test_an_entry_is_used_only_for_the_bytes_and_name_it_came_from(tmp_path, cache_dir, monkeypatch):
    mesh = tmp_path / "mesh"
    shutil.copytree(DEMO / "orders" / "order_items", mesh / "order_items")
    descriptor = mesh / "order_items" / "dataproduct.yaml"
    before = files.load_one((descriptor, "product"))
    descriptor.write_text(descriptor.read_text().replace("orders_order_items", "orders_order_lines"))
    after = files.load_one((descriptor, "product"))
    assert (before.product.id, after.product.id) == ("orders_order_items", "orders_order_lines")
    moved = mesh / "order_lines" / "dataproduct.yaml"
    moved.parent.mkdir()
    moved.write_bytes(descriptor.read_bytes())
    assert files.load_one((moved, "product")).doc.file.endswith("order_lines/dataproduct.yaml")
    assert len(entries(cache_dir, "files")) == 3


def test_a_damaged_entry_is_loaded_again(cache_dir):
    item = demo_files()[0]
    good = files.load_one(item)
    (key,) = entries(cache_dir, "files")
    for damage in (b"{not json", b"[]", json.dumps({"model": {"id": 5}, "lines": {}}).encode()):
        store(cache_dir, "files", key, damage)
        assert model(files.load_one(item)) == model(good)
        cache.flush()
        assert json.loads(stored(cache_dir, "files", key))["lines"] == good.doc.lines  # and stored again


@pytest.mark.parametrize("damage", [b"", b"not a database at all" * 100])
def test_a_damaged_database_is_replaced(cache_dir, damage):
    item = demo_files()[0]
    good = files.load_one(item)
    cache.release()
    for name in (cache.DATABASE, f"{cache.DATABASE}-wal", f"{cache.DATABASE}-shm"):
        (cache_dir / name).unlink(missing_ok=True)
    (cache_dir / cache.DATABASE).write_bytes(damage)
    assert model(files.load_one(item)) == model(good)
    assert len(entries(cache_dir, "files")) == 1


def test_entries_written_by_workers_are_read_by_the_next_run(cache_dir, monkeypatch):
    """Forked workers (engine/parallel.py) each open their own connection and write their entries
    when they finish; the parent's connection, closed before the fork, opens again afterwards."""
    items = demo_files()
    with Workers(2) as workers:
        monkeypatch.setattr(parallel, "MIN_ITEMS", 1)
        loaded = list(workers.map(files.load_one, items, len(items)))
    assert len(entries(cache_dir, "files")) == len(items) == 28
    with monkeypatch.context() as m:
        no_parsing(m)
        again = [files.load_one(item) for item in items]
    assert [model(a) for a in again] == [model(b) for b in loaded]


def test_errors_are_not_cached(tmp_path, cache_dir):
    broken = tmp_path / "dataproduct.yaml"
    broken.write_text("name: [unclosed\n")
    error = files.load_one((broken, "product"))
    assert error[0] == "error" and error[3] == 1
    assert files.load_one((broken, "product")) == error
    assert entries(cache_dir, "files") == []


@pytest.mark.parametrize("setting", ["off", "file"])
def test_a_cache_that_is_off_or_unwritable_changes_nothing(govern, tmp_path, monkeypatch, setting):
    target = tmp_path / "not-a-folder"
    target.write_text("")
    monkeypatch.setenv("GOVERN_CACHE_DIR", "off" if setting == "off" else str(target))
    run = govern("check", "--now", "2026-11-21T09:00:00Z", "examples/mesh/customers/segments", "--format", "json")
    assert run.code == 1
    assert {f["rule"] for f in run.json()["findings"]} == {"CLS-004", "CLS-005", "LIN-005"}
    assert target.read_text() == ""
    assert cache.folder() is None if setting == "off" else cache.folder() == target


def test_the_library_from_the_cache_is_the_library(cache_dir, monkeypatch):
    cold = load_library(REPO / "policies")
    assert len(entries(cache_dir, "library")) == 1
    with monkeypatch.context() as m:
        m.setattr(library_module, "parse_modules", lambda *a: pytest.fail("parsed a cached library"))
        warm = load_library(REPO / "policies")
    assert warm.rules == cold.rules and len(warm.rules) == 34
    assert warm.digest == cold.digest
    assert [(m.path, m.file, m.source, m.package, m.rules, m.package_line, m.calls) for m in warm.modules] == [
        (m.path, m.file, m.source, m.package, m.rules, m.package_line, m.calls) for m in cold.modules
    ]


def test_a_library_with_problems_is_cached_with_them_and_changes_are_seen(tmp_path, cache_dir, monkeypatch):
    policies = tmp_path / "policies"
    shutil.copytree(REPO / "policies", policies)
    (policies / "global" / "naming" / "broken.rego").write_text("package global.naming.broken\n\ndeny contains x if {\n")
    cold = load_library(policies)
    with monkeypatch.context() as m:
        m.setattr(library_module, "parse_modules", lambda *a: pytest.fail("parsed a cached library"))
        warm = load_library(policies)
    assert [(p.message, p.file, p.line) for p in warm.problems] == [(p.message, p.file, p.line) for p in cold.problems]
    assert len(warm.problems) == 1 and warm.problems[0].file.endswith("broken.rego")
    rule = policies / "global" / "naming" / "column_names.rego"
    rule.write_text(rule.read_text().replace("# title: Column names are snake_case", "# title: Columns in snake_case"))
    changed = load_library(policies)
    assert changed.rule("NAM-002").title == "Columns in snake_case"
    assert changed.digest != cold.digest
    assert len(entries(cache_dir, "library")) == 2


def test_governance_files_come_from_the_cache(cache_dir, monkeypatch):
    cold = load_governance(REPO / "governance")
    with monkeypatch.context() as m:
        no_parsing(m)
        warm = load_governance(REPO / "governance")
    assert warm.council == cold.council and warm.digest == cold.digest
    assert {d: (f.config, f.doc.lines) for d, f in warm.domains.items()} == {
        d: (f.config, f.doc.lines) for d, f in cold.domains.items()
    }


def test_each_governance_file_is_read_once(cache_dir, monkeypatch):
    """The governance digest in a report and the configuration evaluated are of the same bytes: a
    file edited between two reads could otherwise be reported under one digest and applied as
    another."""
    reads: list[str] = []

    def counting(real):
        def read(path: Path, *limit: int) -> bytes:
            if path.parent.name in ("governance", "domains"):  # (not the cache's digest of govern's code)
                reads.append(path.name)
            return real(path, *limit)

        return read

    # (both ways govern reads a file's bytes: its own, which refuses what is not a regular file, and pathlib's)
    monkeypatch.setattr(yamlsrc, "read_regular", counting(yamlsrc.read_regular))
    monkeypatch.setattr(Path, "read_bytes", counting(Path.read_bytes))
    governance = load_governance(REPO / "governance")
    files = ["council.yaml", *sorted(p.name for p in (REPO / "governance/domains").glob("*.y*ml"))]
    assert reads == files and len(governance.domains) == len(files) - 1


def test_a_warm_check_imports_no_parser_graph_library_or_terminal_toolkit(tmp_path):
    """What a second ``govern check`` of a demo product imports (the lazy imports that make it start
    fast): not PyYAML, networkx, the ODCS models, the JSON Schema validator or rich."""
    probe = (
        "import sys, json\n"
        "from engine.cli import main\n"
        "try:\n"
        "    main(['check', 'examples/mesh/orders/order_items'])\n"
        "except SystemExit as e:\n"
        "    code = e.code\n"
        "heavy = ['yaml', 'networkx', 'open_data_contract_standard', 'jsonschema_rs', 'rich']\n"
        "print(json.dumps([code, [m for m in heavy if m in sys.modules]]), file=sys.stderr)\n"
    )
    env = {**__import__("os").environ, "GOVERN_CACHE_DIR": str(tmp_path / "cache")}
    runs = [
        subprocess.run([sys.executable, "-c", probe], cwd=REPO, env=env, capture_output=True, text=True, check=True)
        for _ in range(2)
    ]
    cold, warm = (json.loads(r.stderr.strip().splitlines()[-1]) for r in runs)
    assert cold[0] == warm[0] == 0
    assert "yaml" in cold[1]
    assert warm[1] == []


def test_an_audit_in_batches_imports_the_graph_library_only_to_link_a_new_index(tmp_path):
    """An audit evaluated in batches by its workers (at least engine.parallel.MIN_ITEMS products)
    links a first mesh index with networkx; an audit whose stored index holds (and whose files the
    cache has) imports neither networkx nor PyYAML, and exits as the first did."""
    mesh = tmp_path / "mesh"
    generated = subprocess.run(
        [sys.executable, "-m", "engine", "generate", str(mesh), "--products", "70", "--domains", "4", "--seed", "3"],
        cwd=REPO,
        capture_output=True,
        text=True,
    )
    assert generated.returncode == 0, generated.stderr
    probe = (
        "import sys, json\n"
        "from engine.cli import main\n"
        "try:\n"
        "    main(['audit', 'mesh', '--jobs', '2', '--no-store', '--format', 'json', '-o', 'report.json'])\n"
        "except SystemExit as e:\n"
        "    code = e.code\n"
        "print(json.dumps([code, [m for m in ['yaml', 'networkx'] if m in sys.modules]]), file=sys.stderr)\n"
    )
    env = {**os.environ, "GOVERN_CACHE_DIR": str(tmp_path / "cache"), "PYTHONPATH": str(REPO)}
    runs = [
        subprocess.run([sys.executable, "-c", probe], cwd=mesh, env=env, capture_output=True, text=True, check=True)
        for _ in range(2)
    ]
    first, second = (json.loads(r.stderr.strip().splitlines()[-1]) for r in runs)
    assert first[0] == second[0] == 1  # (the generated mesh has blocking findings)
    assert first[1] == ["yaml", "networkx"]
    assert second[1] == []


def test_entries_made_by_other_code_or_libraries_are_not_used(cache_dir, monkeypatch):
    item = demo_files()[0]
    files.load_one(item)
    monkeypatch.setattr(cache, "_environment", lambda: "govern's code or a library changed")
    with monkeypatch.context() as m:
        m.setattr(files, "_restore", lambda *a: pytest.fail("an entry of other code was used") if a[2] else None)
        files.load_one(item)
    assert len(entries(cache_dir, "files")) == 2


def test_the_govern_command_writes_what_it_stored_before_it_exits(govern_process, tmp_path, monkeypatch):
    """``govern`` ends with an immediate exit (engine/cli.py run), which runs no atexit handler:
    the entries a check stored must be written by then, or the next check would parse again."""
    monkeypatch.setenv("GOVERN_CACHE_DIR", str(tmp_path / "cache"))
    assert govern_process("check", "examples/mesh/orders/order_items").code == 0
    counts = {kind: len(entries(tmp_path / "cache", kind)) for kind in ("library", "files", "yaml", "results")}
    assert counts == {"library": 1, "files": 9, "yaml": 4, "results": 1}  # the product, its neighbours and contracts


def days(folder: Path) -> dict[str, int]:
    """Each stored entry's key and the day it was last used (after writing what this process holds)."""
    cache.flush()
    with closing(sqlite3.connect(folder / cache.DATABASE)) as db:
        return dict(db.execute("SELECT key, used FROM entries"))


def age(folder: Path, by: int, key: str | None = None) -> None:
    """Make entries (every one, or ``key``) look last used ``by`` days earlier than they were."""
    with closing(sqlite3.connect(folder / cache.DATABASE)) as db, db:
        db.execute("UPDATE entries SET used = used - ? WHERE ? IS NULL OR key = ?", (by, key, key))


def test_an_entry_carries_the_day_it_was_last_used(cache_dir, monkeypatch):
    """A read writes the day again only when the entry's day is more than TOUCH_DAYS old: a nightly
    audit rewrites each entry at most once a week, not every night."""
    today = 20_000
    monkeypatch.setattr(cache, "today", lambda: today)  # no midnight inside the test
    first, second = demo_files()[:2]
    files.load_one(first)
    files.load_one(second)
    stored_days = days(cache_dir)
    assert list(stored_days.values()) == [today, today]
    old, recent = stored_days
    age(cache_dir, cache.TOUCH_DAYS + 1, old)
    age(cache_dir, cache.TOUCH_DAYS, recent)
    with monkeypatch.context() as m:
        no_parsing(m)
        files.load_one(first)
        files.load_one(second)
    assert days(cache_dir) == {old: today, recent: today - cache.TOUCH_DAYS}


def test_an_audit_deletes_entries_unused_for_a_month_once_a_day(govern, cache_dir, monkeypatch):
    """Entries no run has used for KEEP_DAYS days go; one the audit itself reads stays, however old."""
    today = 20_000
    monkeypatch.setattr(cache, "today", lambda: today)  # no midnight inside the test
    files.load_one(demo_files()[0])
    (read,) = days(cache_dir)
    cache.put("files", "gone", {"unused": "for a month and a day"})
    cache.put("files", "kept", {"unused": "for a month"})
    cache.flush()
    age(cache_dir, cache.KEEP_DAYS + 1, read)
    age(cache_dir, cache.KEEP_DAYS + 1, "gone")
    age(cache_dir, cache.KEEP_DAYS, "kept")
    run = govern("audit", "--no-store", "--format", "json", "--now", "2026-11-21T09:00:00Z")
    assert run.code == 1
    remaining = days(cache_dir)
    assert "gone" not in remaining
    assert (remaining["kept"], remaining[read]) == (today - cache.KEEP_DAYS, today)
    assert len(remaining) > 2  # and what the audit stored
    age(cache_dir, 1, "kept")
    assert cache.prune() == 0  # not twice on the same day
    monkeypatch.setattr(cache, "today", lambda: today + 1)
    assert cache.prune() == 1
    assert "kept" not in days(cache_dir)


def test_a_database_of_an_earlier_schema_is_replaced(cache_dir):
    """The database of a govern without the day column: replaced, and used from then on."""
    cache.release()
    cache_dir.mkdir()
    with closing(sqlite3.connect(cache_dir / cache.DATABASE)) as db, db:
        db.execute("CREATE TABLE entries (kind TEXT, key TEXT, value BLOB, PRIMARY KEY (kind, key)) WITHOUT ROWID")
        db.execute("INSERT INTO entries VALUES ('files', 'k', '{}')")
    item = demo_files()[0]
    files.load_one(item)
    (key,) = entries(cache_dir, "files")
    assert key != "k" and list(days(cache_dir).values()) == [cache.today()]
    with closing(sqlite3.connect(cache_dir / cache.DATABASE)) as db:
        assert db.execute("PRAGMA user_version").fetchone() == (cache.SCHEMA,)


def pages(folder: Path) -> tuple[int, int]:
    """The database's pages and free pages, as a new reader sees them."""
    with closing(sqlite3.connect(folder / cache.DATABASE)) as db:
        return db.execute("PRAGMA page_count").fetchone()[0], db.execute("PRAGMA freelist_count").fetchone()[0]


def test_pruning_gives_the_space_back(cache_dir, monkeypatch):
    """Deleted entries leave no free pages behind: the file shrinks (incremental vacuum)."""
    today = 20_000
    monkeypatch.setattr(cache, "today", lambda: today)
    for n in range(600):
        cache.put("files", f"{n:04d}", {"text": f"{n} " * 2000})
    cache.flush()
    full, free = pages(cache_dir)
    assert free == 0
    with closing(sqlite3.connect(cache_dir / cache.DATABASE)) as db, db:
        db.execute("UPDATE entries SET used = used - ? WHERE key >= '0200'", (cache.KEEP_DAYS + 1,))
    assert cache.prune() == 400
    left, free = pages(cache_dir)
    assert free == 0 and left < full / 2
    assert sorted(days(cache_dir)) == [f"{n:04d}" for n in range(200)]


def test_databases_of_other_schemas_are_kept_until_unused_for_a_month(cache_dir, monkeypatch):
    """Another version of govern keeps its own database beside this one's (neither replaces the
    other's); pruning deletes one no process has written to for more than KEEP_DAYS days."""
    today = 20_000
    monkeypatch.setattr(cache, "today", lambda: today)
    cache_dir.mkdir()
    others = {"cache.db": cache.KEEP_DAYS + 1, "cache-1.db": cache.KEEP_DAYS, "cache-9.db": cache.KEEP_DAYS + 1}
    for name, unused in others.items():
        with closing(sqlite3.connect(cache_dir / name)) as db, db:
            db.execute("CREATE TABLE entries (kind TEXT, key TEXT, value BLOB)")
            db.execute("PRAGMA user_version = 1")
        (cache_dir / f"{name}-wal").write_bytes(b"")
        written = (today - unused) * 86400 + 3600
        for file in (cache_dir / name, cache_dir / f"{name}-wal"):
            os.utime(file, (written, written))
    os.utime(cache_dir / "cache-9.db-wal")  # its log was written just now: in use
    files.load_one(demo_files()[0])
    assert len(entries(cache_dir, "files")) == 1
    assert sorted(p.name for p in cache_dir.glob("cache*.db")) == sorted([cache.DATABASE, *others])
    cache.prune()
    assert sorted(p.name for p in cache_dir.iterdir() if not p.name.startswith(cache.DATABASE)) == [
        "cache-1.db",
        "cache-1.db-wal",
        "cache-9.db",
        "cache-9.db-wal",
    ]
    assert len(entries(cache_dir, "files")) == 1

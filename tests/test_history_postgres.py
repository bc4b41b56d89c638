"""The audit history in a PostgreSQL database (``--store postgresql://...``), against a real
PostgreSQL server (tests/conftest.py ``postgres_server``: a throwaway cluster, or GOVERN_TEST_POSTGRES)."""

from __future__ import annotations

import shutil
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from .conftest import HISTORY_COLUMNS, govern_exe

M = "examples/mesh"
NOW = "2026-11-21T09:00:00Z"


def audit(govern, root: Path, store: str, *args: str):
    return govern("audit", M, "--now", NOW, "--store", store, "--format", "json", *args, cwd=root)


def tables(url: str) -> dict[str, list[tuple]]:
    """Every row of every table of the database's schema, by table."""
    import psycopg

    with psycopg.connect(url) as conn:
        names = [r[0] for r in conn.execute("SELECT table_name FROM information_schema.tables WHERE table_schema = 'public'")]
        return {name: sorted(conn.execute(f'SELECT * FROM "{name}"').fetchall(), key=repr) for name in sorted(names)}


def _renamed_and_back(govern, root: Path, store: str) -> list[dict]:
    """Three audits: as it is, with orders_returns renamed (one NAM-001 more), and restored."""
    descriptor = root / M / "orders/returns/dataproduct.yaml"
    original = descriptor.read_text()
    first = audit(govern, root, store).json()
    descriptor.write_text(original.replace("name: orders_returns", "name: OrdersReturns"))
    second = audit(govern, root, store).json()
    descriptor.write_text(original)
    third = audit(govern, root, store).json()
    return [first, second, third]


def test_a_postgresql_history_remembers_what_an_sqlite_one_does(govern, demo_copy, postgres_store, tmp_path):
    """The same three audits into an SQLite file and into PostgreSQL: the same changes, trends and
    stored runs, run for run."""
    reports = {}
    for kind, store in (("sqlite", str(tmp_path / "history.sqlite")), ("postgres", postgres_store)):
        reports[kind] = _renamed_and_back(govern, demo_copy, store)
    first, second, third = reports["postgres"]
    assert len(first["changes"]["new"]) == len(first["findings"]) == 26
    assert (len(second["changes"]["new"]), second["changes"]["fixed"], second["changes"]["persisting"]) == (1, [], 26)
    assert (third["changes"]["fixed"], third["changes"]["new"]) == (second["changes"]["new"], [])
    assert third["changes"]["persisting"] == 26
    assert third["changes"]["previous_run"] == second["run"]["id"]
    assert [p["run"] for p in third["trend"]] == [r["run"]["id"] for r in (first, second, third)]
    for lite, pg in zip(reports["sqlite"], reports["postgres"], strict=True):
        assert {k: v for k, v in lite["changes"].items() if k != "previous_run"} == {
            k: v for k, v in pg["changes"].items() if k != "previous_run"
        }
        assert [{k: v for k, v in p.items() if k not in ("run", "started_at")} for p in lite["trend"]] == [
            {k: v for k, v in p.items() if k not in ("run", "started_at")} for p in pg["trend"]
        ]

    def runs(store: str) -> list[dict]:
        stored = govern("history", M, "--store", store, "--format", "json", cwd=demo_copy).json()["runs"]
        return [{k: v for k, v in r.items() if k not in ("id", "started_at", "mesh")} for r in stored]

    assert runs(postgres_store) == runs(str(tmp_path / "history.sqlite"))
    text = govern("history", M, "--store", postgres_store, cwd=demo_copy).out.splitlines()
    assert [line.split()[-2:] for line in text[1:4]] == [["-", "-"], ["1", "0"], ["0", "1"]]
    assert "  orders     98.6 -> 97.5 -> 98.6  (=)" in text
    stored = tables(postgres_store)
    assert stored["govern_schema"] == [(3,)]
    assert [(row[1], row[2]) for row in stored["runs"]] == [(r["run"]["id"], M) for r in (first, second, third)]


def test_a_project_cloned_elsewhere_shares_its_postgresql_history(govern, demo_copy, postgres_store, tmp_path):
    """Machines that each have the repository at another path (CI workspaces, a scheduled audit)
    know its mesh by its path in the project (the folder of govern.toml)."""
    first = audit(govern, demo_copy, postgres_store).json()
    clone = tmp_path / "workspace-2" / "repo"
    shutil.copytree(demo_copy, clone)
    second = audit(govern, clone, postgres_store).json()
    assert (second["changes"]["previous_run"], second["changes"]["new"]) == (first["run"]["id"], [])
    listed = govern("history", "--store", postgres_store, "--format", "json", cwd=tmp_path).json()["runs"]
    assert [(r["id"], r["mesh"]) for r in listed] == [(first["run"]["id"], M), (second["run"]["id"], M)]
    # a mesh outside any project is known by its resolved path
    alone = tmp_path / "alone"
    shutil.copytree(demo_copy / M, alone)
    outside = govern(
        "audit", str(alone), "--policies", str(demo_copy / "policies"), "--governance", str(demo_copy / "governance"),
        "--store", postgres_store, "--now", NOW, "--format", "json", cwd=tmp_path,
    ).json()  # fmt: skip
    assert outside["changes"]["previous_run"] is None
    assert [row[2] for row in tables(postgres_store)["runs"]] == [M, M, str(alone.resolve())]


def test_the_store_can_be_named_by_govern_store(govern, demo_copy, postgres_store, monkeypatch):
    monkeypatch.setenv("GOVERN_STORE", postgres_store)
    first = govern("audit", M, "--now", NOW, "--format", "json", cwd=demo_copy).json()
    assert not (demo_copy / M / ".govern" / "history.sqlite").exists()
    runs = govern("history", M, "--format", "json", cwd=demo_copy).json()["runs"]
    assert [r["id"] for r in runs] == [first["run"]["id"]]


KILLED_WHILE_STORING = """
import os, signal, sys
import engine.history as history

many = history.History._executemany


def dying(self, query, rows):
    if "INTO findings" in query:  # (the run's row and its domain scores are written by now)
        os.kill(os.getpid(), signal.SIGKILL)
    return many(self, query, rows)


history.History._executemany = dying
sys.argv = ["govern", *sys.argv[1:]]
from engine.cli import run

run()
"""


def test_an_audit_killed_while_it_stores_in_postgresql_leaves_the_earlier_runs_as_they_were(govern, demo_copy, postgres_store):
    ids = [audit(govern, demo_copy, postgres_store).json()["run"]["id"] for _ in range(2)]
    before = tables(postgres_store)
    cmd = [sys.executable, "-c", KILLED_WHILE_STORING, "audit", M, "--now", NOW, "--store", postgres_store]
    proc = subprocess.run(cmd, cwd=demo_copy, capture_output=True, timeout=300)
    assert proc.returncode == -signal.SIGKILL, proc.stderr
    assert tables(postgres_store) == before  # (the server rolls back the transaction of a connection gone)
    assert [row[1] for row in before["runs"]] == ids
    after = audit(govern, demo_copy, postgres_store).json()
    assert after["changes"]["previous_run"] == ids[1]


def test_two_first_audits_at_once_both_store_their_runs(demo_copy, postgres_store):
    """Both create the tables of a new database at once: one waits for the other's."""
    cmd = [govern_exe(), "audit", M, "--now", NOW, "--store", postgres_store, "--format", "json", "--jobs", "1"]
    procs = [subprocess.Popen(cmd, cwd=demo_copy, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for _ in range(2)]
    results = [(p.wait(timeout=300), *p.communicate()) for p in procs]
    assert [code for code, _, err in results] == [1, 1], [err for _, _, err in results]
    assert len(tables(postgres_store)["runs"]) == 2


def test_a_database_with_tables_of_another_application_is_refused_and_left_alone(govern, demo_copy, postgres_store):
    import psycopg

    with psycopg.connect(postgres_store) as conn:
        conn.execute("CREATE TABLE runs (id TEXT PRIMARY KEY, note TEXT)")
        conn.execute("INSERT INTO runs VALUES ('r1', 'must survive')")
    before = tables(postgres_store)
    run = govern("audit", M, "--now", NOW, "--store", postgres_store, cwd=demo_copy)
    assert run.code == 3
    assert f"error: {postgres_store}: not a usable govern history database (it has tables runs that are not govern's)" in run.err
    assert tables(postgres_store) == before == {"runs": [("r1", "must survive")]}


def test_the_history_of_a_database_no_audit_stored_in_is_none_and_makes_no_tables(govern, demo_copy, postgres_store):
    run = govern("history", M, "--store", postgres_store, cwd=demo_copy)
    assert (run.code, run.err) == (2, f"error: no audit history in {postgres_store} (run govern audit first)\n")
    assert tables(postgres_store) == {}


def test_a_history_of_another_schema_version_is_refused(govern, demo_copy, postgres_store):
    import psycopg

    assert audit(govern, demo_copy, postgres_store).code == 1
    with psycopg.connect(postgres_store) as conn:
        conn.execute("UPDATE govern_schema SET version = 99")
    for args in (("audit", M, "--now", NOW), ("history", M)):
        run = govern(*args, "--store", postgres_store, cwd=demo_copy)
        assert run.code == 3
        assert run.err.strip() == f"error: {postgres_store}: not a usable govern history database (schema version 99, expected 3)"


def test_a_history_of_schema_version_2_is_listed_as_it_is_and_brought_up_to_date_by_an_audit(govern, demo_copy, postgres_store):
    """(Version 3 keeps how many products each audit could not evaluate: unknown, "-", before.)"""
    import psycopg

    first = audit(govern, demo_copy, postgres_store).json()
    with psycopg.connect(postgres_store) as conn:  # (as version 2 laid runs out)
        conn.execute("ALTER TABLE runs DROP COLUMN errors")
        conn.execute("UPDATE govern_schema SET version = 2")
    listed = govern("history", M, "--store", postgres_store, "--format", "json", cwd=demo_copy)
    assert [(r["id"], r["errors"]) for r in listed.json()["runs"]] == [(first["run"]["id"], None)]
    assert tables(postgres_store)["govern_schema"] == [(2,)]  # (only read: left as it was)
    (demo_copy / M / "orders/returns/dataproduct.yaml").write_text("name: [x\n")
    second = audit(govern, demo_copy, postgres_store)
    assert second.code == 3
    assert second.json()["changes"]["previous_run"] == first["run"]["id"]
    assert tables(postgres_store)["govern_schema"] == [(2,), (3,)]
    text = govern("history", M, "--store", postgres_store, cwd=demo_copy).out.splitlines()
    assert text[0].split() == HISTORY_COLUMNS
    assert [line.split()[6] for line in text[1:3]] == ["-", "1"]


def test_a_server_that_cannot_be_reached_is_named_without_its_password(govern, demo_copy, tmp_path):
    url = f"postgresql://bob:s3cret@/history?host={tmp_path / 'no-server'}"
    for args in (("audit", M, "--now", NOW), ("history", M)):
        run = govern(*args, "--store", url, cwd=demo_copy)
        assert run.code == 3
        shown = f"postgresql://bob:***@/history?host={tmp_path / 'no-server'}"
        assert run.err.startswith(f"error: {shown}: cannot connect to the history database (")
        assert "s3cret" not in run.out + run.err
    unreadable = govern("audit", M, "--store", "postgresql://bob@/history?nonsense=1", cwd=demo_copy)
    assert unreadable.code == 2
    assert unreadable.err.strip() == (
        "error: postgresql://bob@/history?nonsense=1: not a PostgreSQL URL libpq can read"
        ' (invalid URI query parameter: "nonsense")'
    )


def test_a_postgresql_store_without_psycopg_says_what_to_install(demo_copy):
    code = "import sys; sys.modules['psycopg'] = None; sys.argv = ['govern', *sys.argv[1:]]; from engine.cli import run; run()"
    proc = subprocess.run(
        [sys.executable, "-c", code, "audit", M, "--store", "postgresql://x@/y"], cwd=demo_copy, capture_output=True, text=True
    )
    assert proc.returncode == 2
    assert proc.stderr.strip() == (
        "error: a PostgreSQL history needs psycopg, which is not installed: pip install 'govern[postgres]'"
    )


@pytest.mark.parametrize("store", ["postgresql://x@/y", "postgres://x@/y"])
def test_both_url_schemes_name_a_postgresql_store(store):
    from engine.history import is_url, shown_store

    assert is_url(store)
    assert not is_url(Path(store))
    assert shown_store(store.replace("x@", "x:pw@")) == store.replace("x@", "x:***@")

"""``govern audit`` and ``govern history``: the whole mesh, stored in SQLite, compared run to run."""

from __future__ import annotations

import json
import os
import shutil
import signal
import sqlite3
import subprocess
import sys
import tempfile
from contextlib import closing
from pathlib import Path
from urllib.parse import quote

import pytest

from .conftest import HISTORY_COLUMNS, REPO

M = "examples/mesh"
NOW = "2026-11-21T09:00:00Z"
WAREHOUSES = "inventory/warehouses/dataproduct.yaml"


def audit(govern, root: Path, *args: str):
    return govern("audit", M, "--now", NOW, *args, cwd=root)


def nam001(report: dict, product: str) -> list[str]:
    return [f["fingerprint"] for f in report["findings"] if f["rule"] == "NAM-001" and f["product"] == product]


def test_audits_remember_new_and_fixed_findings(govern, demo_copy):
    store = demo_copy / M / ".govern/history.sqlite"
    first = audit(govern, demo_copy, "--format", "json")
    assert first.code == 1
    assert store.is_file()
    report = first.json()
    assert report["run"]["command"] == "audit"
    assert report["changes"]["previous_run"] is None
    assert len(report["changes"]["new"]) == len(report["findings"]) == 26

    descriptor = demo_copy / M / "orders/returns/dataproduct.yaml"
    original = descriptor.read_text()
    descriptor.write_text(original.replace("name: orders_returns", "name: OrdersReturns"))
    second = audit(govern, demo_copy, "--format", "json").json()
    broken = nam001(second, "OrdersReturns")
    assert len(broken) == 1
    # orders_returns was compliant: the rename adds exactly one finding.
    assert broken[0] in second["changes"]["new"]
    assert second["changes"]["previous_run"] == report["run"]["id"]
    assert second["changes"]["fixed"] == []
    assert second["changes"]["persisting"] == 26

    descriptor.write_text(original)
    third = audit(govern, demo_copy, "--format", "json").json()
    assert third["changes"]["fixed"] == broken
    assert third["changes"]["new"] == []
    assert third["changes"]["persisting"] == 26
    assert [p["run"] for p in third["trend"]] == [report["run"]["id"], second["run"]["id"], third["run"]["id"]]

    history = govern("history", M, cwd=demo_copy)
    assert history.code == 0
    lines = history.out.splitlines()
    assert lines[0].split() == HISTORY_COLUMNS
    assert [line.split()[0] for line in lines[1:4]] == ["1", "2", "3"]
    assert [line.split()[5:9] for line in lines[1:4]] == [
        ["14", "0", "25", "21"],
        ["14", "0", "26", "22"],
        ["14", "0", "25", "21"],
    ]
    assert [line.split()[-2:] for line in lines[1:4]] == [["-", "-"], ["1", "0"], ["0", "1"]]
    assert "  orders     98.6 -> 97.5 -> 98.6  (=)" in lines
    runs = govern("history", M, "--format", "json", cwd=demo_copy).json()["runs"]
    assert [r["id"] for r in runs] == [report["run"]["id"], second["run"]["id"], third["run"]["id"]]
    assert runs[1]["domains"]["orders"] == 97.5


SEGMENTS = f"{M}/customers/segments/customers-segments-v1.odcs.yaml"
NEW_COLUMN = """      - name: tenant_id
        logicalType: string
        physicalType: varchar(36)
        description: Tenant of the customer.
        classification: internal
"""


def _column_first(root: Path) -> None:
    """A column added as the first of segments: every other column moves one place and 5 lines down."""
    contract = root / SEGMENTS
    text = contract.read_text()
    contract.write_text(text.replace("    properties:\n", "    properties:\n" + NEW_COLUMN, 1))


def test_a_column_added_above_a_finding_keeps_it_the_same_finding(govern, demo_copy):
    """CLS-004 on segments.email is known by its resource, not by the column's place: a column
    added above it makes nothing new or fixed, in the history as against a --baseline."""
    first = audit(govern, demo_copy, "--format", "json").json()
    (email,) = [f for f in first["findings"] if f["rule"] == "CLS-004"]
    assert (email["resource"], email["contract"], email["location"]["path"]) == (
        "segments.email",
        "customers-segments-v1",
        "schema[0].properties[1].classification",
    )
    (demo_copy / "baseline.json").write_text(json.dumps(first))
    _column_first(demo_copy)
    second = audit(govern, demo_copy, "--format", "json").json()
    (moved,) = [f for f in second["findings"] if f["rule"] == "CLS-004"]
    assert moved["fingerprint"] == email["fingerprint"]
    assert (moved["location"]["path"], moved["location"]["line"]) == (
        "schema[0].properties[2].classification",
        email["location"]["line"] + 5,
    )
    assert (second["changes"]["new"], second["changes"]["fixed"]) == ([], [])
    check = govern(
        "check", "--now", NOW, f"{M}/customers/segments", "--baseline", "baseline.json", "--format", "json", cwd=demo_copy
    )
    assert check.code == 0
    found = [(f["rule"], f["baseline"]) for f in check.json()["findings"]]
    assert found == [("CLS-004", True), ("LIN-005", True), ("CLS-005", True)]


def test_two_columns_of_one_name_keep_apart_by_their_places(govern, demo_copy):
    contract = demo_copy / SEGMENTS
    text = contract.read_text()
    contract.write_text(
        text.replace(
            "      - name: segment_code\n",
            NEW_COLUMN.replace("tenant_id", "email").replace(
                "classification: internal\n", "classification: internal\n        tags: [pii]\n"
            )
            + "      - name: segment_code\n",
            1,
        )
    )
    report = govern("check", "--now", NOW, f"{M}/customers/segments", "--format", "json", cwd=demo_copy).json()
    found = [f for f in report["findings"] if f["rule"] == "CLS-004"]
    assert [(f["resource"], f["location"]["path"]) for f in found] == [
        ("segments.email", "schema[0].properties[1].classification"),
        ("segments.email", "schema[0].properties[2].classification"),
    ]
    assert len({f["fingerprint"] for f in found}) == 2


def test_a_look_alike_finding_added_below_leaves_the_first_as_it_was(govern, demo_copy):
    """LIN-001 on finance_ledger's third port: a fourth port reading the same retired product is a
    new finding of its own, and the first keeps its fingerprint (one new, none fixed); removed
    again, it alone is fixed."""
    ledger = demo_copy / M / "finance/ledger/dataproduct.yaml"
    original = ledger.read_text()
    first = audit(govern, demo_copy, "--format", "json").json()
    (lin,) = [f["fingerprint"] for f in first["findings"] if f["rule"] == "LIN-001"]
    ledger.write_text(original + "  - product: orders_legacy_feed\n    contractId: orders-legacy-feed-v1\n")
    second = audit(govern, demo_copy, "--format", "json").json()
    both = [f["fingerprint"] for f in second["findings"] if f["rule"] == "LIN-001"]
    assert both[0] == lin and len(set(both)) == 2
    assert (second["changes"]["new"], second["changes"]["fixed"]) == ([both[1]], [])
    ledger.write_text(original)
    third = audit(govern, demo_copy, "--format", "json").json()
    assert (third["changes"]["new"], third["changes"]["fixed"]) == ([], [both[1]])


def _positional(finding: dict) -> str:
    """A fingerprint as govern 0.1 computed it: the key path with its list positions."""
    import hashlib

    parts = [finding["rule"], finding["product"], finding["contract"], finding["location"]["path"], finding["resource"]]
    return hashlib.sha256("\x1f".join(p or "" for p in parts).encode()).hexdigest()[:32]


def test_an_audit_after_an_upgrade_matches_the_fingerprints_govern_0_1_stored(govern, demo_copy):
    """A run stored by govern 0.1 holds positional fingerprints: the next audit, with a column added
    above a finding besides, shows no finding as new or fixed; a 0.1 report is a --baseline too."""
    first = audit(govern, demo_copy, "--format", "json").json()
    old = {f["fingerprint"]: _positional(f) for f in first["findings"]}
    assert sum(a != b for a, b in old.items()) == 13  # (those naming a resource in a list)
    with closing(sqlite3.connect(demo_copy / M / ".govern/history.sqlite")) as db, db:
        db.execute("UPDATE runs SET govern_version = '0.1.0'")
        db.executemany("UPDATE findings SET fingerprint = ? WHERE fingerprint = ?", [(b, a) for a, b in old.items()])
    for f in first["findings"]:
        f["fingerprint"] = old[f["fingerprint"]]
    (demo_copy / "baseline.json").write_text(json.dumps(first))
    second = audit(govern, demo_copy, "--format", "json").json()
    assert (second["changes"]["new"], second["changes"]["fixed"], second["changes"]["persisting"]) == ([], [], 26)
    check = govern("check", "--now", NOW, M, "--baseline", "baseline.json", "--format", "json", cwd=demo_copy)
    assert [f["rule"] for f in check.json()["findings"] if not f["baseline"]] == []
    _column_first(demo_copy)  # (now stored in the new form: the place of a column no longer counts)
    third = audit(govern, demo_copy, "--format", "json").json()
    assert (third["changes"]["new"], third["changes"]["fixed"], third["changes"]["persisting"]) == ([], [], 26)


def test_findings_carried_from_a_run_of_govern_0_1_are_matched_when_their_product_is_back(govern, demo_copy):
    """finance_ledger cannot be loaded in the first audit after the upgrade: its findings, stored by
    0.1, are carried into that run in their old form, and matched when it loads again."""
    first = audit(govern, demo_copy, "--format", "json").json()
    old = {f["fingerprint"]: _positional(f) for f in first["findings"]}
    with closing(sqlite3.connect(demo_copy / M / ".govern/history.sqlite")) as db, db:
        db.execute("UPDATE runs SET govern_version = '0.1.0'")
        db.executemany("UPDATE findings SET fingerprint = ? WHERE fingerprint = ?", [(b, a) for a, b in old.items()])
    ledger = demo_copy / M / "finance/ledger/dataproduct.yaml"
    original = ledger.read_text()
    ledger.write_text(original + "x: [\n")
    second = audit(govern, demo_copy, "--format", "json").json()
    assert (second["changes"]["new"], second["changes"]["fixed"], second["changes"]["unknown"]) == ([], [], 4)
    ledger.write_text(original)
    third = audit(govern, demo_copy, "--format", "json").json()
    assert (third["changes"]["new"], third["changes"]["fixed"], third["changes"]["persisting"]) == ([], [], 26)


def test_audit_lists_waivers_of_products_not_in_the_mesh_as_unused(govern, demo_copy):
    orders = demo_copy / "governance/domains/orders.yaml"
    orders.write_text(orders.read_text().replace("product: orders_legacy_feed", "product: orders_gone"))
    report = audit(govern, demo_copy, "--format", "json", "--no-store").json()
    assert [(w["rule"], w["product"]) for w in report["waivers"]["unused"]] == [("STD-002", "orders_gone")]
    assert "changes" not in report or report["changes"] is None
    # No history is read or written; the mesh index, which is no history, is kept for the checks
    assert sorted(p.name for p in (demo_copy / M / ".govern").iterdir()) == ["index.db"]
    # a check of the whole mesh folder lists it too (a domain team checking before it publishes
    # learns of it), and so does a check of the products of its domain; another domain's does not
    whole = govern("check", M, "--format", "json", "--now", NOW, cwd=demo_copy).json()
    assert [(w["rule"], w["product"]) for w in whole["waivers"]["unused"]] == [("STD-002", "orders_gone")]
    some = govern("check", f"{M}/orders", "--format", "json", "--now", NOW, cwd=demo_copy).json()
    assert [(w["rule"], w["product"]) for w in some["waivers"]["unused"]] == [("STD-002", "orders_gone")]
    other = govern("check", f"{M}/finance", "--format", "json", "--now", NOW, cwd=demo_copy).json()
    assert other["waivers"]["unused"] == []
    # a folder outside the configured mesh is a mesh of its own, not the whole mesh
    shutil.copytree(demo_copy / M / "finance/payments", demo_copy / "payments")
    apart = govern("check", "payments", "--format", "json", "--now", NOW, cwd=demo_copy).json()
    assert apart["waivers"]["unused"] == []


@pytest.mark.parametrize("newline", ["\n", "\r\n"])
def test_a_broken_product_is_an_error_verdict_and_the_audit_goes_on(govern, demo_copy, newline):
    before = audit(govern, demo_copy, "--format", "json", "--no-store").json()["domains"]["orders"]
    text = "kind: DataProduct\ndomain: orders  # ok\nname: [broken\n"
    if newline != "\n":  # (and no comment after the domain, which used to take the \r in)
        text = text.replace("  # ok", "").replace("\n", newline)
    (demo_copy / M / "orders/returns/dataproduct.yaml").write_bytes(text.encode())
    run = audit(govern, demo_copy, "--format", "json", "--no-store")
    assert run.code == 3
    report = run.json()
    verdicts = {p["id"]: p["verdict"] for p in report["products"]}
    assert len(verdicts) == 14
    errored = [p for p in report["products"] if p["verdict"] == "error"]
    assert len(errored) == 1 and errored[0]["source"] == f"{M}/orders/returns/dataproduct.yaml"
    assert "dataproduct.yaml:3: invalid YAML" in errored[0]["errors"][0]  # the file's last line
    assert verdicts["orders_order_items"] == "pass"
    # It stays in the domain its text names: the domain counts the error, not one product fewer
    assert errored[0]["domain"] == "orders"
    orders = report["domains"]["orders"]
    assert (orders["products"], orders["verdicts"]["error"]) == (before["products"], 1)
    assert sum(orders["verdicts"].values()) == before["products"]


def test_an_unusable_store_is_refused_and_left_alone(govern, demo_copy, tmp_path):
    store = tmp_path / "history.sqlite"
    store.write_bytes(b"this is not a database, and it must survive" * 100)
    run = audit(govern, demo_copy, "--store", str(store))
    assert run.code == 3
    assert f"error: {store}: not a usable govern history database" in run.err
    assert store.read_bytes() == b"this is not a database, and it must survive" * 100


def test_a_store_locked_when_the_run_is_stored_still_leaves_the_report(govern, demo_copy, monkeypatch, tmp_path):
    """The store is opened twice: before the mesh is evaluated (an unusable one stops the audit
    there) and to store the run. Locked by another process at that second time, the whole run was
    lost: no report, only the error."""
    import engine.history as history

    opened = history.History.__init__
    calls = []

    def locked_the_second_time(self, path):
        calls.append(path)
        if len(calls) == 2:
            raise history._unusable(sqlite3.OperationalError("database is locked"), path)
        opened(self, path)

    monkeypatch.setattr(history.History, "__init__", locked_the_second_time)
    out = tmp_path / "report.json"
    run = audit(govern, demo_copy, "--format", "json", "-o", str(out))
    assert run.code == 3
    report = json.loads(out.read_text())
    assert report["errors"] == [
        f"{M}/.govern/history.sqlite: the history database is in use by another process (database is locked, for 30 s):"
        " try again later"
    ]
    assert len(report["findings"]) == 26


@pytest.mark.parametrize("break_it", ["descriptor", "contract"])
def test_findings_of_a_product_that_could_not_be_evaluated_are_neither_fixed_nor_new_again(govern, demo_copy, break_it):
    """marketing_leads cannot be loaded for one audit (its descriptor, or its contract, is broken):
    its earlier findings are unknown then, not fixed, and when it loads again they persist."""
    leads = demo_copy / M / "marketing/leads"
    first = audit(govern, demo_copy, "--format", "json").json()
    theirs = sorted(f["fingerprint"] for f in first["findings"] if f["product"] == "marketing_leads")
    assert theirs
    broken = leads / ("dataproduct.yaml" if break_it == "descriptor" else "marketing-leads-v1.odcs.yaml")
    original = broken.read_text()
    broken.write_text(original + "  bad: [x\n")
    second = audit(govern, demo_copy, "--format", "json")
    assert second.code == 3
    changes = second.json()["changes"]
    assert (changes["new"], changes["fixed"], changes["unknown"]) == ([], [], len(theirs))
    assert changes["persisting"] == len(first["findings"]) - len(theirs)
    broken.write_text(original)
    third = audit(govern, demo_copy, "--format", "json").json()["changes"]
    assert (third["new"], third["fixed"], third["unknown"], third["persisting"]) == ([], [], 0, len(first["findings"]))


def test_a_history_of_the_first_schema_is_brought_up_to_date_and_keeps_its_runs(govern, demo_copy):
    store = demo_copy / M / ".govern/history.sqlite"
    first = audit(govern, demo_copy, "--format", "json").json()
    with sqlite3.connect(store) as db:  # (as version 1 laid findings and runs out: no source, no errors)
        db.executescript(
            "CREATE TABLE old AS SELECT run_seq, fingerprint, rule, product, domain, severity, enforcement, status FROM findings;"
            "DROP TABLE findings; CREATE TABLE findings (run_seq INTEGER NOT NULL REFERENCES runs (seq) ON DELETE CASCADE,"
            " fingerprint TEXT NOT NULL, rule TEXT NOT NULL, product TEXT NOT NULL, domain TEXT, severity TEXT NOT NULL,"
            " enforcement TEXT NOT NULL, status TEXT NOT NULL, PRIMARY KEY (run_seq, fingerprint));"
            "INSERT INTO findings SELECT * FROM old; DROP TABLE old;"
            "ALTER TABLE runs DROP COLUMN errors; PRAGMA user_version = 1;"
        )
    # govern history only reads: it lists the runs and leaves the store as it is (on a read-only
    # disk, an upgrade made it "not a usable history database")
    listed = govern("history", M, "--format", "json", cwd=demo_copy)
    assert [r["id"] for r in listed.json()["runs"]] == [first["run"]["id"]]
    with closing(sqlite3.connect(store)) as db:
        assert db.execute("PRAGMA user_version").fetchone() == (1,)
    second = audit(govern, demo_copy, "--format", "json")
    assert second.code == 1
    changes = second.json()["changes"]
    assert (changes["previous_run"], changes["new"], changes["persisting"]) == (first["run"]["id"], [], len(first["findings"]))
    with closing(sqlite3.connect(store)) as db:
        assert db.execute("PRAGMA user_version").fetchone() == (3,)
        assert db.execute("SELECT count(*) FROM findings WHERE source IS NULL").fetchone() == (len(first["findings"]),)
        assert db.execute("SELECT errors FROM runs ORDER BY seq").fetchall() == [(None,), (0,)]


def test_a_history_of_schema_version_2_is_listed_and_then_keeps_how_many_products_were_in_error(govern, demo_copy):
    """A broken product is left out of the scores, so a score can rise because products broke:
    the history says how many could not be evaluated (unknown, "-", for runs stored before)."""
    store = demo_copy / M / ".govern/history.sqlite"
    first = audit(govern, demo_copy, "--format", "json").json()
    with sqlite3.connect(store) as db:  # (as version 2 laid runs out)
        db.executescript("ALTER TABLE runs DROP COLUMN errors; PRAGMA user_version = 2;")
    listed = govern("history", M, "--format", "json", cwd=demo_copy).json()["runs"]
    assert [(r["id"], r["errors"]) for r in listed] == [(first["run"]["id"], None)]
    with closing(sqlite3.connect(store)) as db:
        assert db.execute("PRAGMA user_version").fetchone() == (2,)  # (only read: left as it was)
    (demo_copy / M / "finance/ledger/dataproduct.yaml").write_text("name: [x\n")
    second = audit(govern, demo_copy, "--format", "json")
    assert second.code == 3
    assert second.json()["summary"]["score"] > first["summary"]["score"]  # (the failing ledger left out)
    text = govern("history", M, cwd=demo_copy).out.splitlines()
    assert text[0].split() == HISTORY_COLUMNS
    assert [line.split()[4:7] for line in text[1:3]] == [["94.8", "14", "-"], [str(second.json()["summary"]["score"]), "14", "1"]]
    with closing(sqlite3.connect(store)) as db:
        assert db.execute("PRAGMA user_version").fetchone() == (3,)


def test_the_history_trend_shows_a_change_only_between_two_scores():
    """A domain scored in one stored audit only (missing in the others) has no change to show."""
    from engine.history import StoredRun
    from engine.report.history import render_history

    def stored(seq: int, domains: dict) -> StoredRun:
        return StoredRun(seq, f"run{seq}", "/m", "t", "t", 90.0, 1, 0, 0, 0, None, None, domains=domains)

    text = render_history([stored(1, {"a": 90.0, "b": 96.5}), stored(2, {"a": 91.0})], "text")
    assert "  a  90 -> 91  (+1)\n" in text and "  b  96.5 -> -\n" in text


def test_history_without_audits_is_a_usage_error(govern, demo_copy):
    run = govern("history", M, cwd=demo_copy)
    assert run.code == 2
    assert "no audit history at" in run.err


def test_history_of_a_mesh_a_shared_store_has_no_audits_of_names_the_meshes_it_has(govern, demo_copy, tmp_path):
    """A store holding other meshes' audits only (a shared --store, or a mesh moved elsewhere, whose
    runs are stored under its old path) is no history of this mesh: exit 2, saying whose it holds."""
    store = tmp_path / "shared.sqlite"
    assert audit(govern, demo_copy, "--store", str(store)).code == 1
    elsewhere = tmp_path / "moved"
    shutil.copytree(demo_copy / M, elsewhere)
    run = govern("history", str(elsewhere), "--store", str(store), cwd=demo_copy)
    assert run.code == 2
    # (a line each: the list came on one line, its line breaks shown as \n)
    held = f"  {(demo_copy / M).resolve()} (1 audit)"
    assert run.err == f"error: no audits of {elsewhere.resolve()} stored in {store}; it holds audits of:\n{held}\n"


def test_an_audit_as_of_a_later_day_is_not_the_previous_one_of_an_audit_of_an_earlier_day(govern, demo_copy):
    """Runs follow the time they were judged as of (--now): a preview of a later date stored first
    is neither the baseline of today's audit nor in its trend; it is the previous one of a later audit."""

    def at(day: str) -> dict:
        return govern("audit", M, "--now", f"{day}T09:00:00Z", "--format", "json", cwd=demo_copy).json()

    preview = at("2027-01-10")
    today = at("2026-11-21")
    assert (today["changes"]["previous_run"], [p["run"] for p in today["trend"]]) == (None, [today["run"]["id"]])
    later = at("2027-02-01")
    assert later["changes"]["previous_run"] == preview["run"]["id"]
    assert [p["run"] for p in later["trend"]] == [today["run"]["id"], preview["run"]["id"], later["run"]["id"]]
    runs = govern("history", M, "--format", "json", cwd=demo_copy).json()["runs"]
    assert [r["now"][:10] for r in runs] == ["2026-11-21", "2027-01-10", "2027-02-01"]


def test_the_history_inside_a_mesh_moves_with_it(govern, demo_copy, tmp_path):
    """The default store (MESH/.govern/history.sqlite) knows its mesh as the folder above it: a
    repository moved (or a CI workspace at another path) keeps its history. A run stored by govern
    0.1, keyed by the mesh's resolved path, is still the previous one where the mesh has not moved."""
    first = audit(govern, demo_copy, "--format", "json").json()
    store = demo_copy / M / ".govern/history.sqlite"
    with closing(sqlite3.connect(store)) as db, db:
        assert db.execute("SELECT mesh FROM runs").fetchall() == [("..",)]
        db.execute("UPDATE runs SET mesh = ?", (str((demo_copy / M).resolve()),))  # (as 0.1 kept it)
    second = audit(govern, demo_copy, "--format", "json").json()
    assert (second["changes"]["previous_run"], second["changes"]["new"]) == (first["run"]["id"], [])
    moved = tmp_path / "elsewhere"
    shutil.move(demo_copy, moved)
    third = audit(govern, moved, "--format", "json").json()
    assert (third["changes"]["previous_run"], third["changes"]["new"]) == (second["run"]["id"], [])
    runs = govern("history", M, "--format", "json", cwd=moved).json()["runs"]
    assert [(r["id"], r["mesh"]) for r in runs] == [
        (second["run"]["id"], str((moved / M).resolve())),
        (third["run"]["id"], str((moved / M).resolve())),
    ]


def test_a_default_store_linked_to_a_file_elsewhere_keeps_the_history_of_its_mesh(govern, demo_copy, tmp_path):
    """(A history kept on persistent storage and linked back, in CI, say: its .. was read from the
    link's target folder, and the next audit was the first.)"""
    first = audit(govern, demo_copy, "--format", "json").json()
    store = demo_copy / M / ".govern/history.sqlite"
    kept = tmp_path / "kept" / "history.sqlite"
    kept.parent.mkdir()
    shutil.move(store, kept)
    store.symlink_to(kept)
    second = audit(govern, demo_copy, "--format", "json").json()
    assert (second["changes"]["previous_run"], second["changes"]["new"]) == (first["run"]["id"], [])
    runs = govern("history", M, "--format", "json", cwd=demo_copy).json()["runs"]
    assert {r["mesh"] for r in runs} == {str(demo_copy / M)}


def test_history_of_a_store_shared_by_meshes_shows_each_mesh_apart(govern, demo_copy, tmp_path):
    store = tmp_path / "shared.sqlite"
    shutil.copytree(demo_copy / M / "customers", demo_copy / "other")  # (a second mesh, beside the first)
    assert audit(govern, demo_copy, "--store", str(store)).code == 1
    assert govern("audit", "other", "--now", NOW, "--store", str(store), cwd=demo_copy).code in (0, 1)
    assert audit(govern, demo_copy, "--store", str(store)).code == 1
    run = govern("history", "--store", str(store), cwd=tmp_path)  # (no govern.toml there: no mesh)
    assert run.code == 0
    # the same inside the repository: given only --store, govern.toml's mesh is not looked at
    assert govern("history", "--store", str(store), cwd=demo_copy).out == run.out
    # one mesh only: still named, since no mesh was
    alone = tmp_path / "alone.sqlite"
    assert govern("audit", "other", "--now", NOW, "--store", str(alone), cwd=demo_copy).code in (0, 1)
    assert (
        govern("history", "--store", str(alone), cwd=demo_copy).out.splitlines()[0] == f"mesh {(demo_copy / 'other').resolve()}:"
    )
    whole, customers = (demo_copy / M).resolve(), (demo_copy / "other").resolve()
    sections = run.out.split("\nmesh ")
    assert [s.splitlines()[0] for s in sections] == [f"mesh {whole}:", f"{customers}:"]
    # each section's runs and domain trend are its mesh's alone
    assert [line.split()[0] for line in sections[0].splitlines()[2:4]] == ["1", "3"]
    assert "  orders " in sections[0] and "  orders " not in sections[1]
    assert [line.split()[0] for line in sections[1].splitlines()[2:3]] == ["2"]


# The audit's process is killed (SIGKILL: nothing of it runs afterwards) in the middle of storing
# its run: the run's row, its report and its domain scores are written, its findings not yet.
KILLED_WHILE_STORING = """
import os, signal, sys
import engine.history as history


class Dying:
    def __init__(self, conn):
        self._conn = conn

    def __getattr__(self, name):
        return getattr(self._conn, name)

    def __enter__(self):
        return self._conn.__enter__()

    def __exit__(self, *exc):
        return self._conn.__exit__(*exc)

    def executemany(self, sql, rows):
        if "INTO findings" in sql:
            os.kill(os.getpid(), signal.SIGKILL)
        return self._conn.executemany(sql, rows)


opened = history.History.__init__


def dying_init(self, path):
    opened(self, path)
    self.conn = Dying(self.conn)


history.History.__init__ = dying_init
sys.argv = ["govern", *sys.argv[1:]]
from engine.cli import run

run()
"""


def _stored(store: Path) -> tuple[list, list, list]:
    with sqlite3.connect(store) as conn:
        assert conn.execute("PRAGMA integrity_check").fetchone() == ("ok",)
        tables = [conn.execute(f"SELECT * FROM {t} ORDER BY 1, 2").fetchall() for t in ("runs", "domain_scores", "findings")]
    conn.close()
    return tables[0], tables[1], tables[2]


def test_an_audit_killed_while_it_stores_its_run_leaves_the_earlier_runs_as_they_were(govern, demo_copy):
    store = demo_copy / M / ".govern/history.sqlite"
    ids = [audit(govern, demo_copy, "--format", "json").json()["run"]["id"] for _ in range(2)]
    before = _stored(store)
    cmd = [sys.executable, "-c", KILLED_WHILE_STORING, "audit", M, "--now", NOW, "--format", "json"]
    proc = subprocess.run(cmd, cwd=demo_copy, capture_output=True, timeout=300)
    assert proc.returncode == -signal.SIGKILL, proc.stderr
    assert _stored(store) == before  # (SQLite rolls the killed transaction back from its journal)
    assert [row[1] for row in before[0]] == ids
    after = audit(govern, demo_copy, "--format", "json").json()
    assert after["changes"]["previous_run"] == ids[1]


# --- check --baseline ----------------------------------------------------------------------------------


def test_baseline_findings_are_shown_but_do_not_count(govern, demo_copy, tmp_path):
    baseline = tmp_path / "baseline.json"
    run = govern("check", "--now", NOW, f"{M}/inventory", "--format", "json", "--output", str(baseline), cwd=demo_copy)
    assert run.code == 1
    again = govern("check", "--now", NOW, f"{M}/inventory", "--baseline", str(baseline), cwd=demo_copy)
    assert again.code == 0
    assert "3 findings also in the baseline (not counted for the exit code)" in again.out
    # A new violation is not in the baseline: it counts.
    stock = demo_copy / M / "inventory/stock_levels/dataproduct.yaml"
    stock.write_text(stock.read_text().replace("name: inventory_stock_levels", "name: StockLevels"))
    third = govern("check", "--now", NOW, f"{M}/inventory", "--baseline", str(baseline), "--format", "json", cwd=demo_copy)
    assert third.code == 1
    counting = [(f["product"], f["rule"]) for f in third.json()["findings"] if not f["baseline"]]
    assert counting == [("StockLevels", "NAM-001")]


def test_baseline_must_be_a_report(govern, tmp_path):
    bad = tmp_path / "baseline.json"
    bad.write_text('{"findings": [}')
    run = govern("check", "--now", NOW, f"{M}/inventory", "--baseline", str(bad))
    assert run.code == 3
    assert f"error: {bad}:1: the baseline is not JSON" in run.err
    bad.write_text("[]")
    run = govern("check", "--now", NOW, f"{M}/inventory", "--baseline", str(bad))
    assert run.code == 3 and "not a govern.report/v1 JSON report" in run.err


# --- report formats ------------------------------------------------------------------------------------


def test_sarif_validates_against_the_sarif_schema(govern, corpora):
    import jsonschema_rs

    run = govern("audit", M, "--now", NOW, "--format", "sarif", "--no-store")
    assert run.code == 1
    doc = run.json()
    schema = json.loads((corpora / "sarif-spec/sarif-2.1/schema/sarif-schema-2.1.0.json").read_text())
    errors = [e.message for e in jsonschema_rs.validator_for(schema).iter_errors(doc)]
    assert errors == []
    sarif_run = doc["runs"][0]
    rules = sarif_run["tool"]["driver"]["rules"]
    assert len(rules) == 34
    nam = next(r for r in rules if r["id"] == "NAM-001")
    assert nam["shortDescription"]["text"] == "Product names follow {domain}_{entity}"
    assert nam["fullDescription"]["text"] and nam["help"]["text"].startswith("Rename the product")
    result = next(r for r in sarif_run["results"] if r["ruleId"] == "NAM-001")
    assert result["level"] == "error"
    assert result["locations"][0]["physicalLocation"] == {
        "artifactLocation": {"uri": f"{M}/inventory/warehouses/dataproduct.yaml", "uriBaseId": "%SRCROOT%"},
        "region": {"startLine": 5},
    }
    assert len(result["partialFingerprints"]["governFinding/v2"]) == 32
    assert rules[result["ruleIndex"]]["id"] == "NAM-001"
    assert "resource" not in result["properties"]  # (the finding names none)
    cls = next(r for r in sarif_run["results"] if r["ruleId"] == "CLS-004")
    assert cls["properties"]["resource"] == "segments.email"
    waived = [r for r in sarif_run["results"] if r.get("suppressions")]
    assert [(r["ruleId"], r["suppressions"][0]["justification"]) for r in waived] == [
        ("STD-002", "GOV-142; Legacy feed has no processed_at column until the migration")
    ]
    assert sarif_run["originalUriBaseIds"] == {"%SRCROOT%": {"uri": REPO.as_uri() + "/"}}  # (the repository's root)


def test_sarif_uris_are_encoded_and_relative_to_the_repository_wherever_govern_runs(govern, demo_copy):
    (demo_copy / ".git").mkdir()  # (the repository's root, as code scanning resolves paths from it)
    odd = demo_copy / M / "orders" / "my items#1 50%"
    shutil.move(demo_copy / M / "orders/legacy_feed", odd)
    run = govern("check", "--now", NOW, "mesh/orders/my items#1 50%", "--format", "sarif", cwd=demo_copy / "examples")
    assert run.code == 1
    sarif_run = run.json()["runs"][0]
    assert sarif_run["originalUriBaseIds"] == {"%SRCROOT%": {"uri": demo_copy.as_uri() + "/"}}
    artifacts = {json.dumps(r["locations"][0]["physicalLocation"]["artifactLocation"]) for r in sarif_run["results"]}
    assert artifacts == {
        json.dumps({"uri": f"{M}/orders/my%20items%231%2050%25/orders-legacy-feed-v1.odcs.yaml", "uriBaseId": "%SRCROOT%"})
    }


def test_junit_parses_as_junit_xml(govern):
    from junitparser import Failure, JUnitXml, Skipped

    run = govern("check", "--now", NOW, M, "--format", "junit")
    assert run.code == 1
    xml = JUnitXml.fromstring(run.out.encode())
    suites = {suite.name: suite for suite in xml}
    assert len(suites) == 14
    assert suites["orders_order_items"].tests == 1 and suites["orders_order_items"].failures == 0
    warehouses = suites["InventoryWarehouses"]
    cases = {case.name: case for case in warehouses}
    assert set(cases) == {"compliance", "NAM-001 Product names follow {domain}_{entity}", "NAM-002 Column names are snake_case"}
    failure = cases["NAM-001 Product names follow {domain}_{entity}"].result[0]
    assert isinstance(failure, Failure) and failure.type == "blocking"
    legacy = {case.name: case for case in suites["orders_legacy_feed"]}
    assert isinstance(legacy["STD-002 Schema objects carry the metadata columns"].result[0], Skipped)
    # a warning fails no gate: its case passes, the finding in its output (CI test views went red)
    keyed = legacy["ORDERS-001 Orders contracts key their rows by order_id"]
    assert keyed.result == [] and keyed.system_out.startswith("warning: examples/mesh/orders/legacy_feed/")
    leads = {case.name: case for case in suites["marketing_leads"]}
    assert len(leads) == 6 and suites["marketing_leads"].failures == 5
    assert leads["STD-004 Products name their monitoring metrics"].result == []
    # the failures are --fail-on's, as the exit code is
    strict = govern("check", "--now", NOW, f"{M}/orders/legacy_feed", "--format", "junit", "--fail-on", "warning")
    assert strict.code == 1
    cases = {case.name: case.result for suite in JUnitXml.fromstring(strict.out.encode()) for case in suite}
    assert [type(r).__name__ for r in cases["ORDERS-001 Orders contracts key their rows by order_id"]] == ["Failure"]
    assert [type(r).__name__ for r in cases["compliance"]] == ["Failure"]
    never = govern("check", "--now", NOW, M, "--format", "junit", "--fail-on", "never")
    assert never.code == 0 and JUnitXml.fromstring(never.out.encode()).failures == 0


def test_junit_of_a_check_whose_blocking_findings_are_all_in_the_baseline_has_no_failure(govern, demo_copy):
    """The gate passes (exit 0): a CI test view must not show the product failing."""
    from junitparser import Failure, JUnitXml

    assert govern("check", "--now", NOW, M, "--format", "json", "-o", "base.json", cwd=demo_copy).code == 1
    run = govern("check", "--now", NOW, M, "--baseline", "base.json", "--format", "junit", cwd=demo_copy)
    assert run.code == 0
    xml = JUnitXml.fromstring(run.out.encode())
    assert [(suite.name, case.name) for suite in xml for case in suite if any(isinstance(r, Failure) for r in case.result)] == []
    assert sum(suite.failures for suite in xml) == 0


def test_markdown_summarises_and_escapes(govern, demo_copy):
    leads = demo_copy / M / "marketing/leads/dataproduct.yaml"
    leads.write_text(leads.read_text().replace("name: marketing_leads", "name: marketing_leads|<b>x</b>"))
    run = govern("check", "--now", NOW, f"{M}/marketing/leads", "--format", "markdown", cwd=demo_copy)
    lines = run.out.splitlines()
    assert lines[0] == "## govern check: 0 pass, 1 fail, 0 error"
    # (one product: not "1 products")
    assert lines[2] == "**Score 83.3** · 1 product · 8 open findings (5 blocking, 3 warning, 0 advisory) · 0 waived · 33 rules"
    assert "### ❌ marketing\\_leads\\|&lt;b&gt;x&lt;/b&gt; (marketing) · fail · score 83.3" in lines
    assert "| rule | severity | enforcement | status | finding | where |" in lines


def test_a_file_that_cannot_be_loaded_is_named_once_in_markdown_and_sarif(govern, demo_copy):
    """A product in error is known by its file, in no domain when its text names none: no empty
    "()" after its heading, and its errors, which begin with the file, are not prefixed with it again."""
    broken = demo_copy / M / "marketing/leads/dataproduct.yaml"
    broken.write_text("kind: DataProduct\nname: [x\n")
    source = f"{M}/marketing/leads/dataproduct.yaml"
    error = f"{source}:2: invalid YAML: while parsing a flow sequence"
    md = govern("check", "--now", NOW, f"{M}/marketing/leads", "--format", "markdown", cwd=demo_copy)
    assert md.code == 3
    assert f"### ⚠️ {source.replace('_', chr(92) + '_')} · error" in md.out.splitlines()
    sarif = govern("check", "--now", NOW, f"{M}/marketing/leads", "--format", "sarif", cwd=demo_copy)
    (note,) = sarif.json()["runs"][0]["invocations"][0]["toolExecutionNotifications"]
    assert note["message"]["text"].startswith(error)


def test_markdown_shows_a_path_as_written_in_its_table_cell(govern, demo_copy):
    """A pipe in a path does not end the cell (GitHub splits cells on it even inside code), a
    backtick does not end the code span; rendered as GitHub-flavoured tables render."""
    from markdown_it import MarkdownIt

    odd = demo_copy / M / "orders" / "a|b`c"
    shutil.move(demo_copy / M / "orders/legacy_feed", odd)
    run = govern("check", "--now", NOW, str(odd.relative_to(demo_copy)), "--format", "markdown", cwd=demo_copy)
    assert run.code == 1
    html = MarkdownIt("commonmark").enable("table").render(run.out)
    line = (odd / "orders-legacy-feed-v1.odcs.yaml").read_text().splitlines().index("version: v1") + 1
    assert f"<td><code>{M}/orders/a|b`c/orders-legacy-feed-v1.odcs.yaml:{line}</code></td>" in html


# --- the HTML report in a real browser ----------------------------------------------------------------

CHROMIUM = Path("/usr/bin/chromium")
CHROMEDRIVER = Path("/usr/bin/chromedriver")


@pytest.fixture(scope="module")
def browser():
    if not (CHROMIUM.exists() and CHROMEDRIVER.exists()):
        pytest.skip("Chromium is not installed (apt-get install chromium chromium-driver; .ci/run does)")
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = str(CHROMIUM)
    for arg in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage"):
        options.add_argument(arg)
    driver = webdriver.Chrome(service=Service(str(CHROMEDRIVER)), options=options)
    yield driver
    driver.quit()


def test_html_report_renders_filters_and_never_runs_markup(govern, demo_copy, browser):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import Select

    payload = "<img src=x onerror=\"document.title='pwned';window.pwned=1\"><script>window.pwned=2</script>"
    returns = demo_copy / M / "orders/returns/dataproduct.yaml"
    text = returns.read_text()
    start = text.index("description:")
    end = text.index("\n", start)
    returns.write_text(text[:start] + f"description: {json.dumps(payload)}" + text[end:])
    for _ in range(2):  # two audits, so there is a trend
        run = audit(govern, demo_copy, "--format", "html", "--output", "report.html")
        assert run.code == 1
    page = demo_copy / "report.html"
    browser.get(page.as_uri())

    assert browser.title == "govern audit: examples/mesh"
    assert browser.execute_script("return window.pwned === undefined")
    assert browser.find_element(By.CSS_SELECTOR, ".card .muted").text == "mesh score"
    description = browser.find_element(By.CSS_SELECTOR, 'tr.product[data-product="orders_returns"] td.description')
    assert description.text == payload
    assert browser.find_elements(By.CSS_SELECTOR, "#products img") == []

    domains = [row.find_elements(By.TAG_NAME, "td")[0].text for row in browser.find_elements(By.CSS_SELECTOR, "tr.domain-row")]
    assert domains == ["customers", "finance", "inventory", "marketing", "orders", "shipping"]
    assert len(browser.find_elements(By.CSS_SELECTOR, "#domains svg rect.bar")) == 6
    assert len(browser.find_elements(By.CSS_SELECTOR, "#trend svg circle")) == 2
    assert len(browser.find_elements(By.CSS_SELECTOR, "#lineage svg g.node")) == 15
    # (an edge that skipped a column ran behind the boxes between, as if it ended in one of them)
    crossed = browser.execute_script(
        """
        const boxes = [...document.querySelectorAll('#lineage g.node')].map(g => ({
            id: g.querySelector('title').textContent.split(' · ')[0], box: g.getBBox(), at: g.transform.baseVal[0].matrix}));
        const found = [];
        for (const path of document.querySelectorAll('#lineage svg > path')) {
            const [source, target] = path.querySelector('title').textContent.split(' → ');
            const ends = [source, target.split(' ')[0]];
            for (let i = 0; i <= 200; i++) {
                const p = path.getPointAtLength(path.getTotalLength() * i / 200);
                for (const b of boxes) {
                    const x = p.x - b.at.e, y = p.y - b.at.f;
                    if (!ends.includes(b.id) && x > 1 && x < b.box.width - 1 && y > 1 && y < b.box.height - 1) {
                        found.push(source + ' -> ' + target + ' crosses ' + b.id);
                    }
                }
            }
        }
        return [...new Set(found)];
        """
    )
    assert crossed == []

    rows = browser.find_elements(By.CSS_SELECTOR, "tr.finding")
    assert len(rows) == 26
    nam = browser.find_element(By.CSS_SELECTOR, 'tr.finding[data-rule="NAM-001"]')
    assert 'product name "InventoryWarehouses" does not match' in nam.text
    assert f"{M}/inventory/warehouses/dataproduct.yaml:5" in nam.text
    column = browser.find_element(By.CSS_SELECTOR, 'tr.finding[data-rule="CLS-004"] td.mono')
    assert column.text.splitlines()[1:] == ["schema[0].properties[1].classification", "resource segments.email"]

    Select(browser.find_element(By.ID, "filter-domain")).select_by_value("finance")
    visible = [r for r in rows if r.is_displayed()]
    assert {r.get_attribute("data-domain") for r in visible} == {"finance"}
    assert len(visible) == 7
    assert browser.find_element(By.ID, "shown").text == "7 of 26 shown"
    Select(browser.find_element(By.ID, "filter-severity")).select_by_value("medium")
    assert [r.get_attribute("data-rule") for r in rows if r.is_displayed()] == ["CLS-002", "CON-006"]
    Select(browser.find_element(By.ID, "filter-domain")).select_by_value("")
    Select(browser.find_element(By.ID, "filter-severity")).select_by_value("")
    Select(browser.find_element(By.ID, "filter-rule")).select_by_value("STD-004")
    assert sum(1 for r in rows if r.is_displayed()) == 3


def test_the_html_trend_axis_fits_the_scores_so_a_small_change_shows(govern, demo_copy, browser):
    """(On a 0-100 axis a mesh going from 94.8 to 95.2 was a flat line.) The axis runs in round
    steps from below the lowest score to above the highest."""
    from selenium.webdriver.common.by import By

    assert audit(govern, demo_copy, "--format", "json").json()["summary"]["score"] == 94.8
    warehouses = demo_copy / M / "inventory/warehouses/dataproduct.yaml"
    warehouses.write_text(warehouses.read_text().replace("name: InventoryWarehouses", "name: inventory_warehouses"))
    run = audit(govern, demo_copy, "--format", "html", "--output", "report.html")
    assert run.code == 1
    browser.get((demo_copy / "report.html").as_uri())
    ticks = browser.find_elements(By.CSS_SELECTOR, "#trend svg text.tick")
    assert [t.text for t in ticks] == ["96", "95", "94"]
    circles = browser.find_elements(By.CSS_SELECTOR, "#trend svg circle")
    scores = [c.find_element(By.TAG_NAME, "title").get_attribute("textContent").split("score ")[1].split(",")[0] for c in circles]
    assert scores == ["94.8", "95.1"]
    first, second = (float(c.get_attribute("cy")) for c in circles)
    top, bottom = (float(t.get_attribute("y")) - 4 for t in (ticks[0], ticks[-1]))
    # (each at its score on the axis the ticks draw)
    assert first == pytest.approx(bottom - (94.8 - 94) / 2 * (bottom - top), abs=0.1)
    assert second == pytest.approx(bottom - (95.1 - 94) / 2 * (bottom - top), abs=0.1)


def test_the_html_report_of_a_check_scores_what_it_checked_not_the_mesh(govern, browser):
    from selenium.webdriver.common.by import By

    run = govern("check", "--now", NOW, f"{M}/orders/order_items", "--format", "html")
    browser.get("data:text/html;charset=utf-8," + quote(run.out))
    cards = [
        (card.find_element(By.CSS_SELECTOR, ".muted").text, card.find_element(By.CSS_SELECTOR, ".big").text)
        for card in browser.find_elements(By.CSS_SELECTOR, ".card")
    ]
    assert cards[:2] == [("score", "100"), ("products", "1")]


def test_html_domain_filter_none_shows_only_the_findings_without_a_domain(govern, demo_copy, browser):
    """A contract no product publishes, of no domain, is checked on its own: its finding has no
    domain, which the filter offers as "(none)" (and "all" still shows everything)."""
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import Select

    legacy = (demo_copy / M / "orders/legacy_feed/orders-legacy-feed-v1.odcs.yaml").read_text()
    orphan = demo_copy / M / "orphan/orphan-v1.odcs.yaml"
    orphan.parent.mkdir()
    orphan.write_text(legacy.replace("id: orders-legacy-feed-v1", "id: orphan-v1").replace("domain: orders\n", ""))
    assert audit(govern, demo_copy, "--no-store", "--format", "html", "--output", "report.html").code == 1
    browser.get((demo_copy / "report.html").as_uri())
    rows = browser.find_elements(By.CSS_SELECTOR, "tr.finding")
    none = [r.get_attribute("data-fingerprint") for r in rows if r.get_attribute("data-domain") == ""]
    assert none
    Select(browser.find_element(By.ID, "filter-domain")).select_by_visible_text("(none)")
    assert [r.get_attribute("data-fingerprint") for r in rows if r.is_displayed()] == none
    Select(browser.find_element(By.ID, "filter-domain")).select_by_visible_text("all")
    assert sum(1 for r in rows if r.is_displayed()) == len(rows)


# --- scores -----------------------------------------------------------------------------------------


FAILING_RULE = """# METADATA
# title: Orders products carry a numeric owner
# description: A rule that cannot be evaluated (to_number of text is an error).
# custom:
#   id: ORDERS-002
#   category: standard-fields
#   severity: low
#   enforcement: warning
#   override: none
#   remediation: none
package domains.orders.numeric_owner

deny contains "not numeric" if to_number(input.product.owner) > 0
"""


def test_a_product_whose_rule_could_not_be_evaluated_has_no_score_and_no_place_in_the_means(govern, demo_copy):
    before = audit(govern, demo_copy, "--no-store", "--format", "json").json()
    (demo_copy / "policies/domains/orders/numeric_owner.rego").write_text(FAILING_RULE)
    run = audit(govern, demo_copy, "--no-store", "--format", "json")
    assert run.code == 3
    after = run.json()
    orders = {p["id"]: (p["verdict"], p["score"]) for p in after["products"] if p["domain"] == "orders"}
    assert orders == {pid: ("error", None) for pid in ("orders_legacy_feed", "orders_order_items", "orders_returns")}
    assert after["domains"]["orders"]["score"] is None
    others = [p["score"] for p in before["products"] if p["domain"] != "orders" and p["score"] is not None]
    assert after["summary"]["score"] == round(sum(others) / len(others), 1)
    assert {d: s["score"] for d, s in after["domains"].items() if d != "orders"} == {
        d: s["score"] for d, s in before["domains"].items() if d != "orders"
    }


def test_the_report_says_when_the_run_started_not_when_it_ended(monkeypatch, tmp_path):
    """started_at is read as the run begins: a clock that stands still at 2020 from then on shows it."""
    from datetime import UTC, datetime

    import engine.cli as cli

    class Stopped(datetime):
        @classmethod
        def now(cls, tz=None):
            return datetime(2020, 1, 1, 12, 0, 0, tzinfo=UTC)

    monkeypatch.chdir(REPO)
    monkeypatch.setattr(cli, "datetime", Stopped)
    out = tmp_path / "report.json"
    with pytest.raises(SystemExit) as exit:
        cli.main(["check", "--now", NOW, f"{M}/orders/order_items", "--format", "json", "-o", str(out)])
    assert exit.value.code == 0
    run = json.loads(out.read_text())["run"]
    assert (run["started_at"], run["now"]) == ("2020-01-01T12:00:00Z", NOW)


def test_a_report_written_to_a_file_leaves_the_reasons_of_exit_3_on_standard_error(govern, demo_copy):
    """A scheduled audit's log holds its standard error: the report in a file says what failed,
    and so must the log, not only the exit code."""
    (demo_copy / M / "orders/returns/dataproduct.yaml").write_text("kind: DataProduct\nname: [broken\n")
    os.mkdir(os.fsencode(demo_copy / M / "finance") + b"/caf\xe9")
    run = audit(govern, demo_copy, "--no-store", "--format", "json", "-o", "report.json")
    assert run.code == 3
    report = json.loads((demo_copy / "report.json").read_text())
    assert report["errors"] == [f"{M}/finance/caf\\xe9: its name is not UTF-8, which no report can hold: it was not checked"]
    (broken,) = [p for p in report["products"] if p["verdict"] == "error"]
    assert run.err.splitlines() == [
        "wrote report.json",
        f"error: {report['errors'][0]}",
        f"error: {broken['errors'][0]}",  # (the product is known by its file, which its error begins with)
        "error: 1 product could not be loaded or evaluated: see report.json",
    ]


def test_an_output_in_no_folder_is_a_usage_error_before_anything_is_run_or_stored(govern, demo_copy):
    """(The whole mesh was evaluated and the run stored, then the report could not be written.)"""
    run = audit(govern, demo_copy, "-o", "nowhere/report.json")
    assert run.code == 2
    assert "'nowhere/report.json': there is no folder" in run.err
    assert not (demo_copy / M / ".govern/history.sqlite").exists()


def _full_disk():
    """A report's pieces, the disk full after the first."""
    import errno

    yield b"{" * 100_000
    raise OSError(errno.ENOSPC, "No space left on device")


def test_a_report_that_cannot_be_written_whole_leaves_the_earlier_one(tmp_path):
    """Written beside it and renamed over it once whole: a full disk, or an interruption, left the
    first 64 KiB of the new report in place of the earlier one."""
    from engine.cli import _write
    from engine.errors import GovernError

    report = tmp_path / "report.json"
    report.write_text("the earlier report")

    with pytest.raises(GovernError, match="cannot write .*report.json: No space left on device"):
        _write(report, _full_disk())
    assert report.read_text() == "the earlier report"
    assert [p.name for p in tmp_path.iterdir()] == ["report.json"]  # (nothing half-written left)
    _write(report, iter([b"the new ", b"report"]))
    assert report.read_text() == "the new report" and oct(report.stat().st_mode & 0o777) != oct(0o600)


def test_a_report_through_a_link_that_cannot_be_written_whole_leaves_the_earlier_one(tmp_path):
    """(A link was written through, truncated first: a full disk left half a report.)"""
    from engine.cli import _write
    from engine.errors import GovernError

    (tmp_path / "reports").mkdir()
    report = tmp_path / "reports" / "2026-12-07.json"
    report.write_text("the earlier report")
    latest = tmp_path / "latest.json"
    latest.symlink_to(report)

    with pytest.raises(GovernError, match="cannot write .*latest.json: No space left on device"):
        _write(latest, _full_disk())
    assert report.read_text() == "the earlier report"
    assert sorted(p.name for p in report.parent.iterdir()) == ["2026-12-07.json"]
    _write(latest, iter([b"the new ", b"report"]))
    assert latest.is_symlink() and report.read_text() == "the new report"


def test_a_partial_report_left_by_a_killed_run_is_removed_by_the_next(tmp_path):
    """A run killed (SIGKILL) while it wrote its report left the partial file beside it for good;
    the next write removes those of processes that are gone, never one a live process writes."""
    import subprocess

    from engine.cli import _write

    gone = subprocess.Popen(["true"])
    gone.wait()
    writing = subprocess.Popen(["sleep", "60"])
    try:
        (tmp_path / f".report.json.{gone.pid}.k3x9.tmp").write_bytes(b"{" * 1000)
        (tmp_path / f".report.json.{writing.pid}.a8q2.tmp").write_bytes(b"{")
        (tmp_path / ".other.json.1.zz.tmp").write_bytes(b"{")
        _write(tmp_path / "report.json", iter([b"the report"]))
    finally:
        writing.kill()
        writing.wait()
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        ".other.json.1.zz.tmp",
        f".report.json.{writing.pid}.a8q2.tmp",
        "report.json",
    ]


@pytest.mark.parametrize("own", ["store", "index"])
def test_an_output_naming_a_file_govern_keeps_is_a_usage_error(govern, demo_copy, own):
    """(-o MESH/.govern/history.sqlite replaced the history with a report: every run was lost.)"""
    assert audit(govern, demo_copy).code == 1
    kept = demo_copy / M / ".govern" / ("history.sqlite" if own == "store" else "index.db")
    before = kept.read_bytes()
    run = audit(govern, demo_copy, "-o", str(kept))
    assert run.code == 2
    what = "the history" if own == "store" else "the mesh index"
    assert run.err == f"error: --output {M}/.govern/{kept.name} is {what}: name another file for the report\n"
    assert kept.read_bytes() == before
    check = govern("check", M, "-o", f"{M}/.govern/index.db", cwd=demo_copy)
    assert check.code == 2 and "is the mesh index" in check.err
    # (every command writing a file: check, lineage and policies replaced the history, exit 0)
    history = f"{M}/.govern/history.sqlite"
    for args in (("check", f"{M}/orders/order_items"), ("lineage",), ("policies",)):
        run = govern(*args, "-o", history, cwd=demo_copy)
        assert (run.code, run.err) == (2, f"error: --output {history} is the history: name another file for the report\n")
    # (and any other database: a store given with --store, another mesh's index)
    other = demo_copy / "elsewhere.sqlite"
    assert audit(govern, demo_copy, "--store", str(other)).code == 1
    stored = other.read_bytes()
    for args in (("check", f"{M}/orders/order_items"), ("lineage",), ("policies",)):
        run = govern(*args, "-o", str(other), cwd=demo_copy)
        why = "is an SQLite database (a history, a mesh index, a cache)"
        assert (run.code, run.err) == (2, f"error: --output elsewhere.sqlite {why}: name another file for the report\n")
    assert other.read_bytes() == stored and kept.read_bytes() == before


def test_a_report_standard_output_cannot_take_is_an_error_saying_so():
    """(It was a traceback, and exit 1: findings, to a CI job.)"""
    if not Path("/dev/full").exists():
        pytest.skip("no /dev/full on this system")
    with open("/dev/full", "w") as full:
        proc = subprocess.run(
            [sys.executable, "-m", "engine", "audit", M, "--no-store", "--now", NOW],
            cwd=REPO,
            stdout=full,
            stderr=subprocess.PIPE,
            text=True,
            check=False,
        )
    assert proc.returncode == 3
    assert proc.stderr == "error: cannot write the report to standard output: No space left on device\n"


def test_an_audit_interrupted_once_its_run_is_stored_says_so(govern, demo_copy, monkeypatch):
    """The run is stored before its report is written: an interruption then (SIGTERM from a
    scheduler) said only "interrupted", and a retried job, compared with the stored run, would not
    show its new findings as new."""
    import engine.cli

    def interrupted(*args: object) -> None:
        raise KeyboardInterrupt

    monkeypatch.setattr(engine.cli, "_emit", interrupted)
    run = audit(govern, demo_copy)
    assert run.code == 130
    with closing(sqlite3.connect(demo_copy / M / ".govern/history.sqlite")) as db:
        (run_id,) = db.execute("SELECT id FROM runs").fetchone()
    assert run.err == (
        f"interrupted after the run was stored in {M}/.govern/history.sqlite (run {run_id}); its report was not written\n"
    )


def test_a_history_with_no_room_to_be_created_is_named_as_such_and_left_uncreated(govern, demo_copy, monkeypatch):
    """A full disk was reported as "not a usable govern history database", and the empty file it
    left was one the next audits refused."""
    connect = sqlite3.connect

    def full(path, *args, **kwargs):
        conn = connect(path, *args, **kwargs)
        if str(path).endswith("history.sqlite"):
            conn.execute("PRAGMA max_page_count = 1")  # (SQLite answers as to a full disk: SQLITE_FULL)
        return conn

    monkeypatch.setattr(sqlite3, "connect", full)
    run = audit(govern, demo_copy)
    assert run.code == 3
    assert run.err == (
        f"error: {M}/.govern/history.sqlite: cannot write the history database (database or disk is full):"
        " make room, or pass --store\n"
    )
    assert not (demo_copy / M / ".govern/history.sqlite").exists()


def test_a_temporary_folder_with_no_room_is_named_rather_than_the_store(govern, demo_copy, monkeypatch, tmp_path):
    """The compressed report is written in the temporary folder before it goes into the store: a
    full TMPDIR was reported as the store's failure."""
    import errno
    import gzip

    def full(self, data):
        raise OSError(errno.ENOSPC, "No space left on device")

    assert audit(govern, demo_copy).code == 1
    monkeypatch.setattr(gzip.GzipFile, "write", full)
    out = tmp_path / "report.json"
    run = audit(govern, demo_copy, "--format", "json", "-o", str(out))
    monkeypatch.undo()
    assert run.code == 3
    assert json.loads(out.read_text())["errors"] == [
        f"{M}/.govern/history.sqlite: could not store the audit (earlier runs are unchanged): cannot write its report to the"
        f" temporary folder {tempfile.gettempdir()} (No space left on device): make room, or set TMPDIR"
    ]
    assert len(govern("history", M, "--format", "json", cwd=demo_copy).json()["runs"]) == 1


def test_a_history_folder_that_is_a_file_is_named(govern, demo_copy):
    (demo_copy / M / ".govern").write_text("")
    run = audit(govern, demo_copy)
    assert run.code == 3
    assert run.err.endswith(f"cannot open the history database: {M}/.govern is a file, not a folder\n")


def _findings_of(report: dict, product: str) -> int:
    return len([f for f in report["findings"] if f["product"] == product])


def test_findings_in_a_folder_the_audit_could_not_list_are_unknown_not_fixed(govern, demo_copy, monkeypatch):
    """The audit says the folder was not checked: its findings were counted fixed, then new again."""
    import os

    first = audit(govern, demo_copy, "--format", "json").json()
    ledger = str(demo_copy / M / "finance/ledger")
    scandir = os.scandir

    def refused(path=".", *args):
        if os.path.abspath(path) == ledger:
            raise PermissionError(13, "Permission denied", path)
        return scandir(path, *args)

    monkeypatch.setattr(os, "scandir", refused)
    second = audit(govern, demo_copy, "--format", "json")
    assert second.code == 3
    changes = second.json()["changes"]
    assert (changes["new"], changes["fixed"], changes["unknown"]) == ([], [], _findings_of(first, "finance_ledger"))
    monkeypatch.setattr(os, "scandir", scandir)
    third = audit(govern, demo_copy, "--format", "json").json()["changes"]
    assert (third["new"], third["fixed"], third["unknown"]) == ([], [], 0)


def test_an_audit_through_a_link_to_the_mesh_keeps_the_findings_of_a_broken_product_unknown(govern, demo_copy, tmp_path):
    """The history keys a mesh by its resolved path but kept files relative to it, while the run
    named them through the link: a broken product's findings were counted fixed."""
    first = audit(govern, demo_copy, "--format", "json").json()
    legacy = demo_copy / M / "orders/legacy_feed/dataproduct.yaml"
    legacy.write_text(legacy.read_text() + "name: [unclosed\n")
    link = tmp_path / "link"
    link.symlink_to(demo_copy)
    run = govern("audit", str(link / M), "--now", NOW, "--format", "json", cwd=demo_copy)
    assert run.code == 3
    changes = run.json()["changes"]
    # (finance_ledger reads from it: not evaluated either)
    unknown = _findings_of(first, "orders_legacy_feed") + _findings_of(first, "finance_ledger")
    assert (changes["new"], changes["fixed"], changes["unknown"]) == ([], [], unknown)


def test_a_mesh_given_twice_differently_is_a_usage_error_and_given_as_mesh_option_is_audited(govern):
    """(--mesh was ignored beside MESH, and a --mesh that is no folder said "nothing to audit".)"""
    twice = govern("audit", M, "--mesh", f"{M}/finance", "--no-store")
    assert (twice.code, twice.out) == (2, "")
    assert twice.err == f"error: two meshes to audit: {M} and --mesh {M}/finance; give one\n"
    missing = govern("audit", "--mesh", "nowhere", "--no-store")
    assert missing.code == 2
    assert missing.err.endswith("Error: Invalid value for '--mesh': Directory 'nowhere' does not exist.\n")
    by_option = govern("audit", "--mesh", M, "--no-store", "--format", "json", "--now", NOW)
    assert len(by_option.json()["products"]) == 14


def test_no_store_beside_a_store_given_is_a_usage_error_not_one_set_in_the_environment(govern, demo_copy, monkeypatch):
    run = govern("audit", "--no-store", "--store", "h.sqlite", cwd=demo_copy)
    assert (run.code, run.err) == (
        2,
        "error: --no-store and --store together: give one (GOVERN_STORE is left unused by --no-store)\n",
    )
    monkeypatch.setenv("GOVERN_STORE", str(demo_copy / "h.sqlite"))
    assert audit(govern, demo_copy, "--no-store").code == 1
    assert not (demo_copy / "h.sqlite").exists()


def test_a_folder_inside_the_configured_mesh_is_not_audited_as_a_mesh_of_its_own(govern, demo_copy):
    """(Its products' upstreams in the rest of the mesh were "not in the mesh", CON-007; lineage
    drew none.) A check of it judges them within the mesh. So too through a link to it; the mesh
    itself through a link is the same mesh as MESH."""
    (demo_copy / "finance").symlink_to(demo_copy / M / "finance")
    (demo_copy / "mesh-link").symlink_to(demo_copy / M)
    for args in ((f"{M}/finance",), ("--mesh", f"{M}/finance"), ("finance",)):
        run = govern("audit", *args, "--no-store", cwd=demo_copy)
        shown = args[-1]
        assert (run.code, run.out) == (2, "")
        assert (
            run.err
            == f"error: {shown} lies inside the mesh {M} (govern.toml): audit takes a whole mesh; audit {M}, or check {shown}\n"
        )
    assert govern("audit", M, "--mesh", "mesh-link", "--no-store", cwd=demo_copy).code == 1
    lineage = govern("lineage", f"{M}/finance", "--product", "finance_invoices", cwd=demo_copy)
    assert (lineage.code, lineage.out) == (2, "")
    assert lineage.err == (
        f"error: {M}/finance lies inside the mesh {M} (govern.toml): lineage takes a whole mesh; lineage {M}, with --product P"
        " for one product's neighbours\n"
    )

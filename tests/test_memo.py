"""Evaluation results from the cache (engine/memo.py): a product whose input document is unchanged
is not evaluated again, and the report is the one evaluating it gives; waivers and effective dates
still follow the run's time; a library that reads the time or calls a non-deterministic builtin is
never answered from an earlier run.

Each test points GOVERN_CACHE_DIR at a folder of its own and counts the embedded engine's
evaluations (the demo mesh is small enough to be evaluated in the test's process).
"""

from __future__ import annotations

import json
import sqlite3
from contextlib import closing
from pathlib import Path

import pytest
import regorus

from engine import cache
from engine.backends.embedded import EmbeddedEngine
from engine.policy.library import load_library, scan

from .conftest import REPO

NOW = "2026-11-21T09:00:00Z"
LATER = "2027-04-01T09:00:00Z"  # the orders domain's waiver of STD-002 has expired


@pytest.fixture
def evaluated(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The ids of the packages' documents the embedded engine evaluates (one item per product),
    with a cache of the test's own."""
    monkeypatch.setenv("GOVERN_CACHE_DIR", str(tmp_path / "cache"))
    seen: list[str] = []
    original = EmbeddedEngine.evaluate_many

    def evaluate_many(self: EmbeddedEngine, requests: list[tuple[str, list[str]]]):  # noqa: ANN202
        for document, _ in requests:
            product = json.loads(document)["product"]
            seen.append(product["id"] if product else "?")
        return original(self, requests)

    monkeypatch.setattr(EmbeddedEngine, "evaluate_many", evaluate_many)
    return seen


def stored(kind: str) -> int:
    cache.flush()
    folder = cache.folder()
    assert folder is not None
    with closing(sqlite3.connect(folder / cache.DATABASE)) as db:
        return db.execute("SELECT count(*) FROM entries WHERE kind = ?", (kind,)).fetchone()[0]


def report(govern, *args: str, cwd: Path | None = None) -> tuple[int, dict]:
    run = govern("check", *args, "--format", "json", **({"cwd": cwd} if cwd else {}))
    data = run.json()
    del data["run"]  # its id and start differ from run to run
    return run.code, data


def test_an_unchanged_mesh_is_not_evaluated_again(govern, evaluated):
    first = report(govern, "--now", NOW, "examples/mesh")
    assert len(evaluated) == 14 and stored("results") == 14
    evaluated.clear()
    assert report(govern, "--now", NOW, "examples/mesh") == first
    assert evaluated == []


def test_waivers_follow_the_run_s_time_not_the_stored_results(govern, evaluated):
    _, now = report(govern, "--now", NOW, "examples/mesh/orders/legacy_feed")
    assert [(f["rule"], f["status"]) for f in now["findings"] if f["rule"] == "STD-002"] == [("STD-002", "waived")]
    evaluated.clear()
    _, later = report(govern, "--now", LATER, "examples/mesh/orders/legacy_feed")
    assert evaluated == []  # no rule reads the time: the stored results answer
    assert [(f["rule"], f["status"]) for f in later["findings"] if f["rule"] == "STD-002"] == [("STD-002", "open")]
    assert later["summary"]["findings"]["open"] == now["summary"]["findings"]["open"] + 1


def test_a_changed_file_is_evaluated_again_and_only_what_it_feeds(govern, evaluated, demo_copy):
    mesh = "examples/mesh"
    report(govern, "--now", NOW, mesh, cwd=demo_copy)
    descriptor = demo_copy / mesh / "orders/legacy_feed/dataproduct.yaml"
    descriptor.write_text(descriptor.read_text().replace("owner: ", "owner: x", 1))
    evaluated.clear()
    _, data = report(govern, "--now", NOW, mesh, cwd=demo_copy)
    assert evaluated == ["orders_legacy_feed"]
    assert len(data["products"]) == 14


def test_a_changed_rule_evaluates_everything_again(govern, evaluated, demo_copy):
    report(govern, "--now", NOW, "examples/mesh", cwd=demo_copy)
    rule = demo_copy / "policies/global/naming/column_names.rego"
    rule.write_text(rule.read_text() + "\n# a comment is a change too\n")
    evaluated.clear()
    report(govern, "--now", NOW, "examples/mesh", cwd=demo_copy)
    assert len(evaluated) == 14


READS_NOW = """# METADATA
# title: Products are published in office hours
# description: Orders products are published on weekdays.
# custom:
#   id: ORDERS-002
#   category: standard-fields
#   severity: low
#   enforcement: warning
#   override: none
#   remediation: Publish on a weekday.
package domains.orders.office_hours

deny contains msg if {
	input.product.domain == "orders"
	CALL
	msg := "published out of office hours"
}
"""


def test_a_library_that_reads_the_time_is_evaluated_at_every_other_time(govern, evaluated, demo_copy):
    rule = demo_copy / "policies/domains/orders/office_hours.rego"
    rule.write_text(READS_NOW.replace("CALL", 'time.weekday(time.parse_rfc3339_ns(input.now)) == "Saturday"'))
    product = "examples/mesh/orders/legacy_feed"
    _, saturday = report(govern, "--now", NOW, product, cwd=demo_copy)
    assert "ORDERS-002" in {f["rule"] for f in saturday["findings"]}
    evaluated.clear()
    report(govern, "--now", NOW, product, cwd=demo_copy)
    assert evaluated == []
    _, sunday = report(govern, "--now", "2026-11-22T09:00:00Z", product, cwd=demo_copy)
    assert evaluated == ["orders_legacy_feed"]
    assert "ORDERS-002" not in {f["rule"] for f in sunday["findings"]}


def test_a_library_with_a_non_deterministic_builtin_is_always_evaluated(govern, evaluated, demo_copy):
    rule = demo_copy / "policies/domains/orders/office_hours.rego"
    rule.write_text(READS_NOW.replace("CALL", "time.now_ns() < 0"))
    for _ in range(2):
        report(govern, "--now", NOW, "examples/mesh/orders/legacy_feed", cwd=demo_copy)
    assert evaluated == ["orders_legacy_feed", "orders_legacy_feed"]
    assert stored("results") == 0


def test_a_library_that_prints_keeps_its_results(govern, evaluated, demo_copy):
    """print() output is dropped by check and audit: one domain's rule that prints turned the reuse
    of results off for every domain."""
    rule = demo_copy / "policies/domains/orders/office_hours.rego"
    rule.write_text(READS_NOW.replace("CALL", 'print("looked at", input.product.name)'))
    for _ in range(2):
        report(govern, "--now", NOW, "examples/mesh/orders/legacy_feed", cwd=demo_copy)
    assert evaluated == ["orders_legacy_feed"]
    assert stored("results") == 1


def test_results_with_a_rule_error_are_not_stored(govern, evaluated, demo_copy):
    rule = demo_copy / "policies/domains/orders/office_hours.rego"
    rule.write_text(READS_NOW.replace("CALL", 'to_number("not a number") > 0'))
    for _ in range(2):
        code, data = report(govern, "--now", NOW, "examples/mesh/orders/legacy_feed", cwd=demo_copy)
        assert code == 3
        assert "rule ORDERS-002 could not be evaluated" in data["products"][0]["errors"][0]
    assert evaluated == ["orders_legacy_feed", "orders_legacy_feed"]


def test_a_stored_result_of_the_wrong_shape_is_evaluated_again(govern, evaluated):
    first = report(govern, "--now", NOW, "examples/mesh/orders/legacy_feed")
    cache.flush()
    folder = cache.folder()
    assert folder is not None
    with closing(sqlite3.connect(folder / cache.DATABASE)) as db, db:
        db.execute("UPDATE entries SET value = ? WHERE kind = 'results'", (json.dumps({"global.naming.column_names": "x"}),))
    evaluated.clear()
    assert report(govern, "--now", NOW, "examples/mesh/orders/legacy_feed") == first
    assert evaluated == ["orders_legacy_feed"]


def test_a_generated_mesh_audited_in_workers_gives_the_same_report_from_stored_results(govern, tmp_path, monkeypatch):
    monkeypatch.setenv("GOVERN_CACHE_DIR", str(tmp_path / "cache"))
    mesh = tmp_path / "mesh"
    assert govern("generate", str(mesh), "--products", "240", "--domains", "4", "--seed", "3", "--as-of", NOW[:10]).code == 0

    def audit() -> dict:
        run = govern("audit", ".", "--no-store", "--jobs", "2", "--now", NOW, "--format", "json", cwd=mesh)
        assert run.code == 1
        data = run.json()
        del data["run"]
        return data

    first = audit()
    assert stored("results") == 240
    assert audit() == first
    assert stored("results") == 240


@pytest.mark.parametrize(
    ("source", "reads"),
    [
        ("x := input.now", True),
        ('x := input["now"]', True),
        ('x := object.get(input, "now", 1)', True),
        ("x := [k | some k, _ in input]", True),
        ("x := walk(input)", True),
        ('x := input[y] if y := "now"', True),
        ("import input.now as n\nx := n", True),
        ("x := input.product.name", False),
        ('x := input["product"].now', False),
        ('x := object.get(input, "domain", null)', False),
        ('x := object.get(input.product, "now", 1)', False),
        ("import input.product\nx := product.now", False),
        ('x := "input.now"', False),
    ],
)
def test_what_reads_the_time(source: str, reads: bool):
    engine = regorus.Engine()
    engine.add_policy("a.rego", f"package a\n\n{source}\n")
    assert scan(json.loads(engine.get_ast_as_json())[0]["ast"])[1] is reads


def test_the_policy_library_does_not_read_the_time():
    """So a nightly audit reuses the results of every unchanged product."""
    assert [m.file for m in load_library(REPO / "policies").modules if m.reads_now] == []

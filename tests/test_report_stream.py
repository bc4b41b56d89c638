"""An audit keeps its results, findings and product graph in a spool on disk (engine/spool.py) and
writes its JSON report, and the report it stores in the history, in pieces (engine/report/jsonfmt.py):
the pieces make exactly the document pydantic writes, the spool gives back what it was given in
the report's order, and no result stays in memory once its batch is spooled."""

from __future__ import annotations

import gzip
import json
import sqlite3
import weakref
from pathlib import Path

import pytest

import engine.report.build
import engine.report.jsonfmt
import engine.spool
from engine.evaluate import Part
from engine.model import Finding, Location, ProductResult, Report
from engine.report.jsonfmt import chunks
from engine.report.lineage import GraphCollector
from engine.spool import Spool

NOW = "2026-11-21T09:00:00Z"


@pytest.fixture
def demo_report(govern, demo_copy: Path) -> Report:
    """The demo mesh's audit report (products, findings, waivers, lineage), as lists in memory."""
    run = govern("audit", "examples/mesh", "--now", NOW, "--format", "json", "--no-store", cwd=demo_copy)
    assert run.code == 1, run.err
    return Report.model_validate_json(run.out)


def pydantic_json(report: Report, indent: int | None) -> bytes:
    return report.model_dump_json(indent=indent, by_alias=True).encode()


@pytest.mark.parametrize("indent", [2, None])
@pytest.mark.parametrize("size", [1, 3, 1000])
def test_the_report_in_pieces_is_the_document_pydantic_writes(demo_report, monkeypatch, indent, size):
    monkeypatch.setattr(engine.report.jsonfmt, "CHUNK", size)  # one item a piece, several, all at once
    assert len(demo_report.products) == 14 and demo_report.findings and demo_report.lineage.edges
    assert b"".join(chunks(demo_report, indent)) == pydantic_json(demo_report, indent)


@pytest.mark.parametrize("indent", [2, None])
def test_empty_lists_and_text_looking_like_the_lists_keep_the_document(demo_report, indent):
    # A mesh path and messages holding what the splicing looks for (as JSON text: escaped quotes).
    demo_report.run.mesh = '\n  "products": []\n  "findings": []'
    demo_report.findings[0].message = '"findings":[] "nodes": []'
    demo_report.errors = ['\n    "nodes": [],\n    "edges": []']
    assert b"".join(chunks(demo_report, indent)) == pydantic_json(demo_report, indent)
    demo_report.lineage.nodes, demo_report.lineage.edges, demo_report.findings = [], [], []
    assert b"".join(chunks(demo_report, indent)) == pydantic_json(demo_report, indent)
    demo_report.lineage = None
    demo_report.products = []
    assert b"".join(chunks(demo_report, indent)) == pydantic_json(demo_report, indent)


def result(name: str) -> ProductResult:
    return ProductResult(id=name, name=name, domain="d", source=f"{name}.yaml", verdict="pass", score=100.0)


def finding(product: str, rule: str) -> Finding:
    return Finding(
        fingerprint=f"{product}-{rule}",
        rule=rule,
        title="t",
        category="naming",
        severity="low",
        enforcement="warning",
        domain="d",
        product=product,
        message="m",
        remediation="r",
        location=Location(file=f"{product}.yaml", line=1),
    )


def part(*entries: tuple[tuple[int, int | str, int], str, list[str]]) -> Part:
    return Part(entries=[(place, result(name), [finding(name, rule) for rule in rules]) for place, name, rules in entries])


def test_the_spool_gives_back_results_and_findings_in_the_reports_order():
    spool = Spool()
    # Batch 2 arrives before batch 1 would not happen, but places decide; a contract no product
    # publishes (3, its id) goes last, by id; a failed descriptor (1, ...) after every product.
    spool.add(part(((0, 2, 0), "c", ["R2"]), ((3, "zz", 0), "zz", []), ((1, 2, 1), "bad", ["R9"])))
    spool.add(part(((0, 1, 0), "a", ["R2", "R1"]), ((0, 1, 1), "b", []), ((3, "yy", 0), "yy", ["R3"])))
    assert [p.id for p in spool.products] == ["a", "b", "c", "bad", "yy", "zz"]
    assert [(f.product, f.rule) for f in spool.findings] == [("a", "R2"), ("a", "R1"), ("c", "R2"), ("bad", "R9"), ("yy", "R3")]
    assert len(spool.products) == 6 and len(spool.findings) == 5
    assert spool.products[0] == result("a") and spool.products[-1].id == "zz" and spool.findings[4].rule == "R3"
    assert [p.id for p in spool.products[1:3]] == ["b", "c"]
    with pytest.raises(IndexError):
        spool.products[6]
    assert [p.id for p in spool.products] == ["a", "b", "c", "bad", "yy", "zz"]  # read again, the same


def test_one_batch_is_given_back_as_evaluated():
    """As Evaluator.outcome leaves a single batch's results unsorted."""
    spool = Spool()
    spool.add(part(((3, "b", 0), "b", []), ((3, "a", 0), "a", [])))
    assert [p.id for p in spool.products] == ["b", "a"]
    assert not Spool().products and len(Spool().findings) == 0


def collector(nodes: dict[str, tuple[bool, int]], edges: list[tuple[str, str]]) -> GraphCollector:
    c = GraphCollector()
    for key, (missing, depth) in nodes.items():
        c.nodes[key] = {"id": key, "domain": None if missing else "d", "status": None, "missing": missing}
        c.depth[key] = depth
    c.edges = [{"from": a, "to": b, "contractId": None, "declared": True} for a, b in edges]
    return c


def test_the_spooled_graph_keeps_a_products_node_over_a_missing_one_and_the_first_depth():
    spool = Spool()
    spool.merge(collector({"b": (False, 1), "x": (True, 0)}, [("x", "b"), ("a", "b")]))
    spool.merge(collector({"x": (False, 2), "a": (False, 0), "b": (True, 5)}, [("a", "x")]))
    nodes = [(n.id, n.missing, n.depth, n.domain) for n in spool.nodes]
    assert nodes == [("a", False, 0, "d"), ("b", False, 1, "d"), ("x", False, 0, "d")]
    assert [(e.source, e.target) for e in spool.edges] == [("x", "b"), ("a", "b"), ("a", "x")]


def test_an_audit_holds_no_result_once_its_batch_is_spooled(govern, tmp_path, monkeypatch):
    """What keeps an audit's memory from growing with the mesh: when the report is built, no
    product result of any batch, nor any batch's part, is alive in this process (the cyclic collector is paused during
    audits, so nothing is kept for it to find), though every one is in the report."""
    root = tmp_path / "gen"
    assert govern("generate", str(root), "--products", "90", "--domains", "3", "--seed", "5", "--as-of", NOW[:10]).code == 0
    results: list[weakref.ref] = []
    real_add, real_build = engine.spool.Spool.add, engine.report.build.build_report
    alive: list[int] = []
    parts: list[weakref.ref] = []

    def add(self, part):
        results.extend(weakref.ref(r) for _, r, _ in part.entries)
        parts.append(weakref.ref(part))  # (the part itself keeps the entries' JSON)
        real_add(self, part)

    def build(**kwargs):
        alive.append(sum(ref() is not None for ref in results + parts))
        return real_build(**kwargs)

    monkeypatch.setattr(engine.spool.Spool, "add", add)
    monkeypatch.setattr(engine.report.build, "build_report", build)
    run = govern("audit", "mesh", "--now", NOW, "--format", "json", "--no-store", "--batch", "30", "--jobs", "1", cwd=root)
    assert run.code in (0, 1), run.err
    assert len(run.json()["products"]) == len(results) == 90 and len(parts) == 3
    assert alive == [0]


def test_the_history_stores_the_report_written(govern, demo_copy):
    store = demo_copy / "history.sqlite"
    written = demo_copy / "report.json"
    args = ("--now", NOW, "--format", "json", "-o", str(written), "--store", str(store))
    run = govern("audit", "examples/mesh", *args, cwd=demo_copy)
    assert run.code == 1, run.err
    with sqlite3.connect(store) as conn:
        (stored,) = conn.execute("SELECT report FROM runs").fetchone()
    assert isinstance(stored, bytes)  # gzip of the compact JSON, written into the row a piece at a time
    assert json.loads(gzip.decompress(stored)) == json.loads(written.read_text(encoding="utf-8"))


def test_a_spool_that_cannot_be_written_ends_the_audit_with_a_message(govern, demo_copy, monkeypatch):
    """A temporary folder without room (here: a spool that refuses writes) is exit 3 and a message, never a traceback."""
    monkeypatch.setattr(engine.spool, "SCHEMA", "PRAGMA query_only = ON; " + engine.spool.SCHEMA)
    run = govern("audit", "examples/mesh", "--now", NOW, "--no-store", cwd=demo_copy)
    assert run.code == 3
    assert "cannot keep the audit's results in a temporary file: attempt to write a readonly database" in run.err

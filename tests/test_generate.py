"""govern generate: a deterministic synthetic mesh with the violations it promises."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import pytest

from engine.generate import VIOLATIONS

from .conftest import REPO

ARGS = ["--products", "300", "--domains", "5", "--policies", str(REPO / "policies"), "--as-of", "2026-11-21"]


def _tree(root: Path) -> dict[str, str]:
    return {str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(root.rglob("*")) if p.is_file()}


def test_the_same_seed_gives_the_same_files(govern, tmp_path):
    for name in ("a", "b"):
        run = govern("generate", str(tmp_path / name), "--seed", "3", *ARGS)
        assert run.code == 0, run.err
    assert _tree(tmp_path / "a") == _tree(tmp_path / "b")
    assert len(list((tmp_path / "a" / "mesh").rglob("dataproduct.yaml"))) == 300
    run = govern("generate", str(tmp_path / "c"), "--seed", "4", *ARGS)
    assert _tree(tmp_path / "c") != _tree(tmp_path / "a")


def test_the_generated_mesh_is_valid_and_breaks_every_rule_it_says(govern, tmp_path):
    out = tmp_path / "mesh-root"
    run = govern("generate", str(out), "--seed", "5", *ARGS)
    assert run.code == 0
    assert run.out.startswith(f"wrote 300 products in 5 domains to {out}\ndeliberate violations: ")
    valid = govern("validate", "--now", "2026-11-21T09:00:00Z", cwd=out)
    assert valid.code == 0, valid.out
    assert valid.out.startswith("valid: 34 rules, 6 registered domains, ")  # (and orders, which has rules of its own)
    audit = govern("audit", "--no-store", "--now", "2026-11-21T09:00:00Z", "--format", "json", cwd=out)
    assert audit.code == 1
    report = audit.json()
    assert report["summary"]["products"] == 300 and report["summary"]["verdicts"]["error"] == 0
    assert set(VIOLATIONS.values()) <= {f["rule"] for f in report["findings"]}
    assert report["summary"]["findings"]["waived"] > 0
    # What it says it broke is exactly what the audit finds: per rule, the products with a finding
    # (no LIN-004 from a draft contract read across domains, no rule of a domain of the library's
    # own), and every waiver it wrote applied.
    said = run.out.splitlines()[1].removeprefix("deliberate violations: ")
    broken, waivers = said.split("; waivers: ")
    found: dict[str, set[str]] = {}
    for f in report["findings"]:
        found.setdefault(f["rule"], set()).add(f["product"])
    assert {rule: len(products) for rule, products in found.items()} == {
        rule: int(n) for rule, n in (item.split() for item in broken.split(", "))
    }
    assert report["summary"]["findings"]["waived"] == int(waivers)
    assert report["waivers"]["unused"] == []
    columns = len(next((out / "mesh").rglob("*.odcs.yaml")).read_text().split("- name: ")) - 2
    assert 28 <= columns <= 34


def test_generate_refuses_a_folder_that_is_not_empty(govern, tmp_path):
    (tmp_path / "x").mkdir()
    (tmp_path / "x" / "keep.txt").write_text("mine")
    run = govern("generate", str(tmp_path / "x"), *ARGS)
    assert run.code == 2
    assert "is not empty" in run.err
    assert (tmp_path / "x" / "keep.txt").read_text() == "mine"


def test_generate_outside_a_govern_repository_needs_a_policy_library(govern, tmp_path):
    """Else its govern.toml would name a policy folder that does not exist, and every audit fail."""
    (tmp_path / "elsewhere").mkdir()
    run = govern("generate", str(tmp_path / "out"), "--products", "10", cwd=tmp_path / "elsewhere")
    assert (run.code, run.err) == (
        2,
        "error: no policy library at policies: run govern generate in a govern repository, or give --policies DIR\n",
    )
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize(
    ("make", "why"),
    [
        (lambda base: (base / "file").touch() or base / "file" / "sub", "Not a directory"),
        (lambda base: os.symlink(base / "loop", base / "loop") or base / "loop", "Too many levels of symbolic links"),
    ],
)
def test_generate_into_a_folder_it_cannot_create_is_a_usage_error(govern, tmp_path, make, why):
    """(A traceback, exit 1.)"""
    out = make(tmp_path)
    run = govern("generate", str(out), "--products", "2")
    assert (run.code, run.err) == (2, f"error: cannot create {out}/governance/domains: {why}\n")


def test_parallel_workers_give_the_same_report_and_keep_file_and_line(govern, tmp_path):
    """300 products: above engine.parallel.MIN_ITEMS, so --jobs 2 parses and evaluates in worker processes."""
    out = tmp_path / "mesh-root"
    assert govern("generate", str(out), "--seed", "8", *ARGS).code == 0
    broken = sorted((out / "mesh").rglob("dataproduct.yaml"))[5]
    broken.write_text(broken.read_text().replace("kind: DataProduct", "kind: DataProduct\nkind: Twice", 1))
    reports = {}
    for jobs in ("1", "2"):
        run = govern("audit", "--no-store", "--jobs", jobs, "--now", "2026-11-21T09:00:00Z", "--format", "json", cwd=out)
        assert run.code == 3
        reports[jobs] = run.json()
    one, two = reports["1"], reports["2"]
    assert sorted(map(str, one["findings"])) == sorted(map(str, two["findings"]))
    assert one["products"] == two["products"] and one["errors"] == two["errors"]
    shown = str(broken.relative_to(out))
    why = f"{shown}:2: duplicate key 'kind' (first on line 1)"
    name = next(line.split(": ", 1)[1] for line in broken.read_text().splitlines() if line.startswith("name: "))
    errors = {p["source"]: p["errors"] for p in two["products"] if p["errors"]}
    assert errors.pop(shown) == [why]
    # (the products reading from it cannot be judged: their upstream is broken, not missing)
    readers = [p["source"] for p in two["products"] if any(f"product {name}," in e for e in p["errors"])]
    assert readers and sorted(errors) == sorted(readers)
    assert set(map(tuple, errors.values())) == {
        (f"its input port names product {name}, declared in a file that could not be loaded: {why}",)
    }


@pytest.mark.parametrize("day", ["9999-12-20", "0001-01-02"])
def test_a_day_whose_waivers_would_leave_the_calendar_is_a_usage_error_before_anything_is_written(govern, tmp_path, day):
    run = govern("generate", str(tmp_path / "out"), "--products", "10", "--as-of", day)
    assert run.code == 2
    assert run.err.endswith(
        f"Error: Invalid value for '--as-of': {day}: waivers are dated from it (10 days before, 90 after), "
        "which would leave the calendar\n"
    )
    assert not (tmp_path / "out").exists()

"""govern generate: a deterministic synthetic mesh with the violations it promises."""

from __future__ import annotations

import hashlib
from pathlib import Path

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
    assert valid.out.startswith("valid: 34 rules, 5 registered domains, ")
    audit = govern("audit", "--no-store", "--now", "2026-11-21T09:00:00Z", "--format", "json", cwd=out)
    assert audit.code == 1
    report = audit.json()
    assert report["summary"]["products"] == 300 and report["summary"]["verdicts"]["error"] == 0
    assert set(VIOLATIONS.values()) <= {f["rule"] for f in report["findings"]}
    assert report["summary"]["findings"]["waived"] > 0
    columns = len(next((out / "mesh").rglob("*.odcs.yaml")).read_text().split("- name: ")) - 2
    assert 28 <= columns <= 34


def test_generate_refuses_a_folder_that_is_not_empty(govern, tmp_path):
    (tmp_path / "x").mkdir()
    (tmp_path / "x" / "keep.txt").write_text("mine")
    run = govern("generate", str(tmp_path / "x"), *ARGS)
    assert run.code == 2
    assert "is not empty" in run.err
    assert (tmp_path / "x" / "keep.txt").read_text() == "mine"

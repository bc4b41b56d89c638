"""Parity: the council's rules mean the same under real OPA (the reference engine, the OPA Go library)
as under the embedded interpreter, over the policy unit tests, the demo mesh and a generated mesh.

scripts/test installs the reference engine and sets GOVERN_REQUIRE_REFERENCE=1, so in CI these tests
fail rather than skip when it is missing.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from engine.cli import main
from engine.testing import load_tests

from .conftest import REPO, require_reference

NOW = "2026-11-21T09:00:00Z"
GENERATED_PRODUCTS = 1200


def _report(cwd: Path, *args: str) -> dict:
    with pytest.MonkeyPatch.context() as mp:
        mp.chdir(cwd)
        result = CliRunner().invoke(main, [*args, "--now", NOW, "--format", "json"])
    assert result.exit_code in (0, 1), result.output
    return json.loads(result.stdout)


def _outcome(report: dict) -> tuple[list, list]:
    products = sorted((p["id"], p["verdict"], p["score"], tuple(p["errors"])) for p in report["products"])
    findings = sorted(
        (f["fingerprint"], f["rule"], f["product"], f["message"], f["status"], f["location"]["file"], f["location"]["line"])
        for f in report["findings"]
    )
    return products, findings


def _assert_same(embedded: dict, reference: dict) -> None:
    assert reference["run"]["engine"]["name"] == "reference"
    e_products, e_findings = _outcome(embedded)
    r_products, r_findings = _outcome(reference)
    only_embedded = sorted(set(e_findings) - set(r_findings))
    only_reference = sorted(set(r_findings) - set(e_findings))
    assert (only_embedded, only_reference) == ([], []), "findings differ between the engines"
    assert e_products == r_products


def test_policy_unit_tests_pass_under_opa():
    require_reference()
    from opa_bindings import OpaEngine, OpaError

    run = load_tests(REPO / "policies", [REPO / "policy_tests"])
    embedded = {t.id: t.outcome for t in run.run()}
    opa = OpaEngine()
    opa.print_handler = lambda message, location: None
    for module in run.modules:
        shown = module["source"]["file"]
        opa.add_policy(shown, (REPO / shown).read_text() if not Path(shown).is_absolute() else Path(shown).read_text())
    under_opa = {}
    for test in run.tests:
        try:
            under_opa[test.id] = "pass" if opa.eval_document(test.id.removeprefix("data.")) is True else "fail"
        except OpaError as e:
            under_opa[test.id] = f"error: {e.message}"
    assert under_opa == embedded
    assert set(embedded.values()) == {"pass"} and len(embedded) >= 100


def test_the_demo_mesh_gives_the_same_findings():
    require_reference()
    _assert_same(_report(REPO, "check", "examples/mesh"), _report(REPO, "check", "examples/mesh", "--engine", "reference"))


@pytest.fixture(scope="module")
def generated(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("generated") / "mesh-root"
    result = CliRunner().invoke(
        main,
        ["generate", str(out), "--products", str(GENERATED_PRODUCTS), "--domains", "9", "--seed", "11"]
        + ["--policies", str(REPO / "policies"), "--as-of", "2026-11-21"],
    )
    assert result.exit_code == 0, result.output
    return out


def test_a_generated_mesh_gives_the_same_findings(generated):
    require_reference()
    embedded = _report(generated, "audit", "--no-store")
    assert embedded["summary"]["products"] == GENERATED_PRODUCTS >= 1000
    assert embedded["summary"]["verdicts"]["fail"] > 100 and embedded["summary"]["findings"]["waived"] > 10
    _assert_same(embedded, _report(generated, "audit", "--no-store", "--engine", "reference"))

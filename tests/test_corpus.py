"""Real third-party files (../shared/corpora): every valid one loads, every invalid one is reported."""

from __future__ import annotations

from pathlib import Path

import pytest

from .conftest import CORPORA

pytestmark = pytest.mark.corpus

NOW = "2026-11-21T09:00:00Z"

NEGATIVE = CORPORA / "bitol-odcs-dev/src/script/negative-tests"


def _files(pattern: str, folder: Path) -> list[Path]:
    return sorted(folder.rglob(pattern)) if folder.is_dir() else []


@pytest.mark.parametrize("path", _files("*.odcs.yaml", NEGATIVE), ids=lambda p: p.name)
def test_invalid_odcs_contract_fails_with_a_finding_naming_the_file(govern, corpora, path):
    run = govern("check", "--now", NOW, str(path), "--format", "json")
    assert run.code == 1
    report = run.json()
    schema_findings = [f for f in report["findings"] if f["rule"] == "CON-001"]
    assert schema_findings, report["findings"]
    for finding in schema_findings:
        assert finding["location"]["file"] == str(path)
        assert finding["location"]["line"] >= 1
        assert finding["message"].startswith("contract does not conform to ODCS: ")


def test_all_28_negative_tests_are_present(corpora):
    assert len(_files("*.odcs.yaml", NEGATIVE)) == 28


@pytest.mark.parametrize(
    "path",
    _files("*.odcs.yaml", CORPORA / "bitol-odcs") + _files("*.odcs.yaml", CORPORA / "bitol-odcs-dev/docs"),
    ids=lambda p: str(p.relative_to(CORPORA)),
)
def test_odcs_example_loads_and_conforms(govern, corpora, path):
    run = govern("check", "--now", NOW, str(path), "--format", "json")
    assert run.code in (0, 1), run.out
    report = run.json()
    assert report["products"][0]["verdict"] in ("pass", "fail")
    assert report["products"][0]["errors"] == []
    assert [f for f in report["findings"] if f["rule"] == "CON-001"] == []


ODPS_SCHEMAS = [
    "bitol-odps/schema/odps-json-schema-v0.9.0.json",
    "bitol-odps/schema/odps-json-schema-v1.0.0.json",
    "dataproduct-cli-wheel/dataproduct/schemas/odps-1.1.0.schema.json",
]


@pytest.mark.parametrize("schema", ODPS_SCHEMAS, ids=lambda p: Path(p).name)
def test_the_least_odps_product_each_version_allows_loads_with_its_owner(govern, corpora, tmp_path, schema):
    """The fields each ODPS schema requires, and a team in its form (v0.9.0: the list of members;
    v1.x: an object holding them; status optional since v1.1.0): the product loads and its owner
    is the member whose role is owner."""
    import json

    import jsonschema_rs
    import yaml

    spec = json.loads((corpora / schema).read_text())
    version = spec["properties"]["apiVersion"]["default"]
    members = [{"username": "jane@example.com", "role": "owner"}]
    team = members if spec["properties"]["team"].get("type") == "array" else {"members": members}
    doc = {"apiVersion": version, "kind": "DataProduct", "id": "orders_least", "team": team}
    doc |= {"status": "active"} if "status" in spec["required"] else {}
    jsonschema_rs.validator_for(spec).validate(doc)  # (what the standard allows, as its schema says)
    path = tmp_path / "least.odps.yaml"
    path.write_text(yaml.safe_dump(doc, sort_keys=False))
    report = govern("check", "--now", NOW, str(path), "--format", "json").json()
    assert [(p["id"], p["errors"]) for p in report["products"]] == [("orders_least", [])]
    assert "owner" not in [f["location"]["path"] for f in report["findings"] if f["rule"] == "STD-001"]
    assert sorted(spec["required"]) == sorted(["apiVersion", "kind", "id", *(["status"] if version != "v1.1.0" else [])])
    if "status" in spec["required"]:  # (and without it, the version that requires it is not met)
        del doc["status"]
        path.write_text(yaml.safe_dump(doc, sort_keys=False))
        (product,) = govern("check", "--now", NOW, str(path), "--format", "json").json()["products"]
        assert product["errors"] == [
            f"{path}:1: invalid ODPS data product: status: required by ODPS {version} (optional from v1.1.0)"
        ]


@pytest.mark.parametrize("path", _files("*.odps.yaml", CORPORA / "bitol-odps"), ids=lambda p: p.name)
def test_odps_example_loads_as_a_product(govern, corpora, path):
    run = govern("check", "--now", NOW, str(path), "--format", "json")
    report = run.json()
    (product,) = report["products"]
    assert product["errors"] == []
    assert product["verdict"] == "fail"  # neither names a registered domain
    assert run.code == 1

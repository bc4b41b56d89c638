"""Lineage imported from dbt manifests and OpenLineage events, mapped onto the demo mesh."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from .conftest import corpus_manifest

M = "examples/mesh"
NOW = "2026-11-21T09:00:00Z"


def dbt_manifest(tmp: Path) -> Path:
    """A small dbt project: a source (matched by the contract physical name customers.profiles),
    a staging model nobody owns, and a model the orders_returns product claims with meta."""
    nodes = {
        "model.shop.stg_customers": {
            "resource_type": "model",
            "name": "stg_customers",
            "schema": "staging",
            "alias": "stg_customers",
            "depends_on": {"nodes": ["source.shop.crm.profiles", "macro.dbt.run_query"]},
        },
        "model.shop.returns_enriched": {
            "resource_type": "model",
            "name": "returns_enriched",
            "schema": "orders",
            "depends_on": {"nodes": ["model.shop.stg_customers"]},
            "config": {"meta": {"govern_product": "orders_returns"}},
        },
        "test.shop.not_null_returns": {
            "resource_type": "test",
            "name": "not_null_returns",
            "depends_on": {"nodes": ["model.shop.returns_enriched"]},
        },
    }
    sources = {
        "source.shop.crm.profiles": {
            "resource_type": "source",
            "name": "profiles",
            "schema": "customers",
            "identifier": "profiles",
            "database": "warehouse",
            "relation_name": '"warehouse"."customers"."profiles"',
        }
    }
    path = tmp / "manifest.json"
    metadata = {"dbt_schema_version": "https://schemas.getdbt.com/dbt/manifest/v12.json"}
    path.write_text(json.dumps({"metadata": metadata, "nodes": nodes, "sources": sources}))
    return path


def openlineage_events(tmp: Path) -> Path:
    """A folder of OpenLineage events: one event file and one JSON list."""
    folder = tmp / "events"
    folder.mkdir()
    event = {
        "eventType": "COMPLETE",
        "eventTime": "2026-11-20T03:00:00Z",
        "run": {"runId": "0f6b0ec4-0000-4000-8000-000000000001"},
        "job": {"namespace": "airflow", "name": "restock.load"},
        "inputs": [{"namespace": "postgres://legacy:5432", "name": "oms.public.orders_dump"}],
        "outputs": [{"namespace": "postgres://dwh:5432", "name": "dwh.inventory.stock_levels"}],
    }
    (folder / "restock.json").write_text(json.dumps(event))
    start = {**event, "eventType": "START"}
    (folder / "more.json").write_text(json.dumps([start, {"not": "an event"}]))
    return folder


def lineage_map(tmp: Path) -> Path:
    path = tmp / "lineage-map.yaml"
    path.write_text('datasets:\n  "postgres://legacy:5432/oms.public.*": orders_legacy_feed\n')
    return path


def lin(report: dict) -> set[tuple[str, str, str]]:
    return {(f["product"], f["rule"], f["location"]["path"]) for f in report["findings"] if f["rule"].startswith("LIN")}


DEMO_LIN = {
    ("finance_ledger", "LIN-001", "inputPorts[2]"),
    ("marketing_leads", "LIN-004", "inputPorts[0]"),
    ("customers_segments", "LIN-005", "inputPorts[0]"),
}


def test_dbt_edges_reach_the_rules_through_unmapped_models(govern, tmp_path):
    manifest = dbt_manifest(tmp_path)
    run = govern("check", "--now", NOW, M, "--format", "json", "--dbt-manifest", str(manifest))
    assert run.code == 1
    report = run.json()
    # customers_profiles -> (stg_customers) -> orders_returns: undeclared, cross-domain, and
    # orders_returns (internal) is less classified than customers_profiles (restricted).
    assert lin(report) == DEMO_LIN | {
        ("orders_returns", "LIN-004", "inputPorts"),
        ("orders_returns", "LIN-005", "inputPorts"),
    }
    message = next(f["message"] for f in report["findings"] if (f["product"], f["rule"]) == ("orders_returns", "LIN-004"))
    assert message == (
        f'reads "customers_profiles" of domain customers without a contract (no input port declares it; '
        f"seen in dbt manifest {manifest})"
    )
    assert "imported lineage: 1 file(s), 0 OpenLineage event(s), 3 datasets (2 mapped to products), 1 product edge(s)" in run.err


def test_openlineage_folder_with_a_lineage_map(govern, tmp_path):
    events = openlineage_events(tmp_path)
    args = ["--openlineage", str(events), "--lineage-map", str(lineage_map(tmp_path))]
    run = govern("check", "--now", NOW, M, "--format", "json", *args)
    assert lin(run.json()) == DEMO_LIN | {
        ("inventory_stock_levels", "LIN-001", "inputPorts"),  # orders_legacy_feed is retired
        ("inventory_stock_levels", "LIN-004", "inputPorts"),
    }
    assert f"skipped {events / 'more.json'}: 1 entry not OpenLineage events (no job, run, inputs or outputs)" in run.err
    graph = govern("lineage", M, "--format", "json", *args).json()
    imported = [e for e in graph["edges"] if not e["declared"]]
    assert imported == [
        {
            "from": "orders_legacy_feed",
            "to": "inventory_stock_levels",
            "contractId": None,
            "cross_domain": True,
            "found": True,
            "port": None,
            "declared": False,
            "observed_in": f"OpenLineage {events / 'more.json'}",
        }
    ]


def test_without_a_map_unmatched_datasets_add_no_edges(govern, tmp_path):
    run = govern("lineage", M, "--format", "json", "--openlineage", str(openlineage_events(tmp_path)))
    assert run.code == 0
    declared = govern("lineage", M, "--format", "json").json()["edges"]
    assert run.json()["edges"] == declared and len(declared) > 0 and all(e["declared"] for e in declared)
    assert "2 datasets (1 mapped to products), 0 product edge(s)" in run.err


def test_bad_import_files_are_named_and_exit_3(govern, tmp_path):
    broken = tmp_path / "broken.json"
    broken.write_text('{\n  "eventType": "COMPLETE",\n  "inputs": [\n')
    wrong = tmp_path / "wrong.json"
    wrong.write_text(json.dumps({"job": {"name": "x"}, "inputs": [{"namespace": "n"}]}))
    run = govern("lineage", M, "--openlineage", str(broken), "--openlineage", str(wrong))
    assert run.code == 3
    assert f"error: {broken}:4: not valid JSON: Expecting value" in run.err
    assert f"error: {wrong}: invalid OpenLineage event: inputs.0.name: Field required" in run.err
    not_manifest = tmp_path / "manifest.json"
    not_manifest.write_text("[]")
    run = govern("check", "--now", NOW, f"{M}/orders/returns", "--dbt-manifest", str(not_manifest))
    assert run.code == 3
    assert f"{not_manifest}: not a dbt manifest (no 'nodes')" in run.out


def test_an_ndjson_event_is_named_by_its_line_and_a_file_with_no_event_is_an_error(govern, tmp_path, corpora):
    """(Events were counted from 0, without a line; a dbt manifest given to --openlineage was
    skipped, exit 0, its lineage lost without a word.) In a folder, a file with no event is skipped."""
    event = {"eventType": "COMPLETE", "job": {"namespace": "n", "name": "j"}, "run": {"runId": "r"}}
    good = {**event, "inputs": [{"namespace": "a", "name": "x"}]}
    bad = {**event, "inputs": [{"namespace": "a"}]}
    events = tmp_path / "events.ndjson"
    events.write_text(f"{json.dumps(good)}\n\n{json.dumps(bad)}\n")
    manifest = corpora / "dbt-artifacts-parser/tests/resources/manifest/v10/jaffle_shop/manifest.json"
    run = govern("lineage", M, "--openlineage", str(events), "--openlineage", str(manifest))
    assert run.code == 3
    assert f"error: {events}:3: event 2: invalid OpenLineage event: inputs.0.name: Field required\n" in run.err
    assert (
        f"error: {manifest}: not an OpenLineage event: nothing in it has a job, run, inputs or outputs (a dbt manifest is"
        " --dbt-manifest's)\n" in run.err
    )
    folder = tmp_path / "folder"
    folder.mkdir()
    (folder / "manifest.json").write_text(manifest.read_text())
    run = govern("lineage", M, "--openlineage", str(folder))
    assert run.code == 0, run.err
    assert f"skipped {folder / 'manifest.json'}: not an OpenLineage event (no job, run, inputs or outputs)" in run.err


def test_an_ndjson_line_that_is_no_json_is_an_error_at_its_line_and_the_other_events_are_read(govern, tmp_path):
    """(A line cut short lost every event of the file, and the errors of the others went unsaid.)"""
    event = {"eventType": "COMPLETE", "job": {"namespace": "n", "name": "j"}, "run": {"runId": "r"}}
    good = {**event, "inputs": [{"namespace": "a", "name": "x"}]}
    bad = {**event, "inputs": [{"namespace": "a"}]}
    events = tmp_path / "events.ndjson"
    events.write_text(f"{json.dumps(good)}\n{json.dumps(bad)}\n{{oops\n{json.dumps(good)}\n")
    run = govern("lineage", M, "--openlineage", str(events))
    assert run.code == 3
    assert "imported lineage: 1 file(s), 2 OpenLineage event(s)," in run.err
    assert [line for line in run.err.splitlines() if line.startswith("error:")] == [
        f"error: {events}:2: event 2: invalid OpenLineage event: inputs.0.name: Field required",
        f"error: {events}:3: not valid JSON: Expecting property name enclosed in double quotes",
    ]


def test_a_named_openlineage_file_holding_an_empty_list_is_an_error_and_one_in_a_folder_is_not(govern, tmp_path):
    """(A file of [] was taken without a word, exit 0: lineage asked for and lost.)"""
    folder = tmp_path / "events"
    folder.mkdir()
    empty = folder / "none.json"
    empty.write_text("[]\n")
    run = govern("lineage", M, "--openlineage", str(empty))
    assert (run.code, run.err.splitlines()[-1]) == (3, f"error: {empty}: holds no OpenLineage event")
    assert govern("lineage", M, "--openlineage", str(folder)).code == 0


@pytest.mark.parametrize("text", ["null\n", "~\n"])
def test_a_manifest_that_is_null_is_no_manifest(govern, tmp_path, text):
    """(It was taken as a file skipped without a word.)"""
    manifest = tmp_path / ("manifest.json" if text == "null\n" else "manifest.yaml")
    manifest.write_text(text)
    run = govern("lineage", M, "--dbt-manifest", str(manifest))
    assert run.code == 3
    assert f"error: {manifest}: not a dbt manifest (no 'nodes')" in run.err


@pytest.mark.parametrize("option", ["--dbt-manifest", "--openlineage"])
def test_a_named_pipe_or_a_device_given_as_lineage_is_refused_not_read(govern_process, tmp_path, option):
    """A pipe would block the run until something wrote to it; /dev/zero would be read until memory ran out."""
    pipe = tmp_path / "events.json"
    os.mkfifo(pipe)
    run = govern_process("lineage", M, option, str(pipe), option, "/dev/zero", timeout=60)
    assert run.code == 3
    why = "cannot read: not a regular file (a named pipe, a device or a socket)"
    assert f"error: {pipe}: {why}" in run.err and f"error: /dev/zero: {why}" in run.err


def test_lineage_map_errors_name_file_and_line(govern, tmp_path):
    bad = tmp_path / "map.yaml"
    bad.write_text("datasets:\n  a.b: [orders_returns]\n")
    run = govern("lineage", M, "--openlineage", str(openlineage_events(tmp_path)), "--lineage-map", str(bad))
    assert run.code == 3
    assert f"{bad}:2: product for 'a.b' must be a product id" in run.err


def test_a_lineage_map_entry_naming_a_product_not_in_the_mesh_is_an_error_at_its_line(govern, tmp_path):
    """A typo, or a product renamed since: its datasets would silently map to nothing."""
    path = tmp_path / "map.yaml"
    path.write_text('datasets:\n  "postgres://legacy:5432/oms.public.*": orders_legacy_fed\n  "x.*": orders_returns\n')
    run = govern("lineage", M, "--openlineage", str(openlineage_events(tmp_path)), "--lineage-map", str(path))
    assert run.code == 3
    problems = [line for line in run.err.splitlines() if line.startswith("error: ")]
    assert problems == [
        f"error: {path}:2: 'postgres://legacy:5432/oms.public.*' maps datasets to product 'orders_legacy_fed', "
        "which is not in the mesh"
    ]


def test_a_null_meta_govern_product_leaves_config_meta_to_name_the_product(govern, tmp_path):
    manifest = dbt_manifest(tmp_path)
    data = json.loads(manifest.read_text())
    data["nodes"]["model.shop.returns_enriched"]["meta"] = {"govern_product": None}
    manifest.write_text(json.dumps(data))
    run = govern("lineage", M, "--format", "json", "--dbt-manifest", str(manifest))
    assert run.code == 0, run.err
    assert [(e["from"], e["to"]) for e in run.json()["edges"] if not e["declared"]] == [("customers_profiles", "orders_returns")]


def test_a_dbt_meta_govern_product_naming_no_product_of_the_mesh_is_an_error(govern, tmp_path):
    """(A misspelt meta.govern_product was ignored: the model mapped to nothing, silently, where a
    lineage map's entry naming no product is an error.)"""
    manifest = dbt_manifest(tmp_path)
    data = json.loads(manifest.read_text())
    data["nodes"]["model.shop.returns_enriched"]["config"]["meta"]["govern_product"] = "orders_retruns"
    data["nodes"]["model.shop.stg_customers"]["meta"] = {"govern_product": ["orders_returns"]}
    data["sources"]["source.shop.crm.profiles"]["meta"] = {"govern_product": ""}
    manifest.write_text(json.dumps(data))
    run = govern("lineage", M, "--dbt-manifest", str(manifest))
    assert run.code == 3
    assert [line for line in run.err.splitlines() if line.startswith("error: ")] == [
        f"error: {manifest}: source.shop.crm.profiles: meta.govern_product must be a product id, not ''",
        f"error: {manifest}: model.shop.stg_customers: meta.govern_product must be a product id, not ['orders_returns']",
        f"error: {manifest}: model.shop.returns_enriched: meta.govern_product 'orders_retruns' is not a product in the mesh",
    ]


# --- the third-party corpus --------------------------------------------------------------------------


def _manifest_rows(corpora: Path) -> list[tuple[str, Path]]:
    return [(r["kind"], corpora / r["source"] / r["path"]) for r in corpus_manifest()]


def test_every_dbt_manifest_of_the_corpus_imports(govern, corpora):
    files = [p for kind, p in _manifest_rows(corpora) if kind.startswith("dbt-manifest")]
    assert len(files) == 34
    args = [a for f in files for a in ("--dbt-manifest", str(f))]
    run = govern("lineage", M, "--format", "json", *args)
    assert run.code == 0, run.err
    assert "error" not in run.err
    assert "imported lineage: 34 file(s), 0 OpenLineage event(s)" in run.err


def test_every_concrete_openlineage_event_of_the_corpus_imports(govern, corpora):
    files = [p for kind, p in _manifest_rows(corpora) if kind == "openlineage-event"]
    assert len(files) == 15
    args = [a for f in files for a in ("--openlineage", str(f))]
    run = govern("lineage", M, "--format", "json", *args)
    assert run.code == 0, run.err
    assert "skipped" not in run.err and "error" not in run.err
    assert "imported lineage: 15 file(s), 15 OpenLineage event(s)" in run.err


def test_a_dbt_catalog_or_run_results_given_as_a_manifest_is_refused_naming_it(govern, corpora):
    """(A catalog.json has nodes, without their dependencies: it was read as a manifest of no edges,
    exit 0.)"""
    base = corpora / "dbt-artifacts-parser/tests/resources"
    catalog, results = base / "catalog/v1/jaffle_shop/catalog.json", base / "run_results/v4/jaffle_shop/run_results.json"
    run = govern("lineage", M, "--dbt-manifest", str(catalog), "--dbt-manifest", str(results))
    assert run.code == 3
    assert (
        f"error: {catalog}: not a dbt manifest: a dbt catalog (metadata.dbt_schema_version); give target/manifest.json" in run.err
    )
    # (named as what it is, as a catalog is: it said only "no 'nodes'")
    assert (
        f"error: {results}: not a dbt manifest: a dbt run-results (metadata.dbt_schema_version); give target/manifest.json"
        in run.err
    )


def test_templated_and_empty_corpus_files_are_skipped_with_a_reason(govern, corpora):
    rows = _manifest_rows(corpora)
    lists = [p for kind, p in rows if kind.startswith("openlineage-event-list(templated")]
    empty = [p for kind, p in rows if kind == "empty-file"]
    args = [a for f in lists + empty for a in ("--openlineage", str(f))]
    run = govern("lineage", M, *args)
    assert run.code == 0, run.err
    assert "error" not in run.err
    # Expectations whose placeholders sit only in facets still name real jobs and datasets: they import.
    base = corpora / "openlineage/integration/common/tests/dbt"
    kept = sorted(str(f.relative_to(base)) for f in lists if f"skipped {f}: " not in run.err)
    assert kept == ["duckdb/result.json", "no_test_metadata/result.json", "singular_test/result.json", "test/result.json"]
    assert run.err.count("templated event") == len(lists) - len(kept)
    for f in empty:
        assert f"skipped {f}: empty file" in run.err


@pytest.mark.parametrize("folder", ["openlineage", "dbt-artifacts-parser"])
def test_whole_corpus_folders_import_without_a_traceback(govern, corpora, folder):
    run = govern("lineage", M, "--openlineage", str(corpora / folder), "--dbt-manifest", str(corpora / folder))
    assert run.code == 0, run.err

"""``govern check`` end to end on the demo mesh: verdicts, exact findings, locations, exit codes."""

from __future__ import annotations

import json
import os
import subprocess

import pytest

from .conftest import REPO, govern_exe

M = "examples/mesh"
NOW = "2026-11-21T09:00:00Z"  # waivers and effective dates make findings depend on the date

# Every finding of the demo mesh: (product, rule, file:line, key path). The demo's README lists
# the deliberate violations; this is the same list as the engine must report it.
DEMO_FINDINGS = {
    (
        "customers_segments",
        "CLS-004",
        f"{M}/customers/segments/customers-segments-v1.odcs.yaml:36",
        "schema[0].properties[1].classification",
    ),
    ("customers_segments", "CLS-005", f"{M}/customers/segments/customers_segments.odps.yaml:46", "classification"),
    ("customers_segments", "LIN-005", f"{M}/customers/segments/customers_segments.odps.yaml:17", "inputPorts[0]"),
    ("finance_ledger", "CLS-001", f"{M}/finance/ledger/dataproduct.yaml:4", "classification"),
    ("finance_ledger", "CON-007", f"{M}/finance/ledger/dataproduct.yaml:35", "inputPorts[0]"),
    ("finance_ledger", "LIN-001", f"{M}/finance/ledger/dataproduct.yaml:40", "inputPorts[2]"),
    ("finance_ledger", "CLS-002", f"{M}/finance/ledger/finance-ledger-v1.odcs.yaml:63", "schema[0].properties[7]"),
    ("finance_payments", "CON-003", f"{M}/finance/payments/dataproduct.yaml:34", "outputPorts[1].contractId"),
    ("finance_payments", "CON-004", f"{M}/finance/payments/finance-payments-v1.odcs.yaml:8", "status"),
    ("finance_payments", "CON-006", f"{M}/finance/payments/finance-payments-v1.odcs.yaml:120", "slaProperties"),
    ("InventoryWarehouses", "NAM-001", f"{M}/inventory/warehouses/dataproduct.yaml:5", "name"),
    (
        "InventoryWarehouses",
        "NAM-002",
        f"{M}/inventory/warehouses/inventory-warehouses-v1.odcs.yaml:31",
        "schema[0].properties[1].name",
    ),
    (
        "InventoryWarehouses",
        "NAM-002",
        f"{M}/inventory/warehouses/inventory-warehouses-v1.odcs.yaml:37",
        "schema[0].properties[2].name",
    ),
    ("marketing_leads", "STD-001", f"{M}/marketing/leads/dataproduct.yaml:4", "schema_url"),
    ("marketing_leads", "STD-004", f"{M}/marketing/leads/dataproduct.yaml:4", "monitoring"),
    ("marketing_leads", "ACC-002", f"{M}/marketing/leads/dataproduct.yaml:13", "access.consumers"),
    ("marketing_leads", "ACC-003", f"{M}/marketing/leads/dataproduct.yaml:13", "access.approvers"),
    ("marketing_leads", "LIN-004", f"{M}/marketing/leads/dataproduct.yaml:31", "inputPorts[0]"),
    ("marketing_web_events", "ACC-004", f"{M}/marketing/web_events/dataproduct.yaml:32", "outputPorts[0].visibility"),
    ("marketing_web_events", "CON-002", f"{M}/marketing/web_events/dataproduct.yaml:34", "outputPorts[1]"),
    ("orders_legacy_feed", "CON-005", f"{M}/orders/legacy_feed/orders-legacy-feed-v1.odcs.yaml:7", "version"),
    ("orders_legacy_feed", "STD-002", f"{M}/orders/legacy_feed/orders-legacy-feed-v1.odcs.yaml:18", "schema[0]"),
    ("orders_legacy_feed", "ORDERS-001", f"{M}/orders/legacy_feed/orders-legacy-feed-v1.odcs.yaml:18", "schema[0]"),
    ("shipping_shipments", "NAM-004", f"{M}/orders/shipments/shipping_shipments.odps.yaml:10", "domain"),
}
COMPLIANT = [
    "orders/order_items",
    "orders/returns",
    "customers/profiles",
    "inventory/stock_levels",
    "marketing/campaigns",
    "finance/invoices",
]


def _located(report: dict) -> set[tuple[str, str, str, str]]:
    return {
        (f["product"], f["rule"], f"{f['location']['file']}:{f['location']['line']}", f["location"]["path"])
        for f in report["findings"]
    }


def test_demo_mesh_reports_exactly_the_deliberate_violations(govern):
    run = govern("check", "--now", NOW, M, "--format", "json")
    assert run.code == 1
    report = run.json()
    assert _located(report) == DEMO_FINDINGS
    assert len(report["findings"]) == 26  # STD-004 reports each of the three missing metrics
    assert report["summary"]["verdicts"] == {"pass": 6, "fail": 8, "error": 0}
    assert report["summary"]["rules"] == 34  # 33 global rules and the orders domain's ORDERS-001
    assert report["summary"]["findings"]["waived"] == 1
    assert set(report["domains"]) == {"orders", "customers", "inventory", "marketing", "finance", "shipping"}


@pytest.mark.parametrize("folder", COMPLIANT)
def test_compliant_demo_product_exits_0(govern, folder):
    run = govern("check", "--now", NOW, f"{M}/{folder}")
    assert run.code == 0, run.out
    assert "PASS  score 100" in run.out


def test_blocking_violation_exits_1_and_the_json_report_locates_it(govern):
    run = govern("check", "--now", NOW, f"{M}/inventory/warehouses/dataproduct.yaml", "--format", "json")
    assert run.code == 1
    report = run.json()
    assert report["schema"] == "govern.report/v1"
    nam = next(f for f in report["findings"] if f["rule"] == "NAM-001")
    assert nam["product"] == "InventoryWarehouses"
    assert nam["message"] == 'product name "InventoryWarehouses" does not match ^inventory_[a-z][a-z0-9_]*$'
    assert nam["location"] == {"file": f"{M}/inventory/warehouses/dataproduct.yaml", "line": 5, "path": "name"}
    assert nam["severity"] == "high" and nam["enforcement"] == "blocking" and nam["status"] == "open"
    assert len(nam["fingerprint"]) == 32
    assert nam["remediation"].startswith("Rename the product")


def test_report_carries_the_run_provenance(govern):
    report = govern("check", "--now", NOW, f"{M}/orders/returns", "--format", "json", "--now", "2026-11-21T09:00:00Z").json()
    run = report["run"]
    assert run["command"] == "check"
    assert run["now"] == "2026-11-21T09:00:00Z"
    assert run["engine"] == {"name": "embedded", "version": "regorus 0.13.0"}
    assert run["policies_digest"].startswith("sha256:") and run["governance_digest"].startswith("sha256:")
    assert run["mesh"] == M
    assert report["products"] == [
        {
            "id": "orders_returns",
            "name": "orders_returns",
            "domain": "orders",
            "source": f"{M}/orders/returns/dataproduct.yaml",
            "description": "Returned order lines with reason, status and refund amount",
            "verdict": "pass",
            "score": 100.0,
            "rules": 34,
            "errors": [],
        }
    ]
    assert len(report["rules"]) == 34 and report["rules"][0]["id"] == "ACC-001"


def test_fingerprints_are_stable_across_runs_and_messages(govern, demo_copy):
    first = govern("check", "--now", NOW, f"{M}/inventory", "--format", "json", cwd=demo_copy).json()
    second = govern("check", "--now", "2030-01-01T00:00:00Z", f"{M}/inventory", "--format", "json", cwd=demo_copy).json()
    assert [f["fingerprint"] for f in first["findings"]] == [f["fingerprint"] for f in second["findings"]]
    assert len({f["fingerprint"] for f in first["findings"]}) == len(first["findings"]) == 3
    # The domain's own naming pattern changes NAM-001's message, not what the finding is about.
    (demo_copy / "governance/domains/inventory.yaml").write_text(
        'domain: inventory\nparams:\n  NAM-001: {pattern: "^inv_[a-z_]+$"}\n'
    )
    third = govern("check", "--now", NOW, f"{M}/inventory", "--format", "json", cwd=demo_copy).json()
    messages = {f["message"] for f in first["findings"]} ^ {f["message"] for f in third["findings"]}
    assert messages == {
        'product name "InventoryWarehouses" does not match ^inventory_[a-z][a-z0-9_]*$',
        'product name "InventoryWarehouses" does not match ^inv_[a-z_]+$',
        'product name "inventory_stock_levels" does not match ^inv_[a-z_]+$',
    }
    by_message = {f["message"]: f["fingerprint"] for f in [*first["findings"], *third["findings"]]}
    assert (
        by_message['product name "InventoryWarehouses" does not match ^inventory_[a-z][a-z0-9_]*$']
        == by_message['product name "InventoryWarehouses" does not match ^inv_[a-z_]+$']
    )


@pytest.mark.parametrize(("fail_on", "code"), [("blocking", 0), ("warning", 1), ("never", 0)])
def test_fail_on_sets_the_threshold(govern, demo_copy, fail_on, code):
    # marketing_leads with consumers, approvers, schema_url and an input contract has only warning-level
    # findings left (STD-004 is a warning).
    leads = demo_copy / M / "marketing/leads/dataproduct.yaml"
    text = leads.read_text()
    assert "model: restricted" in text
    text = text.replace("model: restricted", "model: restricted\n  consumers: [analytics-team]\n  approvers: [alice@example.com]")
    text = text.replace("documentation:", "schema_url: https://data.example.com/marketing/leads/schema\ndocumentation:")
    text = text.replace(
        "  - product: customers_profiles\n", "  - product: customers_profiles\n    contractId: customers-profiles-v1\n"
    )
    leads.write_text(text)
    run = govern("check", "--now", NOW, str(leads), "--fail-on", fail_on, "--format", "json", cwd=demo_copy)
    assert {f["rule"] for f in run.json()["findings"]} == {"STD-004"}
    assert run.code == code


def test_malformed_yaml_exits_3_naming_file_and_line(govern, demo_copy):
    bad = demo_copy / M / "orders/returns/dataproduct.yaml"
    lines = bad.read_text().splitlines()
    lines[5] = "owner: [unclosed"
    bad.write_text("\n".join(lines) + "\n")
    run = govern("check", "--now", NOW, str(bad), cwd=demo_copy)
    assert run.code == 3
    assert f"{M}/orders/returns/dataproduct.yaml:7: invalid YAML" in run.out
    assert "ERROR" in run.out


def test_one_bad_product_does_not_stop_the_others(govern, demo_copy):
    (demo_copy / M / "orders/returns/dataproduct.yaml").write_text("kind: DataProduct\nname: [x\n")
    report = govern("check", "--now", NOW, M, "--format", "json", cwd=demo_copy)
    assert report.code == 3
    verdicts = {p["name"]: p["verdict"] for p in report.json()["products"]}
    assert verdicts[f"{M}/orders/returns/dataproduct.yaml"] == "error"
    assert verdicts["orders_order_items"] == "pass"
    assert len(verdicts) == 14


def test_wrong_type_in_descriptor_exits_3_with_line(govern, demo_copy):
    path = demo_copy / M / "orders/returns/dataproduct.yaml"
    path.write_text(path.read_text().replace("version: 1.0.0", "version: 1.0"))
    run = govern("check", "--now", NOW, str(path), "--format", "json", cwd=demo_copy)
    assert run.code == 3
    (product,) = run.json()["products"]
    assert product["verdict"] == "error"
    assert product["errors"][0].startswith(f"{M}/orders/returns/dataproduct.yaml:5: ")
    assert "version: Input should be a valid string" in product["errors"][0]


def test_unknown_kind_is_an_error_with_line(govern, tmp_path):
    path = tmp_path / "thing.yaml"
    path.write_text("apiVersion: v1\nkind: Pipeline\n")
    run = govern("check", "--now", NOW, str(path))
    assert run.code == 3
    assert f"{path}:2: unknown kind 'Pipeline': expected DataProduct or DataContract" in run.out


def test_standalone_contract_gets_contract_rules_only(govern):
    contract = f"{M}/finance/payments/finance-payments-v1.odcs.yaml"
    report = govern("check", "--now", NOW, contract, "--format", "json").json()
    assert {(f["rule"], f["location"]["line"]) for f in report["findings"]} == {("CON-004", 8), ("CON-006", 120)}
    assert report["summary"]["rules"] == 8
    assert report["products"][0]["id"] == "finance-payments-v1"


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        # (valid keys of an object with an error were also "unexpected": 'host', 'port', 'database')
        (
            "server-missing-required-fields",
            [("servers[0]", '"server" is a required property'), ("servers[0]", '"type" is a required property')],
        ),
        ("quality-library-missing-metric", [("schema[0].properties[0].quality[0]", '"metric" is a required property')]),
        # (JSON Schema said the check was "not valid under any of the schemas listed in the 'oneOf'
        # keyword": the alternative it came close to says what is wrong)
        ("quality-mustbebetween-wrong-size", [("schema[0].quality[0].mustBeBetween", "[100] has less than 2 items")]),
        (
            "quality-multiple-operators",
            [
                (
                    "schema[0].properties[0].quality[0]",
                    '{"type":"library","metric":"nullValues","mustBe":0,"mustNotBe":5} matches more than one of the forms'
                    " ODCS allows here, where exactly one must",
                )
            ],
        ),
    ],
)
def test_con_001_on_the_odcs_negative_tests_says_what_to_mend(govern, corpora, name, expected):
    path = corpora / f"bitol-odcs-dev/src/script/negative-tests/{name}.odcs.yaml"
    run = govern("check", "--now", NOW, str(path), "--format", "json")
    found = [(f["location"]["path"], f["message"]) for f in run.json()["findings"] if f["rule"] == "CON-001"]
    assert found == [(p, f"contract does not conform to ODCS: {m}") for p, m in expected]


def test_a_column_without_a_logical_type_is_not_asked_for_a_map(govern, tmp_path):
    """(ODCS v3.2.0's schema tests "logicalType is map" with an if that also holds where no
    logicalType is written: every such column, valid in ODCS, was a critical CON-001.)"""
    head = "apiVersion: v3.1.0\nkind: DataContract\nid: solo-v1\nversion: 1.0.0\nstatus: active\nschema:\n  - name: t\n"
    path = tmp_path / "solo.odcs.yaml"
    path.write_text(head + "    properties:\n      - {name: a, classification: internal}\n")
    run = govern("check", "--now", NOW, str(path), "--format", "json")
    assert [f["rule"] for f in run.json()["findings"]] == ["CON-006"]
    path.write_text(head + "    properties:\n      - {name: a, classification: internal, logicalType: map}\n")
    run = govern("check", "--now", NOW, str(path), "--format", "json")
    assert [(f["rule"], f["location"]["line"], f["message"]) for f in run.json()["findings"] if f["rule"] == "CON-001"] == [
        ("CON-001", 9, 'contract does not conform to ODCS: "map" is a required property')
    ]


def test_a_standalone_contract_that_is_not_a_mapping_is_a_load_error_as_in_a_mesh(govern, tmp_path):
    """(One without an id is evaluated: CON-001 names the missing id with its other schema errors.)"""
    path = tmp_path / "c.odcs.yaml"
    path.write_text("- 1\n- 2\n")
    run = govern("check", "--now", NOW, str(path), "--format", "json")
    assert run.code == 3
    report = run.json()
    why = "a contract must be a mapping, not list: no product can publish it"
    assert [(p["verdict"], p["errors"]) for p in report["products"]] == [("error", [f"{path}:1: {why}"])]
    assert report["findings"] == []


def test_output_writes_the_report_to_a_file(govern, tmp_path):
    out = tmp_path / "report.json"
    run = govern("check", "--now", NOW, f"{M}/orders/order_items", "--format", "json", "--output", str(out))
    assert run.code == 0
    assert run.out == ""
    assert json.loads(out.read_text())["summary"]["verdicts"]["pass"] == 1


def test_text_output_shows_rule_severity_location_and_fix(govern):
    run = govern("check", "--now", NOW, f"{M}/orders/legacy_feed")
    assert run.code == 1
    assert "orders_legacy_feed  (orders)  FAIL  score 95" in run.out
    assert '✗ CON-005  medium · blocking  contract orders-legacy-feed-v1 has version "v1"' in run.out
    assert f"at {M}/orders/legacy_feed/orders-legacy-feed-v1.odcs.yaml:7 (version)" in run.out
    assert "fix: Set the contract's version to MAJOR.MINOR.PATCH" in run.out


def test_text_output_names_the_resource_a_waiver_may_be_scoped_to(govern):
    """A waiver's `resource` covers the findings about one column or upstream: the text says what to write."""
    run = govern("check", "--now", NOW, f"{M}/customers/segments")
    assert run.code == 1
    at = [line.strip() for line in run.out.splitlines() if line.startswith("      at ")]
    assert at == [
        f"at {M}/customers/segments/customers-segments-v1.odcs.yaml:36 (schema[0].properties[1].classification)"
        " · resource segments.email",
        f"at {M}/customers/segments/customers_segments.odps.yaml:17 (inputPorts[0]) · resource customers_profiles",
        f"at {M}/customers/segments/customers_segments.odps.yaml:46 (classification) · resource segments.lifetime_value",
    ]
    ledger = govern("check", "--now", NOW, f"{M}/finance/ledger")
    assert f"at {M}/finance/ledger/dataproduct.yaml:4 (classification)\n" in ledger.out  # (CLS-001 names none)


@pytest.mark.parametrize(
    "args",
    [
        ["check"],
        ["check", "does/not/exist"],
        ["check", M, "--format", "yaml"],
        ["check", M, "--now", "yesterday"],
        ["check", M, "--fail-on", "sometimes"],
    ],
)
def test_usage_errors_exit_2(govern, args):
    assert govern(*args).code == 2


def test_invalid_policy_library_exits_3_with_file_and_line(govern, demo_copy):
    rule = demo_copy / "policies/global/naming/product_name.rego"
    rule.write_text(rule.read_text().replace("deny contains", "deny contains (", 1))
    run = govern("check", "--now", NOW, f"{M}/orders/returns", cwd=demo_copy)
    assert run.code == 3
    line = next(i for i, t in enumerate(rule.read_text().splitlines(), 1) if "deny contains (" in t)
    # the broken module is left out, so the orders domain's NAM-001 parameter is a second problem
    assert run.err.startswith("error: the policies or the governance configuration are invalid (2 problems")
    assert f"\n  policies/global/naming/product_name.rego:{line}: invalid Rego:" in run.err


def test_missing_council_config_exits_3(govern, demo_copy):
    (demo_copy / "governance/council.yaml").unlink()
    run = govern("check", "--now", NOW, f"{M}/orders/returns", cwd=demo_copy)
    assert run.code == 3
    assert run.err == "error: council configuration governance/council.yaml does not exist (set --governance)\n"


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("--mesh", "nowhere"), "Invalid value for '--mesh': Directory 'nowhere' does not exist."),
        (("--mesh", "README.md"), "Invalid value for '--mesh': Directory 'README.md' is a file."),
        (("--policies", "nowhere"), "Invalid value for '--policies': Directory 'nowhere' does not exist."),
        (("--governance", "nowhere"), "Invalid value for '--governance': Directory 'nowhere' does not exist."),
        (
            ("--mesh", f"{M}/finance"),
            f"{M}/orders/order_items is not inside the mesh {M}/finance (--mesh): check what lies in it, or leave --mesh out",
        ),
    ],
)
def test_a_folder_option_that_names_no_folder_or_a_mesh_the_path_is_not_in_is_a_usage_error(govern, args, message):
    """(A misspelt --mesh, or a mesh that does not hold the product, made the check judge it as a
    mesh of its own: every upstream "not in the mesh", CON-007, exit 1.)"""
    run = govern("check", f"{M}/orders/order_items", *args)
    assert run.code == 2
    assert run.err.endswith(f"Error: {message}\n" if message.startswith("Invalid") else f"error: {message}\n"), run.err


def test_a_path_that_leads_into_the_mesh_through_a_link_is_checked_in_the_mesh(govern, demo_copy):
    """(A link to a domain's folder was a mesh of its own: upstreams "not in the mesh"; with
    --mesh, "not inside the mesh".)"""
    (demo_copy / "finance").symlink_to(demo_copy / M / "finance")
    inside = govern("check", "--now", NOW, f"{M}/finance/payments", "--format", "json", cwd=demo_copy)
    for args in (("finance/payments",), ("--mesh", M, "finance/payments")):
        run = govern("check", "--now", NOW, *args, "--format", "json", cwd=demo_copy)
        assert run.code == inside.code == 1, run.err
        assert run.json()["findings"] == inside.json()["findings"]


@pytest.mark.parametrize(
    ("command", "name", "starts"),
    [
        (("check", f"{M}/orders/order_items"), "report.sarif", '{\n  "$schema": "https://json.schemastore.org/sarif-2.1.0.json"'),
        (("check", f"{M}/orders/order_items"), "report.json", '{\n  "schema": "govern.report/v1"'),
        (("check", f"{M}/orders/order_items"), "report.xml", '<?xml version="1.0" encoding="UTF-8"?>\n<testsuites'),
        (("check", f"{M}/orders/order_items"), "report.md", "## govern check: 1 pass"),
        (("check", f"{M}/orders/order_items"), "report.html", "<!DOCTYPE html>"),
        (("check", f"{M}/orders/order_items"), "report.txt", "orders_order_items  (orders)  PASS"),
        (("lineage",), "mesh.dot", "digraph mesh {"),
        (("policies",), "standards.md", "# Data mesh standards"),
    ],
)
def test_without_format_the_output_files_extension_names_it(govern, demo_copy, command, name, starts):
    """(A report written to report.sarif was text.) A --format given is what is written."""
    dated = ("--now", NOW) if command[0] == "check" else ()
    run = govern(*command, *dated, "--output", name, cwd=demo_copy)
    assert run.code == 0, run.err
    assert (demo_copy / name).read_text().startswith(starts)
    text = govern(*command, *dated, "--format", "text", cwd=demo_copy).out
    assert govern(*command, *dated, "--format", "text", "--output", name, cwd=demo_copy).code == 0
    assert (demo_copy / name).read_text() == text


@pytest.mark.parametrize(
    ("command", "name", "message"),
    [
        (("lineage",), "mesh.svg", "govern lineage writes no .svg file (its formats: text, json, dot)"),
        (("lineage",), "mesh.html", "govern lineage writes no .html file (its formats: text, json, dot)"),
        (("policies",), "standards.html", "govern policies writes no .html file (its formats: text, json, markdown)"),
        (
            ("check", f"{M}/orders/order_items"),
            "report.PDF",
            "govern check writes no .pdf file (its formats: text, json, markdown, sarif, junit, html)",
        ),
    ],
)
def test_an_output_file_named_for_a_format_the_command_does_not_write_is_a_usage_error(govern, demo_copy, command, name, message):
    """(`govern lineage -o mesh.svg` wrote text into mesh.svg.) With --format, the file is written."""
    run = govern(*command, "--output", name, cwd=demo_copy)
    assert run.code == 2
    assert run.err == f"error: --output {name}: {message}; give --format, or name the file for one of them\n"
    assert not (demo_copy / name).exists()
    assert govern(*command, "--format", "text", "--output", name, cwd=demo_copy).code in (0, 1)
    assert (demo_copy / name).read_text()


def test_a_finding_about_a_port_or_a_column_names_a_misspelt_key_its_message_says_is_missing(govern, demo_copy):
    """(CON-002, "contractId is not set", and CLS-002, "has no classification", are about the port
    and the column, not the missing key: a contractID or classifcation written there was never named.)"""
    ports = demo_copy / M / "marketing/web_events/dataproduct.yaml"
    ports.write_text(
        ports.read_text().replace("    contractId: marketing-web-events-v1", "    contractID: marketing-web-events-v1")
    )
    ledger = demo_copy / M / "finance/ledger/finance-ledger-v1.odcs.yaml"
    text = ledger.read_text()
    at = text.index("classification: internal", text.index("- name: account_code"))
    ledger.write_text(text[:at] + "classifcation" + text[at + len("classification") :])

    def line(path, written):
        return next(i for i, row in enumerate(path.read_text().splitlines(), 1) if written in row)

    run = govern("check", "--now", NOW, f"{M}/marketing/web_events", f"{M}/finance/ledger", "--format", "json", cwd=demo_copy)
    found = {(f["rule"], f["location"]["path"]): (f["location"]["line"], f["message"]) for f in run.json()["findings"]}
    assert found["CON-002", "outputPorts[0]"] == (
        line(ports, "contractID"),
        f"output port \"events\" publishes no contract (contractId is not set); 'contractID' at line {line(ports, 'contractID')}"
        " looks like a misspelling of 'contractId'",
    )
    assert found["CLS-002", "schema[0].properties[1]"] == (
        line(ledger, "classifcation"),
        f"column \"account_code\" in finance-ledger-v1 has no classification; 'classifcation' at line"
        f" {line(ledger, 'classifcation')} looks like a misspelling of 'classification'",
    )
    # (the column CLS-002 finds without one names nothing)
    assert (
        found["CLS-002", "schema[0].properties[7]"][1] == 'column "journal_reference" in finance-ledger-v1 has no classification'
    )
    # (a quoted value of the message is no key it names: a column called "tags" with a key tag;
    # the same whatever order Python's sets take, in processes of their own)
    text = ledger.read_text()
    ledger.write_text(text.replace("- name: journal_reference\n", "- name: tags\n        tag: x\n", 1))
    for seed in ("1", "2", "3", "4"):
        proc = subprocess.run(
            [govern_exe(), "check", "--now", NOW, f"{M}/finance/ledger", "--format", "json"],
            cwd=demo_copy,
            capture_output=True,
            text=True,
            env={**os.environ, "PYTHONHASHSEED": seed},
        )
        (tags,) = [f for f in json.loads(proc.stdout)["findings"] if f["rule"] == "CLS-002" and '"tags"' in f["message"]]
        assert tags["message"] == 'column "tags" in finance-ledger-v1 has no classification'


def test_a_misspelt_odps_custom_property_is_named_by_the_finding_of_the_field_it_would_give(govern, demo_copy):
    """(ACC-001 pointed at the consumers property's value, and its fix told an ODPS author to write
    an access section, which ODPS does not read.) Read from the cache the second time, the same."""
    path = demo_copy / M / "marketing/campaigns/marketing_campaigns.odps.yaml"
    path.write_text(path.read_text().replace("  - property: accessModel", "  - property: accesModel"))
    line = next(i for i, row in enumerate(path.read_text().splitlines(), 1) if "accesModel" in row)
    for _ in range(2):
        run = govern("check", "--now", NOW, str(path.relative_to(demo_copy)), "--format", "json", cwd=demo_copy)
        assert run.code == 1
        (finding,) = run.json()["findings"]
        assert (finding["rule"], finding["location"]["line"], finding["location"]["path"], finding["message"]) == (
            "ACC-001",
            line,
            "access.model",
            "access.model is not set; it must be one of public, restricted, confidential; 'accesModel' at line"
            f" {line} looks like a misspelling of 'accessModel'",
        )
        assert "in an ODPS descriptor: the custom properties accessModel, consumers and approvers" in finding["remediation"]
    # (the product's only access property: ACC-001 is then about the access section as a whole)
    segments = demo_copy / M / "customers/segments/customers_segments.odps.yaml"
    segments.write_text(
        segments.read_text()
        .replace("  - property: accessModel", "  - property: accesModel")
        .replace("  - property: consumers\n    value: [marketing-team]\n", "")
        .replace("  - property: approvers\n    value: [priya.nair@example.com]\n", "")
    )
    line = next(i for i, row in enumerate(segments.read_text().splitlines(), 1) if "accesModel" in row)
    run = govern("check", "--now", NOW, str(segments.relative_to(demo_copy)), "--format", "json", cwd=demo_copy)
    acc = [f for f in run.json()["findings"] if f["rule"] == "ACC-001"]
    assert [(f["location"]["line"], f["location"]["path"], f["message"].rpartition("; ")[2]) for f in acc] == [
        (line, "access", f"'accesModel' at line {line} looks like a misspelling of 'accessModel'")
    ]


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("public", None),
        ("Public", "custom property visibility must be public or internal, not 'Public'"),
        ("[public]", "custom property visibility must be public or internal, not ['public']"),
    ],
)
def test_an_odps_port_visibility_is_public_or_internal_as_in_a_native_descriptor(govern, demo_copy, value, message):
    """(Public, or [public], passed as neither: the port escaped ACC-004, critical, and the product passed.)"""
    path = demo_copy / M / "customers/segments/customers_segments.odps.yaml"
    path.write_text(
        path.read_text().replace(
            "    contractId: customers-segments-v1\n",
            "    contractId: customers-segments-v1\n    customProperties:\n"
            f"      - property: visibility\n        value: {value}\n",
        )
    )
    run = govern("check", "--now", NOW, str(path.relative_to(demo_copy)), "--format", "json", cwd=demo_copy)
    product = run.json()["products"][0]
    if message is None:
        assert run.code == 1 and "ACC-004" not in {f["rule"] for f in run.json()["findings"]}  # (the product is internal)
    else:
        line = next(i for i, row in enumerate(path.read_text().splitlines(), 1) if row.endswith(f"value: {value}"))
        assert (run.code, product["errors"]) == (3, [f"{M}/customers/segments/customers_segments.odps.yaml:{line}: {message}"])


@pytest.mark.parametrize(("prop", "value"), [("sla", "daily"), ("monitoring", "[grafana]")])
def test_an_odps_sla_or_monitoring_that_is_no_mapping_is_an_error_at_its_line(govern, demo_copy, prop, value):
    """(It was taken for none: "product descriptor has no sla", as if it were not written.)"""
    path = demo_copy / M / "marketing/campaigns/marketing_campaigns.odps.yaml"
    text = path.read_text()
    start = text.index(f"  - property: {prop}\n")
    end = text.index("  - property:", start + 5) if "  - property:" in text[start + 5 :] else len(text)
    path.write_text(text[:start] + f"  - property: {prop}\n    value: {value}\n" + text[end:])
    run = govern("check", "--now", NOW, str(path.relative_to(demo_copy)), "--format", "json", cwd=demo_copy)
    line = next(i for i, row in enumerate(path.read_text().splitlines(), 1) if row == f"    value: {value}")
    kind = "a list" if value.startswith("[") else f"str {value!r}"
    assert (run.code, run.json()["products"][0]["errors"]) == (
        3,
        [f"{M}/marketing/campaigns/marketing_campaigns.odps.yaml:{line}: custom property {prop} must be a mapping, not {kind}"],
    )


def test_a_finding_of_a_missing_key_names_a_misspelt_key_beside_it_at_its_line(govern, demo_copy):
    """(The misspelt key, ignored as a key the descriptor does not know, was never named, and the
    finding pointed at the document's first line.) A contract's misspelt key is CON-001's."""
    descriptor = demo_copy / M / "orders/order_items/dataproduct.yaml"
    descriptor.write_text(descriptor.read_text().replace("classification: internal", "clasification: internal"))
    run = govern("check", "--now", NOW, f"{M}/orders/order_items", "--format", "json", cwd=demo_copy)
    line = next(i for i, row in enumerate(descriptor.read_text().splitlines(), 1) if row.startswith("clasification"))
    assert [(f["rule"], f["location"]["line"], f["location"]["path"], f["message"]) for f in run.json()["findings"]] == [
        (
            "CLS-001",
            line,
            "classification",
            "product has no classification; set one of public, internal, restricted, confidential; 'clasification' at line"
            f" {line} looks like a misspelling of 'classification'",
        )
    ]


def test_outside_any_project_the_error_says_no_govern_toml_was_found(govern, tmp_path):
    run = govern("check", str(REPO / M / "orders/order_items"), cwd=tmp_path)
    assert (run.code, run.err) == (
        2,
        "error: policy folder policies does not exist, and no govern.toml was found in this folder or above it: run govern"
        " in a project (see govern generate), or set --policies\n",
    )


def test_schema_input_prints_the_input_document_schema(govern):
    run = govern("schema", "input")
    assert run.code == 0
    schema = json.loads(run.out)
    assert set(schema["properties"]) == {"product", "contracts", "lineage", "domain", "params", "now"}
    assert "Product" in schema["$defs"] and "Contract" in schema["$defs"]


def test_every_input_document_of_the_demo_validates_against_the_printed_schema(govern):
    """What the rules see is what `govern schema input` says they see; an ODPS input port, which
    names only a contract, names the product that publishes it there too (docs/input.md)."""
    from datetime import UTC, datetime

    import jsonschema_rs

    from engine.backends.embedded import EmbeddedEngine
    from engine.config import load_settings
    from engine.evaluate import Evaluator
    from engine.gather.targets import check_targets
    from engine.governance import load_governance
    from engine.policy.library import load_library

    validator = jsonschema_rs.validator_for(json.loads(govern("schema", "input").out))
    settings = load_settings(start=REPO)
    mesh, targets = check_targets([settings.mesh], settings.mesh)
    library, governance = load_library(settings.policies), load_governance(settings.governance)
    evaluator = Evaluator(library, governance, EmbeddedEngine(), mesh, datetime(2026, 11, 21, tzinfo=UTC))
    documents = {t.id: json.loads(evaluator.request(t)[0]) for t in targets}
    assert len(documents) == 14
    for product, document in documents.items():
        assert [e.message for e in validator.iter_errors(document)] == [], product
    segments = documents["customers_segments"]
    assert segments["product"]["format"] == "odps"
    assert [port["product"] for port in segments["product"]["inputPorts"]] == ["customers_profiles"]
    assert [u["product"] for u in segments["lineage"]["upstream"]] == ["customers_profiles"]


def test_the_installed_command_checks_one_product(govern_process):
    run = govern_process("check", f"{M}/orders/order_items/dataproduct.yaml", "--format", "json")
    assert run.code == 0, run.err
    assert run.json()["products"][0]["verdict"] == "pass"


def test_the_installed_command_writes_all_its_output_before_it_exits(govern_process):
    """The command skips the interpreter's teardown (engine.cli.run): what it printed must be whole."""
    run = govern_process("audit", M, "--now", NOW, "--no-store", "--format", "json")
    assert run.code == 1
    assert len(run.out) > 6 * 8192  # several buffers of standard output, the last written by the final flush
    assert len(run.json()["products"]) == 14


def test_a_profiled_run_exits_normally_so_the_profile_is_written(tmp_path):
    import subprocess
    import sys

    out = tmp_path / "check.prof"
    argv = [sys.executable, "-m", "cProfile", "-o", str(out), "-m", "engine", "check", f"{M}/orders/order_items"]
    proc = subprocess.run(argv, capture_output=True, text=True, check=False)
    assert proc.returncode == 0, proc.stderr
    assert out.stat().st_size > 0


@pytest.mark.parametrize("index", ["--index", "--no-index"])
def test_a_product_reading_from_an_upstream_with_a_file_that_cannot_be_loaded_is_an_error(govern, demo_copy, index):
    """orders_returns reads orders-order-items-v1: when that file cannot be loaded, the check cannot
    vouch for orders_returns (it passed before, as if it read nothing), whichever way it is loaded."""
    contract = demo_copy / M / "orders/order_items/orders-order-items-v1.odcs.yaml"
    contract.write_text("")
    run = govern("check", "--now", NOW, index, f"{M}/orders/returns", "--format", "json", cwd=demo_copy)
    assert run.code == 3
    why = f"{M}/orders/order_items/orders-order-items-v1.odcs.yaml:1: the file is empty"
    assert [(p["id"], p["verdict"], p["errors"]) for p in run.json()["products"]] == [
        ("orders_returns", "error", [f"it reads from orders_order_items, a file of which could not be loaded: {why}"])
    ]
    audit = govern("audit", "--now", NOW, "--no-store", "--batch", "3", "--format", "json", cwd=demo_copy)
    assert audit.code == 3
    errors = {p["id"]: p["errors"] for p in audit.json()["products"] if p["verdict"] == "error"}
    assert errors["orders_returns"] == run.json()["products"][0]["errors"] and errors["orders_order_items"] == [why]


@pytest.mark.parametrize("index", ["--index", "--no-index"])
def test_a_product_naming_an_upstream_whose_descriptor_cannot_be_loaded_is_an_error(govern, demo_copy, index):
    """orders_order_items reads customers_profiles: when that descriptor cannot be loaded, the
    product is not "not in the mesh" (CON-007, a blocking failure) but broken: its readers cannot
    be judged, in a check and in an audit alike. An upstream no such file names stays CON-007."""
    descriptor = demo_copy / M / "customers/profiles/dataproduct.yaml"
    descriptor.write_text(descriptor.read_text() + "name: [\n")
    line = len(descriptor.read_text().splitlines())  # the unclosed list, its last line
    run = govern("check", "--now", NOW, index, f"{M}/orders/order_items", "--format", "json", cwd=demo_copy)
    assert run.code == 3
    why = f"{M}/customers/profiles/dataproduct.yaml:{line}: invalid YAML: while parsing a flow node"
    why += " did not find expected node content"
    expected = f"its input port names product customers_profiles, declared in a file that could not be loaded: {why}"
    assert [(p["id"], p["verdict"], p["errors"]) for p in run.json()["products"]] == [("orders_order_items", "error", [expected])]
    assert run.json()["findings"] == []
    audit = govern("audit", "--now", NOW, "--no-store", "--batch", "3", "--format", "json", cwd=demo_copy)
    assert audit.code == 3
    errors = {p["id"]: p["errors"] for p in audit.json()["products"] if p["verdict"] == "error"}
    assert errors == {
        f"{M}/customers/profiles/dataproduct.yaml": [why],
        "orders_order_items": [expected],
        "marketing_leads": [expected],
        # an ODPS port names only a contract, which the file publishes
        "customers_segments": [
            f"its input port names contract customers-profiles-v1, published in a file that could not be loaded: {why}"
        ],
    }
    # finance_gl_raw, which the demo lacks, is named by no such file
    assert [f["product"] for f in audit.json()["findings"] if f["rule"] == "CON-007"] == ["finance_ledger"]
    descriptor.unlink()  # gone, not broken: the upstream is not in the mesh
    run = govern("check", "--now", NOW, index, f"{M}/orders/order_items", "--format", "json", cwd=demo_copy)
    assert run.code == 1
    assert [(f["rule"], f["message"]) for f in run.json()["findings"]] == [
        ("CON-007", 'input port names product "customers_profiles", which is not in the mesh')
    ]


def test_an_upstream_descriptor_over_the_size_limit_is_named_by_its_readers_as_broken(govern, demo_copy):
    """A file over the limit is not read whole, but its top still says which product it is."""
    descriptor = demo_copy / M / "customers/profiles/dataproduct.yaml"
    with descriptor.open("a") as f:
        f.write("notes: " + "A" * (17 << 20) + "\n")
    run = govern("check", "--now", NOW, f"{M}/orders/order_items", "--format", "json", cwd=demo_copy)
    assert run.code == 3
    ((verdict, errors),) = [(p["verdict"], p["errors"]) for p in run.json()["products"]]
    assert verdict == "error"
    assert errors == [
        "its input port names product customers_profiles, declared in a file that could not be loaded: "
        f"{M}/customers/profiles/dataproduct.yaml: file is {descriptor.stat().st_size} bytes, larger than the limit of 16777216"
    ]


@pytest.mark.parametrize("command", [["check", "--now", NOW, f"{M}/orders/order_items"], ["policies"], ["lineage"]])
def test_output_dash_is_standard_output(govern, demo_copy, command):
    run = govern(*command, "--format", "json", "-o", "-", cwd=demo_copy)
    assert run.code == 0 and json.loads(run.out) and not (demo_copy / "-").exists()


@pytest.mark.parametrize("index", ["--index", "--no-index"])
def test_a_descriptor_named_otherwise_claiming_a_taken_id_is_an_error_saying_so(govern, demo_copy, index):
    """(It was dropped, and the check said there was nothing to check in it: exit 2.)"""
    folder = demo_copy / M / "inventory/warehouses"
    (folder / "other.yaml").write_text((folder / "dataproduct.yaml").read_text())
    run = govern("check", "--now", NOW, index, f"{M}/inventory/warehouses/other.yaml", "--format", "json", cwd=demo_copy)
    assert run.code == 3
    line = (folder / "other.yaml").read_text().splitlines().index("name: InventoryWarehouses") + 1
    assert [(p["verdict"], p["errors"]) for p in run.json()["products"]] == [
        (
            "error",
            [
                f"{M}/inventory/warehouses/other.yaml:{line}: product 'InventoryWarehouses' is already defined in "
                f"{M}/inventory/warehouses/dataproduct.yaml"
            ],
        )
    ]


@pytest.mark.parametrize("index", ["--index", "--no-index"])
def test_a_contract_no_product_publishes_with_the_id_of_a_product_of_the_mesh_is_an_error(govern, demo_copy, index):
    """Reported under its id, it would share the product's entry: an audit that took them in
    different batches listed orders_returns twice, with each other's findings."""
    (demo_copy / M / "shared").mkdir()
    returns = demo_copy / M / "orders/returns/orders-returns-v1.odcs.yaml"
    (demo_copy / M / "shared/x.odcs.yaml").write_text(returns.read_text().replace("id: orders-returns-v1", "id: orders_returns"))
    line = returns.read_text().splitlines().index("id: orders-returns-v1") + 1
    why = (
        f"{M}/shared/x.odcs.yaml:{line}: its id 'orders_returns' is also that of product orders_returns"
        f" ({M}/orders/returns/dataproduct.yaml), and no product publishes it: a contract on its own is reported under"
        " its id, so rename one of them"
    )
    run = govern("check", "--now", NOW, index, f"{M}/shared", "--format", "json", cwd=demo_copy)
    assert run.code == 3
    assert [(p["id"], p["verdict"], p["errors"]) for p in run.json()["products"]] == [(f"{M}/shared/x.odcs.yaml", "error", [why])]
    for batch in ("3", "100"):
        audit = govern("audit", "--now", NOW, "--no-store", "--batch", batch, "--format", "json", cwd=demo_copy)
        assert audit.code == 3
        products = audit.json()["products"]
        assert [p["verdict"] for p in products if p["id"] == "orders_returns"] == ["pass"]
        assert [p["errors"] for p in products if p["verdict"] == "error"] == [[why]]


def test_a_standalone_contract_with_the_id_of_a_product_checked_with_it_is_an_error(govern, demo_copy):
    """Findings are told apart by product id: the two would have shared each other's."""
    contract = demo_copy / "c.odcs.yaml"
    legacy = demo_copy / M / "orders/legacy_feed/orders-legacy-feed-v1.odcs.yaml"
    contract.write_text(legacy.read_text().replace("id: orders-legacy-feed-v1", "id: orders_legacy_feed"))
    run = govern("check", "--now", NOW, "c.odcs.yaml", f"{M}/orders/legacy_feed", "--format", "json", cwd=demo_copy)
    assert run.code == 3
    report = run.json()
    why = f"its id 'orders_legacy_feed' is also that of {M}/orders/legacy_feed/dataproduct.yaml, checked in the same run"
    assert [(p["id"], p["verdict"], p["errors"]) for p in report["products"]] == [
        ("orders_legacy_feed", "fail", []),
        ("c.odcs.yaml", "error", [f"c.odcs.yaml:1: {why}: check them apart"]),
    ]
    assert {f["location"]["file"] for f in report["findings"]} == {f"{M}/orders/legacy_feed/orders-legacy-feed-v1.odcs.yaml"}


@pytest.mark.parametrize("index", ["--index", "--no-index"])
def test_a_product_reached_through_a_link_to_the_repository_is_checked_in_the_configured_mesh(govern, demo_copy, tmp_path, index):
    """Judged by its spelling, such a path lay outside the configured mesh: the product was checked
    on its own, its upstreams missing (two false blocking CON-007), as wherever CI's paths and the
    working folder resolve differently (/tmp and /private/tmp)."""
    link = tmp_path / "link"
    link.symlink_to(demo_copy)
    direct = govern("check", "--now", NOW, index, f"{M}/orders/order_items", "--format", "json", cwd=demo_copy)
    through = govern("check", "--now", NOW, index, str(link / M / "orders/order_items"), "--format", "json", cwd=demo_copy)
    assert direct.code == through.code == 0
    assert {k: v for k, v in through.json().items() if k != "run"} == {k: v for k, v in direct.json().items() if k != "run"}
    assert [p["source"] for p in through.json()["products"]] == [f"{M}/orders/order_items/dataproduct.yaml"]

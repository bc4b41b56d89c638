"""Federation: council limits, domain parameters and enforcement, waivers, govern validate.

Each test works in a copy of the demo repository and changes one thing in the governance files.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import pytest

M = "examples/mesh"
NOW = "2026-11-21T09:00:00Z"
TODAY = datetime.now(UTC).date().isoformat()


def findings(govern, root: Path, target: str, *extra: str) -> list[dict]:
    run = govern("check", "--now", NOW, target, "--format", "json", *extra, cwd=root)
    assert run.code in (0, 1), run.out + run.err
    return run.json()["findings"]


def write(root: Path, relative: str, text: str) -> Path:
    path = root / relative
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


def validate(govern, root: Path, *extra: str):
    return govern("validate", "--now", NOW, *extra, cwd=root)


# --- parameters -------------------------------------------------------------------------------------


def test_domain_parameter_changes_findings_for_that_domain_only(govern, demo_copy):
    write(demo_copy, "governance/domains/inventory.yaml", 'domain: inventory\nparams:\n  NAM-001: {pattern: "^inv_[a-z_]+$"}\n')
    result = findings(govern, demo_copy, M)
    nam = {(f["product"], f["message"]) for f in result if f["rule"] == "NAM-001"}
    assert nam == {
        ("inventory_stock_levels", 'product name "inventory_stock_levels" does not match ^inv_[a-z_]+$'),
        ("InventoryWarehouses", 'product name "InventoryWarehouses" does not match ^inv_[a-z_]+$'),
    }


def test_parameters_reach_rules_as_input_params(govern, demo_copy):
    write(demo_copy, "governance/domains/orders.yaml", "domain: orders\nparams:\n  ORDERS-001: {key_column: return_id}\n")
    result = findings(govern, demo_copy, f"{M}/orders/returns")
    assert [f["message"] for f in result] == []  # orders-returns-v1 has a return_id column
    result = findings(govern, demo_copy, f"{M}/orders/order_items")
    assert [f["message"] for f in result if f["rule"] == "ORDERS-001"] == [
        "schema object order_items in orders-order-items-v1 has no return_id column"
    ]


@pytest.mark.parametrize(
    ("params", "line", "message"),
    [
        ("NAM-001: {pattern: 42}", 3, "params: NAM-001.pattern must be of type string, not 42"),
        ("NAM-001: {regex: x}", 3, "params: NAM-001 has no parameter 'regex' (declared: pattern)"),
        ("CLS-001: {level: x}", 3, "params: CLS-001 does not let domains set parameters (override: none)"),
        ("XYZ-001: {a: 1}", 3, "params: XYZ-001 is not a rule of the library"),
        ("STD-002: {columns: ingested_at}", 3, 'params: STD-002.columns must be of type array, not "ingested_at"'),
        ('NAM-001: {pattern: "(["}', 3, "params: NAM-001.pattern is not a valid regular expression: '(['"),
        # a look-ahead is Python's, not the syntax of Rego's regex builtins; {domain} becomes customers first
        (
            'NAM-003: {pattern: "^{domain}_(?=raw)"}',
            3,
            "params: NAM-003.pattern is not a valid regular expression: '^{domain}_(?=raw)'",
        ),
        # the council's limits: a level the council has not, a value it does not allow
        (
            "CLS-004: {min_level: nosuchlevel}",
            3,
            "params: CLS-004.min_level must name classification levels of the council (public, internal, restricted,"
            ' confidential), not "nosuchlevel"',
        ),
        (
            "ACC-001: {models: [public, open]}",
            3,
            'params: ACC-001.models items must be one of "public", "restricted", "confidential", not "open"',
        ),
        # taken by the embedded interpreter, not by OPA's RE2: every product would be an error under OPA
        (
            'NAM-001: {pattern: "^customers_[a-z0-9_]++$"}',
            3,
            "params: NAM-001.pattern is not a valid regular expression: '^customers_[a-z0-9_]++$'",
        ),
        (
            'NAM-001: {pattern: "(?x) ^customers_ [a-z]+"}',
            3,
            "params: NAM-001.pattern is not a valid regular expression: '(?x) ^customers_ [a-z]+'",
        ),
        (
            'NAM-001: {pattern: "^customers_a{1001}"}',
            3,
            "params: NAM-001.pattern is not a valid regular expression: '^customers_a{1001}'",
        ),
        # (a pattern that would let any name through, or any after the prefix: the rule's rejects)
        (
            'NAM-001: {pattern: ".*"}',
            3,
            'params: NAM-001.pattern \'.*\' matches "customers", "customers_", "OrderItems", "customers_OrderItems",'
            ' "customers-order-items", "other_order_items", which the council\'s rule says it must not (rejects)',
        ),
        (
            'NAM-001: {pattern: "^customers_"}',
            3,
            'params: NAM-001.pattern \'^customers_\' matches "customers_", "customers_OrderItems", which the council\'s rule'
            " says it must not (rejects)",
        ),
    ],
)
def test_invalid_parameters_are_rejected_with_file_and_line(govern, demo_copy, params, line, message):
    write(demo_copy, "governance/domains/customers.yaml", f"domain: customers\nparams:\n  {params}\n")
    run = validate(govern, demo_copy)
    assert run.code == 3
    assert f"governance/domains/customers.yaml:{line}: {message}" in run.out.splitlines()


def test_a_domain_may_narrow_a_pattern_within_what_the_rule_rejects(govern, demo_copy):
    write(
        demo_copy,
        "governance/domains/customers.yaml",
        'domain: customers\nparams:\n  NAM-001: {pattern: "^customers_(raw|curated)_[a-z0-9_]+$"}\n',
    )
    assert validate(govern, demo_copy).code == 0


# --- enforcement ------------------------------------------------------------------------------------


def test_domain_lowering_enforcement_is_rejected_by_validate(govern, demo_copy):
    write(demo_copy, "governance/domains/marketing.yaml", "domain: marketing\nenforcement:\n  ACC-002: warning\n")
    run = validate(govern, demo_copy)
    assert run.code == 3
    assert run.out.splitlines() == [
        "governance/domains/marketing.yaml:3: enforcement: ACC-002 may not be lowered from blocking to warning "
        "(domains may only tighten)"
    ]


def test_check_refuses_to_run_on_invalid_configuration(govern, demo_copy):
    write(demo_copy, "governance/domains/marketing.yaml", "domain: marketing\nenforcement:\n  ACC-002: advisory\n")
    run = govern("check", "--now", NOW, f"{M}/orders/returns", cwd=demo_copy)
    assert run.code == 3
    assert "the policies or the governance configuration are invalid (1 problem; run govern validate)" in run.err
    assert "governance/domains/marketing.yaml:3: enforcement: ACC-002 may not be lowered" in run.err


def test_domain_raises_enforcement_for_its_products_only(govern, demo_copy):
    write(demo_copy, "governance/domains/marketing.yaml", "domain: marketing\nenforcement:\n  STD-004: blocking\n")
    result = findings(govern, demo_copy, M)
    assert {f["enforcement"] for f in result if f["rule"] == "STD-004"} == {"blocking"}
    write(demo_copy, "governance/domains/marketing.yaml", "domain: marketing\n")
    result = findings(govern, demo_copy, M)
    assert {f["enforcement"] for f in result if f["rule"] == "STD-004"} == {"warning"}


def test_council_effective_on_demotes_blocking_until_the_date(govern, demo_copy):
    # council.yaml: STD-004 {enforcement: blocking, effective_on: 2027-03-01}
    leads = f"{M}/marketing/leads"
    before = findings(govern, demo_copy, leads)
    after = govern("check", "--now", "2027-03-01T00:00:00Z", leads, "--format", "json", cwd=demo_copy).json()["findings"]
    assert {f["enforcement"] for f in before if f["rule"] == "STD-004"} == {"warning"}
    assert {f["enforcement"] for f in after if f["rule"] == "STD-004"} == {"blocking"}


def test_council_can_change_a_rules_enforcement(govern, demo_copy):
    council = demo_copy / "governance/council.yaml"
    council.write_text(council.read_text() + "  NAM-002: {enforcement: advisory}\n")
    result = findings(govern, demo_copy, f"{M}/inventory/warehouses")
    assert {f["enforcement"] for f in result if f["rule"] == "NAM-002"} == {"advisory"}
    assert {f["enforcement"] for f in result if f["rule"] == "NAM-001"} == {"blocking"}


def test_annotation_enforcement_applies_without_council_or_domain(govern, demo_copy):
    result = findings(govern, demo_copy, f"{M}/inventory/warehouses")
    assert {f["enforcement"] for f in result if f["rule"] == "NAM-002"} == {"blocking"}


# --- domain policies --------------------------------------------------------------------------------


def test_domain_rules_run_only_for_that_domains_products(govern, demo_copy):
    result = findings(govern, demo_copy, M)
    assert {f["product"] for f in result if f["rule"] == "ORDERS-001"} == {"orders_legacy_feed"}


@pytest.mark.parametrize(
    ("call", "why"),
    [
        (
            'http.send({"method": "get", "url": "http://x"})',
            "policy calls http.send, which rules may not use (not evaluable everywhere, or reaches outside input)",
        ),
        # (put in another function's place, it is called all the same: OPA servers would send it; the
        # embedded engine, which has no http.send, cannot evaluate the rule at all)
        (
            'x := json.marshal({"method": "get", "url": "http://x"}) with json.marshal as http.send',
            "invalid Rego: use of undefined variable `http` is unsafe",
        ),
    ],
)
def test_policy_reaching_the_network_is_rejected(govern, demo_copy, call, why):
    write(
        demo_copy,
        "policies/domains/orders/leak.rego",
        (demo_copy / "policies/domains/orders/order_key.rego")
        .read_text()
        .replace("ORDERS-001", "ORDERS-002")
        .replace("package domains.orders.order_key", "package domains.orders.leak")
        .replace("	not _has_column(object, key)\n", f"	not _has_column(object, key)\n	{call}\n"),
    )
    run = validate(govern, demo_copy)
    assert run.code == 3
    leak = (demo_copy / "policies/domains/orders/leak.rego").read_text().splitlines()
    line = next(i for i, text in enumerate(leak, 1) if "http.send" in text)
    assert [text for text in run.out.splitlines() if "leak.rego" in text and "has no tests" not in text] == [
        f"policies/domains/orders/leak.rego:{line}: {why}"
    ]


def test_the_embedded_engine_reaches_no_network_and_no_environment(monkeypatch):
    """Beyond validate: even a rule that slipped past it learns nothing in the embedded engine
    (regorus): opa.runtime() has no env, http.send is undefined, net.* does not exist."""
    from engine.backends.embedded import new_engine

    monkeypatch.setenv("GOVERN_SECRET", "s3cret")
    engine = new_engine()
    runtime = engine.eval_query("opa.runtime()")["result"][0]["expressions"][0]["value"]
    assert "env" not in runtime and "s3cret" not in json.dumps(runtime)
    assert engine.eval_query('http.send({"method": "get", "url": "http://127.0.0.1:9"})') == {"result": []}
    with pytest.raises(RuntimeError, match="could not find function net.lookup_ip_addr"):
        engine.eval_query('net.lookup_ip_addr("example.com")')


# --- waivers ----------------------------------------------------------------------------------------

WAIVER = """\
domain: marketing
waivers:
  - rule: ACC-002
    product: marketing_leads
    reason: Consumers are being agreed with the sales domain
    ticket: GOV-200
    approved_by: bob@example.com
    expires: {expires}
"""


def test_waiver_turns_a_finding_waived_until_it_expires(govern, demo_copy):
    write(demo_copy, "governance/domains/marketing.yaml", WAIVER.format(expires="2027-01-31"))
    report = govern("check", "--now", NOW, f"{M}/marketing/leads", "--format", "json", cwd=demo_copy).json()
    acc = next(f for f in report["findings"] if f["rule"] == "ACC-002")
    assert acc["status"] == "waived"
    assert acc["waiver"]["ticket"] == "GOV-200" and acc["waiver"]["expires"] == "2027-01-31"
    assert [w["rule"] for w in report["waivers"]["applied"]] == ["ACC-002"]
    assert report["waivers"]["applied"][0]["findings"] == [acc["fingerprint"]]

    later = govern("check", "--now", "2027-02-01T00:00:00Z", f"{M}/marketing/leads", "--format", "json", cwd=demo_copy).json()
    acc_later = next(f for f in later["findings"] if f["rule"] == "ACC-002")
    assert acc_later["status"] == "open" and acc_later["waiver"] is None
    assert acc_later["fingerprint"] == acc["fingerprint"]
    assert [(w["rule"], w["file"], w["line"]) for w in later["waivers"]["expired"]] == [
        ("ACC-002", "governance/domains/marketing.yaml", 3)
    ]
    assert later["waivers"]["applied"] == []


def test_as_of_a_day_before_a_waivers_approval_it_is_not_filed_yet(govern, demo_copy):
    """(--now before a waiver's approved_on made the whole configuration invalid, exit 3: no run
    could look back past the latest approval.) The waiver neither applies nor is listed then."""
    waiver = WAIVER.format(expires="2027-01-31").replace("    expires:", "    approved_on: 2026-11-15\n    expires:")
    write(demo_copy, "governance/domains/marketing.yaml", waiver)
    before = govern("check", "--now", "2026-11-10T00:00:00Z", f"{M}/marketing/leads", "--format", "json", cwd=demo_copy)
    assert before.code == 1, before.err
    report = before.json()
    assert [f["status"] for f in report["findings"] if f["rule"] == "ACC-002"] == ["open"]
    assert report["waivers"] == {"applied": [], "expiring": [], "expired": [], "unused": []}
    after = findings(govern, demo_copy, f"{M}/marketing/leads")
    assert [f["status"] for f in after if f["rule"] == "ACC-002"] == ["waived"]


def test_waived_findings_do_not_fail_the_product(govern, demo_copy):
    contract = demo_copy / M / "orders/legacy_feed/orders-legacy-feed-v1.odcs.yaml"
    contract.write_text(contract.read_text().replace('version: "v1"', "version: 1.0.0").replace("version: v1", "version: 1.0.0"))
    run = govern("check", "--now", NOW, f"{M}/orders/legacy_feed", "--format", "json", cwd=demo_copy)
    report = run.json()
    assert sorted((f["rule"], f["status"], f["enforcement"]) for f in report["findings"]) == [
        ("ORDERS-001", "open", "warning"),
        ("STD-002", "waived", "blocking"),
    ]
    assert report["products"][0]["verdict"] == "pass"
    assert run.code == 0


def test_waiver_expiring_within_14_days_is_listed(govern, demo_copy):
    write(demo_copy, "governance/domains/marketing.yaml", WAIVER.format(expires="2026-12-01"))
    report = govern("check", "--now", NOW, f"{M}/marketing/leads", "--format", "json", cwd=demo_copy).json()
    assert [w["rule"] for w in report["waivers"]["expiring"]] == ["ACC-002"]
    assert [w["rule"] for w in report["waivers"]["applied"]] == ["ACC-002"]
    # 15 days away: applied, not expiring (NOW is 2026-11-21)
    write(demo_copy, "governance/domains/marketing.yaml", WAIVER.format(expires="2026-12-06"))
    report = govern("check", "--now", NOW, f"{M}/marketing/leads", "--format", "json", cwd=demo_copy).json()
    assert [w["rule"] for w in report["waivers"]["expiring"]] == []
    assert [w["rule"] for w in report["waivers"]["applied"]] == ["ACC-002"]


def test_waiver_that_matches_nothing_is_unused(govern, demo_copy):
    write(
        demo_copy,
        "governance/domains/marketing.yaml",
        WAIVER.format(expires="2027-01-31").replace("marketing_leads", "marketing_campaigns"),
    )
    report = govern("check", "--now", NOW, f"{M}/marketing", "--format", "json", cwd=demo_copy).json()
    assert [(w["rule"], w["product"]) for w in report["waivers"]["unused"]] == [("ACC-002", "marketing_campaigns")]


@pytest.mark.parametrize("index", ["--index", "--no-index"])
def test_a_check_lists_its_domains_waivers_naming_a_product_the_mesh_does_not_have(govern, demo_copy, index):
    """(A waiver for a misspelt product showed only in an audit, or a check of the whole mesh: a
    team checking its own products never saw that it covered nothing.)"""
    write(
        demo_copy,
        "governance/domains/marketing.yaml",
        WAIVER.format(expires="2027-01-31").replace("marketing_leads", "marketing_lead"),
    )
    for folder in (f"{M}/marketing/leads", f"{M}/marketing"):
        report = govern("check", "--now", NOW, index, folder, "--format", "json", cwd=demo_copy).json()
        assert [(w["rule"], w["product"], w["line"]) for w in report["waivers"]["unused"]] == [("ACC-002", "marketing_lead", 3)]
    # (any check of a marketing product lists it: it can cover none of them; another domain's does not)
    campaigns = govern("check", "--now", NOW, index, f"{M}/marketing/campaigns", "--format", "json", cwd=demo_copy).json()
    assert [w["product"] for w in campaigns["waivers"]["unused"]] == ["marketing_lead"]
    returns = govern("check", "--now", NOW, index, f"{M}/orders/returns", "--format", "json", cwd=demo_copy).json()
    assert returns["waivers"] == {"applied": [], "expiring": [], "expired": [], "unused": []}
    # (a waiver of a product the mesh has is listed by the checks of that product only, as before)
    write(demo_copy, "governance/domains/marketing.yaml", WAIVER.format(expires="2027-01-31"))
    campaigns = govern("check", "--now", NOW, index, f"{M}/marketing/campaigns", "--format", "json", cwd=demo_copy).json()
    assert campaigns["waivers"]["unused"] == []


@pytest.mark.parametrize(
    ("resource", "status"), [("legacy_orders.processed_at", "waived"), ("legacy_orders.ingested_at", "open")]
)
def test_waiver_can_be_narrowed_to_a_resource(govern, demo_copy, resource, status):
    orders = demo_copy / "governance/domains/orders.yaml"
    orders.write_text(
        orders.read_text().replace(
            "    product: orders_legacy_feed\n", f"    product: orders_legacy_feed\n    resource: {resource}\n"
        )
    )
    result = findings(govern, demo_copy, f"{M}/orders/legacy_feed")
    assert [(f["resource"], f["status"]) for f in result if f["rule"] == "STD-002"] == [("legacy_orders.processed_at", status)]


@pytest.mark.parametrize(
    ("change", "line", "message"),
    [
        (("rule: ACC-002", "rule: NAM-001"), 3, "waiver of NAM-001: the rule is not waivable (override: params)"),
        (
            ("approved_by: bob@example.com", "approved_by: mallory@example.com"),
            7,
            "waiver of ACC-002 for marketing_leads: approved_by 'mallory@example.com' is not a council member",
        ),
        (
            ("expires: 2027-01-31", "expires: 2027-12-31"),
            8,
            "waiver of ACC-002 for marketing_leads: expires 405 days after today, more than the council's maximum of 180",
        ),
        (
            # counted from a later approval, the waiver could last as long as its author likes
            ("expires: 2027-01-31", "approved_on: 2099-01-01\n    expires: 2099-06-01"),
            8,
            # (today: the later of the clock's day and the day of the run, --now)
            f"waiver of ACC-002 for marketing_leads: approved_on 2099-01-01 is after today ({max(NOW[:10], TODAY)}); "
            "a waiver is approved before it is used",
        ),
        (
            ("expires: 2027-01-31", "approved_on: 2026-11-01\n    expires: 2026-10-01"),
            9,
            "waiver of ACC-002 for marketing_leads: expires on 2026-10-01, before its approval on 2026-11-01",
        ),
        (("    approved_by: bob@example.com\n", ""), 3, "waivers[0].approved_by: Field required"),
        (("    ticket: GOV-200\n", ""), 3, "waivers[0].ticket: Field required"),
        (("ticket: GOV-200", "ticket: ''"), 6, "waivers[0].ticket: String should have at least 1 character"),
        # another domain's rule is not a rule of the library here, whatever its override
        (("rule: ACC-002", "rule: ORDERS-001"), 3, "waiver of ORDERS-001: not a rule of the library"),
        (("    expires: 2027-01-31\n", ""), 3, "waivers[0].expires: Field required"),
        (("expires: 2027-01-31", "expires: someday"), 8, "'someday' is not a date (YYYY-MM-DD)"),
    ],
)
def test_invalid_waivers_are_rejected(govern, demo_copy, change, line, message):
    write(demo_copy, "governance/domains/marketing.yaml", WAIVER.format(expires="2027-01-31").replace(*change))
    run = validate(govern, demo_copy)
    assert run.code == 3
    problem = run.out.splitlines()[0]
    assert problem.startswith(f"governance/domains/marketing.yaml:{line}: ")
    assert message in problem


# --- council and domain files ------------------------------------------------------------------------


def test_domain_file_for_an_unregistered_domain_is_rejected(govern, demo_copy):
    write(demo_copy, "governance/domains/shipping.yaml", "domain: shipping\n")
    run = validate(govern, demo_copy)
    assert run.out.splitlines() == ["governance/domains/shipping.yaml:1: domain 'shipping' is not registered in council.yaml"]


def test_domain_file_must_match_its_name(govern, demo_copy):
    write(demo_copy, "governance/domains/customers.yaml", "domain: custmers\n")
    run = validate(govern, demo_copy)
    assert run.code == 3
    assert "governance/domains/customers.yaml:1: domain 'custmers' does not match the file name customers.yaml" in run.out


def test_unknown_keys_in_council_config_are_errors(govern, demo_copy):
    council = demo_copy / "governance/council.yaml"
    council.write_text(council.read_text().replace("max_waiver_days: 180", "max_waiver_days: 180\n  max_waiver: 3"))
    run = validate(govern, demo_copy)
    assert run.code == 3
    assert (
        "governance/council.yaml:5: invalid council configuration: council.max_waiver: Extra inputs are not permitted\n"
        == run.out
    )


def test_every_problem_of_a_configuration_file_is_listed_at_its_own_line(govern, demo_copy):
    """(They were joined on one line, each after the first with "(line N)" at its end, and a domain
    file's counted as one problem.)"""
    council = demo_copy / "governance/council.yaml"
    text = council.read_text()
    council.write_text(text.replace("max_waiver_days: 180", "max_waiver_day: 180").replace("2027-03-01", '"2027-31-03"'))
    run = validate(govern, demo_copy)
    # (council.yaml's were one error with details, unlike a domain file's: listed as every other problem)
    assert (run.code, run.err) == (3, "2 problems found\n")
    assert run.out == (
        "governance/council.yaml:4: invalid council configuration: council.max_waiver_day: Extra inputs are not"
        " permitted\n"
        "governance/council.yaml:23: invalid council configuration: rules.STD-004.effective_on: '2027-31-03'"
        " is not a date (YYYY-MM-DD)\n"
    )
    council.write_text(text)
    orders = demo_copy / "governance/domains/orders.yaml"
    orders.write_text(
        orders.read_text().replace("STD-003: blocking", "STD-003: critical").replace("ticket: GOV-142", "tiket: GOV-142")
    )
    run = validate(govern, demo_copy)
    assert (run.code, run.out, run.err) == (
        3,
        "governance/domains/orders.yaml:6: invalid domain configuration: enforcement.STD-003: Input should be 'blocking',"
        " 'warning' or 'advisory'\n"
        "governance/domains/orders.yaml:8: invalid domain configuration: waivers[0].ticket: Field required\n"
        "governance/domains/orders.yaml:11: invalid domain configuration: waivers[0].tiket: Extra inputs are not permitted\n",
        "3 problems found\n",
    )


def test_a_domain_file_with_problems_of_form_is_still_judged_against_the_councils_limits(govern, demo_copy):
    """(A wrong type, an unknown key or a bad date hid every other problem of the file: the team
    fixed one and met the next, in as many rounds.) The entries with such a problem are left out and
    the rest is judged, each problem at its own line, a waiver after a left-out one at its own."""
    marketing = demo_copy / "governance/domains/marketing.yaml"
    marketing.write_text(
        "domain: marketing\n"
        "enforcement:\n"
        "  ACC-001: warning\n"
        "  STD-005: blockng\n"
        "params:\n"
        "  NAM-003: {max_length: 3}\n"
        "waivers:\n"
        "  - {rule: ACC-002, product: marketing_leads, reason: r, ticket: 12,"
        " approved_by: bob@example.com, expires: 2027-01-31}\n"
        "  - {rule: ACC-003, product: marketing_leads, reason: r, ticket: T-1,"
        " approved_by: marketing-team, expires: 2027-01-31}\n"
    )
    run = validate(govern, demo_copy)
    m = "governance/domains/marketing.yaml"
    assert (run.code, run.err) == (3, "5 problems found\n")
    assert run.out.splitlines() == [
        f"{m}:3: enforcement: ACC-001 may not be lowered from blocking to warning (domains may only tighten)",
        f"{m}:4: invalid domain configuration: enforcement.STD-005: Input should be 'blocking', 'warning' or 'advisory'",
        f"{m}:6: params: NAM-003 has no parameter 'max_length' (declared: pattern)",
        f"{m}:8: invalid domain configuration: waivers[0].ticket: Input should be a valid string (YAML read a number here:"
        " put the value in quotes)",
        f"{m}:9: waiver of ACC-003 for marketing_leads: approved_by 'marketing-team' is not a council member",
    ]
    check = govern("check", "--now", NOW, "examples/mesh/marketing/leads", cwd=demo_copy)
    assert check.code == 3  # (a run refuses the configuration all the same)
    assert check.err.startswith("error: the policies or the governance configuration are invalid (5 problems; run govern")


def test_validate_without_a_council_file_is_an_error_not_a_problem_of_a_file(govern, demo_copy):
    (demo_copy / "governance/council.yaml").unlink()
    run = validate(govern, demo_copy)
    assert (run.code, run.out) == (3, "")
    assert run.err == "error: council configuration governance/council.yaml does not exist (set --governance)\n"


@pytest.mark.parametrize("days", ["0", "-5", "true", '"180"', "90.5"])
def test_max_waiver_days_is_a_whole_number_of_days(govern, demo_copy, days):
    council = demo_copy / "governance/council.yaml"
    council.write_text(council.read_text().replace("max_waiver_days: 180", f"max_waiver_days: {days}"))
    run = validate(govern, demo_copy)
    assert run.code == 3
    line = next(i for i, t in enumerate(council.read_text().splitlines(), 1) if "max_waiver_days" in t)
    assert f"governance/council.yaml:{line}: invalid council configuration: council.max_waiver_days: " in run.out


def test_demo_configuration_is_valid(govern):
    run = govern("validate", "--now", NOW)
    assert run.code == 0
    assert run.out == "valid: 34 rules, 5 registered domains, 3 domain configurations, 2 waivers\n"


def test_council_effective_on_must_be_a_date(govern, demo_copy):
    council = demo_copy / "governance/council.yaml"
    council.write_text(council.read_text().replace("effective_on: 2027-03-01", "effective_on: next spring"))
    run = validate(govern, demo_copy)
    assert run.code == 3
    line = next(i for i, t in enumerate(council.read_text().splitlines(), 1) if "next spring" in t)
    assert f"governance/council.yaml:{line}: invalid council configuration: rules.STD-004.effective_on: " in run.out
    assert "'next spring' is not a date (YYYY-MM-DD)" in run.out


def test_validate_lists_every_broken_policy_and_test_file_with_the_other_problems(govern, demo_copy):
    broken = 'package {}\n\ndeny contains "x" if {{ input.a == }}\n'
    write(demo_copy, "policies/domains/orders/a.rego", broken.format("domains.orders.a"))
    write(demo_copy, "policies/domains/orders/b.rego", broken.format("domains.orders.b"))
    write(demo_copy, "policy_tests/broken_test.rego", "package broken_test\n\ntest_x if { 1 == }\n")
    marketing = demo_copy / "governance/domains/marketing.yaml"
    marketing.write_text(marketing.read_text().replace("ACC-003: blocking", "ACC-003: advisory"))
    run = validate(govern, demo_copy)
    assert run.code == 3
    assert run.out.splitlines() == [  # (file by file, in the order of their lines)
        "governance/domains/marketing.yaml:3: enforcement: ACC-003 may not be lowered from warning to advisory "
        "(domains may only tighten)",
        "policies/domains/orders/a.rego:3: invalid Rego: expecting expression",
        "policies/domains/orders/b.rego:3: invalid Rego: expecting expression",
        "policy_tests/broken_test.rego:3: invalid Rego: expecting expression",
    ]
    assert run.err == "4 problems found\n"
    # the tests' lint is kept in the cache: the same again, and the test file's change is seen
    assert (validate(govern, demo_copy).out, validate(govern, demo_copy).err) == (run.out, run.err)
    write(demo_copy, "policy_tests/broken_test.rego", "package broken_test\n\ntest_x if { 1 == 1 }\n")
    assert validate(govern, demo_copy).out.splitlines() == run.out.splitlines()[:3]


def test_the_cached_lint_of_the_tests_follows_where_a_linked_test_file_leads(govern, demo_copy):
    """A test file is a domain's by where it lies once links are followed: a link moved from a
    file outside the test folder to one in a domain's folder, same bytes, is seen."""
    text = "package global.extra_test\n\ntest_x if { true }\n"
    outside, inside = (
        write(demo_copy, "elsewhere/extra.rego", text),
        write(demo_copy, "policy_tests/domains/orders/extra.txt", text),
    )
    link = demo_copy / "policy_tests/domains/orders/extra_test.rego"
    link.symlink_to(outside)
    assert validate(govern, demo_copy).code == 0
    link.unlink()
    link.symlink_to(inside)
    run = validate(govern, demo_copy)
    assert (run.code, run.out) == (
        3,
        "policy_tests/domains/orders/extra_test.rego:1: package global.extra_test is outside domains.orders: a domain's"
        " tests may only declare packages under domains.orders\n",
    )


@pytest.mark.parametrize(
    ("kind", "value", "accepted"),
    [
        ("number", 1.5, True),
        ("number", float("inf"), False),  # (JSON has no infinity: the rule would get null)
        ("number", float("nan"), False),
        ("array", [1, float("nan")], False),
        ("number", True, False),
        ("integer", 1.0, False),
        ("object", {"a": [1]}, True),
    ],
)
def test_a_domains_parameter_value_must_reach_the_rule_as_written(kind, value, accepted):
    from engine.model import ParamSpec

    assert ParamSpec(type=kind, default={"number": 1, "integer": 1, "array": [], "object": {}}[kind]).accepts(value) is accepted


def test_a_policy_folder_of_an_unregistered_domain_is_rejected(govern, demo_copy):
    """(As a configuration file of one is: the council decides which domains there are.)"""
    rule = (demo_copy / "policies/domains/orders/order_key.rego").read_text()
    rule = rule.replace("package domains.orders.order_key", "package domains.shipping.order_key")
    rule = rule.replace("ORDERS-001", "SHIPPING-001")
    write(demo_copy, "policies/domains/shipping/order_key.rego", rule)
    line = rule.splitlines().index("package domains.shipping.order_key") + 1
    run = validate(govern, demo_copy)
    assert run.code == 3
    assert f"policies/domains/shipping/order_key.rego:{line}: domain 'shipping' is not registered in council.yaml" in run.out


@pytest.mark.parametrize(("member", "shown"), [("42", "42"), ('{"nomsg": 1}', '{"nomsg": 1}'), ('{"msg": 5}', '{"msg": 5}')])
def test_a_rule_denying_what_is_no_finding_ends_the_product_in_error_saying_what(govern, demo_copy, member, shown):
    """A finding is a message or an object with a msg (docs/rules.md): anything else is the rule's
    bug, shown as an error of the product rather than as a finding with a made-up message."""
    rule = (demo_copy / "policies/domains/orders/order_key.rego").read_text()
    head = rule[: rule.index("package domains.orders.order_key")]
    write(
        demo_copy,
        "policies/domains/orders/order_key.rego",
        head + f"package domains.orders.order_key\n\ndeny contains {member} if {{ true }}\n",
    )
    run = govern("check", "--now", NOW, f"{M}/orders/returns", "--format", "json", cwd=demo_copy)
    assert run.code == 3
    (product,) = run.json()["products"]
    assert product["verdict"] == "error"
    at = f"policies/domains/orders/order_key.rego:{head.count(chr(10)) + 1}"
    assert product["errors"] == [
        f"rule ORDERS-001 could not be evaluated: it denied {shown}, which is neither a message nor an object with a msg"
        f" (the rule is at {at})"
    ]

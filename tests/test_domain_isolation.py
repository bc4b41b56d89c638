"""Domain isolation: what a domain controls (its policy folder, its governance file) cannot reach
the council's rules or another domain's.

A domain cannot change global packages or helpers or another domain's rules, cannot take a global
rule's id, cannot set parameters or enforcement of another domain's rule, cannot waive another
domain's products and cannot approve its own waivers. Each attempt is refused by ``govern validate``
with file:line (and ``check`` refuses to run), or has no effect on findings. Which files a domain
may edit at all is the repository's business (CODEOWNERS, see docs/federation.md).
"""

from __future__ import annotations

import pytest

from tests.test_federation import NOW, WAIVER, M, findings, validate, write

ORDER_KEY = "policies/domains/orders/order_key.rego"


@pytest.mark.parametrize(
    "package",
    [
        "global.naming.product_name",  # a global rule's package
        "global.lib.values",  # a global helper
        "domains.marketing.order_key",  # another domain's namespace
        "domains.ordersx.order_key",  # a lookalike of its own
    ],
)
def test_a_domain_policy_cannot_declare_a_package_outside_its_namespace(govern, demo_copy, package):
    path = demo_copy / ORDER_KEY
    path.write_text(path.read_text().replace("package domains.orders.order_key", f"package {package}"))
    line = path.read_text().splitlines().index(f"package {package}") + 1
    expected = f"{ORDER_KEY}:{line}: package {package} is outside domains.orders"
    run = validate(govern, demo_copy)
    assert run.code == 3
    assert any(problem.startswith(expected) for problem in run.out.splitlines())
    check = govern("check", "--now", NOW, f"{M}/orders/returns", cwd=demo_copy)
    assert check.code == 3
    assert expected in check.err


def test_a_domain_rule_cannot_take_a_global_rules_id(govern, demo_copy):
    path = demo_copy / ORDER_KEY
    path.write_text(path.read_text().replace("id: ORDERS-001", "id: NAM-001"))
    line = path.read_text().splitlines().index("#   id: NAM-001") + 1
    run = validate(govern, demo_copy)
    assert run.code == 3
    assert run.out.splitlines() == [
        f"{ORDER_KEY}:{line}: rule id 'NAM-001' of domain orders must use the domain as prefix: ORDERS-<nnn>"
    ]


def test_a_domain_rule_cannot_take_an_id_its_domain_uses_already(govern, demo_copy):
    path = demo_copy / ORDER_KEY
    copy = path.with_name("order_key_again.rego")
    copy.write_text(path.read_text().replace("package domains.orders.order_key", "package domains.orders.order_key_again"))
    line = copy.read_text().splitlines().index("#   id: ORDERS-001") + 1
    run = validate(govern, demo_copy)
    assert run.code == 3
    again = ORDER_KEY.replace("order_key", "order_key_again")
    assert f"{again}:{line}: rule id ORDERS-001 is also that of {ORDER_KEY}: an id is never reused (this module is left out;" in (
        run.out
    )


@pytest.mark.parametrize(
    ("setting", "message"),
    [
        ("params:\n  ORDERS-001: {key_column: lead_id}\n", "params: ORDERS-001 is not a rule of the library"),
        ("enforcement:\n  ORDERS-001: blocking\n", "enforcement: ORDERS-001 is not a rule of the library"),
    ],
)
def test_a_domain_cannot_tune_another_domains_rule(govern, demo_copy, setting, message):
    write(demo_copy, "governance/domains/marketing.yaml", f"domain: marketing\n{setting}")
    run = validate(govern, demo_copy)
    assert run.code == 3
    assert run.out.splitlines() == [f"governance/domains/marketing.yaml:3: {message}"]


def test_a_domain_cannot_waive_another_domains_product(govern, demo_copy):
    finance = WAIVER.format(expires="2027-01-31").replace("domain: marketing", "domain: finance")
    write(demo_copy, "governance/domains/finance.yaml", finance)
    run = govern("check", "--now", NOW, f"{M}/marketing/leads", "--format", "json", cwd=demo_copy)
    assert run.code == 1
    report = run.json()
    assert {f["status"] for f in report["findings"] if f["rule"] == "ACC-002"} == {"open"}
    assert [(w["rule"], w["product"], w["file"]) for w in report["waivers"]["unused"]] == [
        ("ACC-002", "marketing_leads", "governance/domains/finance.yaml")
    ]
    assert report["waivers"]["applied"] == []


def test_a_domain_cannot_approve_its_own_waivers(govern, demo_copy):
    council = demo_copy / "governance/council.yaml"
    council.write_text(council.read_text().replace("owners: [orders-team]", "owners: [orders-team, alice@example.com]"))
    run = validate(govern, demo_copy)
    assert run.code == 3
    line = (demo_copy / "governance/domains/orders.yaml").read_text().splitlines().index("    approved_by: alice@example.com") + 1
    assert run.out.splitlines() == [
        f"governance/domains/orders.yaml:{line}: waiver of STD-002 for orders_legacy_feed: approved_by "
        "'alice@example.com' owns the orders domain, and a domain cannot approve its own waivers"
    ]
    check = govern("check", "--now", NOW, f"{M}/orders/legacy_feed", cwd=demo_copy)
    assert check.code == 3


def test_a_domain_policy_cannot_change_global_findings(govern, demo_copy):
    """A domain module that redefines ``deny`` of a global package by a rule-head reference only
    defines rules inside its own package: the global rule's findings are unchanged."""
    before = findings(govern, demo_copy, f"{M}/orders/legacy_feed")
    path = demo_copy / ORDER_KEY
    path.write_text(path.read_text() + "\nglobal.contracts.contract_version.deny := set()\n")
    assert validate(govern, demo_copy).code == 0
    after = findings(govern, demo_copy, f"{M}/orders/legacy_feed")
    assert [f["rule"] for f in after] == [f["rule"] for f in before]
    assert "CON-005" in {f["rule"] for f in after}

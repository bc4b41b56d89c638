"""Loading the policy library: annotations, one rule per package, namespaces, clear errors."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from engine.errors import ConfigError
from engine.policy.library import load_library

from .conftest import REPO

RULE = """\
# METADATA
# title: Orders products say who consumes them
# description: Orders' own standard.
# custom:
#   id: ORDERS-002
#   category: access
#   severity: low
#   enforcement: warning
#   override: none
#   remediation: List the consumers.
package {package}

deny contains "no consumers" if not input.product.access.consumers
"""


@pytest.fixture
def policies(tmp_path: Path) -> Path:
    root = tmp_path / "policies"
    shutil.copytree(REPO / "policies", root)
    return root


def test_annotations_become_rule_metadata():
    rule = load_library(REPO / "policies").rule("NAM-001")
    assert rule.package == "global.naming.product_name"
    assert rule.category == "naming" and rule.severity == "high" and rule.enforcement == "blocking"
    assert rule.override == "params"
    assert rule.params["pattern"].default == "^{domain}_[a-z][a-z0-9_]*$"
    assert rule.file.endswith("policies/global/naming/product_name.rego")
    assert rule.line == 21


def test_domain_rule_is_loaded_for_its_domain_only(policies):
    (policies / "domains/orders").mkdir(parents=True, exist_ok=True)
    (policies / "domains/orders/consumers.rego").write_text(RULE.format(package="domains.orders.consumers"))
    library = load_library(policies)
    assert library.rule("ORDERS-002").domain == "orders"
    assert "ORDERS-002" in {r.id for r in library.rules_for("orders")}
    assert "ORDERS-002" not in {r.id for r in library.rules_for("finance")}


def test_domain_module_declaring_a_global_package_is_rejected(policies):
    (policies / "domains/orders").mkdir(parents=True, exist_ok=True)
    (policies / "domains/orders/evil.rego").write_text(RULE.format(package="global.naming.product_name"))
    with pytest.raises(ConfigError) as caught:
        load_library(policies)
    assert caught.value.line == 11
    assert caught.value.file.endswith("domains/orders/evil.rego")
    assert "outside domains.orders" in caught.value.message


def test_package_must_mirror_the_file_path(policies):
    path = policies / "global/naming/product_name.rego"
    path.write_text(path.read_text().replace("package global.naming.product_name", "package global.naming.names"))
    with pytest.raises(ConfigError, match="expected package global.naming.product_name"):
        load_library(policies)


def test_rule_without_metadata_is_rejected(policies):
    (policies / "global/naming/bare.rego").write_text('package global.naming.bare\n\ndeny contains "x" if false\n')
    with pytest.raises(ConfigError, match="needs a # METADATA annotation") as caught:
        load_library(policies)
    assert caught.value.line == 1


def test_incomplete_metadata_names_the_missing_fields(policies):
    text = RULE.format(package="global.access.more").replace("#   remediation: List the consumers.\n", "")
    (policies / "global/access/more.rego").write_text(text.replace("ORDERS-002", "ACC-099"))
    with pytest.raises(ConfigError, match="remediation: Field required"):
        load_library(policies)


def test_duplicate_rule_ids_are_rejected(policies):
    text = (policies / "global/naming/product_name.rego").read_text()
    (policies / "global/naming/copy.rego").write_text(text.replace("package global.naming.product_name", "package global.naming.copy"))
    with pytest.raises(ConfigError, match="rule id NAM-001 is already used"):
        load_library(policies)


def test_malformed_rule_id_is_rejected(policies):
    (policies / "global/access/more.rego").write_text(RULE.format(package="global.access.more"))
    with pytest.raises(ConfigError, match="rule id 'ORDERS-002' is not of the form <CAT>-<nnn>"):
        load_library(policies)


def test_rego_syntax_error_names_file_and_line(policies):
    (policies / "global/naming/broken.rego").write_text("package global.naming.broken\n\ndeny contains x if {\n  x :=\n}\n")
    with pytest.raises(ConfigError) as caught:
        load_library(policies)
    assert caught.value.file.endswith("global/naming/broken.rego")
    assert caught.value.line == 4
    assert caught.value.message.startswith("invalid Rego: ")

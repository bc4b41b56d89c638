"""The policy library's own Rego unit tests, and the conventions every rule follows."""

from __future__ import annotations

from pathlib import Path

import pytest

from engine.policy.library import load_library
from engine.testing import load_tests

from .conftest import REPO

POLICIES = REPO / "policies"
POLICY_TESTS = REPO / "policy_tests"

_RUN = load_tests(POLICIES, [POLICY_TESTS])


@pytest.mark.parametrize("test", _RUN.tests, ids=lambda t: t.id)
def test_rego(test):
    result = _RUN.run_one(test)
    prints = "\n".join(result.prints)
    assert result.outcome == "pass", f"{result.file}:{result.line}: {result.id} {result.outcome}: {result.message}\n{prints}"


def test_library_has_rules_in_every_first_category():
    library = load_library(POLICIES)
    by_category = {}
    for rule in library.rules:
        by_category.setdefault(rule.category, []).append(rule.id)
    assert len(library.rules) >= 20
    assert set(by_category) >= {"naming", "access", "classification", "standard-fields", "contracts"}
    assert library.rule("NAM-001").title == "Product names follow {domain}_{entity}"


def test_every_rule_has_a_test_file_with_a_passing_and_a_failing_case():
    library = load_library(POLICIES)
    tests_by_file = {}
    for t in _RUN.tests:
        tests_by_file.setdefault(Path(t.file).resolve(), []).append(t)
    for rule in library.rules:
        rel = (REPO / rule.file).resolve().relative_to(POLICIES.resolve())
        test_file = (POLICY_TESTS / rel.parent / f"{rel.stem}_test.rego").resolve()
        tests = tests_by_file.get(test_file)
        assert tests, f"{rule.id}: no tests in {test_file}"
        source = test_file.read_text()
        assert "count(" in source and "deny == {" in source, f"{rule.id}: needs a passing and an exact failing case"

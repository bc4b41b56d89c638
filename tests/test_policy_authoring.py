"""Policy authoring: govern test (Rego unit tests, coverage, lint), govern policies and govern explain."""

from __future__ import annotations

import json
import os
import re
import shutil
import stat
import tomllib
from pathlib import Path

import pytest

from engine.policy.library import load_library
from engine.testing import load_tests, opa_test_argv

from .conftest import REPO

RULE_FILE = "policies/global/naming/product_name.rego"
RULE_TEST = "policy_tests/global/naming/product_name_test.rego"


def _tests_in(root: Path) -> list[str]:
    return [t.id for t in load_tests(root / "policies", [root / "policy_tests"]).tests]


def _line_of(path: Path, text: str) -> int:
    return next(i for i, line in enumerate(path.read_text().splitlines(), 1) if text in line)


# --- govern test ------------------------------------------------------------------------------------


def test_every_policy_test_passes_with_a_pass_line_each(govern):
    run = govern("test", "policy_tests", "-v")
    assert run.code == 0, run.out
    ids = _tests_in(REPO)
    assert len(ids) >= 100
    passed = re.findall(r"^(data\.\S+): PASS \(\d+(?:\.\d+)?(?:µs|ms|s)\)$", run.out, re.MULTILINE)
    assert sorted(passed) == sorted(ids)
    assert run.out.splitlines()[-1] == f"PASS: {len(ids)}/{len(ids)}"
    assert f"{RULE_TEST}:\n" in run.out  # tests grouped under their file, as opa test does


def test_without_verbose_only_the_summary_is_printed_when_all_pass(govern):
    run = govern("test")
    n = len(_tests_in(REPO))
    assert (run.code, run.out) == (0, "-" * 80 + f"\nPASS: {n}/{n}\n")


def test_a_broken_rule_fails_its_tests_with_file_line_and_exit_1(govern, demo_copy):
    rule = demo_copy / RULE_FILE
    rule.write_text(rule.read_text().replace("not regex.match(pattern, name)", "regex.match(pattern, name)"))
    run = govern("test", "policy_tests", cwd=demo_copy)
    assert run.code == 1
    test_file = demo_copy / RULE_TEST
    fails = _line_of(test_file, "test_name_without_domain_prefix_fails")
    assert f"{RULE_TEST}:\n" in run.out
    assert (
        "data.global.naming.product_name_test.test_name_without_domain_prefix_fails: FAIL" in run.out
        and f"  {RULE_TEST}:{fails}: undefined: a statement in the test's body did not hold\n" in run.out
    )
    failed = set(re.findall(r"^data\.global\.naming\.product_name_test\.(\w+): FAIL", run.out, re.MULTILINE))
    assert failed == {
        "test_domain_prefixed_snake_case_passes",
        "test_name_without_domain_prefix_fails",
        "test_domain_pattern_parameter_is_used",
    }
    n = len(_tests_in(demo_copy))
    assert run.out.splitlines()[-2:] == [f"PASS: {n - 3}/{n}", f"FAIL: 3/{n}"]
    assert ": PASS (" not in run.out  # passing tests are listed only with -v


def test_a_failure_shows_the_tests_print_output(govern, demo_copy):
    test_file = demo_copy / "policy_tests/global/naming/printing_test.rego"
    test_file.write_text(
        "package global.naming.printing_test\n\n"
        "import data.global.naming.product_name\n\n"
        "test_prints_what_it_saw if {\n"
        '\tfound := product_name.deny with input as {"product": {"name": "x", "domain": "orders"}, '
        '"params": {"NAM-001": {"pattern": "^x$"}}}\n'
        '\tprint("findings:", count(found))\n'
        "\tcount(found) == 1\n"
        "}\n"
    )
    run = govern("test", "--run", "printing", cwd=demo_copy)
    assert run.code == 1
    shown = "policy_tests/global/naming/printing_test.rego"
    assert run.out.startswith(f"{shown}:\ndata.global.naming.printing_test.test_prints_what_it_saw: FAIL ("), run.out
    assert f"  {shown}:5: undefined: a statement in the test's body did not hold\n  print: {shown}:7: findings: 0\n" in run.out
    assert run.out.endswith("PASS: 0/1\nFAIL: 1/1\n")


def test_a_rules_print_output_stays_out_of_check_and_audit(govern_process, demo_copy):
    """The embedded engine wrote a rule's print() to standard error, into a check's output (and
    each worker's into an audit's), where the reference engine drops it."""
    rule = demo_copy / "policies/global/naming/product_name.rego"
    rule.write_text(rule.read_text().replace("if {", 'if {\n\tprint("seen", input.product.name)', 1))
    for args in (("check", "examples/mesh/orders/order_items"), ("audit", "examples/mesh", "--no-store", "--jobs", "2")):
        run = govern_process(*args, "--now", "2026-11-21T09:00:00Z", cwd=demo_copy)
        assert run.code in (0, 1)
        assert "seen" not in run.out + run.err


def test_a_test_file_that_crashes_the_parser_is_named_and_exits_3(govern_process, demo_copy, monkeypatch):
    """(The Rego parser overflows its stack on brackets nested thousands deep: govern died of it.)
    Nothing else is said: not the dump of a fault handler (PYTHONFAULTHANDLER) of the process that
    crashed parsing it."""
    monkeypatch.setenv("PYTHONFAULTHANDLER", "1")
    deep = "[" * 5000 + "1" + "]" * 5000
    test_file = demo_copy / "policy_tests/global/naming/crash_test.rego"
    test_file.write_text(f"package global.naming.crash_test\n\ntest_deep if {{\n\tx := {deep}\n\tx\n}}\n")
    run = govern_process("test", cwd=demo_copy)
    assert run.code == 3
    assert run.err == (
        "error: policy_tests/global/naming/crash_test.rego: the Rego parser crashed on this file (brackets or operators"
        " nested thousands deep overflow its stack): nest less deeply\n"
    )


def test_a_test_that_stops_with_an_error_is_an_error_naming_where(govern, demo_copy):
    test_file = demo_copy / "policy_tests/global/naming/erring_test.rego"
    test_file.write_text(
        'package global.naming.erring_test\n\ntest_replace_of_null if {\n\tx := {"a": null}\n\treplace(x.a, "a", "b") == "c"\n}\n'
    )
    run = govern("test", "--run", "erring", cwd=demo_copy)
    assert run.code == 1
    assert re.fullmatch(
        r"policy_tests/global/naming/erring_test.rego:\n"
        r"data.global.naming.erring_test.test_replace_of_null: ERROR \(\S+\)\n"
        r"  policy_tests/global/naming/erring_test.rego:5: `replace` expects string argument. Got `null` instead\n"
        + "-" * 80
        + r"\nPASS: 0/1\nERROR: 1/1\n",
        run.out,
    ), run.out


# A test that runs through 10^10 pairs, one that asks for more memory than a rule may take, and
# one that passes; the time limit is short so a run ends soon (the processes have a timeout should
# the limit fail).
RUNAWAY_TESTS = """package global.naming.runaway_test

test_for_ever if {
\tsome a in numbers.range(1, 100000)
\tsome b in numbers.range(1, 100000)
\ta == b + 100000
}

test_hog if {
\tcount([y | some y in numbers.range(1, 1000000000)]) > 0
}

test_fine if {
\ttrue
}
"""


def test_a_test_that_runs_too_long_or_takes_too_much_memory_is_an_error_and_the_others_run(govern_process, demo_copy):
    """(A test that looped made govern test run for ever.) Tests run in a child process, as rules
    do in a check: a test is stopped after rule_time_limit, and one that takes more memory than a
    rule may ends only its child."""
    (demo_copy / "policy_tests/global/naming/runaway_test.rego").write_text(RUNAWAY_TESTS)
    toml = demo_copy / "govern.toml"
    toml.write_text(toml.read_text() + "rule_time_limit = 1\n")
    run = govern_process("test", "--run", "runaway", "-v", cwd=demo_copy)
    shown = "policy_tests/global/naming/runaway_test.rego"
    assert run.code == 1, run.err
    assert re.sub(r" \((\d+(\.\d+)?(µs|ms|s))\)$", " (T)", run.out, flags=re.MULTILINE) == (
        f"{shown}:\n"
        "data.global.naming.runaway_test.test_for_ever: ERROR (T)\n"
        f"  {shown}:3: stopped after 1 s (the time limit: rule_time_limit in govern.toml)\n"
        "data.global.naming.runaway_test.test_hog: ERROR (T)\n"
        f"  {shown}:9: the Rego interpreter stopped evaluating this test (killed by SIGABRT: more than the 4 GiB of memory a"
        " rule may take, or a crash)\n"
        "data.global.naming.runaway_test.test_fine: PASS (T)\n" + "-" * 80 + "\nPASS: 1/3\nERROR: 2/3\n"
    )
    assert "data.global.naming.runaway_test.test_for_ever: ERROR (1.00s)\n" in run.out
    assert run.err == ""


def test_a_stopped_test_leaves_the_other_tests_and_their_coverage_as_they_were(govern_process, demo_copy):
    """Coverage is gathered test by test in the child (a test stopped with it would take the
    coverage of the tests before it along): with the stopped tests, it is what the tests alone
    cover when run in govern's own process (no time limit)."""
    toml = demo_copy / "govern.toml"
    settings = toml.read_text()
    toml.write_text(settings + "rule_time_limit = 0\n")
    before = govern_process("test", "--coverage", "--format", "json", cwd=demo_copy)
    toml.write_text(settings + "rule_time_limit = 1\n")
    (demo_copy / "policy_tests/global/naming/runaway_test.rego").write_text(RUNAWAY_TESTS.replace("test_fine", "test_other"))
    after = govern_process("test", "--coverage", "--format", "json", cwd=demo_copy)
    assert (before.code, after.code) == (0, 1), after.err
    outcomes = {t["id"]: t["outcome"] for t in after.json()["tests"]}
    assert outcomes == {
        **{t["id"]: "pass" for t in before.json()["tests"]},
        "data.global.naming.runaway_test.test_for_ever": "error",
        "data.global.naming.runaway_test.test_hog": "error",
        "data.global.naming.runaway_test.test_other": "pass",
    }
    assert after.json()["coverage"] == before.json()["coverage"]


@pytest.mark.parametrize("limit", [0, 30])
def test_coverage_gathered_test_by_test_is_the_coverage_of_the_whole_run(limit):
    """Whether the tests run in a child (a time limit) or here (none), the coverage is what one
    engine running every test reports."""
    run = load_tests(REPO / "policies", [REPO / "policy_tests"], coverage=True, time_limit=limit)
    run.run()
    whole = load_tests(REPO / "policies", [REPO / "policy_tests"], coverage=True)
    for test in whole.tests:
        whole.engine.eval_rule_as_json(test.id)
    report = {f["path"]: f for f in json.loads(whole.engine.get_coverage_report_as_json())["files"]}
    expected = [(f, sorted(report[f]["covered"]), sorted(report[f]["not_covered"])) for f in sorted(run.policy_files)]
    assert [(f.file, f.covered, f.not_covered) for f in run.coverage()] == expected
    assert {t.outcome for t in run.tests} == {"pass"}


def test_run_selects_tests_by_regular_expression(govern):
    run = govern("test", "--run", r"product_name_test\.test_domain", "-v")
    assert run.code == 0
    assert re.findall(r"^(data\.\S+): PASS", run.out, re.MULTILINE) == [
        "data.global.naming.product_name_test.test_domain_prefixed_snake_case_passes",
        "data.global.naming.product_name_test.test_domain_pattern_parameter_is_used",
    ]
    assert run.out.endswith("PASS: 2/2\n")


def test_no_matching_tests_is_a_failure(govern):
    run = govern("test", "--run", "no_such_test")
    assert run.code == 1
    assert run.out.endswith("no tests found\n")


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--run", "("], "'(' is not a regular expression"),
        (["no/such/folder"], "'no/such/folder' does not exist"),
        (["--threshold", "-1"], "-1"),
        (["--format", "xml"], "'xml' is not one of"),
    ],
)
def test_usage_errors_exit_2(govern, args, message):
    run = govern("test", *args)
    assert run.code == 2
    assert message in run.err


def test_a_test_file_that_does_not_parse_names_file_and_line_and_exits_3(govern, demo_copy):
    bad = demo_copy / "policy_tests/global/naming/broken_test.rego"
    bad.write_text("package global.naming.broken_test\n\ntest_x if {\n\tinput.x ==\n}\n")
    run = govern("test", cwd=demo_copy)
    assert run.code == 3
    assert run.err.startswith("error: policy_tests/global/naming/broken_test.rego:5: invalid Rego: ")


def test_a_test_file_with_a_recursive_function_names_it_and_exits_3(govern, demo_copy):
    """The interpreter follows recursion until its stack overflows, which ended the run with a
    segmentation fault: no test is run."""
    test = demo_copy / "policy_tests/global/naming/deep_test.rego"
    test.write_text("package global.naming.deep_test\n\nf(n) := f(n + 1)\n\ntest_deep if f(0) > 0\n")
    run = govern("test", cwd=demo_copy)
    assert run.code == 3
    assert run.err == (
        "error: policy_tests/global/naming/deep_test.rego:3: invalid Rego: function data.global.naming.deep_test.f is"
        " recursive (data.global.naming.deep_test.f -> data.global.naming.deep_test.f): Rego has no recursion\n"
    )
    run = govern("validate", cwd=demo_copy)
    assert run.code == 3 and "deep_test.rego:3: invalid Rego: function data.global.naming.deep_test.f is recursive" in run.out


def test_a_test_defined_twice_in_its_package_is_named_and_exits_3(govern, demo_copy):
    """(Rego takes the two as one rule that holds when either body does: a failing test defined
    beside a passing one of the same name passed, PASS, unseen.)"""
    test = demo_copy / "policy_tests/global/naming/product_name_test.rego"
    text = test.read_text()
    first = next(i for i, row in enumerate(text.splitlines(), 1) if row.startswith("test_"))
    name = text.splitlines()[first - 1].split()[0]
    test.write_text(text + f"\n{name} if {{\n\t1 == 2\n}}\n")
    again = len(test.read_text().splitlines()) - 2
    said = (
        f"policy_tests/global/naming/product_name_test.rego:{again}: {name} is defined again (first at"
        f" policy_tests/global/naming/product_name_test.rego:{first}): Rego runs the two as one test that passes when either"
        " does; give each its own name"
    )
    run = govern("test", cwd=demo_copy)
    assert (run.code, run.err) == (3, f"error: {said}\n")
    run = govern("validate", "--now", "2026-11-21T09:00:00Z", cwd=demo_copy)
    assert (run.code, run.out) == (3, f"{said}\n")


def test_a_domains_test_file_may_not_define_the_councils_tests(govern, demo_copy):
    """Defined again in a domain's file, the council's tests of a broken rule passed (PASS 138/138)."""
    rule = demo_copy / "policies/global/naming/product_name.rego"
    rule.write_text(
        rule.read_text().replace("\tnot regex.match(pattern, name)\n", "\tnot regex.match(pattern, name)\n\tfalse\n", 1)
    )
    assert govern("test", cwd=demo_copy).code == 1
    helper = demo_copy / "policy_tests/domains/orders/helper_test.rego"
    helper.write_text("package global.naming.product_name_test\n\ntest_name_without_domain_prefix_fails if true\n")
    why = (
        "policy_tests/domains/orders/helper_test.rego:1: package global.naming.product_name_test is outside domains.orders:"
        " a domain's tests may only declare packages under domains.orders"
    )
    run = govern("test", cwd=demo_copy)
    assert (run.code, run.err) == (3, f"error: {why}\n")
    run = govern("validate", cwd=demo_copy)
    assert run.code == 3 and run.out.splitlines() == [why]


def test_json_output(govern):
    run = govern("test", "--format", "json", "--run", "product_name_test")
    assert run.code == 0
    data = run.json()
    assert data["ok"] is True and data["lint"] == [] and data["coverage"] is None
    assert data["summary"] == {"total": 3, "pass": 3, "fail": 0, "error": 0}
    first = data["tests"][0]
    assert first["id"] == "data.global.naming.product_name_test.test_domain_prefixed_snake_case_passes"
    assert first["location"] == {"file": RULE_TEST, "line": _line_of(REPO / RULE_TEST, "test_domain_prefixed")}
    assert first["outcome"] == "pass" and first["output"] == [] and first["duration_ns"] > 0


# --- coverage -----------------------------------------------------------------------------------------


def _coverage_lines(out: str) -> dict[str, str]:
    section = out.split("COVERAGE\n" + "-" * 80 + "\n", 1)[1].split("\n" + "-" * 80 + "\n", 1)[0]
    return {line.split()[1]: line.split()[0] for line in section.splitlines()}


def test_coverage_reports_a_percentage_for_every_policy_file(govern):
    run = govern("test", "--coverage")
    assert run.code == 0, run.out
    files = sorted(str(p.relative_to(REPO)) for p in (REPO / "policies").rglob("*.rego"))
    shown = _coverage_lines(run.out)
    assert sorted(shown) == files
    assert all(re.fullmatch(r"\d+\.\d%", pct) for pct in shown.values())
    assert re.search(r"^COVERAGE: \d+\.\d% \(meets the threshold of 90%\)$", run.out, re.MULTILINE)


def test_the_project_keeps_a_coverage_threshold_its_policy_tests_meet(govern):
    threshold = tomllib.loads((REPO / "govern.toml").read_text())["coverage_threshold"]
    assert threshold >= 90
    run = govern("test", "policy_tests", "--format", "json", "--coverage")
    assert run.code == 0
    coverage = run.json()["coverage"]
    assert coverage["threshold"] == threshold and coverage["total"] >= threshold


def _untested_rule(root: Path) -> Path:
    """A copy of NAM-001 as NAM-009, which no test imports: its five lines are not covered."""
    rule = root / "policies/global/naming/short_name.rego"
    source = (root / RULE_FILE).read_text()
    rule.write_text(
        source.replace("id: NAM-001", "id: NAM-009")
        .replace("package global.naming.product_name", "package global.naming.short_name")
        .replace('"name")', '"name")\n', 1)
    )
    return rule


def test_tests_named_inside_the_test_folder_answer_for_the_part_of_the_library_they_mirror(govern, demo_copy):
    """govern test policy_tests/global/naming lints and covers policies/global/naming only: the
    untested NAM-009 there is a problem, the rules of other folders (tested elsewhere) are not."""
    _untested_rule(demo_copy)
    naming = govern("test", "--coverage", "--format", "json", "policy_tests/global/naming", cwd=demo_copy)
    assert naming.code == 1
    report = naming.json()
    assert [p["message"].split(":")[0] for p in report["lint"]] == ["NAM-009 has no tests"]
    assert {f["file"].rsplit("/", 2)[-2] for f in report["coverage"]["files"]} == {"naming"}
    access = govern("test", "--coverage", "--format", "json", "policy_tests/global/access", cwd=demo_copy)
    assert (access.code, access.json()["lint"]) == (0, [])
    assert {f["file"].rsplit("/", 2)[-2] for f in access.json()["coverage"]["files"]} == {"access"}
    one = govern("test", "policy_tests/global/naming/product_name_test.rego", cwd=demo_copy)
    assert one.code == 0 and "LINT" not in one.out


def test_a_threshold_above_the_coverage_fails(govern, demo_copy):
    _untested_rule(demo_copy)
    coverage = govern("test", "--coverage", "--format", "json", cwd=demo_copy).json()["coverage"]
    covered = sum(f["covered_lines"] for f in coverage["files"])
    missed = sum(len(f["not_covered"]) for f in coverage["files"])
    assert missed == 5
    total = 100 * covered / (covered + missed)
    assert coverage["total"] == round(total, 2) and total < 100
    run = govern("test", "--threshold", "100", cwd=demo_copy)
    assert run.code == 1
    assert f"\nCOVERAGE: {total:.1f}% (below the threshold of 100%)\n" in run.out


@pytest.mark.parametrize("threshold", ["101", "-1", "nan"])
def test_a_threshold_that_is_not_a_percentage_is_a_usage_error(govern, threshold):
    run = govern("test", "--threshold", threshold)
    assert run.code == 2
    assert f"Invalid value for '--threshold': {threshold!r} is not a percentage from 0 to 100" in run.err


def test_an_untested_rule_fails_the_lint_and_shows_as_not_covered(govern, demo_copy):
    rule = _untested_rule(demo_copy)
    run = govern("test", "--coverage", "--threshold", "0", cwd=demo_copy)
    assert run.code == 1
    line = _line_of(rule, "package global.naming.short_name")
    assert (
        f"LINT\n{'-' * 80}\npolicies/global/naming/short_name.rego:{line}: NAM-009 has no tests: "
        "no test module in policy_tests imports data.global.naming.short_name\n" in run.out
    )
    first = _line_of(rule, "name := input.product.name")
    assert f"  0.0%  policies/global/naming/short_name.rego  not covered: {first}-{first + 4}\n" in run.out
    assert "LINT: 1 problem\n" in run.out


# --- lint -----------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("old", "new", "at", "message"),
    [
        (  # a missing field: at the custom block it belongs in
            "#   remediation: Rename the product to <domain>_<entity> in snake_case, e.g. orders_order_items.\n",
            "",
            "# custom:",
            "invalid METADATA annotation: custom.remediation: Field required",
        ),
        (
            "#   category: naming\n",
            "#   category: names\n",
            "category: names",
            "invalid METADATA annotation: custom.category: Input should be",
        ),
        ("id: NAM-001", "id: NAM-1", "id: NAM-1", "rule id 'NAM-1' is not of the form <CAT>-<nnn>"),
        (
            "id: NAM-001",
            "id: NAM-002",
            "id: NAM-002",
            "rule id NAM-002 is also that of policies/global/naming/column_names.rego: an id is never reused",
        ),
    ],
)
def test_the_lint_names_annotation_problems_with_file_and_line(govern, demo_copy, old, new, at, message):
    rule = demo_copy / RULE_FILE
    assert old in rule.read_text()
    rule.write_text(rule.read_text().replace(old, new))
    run = govern("test", cwd=demo_copy)
    assert run.code == 1
    lint = run.out.split("LINT\n" + "-" * 80 + "\n", 1)[1].splitlines()[0]
    assert lint.startswith(f"{RULE_FILE}:{_line_of(rule, at)}: {message}"), lint


def test_validate_reports_rules_without_tests(govern, demo_copy):
    (demo_copy / RULE_TEST).unlink()
    run = govern("validate", "--now", "2026-11-21T09:00:00Z", cwd=demo_copy)
    assert run.code == 3
    line = _line_of(demo_copy / RULE_FILE, "package global.naming.product_name")
    assert run.out == (
        f"{RULE_FILE}:{line}: NAM-001 has no tests: no test module in policy_tests imports data.global.naming.product_name\n"
    )


def test_validate_without_a_test_folder_says_so(govern, demo_copy):
    shutil.move(demo_copy / "policy_tests", demo_copy / "tests_elsewhere")
    run = govern("validate", "--now", "2026-11-21T09:00:00Z", cwd=demo_copy)
    assert run.code == 3
    assert run.out == (
        "govern.toml: no test folder policy_tests: every rule needs Rego unit tests (set policy_tests in govern.toml, or"
        " --tests)\n"
    )
    assert govern("validate", "--now", "2026-11-21T09:00:00Z", "--tests", "tests_elsewhere", cwd=demo_copy).code == 0


def test_validate_runs_from_outside_the_project_with_its_folders_named(govern, demo_copy, tmp_path):
    """(Without a way to name the test folder, it could only say there was none: exit 3.)"""
    outside = tmp_path / "ci"
    outside.mkdir()
    named = [f"--{option}={demo_copy / folder}" for option, folder in (("policies", "policies"), ("governance", "governance"))]
    run = govern("validate", "--now", "2026-11-21T09:00:00Z", *named, cwd=outside)
    assert (run.code, run.out) == (
        3,
        "no test folder policy_tests: every rule needs Rego unit tests (name it with --tests)\n",
    )
    run = govern("validate", "--now", "2026-11-21T09:00:00Z", *named, f"--tests={demo_copy / 'policy_tests'}", cwd=outside)
    assert run.code == 0, run.out


def test_coverage_threshold_in_govern_toml_must_be_a_percentage(govern, demo_copy):
    toml = demo_copy / "govern.toml"
    toml.write_text(toml.read_text().replace("coverage_threshold = 90", 'coverage_threshold = "high"'))
    run = govern("test", cwd=demo_copy)
    assert run.code == 3
    line = toml.read_text().splitlines().index('coverage_threshold = "high"') + 1
    assert run.err == f"error: govern.toml:{line}: 'coverage_threshold' must be a number from 0 to 100, not 'high'\n"


# --- --engine opa -------------------------------------------------------------------------------------


@pytest.mark.skipif(shutil.which("opa") is not None, reason="an opa binary is on PATH")
def test_engine_opa_without_an_opa_binary_says_so(govern):
    run = govern("test", "--engine", "opa")
    assert run.code == 2  # (as check --engine opa without a server or binary)
    assert "no opa binary is on PATH" in run.err and "use the embedded engine" in run.err


@pytest.mark.parametrize(
    ("opa_exit", "exit_code"),
    [(0, 0), (2, 1), (1, 3)],  # opa test: 2 tests failed or coverage too low, 1 policies or tests not loaded
)
def test_engine_opa_delegates_to_opa_test_with_the_same_paths(govern, tmp_path, monkeypatch, opa_exit, exit_code):
    """Stand-in: no opa binary can be installed on these machines, so a script named opa records the
    command line it is given and answers as opa test does (exit codes from OPA's cmd/test.go). The
    test below runs the real opa when present. Its exit codes become govern's: a failing test 1, a
    file that does not load 3 (2 is govern's usage error)."""
    record = tmp_path / "argv.json"
    fake = tmp_path / "bin" / "opa"
    fake.parent.mkdir()
    fake.write_text(
        "#!/usr/bin/env python3\nimport json, sys\n"
        f"json.dump(sys.argv[1:], open({str(record)!r}, 'w'))\n"
        f"print('FAIL: 1/2')\nsys.exit({opa_exit})\n"
    )
    fake.chmod(fake.stat().st_mode | stat.S_IEXEC)
    monkeypatch.setenv("PATH", f"{fake.parent}{os.pathsep}{os.environ['PATH']}")
    run = govern("test", "--engine", "opa", "policy_tests", "-v", "--run", "naming", "--threshold", "95")
    assert (run.code, run.out) == (exit_code, "FAIL: 1/2\n")
    assert json.loads(record.read_text()) == [
        "test",
        "policies",
        "policy_tests",
        "--verbose",
        "--run",
        "naming",
        "--coverage",
        "--threshold",
        "95",
        "--timeout",
        "30000ms",  # (rule_time_limit: a test is stopped as a rule would be)
    ]


@pytest.mark.parametrize(("limit", "timeout"), [(30, "30000ms"), (0.0001, "1ms"), (0, "8760h")])
def test_opa_test_is_given_the_time_limit_as_its_timeout(monkeypatch, limit, timeout):
    """opa test takes --timeout 0 for its default of 5 s: no limit is a year."""
    monkeypatch.setattr(shutil, "which", lambda name: f"/bin/{name}")
    options = {"verbose": False, "pattern": None, "fmt": "text", "coverage": False, "threshold": None}
    argv = opa_test_argv(Path("policies"), [Path("policy_tests")], **options, time_limit=limit)
    assert argv == ["/bin/opa", "test", "policies", "policy_tests", "--timeout", timeout]


@pytest.mark.skipif(shutil.which("opa") is None, reason="no opa binary on PATH")
def test_engine_opa_runs_the_real_opa_test(govern):
    run = govern("test", "--engine", "opa", "policy_tests")
    assert run.code == 0, run.out + run.err
    assert re.search(r"^PASS: (\d+)/\1$", run.out, re.MULTILINE)


# --- govern policies / govern explain ------------------------------------------------------------------


def test_policies_json_lists_every_rule_with_its_annotation_fields(govern):
    run = govern("policies", "--format", "json")
    assert run.code == 0
    rules = {r["id"]: r for r in run.json()["rules"]}
    assert set(rules) == {r.id for r in load_library(REPO / "policies").rules}
    assert rules["NAM-001"] == {
        "id": "NAM-001",
        "title": "Product names follow {domain}_{entity}",
        "description": "A product's name starts with its domain and continues with the entity it serves, in "
        "snake_case, so that anyone can tell from the name who owns a product and what it holds.",
        "category": "naming",
        "severity": "high",
        "enforcement": "blocking",
        "override": "params",
        "params": {
            "pattern": {
                "type": "string",
                "format": "regex",
                "default": "^{domain}_[a-z][a-z0-9_]*$",
                "description": "Regular expression for the name; {domain} stands for the product's domain.",
                "enum": None,
                "minimum": None,
                "maximum": None,
                "rejects": [
                    "{domain}",
                    "{domain}_",
                    "OrderItems",
                    "{domain}_OrderItems",
                    "{domain}-order-items",
                    "other_order_items",
                ],
            }
        },
        "effective_on": None,
        "remediation": "Rename the product to <domain>_<entity> in snake_case, e.g. orders_order_items.",
        "examples": {"fail": "name: OrderItems (domain: orders)", "pass": "name: orders_order_items (domain: orders)"},
        "package": "global.naming.product_name",
        "file": RULE_FILE,
        "line": _line_of(REPO / RULE_FILE, "package global.naming.product_name"),
        "domain": None,
    }
    assert rules["ORDERS-001"]["domain"] == "orders"
    # The council's settings in council.yaml are applied: the enforcement every domain gets
    assert (rules["STD-004"]["enforcement"], rules["STD-004"]["effective_on"]) == ("blocking", "2027-03-01")


def test_policies_text_and_category_filter(govern):
    run = govern("policies", "--category", "lineage")
    assert run.code == 0
    lines = run.out.splitlines()
    assert [line.split()[0] for line in lines[:-1]] == ["LIN-001", "LIN-002", "LIN-003", "LIN-004", "LIN-005"]
    assert lines[-1] == "5 rules: 5 global, 0 from domains"


def test_an_unknown_category_is_a_usage_error_naming_the_categories(govern):
    """(A misspelt category listed no rules, and exited 0.)"""
    import typing

    from engine.cli import CATEGORIES
    from engine.model import Category

    assert CATEGORIES == list(typing.get_args(Category))
    run = govern("policies", "--category", "Naming")
    assert run.code == 2
    assert "Invalid value for '--category': 'Naming' is not one of 'naming', 'access'," in run.err


def test_the_published_standards_page_is_the_catalog(govern):
    """docs/standards.md is `govern policies --format markdown`: regenerate it when a rule changes."""
    run = govern("policies", "--format", "markdown")
    assert run.code == 0
    assert run.out == (REPO / "docs/standards.md").read_text()
    for rule in load_library(REPO / "policies").rules:
        assert f"\n### {rule.id}: " in run.out


def test_explain_prints_what_a_domain_team_needs(govern):
    run = govern("explain", "nam-001")
    assert run.code == 0
    line = _line_of(REPO / RULE_FILE, "package global.naming.product_name")
    assert run.out == (
        "NAM-001  Product names follow {domain}_{entity}\n"
        "\n"
        "category naming · severity high · enforcement blocking · global\n"
        "override params: domains may set its parameters within the council's limits\n"
        "\n"
        "A product's name starts with its domain and continues with the entity it serves, in snake_case, so that "
        "anyone can tell from the name who owns a product and what it holds.\n"
        "\n"
        "Parameters\n"
        '  pattern (string, a regular expression, not matching "{domain}", "{domain}_", "OrderItems", "{domain}_OrderItems",'
        ' "{domain}-order-items", "other_order_items", default "^{domain}_[a-z][a-z0-9_]*$")\n'
        "    Regular expression for the name; {domain} stands for the product's domain.\n"
        "\n"
        "Remediation\n"
        "  Rename the product to <domain>_<entity> in snake_case, e.g. orders_order_items.\n"
        "\n"
        "Examples\n"
        "  fails: name: OrderItems (domain: orders)\n"
        "  passes: name: orders_order_items (domain: orders)\n"
        "\n"
        "Set by domains\n"
        '  orders: pattern = "^orders_[a-z][a-z0-9_]*$"\n'
        "\n"
        f"Defined in {RULE_FILE}:{line} (package global.naming.product_name)\n"
        f"Tested in {RULE_TEST}\n"
    )


def test_explain_json_names_the_rules_tests(govern):
    run = govern("explain", "STD-004", "--format", "json")
    assert run.code == 0
    data = run.json()
    assert data["id"] == "STD-004" and data["tests"] == ["policy_tests/global/standard_fields/monitoring_test.rego"]
    assert data["remediation"] and data["examples"]["fail"] and data["examples"]["pass"]
    # as the council set it in council.yaml (its annotation says warning, no date)
    assert (data["enforcement"], data["effective_on"]) == ("blocking", "2027-03-01")
    assert (data["council"], data["domains"]) == ({"enforcement": "blocking", "effective_on": "2027-03-01"}, {})


def test_the_catalog_is_not_stopped_by_a_domain_file_it_does_not_read(govern, demo_copy):
    """The catalog shows the council's settings only: a domain's broken file is validate's (and
    explain's, which shows what domains set) to report, not a failure of the standards page."""
    (demo_copy / "governance/domains/finance.yaml").write_text("oops: [\n")
    run = govern("policies", "--format", "markdown", cwd=demo_copy)
    assert (run.code, run.err) == (0, "")
    assert run.out == (REPO / "docs/standards.md").read_text()
    explained = govern("explain", "NAM-001", cwd=demo_copy)
    assert explained.code == 3
    assert explained.err.startswith("error: not applied: governance/domains/finance.yaml:")


def test_a_council_file_with_several_problems_is_named_once_per_problem_by_the_catalog(govern, demo_copy):
    """(They came as one line with a "\\n" written out in it.)"""
    council = demo_copy / "governance/council.yaml"
    council.write_text(council.read_text().replace("max_waiver_days: 180", "max_waiver_day: 180").replace("2027-03-01", "soon"))
    run = govern("policies", cwd=demo_copy)
    assert run.code == 3
    assert run.err.splitlines() == [
        "error: not applied to the catalog: governance/council.yaml:4: invalid council configuration: council.max_waiver_day:"
        " Extra inputs are not permitted",
        "error: not applied to the catalog: governance/council.yaml:23: invalid council configuration:"
        " rules.STD-004.effective_on: 'soon' is not a date (YYYY-MM-DD)",
    ]


def test_explain_shows_what_the_council_and_each_domain_set_for_a_rule(govern):
    """What a council member needs before changing a rule: the council's own setting, and which
    domains raised it, set its parameters or waived it."""
    text = govern("explain", "STD-004").out.splitlines()
    assert text[2:5] == [
        "category standard-fields · severity medium · enforcement blocking · global",
        "override params: domains may set its parameters within the council's limits",
        "effective on 2027-03-01: before then a blocking finding only warns",
    ]
    line = _line_of(REPO / "governance/council.yaml", "STD-004:")
    assert text[5] == f"set by the council in governance/council.yaml:{line}: enforcement blocking, effective on 2027-03-01"
    waived = govern("explain", "STD-002", "--now", "2026-11-21T09:00:00Z").out
    assert "\nSet by domains\n  orders: waiver for orders_legacy_feed until 2027-03-31 (active)\n" in waived
    raised = govern("explain", "ACC-003", "--format", "json").json()
    assert (raised["enforcement"], raised["domains"]) == ("warning", {"marketing": {"enforcement": "blocking"}})


@pytest.mark.parametrize(
    ("now", "state"),
    [
        ("2026-10-14T23:59:59Z", "not yet approved"),  # (approved_on 2026-10-15)
        ("2027-03-16T23:59:59Z", "active"),
        ("2027-03-17T00:30:00+01:00", "active"),  # (still 2027-03-16 in UTC, as a run then takes it)
        ("2027-03-17T00:00:00Z", "expiring"),  # (within 14 days: a run then lists it expiring)
        ("2027-03-31T23:59:59Z", "expiring"),
        ("2027-04-01T00:00:00Z", "expired"),
    ],
)
def test_explain_says_what_state_each_waiver_is_in_as_of_now(govern, now, state):
    """(An expired waiver was listed like one in force: a council member could not tell.)"""
    text = govern("explain", "STD-002", "--now", now).out
    assert f"\n  orders: waiver for orders_legacy_feed until 2027-03-31 ({state})\n" in text
    explained = govern("explain", "STD-002", "--now", now, "--format", "json").json()
    assert explained["domains"]["orders"]["waivers"] == [
        {"product": "orders_legacy_feed", "resource": None, "expires": "2027-03-31", "state": state}
    ]


def test_explain_an_unknown_rule_suggests_close_ids(govern):
    run = govern("explain", "NAM-01")
    assert run.code == 2
    assert run.err == "error: no rule NAM-01 in policies; did you mean NAM-001, NAM-004, NAM-003?\n"
    # (an id like none of them suggests none: NOPE-001 was "ORDERS-001, NAM-001, LIN-001")
    unlike = govern("explain", "NOPE-001")
    assert (unlike.code, unlike.err) == (2, "error: no rule NOPE-001 in policies; govern policies lists them\n")


def test_explain_a_rule_left_out_of_the_library_says_why(govern, demo_copy):
    """Its author would otherwise be told that the rule they just wrote does not exist."""
    rule = demo_copy / RULE_FILE
    rule.write_text(rule.read_text().replace("#   severity: high\n", "#   severity: high\n#   effective_on: 2027-02-30\n"))
    run = govern("explain", "nam-001", cwd=demo_copy)
    assert run.code == 3
    line = _line_of(rule, "effective_on: 2027-02-30")
    assert run.err == (
        f"error: rule NAM-001 is left out of the library: {RULE_FILE}:{line}: invalid METADATA annotation: custom.effective_on: "
        "'2027-02-30' is not a date (YYYY-MM-DD)\n"
    )
    # (with several problems, every one: explain named only the first)
    rule.write_text(rule.read_text().replace("#   severity: high\n", "#   severity: hi\n#   sevrity: high\n"))
    run = govern("explain", "nam-001", cwd=demo_copy)
    assert run.code == 3
    assert run.err == (
        "error: rule NAM-001 is left out of the library (3 problems):\n"
        f"  {RULE_FILE}:{_line_of(rule, 'severity: hi')}: invalid METADATA annotation: custom.severity: Input should be"
        " 'critical', 'high', 'medium', 'low' or 'info'\n"
        f"  {RULE_FILE}:{_line_of(rule, 'sevrity: high')}: invalid METADATA annotation: custom.sevrity: unknown key (known: id,"
        " category, severity, enforcement, override, params, effective_on, remediation, examples)\n"
        f"  {RULE_FILE}:{_line_of(rule, 'effective_on: 2027-02-30')}: invalid METADATA annotation: custom.effective_on:"
        " '2027-02-30' is not a date (YYYY-MM-DD)\n"
    )


def test_a_rule_that_reads_a_parameter_it_does_not_declare_is_left_out_and_named(govern, demo_copy):
    """(It passed validate and its tests, which give params themselves, and never found anything: the
    input document has no such parameter.) The domain file setting the rule's parameters is told
    why the rule is missing, not that it does not exist."""
    rule = demo_copy / RULE_FILE
    rule.write_text(rule.read_text().replace('input.params["NAM-001"].pattern', 'input.params["NAM-001"]["patern"]'))
    run = govern("validate", "--now", "2026-11-21T09:00:00Z", cwd=demo_copy)
    line = _line_of(rule, '["patern"]')
    orders = demo_copy / "governance/domains/orders.yaml"
    assert (run.code, run.out) == (
        3,
        f"governance/domains/orders.yaml:{_line_of(orders, 'NAM-001')}: params: NAM-001 is left out of the library (see the"
        f" problem of {RULE_FILE})\n"
        f"{RULE_FILE}:{line}: NAM-001 reads its parameter 'patern', which its METADATA does not declare (custom.params): the"
        " input document has no value for it, and the statement reading it never holds\n",
    )


def test_the_catalog_of_a_library_with_a_broken_rule_lists_the_others_and_exits_3(govern, demo_copy):
    (demo_copy / "policies/global/naming/broken.rego").write_text(
        "package global.naming.broken\n\ndeny contains x if {\n  x :=\n}\n"
    )
    run = govern("policies", "--format", "json", cwd=demo_copy)
    assert run.code == 3
    assert {r["id"] for r in run.json()["rules"]} == {r.id for r in load_library(REPO / "policies").rules}
    assert run.err.startswith("error: left out of the catalog: policies/global/naming/broken.rego:4: invalid Rego: ")

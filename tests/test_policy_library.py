"""Loading the policy library: annotations, one rule per package, namespaces, clear errors."""

from __future__ import annotations

import re
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


def only_problem(policies: Path) -> ConfigError:
    """Loading records the library's problems instead of stopping at the first."""
    library = load_library(policies)
    assert len(library.problems) == 1, library.problems
    return library.problems[0]


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
    assert (rule.params["pattern"].default, rule.params["pattern"].format) == ("^{domain}_[a-z][a-z0-9_]*$", "regex")
    assert rule.file.endswith("policies/global/naming/product_name.rego")
    assert rule.line == 23


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
    caught = only_problem(policies)
    assert caught.line == 11
    assert caught.file.endswith("domains/orders/evil.rego")
    assert "outside domains.orders" in caught.message


def test_package_must_mirror_the_file_path(policies):
    path = policies / "global/naming/product_name.rego"
    path.write_text(path.read_text().replace("package global.naming.product_name", "package global.naming.names"))
    assert re.search("expected package global.naming.product_name", only_problem(policies).message)


def test_a_file_name_no_package_can_mirror_says_to_rename_it(policies):
    (policies / "global/access/name-length.rego").write_text(RULE.format(package="global.access.name_length"))
    caught = only_problem(policies)
    assert (caught.line, caught.message) == (
        11,
        "'name-length' in the file's path is no Rego name (letters, digits and _), so no package can mirror it: rename it,"
        " e.g. 'name_length'",
    )


def test_rule_without_metadata_is_rejected(policies):
    (policies / "global/naming/bare.rego").write_text('package global.naming.bare\n\ndeny contains "x" if false\n')
    caught = only_problem(policies)
    assert re.search("needs a # METADATA annotation", caught.message)
    assert caught.line == 1


@pytest.mark.parametrize(
    ("text", "hint"),
    [
        (RULE.replace("package {package}", "\npackage {package}"), ": its comment block must be '# METADATA' and then"),
        (RULE.replace("# METADATA", "#METADATA"), ": its comment block must be '# METADATA' and then"),
        ('package {package}\n\nshow(x) := sprintf("%v", [x])\n', " (a module of helpers belongs in policies/global/lib/)"),
    ],
)
def test_an_annotation_out_of_place_or_a_helper_out_of_lib_says_so(policies, text, hint):
    (policies / "global/access/more.rego").write_text(text.format(package="global.access.more").replace("ORDERS-002", "ACC-099"))
    caught = only_problem(policies)
    assert caught.message.startswith("a rule package needs a # METADATA annotation with custom.id" + hint)


def test_incomplete_metadata_names_the_missing_fields(policies):
    text = RULE.format(package="global.access.more").replace("#   remediation: List the consumers.\n", "")
    (policies / "global/access/more.rego").write_text(text.replace("ORDERS-002", "ACC-099"))
    caught = only_problem(policies)
    assert (caught.line, caught.message) == (4, "invalid METADATA annotation: custom.remediation: Field required")  # (at custom:)


def test_duplicate_rule_ids_are_rejected(policies):
    text = (policies / "global/naming/product_name.rego").read_text()
    (policies / "global/naming/copy.rego").write_text(
        text.replace("package global.naming.product_name", "package global.naming.copy")
    )
    caught = only_problem(policies)
    # (copy.rego is read first: product_name.rego is the one left out, at its id)
    assert re.fullmatch(r"rule id NAM-001 is also that of \S+/copy\.rego: an id is never reused .*", caught.message)
    assert caught.file.endswith("product_name.rego") and caught.line == 7


def test_a_rule_among_the_helpers_is_an_error_not_a_helper(policies):
    """policies/global/lib/ is never evaluated as rules: a rule put there would silently not run."""
    text = RULE.format(package="global.lib.consumers").replace("ORDERS-002", "ACC-099")
    (policies / "global/lib/consumers.rego").write_text(text)
    caught = only_problem(policies)
    assert caught.file.endswith("policies/global/lib/consumers.rego") and caught.line == 5
    assert caught.message.startswith("policies/global/lib/ holds helpers, which are never evaluated as rules")
    (policies / "global/lib/consumers.rego").write_text('package global.lib.consumers\n\ndeny contains "x" if false\n')
    assert only_problem(policies).line == 3


@pytest.mark.parametrize(
    ("where", "rule_id", "category", "line", "message"),
    [
        ("global/access/more.rego", "ACC-099", "naming", 6, "a council rule of category naming lives in policies/global/naming/"),
        ("global/more.rego", "ACC-099", "access", 6, "a council rule of category access lives in policies/global/access/"),
        (
            "global/access/x/more.rego",
            "ACC-099",
            "access",
            6,
            "a council rule of category access lives in policies/global/access/",
        ),
        (
            "global/access/more.rego",
            "NAM-099",
            "access",
            5,
            "rule id 'NAM-099' of category access must have its category's prefix: ACC-",
        ),
        ("global/standard_fields/more.rego", "STD-099", "standard-fields", None, None),
    ],
)
def test_a_council_rule_lives_in_its_categorys_folder_with_its_prefix(policies, where, rule_id, category, line, message):
    path = policies / where
    path.parent.mkdir(parents=True, exist_ok=True)
    package = ".".join(Path(where).with_suffix("").parts)
    path.write_text(
        RULE.format(package=package).replace("ORDERS-002", rule_id).replace("category: access", f"category: {category}")
    )
    library = load_library(policies)
    if message is None:
        assert library.problems == [] and library.rule(rule_id).category == category
        return
    (caught,) = library.problems
    assert (caught.line, caught.message[: len(message)]) == (line, message)


def test_malformed_rule_id_is_rejected(policies):
    (policies / "global/access/more.rego").write_text(RULE.format(package="global.access.more"))
    caught = only_problem(policies)
    assert caught.line == 5  # (at its id)
    assert caught.message.startswith("rule id 'ORDERS-002' is not of the form <CAT>-<nnn>")


def test_rego_syntax_error_names_file_and_line(policies):
    (policies / "global/naming/broken.rego").write_text("package global.naming.broken\n\ndeny contains x if {\n  x :=\n}\n")
    caught = only_problem(policies)
    assert caught.file.endswith("global/naming/broken.rego")
    assert caught.line == 4
    assert caught.message.startswith("invalid Rego: ")


def test_effective_on_in_an_annotation_must_be_a_date(policies):
    path = policies / "global/naming/product_name.rego"
    path.write_text(path.read_text().replace("#   remediation:", "#   effective_on: soon\n#   remediation:", 1))
    caught = only_problem(policies)
    assert caught.file.endswith("global/naming/product_name.rego")
    assert caught.line == next(i for i, t in enumerate(path.read_text().splitlines(), 1) if "effective_on: soon" in t)
    assert "effective_on: 'soon' is not a date (YYYY-MM-DD)" in caught.message


@pytest.mark.parametrize(("domain", "rule_id"), [("orders", "NAM-050"), ("orders", "MARKETING-001"), ("marketing", "ORDERS-002")])
def test_a_domain_rule_id_carries_its_domain_as_prefix(policies, domain, rule_id):
    """Else a domain's rule could take another domain's id, or pass for a council rule."""
    (policies / "domains" / domain).mkdir(parents=True, exist_ok=True)
    text = RULE.format(package=f"domains.{domain}.consumers").replace("ORDERS-002", rule_id)
    (policies / "domains" / domain / "consumers.rego").write_text(text)
    caught = only_problem(policies)
    assert caught.line == 5  # (at its id)
    assert caught.message == (f"rule id {rule_id!r} of domain {domain} must use the domain as prefix: {domain.upper()}-<nnn>")


@pytest.mark.parametrize("title", [r'"Orders\nNAM-001  naming  high  advisory  waivable"', r'"Orders \e[2J"', r'"a\u2028b"'])
def test_a_title_is_one_line(policies, title):
    """(A title with a line break printed a line of its own in govern policies: a council rule
    listed as advisory and waivable, say.)"""
    (policies / "domains/orders").mkdir(parents=True, exist_ok=True)
    text = RULE.format(package="domains.orders.consumers")
    (policies / "domains/orders/consumers.rego").write_text(
        text.replace("# title: Orders products say who consumes them", f"# title: {title}", 1)
    )
    caught = only_problem(policies)
    assert (caught.line, caught.message) == (
        2,
        "invalid METADATA annotation: title: must be one line, without line breaks or control characters",
    )


CRASHED = (
    "the Rego parser crashed on this file (brackets or operators nested thousands deep overflow its stack): nest less deeply"
)
TOO_DEEP = (
    "this module is nested too deeply for govern to read (its syntax tree is more than 400 levels deep: an expression of"
    " hundreds of terms, or brackets nested hundreds deep): split it"
)


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("+".join(["1"] * 500), TOO_DEEP),  # (Python's JSON reader stopped at it: a traceback in every command)
        ("[" * 5000 + "1" + "]" * 5000, CRASHED),  # (the process died of SIGSEGV, without a word)
        ("-" * 3000 + "1", CRASHED),
        ("+".join(["1"] * 100), None),  # (long, but within reach)
    ],
    ids=["500 terms", "5000 brackets", "3000 minus signs", "100 terms"],
)
def test_a_module_the_parser_cannot_take_is_a_problem_at_its_file(policies, value, message):
    """A domain's file that crashes the Rego parser, or nests deeper than govern's walks of its
    syntax tree go, is left out with a problem naming it; the rest of the library loads."""
    (policies / "domains/orders").mkdir(parents=True, exist_ok=True)
    text = RULE.format(package="domains.orders.consumers") + f"\n_k := {value}\n"
    (policies / "domains/orders/consumers.rego").write_text(text)
    if message is None:
        assert load_library(policies).problems == []
        return
    caught = only_problem(policies)
    assert (caught.file, caught.line, caught.message) == (str(policies / "domains/orders/consumers.rego"), None, message)
    assert load_library(policies).rule("NAM-001") is not None


def test_a_module_the_parser_takes_too_long_over_is_a_problem_at_its_file(policies, monkeypatch):
    """regorus' time doubles with each level of nested list brackets (26 levels: hours)."""
    import engine.policy.isolated as isolated

    monkeypatch.setattr(isolated, "PARSE_SECONDS", 0.5)
    (policies / "domains/orders").mkdir(parents=True, exist_ok=True)
    text = RULE.format(package="domains.orders.consumers") + "\n_k := " + "[" * 22 + "1" + "]" * 22 + "\n"
    (policies / "domains/orders/consumers.rego").write_text(text)
    caught = only_problem(policies)
    assert caught.message == (
        "the Rego parser did not finish this file in 0.5 s (its time doubles with each level of nested brackets):"
        " nest less deeply"
    )


def test_a_domain_name_beyond_letters_and_digits_is_left_out_of_its_prefix(policies):
    (policies / "domains/customer_360").mkdir(parents=True)
    text = RULE.format(package="domains.customer_360.consumers").replace("ORDERS-002", "CUSTOMER360-001")
    (policies / "domains/customer_360/consumers.rego").write_text(text)
    assert load_library(policies).rule("CUSTOMER360-001").domain == "customer_360"


@pytest.mark.parametrize(
    ("old", "new", "message", "line"),
    [
        ("#   severity: low\n", "#   severity: low\n#   severity: high\n", "duplicate key 'severity' (first on line 7)", 8),
        ("# title: Orders", "# title: [Orders", "invalid YAML: ", 3),  # (found on the next line)
        ("#   id: ORDERS-002\n", "#   id: &a ORDERS-002\n#   x: *b\n", "invalid YAML: ", 6),
    ],
)
def test_an_annotation_is_read_as_strictly_as_a_governance_file(policies, old, new, message, line):
    (policies / "domains/orders").mkdir(parents=True, exist_ok=True)
    (policies / "domains/orders/consumers.rego").write_text(RULE.format(package="domains.orders.consumers").replace(old, new))
    caught = only_problem(policies)
    assert caught.message.startswith(f"invalid METADATA annotation: {message}")
    assert caught.line == line


@pytest.mark.parametrize(
    ("deny", "message"),
    [
        ("deny if { true }", "'deny' must be a set of findings: define it as 'deny contains ...'"),
        ('deny := {"x"} if { true }', "'deny' must be a set of findings: define it as 'deny contains ...'"),
        ('deny contains "x" if { true }\n\ndeny := set() if { false }', "'deny' must be a set of findings"),
    ],
)
def test_a_deny_that_is_not_a_partial_set_is_rejected_at_its_line(policies, deny, message):
    """Else every product of the domain would end in error ("deny is not a set") at evaluation."""
    (policies / "domains/orders").mkdir(parents=True, exist_ok=True)
    text = RULE.format(package="domains.orders.consumers").replace(
        'deny contains "no consumers" if not input.product.access.consumers', deny
    )
    (policies / "domains/orders/consumers.rego").write_text(text)
    caught = only_problem(policies)
    assert caught.message.startswith(message)
    assert caught.line == 13


@pytest.mark.parametrize(
    ("declared", "message", "at"),
    [
        ("n: {type: integer}", "invalid METADATA annotation: custom.params.n.default: Field required", "#     n: {type"),
        ('n: {type: integer, default: "x"}', 'params.n: default "x" is not of type integer', "#     n: {type"),
        ("n: {type: number, default: true}", "params.n: default true is not of type number", "#     n: {type"),
        ("n: {type: number, default: .inf}", "params.n: default Infinity is not of type number", "#     n: {type"),
        ("n: {type: integer, format: regex, default: 1}", "params.n: format regex is for strings", "#     n: {type"),
        (
            "n: {type: integer, default: 5, minimum: 10}",
            "params.n: default: must be at least 10, not 5",
            "#     n: {type",
        ),
        (
            "n: {type: integer, default: 50, maximum: 10}",
            "params.n: default: must be at most 10, not 50",
            "#     n: {type",
        ),
        (
            "n: {type: string, default: a, minimum: 1}",
            "params.n: minimum and maximum are for numbers",
            "#     n: {type",
        ),
        # (a limit written as text was taken for the number; inverted limits said only that the
        # default was outside one of them)
        (
            'n: {type: integer, default: 5, minimum: "1"}',
            "params.n.minimum: Input should be a number",
            "#     n: {type",
        ),
        (
            "n: {type: integer, default: 5, minimum: 30, maximum: 1}",
            "params.n: minimum 30 is above maximum 1: no value could be set",
            "#     n: {type",
        ),
        (
            'n: {type: string, default: "c", enum: [a, b]}',
            'params.n: default: value must be one of "a", "b", not "c"',
            "#     n: {type",
        ),
        (
            "n: {type: integer, format: classification-level, default: 1}",
            "params.n: format classification-level is",
            "#     n: {type",
        ),
        (
            'n: {type: string, format: regex, default: "^{domain}_[x"}',
            "invalid METADATA annotation: custom.params.n: default '^{domain}_[x' is not a valid regular expression",
            "#     n: {type: string",
        ),
        # (the default is held to the values its rule rejects, as a domain's value is)
        (
            'n: {type: string, format: regex, default: "^{domain}", rejects: ["{domain}_x", "other"]}',
            "invalid METADATA annotation: custom.params.n: default '^{domain}' matches \"orders_x\", which its rejects lists",
            "#     n: {type: string",
        ),
        ("n: {type: string, default: a, rejects: [b]}", "custom.params.n: rejects is for regular expressions", "#     n: {type"),
    ],
)
def test_a_parameter_declaration_is_refused_unless_its_default_is_one_of_its_values(policies, declared, message, at):
    """Rules always get every parameter, of its declared type: a domain that sets none gets the
    default, so a default that is missing, of another type or an invalid pattern would reach every
    product of the domain (as null, or as an error of the rule)."""
    (policies / "domains/orders").mkdir(parents=True, exist_ok=True)
    text = RULE.format(package="domains.orders.consumers").replace(
        "#   remediation:", f"#   params:\n#     {declared}\n#   remediation:"
    )
    path = policies / "domains/orders/consumers.rego"
    path.write_text(text)
    caught = only_problem(policies)
    assert message in caught.message
    assert caught.line == next(i for i, t in enumerate(text.splitlines(), 1) if t.startswith(at))
    assert load_library(policies).rule("ORDERS-002") is None  # (left out)


def test_every_problem_of_an_annotation_is_listed_at_its_own_key(policies):
    """(They were joined on one line, at the first, with a number limit written as text named
    twice: "minimum.int: Input should be a valid integer; minimum.float: ...".)"""
    (policies / "domains/orders").mkdir(parents=True, exist_ok=True)
    text = (
        RULE.format(package="domains.orders.consumers")
        .replace("#   severity: low", "#   severity: lo")
        .replace(
            "#   remediation:",
            "#   params:\n#     n:\n#       type: integer\n#       default: 5\n#       minimum: five\n#       maxItems: 3\n"
            "#     m: {type: integr, default: 1}\n#   remediation:",
        )
    )
    (policies / "domains/orders/consumers.rego").write_text(text)
    library = load_library(policies)
    lines = text.splitlines()

    def at(start: str) -> int:
        return next(i for i, t in enumerate(lines, 1) if t.startswith(start))

    assert [(p.line, p.message) for p in library.problems] == [
        (
            at("#   severity"),
            "invalid METADATA annotation: custom.severity: Input should be 'critical', 'high', 'medium', 'low' or 'info'",
        ),
        (at("#       minimum"), "invalid METADATA annotation: custom.params.n.minimum: Input should be a number"),
        (
            at("#       maxItems"),
            "invalid METADATA annotation: custom.params.n.maxItems: unknown key (known: type, format, default, description, enum,"
            " minimum, maximum, rejects)",
        ),
        (
            at("#     m:"),
            "invalid METADATA annotation: custom.params.m.type: Input should be 'string', 'array', 'number', 'integer', 'boolean'"
            " or 'object'",
        ),
    ]
    assert load_library(policies).rule("ORDERS-002") is None


@pytest.mark.parametrize(
    ("body", "name"),
    [
        ('regex.globs_match("a.*", input.product.name)', "regex.globs_match"),  # OPA's, not the embedded engine's
        ("strings.reverse_words(input.product.name)", "strings.reverse_words"),  # no one's
        ("_helpr(input.product.name)", "_helpr"),  # a misspelt function of the module
    ],
)
def test_a_rule_calling_a_function_no_one_has_is_left_out_at_the_call(policies, body, name):
    """The interpreter only finds out when an input reaches the call: every product of the domain
    would end in error, while govern validate said the library was valid."""
    (policies / "domains/orders").mkdir(parents=True, exist_ok=True)
    text = RULE.format(package="domains.orders.consumers").replace(
        "if not input.product.access.consumers", f"if {{\n\t{body}\n}}\n\n_helper(x) := x"
    )
    (policies / "domains/orders/consumers.rego").write_text(text)
    caught = only_problem(policies)
    assert caught.file.endswith("policies/domains/orders/consumers.rego") and caught.line == 14  # (the call)
    assert caught.message == f"calls {name}, which is neither a function of the library nor a builtin of the embedded engine"
    assert load_library(policies).rule("ORDERS-002") is None
    assert load_library(REPO / "policies").problems == []  # (the council's library calls nothing unknown)


@pytest.mark.parametrize(
    ("functions", "at", "chain"),
    [
        ("f(n) := 1 if n == 0\n\nf(n) := y if {\n\tn > 0\n\ty := f(n - 1) + 1\n}\n", "f(n) := 1", "f -> f"),
        ("f(n) := y if y := me.g(n)\n\ng(n) := f(n)\n", "f(n) :=", "f -> g -> f"),  # through an import's alias
        ("f(n) := y if y := 1 with count as f\n", "f(n) :=", "f -> f"),  # ``with … as f`` calls f
    ],
)
def test_a_recursive_function_is_left_out_at_its_definition(policies, functions, at, chain):
    """Rego has no recursion (OPA refuses it); the embedded interpreter follows it until its stack
    overflows, which ended check, audit and test with a segmentation fault and no report."""
    (policies / "domains/orders").mkdir(parents=True, exist_ok=True)
    text = RULE.format(package="domains.orders.consumers").replace(
        'deny contains "no consumers" if not input.product.access.consumers',
        f'import data.domains.orders.consumers as me\n\ndeny contains "deep" if f(100000) > 0\n\n{functions}',
    )
    (policies / "domains/orders/consumers.rego").write_text(text)
    caught = only_problem(policies)
    assert caught.file.endswith("policies/domains/orders/consumers.rego")
    assert caught.line == next(i for i, t in enumerate(text.splitlines(), 1) if t.startswith(at))
    shown = " -> ".join(f"data.domains.orders.consumers.{f}" for f in chain.split(" -> "))
    assert (
        caught.message == f"invalid Rego: function data.domains.orders.consumers.f is recursive ({shown}): Rego has no recursion"
    )
    assert load_library(policies).rule("ORDERS-002") is None


@pytest.mark.parametrize(
    ("body", "message"),
    [
        # one module's ``with`` stopped every rule of every domain
        ("x := count([1]) with count as nosuch\n\tx > 5", "use of undefined variable `nosuch` is unsafe"),
        (
            "msg := nosuchvar\n\tmsg",
            'var nosuchvar is unsafe (path ["domains", "orders", "consumers", "nosuchvar"], scopes [{}])',
        ),
        ("p\n}\n\np if q\n\nq if p\n\nr if {\n\ttrue", "recursion detected when evaluating rule"),
    ],
)
def test_a_rule_the_interpreter_cannot_evaluate_at_all_is_left_out_alone(policies, body, message):
    """govern validate said these were valid; then every product of the domain (and with the
    ``with``, of every domain) ended in error."""
    (policies / "domains/orders").mkdir(parents=True, exist_ok=True)
    text = RULE.format(package="domains.orders.consumers").replace(
        'deny contains "no consumers" if not input.product.access.consumers', f'deny contains "x" if {{\n\t{body}\n}}'
    )
    (policies / "domains/orders/consumers.rego").write_text(text)
    caught = only_problem(policies)
    assert caught.file.endswith("policies/domains/orders/consumers.rego")
    assert caught.message == f"invalid Rego: {message}"
    library = load_library(policies)
    assert library.rule("ORDERS-002") is None
    assert len(library.rules) == len(load_library(REPO / "policies").rules)  # (the others all kept)


def test_what_the_interpreter_writes_to_a_closed_standard_error_is_no_rule_error(policies, tmp_path):
    """The interpreter writes some errors to standard error as well; when that is a closed pipe
    (``govern validate | head``) its write fails, and every rule looked unevaluable: that was
    reported, and kept in the cache for the runs after."""
    import os
    import subprocess
    import sys

    (policies / "domains/orders").mkdir(parents=True, exist_ok=True)
    text = RULE.format(package="domains.orders.consumers").replace("if not input.product.access.consumers", "if nosuchvar")
    (policies / "domains/orders/consumers.rego").write_text(text)
    env = {**os.environ, "GOVERN_CACHE_DIR": str(tmp_path / "cache")}
    argv = [sys.executable, "-m", "engine", "validate", "--policies", str(policies), "--governance", str(REPO / "governance")]
    read, write = os.pipe()
    os.close(read)
    try:
        closed = subprocess.run(argv, stdout=subprocess.PIPE, stderr=write, text=True, env=env, cwd=tmp_path, check=False)
    finally:
        os.close(write)
    again = subprocess.run(argv, capture_output=True, text=True, env=env, cwd=tmp_path, check=False)
    for run in (closed, again):
        assert [line for line in run.stdout.splitlines() if "invalid Rego" in line] == [
            "policies/domains/orders/consumers.rego:13: invalid Rego: use of undefined variable `nosuchvar` is unsafe"
        ]
    assert again.returncode == 3 and "could not schedule" not in again.stderr


def test_a_function_put_in_another_ones_place_counts_as_called():
    """``with f as g`` calls g wherever the body calls f: what a rule may not call (validate) and
    what makes its results vary (engine/memo.py) are found there too."""
    from engine.policy.library import parse_modules

    source = "package t\n\nx := json.marshal(1)\n\ny if {\n\tjson.marshal(1) with json.marshal as uuid.rfc4122\n}\n"
    (module,) = parse_modules([(Path("t.rego"), "t.rego")], contents={Path("t.rego"): source.encode()})
    assert module.calls == [("json.marshal", 3), ("json.marshal", 6), ("uuid.rfc4122", 6)]


def test_a_domain_module_too_declares_the_package_its_file_path_mirrors(policies):
    (policies / "domains/orders").mkdir(parents=True, exist_ok=True)
    (policies / "domains/orders/consumers.rego").write_text(RULE.format(package="domains.orders.other_name"))
    caught = only_problem(policies)
    assert (caught.line, caught.message) == (
        11,
        "package domains.orders.other_name does not mirror its file path: expected package domains.orders.consumers",
    )


@pytest.mark.parametrize(("key", "line"), [("enforcment: advisory", 10), ("parms: {x: {type: string, default: a}}", 10)])
def test_an_unknown_key_of_an_annotations_custom_block_is_an_error_at_its_line(policies, key, line):
    """A misspelt key did nothing: the rule stayed blocking, the parameter undeclared."""
    path = policies / "global/naming/product_name.rego"
    text = path.read_text().replace("#   remediation:", f"#   {key}\n#   remediation:", 1)
    path.write_text(text)
    caught = only_problem(policies)
    name = key.split(":")[0]
    assert caught.line == next(i for i, t in enumerate(text.splitlines(), 1) if t == f"#   {key}")
    assert caught.message == (
        f"invalid METADATA annotation: custom.{name}: unknown key (known: id, category, severity, enforcement,"
        " override, params, effective_on, remediation, examples)"
    )


def test_an_unknown_key_of_a_rules_examples_is_an_error_at_its_line(policies):
    """(fial: was shown by explain and silently left off the published standards page.)"""
    text = RULE.format(package="global.access.more").replace("ORDERS-002", "ACC-099")
    text = text.replace(
        "#   remediation: List the consumers.\n", "#   remediation: List the consumers.\n#   examples:\n#     fial: x\n"
    )
    (policies / "global/access/more.rego").write_text(text)
    caught = only_problem(policies)
    assert (caught.line, caught.message) == (
        12,
        "invalid METADATA annotation: custom.examples.fial: unknown key (known: fail, pass)",
    )


def test_a_domain_named_like_a_category_cannot_pass_its_rules_off_as_the_councils(policies):
    (policies / "domains/con").mkdir(parents=True)
    (policies / "domains/con/consumers.rego").write_text(
        RULE.format(package="domains.con.consumers").replace("ORDERS-002", "CON-050")
    )
    caught = only_problem(policies)
    assert (caught.line, caught.message) == (
        5,
        "rule id 'CON-050' of domain con would pass for a council rule's: a domain whose name is a category prefix"
        " (NAM, ACC, CLS, STD, CON, LIN) cannot have rules of its own",
    )

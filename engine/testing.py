"""Rego unit tests: rules named ``test_*`` in test modules, run with the policies they test.

Tests are discovered from the interpreter's own view of the modules (packages and rule names from
its AST), not by scanning source text. They run in a child process that stops a test running
longer than the time limit (``rule_time_limit`` in govern.toml), as rules are stopped in a check.
Coverage comes from the interpreter too, test by test; a policy file that no test reaches is not
in its reports, so its statement lines are read from the AST and all count as not covered. The
lint checks the library's conventions and that every rule is imported by a test.
"""

from __future__ import annotations

import functools
import json
import os
import re
import shutil
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Literal

from engine.backends.sidecar import Sidecar, begin
from engine.config import display, missing_folder, read_regular
from engine.errors import ConfigError, UsageError, reason
from engine.model import RuleMeta
from engine.policy.isolated import syntax_trees
from engine.policy.library import (
    Library,
    definitions,
    module_tree,
    outside_domain,
    recursive,
    ref_name,
    rego_error,
    rule_names,
    source_text,
    text_names,
)

if TYPE_CHECKING:
    import regorus


@dataclass
class RegoTest:
    package: str
    name: str
    file: str
    line: int
    outcome: Literal["pass", "fail", "error"] = "fail"
    message: str = ""
    prints: list[str] = field(default_factory=list)
    duration_ns: int = 0
    at: str = ""  # file:line of a failure: the test, or where evaluation stopped with an error

    def __post_init__(self) -> None:
        self.at = self.at or f"{self.file}:{self.line}"

    @property
    def id(self) -> str:
        return f"data.{self.package}.{self.name}"

    def as_dict(self) -> dict:
        return {
            "id": self.id,
            "package": f"data.{self.package}",
            "name": self.name,
            "location": {"file": self.file, "line": self.line},
            "outcome": self.outcome,
            "message": self.message,
            "at": self.at,
            "output": self.prints,
            "duration_ns": self.duration_ns,
        }


@dataclass
class FileCoverage:
    file: str
    covered: list[int]
    not_covered: list[int]

    @property
    def percent(self) -> float:
        total = len(self.covered) + len(self.not_covered)
        return 100.0 if total == 0 else 100.0 * len(self.covered) / total

    def as_dict(self) -> dict:
        return {
            "file": self.file,
            "coverage": round(self.percent, 2),
            "covered_lines": len(self.covered),
            "not_covered": self.not_covered,
        }


@dataclass
class TestResults:
    """What ``govern test`` reports: test outcomes, lint problems and, on request, coverage."""

    tests: list[RegoTest]
    lint: list[ConfigError] = field(default_factory=list)
    coverage: list[FileCoverage] | None = None
    threshold: float | None = None

    def count(self, outcome: str) -> int:
        return sum(1 for t in self.tests if t.outcome == outcome)

    @property
    def total_coverage(self) -> float | None:
        if self.coverage is None:
            return None
        covered = sum(len(f.covered) for f in self.coverage)
        total = covered + sum(len(f.not_covered) for f in self.coverage)
        return 100.0 if total == 0 else 100.0 * covered / total

    @property
    def below_threshold(self) -> bool:
        total = self.total_coverage
        return self.threshold is not None and total is not None and total < self.threshold

    @property
    def ok(self) -> bool:
        return bool(self.tests) and self.count("pass") == len(self.tests) and not self.lint and not self.below_threshold


def rego_files(paths: list[Path]) -> list[Path]:
    files: list[Path] = []
    for path in paths:
        if path.is_dir():
            files.extend(sorted(path.rglob("*.rego")))
        elif path.suffix == ".rego":
            files.append(path)
    return text_names(files)


def _resolved(path: Path) -> Path:
    try:
        return path.resolve()
    except (OSError, RuntimeError) as e:  # (Python 3.11 raises RuntimeError for a loop of links)
        raise ConfigError(f"cannot read policy: {reason(e)}", display(path)) from None


def _is_test_file(path: Path) -> bool:
    return path.name.endswith("_test.rego")


def _engine(coverage: bool):  # type: ignore[no-untyped-def]
    from engine.backends.embedded import new_engine

    engine = new_engine()
    engine.set_gather_prints(True)
    engine.set_enable_coverage(coverage)
    return engine


class RegoTestRun:
    """Policies and test modules loaded into one embedded engine.

    Policy files are the ``*.rego`` files below ``policies`` (``*_test.rego`` excepted); test files
    are the ``*.rego`` files below ``tests`` that are not policy files, so ``govern test policies
    policy_tests`` works as it does with ``opa test``.
    """

    def __init__(
        self,
        policies: Path,
        tests: list[Path],
        coverage: bool = False,
        problems: list[ConfigError] | None = None,
        policy_tests: Path | None = None,
        time_limit: float = 0,
    ):
        """With ``problems``, a file that cannot be read or parsed is left out instead of stopping
        the run: a test file's problem is recorded there, a policy file's is the library's already.
        A test file in ``policy_tests``/domains/<domain>/ may only declare packages of that domain
        (else a domain's test could define the council's tests again, passing). A test running
        longer than ``time_limit`` seconds is stopped (0: no limit)."""
        self.engine = _engine(coverage)
        self.coverage_enabled, self.time_limit = coverage, time_limit
        self._covered: dict[str, set[int]] = {}  # file -> lines the tests run so far covered
        self._statements: dict[str, set[int]] = {}  # file -> its statement lines, for the files they reached
        policy_files = {_resolved(p): p for p in rego_files([policies]) if not _is_test_file(p)}
        test_files = {_resolved(p): p for p in rego_files(tests) if _resolved(p) not in policy_files}
        domain_of = _domains_of(test_files, policy_tests)
        self.policy_files = [display(p) for p in policy_files.values()]
        self.test_files = {display(p) for p in test_files.values()}
        read: list[tuple[str, str]] = []
        failed: list[ConfigError] = []
        for path in [*policy_files.values(), *sorted(test_files.values())]:
            shown = display(path)
            try:
                read.append((shown, source_text(read_regular(path), shown)))
            except OSError as e:
                failed.append(ConfigError(f"cannot read policy: {reason(e)}", shown))
            except ConfigError as e:
                failed.append(e)
        # (parsed in a child process first: a file that crashes the parser, or takes it for ever,
        # is named rather than taking govern down; see engine/policy/isolated.py)
        self.modules = []
        for (shown, text), tree in zip(read, syntax_trees(read, module_tree, rego_error), strict=True):
            if isinstance(tree, ConfigError):
                failed.append(tree)
                continue
            self.engine.add_policy(shown, text)
            self.modules.extend(tree)
        for e in failed:
            if problems is None:
                raise e
            if e.file in self.test_files:
                problems.append(e)
            self.test_files.discard(e.file or "")
        # (never to be evaluated: see engine.policy.library.recursive)
        wrong = [*recursive(self.modules), *_outside_their_domain(self.modules, domain_of)]
        if wrong:
            if problems is None:
                raise wrong[0]
            problems.extend(e for e in wrong if e.file in self.test_files)
            left_out = {e.file for e in wrong}
            self.test_files -= left_out
            self.policy_files = [f for f in self.policy_files if f not in left_out]
            kept = [m for m in self.modules if m["source"]["file"] not in left_out]
            self.engine = _engine(coverage)
            for module in kept:
                self.engine.add_policy(module["source"]["file"], module["source"]["contents"])
            self.modules = kept
        for twice in _defined_twice(self.modules, self.test_files):
            if problems is None:
                raise twice
            problems.append(twice)
        self.tests = self._discover()

    def _discover(self) -> list[RegoTest]:
        found = []
        for module in self.modules:
            shown = module["source"]["file"]
            if shown not in self.test_files:
                continue
            package = ref_name(module["ast"]["package"]["refr"]).removeprefix("data.")
            for name, line in rule_names(module["ast"]).items():
                if name.startswith("test_"):
                    found.append(RegoTest(package=package, name=name, file=shown, line=line))
        return sorted(found, key=lambda t: (t.file, t.line))

    def run(self, pattern: str | None = None) -> list[RegoTest]:
        """Run the tests whose id (``data.<package>.<name>``) matches ``pattern``."""
        return self.run_tests([t for t in self.tests if pattern is None or re.search(pattern, t.id)])

    def run_one(self, test: RegoTest) -> RegoTest:
        return self.run_tests([test])[0]

    def run_tests(self, selected: list[RegoTest]) -> list[RegoTest]:
        """Run ``selected``: in a child process that stops a test running longer than the time
        limit (engine/backends/sidecar.py), or here when there is no limit."""
        work = functools.partial(_run_tests, self.engine, self.coverage_enabled)
        if self.time_limit <= 0:
            for test, answer in zip(selected, json.loads(work("", [t.id for t in selected], None)), strict=True):
                self._record(test, answer)
            return selected
        sidecar = Sidecar(work, self.time_limit, subject="this test", where="")
        try:
            for start in range(0, len(selected), BATCH):
                chunk = selected[start : start + BATCH]
                outcomes = sidecar.evaluate_many([("", [t.id]) for t in chunk])
                for test, (done, answers, errors) in zip(chunk, outcomes, strict=True):
                    if done:
                        self._record(test, answers[0])
                    else:
                        test.outcome, test.message = "error", errors[test.id].message
                        test.duration_ns = int(self.time_limit * 1e9) if test.id in sidecar.stopped else 0
        finally:
            sidecar.close()
        return selected

    def _record(self, test: RegoTest, answer: list) -> None:
        """A test's outcome from :func:`_run_tests`' answer."""
        failed, value, test.duration_ns, test.prints, covered = answer
        if failed:
            error = rego_error(value, test.file)
            test.outcome, test.message = "error", error.message.removeprefix("invalid Rego: ")
            test.at = error.where if error.line else test.at
        elif value is True:
            test.outcome, test.message = "pass", ""
        else:
            test.outcome = "fail"
            test.message = (
                "undefined: a statement in the test's body did not hold"
                if value == "<undefined>"
                else f"evaluated to {json.dumps(value)}, not true"
            )
        for file, lines, others in covered:
            self._covered.setdefault(file, set()).update(lines)
            self._statements.setdefault(file, set()).update(lines, others)

    def references(self) -> dict[str, set[str]]:
        """For each test module, the ``data.…`` names it uses: its package, imports and references."""
        refs: dict[str, set[str]] = {}
        for module in self.modules:
            shown = module["source"]["file"]
            if shown in self.test_files:
                refs[shown] = {ref_name(module["ast"]["package"]["refr"]), *_data_refs(module["ast"])}
        return refs

    def coverage(self, scope: list[Path] | None = None) -> list[FileCoverage]:
        """Line coverage of the policy files (those in ``scope`` when given, see :func:`mirrored`)
        by the tests run so far."""
        statements = {m["source"]["file"]: _statement_lines(m["ast"]) for m in self.modules}
        files = []
        for shown in sorted(f for f in self.policy_files if scope is None or within(f, scope)):
            covered = self._covered.get(shown, set())
            lines = self._statements.get(shown) or set(statements.get(shown, []))
            files.append(FileCoverage(shown, sorted(covered), sorted(lines - covered)))
        return files


BATCH = 64  # tests sent to the child at once (after a stop, the batch's other tests are run again)


def _run_tests(engine: regorus.Engine, coverage: bool, _document: str, ids: list[str], page: memoryview | None) -> str:
    """Run the tests ``ids`` (a :data:`engine.backends.sidecar.Work`): for each, as JSON, [1, the
    error] or [0, its value], then how long it took (ns), what it printed and, with ``coverage``,
    the lines it covered and did not of each file it reached ([file, covered, not covered]: the
    coverage data is cleared after each test, so a test stopped in a child loses only its own)."""
    parts = []
    for i, test_id in enumerate(ids, 1):
        if page is not None:
            begin(page, i)
        started = time.perf_counter_ns()
        try:
            outcome = f"0,{engine.eval_rule_as_json(test_id)}"
        except BaseException as e:  # noqa: BLE001 - a Rust panic is not an Exception
            if isinstance(e, (KeyboardInterrupt, SystemExit)):
                raise
            outcome = f"1,{json.dumps(str(e))}"
        took = time.perf_counter_ns() - started
        covered = []
        if coverage:
            report = json.loads(engine.get_coverage_report_as_json())
            engine.clear_coverage_data()
            covered = [[f["path"], f["covered"], f["not_covered"]] for f in report["files"]]
        parts.append(f"[{outcome},{took},{json.dumps(list(engine.take_prints()))},{json.dumps(covered)}]")
    if page is not None:
        begin(page, len(ids) + 1)
    return f"[{','.join(parts)}]"


def _data_refs(node: object) -> set[str]:
    """Names of every reference below ``node`` that starts at ``data``."""
    found: set[str] = set()
    stack = [node]
    while stack:
        item = stack.pop()
        if isinstance(item, dict):
            if "RefDot" in item:
                name = ref_name(item)
                if name.startswith("data."):
                    found.add(name)
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)
    return found


def _statement_lines(ast: dict) -> list[int]:
    """The lines on which a module's rule-body statements start (what coverage counts)."""
    lines: set[int] = set()
    stack: list[object] = [ast.get("rules", [])]
    while stack:
        item = stack.pop()
        if isinstance(item, dict):
            for stmt in item.get("stmts", []) if isinstance(item.get("stmts"), list) else []:
                lines.add(stmt["span"]["line"])
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)
    return sorted(lines)


def _defined_twice(modules: list[dict], test_files: set[str]) -> list[ConfigError]:
    """A test defined again in its package (in its module or another): Rego takes the definitions
    as one rule that holds when any body does, so a failing one passes unseen beside another."""
    first: dict[tuple[str, str], tuple[str, int]] = {}
    found = []
    for module in modules:
        shown = module["source"]["file"]
        if shown not in test_files:
            continue
        package = ref_name(module["ast"]["package"]["refr"])
        for name, line in definitions(module["ast"]):
            if not name.startswith("test_"):
                continue
            where = first.setdefault((package, name), (shown, line))
            if where != (shown, line):
                found.append(
                    ConfigError(
                        f"{name} is defined again (first at {where[0]}:{where[1]}): Rego runs the two as one test that"
                        " passes when either does; give each its own name",
                        shown,
                        line,
                    )
                )
    return found


def _domains_of(files: dict[Path, Path], policy_tests: Path | None) -> dict[str, str]:
    """The domain of each test file (as shown) that lies in ``policy_tests``/domains/<domain>/."""
    if policy_tests is None:
        return {}
    root = _resolved(policy_tests) / "domains"
    found = {}
    for resolved, path in files.items():
        if root in resolved.parents and len(resolved.relative_to(root).parts) > 1:
            found[display(path)] = resolved.relative_to(root).parts[0]
    return found


def _outside_their_domain(modules: list[dict], domain_of: dict[str, str]) -> list[ConfigError]:
    problems = []
    for module in modules:
        shown = module["source"]["file"]
        domain = domain_of.get(shown)
        package = ref_name(module["ast"]["package"]["refr"]).removeprefix("data.")
        outside = outside_domain(package, domain, "tests") if domain is not None else None
        if outside:
            problems.append(ConfigError(outside, shown, module["ast"]["package"]["span"]["line"]))
    return problems


def load_tests(
    policies: Path, tests: list[Path], coverage: bool = False, policy_tests: Path | None = None, time_limit: float = 0
) -> RegoTestRun:
    if not policies.is_dir():
        raise missing_folder("policy folder", policies, "--policies")
    return RegoTestRun(policies, tests, coverage, policy_tests=policy_tests, time_limit=time_limit)


def tests_of(rule: RuleMeta, references: dict[str, set[str]]) -> list[str]:
    """The test modules of a rule: those importing or referring to its package, or its ``_test`` package."""
    package = f"data.{rule.package}"
    return sorted(
        file
        for file, refs in references.items()
        if any(r == package or r.startswith(package + ".") or r == package + "_test" for r in refs)
    )


def untested(library: Library, references: dict[str, set[str]], tests: list[Path]) -> list[ConfigError]:
    """A problem for every rule that no test module imports."""
    shown_tests = ", ".join(display(p) for p in tests) or "the test folder"
    return [
        ConfigError(f"{rule.id} has no tests: no test module in {shown_tests} imports data.{rule.package}", rule.file, rule.line)
        for rule in library.rules
        if not tests_of(rule, references)
    ]


def lint(
    library: Library, references: dict[str, set[str]], tests: list[Path], scope: list[Path] | None = None
) -> list[ConfigError]:
    """The lint of ``govern test``: the library's conventions (checked on load) and a test for
    every rule (of the part of the library in ``scope``, when given: see :func:`mirrored`)."""
    untested_rules = untested(library, references, tests)
    if scope is not None:
        untested_rules = [p for p in untested_rules if p.file is not None and within(p.file, scope)]
    return [*library.problems, *untested_rules]


def mirrored(tests: list[Path], policy_tests: Path, policies: Path) -> list[Path] | None:
    """The folders (or files) of the policy library that test paths inside the test folder mirror
    (``policy_tests/global/naming`` -> ``policies/global/naming``; a test file ``x_test.rego`` ->
    ``x.rego``), or None when one of them lies outside it: then the whole library is in question."""
    root = os.path.abspath(policy_tests)
    found = []
    for path in tests:
        here = os.path.abspath(path)
        if here != root and not here.startswith(root + os.sep):
            return None
        part = Path(policies) / os.path.relpath(here, root)
        found.append(part.with_name(part.name.removesuffix("_test.rego") + ".rego") if _is_test_file(part) else part)
    return found


def within(file: str, scope: list[Path]) -> bool:
    """Whether ``file`` (as shown) lies in one of the folders or files of ``scope``."""
    here = os.path.abspath(file)
    return any(here == (top := os.path.abspath(s)) or here.startswith(top + os.sep) for s in scope)


def untested_in(library: Library, tests: Path) -> list[ConfigError]:
    """:func:`untested` for ``govern validate`` of the test folder ``tests``: the test modules are
    parsed, not run; one that cannot be parsed is a problem of its own (its rules' tests are then
    missing too)."""
    from engine import cache

    try:  # (the syntax trees of every module, read again: a second in a validate that is otherwise a check's)
        files = rego_files([library.root, tests])
        # (each file by its name and where it leads: a test file is told by its resolved path)
        names = [f"{display(p)}\0{os.path.realpath(p)}\0" for p in files]
        key = cache.key("untested", display(library.root), display(tests), *names, *map(read_regular, files))
    except (OSError, ConfigError):  # (what cannot be read is the problem the run below names)
        key = None
    stored = cache.get("untested", key) if key is not None else None
    try:
        problems = [ConfigError(message, file, line) for message, file, line in stored["problems"]]
        references = {file: set(refs) for file, refs in stored["references"].items()}
    except (TypeError, KeyError, ValueError):  # (none stored, or damaged)
        problems = []
        references = RegoTestRun(library.root, [tests], problems=problems, policy_tests=tests).references()
        if key is not None:
            stored = {
                "problems": [[p.message, p.file, p.line] for p in problems],
                "references": {f: sorted(r) for f, r in references.items()},
            }
            cache.put("untested", key, stored)
    return [*problems, *untested(library, references, [tests])]


def opa_test_argv(
    policies: Path,
    paths: list[Path],
    *,
    verbose: bool,
    pattern: str | None,
    fmt: str,
    coverage: bool,
    threshold: float | None,
    time_limit: float = 0,
) -> list[str]:
    """The ``opa test`` command line for the same policies, tests and options; a test's time limit
    as opa's ``--timeout`` (which cannot be turned off: 0 is its default, 5 s, so no limit is a
    year)."""
    exe = shutil.which("opa")
    if exe is None:  # (as check and audit say it: a usage error, exit 2)
        raise UsageError(
            "--engine opa runs `opa test`, but no opa binary is on PATH: install OPA "
            "(https://www.openpolicyagent.org/docs/latest/#running-opa) or use the embedded engine (the default)"
        )
    argv = [exe, "test", display(policies), *(display(p) for p in paths)]
    if verbose:
        argv.append("--verbose")
    if pattern:
        argv += ["--run", pattern]
    if fmt == "json":
        argv += ["--format", "json"]
    if coverage or threshold is not None:
        argv.append("--coverage")
    if threshold is not None:
        argv += ["--threshold", f"{threshold:g}"]
    argv += ["--timeout", f"{max(1, round(time_limit * 1000))}ms" if time_limit > 0 else "8760h"]
    return argv

"""Rego unit tests: rules named ``test_*`` in test modules, run with the policies they test.

Tests are discovered from the interpreter's own view of the modules (packages and rule names from
its AST), not by scanning source text.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from engine.config import display
from engine.errors import ConfigError
from engine.policy.library import ref_name, rego_error, rule_names


@dataclass
class RegoTest:
    package: str
    name: str
    file: str
    line: int
    outcome: Literal["pass", "fail", "error"] = "fail"
    message: str = ""
    prints: list[str] = field(default_factory=list)

    @property
    def id(self) -> str:
        return f"data.{self.package}.{self.name}"


def _rego_files(paths: list[Path]) -> list[Path]:
    files: list[Path] = []
    for path in paths:
        if path.is_dir():
            files.extend(sorted(path.rglob("*.rego")))
        elif path.suffix == ".rego":
            files.append(path)
    return files


class RegoTestRun:
    """Policies and test modules loaded into one embedded engine."""

    def __init__(self, policies: Path, tests: list[Path]):
        from engine.backends.embedded import new_engine

        self.engine = new_engine()
        self.engine.set_gather_prints(True)
        test_files = {p.resolve() for p in _rego_files(tests)}
        policy_files = [p for p in _rego_files([policies]) if p.resolve() not in test_files]
        self.test_files = {display(p) for p in test_files}
        for path in [*policy_files, *sorted(test_files)]:
            shown = display(path)
            try:
                self.engine.add_policy(shown, path.read_text(encoding="utf-8"))
            except BaseException as e:  # noqa: BLE001 - parse errors and panics alike
                raise rego_error(str(e), shown) from None
        self.tests = self._discover()

    def _discover(self) -> list[RegoTest]:
        found = []
        for module in json.loads(self.engine.get_ast_as_json()):
            shown = module["source"]["file"]
            if shown not in self.test_files:
                continue
            package = ref_name(module["ast"]["package"]["refr"]).removeprefix("data.")
            for name, line in rule_names(module["ast"]).items():
                if name.startswith("test_"):
                    found.append(RegoTest(package=package, name=name, file=shown, line=line))
        return sorted(found, key=lambda t: (t.file, t.line))

    def run(self, pattern: str | None = None) -> list[RegoTest]:
        selected = [t for t in self.tests if pattern is None or re.search(pattern, t.id)]
        for test in selected:
            self.run_one(test)
        return selected

    def run_one(self, test: RegoTest) -> RegoTest:
        try:
            value = json.loads(self.engine.eval_rule_as_json(test.id))
        except BaseException as e:  # noqa: BLE001
            if isinstance(e, (KeyboardInterrupt, SystemExit)):
                raise
            test.outcome, test.message = "error", str(rego_error(str(e), test.file))
        else:
            if value is True:
                test.outcome = "pass"
            else:
                test.outcome = "fail"
                test.message = "undefined" if value == "<undefined>" else f"result {json.dumps(value)}"
        test.prints = list(self.engine.take_prints())
        return test


def load_tests(policies: Path, tests: list[Path]) -> RegoTestRun:
    if not policies.is_dir():
        raise ConfigError(f"policy folder {display(policies)} does not exist")
    return RegoTestRun(policies, tests)

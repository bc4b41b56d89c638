"""The reference backend: the real OPA Go library, in-process, through ``opa-golib-python-bindings``.

An optional extra: the package declares Python >= 3.14 but works on 3.11, so it is installed with
``pip install --ignore-requires-python opa-golib-python-bindings==0.4.4`` (docs/opa.md). It is
single-author alpha software, never a default: it exists to show that the council's rules mean the
same under OPA as under the embedded interpreter (tests/test_parity.py).
"""

from __future__ import annotations

import json
import re
from importlib.metadata import PackageNotFoundError, version
from typing import Any

from engine.backends import Results, RuleError, Sequential, entry_module, library_order
from engine.errors import ConfigError, UsageError

REFERENCE_PACKAGE = "opa-golib-python-bindings"
INSTALL = f"pip install --ignore-requires-python {REFERENCE_PACKAGE}==0.4.4"
_LOCATION = re.compile(r"(?P<file>[^\s:]+\.rego):(?P<line>\d+): (?P<message>.+)")


def opa_error(message: str) -> ConfigError:
    """An OPA compile error (``N errors occurred: file:line: code: message``) as a ConfigError with file:line."""
    m = _LOCATION.search(message)
    if m is None:
        return ConfigError(f"OPA rejected the policies: {message.strip()}")
    return ConfigError(f"OPA rejected the policy: {m.group('message').strip()}", m.group("file"), int(m.group("line")))


class ReferenceEngine(Sequential):
    name = "reference"

    def __init__(self) -> None:
        try:
            from opa_bindings import OpaEngine
        except ImportError:
            raise UsageError(f"--engine reference needs the optional OPA library: {INSTALL}") from None
        try:
            self.version = f"OPA Go library via {REFERENCE_PACKAGE} {version(REFERENCE_PACKAGE)}"
        except PackageNotFoundError:
            self.version = "OPA Go library"
        self._engine = OpaEngine()
        self._engine.print_handler = lambda message, location: None
        self._entries: dict[frozenset[str], str] = {}

    def load(self, modules: list[tuple[str, str]], data: dict[str, Any]) -> None:
        from opa_bindings import OpaError

        for file, source in library_order(modules):
            try:
                self._engine.add_policy(file, source)
            except OpaError as e:
                raise opa_error(e.message) from None
        self._engine.add_data(data)
        try:
            # The Go library compiles (and type-checks) the modules at the first query: a module
            # it rejects would otherwise come out as an error of every rule of every product.
            self._engine.eval_query("true")
        except OpaError as e:
            raise opa_error(e.message) from None

    def _entry(self, packages: list[str]) -> str:
        key = frozenset(packages)
        if key not in self._entries:
            package, source = entry_module(packages)
            self._engine.add_policy(f"{package}.rego", source)
            self._entries[key] = package
        return self._entries[key]

    def evaluate(self, document: str, packages: list[str]) -> Results:
        from opa_bindings import OpaError

        if not packages:
            return {}
        data = json.loads(document)
        try:
            return self._engine.eval_document(f"{self._entry(packages)}.results", data)
        except OpaError:
            pass  # one rule erred: find which, rule by rule
        out: Results = {}
        for package in packages:
            try:
                out[package] = self._engine.eval_document(f"{package}.deny", data)
            except OpaError as e:
                out[package] = RuleError(e.message)
        return out

    def close(self) -> None:
        self._engine.close()

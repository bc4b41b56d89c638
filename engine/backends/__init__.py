"""Policy engines: the small protocol every backend implements, and how to pick one.

- ``embedded`` (default): regorus in-process (:mod:`engine.backends.embedded`);
- ``opa``: one or more OPA servers over the REST API, or an ``opa`` binary started for the run
  (:mod:`engine.backends.opa`);
- ``reference``: the OPA Go library in-process, through ``opa-golib-python-bindings``
  (:mod:`engine.backends.reference`), to prove that the rules mean the same under real OPA.

The OPA-based backends evaluate every rule of a product in one query through a generated *entry*
module (:func:`entry_module`); when that query fails because one rule errs, they evaluate the rules
one by one so only the erring rule is marked ``error``, as the embedded engine does.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from itertools import islice
from typing import Any, Protocol

from engine.config import RULE_TIME_LIMIT
from engine.errors import UsageError

ENGINES = ["embedded", "opa", "reference"]
ENTRY_PREFIX = "govern_run"


@dataclass
class RuleError:
    """A rule that could not be evaluated for one input document."""

    message: str


Results = dict[str, list[Any] | RuleError]
Request = tuple[str, list[str]]  # a JSON input document and the packages whose deny to evaluate

BATCH = 64  # requests a backend receives at once from evaluate_stream


class PolicyEngine(Protocol):
    name: str
    version: str

    def load(self, modules: list[tuple[str, str]], data: dict[str, Any]) -> None:
        """Load Rego modules (file, source) and the data document once per run."""

    def evaluate(self, document: str, packages: list[str]) -> Results:
        """Evaluate ``data.<package>.deny`` of each package against one JSON input document."""

    def evaluate_many(self, requests: Sequence[Request]) -> list[Results]:
        """:meth:`evaluate` for many documents, results in the same order (backends may run them concurrently)."""

    def evaluate_stream(self, requests: Iterable[Request | None], total: int) -> Iterator[Results | None]:
        """Results of a stream of requests, in order, while the stream is still being produced
        (``None`` in, ``None`` out: a product that could not be loaded); ``total`` is its length."""

    def close(self) -> None:
        """Release what the engine holds (servers it started, connections)."""


class Batched:
    """``evaluate_stream`` for backends that take requests :data:`BATCH` at a time through ``evaluate_many``."""

    def evaluate_many(self, requests: Sequence[Request]) -> list[Results]:
        raise NotImplementedError

    def evaluate_stream(self, requests: Iterable[Request | None], total: int) -> Iterator[Results | None]:
        it = iter(requests)
        while batch := list(islice(it, BATCH)):
            answers = iter(self.evaluate_many([r for r in batch if r is not None]))
            for request in batch:
                yield None if request is None else next(answers)


class Sequential(Batched):
    """``evaluate_many`` and ``close`` for backends that evaluate one document at a time."""

    def evaluate(self, document: str, packages: list[str]) -> Results:
        raise NotImplementedError

    def evaluate_many(self, requests: Sequence[Request]) -> list[Results]:
        return [self.evaluate(document, packages) for document, packages in requests]

    def close(self) -> None:
        return None


def entry_module(packages: list[str]) -> tuple[str, str]:
    """A module whose ``results`` object maps each package to its ``deny`` set: one query per product."""
    digest = hashlib.sha256("\n".join(sorted(packages)).encode()).hexdigest()[:16]
    package = f"{ENTRY_PREFIX}.e{digest}"
    lines = [f"package {package}", "", "results := {"]
    lines += [f'\t"{p}": data.{p}.deny,' for p in sorted(packages)]
    lines.append("}")
    return package, "\n".join(lines) + "\n"


def library_order(modules: list[tuple[str, str]]) -> list[tuple[str, str]]:
    """Helpers (``policies/global/lib``) first: OPA compiles each module against those already loaded."""
    return sorted(modules, key=lambda m: (0 if "/lib/" in m[0].replace("\\", "/") else 1, m[0]))


def make_engine(
    name: str, opa_urls: Sequence[str] = (), workers: Any = None, time_limit: float = RULE_TIME_LIMIT
) -> PolicyEngine:
    """The engine ``name``; ``workers`` (engine.parallel.Workers) spread the embedded engine over
    processes, which stops a rule after ``time_limit`` seconds on one product (0: no limit)."""
    if opa_urls and name != "opa":
        raise UsageError("--opa-url needs --engine opa")
    if name == "embedded":
        from engine.backends.embedded import EmbeddedEngine

        return EmbeddedEngine(workers, time_limit)
    if name == "reference":
        from engine.backends.reference import ReferenceEngine

        return ReferenceEngine()
    if name == "opa":
        from engine.backends.opa import OpaServerEngine

        return OpaServerEngine.for_urls(list(opa_urls))
    raise UsageError(f"unknown engine {name!r}: use one of {', '.join(ENGINES)}")

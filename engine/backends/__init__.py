"""Policy engines: the small protocol every backend implements, and how to pick one."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol

from engine.errors import UsageError


@dataclass
class RuleError:
    """A rule that could not be evaluated for one input document."""

    message: str


class PolicyEngine(Protocol):
    name: str
    version: str

    def load(self, modules: list[tuple[str, str]], data: dict[str, Any]) -> None:
        """Load Rego modules (file, source) and the data document once per run."""

    def evaluate(self, document: str, packages: list[str]) -> dict[str, list[Any] | RuleError]:
        """Evaluate ``data.<package>.deny`` of each package against one JSON input document."""


def make_engine(name: str) -> PolicyEngine:
    if name == "embedded":
        from engine.backends.embedded import EmbeddedEngine

        return EmbeddedEngine()
    raise UsageError(f"engine {name!r} is not available yet; use --engine embedded")

"""Report writers: one module per format, each rendering the same :class:`Report`."""

from __future__ import annotations

from importlib import import_module
from typing import Protocol

from engine.model import Report

FORMATS = {
    "text": "text",
    "json": "jsonfmt",
    "markdown": "markdown",
    "sarif": "sarif",
    "junit": "junit",
    "html": "html",
}


class Writer(Protocol):
    def __call__(self, report: Report, *, color: bool) -> str: ...


def writer(name: str) -> Writer:
    """The ``render`` function of a format's module, imported only when asked for."""
    return import_module(f"engine.report.{FORMATS[name]}").render

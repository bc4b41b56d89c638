"""Report writers: one module per format, each rendering the same :class:`Report`."""

from __future__ import annotations

import unicodedata
from collections.abc import Iterator
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
    """A format's ``render``: the report as text, or as pieces of UTF-8 (JSON: written as they are
    made, so no text of a large report is held)."""

    def __call__(self, report: Report, *, color: bool) -> str | Iterator[bytes]: ...


def writer(name: str) -> Writer:
    """The ``render`` function of a format's module, imported only when asked for."""
    return import_module(f"engine.report.{FORMATS[name]}").render


def clean(value: object) -> str:
    """Untrusted text with its control and format characters made visible: ``\\x1b`` for an escape,
    ``\\u202e`` for a bidirectional override; newlines and tabs stay. The text, markdown, HTML and
    JUnit writers apply it to everything they show, so no report can move a terminal's cursor,
    retitle its window, reorder what a reviewer reads or break an XML parser (which also refuses
    U+FFFE, U+FFFF and lone surrogates). JSON and SARIF keep text exact (JSON escapes it)."""
    return "".join(
        ch if ch in "\n\t" or (unicodedata.category(ch) not in _HIDDEN and ch not in "\ufffe\uffff") else _visible(ch)
        for ch in str(value)
    )


_HIDDEN = {"Cc", "Cf", "Cs"}  # control and format characters, surrogates


def counted(number: int, noun: str) -> str:
    """``1 product``, ``2 products`` (nouns whose plural takes an s)."""
    return f"{number} {noun}{'' if number == 1 else 's'}"


def one_line(value: object) -> str:
    """:func:`clean` for output read line by line (the text report, ``govern lineage``, messages on
    standard error): newlines shown as ``\\n`` too (and the line and paragraph separators, which
    some readers break lines at), so a finding's message, a name or an error cannot make a line of
    its own that reads as govern's."""
    return clean(value).replace("\n", "\\n").replace("\u2028", "\\u2028").replace("\u2029", "\\u2029")


def _visible(ch: str) -> str:
    code = ord(ch)
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"

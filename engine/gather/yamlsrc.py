"""YAML (and JSON) read with the C safe loader, keeping the line of every key.

Documents are composed into nodes by libyaml and turned into plain data (in yamlparse), so that every key
path (``outputPorts[0].contractId``) maps to the line it was written on. Timestamps stay strings
(JSON has no dates, and JSON Schema expects strings), mapping keys keep their written text
(``on:`` is the key "on", not True), and everything a safe loader tolerates but a governance file
should not (duplicate keys, several documents, alias bombs, deep nesting, unknown tags,
non-UTF-8 bytes) is an error with file and line.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from engine import cache
from engine.config import TooLarge, read_regular
from engine.errors import LoadError

MAX_FILE_BYTES = 16 * 1024 * 1024


@dataclass
class Located:
    """A loaded document and the line of each of its key paths."""

    data: Any
    file: str
    lines: dict[str, int] = field(default_factory=dict)
    # Whether the document holds a float JSON has no number for (.inf, .nan, 1e999): such a value
    # must not pass through a serializer that writes it as null.
    nonfinite: bool = False

    def line_of(self, path: str | None) -> int:
        """The line of ``path``, or of its nearest written parent, or 1."""
        p = path or ""
        while p:
            if p in self.lines:
                return self.lines[p]
            p = parent_path(p)
        return self.lines.get("", 1)


def misspelt_key(path: str, meant: str = "", written: str = "") -> str:
    """The entry of a document's ``lines`` saying that ``written``, at its line, is likely a
    misspelling of ``meant``, which would give key ``path``, though not written beside where
    ``path`` would be (an ODPS custom property ``accesModel`` for ``accessModel``, the product's
    ``access.model``); no key path starts with ``?``. Without ``meant``, the start of every such
    entry for ``path``."""
    return f"?{path}={meant}={written}" if meant else f"?{path}="


def parent_path(path: str) -> str:
    """``a.b[0].c`` -> ``a.b[0]`` -> ``a.b`` -> ``a`` -> ``""``."""
    if path.endswith("]"):
        return path[: path.rindex("[")]
    cut = path.rfind(".")
    return path[:cut] if cut > 0 else ""


def join(path: str, key: str | int) -> str:
    if isinstance(key, int):
        return f"{path}[{key}]"
    return f"{path}.{key}" if path else key


def first_error(e: ValidationError) -> str:
    """The first of pydantic's errors as ``key.path: message``, for files without line numbers."""
    (loc, message), *_ = pydantic_errors(e)
    where = ".".join(str(part) for part in loc)
    return f"{where}: {message}" if where else message


NUMBER_HINT = " (YAML read a number here: put the value in quotes)"
# The members of a union of strict numbers, as pydantic names them in an error's location
# (``minimum.int``, ``minimum.float``): one value failing both is one problem, a number.
_NUMBER_MEMBERS = {("int", "int_type"), ("float", "float_type")}


def pydantic_errors(e: ValidationError) -> list[tuple[tuple[str | int, ...], str]]:
    """Pydantic's errors as (location, message), in words for a file's author: a mapping, not a
    model class; a validator's message without "Value error, "; a number where YAML read text for
    text; one error for a value that is no number of a union of number types."""
    found: dict[tuple[str | int, ...], str] = {}
    for err in e.errors():
        loc, kind = tuple(err["loc"]), err["type"]
        # (pydantic names its model class where a mapping is wanted: "instance of _OdpsTeam")
        message = "Input should be a mapping" if kind in ("model_type", "model_attributes_type") else err["msg"]
        message = message.removeprefix("Value error, ")
        if kind == "string_type" and type(err.get("input")) in (int, float):  # (version: 1.2)
            message += NUMBER_HINT
        if loc and (loc[-1], kind) in _NUMBER_MEMBERS:
            loc, message = loc[:-1], "Input should be a number"
        found.setdefault(loc, message)
    return list(found.items())


def _problems(e: ValidationError, doc: Located, prefix: str) -> list[tuple[int | None, str]]:
    """Each of pydantic's errors as its line and ``key.path: message``."""
    found = []
    for loc, message in pydantic_errors(e):
        path = prefix
        for key in loc:
            path = join(path, key)
        found.append((doc.line_of(path), f"{path or '(document)'}: {message}"))
    return found


def validation_error(e: ValidationError, doc: Located, what: str, prefix: str = "") -> LoadError:
    """Turn pydantic's errors into one LoadError located at the first of them (a product's error,
    one line in a report)."""
    problems = _problems(e, doc, prefix)
    first_line = next((line for line, _ in problems if line), None)
    parts = [f"{problem} (line {line})" if line and line != first_line else problem for line, problem in problems]
    return LoadError(f"invalid {what}: " + "; ".join(parts), doc.file, first_line)


def validation_errors(e: ValidationError, doc: Located, what: str) -> list[LoadError]:
    """Pydantic's errors, each a LoadError at its own line (a configuration's problems, listed)."""
    return [LoadError(f"invalid {what}: {problem}", doc.file, line) for line, problem in _problems(e, doc, "")]


def read_text(path: Path, display: str) -> str:
    """Read a file as UTF-8 within the size limit; errors name file and line."""
    return decode(read_bytes(path, display), display)


def read_bytes(path: Path, display: str) -> bytes:
    """A file's bytes, within the size limit."""
    try:
        return read_regular(path, MAX_FILE_BYTES)
    except TooLarge as e:
        raise LoadError(f"file is {e.size} bytes, larger than the limit of {MAX_FILE_BYTES}", display) from None
    except OSError as e:
        raise LoadError(f"cannot read file: {e.strerror or e}", display) from None


def decode(raw: bytes, display: str) -> str:
    """UTF-8 text (without a byte order mark); invalid bytes are an error naming their line."""
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as e:
        line = raw[: e.start].count(b"\n") + 1
        raise LoadError(f"not valid UTF-8 (byte 0x{raw[e.start]:02x} at offset {e.start})", display, line) from None
    return text.removeprefix("\ufeff")


def load_file(path: Path, display: str | None = None, *, cached: bool = False) -> Located:
    """Load one YAML or JSON document from ``path``; with ``cached``, through the cache (engine/cache.py)."""
    shown = display or str(path)
    if not cached:
        return load_text(read_text(path, shown), shown)
    return load_bytes(read_bytes(path, shown), shown)


def load_bytes(raw: bytes, shown: str) -> Located:
    """Load one YAML or JSON document from a file's bytes (``read_bytes``), through the cache."""
    digest = cache.key("yaml", shown, raw)
    stored = cache.get("yaml", digest)
    if isinstance(stored, dict) and "data" in stored and isinstance(stored.get("lines"), dict):
        return Located(stored["data"], shown, stored["lines"])
    located = load_text(decode(raw, shown), shown)
    cache.put("yaml", digest, {"data": located.data, "lines": located.lines})
    return located


def load_text(text: str, display: str) -> Located:
    """Parse one YAML or JSON document (the parser, and PyYAML, are imported on first use)."""
    from engine.gather.yamlparse import parse

    return parse(text, display)

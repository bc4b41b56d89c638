"""Rego parsed where the parser cannot take govern down with it.

A policy file is a domain team's, and every command of every domain reads it. regorus' parser
recurses: a file nested some thousands of levels deep (a 10 KB list literal, a long chain of unary
minus) overflows its stack and kills the process (SIGSEGV, no message); some nestings take a time
that doubles with each level (a list literal 26 levels deep: hours); and an expression of a few
hundred terms gives a syntax tree deeper than Python's JSON reader goes (RecursionError).

So each file is parsed in a forked child process, one after another: the child sends each file's
syntax tree (as JSON text) or its error back through a pipe, announcing each file before it parses
it. When the child dies, or takes longer than :data:`PARSE_SECONDS` over one file, that file is
the one it was parsing: it is reported at its name, and a new child parses the files after it.
Where no child can be forked (a limit on processes), the files are parsed in this process.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from engine.errors import ConfigError
from engine.frames import Reader, frame, send, start_child, stop_child, within

PARSE_SECONDS = 20  # for one file: the library's largest takes a few milliseconds
MAX_DEPTH = 400  # levels of a module's syntax tree (as JSON) that govern's own walks of it may take

Trees = list[dict[str, Any]]  # a module's entries of regorus' get_ast_as_json
# (messages: B begins file i; A its syntax tree, E its error, each of a length and that many bytes)


def syntax_trees(
    items: list[tuple[str, str]], parse: Callable[[str, str], str], error: Callable[[str, str], ConfigError]
) -> list[Trees | ConfigError]:
    """For each (name, text) of ``items``, the entries ``parse(name, text)`` gives (regorus'
    ``get_ast_as_json`` of an engine holding that module alone), or why it has none: ``error(message,
    name)`` of the parser's error, or a ConfigError saying the parser crashed, took too long or made
    a tree too deep to walk."""
    out: list[Trees | ConfigError] = []
    while len(out) < len(items):
        out.extend(_in_child(items[len(out) :], parse, error))
    return out


def _in_child(
    items: list[tuple[str, str]], parse: Callable[[str, str], str], error: Callable[[str, str], ConfigError]
) -> list[Trees | ConfigError]:
    """What a child makes of ``items`` until it dies or stalls (the file it was on then included)."""

    def parse_each(_: int, answers: int) -> None:
        for i, (name, text) in enumerate(items):
            send(answers, frame(b"B", i))
            kind, payload = _parse_one(name, text, parse)
            send(answers, frame(kind, len(payload), payload))

    started = start_child(parse_each)
    if started is None:
        return [_decoded(*_parse_one(name, text, parse), name, error) for name, text in items]
    pid, to_child, read_end = started
    out: list[Trees | ConfigError] = []
    reader = Reader(read_end)
    try:
        while len(out) < len(items):
            name = items[len(out)][0]
            begun = reader.frame(within(PARSE_SECONDS))
            result = reader.message(within(PARSE_SECONDS)) if begun is not None else None
            if result is None:  # (dead, or stalled: on this file)
                out.append(_stopped(name, reader.timed_out))
                return out
            out.append(_decoded(*result, name, error))
        return out
    finally:
        stop_child(pid, to_child, read_end)


def _parse_one(name: str, text: str, parse: Callable[[str, str], str]) -> tuple[bytes, bytes]:
    try:
        return b"A", parse(name, text).encode()
    except BaseException as e:  # noqa: BLE001 - regorus raises RuntimeError, or a PanicException on bugs
        return b"E", str(e).encode()


def _decoded(kind: bytes, payload: bytes, name: str, error: Callable[[str, str], ConfigError]) -> Trees | ConfigError:
    if kind == b"E":
        return error(payload.decode(errors="replace"), name)
    try:
        entries = json.loads(payload)
    except RecursionError:
        entries = None
    if entries is None or _depth(entries) > MAX_DEPTH:
        return ConfigError(
            f"this module is nested too deeply for govern to read (its syntax tree is more than {MAX_DEPTH} levels deep:"
            " an expression of hundreds of terms, or brackets nested hundreds deep): split it",
            name,
        )
    return entries


def _depth(value: Any) -> int:
    """How deep a JSON value is, without recursion."""
    deepest, stack = 0, [(value, 1)]
    while stack:
        item, level = stack.pop()
        deepest = max(deepest, level)
        if deepest > MAX_DEPTH:
            return deepest
        if isinstance(item, dict):
            stack.extend((v, level + 1) for v in item.values())
        elif isinstance(item, list):
            stack.extend((v, level + 1) for v in item)
    return deepest


def _stopped(name: str, timed_out: bool) -> ConfigError:
    if timed_out:
        why = (
            f"the Rego parser did not finish this file in {PARSE_SECONDS} s (its time doubles with each level of"
            " nested brackets): nest less deeply"
        )
    else:
        why = (
            "the Rego parser crashed on this file (brackets or operators nested thousands deep overflow its stack):"
            " nest less deeply"
        )
    return ConfigError(why, name)

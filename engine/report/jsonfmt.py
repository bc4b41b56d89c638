"""``--format json``: the govern.report/v1 document itself, written in pieces.

The report's long lists (products, findings, the lineage graph's nodes and edges) are serialized a
thousand items at a time and spliced into the rest of the document, which pydantic serializes
with those lists empty: the bytes are those of ``report.model_dump_json(indent=2, by_alias=True)``
(tests/test_report_stream.py compares them), but no text of the whole report is ever held, and an
audit's lists are read from its spool (engine/spool.py) as they are written.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from functools import cache
from itertools import islice
from typing import Any

from pydantic import TypeAdapter

from engine.model import Graph, Model, Report

CHUNK = 1000


def render(report: Report, *, color: bool = False) -> Iterator[bytes]:
    yield from chunks(report, indent=2)
    yield b"\n"


def chunks(report: Report, indent: int | None) -> Iterator[bytes]:
    """The report's JSON (``indent`` as pydantic's, None: compact) in pieces."""
    update: dict[str, Any] = {"products": [], "findings": []}
    lists: list[tuple[bytes, int, Sequence[Any]]] = [(b"products", 1, report.products), (b"findings", 1, report.findings)]
    if report.lineage is not None:
        update["lineage"] = Graph()
        lists += [(b"nodes", 2, report.lineage.nodes), (b"edges", 2, report.lineage.edges)]
    skeleton = report.model_copy(update=update)
    text = skeleton.__pydantic_serializer__.to_json(skeleton, indent=indent, by_alias=True)
    start = 0
    for name, level, items in lists:
        # The first empty list of that name at its level after the previous one: strings cannot
        # hold it (their quotes are escaped), and nothing before these keys is a list of that name.
        if indent is None:
            marker = b'"' + name + b'":[]'
        else:
            marker = b"\n" + b" " * (indent * level) + b'"' + name + b'": []'
        at = text.index(marker, start)
        end = at + len(marker)
        yield text[start : end - 1]  # up to the opening bracket
        yield from _items(items, level, indent)
        yield b"]"
        start = end
    yield text[start:]


def _items(items: Sequence[Any], level: int, indent: int | None) -> Iterator[bytes]:
    """The items of a list at ``level``, without its brackets (what pydantic writes between them)."""
    pad = b"" if indent is None else b" " * (indent * level)
    docs = getattr(items, "docs", None)
    if indent is None and docs is not None:  # compact, from a spool: its rows are the items' JSON
        first = True
        for doc in docs():
            yield doc if first else b"," + doc
            first = False
        return
    first = True
    for chunk in _batched(items):
        body = _adapter(type(chunk[0])).dump_json(chunk, indent=indent, by_alias=True)
        if indent is None:
            body = body[1:-1]  # the list's brackets
        else:  # the list's brackets and line breaks; its items one level deeper
            body = b"\n" + pad + body[2:-2].replace(b"\n", b"\n" + pad)
        yield body if first else b"," + body
        first = False
    if not first and indent is not None:
        yield b"\n" + pad


def _batched(items: Iterable[Any]) -> Iterator[list[Any]]:
    iterator = iter(items)
    while chunk := list(islice(iterator, CHUNK)):
        yield chunk


@cache
def _adapter(model: type[Model]) -> TypeAdapter[list[Any]]:
    return TypeAdapter(list[model])  # type: ignore[valid-type]

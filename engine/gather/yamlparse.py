"""The YAML parser behind :func:`engine.gather.yamlsrc.load_text`: libyaml composes nodes, and a
builder turns them into plain data, recording the line of every key path.

A module of its own so that PyYAML is imported only when a file is actually parsed: a ``govern
check`` whose files all come from the cache never imports it.
"""

from __future__ import annotations

import math
import re
import sys
from typing import Any

import yaml

from engine.errors import LoadError
from engine.gather.yamlsrc import Located

MAX_DEPTH = 100
MAX_NODES = 500_000

_STR = "tag:yaml.org,2002:str"
_SEQ = "tag:yaml.org,2002:seq"
_MAP = "tag:yaml.org,2002:map"

if not hasattr(yaml, "CSafeLoader"):  # pragma: no cover - PyYAML built without libyaml
    raise ImportError("PyYAML was built without libyaml; reinstall PyYAML with its C extension")

# PyYAML's implicit scalar resolvers (bool, int, float, null, timestamp, ...) by first character.
_IMPLICIT = yaml.resolver.Resolver.yaml_implicit_resolvers


# The tag of each plain scalar text resolved so far: the same keys and values (name, logicalType,
# string, true, ...) make up most of every file of a mesh, and a lookup is cheaper than the regular
# expressions. Only short texts are kept (long ones, descriptions, are seldom repeated), and at most
# MAX_RESOLVED of them, so that a mesh of unique texts cannot grow it without end.
MAX_RESOLVED = 65_536
_RESOLVED: dict[str, str] = {}


def _implicit_tag(value: str) -> str:
    for tag, regexp in _IMPLICIT.get(value[:1] if value else "", ()):
        if regexp.match(value):
            return str(tag)
    return _STR


class _Loader(yaml.CSafeLoader):  # type: ignore[misc,name-defined]
    """The C safe loader with a leaner resolver: libyaml calls it for every node.

    It resolves plain scalars with PyYAML's own implicit resolvers, like the safe loader, and skips
    the path resolvers (which PyYAML's safe loader has none of), saving about a third of the
    composing time of a 30-column contract.
    """

    def resolve(self, kind: type, value: Any, implicit: tuple[bool, bool]) -> str:
        if kind is yaml.ScalarNode:
            if implicit[0]:
                tag = _RESOLVED.get(value)
                if tag is None:
                    tag = _implicit_tag(value)
                    if len(value) <= 64 and len(_RESOLVED) < MAX_RESOLVED:
                        _RESOLVED[value] = tag
                return tag
            return _STR
        return _SEQ if kind is yaml.SequenceNode else _MAP

    def descend_resolver(self, current_node: Any, current_index: Any) -> None:
        pass

    def ascend_resolver(self) -> None:
        pass


_MERGE = "tag:yaml.org,2002:merge"
_FLOAT = "tag:yaml.org,2002:float"
_INT = "tag:yaml.org,2002:int"
_SCALARS = {
    "tag:yaml.org,2002:null",
    "tag:yaml.org,2002:bool",
    "tag:yaml.org,2002:int",
    _FLOAT,
}
_AS_TEXT = {"tag:yaml.org,2002:timestamp", _STR}


# libyaml composes nodes recursively, in C: a document nested more than about 20,000 levels deep
# (a 50 KB line of brackets) overflows the stack and kills the process. Each level takes a character
# that opens it ([, {, -, :, ?): a document with at most this many of them (one of at most this many
# characters, most files of a mesh, is not even counted) is composed directly; one with more is
# first measured with libyaml's event parser, which is not recursive.
MAX_OPENERS = 10_000


def _char_at(text: str, newline: str, line: int, column: int) -> str:
    """The character at a (0-based) line and column of ``text``, "" past its end."""
    start = 0
    for _ in range(line):
        start = text.find(newline, start) + len(newline)
        if start < len(newline):
            return ""
    return text[start + column : start + column + 1] if start + column < len(text) else ""


def parse(text: str, display: str) -> Located:
    real = _people_lines(text)
    loader = _Loader(text)
    try:
        if len(text) > MAX_OPENERS and sum(text.count(c) for c in "[{-:?") > MAX_OPENERS:
            _check_depth(text, display, real)
        node = loader.get_single_node()
    except yaml.MarkedYAMLError as e:
        mark = e.problem_mark or e.context_mark
        # At the end of the stream libyaml points past the last line: name the last line instead.
        newline = _newline(text)
        last = max(1, text.count(newline) + (0 if text.endswith(newline) else 1))
        line = min(_shown(real, mark.line + 1), last) if mark else None
        if e.problem and "maximum nesting depth" in e.problem:
            # libyaml 0.2.6 (in PyYAML 6.0.4's wheels) stops at a nesting level of its own, 1,000,
            # before the events would reach govern's: the same document, the same error, at the
            # line where it passes govern's level (found by its events), not libyaml's.
            try:
                _check_depth(text, display, real)
            except yaml.YAMLError:
                pass
            raise LoadError(f"document is nested deeper than {MAX_DEPTH} levels", display, line) from None
        context = e.context
        begun = min(_shown(real, e.context_mark.line + 1), last) if e.context_mark is not None else None
        if context and context.startswith("while ") and begun is not None and begun != line:
            # (where the unclosed [ or the mapping began: often the line to mend, above where it was found)
            context += f" (begun at line {begun})"
        what = " ".join(s for s in (context, e.problem) if s)
        if mark is not None and "tab" not in what and _char_at(text, newline, mark.line, mark.column) == "\t":
            what += " (a tab: YAML indents with spaces)"
        raise LoadError(f"invalid YAML: {what}", display, line) from None
    except yaml.reader.ReaderError as e:  # (a character YAML does not allow: a control character, U+FFFE)
        line = _shown(real, text.count(_newline(text), 0, e.position) + 1)
        code = e.character if isinstance(e.character, int) else ord(e.character)
        raise LoadError(f"invalid YAML: character U+{code:04X} is not allowed ({e.reason})", display, line) from None
    except yaml.YAMLError as e:
        raise LoadError(f"invalid YAML: {e}", display) from None
    finally:
        loader.dispose()
    if node is None:
        raise LoadError("the file is empty", display, 1)
    located = Located(data=None, file=display, lines={"": node.start_mark.line + 1})
    builder = _Builder(display, located.lines, loader, real)
    located.data = builder.build(node, "", 0)
    located.nonfinite = builder.nonfinite
    if real:
        located.lines = {path: _shown(real, line) for path, line in located.lines.items()}
    return located


def _check_depth(text: str, display: str, real: list[int] | None) -> None:
    """Raise the builder's error for a document nested deeper than MAX_DEPTH, from its events."""
    depth = 0
    for event in yaml.parse(text, Loader=yaml.CSafeLoader):
        if isinstance(event, yaml.CollectionStartEvent):
            depth += 1
            if depth > MAX_DEPTH + 1:  # (the builder counts the document's own collection as level 0)
                line = _shown(real, event.start_mark.line + 1)
                raise LoadError(f"document is nested deeper than {MAX_DEPTH} levels", display, line)
        elif isinstance(event, yaml.CollectionEndEvent):
            depth -= 1


_BREAKS = re.compile("\r\n|[\r\n\x85\u2028\u2029]")


def _newline(text: str) -> str:
    """What ends a line of ``text`` for people: ``\\n`` (also in ``\\r\\n``), or ``\\r`` in a file with
    no ``\\n`` at all (classic Mac line ends, which editors show as lines too)."""
    return "\r" if "\r" in text and "\n" not in text else "\n"


def _people_lines(text: str) -> list[int] | None:
    """For text with line breaks other than ``\\n`` and ``\\r\\n``: the line as editors and grep number
    it (counting ``\\n`` only, or ``\\r`` in a file without ``\\n``) of each of libyaml's lines (which
    also break at a lone ``\\r``, NEL, and the Unicode line and paragraph separators). None for
    ordinary text, where they agree."""
    newline = _newline(text)
    if not any(ch in text for ch in "\x85\u2028\u2029") and (newline == "\r" or text.count("\r") == text.count("\r\n")):
        return None
    real, line = [1], 1
    for m in _BREAKS.finditer(text):
        line += newline in m.group()
        real.append(line)
    return real


def _shown(real: list[int] | None, line: int) -> int:
    """libyaml's 1-based ``line`` as people count it (past the end, the last line)."""
    return real[min(line, len(real)) - 1] if real else line


class _Builder:
    """Nodes to plain data, recording the line of every key path (the hot loop of every load)."""

    def __init__(self, file: str, lines: dict[str, int], loader: Any, real: list[int] | None = None):
        self.file = file
        self.lines = lines
        self.loader = loader
        self.real = real
        self.nodes = 0
        self.active: set[int] = set()
        self.nonfinite = False

    def fail(self, message: str, node: yaml.Node) -> LoadError:
        return LoadError(message, self.file, _shown(self.real, node.start_mark.line + 1))

    def build(self, node: yaml.Node, path: str, depth: int) -> Any:
        self.nodes += 1
        if self.nodes > MAX_NODES:
            raise self.fail(f"document expands to more than {MAX_NODES} values (an alias bomb?)", node)
        kind = node.__class__
        if kind is yaml.ScalarNode:
            return self.scalar(node)
        if depth > MAX_DEPTH:
            raise self.fail(f"document is nested deeper than {MAX_DEPTH} levels", node)
        if id(node) in self.active:
            raise self.fail("an alias refers to a value that contains it", node)
        self.active.add(id(node))
        try:
            if kind is yaml.SequenceNode:
                if node.tag != _SEQ:
                    raise self.fail(f"unsupported tag {node.tag}", node)
                return self.sequence(node, path, depth)
            if node.tag != _MAP:
                raise self.fail(f"unsupported tag {node.tag}", node)
            return self.mapping(node, path, depth)
        finally:
            self.active.discard(id(node))

    def sequence(self, node: yaml.SequenceNode, path: str, depth: int) -> list[Any]:
        out = []
        lines = self.lines
        for i, item in enumerate(node.value):
            p = f"{path}[{i}]"
            if p not in lines:
                lines[p] = item.start_mark.line + 1
            if item.__class__ is yaml.ScalarNode and item.tag == _STR:
                self.nodes += 1
                out.append(item.value)
            else:
                out.append(self.build(item, p, depth + 1))
        return out

    def mapping(self, node: yaml.MappingNode, path: str, depth: int) -> dict[str, Any]:
        out: dict[str, Any] = {}
        merged: dict[str, Any] = {}
        lines = self.lines
        for key_node, value_node in node.value:
            if key_node.tag == _MERGE:
                merged.update(self.merge(value_node, path, depth))
                continue
            if key_node.__class__ is not yaml.ScalarNode:
                raise self.fail("a mapping key must be a plain value, not a list or mapping", key_node)
            key = key_node.value
            p = f"{path}.{key}" if path else key
            if key in out:
                raise self.fail(f"duplicate key {key!r} (first on line {_shown(self.real, lines[p])})", key_node)
            lines[p] = key_node.start_mark.line + 1
            if value_node.__class__ is yaml.ScalarNode and value_node.tag == _STR:
                self.nodes += 1
                out[key] = value_node.value
            else:
                out[key] = self.build(value_node, p, depth + 1)
        for key, value in merged.items():
            out.setdefault(key, value)
        return out

    def merge(self, node: yaml.Node, path: str, depth: int) -> dict[str, Any]:
        sources = node.value if isinstance(node, yaml.SequenceNode) else [node]
        merged: dict[str, Any] = {}
        for source in reversed(sources):
            value = self.build(source, path, depth + 1)
            if not isinstance(value, dict):
                raise self.fail("a merge key '<<' must refer to a mapping", source)
            merged.update(value)
        return merged

    def scalar(self, node: yaml.ScalarNode) -> Any:
        tag = node.tag
        if tag in _AS_TEXT:
            return node.value
        if tag in _SCALARS:
            key = (tag, node.value)
            value = _CONSTRUCTED.get(key, _CONSTRUCTED)
            if value is _CONSTRUCTED:
                try:
                    value = self.loader.construct_object(node)
                except (ValueError, KeyError, IndexError):  # (a value its explicit tag cannot take: !!bool maybe)
                    raise self.fail(_unreadable(tag, node.value), node) from None
                if len(_CONSTRUCTED) < 4096:
                    _CONSTRUCTED[key] = value
            if tag == _FLOAT and not math.isfinite(value):
                self.nonfinite = True
            elif tag == _INT and abs(value) > sys.float_info.max:
                # (regorus reads numbers as 64-bit floats: an input document holding this one could
                # not be evaluated at all)
                why = f"the number {node.value[:12]}... ({len(node.value)} characters) is beyond ±1.8e308, the largest Rego reads"
                raise self.fail(why, node)
            return value
        raise self.fail(f"unsupported tag {tag}", node)


def _unreadable(tag: str, text: str) -> str:
    """Why a plain value could not be read as its tag says (an explicit tag such as ``!!int x``
    forces one on any text; untagged, only what the type allows resolves to it)."""
    if re.fullmatch(r"[-+]?[0-9_]{100,}(\.[0-9_]*)?", text):  # (Python reads at most sys.get_int_max_str_digits() digits)
        return f"a number of {len(text)} characters is too long to read"
    shown = text if len(text) <= 40 else text[:40] + "..."
    return f"{shown!r} is not a valid {tag.rsplit(':', 1)[-1]} (tag !!{tag.rsplit(':', 1)[-1]})"


# Null, booleans and numbers are immutable: each written form is constructed once per process.
_CONSTRUCTED: dict[tuple[str, str], Any] = {}

"""Imported lineage: dbt ``manifest.json`` (schema v1-v12) and OpenLineage run events.

Both are read into one dataset graph (dbt models, seeds, snapshots and sources; OpenLineage
datasets), whose datasets are then mapped to products of the mesh (docs/formats.md, "Imported
lineage"):

1. a hint written by the producer: a dbt node's ``meta.govern_product`` (also under ``config.meta``);
2. the lineage map file (``--lineage-map``): glob patterns on dataset names, first match wins;
3. contract physical names: a dataset whose name is, or ends with ``.``, the ``physicalName`` of a
   schema object of a contract the mesh publishes belongs to the product publishing that contract.

A product edge runs from a mapped dataset to each mapped dataset downstream of it, through any
number of unmapped ones (staging models, intermediate tables), so a dbt project's product-level
lineage survives its internal layers. Edges inside one product are dropped.

Files are read leniently: only the keys used here are checked, so every manifest version and
partial events import. Empty files and templated test expectations (``{{ ... }}``) are skipped with a
reason; a file that is not JSON, or whose lineage keys have the wrong shape, is an error naming the
file (and line, for JSON syntax) and is skipped; the rest of the import goes on.
"""

from __future__ import annotations

import fnmatch
import json
import re
import sys
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import networkx as nx
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from engine.config import display, read_regular
from engine.errors import LoadError
from engine.gather.yamlsrc import first_error, load_file

if TYPE_CHECKING:
    from engine.gather.mesh import Mesh

TEMPLATE = re.compile(r"\{\{.*?\}\}|\{%.*?%\}", re.S)  # a matcher of a test expectation, e.g. {{ any(result) }}
META_KEY = "govern_product"
EVENT_SUFFIXES = {".json", ".ndjson", ".jsonl", ".yaml", ".yml"}  # YAML: JSON's superset, as some producers write events


@dataclass
class Skipped:
    path: str
    reason: str


@dataclass
class ImportedEdge:
    upstream: str  # product ids
    downstream: str
    source: str  # "dbt manifest <file>" or "OpenLineage <file>"


@dataclass
class LineageImport:
    """What the import files said: a dataset graph, plus what was skipped and what failed."""

    graph: nx.DiGraph = field(default_factory=nx.DiGraph)  # dataset key -> dataset key
    names: dict[str, list[str]] = field(default_factory=dict)  # dataset key -> names to match
    hints: dict[str, str] = field(default_factory=dict)  # dataset key -> product named by the producer
    hinted_in: dict[str, tuple[str, str]] = field(default_factory=dict)  # dataset key -> (file, dbt node) naming it
    sources: dict[tuple[str, str], str] = field(default_factory=dict)  # dataset edge -> file it came from
    files: int = 0
    events: int = 0
    skipped: list[Skipped] = field(default_factory=list)
    errors: list[LoadError] = field(default_factory=list)

    def dataset(self, key: str, names: Iterable[str | None], hint: Any = None) -> str:
        known = self.names.setdefault(key, [])
        for name in names:
            if name and name not in known:
                known.append(name)
        if isinstance(hint, str) and hint:
            self.hints.setdefault(key, hint)
        self.graph.add_node(key)
        return key

    def dangling_hints(self, mesh: Mesh) -> list[LoadError]:
        """A ``meta.govern_product`` naming a product the mesh does not have (a typo, a product renamed
        or removed): its dataset would map to nothing by it, silently, as a lineage map's entry would."""
        return [
            LoadError(f"{node}: meta.{META_KEY} {product!r} is not a product in the mesh", file)
            for key, (file, node) in self.hinted_in.items()
            if mesh.product(product := self.hints[key]) is None
        ]

    def edge(self, upstream: str, downstream: str, source: str) -> None:
        if upstream != downstream:
            self.graph.add_edge(upstream, downstream)
            self.sources.setdefault((upstream, downstream), source)


# --- reading files ---------------------------------------------------------------------------------


def _json_files(path: Path) -> list[Path]:
    if path.is_dir():
        return sorted(p for p in path.rglob("*") if p.is_file() and p.suffix.lower() in EVENT_SUFFIXES)
    return [path]


NOTHING = object()  # what _read_json gives for a file skipped or failed


class Lines(list):
    """The documents of an NDJSON file, with the line of each (``lines``)."""

    def __init__(self) -> None:
        super().__init__()
        self.lines: list[int] = []


def _read_json(path: Path, result: LineageImport) -> Any:
    """The parsed file (``null`` too), or :data:`NOTHING` when it was skipped or failed (recorded in
    ``result``)."""
    shown = display(path)
    try:
        # (a named pipe or a device is refused: it would block the run, or never end)
        text = read_regular(path).decode("utf-8").replace("\r\n", "\n").replace("\r", "\n")  # (as text mode reads)
    except UnicodeDecodeError:
        result.errors.append(LoadError("not UTF-8 text", shown))
        return NOTHING
    except OSError as e:
        result.errors.append(LoadError(f"cannot read: {e.strerror}", shown))
        return NOTHING
    if not text.strip():
        result.skipped.append(Skipped(shown, "empty file"))
        return NOTHING
    if path.suffix.lower() in {".yaml", ".yml"}:
        try:
            return load_file(path, shown).data
        except LoadError as e:
            result.errors.append(e)
            return NOTHING
    if path.suffix.lower() in {".ndjson", ".jsonl"}:
        # Each line is a document of its own: one that cannot be read is an error at its line, and
        # the events of the others are read (a line cut short lost the whole file).
        events = Lines()
        for number, line in enumerate(text.split("\n"), 1):
            if line.strip():
                value = _json(line, shown, number, result)
                if value is not NOTHING:
                    events.append(value)
                    events.lines.append(number)
        return events
    return _json(text, shown, None, result)


def _json(text: str, shown: str, number: int | None, result: LineageImport) -> Any:
    """A JSON document (of a file, or of its line ``number``), or :data:`NOTHING` when it cannot be
    read (an error in ``result``)."""
    try:
        return json.loads(text)
    except json.JSONDecodeError as e:
        result.errors.append(LoadError(f"not valid JSON: {e.msg}", shown, number or e.lineno))
    except RecursionError:  # (the standard library's parser is recursive)
        result.errors.append(LoadError("JSON nested too deeply to read", shown, number))
    except ValueError:  # (Python reads at most sys.get_int_max_str_digits() digits of a number)
        result.errors.append(LoadError(f"{TOO_LONG} is too long to read", shown, number or too_long_at(text)))
    return NOTHING


TOO_LONG = f"a number of more than {sys.get_int_max_str_digits()} digits"


def too_long_at(text: str) -> int | None:
    """The line of the first number of a JSON text that has more digits than Python reads."""
    found = re.search(rf"\d{{{sys.get_int_max_str_digits() + 1}}}", text)
    return text.count("\n", 0, found.start()) + 1 if found else None


# --- dbt ---------------------------------------------------------------------------------------------


class _Lenient(BaseModel):
    model_config = ConfigDict(extra="ignore", defer_build=True)


class _DependsOn(_Lenient):
    nodes: list[str] = Field(default_factory=list)


class _Config(_Lenient):
    meta: dict[str, Any] = Field(default_factory=dict)


class _DbtNode(_Lenient):
    unique_id: str | None = None
    resource_type: str | None = None
    name: str | None = None
    alias: str | None = None
    identifier: str | None = None
    database: str | None = None
    schema_: str | None = Field(None, alias="schema")
    relation_name: str | None = None
    depends_on: _DependsOn = Field(default_factory=_DependsOn)
    meta: dict[str, Any] = Field(default_factory=dict)
    config: _Config = Field(default_factory=_Config)


class _Manifest(_Lenient):
    nodes: dict[str, _DbtNode] = Field(default_factory=dict)
    sources: dict[str, _DbtNode] = Field(default_factory=dict)
    metadata: dict[str, Any] = Field(default_factory=dict)


# Node types that hold data; tests, analyses and operations only read it.
DBT_DATA_TYPES = {"model", "seed", "snapshot", "source"}


def _unquote(name: str) -> str:
    return name.replace('"', "").replace("`", "").replace("[", "").replace("]", "")


def _dbt_names(uid: str, node: _DbtNode) -> list[str | None]:
    table = node.alias or node.identifier or node.name
    names: list[str | None] = [uid, node.name, table]
    if node.schema_ and table:
        names.append(f"{node.schema_}.{table}")
        if node.database:
            names.append(f"{node.database}.{node.schema_}.{table}")
    if node.relation_name:
        names.append(_unquote(node.relation_name))
    return names


def _artifact(data: dict) -> str | None:
    """Which dbt artifact a document says it is (``https://schemas.getdbt.com/dbt/<kind>/vN.json``)."""
    metadata = data.get("metadata")
    version = metadata.get("dbt_schema_version") if isinstance(metadata, dict) else None
    parts = version.rstrip("/").split("/") if isinstance(version, str) else []
    return parts[-2] if len(parts) >= 2 and "getdbt.com" in version else None  # type: ignore[operator]


def read_dbt_manifest(path: Path, result: LineageImport) -> None:
    """Add a dbt manifest's models, seeds, snapshots and sources and their dependencies."""
    data = _read_json(path, result)
    if data is NOTHING:
        return
    shown = display(path)
    if isinstance(data, dict) and "nodes" not in data and "$schema" in data:
        result.skipped.append(Skipped(shown, "a JSON Schema, not a manifest"))
        return
    # (a catalog.json has nodes too, without their dependencies: it would add no edge, silently;
    # a run_results.json has none: it is named as what it is all the same)
    kind = _artifact(data) if isinstance(data, dict) else None
    if kind not in (None, "manifest"):
        why = f"not a dbt manifest: a dbt {kind} (metadata.dbt_schema_version); give target/manifest.json"
        result.errors.append(LoadError(why, shown))
        return
    if not isinstance(data, dict) or "nodes" not in data:
        result.errors.append(LoadError("not a dbt manifest (no 'nodes')", shown))
        return
    try:
        manifest = _Manifest.model_validate(data)
    except ValidationError as e:
        result.errors.append(LoadError(f"not a dbt manifest this version can read: {first_error(e)}", shown))
        return
    result.files += 1
    source = f"dbt manifest {shown}"
    every = {**manifest.sources, **manifest.nodes}
    for uid, node in every.items():
        if (node.resource_type or uid.split(".", 1)[0]) not in DBT_DATA_TYPES:
            continue
        # (in meta, else in config.meta; a value written there that is no product id is said, not skipped)
        hint = node.meta.get(META_KEY)
        if hint is None:  # (not set there, or null: config.meta's)
            hint = node.config.meta.get(META_KEY)
        if hint is not None and not (isinstance(hint, str) and hint):
            result.errors.append(LoadError(f"{uid}: meta.{META_KEY} must be a product id, not {hint!r}", shown))
            hint = None
        key = result.dataset(f"dbt:{uid}", _dbt_names(uid, node), hint)
        if hint is not None and result.hints.get(key) == hint:
            result.hinted_in.setdefault(key, (shown, uid))
        for dep in node.depends_on.nodes:
            up = every.get(dep)
            if up is None or (up.resource_type or dep.split(".", 1)[0]) not in DBT_DATA_TYPES:
                continue
            up_hint = up.meta.get(META_KEY) or up.config.meta.get(META_KEY)
            result.edge(result.dataset(f"dbt:{dep}", _dbt_names(dep, up), up_hint), key, source)


# --- OpenLineage -------------------------------------------------------------------------------------


class _OlDataset(_Lenient):
    namespace: str | None = None
    name: str


class _OlEvent(_Lenient):
    eventType: str | None = None
    inputs: list[_OlDataset] = Field(default_factory=list)
    outputs: list[_OlDataset] = Field(default_factory=list)
    dataset: _OlDataset | None = None  # a DatasetEvent (static lineage)


def _events(data: Any) -> Iterator[tuple[int | None, Any]]:
    if isinstance(data, list):
        yield from enumerate(data)
    else:
        yield None, data


def read_openlineage(path: Path, result: LineageImport) -> None:
    """Add the datasets of OpenLineage events: a file with one event, a JSON list, NDJSON, YAML, or a
    folder (whose files that hold no event are skipped; a file named that holds none is an error)."""
    named = not path.is_dir()
    for file in _json_files(path):
        data = _read_json(file, result)
        if data is NOTHING:
            continue
        shown = display(file)
        source = f"OpenLineage {shown}"
        used = 0
        not_events = templated = 0
        for index, raw in _events(data):
            at = f"event {index + 1}: " if index is not None else ""  # (counted from 1: the first event, the second)
            line = data.lines[index] if isinstance(data, Lines) and index is not None else None
            if not isinstance(raw, dict) or not ({"inputs", "outputs", "dataset", "job", "run"} & set(raw)):
                not_events += 1
                continue
            if _templated(raw):
                templated += 1
                continue
            try:
                event = _OlEvent.model_validate(raw)
            except ValidationError as e:
                result.errors.append(LoadError(f"{at}invalid OpenLineage event: {first_error(e)}", shown, line))
                continue
            used += 1
            inputs = [_ol_dataset(d, result) for d in event.inputs]
            outputs = [_ol_dataset(d, result) for d in event.outputs]
            if event.dataset is not None:
                _ol_dataset(event.dataset, result)
            for up in inputs:
                for down in outputs:
                    result.edge(up, down, source)
        single = not isinstance(data, list)
        if templated:
            what = "templated ({{ ... }})" if single else f"{_count(templated, 'templated event')} ({{{{ ... }}}})"
            result.skipped.append(Skipped(shown, f"{what}: a test expectation, not lineage"))
        if not_events and named and not used and not templated:  # (lineage asked for and lost without a word)
            why = "not an OpenLineage event: nothing in it has a job, run, inputs or outputs (a dbt manifest is --dbt-manifest's)"
            result.errors.append(LoadError(why, shown))
        elif not_events:
            what = "not an OpenLineage event" if single else f"{_count(not_events, 'entry', 'entries')} not OpenLineage events"
            result.skipped.append(Skipped(shown, f"{what} (no job, run, inputs or outputs)"))
        elif named and not used and not templated and not any(e.file == shown for e in result.errors):
            # (an empty list, or empty lines: no event, and nothing said of it)
            result.errors.append(LoadError("holds no OpenLineage event", shown))
        if used:
            result.files += 1
            result.events += used


def _count(n: int, one: str, many: str | None = None) -> str:
    return f"{n} {one if n == 1 else many or one + 's'}"


def _templated(event: dict[str, Any]) -> bool:
    """Whether the event's identifying values are placeholders of a test expectation."""
    run, job = event.get("run"), event.get("job")
    values = [event.get("eventTime"), run.get("runId") if isinstance(run, dict) else None]
    if isinstance(job, dict):
        values += [job.get("namespace"), job.get("name")]
    for key in ("inputs", "outputs"):
        datasets = event.get(key)
        for d in datasets if isinstance(datasets, list) else []:
            if isinstance(d, dict):
                values += [d.get("namespace"), d.get("name")]
    return any(isinstance(v, str) and TEMPLATE.search(v) for v in values)


def _ol_dataset(d: _OlDataset, result: LineageImport) -> str:
    full = f"{d.namespace}/{d.name}" if d.namespace else d.name
    return result.dataset(f"openlineage:{full}", [full, d.name])


# --- mapping datasets to products --------------------------------------------------------------------


@dataclass
class LineageMap:
    """The lineage map file: ``datasets: {<glob on a dataset name>: <product id>}``."""

    patterns: list[tuple[str, str]]
    file: str | None = None
    lines: list[int] = field(default_factory=list)  # of each pattern, in the file

    @classmethod
    def load(cls, path: Path | None) -> LineageMap:
        if path is None:
            return cls([])
        doc = load_file(path, display(path))
        data = doc.data
        datasets = data.get("datasets") if isinstance(data, dict) else None
        if not isinstance(datasets, dict):
            raise LoadError("a lineage map needs a 'datasets' mapping of name patterns to product ids", doc.file, doc.line_of(""))
        patterns, lines = [], []
        for pattern, product in datasets.items():
            if not isinstance(product, str):
                raise LoadError(f"product for {pattern!r} must be a product id", doc.file, doc.line_of(f"datasets.{pattern}"))
            patterns.append((str(pattern).lower(), product))
            lines.append(doc.line_of(f"datasets.{pattern}"))
        return cls(patterns, doc.file, lines)

    def dangling(self, mesh: Mesh) -> list[LoadError]:
        """An entry naming a product the mesh does not have (a typo, a product renamed or removed)."""
        return [
            LoadError(f"{pattern!r} maps datasets to product {product!r}, which is not in the mesh", self.file, line)
            for (pattern, product), line in zip(self.patterns, self.lines, strict=True)
            if mesh.product(product) is None
        ]

    def product_for(self, names: list[str]) -> str | None:
        for pattern, product in self.patterns:
            if any(fnmatch.fnmatchcase(n.lower(), pattern) for n in names):
                return product
        return None


def _physical_index(mesh: Mesh) -> dict[str, set[str]]:
    """Lower-cased physical name of every published schema object -> the products publishing it."""
    index: dict[str, set[str]] = {}
    for loaded in mesh.products:
        for contract in mesh.contracts_of(loaded):
            for obj in contract.contract.objects:
                if obj.physicalName:
                    index.setdefault(_unquote(obj.physicalName).lower(), set()).add(loaded.product.id)
    return index


def _by_physical_name(names: list[str], index: dict[str, set[str]]) -> str | None:
    for name in names:
        parts = _unquote(name).lower().split("/")[-1].split(".")
        for i in range(len(parts)):
            products = index.get(".".join(parts[i:]))
            if products and len(products) == 1:
                return next(iter(products))
    return None


def product_edges(result: LineageImport, mesh: Mesh, lineage_map: LineageMap) -> tuple[list[ImportedEdge], dict[str, str]]:
    """Product edges of the imported dataset graph, and the dataset -> product mapping used."""
    index = _physical_index(mesh)
    mapped: dict[str, str] = {}
    for key in result.graph.nodes:
        names = result.names.get(key, [])
        hint = result.hints.get(key)
        product = hint if hint and mesh.product(hint) else None
        product = product or lineage_map.product_for(names) or _by_physical_name(names, index)
        found = mesh.product(product) if product else None
        if found is not None:
            mapped[key] = found.product.id
    edges: dict[tuple[str, str], ImportedEdge] = {}
    for key, product in mapped.items():
        # Walk upstream through unmapped datasets to the nearest mapped ones.
        seen = {key}
        stack = [(pred, key) for pred in result.graph.predecessors(key)]
        while stack:
            node, child = stack.pop()
            if node in seen:
                continue
            seen.add(node)
            if node in mapped:
                up = mapped[node]
                if up != product and (up, product) not in edges:
                    edges[(up, product)] = ImportedEdge(up, product, result.sources[(node, child)])
                continue
            stack.extend((pred, node) for pred in result.graph.predecessors(node))
    return sorted(edges.values(), key=lambda e: (e.upstream, e.downstream)), mapped


def import_lineage(dbt_manifests: Iterable[Path], openlineage: Iterable[Path]) -> LineageImport:
    result = LineageImport()
    for path in dbt_manifests:
        files = sorted(path.rglob("manifest*.json")) if path.is_dir() else [path]
        if not files:
            result.skipped.append(Skipped(display(path), "no manifest*.json in this folder"))
        for file in files:
            read_dbt_manifest(file, result)
    for path in openlineage:
        read_openlineage(path, result)
    return result

"""An audit's results, findings and product graph, kept on disk as its batches are evaluated.

An audit of a large mesh must not hold every product's result and findings in memory until the
report is written (at 100,000 products they were a third of the parent's memory, the report's
text another). The spool is a private temporary SQLite database (SQLite deletes its file when the
connection closes, at the latest when the process ends): each evaluated batch is written to it as
it arrives, in one transaction for the whole run, and the report's ``products``, ``findings`` and
``lineage`` are :class:`Rows` read back from it, one row at a time, in the order the report would
have had in memory (see engine.evaluate.Evaluator.outcome). SQLite keeps at most its page cache
(2 MiB) in memory.
"""

from __future__ import annotations

import functools
import sqlite3
import tempfile
from collections.abc import Callable, Iterator, Sequence
from typing import TYPE_CHECKING, Any, Generic, TypeVar, overload

from engine.errors import GovernError
from engine.model import Finding, GraphEdge, GraphNode, Model, ProductResult, json_bytes

if TYPE_CHECKING:
    from engine.evaluate import Part
    from engine.gather.mesh import Mesh
    from engine.gather.targets import Target
    from engine.report.lineage import GraphCollector

M = TypeVar("M", bound=Model)
F = TypeVar("F", bound=Callable[..., Any])


def _guarded(method: F) -> F:
    """A failure of the spool's database (a full or unwritable temporary folder) as a GovernError."""

    @functools.wraps(method)
    def guarded(*args: Any, **kwargs: Any) -> Any:
        try:
            return method(*args, **kwargs)
        except sqlite3.Error as e:
            raise GovernError(
                f"cannot keep the audit's results in a temporary file: {e} (set TMPDIR to a folder with room)",
                tempfile.gettempdir(),
            ) from None

    return guarded  # type: ignore[return-value]


SCHEMA = """
CREATE TABLE products (seq INTEGER PRIMARY KEY, a INTEGER, b INTEGER, b_text TEXT, c INTEGER, doc BLOB NOT NULL);
CREATE TABLE findings (product INTEGER NOT NULL, n INTEGER NOT NULL, doc BLOB NOT NULL, PRIMARY KEY (product, n));
CREATE TABLE nodes (id TEXT PRIMARY KEY, domain TEXT, status TEXT, classification TEXT, depth INTEGER, missing INTEGER);
CREATE TABLE edges (seq INTEGER PRIMARY KEY, source TEXT, target TEXT, contractId TEXT, declared INTEGER);
"""


class Spool:
    """Results, findings, graph nodes and edges of one audit. The database is opened on first use,
    so that a spool made before worker processes are forked never crosses the fork open."""

    def __init__(self) -> None:
        self._conn: sqlite3.Connection | None = None
        self.parts = 0
        self.products: Rows[ProductResult] = Rows(self, ProductResult, "SELECT p.doc FROM products p ORDER BY {order}")
        self.findings: Rows[Finding] = Rows(
            self,
            Finding,
            "SELECT f.doc FROM findings f JOIN products p ON p.seq = f.product ORDER BY {order}, f.n",
            "SELECT count(*) FROM findings",
        )
        self.nodes: Rows[GraphNode] = Rows(
            self, GraphNode, "SELECT id, domain, status, classification, depth, missing FROM nodes ORDER BY id", make=_node
        )
        self.edges: Rows[GraphEdge] = Rows(
            self, GraphEdge, "SELECT source, target, contractId, declared FROM edges ORDER BY seq", make=_edge
        )

    @property
    @_guarded
    def conn(self) -> sqlite3.Connection:
        if self._conn is None:
            # "": a private temporary database on disk, deleted when the connection is closed.
            self._conn = sqlite3.connect("", isolation_level=None)
            self._conn.executescript("PRAGMA journal_mode = OFF; PRAGMA synchronous = OFF;" + SCHEMA + "BEGIN;")
        return self._conn

    def order(self) -> str:
        """The products' order: by place in the report when the run had several batches (see
        engine.evaluate._place), else as evaluated, as Evaluator.outcome orders them in memory."""
        return "p.a, p.b, p.b_text, p.c, p.seq" if self.parts > 1 else "p.seq"

    @_guarded
    def add(self, part: Part) -> None:
        """A batch's results and findings, as models or as JSON (its graph is added with :meth:`merge`)."""
        self.parts += 1
        conn = self.conn
        part.serialize()  # (a batch evaluated in this process: its entries as a worker sends them)
        for (a, b, c), _, result, found in part.docs:
            text = isinstance(b, str)
            cursor = conn.execute(
                "INSERT INTO products (a, b, b_text, c, doc) VALUES (?, ?, ?, ?, ?)",
                (a, None if text else b, b if text else None, c, result),
            )
            if found:
                product = cursor.lastrowid
                conn.executemany("INSERT INTO findings VALUES (?, ?, ?)", [(product, n, f) for n, f in enumerate(found)])

    @_guarded
    def merge(self, collector: GraphCollector) -> None:
        """A batch's part of the product graph, as if it were added to one GraphCollector: a
        product's node replaces a node marked missing (and an earlier one of its id), the first
        depth found stays, edges are kept in order."""
        missing: list[tuple[Any, ...]] = []
        found: list[tuple[Any, ...]] = []
        for key, node in collector.nodes.items():
            row = (key, node.get("domain"), node.get("status"), node.get("classification"), collector.depth.get(key, 0))
            (missing if node["missing"] else found).append(row)
        conn = self.conn
        conn.executemany("INSERT INTO nodes VALUES (?, ?, ?, ?, ?, 1) ON CONFLICT (id) DO NOTHING", missing)
        conn.executemany(
            "INSERT INTO nodes VALUES (?, ?, ?, ?, ?, 0) ON CONFLICT (id) DO UPDATE SET domain = excluded.domain,"
            " status = excluded.status, classification = excluded.classification, missing = 0",
            found,
        )
        conn.executemany(
            "INSERT INTO edges (source, target, contractId, declared) VALUES (?, ?, ?, ?)",
            [(e["from"], e["to"], e["contractId"], e["declared"]) for e in collector.edges],
        )

    def add_graph(self, mesh: Mesh | None, targets: list[Target]) -> None:
        """The product graph of a batch evaluated in this process (GraphCollector.add's signature)."""
        from engine.report.lineage import GraphCollector

        collector = GraphCollector()
        collector.add(mesh, targets)
        self.merge(collector)


def _node(row: tuple[Any, ...]) -> GraphNode:
    key, domain, status, classification, depth, missing = row
    return GraphNode(id=key, domain=domain, status=status, classification=classification, depth=depth, missing=bool(missing))


def _edge(row: tuple[Any, ...]) -> GraphEdge:
    source, target, contract, declared = row
    return GraphEdge(source=source, target=target, contractId=contract, declared=bool(declared))


class Rows(Sequence[M], Generic[M]):
    """A list of the report read from a :class:`Spool`: its length is counted, its items are read
    one at a time whenever it is iterated (nothing of it is kept). A row is an item's JSON, or
    with ``make`` the columns it is made from."""

    def __init__(
        self,
        spool: Spool,
        model: type[M],
        query: str,
        count: str | None = None,
        make: Callable[[tuple[Any, ...]], M] | None = None,
    ):
        self.spool = spool
        self.model = model
        self._query = query
        self._count = count or f"SELECT count(*) FROM ({query.format(order='1')})"
        self._make = make

    def _rows(self, suffix: str = "", args: tuple[Any, ...] = ()) -> sqlite3.Cursor:
        return self.spool.conn.execute(self._query.format(order=self.spool.order()) + suffix, args)

    def _item(self, row: tuple[Any, ...]) -> M:
        return self._make(row) if self._make is not None else self.model.model_validate_json(row[0])

    def docs(self) -> Iterator[bytes]:
        """The items' JSON (compact, by alias), in order."""
        for row in self._rows():
            yield row[0] if self._make is None else json_bytes(self._make(row))

    def __iter__(self) -> Iterator[M]:
        for row in self._rows():
            yield self._item(row)

    def __len__(self) -> int:
        return int(self.spool.conn.execute(self._count).fetchone()[0])

    @overload
    def __getitem__(self, index: int) -> M: ...
    @overload
    def __getitem__(self, index: slice) -> list[M]: ...
    def __getitem__(self, index: int | slice) -> M | list[M]:
        if isinstance(index, slice):
            return list(self)[index]
        size = len(self)
        position = index + size if index < 0 else index
        if not 0 <= position < size:
            raise IndexError(index)
        return self._item(self._rows(" LIMIT 1 OFFSET ?", (position,)).fetchone())

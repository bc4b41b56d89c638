"""An audit's results, findings and product graph, kept on disk as its batches are evaluated.

An audit of a large mesh must not hold every product's result and findings in memory until the
report is written (at 100,000 products they were a third of the parent's memory, the report's
text another). The spool is a private temporary SQLite database (deleted when it is closed or the
process ends): each evaluated batch is written to it as it arrives, in one transaction for the
whole run, and the report's ``products``, ``findings`` and ``lineage`` are :class:`Rows` read back
from it, one row at a time, in the order the report would have had in memory (see
engine.evaluate.Evaluator.outcome). SQLite keeps at most its page cache (2 MiB) in memory.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator, Sequence
from typing import TYPE_CHECKING, Any, Generic, TypeVar, overload

from engine.model import Finding, GraphEdge, GraphNode, Model, ProductResult

if TYPE_CHECKING:
    from engine.evaluate import Part
    from engine.gather.mesh import Mesh
    from engine.gather.targets import Target
    from engine.report.lineage import GraphCollector

M = TypeVar("M", bound=Model)

SCHEMA = """
CREATE TABLE products (seq INTEGER PRIMARY KEY, a INTEGER, b INTEGER, b_text TEXT, c INTEGER, doc BLOB NOT NULL);
CREATE TABLE findings (product INTEGER NOT NULL, n INTEGER NOT NULL, doc BLOB NOT NULL, PRIMARY KEY (product, n));
CREATE TABLE nodes (id TEXT PRIMARY KEY, missing INTEGER NOT NULL, depth INTEGER NOT NULL, doc BLOB NOT NULL);
CREATE TABLE edges (seq INTEGER PRIMARY KEY, doc BLOB NOT NULL);
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
        self.nodes: Rows[GraphNode] = Rows(self, GraphNode, "SELECT doc FROM nodes ORDER BY id")
        self.edges: Rows[GraphEdge] = Rows(self, GraphEdge, "SELECT doc FROM edges ORDER BY seq")

    @property
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

    def add(self, part: Part) -> None:
        """A batch's results and findings (its graph is added with :meth:`merge`)."""
        self.parts += 1
        conn = self.conn
        for place, result, found in part.entries:
            self._add_entry(conn, place, result, found)

    def _add_entry(self, conn: sqlite3.Connection, place: Any, result: ProductResult, found: list[Finding]) -> None:
        a, b, c = place
        text = isinstance(b, str)
        cursor = conn.execute(
            "INSERT INTO products (a, b, b_text, c, doc) VALUES (?, ?, ?, ?, ?)",
            (a, None if text else b, b if text else None, c, _json(result)),
        )
        conn.executemany(
            "INSERT INTO findings (product, n, doc) VALUES (?, ?, ?)",
            [(cursor.lastrowid, n, _json(f)) for n, f in enumerate(found)],
        )

    def merge(self, collector: GraphCollector) -> None:
        """A batch's part of the product graph, as GraphCollector.merge adds it: a product's node
        replaces a node marked missing, the first depth found stays, edges are kept in order."""
        conn = self.conn
        for key, node in collector.nodes.items():
            depth = collector.depth.get(key, 0)
            if node["missing"]:
                conn.execute(
                    "INSERT OR IGNORE INTO nodes (id, missing, depth, doc) VALUES (?, 1, ?, ?)",
                    (key, depth, _json(_node(node, depth))),
                )
                continue
            row = conn.execute("SELECT depth FROM nodes WHERE id = ?", (key,)).fetchone()
            depth = depth if row is None else row[0]
            conn.execute(
                "INSERT OR REPLACE INTO nodes (id, missing, depth, doc) VALUES (?, 0, ?, ?)",
                (key, depth, _json(_node(node, depth))),
            )
        conn.executemany(
            "INSERT INTO edges (doc) VALUES (?)",
            [
                (_json(GraphEdge(source=e["from"], target=e["to"], contractId=e["contractId"], declared=e["declared"])),)
                for e in collector.edges
            ],
        )

    def add_graph(self, mesh: Mesh | None, targets: list[Target]) -> None:
        """The product graph of a batch evaluated in this process (GraphCollector.add's signature)."""
        from engine.report.lineage import GraphCollector

        collector = GraphCollector()
        collector.add(mesh, targets)
        self.merge(collector)

    def close(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None


def _json(model: Model) -> bytes:
    return model.__pydantic_serializer__.to_json(model, by_alias=True)


def _node(node: dict[str, Any], depth: int) -> GraphNode:
    return GraphNode(
        id=node["id"],
        domain=node.get("domain"),
        status=node.get("status"),
        classification=node.get("classification"),
        depth=depth,
        missing=node["missing"],
    )


class Rows(Sequence[M], Generic[M]):
    """A list of the report read from a :class:`Spool`: its length is counted, its items are read
    and validated one at a time whenever it is iterated (nothing of it is kept)."""

    def __init__(self, spool: Spool, model: type[M], query: str, count: str | None = None):
        self.spool = spool
        self.model = model
        self._query = query
        self._count = count or f"SELECT count(*) FROM ({query.format(order='1')})"

    def docs(self) -> Iterator[bytes]:
        """The items' JSON (compact, by alias), in order."""
        query = self._query.format(order=self.spool.order())
        for (doc,) in self.spool.conn.execute(query):
            yield doc

    def __iter__(self) -> Iterator[M]:
        validate = self.model.model_validate_json
        for doc in self.docs():
            yield validate(doc)

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
        query = self._query.format(order=self.spool.order()) + " LIMIT 1 OFFSET ?"
        (doc,) = self.spool.conn.execute(query, (position,)).fetchone()
        return self.model.model_validate_json(doc)

"""The mesh index: what ``govern check`` needs to know about the rest of a mesh, kept under .govern/.

Checking one product needs its lineage neighbours (upstream and downstream products, and the
upstream contracts it reads) and facts about the whole lineage graph (cycles, depth, who publishes which
contract). Loading every file of a 10,000-product mesh for that takes seconds, so ``check`` keeps an
index in ``MESH/.govern/index.db``, an SQLite database: for every descriptor and contract file its
signature (size, modification and change time, inode), the product's id, name, published contracts
and input ports (or the contract's id), and the graph facts computed from them. A file whose
signature changed, or that changed too close to the index being written to trust its time stamps,
is read again; the facts are recomputed whenever any entry changed. Then only the checked products,
their neighbours and the contracts the checked products publish and read are loaded (the contracts
of downstream neighbours reach no input document), with the part of the facts that links them.

The index is queried, never held: a process holds what one check or one batch of an audit needs (at
100,000 products, the index read whole was 240 MiB of every auditing parent's memory). The usual
case (nothing changed) compares a digest of the files' signatures, which the walk gives, with the
stored one. A changed mesh gets a new index, built in a temporary file (from the stored one's
entries that still hold and the files read again) renamed into place, so no reader sees half of one.
A missing, damaged or outdated index is rebuilt; one that cannot be written is used for the run and
not kept. The folders' signatures are kept as one text, so that a folder in which no entry was
added, removed or renamed is not listed again (see _walk).
"""

from __future__ import annotations

import glob
import hashlib
import json
import os
import sqlite3
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from engine.errors import GovernError, raising
from engine.gather.files import load_one
from engine.gather.mesh import Facts, claims, graph_facts, kind_of_name, links_leaving, scan_folder, summary
from engine.parallel import MIN_ITEMS, Workers

INDEX_VERSION = 4  # the database's user_version
INDEX_PATH = Path(".govern") / "index.db"
RACY_NS = 2_000_000_000  # a file written this close to the index may have changed within one time stamp
PAGE = 1000  # files read at a time by MeshIndex.batches

# files: every descriptor and contract in discovery order (seq) with its signature (state) and entry:
# a product's id, name, published contract ids and input ports ([product, contract id] pairs) as
# JSON (all NULL when it cannot be loaded), a contract's id (NULL when it cannot be loaded).
# publisher, edges, nodes: the facts (engine.gather.mesh.Facts), edges in their order; refs: the
# product each id or name refers to (engine.gather.mesh.claims).
SCHEMA = """
CREATE TABLE meta (written_ns INTEGER NOT NULL, digest TEXT NOT NULL, files INTEGER NOT NULL, folders TEXT NOT NULL);
CREATE TABLE files (seq INTEGER PRIMARY KEY, key TEXT NOT NULL, kind TEXT NOT NULL, state TEXT NOT NULL,
                    id TEXT, name TEXT, outputs TEXT, inputs TEXT);
CREATE TABLE publisher (contract TEXT PRIMARY KEY, product TEXT NOT NULL) WITHOUT ROWID;
CREATE TABLE refs (ref TEXT PRIMARY KEY, seq INTEGER NOT NULL) WITHOUT ROWID;
CREATE TABLE edges (seq INTEGER PRIMARY KEY, up TEXT NOT NULL, down TEXT NOT NULL, contract TEXT);
CREATE TABLE nodes (node TEXT PRIMARY KEY, depth INTEGER NOT NULL, cycle TEXT) WITHOUT ROWID;
"""
INDEXES = """
CREATE INDEX files_key ON files (key);
CREATE INDEX files_id ON files (id);
CREATE INDEX files_name ON files (name);
CREATE INDEX edges_up ON edges (up);
CREATE INDEX edges_down ON edges (down);
"""


# How many of the files read again declare what the stored index says they did. Each is looked up
# by its key: left to itself, SQLite looks them up by name instead, and every contract (none has a
# name) then scans every other's row (at 10,000 products, 5 s for 3,000 files read again).
UNCHANGED = (
    "SELECT count(*) FROM files f JOIN old.files o INDEXED BY files_key ON o.key = f.key AND o.kind = f.kind"
    " WHERE f.seq NOT IN temp.kept"
    " AND f.id IS o.id AND f.name IS o.name AND f.outputs IS o.outputs AND f.inputs IS o.inputs"
)


def _values(param: str = "?") -> str:
    """The values of the JSON array given as ``param`` (a set passed as one parameter)."""
    return f"SELECT value FROM json_each({param})"


IN = f"({_values()})"


@dataclass
class Batch:
    """One batch of an audit (:meth:`MeshIndex.batch`): its files, the files to load with them and
    the facts that link them. A worker evaluating the batch is sent this, never the whole index."""

    root: Path
    # Files as paths relative to root (sent to a worker as text, which pickles in a tenth of the time)
    files: list[str]  # the batch's own files: its products, failures and unpublished contracts are its targets
    products: list[str]  # the descriptors to load: the batch's and its products' neighbours'
    contracts: list[str]
    facts: Facts

    def paths(self, keys: list[str]) -> list[Path]:
        return [self.root / key for key in keys]


class Damaged(Exception):
    """The stored index cannot be used as it is (it is rebuilt)."""


# A stored index found damaged while it is queried (its pages, or entries that are not what govern
# writes) as an IndexDamaged naming it. What refresh checks (its version, tables and number of
# files) it rebuilds; the entries it trusts.
_reading = raising((sqlite3.DatabaseError, ValueError, TypeError), lambda index, e: _damaged(index.root, e))


class IndexDamaged(GovernError):
    """A stored index found damaged while it was queried (after refresh trusted it); ``why`` is
    what SQLite (or reading an entry) said."""

    def __init__(self, root: Path, why: str):
        super().__init__(f"the mesh index is damaged ({why}): remove it, and it is rebuilt", root / INDEX_PATH)
        self.root, self.why = root, why

    def __reduce__(self) -> tuple[type, tuple[Path, str]]:  # (it may cross from a pool's feeder thread)
        return IndexDamaged, (self.root, self.why)


def _damaged(root: Path, error: Exception) -> GovernError:
    return IndexDamaged(root, str(error))


@dataclass
class MeshIndex:
    """An up-to-date index (:func:`refresh`), queried for the files and facts each check or batch
    needs. Its connection may be used from another thread (an audit plans batches on its pool's
    feeder thread), never from a forked process."""

    root: Path
    conn: sqlite3.Connection
    products: int  # how many descriptors
    unreadable: list[tuple[str, str]] = field(default_factory=list)  # what the walk left unchecked, and why (scan_folder)

    def _rows(self, sql: str, *args: Any, **named: Any) -> list[Any]:
        return self.conn.execute(sql, named or args).fetchall()

    def known(self, refs: list[str]) -> set[str]:
        """Which of ``refs`` are the id or name of a product of the mesh."""
        return {ref for (ref,) in self._rows(f"SELECT ref FROM refs WHERE ref IN {IN}", json.dumps(refs))}

    def order(self) -> list[str]:
        """Every file's key, in discovery order."""
        return [key for (key,) in self._rows("SELECT key FROM files ORDER BY seq")]

    def entries(self) -> dict[str, dict[str, Any] | str | None]:
        """Every file's entry by key, in discovery order: a product's summary ({} when it cannot
        be loaded), a contract's id (None then). Reads the whole index: for tests and tools."""
        return {
            key: _entry(kind, *row)
            for key, kind, *row in self._rows("SELECT key, kind, id, name, outputs, inputs FROM files ORDER BY seq")
        }

    @_reading
    def neighbourhood(self, paths: list[Path]) -> tuple[list[Path], list[Path], Facts]:
        """The descriptor and contract files to load to check everything in ``paths`` and the facts
        linking them: the files inside them, the products their products read from or feed, every
        file claiming one of those products' ids or names, and the contracts the checked products
        publish and read."""
        inside: set[int] = set()
        for key in {_key(self.root, p) for p in paths}:
            # the file itself, or those below the folder: keys from key + "/" up to key + "0"
            end = key + chr(ord(os.sep) + 1)
            inside.update(
                s for (s,) in self._rows("SELECT seq FROM files WHERE key = ? OR (key >= ? AND key < ?)", key, key + os.sep, end)
            )
        products, contracts = self._around(sorted(inside), set())
        return [self.root / key for key in products], [self.root / key for key in contracts], self._facts_of(products, contracts)

    def batches(self, size: int) -> Iterator[list[Path]]:
        """Every descriptor and contract file, in groups of about ``size`` products for an audit
        that holds only one group (and its neighbours) at a time. A folder's files stay in one
        group, so a product and the contracts beside it are loaded together (they are walked
        together, one after the other)."""
        group: list[Path] = []
        products = 0
        folder = None
        last = -1
        while True:
            # A page of files per query, each query run to its end: a cursor kept open between the
            # batches would hold a read lock on the index for the whole audit (and hold up a check
            # that updates the index's meta meanwhile); the files are not all held either.
            try:
                rows = self.conn.execute(
                    "SELECT seq, key, kind FROM files WHERE seq > ? ORDER BY seq LIMIT ?", (last, PAGE)
                ).fetchall()
            except sqlite3.DatabaseError as e:
                raise _damaged(self.root, e) from None
            if not rows:
                break
            last = rows[-1][0]
            for _, key, kind in rows:
                here = os.path.dirname(key)
                if here != folder and products >= size:
                    yield group
                    group, products = [], 0
                folder = here
                group.append(self.root / key)
                products += kind == "product"
        if group:
            yield group

    @_reading
    def batch(self, files: list[Path]) -> Batch:
        """What loading exactly ``files`` (one of :meth:`batches`) needs: these, their products'
        neighbours, the contracts their products publish and read, every other contract claiming
        the id of one of them (the first claim wins, as when the whole mesh is loaded), and the
        facts about the whole mesh that linking these files consults."""
        keys = [_key(self.root, p) for p in files]
        rows = self._rows(f"SELECT seq, kind, id FROM files WHERE key IN {IN}", json.dumps(keys))
        claimed = {cid for _, kind, cid in rows if kind == "contract" and cid is not None}
        products, contracts = self._around(sorted(seq for seq, _, _ in rows), claimed)
        return Batch(self.root, keys, products, contracts, self._facts_of(products, contracts))

    def _around(self, inside: list[int], contract_ids: set[str]) -> tuple[list[str], list[str]]:
        seqs = json.dumps(inside)
        entries = self._rows(f"SELECT id, outputs, inputs FROM files WHERE seq IN {IN} AND kind = 'product'", seqs)
        ids = json.dumps([pid for pid, _, _ in entries if pid is not None])
        wanted = {pid for pid, _, _ in entries if pid is not None}
        wanted.update(up for (up,) in self._rows(f"SELECT up FROM edges WHERE down IN {IN}", ids))
        wanted.update(down for (down,) in self._rows(f"SELECT down FROM edges WHERE up IN {IN}", ids))
        # (and the products whose ids the contracts among these files have: a contract no product
        # publishes must not share a product's id)
        wanted.update(cid for (cid,) in self._rows(f"SELECT id FROM files WHERE seq IN {IN} AND kind = 'contract'", seqs))
        names = json.dumps(list(wanted))
        products = self._rows(
            f"SELECT seq, key FROM files WHERE kind = 'product' AND seq IN ({_values(':seqs')} UNION"
            f" SELECT seq FROM files WHERE id IN ({_values(':names')})"
            f" UNION SELECT seq FROM files WHERE name IN ({_values(':names')}))",
            seqs=seqs,
            names=names,
        )
        read_by, dangling = self._reads(entries)
        read = json.dumps(list(contract_ids | read_by))
        contracts = self._rows(
            f"SELECT seq, key FROM files WHERE kind = 'contract' AND seq IN ({_values(':seqs')} UNION"
            f" SELECT seq FROM files WHERE id IN ({_values(':read')}))",
            seqs=seqs,
            read=read,
        )
        # The files that could not be loaded beside these products: what they read may be among them
        # (a contract's id is unknown until it loads), so a product reading from one is an error;
        # and every descriptor that could not be loaded when one of them names an upstream that is
        # not in the mesh: it may be that one.
        folders = {os.path.dirname(key) for _, key in products}
        taken = {seq for seq, _ in products} | {seq for seq, _ in contracts}
        for seq, key, kind in self._rows("SELECT seq, key, kind FROM files WHERE id IS NULL"):
            if seq not in taken and (os.path.dirname(key) in folders or (dangling and kind == "product")):
                (products if kind == "product" else contracts).append((seq, key))
        return [key for _, key in sorted(products)], [key for _, key in sorted(contracts)]

    def _reads(self, entries: list[tuple[Any, ...]]) -> tuple[set[str], bool]:
        """The contract ids the products of ``entries`` (id, outputs, inputs) publish or read: an
        input port reads the contract it names when its upstream publishes it, else every contract
        of its upstream (as engine.gather.mesh.Mesh.upstream_objects resolves them); and whether a
        port names an upstream that is not in the mesh (a product no file claims, or a contract no
        product publishes)."""
        published, ports = _ports(entries)
        read = set(published)
        publisher = self._publishers({cid for ref, cid in ports if not ref and cid})
        upstreams = [ref or publisher.get(cid or "", "") for ref, cid in ports]
        outputs_of = {
            ref: json.loads(outputs)
            for ref, outputs in self._rows(
                f"SELECT r.ref, f.outputs FROM refs r JOIN files f ON f.seq = r.seq WHERE r.ref IN {IN}", json.dumps(upstreams)
            )
        }
        for (_, cid), up in zip(ports, upstreams, strict=True):
            upstream = outputs_of.get(up, [])
            read.update([cid] if cid in upstream else upstream)
        dangling = any((ref or cid) and up not in outputs_of for (ref, cid), up in zip(ports, upstreams, strict=True))
        return read, dangling

    def _publishers(self, cids: Iterable[str]) -> dict[str, str]:
        return dict(self._rows(f"SELECT contract, product FROM publisher WHERE contract IN {IN}", json.dumps(list(cids))))

    def _facts_of(self, products: list[str], contracts: list[str]) -> Facts:
        """The part of the facts that linking the files of ``products`` and ``contracts`` (keys)
        looks up (engine.gather.mesh.Mesh: the publishers of the contracts loaded and read, the edges
        between products loaded, the depth and cycle of every product they name): the same
        lookups as in the whole facts give the same answers."""
        entries = self._rows(
            f"SELECT id, outputs, inputs FROM files WHERE key IN {IN} AND outputs IS NOT NULL", json.dumps(products)
        )
        ids = [pid for pid, _, _ in entries if pid is not None]
        cids = {cid for (cid,) in self._rows(f"SELECT id FROM files WHERE key IN {IN} AND id IS NOT NULL", json.dumps(contracts))}
        published, ports = _ports(entries)
        cids.update(published)
        cids.update(cid for _, cid in ports if cid is not None)
        publisher = self._publishers(cids)
        nodes = set(ids) | set(publisher.values())
        nodes.update(ref or publisher.get(cid or "") or f"(publisher of {cid})" for ref, cid in ports)
        known = self._rows(f"SELECT node, depth, cycle FROM nodes WHERE node IN {IN}", json.dumps(list(nodes)))
        idj = json.dumps(ids)
        return Facts(
            publisher=publisher,
            edges=self._rows(f"SELECT up, down, contract FROM edges WHERE up IN {IN} AND down IN {IN} ORDER BY seq", idj, idj),
            cycles={node: json.loads(cycle) for node, _, cycle in known if cycle is not None},
            depth={node: depth for node, depth, _ in known},
        )


def _ports(entries: list[tuple[Any, ...]]) -> tuple[list[str], list[tuple[str | None, str | None]]]:
    """The contract ids the products of ``entries`` (id, outputs, inputs) publish, and their input
    ports as (product, contract id); products that failed to load have neither."""
    published: list[str] = []
    ports: list[tuple[str | None, str | None]] = []
    for _, outputs, inputs in entries:
        if outputs is not None:
            published.extend(json.loads(outputs))
            ports.extend(tuple(port) for port in json.loads(inputs))
    return published, ports


def _entry(kind: str, pid: str | None, name: str | None, outputs: str | None, inputs: str | None) -> dict[str, Any] | str | None:
    if kind == "contract":
        return pid
    if outputs is None or inputs is None:
        return {}
    return {"id": pid, "name": name, "outputs": json.loads(outputs), "inputs": json.loads(inputs)}


def _row(entry: dict[str, Any] | str | None) -> tuple[str | None, str | None, str | None, str | None]:
    """An entry as the files table keeps it (id, name, outputs, inputs)."""
    if not isinstance(entry, dict):
        return entry, None, None, None
    if not entry:
        return None, None, None, None
    return entry["id"], entry["name"], json.dumps(entry["outputs"]), json.dumps(entry["inputs"])


def _key(root: Path, path: Path | str) -> str:
    """``path`` relative to ``root``, as text (the index's key)."""
    base, text = os.path.join(str(root), ""), str(path)
    if text.startswith(base):
        return text[len(base) :]
    return os.path.relpath(text, base) if text != base else "."


def _summary(item: tuple[str, str]) -> dict[str, Any] | str | None:
    """What the index keeps of one file, read in full: a product's summary ({} when it cannot be
    loaded), a contract's id (None when it cannot be loaded)."""
    kind = item[1]
    loaded = load_one((Path(item[0]), kind))
    if isinstance(loaded, tuple):
        return {} if kind == "product" else None
    return loaded.contract.id if kind == "contract" else summary(loaded)


def stored_files(root: Path) -> int:
    """How many descriptors and contracts the index stored in the mesh at ``root`` holds (0 when
    there is none), as of the last run."""
    stored = _open(root / INDEX_PATH)
    if stored is None:
        return 0
    stored[0].close()
    return stored[1][2]


def refresh(root: Path, named: list[Path] | None = None, workers: Workers | None = None, verify: bool = False) -> MeshIndex:
    """The index of the mesh at ``root`` (plus the descriptors ``named`` on the command line that
    discovery does not find), brought up to date and saved when it changed. Files to read again are
    read by ``workers`` when given. A stored index that cannot be used is rebuilt; with ``verify``,
    also one whose pages SQLite finds damaged (``PRAGMA quick_check`` reads every page: a third of
    a second at 10,000 products, so a check verifies only after a query failed, see
    engine.gather.targets, and an audit that finds damage removes the index, see engine/cli.py)."""
    file = root / INDEX_PATH
    stored = _open(file)
    if stored is not None and verify and not _intact(stored[0]):
        stored[0].close()
        stored = None
    try:
        index = _refresh(root, named or [], workers, file, stored)
    except Damaged:
        index = _refresh(root, named or [], workers, file, None)
    except sqlite3.OperationalError as e:
        if e.sqlite_errorcode not in (sqlite3.SQLITE_FULL, sqlite3.SQLITE_IOERR):
            raise
        # (no room beside the mesh: built in memory, for this run only, as where it cannot be written)
        index = _refresh(root, named or [], workers, file, stored, in_memory=True)
    if stored is not None and index.conn is not stored[0]:
        stored[0].close()
    return index


Meta = tuple[int, str, int, str]  # the stored index's written_ns, digest, number of files, folders


def _open(file: Path) -> tuple[sqlite3.Connection, Meta] | None:
    """The stored index and its meta row, None when there is none of this version."""
    if not file.is_file():
        return None
    conn = None
    try:
        conn = _connect(file)
        if conn.execute("PRAGMA user_version").fetchone()[0] != INDEX_VERSION:
            raise Damaged
        (meta,) = conn.execute("SELECT written_ns, digest, files, folders FROM meta").fetchall()
        return conn, meta
    except (sqlite3.Error, ValueError, Damaged):
        if conn is not None:
            conn.close()
        return None


def _intact(conn: sqlite3.Connection) -> bool:
    try:
        return conn.execute("PRAGMA quick_check").fetchall() == [("ok",)]
    except sqlite3.Error:
        return False


def _connect(file: Path | str) -> sqlite3.Connection:
    return sqlite3.connect(file, isolation_level=None, check_same_thread=False)


def _refresh(
    root: Path,
    named: list[Path],
    workers: Workers | None,
    file: Path,
    stored: tuple[sqlite3.Connection, Meta] | None,
    in_memory: bool = False,
) -> MeshIndex:
    started = time.time_ns()  # (stored as written_ns: a file changed during the run is not trusted)
    written, digest, stored_files, stored_folders = stored[1] if stored is not None else (0, "", 0, "")
    trusted = written - RACY_NS  # files and folders modified before this are as the index saw them
    # A first index reads every file, in the workers when there are enough of them: those are forked
    # as soon as the walk has found that many, before the parent holds the rest of the walk (at
    # 100,000 products, workers forked after it started their batches with 170 MiB of it).
    found = workers.start if stored is None and workers is not None and not workers.in_parent(MIN_ITEMS) else None
    walk = _walk(root, stored_folders, trusted, found)
    if named:
        wanted = {_key(root, path): path for path in named}  # those the walk did not find are added
        for line in walk.lines:
            if wanted.pop(line.split("\t", 2)[2], None) is not None and not wanted:
                break
        for key, path in wanted.items():
            walk.paths[len(walk.lines)] = str(path)
            walk.add(key, "product", _stat(str(path)), link=True)
    hashed = walk.digest()
    if stored is not None and (hashed, len(walk.lines)) == (digest, stored_files) and not walk.recent:
        conn = stored[0]  # the usual case: nothing changed
        try:
            (rows, *_) = conn.execute(
                "SELECT (SELECT count(*) FROM files), EXISTS (SELECT 1 FROM publisher), EXISTS (SELECT 1 FROM refs),"
                " EXISTS (SELECT 1 FROM edges), EXISTS (SELECT 1 FROM nodes)"
            ).fetchone()
        except sqlite3.Error as e:
            raise Damaged from e
        if rows != len(walk.lines):
            raise Damaged
        if walk.racy or walk.folders != stored_folders:  # a folder changed, its descriptors and contracts did not
            try:
                conn.execute("UPDATE meta SET written_ns = ?, folders = ?", (started, walk.folders))
            except sqlite3.Error:
                pass  # (a mesh that cannot be written to: the index is used as it is)
        return MeshIndex(root, conn, walk.products, walk.unreadable)
    conn, temporary = (_connect(":memory:"), None) if in_memory else _new(file)
    try:
        meta = (started, hashed, len(walk.lines), walk.folders)
        products = walk.products
        _build(conn, root, file, workers, walk, stored is not None)
        conn.execute("INSERT INTO meta VALUES (?, ?, ?, ?)", meta)
        for statement in INDEXES.strip().split("\n"):
            conn.execute(statement)
        conn.execute("COMMIT")
        if temporary is not None:
            _save(conn, temporary, file)
        return MeshIndex(root, conn, products, walk.unreadable)
    except BaseException:
        conn.close()
        _remove(temporary)
        raise


def _build(conn: sqlite3.Connection, root: Path, file: Path, workers: Workers | None, walk: Walk, old: bool) -> None:
    """The files' entries and the facts, in ``conn`` (a transaction left open): from the stored
    index at ``file`` (when ``old``) for each file whose signature it holds and whose time stamps
    are trusted, else read again (by ``workers``); the facts copied when no entry changed, else
    linked anew. The walk's files are cleared once they are in ``conn``."""
    conn.executescript(SCHEMA + f"PRAGMA user_version = {INDEX_VERSION}; CREATE TEMP TABLE kept (seq INTEGER PRIMARY KEY);")
    same = False
    if old:
        try:
            conn.execute("ATTACH DATABASE ? AS old", (str(file),))
        except sqlite3.Error as e:
            raise Damaged from e
    conn.execute("BEGIN")
    split = (line.split("\t", 2) for line in walk.lines)  # kind, signature, key
    conn.executemany(
        "INSERT INTO files (seq, key, kind, state) VALUES (?, ?, ?, ?)",
        ((n, key, kind, f"{kind}\t{signature}") for n, (kind, signature, key) in enumerate(split)),
    )
    total = len(walk.lines)
    # The walk is in the database now: cleared before the files are read, so that workers forked to
    # read them do not inherit it (at 100,000 products, 200,000 signatures).
    walk.lines.clear()
    if old:
        try:
            conn.execute(
                "INSERT INTO temp.kept SELECT f.seq FROM files f JOIN old.files o ON o.key = f.key AND o.state = f.state"
                f" WHERE f.seq NOT IN {IN}",
                (json.dumps(walk.recent),),
            )
            conn.execute(
                "UPDATE files SET id = o.id, name = o.name, outputs = o.outputs, inputs = o.inputs"
                " FROM old.files o WHERE o.key = files.key AND files.seq IN temp.kept"
            )
            (matched, stored_total) = conn.execute(
                "SELECT (SELECT count(*) FROM files f JOIN old.files o ON o.key = f.key AND o.kind = f.kind),"
                " (SELECT count(*) FROM old.files)"
            ).fetchone()
        except sqlite3.Error as e:
            raise Damaged from e
        same = matched == stored_total == total  # the same files as before
    walk.recent.clear()  # (in a first index, every file: not inherited by the workers either)
    base = os.path.join(str(root), "")  # (with one separator at its end, also for /)

    def path(n: int, key: str) -> str:
        return walk.paths.get(n) or base + key

    # Links leaving the mesh are not read (load_mesh makes them errors): they declare nothing here.
    links = [path(n, key) for n, key in conn.execute(f"SELECT seq, key FROM files WHERE seq IN {IN}", (json.dumps(walk.links),))]
    leaving = {str(p) for p in links_leaving(root, [Path(p) for p in links])}
    stale = [
        (n, path(n, key), kind)
        for n, key, kind in conn.execute("SELECT seq, key, kind FROM files WHERE seq NOT IN temp.kept ORDER BY seq")
    ]
    items = [(p, kind) for _, p, kind in stale if p not in leaving]
    read = workers.map(_summary, items, len(items)) if workers is not None else map(_summary, items)

    def rows() -> Iterator[tuple[Any, ...]]:
        for n, p, kind in stale:
            yield (*_row(({} if kind == "product" else None) if p in leaving else next(read)), n)

    conn.executemany("UPDATE files SET id = ?, name = ?, outputs = ?, inputs = ? WHERE seq = ?", rows())
    if old and same:
        try:
            (unchanged,) = conn.execute(UNCHANGED).fetchone()
            if unchanged == len(stale):  # read again, but unchanged (too recent to trust): the facts hold
                for table in ("publisher", "refs", "edges", "nodes"):
                    conn.execute(f"INSERT INTO main.{table} SELECT * FROM old.{table}")
                return
        except sqlite3.Error as e:
            raise Damaged from e
    _link(conn)


def _link(conn: sqlite3.Connection) -> None:
    """The facts from the files' entries, as engine.gather.mesh.link_facts links product summaries:
    in discovery order, without the products engine.gather.mesh.claims leaves out."""
    refs = claims(conn.execute("SELECT seq, id, name FROM files WHERE kind = 'product' ORDER BY seq"))
    conn.executemany("INSERT INTO refs VALUES (?, ?)", refs.items())
    conn.execute("CREATE TEMP TABLE linked (seq INTEGER PRIMARY KEY)")  # the products that claim their id
    conn.executemany("INSERT INTO temp.linked VALUES (?)", ((seq,) for seq in set(refs.values())))
    del refs
    # the first product publishing a contract id is its publisher
    conn.execute(
        "INSERT OR IGNORE INTO publisher SELECT o.value, f.id FROM temp.linked l JOIN files f ON f.seq = l.seq,"
        " json_each(f.outputs) o ORDER BY f.seq, o.key"
    )
    # an input port's upstream: the product it names, else the publisher of the contract it names
    conn.execute(
        "INSERT INTO edges (up, down, contract) SELECT u.id, f.id, json_extract(i.value, '$[1]')"
        " FROM temp.linked l JOIN files f ON f.seq = l.seq, json_each(f.inputs) i"
        " JOIN refs r ON r.ref = coalesce(nullif(json_extract(i.value, '$[0]'), ''),"
        "  (SELECT p.product FROM publisher p WHERE p.contract = coalesce(json_extract(i.value, '$[1]'), '')), '')"
        " JOIN files u ON u.seq = r.seq ORDER BY f.seq, i.key"
    )
    import networkx as nx  # here: a check with a mesh index never links the whole mesh

    graph = nx.DiGraph()
    graph.add_nodes_from(
        pid for (pid,) in conn.execute("SELECT f.id FROM temp.linked l JOIN files f ON f.seq = l.seq ORDER BY l.seq")
    )
    graph.add_edges_from(conn.execute("SELECT up, down FROM edges ORDER BY seq"))
    cycles, depth = graph_facts(graph)
    del graph
    conn.executemany(
        "INSERT INTO nodes VALUES (?, ?, ?)",
        ((node, d, json.dumps(cycles[node]) if node in cycles else None) for node, d in depth.items()),
    )
    conn.execute("DROP TABLE temp.linked")


def _new(file: Path) -> tuple[sqlite3.Connection, Path | None]:
    """A database to build a new index in, and its file: a temporary file beside ``file``, so that
    the index is never held in memory (about 100 MB at 100,000 products), or memory when that
    cannot be created (the index is then used for the run only: it only ever saves time)."""
    temporary = file.with_name(f".{file.name}.{os.getpid()}.tmp")
    try:
        file.parent.mkdir(parents=True, exist_ok=True)
        temporary.unlink(missing_ok=True)
        _remove_abandoned(file)
        conn = _connect(temporary)
        # A half-built file is removed, never opened: it needs no journal and no syncing.
        conn.executescript("PRAGMA journal_mode = OFF; PRAGMA synchronous = OFF;")
        return conn, temporary
    except (OSError, sqlite3.Error):
        _remove(temporary)
        return _connect(":memory:"), None


def _save(conn: sqlite3.Connection, temporary: Path, file: Path) -> None:
    """The index built in ``temporary`` renamed into place (atomically: no reader sees half of
    it). ``conn`` keeps using it, from there or, when it cannot be renamed, unlinked (for the run)."""
    if any(name == "old" for _, name, _ in conn.execute("PRAGMA database_list")):
        conn.execute("DETACH DATABASE old")
    try:
        os.replace(temporary, file)
    except OSError:
        _remove(temporary)


def _remove_abandoned(file: Path) -> None:
    """Remove the temporary files of builds whose process is gone (killed before it could remove
    its file: each is as large as an index). Another process's build, still running, keeps its file."""
    prefix = f".{file.name}."
    for temporary in file.parent.glob(f"{glob.escape(prefix)}*.tmp"):
        pid = temporary.name[len(prefix) : -len(".tmp")]
        if pid.isdigit() and not _running(int(pid)):
            _remove(temporary)


def _running(pid: int) -> bool:
    """Whether process ``pid`` exists on this machine. (A build on another machine sharing the
    mesh's folder would lose its file: it then uses the index for its run without saving it.)"""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # another user's
        return True
    except (OSError, OverflowError):  # not a process number
        return False
    return True


def _remove(temporary: Path | None) -> None:
    try:
        if temporary is not None:
            temporary.unlink(missing_ok=True)
    except OSError:
        pass


@dataclass
class Walk:
    """The mesh's descriptors and contracts as the walk found them, held as little as can be (at
    100,000 products, 200,000 of them): a line of text each, which is what the digest is of."""

    trusted: int  # files modified since are not trusted to be as the index saw them
    lines: list[str] = field(default_factory=list)  # kind, signature (size, mtime, ctime, inode, or "-"), key
    products: int = 0
    recent: list[int] = field(default_factory=list)  # the files (by position) modified since trusted, or not stat'ed
    links: list[int] = field(default_factory=list)  # the files that may be links
    paths: dict[int, str] = field(default_factory=dict)  # the files not below the mesh's folder (named ones)
    folders: str = ""  # the folders' text to store
    racy: bool = False  # a folder was modified since trusted
    found: Callable[[], None] | None = None  # called when the walk has found MIN_ITEMS files
    unreadable: list[tuple[str, str]] = field(default_factory=list)  # what the walk left unchecked, and why (scan_folder)

    def add(self, key: str, kind: str, st: os.stat_result | None, link: bool = False) -> None:
        if st is None or st.st_mtime_ns >= self.trusted:
            self.recent.append(len(self.lines))
        if link:
            self.links.append(len(self.lines))
        self.products += kind == "product"
        signature = "-" if st is None else f"{st.st_size} {st.st_mtime_ns} {st.st_ctime_ns} {st.st_ino}"
        self.lines.append(f"{kind}\t{signature}\t{key}")  # (the key last: it may hold tabs)
        if self.found is not None and len(self.lines) == MIN_ITEMS:
            self.found()

    def digest(self) -> str:
        hashed = hashlib.blake2b(digest_size=16)
        for start in range(0, len(self.lines), 4096):  # (in pieces: at 100,000 products the lines are 20 MB)
            hashed.update(("\n".join(self.lines[start : start + 4096]) + "\n").encode())
        return hashed.hexdigest()


def _stat(path: str) -> os.stat_result | None:
    try:
        return os.stat(path)
    except OSError:
        return None


def _walk(root: Path, stored: Any, trusted: int, found: Callable[[], None] | None = None) -> Walk:
    """The mesh's descriptors and contracts as engine.gather.mesh.walk_files finds them, each
    stat'ed, and the text of the folders' signatures to store: a line per folder that may be
    reused (its path relative to the mesh, its modification time, change time and inode, and the
    names of its descriptors and contracts and of its subfolders, each ``/``-separated).

    A folder whose signature is the one ``stored`` and which was modified before ``trusted`` is
    not listed again: adding, removing or renaming an entry changes a folder's modification time,
    so its descriptors, contracts and subfolders are the stored ones (a file edited in place leaves
    its folder's time alone, which is why every file is still stat'ed). That is a system call per
    folder instead of three or more and the sorting of its entries: a third of the walk of a
    10,000-product mesh. The mesh's own folder, a folder with a link among its descriptors and
    contracts (whose target the index must check) and one with a tab or line break in a name it
    lists are listed every time. ``found`` is called when MIN_ITEMS files have been found."""
    known: dict[str, str] = {}  # a stored folder's line by its path (split when the folder is reached)
    for line in stored.split("\n") if isinstance(stored, str) and stored else ():
        key = line.partition("\t")[0]
        if key in known:  # a damaged index: nothing of it is reused
            known.clear()
            break
        known[key] = line
    walk = Walk(trusted, found=found)
    out: list[str] = []
    base = str(root)
    skip = len(os.path.join(base, ""))  # (the root and its separator: one character for /)
    stack = [base]
    while stack:
        folder = stack.pop()
        key = folder[skip:]
        prefix = f"{key}{os.sep}" if key else ""
        st = _stat(folder)
        if st is None:
            continue  # (its parent's line keeps it among the subfolders, to be tried again)
        signature = f"{st.st_mtime_ns} {st.st_ctime_ns} {st.st_ino}"
        fields = known.pop(key, "").split("\t")
        if len(fields) == 4 and fields[1] == signature:
            if st.st_mtime_ns >= trusted:
                walk.racy = True  # changed too close to the index being written to tell: listed again
            else:
                names = fields[2].split("/") if fields[2] else []
                kinds = [kind_of_name(name) for name in names]
                if None not in kinds:  # (a name of no kind: the index was damaged)
                    for name, kind in zip(names, kinds, strict=True):
                        walk.add(prefix + name, kind, _stat(f"{folder}{os.sep}{name}"))  # type: ignore[arg-type]
                    out.append("\t".join(fields))
                    subfolders = fields[3].split("/") if fields[3] else []
                    stack.extend(f"{folder}{os.sep}{name}" for name in reversed(subfolders))
                    continue
        unchecked = len(walk.unreadable)
        listing = scan_folder(folder, walk.unreadable)
        if listing is None:  # (unreadable, say: its parent's listing does not change when that does)
            continue
        found, subfolders = listing
        # (creating the index's .govern folder changes the mesh's own; a folder holding a name that
        # is not UTF-8 is listed again each time, so that every run says so)
        reusable = folder != base and len(walk.unreadable) == unchecked
        for entry, kind in found:
            link = entry.is_symlink()
            reusable = reusable and not link and not _odd(entry.name)
            try:
                st = entry.stat()
            except OSError:
                st = None
            walk.add(prefix + entry.name, kind, st, link)
        names = [os.path.basename(s) for s in subfolders]
        if reusable and not _odd(key) and not any(_odd(name) for name in names):
            out.append(f"{key}\t{signature}\t{'/'.join(entry.name for entry, _ in found)}\t{'/'.join(names)}")
        stack.extend(reversed(subfolders))
    walk.folders = "\n".join(out)
    return walk


def _odd(name: str) -> bool:
    """Whether a name would break the lines of the index's texts."""
    return "\t" in name or "\n" in name

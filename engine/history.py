"""Audit history in SQLite: every audit's scores and finding fingerprints, for changes and trends.

One audit is written in one transaction at the end of the run (its findings and gzip-compressed
JSON report read from the audit's spool, engine/spool.py, a piece at a time), so an audit that is
interrupted, killed or fails leaves every earlier run as it was (SQLite's journal rolls a
half-written transaction back on the next open). A file that is not a history database, or lacks
one of its tables, is refused, never overwritten.

Runs are keyed by the mesh (:func:`mesh_key`), so one database can hold several meshes.
"""

from __future__ import annotations

import gzip
import json
import os
import re
import sqlite3
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from engine.config import display
from engine.errors import GovernError, raising
from engine.model import Changes, Report, TrendPoint

SCHEMA_VERSION = 2  # 2: findings.source (version 1 stores are brought up to it)
TREND = 30  # audits in a report's trend (this one and the stored ones before it)
SCHEMA = """
CREATE TABLE IF NOT EXISTS runs (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    id TEXT NOT NULL UNIQUE,
    mesh TEXT NOT NULL,
    started_at TEXT NOT NULL,
    now TEXT NOT NULL,
    govern_version TEXT NOT NULL,
    policies_digest TEXT NOT NULL,
    governance_digest TEXT NOT NULL,
    score REAL,
    products INTEGER NOT NULL,
    open INTEGER NOT NULL,
    waived INTEGER NOT NULL,
    blocking INTEGER NOT NULL,
    new INTEGER,
    fixed INTEGER,
    report TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS runs_by_mesh ON runs (mesh, seq);
CREATE TABLE IF NOT EXISTS domain_scores (
    run_seq INTEGER NOT NULL REFERENCES runs (seq) ON DELETE CASCADE,
    domain TEXT NOT NULL,
    score REAL,
    products INTEGER NOT NULL,
    PRIMARY KEY (run_seq, domain)
);
CREATE TABLE IF NOT EXISTS findings (
    run_seq INTEGER NOT NULL REFERENCES runs (seq) ON DELETE CASCADE,
    fingerprint TEXT NOT NULL,
    rule TEXT NOT NULL,
    product TEXT NOT NULL,
    domain TEXT,
    severity TEXT NOT NULL,
    enforcement TEXT NOT NULL,
    status TEXT NOT NULL,
    source TEXT,
    PRIMARY KEY (run_seq, fingerprint)
);
"""
# The file a finding's product was read from, relative to the mesh: a product that cannot be
# loaded in a later audit is known only by its file.
_V2 = "ALTER TABLE findings ADD COLUMN source TEXT;"
_TABLES = {"runs", "domain_scores", "findings", "sqlite_sequence"}


@dataclass
class StoredRun:
    seq: int
    id: str
    mesh: str
    started_at: str
    now: str
    score: float | None
    products: int
    open: int
    waived: int
    blocking: int
    new: int | None
    fixed: int | None
    domains: dict[str, float | None]


MeshKey = tuple[str, ...]  # how a store knows a mesh: the key its runs are stored under, then older ones


def mesh_key(root: Path, store: Path) -> MeshKey:
    """How the store at ``store`` knows the mesh at ``root``: by its resolved path, or, when the
    store lies inside the mesh (as by default, MESH/.govern/history.sqlite), by the way up from the
    store's folder to the mesh (``..``), so that the history moves with the mesh (a repository
    moved, a CI workspace at another path each run). Runs stored by govern before 0.2 were all
    keyed by the resolved path, which is read too."""
    # (as named, links not followed: a store linked to a file elsewhere is still the one inside
    # the mesh, and its .. still the mesh)
    mesh, folder = Path(os.path.abspath(root)), Path(os.path.abspath(store)).parent
    resolved = str(root.resolve())
    if folder != mesh and mesh not in folder.parents:
        return (resolved,)
    return (os.path.relpath(mesh, folder), resolved)


def _unusable(error: sqlite3.Error, path: Path) -> GovernError:
    """Why the history database cannot be used, and what to do about it."""
    if isinstance(error, sqlite3.OperationalError) and any(word in str(error) for word in ("locked", "busy")):
        return GovernError(f"the history database is in use by another process ({error}, for 30 s): try again later", path)
    if getattr(error, "sqlite_errorcode", None) in (sqlite3.SQLITE_FULL, sqlite3.SQLITE_IOERR):  # (the disk, not the file)
        return GovernError(f"cannot write the history database ({error}): make room, or pass --store", path)
    return GovernError(f"not a usable govern history database ({error}); move it aside or pass --store", path)


# A query of the history whose pages turn out damaged (or that waits too long for a lock) as a
# GovernError naming the file, not a traceback.
_reading = raising((sqlite3.Error,), lambda history, e: _unusable(e, history.path))


_IN = "(SELECT value FROM json_each(?))"
Previous = tuple[int, str, dict[str, tuple[str, str | None]]]  # a stored audit: seq, id, fingerprint -> (product, file)


def _source(shown: str, base: str) -> str:
    """A product's file as the history keeps it: relative to the mesh folder as the run names it
    (the same from any folder, and through a link to the mesh; without resolving links, a few
    hundred thousand system calls at 100,000 products)."""
    return os.path.relpath(os.path.abspath(shown), base)


@dataclass
class Products:
    """What the history needs of a report's products, read in one pass (an audit's are read back
    from its spool each time they are iterated): each one's file, and which are in error."""

    files: dict[str, str]  # id -> file, as shown
    errored: list[str]
    base: str  # the mesh folder, as the run names it (not resolved: its files are shown through it)
    unchecked: list[str] = field(default_factory=list)  # folders the run could not look into, as kept
    _kept: dict[str, str | None] = field(default_factory=dict)

    @classmethod
    def of(cls, report: Report, root: Path) -> Products:
        files: dict[str, str] = {}
        errored: list[str] = []
        for p in report.products:
            files[p.id] = p.source
            if p.verdict == "error":
                errored.append(p.id)
        base = os.path.abspath(root)
        return cls(files, errored, base, [_source(folder, base) for folder in report.unchecked])

    def file(self, product: str) -> str | None:
        """The product's file as the history keeps it (:func:`_source`), worked out once."""
        if product not in self._kept:
            shown = self.files.get(product)
            self._kept[product] = None if shown is None else _source(shown, self.base)
        return self._kept[product]

    def unevaluated(self, before: dict[str, tuple[str, str | None]]) -> set[str]:
        """The earlier findings (of ``before``) of the products not evaluated, known by id or, when
        they could not even be loaded, by file; and those in the folders the run could not look into."""
        sources = {self.file(p) for p in self.errored}
        ids = set(self.errored)
        return {
            fp
            for fp, (product, source) in before.items()
            if product in ids or (source is not None and (source in sources or self._unchecked(source)))
        }

    def _unchecked(self, source: str) -> bool:
        return any(source == folder or source.startswith(folder + os.sep) for folder in self.unchecked)


class History:
    """The history database at ``path`` (created, with its folder, on first use)."""

    def __init__(self, path: Path):
        self.path = path
        new = not path.exists()
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            self.conn = sqlite3.connect(path, timeout=30)
            self.conn.execute("PRAGMA foreign_keys = ON")
            self._migrate()
        except sqlite3.DatabaseError as e:
            if new:  # (an empty file left would be taken for a history the next time)
                if hasattr(self, "conn"):
                    self.conn.close()
                path.unlink(missing_ok=True)
            raise _unusable(e, path) from None
        except OSError as e:
            folder = next((f for f in [path.parent, *path.parent.parents] if os.path.lexists(f)), None)
            if folder is not None and not folder.is_dir():
                raise GovernError(f"cannot open the history database: {display(folder)} is a file, not a folder", path) from None
            raise GovernError(f"cannot open the history database: {e.strerror}", path) from None

    def _migrate(self) -> None:
        version = self.conn.execute("PRAGMA user_version").fetchone()[0]
        tables = {r[0] for r in self.conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
        if version in (1, SCHEMA_VERSION):
            missing = _TABLES - tables - {"sqlite_sequence"}  # (made by SQLite with the first run stored)
            if missing:
                raise sqlite3.DatabaseError(f"no table {', '.join(sorted(missing))}")
            if version == 1:
                with self.conn:
                    self.conn.executescript(f"BEGIN IMMEDIATE; {_V2} PRAGMA user_version = {SCHEMA_VERSION}; COMMIT;")
            return
        if version != 0 or not tables <= _TABLES:
            raise sqlite3.DatabaseError(f"schema version {version}, expected {SCHEMA_VERSION}")
        # Two audits may create a new store at once: the schema is idempotent and written under
        # a write lock, so the second waits (busy timeout) and then finds the tables made.
        with self.conn:
            self.conn.executescript(f"BEGIN IMMEDIATE; {SCHEMA} PRAGMA user_version = {SCHEMA_VERSION}; COMMIT;")

    def close(self) -> None:
        self.conn.close()

    def verify(self, mesh: MeshKey) -> None:
        """Read what an audit of the mesh will read (its previous run's findings, the runs of its
        trend), so a damaged database stops the audit before the mesh is evaluated."""
        self.previous(mesh)
        self.runs(mesh, TREND - 1)

    @_reading
    def previous(self, mesh: MeshKey, now: str = "9999") -> Previous | None:
        """The latest stored audit of the mesh as of ``now`` at the latest (runs are ordered by the
        time they were judged as of, ``--now``, then stored: an audit previewing a later date is not
        the previous one of an audit of today): its seq, id and the fingerprints of its findings,
        each with its product and the product's file (what :meth:`changes` compares with and
        :meth:`record` carries from: read once for both)."""
        row = self.conn.execute(
            f"SELECT seq, id FROM runs WHERE mesh IN {_IN} AND now <= ? ORDER BY now DESC, seq DESC LIMIT 1",
            (json.dumps(mesh), now),
        ).fetchone()
        if row is None:
            return None
        prints = {
            fingerprint: (product, source)
            for fingerprint, product, source in self.conn.execute(
                "SELECT fingerprint, product, source FROM findings WHERE run_seq = ?", (row[0],)
            )
        }
        return row[0], row[1], prints

    @_reading
    def in_current_terms(self, previous: Previous | None, report: Report) -> Previous | None:
        """The ``previous`` audit with its fingerprints as this run computes them. govern before
        0.2 kept the list positions of a finding's key path in its fingerprint even when the
        finding names its resource (engine/model.py :func:`fingerprint`): each such stored
        fingerprint that is the positional one of a finding of this run stands for that finding's,
        so that an upgrade shows no finding as new and fixed."""
        if previous is None:
            return None
        seq, run, before = previous
        (version,) = self.conn.execute("SELECT govern_version FROM runs WHERE seq = ?", (seq,)).fetchone()
        # (a run of 0.2 holds those of 0.1 too when it carried the findings of a product it could not evaluate)
        carried = self.conn.execute("SELECT 1 FROM findings WHERE run_seq = ? AND status = 'carried' LIMIT 1", (seq,))
        if tuple(int(n) for n in re.findall(r"\d+", version)[:2]) >= (0, 2) and carried.fetchone() is None:
            return previous
        renamed = {}
        for f in report.findings:
            if f.resource is not None and "[" in (f.location.path or ""):
                old = f.positional_fingerprint
                if old != f.fingerprint and old in before and f.fingerprint not in before:
                    renamed[old] = f.fingerprint
        return seq, run, {renamed.get(fp, fp): known for fp, known in before.items()}

    @staticmethod
    def changes(mesh: MeshKey, report: Report, products: Products, previous: Previous | None) -> Changes:
        """What changed since the ``previous`` audit of the mesh, by fingerprint (open and waived
        findings alike). The earlier findings of a product this audit could not evaluate are
        ``unknown``: not fixed, and carried to the next comparison (see :meth:`record`)."""
        current = {f.fingerprint for f in report.findings}
        if previous is None:
            return Changes(previous_run=None, new=sorted(current), fixed=[], persisting=0)
        _, run, before = previous
        unknown = products.unevaluated(before) - current
        return Changes(
            previous_run=run,
            new=sorted(current - before.keys()),
            fixed=sorted(before.keys() - current - unknown),
            persisting=len(current & before.keys()),
            unknown=len(unknown),
        )

    def record(self, mesh: MeshKey, report: Report, products: Products, previous: Previous | None) -> None:
        """Store one audit, all or nothing (``previous``: the stored audit it was compared with)."""
        from engine.report.jsonfmt import chunks

        run, summary = report.run, report.summary
        changes = report.changes
        try:
            with tempfile.TemporaryFile() as text, self.conn:
                # The report's JSON (of an audit of a large mesh: hundreds of megabytes) goes to a
                # file, compressed (gzip: a thirteenth of it at 2,000 generated products), and from
                # there into the row (a BLOB), a piece at a time.
                with gzip.GzipFile(fileobj=text, mode="wb", compresslevel=6, mtime=0) as packed:
                    for piece in chunks(report, None):
                        packed.write(piece)
                cursor = self.conn.execute(
                    "INSERT INTO runs (id, mesh, started_at, now, govern_version, policies_digest, governance_digest, score,"
                    " products, open, waived, blocking, new, fixed, report)"
                    " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, zeroblob(?))",
                    (
                        run.id,
                        mesh[0],
                        run.started_at,
                        run.now,
                        run.govern_version,
                        run.policies_digest,
                        run.governance_digest,
                        summary.score,
                        summary.products,
                        summary.findings.open,
                        summary.findings.waived,
                        summary.findings.by_enforcement.get("blocking", 0),
                        len(changes.new) if changes and changes.previous_run else None,
                        len(changes.fixed) if changes and changes.previous_run else None,
                        text.tell(),
                    ),
                )
                seq = cursor.lastrowid
                text.seek(0)
                with self.conn.blobopen("runs", "report", seq) as blob:
                    while piece := text.read(1 << 20):
                        blob.write(piece)
                self.conn.executemany(
                    "INSERT INTO domain_scores (run_seq, domain, score, products) VALUES (?, ?, ?, ?)",
                    [(seq, name, d.score, d.products) for name, d in report.domains.items()],
                )
                self.conn.executemany(
                    "INSERT OR IGNORE INTO findings (run_seq, fingerprint, rule, product, domain, severity, enforcement, status,"
                    " source) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    (
                        (
                            seq,
                            f.fingerprint,
                            f.rule,
                            f.product,
                            f.domain,
                            f.severity,
                            f.enforcement,
                            f.status,
                            products.file(f.product),
                        )
                        for f in report.findings
                    ),
                )
                if previous is not None:  # the earlier findings of the products not evaluated, carried
                    carried = list(products.unevaluated(previous[2]))
                    self.conn.execute(
                        "INSERT OR IGNORE INTO findings SELECT ?, fingerprint, rule, product, domain, severity, enforcement,"
                        f" 'carried', source FROM findings WHERE run_seq = ? AND fingerprint IN {_IN}",
                        (seq, previous[0], json.dumps(carried)),
                    )
        except (sqlite3.Error, OSError) as e:
            raise GovernError(f"could not store the audit (earlier runs are unchanged): {e}", self.path) from None

    @_reading
    def runs(self, mesh: MeshKey | None = None, limit: int | None = None, until: str = "9999") -> list[StoredRun]:
        """Stored audits as of ``until`` at the latest, oldest first (by the time they were judged as
        of, then stored; the last ``limit`` of them), each with its mesh's path."""
        where, args = (f"WHERE mesh IN {_IN} AND now <= ?", [json.dumps(mesh), until]) if mesh else ("WHERE now <= ?", [until])
        rows = self.conn.execute(
            "SELECT seq, id, mesh, started_at, now, score, products, open, waived, blocking, new, fixed FROM runs "
            f"{where} ORDER BY now DESC, seq DESC LIMIT ?",
            [*args, limit if limit is not None else -1],
        ).fetchall()
        out = []
        for row in reversed(rows):
            scores = self.conn.execute("SELECT domain, score FROM domain_scores WHERE run_seq = ? ORDER BY domain", (row[0],))
            domains = dict(scores.fetchall())
            seq, run, mesh, *rest = row
            out.append(StoredRun(seq, run, self._path(mesh), *rest, domains=domains))
        return out

    def meshes(self) -> dict[str, int]:
        """The paths of the meshes with stored audits, and how many each."""
        found: dict[str, int] = {}
        for mesh, n in self.conn.execute("SELECT mesh, count(*) FROM runs GROUP BY mesh"):
            path = self._path(mesh)  # (runs of one mesh may be under its two keys)
            found[path] = found.get(path, 0) + n
        return dict(sorted(found.items()))

    def _path(self, mesh: str) -> str:
        """The path of a mesh as a run is stored under it (:func:`mesh_key`)."""
        return mesh if os.path.isabs(mesh) else os.path.normpath(os.path.join(os.path.abspath(self.path.parent), mesh))

    def trend(self, mesh: MeshKey, report: Report, limit: int = TREND) -> list[TrendPoint]:
        """The stored audits of the mesh and then this one, for the report's trend."""
        points = [
            TrendPoint(run=r.id, started_at=r.started_at, now=r.now, score=r.score, open=r.open, domains=r.domains)
            for r in self.runs(mesh, limit - 1, report.run.now)
        ]
        points.append(
            TrendPoint(
                run=report.run.id,
                started_at=report.run.started_at,
                now=report.run.now,
                score=report.summary.score,
                open=report.summary.findings.open,
                domains={name: d.score for name, d in report.domains.items()},
            )
        )
        return points

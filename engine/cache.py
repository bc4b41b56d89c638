"""A cache of what govern derives from files, kept in the user's cache folder.

Entries are JSON, addressed by a digest of everything they were derived from (file names as shown
and file contents, govern's own source code, and the installed files of the libraries that read
them), so an entry can never be stale, not even across an upgrade or a change to govern's code, and
is shared by every clone of a repository on the machine. It lives outside the repository on purpose:
an entry committed to a repository would be trusted, and could hide findings.

The folder is ``$GOVERN_CACHE_DIR``, else ``$XDG_CACHE_HOME/govern``, else ``~/.cache/govern``;
``GOVERN_CACHE_DIR=off`` turns the cache off. Entries are rows of one SQLite database there,
``cache-<schema>.db`` (write-ahead log, so readers never wait for a writer and an audit's workers
share it; named after its tables' layout, so versions of govern that lay them out differently each
keep their own instead of replacing each other's);
each process writes what it stores :data:`BATCH` entries at a time, in one transaction (creating a
file per entry cost 0.3-0.6 ms of CPU each, a row costs a few microseconds). A missing, unreadable
or damaged entry is derived again, a damaged database is replaced, and a folder that cannot be
written is simply not used: the cache only ever saves time.

Every row carries the day it was last used (stored, or read: a read older than :data:`TOUCH_DAYS`
writes the day again, so a nightly audit rewrites each row at most once a week). An audit ends by
deleting the rows no run has used for :data:`KEEP_DAYS` days (:func:`prune`, at most once a day):
the entries of files since edited, of policies since changed and of earlier versions of govern or
its libraries, which no key will ever name again. The database returns the space they took to the
file system (incremental vacuum), and the databases of other layouts no govern has written to for
as long are deleted.
"""

from __future__ import annotations

import atexit
import functools
import hashlib
import importlib.util
import json
import os
import sqlite3
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

from engine import __version__

FORMAT = 2  # bump when what an entry holds changes shape
SCHEMA = 3  # the database's tables (PRAGMA user_version, and the file's name: see _open, _forget_others)
DATABASE = f"cache-{SCHEMA}.db"
BATCH = 64  # entries written in one transaction
T = TypeVar("T")
KEEP_DAYS = 30  # an entry no run has used for this many days is deleted by prune()
TOUCH_DAYS = 7  # a read writes the day again when the entry's day is older than this


def today() -> int:
    """Days since 1970-01-01 (UTC): an entry's ``used``."""
    return int(time.time() // 86400)


def folder() -> Path | None:
    """Where entries go, or None when the cache is off."""
    configured = os.environ.get("GOVERN_CACHE_DIR")
    if configured is not None:
        return None if configured.strip().lower() in ("", "off") else Path(configured)
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "govern"


# The libraries whose results entries hold: their installed files are part of every key.
LIBRARIES = ("pydantic", "pydantic_core", "yaml", "_yaml", "open_data_contract_standard", "jsonschema_rs", "regorus")


@functools.cache
def _environment() -> str:
    """A digest of govern's source files and of where and when the libraries were installed
    (computed once per process, in about a millisecond, without importing anything)."""
    digest = hashlib.blake2b(digest_size=20)
    digest.update(f"govern {__version__} cache {FORMAT}".encode())
    package = Path(__file__).resolve().parent
    for path in sorted(package.rglob("*.py")):
        digest.update(path.relative_to(package).as_posix().encode() + b"\0" + path.read_bytes())
    for name in LIBRARIES:
        spec = importlib.util.find_spec(name)
        origin = spec.origin if spec is not None else None
        if origin and os.path.exists(origin):
            stat = os.stat(origin)
            digest.update(f"{name} {origin} {stat.st_size} {stat.st_mtime_ns}".encode())
    return digest.hexdigest()


def key(*parts: str | bytes) -> str:
    """A digest of ``parts`` (each length-prefixed, so no two sequences collide) and of govern's
    code and libraries."""
    return keyer(*parts)()


def keyer(*prefix: str | bytes) -> Callable[..., str]:
    """``key`` of ``prefix`` followed by the arguments it is called with, the prefix hashed once."""
    digest = hashlib.blake2b(digest_size=20)
    _update(digest, (_environment(), *prefix))

    def key_of(*parts: str | bytes) -> str:
        copy = digest.copy()
        _update(copy, parts)
        return copy.hexdigest()

    return key_of


def _update(digest: Any, parts: tuple[str | bytes, ...]) -> None:
    for part in parts:
        data = part.encode() if isinstance(part, str) else part
        digest.update(len(data).to_bytes(8, "little"))
        digest.update(data)


class _Store:
    """This process's connection to ``<folder>/cache-<schema>.db`` and the entries it has yet to write."""

    def __init__(self, base: Path, connection: sqlite3.Connection):
        self.base = base
        self.connection = connection
        self.pending: dict[tuple[str, str], str] = {}
        self.touched: set[tuple[str, str]] = set()  # read entries whose day is to be written again
        self.lock = threading.Lock()  # a check's feeder thread reads while the main thread writes


_store: _Store | None = None  # this process's: a forked child starts without one (_after_fork)
_inherited: list[_Store] = []  # a parent's stores: never used, closed or freed after a fork
_off: set[Path] = set()  # folders found unusable
_opening = threading.Lock()


def _current() -> _Store | None:
    """This process's store for the configured folder, opened on first use; None when the cache is
    off or its database cannot be opened."""
    global _store
    base = folder()
    if base is None:
        return None
    store = _store
    if store is not None and store.base == base:
        return store
    with _opening:  # a check's feeder thread and its main thread may both get here first
        if _store is not None:
            if _store.base == base:
                return _store
            _close(_store)  # the folder was changed (GOVERN_CACHE_DIR, in tests)
            _store = None
        if base in _off:
            return None
        connection = _open(base)
        if connection is None:
            _off.add(base)
            return None
        _store = _Store(base, connection)
    if "multiprocessing.util" in sys.modules:  # a pool's worker exits without running atexit
        sys.modules["multiprocessing.util"].Finalize(None, flush, exitpriority=10)
    return _store


def _after_fork() -> None:
    """In a forked child: the parent's connection and locks are the parent's."""
    global _store, _opening
    _opening = threading.Lock()
    if _store is not None:
        _inherited.append(_store)
        _store = None


os.register_at_fork(after_in_child=_after_fork)


def _open(base: Path) -> sqlite3.Connection | None:
    """The database, created if need be; a damaged one, or one whose tables are not of
    :data:`SCHEMA` although its name says so, is replaced (it only ever saved time)."""
    path = base / DATABASE
    for attempt in range(2):
        try:
            base.mkdir(parents=True, exist_ok=True)
            connection = sqlite3.connect(path, timeout=30, isolation_level=None, check_same_thread=False)
        except (OSError, sqlite3.Error):
            return None
        try:
            connection.execute("PRAGMA auto_vacuum=INCREMENTAL")  # takes effect only in a new, empty file
            connection.execute("PRAGMA journal_mode=WAL")
            connection.execute("PRAGMA synchronous=NORMAL")
            if _ready(connection):
                return connection
            connection.close()
            replace = attempt == 0
        except sqlite3.DatabaseError as e:
            connection.close()
            replace = not attempt and not isinstance(e, sqlite3.OperationalError)  # locked, read-only, full: leave it
        if not replace:
            return None
        try:
            for file in _files(path):
                file.unlink(missing_ok=True)
        except OSError:
            return None
    return None


def _files(database: Path) -> list[Path]:
    """A database's file and those SQLite keeps beside it (write-ahead log, shared memory)."""
    return [database, database.with_name(f"{database.name}-wal"), database.with_name(f"{database.name}-shm")]


def _ready(connection: sqlite3.Connection) -> bool:
    """Create the tables of a new database; False for one of another schema."""
    if connection.execute("PRAGMA user_version").fetchone()[0] == SCHEMA:
        return True
    connection.execute("BEGIN IMMEDIATE")  # then look again: another process may have just created it
    try:
        version = connection.execute("PRAGMA user_version").fetchone()[0]
        if version != SCHEMA:
            if connection.execute("SELECT count(*) FROM sqlite_master").fetchone()[0]:
                return False
            # A rowid table and an index of the keys: entries are kilobytes, and in a table without
            # rowid (a key's b-tree holding whole rows, spilling into overflow pages) a lookup took
            # four times as long (50 against 12 us in a 300 MB cache) and a write three times.
            connection.execute(
                "CREATE TABLE entries (kind TEXT NOT NULL, key TEXT NOT NULL, value BLOB NOT NULL,"
                " used INTEGER NOT NULL, UNIQUE (kind, key))"
            )
            connection.execute("CREATE INDEX entries_used ON entries (used)")
            connection.execute("CREATE TABLE meta (name TEXT PRIMARY KEY, value INTEGER NOT NULL)")
            connection.execute(f"PRAGMA user_version = {SCHEMA}")
        connection.execute("COMMIT")
        return True
    finally:
        if connection.in_transaction:
            connection.execute("ROLLBACK")


def _close(store: _Store) -> None:
    _write(store)
    store.connection.close()


def get(kind: str, digest: str) -> Any | None:
    """The entry stored under ``digest``, or None."""
    text = get_text(kind, digest)
    if text is None:
        return None
    try:
        return json.loads(text)
    except ValueError:
        return None


def get_text(kind: str, digest: str) -> str | bytes | None:
    """The JSON text of the entry stored under ``digest``, or None (for a reader that parses and
    validates JSON at once: pydantic's ``model_validate_json``)."""
    store = _current()
    if store is None:
        return None
    text = store.pending.get((kind, digest))
    if text is None:
        try:
            with store.lock:
                row = store.connection.execute(
                    "SELECT value, used FROM entries WHERE kind = ? AND key = ?", (kind, digest)
                ).fetchone()
        except sqlite3.Error:
            return None
        if row is None:
            return None
        text, used = row
        if used < today() - TOUCH_DAYS:
            with store.lock:
                store.touched.add((kind, digest))
                full = len(store.pending) + len(store.touched) >= BATCH
            if full:
                _write(store)
    return text


def put(kind: str, digest: str, value: Any) -> None:
    """Store ``value`` under ``digest`` (written with others, :data:`BATCH` at a time, and by
    :func:`flush`). A value that is not JSON is not stored."""
    if _current() is None:
        return
    try:
        text = json.dumps(value, separators=(",", ":"))
    except (TypeError, ValueError):
        return
    put_text(kind, digest, text)


def put_text(kind: str, digest: str, text: str) -> None:
    """Store ``text``, a JSON document the caller has serialized, under ``digest`` (as :func:`put`)."""
    store = _current()
    if store is None:
        return
    with store.lock:
        store.pending[(kind, digest)] = text
        full = len(store.pending) >= BATCH
    if full:
        _write(store)


def flush() -> None:
    """Write the entries this process has stored since the last write (at the end of a batch of
    work, and at exit)."""
    store = _store
    if store is not None:
        _write(store)


atexit.register(flush)  # govern's own command exits without running it: see engine/cli.py run


def release() -> None:
    """Write pending entries and close this process's connection (before forking workers: a
    connection must not cross a fork). The next use opens it again."""
    global _store
    store = _store
    if store is not None:
        _close(store)
        _store = None


def _write(store: _Store) -> None:
    """One transaction for all pending entries; entries that cannot be written are dropped."""
    with store.lock:
        day = today()
        items = [(kind, digest, text, day) for (kind, digest), text in store.pending.items()]
        touched = [(day, kind, digest) for kind, digest in store.touched]
        store.pending.clear()
        store.touched.clear()
        if not items and not touched:
            return
        connection = store.connection

        def write() -> None:
            connection.executemany("INSERT OR REPLACE INTO entries VALUES (?, ?, ?, ?)", items)
            connection.executemany("UPDATE entries SET used = ? WHERE kind = ? AND key = ?", touched)

        _transaction(connection, write)


def _transaction(connection: sqlite3.Connection, work: Callable[[], T]) -> T | None:
    """``work()`` in one write transaction; None, and nothing written, when SQLite fails."""
    try:
        connection.execute("BEGIN IMMEDIATE")
        result = work()
        connection.execute("COMMIT")
        return result
    except sqlite3.Error:
        try:
            if connection.in_transaction:
                connection.execute("ROLLBACK")
        except sqlite3.Error:
            pass
        return None


def prune() -> int:
    """Delete the entries no run has used for :data:`KEEP_DAYS` days, once a day (an audit calls
    it when it ends), and give the space they took back; the number deleted. The databases of other
    schemas that no process has written to for as long go too."""
    store = _current()
    if store is None:
        return 0
    _write(store)
    day = today()
    connection = store.connection

    def delete() -> int | None:
        row = connection.execute("SELECT value FROM meta WHERE name = 'pruned'").fetchone()
        if row is not None and row[0] >= day:
            return None
        deleted = connection.execute("DELETE FROM entries WHERE used < ?", (day - KEEP_DAYS,)).rowcount
        connection.execute("INSERT OR REPLACE INTO meta VALUES ('pruned', ?)", (day,))
        return deleted

    with store.lock:
        deleted = _transaction(connection, delete)
        if deleted:
            try:  # moves the free pages to the end of the file and cuts them off (a step per page:
                # executescript runs it to the end), then writes the log back into the file
                connection.executescript("PRAGMA incremental_vacuum; PRAGMA wal_checkpoint(PASSIVE);")
            except sqlite3.Error:
                pass
    if deleted is not None:  # pruned now: not earlier today, and SQLite did not fail
        _forget_others(store.base, day)
    return deleted or 0


def _forget_others(base: Path, day: int) -> None:
    """Delete the databases of other schemas (other versions of govern) whose files were last
    written more than :data:`KEEP_DAYS` days ago."""
    for database in base.glob("cache*.db"):
        if database.name == DATABASE:
            continue
        files = _files(database)
        try:
            written = max(f.stat().st_mtime for f in files if f.exists())
            if written // 86400 < day - KEEP_DAYS:
                for f in files:
                    f.unlink(missing_ok=True)
        except (OSError, ValueError):
            continue

"""A cache of what govern derives from files, kept in the user's cache folder.

Entries are JSON, addressed by a digest of everything they were derived from (file names as shown
and file contents, govern's own source code, and the installed files of the libraries that read
them), so an entry can never be stale, not even across an upgrade or a change to govern's code, and
is shared by every clone of a repository on the machine. It lives outside the repository on purpose:
an entry committed to a repository would be trusted, and could hide findings.

The folder is ``$GOVERN_CACHE_DIR``, else ``$XDG_CACHE_HOME/govern``, else ``~/.cache/govern``;
``GOVERN_CACHE_DIR=off`` turns the cache off. A missing, unreadable or damaged entry is derived
again, and a folder that cannot be written is simply not used: the cache only ever saves time.
"""

from __future__ import annotations

import functools
import hashlib
import importlib.util
import json
import os
from pathlib import Path
from typing import Any

from engine import __version__

FORMAT = 1  # bump when what an entry holds changes shape


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
    digest = hashlib.blake2b(digest_size=20)
    for part in (_environment(), *parts):
        data = part.encode() if isinstance(part, str) else part
        digest.update(len(data).to_bytes(8, "little"))
        digest.update(data)
    return digest.hexdigest()


def _path(kind: str, digest: str) -> Path | None:
    """``<folder>/<kind>/<first two digits>/<digest>.json``: the workers of an audit write thousands of
    entries at once, and in one folder each creation would wait for the folder's lock."""
    base = folder()
    return None if base is None else base / kind / digest[:2] / f"{digest}.json"


def get(kind: str, digest: str) -> Any | None:
    """The entry stored under ``digest``, or None."""
    path = _path(kind, digest)
    if path is None:
        return None
    try:
        return json.loads(path.read_bytes())
    except (OSError, ValueError):
        return None


def put(kind: str, digest: str, value: Any) -> None:
    """Store ``value`` under ``digest``."""
    path = _path(kind, digest)
    if path is not None:
        save_json(path, value)


def save_json(path: Path, value: Any) -> None:
    """Write ``value`` to ``path`` as JSON, atomically (a temporary file renamed into place, so no
    reader sees half of it), creating its folder. A path that cannot be written, or a value that
    is not JSON, is not saved: what is saved here only ever saves time."""
    try:
        text = json.dumps(value, separators=(",", ":"))  # at once: json.dump to a file encodes in Python
        temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
        try:
            temporary.write_text(text, encoding="utf-8")
        except FileNotFoundError:
            path.parent.mkdir(parents=True, exist_ok=True)
            temporary.write_text(text, encoding="utf-8")
        try:
            os.replace(temporary, path)
        except OSError:
            temporary.unlink(missing_ok=True)
            raise
    except (OSError, TypeError, ValueError):
        pass

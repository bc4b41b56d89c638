"""A cache of what govern derives from files, kept in the user's cache folder.

Entries are JSON, addressed by a digest of everything they were derived from (file names as shown
and file contents, govern's and the Rego engine's versions), so an entry can never be stale and is
shared by every clone of a repository on the machine. It lives outside the repository on purpose:
an entry committed to a repository would be trusted, and could hide findings.

The folder is ``$GOVERN_CACHE_DIR``, else ``$XDG_CACHE_HOME/govern``, else ``~/.cache/govern``;
``GOVERN_CACHE_DIR=off`` turns the cache off. A missing, unreadable or damaged entry is derived
again, and a folder that cannot be written is simply not used: the cache only ever saves time.
"""

from __future__ import annotations

import hashlib
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


def key(*parts: str | bytes) -> str:
    """A digest of ``parts`` (each length-prefixed, so no two sequences collide) and the versions."""
    digest = hashlib.blake2b(digest_size=20)
    for part in (f"govern {__version__} cache {FORMAT}", *parts):
        data = part.encode() if isinstance(part, str) else part
        digest.update(len(data).to_bytes(8, "little"))
        digest.update(data)
    return digest.hexdigest()


def _path(kind: str, digest: str) -> Path | None:
    base = folder()
    return None if base is None else base / kind / f"{digest}.json"


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
    """Store ``value`` under ``digest`` (written to a temporary file, then renamed into place)."""
    path = _path(kind, digest)
    if path is None:
        return
    try:
        text = json.dumps(value, separators=(",", ":"))  # at once: json.dump to a file encodes in Python
        temporary = path.with_name(f".{path.stem}.{os.getpid()}.tmp")
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
    except (OSError, TypeError, ValueError):  # cannot be written, or not JSON: not cached
        pass

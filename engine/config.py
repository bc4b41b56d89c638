"""Where things are: ``govern.toml`` (or ``[tool.govern]`` in pyproject.toml) found by walking up.

Paths in the file are relative to the file. Command-line options win over the file; without a
file, ``policies/`` and ``governance/`` in the current directory are used.
"""

from __future__ import annotations

import errno
import os
import re
import stat
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from engine.errors import ConfigError, GovernError, UsageError

RULE_TIME_LIMIT = 30.0  # seconds, by default (engine/backends/sidecar.py)


@dataclass(frozen=True)
class Settings:
    root: Path
    policies: Path
    governance: Path
    mesh: Path | None
    source: Path | None
    policy_tests: Path  # Rego unit tests of the policies (govern test, govern validate)
    lineage_map: Path | None = None  # dataset name patterns -> products, for imported lineage
    coverage_threshold: float | None = None  # govern test --coverage fails below this percentage
    rule_time_limit: float = RULE_TIME_LIMIT  # seconds a rule may run on one product, or a Rego test (0: no limit)


def _read(path: Path) -> dict | None:
    try:
        with path.open("rb") as f:
            data = tomllib.load(f)
    except tomllib.TOMLDecodeError as e:
        raise ConfigError(f"invalid TOML: {e}", path) from None
    except UnicodeDecodeError as e:
        raise ConfigError(f"invalid TOML: not valid UTF-8 (byte 0x{e.object[e.start]:02x} at offset {e.start})", path) from None
    except OSError as e:
        raise ConfigError(f"cannot read: {e.strerror}", path) from None
    if path.name == "pyproject.toml":
        tool = data.get("tool")
        section = tool.get("govern") if isinstance(tool, dict) else None  # (another tool's business otherwise)
        if section is not None and not isinstance(section, dict):
            raise ConfigError(f"[tool.govern] must be a table, not {type(section).__name__}", path)
        data = section
    unknown = [key for key in data or {} if key not in KEYS]
    if unknown:  # (a misspelt key would silently do nothing: polices = "rules")
        line = _line_of_key(path, unknown[0], "[tool.govern]" if path.name == "pyproject.toml" else None)
        raise ConfigError(f"unknown key {unknown[0]!r} (known: {', '.join(KEYS)})", display(path), line)
    return data


KEYS = ("policies", "governance", "mesh", "policy_tests", "lineage_map", "coverage_threshold", "rule_time_limit")


def _line_of_key(path: Path, key: str, section: str | None) -> int | None:
    """The line assigning ``key`` (below ``section``'s header when given), if it can be found."""
    # (an assignment, or in govern.toml a table of that name: [tool])
    assigns = re.compile(rf'^\s*(?:["\']?{re.escape(key)}["\']?\s*=|\[\s*["\']?{re.escape(key)}["\']?\s*[\].])')
    inside = section is None
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if section is not None and line.strip().startswith("["):
            inside = line.strip() == section
        elif inside and assigns.match(line):
            return number
    return None


def find_config(start: Path) -> tuple[Path, dict] | None:
    """The nearest govern.toml, or pyproject.toml with [tool.govern], at or above ``start``."""
    for folder in [start, *start.parents]:
        for name in ("govern.toml", "pyproject.toml"):
            candidate = folder / name
            if candidate.is_file():
                data = _read(candidate)
                if data is not None:
                    return candidate, data
    return None


def missing_folder(what: str, path: Path, option: str) -> GovernError:
    """The error for a default folder (``policies``, ``governance``) that is not there: outside any
    project (no govern.toml here or above) a usage error that says so, else the project's own."""
    if find_config(Path.cwd().resolve()) is None:
        return UsageError(
            f"{what} {display(path)} does not exist, and no govern.toml was found in this folder or above it:"
            f" run govern in a project (see govern generate), or set {option}"
        )
    return ConfigError(f"{what} {display(path)} does not exist (set {option})")


def load_settings(
    policies: str | None = None,
    governance: str | None = None,
    mesh: str | Path | None = None,
    start: Path | None = None,
    lineage_map: str | Path | None = None,
) -> Settings:
    """The settings of the nearest govern.toml, each replaced by the command's option when given
    (the key is then not looked at)."""
    found = find_config((start or Path.cwd()).resolve())
    if found:
        source, data = found
        root = source.parent
    else:
        source, data, root = None, {}, Path.cwd()

    def at(key: str) -> int | None:
        """The line of govern.toml (or pyproject.toml) that sets ``key``."""
        return _line_of_key(source, key, "[tool.govern]" if source.name == "pyproject.toml" else None) if source else None

    def pick(option: str | Path | None, key: str, default: str | None, kind: str | None = "folder") -> Path | None:
        if option is not None:
            return Path(option)
        if key not in data:
            return None if default is None else root / default
        value = data[key]
        if not isinstance(value, str) or not value.strip():  # ("" would be the settings file's own folder)
            raise ConfigError(f"'{key}' must be a path string", source and display(source), at(key))
        path = root / value
        # (a misspelt folder would otherwise be taken for an empty one: a check of a product without
        # its mesh reports its upstreams as missing, CON-007)
        if kind and not (path.is_dir() if kind == "folder" else path.is_file()):
            raise ConfigError(f"'{key}' names {display(path)}, which is not a {kind}", source and display(source), at(key))
        return path

    def number(key: str, within: tuple[float, float], what: str, default: float | None = None) -> Any:
        """A number of the file from ``within`` (``what`` says so when it is not)."""
        if key not in data:
            return default
        value = data[key]
        if isinstance(value, bool) or not isinstance(value, int | float) or not within[0] <= value <= within[1]:
            raise ConfigError(f"'{key}' must be {what}, not {value!r}", source and display(source), at(key))
        return float(value)

    return Settings(
        root=root,
        policies=pick(policies, "policies", "policies"),  # type: ignore[arg-type]
        governance=pick(governance, "governance", "governance"),  # type: ignore[arg-type]
        mesh=pick(mesh, "mesh", None),
        source=source,
        lineage_map=pick(lineage_map, "lineage_map", None, "file"),
        # (a missing test folder is validate's and test's to say, in their words)
        policy_tests=pick(None, "policy_tests", "policy_tests", None),  # type: ignore[arg-type]
        coverage_threshold=number("coverage_threshold", (0, 100), "a number from 0 to 100"),
        rule_time_limit=number("rule_time_limit", (0, 86400), "a number of seconds from 0 (no limit) to 86400", RULE_TIME_LIMIT),
    )


class TooLarge(Exception):
    """A file larger than its reader's limit (:func:`read_regular`); ``size`` is in bytes."""

    def __init__(self, size: int):
        super().__init__(size)
        self.size = size


def read_regular(path: Path, limit: int | None = None) -> bytes:
    """The bytes of a regular file. Anything else found under a file's name is an OSError: a named
    pipe (which would block the run until something wrote to it), a device, a socket, a folder. A
    file of more than ``limit`` bytes is :class:`TooLarge`, found from the opened file, so it is never
    read whole (not even when it grows while it is read)."""
    fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC)  # (a pipe opens without a writer)
    with open(fd, "rb") as file:
        status = os.fstat(fd)
        if stat.S_ISDIR(status.st_mode):
            raise IsADirectoryError(errno.EISDIR, os.strerror(errno.EISDIR), str(path))
        if not stat.S_ISREG(status.st_mode):
            raise OSError(errno.EINVAL, "not a regular file (a named pipe, a device or a socket)", str(path))
        if limit is None:
            return file.read()
        if status.st_size > limit:
            raise TooLarge(status.st_size)
        data = file.read(limit + 1)
        if len(data) > limit:
            raise TooLarge(max(os.fstat(fd).st_size, len(data)))
        return data


def escaped(path: str | Path) -> str | None:
    """The path with its bytes escaped (``caf\\xe9``) when a name in it is not UTF-8, else None.
    Linux names may hold any bytes; Python keeps those that are not UTF-8 as lone surrogates, which
    no report, JSON document, SQLite text or digest can encode."""
    text = os.fspath(path)
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return os.fsencode(text).decode("utf-8", "backslashreplace")
    return None


def display(path: Path) -> str:
    """A path as users should see it: relative to the current directory when below it."""
    try:
        rel = os.path.relpath(path)
    except ValueError:
        return str(path)
    return str(path) if rel.startswith("..") else rel

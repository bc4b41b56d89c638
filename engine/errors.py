"""User-facing errors: each names what went wrong and where, and maps to an exit code."""

from __future__ import annotations

import errno
import functools
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

from engine.entry import EXIT_INTERRUPTED as EXIT_INTERRUPTED  # (130: Ctrl-C or SIGTERM, handled there)

EXIT_OK = 0
EXIT_FINDINGS = 1
EXIT_USAGE = 2
EXIT_ERROR = 3


class GovernError(Exception):
    """An error the user can cause and fix; the CLI prints it without a traceback."""

    exit_code = EXIT_ERROR

    def __init__(self, message: str, file: str | Path | None = None, line: int | None = None, details: tuple[str, ...] = ()):
        super().__init__(message)
        self.message = message
        self.file = str(file) if file is not None else None
        self.line = line
        self.details = details  # lines that follow the message, each indented (the problems it sums up)

    def __reduce__(self) -> tuple[type, tuple[str, str | None, int | None, tuple[str, ...]]]:
        # (an exception pickles as its class called with its message alone: the file and line
        # would be lost on the way from a worker process)
        return type(self), (self.message, self.file, self.line, self.details)

    @property
    def where(self) -> str:
        if self.file is None:
            return ""
        return f"{self.file}:{self.line}" if self.line else self.file

    @property
    def headline(self) -> str:
        """The message with where it applies, without its details."""
        return f"{self.where}: {self.message}" if self.file else self.message

    def __str__(self) -> str:
        return "\n".join([self.headline, *(f"  {detail}" for detail in self.details)])


class LoadError(GovernError):
    """A file could not be read, parsed or understood."""


class ConfigError(GovernError):
    """The governance configuration or the policy library is invalid."""


def by_place(error: GovernError) -> tuple[bool, str, int]:
    """A key that sorts problems file by file, in the order of their lines (those of no file last)."""
    return (error.file is None, error.file or "", error.line or 0)


class ConfigErrors(ConfigError):
    """Several problems of one configuration file, found at once: the first is the error, the
    others its details; ``problems`` has each (``govern validate`` lists them one by one)."""

    def __init__(self, problems: list[ConfigError]):
        first = problems[0]
        super().__init__(first.message, first.file, first.line, tuple(p.headline for p in problems[1:]))
        self.problems = problems

    def __reduce__(self) -> tuple[type, tuple[list[ConfigError]]]:  # type: ignore[override]
        return type(self), (self.problems,)


class UsageError(GovernError):
    """The command line asks for something impossible."""

    exit_code = EXIT_USAGE


def reason(e: BaseException) -> str:
    """Why a file could not be read, in the same words on every Python: an OSError's description
    without its number and path (which the message names already), a loop of links as the system
    names it (Python 3.11's Path.resolve raises RuntimeError for one, 3.13 an OSError)."""
    if isinstance(e, RuntimeError):
        return os.strerror(errno.ELOOP)
    if isinstance(e, OSError) and e.strerror:
        return e.strerror
    return str(e)


F = TypeVar("F", bound=Callable[..., Any])


Catch = tuple[type[BaseException], ...]


def raising(catch: Catch | Callable[[], Catch], error: Callable[[Any, BaseException], GovernError]) -> Callable[[F], F]:
    """A decorator of methods: an exception of ``catch`` (or of what it returns when called, for
    exception classes known only at run time) comes out as ``error(self, exception)``, a
    GovernError that names the file (a database found damaged while it is queried, say)."""

    def decorate(method: F) -> F:
        @functools.wraps(method)
        def translated(self: Any, *args: Any, **kwargs: Any) -> Any:
            caught: Catch = catch() if callable(catch) else catch
            try:
                return method(self, *args, **kwargs)
            except caught as e:
                raise error(self, e) from None

        return translated  # type: ignore[return-value]

    return decorate

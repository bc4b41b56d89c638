"""User-facing errors: each names what went wrong and where, and maps to an exit code."""

from __future__ import annotations

from pathlib import Path

EXIT_OK = 0
EXIT_FINDINGS = 1
EXIT_USAGE = 2
EXIT_ERROR = 3
EXIT_INTERRUPTED = 130  # Ctrl-C or SIGTERM: 128 + SIGINT, as shells report it


class GovernError(Exception):
    """An error the user can cause and fix; the CLI prints it without a traceback."""

    exit_code = EXIT_ERROR

    def __init__(self, message: str, file: str | Path | None = None, line: int | None = None):
        super().__init__(message)
        self.message = message
        self.file = str(file) if file is not None else None
        self.line = line

    @property
    def where(self) -> str:
        if self.file is None:
            return ""
        return f"{self.file}:{self.line}" if self.line else self.file

    def __str__(self) -> str:
        return f"{self.where}: {self.message}" if self.file else self.message


class LoadError(GovernError):
    """A file could not be read, parsed or understood."""


class ConfigError(GovernError):
    """The governance configuration or the policy library is invalid."""


class UsageError(GovernError):
    """The command line asks for something impossible."""

    exit_code = EXIT_USAGE

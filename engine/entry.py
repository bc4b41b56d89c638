"""The ``govern`` command from its first moment: what Ctrl-C and SIGTERM do.

A run is interrupted by the first signal (a ``KeyboardInterrupt``, so that workers are stopped,
files closed and partial reports removed on the way out) and ends with one line, "interrupted",
and exit 130; a second signal, while that is under way, ends the process at once, the same way.
Never a traceback: the handler is set here, before govern's modules are imported (a quarter of a
second on a slow machine, just when a Ctrl-C is most likely: a command typed wrong), so this
module imports nothing of govern's.
"""

from __future__ import annotations

import os
import signal
from collections.abc import Callable

# (no typing: each module imported before the handler is set widens the moment a Ctrl-C is a traceback)

EXIT_INTERRUPTED = 130  # Ctrl-C or SIGTERM: 128 + SIGINT, as shells report it

_signalled = False  # a signal has interrupted the run
_saying = False  # the run is saying it was interrupted
_reported = False  # the run has said it was interrupted


def install() -> None:
    """Ctrl-C and SIGTERM as above (Ctrl-C left alone where it is ignored: a command started in the
    background by a shell without job control)."""
    if signal.getsignal(signal.SIGINT) is not signal.SIG_IGN:
        signal.signal(signal.SIGINT, _interrupt)
    signal.signal(signal.SIGTERM, _interrupt)


def _interrupt(signum: int, frame: object) -> None:
    global _signalled
    if _saying:  # (it ends as soon as it has said so)
        return
    if _signalled:
        leave()
    _signalled = True
    raise KeyboardInterrupt


def say(write: Callable[[], object]) -> None:
    """Say how the run was interrupted, with ``write``; :func:`leave` then says nothing more. A
    signal meanwhile is not acted on: it would say it a second time, or end the run unsaid."""
    global _saying, _reported
    _saying = True
    try:
        write()
        _reported = True
    finally:
        _saying = False


def leave() -> None:
    """End the process now, saying "interrupted" unless the run already said so (written to the
    descriptor itself: this may run in a signal handler, while ``sys.stderr`` is being written)."""
    if not _reported:
        try:
            os.write(2, b"interrupted\n")
        except OSError:  # (standard error closed)
            pass
    os._exit(EXIT_INTERRUPTED)


def run() -> None:
    """The ``govern`` command (engine.cli.run), interruptible from its first import."""
    install()
    try:
        from engine.cli import run as command
    except KeyboardInterrupt:
        leave()
        return
    command()

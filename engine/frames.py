"""Child processes govern forks to run what may crash or stall (the Rego parser,
engine/policy/isolated.py; rule evaluation, engine/backends/sidecar.py), and the messages between
them.

A message is a frame, its kind (one byte) and a number (often the length of a payload that
follows), written whole to a pipe. The reader waits for each read only as long as the caller's
``wait`` allows: a child that stalls or dies is told apart from one that answers.
"""

from __future__ import annotations

import contextlib
import faulthandler
import functools
import os
import select
import signal
import struct
import time
import warnings
from collections.abc import Callable
from typing import Any

FRAME = struct.Struct("!cI")

Wait = Callable[[], float]  # seconds still to wait for the child, asked again each time it runs out


def frame(kind: bytes, number: int, payload: bytes = b"") -> bytes:
    return FRAME.pack(kind, number) + payload


def send(fd: int, data: bytes, wait: Wait | None = None) -> bool:
    """Write ``data`` whole to ``fd``; with ``wait``, to a non-blocking ``fd`` for no longer than
    it allows: False when it runs out first (a child stopped before it has read a message larger
    than the pipe holds would otherwise be waited for for ever)."""
    view = memoryview(data)
    poll = None
    while view:
        try:
            view = view[os.write(fd, view) :]
            continue
        except BlockingIOError:  # (only when non-blocking: the pipe is full)
            if wait is None:
                raise
        if poll is None:
            poll = select.poll()
            poll.register(fd, select.POLLOUT)
        left = wait()
        if (left <= 0 or not poll.poll(left * 1000)) and wait() <= 0:
            return False
    return True


def within(seconds: float) -> Wait:
    """A :data:`Wait` of ``seconds`` from now."""
    deadline = time.monotonic() + seconds
    return lambda: deadline - time.monotonic()


class Reader:
    """Frames from a child's pipe."""

    def __init__(self, fd: int):
        self.fd = fd
        self.buffer = bytearray()
        self.timed_out = False
        self.poll = select.poll()  # (not select.select: it cannot wait on a descriptor numbered 1024 or more)
        self.poll.register(fd, select.POLLIN)

    def exactly(self, size: int, wait: Wait | None) -> bytes | None:
        """The next ``size`` bytes; None when the child is gone, or when ``wait`` (None: for ever)
        runs out first."""
        while len(self.buffer) < size:
            if wait is not None:
                left = wait()
                if left <= 0 or not self.poll.poll(left * 1000):
                    if wait() <= 0:
                        self.timed_out = True
                        return None
                    continue  # (woken early, or the time to wait was extended meanwhile)
            chunk = os.read(self.fd, max(size - len(self.buffer), 1 << 16))
            if not chunk:
                return None
            self.buffer += chunk
        data = bytes(self.buffer[:size])
        del self.buffer[:size]
        return data

    def frame(self, wait: Wait | None) -> tuple[bytes, int] | None:
        head = self.exactly(FRAME.size, wait)
        return None if head is None else FRAME.unpack(head)

    def message(self, wait: Wait | None) -> tuple[bytes, bytes] | None:
        """The next frame whose number is the length of its payload: its kind and its payload."""
        head = self.frame(wait)
        payload = None if head is None else self.exactly(head[1], wait)
        return None if head is None or payload is None else (head[0], payload)


def start_child(run: Callable[[int, int], None]) -> tuple[int, int, int] | None:
    """Fork a child that runs ``run(requests, answers)`` (the read end of a pipe from this process,
    the write end of one to it), then exits: its pid, the write end to it and the read end from it;
    None when no process can be forked (a limit on processes). The child leaves Ctrl-C to this
    process (which stops it), ends with it (Linux), and writes nothing to the terminal: what it has
    to say goes through the pipe (a Rust panic's message, or a fault handler's dump of the crash
    govern is there to survive, would reach the user's terminal)."""
    prctl, parent = find_prctl(), os.getpid()  # (found here: a child of a process with threads must import nothing)
    down_read, down_write = os.pipe()
    up_read, up_write = os.pipe()
    try:
        with warnings.catch_warnings():
            # (Python 3.12 warns of a fork in a process with threads: the child runs none of them)
            warnings.simplefilter("ignore", DeprecationWarning)
            pid = os.fork()
    except OSError:
        for fd in (down_read, down_write, up_read, up_write):
            os.close(fd)
        return None
    if pid == 0:  # the child: never returns
        try:
            os.close(down_write)
            os.close(up_read)
            signal.signal(signal.SIGINT, signal.SIG_IGN)
            signal.signal(signal.SIGTERM, signal.SIG_DFL)
            if prctl is not None:
                prctl(PR_SET_PDEATHSIG, signal.SIGKILL)
            if os.getppid() == parent:  # (else the parent died before the call)
                faulthandler.disable()
                os.dup2(os.open(os.devnull, os.O_WRONLY), 2)
                run(down_read, up_write)
        finally:
            os._exit(0)
    os.close(down_read)
    os.close(up_write)
    return pid, down_write, up_read


def stop_child(pid: int, *fds: int) -> str:
    """Close a child's pipes, kill it and wait for it: how it ended."""
    for fd in fds:
        with contextlib.suppress(OSError):
            os.close(fd)
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signal.SIGKILL)
    _, status = os.waitpid(pid, 0)
    return ended(os.waitstatus_to_exitcode(status))


def ended(code: int) -> str:
    """How a process ended, from its exit code (negative: the signal that killed it)."""
    if code < 0:
        try:
            return f"killed by {signal.Signals(-code).name}"
        except ValueError:
            return f"killed by signal {-code}"
    return f"exit code {code}"


PR_SET_PDEATHSIG = 1  # (linux/prctl.h)


@functools.cache
def find_prctl() -> Any:
    """libc's prctl, or None (not Linux)."""
    import ctypes

    try:
        return ctypes.CDLL(None, use_errno=True).prctl
    except (OSError, AttributeError):
        return None

"""Messages between govern and a child process it forked to run something that may crash or stall
(the Rego parser, engine/policy/isolated.py; rule evaluation, engine/backends/sidecar.py).

A message is a frame, its kind (one byte) and a number (often the length of a payload that
follows), written whole to a pipe. The reader waits for each read only as long as the caller's
``wait`` allows: a child that stalls or dies is told apart from one that answers.
"""

from __future__ import annotations

import os
import select
import struct
import time
from collections.abc import Callable

FRAME = struct.Struct("!cI")

Wait = Callable[[], float]  # seconds still to wait for the child, asked again each time it runs out


def frame(kind: bytes, number: int, payload: bytes = b"") -> bytes:
    return FRAME.pack(kind, number) + payload


def send(fd: int, data: bytes) -> None:
    while data:
        data = data[os.write(fd, data) :]


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

"""Rules evaluated where a runaway one can be stopped.

A domain's rule can run for ever on some products (``some a in numbers.range(1, 100000); some b in
numbers.range(1, 100000)``) or crash the interpreter (a stack overflow kills its process), and
validate cannot tell: the rule's first statement may fail on every input it tries. regorus has no
time limit of its own and holds the GIL while it evaluates, so neither a signal handler nor a
thread can stop it in the process that called it; one such rule would stop every audit.

So an embedded engine evaluates in a child process forked from it once its policies are loaded
(the child inherits the loaded interpreter): the engine sends an input document and the rules to
evaluate through a pipe, and reads each rule's result back. Before each rule the child writes the
rule's number and when it began to a page both processes share, which the engine reads while it
waits. A rule that runs longer than the time limit is stopped: the child is killed, the rule is an
error of that product, and a new child evaluates the product's other rules. The rule is not
evaluated again in this process for the rest of the run (an error of every product it applies
to): a rule that loops on every product costs the limit once per process, not once per product.
A child that dies (a crash, the out-of-memory killer) makes the rule it was on an error of that
product alone.
"""

from __future__ import annotations

import contextlib
import faulthandler
import json
import mmap
import os
import signal
import time
import warnings
from collections.abc import Callable, Sequence
from typing import Any

from engine.backends import RuleError
from engine.frames import Reader, frame, send
from engine.parallel import ended, find_prctl

# The shared page, three numbers: the request of its batch the child is on, the rule it is on (1
# for the request's first; 0 while it reads the document) and when that began (time.monotonic, the
# same clock in every process). Each is stored whole by one aligned 8-byte write through a
# memoryview (struct.pack_into would zero the bytes first, and the engine could read that zero as a
# rule begun long ago).
REQUEST, RULE, BEGAN = 0, 1, 2

MEMORY = 4 << 30  # bytes of memory the child may take beyond what it holds when forked

# What the child runs for each request: (document, packages, the shared page) -> its answer, JSON
# text (engine.backends.embedded.interpret), marking each rule on the page as it begins.
Work = Callable[[str, list[str], memoryview | None], str]
# For each request: the packages the child answered, its answer for them (parsed), an error for each other
Asked = tuple[list[str], Any, dict[str, RuleError]]


class Sidecar:
    """The child process that evaluates for one engine, under a time limit per rule.

    Requests go to the child in batches (a message each way per batch, not per product: on a
    virtual machine a round trip between processes costs a fifth of a millisecond)."""

    def __init__(self, work: Work, limit: float):
        self._work = work  # (its engine loaded before the first evaluate: the child takes it as it is then)
        self.limit = limit
        self._pid = 0
        self._owner = 0  # the process that forked the child (a fork of that process has no child)
        self._to = self._from = -1
        self._reader: Reader | None = None
        self._page = memoryview(mmap.mmap(-1, 24)).cast("d")
        self.stopped: dict[str, str] = {}  # package -> why it is no longer evaluated in this run

    def evaluate_many(self, requests: Sequence[tuple[str, list[str]]]) -> list[Asked] | None:
        """For each request (a document, its packages): what :data:`Asked` says; None when no child
        can be forked (a limit on processes): the caller evaluates."""
        errors = [{p: RuleError(self.stopped[p]) for p in packages if p in self.stopped} for _, packages in requests]
        data = [document.encode() for document, _ in requests]
        while True:
            todo = [[p for p in packages if p not in errors[i]] for i, (_, packages) in enumerate(requests)]
            if any(todo) and not self._running() and not self._fork():
                return None
            answers = self._ask(data, todo) if any(todo) else [[] for _ in todo]
            if isinstance(answers, list):
                return list(zip(todo, answers, errors, strict=True))
            # (stopped or crashed on request i: the batch again, without what stopped it)
            i, package, error = answers
            if package is None:
                errors[i].update(dict.fromkeys(todo[i], error))
                continue
            errors[i][package] = error
            if package in self.stopped:  # (not evaluated for the requests after this one)
                for j in range(i + 1, len(requests)):
                    if package in requests[j][1]:
                        errors[j][package] = RuleError(self.stopped[package])

    def _ask(self, data: list[bytes], todo: list[list[str]]) -> list[Any] | tuple[int, str | None, RuleError]:
        """One batch to the child: each request's answer, or what stopped the child, on which
        request and rule (None: on its document)."""
        assert self._reader is not None
        asked = [i for i, packages in enumerate(todo) if packages]
        message = [frame(b"N", len(asked))]
        for i in asked:
            names = "\n".join(todo[i]).encode()
            message += [frame(b"D", len(data[i]), data[i]), frame(b"P", len(names), names)]
        self._page[REQUEST], self._page[BEGAN], self._page[RULE] = 0, time.monotonic(), 0
        try:
            send(self._to, b"".join(message))
        except OSError:  # (it died after its last answer)
            return self._lost(asked, todo)
        head = self._reader.frame(self._waited)
        payload = self._reader.exactly(head[1], self._waited) if head is not None else None
        if payload is None:
            return self._lost(asked, todo)
        answers: list[Any] = [[] for _ in todo]
        for i, answer in zip(asked, json.loads(payload), strict=True):
            answers[i] = answer
        return answers

    def _waited(self) -> float:
        """Seconds the rule the child is on may still run."""
        return self._page[BEGAN] + self.limit - time.monotonic()

    def _lost(self, asked: list[int], todo: list[list[str]]) -> tuple[int, str | None, RuleError]:
        """The child stopped answering (killed now, as it ran over the time limit) or died: the
        request and rule it was on, and why."""
        assert self._reader is not None
        timed_out = self._reader.timed_out
        how = self.close()  # (first: the page is still once the child is gone)
        i, rule = asked[min(int(self._page[REQUEST]), len(asked) - 1)], int(self._page[RULE])
        packages = todo[i]
        if rule == 0 or rule > len(packages):
            what = "reading the input document" if rule == 0 else "answering"
            if timed_out:
                return i, None, RuleError(f"stopped: the engine spent more than {self.limit:g} s {what}")
            return i, None, RuleError(f"the Rego interpreter crashed {what} ({how})")
        package = packages[rule - 1]
        if timed_out:
            self.stopped[package] = f"stopped for this run: it ran longer than the {self.limit:g} s time limit on another product"
            why = f"stopped after {self.limit:g} s on this product (the time limit: rule_time_limit in govern.toml)"
            return i, package, RuleError(why)
        why = f"more than the {MEMORY >> 30} GiB of memory a rule may take, or a crash"
        return i, package, RuleError(f"the Rego interpreter stopped evaluating this rule on this product ({how}: {why})")

    def _running(self) -> bool:
        return self._pid != 0 and self._owner == os.getpid()

    def _fork(self) -> bool:
        prctl = find_prctl()  # (found here: the child must import nothing, a lock may be held by a thread)
        down_read, down_write = os.pipe()
        up_read, up_write = os.pipe()
        try:
            with warnings.catch_warnings():
                # (Python 3.12 warns of a fork in a process with threads: the child runs only the interpreter)
                warnings.simplefilter("ignore", DeprecationWarning)
                pid = os.fork()
        except OSError:
            for fd in (down_read, down_write, up_read, up_write):
                os.close(fd)
            return False
        if pid == 0:  # the child: never returns
            try:
                os.close(down_write)
                os.close(up_read)
                _child(self._work, down_read, up_write, self._page, prctl)
            finally:
                os._exit(0)
        os.close(down_read)
        os.close(up_write)
        self._pid, self._owner, self._to, self._from = pid, os.getpid(), down_write, up_read
        self._reader = Reader(up_read)
        return True

    def close(self) -> str:
        """Stop the child (if this process forked it); how it ended."""
        if not self._running():
            self._pid = 0
            return ""
        pid, self._pid = self._pid, 0
        for fd in (self._to, self._from):
            os.close(fd)
        self._reader = None
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
        _, status = os.waitpid(pid, 0)
        return ended(os.waitstatus_to_exitcode(status))


def _child(work: Work, requests: int, answers_fd: int, page: memoryview, prctl: object) -> None:
    """The child's work: answer each request it is sent until the pipe closes."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # (Ctrl-C reaches the terminal's group: the parent stops this child)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    parent = os.getppid()
    if prctl is not None:
        prctl(1, signal.SIGKILL)  # (PR_SET_PDEATHSIG: ended with the process that forked it)
    if os.getppid() != parent:
        return
    _limit_memory()
    # (what it has to say goes through the pipe: a Rust panic's message, or a fault handler's dump
    # of the crash govern is there to survive, would reach the user's terminal)
    faulthandler.disable()
    os.dup2(os.open(os.devnull, os.O_WRONLY), 2)
    reader = Reader(requests)
    while (head := reader.frame(None)) is not None:
        batch = []
        for _ in range(head[1]):
            document = reader.frame(None)
            document = reader.exactly(document[1], None) if document is not None else None
            names = reader.frame(None) if document is not None else None
            names = reader.exactly(names[1], None) if names is not None else None
            if document is None or names is None:
                return
            batch.append((document.decode(), names.decode().split("\n")))
        answers = []
        for request, (document, packages) in enumerate(batch):
            page[REQUEST], page[BEGAN], page[RULE] = request, time.monotonic(), 0
            answers.append(work(document, packages, page))
        answer = f"[{','.join(answers)}]".encode()
        send(answers_fd, frame(b"A", len(answer), answer))


def _limit_memory() -> None:
    """Let the child take at most :data:`MEMORY` more than it holds when forked: a rule that asks
    for more (``numbers.range(1, 1000000000)``) then ends it (the allocation fails, SIGABRT) instead
    of the machine's memory (Linux only: without /proc, no limit)."""
    import resource

    try:
        with open("/proc/self/statm") as f:
            size = int(f.read().split()[0]) * os.sysconf("SC_PAGE_SIZE")
        _, hard = resource.getrlimit(resource.RLIMIT_AS)
        soft = size + MEMORY if hard == resource.RLIM_INFINITY else min(size + MEMORY, hard)
        resource.setrlimit(resource.RLIMIT_AS, (soft, hard))
    except (OSError, ValueError):
        pass

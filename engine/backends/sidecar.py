"""Rules evaluated where a runaway one can be stopped.

A domain's rule can run for ever on some products (``some a in numbers.range(1, 100000); some b in
numbers.range(1, 100000)``) or crash the interpreter (a stack overflow kills its process), and
validate cannot tell: the rule's first statement may fail on every input it tries. regorus has no
time limit of its own and holds the GIL while it evaluates, so neither a signal handler nor a
thread can stop it in the process that called it; one such rule would stop every audit.

So an embedded engine evaluates in a child process forked from it once its policies are loaded
(the child inherits the loaded interpreter): the engine sends input documents and the rules to
evaluate through a pipe, and reads the results back. Before each rule the child writes which rule
it is on, and when it began (the time and its own processor time), to a page both processes
share, which the engine reads while it waits. A rule that has run longer than the time limit (in
processor time: a child paused, or waiting for a processor, is not charged) is stopped: the child
is killed, the rule is an error of that product, and a new child evaluates what is left. The rule
is not evaluated again in this process for the rest of the run (an error of every later product
it applies to): a rule that loops on every product costs the limit once per process, not once per
product. A child that dies (a crash, its memory limit) makes the rule it was on an error of that
product alone.
"""

from __future__ import annotations

import contextlib
import json
import mmap
import os
import resource
import time
from collections.abc import Callable, Sequence
from typing import Any

from engine.backends import RuleError
from engine.frames import Reader, frame, send, start_child, stop_child

# The shared page, four numbers: the request of its batch the child is on (-1 until it has read the
# batch), the rule it is on (1 for the request's first; 0 while it reads the document; one more
# than the last while it writes its answer), when that began (time.monotonic, the same clock in
# every process), and the child's processor time then: a rule is stopped only when both the time
# since it began and the processor time the child has had since are over the limit, or the time
# alone is over :data:`BACKSTOP` times the limit (a child that gets no processor time at all,
# stopped or starved, would be waited for for ever). Each is stored whole by one aligned 8-byte
# write through a memoryview (struct.pack_into would zero the bytes first, and the engine could
# read that zero as a rule begun long ago).
REQUEST, RULE, BEGAN, CPU = 0, 1, 2, 3
NOT_BEGUN = -1.0
BACKSTOP = 10

MEMORY = 4 << 30  # bytes of memory the child may take beyond what it holds when forked

# What the child runs for each request: (document, packages, the shared page) -> its answer, JSON
# text (engine.backends.embedded.interpret), marking each rule on the page as it begins.
Work = Callable[[str, list[str], memoryview | None], str]
# For each request: the packages the child answered, its answer for them (parsed), an error for each other
Asked = tuple[list[str], Any, dict[str, RuleError]]
Lost = tuple[int, str | None, RuleError] | None  # what stopped the child: on which request and rule (None: all of it)


def begin(page: memoryview, rule: int) -> None:
    """Mark on ``page`` that the child begins ``rule`` now (the times first, then the rule: the
    engine takes a rule's time as its own only when all agree, see :meth:`Sidecar._waited`)."""
    page[CPU] = time.process_time()
    page[BEGAN] = time.monotonic()
    page[RULE] = rule


class Sidecar:
    """The child process that evaluates for one engine, under a time limit per rule.

    Requests go to the child in batches, one message each way (on a virtual machine a round trip
    between processes costs a fifth of a millisecond); a batch asked again after the child was
    stopped is answered request by request, so no answer is lost twice."""

    def __init__(self, work: Work, limit: float, subject: str = "this rule", where: str = " on this product"):
        """``subject`` and ``where`` name in its errors what the child was stopped evaluating, and on what."""
        self._work = work  # (its engine loaded before the first evaluate: the child takes it as it is then)
        self.limit = limit
        self.subject, self.where = subject, where
        self._pid = 0
        self._owner = 0  # the process that forked the child (a fork of that process has none)
        self._to = self._from = -1
        self._reader: Reader = None  # type: ignore[assignment]  # (with the first child)
        self._page = _page()
        self._seen: list[float] = []  # the page when the child was found over the limit
        self.stopped: dict[str, str] = {}  # package -> why it is no longer evaluated in this run

    def evaluate_many(self, requests: Sequence[tuple[str, list[str]]]) -> list[Asked]:
        """For each request (a document, its packages): what :data:`Asked` says. Where no child can
        be forked (a limit on processes), what is left is evaluated in this process, without limits
        (the rules stopped earlier in the run are still not evaluated)."""
        errors = [{p: RuleError(self.stopped[p]) for p in packages if p in self.stopped} for _, packages in requests]
        data = [document.encode() for document, _ in requests]
        answered: dict[int, tuple[list[str], Any]] = {}
        each, unbegun = False, 0
        while True:
            todo = [[p for p in packages if p not in errors[i]] for i, (_, packages) in enumerate(requests)]
            asked = [i for i, packages in enumerate(todo) if packages and i not in answered]
            if not asked:
                break
            if not self._running() and not self._fork():
                for i in asked:
                    answered[i] = todo[i], json.loads(self._work(requests[i][0], todo[i], None))
                break
            progress = len(answered)
            lost = self._ask(data, todo, asked, each, answered)
            if lost is None:
                break
            each = True
            i, package, error = lost
            if i < 0:  # (no rule to blame: asked again of a new child, once unless answers came meanwhile)
                unbegun = 0 if len(answered) > progress else unbegun + 1
                if unbegun == 1 or len(answered) > progress:
                    continue
                i = asked[0]
            if package is None:
                errors[i].update(dict.fromkeys(todo[i], error))
                continue
            errors[i][package] = error
            if package in self.stopped:  # (not evaluated for the requests after this one)
                for j in range(i + 1, len(requests)):
                    if package in requests[j][1]:
                        errors[j][package] = RuleError(self.stopped[package])
        return [(*answered.get(i, ([], [])), errors[i]) for i in range(len(requests))]

    def _ask(self, data: list[bytes], todo: list[list[str]], asked: list[int], each: bool, answered: dict) -> Lost:
        """One batch to the child, its answers put in ``answered`` (all at once, or ``each`` as it
        comes); what stopped the child, if it was."""
        message = [frame(b"E" if each else b"W", len(asked))]
        for i in asked:
            names = "\n".join(todo[i]).encode()
            message += [frame(b"D", len(data[i]), data[i]), frame(b"P", len(names), names)]
        self._page[REQUEST], self._page[BEGAN], self._page[RULE] = NOT_BEGUN, time.monotonic(), 0
        try:
            sent = send(self._to, b"".join(message), self._waited)
        except OSError:  # (it died after its last answer)
            return self._lost(asked, todo, answered)
        if not sent:  # (it does not read: stopped, or it gets no processor time)
            self._reader.timed_out = True
            return self._lost(asked, todo, answered)
        for batch in [[i] for i in asked] if each else [asked]:
            answer = self._reader.message(self._waited)
            if answer is None:
                return self._lost(asked, todo, answered)
            answers = json.loads(answer[1])
            for i, answer in zip(batch, answers if not each else [answers], strict=True):
                answered[i] = todo[i], answer
        return None

    def _waited(self) -> float:
        """Seconds the rule the child is on may still run: as long as the limit since it began, and
        longer when the child has had less processor time than that since (up to the backstop).
        When none are left, the page read when it held still (the child may be writing it) is
        kept: it says which rule was over the limit."""
        left = self._page[BEGAN] + self.limit - time.monotonic()
        if left > 0:
            return left
        while (seen := self._page.tolist()) != self._page.tolist():
            pass
        now = time.monotonic()
        left = seen[BEGAN] + self.limit - now
        if left > 0:  # (it went on to another rule meanwhile)
            return left
        used = _cpu_seconds(self._pid)
        if used is not None:
            left = min(seen[CPU] + self.limit - used, seen[BEGAN] + BACKSTOP * self.limit - now)
        self._seen = seen
        return left

    def _lost(self, asked: list[int], todo: list[list[str]], answered: dict) -> tuple[int, str | None, RuleError]:
        """The child stopped answering (killed now, as it ran over the time limit) or died: the
        request and rule it was on (as seen over the limit, when it was stopped), and why; request
        -1 when there is none to blame (the child had not begun the batch, or had answered the
        request it was on): the rest is asked again."""
        timed_out = self._reader.timed_out
        how = self.close()  # (first: the page holds still once the child is gone)
        now = self._seen if timed_out else self._page.tolist()
        i = asked[min(int(now[REQUEST]), len(asked) - 1)]
        if now[REQUEST] < 0 or i in answered:
            return -1, None, RuleError(f"the Rego interpreter ended before it read the input document ({how})")
        rule = int(now[RULE])
        packages = todo[i]
        if rule == 0 or rule > len(packages):
            what = "reading the input document" if rule == 0 else "answering"
            if timed_out:
                return i, None, RuleError(f"stopped: the engine spent more than {self.limit:g} s {what}")
            return i, None, RuleError(f"the Rego interpreter crashed {what} ({how})")
        package = packages[rule - 1]
        if timed_out:
            self.stopped[package] = f"stopped for this run: it ran longer than the {self.limit:g} s time limit on another product"
            why = f"stopped after {self.limit:g} s{self.where} (the time limit: rule_time_limit in govern.toml)"
            return i, package, RuleError(why)
        why = f"more than the {MEMORY >> 30} GiB of memory a rule may take, or a crash"
        return i, package, RuleError(f"the Rego interpreter stopped evaluating {self.subject}{self.where} ({how}: {why})")

    def _running(self) -> bool:
        return self._pid != 0 and self._owner == os.getpid()

    def _fork(self) -> bool:
        if self._owner != os.getpid():  # (what a process this one was forked from had is not its own)
            for fd in (self._to, self._from):
                if fd >= 0:
                    with contextlib.suppress(OSError):
                        os.close(fd)
            self._pid, self._to, self._from = 0, -1, -1
        self._page = _page()  # (a page of this child's own: one from before a fork would be shared)
        page, work = self._page, self._work
        started = start_child(lambda requests, answers: _child(work, requests, answers, page))
        if started is None:
            return False
        self._pid, self._to, self._from = started
        os.set_blocking(self._to, False)  # (a batch is sent no longer than the child may take: see _ask)
        self._owner = os.getpid()
        self._reader = Reader(self._from)
        return True

    def close(self) -> str:
        """Stop the child (if this process forked it); how it ended."""
        if not self._running():
            self._pid = 0
            return ""
        pid, self._pid = self._pid, 0
        return stop_child(pid, self._to, self._from)


def _page() -> memoryview:
    page = memoryview(mmap.mmap(-1, 32)).cast("d")
    page[REQUEST] = NOT_BEGUN
    return page


def _cpu_seconds(pid: int) -> float | None:
    """The processor time a process has had, in seconds (Linux: /proc), or None when unknown."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            fields = f.read().rsplit(b")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    except (OSError, IndexError, ValueError):
        return None


def _child(work: Work, requests: int, answers: int, page: memoryview) -> None:
    """The child's work: answer each batch it is sent until the pipe closes."""
    _limit_memory()
    reader = Reader(requests)
    while (head := reader.frame(None)) is not None:
        batch = []
        for _ in range(head[1]):
            document = reader.message(None)
            names = reader.message(None) if document is not None else None
            if document is None or names is None:
                return
            batch.append((document[1].decode(), names[1].decode().split("\n")))
        done = []
        for request, (document, packages) in enumerate(batch):
            page[REQUEST] = request
            begin(page, 0)
            answer = work(document, packages, page)
            if head[0] == b"E":  # (each request's answer as it is done)
                data = answer.encode()
                send(answers, frame(b"A", len(data), data))
            else:
                done.append(answer)
        if head[0] != b"E":
            whole = f"[{','.join(done)}]".encode()
            send(answers, frame(b"A", len(whole), whole))


def _limit_memory() -> None:
    """Let the child take at most :data:`MEMORY` more than it holds when forked: a rule that asks
    for more (``numbers.range(1, 1000000000)``) then ends it (the allocation fails, SIGABRT) instead
    of the machine's memory (Linux only: without /proc, no limit)."""
    try:
        with open("/proc/self/statm") as f:
            size = int(f.read().split()[0]) * os.sysconf("SC_PAGE_SIZE")
        _, hard = resource.getrlimit(resource.RLIMIT_AS)
        soft = size + MEMORY if hard == resource.RLIM_INFINITY else min(size + MEMORY, hard)
        resource.setrlimit(resource.RLIMIT_AS, (soft, hard))
    except (OSError, ValueError):
        pass

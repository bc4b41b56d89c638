"""Worker processes for ``--jobs N``: parse the mesh's files and evaluate input documents in parallel.

The workers are forked (the embedded interpreter is single-threaded, so threads give no speed-up)
and each loads its own embedded engine with the run's policies and data when it starts. For a
check, the parent gathers, builds input documents and turns results into findings; the workers do
the two costly steps: YAML parsing with line tracking, and Rego evaluation. An audit starts them
as evaluators of whole batches of products instead (engine/shards.py), before it reads the mesh
index. Small runs (fewer than :data:`MIN_ITEMS` files or documents) stay in the parent, so
``govern check`` of one product never pays for starting workers.
"""

from __future__ import annotations

import functools
import gc
import itertools
import os
import signal
import threading
from collections.abc import Callable, Iterable, Iterator
from typing import Any

from engine import cache
from engine.config import RULE_TIME_LIMIT
from engine.errors import GovernError
from engine.frames import PR_SET_PDEATHSIG, ended, find_prctl

MIN_ITEMS = 64
CHUNK = 32  # items a worker takes at once: larger chunks cost less in messages
WATCH_S = 1.0  # how often a parent waiting for results checks that its workers are alive

_engine: Any = None


def default_jobs() -> int:
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)


def _start(modules: list[tuple[str, str]], data: dict[str, Any], time_limit: float) -> None:
    global _engine
    from engine.backends.embedded import EmbeddedEngine

    _engine = EmbeddedEngine(time_limit=time_limit)
    _engine.load(modules, data)


def _worker_start(initializer: Callable[..., None], *args: Any) -> None:
    """A worker's start: the parent handles interruptions (Ctrl-C reaches every process of the
    terminal's group; the parent stops the workers), then the pool's own initializer."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    _die_with_parent()
    initializer(*args)


def _die_with_parent() -> None:
    """Have the kernel end this worker when the parent dies without stopping it (killed with
    SIGKILL, by the out-of-memory killer): it would otherwise finish its batches for no one, beside
    the next run. Linux only (prctl, found by the parent: a worker forked while the pool's threads
    run must import nothing, whose lock one of them may have held).

    Only for a worker forked by the thread that started the pool: the kernel signals a worker when
    the thread that forked it ends, and one that replaced a dead worker was forked by the pool's
    handler thread, which ends while the pool is stopped; killed then, the worker may hold the
    lock of the pool's task queue, which stopping the pool takes (it waited for ever)."""
    if _prctl is None or threading.get_ident() != _forker:  # (a fork keeps the forking thread's id)
        return
    _prctl(PR_SET_PDEATHSIG, signal.SIGTERM)
    if os.getppid() != _parent:  # (it died before the call)
        os._exit(1)


_prctl: Any = None
_parent = 0
_forker = 0  # the thread that starts the pool


class WorkerDied(GovernError):
    """A worker process ended in the middle of a run (killed, out of memory, a crash)."""


def _map_chunk(function: Callable[[Any], Any], chunk: list[Any]) -> list[Any]:
    return [function(item) for item in chunk]


def _chunks(items: Iterable[Any], size: int) -> Iterator[list[Any]]:
    it = iter(items)
    while chunk := list(itertools.islice(it, size)):
        yield chunk


def _evaluate(chunk: list[tuple[str, list[str]] | None]) -> list[Any]:
    answers = iter(_engine.evaluate_many([request for request in chunk if request is not None]))
    return [None if request is None else next(answers) for request in chunk]


class Workers:
    """A pool of forked workers; ``map`` falls back to the parent for small inputs or ``jobs == 1``."""

    def __init__(self, jobs: int):
        self.jobs = jobs
        self._pool: Any = None
        self._processes: list[Any] = []  # the pool's worker processes, as forked
        self._gc_was_enabled = True
        self._initializer: Callable[..., None] = _start
        self._start_args: tuple[Any, ...] = ([], {}, RULE_TIME_LIMIT)

    def configure(self, modules: list[tuple[str, str]], data: dict[str, Any], time_limit: float) -> None:
        """The policies and data each worker loads (before the pool starts), and the time a rule
        may run on one product there."""
        self._start_args = (modules, data, time_limit)

    def restart(self, initializer: Callable[..., None], *args: Any) -> None:
        """Stop the workers; the next :meth:`map` forks new ones that run ``initializer(*args)``
        first. The arguments are inherited through the fork, never pickled, so they may be large."""
        self.close()
        self._initializer, self._start_args = initializer, args

    def in_parent(self, total: int) -> bool:
        """Whether ``total`` items are better handled in the parent than by starting workers."""
        return self.jobs <= 1 or total < MIN_ITEMS

    def map(self, function: Callable[[Any], Any], items: Iterable[Any], total: int) -> Iterator[Any]:
        if self.in_parent(total):
            return map(function, items)
        return self.imap(function, items, CHUNK)

    def imap(self, function: Callable[[Any], Any], items: Iterable[Any], chunk: int) -> Iterator[Any]:
        """``function`` over ``items`` in the workers (started now if need be), results in order;
        each worker takes ``chunk`` items at a time."""
        self.start()
        if chunk == 1:
            return self._watched(self._pool.imap(function, items))
        # (chunked here rather than by the pool, whose chunked results cannot be waited for with a timeout)
        chunks = self._watched(self._pool.imap(functools.partial(_map_chunk, function), _chunks(items, chunk)))
        return (result for results in chunks for result in results)

    def _watched(self, results: Any) -> Iterator[Any]:
        """``results`` (a pool's IMapIterator) as they come, unless a worker dies first: a pool
        replaces a dead worker but loses the items it held, and would wait for them for ever."""
        import multiprocessing

        while True:
            try:
                yield results.next(timeout=WATCH_S)
            except StopIteration:
                return
            except multiprocessing.TimeoutError:
                dead = [p for p in self._processes if p.exitcode is not None]
                if dead:
                    raise WorkerDied(
                        f"a worker process ended in the middle of the run ({ended(dead[0].exitcode)}: out of memory,"
                        " or a crash); nothing was reported"
                    ) from None

    def start(self) -> None:
        """Fork the workers now, unless they are running (else the first :meth:`imap` does)."""
        if self._pool is None:
            import multiprocessing  # here, not at the top: a small check never starts workers

            # The pool's threads must never run the garbage collector: an embedded engine (a
            # thread-bound Rust object) collected there cannot be dropped. Collect now, on this
            # thread; automatic collection is paused while these workers exist (see __enter__).
            gc.collect()
            cache.release()  # a database connection must not cross the fork
            global _prctl, _parent, _forker
            _prctl, _parent, _forker = _prctl or find_prctl(), os.getpid(), threading.get_ident()
            context = multiprocessing.get_context("fork")
            before = set(multiprocessing.active_children())
            try:
                self._pool = context.Pool(self.jobs, initializer=_worker_start, initargs=(self._initializer, *self._start_args))
            except OSError as e:  # (a limit on processes, no /dev/shm for the pool's locks: Pool stops those it made)
                why = f"cannot start {self.jobs} worker processes ({e.strerror or e})"
                raise GovernError(f"{why}: run with --jobs 1 for one process") from None
            self._processes = [p for p in multiprocessing.active_children() if p not in before]

    def evaluate(self, requests: Iterable[tuple[str, list[str]] | None], total: int) -> Iterator[Any] | None:
        """Results of requests evaluated in the workers while the parent still produces them (the
        pool's feeder thread draws from ``requests``), or None when ``total`` is small enough for the parent."""
        if self.in_parent(total):
            return None
        self.start()
        chunks = self._watched(self._pool.imap(_evaluate, _chunks(requests, CHUNK)))
        return (result for results in chunks for result in results)

    def close(self) -> None:
        if self._pool is not None:
            self._pool.close()
            self._pool.join()
            self._pool = None
        self._processes = []

    def __enter__(self) -> Workers:
        # A run loads hundreds of thousands of long-lived objects, which the cyclic collector would
        # scan again and again (a third of the loading time of a large mesh); reference counting
        # frees what a run drops, so automatic collection is paused for the run.
        self._gc_was_enabled = gc.isenabled()
        gc.disable()
        return self

    def __exit__(self, *exc: object) -> None:
        if self._pool is not None and exc[0] is not None:
            self._pool.terminate()
            self._pool.join()
            self._pool = None
        self.close()
        if self._gc_was_enabled:
            gc.enable()

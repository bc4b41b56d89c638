"""Audits evaluated batch by batch inside the worker processes.

An audit with the embedded engine over several workers (a mesh large enough to start them, see
engine/parallel.py, and no imported lineage) brings the mesh index up to date
(engine/gather/index.py) and takes the mesh's files in batches of products. Each worker does all
of a batch's work: it loads the batch with what its products need (from the cache the index
filled), links it with the index's facts about the whole mesh, builds the input documents,
evaluates them with its own engine, turns the results into findings and gathers the batch's part
of the product graph. The parent receives only results, findings and graph parts, in batch order,
and writes them to the audit's spool (engine/spool.py) as they arrive:
no loaded model and no input document crosses between processes (which would make the parent the
bottleneck), and no process holds more than a batch of the mesh at once. A batch's lineage
neighbours in other batches are loaded by it too, so smaller batches cost more (see shard_size).

The workers are forked (:func:`start`) before the index is opened, or, for a mesh indexed for the
first time, when the walk has found its files (the workers read them). The policy library and the
council's configuration are inherited through the fork; each task sends a batch's files, its
neighbours' and the part of the index's facts that links them (engine.gather.index.Batch, which
the parent plans with a few queries of the index). No worker uses the index, whose database
connection must not cross a fork.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import datetime
from pathlib import Path

import engine.parallel
from engine import cache
from engine.evaluate import Evaluator, Part
from engine.gather.index import Batch, MeshIndex, stored_files
from engine.gather.targets import load_batch
from engine.governance import Governance
from engine.parallel import Workers
from engine.policy.library import Library
from engine.report.lineage import GraphCollector
from engine.spool import Spool

MIN_SIZE = 100


def shard_size(products: int, jobs: int, batch: int) -> int:
    """Products per batch: two batches per worker (the smaller a batch, the more of its lineage
    neighbours are loaded by other batches too; the larger, the longer workers wait for the last
    one), at least :data:`MIN_SIZE`, at most ``batch`` (what a worker may hold at once). A mesh
    larger than two batches of ``batch`` products per worker is cut into whole rounds of the
    workers: 10,000 products in five batches of 2,000 would leave one of two workers idle through
    the last batch, a fifth of the audit, where six of 1,667 keep both busy to the end."""
    size = max(MIN_SIZE, -(-products // (2 * jobs)))
    if size > batch:
        rounds = -(-products // (batch * jobs))
        size = -(-products // (rounds * jobs))
    return max(1, size)


_evaluator: Evaluator | None = None


def _start(library: Library, governance: Governance, now: datetime, time_limit: float) -> None:
    global _evaluator
    from engine.backends.embedded import EmbeddedEngine

    _evaluator = Evaluator(library, governance, EmbeddedEngine(time_limit=time_limit), None, now)
    # The same engine (the library's modules, the council's data) evaluates what the parent sends
    # these workers outside batches (engine.parallel: a mesh found too small for batches).
    engine.parallel._engine = _evaluator.engine


def start(workers: Workers, library: Library, governance: Governance, now: datetime, root: Path, time_limit: float) -> None:
    """Make ``workers`` evaluators of an audit's batches (they parse what the mesh index reads
    meanwhile), forked now when the mesh at ``root`` is likely large enough to use them, before its
    index is read: its stored index, from the last run, holds at least engine.parallel.MIN_ITEMS
    files. A mesh without a stored index forks them when the walk of its first index has found
    that many files (engine.gather.index); a smaller mesh (fewer than MIN_ITEMS products stay in
    the parent) only when they are first given work, which saves a small audit starting them for
    nothing."""
    workers.restart(_start, library, governance, now, time_limit)
    if stored_files(root) >= engine.parallel.MIN_ITEMS:
        workers.start()


def _run(item: tuple[int, Batch]) -> Part:
    assert _evaluator is not None, "the worker was not started with engine.shards.start"
    count, batch = item
    evaluator = _evaluator
    mesh, targets = load_batch(batch)
    part = evaluator.evaluate_batch(count, mesh, targets)
    part.matched = evaluator.waivers.take_matches()
    part.graph = GraphCollector()
    part.graph.add(mesh, targets)
    cache.flush()
    part.serialize()
    return part


def evaluate_in_workers(
    workers: Workers,
    evaluator: Evaluator,
    index: MeshIndex,
    size: int,
    spool: Spool,
    progress: Callable[[str], None] | None = None,
) -> Iterator[Part]:
    """The evaluated batches of the whole mesh, in order, by ``workers`` (:func:`start`ed); their
    waiver matches and graph parts are added to ``evaluator``'s waiver book and to ``spool`` as
    they arrive. Each batch is planned as a worker asks for it (the pool's feeder thread), so only
    the batches in flight are held."""
    batches = ((count, index.batch(files)) for count, files in enumerate(index.batches(size), 1))
    for part in workers.imap(_run, batches, chunk=1):
        evaluator.waivers.add_matches(part.matched)
        spool.merge(part.graph)
        part.graph = None
        if progress is not None:
            for _, product, _, _ in part.docs:
                progress(product)
        yield part

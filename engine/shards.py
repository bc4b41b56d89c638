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

The workers are forked after the index is up to date; what they need (the policy library, the
council's configuration, the index) is inherited through the fork, not sent.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from engine import cache
from engine.evaluate import Evaluator, Part
from engine.gather.index import MeshIndex
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
    one), at least :data:`MIN_SIZE`, at most ``batch`` (what a worker may hold at once)."""
    return max(1, min(batch, max(MIN_SIZE, -(-products // (2 * jobs)))))


@dataclass
class _Context:
    evaluator: Evaluator
    index: MeshIndex


_context: _Context | None = None


def _start(library: Library, governance: Governance, now: datetime, index: MeshIndex) -> None:
    global _context
    from engine.backends.embedded import EmbeddedEngine

    _context = _Context(Evaluator(library, governance, EmbeddedEngine(), None, now), index)


def _run(item: tuple[int, list[Path]]) -> Part:
    assert _context is not None, "the worker was not started with engine.shards._start"
    count, files = item
    evaluator = _context.evaluator
    mesh, targets = load_batch(_context.index, files)
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
    """The evaluated batches of the whole mesh, in order; their waiver matches and graph parts are
    added to ``evaluator``'s waiver book and to ``spool`` as they arrive."""
    batches = index.batches(size)
    workers.restart(_start, evaluator.library, evaluator.governance, evaluator.now, index)
    for part in workers.imap(_run, enumerate(batches, 1), chunk=1):
        evaluator.waivers.add_matches(part.matched)
        spool.merge(part.graph)
        part.graph = None
        if progress is not None:
            for _, product, _, _ in part.docs:
                progress(product)
        yield part

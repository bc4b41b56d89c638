"""``govern history``: stored audits with their scores, and each domain's trend."""

from __future__ import annotations

import dataclasses
import io
import json

from rich.console import Console
from rich.table import Table

from engine.history import StoredRun
from engine.report import one_line


def _score(value: float | None) -> str:
    return "-" if value is None else f"{value:g}"


def _delta(first: float | None, last: float | None) -> str:
    if first is None or last is None:
        return ""
    change = round(last - first, 1)
    return "  (=)" if change == 0 else f"  ({change:+g})"


def render_history(runs: list[StoredRun], fmt: str, named: bool = False) -> str:
    """The runs as JSON, or as text: a table of the runs and each domain's trend, one of each per
    mesh, headed by its path when they are of several or ``named`` (a store read without naming
    a mesh: which one it holds is not otherwise said)."""
    if fmt == "json":
        return json.dumps({"runs": [dataclasses.asdict(r) for r in runs]}, indent=2) + "\n"
    out = io.StringIO()
    console = Console(file=out, no_color=True, highlight=False, width=160)
    meshes: dict[str, list[StoredRun]] = {}
    for r in runs:
        meshes.setdefault(r.mesh, []).append(r)
    for n, (mesh, theirs) in enumerate(sorted(meshes.items())):
        if len(meshes) > 1 or named:
            console.print(f"{chr(10) if n else ''}mesh {one_line(mesh)}:")
        _render_runs(console, theirs)
    return out.getvalue()


def _render_runs(console: Console, runs: list[StoredRun]) -> None:
    table = Table(box=None, pad_edge=False)
    for column in ("#", "run", "started", "as of", "score", "products", "errors", "open", "blocking", "new", "fixed"):
        table.add_column(column, justify="right" if column not in {"run", "started", "as of"} else "left")
    for r in runs:
        table.add_row(
            str(r.seq),
            r.id[:8],
            r.started_at,
            r.now,
            _score(r.score),
            str(r.products),
            "-" if r.errors is None else str(r.errors),  # (products left out of the scores; unknown for older runs)
            str(r.open),
            str(r.blocking),
            "-" if r.new is None else str(r.new),
            "-" if r.fixed is None else str(r.fixed),
        )
    console.print(table)
    console.print()
    console.print(f"domain trend over the last {len(runs)} audit{'s' if len(runs) != 1 else ''} (oldest first):")
    domains = sorted({d for r in runs for d in r.domains})
    width = max((len(d) for d in domains), default=0)
    for domain in domains:
        scores = [r.domains.get(domain) for r in runs]
        present = [s for s in scores if s is not None]
        trend = " -> ".join(_score(s) for s in scores)
        change = _delta(present[0], present[-1]) if len(present) > 1 else ""  # (over two audits at least)
        console.print(f"  {one_line(domain).ljust(width)}  {trend}{change}")

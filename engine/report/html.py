"""``--format html``: one self-contained page (no network) people can look at.

Summary, score per domain with a chart, the trend over the stored audits, findings filterable by
domain, severity, rule and status, waivers, and a picture of the mesh lineage. Every value from
descriptors, contracts and configuration is escaped by jinja2's autoescaping, and a Content
Security Policy allows only the page's own script (by nonce), so markup in a description is shown
as text and never runs.
"""

from __future__ import annotations

import math
import secrets
from dataclasses import dataclass

from engine.model import Graph, Report, TrendPoint
from engine.report.templating import environment

NODE_W, NODE_H, COL_GAP, ROW_GAP, PAD = 190, 30, 70, 16, 20
PALETTE = ["#4e79a7", "#f28e2b", "#59a14f", "#e15759", "#76b7b2", "#edc948", "#b07aa1", "#ff9da7", "#9c755f", "#bab0ac"]


@dataclass
class Box:
    id: str
    x: int
    y: int
    color: str
    missing: bool
    title: str


@dataclass
class Arrow:
    d: str
    dashed: bool
    title: str


def lineage_picture(graph: Graph | None) -> dict | None:
    """Node boxes in columns by depth (sources left) and edges as curves, in SVG coordinates."""
    if graph is None or not graph.nodes:
        return None
    domains = sorted({n.domain or "" for n in graph.nodes if not n.missing})
    color = {d: PALETTE[i % len(PALETTE)] for i, d in enumerate(domains)}
    columns: dict[int, list] = {}
    for node in sorted(graph.nodes, key=lambda n: (n.domain or "", n.id)):
        columns.setdefault(node.depth, []).append(node)
    boxes: dict[str, Box] = {}
    for depth, nodes in sorted(columns.items()):
        for row, node in enumerate(nodes):
            boxes[node.id] = Box(
                id=node.id,
                x=PAD + depth * (NODE_W + COL_GAP),
                y=PAD + row * (NODE_H + ROW_GAP),
                color="#999" if node.missing else color[node.domain or ""],
                missing=node.missing,
                title=" · ".join(
                    [node.id, node.domain or "no domain", node.status or "no status", node.classification or "unclassified"]
                ),
            )
    arrows = []
    for e in graph.edges:
        a, b = boxes.get(e.source), boxes.get(e.target)
        if a is None or b is None:
            continue
        arrows.append(
            Arrow(
                d=_route(a, b, columns),
                dashed=not e.declared,
                title=f"{e.source} → {e.target}" + (f" via {e.contractId}" if e.contractId else " (no contract)"),
            )
        )
    width = PAD * 2 + (max(columns) + 1) * (NODE_W + COL_GAP)
    height = PAD * 2 + max(len(c) for c in columns.values()) * (NODE_H + ROW_GAP)
    legend = [(d or "(no domain)", color[d]) for d in domains]
    return {
        "boxes": list(boxes.values()),
        "arrows": arrows,
        "width": width,
        "height": height,
        "w": NODE_W,
        "h": NODE_H,
        "legend": legend,
    }


def _route(a: Box, b: Box, columns: dict[int, list]) -> str:
    """An edge's curve from the right of box ``a`` to the left of box ``b``. One that skips columns
    runs through each column between along the gap between two of its boxes (the one nearest the
    straight line), not across them: drawn behind the boxes, it would look like an edge into one."""
    x1, y1 = a.x + NODE_W, a.y + NODE_H // 2
    x2, y2 = b.x, b.y + NODE_H // 2
    first, last = (a.x - PAD) // (NODE_W + COL_GAP), (b.x - PAD) // (NODE_W + COL_GAP)
    points = []
    for depth in range(first + 1, last):
        share = (depth - first) / (last - first)
        straight = y1 + (y2 - y1) * share
        rows = len(columns.get(depth, []))
        gaps = [PAD + row * (NODE_H + ROW_GAP) - ROW_GAP // 2 for row in range(rows + 1)]
        gap = min(gaps, key=lambda y: abs(y - straight))
        left = PAD + depth * (NODE_W + COL_GAP)
        points.append((left, left + NODE_W, gap))
    d, x, y = f"M{x1},{y1}", x1, y1
    for left, right, gap in points:
        bend = max(20, (left - x) // 2)
        d += f" C{x + bend},{y} {left - bend},{gap} {left},{gap} L{right},{gap}"
        x, y = right, gap
    bend = max(40 if not points else 20, abs(x2 - x) // 2)
    return d + f" C{x + bend},{y} {x2 - bend},{y2} {x2},{y2}"


def _axis(scores: list[float]) -> tuple[float, float, list[float]]:
    """The score axis: from below the lowest score to above the highest in round steps (1, 2, 5,
    10 or 25 points, at most 6 lines), within 0-100, so that a change of a point shows (a 0-100
    axis drew a mesh going from 94.8 to 95.6 as a flat line)."""
    low, high = min(scores), max(scores)
    for step in (1, 2, 5, 10, 25):
        bottom, top = math.floor(low / step) * step, math.ceil(high / step) * step
        if top == bottom:  # (every score the same: a step around it)
            bottom, top = (bottom - step, top) if top >= 100 else (bottom, top + step)
        bottom, top = max(0, bottom), min(100, top)
        if (top - bottom) / step <= 5:
            break
    ticks = [top - i * step for i in range(round((top - bottom) / step) + 1)]
    return bottom, top, ticks


def trend_chart(points: list[TrendPoint] | None) -> dict | None:
    """The mesh score over the stored audits as a polyline, on an axis fitted to the scores."""
    if not points:
        return None
    width, height, left, top = 640, 180, 40, 10
    step = (width - left - 20) / max(1, len(points) - 1)
    scores = [p.score for p in points if p.score is not None]
    bottom, highest, ticks = _axis(scores) if scores else (0, 100, [100, 75, 50, 25, 0])

    def y(score: float) -> float:
        return round(top + (highest - score) * (height - 2 * top) / (highest - bottom), 1)

    coords = [(round(left + i * step, 1), y(p.score), p) for i, p in enumerate(points) if p.score is not None]
    return {
        "width": width,
        "height": height,
        "left": left,
        "ticks": [(y(v), f"{v:g}") for v in ticks],
        "coords": coords,
        "polyline": " ".join(f"{x},{y}" for x, y, _ in coords),
    }


def render(report: Report, *, color: bool = False) -> str:
    domains_in_trend = sorted({d for p in report.trend or [] for d in p.domains})
    return (
        environment("html")
        .get_template("report.html.j2")
        .render(
            report=report,
            nonce=secrets.token_urlsafe(16),
            lineage=lineage_picture(report.lineage),
            trend=trend_chart(report.trend),
            trend_domains=domains_in_trend,
            severities=["critical", "high", "medium", "low", "info"],
            domains=sorted({f.domain or "" for f in report.findings}),
            rules=sorted({f.rule for f in report.findings}),
        )
    )

"""``--format markdown``: a summary for a pull request comment or a wiki page."""

from __future__ import annotations

from engine.model import Report
from engine.report.templating import environment


def render(report: Report, *, color: bool = False) -> str:
    by_product: dict[str, list] = {}
    for f in report.findings:
        by_product.setdefault(f.product, []).append(f)
    return environment("markdown").get_template("report.md.j2").render(report=report, by_product=by_product)

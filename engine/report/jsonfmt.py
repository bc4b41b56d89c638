"""``--format json``: the govern.report/v1 document itself."""

from __future__ import annotations

from engine.model import Report


def render(report: Report, *, color: bool = False) -> str:
    # pydantic's own serializer: no intermediate dict of the whole report (a large one is ~1 GiB)
    return report.model_dump_json(indent=2, by_alias=True) + "\n"

"""``--format json``: the govern.report/v1 document itself."""

from __future__ import annotations

import json

from engine.model import Report


def render(report: Report, *, color: bool = False) -> str:
    return json.dumps(report.to_json_dict(), indent=2, ensure_ascii=False) + "\n"

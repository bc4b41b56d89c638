"""The jinja2 environment of the markdown and HTML writers (templates in engine/report/templates)."""

from __future__ import annotations

import re
from functools import cache

from jinja2 import Environment, PackageLoader, StrictUndefined, select_autoescape
from markupsafe import Markup

from engine.report import clean, counted

_MD_SPECIAL = re.compile(r"([\\`*_{}\[\]()#+!|~])")


def md(value: object) -> str:
    """Untrusted text for a markdown table cell: markup characters escaped, HTML neutralised, one line."""
    text = clean(" ".join(str("" if value is None else value).split()))
    text = text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    return _MD_SPECIAL.sub(r"\\\1", text)


def md_code(value: object) -> str:
    """Untrusted text as a code span in a markdown table cell, shown as it is (one line, control
    characters made visible): fenced by more backticks than any run of them in it, its pipes
    escaped (GitHub's tables split cells on them even inside code)."""
    text = clean(" ".join(str("" if value is None else value).split()))
    if not text:
        return ""
    fence = "`" * (max((len(run) for run in re.findall("`+", text)), default=0) + 1)
    pad = " " if text.startswith("`") or text.endswith("`") else ""
    return fence + pad + text.replace("|", "\\|") + pad + fence


def score(value: float | None) -> str:
    return "-" if value is None else f"{value:g}"


def _shown(value: object) -> object:
    """Every value an HTML template prints, control characters made visible before escaping."""
    return clean(value) if isinstance(value, str) and not isinstance(value, Markup) else value


@cache
def environment(kind: str) -> Environment:
    """``html``: every value escaped by default; ``markdown``: values pass through the ``md`` filter."""
    env = Environment(
        loader=PackageLoader("engine.report", "templates"),
        autoescape=select_autoescape(["html.j2"]) if kind == "html" else False,
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
        finalize=_shown if kind == "html" else None,
    )
    env.filters["md"] = md
    env.filters["md_code"] = md_code
    env.filters["score"] = score
    env.filters["counted"] = counted
    return env

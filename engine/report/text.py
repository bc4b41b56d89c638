"""``--format text``: findings grouped by product, for people at a terminal."""

from __future__ import annotations

import io
import shutil

from engine.model import Finding, Report
from engine.report import counted, one_line

SEVERITY_STYLE = {"critical": "bold red", "high": "red", "medium": "yellow", "low": "cyan", "info": "dim"}
VERDICT_STYLE = {"pass": "bold green", "fail": "bold red", "error": "bold magenta"}
STATUS_MARK = {"open": "✗", "waived": "~"}


class Text:
    """A line of text in spans, each with a rich style: printed plain, or with rich on a terminal."""

    def __init__(self, text: str = "", style: str = ""):
        self.spans: list[tuple[str, str]] = [(text, style)] if text else []

    def append(self, text: str, style: str = "") -> None:
        self.spans.append((text, style))

    def __add__(self, other: Text) -> Text:
        joined = Text()
        joined.spans = [*self.spans, *other.spans]
        return joined


class _Plain:
    """Prints lines without styles (into a file or pipe: lines are never broken, rich is not loaded)."""

    def __init__(self, out: io.StringIO):
        self.out = out

    def print(self, line: Text | str = "") -> None:
        text = "".join(text for text, _ in line.spans) if isinstance(line, Text) else line
        self.out.write(text.expandtabs(8) + "\n")  # tab stops every 8 columns, as rich prints them


class _Styled:
    """Prints lines with rich, wrapped to the terminal's width."""

    def __init__(self, out: io.StringIO):
        from rich.console import Console

        width = shutil.get_terminal_size().columns
        self.console = Console(file=out, force_terminal=True, highlight=False, width=width)

    def print(self, line: Text | str = "") -> None:
        from rich.text import Text as RichText

        self.console.print(RichText.assemble(*line.spans) if isinstance(line, Text) else RichText(line))


def render(report: Report, *, color: bool = False) -> str:
    out = io.StringIO()
    console = _Styled(out) if color else _Plain(out)
    by_product: dict[str, list[Finding]] = {}
    for f in report.findings:
        by_product.setdefault(f.product, []).append(f)
    for p in report.products:
        head = Text()
        head.append(one_line(p.name), style="bold")
        if p.domain:
            head.append(f"  ({one_line(p.domain)})")
        head.append("  ")
        head.append(p.verdict.upper(), style=VERDICT_STYLE[p.verdict])
        if p.score is not None:
            head.append(f"  score {p.score:g}")
        head.append(f"  {one_line(p.source)}", style="dim")
        console.print(head)
        for error in p.errors:
            console.print(Text("  ! ", style="magenta") + Text(one_line(error)))
        for f in by_product.get(p.id, []):
            line = Text("  ")
            line.append(f"{STATUS_MARK[f.status]} {f.rule}", style=SEVERITY_STYLE[f.severity])
            line.append(f"  {f.severity} · {f.enforcement}", style=SEVERITY_STYLE[f.severity])
            if f.status == "waived" and f.waiver:
                ticket = f" {one_line(f.waiver['ticket'])}" if f.waiver.get("ticket") else ""
                line.append(f"  waived{ticket} until {one_line(f.waiver.get('expires'))}", style="dim")
            if f.baseline:
                line.append("  baseline", style="dim")
            line.append(f"  {one_line(f.message)}")
            console.print(line)
            where = f.location.file or ""
            if f.location.line:
                where += f":{f.location.line}"
            if f.location.path:
                where += f" ({one_line(f.location.path)})"
            if f.resource:  # (what a waiver's `resource` names to cover this finding alone)
                where += f" · resource {f.resource}"
            console.print(Text(f"      at {one_line(where)}", style="dim"))
            console.print(Text(f"      fix: {one_line(f.remediation)}", style="dim"))
        console.print()
    for error in report.errors:
        console.print(Text("! ", style="magenta") + Text(one_line(error)))
    for state, style in (("expired", "red"), ("expiring", "yellow"), ("unused", "dim")):
        for w in getattr(report.waivers, state):
            console.print(
                Text(f"waiver {state}: ", style=style)
                + Text(one_line(f"{w['rule']} for {w['product']} (expires {w['expires']}) at {w['file']}:{w['line']}"))
            )
    s = report.summary
    v = s.verdicts
    fc = s.findings
    summary = Text()
    summary.append(f"{counted(s.products, 'product')}: ")
    summary.append(f"{v.pass_} pass", style="green")
    summary.append(", ")
    summary.append(f"{v.fail} fail", style="red" if v.fail else "")
    summary.append(", ")
    summary.append(f"{v.error} error", style="magenta" if v.error else "")
    summary.append(
        f" · {counted(fc.open, 'open finding')} ({fc.by_enforcement['blocking']} blocking, "
        f"{fc.by_enforcement['warning']} warning, {fc.by_enforcement['advisory']} advisory), {fc.waived} waived"
        f" · {counted(s.rules, 'rule')}"
    )
    if s.score is not None:
        summary.append(f" · score {s.score:g}")
    console.print(summary)
    if report.changes is not None:
        c = report.changes
        if c.previous_run is None:
            console.print(f"first audit of this mesh: {counted(len(c.new), 'finding')} recorded")
        else:
            counts = f"{len(c.new)} new, {len(c.fixed)} fixed, {c.persisting} persisting"
            if c.unknown:
                counts += f", {c.unknown} unknown (of products that could not be evaluated)"
            console.print(f"since the previous audit ({c.previous_run[:8]}): {counts}")
    baseline = sum(1 for f in report.findings if f.baseline)
    if baseline:
        console.print(f"{counted(baseline, 'finding')} also in the baseline (not counted for the exit code)")
    return out.getvalue()

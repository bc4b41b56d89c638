"""What ``govern test`` prints: per-test lines in the manner of ``opa test``, lint, coverage, summary."""

from __future__ import annotations

import json

import click

from engine.report import one_line
from engine.testing import RegoTest, TestResults

RULE = "-" * 80
STYLE = {"pass": "green", "fail": "red", "error": "magenta"}


def _duration(ns: int) -> str:
    if ns >= 1_000_000_000:
        return f"{ns / 1e9:.2f}s"
    if ns >= 1_000_000:
        return f"{ns / 1e6:.1f}ms"
    return f"{ns / 1e3:.0f}µs"


def _test_lines(test: RegoTest) -> list[str]:
    lines = [f"{test.id}: {click.style(test.outcome.upper(), fg=STYLE[test.outcome])} ({_duration(test.duration_ns)})"]
    if test.outcome != "pass":
        lines.append(f"  {test.at}: {one_line(test.message)}")
        lines.extend(f"  print: {one_line(p)}" for p in test.prints)
    return lines


def render_text(results: TestResults, verbose: bool) -> str:
    out: list[str] = []
    shown = [t for t in results.tests if verbose or t.outcome != "pass"]
    current = None
    for test in shown:
        if test.file != current:
            if current is not None:
                out.append("")
            out.append(f"{test.file}:")
            current = test.file
        out.extend(_test_lines(test))

    def section(title: str) -> None:
        if out:
            out.append("")
        out.extend([title, RULE])

    if results.lint:
        section("LINT")
        out.extend(str(problem) for problem in results.lint)
    if results.coverage is not None:
        section("COVERAGE")
        for f in results.coverage:
            missing = f"  not covered: {_ranges(f.not_covered)}" if f.not_covered else ""
            out.append(f"{f.percent:6.1f}%  {f.file}{missing}")
    total = len(results.tests)
    out.append(RULE)
    if total == 0:
        out.append("no tests found")
    for outcome in ("pass", "fail", "error"):
        n = results.count(outcome)
        if n or (outcome == "pass" and total):
            out.append(f"{outcome.upper()}: {n}/{total}")
    if results.lint:
        out.append(f"LINT: {len(results.lint)} problem{'s' if len(results.lint) != 1 else ''}")
    if results.total_coverage is not None:
        line = f"COVERAGE: {results.total_coverage:.1f}%"
        if results.threshold is not None:
            verdict = "below" if results.below_threshold else "meets"
            line += f" ({verdict} the threshold of {results.threshold:g}%)"
        out.append(line)
    return "\n".join(out) + "\n"


def _ranges(lines: list[int]) -> str:
    """``[3, 4, 5, 9]`` as ``3-5, 9``."""
    parts: list[str] = []
    start = prev = None
    for n in [*lines, None]:
        if n is not None and prev is not None and n == prev + 1:
            prev = n
            continue
        if start is not None:
            parts.append(str(start) if start == prev else f"{start}-{prev}")
        start = prev = n
    return ", ".join(parts)


def render_json(results: TestResults) -> str:
    data: dict = {
        "ok": results.ok,
        "summary": {
            "total": len(results.tests),
            **{outcome: results.count(outcome) for outcome in ("pass", "fail", "error")},
        },
        "tests": [t.as_dict() for t in results.tests],
        "lint": [{"file": p.file, "line": p.line, "message": p.message} for p in results.lint],
        "coverage": None,
    }
    if results.coverage is not None:
        data["coverage"] = {
            "total": round(results.total_coverage or 0.0, 2),
            "threshold": results.threshold,
            "files": [f.as_dict() for f in results.coverage],
        }
    return json.dumps(data, indent=2) + "\n"

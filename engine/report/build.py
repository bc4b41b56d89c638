"""Assemble the govern.report/v1 document: provenance, summary, per-domain scores."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import UTC, datetime
from statistics import mean

from engine import __version__
from engine.model import (
    DomainSummary,
    EngineInfo,
    Finding,
    FindingCounts,
    ProductResult,
    Report,
    RuleInfo,
    RunInfo,
    Summary,
    Verdicts,
    Waivers,
)


def _mean(scores: list[float]) -> float | None:
    return round(mean(scores), 1) if scores else None


class _Tally:
    """Verdicts and scores of a set of products, counted as they pass."""

    def __init__(self) -> None:
        self.products = 0
        self.verdicts = {"pass": 0, "fail": 0, "error": 0}
        self.scores: list[float] = []

    def add(self, p: ProductResult) -> None:
        self.products += 1
        self.verdicts[p.verdict] += 1
        if p.score is not None:
            self.scores.append(p.score)


def build_report(
    *,
    command: str,
    now: datetime,
    started: datetime,
    engine: EngineInfo,
    policies_digest: str,
    governance_digest: str,
    mesh: str | None,
    products: Sequence[ProductResult],
    findings: Sequence[Finding],
    rules: int,
    waivers: Waivers | None = None,
    errors: list[str] | None = None,
    catalog: list[RuleInfo] | None = None,
) -> Report:
    counts = FindingCounts()
    for f in findings:
        if f.status == "open":
            counts.open += 1
            counts.by_enforcement[f.enforcement] += 1
        else:
            counts.waived += 1
    # One pass over the products: an audit's are read back from its spool (engine/spool.py).
    everything = _Tally()
    by_domain: dict[str, _Tally] = {}
    for p in products:
        everything.add(p)
        if p.domain:
            by_domain.setdefault(p.domain, _Tally()).add(p)
    domains = {
        name: DomainSummary(score=_mean(t.scores), products=t.products, verdicts=Verdicts.model_validate(t.verdicts))
        for name, t in sorted(by_domain.items())
    }
    report = Report(
        run=RunInfo(
            id=str(uuid.uuid4()),
            command=command,
            started_at=started.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
            now=now.strftime("%Y-%m-%dT%H:%M:%SZ"),
            govern_version=__version__,
            engine=engine,
            policies_digest=policies_digest,
            governance_digest=governance_digest,
            mesh=mesh,
        ),
        summary=Summary(
            products=everything.products,
            rules=rules,
            score=_mean(everything.scores),
            verdicts=Verdicts.model_validate(everything.verdicts),
            findings=counts,
        ),
        domains=domains,
        products=[],
        findings=[],
        errors=errors or [],
        waivers=waivers or Waivers(),
        rules=catalog or [],
    )
    # Set, not validated: a spool's Rows stay on disk (validation would read them into a list).
    report.products, report.findings = products, findings  # type: ignore[assignment]
    return report

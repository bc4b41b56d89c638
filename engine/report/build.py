"""Assemble the govern.report/v1 document: provenance, summary, per-domain scores."""

from __future__ import annotations

import uuid
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


def _verdicts(products: list[ProductResult]) -> Verdicts:
    counts = {"pass": 0, "fail": 0, "error": 0}
    for p in products:
        counts[p.verdict] += 1
    return Verdicts.model_validate(counts)


def _mean(products: list[ProductResult]) -> float | None:
    scores = [p.score for p in products if p.score is not None]
    return round(mean(scores), 1) if scores else None


def build_report(
    *,
    command: str,
    now: datetime,
    engine: EngineInfo,
    policies_digest: str,
    governance_digest: str,
    mesh: str | None,
    products: list[ProductResult],
    findings: list[Finding],
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
    domains: dict[str, DomainSummary] = {}
    for name in sorted({p.domain for p in products if p.domain}):
        members = [p for p in products if p.domain == name]
        domains[name] = DomainSummary(score=_mean(members), products=len(members), verdicts=_verdicts(members))
    return Report(
        run=RunInfo(
            id=str(uuid.uuid4()),
            command=command,
            started_at=datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
            now=now.strftime("%Y-%m-%dT%H:%M:%SZ"),
            govern_version=__version__,
            engine=engine,
            policies_digest=policies_digest,
            governance_digest=governance_digest,
            mesh=mesh,
        ),
        summary=Summary(
            products=len(products), rules=rules, score=_mean(products), verdicts=_verdicts(products), findings=counts
        ),
        domains=domains,
        products=products,
        findings=findings,
        errors=errors or [],
        waivers=waivers or Waivers(),
        rules=catalog or [],
    )

"""Effective rule settings for a domain: enforcement and parameters after the council's say.

Precedence, lowest first: the rule's annotation, then the council's ``rules:`` entry in
council.yaml. A blocking rule whose ``effective_on`` date has not come yet only warns.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from engine.governance import Governance
from engine.model import RuleMeta
from engine.policy.library import Library


@dataclass(frozen=True)
class EffectiveRule:
    meta: RuleMeta
    enforcement: str
    params: dict[str, Any]


def _on_or_after(now: datetime, day: str | None) -> bool:
    if not day:
        return True
    try:
        return now.date() >= date.fromisoformat(day[:10])
    except ValueError:
        return True


def effective_rules(library: Library, governance: Governance, domain: str | None, now: datetime) -> list[EffectiveRule]:
    rules = []
    for meta in library.rules_for(domain):
        council = governance.council.rules.get(meta.id)
        enforcement = (council.enforcement if council and council.enforcement else None) or meta.enforcement
        effective_on = (council.effective_on if council and council.effective_on else None) or meta.effective_on
        if enforcement == "blocking" and not _on_or_after(now, effective_on):
            enforcement = "warning"
        params = {name: spec.default for name, spec in meta.params.items()}
        rules.append(EffectiveRule(meta=meta, enforcement=enforcement, params=params))
    return rules

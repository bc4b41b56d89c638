"""Waivers: an active waiver turns matching findings into ``waived``; the report lists every waiver's state.

A waiver is active through the day it expires, and only covers findings of its own domain's
products. For the report: ``applied`` (active, matched a finding), ``expiring`` (active, expires
within 14 days), ``expired`` (no longer applies) and ``unused`` (active, matched nothing). A run
of the whole mesh lists every waiver; another, the waivers of the products in it and those of
their domains naming a product the mesh does not have.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any

from engine.governance import Governance, Waiver
from engine.model import Finding, Waivers

EXPIRING_WITHIN = timedelta(days=14)


@dataclass
class _Filed:
    domain: str
    waiver: Waiver
    entry: dict[str, Any]
    matched: list[str] = field(default_factory=list)


class WaiverBook:
    """Every waiver the domains filed, applied as findings come in."""

    def __init__(self, governance: Governance, now: datetime):
        self.now = now
        self._filed: list[_Filed] = []
        for domain, df in sorted(governance.domains.items()):
            for i, waiver in enumerate(df.config.waivers):
                if waiver.approved_after(now):  # (as of an earlier day, --now: not filed yet)
                    continue
                entry = waiver.model_dump(exclude_none=True)
                entry.update({"domain": domain, "file": df.doc.file, "line": df.line_of(df.waiver_path(i))})
                self._filed.append(_Filed(domain, waiver, entry))
        self._active: dict[tuple[str, str], list[_Filed]] = {}
        for filed in self._filed:
            if filed.waiver.active(now):
                self._active.setdefault((filed.domain, filed.waiver.product), []).append(filed)

    def apply(self, findings: list[Finding]) -> None:
        """Mark the open findings an active waiver covers as ``waived``."""
        for f in findings:
            for filed in self._active.get((f.domain or "", f.product), []):
                if f.status == "open" and filed.waiver.matches(f.rule, f.product, f.resource, f.location.path):
                    f.status = "waived"
                    f.waiver = {k: v for k, v in filed.entry.items() if k != "domain"}
                    filed.matched.append(f.fingerprint)

    def take_matches(self) -> dict[int, list[str]]:
        """The findings each waiver matched since the last call (by the waiver's position), forgotten
        here: for a worker process, whose matches the parent adds with :meth:`add_matches`."""
        matched = {i: filed.matched for i, filed in enumerate(self._filed) if filed.matched}
        for filed in self._filed:
            filed.matched = []
        return matched

    def add_matches(self, matched: dict[int, list[str]]) -> None:
        for i, fingerprints in matched.items():
            self._filed[i].matched.extend(fingerprints)

    def report(self, products: set[str] | None, absent: Collection[str] = (), domains: Collection[str] = ()) -> Waivers:
        """Every waiver's state; only those naming ``products`` unless it is None (an audit lists all,
        so a waiver naming a product the mesh no longer has shows as unused), and those of
        ``domains`` naming a product the mesh does not have (``absent``: a check of a domain's
        products shows a waiver its team misspelt as unused, as an audit would)."""
        out = Waivers()
        for filed in self._filed:
            named = products is None or filed.waiver.product in products
            if not named and not (filed.domain in domains and filed.waiver.product in absent):
                continue
            if not filed.waiver.active(self.now):
                out.expired.append(filed.entry)
                continue
            if filed.matched:
                out.applied.append({**filed.entry, "findings": filed.matched})
            else:
                out.unused.append(filed.entry)
            if date.fromisoformat(filed.waiver.expires) - self.now.date() <= EXPIRING_WITHIN:
                out.expiring.append(filed.entry)
        return out

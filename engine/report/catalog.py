"""The rule catalog (``govern policies``) and one rule explained (``govern explain``).

Both show the rules from their METADATA annotations with the council's settings applied (its
``rules:`` entries in council.yaml: enforcement, effective dates), as every domain gets them; one
rule explained also shows what each domain set for it (parameters, a raised enforcement, waivers).
"""

from __future__ import annotations

import json
from datetime import UTC, date, datetime
from typing import TYPE_CHECKING, Any

from engine.model import RuleMeta
from engine.report.templating import environment

if TYPE_CHECKING:
    from engine.governance import Governance, Waiver

OVERRIDE_MEANING = {
    "none": "domains may not change this rule",
    "params": "domains may set its parameters within the council's limits",
    "waivable": "domains may set its parameters and file time-bound, approved waivers",
}
CATEGORY_ORDER = ["naming", "access", "classification", "standard-fields", "contracts", "lineage"]


def rule_dict(rule: RuleMeta) -> dict:
    return rule.model_dump(mode="json")


def as_set(rule: RuleMeta, governance: Governance | None) -> RuleMeta:
    """The rule with the council's enforcement and effective date, where council.yaml sets them."""
    from engine.policy.federation import council_setting

    if governance is None or rule.id not in governance.council.rules:
        return rule
    enforcement, effective_on = council_setting(rule, governance)
    return rule.model_copy(update={"enforcement": enforcement, "effective_on": effective_on})


def _enforcement(rule: RuleMeta) -> str:
    """``blocking``, or ``blocking from 2027-03-01`` when it only warns before that day."""
    due = rule.effective_on and rule.enforcement == "blocking"
    return f"{rule.enforcement} from {rule.effective_on}" if due else rule.enforcement


def _sorted(rules: list[RuleMeta]) -> list[RuleMeta]:
    def key(rule: RuleMeta) -> tuple:
        category = CATEGORY_ORDER.index(rule.category) if rule.category in CATEGORY_ORDER else len(CATEGORY_ORDER)
        return (rule.domain or "", category, rule.id)

    return sorted(rules, key=key)


def render_catalog(rules: list[RuleMeta], fmt: str) -> str:
    rules = _sorted(rules)
    if fmt == "json":
        return json.dumps({"rules": [rule_dict(r) for r in rules]}, indent=2) + "\n"
    if fmt == "markdown":
        global_rules = [r for r in rules if r.domain is None]
        domains: dict[str, list[RuleMeta]] = {}
        for r in rules:
            if r.domain is not None:
                domains.setdefault(r.domain, []).append(r)
        by_category: dict[str, list[RuleMeta]] = {}
        for r in global_rules:
            by_category.setdefault(r.category, []).append(r)
        return (
            environment("markdown")
            .get_template("standards.md.j2")
            .render(
                rules=rules,
                global_rules=global_rules,
                by_category=by_category,
                domains=domains,
                meaning=OVERRIDE_MEANING,
                enforcement=_enforcement,
            )
        )
    widths = [
        max([len(r.id) for r in rules] + [2]),
        max([len(r.category) for r in rules] + [8]),
        max([len(_enforcement(r)) for r in rules] + [8]),
    ]
    lines = []
    for r in rules:
        where = f"domain {r.domain}" if r.domain else "global"
        lines.append(
            f"{r.id:<{widths[0]}}  {r.category:<{widths[1]}}  {r.severity:<8}  {_enforcement(r):<{widths[2]}}  "
            f"{r.override:<8}  {where:<14}  {r.title}"
        )
    n_domain = sum(1 for r in rules if r.domain)
    lines.append(f"{len(rules)} rules: {len(rules) - n_domain} global, {n_domain} from domains")
    return "\n".join(lines) + "\n"


def _value(value: object) -> str:
    return json.dumps(value, ensure_ascii=False)


def _waiver_state(waiver: Waiver, now: datetime) -> str:
    """A waiver as of ``now``, as a run then would take it (engine.policy.waivers)."""
    from engine.policy.waivers import EXPIRING_WITHIN

    if waiver.approved_after(now):
        return "not yet approved"
    if not waiver.active(now):
        return "expired"
    return "expiring" if date.fromisoformat(waiver.expires) - now.date() <= EXPIRING_WITHIN else "active"


def _domains(rule: RuleMeta, governance: Governance | None, now: datetime) -> dict[str, dict[str, Any]]:
    """What each domain set for the rule: its parameters, a raised enforcement, its waivers."""
    found: dict[str, dict[str, Any]] = {}
    for name, domain in sorted((governance.domains if governance else {}).items()):
        config = domain.config
        entry: dict[str, Any] = {}
        if rule.id in config.params:
            entry["params"] = config.params[rule.id]
        if rule.id in config.enforcement:
            entry["enforcement"] = config.enforcement[rule.id]
        waivers = [w for w in config.waivers if w.rule == rule.id]
        if waivers:
            entry["waivers"] = [
                {"product": w.product, "resource": w.resource, "expires": w.expires, "state": _waiver_state(w, now)}
                for w in waivers
            ]
        if entry:
            found[name] = entry
    return found


def _council_line(rule: RuleMeta, governance: Governance | None) -> str | None:
    if governance is None or rule.id not in governance.council.rules:
        return None
    where = governance.doc.file if governance.doc else "council.yaml"
    if governance.doc and governance.doc.line_of(f"rules.{rule.id}"):
        where += f":{governance.doc.line_of(f'rules.{rule.id}')}"
    setting = governance.council.rules[rule.id]
    pairs = (("enforcement", setting.enforcement), ("effective on", setting.effective_on))
    said = [f"{key} {value}" for key, value in pairs if value]
    return f"set by the council in {where}: {', '.join(said) or 'nothing'}"


def render_explain(
    rule: RuleMeta, fmt: str, tests: list[str], governance: Governance | None = None, now: datetime | None = None
) -> str:
    """``now``: the day waivers are judged as of (active, expiring within 14 days, expired), today by default."""
    now = now or datetime.now(UTC)
    council = governance.council.rules.get(rule.id) if governance else None
    rule, domains = as_set(rule, governance), _domains(rule, governance, now)
    if fmt == "json":
        setting = council.model_dump(mode="json") if council else None
        return json.dumps({**rule_dict(rule), "tests": tests, "council": setting, "domains": domains}, indent=2) + "\n"
    out = [f"{rule.id}  {rule.title}", ""]
    scope = f"domain {rule.domain}" if rule.domain else "global"
    out.append(f"category {rule.category} · severity {rule.severity} · enforcement {rule.enforcement} · {scope}")
    out.append(f"override {rule.override}: {OVERRIDE_MEANING[rule.override]}")
    if rule.effective_on and rule.enforcement == "blocking":
        out.append(f"effective on {rule.effective_on}: before then a blocking finding only warns")
    if line := _council_line(rule, governance):
        out.append(line)
    out += ["", rule.description.strip()]
    if rule.params:
        out += ["", "Parameters"]
        for name, spec in rule.params.items():
            out.append(f"  {name} ({', '.join([spec.type, *spec.limits])}, default {_value(spec.default)})")
            if spec.description:
                out.append(f"    {spec.description}")
    out += ["", "Remediation", f"  {rule.remediation.strip()}"]
    if rule.examples:
        out += ["", "Examples"]
        for kind, example in rule.examples.items():
            label = {"fail": "fails", "pass": "passes"}.get(kind, kind)
            out.append(f"  {label}: {example}")
    if domains:
        out += ["", "Set by domains"]
        for name, entry in domains.items():
            for param, value in entry.get("params", {}).items():
                out.append(f"  {name}: {param} = {_value(value)}")
            if "enforcement" in entry:
                out.append(f"  {name}: enforcement raised to {entry['enforcement']}")
            for w in entry.get("waivers", []):
                what = f"{w['product']}" + (f" ({w['resource']})" if w["resource"] else "")
                out.append(f"  {name}: waiver for {what} until {w['expires']} ({w['state']})")
    out += ["", f"Defined in {rule.file}:{rule.line} (package {rule.package})"]
    if tests:
        out.append(f"Tested in {', '.join(tests)}")
    return "\n".join(out) + "\n"

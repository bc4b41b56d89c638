"""The rule catalog (``govern policies``) and one rule explained (``govern explain``).

Both are built from the rules' METADATA annotations only; the council's and the domains' changes
to enforcement and parameters are applied when products are checked, and shown in reports.
"""

from __future__ import annotations

import json

from engine.model import RuleMeta
from engine.report.templating import environment

OVERRIDE_MEANING = {
    "none": "domains may not change this rule",
    "params": "domains may set its parameters within the council's limits",
    "waivable": "domains may set its parameters and file time-bound, approved waivers",
}
CATEGORY_ORDER = ["naming", "access", "classification", "standard-fields", "contracts", "lineage"]


def rule_dict(rule: RuleMeta) -> dict:
    return rule.model_dump(mode="json")


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
            .render(rules=rules, global_rules=global_rules, by_category=by_category, domains=domains, meaning=OVERRIDE_MEANING)
        )
    widths = [max([len(r.id) for r in rules] + [2]), max([len(r.category) for r in rules] + [8])]
    lines = []
    for r in rules:
        where = f"domain {r.domain}" if r.domain else "global"
        lines.append(
            f"{r.id:<{widths[0]}}  {r.category:<{widths[1]}}  {r.severity:<8}  {r.enforcement:<8}  "
            f"{r.override:<8}  {where:<14}  {r.title}"
        )
    n_domain = sum(1 for r in rules if r.domain)
    lines.append(f"{len(rules)} rules: {len(rules) - n_domain} global, {n_domain} from domains")
    return "\n".join(lines) + "\n"


def _value(value: object) -> str:
    return json.dumps(value, ensure_ascii=False)


def render_explain(rule: RuleMeta, fmt: str, tests: list[str]) -> str:
    if fmt == "json":
        return json.dumps({**rule_dict(rule), "tests": tests}, indent=2) + "\n"
    out = [f"{rule.id}  {rule.title}", ""]
    scope = f"domain {rule.domain}" if rule.domain else "global"
    out.append(f"category {rule.category} · severity {rule.severity} · enforcement {rule.enforcement} · {scope}")
    out.append(f"override {rule.override}: {OVERRIDE_MEANING[rule.override]}")
    if rule.effective_on:
        out.append(f"effective on {rule.effective_on}: before then a blocking finding only warns")
    out += ["", rule.description.strip()]
    if rule.params:
        out += ["", "Parameters"]
        for name, spec in rule.params.items():
            out.append(f"  {name} ({spec.type}, default {_value(spec.default)})")
            if spec.description:
                out.append(f"    {spec.description}")
    out += ["", "Remediation", f"  {rule.remediation.strip()}"]
    if rule.examples:
        out += ["", "Examples"]
        for kind, example in rule.examples.items():
            label = {"fail": "fails", "pass": "passes"}.get(kind, kind)
            out.append(f"  {label}: {example}")
    out += ["", f"Defined in {rule.file}:{rule.line} (package {rule.package})"]
    if tests:
        out.append(f"Tested in {', '.join(tests)}")
    return "\n".join(out) + "\n"

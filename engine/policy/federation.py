"""Federation: what each domain may change, and the effective rules after it did (docs/federation.md).

Precedence, lowest first, for a rule's enforcement: the rule's annotation, then the council's
``rules:`` entry in council.yaml (before the rule's ``effective_on`` date, blocking only warns),
then the domain's ``enforcement:``, which may only raise it and takes effect at once. Parameters: the
annotation's defaults, then the domain's ``params:`` for rules whose override is ``params`` or
``waivable``. Waivers are applied after evaluation (engine/policy/waivers.py).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any

from engine.errors import ConfigError, by_place
from engine.governance import DomainFile, Governance
from engine.model import ENFORCEMENT_RANK, RuleMeta
from engine.policy.library import Library, left_out

# Builtins a policy may not use: they reach outside the input document, or the embedded engine
# lacks them (so a rule would mean something else there than under OPA).
UNSUPPORTED_BUILTINS = (
    "http.send",
    "net.",
    "opa.runtime",
    "rego.metadata.",
    "rego.parse_module",
    "crypto.",
    "io.jwt.",
    "graphql.",
    "providers.aws.",
)


@dataclass(frozen=True)
class EffectiveRule:
    meta: RuleMeta
    enforcement: str
    params: dict[str, Any]


def council_setting(meta: RuleMeta, governance: Governance) -> tuple[str, str | None]:
    """The rule's enforcement and effective_on date once the council had its say."""
    council = governance.council.rules.get(meta.id)
    enforcement = council.enforcement if council and council.enforcement else meta.enforcement
    effective_on = council.effective_on if council and council.effective_on else meta.effective_on
    return enforcement, effective_on


def effective_rules(library: Library, governance: Governance, domain: str | None, now: datetime) -> list[EffectiveRule]:
    """The rules that apply to a domain's products, with their enforcement and parameters."""
    config = governance.domain_config(domain)
    rules = []
    for meta in library.rules_for(domain):
        enforcement, effective_on = council_setting(meta, governance)
        if enforcement == "blocking" and effective_on and now.date() < date.fromisoformat(effective_on):
            enforcement = "warning"
        if config and meta.id in config.config.enforcement:
            raised = config.config.enforcement[meta.id]
            if ENFORCEMENT_RANK[raised] > ENFORCEMENT_RANK[enforcement]:
                enforcement = raised
        params = {name: spec.default for name, spec in meta.params.items()}
        if config and meta.override in ("params", "waivable"):
            params.update(config.config.params.get(meta.id, {}))
        rules.append(EffectiveRule(meta=meta, enforcement=enforcement, params=params))
    return rules


def validate(library: Library, governance: Governance, now: datetime) -> list[ConfigError]:
    """Every problem of the council's and the domains' configuration, each with file:line."""
    problems: list[ConfigError] = [*library.problems, *governance.problems]
    missing = _missing(library)
    council = governance.council
    council_file = governance.doc.file if governance.doc else "council.yaml"
    for rule_id in council.rules:
        if library.rule(rule_id) is None:
            line = governance.doc.line_of(f"rules.{rule_id}") if governance.doc else None
            problems.append(ConfigError(f"rules: {rule_id} is {missing(rule_id)}", council_file, line))
    for name, domain_file in sorted(governance.domains.items()):
        if name not in council.domains:
            problems.append(
                ConfigError(
                    f"domain {name!r} is not registered in council.yaml", domain_file.doc.file, domain_file.line_of("domain")
                )
            )
        problems.extend(_validate_domain(library, governance, domain_file, now, missing))
    for meta in library.rules:  # (as for a domain's configuration file)
        if meta.domain is not None and meta.domain not in council.domains:
            problems.append(ConfigError(f"domain {meta.domain!r} is not registered in council.yaml", meta.file, meta.line))
    problems.extend(_validate_policies(library))
    return sorted(problems, key=by_place)


def _not_levels(value: Any, governance: Governance) -> str | None:
    """The first of ``value`` (a string, or an array of them) that is no classification level, as JSON."""
    odd = [v for v in (value if isinstance(value, list) else [value]) if v not in governance.council.classification_levels]
    return json.dumps(odd[0]) if odd else None


def _missing(library: Library) -> Callable[[str], str]:
    """What a rule id the configuration names and the library does not have is: not a rule of the
    library, or, when a module left out for a problem declares it, left out (the module's own
    problem says why). The modules' files are read once, for every configuration file."""
    left = left_out(library) if library.problems else {}

    def say(rule_id: str) -> str:
        return f"left out of the library (see the problem of {left[rule_id]})" if rule_id in left else "not a rule of the library"

    return say


def _validate_domain(
    library: Library, governance: Governance, df: DomainFile, now: datetime, missing: Callable[[str], str]
) -> list[ConfigError]:
    problems: list[ConfigError] = []
    config, file = df.config, df.doc.file

    def problem(message: str, path: str) -> None:
        problems.append(ConfigError(message, file, df.line_of(path)))

    # (regular expression, as written, its parameter, its key path, the values it must not match)
    patterns: list[tuple[str, str, str, str, list[str]]] = []
    for rule_id, values in config.params.items():
        meta = library.rule(rule_id)
        if meta is None or meta.domain not in (None, config.domain):
            problem(f"params: {rule_id} is {missing(rule_id)}", f"params.{rule_id}")
            continue
        if meta.override not in ("params", "waivable"):
            problem(f"params: {rule_id} does not let domains set parameters (override: {meta.override})", f"params.{rule_id}")
            continue
        for name, value in values.items():
            spec = meta.params.get(name)
            if spec is None:
                declared = ", ".join(meta.params) or "none"
                problem(f"params: {rule_id} has no parameter {name!r} (declared: {declared})", f"params.{rule_id}.{name}")
            elif not spec.accepts(value):
                problem(
                    f"params: {rule_id}.{name} must be of type {spec.type}, not {json.dumps(value)}",
                    f"params.{rule_id}.{name}",
                )
            elif (outside := spec.outside_limits(value)) is not None:  # (the council's limits)
                problem(f"params: {rule_id}.{name} {outside}", f"params.{rule_id}.{name}")
            elif spec.format == "classification-level" and (odd := _not_levels(value, governance)):
                levels = ", ".join(governance.council.classification_levels)
                problem(
                    f"params: {rule_id}.{name} must name classification levels of the council ({levels}), not {odd}",
                    f"params.{rule_id}.{name}",
                )
            elif spec.format == "regex":
                # ({domain} is replaced as the rules replace it before they match)
                rejects = [v.replace("{domain}", config.domain) for v in spec.rejects or []]
                patterns.append(
                    (value.replace("{domain}", config.domain), value, f"{rule_id}.{name}", f"params.{rule_id}.{name}", rejects)
                )
    invalid: set[str] = set()
    if patterns:
        from engine.backends.embedded import invalid_regexes

        invalid = invalid_regexes({pattern for pattern, *_ in patterns})
    matched: set[tuple[str, str]] = set()
    if any(rejects for *_, rejects in patterns):
        from engine.backends.embedded import regex_matches

        matched = regex_matches({(p, v) for p, *_, rejects in patterns if p not in invalid for v in rejects})
    for pattern, written, name, path, rejects in patterns:
        if pattern in invalid:
            problem(f"params: {name} is not a valid regular expression: {written!r}", path)
        elif taken := [v for v in rejects if (pattern, v) in matched]:
            listed = ", ".join(json.dumps(v) for v in taken)
            problem(f"params: {name} {written!r} matches {listed}, which the council's rule says it must not (rejects)", path)
    for rule_id, level in config.enforcement.items():
        meta = library.rule(rule_id)
        if meta is None or meta.domain not in (None, config.domain):
            problem(f"enforcement: {rule_id} is {missing(rule_id)}", f"enforcement.{rule_id}")
            continue
        floor, _ = council_setting(meta, governance)
        if ENFORCEMENT_RANK[level] < ENFORCEMENT_RANK[floor]:
            problem(
                f"enforcement: {rule_id} may not be lowered from {floor} to {level} (domains may only tighten)",
                f"enforcement.{rule_id}",
            )
    members = set(governance.council.council.members)
    registration = governance.council.domains.get(config.domain)
    owners = set(registration.owners) if registration else set()
    max_days = governance.council.council.max_waiver_days
    for i, waiver in enumerate(config.waivers):
        where = df.waiver_path(i)
        meta = library.rule(waiver.rule)
        if meta is None or meta.domain not in (None, config.domain):
            problem(f"waiver of {waiver.rule}: {missing(waiver.rule)}", f"{where}.rule")
        elif meta.override != "waivable":
            problem(f"waiver of {waiver.rule}: the rule is not waivable (override: {meta.override})", f"{where}.rule")
        if waiver.approved_by not in members:
            problem(
                f"waiver of {waiver.rule} for {waiver.product}: approved_by {waiver.approved_by!r} is not a council member",
                f"{where}.approved_by",
            )
        elif waiver.approved_by in owners:
            problem(
                f"waiver of {waiver.rule} for {waiver.product}: approved_by {waiver.approved_by!r} owns the "
                f"{config.domain} domain, and a domain cannot approve its own waivers",
                f"{where}.approved_by",
            )
        start = date.fromisoformat(waiver.approved_on) if waiver.approved_on else now.date()
        days = (date.fromisoformat(waiver.expires) - start).days
        # (counted from a later day, a waiver could last longer than the maximum; one approved after
        # the day a run is evaluated as of, --now, is only not filed yet then)
        today = max(now.date(), datetime.now(UTC).date())
        if start > today:
            problem(
                f"waiver of {waiver.rule} for {waiver.product}: approved_on {waiver.approved_on} is after today "
                f"({today.isoformat()}); a waiver is approved before it is used",
                f"{where}.approved_on",
            )
        elif waiver.approved_on and days < 0:
            problem(
                f"waiver of {waiver.rule} for {waiver.product}: expires on {waiver.expires}, before its approval on "
                f"{waiver.approved_on}",
                f"{where}.expires",
            )
        elif days > max_days:
            since = f"approval on {waiver.approved_on}" if waiver.approved_on else "today"
            problem(
                f"waiver of {waiver.rule} for {waiver.product}: expires {days} days after {since}, "
                f"more than the council's maximum of {max_days}",
                f"{where}.expires",
            )
    return problems


def _validate_policies(library: Library) -> list[ConfigError]:
    problems = []
    for module in library.modules:
        for name, line in module.calls:
            if any(name == b or (b.endswith(".") and name.startswith(b)) for b in UNSUPPORTED_BUILTINS):
                problems.append(
                    ConfigError(
                        f"policy calls {name}, which rules may not use (not evaluable everywhere, or reaches outside input)",
                        module.file,
                        line,
                    )
                )
    return problems


def ensure_valid(library: Library, governance: Governance, now: datetime) -> None:
    """Refuse to evaluate on an invalid configuration: raise the problems as one error."""
    problems = validate(library, governance, now)
    if problems:
        count = f"{len(problems)} problem{'s' if len(problems) != 1 else ''}"
        why = f"the policies or the governance configuration are invalid ({count}; run govern validate):"
        raise ConfigError(why, details=tuple(str(p) for p in problems))

"""Evaluate: input documents x rules -> raw results -> located findings and product verdicts."""

from __future__ import annotations

import difflib
import functools
import json
import re
from collections.abc import Callable, Collection, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from engine.backends import PolicyEngine, Request, Results, RuleError
from engine.gather.mesh import Mesh, file_kind
from engine.gather.targets import Target
from engine.gather.yamlsrc import Located, misspelt_key, parent_path
from engine.governance import Governance
from engine.inputs import build_input
from engine.memo import Memo
from engine.model import Finding, Location, ProductResult, RuleInfo, Waivers, fingerprint, json_bytes
from engine.policy.federation import EffectiveRule, effective_rules
from engine.policy.library import Library
from engine.policy.waivers import WaiverBook

if TYPE_CHECKING:
    from engine.spool import Spool

Place = tuple[int, int | str, int]  # where a result goes in the report (see _place)
Entry = tuple[Place, ProductResult, list[Finding]]  # (place in the report, result, findings)
Doc = tuple[Place, str, bytes, list[bytes]]  # an entry as JSON: place, product id, result, findings


@dataclass
class Part:
    """What evaluating one batch gives: its results in report order, the rules it applied, the
    waivers that matched its findings (by position in the waiver book) and its part of the
    report's product graph (when an audit evaluates the batch in a worker process, which sends
    its entries as JSON, :meth:`serialize`)."""

    entries: list[Entry] = field(default_factory=list)
    docs: list[Doc] = field(default_factory=list)
    used: set[str] = field(default_factory=set)
    matched: dict[int, list[str]] = field(default_factory=dict)
    graph: Any = None

    def serialize(self) -> None:
        """Turn the entries into docs: what the audit's spool stores, and cheaper to send between
        processes than models."""
        self.docs += [(place, r.id, json_bytes(r), [json_bytes(f) for f in found]) for place, r, found in self.entries]
        self.entries = []


@dataclass
class Outcome:
    results: Sequence[ProductResult]  # a list, or the Rows of a Spool
    findings: Sequence[Finding]
    rules: int
    waivers: Waivers
    catalog: list[RuleInfo]


def _tell_apart(findings: list[Finding]) -> None:
    """Findings of a product that name the same resource at different positions of a list (two
    ports reading one upstream, two columns of one name) would share a fingerprint: in the order
    of their key paths, each after the first has its occurrence in it (:func:`fingerprint`)."""
    by_print: dict[str, list[Finding]] = {}
    for f in findings:
        by_print.setdefault(f.fingerprint, []).append(f)
    for same in by_print.values():
        paths = sorted({f.location.path or "" for f in same}, key=_natural)
        if len(paths) > 1:
            rank = {path: i for i, path in enumerate(paths)}  # (not paths.index: thousands of look-alikes)
            for f in same:
                occurrence = rank[f.location.path or ""]
                f.fingerprint = fingerprint(f.rule, f.product, f.contract, f.location.path, f.resource, occurrence)


def _natural(path: str) -> list[Any]:
    """A key path's sort key: list positions as numbers (inputPorts[2] before inputPorts[10])."""
    return [int(part) if part.isdigit() else part for part in re.split(r"(\d+)", path)]


def score(rules: list[EffectiveRule], findings: list[Finding]) -> float:
    """100 x (1 - weight of rules with an open finding / weight of rules applied)."""
    applied = sum(r.meta.weight for r in rules)
    if applied == 0:
        return 100.0
    failing = {f.rule for f in findings if f.status == "open"}
    lost = sum(r.meta.weight for r in rules if r.meta.id in failing)
    return round(100.0 * (1 - lost / applied), 1)


class Evaluator:
    """Evaluates targets with one loaded engine; effective rules are computed once per domain."""

    def __init__(self, library: Library, governance: Governance, engine: PolicyEngine, mesh: Mesh | None, now: datetime):
        self.library = library
        self.governance = governance
        self.engine = engine
        self.mesh = mesh
        self.now = now
        self._rules: dict[str | None, list[EffectiveRule]] = {}
        self.waivers = WaiverBook(governance, now)
        data = governance.data()
        engine.load([(m.file, m.source) for m in library.modules], data)
        self.memo = Memo.for_run(engine, library, data)

    def rules_for(self, domain: str | None) -> list[EffectiveRule]:
        if domain not in self._rules:
            self._rules[domain] = effective_rules(self.library, self.governance, domain, self.now)
        return self._rules[domain]

    def parts(
        self,
        batches: Iterable[tuple[Mesh | None, list[Target]]],
        progress: Callable[[str], None] | None = None,
        each: Callable[[Mesh | None, list[Target]], None] | None = None,
    ) -> Iterator[Part]:
        """Evaluate batches of targets, each with the (part of the) mesh it was loaded with, which
        ``each`` sees before it is dropped. Input documents are built while the engine evaluates
        earlier ones (a stream, so neither the documents nor the raw results are all held at once)."""
        count = 0
        # Nothing of a batch may stay referenced while the next one is loaded (not even in the
        # result tuple enumerate() keeps for reuse).
        for batch in batches:
            count += 1
            yield self.evaluate_batch(count, *batch, progress)
            if each is not None:
                each(*batch)
            del batch

    def outcome(
        self, parts: Iterable[Part], whole_mesh: bool, spool: Spool | None = None, absent: Collection[str] = ()
    ) -> Outcome:
        """The run's outcome from its evaluated batches, here (:meth:`parts`) or in worker processes
        (engine/shards.py). ``whole_mesh`` lists every filed waiver, not only those of the targets
        (and those of their domains naming a product of ``absent``, one the mesh does not have).
        With a ``spool``, each batch's results and findings are written to it as they arrive and
        the outcome reads them from it (an audit: nothing of them stays in memory).

        Over several batches, the results are ordered as for one: the products (in discovery
        order), the descriptors that could not be loaded, the contracts that could not be loaded,
        then the contracts no product publishes (by id). (Links leaving the mesh, listed first
        among the files that could not be loaded, are first only within their batch.)"""
        done: list[Entry] = []
        used: set[str] = set()
        count = 0
        for part in parts:
            count += 1
            if spool is not None:
                spool.add(part)
            else:
                done.extend(part.entries)
            used |= part.used
            del part
        results: Sequence[ProductResult]
        findings: Sequence[Finding]
        if spool is not None:
            results, findings = spool.products, spool.findings
        else:
            if count > 1:
                done.sort(key=lambda entry: entry[0])
            results = [result for _, result, _ in done]
            findings = [f for _, _, found in done for f in found]
        checked = None if whole_mesh else {r.id for r in results}
        waivers = self.waivers.report(checked, absent, {r.domain for r in results if r.domain} if checked is not None else set())
        catalog = [
            RuleInfo(**m.model_dump(include=set(RuleInfo.model_fields)))
            for m in sorted((r for r in map(self.library.rule, used) if r is not None), key=lambda m: m.id)
        ]
        return Outcome(results, findings, len(used), waivers, catalog)

    def evaluate_batch(
        self, count: int, mesh: Mesh | None, targets: list[Target], progress: Callable[[str], None] | None = None
    ) -> Part:
        """Evaluate the targets of the ``count``-th batch, loaded with ``mesh``."""
        self.mesh = mesh
        part = Part()
        requests = (self.request(target) for target in targets)
        answers = (self.memo or self.engine).evaluate_stream(requests, len(targets))
        for i, (target, raw) in enumerate(zip(targets, answers, strict=True)):
            place = _place(target, count, i)  # before _finish, which adds rule errors to the target
            result, found, applied = self._finish(target, self._applicable(target), raw)
            part.entries.append((place, result, found))
            part.used.update(applied)
            if progress is not None:
                progress(target.id)
        self.mesh = None
        return part

    def _applicable(self, target: Target) -> list[EffectiveRule]:
        """The rules that apply to the target (none when it could not be loaded)."""
        if target.errors:
            return []
        return [r for r in self.rules_for(target.domain) if target.categories is None or r.meta.category in target.categories]

    def request(self, target: Target) -> Request | None:
        """The target's input document and the packages to evaluate (None when it could not be loaded)."""
        if target.errors:
            return None
        rules = self._applicable(target)
        document = build_input(target.product, target.contracts, self.mesh, self.governance, rules, self.now)
        return document.model_dump_json(), [r.meta.package for r in rules]

    def _finish(
        self, target: Target, rules: list[EffectiveRule], raw: Results | None
    ) -> tuple[ProductResult, list[Finding], list[str]]:
        if raw is None:
            return self._result(target, "error", None, 0), [], []
        findings: list[Finding] = []
        errors: list[str] = []
        for rule in rules:
            value = raw.get(rule.meta.package, [])
            if isinstance(value, RuleError):
                errors.append(f"rule {rule.meta.id} could not be evaluated: {value.message}")
                continue
            malformed = next((item for item in value if not _is_finding(item)), None)
            if malformed is not None:  # (a rule's bug: what it found cannot be shown for what it is)
                errors.append(
                    f"rule {rule.meta.id} could not be evaluated: it denied {json.dumps(malformed)[:200]}, which is neither "
                    f"a message nor an object with a msg (the rule is at {rule.meta.file}:{rule.meta.line})"
                )
                continue
            findings.extend(self._finding(target, rule, item) for item in value)
        _tell_apart(findings)
        findings.sort(key=lambda f: (f.location.file or "", f.location.line or 0, f.rule, f.message))
        self.waivers.apply(findings)
        target.errors.extend(errors)
        if errors:
            verdict = "error"
        elif any(f.status == "open" and f.enforcement == "blocking" for f in findings):
            verdict = "fail"
        else:
            verdict = "pass"
        applied = [r for r in rules if not any(e.startswith(f"rule {r.meta.id} ") for e in errors)]
        # A product in error has no score, as one that could not be loaded: what a rule could not
        # evaluate cannot be vouched for, and must not count as passed in its domain's mean.
        value = None if errors else score(applied, findings)
        return self._result(target, verdict, value, len(applied)), findings, [r.meta.id for r in applied]

    def _result(self, target: Target, verdict: str, value: float | None, rules: int) -> ProductResult:
        return ProductResult(
            id=target.id,
            name=target.name,
            domain=target.domain,
            source=target.source,
            description=target.product.product.description if target.product else None,
            verdict=verdict,  # type: ignore[arg-type]
            score=value,
            rules=rules,
            errors=list(target.errors),
        )

    def _finding(self, target: Target, rule: EffectiveRule, item: Any) -> Finding:
        if isinstance(item, dict):
            message = str(item.get("msg", item))
            path = _opt_str(item.get("path"))
            resource = _opt_str(item.get("resource"))
            contract = _opt_str(item.get("contract"))
        else:
            message, path, resource, contract = str(item), None, None, None
        doc = self._document(target, contract)
        line = doc.line_of(path) if doc else None
        misspelt = _misspelt(doc, path, message) if doc else None
        if misspelt is not None:  # (a finding of a missing key, written under another name)
            key, line, meant = misspelt
            message += f"; {key!r} at line {line} looks like a misspelling of {meant!r}"
        return Finding(
            fingerprint=fingerprint(rule.meta.id, target.id, contract, path, resource),
            rule=rule.meta.id,
            title=rule.meta.title,
            category=rule.meta.category,
            severity=rule.meta.severity,
            enforcement=rule.enforcement,  # type: ignore[arg-type]
            domain=target.domain,
            product=target.id,
            message=message,
            remediation=rule.meta.remediation,
            resource=resource,
            contract=contract,
            location=Location(file=doc.file if doc else target.source, line=line, path=path),
        )

    @staticmethod
    def _document(target: Target, contract: str | None) -> Located | None:
        if contract is not None:
            for c in target.contracts:
                if c.contract.id == contract:
                    return c.doc
        if target.product is not None:
            return target.product.doc
        return target.contracts[0].doc if target.contracts else None


def _place(target: Target, batch: int, position: int) -> Place:
    """Where a target's result goes in a report made of several batches (see Evaluator.outcome)."""
    if target.product is not None:
        return (0, batch, position)
    if target.errors:
        return (2 if file_kind(Path(target.source)) == "contract" else 1, batch, position)
    return (3, target.id, 0)


@functools.cache
def _key_names() -> frozenset[str]:
    """The keys of descriptors and contracts as govern's models name them (what a finding's message
    names as missing: "contractId is not set", "has no classification")."""
    from engine.model import Access, Column, Contract, InputPort, Monitoring, OutputPort, Product, SchemaObject, Sla, Support

    models = (Access, Column, Contract, InputPort, Monitoring, OutputPort, Product, SchemaObject, Sla, Support)
    return frozenset(name for model in models for name in model.model_fields if len(name) > 3)


def _misspelt(doc: Located, path: str | None, message: str = "") -> tuple[str, int, str] | None:
    """For a key ``path`` the document does not have: a key beside where it would be whose name is
    close to it (``clasification`` for ``classification``), with its line; None when there is none.
    A finding of a missing key would otherwise point at the mapping that lacks it, and the key as
    written, ignored, is never named. For a finding about a mapping that is written (a port, a
    column: an item of a list), the same for a key its ``message`` names which the mapping lacks."""
    if not path or path.endswith("]") and path not in doc.lines:
        return None
    if path in doc.lines:
        if not path.endswith("]"):  # (a key that is written: a scalar, or a mapping no message names keys of)
            return None
        # (the words of the message outside its quoted values, which may be any name: a column "tags")
        words = re.findall(r"[A-Za-z_]\w*", re.sub(r'"[^"]*"|\'[^\']*\'', " ", message))
        named = [w for w in dict.fromkeys(words) if w in _key_names() and f"{path}.{w}" not in doc.lines]
        for name in named:  # (rarely any: a key the message names is mostly there, or not a key)
            found = _misspelt(doc, f"{path}.{name}")
            if found is not None:
                return found
        return None
    noted, under = misspelt_key(path), misspelt_key(f"{path}.")[:-1]
    for key, line in doc.lines.items():  # (one written elsewhere, as an ODPS custom property: at the key or under it)
        if key.startswith((noted, under)):
            meant, _, written = key.partition("=")[2].partition("=")
            return written, line, meant
    parent = parent_path(path)
    name = path[len(parent) :].lstrip(".")
    beside = {k[len(parent) :].lstrip("."): line for k, line in doc.lines.items() if k != parent and parent_path(k) == parent}
    close = difflib.get_close_matches(name, [k for k in beside if not k.startswith("[")], n=1, cutoff=0.8)
    return (close[0], beside[close[0]], name) if close else None


def _opt_str(value: Any) -> str | None:
    return None if value is None else str(value)


def _is_finding(item: Any) -> bool:
    """A member of a rule's deny set as the conventions have it (docs/rules.md): a message, or an
    object with a ``msg`` message."""
    return isinstance(item, str) or (isinstance(item, dict) and isinstance(item.get("msg"), str))

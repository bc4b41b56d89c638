"""The pydantic models at the edges: files read, the input document, rule metadata, findings, reports.

Annotations in this module, and in the others that define models (engine/governance.py,
engine/gather/descriptors.py, engine/gather/files.py), are evaluated when the classes are defined:
with ``from __future__ import annotations`` pydantic would resolve each annotation from its text,
compiling it, about 5 ms of every command's start-up.
"""

import hashlib
import json
import re
from datetime import date
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    StrictFloat,
    StrictInt,
    StrictStr,
    model_validator,
)

Severity = Literal["critical", "high", "medium", "low", "info"]
Enforcement = Literal["blocking", "warning", "advisory"]
Override = Literal["none", "params", "waivable"]
Category = Literal["naming", "access", "classification", "standard-fields", "contracts", "lineage"]


def _iso_date(value: str) -> str:
    try:
        return date.fromisoformat(value).isoformat()
    except ValueError:
        raise ValueError(f"{value!r} is not a date (YYYY-MM-DD)") from None


IsoDate = Annotated[str, AfterValidator(_iso_date)]
"""A calendar day written as YYYY-MM-DD (waiver expiry, a rule's effective_on)."""

SEVERITY_WEIGHT: dict[str, int] = {"critical": 10, "high": 5, "medium": 3, "low": 1, "info": 0}
ENFORCEMENT_RANK: dict[str, int] = {"advisory": 0, "warning": 1, "blocking": 2}
# --fail-on: the least enforcement rank of an open finding that fails the run (the exit code, JUnit)
FAIL_ON: dict[str, int] = {"blocking": 2, "warning": 1, "never": 99}


def empty_list() -> list[Any]:
    """An empty list: the default of list fields. (Given ``list`` itself, pydantic inspects its
    signature when it builds a model's schema, 85 us a field, a tenth of a check's schema building.)"""
    return []


def json_bytes(model: BaseModel) -> bytes:
    """A model's compact JSON by alias, as UTF-8 (pydantic's serializer, no text in between)."""
    return model.__pydantic_serializer__.to_json(model, by_alias=True)


class Model(BaseModel):
    """Every model of the engine. Validators are built when a model is first used rather than when
    this module is imported: a ``govern check`` uses a fraction of them and starts faster."""

    model_config = ConfigDict(defer_build=True)


class Strict(Model):
    """A model of a file section: unknown keys are kept, wrong types are errors."""

    model_config = ConfigDict(extra="allow", str_strip_whitespace=False)


# --- The native product descriptor (dataproduct.yaml), as written --------------------------------


class NativeAccess(Strict):
    model: str | None = None
    consumers: list[str] = Field(default_factory=empty_list)
    approvers: list[str] = Field(default_factory=empty_list)


class NativeSla(Strict):
    quality: str | None = None
    freshness: str | None = None
    retention: str | None = None


class NativeSupport(Strict):
    email: str | None = None
    slack: str | None = None


class NativeMonitoring(Strict):
    freshness_metric: str | None = None
    volume_metric: str | None = None
    quality_metric: str | None = None


class NativeOutputPort(Strict):
    name: str
    contractId: str | None = None
    visibility: Literal["public", "internal"] = "internal"
    description: str | None = None


class Declassification(Strict):
    """A declared declassifying transformation on an input port or a contract column (docs/formats.md)."""

    method: str = Field(description="how the data was declassified, e.g. anonymisation, aggregation, masking")
    description: str | None = None


def declassification(value: Any) -> Declassification | None:
    """A declassification written as a method name or as ``{method, description}``, normalized."""
    if value is None:
        return None
    d = Declassification.model_validate({"method": value} if isinstance(value, str) else value)
    return Declassification(method=d.method, description=d.description)


class NativeInputPort(Strict):
    product: str
    contractId: str | None = None
    # (a method name alone, as in an ODPS port's custom property, or {method, description})
    declassification: Annotated[
        Declassification | None, BeforeValidator(lambda v: {"method": v} if isinstance(v, str) else v)
    ] = None


class NativeDescriptor(Strict):
    kind: Literal["DataProduct"]
    name: str
    domain: str
    version: str | None = None
    status: Literal["draft", "active", "deprecated", "retired"] | None = None
    owner: str | None = None
    description: str | None = None
    classification: str | None = None
    access: NativeAccess | None = None
    sla: NativeSla | None = None
    documentation: str | None = None
    support: NativeSupport | None = None
    schema_url: str | None = None
    monitoring: NativeMonitoring | None = None
    tags: list[str] = Field(default_factory=empty_list)
    outputPorts: list[NativeOutputPort] = Field(default_factory=empty_list)
    inputPorts: list[NativeInputPort] = Field(default_factory=empty_list)


# --- The input document ----------------------------------------------------------------------------


class Access(Model):
    model: str | None = None
    consumers: list[str] = Field(default_factory=empty_list)
    approvers: list[str] = Field(default_factory=empty_list)


class Sla(Model):
    quality: str | None = None
    freshness: str | None = None
    retention: str | None = None


class Support(Model):
    email: str | None = None
    slack: str | None = None


class Monitoring(Model):
    freshness_metric: str | None = None
    volume_metric: str | None = None
    quality_metric: str | None = None


class OutputPort(Model):
    name: str | None = None
    contractId: str | None = None
    visibility: str = "internal"
    path: str


class InputPort(Model):
    product: str | None = None
    contractId: str | None = None
    declassification: Declassification | None = None
    path: str


class Product(Model):
    """A product descriptor, normalized from the native format or ODPS."""

    id: str
    name: str
    domain: str | None = Field(description="null only for an ODPS product that names no domain")
    version: str | None = None
    status: str | None = None
    owner: str | None = None
    description: str | None = None
    classification: str | None = None
    access: Access | None = None
    sla: Sla | None = None
    documentation: str | None = None
    schema_url: str | None = None
    support: Support | None = None
    monitoring: Monitoring | None = None
    tags: list[str] = Field(default_factory=empty_list)
    outputPorts: list[OutputPort] = Field(default_factory=empty_list)
    inputPorts: list[InputPort] = Field(default_factory=empty_list)
    format: Literal["native", "odps"]
    present: list[str] = Field(default_factory=empty_list, description="top-level keys written in the file")


class SchemaError(Model):
    message: str
    path: str = ""


class Column(Model):
    name: str | None = None
    physicalName: str | None = None
    logicalType: str | None = None
    physicalType: str | None = None
    classification: str | None = None
    tags: list[str] = Field(default_factory=empty_list)
    required: bool | None = None
    primaryKey: bool | None = None
    transformSourceObjects: list[str] = Field(default_factory=empty_list)
    declassification: Declassification | None = None
    path: str


class SchemaObject(Model):
    name: str | None = None
    physicalName: str | None = None
    physicalType: str | None = None
    path: str
    properties: list[Column] = Field(default_factory=empty_list)


class SlaProperty(Model):
    property: str | None = None
    value: Any = None
    unit: str | None = None
    element: str | None = None
    path: str


class ContractRole(Model):
    role: str | None = None
    access: str | None = None
    firstLevelApprovers: str | None = None
    secondLevelApprovers: str | None = None
    path: str


class TeamMember(Model):
    username: str | None = None
    role: str | None = None


class Contract(Model):
    """An ODCS data contract, normalized."""

    id: str | None = None
    version: str | None = None
    status: str | None = None
    apiVersion: str | None = None
    kind: str | None = None
    name: str | None = None
    domain: str | None = None
    dataProduct: str | None = None
    ports: list[str] = Field(default_factory=empty_list)
    valid: bool = True
    schema_errors: list[SchemaError] = Field(default_factory=empty_list)
    objects: list[SchemaObject] = Field(default_factory=empty_list)
    sla: list[SlaProperty] = Field(default_factory=empty_list)
    roles: list[ContractRole] = Field(default_factory=empty_list)
    team: list[TeamMember] = Field(default_factory=empty_list)


class UpstreamFact(Model):
    product: str | None = None
    domain: str | None = None
    classification: str | None = None
    status: str | None = None
    contractId: str | None = None
    found: bool
    contract_found: bool
    cross_domain: bool = False
    contract_status: str | None = Field(None, description="status of the upstream contract used, when found")
    consumers: list[str] = Field(default_factory=empty_list, description="the upstream product's access.consumers")
    access_model: str | None = None
    contract_roles: list[str] = Field(default_factory=empty_list, description="role names of the upstream contract")
    declassification: Declassification | None = Field(None, description="the input port's declared declassification")
    column_level: bool = Field(
        False, description="some column of the product's contracts names this upstream in transformSourceObjects"
    )
    declared: bool = Field(True, description="false for an edge only imported lineage (dbt, OpenLineage) shows")
    observed_in: str | None = Field(None, description="for an imported edge: the file that shows it")
    path: str


class DownstreamFact(Model):
    product: str
    domain: str | None
    classification: str | None = None
    status: str | None = None
    contractId: str | None = None
    cross_domain: bool = False


class ColumnSource(Model):
    product: str
    contract: str | None = None
    object: str | None = None
    column: str | None = None
    classification: str | None = None


class DanglingSource(Model):
    """A transformSourceObjects entry naming an upstream product's schema object and a column it lacks."""

    entry: str
    product: str
    object: str | None = None


class ColumnLineage(Model):
    """One column of the product's contracts that declares transformSourceObjects."""

    contract: str | None = None
    object: str | None = None
    column: str | None = None
    classification: str | None = None
    declassification: Declassification | None = None
    sources: list[ColumnSource] = Field(default_factory=empty_list, description="upstream columns the entries resolve to")
    unresolved: list[str] = Field(
        default_factory=empty_list,
        description="entries that name no object or column of an upstream contract (e.g. source tables)",
    )
    dangling: list[DanglingSource] = Field(
        default_factory=empty_list,
        description="of the unresolved, those naming an upstream's schema object and a column it does not have",
    )
    path: str


class Lineage(Model):
    on_cycle: bool = False
    cycle: list[str] = Field(default_factory=empty_list, description="the products of the cycle this product is on")
    depth: int = Field(0, description="longest chain of upstream products (0: a source); cycles count once")
    upstream: list[UpstreamFact] = Field(default_factory=empty_list)
    downstream: list[DownstreamFact] = Field(default_factory=empty_list)
    columns: list[ColumnLineage] = Field(
        default_factory=empty_list, description="column-level lineage of the product's contracts"
    )


class DomainEntry(Model):
    name: str
    owners: list[str] = Field(default_factory=empty_list)
    description: str | None = None


class InputDocument(Model):
    """What every rule sees for one product (docs/input.md)."""

    product: Product | None
    contracts: list[Contract] = Field(default_factory=empty_list)
    lineage: Lineage = Field(default_factory=Lineage)
    domain: DomainEntry | None = None
    params: dict[str, dict[str, Any]] = Field(default_factory=dict)
    now: str


# --- Rules -------------------------------------------------------------------------------------------


_PARAM_TYPES: dict[str, tuple[type, ...]] = {
    "string": (str,),
    "array": (list,),
    "number": (int, float),
    "integer": (int,),
    "boolean": (bool,),
    "object": (dict,),
}


class ParamSpec(Model):
    model_config = ConfigDict(extra="forbid")

    type: Literal["string", "array", "number", "integer", "boolean", "object"]
    # "regex": a regular expression in the syntax of Rego's regex builtins, where {domain} stands
    # for the product's domain (validate refuses a domain's value that is not one);
    # "classification-level": one of the council's classification_levels (for an array, each item)
    format: Literal["regex", "classification-level"] | None = None
    default: Any  # rules always get every parameter: a domain that sets none gets the default
    description: str | None = None
    # The council's limits on what a domain may set (the default is held to them too): the values
    # allowed (for an array, of each item), and bounds of a number.
    enum: list[Any] | None = None
    minimum: StrictInt | StrictFloat | None = None  # (strict: "5" is text, not the number 5)
    maximum: StrictInt | StrictFloat | None = None
    # For a regex: values it must not match ({domain} replaced in both), so that a domain cannot
    # loosen the rule to a pattern that takes anything (checked with the rules' own regex.match)
    rejects: list[StrictStr] | None = None

    @property
    def limits(self) -> list[str]:
        """What a domain's value must be besides its type, in words (for the catalog)."""
        level = "classification levels of the council" if self.type == "array" else "a classification level of the council"
        out = {"regex": ["a regular expression"], "classification-level": [level]}.get(self.format or "", [])
        if self.enum is not None:
            out.append(f"{'items ' if self.type == 'array' else ''}one of {', '.join(json.dumps(v) for v in self.enum)}")
        if self.minimum is not None:
            out.append(f"at least {self.minimum:g}")
        if self.maximum is not None:
            out.append(f"at most {self.maximum:g}")
        if self.rejects:
            out.append(f"not matching {', '.join(json.dumps(v) for v in self.rejects)}")
        return out

    def outside_limits(self, value: Any) -> str | None:
        """Why ``value`` (of the declared type) is outside the limits of ``enum``, ``minimum`` and
        ``maximum``, or None when it is within them."""
        items = value if self.type == "array" else [value]
        if self.enum is not None:
            odd = [item for item in items if item not in self.enum]
            if odd:
                allowed = ", ".join(json.dumps(v) for v in self.enum)
                return f"{'items' if self.type == 'array' else 'value'} must be one of {allowed}, not {json.dumps(odd[0])}"
        if self.minimum is not None and isinstance(value, int | float) and value < self.minimum:
            return f"must be at least {self.minimum:g}, not {json.dumps(value)}"
        if self.maximum is not None and isinstance(value, int | float) and value > self.maximum:
            return f"must be at most {self.maximum:g}, not {json.dumps(value)}"
        return None

    def accepts(self, value: Any) -> bool:
        """Whether ``value`` is of the declared type (true and false are not numbers) and can reach
        a rule as it is (JSON has no infinity or NaN: they would arrive as null)."""
        if isinstance(value, bool) and self.type != "boolean":
            return False
        if not isinstance(value, _PARAM_TYPES[self.type]):
            return False
        try:
            json.dumps(value, allow_nan=False)
        except ValueError:
            return False
        return True

    @model_validator(mode="after")
    def _default_fits(self) -> "ParamSpec":
        if not self.accepts(self.default):
            raise ValueError(f"default {json.dumps(self.default)} is not of type {self.type}")
        if self.format == "regex" and self.type != "string":
            raise ValueError(f"format regex is for strings, not {self.type}")
        if self.format == "classification-level" and self.type not in ("string", "array"):
            raise ValueError(f"format classification-level is for strings and arrays of them, not {self.type}")
        if self.rejects is not None and self.format != "regex":
            raise ValueError("rejects is for regular expressions (format: regex)")
        if (self.minimum is not None or self.maximum is not None) and self.type not in ("number", "integer"):
            raise ValueError(f"minimum and maximum are for numbers, not {self.type}")
        if self.minimum is not None and self.maximum is not None and self.minimum > self.maximum:
            raise ValueError(f"minimum {self.minimum:g} is above maximum {self.maximum:g}: no value could be set")
        outside = self.outside_limits(self.default)
        if outside is not None:
            raise ValueError(f"default: {outside}")
        return self


class RuleMeta(Model):
    """A rule's identity and metadata, from its package's METADATA annotation."""

    id: str
    title: str
    description: str
    category: Category
    severity: Severity
    enforcement: Enforcement
    override: Override
    params: dict[str, ParamSpec] = Field(default_factory=dict)
    effective_on: IsoDate | None = None
    remediation: str
    examples: dict[str, str] = Field(default_factory=dict)
    package: str
    file: str
    line: int
    domain: str | None = None

    @property
    def weight(self) -> int:
        return SEVERITY_WEIGHT[self.severity]


# --- Results -----------------------------------------------------------------------------------------


class Location(Model):
    file: str | None = None
    line: int | None = None
    path: str | None = None


class Finding(Model):
    fingerprint: str
    rule: str
    title: str
    category: str
    severity: Severity
    enforcement: Enforcement
    domain: str | None
    product: str
    message: str
    remediation: str
    status: Literal["open", "waived"] = "open"
    waiver: dict[str, Any] | None = None
    resource: str | None = None
    contract: str | None = Field(None, description="the id of the contract the finding is located in, if any")
    location: Location
    baseline: bool = Field(False, description="check --baseline: the finding is in the baseline report, so it does not count")

    @property
    def positional_fingerprint(self) -> str:
        """The fingerprint with the key path's list positions, as govern computed every fingerprint
        before 0.2."""
        return positional_fingerprint(self.rule, self.product, self.contract, self.location.path, self.resource)


def _fingerprint(*parts: str | None) -> str:
    return hashlib.sha256("\x1f".join(p or "" for p in parts).encode()).hexdigest()[:32]


_POSITION = re.compile(r"\[\d+\]")


def fingerprint(
    rule: str, product: str, contract: str | None, path: str | None, resource: str | None, occurrence: int = 0
) -> str:
    """A finding's identity across runs: rule, product, contract, key path and resource, not the
    message. A finding that names its resource is known by it rather than by the positions of the
    lists it lies in (``schema[].properties[].classification`` for ``orders.email``), so that a
    column or port added above it, or a list reordered, does not make it new. Of findings that
    would share one (two ports reading one upstream), each after the first in the file's order
    has its ``occurrence`` in it: one added below another leaves it as it was."""
    if resource is not None and path:
        path = _POSITION.sub("[]", path)
    if occurrence:
        return _fingerprint(rule, product, contract, path, resource, str(occurrence))
    return _fingerprint(rule, product, contract, path, resource)


def positional_fingerprint(rule: str, product: str, contract: str | None, path: str | None, resource: str | None) -> str:
    return _fingerprint(rule, product, contract, path, resource)


class RuleInfo(Model):
    """A rule the run applied, for writers that describe rules (SARIF, HTML)."""

    id: str
    title: str
    description: str
    category: str
    severity: Severity
    remediation: str
    file: str
    line: int


class ProductResult(Model):
    id: str
    name: str
    domain: str | None
    source: str
    description: str | None = None
    verdict: Literal["pass", "fail", "error"]
    score: float | None
    rules: int = 0
    errors: list[str] = Field(default_factory=empty_list)

    def named_errors(self) -> list[str]:
        """Its errors, each naming the product (one known by its file begins with it already)."""
        return [e if e.startswith(f"{self.id}:") else f"{self.id}: {e}" for e in self.errors]


class EngineInfo(Model):
    name: str
    version: str


class RunInfo(Model):
    id: str
    command: str
    started_at: str
    now: str
    govern_version: str
    engine: EngineInfo
    policies_digest: str
    governance_digest: str
    mesh: str | None = None


class FindingCounts(Model):
    open: int = 0
    waived: int = 0
    by_enforcement: dict[str, int] = Field(default_factory=lambda: {"blocking": 0, "warning": 0, "advisory": 0})


class Verdicts(Model):
    # "pass" is a keyword: the field is spelled with an alias.
    model_config = ConfigDict(populate_by_name=True)

    pass_: int = Field(0, alias="pass")
    fail: int = 0
    error: int = 0


class Summary(Model):
    products: int
    rules: int
    score: float | None
    verdicts: Verdicts
    findings: FindingCounts


class DomainSummary(Model):
    score: float | None
    products: int
    verdicts: Verdicts


class Waivers(Model):
    applied: list[dict[str, Any]] = Field(default_factory=empty_list)
    expiring: list[dict[str, Any]] = Field(default_factory=empty_list)
    expired: list[dict[str, Any]] = Field(default_factory=empty_list)
    unused: list[dict[str, Any]] = Field(default_factory=empty_list)


class Changes(Model):
    previous_run: str | None = None
    new: list[str] = Field(default_factory=empty_list)
    fixed: list[str] = Field(default_factory=empty_list)
    persisting: int = 0
    # earlier findings of products this audit could not evaluate (verdict error): neither fixed nor
    # persisting, and carried to the next audit's comparison, so they do not come back as new
    unknown: int = 0


class TrendPoint(Model):
    """One stored audit of the mesh, for the trend over time (oldest first, this run last)."""

    run: str
    started_at: str
    now: str
    score: float | None
    open: int
    domains: dict[str, float | None] = Field(default_factory=dict)


class GraphNode(Model):
    id: str
    domain: str | None = None
    status: str | None = None
    classification: str | None = None
    depth: int = 0
    missing: bool = False


class GraphEdge(Model):
    source: str = Field(alias="from")
    target: str = Field(alias="to")
    contractId: str | None = None
    declared: bool = True

    model_config = ConfigDict(populate_by_name=True)


class Graph(Model):
    nodes: list[GraphNode] = Field(default_factory=empty_list)
    edges: list[GraphEdge] = Field(default_factory=empty_list)


class Report(Model):
    """The ``govern.report/v1`` document; every output format is rendered from it."""

    model_config = ConfigDict(populate_by_name=True)
    # The mesh's folders the run could not look into (not a key of the document: its errors say so)
    unchecked: list[str] = Field(default_factory=list, exclude=True, repr=False)

    schema_: Literal["govern.report/v1"] = Field("govern.report/v1", alias="schema")
    run: RunInfo
    summary: Summary
    domains: dict[str, DomainSummary]
    products: list[ProductResult]
    findings: list[Finding]
    errors: list[str] = Field(default_factory=empty_list, description="problems outside any one product")
    rules: list[RuleInfo] = Field(default_factory=empty_list, description="the rules applied, by id")
    waivers: Waivers = Field(default_factory=Waivers)
    changes: Changes | None = None
    trend: list[TrendPoint] | None = Field(None, description="audits: stored audits of this mesh, oldest first, then this one")
    lineage: Graph | None = Field(None, description="audits: the mesh's product graph, for pictures")

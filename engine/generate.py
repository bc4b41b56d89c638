"""A deterministic synthetic mesh: ``govern generate OUT --products N --domains D --seed S``.

The output is a repository root of its own: ``govern.toml`` (pointing at the policy library in use),
``governance/`` (council with the generated domains, domain files with waivers) and ``mesh/`` with one
native descriptor and one ODCS contract of about 30 columns per product. Products read earlier
products (a DAG, a third of the reads across domains, each upstream listing its readers as consumers),
about a third of the products carry one or two deliberate violations from a fixed menu, and about half
of the waivable ones are waived. The same seed, sizes and ``--as-of`` date give the same files.
"""

from __future__ import annotations

import itertools
import random
from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path

import yaml

from engine.errors import UsageError, reason

DOMAIN_NAMES = [
    "orders", "customers", "inventory", "marketing", "finance", "logistics", "payments", "support",
    "pricing", "risk", "supply", "sales", "billing", "catalog", "people", "fleet",
]  # fmt: skip
ENTITIES = [
    "items", "events", "accounts", "sessions", "snapshots", "ledger", "shipments", "returns", "leads",
    "forecasts", "prices", "tickets", "stock", "visits", "claims", "routes", "invoices", "segments",
]  # fmt: skip
BUSINESS_TYPES = [("string", "varchar(64)"), ("integer", "integer"), ("number", "decimal(12,2)"), ("timestamp", "timestamp")]
METADATA = [
    ("ingested_at", "timestamp", "When the row was loaded into the platform."),
    ("source_system", "string", "Operational system the row was extracted from."),
    ("source_row_count", "integer", "Number of rows in the source extract of this load."),
    ("processed_at", "timestamp", "When the pipeline finished transforming the row."),
]
QUALITY = [
    ("completeness_score", "number", "Share of required fields that are filled in the load (0 to 1)."),
    ("validity_score", "number", "Share of rows that pass the validity checks of the load (0 to 1)."),
    ("last_test_run", "timestamp", "When the data quality tests last ran on this table."),
]
# Deliberate violations and the rule each one breaks; the waivable ones may get a waiver.
VIOLATIONS = {
    "name": "NAM-001",
    "column_case": "NAM-002",
    "no_classification": "CLS-001",
    "pii_internal": "CLS-004",
    "no_monitoring": "STD-004",
    "draft_contract": "CON-004",
    "no_processed_at": "STD-002",
    "no_latency": "CON-006",
    "unknown_upstream": "CON-007",
}
WAIVABLE = {"draft_contract", "no_processed_at"}
MEMBERS = ["council.chair@example.com", "council.member@example.com"]
APPROVED, EXPIRES = timedelta(days=-10), timedelta(days=90)  # a waiver's days, from --as-of


def waiver_days(as_of: date) -> tuple[date, date]:
    """The day a generated waiver is approved on and the day it expires (OverflowError when one
    of them is not in the calendar)."""
    return as_of + APPROVED, as_of + EXPIRES


@dataclass
class Product:
    index: int
    domain: str
    name: str
    classification: str
    status: str
    violations: list[str]
    upstream: list[int] = field(default_factory=list)
    readers: set[str] = field(default_factory=set)  # domains whose products read this one

    @property
    def folder(self) -> str:
        return f"p{self.index:06d}"

    @property
    def contract_id(self) -> str:
        return f"{self.domain}-{self.folder}-v1"

    @property
    def team(self) -> str:
        return f"{self.domain}-team"


def domain_names(count: int, taken: frozenset[str] = frozenset()) -> list[str]:
    """``count`` domain names, none of ``taken`` (the domains with rules of their own in the policy
    library, which would break them besides the deliberate violations)."""
    names = (
        DOMAIN_NAMES[i % len(DOMAIN_NAMES)] + (str(i // len(DOMAIN_NAMES)) if i >= len(DOMAIN_NAMES) else "")
        for i in itertools.count()
    )
    return list(itertools.islice((n for n in names if n not in taken), count))


def plan(products: int, domains: int, seed: int, taken: frozenset[str] = frozenset()) -> list[Product]:
    """Who is who: names, classifications, lineage and violations, before anything is written."""
    rng = random.Random(seed)
    names = domain_names(domains, taken)
    planned: list[Product] = []
    for i in range(products):
        domain = names[i % domains]
        entity = ENTITIES[rng.randrange(len(ENTITIES))]
        violations = sorted(rng.sample(sorted(VIOLATIONS), rng.choice([1, 1, 2]))) if rng.random() < 0.3 else []
        status = "retired" if i > 10 and rng.random() < 0.02 else "active"
        classification = "restricted" if rng.random() < 0.3 else "internal"
        name = f"{domain}_{entity}_{i:06d}"
        if "name" in violations:
            name = f"{domain.capitalize()}{entity.capitalize()}{i:06d}"
        product = Product(i, domain, name, classification, status, violations)
        if i > 0:
            for _ in range(rng.choice([0, 1, 1, 2, 3])):
                if rng.random() < 0.33:
                    j = rng.randrange(i)
                else:  # same domain: products i - domains, i - 2 * domains, ...
                    same = list(range(i % domains, i, domains))
                    j = rng.choice(same) if same else rng.randrange(i)
                if j not in product.upstream and planned[j].status == "active":
                    product.upstream.append(j)
        planned.append(product)
    for product in planned:
        for j in product.upstream:
            upstream = planned[j]
            upstream.readers.add(product.domain)
            if upstream.classification == "restricted":
                product.classification = "restricted"  # LIN-005: at least as classified as what it reads
    for product in planned:
        # A draft contract read across domains breaks LIN-004 too, and a retired product's is exempt
        # (CON-004): the audit would not find what the summary says.
        if "draft_contract" in product.violations and (product.status != "active" or product.readers - {product.domain}):
            product.violations.remove("draft_contract")
    return planned


def _column(name: str, logical: str, physical: str, description: str, classification: str | None, **extra: object) -> dict:
    column: dict = {"name": name, "logicalType": logical, "physicalType": physical, "description": description}
    if classification is not None:
        column["classification"] = classification
    column.update(extra)
    return column


def contract(p: Product, rng: random.Random) -> dict:
    level = p.classification
    columns = [
        _column("record_id", "string", "varchar(36)", "Identifier of the record.", "internal", primaryKey=True, required=True)
    ]
    for k in range(20):
        logical, physical = BUSINESS_TYPES[rng.randrange(len(BUSINESS_TYPES))]
        name = f"attribute_{k:02d}"
        if k == 0 and "column_case" in p.violations:
            name = "AttributeZero"
        columns.append(_column(name, logical, physical, f"Business attribute {k} of the record.", "internal"))
    if level == "restricted" or "pii_internal" in p.violations:
        pii_level = "internal" if "pii_internal" in p.violations else "restricted"
        for name in ("email", "phone_number"):
            columns.append(_column(name, "string", "varchar(128)", f"Contact {name} of the person.", pii_level, tags=["pii"]))
    for name, logical, description in METADATA:
        if name == "processed_at" and "no_processed_at" in p.violations:
            continue
        columns.append(_column(name, logical, logical, description, "internal", tags=["metadata"]))
    for name, logical, description in QUALITY:
        columns.append(_column(name, logical, logical, description, "internal", tags=["quality"]))
    sla = [{"property": "retention", "value": 3, "unit": "y"}, {"property": "frequency", "value": 1, "unit": "d"}]
    if "no_latency" not in p.violations:
        sla.insert(0, {"property": "latency", "value": 1, "unit": "d"})
    return {
        "apiVersion": "v3.1.0",
        "kind": "DataContract",
        "id": p.contract_id,
        "name": f"{p.name} records",
        "version": "1.0.0",
        "status": "draft" if "draft_contract" in p.violations else ("retired" if p.status == "retired" else "active"),
        "domain": p.domain,
        "dataProduct": p.name,
        "description": {"purpose": f"Records of {p.name}.", "usage": "Analytics and reporting."},
        "schema": [
            {
                "name": "records",
                "physicalName": f"{p.domain}.{p.folder}_records",
                "physicalType": "table",
                "description": f"The records of {p.name}.",
                "properties": columns,
            }
        ],
        "slaProperties": sla,
        "support": [{"channel": f"{p.domain}-data@example.com", "tool": "email", "url": f"mailto:{p.domain}-data@example.com"}],
        "team": {"name": p.team, "members": [{"username": f"owner@{p.domain}.example.com", "role": "owner"}]},
        "roles": [{"role": f"{p.folder}_reader", "access": "read", "firstLevelApprovers": f"owner@{p.domain}.example.com"}],
    }


def descriptor(p: Product, planned: list[Product]) -> dict:
    doc: dict = {
        "kind": "DataProduct",
        "name": p.name,
        "domain": p.domain,
        "version": "1.0.0",
        "status": p.status,
        "owner": p.team,
        "description": f"Synthetic product {p.index} of the {p.domain} domain.",
        "classification": p.classification,
        "access": {
            "model": "restricted",
            "consumers": sorted({"analytics-team"} | {f"{d}-team" for d in p.readers}),
            "approvers": [f"owner@{p.domain}.example.com"],
        },
        "sla": {"quality": "99% complete", "freshness": "1d", "retention": "3y"},
        "documentation": f"https://data.example.com/{p.domain}/{p.folder}",
        "support": {"email": f"{p.domain}-data@example.com", "slack": f"#{p.domain}-data"},
        "schema_url": f"https://data.example.com/{p.domain}/{p.folder}/schema",
        "monitoring": {
            "freshness_metric": f"{p.folder}_freshness_minutes",
            "volume_metric": f"{p.folder}_row_count",
            "quality_metric": f"{p.folder}_quality_score",
        },
        "outputPorts": [{"name": "records", "contractId": p.contract_id, "visibility": "internal"}],
    }
    if "no_classification" in p.violations:
        del doc["classification"]
    if "no_monitoring" in p.violations:
        del doc["monitoring"]
    ports = [{"product": planned[j].name, "contractId": planned[j].contract_id} for j in p.upstream]
    if "unknown_upstream" in p.violations:
        ports.append({"product": f"{p.domain}_vanished_feed", "contractId": f"{p.domain}-vanished-feed-v1"})
    if ports:
        doc["inputPorts"] = ports
    return doc


def _dump(path: Path, data: dict) -> None:
    path.write_text(yaml.dump(data, Dumper=yaml.CSafeDumper, sort_keys=False, width=120), encoding="utf-8")


def generate(out: Path, products: int, domains: int, seed: int, policies: Path, as_of: date) -> dict[str, int]:
    """Write the mesh; returns counts of what was written (products, violations per rule, waivers)."""
    if products < 1 or domains < 1:
        raise UsageError("--products and --domains must be at least 1")
    if out.exists() and any(out.iterdir()):
        raise UsageError(f"{out} is not empty: generate into a new folder")
    domains = min(domains, products)
    own = policies / "domains"
    taken = frozenset(d.name for d in own.iterdir() if d.is_dir()) if own.is_dir() else frozenset()
    planned = plan(products, domains, seed, taken)
    rng = random.Random(seed + 1)
    names = domain_names(domains, taken)
    try:
        (out / "governance" / "domains").mkdir(parents=True)
    except OSError as e:  # (a file on the way, a link to nowhere, a loop of links)
        raise UsageError(f"cannot create {out}/governance/domains: {reason(e)}") from None
    toml = [
        f"# Generated by govern generate --products {products} --domains {domains} --seed {seed}",
        f'policies = "{policies.resolve().as_posix()}"',
        'governance = "governance"',
        'mesh = "mesh"',
    ]
    tests = policies.resolve().parent / "policy_tests"
    if tests.is_dir():
        toml.append(f'policy_tests = "{tests.as_posix()}"')
    (out / "govern.toml").write_text("\n".join(toml) + "\n", encoding="utf-8")
    _dump(
        out / "governance" / "council.yaml",
        {
            "council": {"members": MEMBERS, "max_waiver_days": 180},
            "classification_levels": ["public", "internal", "restricted", "confidential"],
            # (and those with rules of their own in the library: registered, with no products)
            "domains": {d: {"owners": [f"{d}-team"], "description": f"Synthetic domain {d}"} for d in [*names, *sorted(taken)]},
        },
    )
    waivers: dict[str, list[dict]] = {d: [] for d in names}
    counts: dict[str, int] = {"products": products, "waivers": 0}
    for p in planned:
        folder = out / "mesh" / p.domain / p.folder
        folder.mkdir(parents=True)
        _dump(folder / "dataproduct.yaml", descriptor(p, planned))
        _dump(folder / f"{p.contract_id}.odcs.yaml", contract(p, rng))
        for v in p.violations:
            counts[VIOLATIONS[v]] = counts.get(VIOLATIONS[v], 0) + 1
            if v in WAIVABLE and p.status == "active" and rng.random() < 0.5:
                waivers[p.domain].append(
                    {
                        "rule": VIOLATIONS[v],
                        "product": p.name,
                        "reason": "Fix scheduled with the next release of the pipeline",
                        "ticket": f"GOV-{p.index}",
                        "approved_by": MEMBERS[p.index % len(MEMBERS)],
                        "approved_on": waiver_days(as_of)[0].isoformat(),
                        "expires": waiver_days(as_of)[1].isoformat(),
                    }
                )
                counts["waivers"] += 1
    for d in names:
        if waivers[d]:
            _dump(out / "governance" / "domains" / f"{d}.yaml", {"domain": d, "waivers": waivers[d]})
    return counts

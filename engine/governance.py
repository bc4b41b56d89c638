"""The council's configuration (governance/council.yaml) and the domains' (governance/domains/<d>.yaml)."""

import hashlib
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path
from typing import Any, TypeVar

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from engine.config import display, escaped, missing_folder
from engine.errors import ConfigError, ConfigErrors, LoadError
from engine.gather.yamlsrc import Located, load_bytes, read_bytes, validation_errors
from engine.model import DomainEntry, Enforcement, IsoDate, empty_list

DEFAULT_LEVELS = ["public", "internal", "restricted", "confidential"]


class _Config(BaseModel):
    model_config = ConfigDict(extra="forbid", defer_build=True)


class CouncilBody(_Config):
    members: list[str] = Field(default_factory=empty_list)
    max_waiver_days: int = Field(default=180, strict=True, ge=1)  # (not true, not "180")


class DomainRegistration(_Config):
    owners: list[str] = Field(default_factory=empty_list)
    description: str | None = None


class CouncilRule(_Config):
    enforcement: Enforcement | None = None
    effective_on: IsoDate | None = None


class CouncilConfig(_Config):
    council: CouncilBody = Field(default_factory=CouncilBody)
    classification_levels: list[str] = Field(default_factory=lambda: list(DEFAULT_LEVELS), min_length=1)
    domains: dict[str, DomainRegistration] = Field(default_factory=dict)
    rules: dict[str, CouncilRule] = Field(default_factory=dict)


class Waiver(_Config):
    """A time-bound, approved exception: turns matching findings into ``waived``."""

    rule: str
    product: str
    reason: str = Field(min_length=1)
    ticket: str = Field(min_length=1)  # where the exception was asked for and approved
    approved_by: str = Field(min_length=1)
    approved_on: IsoDate | None = None
    expires: IsoDate
    resource: str | None = None  # only findings about this resource (column, port, upstream)
    path: str | None = None  # only findings at this key path

    def matches(self, rule: str, product: str, resource: str | None, path: str | None) -> bool:
        return (
            self.rule == rule
            and self.product == product
            and (self.resource is None or self.resource == resource)
            and (self.path is None or self.path == path)
        )

    def active(self, now: datetime) -> bool:
        """A waiver applies through the whole day it expires."""
        return now.date() <= date.fromisoformat(self.expires)

    def approved_after(self, now: datetime) -> bool:
        """Whether it was approved after ``now``: a run as of an earlier day (--now) has no such waiver."""
        return self.approved_on is not None and date.fromisoformat(self.approved_on) > now.date()


class DomainConfig(_Config):
    domain: str
    params: dict[str, dict[str, Any]] = Field(default_factory=dict)
    enforcement: dict[str, Enforcement] = Field(default_factory=dict)
    waivers: list[Waiver] = Field(default_factory=empty_list)


@dataclass
class DomainFile:
    config: DomainConfig
    doc: Located
    # The position in the file of each of config.waivers, where some were left out for problems
    # of their own (the rest are still validated); None: each at its own index.
    waiver_positions: list[int] | None = None

    def line_of(self, path: str) -> int:
        return self.doc.line_of(path)

    def waiver_path(self, i: int) -> str:
        """The key path in the file of ``config.waivers[i]``."""
        return f"waivers[{self.waiver_positions[i] if self.waiver_positions is not None else i}]"


@dataclass
class Governance:
    council: CouncilConfig
    doc: Located | None
    digest: str
    domains: dict[str, DomainFile] = field(default_factory=dict)
    problems: list[ConfigError] = field(default_factory=list)  # domain files that could not be loaded

    def domain_config(self, name: str | None) -> DomainFile | None:
        return self.domains.get(name or "")

    def domain_entry(self, name: str | None) -> DomainEntry | None:
        reg = self.council.domains.get(name or "")
        return DomainEntry(name=name, owners=reg.owners, description=reg.description) if reg and name else None

    def data(self) -> dict:
        """Council facts given to every rule as ``data.govern.council``."""
        return {
            "govern": {
                "council": {
                    "classification_levels": self.council.classification_levels,
                    "domains": sorted(self.council.domains),
                }
            }
        }


_C = TypeVar("_C", bound=BaseModel)


def _read(path: Path) -> bytes:
    """A configuration file's bytes (read once: its digest and its content are of the same bytes)."""
    try:
        return read_bytes(path, display(path))
    except LoadError as e:
        raise ConfigError(e.message, e.file, e.line) from None


def _load_config(path: Path, raw: bytes, model: type[_C], what: str) -> tuple[Located, _C]:
    """A YAML configuration file's bytes as a pydantic model; every problem is a ConfigError with file:line."""
    doc = _load_doc(path, raw, what)
    try:
        return doc, model.model_validate(doc.data)
    except ValidationError as e:
        raise _config_errors(e, doc, what) from None


def _load_doc(path: Path, raw: bytes, what: str) -> Located:
    try:
        doc = load_bytes(raw, display(path))
    except LoadError as e:
        raise ConfigError(e.message, e.file, e.line) from None
    if not isinstance(doc.data, dict):
        raise ConfigError(f"a {what} must be a mapping", doc.file, 1)
    return doc


def _config_errors(e: ValidationError, doc: Located, what: str) -> ConfigErrors:
    return ConfigErrors([ConfigError(err.message, err.file, err.line) for err in validation_errors(e, doc, what)])


def load_governance(folder: Path) -> Governance:
    path = folder / "council.yaml"
    if not path.is_file():
        raise missing_folder("council configuration", path, "--governance")
    raw = _read(path)
    doc, council = _load_config(path, raw, CouncilConfig, "council configuration")
    levels = council.classification_levels
    if len(set(levels)) != len(levels):
        raise ConfigError("classification_levels has duplicates", doc.file, doc.line_of("classification_levels"))
    digest = hashlib.sha256(raw)
    governance = Governance(council=council, doc=doc, digest="")
    for domain_path in sorted((folder / "domains").glob("*.y*ml")):
        shown = escaped(display(domain_path))
        if shown is not None:  # (its name is its domain's, and goes into the digest)
            governance.problems.append(ConfigError("the name of this domain configuration is not UTF-8: rename it", shown))
            continue
        try:
            raw = _read(domain_path)  # (a folder, a broken link, a loop of links: cannot be read)
            digest.update(b"\0" + domain_path.name.encode() + b"\0" + raw)
            loaded, problems = _load_domain(domain_path, raw)
        except ConfigError as e:
            governance.problems.extend(e.problems if isinstance(e, ConfigErrors) else [e])
            continue
        governance.problems.extend(problems)
        first = governance.domains.get(loaded.config.domain)
        if first is not None:  # orders.yaml and orders.yml: neither silently replaces the other
            governance.problems.append(
                ConfigError(
                    f"domain {loaded.config.domain!r} is already configured in {first.doc.file}",
                    loaded.doc.file,
                    loaded.doc.line_of("domain"),
                )
            )
            continue
        governance.domains[loaded.config.domain] = loaded
    governance.digest = "sha256:" + digest.hexdigest()
    return governance


def _load_domain(path: Path, raw: bytes) -> tuple[DomainFile, list[ConfigError]]:
    """A domain's file, and its problems of form (a wrong type, an unknown key, a bad date). The
    entries with such a problem are left out and the rest is kept, so that validate goes on to
    judge it against the council's limits and lists every problem of the file at once (a run
    refuses the configuration for any of them all the same)."""
    what = "domain configuration"
    doc = _load_doc(path, raw, what)
    problems: list[ConfigError] = []
    positions = None
    try:
        config = DomainConfig.model_validate(doc.data)
    except ValidationError as e:
        errors = _config_errors(e, doc, what)
        salvaged, positions = _without_invalid(doc.data, e)
        try:
            config = DomainConfig.model_validate(salvaged)
        except ValidationError:  # (the domain itself, or the file as a whole: nothing to judge)
            raise errors from None
        problems = errors.problems
    if config.domain != path.stem:
        raise ConfigErrors(
            [
                *problems,
                ConfigError(
                    f"domain {config.domain!r} does not match the file name {path.name} (expected domain: {path.stem})",
                    doc.file,
                    doc.line_of("domain"),
                ),
            ]
        )
    return DomainFile(config=config, doc=doc, waiver_positions=positions), problems


def _without_invalid(data: dict, e: ValidationError) -> tuple[dict, list[int] | None]:
    """A domain file's data without the entries pydantic found a problem in: a parameter setting or
    enforcement of one rule, one waiver, or a top-level key; and the positions of the waivers kept."""
    out = dict(data)
    waivers = out.get("waivers")
    dropped: set[int] = set()
    for err in e.errors():
        head, *rest = err["loc"] or ("",)
        if head == "waivers" and rest and isinstance(rest[0], int) and isinstance(waivers, list):
            dropped.add(rest[0])
        elif head in ("params", "enforcement") and rest and isinstance(out.get(head), dict):
            out[head] = {k: v for k, v in out[head].items() if k != rest[0]}
        else:
            out.pop(str(head), None)
    if "waivers" not in out or not isinstance(waivers, list):
        return out, None
    kept = [i for i in range(len(waivers)) if i not in dropped]
    out["waivers"] = [waivers[i] for i in kept]
    return out, kept

"""The council's configuration (governance/council.yaml), loaded into pydantic models."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from engine.config import display
from engine.errors import ConfigError, LoadError
from engine.gather.yamlsrc import Located, load_file, validation_error
from engine.model import DomainEntry, Enforcement

DEFAULT_LEVELS = ["public", "internal", "restricted", "confidential"]


class _Config(BaseModel):
    model_config = ConfigDict(extra="forbid")


class CouncilBody(_Config):
    members: list[str] = Field(default_factory=list)
    max_waiver_days: int = 180


class DomainRegistration(_Config):
    owners: list[str] = Field(default_factory=list)
    description: str | None = None


class CouncilRule(_Config):
    enforcement: Enforcement | None = None
    effective_on: str | None = None


class CouncilConfig(_Config):
    council: CouncilBody = Field(default_factory=CouncilBody)
    classification_levels: list[str] = Field(default_factory=lambda: list(DEFAULT_LEVELS), min_length=1)
    domains: dict[str, DomainRegistration] = Field(default_factory=dict)
    rules: dict[str, CouncilRule] = Field(default_factory=dict)


@dataclass
class Governance:
    council: CouncilConfig
    doc: Located | None
    digest: str

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


def load_governance(folder: Path) -> Governance:
    path = folder / "council.yaml"
    if not path.is_file():
        raise ConfigError(f"no council configuration: {display(path)} does not exist (set --governance)")
    try:
        doc = load_file(path, display(path))
    except LoadError as e:
        raise ConfigError(e.message, e.file, e.line) from None
    if not isinstance(doc.data, dict):
        raise ConfigError("council.yaml must be a mapping", doc.file, 1)
    try:
        council = CouncilConfig.model_validate(doc.data)
    except ValidationError as e:
        err = validation_error(e, doc, "council configuration")
        raise ConfigError(err.message, err.file, err.line) from None
    levels = council.classification_levels
    if len(set(levels)) != len(levels):
        raise ConfigError("classification_levels has duplicates", doc.file, doc.line_of("classification_levels"))
    digest = "sha256:" + hashlib.sha256(path.read_bytes()).hexdigest()
    return Governance(council=council, doc=doc, digest=digest)

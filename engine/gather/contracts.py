"""ODCS v3.x data contracts, loaded with the ``open-data-contract-standard`` package.

A contract that breaks the ODCS JSON Schema (the one the package ships) or the package's model is
still loaded: its problems become ``schema_errors`` in the input document, where rule CON-001
reports them, so a broken contract is a finding at its file and line rather than a crash.

The ODCS models and the schema validator are imported when a contract is first loaded (a tenth of a
second of start-up): a check whose contracts all come from the cache never needs them.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import cache
from importlib import resources
from typing import TYPE_CHECKING, Any

from pydantic import ValidationError

from engine.gather.yamlsrc import Located, join
from engine.model import (
    Contract,
    Declassification,
    SchemaError,
    declassification,
)

if TYPE_CHECKING:
    import jsonschema_rs
    from open_data_contract_standard.model import OpenDataContractStandard, SchemaProperty


@dataclass
class LoadedContract:
    contract: Contract
    doc: Located


@cache
def _validator() -> jsonschema_rs.Validator:
    import jsonschema_rs

    # The schema the package ships (read directly: its json_schema() helper uses a deprecated API).
    schema = resources.files("open_data_contract_standard").joinpath("schema.json").read_text(encoding="utf-8")
    return jsonschema_rs.validator_for(json.loads(schema))


def _path(parts: Any) -> str:
    path = ""
    for key in parts:
        path = join(path, key)
    return path


def schema_errors(data: Any) -> list[SchemaError]:
    """Every violation of the ODCS JSON Schema, in document order."""
    errors = sorted(_validator().iter_errors(data), key=lambda e: [str(p) for p in e.instance_path])
    return [SchemaError(message=_short(e.message), path=_path(e.instance_path)) for e in errors]


def _short(message: str, limit: int = 300) -> str:
    return message if len(message) <= limit else message[: limit - 3] + "..."


def _as_str(value: Any) -> str | None:
    return None if value is None else str(value)


def load_contract(doc: Located) -> LoadedContract:
    data = doc.data
    if not isinstance(data, dict):
        contract = Contract(
            valid=False,
            schema_errors=[SchemaError(message=f"a contract must be a mapping, not {type(data).__name__}")],
        )
        return LoadedContract(contract, doc)
    from open_data_contract_standard.model import OpenDataContractStandard

    errors = schema_errors(data)
    model: OpenDataContractStandard | None = None
    try:
        model = OpenDataContractStandard.model_validate(data)
    except ValidationError as e:
        seen = {(x.path) for x in errors}
        for err in e.errors():
            path = _path(p for p in err["loc"] if p != "schema_" and not _is_union_tag(p))
            path = path.replace("schema_", "schema")
            if path not in seen:
                errors.append(SchemaError(message=_short(err["msg"]), path=path))
    fields: dict[str, Any] = {
        name: _as_str(data.get(name))
        for name in ("id", "version", "status", "apiVersion", "kind", "name", "domain", "dataProduct")
    }
    if model is not None:
        fields.update(_from_model(model))
    # One validation of the whole contract (in pydantic's core) rather than a model built per
    # column: the columns of a 30-column contract in about half the time. The values come from the
    # ODCS model, of the same types as govern's fields, so it cannot fail.
    contract = Contract.model_validate({**fields, "valid": not errors, "schema_errors": errors})
    return LoadedContract(contract, doc)


def _is_union_tag(part: Any) -> bool:
    # pydantic puts the union member tried into the location ("list[TeamMember]", "str", ...)
    return isinstance(part, str) and ("[" in part or part in {"str", "int", "float", "bool", "Team"})


def _from_model(m: OpenDataContractStandard) -> dict[str, Any]:
    """The fields of govern's contract that come from the validated ODCS model, as plain values."""
    objects = []
    for i, obj in enumerate(m.schema_ or []):
        path = f"schema[{i}]"
        columns: list[dict[str, Any]] = []
        _flatten(obj.properties or [], f"{path}.properties", columns)
        objects.append(
            {
                "name": obj.name,
                "physicalName": obj.physicalName,
                "physicalType": obj.physicalType,
                "path": path,
                "properties": columns,
            }
        )
    members = m.team if isinstance(m.team, list) else (m.team.members or [] if m.team else [])
    return {
        "objects": objects,
        "sla": [
            {"property": s.property, "value": s.value, "unit": s.unit, "element": s.element, "path": f"slaProperties[{i}]"}
            for i, s in enumerate(m.slaProperties or [])
        ],
        "roles": [
            {
                "role": r.role,
                "access": r.access,
                "firstLevelApprovers": r.firstLevelApprovers,
                "secondLevelApprovers": r.secondLevelApprovers,
                "path": f"roles[{i}]",
            }
            for i, r in enumerate(m.roles or [])
        ],
        "team": [{"username": t.username, "role": t.role} for t in members],
    }


def _declassification(p: SchemaProperty, path: str) -> Declassification | None:
    """The column's ``declassification`` custom property; a malformed one is kept as its method text."""
    for c in p.customProperties or []:
        if c.property == "declassification":
            try:
                return declassification(c.value)
            except ValidationError:
                return Declassification(method=str(c.value))
    return None


def _flatten(props: list[SchemaProperty], base: str, out: list[dict[str, Any]]) -> None:
    for i, p in enumerate(props):
        path = f"{base}[{i}]"
        out.append(
            {
                "name": p.name,
                "physicalName": p.physicalName,
                "logicalType": p.logicalType,
                "physicalType": p.physicalType,
                "classification": p.classification,
                "tags": p.tags or [],
                "required": p.required,
                "primaryKey": p.primaryKey,
                "transformSourceObjects": p.transformSourceObjects or [],
                "declassification": _declassification(p, path),
                "path": path,
            }
        )
        if p.properties:
            _flatten(p.properties, f"{path}.properties", out)
        if p.items and p.items.properties:
            _flatten(p.items.properties, f"{path}.items.properties", out)

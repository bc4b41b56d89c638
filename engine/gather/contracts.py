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

from engine.gather.yamlsrc import NUMBER_HINT, Located, join
from engine.model import (
    Contract,
    Declassification,
    SchemaError,
    declassification,
)

if TYPE_CHECKING:
    import jsonschema_rs
    from open_data_contract_standard.model import (
        OpenDataContractStandard,
        Role,
        SchemaObject,
        SchemaProperty,
        ServiceLevelAgreementProperty,
        Team,
        TeamMember,
    )


@dataclass
class LoadedContract:
    contract: Contract
    doc: Located


@cache
def _schema() -> dict:
    # The schema the package ships (read directly: its json_schema() helper uses a deprecated API).
    schema = json.loads(resources.files("open_data_contract_standard").joinpath("schema.json").read_text(encoding="utf-8"))
    _conditions_on_written_keys(schema)
    return schema


def _conditions_on_written_keys(schema: dict) -> None:
    """Make each ``if`` that tests the value of a key hold only where the key is written.

    ODCS v3.2.0's schema makes a column's ``map`` required "if logicalType is map" with an ``if``
    of ``properties`` alone, which JSON Schema takes as true when ``logicalType`` is absent: every
    column without a logicalType (optional in ODCS) was told that "map" is a required property.
    The conditions on its server ``type`` already say ``required``, as these mean to."""
    stack: list[object] = [schema]
    while stack:
        item = stack.pop()
        if isinstance(item, dict):
            condition = item.get("if")
            if isinstance(condition, dict) and isinstance(condition.get("properties"), dict):
                written = [key for key, test in condition["properties"].items() if isinstance(test, dict) and "const" in test]
                condition["required"] = sorted(set(condition.get("required", [])) | set(written))
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)


@cache
def _validator() -> jsonschema_rs.Validator:
    import jsonschema_rs

    return jsonschema_rs.validator_for(_schema())


@cache
def _declared() -> frozenset[str]:
    """Every key the schema declares somewhere (``properties`` of any of its objects)."""
    found: set[str] = set()
    stack: list[object] = [_schema()]
    while stack:
        item = stack.pop()
        if isinstance(item, dict):
            if isinstance(item.get("properties"), dict):
                found.update(item["properties"])
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)
    return frozenset(found)


def _path(parts: Any) -> str:
    path = ""
    for key in parts:
        path = join(path, key)
    return path


def schema_errors(data: Any) -> list[SchemaError]:
    """Every violation of the ODCS JSON Schema, in document order."""
    import jsonschema_rs

    kinds = jsonschema_rs.ValidationErrorKind
    errors = [found for e in _validator().iter_errors(data) for found in _closest(e, kinds)]
    # Where an object, or a value inside it, breaks its schema, the keys the failed subschema had
    # declared count as "unevaluated" too (a column whose name is a number: "'name', 'description'
    # were unexpected"; a server without its type: "'host' was unexpected"): in an object with an
    # error at it or inside, only keys the schema declares nowhere are.
    unevaluated = kinds.UnevaluatedProperties
    erring = {
        tuple(e.instance_path[:n]) for e in errors if not isinstance(e.kind, unevaluated) for n in range(len(e.instance_path) + 1)
    }
    found: dict[tuple[str, str], tuple[list[str], SchemaError]] = {}  # (each once: branches of the schema repeat them)
    for e in errors:
        parent = [str(p) for p in e.instance_path]
        if isinstance(e.kind, kinds.AdditionalProperties | unevaluated):
            unexpected = e.kind.unexpected
            if isinstance(e.kind, unevaluated) and tuple(e.instance_path) in erring:
                unexpected = [key for key in unexpected if key not in _declared()]
            what = "Additional" if isinstance(e.kind, kinds.AdditionalProperties) else "Unevaluated"
            # one error at each unexpected key (its line), not one at the object that holds them
            for key in unexpected:
                message = f"{what} properties are not allowed ({key!r} was unexpected)"
                error = SchemaError(message=message, path=_path([*e.instance_path, key]))
                found.setdefault((error.path, error.message), ([*parent, key], error))
        else:
            message = e.message
            if isinstance(e.kind, kinds.OneOfNotValid):  # (no alternative came close: what each lacks)
                message = f"{_shown_json(e.instance)} matches none of the forms ODCS allows here"
                wanted = [b[0].kind.property for b in e.kind.context if len(b) == 1 and isinstance(b[0].kind, kinds.Required)]
                if wanted and len(wanted) == len(e.kind.context):
                    message += f": it needs one of {', '.join(_shown_json(w) for w in wanted)}"
            elif isinstance(e.kind, kinds.OneOfMultipleValid):  # (a quality check with mustBe and mustNotBe)
                message = f"{_shown_json(e.instance)} matches more than one of the forms ODCS allows here, where exactly one must"
            if isinstance(e.kind, kinds.Type) and type(e.instance) in (int, float) and "string" in str(e.kind.types):
                message += NUMBER_HINT  # (version: 1.10 is the number 1.1)
            if isinstance(e.kind, kinds.Enum) and len(e.kind.options) > 1:  # (its message: two, "or 9 other candidates")
                values = [_shown_json(option) for option in e.kind.options]
                message = f"{_shown_json(e.instance)} is not one of {', '.join(values[:-1])} or {values[-1]}"
            error = SchemaError(message=_short(message), path=_path(e.instance_path))
            found.setdefault((error.path, error.message), (parent, error))
    return [error for _, error in sorted(found.values(), key=lambda item: item[0])]


def _closest(error: Any, kinds: Any) -> list[Any]:
    """A schema error as the author can act on it: where a value matches none of a ``oneOf``'s
    alternatives and exactly one of them fails only inside it (a quality check's
    ``mustBeBetween: [100]``, too short, where the others want another operator), that one's
    errors ("[100] has less than 2 items", at ``mustBeBetween``) rather than JSON Schema's
    "is not valid under any of the schemas listed in the 'oneOf' keyword"."""
    if not isinstance(error.kind, kinds.OneOfNotValid):
        return [error]
    depth = len(error.instance_path)
    inside = [branch for branch in map(list, error.kind.context) if branch and all(len(e.instance_path) > depth for e in branch)]
    return [found for e in inside[0] for found in _closest(e, kinds)] if len(inside) == 1 else [error]


def _shown_json(value: Any) -> str:
    """A value in a schema error, as the validator shows values (compact JSON, text as it is)."""
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


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
    fields.update(_from_model(model if model is not None else _parts(data), errors))
    # One validation of the whole contract (in pydantic's core) rather than a model built per
    # column: the columns of a 30-column contract in about half the time. The values come from the
    # ODCS model, of the same types as govern's fields, so it cannot fail.
    contract = Contract.model_validate({**fields, "valid": not errors, "schema_errors": errors})
    return LoadedContract(contract, doc)


def _is_union_tag(part: Any) -> bool:
    # pydantic puts the union member tried into the location ("list[TeamMember]", "str", ...)
    return isinstance(part, str) and ("[" in part or part in {"str", "int", "float", "bool", "Team"})


@dataclass
class _Parts:
    """The sections of a contract the ODCS model did not accept whole, each entry validated on its
    own (None for an entry that does not validate, so the others keep their index)."""

    schema_: list[SchemaObject | None] | None
    slaProperties: list[ServiceLevelAgreementProperty | None] | None
    roles: list[Role | None] | None
    team: Team | list[TeamMember | None] | None


def _parts(data: dict[str, Any]) -> _Parts:
    """What of a contract the ODCS model accepts, entry by entry, when the whole does not validate:
    one unknown key or bad entry must not take the columns, SLA and roles with it (and turn the
    contract's findings into false ones). Its errors are reported by CON-001 all the same."""
    from open_data_contract_standard import model as odcs

    def each(value: Any, validate: Any) -> list[Any] | None:
        return [validate(item) for item in value] if isinstance(value, list) else None

    def valid(cls: Any) -> Any:
        def validate(item: Any) -> Any:
            try:
                return cls.model_validate(item)
            except ValidationError:
                return None

        return validate

    def schema_object(item: Any) -> Any:
        whole = valid(odcs.SchemaObject)(item)
        if whole is not None or not isinstance(item, dict):
            return whole
        # the object without its columns, then each column on its own
        obj = valid(odcs.SchemaObject)({k: v for k, v in item.items() if k != "properties"})
        if obj is not None:
            obj.properties = each(item.get("properties"), valid(odcs.SchemaProperty))
        return obj

    team = data.get("team")
    return _Parts(
        schema_=each(data.get("schema"), schema_object),
        slaProperties=each(data.get("slaProperties"), valid(odcs.ServiceLevelAgreementProperty)),
        roles=each(data.get("roles"), valid(odcs.Role)),
        team=each(team, valid(odcs.TeamMember)) if isinstance(team, list) else valid(odcs.Team)(team),
    )


def _from_model(m: OpenDataContractStandard | _Parts, errors: list[SchemaError]) -> dict[str, Any]:
    """The fields of govern's contract that come from the validated ODCS model (or the parts of it
    that validate), as plain values."""
    objects = []
    for i, obj in enumerate(m.schema_ or []):
        if obj is None:
            continue
        path = f"schema[{i}]"
        columns: list[dict[str, Any]] = []
        _flatten(obj.properties or [], f"{path}.properties", columns, errors)
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
            if s is not None
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
            if r is not None
        ],
        "team": [{"username": t.username, "role": t.role} for t in members if t is not None],
    }


def _declassification(p: SchemaProperty, path: str, errors: list[SchemaError]) -> Declassification | None:
    """The column's ``declassification`` custom property; a malformed one is a schema error at its
    value (CON-001), and declares none (as a port's is a load error at its line)."""
    for k, c in enumerate(p.customProperties or []):
        if c.property == "declassification":
            try:
                return declassification(c.value)
            except ValidationError:
                why = "custom property declassification must be a method name or {method, description}"
                errors.append(SchemaError(message=why, path=f"{path}.customProperties[{k}].value"))
    return None


def _flatten(props: list[SchemaProperty | None], base: str, out: list[dict[str, Any]], errors: list[SchemaError]) -> None:
    for i, p in enumerate(props):
        if p is None:
            continue
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
                "declassification": _declassification(p, path, errors),
                "path": path,
            }
        )
        if p.properties:
            _flatten(p.properties, f"{path}.properties", out, errors)
        if p.items and p.items.properties:
            _flatten(p.items.properties, f"{path}.items.properties", out, errors)

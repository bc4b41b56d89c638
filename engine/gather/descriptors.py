"""Product descriptors: the native ``dataproduct.yaml`` and Bitol ODPS v1.x, both to :class:`Product`."""

import difflib
import os
from dataclasses import dataclass
from typing import Annotated, Any

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, ValidationError

from engine.errors import LoadError
from engine.gather.yamlsrc import Located, first_error, misspelt_key, validation_error
from engine.model import (
    Access,
    InputPort,
    Monitoring,
    NativeDescriptor,
    OutputPort,
    Product,
    Sla,
    Support,
    declassification,
)

DESCRIPTOR_NAMES = {"dataproduct.yaml", "dataproduct.yml"}  # native descriptors
ODPS_SUFFIXES = (".odps.yaml", ".odps.yml")


@dataclass
class LoadedProduct:
    product: Product
    doc: Located


def require_mapping(doc: Located, what: str) -> dict[str, Any]:
    if not isinstance(doc.data, dict):
        raise LoadError(f"a {what} must be a mapping, not {type(doc.data).__name__}", doc.file, doc.line_of(""))
    return doc.data


def load_native(doc: Located) -> LoadedProduct:
    data = require_mapping(doc, "data product descriptor")
    try:
        d = NativeDescriptor.model_validate(data)
    except ValidationError as e:
        raise validation_error(e, doc, "data product descriptor") from None
    product = Product(
        id=d.name,
        name=d.name,
        domain=d.domain,
        version=d.version,
        status=d.status,
        owner=d.owner,
        description=d.description,
        classification=d.classification,
        access=Access(**d.access.model_dump(include={"model", "consumers", "approvers"})) if d.access else None,
        sla=Sla(**d.sla.model_dump(include={"quality", "freshness", "retention"})) if d.sla else None,
        documentation=d.documentation,
        schema_url=d.schema_url,
        support=Support(**d.support.model_dump(include={"email", "slack"})) if d.support else None,
        monitoring=Monitoring(**d.monitoring.model_dump(include=set(Monitoring.model_fields))) if d.monitoring else None,
        tags=d.tags,
        outputPorts=[
            OutputPort(name=p.name, contractId=p.contractId, visibility=p.visibility, path=f"outputPorts[{i}]")
            for i, p in enumerate(d.outputPorts)
        ],
        inputPorts=[
            InputPort(
                product=p.product,
                contractId=p.contractId,
                declassification=declassification(p.declassification.model_dump() if p.declassification else None),
                path=f"inputPorts[{i}]",
            )
            for i, p in enumerate(d.inputPorts)
        ],
        format="native",
        present=list(data),
    )
    return LoadedProduct(product, doc)


# --- ODPS ---------------------------------------------------------------------------------------------


class _Odps(BaseModel):
    model_config = ConfigDict(extra="allow", defer_build=True)


class _OdpsCustomProperty(_Odps):
    property: str
    value: Any = None


class _OdpsPort(_Odps):
    name: str | None = None
    version: str | None = None
    contractId: str | None = None
    customProperties: list[_OdpsCustomProperty] = Field(default_factory=list)


class _OdpsMember(_Odps):
    username: str | None = None
    name: str | None = None
    role: str | None = None


class _OdpsTeam(_Odps):
    name: str | None = None
    members: list[_OdpsMember] = Field(default_factory=list)


def _team(value: Any) -> Any:
    """ODPS v0.9.0 writes the team as the list of its members; v1.x as an object holding them."""
    return {"members": value} if isinstance(value, list) else value


class _OdpsSupport(_Odps):
    channel: str | None = None
    url: str | None = None
    tool: str | None = None


class _OdpsDescription(_Odps):
    purpose: str | None = None


class OdpsProduct(_Odps):
    """The parts of an ODPS v1.x product that govern reads (unknown keys are kept)."""

    apiVersion: str
    kind: str
    id: str
    name: str | None = None
    version: str | None = None
    status: str | None = None  # (required up to v1.0.0, optional since v1.1.0)
    domain: str | None = None
    description: _OdpsDescription | None = None
    tags: list[str] = Field(default_factory=list)
    inputPorts: list[_OdpsPort] = Field(default_factory=list)
    outputPorts: list[_OdpsPort] = Field(default_factory=list)
    support: list[_OdpsSupport] = Field(default_factory=list)
    team: Annotated[_OdpsTeam | None, BeforeValidator(_team)] = None
    customProperties: list[_OdpsCustomProperty] = Field(default_factory=list)


def _custom(props: list[_OdpsCustomProperty]) -> dict[str, Any]:
    return {p.property: p.value for p in props}


VISIBILITIES = ("public", "internal")


def _visibility(port: _OdpsPort, path: str, doc: Located) -> str:
    """An ODPS output port's ``visibility`` custom property, public or internal as in a native
    descriptor (``Public`` or ``[public]`` passed for neither, and the port escaped ACC-004)."""
    for j, c in enumerate(port.customProperties):
        if c.property == "visibility":
            if c.value not in VISIBILITIES:
                where = doc.line_of(f"{path}.customProperties[{j}].value")
                raise LoadError(f"custom property visibility must be public or internal, not {c.value!r}", doc.file, where)
            return str(c.value)
    return "internal"


def _str(value: Any) -> str | None:
    return None if value is None else str(value)


def _str_list(value: Any) -> list[str]:
    if value is None:
        return []
    return [str(v) for v in value] if isinstance(value, list) else [str(value)]


# The custom properties an ODPS product carries govern's fields in, and the key path of each in
# the normalized product (where findings about them point).
_ODPS_FIELDS = {
    "classification": "classification",
    "accessModel": "access.model",
    "consumers": "access.consumers",
    "approvers": "access.approvers",
    "sla": "sla",
    "documentation": "documentation",
    "schema_url": "schema_url",
    "monitoring": "monitoring",
}
_TEXT_FIELDS = ("classification", "accessModel", "documentation", "schema_url")
_MAPPING_FIELDS = ("sla", "monitoring")


def _locate_custom(d: OdpsProduct, doc: Located) -> None:
    """Give the normalized key paths that come from custom properties (``access.model``) the
    lines of the values they come from, so findings about them point at the value, not at line 1;
    a value that must be text and is not is an error at its line."""
    written = {c.property for c in d.customProperties}
    for j, c in enumerate(d.customProperties):
        field = _ODPS_FIELDS.get(c.property or "")
        if field is None:
            close = difflib.get_close_matches(c.property or "", [k for k in _ODPS_FIELDS if k not in written], n=1, cutoff=0.8)
            if close:  # (accesModel: a finding of access.model names it, engine/evaluate.py)
                at = doc.line_of(f"customProperties[{j}].property")
                doc.lines[misspelt_key(_ODPS_FIELDS[close[0]], close[0], c.property or "")] = at
            continue
        value = f"customProperties[{j}].value"
        if c.property in _TEXT_FIELDS and isinstance(c.value, (dict, list)):
            kind = "a list" if isinstance(c.value, list) else "a mapping"
            raise LoadError(f"custom property {c.property} must be text, not {kind}", doc.file, doc.line_of(value))
        if c.property in _MAPPING_FIELDS and c.value is not None and not isinstance(c.value, dict):
            # (it was taken for no sla at all: "product descriptor has no sla", as if it were not written)
            kind = "a list" if isinstance(c.value, list) else f"{type(c.value).__name__} {c.value!r}"
            raise LoadError(f"custom property {c.property} must be a mapping, not {kind}", doc.file, doc.line_of(value))
        for key, line in list(doc.lines.items()):
            if key == value or key.startswith((value + ".", value + "[")):
                doc.lines.setdefault(field + key[len(value) :], line)
        doc.lines.setdefault(field.split(".")[0], doc.line_of(value))


def load_odps(doc: Located) -> LoadedProduct:
    data = require_mapping(doc, "data product")
    try:
        d = OdpsProduct.model_validate(data)
    except ValidationError as e:
        raise validation_error(e, doc, "ODPS data product") from None
    if not d.apiVersion.startswith(("v1.", "v0.9")):
        raise LoadError(f"unsupported ODPS apiVersion {d.apiVersion!r} (expected v1.x)", doc.file, doc.line_of("apiVersion"))
    if d.status is None and d.apiVersion.startswith(("v0.9", "v1.0")):
        raise LoadError(f"invalid ODPS data product: status: required by ODPS {d.apiVersion} (optional from v1.1.0)", doc.file, 1)
    _locate_custom(d, doc)
    custom = _custom(d.customProperties)
    owner = next((m.username or m.name for m in (d.team.members if d.team else []) if (m.role or "").lower() == "owner"), None)
    channels = {(s.tool or "").lower(): s.url or s.channel for s in d.support}
    email = channels.get("email")
    access_model = custom.get("accessModel")
    sla = custom.get("sla")
    monitoring = custom.get("monitoring")
    try:
        product = Product(
            id=d.id,
            name=d.name or d.id,
            domain=d.domain or None,
            version=d.version,
            status=d.status,
            owner=(d.team.name if d.team and d.team.name else None) or owner,
            description=d.description.purpose if d.description else None,
            classification=_str(custom.get("classification")),
            access=(
                Access(
                    model=_str(access_model),
                    consumers=_str_list(custom.get("consumers")),
                    approvers=_str_list(custom.get("approvers")),
                )
                if access_model is not None or "consumers" in custom
                else None
            ),
            sla=Sla.model_validate(sla) if isinstance(sla, dict) else None,
            documentation=_str(custom.get("documentation")),
            schema_url=_str(custom.get("schema_url")),
            support=(
                Support(email=email.removeprefix("mailto:") if email else None, slack=channels.get("slack"))
                if d.support
                else None
            ),
            monitoring=Monitoring.model_validate(monitoring) if isinstance(monitoring, dict) else None,
            tags=d.tags,
            outputPorts=[
                OutputPort(
                    name=p.name,
                    contractId=p.contractId,
                    visibility=_visibility(p, f"outputPorts[{i}]", doc),
                    path=f"outputPorts[{i}]",
                )
                for i, p in enumerate(d.outputPorts)
            ],
            inputPorts=_odps_input_ports(d, doc),
            format="odps",
            present=list(data),
        )
    except ValidationError as e:
        raise validation_error(e, doc, "ODPS custom property", "customProperties") from None
    return LoadedProduct(product, doc)


def _odps_input_ports(d: OdpsProduct, doc: Located) -> list[InputPort]:
    ports = []
    for i, p in enumerate(d.inputPorts):
        custom = p.customProperties
        at = next((j for j, c in enumerate(custom) if c.property == "declassification"), None)
        try:
            declass = declassification(custom[at].value) if at is not None else None
        except ValidationError as e:
            raise LoadError(
                f"invalid declassification: {first_error(e)} (expected a method name or {{method, description}})",
                doc.file,
                doc.line_of(f"inputPorts[{i}].customProperties[{at}].value"),
            ) from None
        ports.append(InputPort(contractId=p.contractId, declassification=declass, path=f"inputPorts[{i}]"))
    return ports


def load_descriptor(doc: Located) -> LoadedProduct:
    """Dispatch on the file's name (``*.odps.yaml``: ODPS, ``dataproduct.yaml``: native), else on
    the document: ODPS when it has an ``apiVersion``, native otherwise."""
    data = require_mapping(doc, "data product descriptor")
    kind = data.get("kind")
    if kind != "DataProduct":
        raise LoadError(
            f"unknown kind {kind!r}: expected DataProduct" if kind is not None else "missing key 'kind' (expected DataProduct)",
            doc.file,
            doc.line_of("kind"),
        )
    name = os.path.basename(doc.file).lower()
    if name.endswith(ODPS_SUFFIXES):
        return load_odps(doc)
    if name in DESCRIPTOR_NAMES:
        return load_native(doc)
    return load_odps(doc) if "apiVersion" in data else load_native(doc)

"""Loading descriptors (native, ODPS) and ODCS contracts into the normalized models."""

from __future__ import annotations

import pytest

from engine.errors import LoadError
from engine.gather.contracts import load_contract
from engine.gather.descriptors import load_descriptor
from engine.gather.mesh import load_mesh
from engine.gather.yamlsrc import load_text

from .conftest import DEMO

NATIVE = """\
kind: DataProduct
name: orders_items
domain: orders
version: 1.0.0
status: active
access:
  model: restricted
  consumers: [a-team]
outputPorts:
  - {name: items, contractId: orders-items-v1, visibility: public}
inputPorts:
  - {product: customers_profiles, contractId: customers-profiles-v1}
"""


def test_native_descriptor_is_normalized_with_port_paths():
    product = load_descriptor(load_text(NATIVE, "dataproduct.yaml")).product
    assert product.id == product.name == "orders_items"
    assert product.format == "native"
    assert product.access.consumers == ["a-team"] and product.access.approvers == []
    assert product.outputPorts[0].model_dump() == {
        "name": "items",
        "contractId": "orders-items-v1",
        "visibility": "public",
        "path": "outputPorts[0]",
    }
    assert product.inputPorts[0].product == "customers_profiles"
    assert product.present == ["kind", "name", "domain", "version", "status", "access", "outputPorts", "inputPorts"]


@pytest.mark.parametrize(
    ("change", "line", "message"),
    [
        (
            ("version: 1.0.0", "version: 1.0"),
            4,
            "version: Input should be a valid string (YAML read a number here: put the value in quotes)",
        ),
        (("status: active", "status: live"), 5, "status: Input should be 'draft', 'active', 'deprecated' or 'retired'"),
        (("  consumers: [a-team]", "  consumers: a-team"), 8, "access.consumers: Input should be a valid list"),
        (("name: orders_items\n", ""), 1, "name: Field required"),
        # (pydantic names its model class there: "a valid dictionary or instance of NativeAccess")
        (("  model: restricted\n  consumers: [a-team]\n", "  - restricted\n"), 6, "access: Input should be a mapping"),
        (("kind: DataProduct", "kind: DataProdukt"), 1, "unknown kind 'DataProdukt': expected DataProduct"),
    ],
)
def test_wrong_descriptors_name_file_and_line(change, line, message):
    with pytest.raises(LoadError) as caught:
        load_descriptor(load_text(NATIVE.replace(*change), "p/dataproduct.yaml"))
    assert caught.value.file == "p/dataproduct.yaml"
    assert caught.value.line == line
    assert message in caught.value.message


def test_a_list_is_not_a_descriptor():
    with pytest.raises(LoadError, match="must be a mapping, not list"):
        load_descriptor(load_text("- a\n- b\n", "dataproduct.yaml"))


def test_odps_product_maps_custom_properties_team_and_support():
    product = next(p.product for p in load_mesh(DEMO).products if p.product.id == "customers_segments")
    assert product.format == "odps"
    assert product.domain == "customers"
    assert product.classification == "internal"
    assert product.access.model == "restricted"
    assert product.support.email and not product.support.email.startswith("mailto:")
    assert product.inputPorts[0].product is None and product.inputPorts[0].contractId == "customers-profiles-v1"


def test_odps_fields_from_custom_properties_are_located_at_their_values():
    """Findings about access.model or classification point at the custom property's value, not at
    the first line of the file (where no such key is written)."""
    path = DEMO / "customers/segments/customers_segments.odps.yaml"
    lines = path.read_text().splitlines()
    doc = next(p.doc for p in load_mesh(DEMO).products if p.product.id == "customers_segments")

    def value_of(name: str) -> int:
        return lines.index(f"  - property: {name}") + 2

    assert doc.line_of("classification") == value_of("classification")
    assert doc.line_of("access.model") == value_of("accessModel")
    assert doc.line_of("access.consumers[0]") == value_of("consumers")
    assert doc.line_of("sla.freshness") == next(i for i, t in enumerate(lines, 1) if t.strip().startswith("freshness:"))


@pytest.mark.parametrize(("value", "kind"), [("[internal]", "a list"), ("{level: internal}", "a mapping")])
def test_an_odps_classification_that_is_not_text_is_an_error_at_its_value(value, kind):
    text = (DEMO / "customers/segments/customers_segments.odps.yaml").read_text()
    old = "  - property: classification\n    value: internal\n"
    assert old in text
    bad = text.replace(old, f"  - property: classification\n    value: {value}\n")
    with pytest.raises(LoadError) as caught:
        load_descriptor(load_text(bad, "p.odps.yaml"))
    assert caught.value.message == f"custom property classification must be text, not {kind}"
    assert caught.value.line == bad.splitlines().index(f"    value: {value}") + 1


def test_contract_schema_errors_become_facts_not_exceptions():
    loaded = load_contract(load_text("kind: DataContract\napiVersion: v4.0.0\nid: x\n", "x.odcs.yaml"))
    contract = loaded.contract
    assert contract.valid is False
    assert [(e.path, e.message) for e in contract.schema_errors] == [
        ("", '"version" is a required property'),
        (
            "apiVersion",
            '"v4.0.0" is not one of "v3.2.0", "v3.1.0", "v3.0.2", "v3.0.1", "v3.0.0", "v2.2.2", "v2.2.1" or "v2.2.0"',
        ),
    ]


CONTRACT_HEAD = "kind: DataContract\napiVersion: v3.1.0\nid: c1\nversion: 1.0.0\nstatus: active\n"


def test_a_value_outside_an_enumeration_is_told_every_value_allowed_as_written():
    """(The validator names two values and "or 9 other candidates".) One allowed value is said
    alone, and text is shown as written, not escaped."""
    one = load_contract(load_text(CONTRACT_HEAD.replace("kind: DataContract", "kind: Foo"), "c.odcs.yaml")).contract
    assert [(e.path, e.message) for e in one.schema_errors] == [("kind", '"Foo" is not one of "DataContract"')]
    column = "schema:\n  - name: t\n    properties:\n      - name: c\n        logicalType: entière\n"
    many = load_contract(load_text(CONTRACT_HEAD + column, "c.odcs.yaml")).contract
    assert [(e.path, e.message) for e in many.schema_errors] == [
        (
            "schema[0].properties[0].logicalType",
            '"entière" is not one of "string", "date", "timestamp", "time", "number", "integer", "object", "array",'
            ' "boolean", "map" or "vector"',
        )
    ]


def test_a_value_that_breaks_its_schema_is_one_error_not_its_neighbours_unevaluated_too():
    """(A column whose name was a number was also "Unevaluated properties are not allowed ('name',
    'description' were unexpected)": the keys its failed subschema had declared.) A key no schema
    declares is still reported, at its own path."""
    text = (
        CONTRACT_HEAD
        + """\
schema:
  - name: orders
    properties:
      - name: 42
        logicalType: integer
        description: the id
        descripton: a misspelt key beside the error is still one
      - name: note
        logicalType: string
        colour: blue
"""
    )
    contract = load_contract(load_text(text, "c.odcs.yaml")).contract
    assert [(e.path, e.message) for e in contract.schema_errors] == [
        ("schema[0].properties[0].descripton", "Unevaluated properties are not allowed ('descripton' was unexpected)"),
        ("schema[0].properties[0].name", '42 is not of type "string" (YAML read a number here: put the value in quotes)'),
        ("schema[0].properties[1].colour", "Unevaluated properties are not allowed ('colour' was unexpected)"),
    ]


def test_contract_columns_are_flattened_with_paths():
    text = """\
kind: DataContract
apiVersion: v3.1.0
id: c1
version: 1.0.0
status: active
schema:
  - name: orders
    properties:
      - name: id
        logicalType: integer
        classification: internal
      - name: address
        logicalType: object
        properties:
          - name: city
            logicalType: string
            tags: [pii]
"""
    contract = load_contract(load_text(text, "c.odcs.yaml")).contract
    assert contract.valid, contract.schema_errors
    cols = [(c.name, c.path, c.tags) for c in contract.objects[0].properties]
    assert cols == [
        ("id", "schema[0].properties[0]", []),
        ("address", "schema[0].properties[1]", []),
        ("city", "schema[0].properties[1].properties[0]", ["pii"]),
    ]


SEGMENTS = DEMO / "customers/segments/customers-segments-v1.odcs.yaml"


@pytest.mark.parametrize(
    ("change", "path", "message", "sla_shift", "roles_shift"),
    [
        (("contractCreatedTs:", "reviewedBy: someone\ncontractCreatedTs:"), "reviewedBy", "('reviewedBy' was unexpected)", 0, 0),
        (("slaProperties:\n", "slaProperties:\n  - 42\n"), "slaProperties[0]", "42 is not of type", 1, 0),
        (("roles:\n", "roles:\n  - 42\n"), "roles[0]", "42 is not of type", 0, 1),
    ],
)
def test_a_contract_the_odcs_model_refuses_keeps_every_entry_it_accepts(change, path, message, sla_shift, roles_shift):
    """One unknown key or bad entry is a schema error (CON-001) at its own key; the columns, SLA,
    roles and team that do validate stay in the input document, so the contract's other findings
    are neither lost nor replaced by false ones (no freshness SLA, unclassified columns)."""
    text = SEGMENTS.read_text()
    whole = load_contract(load_text(text, "c.odcs.yaml")).contract
    assert change[0] in text
    contract = load_contract(load_text(text.replace(*change), "c.odcs.yaml")).contract
    assert not contract.valid and whole.valid
    assert [(e.path, message in e.message) for e in contract.schema_errors][:1] == [(path, True)], contract.schema_errors
    assert contract.objects == whole.objects and contract.team == whole.team
    assert [(s.property, s.path) for s in contract.sla] == [
        (s.property, f"slaProperties[{i + sla_shift}]") for i, s in enumerate(whole.sla)
    ]
    roles = [(r.role, f"roles[{i + roles_shift}]") for i, r in enumerate(whole.roles)]
    assert [(r.role, r.path) for r in contract.roles] == roles


def test_a_column_the_odcs_model_refuses_leaves_its_object_and_the_other_columns():
    text = SEGMENTS.read_text()
    whole = load_contract(load_text(text, "c.odcs.yaml")).contract
    bad = text.replace("    properties:\n", "    properties:\n      - 42\n", 1)
    contract = load_contract(load_text(bad, "c.odcs.yaml")).contract
    assert [e.path for e in contract.schema_errors][:1] == ["schema[0].properties[0]"]
    assert [c.name for c in contract.objects[0].properties] == [c.name for c in whole.objects[0].properties]
    assert contract.objects[0].properties[0].path == "schema[0].properties[1]"


def test_mesh_links_ports_to_contracts_and_upstreams():
    mesh = load_mesh(DEMO)
    assert mesh.failures == []
    assert len(mesh.products) == 14
    ledger = mesh.product("finance_ledger")
    upstream = {u.product: (u.found, u.contract_found) for u in mesh.lineage(ledger).upstream}
    assert upstream == {"finance_gl_raw": (False, False), "finance_invoices": (True, True), "orders_legacy_feed": (True, True)}
    segments = mesh.product("customers_segments")
    assert [u.product for u in mesh.lineage(segments).upstream] == ["customers_profiles"]
    profiles = mesh.product("customers_profiles")
    assert {d.product for d in mesh.lineage(profiles).downstream} == {
        "orders_order_items",
        "customers_segments",
        "marketing_leads",
    }


def test_a_contract_no_product_can_publish_is_a_load_failure_saying_why(tmp_path):
    (tmp_path / "no-id.odcs.yaml").write_text("apiVersion: v3.0.2\nkind: DataContract\nversion: 1.0.0\nstatus: active\n")
    (tmp_path / "a-list.odcs.yaml").write_text("- id: x\n")
    mesh = load_mesh(tmp_path)
    assert sorted((f.error.file.rsplit("/", 1)[-1], f.error.line, f.error.message) for f in mesh.failures) == [
        ("a-list.odcs.yaml", 1, "a contract must be a mapping, not list: no product can publish it"),
        ("no-id.odcs.yaml", 1, "the contract has no id: no product can publish it"),
    ]


def test_the_file_name_says_whether_a_descriptor_is_native_or_odps():
    """(An apiVersion key made a native descriptor ODPS, and its absence an ODPS file native.)"""
    native = (DEMO / "orders/order_items/dataproduct.yaml").read_text()
    loaded = load_descriptor(load_text("apiVersion: v1.0.0\n" + native, "x/dataproduct.yaml"))
    assert (loaded.product.format, loaded.product.id) == ("native", "orders_order_items")
    odps = (DEMO / "customers/segments/customers_segments.odps.yaml").read_text()
    without = "\n".join(line for line in odps.splitlines() if not line.startswith("apiVersion:"))
    with pytest.raises(LoadError, match="invalid ODPS data product: apiVersion: Field required"):
        load_descriptor(load_text(without, "x/customers_segments.odps.yaml"))
    # a file of another name (named on the command line) is ODPS when it has an apiVersion
    assert load_descriptor(load_text(odps, "x/segments.yaml")).product.format == "odps"
    assert load_descriptor(load_text(native, "x/other.yaml")).product.format == "native"

"""Lineage facts from the mesh graph and the LIN rules that use them, on copies of the demo mesh."""

from __future__ import annotations

from pathlib import Path

import pytest

from engine.gather.mesh import load_mesh

M = "examples/mesh"
NOW = "2026-11-21T09:00:00Z"


def edit(path: Path, old: str, new: str) -> None:
    text = path.read_text()
    assert old in text, f"{old!r} not in {path}"
    path.write_text(text.replace(old, new, 1))


def lin_findings(govern, root: Path) -> set[tuple[str, str, str]]:
    report = govern("check", "--now", NOW, M, "--format", "json", cwd=root).json()
    return {(f["product"], f["rule"], f["location"]["path"]) for f in report["findings"] if f["rule"].startswith("LIN")}


def test_demo_mesh_graph_facts():
    mesh = load_mesh(Path(__file__).resolve().parent.parent / M)
    facts = {lp.product.id: mesh.lineage(lp) for lp in mesh.products}
    assert facts["customers_profiles"].depth == 0
    assert facts["orders_order_items"].depth == 1
    assert facts["finance_ledger"].depth == 3  # profiles -> order_items -> invoices -> ledger
    assert not any(f.on_cycle for f in facts.values())
    assert [(u.product, u.cross_domain) for u in facts["orders_order_items"].upstream] == [
        ("customers_profiles", True),
        ("inventory_stock_levels", True),
    ]
    assert {(d.product, d.cross_domain) for d in facts["orders_order_items"].downstream} == {
        ("orders_returns", False),
        ("finance_invoices", True),
        ("shipping_shipments", True),
    }


# The demo's deliberate lineage violations (examples/mesh/README.md).
DEMO_LIN = {
    ("finance_ledger", "LIN-001", "inputPorts[2]"),  # reads the retired orders_legacy_feed
    ("marketing_leads", "LIN-004", "inputPorts[0]"),  # reads customers_profiles without a contract
    ("customers_segments", "LIN-005", "inputPorts[0]"),  # internal, reads the restricted customers_profiles
}


def test_demo_mesh_lineage_findings(govern):
    assert lin_findings(govern, Path(__file__).resolve().parent.parent) == DEMO_LIN


SEGMENTS = "customers/segments/customers_segments.odps.yaml"
SEGMENTS_PORT = "    contractId: customers-profiles-v1\n"


def declassify_segments(root: Path, value: str) -> None:
    edit(
        root / M / SEGMENTS,
        SEGMENTS_PORT,
        f"{SEGMENTS_PORT}    customProperties:\n      - {{property: declassification, value: {value}}}\n",
    )


def test_declared_declassification_removes_the_classification_finding(govern, demo_copy):
    declassify_segments(demo_copy, "{method: aggregation, description: segment counts only}")
    assert lin_findings(govern, demo_copy) == DEMO_LIN - {("customers_segments", "LIN-005", "inputPorts[0]")}


def test_declassification_method_must_be_accepted(govern, demo_copy):
    declassify_segments(demo_copy, "pseudonymisation")
    report = govern("check", "--now", NOW, f"{M}/customers/segments", "--format", "json", cwd=demo_copy).json()
    assert [f["message"] for f in report["findings"] if f["rule"] == "LIN-005"] == [
        'product is classified "internal" but reads "customers_profiles", classified "restricted", and its declassification '
        'method "pseudonymisation" is not one the council accepts (anonymisation, aggregation, masking)'
    ]


def test_malformed_declassification_names_file_and_line(govern, demo_copy):
    declassify_segments(demo_copy, "{description: no method}")
    run = govern("check", "--now", NOW, f"{M}/customers/segments", cwd=demo_copy)
    assert run.code == 3
    assert f"{M}/{SEGMENTS}:21: invalid declassification: method: Field required" in run.out


ORDER_ITEMS_CONTRACT = "orders/order_items/orders-order-items-v1.odcs.yaml"


def test_a_malformed_column_declassification_is_a_schema_error_at_its_line_and_declares_none(govern, demo_copy):
    """(It was kept as its Python text: 'declassification method "{'description': 'hashed'}" is not
    one the council accepts'.)"""
    contract = demo_copy / M / ORDER_ITEMS_CONTRACT
    edit(contract, "[customers.profiles.customer_id]", "[customers.profiles]")
    edit(
        contract,
        "        transformDescription:",
        "        customProperties:\n          - property: declassification\n            value: {description: hashed}\n"
        "        transformDescription:",
    )
    line = next(i for i, row in enumerate(contract.read_text().splitlines(), 1) if "{description: hashed}" in row)
    report = govern("check", "--now", NOW, f"{M}/orders/order_items", "--format", "json", cwd=demo_copy).json()
    found = {f["rule"]: (f["location"]["line"], f["message"]) for f in report["findings"]}
    assert found["CON-001"] == (
        line,
        "contract does not conform to ODCS: custom property declassification must be a method name or {method, description}",
    )
    assert found["LIN-005"][1].endswith("classified restricted, and declares no declassification")


def test_column_level_inheritance_compares_the_named_source_columns(govern, demo_copy):
    # customer_id names only customers.profiles.customer_id (internal): no finding for the edge, even
    # though customers_profiles as a whole is restricted. Naming the whole object brings its
    # restricted columns in.
    contract = demo_copy / M / ORDER_ITEMS_CONTRACT
    edit(contract, "[customers.profiles.customer_id]", "[customers.profiles]")
    report = govern("check", "--now", NOW, f"{M}/orders/order_items", "--format", "json", cwd=demo_copy).json()
    assert [(f["rule"], f["location"]["path"], f["location"]["line"], f["message"]) for f in report["findings"]] == [
        (
            "LIN-005",
            "schema[0].properties[2].classification",
            40,
            'column "customer_id" in orders-order-items-v1 is classified "internal" but comes from profiles.email of '
            "customers_profiles, classified restricted, and declares no declassification",
        )
    ]
    assert report["findings"][0]["location"]["file"] == f"{M}/{ORDER_ITEMS_CONTRACT}"
    edit(
        contract,
        "        transformDescription:",
        "        customProperties:\n          - {property: declassification, value: masking}\n        transformDescription:",
    )
    report = govern("check", "--now", NOW, f"{M}/orders/order_items", "--format", "json", cwd=demo_copy).json()
    assert report["findings"] == []


def test_a_column_naming_an_upstream_column_that_is_not_there_is_found_where_it_names_it(govern, demo_copy):
    """(A misspelt column was unresolved, like a source-system table: with another column of the
    product resolving, the edge was column-level and the downgrade it hid passed.)"""
    contract = demo_copy / M / ORDER_ITEMS_CONTRACT
    text = contract.read_text()
    edit(contract, "[customers.profiles.customer_id]", "[customers.profiles.customer_idd]")
    line = next(i for i, row in enumerate(contract.read_text().splitlines(), 1) if "customer_idd" in row)
    report = govern("check", "--now", NOW, f"{M}/orders/order_items", "--format", "json", cwd=demo_copy).json()
    found = [(f["rule"], f["location"]["path"], f["location"]["line"], f["message"]) for f in report["findings"]]
    assert (
        "LIN-005",
        "schema[0].properties[2].transformSourceObjects",
        line,
        'column "customer_id" in orders-order-items-v1 names "customers.profiles.customer_idd", but object profiles of'
        " customers_profiles has no such column: the classification it inherits cannot be compared",
    ) in found
    # (an entry naming no upstream object, a source-system table, is no such finding; nor is a
    # dotted path under an object, the form of a nested column some write, unresolved as before)
    for entry in ("crm.contacts.customer_id", "customers.profiles.address.customer_id"):
        contract.write_text(text.replace("[customers.profiles.customer_id]", f"[{entry}]"))
        report = govern("check", "--now", NOW, f"{M}/orders/order_items", "--format", "json", cwd=demo_copy).json()
        assert not [f for f in report["findings"] if f["location"]["path"].endswith("transformSourceObjects")]


def test_column_lineage_facts(demo_copy):
    mesh = load_mesh(demo_copy / M)
    (column,) = mesh.lineage(mesh.product("orders_order_items")).columns
    assert (column.contract, column.object, column.column, column.unresolved) == (
        "orders-order-items-v1",
        "order_items",
        "customer_id",
        [],
    )
    assert [(s.product, s.object, s.column, s.classification) for s in column.sources] == [
        ("customers_profiles", "profiles", "customer_id", "internal")
    ]
    upstream = {u.product: u.column_level for u in mesh.lineage(mesh.product("orders_order_items")).upstream}
    assert upstream == {"customers_profiles": True, "inventory_stock_levels": False}


def test_retired_and_deprecated_upstreams(govern, demo_copy):
    edit(demo_copy / M / "finance/invoices/dataproduct.yaml", "status: active", "status: retired")
    edit(demo_copy / M / "customers/profiles/dataproduct.yaml", "status: active", "status: deprecated")
    assert lin_findings(govern, demo_copy) == DEMO_LIN | {
        ("finance_payments", "LIN-001", "inputPorts[0]"),
        ("finance_ledger", "LIN-001", "inputPorts[1]"),
        ("orders_order_items", "LIN-002", "inputPorts[0]"),
        ("customers_segments", "LIN-002", "inputPorts[0]"),
        ("marketing_leads", "LIN-002", "inputPorts[0]"),
    }


def test_cycle_is_reported_on_every_product_of_it(govern, demo_copy):
    # orders_order_items already feeds orders_returns; make it read orders_returns back.
    edit(
        demo_copy / M / "orders/order_items/dataproduct.yaml",
        "inputPorts:\n",
        "inputPorts:\n  - {product: orders_returns, contractId: orders-returns-v1}\n",
    )
    mesh = load_mesh(demo_copy / M)
    assert mesh.lineage(mesh.product("orders_returns")).cycle == ["orders_order_items", "orders_returns"]
    assert mesh.lineage(mesh.product("finance_invoices")).on_cycle is False
    found = lin_findings(govern, demo_copy)
    # (at the input port reading the other: where the loop can be broken)
    assert found == DEMO_LIN | {
        ("orders_order_items", "LIN-003", "inputPorts[0]"),
        ("orders_returns", "LIN-003", "inputPorts[0]"),
    }


def test_a_product_reading_itself_is_a_cycle_found_at_that_port(govern, demo_copy):
    """(LIN-003 pointed at the whole inputPorts list, saying the product was on a cycle "with" itself.)"""
    edit(
        demo_copy / M / "orders/returns/dataproduct.yaml",
        "    contractId: orders-order-items-v1\n",
        "    contractId: orders-order-items-v1\n  - {product: orders_returns, contractId: orders-returns-v1}\n",
    )
    run = govern("check", "--now", NOW, f"{M}/orders/returns", "--format", "json", cwd=demo_copy)
    assert run.code == 1
    cycle = [f for f in run.json()["findings"] if f["rule"] == "LIN-003"]
    assert [(f["location"]["line"], f["location"]["path"], f["resource"], f["message"]) for f in cycle] == [
        (
            34,
            "inputPorts[1]",
            "orders_returns",
            'input port reads product "orders_returns", which is itself: a product reading its own output is a lineage cycle',
        )
    ]


def test_cross_domain_edge_without_contract(govern, demo_copy):
    edit(demo_copy / M / "finance/invoices/dataproduct.yaml", "    contractId: orders-order-items-v1\n", "")
    assert lin_findings(govern, demo_copy) == DEMO_LIN | {("finance_invoices", "LIN-004", "inputPorts[0]")}


def test_cross_domain_consumer_must_be_listed(govern, demo_copy):
    edit(demo_copy / M / "orders/order_items/dataproduct.yaml", "finance-team", "treasury-team")
    assert lin_findings(govern, demo_copy) == DEMO_LIN | {("finance_invoices", "LIN-004", "inputPorts[0]")}


def test_lineage_json_lists_every_declared_edge(govern):
    run = govern("lineage", M, "--format", "json")
    assert run.code == 0
    doc = run.json()
    assert len(doc["edges"]) == 12
    assert {(e["from"], e["to"]) for e in doc["edges"]} == {
        ("customers_profiles", "orders_order_items"),
        ("inventory_stock_levels", "orders_order_items"),
        ("orders_order_items", "orders_returns"),
        ("customers_profiles", "customers_segments"),
        ("customers_segments", "marketing_campaigns"),
        ("orders_order_items", "finance_invoices"),
        ("orders_order_items", "shipping_shipments"),
        ("finance_invoices", "finance_payments"),
        ("finance_invoices", "finance_ledger"),
        ("finance_gl_raw", "finance_ledger"),
        ("orders_legacy_feed", "finance_ledger"),
        ("customers_profiles", "marketing_leads"),
    }
    assert next(n for n in doc["nodes"] if n["id"] == "finance_gl_raw")["missing"] is True
    # (each node's depth, as the audit report's lineage gives it: the longest chain of upstreams)
    report = govern("audit", M, "--now", NOW, "--no-store", "--format", "json").json()["lineage"]
    depths = {n["id"]: n["depth"] for n in doc["nodes"]}
    assert depths == {n["id"]: n["depth"] for n in report["nodes"]}
    assert (depths["customers_profiles"], depths["orders_order_items"], depths["finance_ledger"]) == (0, 1, 3)


def test_lineage_product_shows_downstream_impact(govern):
    run = govern("lineage", M, "--product", "finance_invoices")
    assert run.code == 0
    assert run.out.splitlines() == [
        "finance_invoices",
        "  upstream (3): customers_profiles, inventory_stock_levels, orders_order_items",
        "  downstream impact (2):",
        "    finance_ledger  (distance 1)",
        "    finance_payments  (distance 1)",
    ]


@pytest.mark.parametrize(
    ("product", "missing"),
    [
        ("customers_profiles", set()),
        ("orders_order_items", set()),
        ("finance_invoices", set()),
        ("finance_ledger", {"finance_gl_raw"}),
    ],
)
def test_lineage_of_a_product_in_json_and_dot_is_its_impact_alone(govern, product, missing):
    """The same products as the text: P, its upstream and its downstream, not the other upstreams
    of a product downstream of P (which the graph drew as if P's change reached them); and the
    products missing from the mesh that P's upstream names, marked."""
    text = govern("lineage", M, "--product", product).out.splitlines()
    named = {product} | {p.strip() for p in text[1].split(": ", 1)[1].split(",") if p.strip() != "none"}
    if missing:  # (the text names them too)
        assert text.pop(2) == f"  not in the mesh ({len(missing)}): {', '.join(sorted(missing))}"
    named |= {line.split()[0] for line in text[3:]}
    doc = govern("lineage", M, "--product", product, "--format", "json").json()
    assert {n["id"] for n in doc["nodes"]} == named | missing
    assert {n["id"] for n in doc["nodes"] if n["missing"]} == missing
    assert all(e["from"] in named | missing and e["to"] in named for e in doc["edges"])
    dot = govern("lineage", M, "--product", product, "--format", "dot").out
    assert {line.split('"')[1] for line in dot.splitlines() if "[label=" in line and "->" not in line} == named | missing


def test_dot_keeps_the_characters_of_a_name(govern, demo_copy):
    """Graphviz reads no \\u escapes: orders_caf\\u00e9 would name no product."""
    descriptor = demo_copy / M / "orders/returns/dataproduct.yaml"
    descriptor.write_text(descriptor.read_text().replace("name: orders_returns", 'name: "orders_café"'))
    dot = govern("lineage", M, "--format", "dot", cwd=demo_copy).out
    assert '    "orders_café" [label="orders_café"];' in dot.splitlines()


def test_lineage_of_a_product_whose_descriptor_is_broken_says_so_and_of_nothing_is_a_usage_error(govern, demo_copy, tmp_path):
    """(It said 'not in the mesh', exit 2, and an empty folder had an empty lineage, exit 0.)"""
    descriptor = demo_copy / M / "orders/returns/dataproduct.yaml"
    descriptor.write_text(descriptor.read_text() + "  bad: [x\n")
    run = govern("lineage", M, "--product", "orders_returns", cwd=demo_copy)
    assert run.code == 3
    assert run.err.startswith(
        f"error: product 'orders_returns' is declared in a file that could not be loaded: {M}/orders/returns/dataproduct.yaml:"
    )
    (tmp_path / "empty").mkdir()
    run = govern("lineage", str(tmp_path / "empty"))
    assert (run.code, run.err) == (
        2,
        f"error: nothing in {tmp_path / 'empty'}: no data product descriptor or data contract found\n",
    )


def test_lineage_dot_and_unknown_product(govern):
    dot = govern("lineage", M, "--format", "dot")
    assert (
        dot.out.startswith("digraph mesh {")
        and '"orders_order_items" -> "finance_invoices" [label="orders-order-items-v1"];' in dot.out
    )
    assert govern("lineage", M, "--product", "nope").code == 2


def test_lineage_tree_expands_each_product_once(govern):
    run = govern("lineage", M)
    assert run.code == 0
    lines = run.out.splitlines()
    assert lines[lines.index("inventory_stock_levels") + 1] == "  orders_order_items  (see above)"
    assert sum(1 for line in lines if line.strip() == "finance_invoices") == 1


def test_lineage_tree_shows_a_component_that_is_only_a_cycle(govern, demo_copy):
    # InventoryWarehouses <-> marketing_web_events: nothing else feeds either of them.
    edit(
        demo_copy / M / "inventory/warehouses/dataproduct.yaml",
        "outputPorts:",
        "inputPorts:\n  - {product: marketing_web_events}\noutputPorts:",
    )
    edit(
        demo_copy / M / "marketing/web_events/dataproduct.yaml",
        "outputPorts:",
        "inputPorts:\n  - {product: InventoryWarehouses}\noutputPorts:",
    )
    lines = govern("lineage", M, cwd=demo_copy).out.splitlines()
    start = lines.index("InventoryWarehouses")
    assert lines[start : start + 3] == ["InventoryWarehouses", "  marketing_web_events", "    InventoryWarehouses  (cycle)"]


def test_the_text_tree_shows_what_json_and_dot_show(govern, tmp_path):
    """Products missing from the mesh, edges only imported lineage shows, and a cycle, each marked.
    (The tree left out the first two, and a cycle read as "see above", like a second path.)"""
    from .test_imported_lineage import lineage_map, openlineage_events

    args = ["--openlineage", str(openlineage_events(tmp_path)), "--lineage-map", str(lineage_map(tmp_path))]
    run = govern("lineage", M, *args)
    assert run.code == 0, run.err
    assert run.out.splitlines() == [
        "InventoryWarehouses",
        "customers_profiles",
        "  customers_segments",
        "    marketing_campaigns",
        "  marketing_leads",
        "  orders_order_items",
        "    finance_invoices",
        "      finance_ledger",
        "      finance_payments",
        "    orders_returns",
        "    shipping_shipments",
        "finance_gl_raw  (not in the mesh)",
        "  finance_ledger  (see above)",
        "marketing_web_events",
        "orders_legacy_feed",
        "  finance_ledger  (see above)",
        "  inventory_stock_levels  (imported)",  # (no longer a source: the events show it reads the feed)
        "    orders_order_items  (see above)",
    ]


def test_the_text_of_a_products_lineage_marks_the_links_only_imported_lineage_shows(govern, tmp_path):
    """(The upstream and impact lists did not say which links came from dbt or OpenLineage alone.)"""
    from .test_imported_lineage import lineage_map, openlineage_events

    args = ["--openlineage", str(openlineage_events(tmp_path)), "--lineage-map", str(lineage_map(tmp_path))]
    feed = govern("lineage", M, "--product", "orders_legacy_feed", *args).out.splitlines()
    assert feed[:5] == [
        "orders_legacy_feed",
        "  upstream (0): none",
        "  downstream impact (7):",
        "    finance_ledger  (distance 1)",
        "    inventory_stock_levels  (distance 1, imported)",
    ]
    stock = govern("lineage", M, "--product", "inventory_stock_levels", *args).out.splitlines()
    assert stock[1] == "  upstream (1): orders_legacy_feed (imported)"


def test_a_native_port_takes_a_bare_declassification_method_as_an_odps_port_does(govern, demo_copy):
    """(It was an error of the product: a native port took only {method, description}.)"""
    leads = demo_copy / M / "marketing/leads/dataproduct.yaml"
    original = leads.read_text()
    reports = []
    for value in ("masking", "{method: masking}"):
        leads.write_text(
            original.replace(
                "  - product: customers_profiles\n", f"  - product: customers_profiles\n    declassification: {value}\n"
            )
        )
        run = govern("check", "--now", NOW, f"{M}/marketing/leads", "--format", "json", cwd=demo_copy)
        assert run.code == 1, run.out
        reports.append([(f["rule"], f["location"]["line"]) for f in run.json()["findings"]])
    assert reports[0] == reports[1] and ("LIN-004", 31) in reports[0]


def test_the_text_tree_of_a_chain_deeper_than_pythons_recursion_is_printed(govern, tmp_path):
    """(The tree was walked by recursion: a chain of about a thousand products, or a cycle of
    them, stopped `govern lineage` with a RecursionError.)"""
    mesh = tmp_path / "mesh"
    n = 1200
    for i in range(n):
        folder = mesh / "customers" / f"p{i:05d}"
        folder.mkdir(parents=True)
        upstream = f"\ninputPorts:\n  - {{product: customers_p{i - 1:05d}}}" if i else ""
        (folder / "dataproduct.yaml").write_text(
            f"kind: DataProduct\nname: customers_p{i:05d}\ndomain: customers\nversion: 1.0.0\nstatus: active\n"
            f"owner: customers-team{upstream}\n"
        )
    run = govern("lineage", str(mesh), cwd=tmp_path)
    assert run.code == 0, run.err
    lines = run.out.splitlines()
    assert lines == [f"{'  ' * i}customers_p{i:05d}" for i in range(n)]

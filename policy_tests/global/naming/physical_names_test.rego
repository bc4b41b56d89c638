package global.naming.physical_names_test

import data.global.naming.physical_names

params := {"NAM-003": {"pattern": "^{domain}[._]"}}

contract(domain, physical) := {
	"id": "orders-order-items-v1",
	"domain": domain,
	"objects": [
		{"name": "order_items", "physicalName": physical, "path": "schema[0]", "properties": []},
		{"name": "no_physical_name", "physicalName": null, "path": "schema[1]", "properties": []},
	],
}

test_domain_prefixed_physical_name_passes if {
	count(physical_names.deny) == 0 with input as {
		"product": {"name": "orders_order_items", "domain": "orders"},
		"contracts": [contract(null, "orders.order_items")],
		"params": params,
	}
}

test_physical_name_without_domain_fails if {
	physical_names.deny == {{
		"msg": `physical name "tbl_order_items" of schema object order_items in orders-order-items-v1 does not match ^orders[._]`,
		"path": "schema[0].physicalName",
		"resource": "order_items",
		"contract": "orders-order-items-v1",
	}} with input as {
		"product": {"name": "orders_order_items", "domain": "orders"},
		"contracts": [contract("orders", "tbl_order_items")],
		"params": params,
	}
}

test_product_domain_wins_over_contract_domain if {
	physical_names.deny == {{
		"msg": `physical name "sales.order_items" of schema object order_items in orders-order-items-v1 does not match ^orders[._]`,
		"path": "schema[0].physicalName",
		"resource": "order_items",
		"contract": "orders-order-items-v1",
	}} with input as {
		"product": {"name": "orders_order_items", "domain": "orders"},
		"contracts": [contract("sales", "sales.order_items")],
		"params": params,
	}
}

test_standalone_contract_uses_its_own_domain if {
	physical_names.deny == {{
		"msg": `physical name "orders_items" of schema object order_items in orders-order-items-v1 does not match ^sales[._]`,
		"path": "schema[0].physicalName",
		"resource": "order_items",
		"contract": "orders-order-items-v1",
	}} with input as {
		"product": null,
		"contracts": [contract("sales", "orders_items")],
		"params": params,
	}
}

test_standalone_contract_without_domain_is_skipped if {
	count(physical_names.deny) == 0 with input as {
		"product": null,
		"contracts": [contract(null, "anything")],
		"params": params,
	}
}

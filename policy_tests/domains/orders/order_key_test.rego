package domains.orders.order_key_test

import data.domains.orders.order_key

params := {"ORDERS-001": {"key_column": "order_id"}}

contract(columns) := {
	"id": "orders-x-v1",
	"objects": [{"name": "x", "path": "schema[0]", "properties": [{"name": c} | some c in columns]}],
}

test_object_with_order_id_passes if {
	count(order_key.deny) == 0 with input as {"contracts": [contract(["order_id", "amount"])], "params": params}
}

test_object_without_order_id_fails if {
	order_key.deny == {{
		"msg": "schema object x in orders-x-v1 has no order_id column",
		"path": "schema[0]",
		"resource": "x",
		"contract": "orders-x-v1",
	}} with input as {"contracts": [contract(["legacy_ref"])], "params": params}
}

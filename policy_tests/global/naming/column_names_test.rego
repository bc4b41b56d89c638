package global.naming.column_names_test

import data.global.naming.column_names

params := {"NAM-002": {"pattern": "^[a-z][a-z0-9_]*$"}}

contract(names) := {
	"id": "orders-order-items-v1",
	"objects": [{
		"name": "order_items",
		"path": "schema[0]",
		"properties": [{"name": n, "path": sprintf("schema[0].properties[%d]", [i])} | some i, n in names],
	}],
}

test_snake_case_columns_pass if {
	count(column_names.deny) == 0 with input as {
		"product": null,
		"contracts": [contract(["order_id", "customer_email", "line_2"])],
		"params": params,
	}
}

test_camel_case_column_fails if {
	column_names.deny == {{
		"msg": `column "CustomerEmail" in orders-order-items-v1 is not snake_case`,
		"path": "schema[0].properties[1].name",
		"resource": "order_items.CustomerEmail",
		"contract": "orders-order-items-v1",
	}} with input as {
		"product": {"name": "orders_order_items", "domain": "orders"},
		"contracts": [contract(["order_id", "CustomerEmail"])],
		"params": params,
	}
}

test_custom_pattern_is_used if {
	column_names.deny == {{
		"msg": `column "order_id" in orders-order-items-v1 does not match ^[a-z]+$`,
		"path": "schema[0].properties[0].name",
		"resource": "order_items.order_id",
		"contract": "orders-order-items-v1",
	}} with input as {
		"product": null,
		"contracts": [contract(["order_id", "total"])],
		"params": {"NAM-002": {"pattern": "^[a-z]+$"}},
	}
}

test_domain_in_a_pattern_stands_for_the_products_domain if {
	column_names.deny == {{
		"msg": `column "id" in orders-order-items-v1 does not match ^orders_[a-z_]+$`,
		"path": "schema[0].properties[1].name",
		"resource": "order_items.id",
		"contract": "orders-order-items-v1",
	}} with input as {
		"product": {"name": "orders_order_items", "domain": "orders"},
		"contracts": [contract(["orders_id", "id"])],
		"params": {"NAM-002": {"pattern": "^{domain}_[a-z_]+$"}},
	}
}

test_domain_in_a_pattern_is_the_contracts_own_when_it_is_checked_alone if {
	count(column_names.deny) == 0 with input as {
		"product": null,
		"contracts": [object.union(contract(["orders_id"]), {"domain": "orders"})],
		"params": {"NAM-002": {"pattern": "^{domain}_[a-z_]+$"}},
	}
}

test_a_pattern_naming_the_domain_judges_nothing_when_no_domain_is_known if {
	count(column_names.deny) == 0 with input as {
		"product": null,
		"contracts": [contract(["orders_id", "Id"])],
		"params": {"NAM-002": {"pattern": "^{domain}_[a-z_]+$"}},
	}
}

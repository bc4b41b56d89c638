package global.naming.product_name_test

import data.global.naming.product_name

params := {"NAM-001": {"pattern": "^{domain}_[a-z][a-z0-9_]*$"}}

test_domain_prefixed_snake_case_passes if {
	count(product_name.deny) == 0 with input as {
		"product": {"name": "orders_order_items", "domain": "orders"},
		"params": params,
	}
}

test_name_without_domain_prefix_fails if {
	product_name.deny == {{
		"msg": `product name "order_items" does not match ^orders_[a-z][a-z0-9_]*$`,
		"path": "name",
	}} with input as {"product": {"name": "order_items", "domain": "orders"}, "params": params}
}

test_domain_pattern_parameter_is_used if {
	product_name.deny == {{
		"msg": `product name "orders_items" does not match ^ord_[a-z]+$`,
		"path": "name",
	}} with input as {
		"product": {"name": "orders_items", "domain": "orders"},
		"params": {"NAM-001": {"pattern": "^ord_[a-z]+$"}},
	}
}

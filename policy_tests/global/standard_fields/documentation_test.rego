package global.standard_fields.documentation_test

import data.global.standard_fields.documentation

params := {"STD-001": {"fields": ["description", "owner", "sla", "schema_url"]}}

complete := {
	"name": "orders_order_items",
	"description": "Order line items, one row per item.",
	"owner": "orders-team",
	"sla": {"freshness": "1h"},
	"schema_url": "https://catalog.example.com/orders_order_items",
}

test_complete_product_passes if {
	count(documentation.deny) == 0 with input as {"product": complete, "params": params}
}

test_missing_and_empty_fields_fail if {
	documentation.deny == {
		{"msg": "product descriptor has no description", "path": "description", "resource": "description"},
		{"msg": "product descriptor has an empty owner", "path": "owner", "resource": "owner"},
		{"msg": "product descriptor has an empty sla", "path": "sla", "resource": "sla"},
	} with input as {
		"product": {
			"name": "orders_order_items",
			"owner": " ",
			"sla": {},
			"schema_url": "https://catalog.example.com/orders_order_items",
		},
		"params": params,
	}
}

test_normalized_sla_without_values_is_empty if {
	documentation.deny == {{"msg": "product descriptor has an empty sla", "path": "sla", "resource": "sla"}} with input as {
		"product": object.union(complete, {"sla": {"quality": null, "freshness": "", "retention": null}}),
		"params": params,
	}
}

test_fields_parameter_is_used if {
	documentation.deny == {{"msg": "product descriptor has no documentation", "path": "documentation", "resource": "documentation"}} with input as {
		"product": object.union(complete, {"documentation": null, "schema_url": null}),
		"params": {"STD-001": {"fields": ["owner", "documentation"]}},
	}
}

test_standalone_contract_is_skipped if {
	count(documentation.deny) == 0 with input as {"product": null, "params": params}
}

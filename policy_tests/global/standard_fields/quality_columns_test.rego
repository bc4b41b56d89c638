package global.standard_fields.quality_columns_test

import data.global.standard_fields.quality_columns

params := {"STD-003": {"columns": ["completeness_score", "validity_score", "last_test_run"]}}

contract(names) := {
	"id": "orders-order-items-v1",
	"objects": [{
		"name": "order_items",
		"path": "schema[0]",
		"properties": [{"name": n, "path": sprintf("schema[0].properties[%d]", [i])} | some i, n in names],
	}],
}

test_object_with_all_quality_columns_passes if {
	count(quality_columns.deny) == 0 with input as {
		"product": null,
		"contracts": [contract(["order_id", "completeness_score", "validity_score", "last_test_run"])],
		"params": params,
	}
}

test_missing_quality_column_fails if {
	quality_columns.deny == {{
		"msg": `schema object order_items in orders-order-items-v1 has no quality column "last_test_run"`,
		"path": "schema[0]",
		"resource": "order_items.last_test_run",
		"contract": "orders-order-items-v1",
	}} with input as {
		"product": null,
		"contracts": [contract(["order_id", "completeness_score", "validity_score"])],
		"params": params,
	}
}

test_columns_parameter_is_used if {
	quality_columns.deny == {{
		"msg": `schema object order_items in orders-order-items-v1 has no quality column "dq_score"`,
		"path": "schema[0]",
		"resource": "order_items.dq_score",
		"contract": "orders-order-items-v1",
	}} with input as {
		"product": null,
		"contracts": [contract(["order_id"])],
		"params": {"STD-003": {"columns": ["order_id", "dq_score"]}},
	}
}

package global.standard_fields.metadata_columns_test

import data.global.standard_fields.metadata_columns

params := {"STD-002": {"columns": ["ingested_at", "source_system", "source_row_count", "processed_at"]}}

contract(names) := {
	"id": "orders-order-items-v1",
	"objects": [{
		"name": "order_items",
		"path": "schema[0]",
		"properties": [{"name": n, "path": sprintf("schema[0].properties[%d]", [i])} | some i, n in names],
	}],
}

test_object_with_all_metadata_columns_passes if {
	count(metadata_columns.deny) == 0 with input as {
		"product": null,
		"contracts": [contract(["order_id", "ingested_at", "source_system", "source_row_count", "processed_at"])],
		"params": params,
	}
}

test_missing_metadata_columns_fail if {
	metadata_columns.deny == {
		{
			"msg": `schema object order_items in orders-order-items-v1 has no metadata column "source_row_count"`,
			"path": "schema[0]",
			"resource": "order_items.source_row_count",
			"contract": "orders-order-items-v1",
		},
		{
			"msg": `schema object order_items in orders-order-items-v1 has no metadata column "processed_at"`,
			"path": "schema[0]",
			"resource": "order_items.processed_at",
			"contract": "orders-order-items-v1",
		},
	} with input as {
		"product": {"name": "orders_order_items"},
		"contracts": [contract(["order_id", "ingested_at", "source_system"])],
		"params": params,
	}
}

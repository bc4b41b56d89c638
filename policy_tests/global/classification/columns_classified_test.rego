package global.classification.columns_classified_test

import data.global.classification.columns_classified

contract(classifications) := {
	"id": "orders-order-items-v1",
	"objects": [{
		"name": "order_items",
		"path": "schema[0]",
		"properties": [{
			"name": sprintf("col_%d", [i]),
			"classification": cls,
			"path": sprintf("schema[0].properties[%d]", [i]),
		} |
			some i, cls in classifications
		],
	}],
}

test_classified_columns_pass if {
	count(columns_classified.deny) == 0 with input as {
		"product": null,
		"contracts": [contract(["public", "confidential"])],
		"params": {},
	}
}

test_unclassified_columns_fail if {
	columns_classified.deny == {
		{
			"msg": `column "col_1" in orders-order-items-v1 has no classification`,
			"path": "schema[0].properties[1]",
			"resource": "order_items.col_1",
			"contract": "orders-order-items-v1",
		},
		{
			"msg": `column "col_2" in orders-order-items-v1 has no classification`,
			"path": "schema[0].properties[2]",
			"resource": "order_items.col_2",
			"contract": "orders-order-items-v1",
		},
	} with input as {
		"product": {"name": "orders_order_items"},
		"contracts": [contract(["internal", null, ""])],
		"params": {},
	}
}

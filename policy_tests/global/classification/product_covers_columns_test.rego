package global.classification.product_covers_columns_test

import data.global.classification.product_covers_columns

contract(ssn_cls) := {
	"id": "customers-v1",
	"objects": [{
		"name": "customers",
		"path": "schema[0]",
		"properties": [
			{"name": "customer_id", "classification": "internal", "path": "schema[0].properties[0]"},
			{"name": "ssn", "classification": ssn_cls, "path": "schema[0].properties[1]"},
		],
	}],
}

test_product_at_highest_column_level_passes if {
	count(product_covers_columns.deny) == 0 with input as {
		"product": {"classification": "confidential"},
		"contracts": [contract("confidential")],
		"params": {},
	}
}

test_unknown_levels_are_left_to_other_rules if {
	count(product_covers_columns.deny) == 0 with input as {
		"product": {"classification": "internal"},
		"contracts": [contract("secret")],
		"params": {},
	}
}

test_column_above_product_fails if {
	product_covers_columns.deny == {{
		"msg": `product is classified "internal" but column "ssn" in customers-v1 is classified "confidential"`,
		"path": "classification",
		"resource": "customers.ssn",
	}} with input as {
		"product": {"classification": "internal"},
		"contracts": [contract("confidential")],
		"params": {},
	}
}

test_standalone_contract_is_skipped if {
	count(product_covers_columns.deny) == 0 with input as {"product": null, "contracts": [contract("confidential")], "params": {}}
}

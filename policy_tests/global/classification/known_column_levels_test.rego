package global.classification.known_column_levels_test

import data.global.classification.known_column_levels

contract(cls) := {
	"id": "customers-v1",
	"objects": [{
		"name": "customers",
		"path": "schema[0]",
		"properties": [
			{"name": "customer_id", "classification": "internal", "path": "schema[0].properties[0]"},
			{"name": "ssn", "classification": cls, "path": "schema[0].properties[1]"},
		],
	}],
}

test_known_levels_pass if {
	count(known_column_levels.deny) == 0 with input as {"product": null, "contracts": [contract("confidential")], "params": {}}
}

test_missing_level_is_left_to_cls_002 if {
	count(known_column_levels.deny) == 0 with input as {"product": null, "contracts": [contract(null)], "params": {}}
}

test_unknown_level_fails if {
	known_column_levels.deny == {{
		"msg": `column "ssn" in customers-v1 has unknown classification "Confidential"; use one of public, internal, restricted, confidential`,
		"path": "schema[0].properties[1].classification",
		"resource": "customers.ssn",
		"contract": "customers-v1",
	}} with input as {"product": null, "contracts": [contract("Confidential")], "params": {}}
}

test_council_levels_are_used if {
	known_column_levels.deny == {{
		"msg": `column "customer_id" in customers-v1 has unknown classification "internal"; use one of public, secret`,
		"path": "schema[0].properties[0].classification",
		"resource": "customers.customer_id",
		"contract": "customers-v1",
	}} with input as {"product": null, "contracts": [contract("secret")], "params": {}}
		with data.govern.council.classification_levels as ["public", "secret"]
}

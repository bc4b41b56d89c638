package global.contracts.odcs_schema_test

import data.global.contracts.odcs_schema

test_valid_contract_passes if {
	count(odcs_schema.deny) == 0 with input as {
		"product": null,
		"contracts": [{"id": "orders-v1", "valid": true, "schema_errors": []}],
		"params": {},
	}
}

test_schema_errors_fail if {
	odcs_schema.deny == {
		{
			"msg": "contract does not conform to ODCS: 'version' is a required property",
			"path": "",
			"resource": "orders-v1",
			"contract": "orders-v1",
		},
		{
			"msg": "contract does not conform to ODCS: 'bogus' is not one of ['active', 'draft']",
			"path": "schema[0].properties[2].logicalType",
			"resource": "orders-v1",
			"contract": "orders-v1",
		},
	} with input as {
		"product": {"name": "orders_order_items"},
		"contracts": [
			{"id": "orders-v1", "valid": false, "schema_errors": [
				{"message": "'version' is a required property", "path": ""},
				{"message": "'bogus' is not one of ['active', 'draft']", "path": "schema[0].properties[2].logicalType"},
			]},
			{"id": "customers-v1", "valid": true, "schema_errors": []},
		],
		"params": {},
	}
}

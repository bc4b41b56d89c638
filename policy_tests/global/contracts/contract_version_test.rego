package global.contracts.contract_version_test

import data.global.contracts.contract_version

test_semantic_version_passes if {
	count(contract_version.deny) == 0 with input as {
		"product": null,
		"contracts": [{"id": "orders-v1", "version": "2.1.0"}],
		"params": {},
	}
}

test_bad_versions_fail if {
	contract_version.deny == {
		{
			"msg": `contract orders-v1 has version "1.0", which is not a semantic version (MAJOR.MINOR.PATCH)`,
			"path": "version",
			"resource": "orders-v1",
			"contract": "orders-v1",
		},
		{
			"msg": "contract orders-v2 has no version; use a semantic version such as 1.0.0",
			"path": "version",
			"resource": "orders-v2",
			"contract": "orders-v2",
		},
	} with input as {
		"product": {"name": "orders_order_items"},
		"contracts": [{"id": "orders-v1", "version": "1.0"}, {"id": "orders-v2", "version": null}],
		"params": {},
	}
}

test_version_of_the_wrong_type_fails if {
	contract_version.deny == {{
		"msg": "contract orders-v1 has version 1, which is not a semantic version (MAJOR.MINOR.PATCH)",
		"path": "version",
		"resource": "orders-v1",
		"contract": "orders-v1",
	}} with input as {
		"product": {"name": "orders_order_items"},
		"contracts": [{"id": "orders-v1", "version": 1}],
		"params": {},
	}
}

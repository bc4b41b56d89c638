package global.contracts.contract_active_test

import data.global.contracts.contract_active

params := {"CON-004": {"statuses": ["active"]}}

test_active_contract_passes if {
	count(contract_active.deny) == 0 with input as {
		"product": {"status": "active"},
		"contracts": [{"id": "orders-v1", "status": "active"}],
		"params": params,
	}
}

test_draft_product_is_exempt if {
	count(contract_active.deny) == 0 with input as {
		"product": {"status": "draft"},
		"contracts": [{"id": "orders-v1", "status": "draft"}],
		"params": params,
	}
}

test_retired_product_is_exempt if {
	count(contract_active.deny) == 0 with input as {
		"product": {"status": "retired"},
		"contracts": [{"id": "orders-v1", "status": "retired"}],
		"params": params,
	}
}

test_inactive_contracts_fail if {
	contract_active.deny == {
		{
			"msg": `contract orders-v1 has status "draft"; it must be one of active`,
			"path": "status",
			"resource": "orders-v1",
			"contract": "orders-v1",
		},
		{
			"msg": "contract orders-v2 has no status; it must be one of active",
			"path": "status",
			"resource": "orders-v2",
			"contract": "orders-v2",
		},
	} with input as {
		"product": {"status": "active"},
		"contracts": [{"id": "orders-v1", "status": "draft"}, {"id": "orders-v2", "status": null}],
		"params": params,
	}
}

test_standalone_contract_is_checked if {
	contract_active.deny == {{
		"msg": `contract orders-v1 has status "retired"; it must be one of active, deprecated`,
		"path": "status",
		"resource": "orders-v1",
		"contract": "orders-v1",
	}} with input as {
		"product": null,
		"contracts": [{"id": "orders-v1", "status": "retired"}],
		"params": {"CON-004": {"statuses": ["active", "deprecated"]}},
	}
}

test_status_of_the_wrong_type_fails if {
	contract_active.deny == {{
		"msg": "contract orders-v1 has status 3; it must be one of active",
		"path": "status",
		"resource": "orders-v1",
		"contract": "orders-v1",
	}} with input as {
		"product": {"status": "active"},
		"contracts": [{"id": "orders-v1", "status": 3}],
		"params": params,
	}
}

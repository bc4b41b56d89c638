package global.contracts.contract_domain_test

import data.global.contracts.contract_domain

test_same_or_no_domain_passes if {
	count(contract_domain.deny) == 0 with input as {
		"product": {"domain": "orders"},
		"contracts": [{"id": "orders-v1", "domain": "orders"}, {"id": "orders-v2", "domain": null}, {"id": "orders-v3", "domain": ""}],
		"params": {},
	}
}

test_other_domain_fails if {
	contract_domain.deny == {{
		"msg": `contract orders-v1 declares domain "sales", but the product belongs to domain "orders"`,
		"path": "domain",
		"resource": "orders-v1",
		"contract": "orders-v1",
	}} with input as {
		"product": {"domain": "orders"},
		"contracts": [{"id": "orders-v1", "domain": "sales"}, {"id": "orders-v2", "domain": "orders"}],
		"params": {},
	}
}

test_standalone_contract_is_skipped if {
	count(contract_domain.deny) == 0 with input as {
		"product": null,
		"contracts": [{"id": "orders-v1", "domain": "sales"}],
		"params": {},
	}
}

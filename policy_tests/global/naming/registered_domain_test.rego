package global.naming.registered_domain_test

import data.global.naming.registered_domain

test_registered_domain_passes if {
	count(registered_domain.deny) == 0 with input as {
		"product": {"name": "orders_order_items", "domain": "orders"},
		"domain": {"name": "orders", "owner": "orders-team"},
		"params": {},
	}
}

test_unregistered_domain_fails if {
	registered_domain.deny == {{
		"msg": `domain "ordrs" is not registered in governance/council.yaml`,
		"path": "domain",
	}} with input as {
		"product": {"name": "ordrs_order_items", "domain": "ordrs"},
		"domain": null,
		"params": {},
	}
}

test_missing_domain_fails if {
	registered_domain.deny == {{
		"msg": "product declares no domain; it must name a domain registered in governance/council.yaml",
		"path": "domain",
	}} with input as {
		"product": {"name": "order_items", "domain": null},
		"domain": null,
		"params": {},
	}
}

test_standalone_contract_is_skipped if {
	count(registered_domain.deny) == 0 with input as {"product": null, "domain": null, "params": {}}
}

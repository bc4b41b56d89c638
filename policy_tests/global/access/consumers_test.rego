package global.access.consumers_test

import data.global.access.consumers

test_restricted_with_consumers_passes if {
	count(consumers.deny) == 0 with input as {
		"product": {"access": {"model": "restricted", "consumers": ["finance_reporting"], "approvers": []}},
		"params": {},
	}
}

test_public_without_consumers_passes if {
	count(consumers.deny) == 0 with input as {
		"product": {"access": {"model": "public", "consumers": [], "approvers": []}},
		"params": {},
	}
}

test_restricted_without_consumers_fails if {
	consumers.deny == {{
		"msg": `access model "restricted" requires access.consumers, but no consumer is listed`,
		"path": "access.consumers",
	}} with input as {"product": {"access": {"model": "restricted", "consumers": []}}, "params": {}}
}

test_confidential_with_missing_consumers_fails if {
	consumers.deny == {{
		"msg": `access model "confidential" requires access.consumers, but no consumer is listed`,
		"path": "access.consumers",
	}} with input as {"product": {"access": {"model": "confidential"}}, "params": {}}
}

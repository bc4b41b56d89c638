package global.access.approvers_test

import data.global.access.approvers

test_confidential_with_approvers_passes if {
	count(approvers.deny) == 0 with input as {
		"product": {"access": {"model": "confidential", "consumers": [], "approvers": ["orders-data-owner"]}},
		"params": {},
	}
}

test_public_without_approvers_passes if {
	count(approvers.deny) == 0 with input as {"product": {"access": {"model": "public", "approvers": null}}, "params": {}}
}

test_confidential_without_approvers_fails if {
	approvers.deny == {{
		"msg": `access model "confidential" requires access.approvers, but no approver is listed`,
		"path": "access.approvers",
	}} with input as {"product": {"access": {"model": "confidential", "approvers": null}}, "params": {}}
}

test_restricted_with_empty_approvers_fails if {
	approvers.deny == {{
		"msg": `access model "restricted" requires access.approvers, but no approver is listed`,
		"path": "access.approvers",
	}} with input as {"product": {"access": {"model": "restricted", "approvers": []}}, "params": {}}
}

package global.contracts.contract_found_test

import data.global.contracts.contract_found

ports := [
	{"name": "warehouse", "contractId": "orders-v1", "visibility": "internal", "path": "outputPorts[0]"},
	{"name": "api", "contractId": "orders-v2", "visibility": "public", "path": "outputPorts[1]"},
	{"name": "files", "contractId": null, "visibility": "internal", "path": "outputPorts[2]"},
]

test_found_contracts_pass if {
	count(contract_found.deny) == 0 with input as {
		"product": {"outputPorts": ports},
		"contracts": [{"id": "orders-v1"}, {"id": "orders-v2"}],
		"params": {},
	}
}

test_missing_contract_fails if {
	contract_found.deny == {{
		"msg": `output port "api" publishes contract "orders-v2", but the product has no contract with that id`,
		"path": "outputPorts[1].contractId",
		"resource": "api",
	}} with input as {
		"product": {"outputPorts": ports},
		"contracts": [{"id": "orders-v1"}],
		"params": {},
	}
}

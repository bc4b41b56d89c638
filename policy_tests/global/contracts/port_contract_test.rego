package global.contracts.port_contract_test

import data.global.contracts.port_contract

test_ports_with_contracts_pass if {
	count(port_contract.deny) == 0 with input as {
		"product": {"outputPorts": [{"name": "api", "contractId": "orders-v1", "visibility": "public", "path": "outputPorts[0]"}]},
		"params": {},
	}
}

test_port_without_contract_fails if {
	port_contract.deny == {
		{"msg": `output port "api" publishes no contract (contractId is not set)`, "path": "outputPorts[1]", "resource": "api"},
		{"msg": `output port "files" publishes no contract (contractId is not set)`, "path": "outputPorts[2]", "resource": "files"},
	} with input as {
		"product": {"outputPorts": [
			{"name": "warehouse", "contractId": "orders-v1", "visibility": "internal", "path": "outputPorts[0]"},
			{"name": "api", "contractId": null, "visibility": "public", "path": "outputPorts[1]"},
			{"name": "files", "contractId": "", "visibility": "internal", "path": "outputPorts[2]"},
		]},
		"params": {},
	}
}

test_standalone_contract_is_skipped if {
	count(port_contract.deny) == 0 with input as {"product": null, "params": {}}
}

package global.access.public_ports_test

import data.global.access.public_ports

params := {"ACC-004": {"level": "confidential"}}

ports := [
	{"name": "api", "contractId": "orders-public-v1", "visibility": "public", "path": "outputPorts[0]"},
	{"name": "warehouse", "contractId": "orders-full-v1", "visibility": "internal", "path": "outputPorts[1]"},
]

contract(id, port, ssn_level) := {
	"id": id,
	"ports": [port],
	"objects": [{
		"name": "customers",
		"path": "schema[0]",
		"properties": [
			{"name": "customer_id", "classification": "internal", "path": "schema[0].properties[0]"},
			{"name": "ssn", "classification": ssn_level, "path": "schema[0].properties[1]"},
		],
	}],
}

test_confidential_column_on_internal_port_passes if {
	count(public_ports.deny) == 0 with input as {
		"product": {"classification": "restricted", "outputPorts": ports},
		"contracts": [
			contract("orders-public-v1", "api", "restricted"),
			contract("orders-full-v1", "warehouse", "confidential"),
		],
		"params": params,
	}
}

test_confidential_column_on_public_port_fails if {
	public_ports.deny == {{
		"msg": `public output port "api" exposes data classified confidential or higher: column customers.ssn in orders-public-v1 is classified "confidential"`,
		"path": "outputPorts[0].visibility",
		"resource": "api",
	}} with input as {
		"product": {"classification": "restricted", "outputPorts": ports},
		"contracts": [
			contract("orders-public-v1", "api", "confidential"),
			contract("orders-full-v1", "warehouse", "confidential"),
		],
		"params": params,
	}
}

test_confidential_product_on_public_port_fails_once if {
	public_ports.deny == {{
		"msg": `public output port "api" exposes data classified confidential or higher: the product is classified "secret"; column customers.ssn in orders-public-v1 is classified "secret"`,
		"path": "outputPorts[0].visibility",
		"resource": "api",
	}} with input as {
		"product": {"classification": "secret", "outputPorts": ports},
		"contracts": [contract("orders-public-v1", "api", "secret")],
		"params": params,
	} with data.govern.council.classification_levels as ["public", "internal", "confidential", "secret"]
}

test_level_parameter_is_used if {
	public_ports.deny == {{
		"msg": `public output port "api" exposes data classified restricted or higher: column customers.ssn in orders-public-v1 is classified "restricted"`,
		"path": "outputPorts[0].visibility",
		"resource": "api",
	}} with input as {
		"product": {"classification": "internal", "outputPorts": ports},
		"contracts": [contract("orders-public-v1", "api", "restricted")],
		"params": {"ACC-004": {"level": "restricted"}},
	}
}

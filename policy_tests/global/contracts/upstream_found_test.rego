package global.contracts.upstream_found_test

import data.global.contracts.upstream_found

test_resolved_upstreams_pass if {
	count(upstream_found.deny) == 0 with input as {
		"product": {"name": "finance_revenue"},
		"lineage": {"upstream": [{
			"product": "orders_order_items",
			"contractId": "orders-v1",
			"found": true,
			"contract_found": true,
			"path": "inputPorts[0]",
		}], "downstream": []},
		"params": {},
	}
}

test_unknown_product_and_contract_fail if {
	upstream_found.deny == {
		{
			"msg": `input port names product "crm_customrs", which is not in the mesh`,
			"path": "inputPorts[0]",
			"resource": "crm_customrs",
		},
		{
			"msg": `input port names contract "orders-v9", which product "orders_order_items" does not publish`,
			"path": "inputPorts[1].contractId",
			"resource": "orders_order_items",
		},
	} with input as {
		"product": {"name": "finance_revenue"},
		"lineage": {"upstream": [
			{"product": "crm_customrs", "contractId": "crm-customers-v1", "found": false, "contract_found": false, "path": "inputPorts[0]"},
			{"product": "orders_order_items", "contractId": "orders-v9", "found": true, "contract_found": false, "path": "inputPorts[1]"},
		]},
		"params": {},
	}
}

test_unpublished_odps_contract_fails if {
	upstream_found.deny == {{
		"msg": `input port names contract "crm-customers-v1", which no product in the mesh publishes`,
		"path": "inputPorts[0]",
		"resource": "crm-customers-v1",
	}} with input as {
		"product": {"name": "finance_revenue"},
		"lineage": {"upstream": [
			{"product": null, "contractId": "crm-customers-v1", "found": false, "contract_found": false, "path": "inputPorts[0]"},
		]},
		"params": {},
	}
}

test_port_naming_neither_a_product_nor_a_contract_fails if {
	upstream_found.deny == {{
		"msg": "input port names neither a product nor a contract",
		"path": "inputPorts[0]",
	}} with input as {
		"product": {"name": "finance_revenue"},
		"lineage": {"upstream": [{"product": null, "contractId": null, "found": false, "contract_found": false, "path": "inputPorts[0]"}]},
		"params": {},
	}
}

test_port_without_a_contract_id_fails if {
	upstream_found.deny == {{
		"msg": `input port names product "customers_profiles" but no contract of it`,
		"path": "inputPorts[0].contractId",
		"resource": "customers_profiles",
	}} with input as {
		"product": {"name": "orders_order_items"},
		"lineage": {"upstream": [
			{"product": "customers_profiles", "contractId": null, "found": true, "contract_found": false, "path": "inputPorts[0]"},
		]},
		"params": {},
	}
}

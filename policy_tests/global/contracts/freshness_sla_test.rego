package global.contracts.freshness_sla_test

import data.global.contracts.freshness_sla

params := {"CON-006": {"properties": ["freshness", "latency"]}}

test_latency_sla_passes if {
	count(freshness_sla.deny) == 0 with input as {
		"product": null,
		"contracts": [{"id": "orders-v1", "sla": [
			{"property": "retention", "value": 1, "unit": "y", "path": "slaProperties[0]"},
			{"property": "Latency", "value": 4, "unit": "h", "path": "slaProperties[1]"},
		]}],
		"params": params,
	}
}

test_missing_freshness_sla_fails if {
	freshness_sla.deny == {{
		"msg": "contract orders-v1 has no freshness SLA: no slaProperties entry has property freshness or latency",
		"path": "slaProperties",
		"resource": "orders-v1",
		"contract": "orders-v1",
	}} with input as {
		"product": {"name": "orders_order_items"},
		"contracts": [
			{"id": "orders-v1", "sla": [{"property": "retention", "value": 1, "unit": "y", "path": "slaProperties[0]"}]},
			{"id": "orders-v2", "sla": [{"property": "freshness", "value": 1, "unit": "h", "path": "slaProperties[0]"}]},
		],
		"params": params,
	}
}

test_properties_parameter_is_used if {
	freshness_sla.deny == {{
		"msg": "contract orders-v1 has no freshness SLA: no slaProperties entry has property timeliness",
		"path": "slaProperties",
		"resource": "orders-v1",
		"contract": "orders-v1",
	}} with input as {
		"product": null,
		"contracts": [{"id": "orders-v1", "sla": [{"property": "freshness", "value": 1, "unit": "h", "path": "slaProperties[0]"}]}],
		"params": {"CON-006": {"properties": ["timeliness"]}},
	}
}

test_a_contract_without_an_id_is_named_as_such if {
	freshness_sla.deny == {{
		"msg": "contract without an id has no freshness SLA: no slaProperties entry has property freshness or latency",
		"path": "slaProperties",
		"resource": null,
		"contract": null,
	}} with input as {
		"product": null,
		"contracts": [{"id": null, "sla": []}],
		"params": params,
	}
}

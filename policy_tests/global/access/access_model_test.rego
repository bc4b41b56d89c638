package global.access.access_model_test

import data.global.access.access_model

params := {"ACC-001": {"models": ["public", "restricted", "confidential"]}}

test_known_model_passes if {
	count(access_model.deny) == 0 with input as {
		"product": {"name": "orders_order_items", "access": {"model": "restricted", "consumers": ["x"]}},
		"params": params,
	}
}

test_missing_access_fails if {
	access_model.deny == {{
		"msg": "product declares no access section; access.model must be one of public, restricted, confidential",
		"path": "access",
	}} with input as {"product": {"name": "orders_order_items", "access": null}, "params": params}
}

test_empty_model_fails if {
	access_model.deny == {{
		"msg": "access.model is not set; it must be one of public, restricted, confidential",
		"path": "access.model",
	}} with input as {"product": {"name": "orders_order_items", "access": {"model": "", "consumers": []}}, "params": params}
}

test_unknown_model_fails if {
	access_model.deny == {{
		"msg": `access model "open" is not one of public, restricted, confidential`,
		"path": "access.model",
	}} with input as {"product": {"name": "orders_order_items", "access": {"model": "open"}}, "params": params}
}

test_models_parameter_is_used if {
	access_model.deny == {{
		"msg": `access model "public" is not one of restricted`,
		"path": "access.model",
	}} with input as {
		"product": {"name": "orders_order_items", "access": {"model": "public"}},
		"params": {"ACC-001": {"models": ["restricted"]}},
	}
}

test_standalone_contract_is_skipped if {
	count(access_model.deny) == 0 with input as {"product": null, "params": params}
}

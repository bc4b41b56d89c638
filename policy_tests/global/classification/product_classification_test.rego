package global.classification.product_classification_test

import data.global.classification.product_classification

test_known_classification_passes if {
	count(product_classification.deny) == 0 with input as {"product": {"classification": "restricted"}, "params": {}}
}

test_missing_classification_fails if {
	product_classification.deny == {{
		"msg": "product has no classification; set one of public, internal, restricted, confidential",
		"path": "classification",
	}} with input as {"product": {"name": "orders_order_items", "classification": null}, "params": {}}
}

test_unknown_classification_fails if {
	product_classification.deny == {{
		"msg": `classification "secret" is not a known level; use one of public, internal, restricted, confidential`,
		"path": "classification",
	}} with input as {"product": {"classification": "secret"}, "params": {}}
}

test_council_levels_are_used if {
	product_classification.deny == {{
		"msg": `classification "internal" is not a known level; use one of open, secret`,
		"path": "classification",
	}} with input as {"product": {"classification": "internal"}, "params": {}}
		with data.govern.council.classification_levels as ["open", "secret"]
}

test_standalone_contract_is_skipped if {
	count(product_classification.deny) == 0 with input as {"product": null, "params": {}}
}

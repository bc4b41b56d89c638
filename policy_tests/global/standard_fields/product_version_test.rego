package global.standard_fields.product_version_test

import data.global.standard_fields.product_version

test_semantic_version_passes if {
	count(product_version.deny) == 0 with input as {"product": {"version": "1.4.0-rc.1"}, "params": {}}
}

test_non_semantic_version_fails if {
	product_version.deny == {{
		"msg": `product version "v1" is not a semantic version (MAJOR.MINOR.PATCH, e.g. 1.0.0)`,
		"path": "version",
	}} with input as {"product": {"version": "v1"}, "params": {}}
}

test_numeric_version_fails if {
	product_version.deny == {{
		"msg": "product version 1.5 is not a semantic version (MAJOR.MINOR.PATCH, e.g. 1.0.0)",
		"path": "version",
	}} with input as {"product": {"version": 1.5}, "params": {}}
}

test_missing_version_fails if {
	product_version.deny == {{
		"msg": "product has no version; use a semantic version such as 1.0.0",
		"path": "version",
	}} with input as {"product": {"name": "orders_order_items", "version": null}, "params": {}}
}

test_standalone_contract_is_skipped if {
	count(product_version.deny) == 0 with input as {"product": null, "params": {}}
}

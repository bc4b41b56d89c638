package global.lineage.deprecated_upstream_test

import data.global.lineage.deprecated_upstream

upstream(status) := {"product": "orders_feed", "domain": "orders", "status": status, "path": "inputPorts[1]"}

test_active_upstream_passes if {
	count(deprecated_upstream.deny) == 0 with input as {"lineage": {"upstream": [upstream("active"), upstream("retired")]}}
}

test_deprecated_upstream_fails if {
	deprecated_upstream.deny == {{
		"msg": `input port reads product "orders_feed", which is deprecated`,
		"path": "inputPorts[1]",
		"resource": "orders_feed",
	}} with input as {"lineage": {"upstream": [upstream("deprecated")]}}
}

test_a_retired_product_reading_a_deprecated_one_passes if {
	count(deprecated_upstream.deny) == 0 with input as {"product": {"status": "retired"}, "lineage": {"upstream": [upstream("deprecated")]}}
}

test_a_deprecated_product_reading_a_deprecated_one_fails if {
	count(deprecated_upstream.deny) == 1 with input as {"product": {"status": "deprecated"}, "lineage": {"upstream": [upstream("deprecated")]}}
}

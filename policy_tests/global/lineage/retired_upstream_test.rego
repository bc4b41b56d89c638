package global.lineage.retired_upstream_test

import data.global.lineage.retired_upstream

upstream(status) := {"product": "orders_feed", "domain": "orders", "status": status, "path": "inputPorts[0]"}

test_active_upstream_passes if {
	count(retired_upstream.deny) == 0 with input as {"lineage": {"upstream": [upstream("active")]}}
}

test_retired_upstream_fails if {
	retired_upstream.deny == {{
		"msg": `input port reads product "orders_feed", which is retired`,
		"path": "inputPorts[0]",
		"resource": "orders_feed",
	}} with input as {"lineage": {"upstream": [upstream("retired")]}}
}

test_a_retired_product_reading_a_retired_one_passes if {
	count(retired_upstream.deny) == 0 with input as {"product": {"status": "retired"}, "lineage": {"upstream": [upstream("retired")]}}
}

test_a_deprecated_product_reading_a_retired_one_fails if {
	count(retired_upstream.deny) == 1 with input as {"product": {"status": "deprecated"}, "lineage": {"upstream": [upstream("retired")]}}
}

test_a_retired_upstream_only_imported_lineage_shows_is_named_so if {
	imported := object.union(upstream("retired"), {"declared": false, "observed_in": "dbt manifest target/manifest.json", "path": "inputPorts"})
	retired_upstream.deny == {{
		"msg": `reads product "orders_feed" (no input port declares it; seen in dbt manifest target/manifest.json), which is retired`,
		"path": "inputPorts",
		"resource": "orders_feed",
	}} with input as {"lineage": {"upstream": [imported]}}
}

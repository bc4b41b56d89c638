package global.lineage.no_cycles_test

import data.global.lineage.no_cycles

test_product_off_cycles_passes if {
	count(no_cycles.deny) == 0 with input as {"lineage": {"on_cycle": false, "cycle": [], "upstream": [
		{"product": "orders_b", "path": "inputPorts[0]"},
	]}}
}

test_the_input_port_reading_a_product_of_the_cycle_fails if {
	no_cycles.deny == {{
		"msg": "input port reads product \"orders_b\", which is on a lineage cycle with it: orders_a, orders_b (sorted by name)",
		"path": "inputPorts[1]",
		"resource": "orders_b",
	}} with input as {"product": {"id": "orders_a"}, "lineage": {"on_cycle": true, "cycle": ["orders_a", "orders_b"], "upstream": [
		{"product": "customers_profiles", "path": "inputPorts[0]"},
		{"product": "orders_b", "path": "inputPorts[1]"},
	]}}
}

test_an_imported_edge_closing_the_cycle_says_where_it_was_seen if {
	no_cycles.deny == {{
		"msg": "reads product \"orders_b\" (no input port declares it; seen in dbt manifest target/manifest.json), which is on a lineage cycle with it: orders_a, orders_b (sorted by name)",
		"path": "inputPorts",
		"resource": "orders_b",
	}} with input as {"product": {"id": "orders_a"}, "lineage": {"on_cycle": true, "cycle": ["orders_a", "orders_b"], "upstream": [{
		"product": "orders_b", "path": "inputPorts", "declared": false,
		"observed_in": "dbt manifest target/manifest.json",
	}]}}
}

test_a_product_reading_itself_is_a_cycle_of_one if {
	no_cycles.deny == {{
		"msg": "input port reads product \"orders_a\", which is itself: a product reading its own output is a lineage cycle",
		"path": "inputPorts[0]",
		"resource": "orders_a",
	}} with input as {"product": {"id": "orders_a"}, "lineage": {"on_cycle": true, "cycle": ["orders_a"], "upstream": [
		{"product": "orders_a", "path": "inputPorts[0]"},
	]}}
}

test_a_product_reading_itself_on_a_larger_cycle_is_told_both if {
	no_cycles.deny == {
		{
			"msg": "input port reads product \"orders_a\", which is itself: a product reading its own output is a lineage cycle",
			"path": "inputPorts[0]",
			"resource": "orders_a",
		},
		{
			"msg": "input port reads product \"orders_b\", which is on a lineage cycle with it: orders_a, orders_b (sorted by name)",
			"path": "inputPorts[1]",
			"resource": "orders_b",
		},
	} with input as {"product": {"id": "orders_a"}, "lineage": {"on_cycle": true, "cycle": ["orders_a", "orders_b"], "upstream": [
		{"product": "orders_a", "path": "inputPorts[0]"},
		{"product": "orders_b", "path": "inputPorts[1]"},
	]}}
}

test_a_cycle_without_its_edges_in_the_input_is_still_found if {
	no_cycles.deny == {{
		"msg": "product is on a lineage cycle with: orders_a, orders_b (sorted by name)",
		"path": "inputPorts",
	}} with input as {"lineage": {"on_cycle": true, "cycle": ["orders_a", "orders_b"], "upstream": []}}
}

package global.lineage.no_cycles_test

import data.global.lineage.no_cycles

test_product_off_cycles_passes if {
	count(no_cycles.deny) == 0 with input as {"lineage": {"on_cycle": false, "cycle": []}}
}

test_product_on_a_cycle_fails if {
	no_cycles.deny == {{
		"msg": "product is on a lineage cycle with: orders_a, orders_b (sorted by name)",
		"path": "inputPorts",
	}} with input as {"lineage": {"on_cycle": true, "cycle": ["orders_a", "orders_b"]}}
}

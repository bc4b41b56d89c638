# METADATA
# title: Lineage has no cycles
# description: >-
#   Products that feed each other cannot be refreshed in a defined order, and an error in one
#   spreads around the loop. Good: lineage is a directed acyclic graph.
# custom:
#   id: LIN-003
#   category: lineage
#   severity: high
#   enforcement: blocking
#   override: none
#   params: {}
#   remediation: Break the cycle, e.g. by splitting the shared part into a product both read.
#   examples:
#     fail: "orders_a reads orders_b, and orders_b reads orders_a"
#     pass: "orders_a reads orders_b, and orders_b reads only source systems"
package global.lineage.no_cycles

import data.global.lib.result
import data.global.lib.values

# At each input port (or imported edge) that reads a product of the cycle: where the loop can be broken.
deny contains result.fail_on(msg, u.path, u.product) if {
	input.lineage.on_cycle == true
	some u in _closing
	msg := _message(u)
}

# (the cycle's edges are all in input.lineage.upstream; should none be, the finding is still made)
deny contains result.fail(msg, "inputPorts") if {
	input.lineage.on_cycle == true
	count(_closing) == 0
	msg := sprintf("product is on a lineage cycle with: %s (sorted by name)", [concat(", ", input.lineage.cycle)])
}

_closing contains u if {
	some u in values.items(input.lineage.upstream)
	u.product in {p | some p in input.lineage.cycle}
}

_message(u) := sprintf("%s, which is itself: a product reading its own output is a lineage cycle", [values.reads(u)]) if {
	u.product == input.product.id
}

_message(u) := msg if {
	u.product != input.product.id
	msg := sprintf(
		"%s, which is on a lineage cycle with it: %s (sorted by name)",
		[values.reads(u), concat(", ", input.lineage.cycle)],
	)
}

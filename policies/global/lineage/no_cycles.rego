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

deny contains result.fail(msg, "inputPorts") if {
	input.lineage.on_cycle == true
	msg := sprintf("product is on a lineage cycle with: %s (sorted by name)", [concat(", ", input.lineage.cycle)])
}

# METADATA
# title: Deprecated upstreams are replaced
# description: >-
#   A deprecated product will be retired: products reading it should plan the move before it
#   happens. Good: every input port reads an active product (a product retired itself is exempt).
# custom:
#   id: LIN-002
#   category: lineage
#   severity: medium
#   enforcement: warning
#   override: waivable
#   params: {}
#   remediation: Plan the move to the deprecated product's successor; request a waiver with the migration ticket.
#   examples:
#     fail: "inputPorts: [{product: orders_legacy_feed}] where orders_legacy_feed has status: deprecated"
#     pass: "inputPorts: [{product: orders_order_items}] where orders_order_items has status: active"
package global.lineage.deprecated_upstream

import data.global.lib.result
import data.global.lib.values

deny contains result.fail_on(msg, u.path, u.product) if {
	some u in values.items(input.lineage.upstream)
	u.status == "deprecated"
	not _retired
	msg := sprintf("%s, which is deprecated", [values.reads(u)])
}

# (a product retired itself is no longer read: it has nothing to move)
_retired if input.product.status == "retired"

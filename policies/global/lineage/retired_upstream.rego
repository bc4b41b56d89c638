# METADATA
# title: No retired upstreams
# description: >-
#   A retired product is no longer maintained or refreshed: whatever is built on it is silently
#   stale. Good: every input port reads an active (or at worst deprecated) product; a product
#   retired itself is no longer read, and is exempt.
# custom:
#   id: LIN-001
#   category: lineage
#   severity: high
#   enforcement: blocking
#   override: none
#   params: {}
#   remediation: Move the input port to the retired product's successor, or retire this product too.
#   examples:
#     fail: "inputPorts: [{product: orders_v1_feed}] where orders_v1_feed has status: retired"
#     pass: "inputPorts: [{product: orders_order_items}] where orders_order_items has status: active"
package global.lineage.retired_upstream

import data.global.lib.result
import data.global.lib.values

deny contains result.fail_on(msg, u.path, u.product) if {
	some u in values.items(input.lineage.upstream)
	u.status == "retired"
	not _retired
	msg := sprintf("%s, which is retired", [values.reads(u)])
}

# (a product retired itself is no longer read: it has nothing to move)
_retired if input.product.status == "retired"

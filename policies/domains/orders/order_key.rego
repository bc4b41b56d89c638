# METADATA
# title: Orders contracts key their rows by order_id
# description: >-
#   Every schema object published by an orders product carries the order key, so consumers can
#   join order data across orders products without guessing. Good: a column named order_id in every
#   schema object.
# custom:
#   id: ORDERS-001
#   category: standard-fields
#   severity: medium
#   enforcement: warning
#   override: params
#   params:
#     key_column:
#       type: string
#       default: order_id
#       description: The name of the order key column.
#   remediation: Add the order key column (order_id) to the schema object, or map the legacy key to it.
#   examples:
#     fail: "schema: [{name: legacy_orders, properties: [{name: legacy_ref}]}]"
#     pass: "schema: [{name: order_items, properties: [{name: order_id}]}]"
package domains.orders.order_key

import data.global.lib.result

deny contains result.contract_fail(contract, msg, object.path, object.name) if {
	some contract in input.contracts
	some object in contract.objects
	key := input.params["ORDERS-001"].key_column
	not _has_column(object, key)
	msg := sprintf("schema object %s in %s has no %s column", [object.name, contract.id, key])
}

_has_column(object, key) if {
	some column in object.properties
	column.name == key
}

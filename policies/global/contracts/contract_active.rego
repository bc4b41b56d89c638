# METADATA
# title: Published contracts are active
# description: >-
#   A product that is live publishes only active contracts: a draft, deprecated or retired
#   contract is no promise consumers can rely on. Draft and proposed products are exempt while
#   they are being designed, retired ones because nobody may read them any more (LIN-001).
#   Good: status: active.
# custom:
#   id: CON-004
#   category: contracts
#   severity: high
#   enforcement: blocking
#   override: waivable
#   params:
#     statuses:
#       type: array
#       default: ["active"]
#       description: Contract statuses a live product may publish.
#   remediation: >-
#     Set the contract's status to active once it is agreed with consumers, or keep the product in
#     draft until then; request a waiver while a deprecated contract is phased out.
#   examples:
#     fail: "status: draft (product status: active)"
#     pass: "status: active"
package global.contracts.contract_active

import data.global.lib.result
import data.global.lib.values

deny contains result.contract_fail(c, msg, "status", c.id) if {
	not _exempt
	statuses := input.params["CON-004"].statuses
	some c in input.contracts
	status := object.get(c, "status", null)
	not status in statuses
	msg := sprintf("contract %s %s; it must be one of %s", [values.contract(c), _has(status), concat(", ", statuses)])
}

# Not `not input.product.status in {...}`: with no product, OPA makes that literal undefined, not true.
_exempt if input.product.status in {"draft", "proposed", "retired"}

_has(status) := "has no status" if status == null

_has(status) := sprintf("has status %q", [status]) if is_string(status)

_has(status) := sprintf("has status %v", [status]) if {
	status != null
	not is_string(status)
}

# METADATA
# title: Restricted products name their approvers
# description: >-
#   A product whose access model is restricted or confidential names who approves access
#   requests, so that requests do not stall and every grant has an accountable approver.
#   Good: access.approvers names at least one person or role.
# custom:
#   id: ACC-003
#   category: access
#   severity: medium
#   enforcement: warning
#   override: waivable
#   params: {}
#   remediation: >-
#     List the people or roles who approve access requests under access.approvers (in an ODPS
#     descriptor: the custom property approvers).
#   examples:
#     fail: "access: {model: confidential}"
#     pass: "access: {model: confidential, approvers: [orders-data-owner]}"
package global.access.approvers

import data.global.lib.result
import data.global.lib.values

deny contains result.fail(msg, "access.approvers") if {
	access := input.product.access
	is_object(access)
	model := access.model
	model in {"restricted", "confidential"}
	values.empty(object.get(access, "approvers", null))
	msg := sprintf("access model %q requires access.approvers, but no approver is listed", [model])
}

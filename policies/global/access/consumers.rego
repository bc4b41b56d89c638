# METADATA
# title: Restricted products name their consumers
# description: >-
#   A product whose access model is restricted or confidential lists the consumers (teams or
#   products) allowed to read it, so that access is granted deliberately and can be reviewed.
#   Good: access.consumers names at least one consumer.
# custom:
#   id: ACC-002
#   category: access
#   severity: high
#   enforcement: blocking
#   override: waivable
#   params: {}
#   remediation: >-
#     List the teams or products allowed to read the product under access.consumers (in an ODPS
#     descriptor: the custom property consumers), or request a waiver while the consumers are being
#     agreed.
#   examples:
#     fail: "access: {model: restricted, consumers: []}"
#     pass: "access: {model: restricted, consumers: [finance_reporting]}"
package global.access.consumers

import data.global.lib.result
import data.global.lib.values

deny contains result.fail(msg, "access.consumers") if {
	access := input.product.access
	is_object(access)
	model := access.model
	model in {"restricted", "confidential"}
	values.empty(object.get(access, "consumers", null))
	msg := sprintf("access model %q requires access.consumers, but no consumer is listed", [model])
}

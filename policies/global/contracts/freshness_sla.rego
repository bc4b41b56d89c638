# METADATA
# title: Contracts promise freshness
# description: >-
#   Every contract states how fresh its data is (a freshness or latency SLA property), because
#   consumers cannot build reliable pipelines on data whose delay is unknown. Good: slaProperties
#   has an entry such as {property: freshness, value: 1, unit: h}.
# custom:
#   id: CON-006
#   category: contracts
#   severity: medium
#   enforcement: blocking
#   override: params
#   params:
#     properties:
#       type: array
#       default: ["freshness", "latency"]
#       description: SLA property names (case-insensitive) that count as a freshness promise.
#   remediation: "Add a freshness SLA to the contract, e.g. slaProperties: [{property: freshness, value: 1, unit: h}]."
#   examples:
#     fail: "slaProperties: [{property: retention, value: 1, unit: y}]"
#     pass: "slaProperties: [{property: freshness, value: 1, unit: h}]"
package global.contracts.freshness_sla

import data.global.lib.result
import data.global.lib.values

deny contains result.contract_fail(c, msg, "slaProperties", c.id) if {
	some c in input.contracts
	properties := input.params["CON-006"].properties
	not _promises_freshness(c, properties)
	msg := sprintf("contract %s has no freshness SLA: no slaProperties entry has property %s", [
		values.contract(c), concat(" or ", properties),
	])
}

_promises_freshness(c, properties) if {
	some sla in values.items(c.sla)
	is_string(sla.property)
	some p in properties
	lower(sla.property) == lower(p)
}

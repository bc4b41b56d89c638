# METADATA
# title: Column classifications use the council's levels
# description: >-
#   A column's classification is one of the levels the council defines, so that every rule that
#   compares levels (public ports, PII protection, product coverage) can rank it. Good: a level
#   from governance/council.yaml, spelled exactly.
# custom:
#   id: CLS-003
#   category: classification
#   severity: medium
#   enforcement: blocking
#   override: none
#   params: {}
#   remediation: >-
#     Replace the column's classification with one of the council's levels (by default public,
#     internal, restricted, confidential).
#   examples:
#     fail: "properties: [{name: ssn, classification: secret}]"
#     pass: "properties: [{name: ssn, classification: confidential}]"
package global.classification.known_column_levels

import data.global.lib.classification
import data.global.lib.columns
import data.global.lib.result
import data.global.lib.values

deny contains result.contract_fail(c, msg, path, columns.resource(o, p)) if {
	ranks := classification.ranks
	some c in input.contracts
	some o in c.objects
	some p in o.properties
	cls := p.classification
	not ranks[cls]
	not values.empty(cls)
	path := sprintf("%s.classification", [p.path])
	msg := sprintf("column %s in %s has unknown classification %s; use one of %s", [
		values.show(p.name), c.id, values.show(cls), _levels,
	])
}

_levels := concat(", ", [sprintf("%v", [l]) | some l in classification.levels])

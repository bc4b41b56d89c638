# METADATA
# title: Columns are classified
# description: >-
#   Every column of every contract carries a classification, so that sensitive data can be found,
#   masked and kept off public ports column by column. Good: each schema property has
#   classification set to one of the council's levels.
# custom:
#   id: CLS-002
#   category: classification
#   severity: medium
#   enforcement: blocking
#   override: waivable
#   params: {}
#   remediation: >-
#     Add a classification to the column in the contract's schema, e.g. classification: internal.
#   examples:
#     fail: "properties: [{name: customer_email}]"
#     pass: "properties: [{name: customer_email, classification: restricted}]"
package global.classification.columns_classified

import data.global.lib.classification
import data.global.lib.columns
import data.global.lib.result
import data.global.lib.values

deny contains result.contract_fail(c, msg, p.path, columns.resource(o, p)) if {
	ranks := classification.ranks
	some c in input.contracts
	some o in c.objects
	some p in o.properties
	not ranks[p.classification]
	values.empty(object.get(p, "classification", null))
	msg := sprintf("column %s in %s has no classification", [values.show(p.name), c.id])
}

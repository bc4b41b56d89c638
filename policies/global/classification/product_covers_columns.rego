# METADATA
# title: Product classification covers its columns
# description: >-
#   A product is classified at least as high as its most sensitive column, because access and
#   publication decisions are made on the product's classification. Good: a product with a
#   confidential column is itself classified confidential.
# custom:
#   id: CLS-005
#   category: classification
#   severity: high
#   enforcement: blocking
#   override: none
#   params: {}
#   remediation: >-
#     Raise the product's classification to the highest column level, or move the sensitive
#     columns to a separate, higher-classified product.
#   examples:
#     fail: "classification: internal, with column ssn classified confidential"
#     pass: "classification: confidential, with column ssn classified confidential"
package global.classification.product_covers_columns

import data.global.lib.classification
import data.global.lib.columns
import data.global.lib.result
import data.global.lib.values

deny contains result.fail_on(msg, "classification", columns.resource(o, p)) if {
	product_cls := input.product.classification
	ranks := classification.ranks
	product_rank := ranks[product_cls]
	some c in input.contracts
	some o in c.objects
	some p in o.properties
	cls := p.classification
	ranks[cls] > product_rank
	msg := sprintf("product is classified %q but column %s in %s is classified %q", [
		product_cls, values.show(p.name), c.id, cls,
	])
}

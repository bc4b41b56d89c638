# METADATA
# title: Products are classified
# description: >-
#   Every product carries a classification from the council's levels, so that access, retention
#   and publication rules can be applied to it. Good: classification is one of the levels in
#   governance/council.yaml (by default public, internal, restricted, confidential).
# custom:
#   id: CLS-001
#   category: classification
#   severity: high
#   enforcement: blocking
#   override: none
#   params: {}
#   remediation: >-
#     Set classification to the level of the most sensitive data in the product, using one of the
#     council's levels (in an ODPS descriptor: the custom property classification).
#   examples:
#     fail: "classification: secret"
#     pass: "classification: restricted"
package global.classification.product_classification

import data.global.lib.classification
import data.global.lib.result
import data.global.lib.values

deny contains result.fail(msg, "classification") if {
	is_object(input.product)
	values.empty(object.get(input.product, "classification", null))
	msg := sprintf("product has no classification; set one of %s", [_levels])
}

deny contains result.fail(msg, "classification") if {
	cls := input.product.classification
	not values.empty(cls)
	not classification.known(cls)
	msg := sprintf("classification %s is not a known level; use one of %s", [values.show(cls), _levels])
}

_levels := concat(", ", [sprintf("%v", [l]) | some l in classification.levels])

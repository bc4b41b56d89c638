# METADATA
# title: Sensitive products are not publicly accessible
# description: >-
#   A product classified restricted or higher cannot use the public access model: the access
#   model must be at least as strict as the data it guards. Good: a confidential product uses the
#   restricted or confidential access model.
# custom:
#   id: ACC-005
#   category: access
#   severity: high
#   enforcement: blocking
#   override: none
#   params:
#     restricted_from:
#       type: string
#       format: classification-level
#       default: restricted
#       description: The lowest classification level that may not use the public access model.
#   remediation: >-
#     Change access.model to restricted or confidential (and list consumers and approvers), or
#     correct the product's classification if the data is not actually sensitive.
#   examples:
#     fail: "classification: confidential, access: {model: public}"
#     pass: "classification: confidential, access: {model: confidential}"
package global.access.model_matches_classification

import data.global.lib.classification
import data.global.lib.result

deny contains result.fail(msg, "access.model") if {
	input.product.access.model == "public"
	cls := input.product.classification
	level := input.params["ACC-005"].restricted_from
	classification.at_least(cls, level)
	msg := sprintf("access model is \"public\" but the product is classified %q; products classified %s or higher need a stricter access model", [cls, level])
}

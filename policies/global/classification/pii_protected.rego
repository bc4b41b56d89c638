# METADATA
# title: PII columns are classified restricted or higher
# description: >-
#   A column tagged as personal data (PII) must be classified at least restricted, so that it is
#   never published openly or granted without approval. Good: a column tagged pii has
#   classification restricted or confidential.
# custom:
#   id: CLS-004
#   category: classification
#   severity: critical
#   enforcement: blocking
#   override: params
#   params:
#     pii_tags:
#       type: array
#       default: ["pii"]
#       description: Column tags that mark personal data (compared case-insensitively).
#     min_level:
#       type: string
#       format: classification-level
#       default: restricted
#       description: The lowest classification level allowed for a column with one of those tags.
#   remediation: >-
#     Raise the column's classification to restricted or higher (and check the product's
#     classification and access model), or remove the PII tag if the column holds no personal data.
#   examples:
#     fail: "properties: [{name: email, tags: [pii], classification: internal}]"
#     pass: "properties: [{name: email, tags: [pii], classification: restricted}]"
package global.classification.pii_protected

import data.global.lib.classification
import data.global.lib.columns
import data.global.lib.result
import data.global.lib.values

deny contains result.contract_fail(c, msg, path, columns.resource(o, p)) if {
	pii := _pii
	some c in input.contracts
	some o in c.objects
	some p in o.properties
	is_array(p.tags)
	some tag in p.tags
	is_string(tag)
	pii[lower(tag)]
	tags := {t | some t in p.tags; is_string(t); lower(t) in pii}
	min_level := input.params["CLS-004"].min_level
	cls := object.get(p, "classification", null)
	problem := _problem(cls, min_level)
	path := sprintf("%s.classification", [p.path])
	msg := sprintf("column %s in %s is tagged %s but %s; it must be classified %s or higher", [
		values.show(p.name), c.id, concat(", ", tags), problem, min_level,
	])
}

# The column's tags that mark personal data.
_pii := {lower(p) | some p in input.params["CLS-004"].pii_tags; is_string(p)}

_problem(cls, _) := "has no classification" if values.empty(cls)

_problem(cls, min_level) := sprintf("is classified %q", [cls]) if {
	classification.known(cls)
	classification.rank(cls) < classification.rank(min_level)
}

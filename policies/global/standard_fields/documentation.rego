# METADATA
# title: Products document the standard fields
# description: >-
#   Every product fills in the fields a consumer needs before using it: what it is (description),
#   who is accountable (owner), what it promises (sla) and where its schema lives (schema_url).
#   Good: each of these is present and not empty.
# custom:
#   id: STD-001
#   category: standard-fields
#   severity: medium
#   enforcement: blocking
#   override: params
#   params:
#     fields:
#       type: array
#       default: ["description", "owner", "sla", "schema_url"]
#       description: Product descriptor fields that must be present and not empty.
#   remediation: >-
#     Fill in the missing fields in the product descriptor (for ODPS descriptors: description.purpose,
#     the team's owner, and the custom properties sla and schema_url).
#   examples:
#     fail: "owner: \"\" (and no sla)"
#     pass: "owner: orders-team, sla: {freshness: 1h}, description: ..., schema_url: ..."
package global.standard_fields.documentation

import data.global.lib.result

deny contains result.fail_on(msg, field, field) if {
	is_object(input.product)
	some field in input.params["STD-001"].fields
	value := object.get(input.product, field, null)
	value == null
	msg := sprintf("product descriptor has no %s", [field])
}

deny contains result.fail_on(msg, field, field) if {
	is_object(input.product)
	some field in input.params["STD-001"].fields
	value := object.get(input.product, field, null)
	_empty(value)
	msg := sprintf("product descriptor has an empty %s", [field])
}

_empty(v) if v == []

_empty(v) if _blank_string(v)

# An object is empty when it has no keys or all its values are unset (a normalized sla: {}).
_empty(v) if {
	is_object(v)
	every x in v {
		_unset(x)
	}
}

_unset(x) if x == null

_unset(x) if x == []

_unset(x) if x == {}

_unset(x) if _blank_string(x)

_blank_string(v) if {
	is_string(v)
	trim_space(v) == ""
}

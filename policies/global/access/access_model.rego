# METADATA
# title: Products declare an access model
# description: >-
#   Every product states how access to it is granted (access.model), using one of the council's
#   access models, so that consumers know how to get access and platform teams can provision
#   permissions automatically. Good: access.model is public, restricted or confidential.
# custom:
#   id: ACC-001
#   category: access
#   severity: high
#   enforcement: blocking
#   override: params
#   params:
#     models:
#       type: array
#       default: ["public", "restricted", "confidential"]
#       enum: ["public", "restricted", "confidential"]
#       description: The access models a product may declare.
#   remediation: >-
#     Add an access section with a model from the allowed list, e.g. access: {model: restricted,
#     consumers: [...], approvers: [...]} (in an ODPS descriptor: the custom properties accessModel,
#     consumers and approvers).
#   examples:
#     fail: "access: {model: open}"
#     pass: "access: {model: restricted}"
package global.access.access_model

import data.global.lib.result
import data.global.lib.values

deny contains result.fail(msg, "access") if {
	is_object(input.product)
	object.get(input.product, "access", null) == null
	msg := sprintf("product declares no access section; access.model must be one of %s", [_allowed])
}

deny contains result.fail(msg, "access.model") if {
	access := input.product.access
	is_object(access)
	values.empty(object.get(access, "model", null))
	msg := sprintf("access.model is not set; it must be one of %s", [_allowed])
}

deny contains result.fail(msg, "access.model") if {
	model := input.product.access.model
	not values.empty(model)
	not model in input.params["ACC-001"].models
	msg := sprintf("access model %s is not one of %s", [values.show(model), _allowed])
}

_allowed := concat(", ", [sprintf("%v", [m]) | some m in input.params["ACC-001"].models])

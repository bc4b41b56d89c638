# METADATA
# title: Input ports resolve in the mesh
# description: >-
#   Every input port names a product that exists in the mesh and a contract that product
#   publishes, so that lineage is complete and upstream changes can be traced to their consumers.
#   Good: each input port's product and contractId match a product of the mesh and one of its
#   contracts.
# custom:
#   id: CON-007
#   category: contracts
#   severity: high
#   enforcement: blocking
#   override: none
#   params: {}
#   remediation: >-
#     Correct the input port's product and contractId to an existing product and a contract it
#     publishes (check the spelling and the upstream's output ports), or register the upstream
#     product in the mesh first.
#   examples:
#     fail: "inputPorts: [{product: crm_customrs, contractId: crm-customers-v1}]"
#     pass: "inputPorts: [{product: crm_customers, contractId: crm-customers-v1}]"
package global.contracts.upstream_found

import data.global.lib.result
import data.global.lib.values

deny contains result.fail_on(msg, u.path, _resource(u)) if {
	some u in values.items(input.lineage.upstream)
	u.found == false
	is_string(u.product)
	msg := sprintf("input port names product %q, which is not in the mesh", [u.product])
}

# ODPS input ports name only a contract: without a publisher there is no product name.
deny contains result.fail_on(msg, u.path, _resource(u)) if {
	some u in values.items(input.lineage.upstream)
	u.found == false
	not is_string(u.product)
	not values.empty(u.contractId)
	msg := sprintf("input port names contract %s, which no product in the mesh publishes", [values.show(u.contractId)])
}

deny contains result.fail("input port names neither a product nor a contract", u.path) if {
	some u in values.items(input.lineage.upstream)
	u.found == false
	not is_string(u.product)
	values.empty(u.contractId)
}

deny contains result.fail_on(msg, sprintf("%s.contractId", [u.path]), _resource(u)) if {
	some u in values.items(input.lineage.upstream)
	u.found == true
	u.contract_found == false
	msg := _unpublished(u)
}

_unpublished(u) := sprintf("input port names contract %q, which product %s does not publish", [
	u.contractId, values.show(u.product),
]) if is_string(u.contractId)

_unpublished(u) := sprintf("input port names product %s but no contract of it", [
	values.show(u.product),
]) if not is_string(u.contractId)

_resource(u) := u.product if is_string(u.product)

_resource(u) := u.contractId if not is_string(u.product)

# METADATA
# title: Output ports publish a contract
# description: >-
#   Every output port names the data contract it publishes (contractId), because the contract is
#   the promise consumers build on: without it there is no agreed schema, SLA or owner for the
#   port. Good: each output port has a contractId.
# custom:
#   id: CON-002
#   category: contracts
#   severity: high
#   enforcement: blocking
#   override: none
#   params: {}
#   remediation: Write an ODCS contract for the port and set the port's contractId to its id.
#   examples:
#     fail: "outputPorts: [{name: api}]"
#     pass: "outputPorts: [{name: api, contractId: orders-order-items-v1}]"
package global.contracts.port_contract

import data.global.lib.result
import data.global.lib.values

deny contains result.fail_on(msg, port.path, port.name) if {
	some port in values.items(input.product.outputPorts)
	values.empty(object.get(port, "contractId", null))
	msg := sprintf("output port %s publishes no contract (contractId is not set)", [values.show(port.name)])
}

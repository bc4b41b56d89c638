# METADATA
# title: Port contracts exist
# description: >-
#   The contract an output port names can be found among the product's contracts, so that the
#   promise the port makes can actually be read and checked. Good: every contractId matches the id
#   of a contract file of the product.
# custom:
#   id: CON-003
#   category: contracts
#   severity: high
#   enforcement: blocking
#   override: none
#   params: {}
#   remediation: >-
#     Add the contract file to the product, or correct the port's contractId to the id written in
#     the contract.
#   examples:
#     fail: "outputPorts: [{contractId: orders-v2}] with only contract orders-v1"
#     pass: "outputPorts: [{contractId: orders-v1}] with contract orders-v1"
package global.contracts.contract_found

import data.global.lib.result
import data.global.lib.values

deny contains result.fail_on(msg, sprintf("%s.contractId", [port.path]), port.name) if {
	some port in values.items(input.product.outputPorts)
	contract_id := port.contractId
	is_string(contract_id)
	contract_id != ""
	not contract_id in {c.id | some c in input.contracts}
	msg := sprintf("output port %s publishes contract %q, but the product has no contract with that id", [
		values.show(port.name), contract_id,
	])
}

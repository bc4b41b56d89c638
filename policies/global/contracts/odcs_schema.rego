# METADATA
# title: Contracts conform to ODCS
# description: >-
#   Every data contract is a valid Open Data Contract Standard (ODCS) document, so that tools and
#   consumers can read it and the other contract rules can see inside it. Good: the contract
#   validates against the ODCS JSON Schema (v3.0.0 to v3.2.0).
# custom:
#   id: CON-001
#   category: contracts
#   severity: critical
#   enforcement: blocking
#   override: none
#   params: {}
#   remediation: >-
#     Fix the contract at the reported path so that it validates against the ODCS JSON Schema (see
#     https://bitol-io.github.io/open-data-contract-standard/).
#   examples:
#     fail: "apiVersion: v3.0.0, kind: DataContract, (no id)"
#     pass: "apiVersion: v3.0.0, kind: DataContract, id: orders-v1, version: 1.0.0, status: active"
package global.contracts.odcs_schema

import data.global.lib.result
import data.global.lib.values

deny contains result.contract_fail(c, msg, e.path, c.id) if {
	some c in input.contracts
	some e in values.items(c.schema_errors)
	msg := sprintf("contract does not conform to ODCS: %s", [e.message])
}

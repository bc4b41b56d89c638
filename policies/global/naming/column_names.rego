# METADATA
# title: Column names are snake_case
# description: >-
#   Every column of every contract is named in lower snake_case, so that consumers can query any
#   product the same way without quoting identifiers or guessing at case. Good: customer_email.
# custom:
#   id: NAM-002
#   category: naming
#   severity: medium
#   enforcement: blocking
#   override: params
#   params:
#     pattern:
#       type: string
#       format: regex
#       default: "^[a-z][a-z0-9_]*$"
#       description: >-
#         Regular expression every column name must match; {domain} stands for the product's domain.
#   remediation: >-
#     Rename the column in the contract's schema to lower snake_case (e.g. CustomerEmail becomes
#     customer_email); keep the old name in physicalName if the storage cannot be renamed yet.
#   examples:
#     fail: "properties: [{name: CustomerEmail}]"
#     pass: "properties: [{name: customer_email}]"
package global.naming.column_names

import data.global.lib.columns
import data.global.lib.naming
import data.global.lib.result

deny contains result.contract_fail(c, msg, path, columns.resource(o, p)) if {
	some c in input.contracts
	pattern := naming.pattern(input.params["NAM-002"].pattern, c)
	some o in c.objects
	some p in o.properties
	name := p.name
	is_string(name)
	not regex.match(pattern, name)
	path := sprintf("%s.name", [p.path])
	msg := sprintf("column %q in %s %s", [name, c.id, _problem(pattern)])
}

_snake_case := `^[a-z][a-z0-9_]*$`

_problem(pattern) := "is not snake_case" if pattern == _snake_case

_problem(pattern) := sprintf("does not match %s", [pattern]) if pattern != _snake_case

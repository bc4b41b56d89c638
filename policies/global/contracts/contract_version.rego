# METADATA
# title: Contracts have a semantic version
# description: >-
#   Every contract is versioned with Semantic Versioning, so that consumers can tell a breaking
#   change to the promise (major) from a compatible one (minor, patch). Good: version: 2.1.0.
# custom:
#   id: CON-005
#   category: contracts
#   severity: medium
#   enforcement: blocking
#   override: none
#   params: {}
#   remediation: Set the contract's version to MAJOR.MINOR.PATCH (e.g. 1.0.0).
#   examples:
#     fail: "version: \"1.0\""
#     pass: "version: 1.0.0"
package global.contracts.contract_version

import data.global.lib.result
import data.global.lib.values
import data.global.lib.semver

deny contains result.contract_fail(c, msg, "version", c.id) if {
	some c in input.contracts
	version := object.get(c, "version", null)
	not semver.is_semver(version)
	msg := sprintf("contract %s %s", [values.contract(c), _problem(version)])
}

_problem(version) := "has no version; use a semantic version such as 1.0.0" if version == null

_problem(version) := sprintf("has version %q, which is not a semantic version (MAJOR.MINOR.PATCH)", [version]) if {
	is_string(version)
}

_problem(version) := sprintf("has version %v, which is not a semantic version (MAJOR.MINOR.PATCH)", [version]) if {
	version != null
	not is_string(version)
}

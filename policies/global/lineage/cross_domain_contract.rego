# METADATA
# title: Cross-domain reads go through a contract the consumer may use
# description: >-
#   Between domains, the contract is the interface: a product that reads another domain's product
#   names the contract it relies on, that contract is active, and the consumer is allowed to use
#   it (the upstream is public, lists the consumer's product, team or domain owners among its
#   consumers, or the contract has a role for the consumer's team or domain). Good: every
#   cross-domain input port names an active contract the consuming team is listed for. A read that
#   only imported lineage (dbt, OpenLineage) shows, with no input port, has no contract and fails.
# custom:
#   id: LIN-004
#   category: lineage
#   severity: high
#   enforcement: blocking
#   override: waivable
#   params: {}
#   remediation: >-
#     Name the upstream's contract in the input port (contractId), ask the upstream domain to
#     activate it, and to list your team under access.consumers (or grant a contract role).
#   examples:
#     fail: "inputPorts: [{product: customers_profiles}] (domain customers, no contractId)"
#     pass: "inputPorts: [{product: customers_profiles, contractId: customers-profiles-v1}] with orders-team a listed consumer"
package global.lineage.cross_domain_contract

import data.global.lib.result
import data.global.lib.values

deny contains result.fail_on(msg, u.path, u.product) if {
	some u in _cross_domain
	values.empty(u.contractId)
	msg := sprintf("reads %s of domain %s without a contract (%s)", [values.show(u.product), u.domain, _missing(u)])
}

_missing(u) := "contractId is not set" if not u.declared == false

# An edge only imported lineage shows: no input port declares it at all.
_missing(u) := sprintf("no input port declares it; seen in %s", [u.observed_in]) if u.declared == false

deny contains result.fail_on(msg, sprintf("%s.contractId", [u.path]), u.product) if {
	some u in _cross_domain
	is_string(u.contractId)
	u.contract_found == true
	u.contract_status != "active"
	msg := sprintf("reads %s of domain %s through contract %s, which is %s, not active", [
		values.show(u.product), u.domain, u.contractId, values.show(u.contract_status),
	])
}

deny contains result.fail_on(msg, u.path, u.product) if {
	some u in _cross_domain
	is_string(u.contractId)
	u.contract_status == "active"
	not _allowed(u)
	msg := sprintf("reads %s of domain %s, but neither its consumers nor its contract's roles include %s", [
		values.show(u.product), u.domain, concat(", ", sort(_identities)),
	])
}

_cross_domain contains u if {
	some u in values.items(input.lineage.upstream)
	u.found == true
	u.cross_domain == true
}

# Who the consumer is: the product, its owning team, and its domain's owners.
_identities contains id if {
	some id in [input.product.id, input.product.owner]
	is_string(id)
}

_identities contains owner if {
	some owner in values.items(input.domain.owners)
}

_allowed(u) if u.access_model == "public"

_allowed(u) if {
	some id in _identities
	id in values.items(u.consumers)
}

_allowed(u) if {
	some role in values.items(u.contract_roles)
	role in (_identities | {input.product.domain})
}

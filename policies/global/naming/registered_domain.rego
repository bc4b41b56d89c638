# METADATA
# title: Products belong to a registered domain
# description: >-
#   Every product names a domain that the council has registered in governance/council.yaml, so
#   that each product has an accountable domain team and its domain-level policies are applied.
# custom:
#   id: NAM-004
#   category: naming
#   severity: high
#   enforcement: blocking
#   override: none
#   params: {}
#   remediation: >-
#     Set domain to one of the domains in governance/council.yaml, or ask the council to register
#     the new domain there first.
#   examples:
#     fail: "domain: ordrs (not in governance/council.yaml)"
#     pass: "domain: orders (registered in governance/council.yaml)"
package global.naming.registered_domain

import data.global.lib.result

deny contains result.fail(msg, "domain") if {
	is_object(input.product)
	_unregistered
	domain := input.product.domain
	is_string(domain)
	domain != ""
	msg := sprintf("domain %q is not registered in governance/council.yaml", [domain])
}

deny contains result.fail(msg, "domain") if {
	is_object(input.product)
	_unregistered
	not _named(input.product.domain)
	msg := "product declares no domain; it must name a domain registered in governance/council.yaml"
}

# input.domain is null (or absent) when the domain has no entry in the registry.
_unregistered if object.get(input, "domain", null) == null

_named(d) if {
	is_string(d)
	d != ""
}

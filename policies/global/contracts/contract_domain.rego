# METADATA
# title: Contracts belong to the product's domain
# description: >-
#   A contract that declares a domain declares the domain of the product that publishes it, so
#   that ownership is the same whether one reads the descriptor or the contract. Good: the
#   contract's domain is empty or equal to the product's domain.
# custom:
#   id: CON-008
#   category: contracts
#   severity: low
#   enforcement: warning
#   override: none
#   params: {}
#   remediation: >-
#     Set the contract's domain to the product's domain (or remove it), or move the contract to a
#     product of the domain it names.
#   examples:
#     fail: "contract domain: sales (product domain: orders)"
#     pass: "contract domain: orders (product domain: orders)"
package global.contracts.contract_domain

import data.global.lib.result
import data.global.lib.values

deny contains result.contract_fail(c, msg, "domain", c.id) if {
	is_object(input.product)
	product_domain := object.get(input.product, "domain", null)
	some c in input.contracts
	domain := object.get(c, "domain", null)
	is_string(domain)
	domain != ""
	domain != product_domain
	msg := sprintf("contract %s declares domain %q, but the product belongs to domain %s", [
		values.contract(c), domain, values.show(product_domain),
	])
}

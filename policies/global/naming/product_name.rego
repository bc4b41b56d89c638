# METADATA
# title: Product names follow {domain}_{entity}
# description: >-
#   A product's name starts with its domain and continues with the entity it serves, in
#   snake_case, so that anyone can tell from the name who owns a product and what it holds.
# custom:
#   id: NAM-001
#   category: naming
#   severity: high
#   enforcement: blocking
#   override: params
#   params:
#     pattern:
#       type: string
#       format: regex
#       default: "^{domain}_[a-z][a-z0-9_]*$"
#       description: Regular expression for the name; {domain} stands for the product's domain.
#       rejects: ["{domain}", "{domain}_", "OrderItems", "{domain}_OrderItems", "{domain}-order-items", "other_order_items"]
#   remediation: Rename the product to <domain>_<entity> in snake_case, e.g. orders_order_items.
#   examples:
#     fail: "name: OrderItems (domain: orders)"
#     pass: "name: orders_order_items (domain: orders)"
package global.naming.product_name

import data.global.lib.result

deny contains result.fail(msg, "name") if {
	name := input.product.name
	is_string(input.product.domain)
	pattern := replace(input.params["NAM-001"].pattern, "{domain}", input.product.domain)
	not regex.match(pattern, name)
	msg := sprintf("product name %q does not match %s", [name, pattern])
}

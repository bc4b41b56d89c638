# METADATA
# title: Physical names start with the domain
# description: >-
#   The physicalName of every schema object (the table, topic or file it is stored as) starts with
#   the owning domain, so that storage can be traced back to its owner and domains do not collide
#   in shared catalogs. Good: orders.order_items or orders_order_items for domain orders.
# custom:
#   id: NAM-003
#   category: naming
#   severity: medium
#   enforcement: warning
#   override: params
#   params:
#     pattern:
#       type: string
#       format: regex
#       default: "^{domain}[._]"
#       description: >-
#         Regular expression for the physicalName; {domain} stands for the product's domain.
#   remediation: >-
#     Store the object under a name prefixed with its domain (a schema or name prefix, e.g.
#     orders.order_items) and update physicalName in the contract.
#   examples:
#     fail: "physicalName: tbl_order_items (domain: orders)"
#     pass: "physicalName: orders.order_items (domain: orders)"
package global.naming.physical_names

import data.global.lib.naming
import data.global.lib.result
import data.global.lib.values

deny contains result.contract_fail(c, msg, path, o.name) if {
	some c in input.contracts
	domain := naming.domain(c) # (without a domain, the rule cannot say what the name should be)
	pattern := replace(input.params["NAM-003"].pattern, "{domain}", domain)
	some o in values.items(c.objects)
	physical := o.physicalName
	is_string(physical)
	physical != ""
	not regex.match(pattern, physical)
	path := sprintf("%s.physicalName", [o.path])
	msg := sprintf("physical name %q of schema object %s in %s does not match %s", [physical, o.name, c.id, pattern])
}

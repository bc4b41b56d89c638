# METADATA
# title: Public ports carry no confidential data
# description: >-
#   An output port marked public must not expose confidential data: neither the product as a
#   whole nor any column of the contracts published through that port may be classified at or
#   above the configured level. Good: confidential data is published only through internal ports.
# custom:
#   id: ACC-004
#   category: access
#   severity: critical
#   enforcement: blocking
#   override: none
#   params:
#     level:
#       type: string
#       format: classification-level
#       default: confidential
#       description: The lowest classification level that must never be published on a public port.
#   remediation: >-
#     Make the port internal (visibility: internal), or publish a contract without the sensitive
#     columns (drop, mask or aggregate them) on the public port.
#   examples:
#     fail: "outputPorts: [{name: api, visibility: public}] with column ssn classified confidential"
#     pass: "outputPorts: [{name: api, visibility: internal}] with column ssn classified confidential"
package global.access.public_ports

import data.global.lib.classification
import data.global.lib.columns
import data.global.lib.result
import data.global.lib.values

deny contains result.fail_on(msg, sprintf("%s.visibility", [port.path]), port.name) if {
	some port in values.items(input.product.outputPorts)
	port.visibility == "public"
	level := input.params["ACC-004"].level
	exposed := array.concat(sort(_product_exposure(level)), sort(_column_exposure(port, level)))
	count(exposed) > 0
	msg := sprintf("public output port %s exposes data classified %s or higher: %s", [
		values.show(port.name), level, concat("; ", exposed),
	])
}

_product_exposure(level) := {sprintf("the product is classified %q", [cls]) |
	cls := input.product.classification
	classification.at_least(cls, level)
}

_column_exposure(port, level) := {sprintf("column %s in %s is classified %q", [columns.resource(col.object, col.column), col.contract.id, cls]) |
	some col in columns.columns
	port.name in col.contract.ports
	cls := col.column.classification
	classification.at_least(cls, level)
}

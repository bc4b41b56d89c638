# METADATA
# title: Columns of the product's contracts
# description: >-
#   Every column (schema property) of every contract, with its contract and schema object. Rules
#   that look at every column of every product iterate input.contracts directly (some c in
#   input.contracts; some o in c.objects; some p in o.properties): building this set costs several
#   times more than the rule itself.
package global.lib.columns

columns contains {"contract": c, "object": o, "column": p} if {
	some c in input.contracts
	some o in c.objects
	some p in o.properties
}

# A column written as object.column, used as a finding's resource.
resource(object, column) := sprintf("%s.%s", [object.name, column.name])

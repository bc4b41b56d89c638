# METADATA
# title: Columns of the product's contracts
# description: Every column (schema property) of every contract, with its contract and schema object.
package global.lib.columns

columns contains {"contract": c, "object": o, "column": p} if {
	some c in input.contracts
	some o in c.objects
	some p in o.properties
}

# Column names written as object.column, used as a finding's resource.
resource(col) := sprintf("%s.%s", [col.object.name, col.column.name])

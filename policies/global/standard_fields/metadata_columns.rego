# METADATA
# title: Schema objects carry the metadata columns
# description: >-
#   Every schema object of a contract has the council's standard metadata columns (when and from
#   where each row was ingested, how many source rows there were, when it was processed), so that
#   consumers can trace and reconcile any row. Good: ingested_at, source_system, source_row_count
#   and processed_at are columns of every object.
# custom:
#   id: STD-002
#   category: standard-fields
#   severity: medium
#   enforcement: blocking
#   override: waivable
#   params:
#     columns:
#       type: array
#       default: ["ingested_at", "source_system", "source_row_count", "processed_at"]
#       description: Column names every schema object must have.
#   remediation: >-
#     Add the missing metadata columns to the schema object (and populate them in the pipeline),
#     or request a waiver for objects where they cannot apply.
#   examples:
#     fail: "schema: [{name: order_items, properties: [{name: order_id}]}]"
#     pass: "schema: [{name: order_items, properties: [order_id, ingested_at, source_system, source_row_count, processed_at]}]"
package global.standard_fields.metadata_columns

import data.global.lib.result
import data.global.lib.values

deny contains result.contract_fail(c, msg, o.path, sprintf("%s.%s", [o.name, wanted])) if {
	some c in input.contracts
	some o in values.items(c.objects)
	present := {p.name | some p in values.items(o.properties)}
	some wanted in input.params["STD-002"].columns
	not wanted in present
	msg := sprintf("schema object %s in %s has no metadata column %q", [o.name, c.id, wanted])
}

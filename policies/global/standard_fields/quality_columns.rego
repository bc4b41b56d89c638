# METADATA
# title: Schema objects carry the quality columns
# description: >-
#   Every schema object of a contract has the council's data quality columns (completeness and
#   validity scores and the time of the last test run), so that consumers can judge each row's
#   fitness for use. Good: completeness_score, validity_score and last_test_run are columns of
#   every object.
# custom:
#   id: STD-003
#   category: standard-fields
#   severity: low
#   enforcement: warning
#   override: waivable
#   params:
#     columns:
#       type: array
#       default: ["completeness_score", "validity_score", "last_test_run"]
#       description: Column names every schema object should have.
#   remediation: >-
#     Add the missing quality columns to the schema object and have the pipeline's quality checks
#     populate them, or request a waiver.
#   examples:
#     fail: "schema: [{name: order_items, properties: [{name: order_id}]}]"
#     pass: "schema: [{name: order_items, properties: [order_id, completeness_score, validity_score, last_test_run]}]"
package global.standard_fields.quality_columns

import data.global.lib.result
import data.global.lib.values

deny contains result.contract_fail(c, msg, o.path, sprintf("%s.%s", [o.name, wanted])) if {
	some c in input.contracts
	some o in values.items(c.objects)
	present := {p.name | some p in values.items(o.properties)}
	some wanted in input.params["STD-003"].columns
	not wanted in present
	msg := sprintf("schema object %s in %s has no quality column %q", [o.name, c.id, wanted])
}

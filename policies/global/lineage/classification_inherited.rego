# METADATA
# title: Products are at least as classified as their upstreams
# description: >-
#   Classification follows the data: what is built from restricted data is restricted too, unless
#   the sensitive part was removed on the way. Where the product's contract columns name their
#   sources (ODCS transformSourceObjects), each such column is compared with the upstream columns
#   it comes from, and the product is not compared with those upstreams as a whole; every other
#   upstream is compared with the product. A declassification declared on the input port (the
#   whole edge) or on the column, with a method the council accepts, stops the inheritance.
#   Good: an internal product takes only internal columns from a restricted upstream, or declares
#   that it aggregates.
# custom:
#   id: LIN-005
#   category: lineage
#   severity: high
#   enforcement: blocking
#   override: waivable
#   params:
#     methods:
#       type: array
#       default: ["anonymisation", "aggregation", "masking"]
#       description: Declassification methods that stop classification inheritance.
#   remediation: >-
#     Raise the product's (or the column's) classification to the upstream's, name the upstream
#     columns actually used in transformSourceObjects, or declare the declassifying transformation
#     on the input port or the column (declassification: {method: aggregation, description: ...}).
#   examples:
#     fail: "customers_segments (internal) reads customers_profiles (restricted) and declares no declassification"
#     pass: "inputPorts: [{product: customers_profiles, declassification: {method: aggregation, description: counts per segment}}]"
package global.lineage.classification_inherited

import data.global.lib.classification
import data.global.lib.result
import data.global.lib.values

# Product level: an upstream none of the product's columns names as a source.
deny contains result.fail_on(msg, u.path, u.product) if {
	some u in values.items(input.lineage.upstream)
	u.found == true
	not u.column_level == true
	declared := object.get(u, "declassification", null)
	not _accepted(declared)
	_below(input.product.classification, u.classification)
	msg := sprintf("product is classified %s but reads %s, classified %s, and %s%s", [
		values.show(input.product.classification), values.show(u.product), values.show(u.classification), _why(declared),
		_seen(u),
	])
}

# (a read only imported lineage shows has no input port to declare a declassification on)
_seen(u) := sprintf(" (no input port declares the read; seen in %v)", [u.observed_in]) if u.declared == false

_seen(u) := "" if not u.declared == false

# Column level: a column classified below the highest upstream column it names as a source.
deny contains result.contract_fail({"id": c.contract}, msg, sprintf("%s.classification", [c.path]), resource) if {
	some c in values.items(input.lineage.columns)
	declared := object.get(c, "declassification", null)
	not _accepted(declared)
	sources := [s | some s in values.items(c.sources); not _edge_declassified(s.product); classification.known(s.classification)]
	top := max([classification.rank(s.classification) | some s in sources])
	_below(c.classification, classification.levels[top])
	src := [s | some s in sources; classification.rank(s.classification) == top][0]
	resource := sprintf("%s.%s", [c.object, c.column])
	msg := sprintf("column %s in %s is classified %s but comes from %s.%s of %s, classified %s, and %s", [
		values.show(c.column), c.contract, values.show(c.classification), src.object, src.column, src.product,
		src.classification, _why(declared),
	])
}

# A column naming an upstream's object and a column it does not have (a typo, a column removed
# upstream): the column it comes from is unknown, so is the classification it must keep.
deny contains result.contract_fail({"id": c.contract}, msg, sprintf("%s.transformSourceObjects", [c.path]), resource) if {
	some c in values.items(input.lineage.columns)
	some d in values.items(c.dangling)
	resource := sprintf("%s.%s", [c.object, c.column])
	msg := sprintf("column %s in %s names %s, but object %s of %s has no such column: the classification it inherits cannot be compared", [
		values.show(c.column), c.contract, values.show(d.entry), d.object, d.product,
	])
}

_below(level, upstream) if classification.rank(level) < classification.rank(upstream)

_accepted(declared) if declared.method in input.params["LIN-005"].methods

_edge_declassified(product) if {
	some u in values.items(input.lineage.upstream)
	u.product == product
	_accepted(object.get(u, "declassification", null))
}

_why(null) := "declares no declassification"

_why(declared) := sprintf("its declassification method %s is not one the council accepts (%s)", [
	values.show(declared.method), concat(", ", input.params["LIN-005"].methods),
]) if {
	declared != null
	not _accepted(declared)
}

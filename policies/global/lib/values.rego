# METADATA
# title: Value helpers
# description: >-
#   Small helpers every rule needs on untrusted input: the embedded interpreter raises an error
#   (rather than returning undefined) when a builtin gets a value of the wrong type.
package global.lib.values

# v when it is an array, else an empty array: `some x in values.items(input.product.outputPorts)`.
items(v) := v if is_array(v)

items(v) := [] if not is_array(v)

# How a product reads upstream u (input.lineage.upstream): through an input port, or by an edge only
# imported lineage (dbt, OpenLineage) shows.
reads(u) := sprintf("input port reads product %s", [show(u.product)]) if not u.declared == false

reads(u) := sprintf("reads product %s (no input port declares it; seen in %v)", [show(u.product), u.observed_in]) if {
	u.declared == false
}

# A value for a message: strings quoted, anything else (null, numbers, lists) as Rego prints it.
show(v) := sprintf("%q", [v]) if is_string(v)

show(v) := sprintf("%v", [v]) if not is_string(v)

# A contract for a message: its id, or "without an id" when it has none (CON-001 reports that).
contract(c) := c.id if _named(c)

contract(c) := "without an id" if not _named(c)

_named(c) if {
	is_string(c.id)
	c.id != ""
}

# Missing, null, blank text, or an empty list or object.
empty(v) if v in {null, [], {}}

empty(v) if {
	is_string(v)
	trim_space(v) == ""
}

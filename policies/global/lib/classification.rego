# METADATA
# title: Classification levels
# description: >-
#   The council's classification levels, lowest first, read from data.govern.council
#   (loaded from governance/council.yaml), with the standard four levels as the default.
package global.lib.classification

default_levels := ["public", "internal", "restricted", "confidential"]

levels := data.govern.council.classification_levels

levels := default_levels if not data.govern.council.classification_levels

# The rank of a level (0 is the lowest); undefined for an unknown level.
rank(level) := i if {
	some i, l in levels
	l == level
}

known(level) if rank(level)

# True when level a is at least as high as level b.
at_least(a, b) if rank(a) >= rank(b)

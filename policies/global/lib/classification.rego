# METADATA
# title: Classification levels
# description: >-
#   The council's classification levels, lowest first, read from data.govern.council
#   (loaded from governance/council.yaml), with the standard four levels as the default.
package global.lib.classification

default_levels := ["public", "internal", "restricted", "confidential"]

levels := data.govern.council.classification_levels

levels := default_levels if not data.govern.council.classification_levels

# Each level's rank (0 is the lowest). Rules that look at every column index this object
# (ranks[cls]) rather than call rank(): a lookup costs far less than a function call.
ranks := {l: i | some i, l in levels}

# The rank of a level; undefined for an unknown level.
rank(level) := ranks[level]

known(level) if ranks[level]

# True when level a is at least as high as level b.
at_least(a, b) if rank(a) >= rank(b)

# METADATA
# title: Semantic versions
# description: Semantic Versioning 2.0.0, as a regular expression.
package global.lib.semver

pattern := `^(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)(?:-((?:0|[1-9]\d*|\d*[a-zA-Z-][0-9a-zA-Z-]*)(?:\.(?:0|[1-9]\d*|\d*[a-zA-Z-][0-9a-zA-Z-]*))*))?(?:\+([0-9a-zA-Z-]+(?:\.[0-9a-zA-Z-]+)*))?$`

is_semver(v) if {
	is_string(v)
	regex.match(pattern, v)
}

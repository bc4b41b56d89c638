# METADATA
# title: Products have a semantic version
# description: >-
#   Every product is versioned with Semantic Versioning, so that consumers can tell breaking
#   changes (major) from compatible ones (minor, patch). Good: version: 1.4.0.
# custom:
#   id: STD-006
#   category: standard-fields
#   severity: medium
#   enforcement: blocking
#   override: none
#   params: {}
#   remediation: >-
#     Set version to MAJOR.MINOR.PATCH (e.g. 1.0.0), raising MAJOR for breaking changes.
#   examples:
#     fail: "version: v1"
#     pass: "version: 1.0.0"
package global.standard_fields.product_version

import data.global.lib.result
import data.global.lib.semver
import data.global.lib.values

deny contains result.fail("product has no version; use a semantic version such as 1.0.0", "version") if {
	is_object(input.product)
	object.get(input.product, "version", null) == null
}

deny contains result.fail(msg, "version") if {
	version := input.product.version
	version != null
	not semver.is_semver(version)
	msg := sprintf("product version %s is not a semantic version (MAJOR.MINOR.PATCH, e.g. 1.0.0)", [values.show(version)])
}

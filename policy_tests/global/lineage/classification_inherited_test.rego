package global.lineage.classification_inherited_test

import data.global.lineage.classification_inherited

params := {"LIN-005": {"methods": ["anonymisation", "aggregation", "masking"]}}

upstream(overrides) := object.union(
	{
		"product": "customers_profiles", "domain": "customers", "classification": "restricted", "found": true,
		"column_level": false, "declassification": null, "path": "inputPorts[0]",
	},
	overrides,
)

doc(cls, up, columns) := {
	"product": {"id": "customers_segments", "classification": cls},
	"lineage": {"upstream": [up], "columns": columns},
	"params": params,
}

source(cls) := {
	"product": "customers_profiles", "contract": "customers-profiles-v1", "object": "profiles",
	"column": "email", "classification": cls,
}

column(overrides) := object.union(
	{
		"contract": "customers-segments-v1", "object": "segments", "column": "email_domain",
		"classification": "internal", "declassification": null,
		"sources": [source("internal"), source("restricted")], "path": "schema[0].properties[3]",
	},
	overrides,
)

test_product_as_classified_as_upstream_passes if {
	count(classification_inherited.deny) == 0 with input as doc("restricted", upstream({}), [])
	count(classification_inherited.deny) == 0 with input as doc("confidential", upstream({}), [])
}

test_product_less_classified_than_upstream_fails if {
	classification_inherited.deny == {{
		"msg": `product is classified "internal" but reads "customers_profiles", classified "restricted", and declares no declassification`,
		"path": "inputPorts[0]",
		"resource": "customers_profiles",
	}} with input as doc("internal", upstream({}), [])
}

test_a_read_only_imported_lineage_shows_says_where_it_was_seen if {
	imported := upstream({"declared": false, "observed_in": "OpenLineage events.json", "path": "inputPorts"})
	classification_inherited.deny == {{
		"msg": `product is classified "internal" but reads "customers_profiles", classified "restricted", and declares no declassification (no input port declares the read; seen in OpenLineage events.json)`,
		"path": "inputPorts",
		"resource": "customers_profiles",
	}} with input as doc("internal", imported, [])
}

test_accepted_port_declassification_passes if {
	declared := {"method": "aggregation", "description": "counts per segment"}
	count(classification_inherited.deny) == 0 with input as doc("internal", upstream({"declassification": declared}), [])
}

test_unaccepted_method_fails_and_says_why if {
	classification_inherited.deny == {{
		"msg": `product is classified "internal" but reads "customers_profiles", classified "restricted", and its declassification method "pseudonymisation" is not one the council accepts (anonymisation, aggregation, masking)`,
		"path": "inputPorts[0]",
		"resource": "customers_profiles",
	}} with input as doc("internal", upstream({"declassification": {"method": "pseudonymisation"}}), [])
}

test_unknown_or_missing_levels_are_left_to_the_classification_rules if {
	count(classification_inherited.deny) == 0 with input as doc(null, upstream({}), [])
	count(classification_inherited.deny) == 0 with input as doc("internal", upstream({"classification": "secret"}), [])
	count(classification_inherited.deny) == 0 with input as doc("internal", upstream({"found": false}), [])
}

test_column_level_replaces_the_product_comparison if {
	only_internal := column({"sources": [source("internal")]})
	count(classification_inherited.deny) == 0 with input as doc("internal", upstream({"column_level": true}), [only_internal])
}

test_column_less_classified_than_its_source_fails if {
	classification_inherited.deny == {{
		"msg": `column "email_domain" in customers-segments-v1 is classified "internal" but comes from profiles.email of customers_profiles, classified restricted, and declares no declassification`,
		"path": "schema[0].properties[3].classification",
		"resource": "segments.email_domain",
		"contract": "customers-segments-v1",
	}} with input as doc("internal", upstream({"column_level": true}), [column({})])
}

test_column_declassification_passes if {
	masked := column({"declassification": {"method": "masking"}})
	count(classification_inherited.deny) == 0 with input as doc("internal", upstream({"column_level": true}), [masked])
}

test_port_declassification_covers_its_columns if {
	edge := upstream({"column_level": true, "declassification": {"method": "anonymisation"}})
	count(classification_inherited.deny) == 0 with input as doc("internal", edge, [column({})])
}

test_a_column_naming_an_upstream_column_that_is_not_there_fails_at_its_sources if {
	dangling := {"entry": "customers.profiles.e_mail", "product": "customers_profiles", "object": "profiles"}
	classification_inherited.deny == {{
		"msg": `column "email_domain" in customers-segments-v1 names "customers.profiles.e_mail", but object profiles of customers_profiles has no such column: the classification it inherits cannot be compared`,
		"path": "schema[0].properties[3].transformSourceObjects",
		"resource": "segments.email_domain",
		"contract": "customers-segments-v1",
	}} with input as doc("restricted", upstream({"column_level": true}), [column({"sources": [], "dangling": [dangling]})])
}

package global.classification.pii_protected_test

import data.global.classification.pii_protected

params := {"CLS-004": {"pii_tags": ["pii"], "min_level": "restricted"}}

contract(email_tags, email_cls) := {
	"id": "customers-v1",
	"objects": [{
		"name": "customers",
		"path": "schema[0]",
		"properties": [
			{"name": "customer_id", "tags": [], "classification": "internal", "path": "schema[0].properties[0]"},
			{"name": "email", "tags": email_tags, "classification": email_cls, "path": "schema[0].properties[1]"},
		],
	}],
}

test_pii_column_classified_restricted_passes if {
	count(pii_protected.deny) == 0 with input as {
		"product": null,
		"contracts": [contract(["pii"], "restricted")],
		"params": params,
	}
}

test_untagged_internal_column_passes if {
	count(pii_protected.deny) == 0 with input as {
		"product": null,
		"contracts": [contract(["contact"], "internal")],
		"params": params,
	}
}

test_pii_column_classified_internal_fails if {
	pii_protected.deny == {{
		"msg": `column "email" in customers-v1 is tagged PII but is classified "internal"; it must be classified restricted or higher`,
		"path": "schema[0].properties[1].classification",
		"resource": "customers.email",
		"contract": "customers-v1",
	}} with input as {
		"product": null,
		"contracts": [contract(["contact", "PII"], "internal")],
		"params": params,
	}
}

test_unclassified_pii_column_fails if {
	pii_protected.deny == {{
		"msg": `column "email" in customers-v1 is tagged gdpr but has no classification; it must be classified confidential or higher`,
		"path": "schema[0].properties[1].classification",
		"resource": "customers.email",
		"contract": "customers-v1",
	}} with input as {
		"product": null,
		"contracts": [contract(["gdpr"], null)],
		"params": {"CLS-004": {"pii_tags": ["pii", "gdpr"], "min_level": "confidential"}},
	}
}

test_column_with_two_pii_tags_is_one_finding_naming_both if {
	pii_protected.deny == {{
		"msg": `column "email" in customers-v1 is tagged PII, gdpr, pii but is classified "internal"; it must be classified restricted or higher`,
		"path": "schema[0].properties[1].classification",
		"resource": "customers.email",
		"contract": "customers-v1",
	}} with input as {
		"product": null,
		"contracts": [contract(["pii", "gdpr", "PII"], "internal")],
		"params": {"CLS-004": {"pii_tags": ["pii", "gdpr"], "min_level": "restricted"}},
	}
}

test_tags_that_are_not_a_list_are_not_read if {
	count(pii_protected.deny) == 0 with input as {
		"product": null,
		"contracts": [contract("pii", "internal"), contract({"kind": "pii"}, "internal"), contract(null, "internal")],
		"params": params,
	}
}

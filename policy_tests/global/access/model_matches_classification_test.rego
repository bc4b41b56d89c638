package global.access.model_matches_classification_test

import data.global.access.model_matches_classification

params := {"ACC-005": {"restricted_from": "restricted"}}

test_internal_public_product_passes if {
	count(model_matches_classification.deny) == 0 with input as {
		"product": {"classification": "internal", "access": {"model": "public"}},
		"params": params,
	}
}

test_confidential_product_with_confidential_model_passes if {
	count(model_matches_classification.deny) == 0 with input as {
		"product": {"classification": "confidential", "access": {"model": "confidential"}},
		"params": params,
	}
}

test_restricted_public_product_fails if {
	model_matches_classification.deny == {{
		"msg": `access model is "public" but the product is classified "restricted"; products classified restricted or higher need a stricter access model`,
		"path": "access.model",
	}} with input as {
		"product": {"classification": "restricted", "access": {"model": "public"}},
		"params": params,
	}
}

test_council_levels_are_used if {
	model_matches_classification.deny == {{
		"msg": `access model is "public" but the product is classified "secret"; products classified restricted or higher need a stricter access model`,
		"path": "access.model",
	}} with input as {
		"product": {"classification": "secret", "access": {"model": "public"}},
		"params": params,
	} with data.govern.council.classification_levels as ["public", "restricted", "secret"]
}

package global.lineage.cross_domain_contract_test

import data.global.lineage.cross_domain_contract

consumer := {"id": "orders_order_items", "owner": "orders-team", "domain": "orders"}

edge(overrides) := object.union(
	{
		"product": "customers_profiles", "domain": "customers", "found": true, "contract_found": true,
		"cross_domain": true, "contractId": "customers-profiles-v1", "contract_status": "active",
		"consumers": ["orders-team"], "access_model": "restricted", "contract_roles": [], "path": "inputPorts[0]",
	},
	overrides,
)

doc(e) := {"product": consumer, "domain": {"name": "orders", "owners": ["orders-owners"]}, "lineage": {"upstream": [e]}}

test_listed_consumer_with_active_contract_passes if {
	count(cross_domain_contract.deny) == 0 with input as doc(edge({}))
}

test_same_domain_edge_without_contract_passes if {
	count(cross_domain_contract.deny) == 0 with input as doc(edge({"cross_domain": false, "contractId": null}))
}

test_public_upstream_and_contract_role_allow_the_consumer if {
	count(cross_domain_contract.deny) == 0 with input as doc(edge({"consumers": [], "access_model": "public"}))
	count(cross_domain_contract.deny) == 0 with input as doc(edge({"consumers": [], "contract_roles": ["orders"]}))
	count(cross_domain_contract.deny) == 0 with input as doc(edge({"consumers": ["orders-owners"]}))
}

test_cross_domain_edge_without_contract_fails if {
	cross_domain_contract.deny == {{
		"msg": `reads "customers_profiles" of domain customers without a contract (contractId is not set)`,
		"path": "inputPorts[0]",
		"resource": "customers_profiles",
	}} with input as doc(edge({"contractId": null, "contract_status": null}))
}

test_undeclared_imported_edge_fails_naming_its_evidence if {
	imported := edge({"contractId": null, "contract_status": null, "declared": false, "observed_in": "dbt manifest target/manifest.json", "path": "inputPorts"})
	cross_domain_contract.deny == {{
		"msg": `reads "customers_profiles" of domain customers without a contract (no input port declares it; seen in dbt manifest target/manifest.json)`,
		"path": "inputPorts",
		"resource": "customers_profiles",
	}} with input as doc(imported)
}

test_draft_contract_fails if {
	cross_domain_contract.deny == {{
		"msg": `reads "customers_profiles" of domain customers through contract customers-profiles-v1, which is "draft", not active`,
		"path": "inputPorts[0].contractId",
		"resource": "customers_profiles",
	}} with input as doc(edge({"contract_status": "draft"}))
}

test_consumer_not_listed_fails if {
	cross_domain_contract.deny == {{
		"msg": `reads "customers_profiles" of domain customers, but neither its consumers nor its contract's roles include orders-owners, orders-team, orders_order_items`,
		"path": "inputPorts[0]",
		"resource": "customers_profiles",
	}} with input as doc(edge({"consumers": ["finance-team"]}))
}

package global.standard_fields.monitoring_test

import data.global.standard_fields.monitoring

params := {"STD-004": {"metrics": ["freshness_metric", "volume_metric", "quality_metric"]}}

test_all_metrics_pass if {
	count(monitoring.deny) == 0 with input as {
		"product": {"monitoring": {
			"freshness_metric": "orders_lag_minutes",
			"volume_metric": "orders_rows",
			"quality_metric": "orders_dq_score",
		}},
		"params": params,
	}
}

test_missing_and_empty_metrics_fail if {
	monitoring.deny == {
		{"msg": "monitoring has no volume_metric", "path": "monitoring", "resource": "volume_metric"},
		{"msg": "monitoring has no quality_metric", "path": "monitoring", "resource": "quality_metric"},
	} with input as {
		"product": {"monitoring": {"freshness_metric": "orders_lag_minutes", "volume_metric": ""}},
		"params": params,
	}
}

test_missing_monitoring_fails_per_metric if {
	monitoring.deny == {
		{"msg": "product declares no monitoring, so it has no freshness_metric", "path": "monitoring", "resource": "freshness_metric"},
		{"msg": "product declares no monitoring, so it has no volume_metric", "path": "monitoring", "resource": "volume_metric"},
	} with input as {
		"product": {"name": "orders_order_items", "monitoring": null},
		"params": {"STD-004": {"metrics": ["freshness_metric", "volume_metric"]}},
	}
}

test_standalone_contract_is_skipped if {
	count(monitoring.deny) == 0 with input as {"product": null, "params": params}
}

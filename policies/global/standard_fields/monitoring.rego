# METADATA
# title: Products name their monitoring metrics
# description: >-
#   Every product names the metrics that monitor its freshness, volume and quality, so that
#   breaches of its SLA are detected by the platform rather than reported by consumers. Good:
#   monitoring lists freshness_metric, volume_metric and quality_metric.
# custom:
#   id: STD-004
#   category: standard-fields
#   severity: medium
#   enforcement: warning
#   override: params
#   params:
#     metrics:
#       type: array
#       default: ["freshness_metric", "volume_metric", "quality_metric"]
#       description: Keys of the monitoring section that must name a metric.
#   remediation: >-
#     Add a monitoring section naming the metric for each key, e.g. monitoring:
#     {freshness_metric: orders_order_items_lag_minutes, ...}.
#   examples:
#     fail: "monitoring: {freshness_metric: orders_lag}"
#     pass: "monitoring: {freshness_metric: orders_lag, volume_metric: orders_rows, quality_metric: orders_dq}"
package global.standard_fields.monitoring

import data.global.lib.result
import data.global.lib.values

deny contains result.fail_on(msg, "monitoring", metric) if {
	is_object(input.product)
	not is_object(input.product.monitoring)
	some metric in input.params["STD-004"].metrics
	msg := sprintf("product declares no monitoring, so it has no %s", [metric])
}

deny contains result.fail_on(msg, "monitoring", metric) if {
	monitoring := input.product.monitoring
	is_object(monitoring)
	some metric in input.params["STD-004"].metrics
	values.empty(object.get(monitoring, metric, null))
	msg := sprintf("monitoring has no %s", [metric])
}

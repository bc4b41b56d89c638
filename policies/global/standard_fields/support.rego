# METADATA
# title: Products name a support channel
# description: >-
#   Every product tells consumers where to ask for help: an email address or a Slack channel
#   watched by its team. Good: support has a non-empty email or slack.
# custom:
#   id: STD-005
#   category: standard-fields
#   severity: low
#   enforcement: warning
#   override: none
#   params: {}
#   remediation: "Add support: {email: <team address>} or support: {slack: <#channel>} to the descriptor."
#   examples:
#     fail: "support: {email: \"\"}"
#     pass: "support: {slack: \"#orders-data\"}"
package global.standard_fields.support

import data.global.lib.result

deny contains result.fail("product declares no support channel; add an email or slack channel", "support") if {
	is_object(input.product)
	not is_object(input.product.support)
}

deny contains result.fail("support has neither an email address nor a slack channel", "support") if {
	support := input.product.support
	is_object(support)
	not _channel(support, "email")
	not _channel(support, "slack")
}

_channel(support, key) if {
	value := object.get(support, key, null)
	is_string(value)
	trim_space(value) != ""
}

package global.standard_fields.support_test

import data.global.standard_fields.support

test_slack_channel_passes if {
	count(support.deny) == 0 with input as {"product": {"support": {"email": null, "slack": "#orders-data"}}, "params": {}}
}

test_email_passes if {
	count(support.deny) == 0 with input as {"product": {"support": {"email": "orders@example.com"}}, "params": {}}
}

test_empty_channels_fail if {
	support.deny == {{
		"msg": "support has neither an email address nor a slack channel",
		"path": "support",
	}} with input as {"product": {"support": {"email": "", "slack": null}}, "params": {}}
}

test_missing_support_fails if {
	support.deny == {{
		"msg": "product declares no support channel; add an email or slack channel",
		"path": "support",
	}} with input as {"product": {"support": null}, "params": {}}
}

test_standalone_contract_is_skipped if {
	count(support.deny) == 0 with input as {"product": null, "params": {}}
}

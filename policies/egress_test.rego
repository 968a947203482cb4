# Tests of the egress gate: one or more per rule, allow and deny.
package convot.egress_test

import data.convot.egress

# with_flow merges patch into flow (object.union: nested objects merge, other
# values are replaced).

# --- fixtures ------------------------------------------------------------------

org_eu := {
	"id": 7,
	"region": "eu",
	"ai_features": ["summary", "suggested_reply", "translation", "language_detection", "embeddings"],
	"shopify_scopes": ["read_customers"],
}

org_us := {"id": 8, "region": "us", "ai_features": [], "shopify_scopes": []}

end_user := {"kind": "end_user", "restricted": false, "objections": [], "consents": []}

customer := {"kind": "customer", "restricted": false, "objections": [], "consents": []}

no_subject := {"kind": "none", "restricted": false, "objections": [], "consents": []}

restricted_user := object.union(end_user, {"restricted": true})

summary := {
	"subprocessor": "anthropic",
	"purpose": "functional.ai.summary",
	"categories": ["user.content.message", "user.name", "user.contact.email"],
	"organization": org_eu,
	"subject": end_user,
}

storage := {
	"subprocessor": "aws",
	"purpose": "essential.service.storage",
	"categories": ["user.content.attachment"],
	"organization": org_eu,
	"subject": end_user,
	"destination_region": "eu",
}

billing := {
	"subprocessor": "stripe",
	"purpose": "essential.service.payment_processing",
	"categories": ["user.name", "user.contact.email", "user.contact.address", "user.financial"],
	"organization": org_eu,
	"subject": customer,
	"destination_region": "eu",
}

email := {
	"subprocessor": "postmark",
	"purpose": "essential.service.notifications.email",
	"categories": ["user.contact.email", "user.name", "system.operations"],
	"organization": org_eu,
	"subject": customer,
}

error_event := {
	"subprocessor": "sentry",
	"purpose": "analytics.reporting.system.performance",
	"categories": ["system.operations", "user.contact.email", "user.device.ip_address", "user.authorization.credentials", "user.content.message", "user.device.cookie_id"],
	"organization": org_eu,
	"subject": end_user,
}

pubsub := {
	"subprocessor": "redis",
	"purpose": "essential.service",
	"categories": ["user.content.message", "user.contact.email"],
	"organization": org_eu,
	"subject": end_user,
	"destination_region": "eu",
}

order_lookup := {
	"subprocessor": "shopify",
	"purpose": "essential.service.operations.support",
	"categories": ["user.contact.email"],
	"organization": org_eu,
	"subject": end_user,
}

marketing := {
	"subprocessor": "postmark",
	"purpose": "marketing.communications.email",
	"categories": ["user.contact.email", "user.name"],
	"organization": org_eu,
	"subject": object.union(customer, {"consents": ["marketing_email"]}),
}

postmark_with_marketing := ["essential.service", "essential.service.notifications.email", "marketing.communications.email"]

postmark_with_improve := ["essential.service", "functional.service.improve"]

with_flow(flow, patch) := object.union(flow, patch)

# --- default and shape -------------------------------------------------------------

test_default_deny_empty_input if {
	not egress.allow with input as {}
	d := egress.decision with input as {}
	d.allow == false
	count(d.reasons) > 0
}

test_deny_input_not_object if {
	"input is not an object" in egress.deny with input as "anthropic"
	not egress.allow with input as "anthropic"
}

test_decision_shape_on_allow if {
	d := egress.decision with input as storage
	d.allow == true
	d.reasons == ["aws may receive user.content.attachment for essential.service.storage"]
	d.drop == []
	d.redact == []
}

test_reasons_sorted_deny_list if {
	d := egress.decision with input as with_flow(billing, {"categories": ["user.content.message"], "subject": end_user})
	d.allow == false
	d.reasons == ["stripe does not receive data of subject kind end_user", "stripe may not receive user.content.message"]
}

test_reasons_fallback if {
	egress.reasons == ["denied: no rule allows this flow"] with egress.allow as false with egress.deny as set()
}

# --- registry: subprocessors, purposes, DPAs ----------------------------------------

test_unknown_subprocessor if {
	"unknown subprocessor mailchimp" in egress.deny with input as with_flow(email, {"subprocessor": "mailchimp"})
	not egress.allow with input as with_flow(email, {"subprocessor": "mailchimp"})
}

test_missing_subprocessor if {
	flow := object.remove(email, ["subprocessor"])
	"unknown subprocessor (missing)" in egress.deny with input as flow
}

test_dpa_required if {
	"no data processing agreement is recorded for postmark" in egress.deny with input as email
		with data.convot.registry.subprocessors.postmark.dpa_signed as false
	not egress.allow with input as email with data.convot.registry.subprocessors.postmark.dpa_signed as false
	egress.allow with input as email
}

test_unknown_purpose if {
	"unknown purpose advertising" in egress.deny with input as with_flow(email, {"purpose": "advertising"})
	"unknown purpose (missing)" in egress.deny with input as object.remove(email, ["purpose"])
}

test_purpose_not_registered if {
	flow := with_flow(email, {"purpose": "essential.service.payment_processing"})
	"postmark is not registered for purpose essential.service.payment_processing" in egress.deny with input as flow
	not egress.allow with input as flow
}

test_ai_purpose_not_registered_for_other_ai if {
	flow := with_flow(summary, {"subprocessor": "openai"})
	"openai is not registered for purpose functional.ai.summary" in egress.deny with input as flow
}

test_malformed_registry_entry_denies if {
	# a field set to null stands for a missing one (a `with` on data merges
	# objects, so a removed field would come back)
	aws := data.convot.registry.subprocessors.aws
	every field in ["purposes", "categories", "subjects", "locations", "dpa_signed"] {
		entry := object.union(aws, {field: null})
		not egress.allow with input as storage with data.convot.registry.subprocessors.aws as entry
	}
	no_transfers := object.union(aws, {"transfers": null})
	us_storage := with_flow(storage, {"destination_region": "us"})
	"no transfer mechanism (SCCs or adequacy decision) recorded for transfers of European Union (EEA) data to aws in us" in egress.deny with input as us_storage
		with data.convot.registry.subprocessors.aws as no_transfers
}

test_missing_input_denies if {
	not egress.allow
	d := egress.decision
	d.allow == false
	"organization missing" in d.reasons
}

# --- categories -----------------------------------------------------------------------

test_no_categories if {
	"no data categories declared" in egress.deny with input as with_flow(email, {"categories": []})
	not egress.allow with input as with_flow(email, {"categories": []})
}

test_categories_not_a_list if {
	flow := with_flow(email, {"categories": "user.contact.email"})
	"categories must be a list of data categories" in egress.deny with input as flow
	not egress.allow with input as flow
}

test_category_not_a_string if {
	flow := with_flow(email, {"categories": ["user.contact.email", 42]})
	"data category 42 is not a string" in egress.deny with input as flow
	not egress.allow with input as flow
}

test_unknown_category if {
	flow := with_flow(email, {"categories": ["user.contact.email", "user.biometric"]})
	"unknown data category user.biometric" in egress.deny with input as flow
	not egress.allow with input as flow
}

test_category_not_registered if {
	flow := with_flow(billing, {"categories": ["user.contact.email", "user.content.message"]})
	"stripe may not receive user.content.message" in egress.deny with input as flow
	not egress.allow with input as flow
}

test_child_category_allowed_under_parent if {
	# redis registers user.contact; user.contact.email is its child
	egress.allow with input as pubsub
	egress.allow with input as with_flow(storage, {"categories": ["user.contact.email", "user.device.ip_address"]})
}

test_parent_category_not_allowed_under_child if {
	flow := with_flow(summary, {"categories": ["user.contact"]})
	"anthropic may not receive user.contact" in egress.deny with input as flow
}

test_coverage_is_by_whole_name_segments if {
	egress.unregistered == set() with input as with_flow(pubsub, {"categories": ["user.contact", "user.contact.email"]})
	egress.unregistered == {"user.contact"} with input as with_flow(summary, {"categories": ["user.contact", "user.contact.email"]})
	flow := with_flow(pubsub, {"categories": ["user.contactless"]})
	egress.unregistered == {"user.contactless"} with input as flow
		with data.convot.registry.categories["user.contactless"] as "a category whose name starts like user.contact"
}

# --- organization and data subject ---------------------------------------------------

test_organization_missing if {
	flow := object.remove(email, ["organization"])
	"organization missing" in egress.deny with input as flow
	not egress.allow with input as flow
	"organization missing" in egress.deny with input as with_flow(email, {"organization": {"id": 0, "region": "eu"}})
	"organization missing" in egress.deny with input as with_flow(email, {"organization": {"id": "7", "region": "eu"}})
}

test_deployment_backup_needs_no_organization if {
	backup := with_flow(storage, {"categories": ["system.operations"], "subject": no_subject, "organization": {"id": 0, "region": "eu"}})
	egress.allow with input as backup
	# only encrypted system data of no one, only to be stored
	"organization missing" in egress.deny with input as with_flow(backup, {"categories": ["user.content.attachment"]})
	"organization missing" in egress.deny with input as with_flow(backup, {"subject": end_user})
	"organization missing" in egress.deny with input as with_flow(email, {"organization": {"id": 0, "region": "eu"}, "subject": no_subject, "categories": ["system.operations"]})
	"organization region mars unknown" in egress.deny with input as with_flow(backup, {"organization": {"id": 0, "region": "mars"}})
}

test_deployment_answers_a_person_by_transactional_mail if {
	answer := with_flow(email, {"organization": {"id": 0, "region": "eu", "deployment": true}})
	egress.allow with input as answer
	# a missing ID is never taken for the deployment
	"organization missing" in egress.deny with input as with_flow(email, {"organization": {"id": 0, "region": "eu"}})
	# not marketing, not another purpose, not without a person it answers
	"organization missing" in egress.deny with input as with_flow(answer, {"purpose": "marketing.communications.email"})
	"organization missing" in egress.deny with input as with_flow(answer, {"subject": no_subject})
	"organization missing" in egress.deny with input as with_flow(storage, {"organization": {"id": 0, "region": "eu", "deployment": true}, "subject": customer})
}

test_organization_region_unknown if {
	flow := with_flow(email, {"organization": {"id": 9, "region": "mars"}})
	"organization region mars unknown" in egress.deny with input as flow
	"organization region (missing) unknown" in egress.deny with input as json.remove(email, ["organization/region"])
}

test_subject_kind_unknown if {
	"data subject kind visitor unknown" in egress.deny with input as with_flow(email, {"subject": {"kind": "visitor"}})
	"data subject kind (missing) unknown" in egress.deny with input as object.remove(email, ["subject"])
}

test_subject_kind_not_served if {
	flow := with_flow(billing, {"subject": end_user})
	"stripe does not receive data of subject kind end_user" in egress.deny with input as flow
	egress.allow with input as billing
}

test_personal_data_without_subject if {
	flow := with_flow(email, {"subject": no_subject})
	"personal data declared without a data subject" in egress.deny with input as flow
	egress.allow with input as with_flow(email, {"subject": no_subject, "categories": ["system.operations"]})
}

test_unknown_objection if {
	flow := with_flow(email, {"subject": object.union(customer, {"objections": ["everything"]})})
	"unknown objection everything" in egress.deny with input as flow
}

# --- regions and transfers ---------------------------------------------------------------

test_destination_required if {
	flow := object.remove(storage, ["destination_region"])
	"destination region required: aws processes data in [\"us\", \"eu\", \"uk\", \"ch\"]" in egress.deny with input as flow
	not egress.allow with input as flow
}

test_destination_defaults_to_only_location if {
	egress.destination == "us" with input as email
	egress.destination == "eu" with input as storage
}

test_destination_not_a_string if {
	flow := with_flow(email, {"destination_region": 5})
	"postmark does not process data in region 5" in egress.deny with input as flow
	not egress.allow with input as flow
}

test_destination_not_registered if {
	flow := with_flow(email, {"destination_region": "eu"})
	"postmark does not process data in region eu" in egress.deny with input as flow
	not egress.allow with input as flow
}

no_eu_us := [t | some t in data.convot.registry.subprocessors.aws.transfers; not eu_us(t)]

eu_us(t) if {
	t.from == "eu"
	t.to == "us"
}

eu_transfer_denied := "no transfer mechanism (SCCs or adequacy decision) recorded for transfers of European Union (EEA) data to aws in us"

test_eu_to_us_needs_sccs if {
	us_storage := with_flow(storage, {"destination_region": "us"})
	egress.allow with input as us_storage
	eu_transfer_denied in egress.deny with input as us_storage
		with data.convot.registry.subprocessors.aws.transfers as no_eu_us
	not egress.allow with input as us_storage with data.convot.registry.subprocessors.aws.transfers as no_eu_us
}

test_us_org_needs_no_sccs if {
	flow := with_flow(storage, {"destination_region": "us", "organization": org_us})
	egress.allow with input as flow with data.convot.registry.subprocessors.aws.transfers as []
}

test_eu_to_eu_needs_no_sccs if {
	egress.allow with input as storage with data.convot.registry.subprocessors.aws.transfers as []
}

# An SCC record needs its module, version and date; an adequacy record its
# decision and date.
test_incomplete_transfer_record_denies if {
	us_storage := with_flow(storage, {"destination_region": "us"})
	every field in ["module", "version", "date"] {
		broken := [u |
			some t in data.convot.registry.subprocessors.aws.transfers
			u := object.union(t, {field: ""})
		]
		eu_transfer_denied in egress.deny with input as us_storage with data.convot.registry.subprocessors.aws.transfers as broken
	}
	uk_to_eu := with_flow(storage, {"organization": org_uk})
	egress.allow with input as uk_to_eu
	no_decision := [u |
		some t in data.convot.registry.subprocessors.aws.transfers
		u := object.union(t, {"decision": ""})
	]
	"no transfer mechanism (SCCs or adequacy decision) recorded for transfers of United Kingdom data to aws in eu" in egress.deny with input as uk_to_eu
		with data.convot.registry.subprocessors.aws.transfers as no_decision
}

org_uk := object.union(org_eu, {"id": 9, "region": "uk"})

org_ch := object.union(org_eu, {"id": 10, "region": "ch"})

# United Kingdom and Swiss organizations are served (policy §7 names them);
# their data leaves only under a recorded mechanism.
test_uk_and_ch_organizations if {
	every org in [org_uk, org_ch] {
		egress.allow with input as with_flow(storage, {"organization": org, "destination_region": org.region})
		egress.allow with input as with_flow(storage, {"organization": org, "destination_region": "us"})
		egress.allow with input as with_flow(email, {"organization": org})
		not egress.allow with input as with_flow(storage, {"organization": org, "destination_region": "us"})
			with data.convot.registry.subprocessors.aws.transfers as []
	}
	"no transfer mechanism (SCCs or adequacy decision) recorded for transfers of Switzerland data to postmark in us" in egress.deny with input as with_flow(email, {"organization": org_ch})
		with data.convot.registry.subprocessors.postmark.transfers as []
}

# The data subject's country, when known, is the origin of the transfer;
# else the organization's region is.
test_subject_location_decides_origin if {
	us_storage := with_flow(storage, {"destination_region": "us"})
	us_org_storage := with_flow(us_storage, {"organization": org_us})

	# a US organization's contact in Germany: EU data, SCCs needed
	egress.origin == "eu" with input as with_flow(us_org_storage, {"subject": {"country": "DE"}})
	eu_transfer_denied in egress.deny with input as with_flow(us_org_storage, {"subject": {"country": "de"}})
		with data.convot.registry.subprocessors.aws.transfers as no_eu_us

	# an EU organization's contact in the United States: no restricted transfer
	egress.origin == "us" with input as with_flow(us_storage, {"subject": {"country": "US"}})
	egress.allow with input as with_flow(us_storage, {"subject": {"country": "US"}})
		with data.convot.registry.subprocessors.aws.transfers as []

	# a country outside the registered regions is not a protected origin
	egress.origin == "elsewhere" with input as with_flow(us_storage, {"subject": {"country": "JP"}})

	# a contact in Switzerland of a US organization
	"no transfer mechanism (SCCs or adequacy decision) recorded for transfers of Switzerland data to aws in us" in egress.deny with input as with_flow(us_org_storage, {"subject": {"country": "CH"}})
		with data.convot.registry.subprocessors.aws.transfers as []

	# unknown location: the organization's region
	egress.origin == "eu" with input as us_storage
	egress.origin == "eu" with input as with_flow(us_storage, {"subject": {"country": ""}})
	egress.origin == "us" with input as us_org_storage
}

test_subject_country_malformed if {
	flow := with_flow(storage, {"subject": {"country": "Germany"}})
	"data subject country Germany is not an ISO 3166-1 alpha-2 code" in egress.deny with input as flow
	not egress.allow with input as flow
	"data subject country 5 is not an ISO 3166-1 alpha-2 code" in egress.deny with input as with_flow(storage, {"subject": {"country": 5}})
}

test_redis_region_pinned if {
	egress.allow with input as pubsub
	flow := with_flow(pubsub, {"destination_region": "us"})
	"redis traffic must stay in the organization's region eu, not us" in egress.deny with input as flow
	not egress.allow with input as flow
	egress.allow with input as with_flow(pubsub, {"destination_region": "us", "organization": org_us})
}

# --- AI subprocessors ------------------------------------------------------------------

test_ai_allowed_with_feature_on_and_identifiers_redacted if {
	d := egress.decision with input as summary
	d.allow == true
	d.redact == ["user.contact.email"]
	d.drop == []
	"redacted before sending: user.contact.email" in d.reasons
}

test_ai_redacts_email_phone_external_id if {
	flow := with_flow(summary, {"categories": ["user.content.message", "user.contact.email", "user.contact.phone_number", "user.unique_id", "user.name"]})
	d := egress.decision with input as flow
	d.allow == true
	d.redact == ["user.contact.email", "user.contact.phone_number", "user.unique_id"]
}

test_ai_redacts_parent_of_identifier if {
	flow := with_flow(summary, {"categories": ["user.content.message", "user.contact"]})
	d := egress.decision with input as flow
		with data.convot.registry.subprocessors.anthropic.categories as ["user.content.message", "user.contact"]
	d.allow == true
	d.redact == ["user.contact"]
}

test_ai_identifier_kept_when_needed if {
	flow := with_flow(summary, {"categories": ["user.content.message", "user.unique_id", "user.contact.email"]})
	d := egress.decision with input as flow
		with data.convot.registry.purposes["functional.ai.summary"].needs_identifiers as ["user.unique_id"]
	d.redact == ["user.contact.email"]
}

test_ai_feature_off if {
	flow := with_flow(summary, {"organization": org_us, "destination_region": "us"})
	"the organization has not turned on the AI feature summary" in egress.deny with input as flow
	not egress.allow with input as flow
	flow2 := with_flow(summary, {"purpose": "functional.ai.automated_answer"})
	"the organization has not turned on the AI feature automated_answer" in egress.deny with input as flow2
}

test_openai_embeddings if {
	flow := with_flow(summary, {"subprocessor": "openai", "purpose": "functional.ai.embeddings", "categories": ["user.content.message"]})
	egress.allow with input as flow
	"the organization has not turned on the AI feature embeddings" in egress.deny with input as flow
		with input.organization.ai_features as ["summary"]
}

test_feature_must_match_purpose if {
	egress.allow with input as with_flow(summary, {"feature": "summary"})
	flow := with_flow(summary, {"feature": "translation"})
	"feature translation does not match purpose functional.ai.summary" in egress.deny with input as flow
	not egress.allow with input as flow
	"feature summary does not match purpose essential.service.notifications.email" in egress.deny with input as with_flow(email, {"feature": "summary"})
}

test_ai_denied_after_objection_to_automated_processing if {
	flow := with_flow(summary, {"subject": object.union(end_user, {"objections": ["automated_decisions"]})})
	"the data subject objected to automated_decisions" in egress.deny with input as flow
	not egress.allow with input as flow
}

test_ai_denied_for_restricted_subject if {
	flow := with_flow(summary, {"subject": restricted_user})
	"processing of the data subject is restricted: stored, nothing more" in egress.deny with input as flow
	not egress.allow with input as flow
}

# --- restriction: stored, nothing more ------------------------------------------------

test_restricted_subject_storage_allowed if {
	egress.allow with input as with_flow(storage, {"subject": restricted_user})
}

test_restricted_subject_nothing_else if {
	every flow in [email, pubsub, order_lookup, billing] {
		f := with_flow(flow, {"subject": object.union(flow.subject, {"restricted": true})})
		"processing of the data subject is restricted: stored, nothing more" in egress.deny with input as f
		not egress.allow with input as f
	}
}

test_restricted_subject_scrubbed_error_event_allowed if {
	egress.allow with input as with_flow(error_event, {"subject": restricted_user})
}

# --- objections and consent ---------------------------------------------------------

test_objection_to_legitimate_interests if {
	flow := with_flow(email, {"purpose": "functional.service.improve", "subject": object.union(customer, {"objections": ["legitimate_interests"]})})
	"the data subject objected to legitimate_interests" in egress.deny with input as flow
		with data.convot.registry.subprocessors.postmark.purposes as postmark_with_improve
	egress.allow with input as with_flow(flow, {"subject": customer})
		with data.convot.registry.subprocessors.postmark.purposes as postmark_with_improve
}

test_marketing_with_consent if {
	egress.allow with input as marketing
		with data.convot.registry.subprocessors.postmark.purposes as postmark_with_marketing
}

test_marketing_not_registered_with_any_subprocessor if {
	# policy §6 lists Postmark for transactional email only
	"postmark is not registered for purpose marketing.communications.email" in egress.deny with input as marketing
}

test_marketing_without_consent if {
	flow := with_flow(marketing, {"subject": customer})
	"no marketing_email consent from the data subject" in egress.deny with input as flow
		with data.convot.registry.subprocessors.postmark.purposes as postmark_with_marketing
	not egress.allow with input as flow
		with data.convot.registry.subprocessors.postmark.purposes as postmark_with_marketing
}

test_marketing_after_objection_to_direct_marketing if {
	subject := object.union(customer, {"consents": ["marketing_email"], "objections": ["direct_marketing"]})
	flow := with_flow(marketing, {"subject": subject})
	"the data subject objected to direct_marketing" in egress.deny with input as flow
		with data.convot.registry.subprocessors.postmark.purposes as postmark_with_marketing
}

# --- Sentry: no personal data -----------------------------------------------------

test_sentry_drops_personal_data if {
	d := egress.decision with input as error_event
	d.allow == true
	d.drop == ["user.authorization.credentials", "user.contact.email", "user.content.message", "user.device.cookie_id", "user.device.ip_address"]
	d.reasons == [
		"sentry may receive system.operations for analytics.reporting.system.performance",
		"scrubbed before sending: user.authorization.credentials, user.contact.email, user.content.message, user.device.cookie_id, user.device.ip_address",
	]
}

test_sentry_denied_when_only_personal_data if {
	flow := with_flow(error_event, {"categories": ["user.contact.email", "user.device.ip_address"]})
	"nothing but personal data was to be sent to sentry, and all of it is scrubbed" in egress.deny with input as flow
	not egress.allow with input as flow
}

test_sentry_objection_does_not_apply_to_scrubbed_event if {
	flow := with_flow(error_event, {"subject": object.union(end_user, {"objections": ["legitimate_interests"]})})
	egress.allow with input as flow
}

# --- Stripe: billing only -----------------------------------------------------------

test_stripe_billing_allowed if {
	egress.allow with input as billing
	egress.allow with input as with_flow(billing, {"destination_region": "us"})
}

test_stripe_receives_billing_categories_only if {
	every c in ["user.content.message", "user.device.ip_address", "user.unique_id", "user.behavior"] {
		flow := with_flow(billing, {"categories": [c]})
		sprintf("stripe may not receive %s", [c]) in egress.deny with input as flow
		not egress.allow with input as flow
	}
}

# --- Shopify: authorized scopes only --------------------------------------------------

test_shopify_within_scopes if {
	egress.allow with input as order_lookup
}

test_shopify_scope_not_authorized if {
	flow := with_flow(order_lookup, {"categories": ["user.contact.email", "user.behavior.purchase_history"]})
	"scope read_orders for user.behavior.purchase_history is not authorized by the organization" in egress.deny with input as flow
	not egress.allow with input as flow
	egress.allow with input as flow with input.organization.shopify_scopes as ["read_customers", "read_orders"]
}

test_shopify_scopes_null if {
	flow := with_flow(order_lookup, {"organization": object.union(org_eu, {"shopify_scopes": null})})
	"the organization has not authorized any shopify scope" in egress.deny with input as flow
	not egress.allow with input as flow
}

test_ai_features_null if {
	flow := with_flow(summary, {"organization": object.union(org_eu, {"ai_features": null})})
	"the organization has not turned on the AI feature summary" in egress.deny with input as flow
}

test_subject_lists_null if {
	flow := with_flow(summary, {"subject": {"kind": "end_user", "objections": null, "consents": null}})
	egress.allow with input as flow
}

test_shopify_not_installed if {
	flow := with_flow(order_lookup, {"organization": object.union(org_eu, {"shopify_scopes": []})})
	"the organization has not authorized any shopify scope" in egress.deny with input as flow
	not egress.allow with input as flow
}

# --- the registry itself (policy §6, §7) --------------------------------------------

test_registry_lists_the_eight_subprocessors if {
	names := {n | some n, _ in data.convot.registry.subprocessors}
	names == {"aws", "stripe", "postmark", "sentry", "redis", "shopify", "anthropic", "openai"}
}

test_registry_every_subprocessor_signed_a_dpa if {
	every _, s in data.convot.registry.subprocessors {
		s.dpa_signed == true
	}
}

test_registry_purposes_and_categories_known if {
	every _, s in data.convot.registry.subprocessors {
		every p in s.purposes {
			data.convot.registry.purposes[p]
		}
		every c in s.categories {
			data.convot.registry.categories[c]
		}
	}
}

# Every protected region's data may reach every location of every
# subprocessor only under a complete recorded mechanism (policy §7).
test_registry_transfer_mechanism_for_every_protected_region_and_location if {
	every _, s in data.convot.registry.subprocessors {
		every l in s.locations {
			data.convot.registry.regions[l]
			every from, r in data.convot.registry.regions {
				transfer_safeguarded(s, from, r, l)
			}
		}
	}
}

transfer_safeguarded(_, _, r, _) if not r.transfer_safeguards

transfer_safeguarded(_, from, _, l) if from == l

transfer_safeguarded(s, from, _, l) if {
	some t in s.transfers
	t.from == from
	t.to == l
	egress.transfer_mechanism_valid(t)
}

# --- Convot's own infrastructure (self-hosted AI endpoint) -------------------

self_hosted_summary := with_flow(summary, {"subprocessor": "self_hosted", "feature": "summary"})

test_self_hosted_allowed_as_own_infrastructure if {
	d := egress.decision with input as self_hosted_summary
	d.allow
	"self_hosted is Convot's own infrastructure, not a subprocessor: nothing leaves Convot" in d.reasons
	d.redact == ["user.contact.email"]
	# no destination declared: it is the organization's region, no SCCs needed
	egress.destination == "eu" with input as self_hosted_summary
}

test_self_hosted_keeps_ai_switches_and_objections if {
	"the organization has not turned on the AI feature summary" in egress.deny with input as self_hosted_summary
		with input.organization.ai_features as []
	not egress.allow with input as self_hosted_summary with input.organization.ai_features as []
	objecting := with_flow(self_hosted_summary, {"subject": object.union(end_user, {"objections": ["automated_decisions"]})})
	"the data subject objected to automated_decisions" in egress.deny with input as objecting
	restricted := with_flow(self_hosted_summary, {"subject": restricted_user})
	"processing of the data subject is restricted: stored, nothing more" in egress.deny with input as restricted
}

test_subprocessor_not_own_infrastructure if {
	d := egress.decision with input as summary
	not "anthropic is Convot's own infrastructure, not a subprocessor: nothing leaves Convot" in d.reasons
	not egress.own_infrastructure with input as summary
}

# --- a Customer's own webhook endpoints (the Customer as controller) ---------------

webhook := {
	"subprocessor": "customer_endpoint",
	"purpose": "essential.service.webhooks",
	"categories": ["system.operations", "user.content.message", "user.name"],
	"organization": org_eu,
	"subject": end_user,
	"destination_region": "eu",
	"recipient_organization": 7,
}

test_webhook_to_the_organizations_own_endpoint_allowed if {
	egress.allow with input as webhook
	count(egress.deny) == 0 with input as webhook
}

test_webhook_needs_no_dpa_as_the_customer_is_the_controller if {
	not "no data processing agreement is recorded for customer_endpoint" in egress.deny with input as webhook
}

test_webhook_to_another_organization_denied if {
	flow := with_flow(webhook, {"recipient_organization": 8})
	"a Customer's endpoint receives only its own organization's data" in egress.deny with input as flow
	not egress.allow with input as flow
}

test_webhook_without_recipient_denied if {
	flow := object.remove(webhook, ["recipient_organization"])
	"a Customer's endpoint receives only its own organization's data" in egress.deny with input as flow
	not egress.allow with input as flow
}

test_webhook_for_the_deployment_denied if {
	flow := with_flow(webhook, {"organization": {"id": 0, "region": "eu", "deployment": true}, "recipient_organization": 0})
	not egress.allow with input as flow
}

test_webhook_content_of_a_restricted_contact_denied if {
	flow := with_flow(webhook, {"subject": restricted_user})
	"processing of the data subject is restricted: stored, nothing more" in egress.deny with input as flow
	not egress.allow with input as flow
}

test_webhook_ids_only_of_a_restricted_contact_allowed if {
	egress.allow with input as with_flow(webhook, {"subject": restricted_user, "categories": ["system.operations"]})
}

test_webhook_other_purpose_denied if {
	flow := with_flow(webhook, {"purpose": "functional.service.improve"})
	"customer_endpoint is not registered for purpose functional.service.improve" in egress.deny with input as flow
}

test_subprocessors_cannot_claim_the_controllers_exemption if {
	flow := with_flow(email, {"recipient_organization": 7})
	not egress.own_controller with input as flow
}

# --- disclosures (policy §6) -------------------------------------------------------

disclosure_flow := {
	"subprocessor": "disclosure_recipient",
	"purpose": "essential.legal_obligation",
	"categories": ["user.name", "user.contact.email"],
	"organization": org_eu,
	"subject": end_user,
	"destination_region": "eu",
	"disclosure": {
		"kind": "legal_demand",
		"approved": true,
		"recipient_recorded": true,
		"legal_basis_recorded": true,
		"requested": ["user.name", "user.contact.email"],
	},
}

test_approved_disclosure_to_its_recorded_recipient_allowed if {
	egress.allow with input as disclosure_flow
	count(egress.deny) == 0 with input as disclosure_flow
}

test_disclosure_recipient_without_a_request_denied if {
	flow := object.remove(disclosure_flow, ["disclosure"])
	"a disclosure recipient receives data only under a disclosure request" in egress.deny with input as flow
	"no data processing agreement is recorded for disclosure_recipient" in egress.deny with input as flow
	not egress.allow with input as flow
}

test_unapproved_disclosure_denied if {
	flow := json.patch(disclosure_flow, [{"op": "replace", "path": "/disclosure/approved", "value": false}])
	"the disclosure is not approved by a privacy officer" in egress.deny with input as flow
	not egress.allow with input as flow
}

test_disclosure_without_recorded_recipient_or_basis_denied if {
	flow := json.patch(disclosure_flow, [
		{"op": "replace", "path": "/disclosure/recipient_recorded", "value": false},
		{"op": "replace", "path": "/disclosure/legal_basis_recorded", "value": false},
	])
	"the disclosure's recipient is not recorded" in egress.deny with input as flow
	"the disclosure's legal basis is not recorded" in egress.deny with input as flow
	not egress.allow with input as flow
}

test_disclosure_of_categories_not_requested_denied if {
	flow := json.patch(disclosure_flow, [{"op": "replace", "path": "/disclosure/requested", "value": ["user.name"]}])
	"the disclosure request did not ask for user.contact.email" in egress.deny with input as flow
	not egress.allow with input as flow
}

test_disclosure_of_unknown_kind_denied if {
	flow := json.patch(disclosure_flow, [{"op": "replace", "path": "/disclosure/kind", "value": "curiosity"}])
	"unknown disclosure kind curiosity" in egress.deny with input as flow
	not egress.allow with input as flow
}

test_disclosure_request_cannot_open_a_subprocessor if {
	flow := with_flow(email, {"disclosure": disclosure_flow.disclosure})
	"a disclosure request names a disclosure recipient, not a subprocessor" in egress.deny with input as flow
}

test_disclosure_of_a_restricted_subject_denied if {
	flow := with_flow(disclosure_flow, {"subject": restricted_user})
	not egress.allow with input as flow
}

# --- clean flows and the registry's index (issue 16) -------------------------------
# A clean flow is decided from the index; every decision must be the one the
# deny rules and basics take (allow, reasons, drop, redact).

decided_as_by_the_rules(flow) if {
	d := egress.decision with input as flow
	d.allow == egress.allow with input as flow
	d.reasons == egress.reasons with input as flow
	d.drop == sort(egress.drop) with input as flow
	d.redact == sort(egress.redact) with input as flow
}

self_hosted_flow := with_flow(summary, {"subprocessor": "self_hosted", "feature": "summary"})

deployment_mail := with_flow(email, {
	"organization": {"id": 0, "region": "eu", "deployment": true},
	"categories": ["user.contact.email"],
})

clean_flows := [
	summary, storage, billing, email, error_event, pubsub, order_lookup,
	self_hosted_flow, deployment_mail,
	with_flow(storage, {"subject": object.union(end_user, {"country": "de"})}),
	with_flow(storage, {"destination_region": "us"}),
	with_flow(email, {"subject": no_subject, "categories": ["system.operations"]}),
]

test_clean_flows_allowed_as_by_the_rules if {
	every flow in clean_flows {
		egress.clean with input as flow
		egress.allow with input as flow
		decided_as_by_the_rules(flow)
	}
}

# Flows clean leaves to the rules: some denied, some allowed.
unclean_flows := [
	with_flow(summary, {"subject": restricted_user}),
	with_flow(storage, {"subject": restricted_user}),
	with_flow(summary, {"subject": object.union(end_user, {"objections": ["automated_decisions"]})}),
	with_flow(email, {"subject": object.union(customer, {"objections": ["legitimate_interests"]})}),
	with_flow(storage, {"subject": object.union(end_user, {"country": "JP"})}),
	with_flow(storage, {"subject": object.union(end_user, {"country": "xx1"})}),
	with_flow(storage, {"subject": object.union(end_user, {"country": 49})}),
	with_flow(email, {"disclosure": disclosure_flow.disclosure}),
	webhook,
	disclosure_flow,
	with_flow(summary, {"organization": {"id": 0, "region": "eu"}}),
	with_flow(storage, {"organization": {"id": 0, "region": "eu"}, "subject": no_subject, "categories": ["system.operations"]}),
	with_flow(email, {"subject": no_subject}),
	with_flow(summary, {"feature": "translation"}),
	with_flow(summary, {"organization": org_us}),
	with_flow(order_lookup, {"categories": ["user.behavior.purchase_history"]}),
	with_flow(order_lookup, {"organization": object.union(org_eu, {"shopify_scopes": []})}),
	with_flow(error_event, {"categories": ["user.contact.email"]}),
	with_flow(pubsub, {"destination_region": "us"}),
	with_flow(email, {"categories": ["user.biometric"]}),
	with_flow(email, {"categories": ["user.contact.email", 7]}),
	with_flow(email, {"categories": []}),
	with_flow(email, {"subprocessor": "mailchimp"}),
	with_flow(email, {"purpose": "functional.ai.summary"}),
	with_flow(billing, {"subject": end_user}),
]

test_unclean_flows_decided_by_the_rules if {
	every flow in unclean_flows {
		not egress.clean with input as flow
		decided_as_by_the_rules(flow)
	}
}

test_clean_marketing_email_with_consent if {
	egress.clean with input as marketing with data.convot.registry.subprocessors.postmark.purposes as postmark_with_marketing
	decided_as_by_the_rules(marketing) with data.convot.registry.subprocessors.postmark.purposes as postmark_with_marketing
	unconsented := with_flow(marketing, {"subject": customer})
	not egress.clean with input as unconsented with data.convot.registry.subprocessors.postmark.purposes as postmark_with_marketing
	decided_as_by_the_rules(unconsented) with data.convot.registry.subprocessors.postmark.purposes as postmark_with_marketing
}

test_clean_flow_of_a_country_the_registry_does_not_place if {
	# a valid code the registry does not place: origin "elsewhere", allowed
	flow := with_flow(storage, {"subject": object.union(end_user, {"country": "JP"})})
	egress.allow with input as flow
	not egress.clean with input as flow
}

test_clean_needs_a_dpa if {
	not egress.clean with input as email with data.convot.registry.subprocessors.postmark.dpa_signed as false
	decided_as_by_the_rules(email) with data.convot.registry.subprocessors.postmark.dpa_signed as false
}

test_clean_needs_a_transfer_mechanism if {
	us_storage := with_flow(storage, {"destination_region": "us"})
	not egress.clean with input as us_storage with data.convot.registry.subprocessors.aws.transfers as []
	not egress.allow with input as us_storage with data.convot.registry.subprocessors.aws.transfers as []
	egress.clean with input as storage with data.convot.registry.subprocessors.aws.transfers as []
}

test_clean_checks if {
	egress.clean_decision.allow with input as summary
	not egress.clean_decision with input as with_flow(summary, {"organization": org_us})
	egress.clean_decision with input as marketing with data.convot.registry.subprocessors.postmark.purposes as postmark_with_marketing
	not egress.clean_decision with input as with_flow(marketing, {"subject": customer}) with data.convot.registry.subprocessors.postmark.purposes as postmark_with_marketing
	not egress.clean_decision with input as with_flow(order_lookup, {"categories": ["user.behavior.purchase_history"]})
	not egress.clean_decision with input as with_flow(order_lookup, {"organization": object.union(org_eu, {"shopify_scopes": [7]})})
	egress.clean_decision with input as with_flow(email, {"subject": no_subject, "categories": ["system.operations"]})
	not egress.clean_decision with input as with_flow(email, {"subject": no_subject})
	egress.clean_decision with input as with_flow(storage, {"subject": object.union(end_user, {"country": "gb"})})
	egress.clean_decision with input as with_flow(storage, {"subject": object.union(end_user, {"country": ""})})
	not egress.clean_decision with input as with_flow(storage, {"subject": object.union(end_user, {"country": "JP"})})
	not egress.clean_decision with input as with_flow(storage, {"subject": object.union(end_user, {"country": 7})})
	egress.clean_decision with input as with_flow(summary, {"destination_region": ""})
	not egress.clean_decision with input as with_flow(summary, {"destination_region": "eu"})
	not egress.clean_decision with input as with_flow(summary, {"destination_region": 7})
	egress.clean_decision with input as with_flow(self_hosted_flow, {"destination_region": "eu"})
	not egress.clean_decision with input as with_flow(self_hosted_flow, {"destination_region": "us"})
	egress.named_organization == org_eu with input as storage
	egress.named_organization == deployment_mail.organization with input as deployment_mail
	egress.deployment_answers with input as deployment_mail
	not egress.deployment_answers with input as email
	not egress.deployment_answers with input as with_flow(deployment_mail, {"purpose": "essential.service"})
	not egress.named_organization with input as with_flow(storage, {"organization": {"id": 0, "region": "eu"}})
	egress.clean_entry == egress.index.recipients.aws["essential.service.storage"] with input as storage
	d := egress.clean_decision with input as error_event
	d.drop == ["user.authorization.credentials", "user.contact.email", "user.content.message", "user.device.cookie_id", "user.device.ip_address"]
	d.redact == []
	egress.clean_decision.redact == ["user.contact.email"] with input as summary
	egress.clean_decision.reasons[2] == "self_hosted is Convot's own infrastructure, not a subprocessor: nothing leaves Convot" with input as self_hosted_flow
}

test_index_vocabulary if {
	"user.name" in egress.index.personal_categories
	"user" in egress.index.personal_categories
	not "system.operations" in egress.index.personal_categories
	egress.index.country_regions.DE == "eu"
	egress.index.country_regions.GB == "uk"
	not egress.index.country_regions.de
	not egress.index.country_regions.DE with data.convot.registry.countries.DE as "mars"
	egress.known_categories == {c | some c, _ in data.convot.registry.categories}
	not "user.name" in egress.known_categories with data.convot.registry.categories["user.name"] as false
	egress.known_regions == {"us", "eu", "uk", "ch"}
	egress.region_names == {"us", "eu", "uk", "ch"}
	egress.known_subject_kinds == {"customer", "end_user", "none"}
	egress.safeguarded_regions == {"eu", "uk", "ch"}
	"aws" in egress.subprocessor_names
	"self_hosted" in egress.own_infrastructure_names
	"customer_endpoint" in egress.recipient_names
}

test_index_recipients if {
	recipients := egress.index.recipients
	object.keys(recipients) == {"aws", "stripe", "postmark", "sentry", "redis", "shopify", "anthropic", "openai", "self_hosted"}
	egress.indexed_recipients.self_hosted[1] == true
	egress.indexed_recipients.aws[1] == false
	not recipients.aws["essential.service"]
	not egress.index.recipients.postmark with data.convot.registry.subprocessors.postmark.dpa_signed as false
	not egress.index.recipients.aws with data.convot.registry.subprocessors.aws.locations as null

	# sentry: personal categories dropped, so receivable
	sentry := recipients.sentry["analytics.reporting.system.performance"]
	sentry.drops == egress.index.personal_categories
	"user.contact.email" in sentry.receives
	"system.operations" in sentry.receives

	# anthropic: identifiers redacted, unless the purpose needs them
	summary_entry := recipients.anthropic["functional.ai.summary"]
	# a category covering an identifier is redacted too
	summary_entry.redacts == {"user", "user.contact", "user.contact.email", "user.contact.phone_number", "user.unique_id"}
	summary_entry.ai_features == {"summary"}
	summary_entry.features == {"", "summary"}
	needing := egress.index.recipients.anthropic["functional.ai.summary"] with data.convot.registry.purposes["functional.ai.summary"].needs_identifiers as ["user.unique_id"]
	needing.redacts == {"user", "user.contact", "user.contact.email", "user.contact.phone_number"}
	not "user.contact" in summary_entry.receives
	"user.contact" in egress.index.recipients.anthropic["functional.ai.summary"].receives with data.convot.registry.subprocessors.anthropic.categories as ["user.content.message", "user.contact"]

	# redis: pinned to the organization's region
	redis := recipients.redis["essential.service"]
	redis.routes.eu[""] == {"eu"}
	redis.routes.us[""] == {"us"}
	redis.routes.eu.US == {"eu"} # whatever the origin

	# routes by country: the country's region is the origin; "" is the
	# organization's region
	object.keys(redis.routes.eu) == {""} | object.keys(egress.index.country_regions)

	# aws: transfers under recorded mechanisms only
	aws := recipients.aws["essential.service.storage"]
	aws.routes.eu[""] == {"us", "eu", "uk", "ch"}
	aws.routes.us.DE == {"us", "eu", "uk", "ch"}
	egress.index.recipients.aws["essential.service.storage"].routes.eu[""] == {"eu"} with data.convot.registry.subprocessors.aws.transfers as []
	egress.index.recipients.aws["essential.service.storage"].routes.us.DE == {"eu"} with data.convot.registry.subprocessors.aws.transfers as []
	egress.index.recipients.aws["essential.service.storage"].routes.eu.US == {"us", "eu", "uk", "ch"} with data.convot.registry.subprocessors.aws.transfers as []
	egress.index.recipients.aws["essential.service.storage"].routes.us[""] == {"us", "eu", "uk", "ch"} with data.convot.registry.subprocessors.aws.transfers as []

	# a destination left out ("") is the recipient's only location
	recipients.anthropic["functional.ai.summary"].routes.eu[""] == {"us", ""}
	recipients.anthropic["functional.ai.summary"].routes.eu.DE == {"us", ""}

	# shopify: scopes by category
	shopify := recipients.shopify["essential.service.operations.support"]
	shopify.scopes_required == 1
	shopify.scoped_categories == {"user.contact.email", "user.contact.phone_number", "user.name", "user.unique_id", "user.behavior.purchase_history"}
	shopify.scopes["user.contact.email"] == {"read_customers"}
	shopify.scopes["user.behavior.purchase_history"] == {"read_orders"}
	recipients.postmark["essential.service"].scopes_required == 0

	# marketing email: consent
	marketing_entry := egress.index.recipients.postmark["marketing.communications.email"] with data.convot.registry.subprocessors.postmark.purposes as postmark_with_marketing
	marketing_entry.consents == {"marketing_email"}
	recipients.postmark["essential.service"].consents == set()

	# subjects: no personal data about no data subject
	recipients.postmark["essential.service"].subjects.customer == set()
	recipients.postmark["essential.service"].subjects.none == egress.index.personal_categories
	recipients.sentry["analytics.reporting.system.performance"].subjects.none == set()
	not recipients.stripe["essential.service.payment_processing"].subjects.end_user

	# own infrastructure: its destination is the organization's region
	recipients.self_hosted["functional.ai.summary"].own_infrastructure == true
	recipients.self_hosted["functional.ai.summary"].notes == ["self_hosted is Convot's own infrastructure, not a subprocessor: nothing leaves Convot"]
	recipients.aws["essential.service.storage"].notes == []
}

test_index_helpers if {
	egress.only_strings(["a", "b"])
	egress.only_strings(null)
	not egress.only_strings(["a", 1])
	egress.covers("user.contact", "user.contact.email")
	egress.covers("user.contact", "user.contact")
	not egress.covers("user.contact", "user.contactless")
	egress.identifies("user.contact.email", "user.contact")
	egress.identifies("user.contact", "user.contact.email")
	not egress.identifies("user.name", "user.contact")
	egress.needed_identifier("user.unique_id", {"needs_identifiers": ["user.unique_id"]})
	not egress.needed_identifier("user.unique_id", {})
	egress.served_in({}, "eu", "us")
	egress.served_in({"region_pinned": true}, "eu", "eu")
	not egress.served_in({"region_pinned": true}, "eu", "us")
	egress.transfer_permitted({}, "us", "eu")
	egress.transfer_permitted({}, "eu", "eu")
	not egress.transfer_permitted({"transfers": []}, "eu", "us")
	egress.transfer_permitted({"transfers": [{"from": "eu", "to": "us", "mechanism": "adequacy", "decision": "d", "date": "2020-01-01"}]}, "eu", "us")
	egress.receivable_categories({"categories": ["user.contact"]}) == {"user.contact", "user.contact.email", "user.contact.phone_number", "user.contact.address"}
	egress.scrubbed_categories({}) == set()
	egress.redacted_categories({}, {}) == set()
	not egress.redacted_categories({"ai": true, "redact_identifiers": [1]}, {})
	egress.ai_features_needed({}, {"ai_feature": "summary"}) == set()
	egress.ai_features_needed({"ai": true}, {"ai_feature": false}) == {false}
	egress.consents_needed({"consent": false}) == set()
	egress.withheld_categories({}, "end_user") == set()
	egress.withheld_categories({"scrub_personal_data": true}, "none") == set()
	egress.own_infrastructure_notes("x", false) == []
	egress.indexed_scopes({"required_scopes": false}).scopes_required == 0
	shopify := egress.index.recipients.shopify["essential.service.operations.support"]
	egress.scopes_authorized(shopify, {"shopify_scopes": ["read_customers"]}, {"user.contact.email"})
	not egress.scopes_authorized(shopify, {"shopify_scopes": ["read_customers"]}, {"user.behavior.purchase_history"})
	not egress.scopes_authorized(shopify, {"shopify_scopes": []}, {"system.operations"})
	not egress.scopes_authorized(shopify, {}, {"system.operations"})
	egress.scopes_authorized({"scopes_required": 0}, {}, {"user.contact.email"})
	not egress.indexed_scopes({"required_scopes": ["read_orders"]})
	egress.indexed_flow("x", {"locations": []}, false, {}).routes.eu[""] == set()
	egress.indexed_flow("x", {"locations": ["eu", ""]}, false, {}).routes.eu[""] == {"eu"}
	egress.routed_locations({"locations": ["eu"]}, false, "us", "us") == {"eu", ""}
	egress.routed_locations({"locations": ["eu", "us"]}, false, "us", "us") == {"eu", "us"}
	egress.routed_locations({"locations": ["eu", "us"]}, true, "us", "us") == {"eu", "us", ""}
	egress.routed_locations({"locations": ["eu", "us"], "region_pinned": true}, true, "us", "us") == {"us", ""}
	egress.default_location({"locations": ["eu"]}, true, "us") == "eu"
	egress.default_location({"locations": ["eu", "us"]}, true, "us") == "us"
	not egress.default_location({"locations": ["eu", "us"]}, false, "us")
}

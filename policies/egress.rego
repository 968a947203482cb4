# METADATA
# title: Convot egress gate
# description: |
#   Decides whether one flow of personal or system data may leave Convot for a
#   subprocessor (privacy policy §4, §6, §7, §9). The subprocessors, their
#   purposes, data categories, locations, DPAs and SCCs are data
#   (registry.json, data.convot.registry); this module only reads them.
#
#   Input: subprocessor, purpose, categories, organization {id, region,
#   ai_features, shopify_scopes}, subject {kind, restricted, objections,
#   consents, country}, destination_region, feature.
#   Output: decision {allow, reasons, drop, redact}: reasons say why;
#   drop lists categories removed before sending, redact those whose values
#   are replaced. Sentry receives no personal data: its flows are allowed
#   with every user.* category in drop, and denied when nothing but personal
#   data was to be sent. AI subprocessors get email, phone and external IDs
#   in redact unless the purpose needs them.
package convot.egress

import data.convot.registry

# --- the flow as declared ----------------------------------------------------

# sub is the registry entry of the named subprocessor, of an endpoint on
# Convot's own infrastructure (self_hosted), or of a recipient that is no
# subprocessor (a Customer's own webhook endpoint); no two share a name.
sub := registry.subprocessors[input.subprocessor]

sub := registry.own_infrastructure[input.subprocessor]

sub := registry.recipients[input.subprocessor] if not registry.subprocessors[input.subprocessor]

# own_infrastructure: the flow goes to an endpoint Convot runs itself; no
# data leaves Convot, so no DPA or SCCs apply, but every other rule does.
own_infrastructure if registry.own_infrastructure[input.subprocessor]

# own_controller: the recipient is the Customer itself, the controller of the
# data it receives (its own webhook endpoints): no data processing agreement
# is needed, but it receives only its own organization's data.
own_controller if sub.controller == true

# dpa_in_place: a DPA is signed, no third party is involved, or the
# recipient is the Customer itself.
dpa_in_place if sub.dpa_signed == true

dpa_in_place if own_infrastructure

dpa_in_place if own_controller

# recipient_is_organization: the Customer receiving the data is the one the
# data belongs to.
recipient_is_organization if {
	is_number(input.recipient_organization)
	input.recipient_organization == organization.id
	organization.id > 0
}

# purpose is the registry entry of the declared purpose.
purpose := registry.purposes[input.purpose]

# categories are the declared data categories that are strings.
categories := {c | some c in input.categories; is_string(c)}

default subprocessor_name := "(missing)"

subprocessor_name := sprintf("%v", [input.subprocessor])

default purpose_name := "(missing)"

purpose_name := sprintf("%v", [input.purpose])

# organization is the organization the data belongs to; it needs an ID.
organization := input.organization if {
	is_object(input.organization)
	is_number(input.organization.id)
	input.organization.id > 0
}

# The deployment itself (organization ID 0, with the deployment's region)
# stands for the organization only when encrypted system data of no data
# subject is stored: a backup of the whole database, every organization's
# rows sealed inside it, belongs to none of them.
organization := input.organization if {
	is_object(input.organization)
	input.organization.id == 0
	subject_kind == "none"
	purpose.storage == true
	not personal_data_leaves
}

# Convot itself, controller of its own records (policy §1), answers a person
# who wrote to it (a privacy request to Convot from an address no
# organization holds): transactional mail through the mail subprocessor only.
organization := input.organization if {
	is_object(input.organization)
	input.organization.id == 0
	input.organization.deployment == true
	input.purpose == "essential.service.notifications.email"
	subject_kind in {"customer", "end_user"}
}

default subject_kind := "(missing)"

subject_kind := input.subject.kind if is_string(input.subject.kind)

# destination is where the data goes: the declared region, or the only
# location of a subprocessor that processes in a single region.
destination := input.destination_region if {
	input.destination_region != ""
} else := sub.locations[0] if {
	count(sub.locations) == 1
} else := organization.region if {
	own_infrastructure
}

# --- categories --------------------------------------------------------------------
# A category covers itself and its children: user.contact covers
# user.contact.email. With a dot appended to both names this is a prefix
# match ("user.contact." starts "user.contact.email."), which OPA's
# strings.any_prefix_match does for a whole set of prefixes at once.

# dotted maps each declared category to its name followed by a dot.
dotted := {c: concat("", [c, "."]) | some c in categories}

# registered_prefixes are the dotted categories registered for the subprocessor.
registered_prefixes := {concat("", [a, "."]) | some a in sub.categories}

# personal: the declared categories under user.
personal := {c | some c, d in dotted; startswith(d, "user.")}

# unknown_categories are not in the registry's vocabulary.
unknown_categories := {c | some c in categories; not registry.categories[c]}

# unregistered: known categories the subprocessor may not receive (neither
# registered for it, nor dropped before sending).
unregistered := ({c | some c, d in dotted; not strings.any_prefix_match(d, registered_prefixes)} - drop) - unknown_categories

# --- transformations -----------------------------------------------------------

# drop: a subprocessor that receives no personal data (Sentry) gets every
# user.* category scrubbed from the payload.
default drop := set()

drop := personal if sub.scrub_personal_data == true

# redact: AI subprocessors get email, phone and external IDs replaced unless
# the purpose needs them. A declared category is redacted when it covers an
# identifier or is covered by one.
default redact := set()

redact := (covered_by_identifier | covering_identifier) - needed_identifiers if sub.ai == true

identifier_prefixes := {concat("", [r, "."]) | some r in sub.redact_identifiers}

covered_by_identifier := {c | some c, d in dotted; strings.any_prefix_match(d, identifier_prefixes)}

covering_identifier := {c | some c, d in dotted; strings.any_prefix_match(identifier_prefixes, d)}

needed_identifiers := {c |
	some c, d in dotted
	strings.any_prefix_match(d, {concat("", [n, "."]) | some n in purpose.needs_identifiers})
}

# personal_data_leaves: some personal data remains after the drops.
personal_data_leaves if count(personal - drop) > 0

# --- checks --------------------------------------------------------------------------
# Each check is its own rule so that a deny rule can negate it safely: OPA
# evaluates the arguments of a negated call outside the negation, so
# `not x in sub.missing` would be undefined, and the deny rule would not fire.

input_is_object if is_object(input)

categories_listed if is_array(input.categories)

purpose_registered if input.purpose in sub.purposes

organization_region_known if registry.regions[organization.region]

subject_kind_served if subject_kind in sub.subjects

destination_served if destination in sub.locations

# --- international transfers (policy §7) ---------------------------------------
# The origin of a transfer is where the data subject is, when known (the
# contact's country, ISO 3166-1 alpha-2, e.g. from GeoIP), else the
# organization's region. Data leaving a region whose law requires safeguards
# (EEA, United Kingdom, Switzerland) for another region needs a mechanism
# recorded for that subprocessor: Standard Contractual Clauses (module,
# version, date) or an adequacy decision.

subject_country := upper(input.subject.country) if {
	is_string(input.subject.country)
	input.subject.country != ""
}

country_code_valid if regex.match(`^[A-Z]{2}$`, subject_country)

origin := registry.countries[subject_country] if {
	country_code_valid
} else := "elsewhere" if {
	country_code_valid
} else := organization.region

origin_name := registry.regions[origin].name if registry.regions[origin].name

default origin_name := "(unknown)"

transfer_safeguards_required if registry.regions[origin].transfer_safeguards == true

# a mechanism is recorded with every field it needs
transfer_mechanism_valid(t) if {
	t.mechanism == "scc"
	is_string(t.module)
	t.module != ""
	is_string(t.version)
	t.version != ""
	is_string(t.date)
	t.date != ""
}

transfer_mechanism_valid(t) if {
	t.mechanism == "adequacy"
	is_string(t.decision)
	t.decision != ""
	is_string(t.date)
	t.date != ""
}

transfer_recorded if {
	some t in sub.transfers
	t.from == origin
	t.to == destination
	transfer_mechanism_valid(t)
}

restricted_transfer if {
	transfer_safeguards_required
	destination
	destination != origin
}

ai_feature_on if purpose.ai_feature in organization.ai_features

restricted if input.subject.restricted == true

consented if purpose.consent in input.subject.consents

# storage_flow: storing data with a storage subprocessor (AWS); the only flow
# allowed for a restricted data subject.
storage_flow if {
	purpose.storage == true
	purpose_registered
}

# objection_grounds: the objections that stop this flow.
objection_grounds contains purpose.objection

objection_grounds contains "automated_decisions" if sub.ai == true

# --- deny rules: each names what is wrong --------------------------------------

deny contains "input is not an object" if not input_is_object

deny contains sprintf("unknown subprocessor %s", [subprocessor_name]) if not sub

deny contains sprintf("no data processing agreement is recorded for %s", [input.subprocessor]) if {
	sub
	not dpa_in_place
}

deny contains "a Customer's endpoint receives only its own organization's data" if {
	own_controller
	not recipient_is_organization
}

deny contains sprintf("unknown purpose %s", [purpose_name]) if not purpose

deny contains sprintf("%s is not registered for purpose %s", [input.subprocessor, input.purpose]) if {
	sub
	purpose
	not purpose_registered
}

deny contains "categories must be a list of data categories" if not categories_listed

deny contains "no data categories declared" if count(categories) == 0

deny contains sprintf("data category %v is not a string", [c]) if {
	some c in input.categories
	not is_string(c)
}

deny contains sprintf("unknown data category %s", [c]) if some c in unknown_categories

deny contains sprintf("%s may not receive %s", [input.subprocessor, c]) if {
	sub
	some c in unregistered
}

deny contains "organization missing" if not organization

deny contains sprintf("organization region %v unknown", [object.get(organization, "region", "(missing)")]) if {
	organization
	not organization_region_known
}

deny contains sprintf("data subject kind %s unknown", [subject_kind]) if not registry.subject_kinds[subject_kind]

deny contains sprintf("%s does not receive data of subject kind %s", [input.subprocessor, subject_kind]) if {
	sub
	registry.subject_kinds[subject_kind]
	not subject_kind_served
}

deny contains "personal data declared without a data subject" if {
	subject_kind == "none"
	personal_data_leaves
}

deny contains sprintf("unknown objection %v", [o]) if {
	some o in input.subject.objections
	not registry.objections[o]
}

deny contains sprintf("destination region required: %s processes data in %v", [input.subprocessor, sub.locations]) if {
	sub
	not destination
}

deny contains sprintf("%s does not process data in region %v", [input.subprocessor, destination]) if {
	sub
	destination
	not destination_served
}

deny contains sprintf("no transfer mechanism (SCCs or adequacy decision) recorded for transfers of %s data to %s in %v", [origin_name, input.subprocessor, destination]) if {
	restricted_transfer
	not transfer_recorded
}

deny contains sprintf("data subject country %v is not an ISO 3166-1 alpha-2 code", [input.subject.country]) if {
	input.subject.country != ""
	not country_code_valid
}

deny contains sprintf("%s traffic must stay in the organization's region %v, not %v", [input.subprocessor, organization.region, destination]) if {
	sub.region_pinned == true
	destination != organization.region
}

deny contains sprintf("the organization has not turned on the AI feature %s", [feature]) if {
	sub.ai == true
	feature := purpose.ai_feature
	not ai_feature_on
}

deny contains sprintf("feature %v does not match purpose %s", [input.feature, input.purpose]) if {
	input.feature != ""
	purpose
	input.feature != object.get(purpose, "ai_feature", "")
}

deny contains sprintf("the data subject objected to %s", [o]) if {
	some o in input.subject.objections
	o in objection_grounds
	personal_data_leaves
}

deny contains "processing of the data subject is restricted: stored, nothing more" if {
	restricted
	personal_data_leaves
	not storage_flow
}

deny contains sprintf("no %s consent from the data subject", [purpose.consent]) if {
	purpose.consent
	not consented
}

deny contains sprintf("the organization has not authorized any %s scope", [input.subprocessor]) if {
	sub.required_scopes
	not any_scope_authorized
}

any_scope_authorized if {
	some scope in organization.shopify_scopes
	is_string(scope)
}

deny contains sprintf("scope %s for %s is not authorized by the organization", [scope, c]) if {
	some a, scope in sub.required_scopes
	some c, d in dotted
	startswith(d, concat("", [a, "."]))
	not scope_authorized(scope)
}

scope_authorized(scope) if scope in organization.shopify_scopes

deny contains sprintf("nothing but personal data was to be sent to %s, and all of it is scrubbed", [input.subprocessor]) if {
	sub.scrub_personal_data == true
	count(categories) > 0
	count(categories - drop) == 0
}

# --- the decision ----------------------------------------------------------------

default allow := false

# allow needs every deny rule silent and, as a second line of defence against
# a deny rule that cannot fire (malformed input or registry), the positive
# facts of an allowed flow.
allow if {
	count(deny) == 0
	dpa_in_place
	purpose_registered
	organization_region_known
	registry.subject_kinds[subject_kind]
	subject_kind_served
	destination_served
	count(categories) > 0
	count(unregistered) == 0
	count(unknown_categories) == 0
}

reasons := array.concat([allowed_reason], sort(notes)) if {
	allow
} else := sort(deny) if {
	count(deny) > 0
} else := ["denied: no rule allows this flow"]

allowed_reason := sprintf("%s may receive %s for %s", [input.subprocessor, concat(", ", sort(categories - drop)), input.purpose])

notes contains sprintf("scrubbed before sending: %s", [concat(", ", sort(drop))]) if count(drop) > 0

notes contains sprintf("%s is Convot's own infrastructure, not a subprocessor: nothing leaves Convot", [input.subprocessor]) if own_infrastructure

notes contains sprintf("redacted before sending: %s", [concat(", ", sort(redact))]) if count(redact) > 0

decision := {
	"allow": allow,
	"reasons": reasons,
	"drop": sort(drop),
	"redact": sort(redact),
}

# --- disclosures (policy §6) ---------------------------------------------------------
# The recipient a disclosure request records (recipient type
# disclosure_recipient) is no subprocessor and signs no DPA: it receives
# personal data only under a request of the register whose kind is known,
# that a privacy officer approved, whose recipient and legal basis are
# recorded, and only the categories that request asked for (data
# minimisation). Anything less is denied: the default.

disclosure_recipient if sub.disclosure == true

disclosure_kinds := {"legal_demand", "enforcement", "merger", "consent"}

disclosure_declared if is_object(input.disclosure)

disclosure_kind_known if input.disclosure.kind in disclosure_kinds

disclosure_approved if input.disclosure.approved == true

disclosure_recipient_recorded if input.disclosure.recipient_recorded == true

disclosure_legal_basis_recorded if input.disclosure.legal_basis_recorded == true

disclosure_requested := {c | some c in input.disclosure.requested; is_string(c)}

disclosure_authorized if {
	disclosure_recipient
	disclosure_kind_known
	disclosure_approved
	disclosure_recipient_recorded
	disclosure_legal_basis_recorded
}

dpa_in_place if disclosure_authorized

deny contains "a disclosure recipient receives data only under a disclosure request" if {
	disclosure_recipient
	not disclosure_declared
}

deny contains sprintf("unknown disclosure kind %v", [object.get(input.disclosure, "kind", "(missing)")]) if {
	disclosure_recipient
	disclosure_declared
	not disclosure_kind_known
}

deny contains "the disclosure is not approved by a privacy officer" if {
	disclosure_recipient
	not disclosure_approved
}

deny contains "the disclosure's recipient is not recorded" if {
	disclosure_recipient
	not disclosure_recipient_recorded
}

deny contains "the disclosure's legal basis is not recorded" if {
	disclosure_recipient
	not disclosure_legal_basis_recorded
}

deny contains sprintf("the disclosure request did not ask for %s", [c]) if {
	disclosure_recipient
	some c in categories
	not c in disclosure_requested
}

deny contains "a disclosure request names a disclosure recipient, not a subprocessor" if {
	disclosure_declared
	sub
	not disclosure_recipient
}

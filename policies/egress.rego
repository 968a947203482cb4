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

# reg is the registry, read from the store once per decision: each lookup
# below is then in memory rather than a read of its own.
reg := registry

# --- the flow as declared ----------------------------------------------------

# sub is the registry entry of the named subprocessor, of an endpoint on
# Convot's own infrastructure (self_hosted), or of a recipient that is no
# subprocessor (a Customer's own webhook endpoint); no two share a name.
sub := reg.subprocessors[input.subprocessor]

sub := reg.own_infrastructure[input.subprocessor]

sub := reg.recipients[input.subprocessor] if not reg.subprocessors[input.subprocessor]

# own_infrastructure: the flow goes to an endpoint Convot runs itself; no
# data leaves Convot, so no DPA or SCCs apply, but every other rule does.
own_infrastructure if reg.own_infrastructure[input.subprocessor]

# own_controller: the recipient is the Customer itself, the controller of the
# data it receives (its own webhook endpoints): no data processing agreement
# is needed, but it receives only its own organization's data.
own_controller if sub.controller == true

# dpa_in_place: a DPA is signed, no third party is involved, or the
# recipient is the Customer itself.
default dpa_in_place := false

dpa_in_place if sub.dpa_signed == true

dpa_in_place if own_infrastructure

dpa_in_place if own_controller

# recipient_is_organization: the Customer receiving the data is the one the
# data belongs to.
default recipient_is_organization := false

recipient_is_organization if {
	is_number(input.recipient_organization)
	input.recipient_organization == organization.id
	organization.id > 0
}

# purpose is the registry entry of the declared purpose.
purpose := reg.purposes[input.purpose]

# categories are the declared data categories that are strings (the keys of
# dotted, below: one walk over the declared list serves both).
categories := object.keys(dotted)

default subprocessor_name := "(missing)"

subprocessor_name := sprintf("%v", [input.subprocessor])

default purpose_name := "(missing)"

purpose_name := sprintf("%v", [input.purpose])

# organization is the organization the data belongs to: the one the flow
# names (below), or the deployment itself storing a backup.
organization := named_organization

# named_organization: the organization the flow names; it needs an ID.
# (Else Convot itself, below.)
named_organization := input.organization if {
	is_object(input.organization)
	is_number(input.organization.id)
	input.organization.id > 0
} else := input.organization if {
	deployment_answers
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
deployment_answers if {
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

# dotted maps each declared category (a string) to its name followed by a dot.
dotted := {c: concat("", [c, "."]) | some c in input.categories; is_string(c)}

# registered_prefixes are the dotted categories registered for the
# subprocessor. A list of names (the registry's form) is dotted with three
# builtin calls rather than a walk: joined with ".|", a dot appended, split
# on "|". A name holding "|" (none does), an empty list or any other form
# takes the walk.
registered_prefixes := split(concat("", [concat(".|", sub.categories), "."]), "|") if {
	is_array(sub.categories)
	count(sub.categories) > 0
	contains(concat("", sub.categories), "|") == false
} else := {concat("", [a, "."]) | some a in sub.categories}

# personal: the declared categories under user.
personal := {c | some c, d in dotted; startswith(d, "user.")}

# unknown_categories are not in the registry's vocabulary (a lookup per
# declared category, no walk over the vocabulary).
unknown_categories := categories - {c | some c, _ in dotted; reg.categories[c]}

# unregistered: known categories the subprocessor may not receive (neither
# registered for it, nor dropped before sending).
unregistered := {c |
	some c, d in dotted
	reg.categories[c]
	strings.any_prefix_match(d, registered_prefixes) == false
} - drop

# --- transformations -----------------------------------------------------------

# drop: a subprocessor that receives no personal data (Sentry) gets every
# user.* category scrubbed from the payload.
default drop := set()

drop := personal if sub.scrub_personal_data == true

# redact: AI subprocessors get email, phone and external IDs replaced unless
# the purpose needs them. A declared category is redacted when it covers an
# identifier or is covered by one.
default redact := set()

redact := {c |
	some c, d in dotted
	true in [strings.any_prefix_match(d, identifier_prefixes), strings.any_prefix_match(identifier_prefixes, d)]
	strings.any_prefix_match(d, needed_prefixes) == false
} if sub.ai == true

# identifier_prefixes and needed_prefixes are dotted as registered_prefixes is.
identifier_prefixes := split(concat("", [concat(".|", sub.redact_identifiers), "."]), "|") if {
	is_array(sub.redact_identifiers)
	count(sub.redact_identifiers) > 0
	contains(concat("", sub.redact_identifiers), "|") == false
} else := {concat("", [r, "."]) | some r in sub.redact_identifiers}

needed_prefixes := split(concat("", [concat(".|", purpose.needs_identifiers), "."]), "|") if {
	is_array(purpose.needs_identifiers)
	count(purpose.needs_identifiers) > 0
	contains(concat("", purpose.needs_identifiers), "|") == false
} else := {concat("", [n, "."]) | some n in purpose.needs_identifiers}

# personal_data_leaves: some personal data remains after the drops.
personal_data_leaves if count(personal - drop) > 0

# --- checks --------------------------------------------------------------------------
# Each check is its own rule so that a deny rule can negate it safely: OPA
# evaluates the arguments of a negated call outside the negation, so
# `not x in sub.missing` would be undefined, and the deny rule would not fire.
# A check defaults to false, and a deny rule tests `check == false`: the same
# as `not check`, without the separate evaluation a negation costs. (basics,
# below, repeats the checks inline: a decision of a well-formed flow then
# evaluates none of these rules.)

default categories_listed := false

categories_listed if is_array(input.categories)

default purpose_registered := false

purpose_registered if input.purpose in sub.purposes

default organization_region_known := false

organization_region_known if reg.regions[organization.region]

default subject_kind_served := false

subject_kind_served if subject_kind in sub.subjects

default destination_served := false

destination_served if destination in sub.locations

# --- international transfers (policy §7) ---------------------------------------
# The origin of a transfer is where the data subject is, when known (the
# contact's country, ISO 3166-1 alpha-2, e.g. from GeoIP), else the
# organization's region. Data leaving a region whose law requires safeguards
# (EEA, United Kingdom, Switzerland) for another region needs a mechanism
# recorded for that subprocessor: Standard Contractual Clauses (module,
# version, date) or an adequacy decision.

subject_country := upper(country) if {
	country := input.subject.country # indexed: skipped when no country is given
	is_string(country)
	country != ""
}

default country_code_valid := false

country_code_valid if {
	input.subject.country # indexed, as above
	regex.match(`^[A-Z]{2}$`, subject_country)
}

origin := reg.countries[subject_country] if {
	country_code_valid
} else := "elsewhere" if {
	country_code_valid
} else := organization.region

origin_name := reg.regions[origin].name if reg.regions[origin].name

default origin_name := "(unknown)"

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

default transfer_recorded := false

transfer_recorded if {
	some t in sub.transfers
	t.from == origin
	t.to == destination
	transfer_mechanism_valid(t)
}

default ai_feature_on := false

ai_feature_on if purpose.ai_feature in organization.ai_features

default consented := false

consented if purpose.consent in input.subject.consents

# storage_flow: storing data with a storage subprocessor (AWS); the only flow
# allowed for a restricted data subject.
default storage_flow := false

storage_flow if {
	purpose.storage == true
	purpose_registered
}

# objection_grounds: the objections that stop this flow.
objection_grounds contains purpose.objection

objection_grounds contains "automated_decisions" if sub.ai == true

# --- deny rules: each names what is wrong --------------------------------------
# Deny rules come in families where one fact silences a whole family: the
# basic denials (the flow is malformed, or the subprocessor is not registered
# for it) are all silent when basics holds, the disclosure denials when the
# recipient is no disclosure recipient. Each rule of a family begins with its
# family's fact, so that deny, which takes a family's reasons only when that
# fact says they may exist, holds exactly the reasons it would hold if every
# rule were a deny rule of its own; and a decision evaluates the family's
# rules only when one may fire (policies_test.go checks the form).

deny contains reason if {
	basics == false
	some reason in basic_denials
}

deny contains reason if {
	disclosure_recipient
	some reason in disclosure_denials
}

# basics: the facts of a well-formed flow to a registered recipient, each the
# negation of a basic denial's condition, and all of them: a basic denial
# whose condition basics did not exclude would be silenced whenever basics
# holds (a new one needs its negation here). allow takes basics as its
# positive facts, so it holds exactly when no deny rule fires.
default basics := false

basics if {
	is_object(input)
	sub
	purpose
	is_array(input.categories)
	count(categories) > 0
	count(string_categories) == count(input.categories)
	count(unknown_categories) == 0
	organization
	reg.regions[organization.region]
	reg.subject_kinds[subject_kind]
	dpa_in_place
	input.purpose in sub.purposes
	subject_kind in sub.subjects
	destination
	destination in sub.locations
	count(unregistered) == 0
}

# string_categories: the declared categories that are strings, duplicates kept.
string_categories := [c | some c in input.categories; is_string(c)]

basic_denials contains "input is not an object" if {
	basics == false
	is_object(input) == false
}

basic_denials contains sprintf("unknown subprocessor %s", [subprocessor_name]) if {
	basics == false
	not sub
}

basic_denials contains sprintf("no data processing agreement is recorded for %s", [input.subprocessor]) if {
	basics == false
	sub
	dpa_in_place == false
}

deny contains "a Customer's endpoint receives only its own organization's data" if {
	own_controller
	recipient_is_organization == false
}

basic_denials contains sprintf("unknown purpose %s", [purpose_name]) if {
	basics == false
	not purpose
}

basic_denials contains sprintf("%s is not registered for purpose %s", [input.subprocessor, input.purpose]) if {
	basics == false
	sub
	purpose
	purpose_registered == false
}

basic_denials contains "categories must be a list of data categories" if {
	basics == false
	categories_listed == false
}

basic_denials contains "no data categories declared" if {
	basics == false
	count(categories) == 0
}

basic_denials contains sprintf("data category %v is not a string", [c]) if {
	basics == false
	some c in input.categories
	not is_string(c)
}

basic_denials contains sprintf("unknown data category %s", [c]) if {
	basics == false
	some c in unknown_categories
}

basic_denials contains sprintf("%s may not receive %s", [input.subprocessor, c]) if {
	basics == false
	sub
	some c in unregistered
}

basic_denials contains "organization missing" if {
	basics == false
	not organization
}

basic_denials contains sprintf("organization region %v unknown", [object.get(organization, "region", "(missing)")]) if {
	basics == false
	organization
	organization_region_known == false
}

basic_denials contains sprintf("data subject kind %s unknown", [subject_kind]) if {
	basics == false
	not reg.subject_kinds[subject_kind]
}

basic_denials contains sprintf("%s does not receive data of subject kind %s", [input.subprocessor, subject_kind]) if {
	basics == false
	sub
	reg.subject_kinds[subject_kind]
	subject_kind_served == false
}

deny contains "personal data declared without a data subject" if {
	input.subject.kind == "none"
	personal_data_leaves
}

deny contains sprintf("unknown objection %v", [o]) if {
	some o in input.subject.objections
	not reg.objections[o]
}

basic_denials contains sprintf("destination region required: %s processes data in %v", [input.subprocessor, sub.locations]) if {
	basics == false
	sub
	not destination
}

basic_denials contains sprintf("%s does not process data in region %v", [input.subprocessor, destination]) if {
	basics == false
	sub
	destination
	destination_served == false
}

deny contains sprintf("no transfer mechanism (SCCs or adequacy decision) recorded for transfers of %s data to %s in %v", [origin_name, input.subprocessor, destination]) if {
	# a restricted transfer: out of a region whose law requires safeguards
	reg.regions[origin].transfer_safeguards == true
	destination
	destination != origin
	transfer_recorded == false
}

deny contains sprintf("data subject country %v is not an ISO 3166-1 alpha-2 code", [input.subject.country]) if {
	country := input.subject.country
	country != ""
	country_code_valid == false
}

deny contains sprintf("%s traffic must stay in the organization's region %v, not %v", [input.subprocessor, organization.region, destination]) if {
	sub.region_pinned == true
	destination != organization.region
}

deny contains sprintf("the organization has not turned on the AI feature %s", [feature]) if {
	sub.ai == true
	feature := purpose.ai_feature
	ai_feature_on == false
}

deny contains sprintf("feature %v does not match purpose %s", [input.feature, input.purpose]) if {
	feature := input.feature
	feature != ""
	purpose
	input.feature != object.get(purpose, "ai_feature", "")
}

deny contains sprintf("the data subject objected to %s", [o]) if {
	some o in input.subject.objections
	o in objection_grounds
	personal_data_leaves
}

deny contains "processing of the data subject is restricted: stored, nothing more" if {
	input.subject.restricted == true
	personal_data_leaves
	storage_flow == false
}

deny contains sprintf("no %s consent from the data subject", [purpose.consent]) if {
	purpose.consent
	consented == false
}

deny contains sprintf("the organization has not authorized any %s scope", [input.subprocessor]) if {
	sub.required_scopes
	any_scope_authorized == false
}

default any_scope_authorized := false

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
# facts of an allowed flow (basics).
allow if {
	count(deny) == 0
	basics
}

reasons := array.concat([allowed_reason], sort(notes)) if {
	allow
} else := sort(deny) if {
	count(deny) > 0
} else := ["denied: no rule allows this flow"]

# The reasons of an allowed flow are joined with concat rather than sprintf
# (cheaper): subprocessor and purpose are then registry names, strings.
allowed_reason := concat("", [input.subprocessor, " may receive ", concat(", ", sort(categories - drop)), " for ", input.purpose])

notes contains concat("", ["scrubbed before sending: ", concat(", ", sort(drop))]) if count(drop) > 0

notes contains concat("", [input.subprocessor, " is Convot's own infrastructure, not a subprocessor: nothing leaves Convot"]) if own_infrastructure

notes contains concat("", ["redacted before sending: ", concat(", ", sort(redact))]) if count(redact) > 0

# decision: that of a clean flow (below), read from the registry's index;
# else the one the rules above take.
decision := d if {
	d := clean_decision
} else := {
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

disclosure_denials contains "a disclosure recipient receives data only under a disclosure request" if {
	disclosure_recipient
	not disclosure_declared
}

disclosure_denials contains sprintf("unknown disclosure kind %v", [object.get(input.disclosure, "kind", "(missing)")]) if {
	disclosure_recipient
	disclosure_declared
	not disclosure_kind_known
}

disclosure_denials contains "the disclosure is not approved by a privacy officer" if {
	disclosure_recipient
	not disclosure_approved
}

disclosure_denials contains "the disclosure's recipient is not recorded" if {
	disclosure_recipient
	not disclosure_recipient_recorded
}

disclosure_denials contains "the disclosure's legal basis is not recorded" if {
	disclosure_recipient
	not disclosure_legal_basis_recorded
}

disclosure_denials contains sprintf("the disclosure request did not ask for %s", [c]) if {
	disclosure_recipient
	some c in categories
	not c in disclosure_requested
}

deny contains "a disclosure request names a disclosure recipient, not a subprocessor" if {
	disclosure := input.disclosure
	is_object(disclosure)
	sub
	not disclosure_recipient
}

# --- clean flows (issue 16) ------------------------------------------------------
# Most flows are clean: a registered recipient with a DPA, a purpose it is
# registered for, categories it may receive, no objection, restriction or
# disclosure. Deciding one with the rules above walks the registry entry by
# entry, only to find that no deny rule fires. clean_decision asks the same
# questions of the registry's index (below), each a lookup by key, in one
# rule. Each of its checks is the negation of a deny rule's condition, or of
# a basic denial's, or stricter: it is defined only when basics holds and no
# deny rule can fire, and it is then the decision the rules above take
# (allowed, with the same reasons, drop and redact). Every other flow, and
# every denial, is decided by the rules above. Tests: egress_test.rego
# decides every fixture with and without clean_decision;
# previous_policy_test.go compares the gate's decisions with those of the
# policy before issue 16 on generated, malformed and fuzz inputs and edited
# registries.

clean_decision := {
	"allow": true,
	"reasons": array.concat([allowed], sort(array.concat(entry.notes, notes))),
	"drop": drop_list,
	"redact": redact_list,
} if {
	# the recipient is registered for the purpose, with a DPA or on Convot's
	# own infrastructure, and is neither a Customer's endpoint nor a
	# disclosure recipient (the index holds no others)
	entry := clean_entry

	# no restriction, objection or disclosure (first: a denial fails here)
	input.subject.restricted == false
	input.subject.objections in {null, []}
	object.get(input, "disclosure", null) == null

	is_array(input.categories)
	declared := {c | some c in input.categories}
	dropped := declared & entry.drops
	redacted := declared & entry.redacts

	# every category is known, and registered for the recipient or scrubbed
	count(declared - entry.receives) == 0

	# some category is declared, and not all of them are scrubbed
	kept := declared - dropped
	count(kept) > 0

	# a known kind of data subject the recipient serves; no personal data
	# leaves (unscrubbed) without a data subject
	count(declared & entry.subjects[input.subject.kind]) == 0

	# the organization's region is known; the destination is a location of
	# the recipient where the organization's data may go (its own region, if
	# the recipient is pinned to it) and to which data may be transferred from
	# the origin: the routes are keyed by the organization's region, the data
	# subject's country ("" for none, the origin then being the
	# organization's region) and the destination ("" for the recipient's
	# default: its only location, or the organization's region for Convot's
	# own infrastructure)
	org := named_organization
	country := object.get(input.subject, "country", "")
	is_string(country)
	entry.routes[org.region][upper(country)][object.get(input, "destination_region", "")]

	# the feature is the purpose's
	object.get(input, "feature", "") in entry.features

	# the AI feature is on, the consent given
	every feature in entry.ai_features {
		feature in org.ai_features
	}
	every consent in entry.consents {
		consent in input.subject.consents
	}

	scopes_authorized(entry, org, declared)

	allowed := concat("", [input.subprocessor, " may receive ", concat(", ", sort(kept)), " for ", input.purpose])
	drop_list := sort(dropped)
	redact_list := sort(redacted)
	notes := [concat("", [prefix, concat(", ", transformed)]) |
		some [prefix, transformed] in [["scrubbed before sending: ", drop_list], ["redacted before sending: ", redact_list]]
		count(transformed) > 0
	]
}

# scopes_authorized: the recipient requires no scope, or the organization
# authorized one, and each scope its categories need.
scopes_authorized(entry, _, _) if entry.scopes_required == 0

scopes_authorized(entry, org, declared) if {
	entry.scopes_required == 1
	granted := {scope | some scope in org.shopify_scopes; is_string(scope)}
	count(granted) > 0
	scoped := declared & entry.scoped_categories
	count({scope | some c in scoped; some scope in entry.scopes[c]} - granted) == 0
}

# clean is whether a flow is clean (for tests and `opa eval`).
default clean := false

clean if clean_decision

# clean_entry is the index's entry of the recipient and purpose: undefined
# unless the recipient is registered for the purpose.
clean_entry := index.recipients[input.subprocessor][input.purpose]

# --- the registry's index --------------------------------------------------------
# What clean_decision needs of the registry, by key: index.recipients (a recipient's
# entry for each of its purposes), index.country_regions and
# index.personal_categories. These rules read the registry, never the input:
# the gate evaluates data.convot.egress.index once, when it is built, and
# compiles the policy with these rules replaced by their value (gate.go);
# `opa eval` and the Rego tests evaluate them as any other rule. A registry entry the index cannot represent
# exactly (a field of an unexpected type) is left out of it: its flows are
# decided by the rules above.

index.personal_categories := {c | some c in known_categories; covers("user", c)}

# the region of each valid country code
index.country_regions := {code: region |
	some code, region in reg.countries
	is_string(code)
	regex.match(`^[A-Z]{2}$`, code)
	region in region_names
}

index.recipients[name][p] := indexed_flow(name, s, own, reg.purposes[p]) if {
	some name, [s, own] in indexed_recipients
	is_object(s)
	object.get(s, "controller", false) != true
	object.get(s, "disclosure", false) != true
	is_array(s.locations)
	only_strings(object.get(s, "categories", []))
	some p in s.purposes
	is_string(p)
	is_object(reg.purposes[p])
}

# known_categories: the vocabulary (an entry set to false is unknown).
known_categories := {c | some c, v in reg.categories; is_string(c); v != false}

known_regions := {r | some r, v in reg.regions; v != false}

region_names := {r | some r, _ in reg.regions}

known_subject_kinds := {k | some k, v in reg.subject_kinds; v != false}

# safeguarded_regions: regions whose law requires a transfer mechanism.
safeguarded_regions := {r | some r, v in reg.regions; v.transfer_safeguards == true}

subprocessor_names := {name | some name, _ in reg.subprocessors}

own_infrastructure_names := {name | some name, _ in reg.own_infrastructure}

recipient_names := {name | some name, _ in reg.recipients}

# indexed_recipients: each recipient sub may name (a name in two of the
# registry's lists is left out), with a DPA or on Convot's own
# infrastructure, and whether it is; the Customer's own endpoints and
# disclosure recipients are left out of the index (their extra rules are not
# in clean).
indexed_recipients[name] := [s, false] if {
	some name, s in reg.subprocessors
	not name in own_infrastructure_names
	s.dpa_signed == true
}

indexed_recipients[name] := [s, true] if {
	some name, s in reg.own_infrastructure
	not name in subprocessor_names
	not name in recipient_names
}

indexed_recipients[name] := [s, false] if {
	some name, s in reg.recipients
	not name in subprocessor_names
	not name in own_infrastructure_names
	s.dpa_signed == true
}

# indexed_flow: what clean_decision needs of recipient name (entry s) and
# purpose p.
indexed_flow(name, s, own, p) := object.union_n([
	{
		"own_infrastructure": own,
		"receives": receivable_categories(s),
		"drops": scrubbed_categories(s),
		"redacts": redacted_categories(s, p),
		# by kind of data subject served: the categories that may not leave
		# about it (personal data not scrubbed, for no data subject)
		"subjects": {k: withheld_categories(s, k) | some k in s.subjects; k in known_subject_kinds},
		"locations": s.locations,
		# by the organization's region, then by the data subject's country:
		# the locations the data may go to (clean_decision)
		"routes": {region: indexed_routes(s, own, region) | some region in known_regions},
		# the features a flow may name
		"features": {"", object.get(p, "ai_feature", "")},
		"ai_features": ai_features_needed(s, p),
		"consents": consents_needed(p),
		"notes": own_infrastructure_notes(name, own),
	},
	indexed_scopes(s),
])

# indexed_routes: for each valid country code, and "" for a data subject of
# no known country (the origin is then the organization's region), the
# locations to which data of an organization in region may go.
indexed_routes(s, own, region) := object.union(
	{code: routed_locations(s, own, region, origin) | some code, origin in index.country_regions},
	{"": routed_locations(s, own, region, region)},
)

# routed_locations: the locations data from origin may go to, and "" when
# the recipient's default location (default_location) is one of them, so
# that a flow that names no destination finds its route by the same key (a
# location named "" is left to the rules above).
routed_locations(s, own, region, origin) := permitted | {"" | default_location(s, own, region) in permitted} if {
	permitted := {l |
		some l in s.locations
		l != ""
		served_in(s, region, l)
		transfer_permitted(s, origin, l)
	}
}

# default_location: the destination of a flow that names none (destination
# above): the recipient's only location, else the organization's region for
# Convot's own infrastructure.
default_location(s, own, region) := s.locations[0] if {
	count(s.locations) == 1
} else := region if {
	own
}

# only_strings(x): x holds nothing but strings (the policy's dotted prefixes
# are built with concat, which fails on anything else).
only_strings(x) if count({e | some e in x; not is_string(e)}) == 0

# covers(a, c): category a covers c (c is a or below it).
covers(a, c) if startswith(concat("", [c, "."]), concat("", [a, "."]))

# receivable_categories: the known categories registered for s, and those
# scrubbed before sending.
receivable_categories(s) := {c |
	some c in known_categories
	some a in object.get(s, "categories", [])
	covers(a, c)
} | scrubbed_categories(s)

scrubbed_categories(s) := index.personal_categories if {
	s.scrub_personal_data == true
} else := set()

served_in(s, _, _) if object.get(s, "region_pinned", false) != true

served_in(_, region, location) if region == location

transfer_permitted(_, origin, _) if not origin in safeguarded_regions

transfer_permitted(_, origin, location) if origin == location

transfer_permitted(s, origin, location) if {
	some t in s.transfers
	t.from == origin
	t.to == location
	transfer_mechanism_valid(t)
}

# redacted_categories: the known categories redacted when s receives them
# for purpose p.
redacted_categories(s, p) := {c |
	some c in known_categories
	some i in s.redact_identifiers
	identifies(i, c)
	not needed_identifier(c, p)
} if {
	s.ai == true
	only_strings(object.get(s, "redact_identifiers", []))
	only_strings(object.get(p, "needs_identifiers", []))
} else := set() if {
	object.get(s, "ai", false) != true
}

# identifies(i, c): a category is redacted when it covers an identifier or
# is covered by one.
identifies(i, c) if covers(i, c)

identifies(i, c) if covers(c, i)

needed_identifier(c, p) if {
	some n in p.needs_identifiers
	covers(n, c)
}

# withheld_categories(s, kind): the categories that may not leave for s
# about a data subject of that kind: personal data not scrubbed, when there
# is no data subject.
withheld_categories(s, "none") := index.personal_categories - scrubbed_categories(s)

withheld_categories(_, k) := set() if k != "none"

# ai_features_needed: the AI feature the organization must have turned on.
ai_features_needed(s, p) := {p.ai_feature} if {
	s.ai == true
	p.ai_feature = _
} else := set()

# consents_needed: the consent the data subject must have given.
consents_needed(p) := {p.consent} if {
	p.consent
} else := set()

own_infrastructure_notes(name, true) := [concat("", [name, " is Convot's own infrastructure, not a subprocessor: nothing leaves Convot"])]

own_infrastructure_notes(_, false) := []

# indexed_scopes: how many scopes s requires the organization to have
# authorized (any one, or none), the categories that need a scope, and the
# scopes each needs.
indexed_scopes(s) := {"scopes_required": 0, "scoped_categories": set(), "scopes": {}} if {
	not s.required_scopes
} else := {
	"scopes_required": 1,
	"scoped_categories": {c | some c, _ in scopes},
	"scopes": scopes,
} if {
	is_object(s.required_scopes)
	scopes := {c: needed |
		some c in known_categories
		needed := {scope | some a, scope in s.required_scopes; covers(a, c)}
		count(needed) > 0
	}
}

package policies

import (
	"encoding/json"
	"fmt"
	"sort"
)

// Registry is the registry data document (registry.json) as Go values: the
// same data the policy reads as data.convot.registry.
type Registry struct {
	// Regions are the regions data may be processed in, by code (us, eu,
	// uk, ch).
	Regions map[string]Region `json:"regions"`
	// Countries maps an ISO 3166-1 alpha-2 country code to its region: where
	// a data subject is (policy §7: EEA, United Kingdom, Switzerland).
	Countries map[string]string `json:"countries"`
	// SubjectKinds are the kinds of data subject a flow may concern.
	SubjectKinds map[string]string `json:"subject_kinds"`
	// Objections are the objections a data subject may raise (policy §9).
	Objections map[string]string `json:"objections"`
	// Purposes are the purposes of processing, by fideslang name.
	Purposes map[string]Purpose `json:"purposes"`
	// Categories are the data categories, by fideslang name, with what each means.
	Categories map[string]string `json:"categories"`
	// Subprocessors are the subprocessors of policy §6, by short name.
	Subprocessors map[string]Subprocessor `json:"subprocessors"`
	// OwnInfrastructure are AI endpoints Convot runs itself (self_hosted):
	// not subprocessors, no data leaves Convot, but their flows pass the
	// gate and are recorded like a subprocessor's.
	OwnInfrastructure map[string]Subprocessor `json:"own_infrastructure,omitempty"`
	// Recipients receive data without being subprocessors: a Customer's own
	// webhook endpoints (the Customer is the controller of what they get).
	Recipients map[string]Subprocessor `json:"recipients"`
}

// Region is a processing location.
type Region struct {
	Name string `json:"name"`
	// EEA is whether the region is in the European Economic Area.
	EEA bool `json:"eea"`
	// Law is the data-protection law of the region (GDPR, UK GDPR, Swiss FADP).
	Law string `json:"law,omitempty"`
	// TransferSafeguards: personal data of this region leaves it only under
	// a recorded transfer mechanism (policy §7).
	TransferSafeguards bool `json:"transfer_safeguards,omitempty"`
}

// Transfer is the mechanism recorded for one subprocessor's transfers of
// personal data from one region to another (policy §7): Standard
// Contractual Clauses (instrument, module, version, date) or an adequacy
// decision (decision, date).
type Transfer struct {
	From       string `json:"from"`
	To         string `json:"to"`
	Mechanism  string `json:"mechanism"` // scc or adequacy
	Instrument string `json:"instrument,omitempty"`
	Module     string `json:"module,omitempty"`
	Version    string `json:"version,omitempty"`
	Decision   string `json:"decision,omitempty"`
	Date       string `json:"date"`
}

// String describes the mechanism for auditors.
func (t Transfer) String() string {
	if t.Mechanism == "adequacy" {
		return t.From + "→" + t.To + ": adequacy, " + t.Decision + " (" + t.Date + ")"
	}
	return t.From + "→" + t.To + ": SCCs, " + t.Module + ", " + t.Instrument + " version " + t.Version + " (" + t.Date + ")"
}

// Purpose is a purpose of processing.
type Purpose struct {
	Description string `json:"description"`
	// LegalBasis under GDPR Art. 6: contract, legitimate_interests, consent,
	// legal_obligation.
	LegalBasis string `json:"legal_basis"`
	// Storage marks the purpose allowed for a restricted data subject
	// ("stored, nothing more").
	Storage bool `json:"storage,omitempty"`
	// Consent names the consent the data subject must have given.
	Consent string `json:"consent,omitempty"`
	// Objection names the objection that stops the processing.
	Objection string `json:"objection,omitempty"`
	// AIFeature names the organization's AI setting that must be on.
	AIFeature string `json:"ai_feature,omitempty"`
	// NeedsIdentifiers lists identifier categories the AI feature needs, so
	// they are not redacted.
	NeedsIdentifiers []string `json:"needs_identifiers,omitempty"`
}

// Subprocessor is one subprocessor of policy §6.
type Subprocessor struct {
	LegalName string `json:"legal_name"`
	Service   string `json:"service"`
	// Purposes it is registered for; a flow must name one of them.
	Purposes []string `json:"purposes"`
	// Categories it may receive, with their children.
	Categories []string `json:"categories"`
	// Subjects are the kinds of data subject whose data it may receive.
	Subjects []string `json:"subjects"`
	// Locations are the regions it processes data in.
	Locations []string `json:"locations"`
	// Transfers are the transfer mechanisms recorded for data leaving a
	// region that requires safeguards (policy §7).
	Transfers []Transfer `json:"transfers"`
	DPASigned bool       `json:"dpa_signed"`
	// Controller marks a recipient that is the Customer itself: it needs no
	// DPA, and receives only its own organization's data.
	Controller bool `json:"controller,omitempty"`
	// Disclosure marks the recipient a disclosure request records (policy
	// §6): it receives data only under an approved request with its legal
	// basis recorded, and only the categories the request asked for.
	Disclosure bool `json:"disclosure,omitempty"`
	// AI marks an AI subprocessor (feature switches, objection to automated
	// processing, identifiers redacted).
	AI bool `json:"ai,omitempty"`
	// RedactIdentifiers are the identifier categories redacted unless the
	// purpose needs them.
	RedactIdentifiers []string `json:"redact_identifiers,omitempty"`
	// ScrubPersonalData marks a subprocessor that receives no personal data:
	// every user.* category is dropped.
	ScrubPersonalData bool `json:"scrub_personal_data,omitempty"`
	// RegionPinned keeps traffic in the organization's own region.
	RegionPinned bool `json:"region_pinned,omitempty"`
	// RequiredScopes maps a category to the scope the organization must have
	// authorized (Shopify).
	RequiredScopes map[string]string `json:"required_scopes,omitempty"`
}

// LoadRegistry parses the embedded registry document.
func LoadRegistry() (*Registry, error) { return parseRegistry(RegistryDocument()) }

func parseRegistry(b []byte) (*Registry, error) {
	var doc struct {
		Convot struct {
			Registry *Registry `json:"registry"`
		} `json:"convot"`
	}
	if err := json.Unmarshal(b, &doc); err != nil {
		return nil, fmt.Errorf("policies: registry: %w", err)
	}
	if doc.Convot.Registry == nil {
		return nil, fmt.Errorf("policies: registry: no convot.registry document")
	}
	return doc.Convot.Registry, nil
}

// SubprocessorNames returns the short names of the subprocessors, sorted.
func (r *Registry) SubprocessorNames() []string {
	names := make([]string, 0, len(r.Subprocessors))
	for name := range r.Subprocessors {
		names = append(names, name)
	}
	sort.Strings(names)
	return names
}

package models

import (
	"fmt"
	"reflect"
	"sort"
	"strings"
	"sync"

	"gorm.io/gorm/schema"
)

// All lists every model. The migrations, the data inventory and everything
// derived from it (access export, erasure, retention sweeps) walk this list.
func All() []any {
	return []any{
		&Organization{}, &Account{}, &Session{}, &Invitation{}, &PasswordReset{}, &RecoveryCode{},
		&Contact{}, &Conversation{}, &Message{}, &Attachment{}, &VisitorToken{}, &CannedResponse{}, &Label{},
		&ConversationRating{},
		&AuditEvent{}, &UsageEvent{}, &DataKey{}, &InstanceKey{}, &EgressDecision{},
		&Subscription{}, &PaymentMethod{}, &Invoice{}, &Payment{}, &ProcessedStripeEvent{}, &ConversationUsage{},
		&Backup{}, &SupportTicket{}, &SupportMessage{}, &Incident{}, &IncidentStep{}, &IncidentNotice{},
		&PolicyVersion{}, &PolicyNotice{},
		&PrivacyRequest{}, &PrivacyExport{}, &SubjectPreference{},
		&EmailThread{}, &EmailMessage{}, &EmailSuppression{}, &UnsubscribeToken{},
		&LifecycleSignal{},
		&StaffMember{}, &VulnerabilityReport{}, &DPAAcceptance{}, &DisclosureRequest{},
		&AccessEvent{}, &TestResult{},
		&AIOutput{}, &AIEmbedding{}, &HelpArticle{}, &RoutingExample{},
		&WebhookEndpoint{}, &WebhookEvent{}, &WebhookDelivery{}, &WebhookAttempt{},
		&ShopifyInstall{}, &ShopifyOAuthState{}, &ShopifyWebhook{},
		&SearchTerm{},
		&SecurityAlertCounter{}, &SignInCountry{},
	}
}

// Data subjects (DESIGN.md invariant 1).
const (
	SubjectCustomer = "customer" // an operator of a Customer, and the Customer's own details
	SubjectEndUser  = "end_user" // a visitor of a Customer's website
)

// Categories is the vocabulary of data categories, in fideslang names, with
// what each means.
var Categories = map[string]string{
	"user.name":                      "a person's name",
	"user.contact.email":             "email address",
	"user.contact.phone_number":      "phone number",
	"user.contact.address":           "postal or billing address",
	"user.unique_id":                 "an identifier a Customer assigns to its user",
	"user.custom":                    "custom attributes a Customer passes through the identify API",
	"user.workplace":                 "the organization a person works for and its details",
	"user.financial":                 "tax and financial identifiers",
	"user.payment":                   "payment card brand and last four digits; Stripe's customer and subscription identifiers",
	"user.account":                   "account role and status",
	"user.account.settings":          "time zone, language and other preferences",
	"user.authorization.credentials": "password hashes, second-factor secrets and session tokens",
	"user.content.message":           "conversation messages",
	"user.content.attachment":        "files exchanged in conversations",
	"user.content.self_image":        "avatar image",
	"user.device":                    "browser, operating system and device type",
	"user.device.ip_address":         "IP address",
	"user.device.cookie_id":          "visitor token binding a browser to its conversations",
	"user.behavior":                  "features used",
	"user.behavior.browsing_history": "pages visited and referring URLs",
	"user.location.imprecise":        "country derived from the IP address",
	"user.children":                  "that a person is under sixteen",
	"user.content.support_request":   "support correspondence with Convot",
	"user.financial.billing_history": "invoices and payment records",
	"user.authorization.consent":     "consent and objection records",
	"user.contact":                   "contact details (name, email, phone) copied for one purpose, such as the erasure scanner's search terms",
	"user.content":                   "what a person wrote in a request, such as the corrected values of a rectification",
}

// Purposes maps each purpose (fideslang names) to its legal basis under
// GDPR Art. 6, as policy §3 states them.
var Purposes = map[string]string{
	"essential.service":                      "contract",
	"essential.service.payment_processing":   "contract",
	"essential.service.notifications.email":  "contract",
	"essential.service.operations.support":   "contract",
	"essential.service.security":             "legitimate_interests",
	"essential.fraud_detection":              "legitimate_interests",
	"essential.legal_obligation":             "legal_obligation",
	"functional.service.improve":             "legitimate_interests",
	"analytics.reporting.system.performance": "legitimate_interests",
	"marketing.communications.email":         "consent",
	"functional.ai.summary":                  "contract",
	"functional.ai.translation":              "contract",
	"functional.ai.language_detection":       "contract",
	"functional.ai.embeddings":               "contract",
}

// RetentionClass is how long a kind of data is kept (policy §8).
type RetentionClass struct {
	Name string `json:"name"`
	Rule string `json:"rule"`
}

// Retention lists the retention classes fields may name.
var Retention = map[string]RetentionClass{
	"account":      {"account", "while the Customer's account is active; deleted 30 days after cancellation (§8)"},
	"security_log": {"security_log", "12 months after collection (§8 logs and security data)"},
	"access_log":   {"access_log", "12 months after the access (§8 access logs)"},
	"billing":      {"billing", "7 years (§8 billing records, tax and accounting law)"},
	"support":      {"support", "2 years after the support ticket is closed (§8)"},
	"session":      {"session", "until used, revoked or expired (at most 30 days), then deleted"},
}

// Storage forms of a personal field.
const (
	FormEncrypted = "encrypted" // sealed with AES-256-GCM under the subject's data key
	FormHash      = "hash"      // a one-way hash (bcrypt or SHA-256 of a random token)
	FormIndex     = "index"     // a keyed HMAC blind index for lookups
	FormClear     = "clear"     // low-risk values queried directly (role, time zone)
)

// Field is one personal field of the inventory.
type Field struct {
	Model     string   `json:"model"`
	Table     string   `json:"table"`
	Field     string   `json:"field"`
	Column    string   `json:"column"`
	Category  string   `json:"category"`
	Subject   string   `json:"subject"`
	Retention string   `json:"retention"`
	Purposes  []string `json:"purposes"`
	Form      string   `json:"form"`
}

// LegalBases lists the legal bases of the field's purposes.
func (f Field) LegalBases() []string {
	seen := map[string]bool{}
	var out []string
	for _, p := range f.Purposes {
		if b := Purposes[p]; !seen[b] {
			seen[b] = true
			out = append(out, b)
		}
	}
	sort.Strings(out)
	return out
}

// Unclassified is a field that needs a privacy tag.
type Unclassified struct{ Model, Field, Reason string }

var (
	inventoryOnce sync.Once
	inventory     []Field
	inventoryErrs []Unclassified
)

// Inventory returns every personal field of every model, parsed from the
// `privacy` struct tags.
func Inventory() []Field {
	inventoryOnce.Do(func() { inventory, inventoryErrs = buildInventory(All()) })
	return inventory
}

// InventoryProblems lists fields whose classification is missing or wrong.
func InventoryProblems() []Unclassified {
	Inventory()
	return inventoryErrs
}

// FieldsOf returns the inventory fields of one model.
func FieldsOf(model any) []Field {
	name := reflect.Indirect(reflect.ValueOf(model)).Type().Name()
	var out []Field
	for _, f := range Inventory() {
		if f.Model == name {
			out = append(out, f)
		}
	}
	return out
}

// InventoryOf parses the privacy tags of the models of list, which need not
// be models of All() (the subject engine's own checks pass test models).
func InventoryOf(list []any) ([]Field, []Unclassified) { return buildInventory(list) }

func buildInventory(models []any) ([]Field, []Unclassified) {
	var fields []Field
	var problems []Unclassified
	naming := schema.NamingStrategy{}
	for _, m := range models {
		t := reflect.Indirect(reflect.ValueOf(m)).Type()
		s, err := schema.Parse(m, &sync.Map{}, naming)
		if err != nil {
			problems = append(problems, Unclassified{t.Name(), "", err.Error()})
			continue
		}
		for i := 0; i < t.NumField(); i++ {
			sf := t.Field(i)
			tag, tagged := sf.Tag.Lookup("privacy")
			needs := NeedsClassification(sf.Type)
			if !tagged {
				if needs {
					problems = append(problems, Unclassified{t.Name(), sf.Name, "string, bytes or JSON field without a privacy tag (classify it, or mark it privacy:\"none\")"})
				}
				continue
			}
			if tag == "none" {
				continue
			}
			f, err := parsePrivacyTag(tag)
			if err != nil {
				problems = append(problems, Unclassified{t.Name(), sf.Name, err.Error()})
				continue
			}
			f.Model, f.Table, f.Field = t.Name(), s.Table, sf.Name
			if gf := s.LookUpField(sf.Name); gf != nil {
				f.Column = gf.DBName
			}
			sealed := strings.Contains(sf.Tag.Get("gorm"), "serializer:sealed")
			switch {
			case f.Form == "" && sealed:
				f.Form = FormEncrypted
			case f.Form == "":
				problems = append(problems, Unclassified{t.Name(), sf.Name, "personal field neither sealed (gorm:\"serializer:sealed\") nor given form=hash|index|clear"})
				continue
			case sealed:
				problems = append(problems, Unclassified{t.Name(), sf.Name, "sealed field must not also name a form"})
				continue
			}
			fields = append(fields, f)
		}
	}
	return fields, problems
}

// NeedsClassification reports whether a field of type t can hold personal
// data (text, bytes, JSON), so that it needs a privacy tag.
func NeedsClassification(t reflect.Type) bool {
	switch t.Kind() {
	case reflect.String, reflect.Map, reflect.Interface:
		return true
	case reflect.Slice:
		return true // bytes, or a list stored as JSON
	case reflect.Pointer:
		return NeedsClassification(t.Elem())
	case reflect.Struct:
		return t.String() != "time.Time"
	}
	return false
}

func parsePrivacyTag(tag string) (Field, error) {
	var f Field
	for _, part := range strings.Fields(tag) {
		k, v, ok := strings.Cut(part, "=")
		if !ok {
			return f, fmt.Errorf("privacy tag: %q is not key=value", part)
		}
		switch k {
		case "category":
			if _, known := Categories[v]; !known {
				return f, fmt.Errorf("privacy tag: unknown category %q", v)
			}
			f.Category = v
		case "subject":
			if v != SubjectCustomer && v != SubjectEndUser {
				return f, fmt.Errorf("privacy tag: unknown subject %q", v)
			}
			f.Subject = v
		case "retention":
			if _, known := Retention[v]; !known {
				return f, fmt.Errorf("privacy tag: unknown retention class %q", v)
			}
			f.Retention = v
		case "purpose":
			for _, p := range strings.Split(v, ",") {
				if _, known := Purposes[p]; !known {
					return f, fmt.Errorf("privacy tag: unknown purpose %q", p)
				}
				f.Purposes = append(f.Purposes, p)
			}
		case "form":
			if v != FormHash && v != FormIndex && v != FormClear {
				return f, fmt.Errorf("privacy tag: unknown form %q", v)
			}
			f.Form = v
		default:
			return f, fmt.Errorf("privacy tag: unknown key %q", k)
		}
	}
	if f.Category == "" || f.Subject == "" || f.Retention == "" || len(f.Purposes) == 0 {
		return f, fmt.Errorf("privacy tag: category, subject, retention and purpose are all required")
	}
	return f, nil
}

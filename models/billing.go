package models

import (
	"context"
	"fmt"
	"reflect"
	"sort"
	"strings"
	"sync"
	"time"
	"unicode"

	"gorm.io/gorm"
	"gorm.io/gorm/schema"
)

// Plan is what an organization pays for and the limits that come with it.
// Plans are a table in code: a plan's Stripe price is found by its lookup
// key, so the same binary serves test and live Stripe accounts.
type Plan struct {
	ID                    string
	Name                  string
	Seats                 int   // active operator accounts
	ConversationsPerMonth int   // conversations started in a calendar month (UTC)
	MonthlyPriceCents     int64 // what the billing page shows; Stripe's price is authoritative
	Currency              string
	// StripeLookupKey names the plan's recurring price in Stripe; empty for
	// the free plan, which has no subscription.
	StripeLookupKey string
}

// Plan IDs.
const (
	PlanFree    = "free"
	PlanStarter = "starter"
	PlanGrowth  = "growth"
	PlanScale   = "scale"
)

// Plans lists every plan, cheapest first.
var Plans = []Plan{
	{ID: PlanFree, Name: "Free", Seats: 2, ConversationsPerMonth: 100, Currency: "eur"},
	{ID: PlanStarter, Name: "Starter", Seats: 5, ConversationsPerMonth: 2000, MonthlyPriceCents: 2900, Currency: "eur", StripeLookupKey: "convot_starter_monthly"},
	{ID: PlanGrowth, Name: "Growth", Seats: 20, ConversationsPerMonth: 20000, MonthlyPriceCents: 9900, Currency: "eur", StripeLookupKey: "convot_growth_monthly"},
	{ID: PlanScale, Name: "Scale", Seats: 100, ConversationsPerMonth: 200000, MonthlyPriceCents: 39900, Currency: "eur", StripeLookupKey: "convot_scale_monthly"},
}

// PlanByID returns a plan by its ID.
func PlanByID(id string) (Plan, bool) {
	for _, p := range Plans {
		if p.ID == id {
			return p, true
		}
	}
	return Plan{}, false
}

// PlanByLookupKey returns the paid plan whose Stripe price has lookupKey.
func PlanByLookupKey(lookupKey string) (Plan, bool) {
	for _, p := range Plans {
		if lookupKey != "" && p.StripeLookupKey == lookupKey {
			return p, true
		}
	}
	return Plan{}, false
}

// Subscription is an organization's billing relationship with Stripe: its
// Stripe customer and subscription identifiers (policy §2.1) and the
// subscription's state as Stripe's webhooks last reported it. One row per
// organization, created with the Stripe customer.
type Subscription struct {
	ID                   uint64     `gorm:"primaryKey"`
	OrganizationID       uint64     `gorm:"uniqueIndex"`
	StripeCustomerID     string     `gorm:"index" privacy:"category=user.payment subject=customer retention=account purpose=essential.service.payment_processing form=clear"`
	StripeSubscriptionID string     `gorm:"index" privacy:"category=user.payment subject=customer retention=account purpose=essential.service.payment_processing form=clear"`
	Plan                 string     `privacy:"none"` // a Plans ID
	Status               string     `privacy:"none"` // Stripe's: incomplete, trialing, active, past_due, canceled, unpaid, ...; empty before the first subscription
	CurrentPeriodEnd     *time.Time // when the paid period ends
	CancelAt             *time.Time // when Stripe will end the subscription, if scheduled
	CancelAtPeriodEnd    bool
	CanceledAt           *time.Time
	// LastEventAt is the creation time of the newest Stripe event applied:
	// an older event delivered late does not undo a newer one.
	LastEventAt *time.Time
	CreatedAt   time.Time
	UpdatedAt   time.Time
}

// Subscription statuses that keep a paid plan.
var payingStatuses = map[string]bool{"active": true, "trialing": true, "past_due": true}

// StatusBills reports whether a subscription of Stripe status keeps its
// paid plan.
func StatusBills(status string) bool { return payingStatuses[status] }

// CurrentPlan is the plan the subscription grants now: its plan while
// Stripe considers it active, trialing or past due, else the free plan.
func (s *Subscription) CurrentPlan() Plan {
	if s != nil && payingStatuses[s.Status] {
		if p, ok := PlanByID(s.Plan); ok {
			return p
		}
	}
	p, _ := PlanByID(PlanFree)
	return p
}

// Paying reports whether Stripe bills the subscription.
func (s *Subscription) Paying() bool {
	return s != nil && s.StripeSubscriptionID != "" && payingStatuses[s.Status]
}

// PaymentMethod is the card on file, as far as Convot knows it: its brand
// and last four digits (policy §2.1), nothing else. The card itself is
// collected and kept by Stripe. One row per organization: the newest card
// attached.
type PaymentMethod struct {
	ID             uint64 `gorm:"primaryKey"`
	OrganizationID uint64 `gorm:"uniqueIndex"`
	DataKeyID      uint64 // the organization's
	CardBrand      string `privacy:"category=user.payment subject=customer retention=account purpose=essential.service.payment_processing form=clear"` // visa, mastercard, ... (or the payment method's type when not a card)
	CardLast4      string `gorm:"column:card_last4;serializer:sealed" privacy:"category=user.payment subject=customer retention=account purpose=essential.service.payment_processing"`
	CreatedAt      time.Time
	UpdatedAt      time.Time
}

// Invoice mirrors a Stripe invoice for the seven years tax and accounting
// law require (policy §8 billing records). Its personal fields are sealed
// under the organization's billing key, which outlives the account.
type Invoice struct {
	ID               uint64 `gorm:"primaryKey"`
	OrganizationID   uint64 `gorm:"index"`
	DataKeyID        uint64 // the organization's billing key (BillingKey)
	StripeInvoiceID  string `gorm:"uniqueIndex" privacy:"category=user.financial.billing_history subject=customer retention=billing purpose=essential.service.payment_processing,essential.legal_obligation form=clear"`
	Number           string `privacy:"category=user.financial.billing_history subject=customer retention=billing purpose=essential.service.payment_processing,essential.legal_obligation form=clear"`
	Status           string `privacy:"none"` // draft, open, paid, uncollectible, void
	Currency         string `privacy:"none"`
	AmountDue        int64  // in the currency's smallest unit
	AmountPaid       int64
	AmountRemaining  int64
	PeriodStart      *time.Time
	PeriodEnd        *time.Time
	IssuedAt         time.Time
	PaidAt           *time.Time
	HostedInvoiceURL string `gorm:"serializer:sealed" privacy:"category=user.financial.billing_history subject=customer retention=billing purpose=essential.service.payment_processing"`
	InvoicePDF       string `gorm:"column:invoice_pdf;serializer:sealed" privacy:"category=user.financial.billing_history subject=customer retention=billing purpose=essential.service.payment_processing,essential.legal_obligation"`
	CreatedAt        time.Time
	UpdatedAt        time.Time
}

// Payment is one attempt to pay an invoice, succeeded or failed, kept with
// the invoices for seven years. Reference is the Stripe event that
// reported it, so an event is recorded once.
type Payment struct {
	ID              uint64 `gorm:"primaryKey"`
	OrganizationID  uint64 `gorm:"index"`
	Reference       string `gorm:"uniqueIndex" privacy:"none"` // the Stripe event ID
	StripeInvoiceID string `gorm:"index" privacy:"category=user.financial.billing_history subject=customer retention=billing purpose=essential.service.payment_processing,essential.legal_obligation form=clear"`
	Status          string `privacy:"none"` // succeeded or failed
	Amount          int64
	Currency        string `privacy:"none"`
	AttemptCount    int64
	AttemptedAt     time.Time
	CreatedAt       time.Time
}

// Payment statuses.
const (
	PaymentSucceeded = "succeeded"
	PaymentFailed    = "failed"
)

// ProcessedStripeEvent records a Stripe webhook event that was processed,
// so a redelivered event has no second effect, or one that named no known
// organization, kept for review (status unmatched, with its reason; `convot
// billing unmatched` lists them) and processed should Stripe deliver it
// again once its organization is known. It holds the event's ID and type
// only, never its payload.
type ProcessedStripeEvent struct {
	ID             uint64    `gorm:"primaryKey"`
	EventID        string    `gorm:"uniqueIndex" privacy:"none"`
	Type           string    `privacy:"none"`
	OrganizationID uint64    `gorm:"index"`                // 0 when the event named no known organization
	Status         string    `gorm:"index" privacy:"none"` // StripeEventProcessed or StripeEventUnmatched
	Reason         string    `privacy:"none"`              // why an unmatched event found no organization
	ProcessedAt    time.Time `gorm:"index"`                // when it was processed, or last received unmatched
}

// Statuses of a ProcessedStripeEvent.
const (
	StripeEventProcessed = "processed"
	StripeEventUnmatched = "unmatched"
)

// BillingKey returns the data key that seals an organization's billing
// records, creating it with the first record. It is a key of its own
// (subject "billing"), not the organization's: closing the account
// destroys the organization's keys but the billing records stay readable
// for their seven years.
func BillingKey(tx *gorm.DB, orgID uint64) (uint64, error) {
	var id uint64
	err := tx.Model(&Invoice{}).Where("organization_id = ? AND data_key_id <> 0", orgID).
		Order("id").Limit(1).Pluck("data_key_id", &id).Error
	if err != nil || id != 0 {
		return id, err
	}
	ks := KeysFrom(tx.Statement.Context)
	if ks == nil {
		return 0, gorm.ErrInvalidDB
	}
	return ks.NewKey(tx, "billing")
}

// BeforeCreate seals a new invoice under the organization's billing key.
func (i *Invoice) BeforeCreate(tx *gorm.DB) error {
	if i.DataKeyID != 0 {
		return nil
	}
	var err error
	i.DataKeyID, err = BillingKey(tx.Session(&gorm.Session{NewDB: true}).WithContext(tx.Statement.Context), i.OrganizationID)
	return err
}

// Usage is what an organization uses of its plan's limits.
type Usage struct {
	Seats                  int64 // active accounts that take a seat (auditors do not)
	InvitedSeats           int64 // live invitations that will take one
	ConversationsThisMonth int64 // conversations started since the first of the month (UTC)
}

// UsageOf counts an organization's seats and this month's conversations.
func UsageOf(ctx context.Context, db *gorm.DB, orgID uint64, now time.Time) (Usage, error) {
	var u Usage
	var err error
	if u.Seats, u.InvitedSeats, err = SeatsUsed(ctx, db, orgID, now); err != nil {
		return u, err
	}
	u.ConversationsThisMonth, err = ConversationsStarted(ctx, db, orgID, now)
	return u, err
}

// SubscriptionOf returns the organization's subscription row, or nil when
// it never had a Stripe customer.
func SubscriptionOf(ctx context.Context, db *gorm.DB, orgID uint64) (*Subscription, error) {
	var s Subscription
	if err := db.WithContext(ctx).Where("organization_id = ?", orgID).Limit(1).Find(&s).Error; err != nil {
		return nil, err
	}
	if s.ID == 0 {
		return nil, nil
	}
	return &s, nil
}

// --- payment data: exactly what policy §2.1 allows ---------------------------

// PaymentDataFields are the only fields any model may hold about a payment
// method or the Stripe relationship (policy §2.1: "the last four digits of
// the payment card, the card brand, and Stripe's internal customer and
// subscription identifiers").
var PaymentDataFields = map[string]bool{
	"CardBrand":            true,
	"CardLast4":            true,
	"StripeCustomerID":     true,
	"StripeSubscriptionID": true,
}

// cardWords are words that, in a field's name, mean it is about a card or
// bank account beyond brand and last four: number, security code, expiry,
// fingerprint, holder, bank details, magnetic stripe, BIN.
var cardWords = map[string]bool{
	"pan": true, "cvc": true, "cvv": true, "cvn": true, "cvc2": true, "cvv2": true, "csc": true,
	"exp": true, "expiry": true, "expiration": true, "fingerprint": true, "holder": true,
	"cardholder": true, "iban": true, "bic": true, "swift": true, "routing": true,
	"iin": true, "bin": true, "track": true, "track1": true, "track2": true, "magstripe": true,
	"pin": true, "cryptogram": true, "eci": true, "funding": true, "wallet": true, "issuer": true,
	"acct": true, "mandate": true,
}

// PaymentDataProblems walks models and names every field that stores
// something about a payment card or bank account other than what §2.1
// allows: a field whose name speaks of a card, an account number, a
// security code, an expiry, a fingerprint or a holder; a field classified
// user.payment (or user.financial.* but billing history and the
// organization's tax identifier) that is not one of PaymentDataFields; and
// a raw (JSON, map, bytes) field beside payment data, where a Stripe object
// could be kept whole.
func PaymentDataProblems(models []any) []string {
	var out []string
	naming := schema.NamingStrategy{}
	for _, m := range models {
		t := reflect.Indirect(reflect.ValueOf(m)).Type()
		s, err := schema.Parse(m, &sync.Map{}, naming)
		if err != nil {
			out = append(out, fmt.Sprintf("%s: %v", t.Name(), err))
			continue
		}
		holdsPayment := false
		var raw []string
		for i := 0; i < t.NumField(); i++ {
			sf := t.Field(i)
			column := sf.Name
			if f := s.LookUpField(sf.Name); f != nil && f.DBName != "" {
				column = f.DBName
			}
			where := t.Name() + "." + sf.Name
			words := append(nameWords(sf.Name), strings.Split(column, "_")...)
			if why := cardWord(words); why != "" && !PaymentDataFields[sf.Name] {
				out = append(out, fmt.Sprintf("%s: %s in the name: card or bank details beyond brand and last four (§2.1)", where, why))
			}
			f, err := parsePrivacyTag(sf.Tag.Get("privacy"))
			if err == nil {
				switch {
				case f.Category == "user.payment" || strings.HasPrefix(f.Category, "user.payment."):
					holdsPayment = true
					if !PaymentDataFields[sf.Name] {
						out = append(out, fmt.Sprintf("%s: classified %s but §2.1 allows only %s", where, f.Category, allowedPaymentFields()))
					}
				case f.Category == "user.financial.billing_history":
					holdsPayment = true
				case f.Category == "user.financial" || strings.HasPrefix(f.Category, "user.financial."):
					if where != "Organization.TaxIdentifier" {
						out = append(out, fmt.Sprintf("%s: classified %s: financial data other than billing history and the tax identifier (§2.1)", where, f.Category))
					}
				}
			}
			if rawField(sf.Type) {
				raw = append(raw, where)
			}
		}
		if holdsPayment {
			for _, r := range raw {
				out = append(out, fmt.Sprintf("%s: a raw (JSON, map or bytes) field beside payment data could keep a whole Stripe object", r))
			}
		}
	}
	sort.Strings(out)
	return out
}

// rawField reports whether a field of type t could hold a structured
// object (JSON, a map, bytes, a nested struct other than a time).
func rawField(t reflect.Type) bool {
	if t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	switch t.Kind() {
	case reflect.Map, reflect.Interface, reflect.Slice, reflect.Array:
		return true
	case reflect.Struct:
		return t.String() != "time.Time"
	}
	return false
}

func allowedPaymentFields() string {
	var names []string
	for n := range PaymentDataFields {
		names = append(names, n)
	}
	sort.Strings(names)
	return strings.Join(names, ", ")
}

// cardWord returns the first word that makes a name about card details, or
// "" when none does. "card" alone is fine only in CardBrand and CardLast4
// (the caller checks), "number" only away from card and account.
func cardWord(words []string) string {
	has := map[string]bool{}
	for _, w := range words {
		has[strings.ToLower(w)] = true
	}
	for _, w := range words {
		w = strings.ToLower(w)
		if cardWords[w] {
			return w
		}
	}
	switch {
	case has["card"]:
		return "card"
	case has["account"] && has["number"]:
		return "account number"
	case has["last4"] || has["last"] && has["four"]:
		return "last four"
	case has["security"] && has["code"]:
		return "security code"
	}
	return ""
}

// nameWords splits a Go name into lower-case words: CardLast4 → card last4,
// CVCCheck → cvc check.
func nameWords(name string) []string {
	var words []string
	var cur []rune
	runes := []rune(name)
	for i, r := range runes {
		if i > 0 && unicode.IsUpper(r) {
			prevLower := unicode.IsLower(runes[i-1]) || unicode.IsDigit(runes[i-1])
			nextLower := i+1 < len(runes) && unicode.IsLower(runes[i+1])
			if prevLower || (unicode.IsUpper(runes[i-1]) && nextLower) {
				words = append(words, strings.ToLower(string(cur)))
				cur = nil
			}
		}
		cur = append(cur, r)
	}
	if len(cur) > 0 {
		words = append(words, strings.ToLower(string(cur)))
	}
	return words
}

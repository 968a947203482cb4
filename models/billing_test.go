package models_test

import (
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/convot/convot/internal/crypto"
	"github.com/convot/convot/internal/testdb"
	"github.com/convot/convot/models"
)

// What Convot stores of payment data is exactly what §2.1 says: the card's
// last four digits and brand, Stripe's customer and subscription IDs. The
// walk covers every model of models.All(): no field names a card number,
// security code, expiry, fingerprint, holder or bank account; the fields
// classified as payment data are exactly the four; nothing raw sits beside
// them.
func TestStoredPaymentDataIsExactlySection21(t *testing.T) {
	if problems := models.PaymentDataProblems(models.All()); len(problems) > 0 {
		t.Fatalf("payment data beyond §2.1:\n%s", strings.Join(problems, "\n"))
	}
	var payment []string
	for _, f := range models.Inventory() {
		if f.Category == "user.payment" {
			payment = append(payment, f.Model+"."+f.Field)
		}
	}
	sort.Strings(payment)
	want := []string{"PaymentMethod.CardBrand", "PaymentMethod.CardLast4", "Subscription.StripeCustomerID", "Subscription.StripeSubscriptionID"}
	if strings.Join(payment, ",") != strings.Join(want, ",") {
		t.Fatalf("payment-data fields %v, want exactly %v", payment, want)
	}
	for _, f := range models.Inventory() {
		if f.Category == "user.payment" && f.Subject != models.SubjectCustomer {
			t.Errorf("%s.%s: payment data of %s; Stripe serves Customers only", f.Model, f.Field, f.Subject)
		}
	}
}

// The checker catches each way a card detail could slip in.
func TestPaymentDataCheckerCatchesCardDetails(t *testing.T) {
	type CardNumber struct {
		ID         uint64
		CardNumber string `gorm:"serializer:sealed" privacy:"category=user.payment subject=customer retention=account purpose=essential.service.payment_processing"`
	}
	type Expiry struct {
		ID       uint64
		ExpMonth int
		ExpYear  int
	}
	type Security struct {
		ID  uint64
		CVC string `privacy:"none"`
	}
	type Fingerprint struct {
		ID                 uint64
		PaymentFingerprint string `privacy:"category=user.payment subject=customer retention=account purpose=essential.service.payment_processing form=clear"`
	}
	type Holder struct {
		ID         uint64
		HolderName string `gorm:"serializer:sealed" privacy:"category=user.name subject=customer retention=account purpose=essential.service.payment_processing"`
	}
	type Hidden struct { // an innocuous name, but classified as payment data
		ID    uint64
		Extra string `privacy:"category=user.payment subject=customer retention=account purpose=essential.service.payment_processing form=clear"`
	}
	type Bank struct {
		ID   uint64
		IBAN string `gorm:"serializer:sealed" privacy:"category=user.financial subject=customer retention=account purpose=essential.service.payment_processing"`
	}
	type AccountNumber struct {
		ID            uint64
		AccountNumber string `privacy:"none"`
	}
	type RawObject struct { // a whole Stripe object beside the card's last four
		ID        uint64
		CardLast4 string            `gorm:"serializer:sealed" privacy:"category=user.payment subject=customer retention=account purpose=essential.service.payment_processing"`
		Object    map[string]string `gorm:"serializer:sealed" privacy:"category=user.financial.billing_history subject=customer retention=billing purpose=essential.service.payment_processing"`
	}
	for _, m := range []any{&CardNumber{}, &Expiry{}, &Security{}, &Fingerprint{}, &Holder{}, &Hidden{}, &Bank{}, &AccountNumber{}, &RawObject{}} {
		if problems := models.PaymentDataProblems([]any{m}); len(problems) == 0 {
			t.Errorf("%T: the checker found nothing", m)
		}
	}
	// What §2.1 allows passes, and so do names that merely look alike.
	type Allowed struct {
		ID                   uint64
		CardBrand            string `privacy:"category=user.payment subject=customer retention=account purpose=essential.service.payment_processing form=clear"`
		CardLast4            string `gorm:"serializer:sealed" privacy:"category=user.payment subject=customer retention=account purpose=essential.service.payment_processing"`
		StripeCustomerID     string `privacy:"category=user.payment subject=customer retention=account purpose=essential.service.payment_processing form=clear"`
		StripeSubscriptionID string `privacy:"category=user.payment subject=customer retention=account purpose=essential.service.payment_processing form=clear"`
		ExpiresAt            time.Time
		InvoiceNumber        string `privacy:"none"`
		Placeholder          string `privacy:"none"`
	}
	if problems := models.PaymentDataProblems([]any{&Allowed{}}); len(problems) > 0 {
		t.Fatalf("false alarms: %v", problems)
	}
}

// Invoices are sealed under a billing key of the organization's own, not
// the organization's key: destroying that (closing the account) leaves the
// billing records readable for their seven years.
func TestInvoicesAreSealedUnderABillingKey(t *testing.T) {
	db := testdb.New(t)
	org := &models.Organization{PublicKey: crypto.RandomToken(12), CompanyName: "Acme", Region: "eu", Status: models.OrgActive}
	if err := db.Create(org).Error; err != nil {
		t.Fatal(err)
	}
	now := time.Now().UTC()
	inv := []models.Invoice{
		{OrganizationID: org.ID, StripeInvoiceID: "in_1", Number: "A-1", Status: "paid", IssuedAt: now, HostedInvoiceURL: "https://invoice.stripe.com/i/secret1"},
		{OrganizationID: org.ID, StripeInvoiceID: "in_2", Number: "A-2", Status: "open", IssuedAt: now, HostedInvoiceURL: "https://invoice.stripe.com/i/secret2"},
	}
	for i := range inv {
		if err := db.Create(&inv[i]).Error; err != nil {
			t.Fatal(err)
		}
	}
	if inv[0].DataKeyID == 0 || inv[0].DataKeyID != inv[1].DataKeyID || inv[0].DataKeyID == org.DataKeyID {
		t.Fatalf("billing keys %d %d, organization key %d", inv[0].DataKeyID, inv[1].DataKeyID, org.DataKeyID)
	}
	var raw struct{ HostedInvoiceURL string }
	db.Raw("SELECT hosted_invoice_url FROM invoices WHERE id = ?", inv[0].ID).Scan(&raw)
	if strings.Contains(raw.HostedInvoiceURL, "secret1") {
		t.Fatal("the invoice URL is stored in clear")
	}
	if err := db.Keys.Destroy(db.DB, org.DataKeyID); err != nil {
		t.Fatal(err)
	}
	var got models.Invoice
	if err := db.First(&got, inv[0].ID).Error; err != nil {
		t.Fatal(err)
	}
	if got.HostedInvoiceURL != "https://invoice.stripe.com/i/secret1" {
		t.Fatalf("invoice after the organization's key was destroyed: %q", got.HostedInvoiceURL)
	}
}

func TestPlansAndCurrentPlan(t *testing.T) {
	var none *models.Subscription
	if none.CurrentPlan().ID != models.PlanFree || none.Paying() {
		t.Fatal("no subscription is the free plan")
	}
	s := &models.Subscription{StripeSubscriptionID: "sub_1", Plan: models.PlanGrowth, Status: "active"}
	if s.CurrentPlan().ID != models.PlanGrowth || !s.Paying() {
		t.Fatalf("active growth: %+v", s.CurrentPlan())
	}
	s.Status = "canceled"
	if s.CurrentPlan().ID != models.PlanFree || s.Paying() {
		t.Fatal("a canceled subscription is the free plan")
	}
	for i, p := range models.Plans {
		if p.Seats <= 0 || p.ConversationsPerMonth <= 0 {
			t.Errorf("%s: limits %+v", p.ID, p)
		}
		if i > 0 && (p.StripeLookupKey == "" || p.Seats <= models.Plans[i-1].Seats) {
			t.Errorf("%s: paid plans need a Stripe price and more seats than the one before", p.ID)
		}
		if got, ok := models.PlanByLookupKey(p.StripeLookupKey); p.StripeLookupKey != "" && (!ok || got.ID != p.ID) {
			t.Errorf("%s: PlanByLookupKey", p.ID)
		}
	}
}

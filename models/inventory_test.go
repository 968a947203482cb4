package models_test

import (
	"reflect"
	"testing"

	"github.com/convot/convot/models"
)

// Every string, bytes or JSON field of every model is either classified in
// the data inventory or marked non-personal.
func TestEveryModelFieldIsClassified(t *testing.T) {
	for _, p := range models.InventoryProblems() {
		t.Errorf("%s.%s: %s", p.Model, p.Field, p.Reason)
	}
	if len(models.Inventory()) < 30 {
		t.Fatalf("inventory has %d fields; expected the personal fields of §2.1 and §2.2", len(models.Inventory()))
	}
}

// The checker itself catches an unclassified field, a personal field left
// in clear without saying so, and an unknown category.
func TestInventoryCheckerCatchesMistakes(t *testing.T) {
	type Untagged struct {
		ID    uint64
		Email string
	}
	type ClearPersonal struct {
		ID    uint64
		Email string `privacy:"category=user.contact.email subject=end_user retention=account purpose=essential.service"`
	}
	type Typo struct {
		ID    uint64
		Email string `gorm:"serializer:sealed" privacy:"category=user.contact.mail subject=end_user retention=account purpose=essential.service"`
	}
	type Attrs struct {
		ID    uint64
		Attrs map[string]string
	}
	for _, m := range []any{&Untagged{}, &ClearPersonal{}, &Typo{}, &Attrs{}} {
		_, problems := models.BuildInventoryForTest([]any{m})
		if len(problems) != 1 {
			t.Errorf("%T: want one problem, got %v", m, problems)
		}
	}
}

// The policy's lists (§2.1, §2.2) are all in the inventory.
func TestInventoryCoversPolicyLists(t *testing.T) {
	want := map[string][]string{
		"Account":      {"FullName", "Email", "PasswordHash", "DisplayName", "AvatarURL", "Role", "TimeZone", "Language"},
		"Organization": {"CompanyName", "Website", "Industry", "BillingAddress", "TaxIdentifier"},
		"Contact":      {"Name", "Email", "Phone", "ExternalID", "CustomAttributes", "IP", "UserAgent", "BrowserLanguage", "PageURL", "DeviceType", "Country"},
		"UsageEvent":   {"Page", "Feature", "Browser", "OS", "DeviceType", "IP", "Referrer"},
		"Message":      {"Body"},
		"Attachment":   {"FileName"},
		"VisitorToken": {"TokenHash"},
	}
	have := map[string]map[string]models.Field{}
	for _, f := range models.Inventory() {
		if have[f.Model] == nil {
			have[f.Model] = map[string]models.Field{}
		}
		have[f.Model][f.Field] = f
	}
	for model, fields := range want {
		for _, name := range fields {
			f, ok := have[model][name]
			if !ok {
				t.Errorf("%s.%s missing from the inventory", model, name)
				continue
			}
			if len(f.LegalBases()) == 0 || f.Column == "" || f.Table == "" {
				t.Errorf("%s.%s: incomplete entry %+v", model, name, f)
			}
		}
	}
	for _, f := range models.Inventory() {
		if f.Subject == models.SubjectEndUser && f.Retention == "billing" {
			t.Errorf("%s.%s: end-user data kept as billing records", f.Model, f.Field)
		}
	}
	if reflect.DeepEqual(models.FieldsOf(&models.Contact{}), []models.Field(nil)) {
		t.Fatal("FieldsOf(Contact) is empty")
	}
}

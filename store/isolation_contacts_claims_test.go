package store

import (
	"errors"
	"testing"
	"time"

	"github.com/convot/convot/models"
)

// Cases of the identity claims (package contacts): B names A's contacts.
func init() {
	isolationCases = append(isolationCases,
		isolationCase{"RecordContactClaim", func(t *testing.T, f *fixture) {
			must(t, f.store.RecordContactClaim(f.ctx, f.B.Org.ID, f.A.Contact.ID, f.B.Contact.ID))
			if _, err := f.store.ContactClaim(f.ctx, f.A.Org.ID, f.A.Contact.ID); !errors.Is(err, ErrNotFound) {
				t.Fatalf("B made A's contact claim another: %v", err)
			}
		}},
		isolationCase{"ContactClaim", func(t *testing.T, f *fixture) {
			claimant := f.claimantOfA(t)
			if _, err := f.store.ContactClaim(f.ctx, f.B.Org.ID, claimant.ID); !errors.Is(err, ErrNotFound) {
				t.Fatalf("B read the claim of A's contact: %v", err)
			}
		}},
		isolationCase{"SetContactClaimCode", func(t *testing.T, f *fixture) {
			claimant := f.claimantOfA(t)
			sent, err := f.store.SetContactClaimCode(f.ctx, f.B.Org.ID, claimant.ID, "hash-by-b", f.now, f.now.Add(time.Hour), f.now)
			if sent || !errors.Is(err, ErrNotFound) {
				t.Fatalf("B set a code on A's claim: %v %v", sent, err)
			}
			if got, _ := f.store.Contact(f.ctx, f.A.Org.ID, claimant.ID); got.ClaimCodeHash != "" {
				t.Fatal("B's code is stored on A's claim")
			}
		}},
		isolationCase{"TakeContactClaimAttempt", func(t *testing.T, f *fixture) {
			claimant := f.claimantOfA(t)
			if _, err := f.store.SetContactClaimCode(f.ctx, f.A.Org.ID, claimant.ID, "hash-a", f.now, f.now.Add(time.Hour), f.now); err != nil {
				t.Fatal(err)
			}
			hash, _, ok, err := f.store.TakeContactClaimAttempt(f.ctx, f.B.Org.ID, claimant.ID, f.now, 5)
			must(t, err)
			if ok || hash != "" {
				t.Fatal("B read the code hash of A's claim")
			}
			if got, _ := f.store.Contact(f.ctx, f.A.Org.ID, claimant.ID); got.ClaimCodeAttempts != 0 {
				t.Fatal("B used an attempt of A's claim")
			}
		}},
		isolationCase{"ContactClaimants", func(t *testing.T, f *fixture) {
			f.claimantOfA(t)
			got, err := f.store.ContactClaimants(f.ctx, f.B.Org.ID, f.A.Contact.ID)
			must(t, err)
			if len(got) != 0 {
				t.Fatalf("B listed A's claimants: %d", len(got))
			}
		}},
	)
}

// claimantOfA is a new contact of A claiming to be A's contact.
func (f *fixture) claimantOfA(t *testing.T) *models.Contact {
	t.Helper()
	ct := &models.Contact{OrganizationID: f.A.Org.ID, Name: "Claimant a"}
	must(t, f.store.CreateContact(f.ctx, ct))
	must(t, f.store.RecordContactClaim(f.ctx, f.A.Org.ID, ct.ID, f.A.Contact.ID))
	return ct
}

package dsr_test

import (
	"context"
	"errors"
	"slices"
	"testing"

	"github.com/convot/convot/dsr"
	"github.com/convot/convot/internal/crypto"
	"github.com/convot/convot/internal/testdb"
	"github.com/convot/convot/models"
	"github.com/convot/convot/store"
)

// Rectification sets names and contact details only, and keeps the blind
// index in step.
func TestRectifyCorrectsContactDetailsOnly(t *testing.T) {
	ctx := context.Background()
	db := testdb.New(t)
	org := &models.Organization{PublicKey: crypto.RandomToken(12), CompanyName: "Acme GmbH", Region: "eu", Status: models.OrgActive}
	if err := db.Create(org).Error; err != nil {
		t.Fatal(err)
	}
	bystander := &models.Contact{OrganizationID: org.ID, Name: "Bob Builder", Email: "bob@example.com"}
	if err := db.Create(bystander).Error; err != nil {
		t.Fatal(err)
	}
	engine := dsr.Engine{Store: store.New(db.DB, db.Keys)}
	s, err := engine.Locate(ctx, &models.PrivacyRequest{SubjectKind: models.SubjectEndUser, OrganizationID: org.ID, SubjectID: bystander.ID})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := engine.Rectify(ctx, org.ID, s, map[string]string{"ip": "1.2.3.4"}); err == nil {
		t.Fatal("the IP address was rectifiable")
	}
	cols, err := engine.Rectify(ctx, org.ID, s, map[string]string{"name": "Robert Builder", "email": "robert@example.com"})
	if err != nil || !slices.Equal(cols, []string{"email", "name"}) {
		t.Fatalf("rectify: %v %v", cols, err)
	}
	var got models.Contact
	if err := db.First(&got, bystander.ID).Error; err != nil {
		t.Fatal(err)
	}
	if got.Name != "Robert Builder" || got.Email != "robert@example.com" || got.EmailIndex != db.Keys.BlindIndex("robert@example.com") {
		t.Fatalf("rectified contact %q %q", got.Name, got.Email)
	}
}

// A request about neither an End User nor a Customer locates nothing.
func TestLocateRefusesAnUnknownSubjectKind(t *testing.T) {
	db := testdb.New(t)
	engine := dsr.Engine{Store: store.New(db.DB, db.Keys)}
	if _, err := engine.Locate(context.Background(), &models.PrivacyRequest{SubjectKind: "robot"}); !errors.Is(err, dsr.ErrUnknownSubjectKind) {
		t.Fatalf("an unknown subject kind gave %v", err)
	}
}

package store

import (
	"errors"
	"testing"
	"time"

	"github.com/convot/convot/internal/obligations"
	"github.com/convot/convot/models"
)

func init() {
	isolationCases = append(isolationCases,
		isolationCase{"DeletePrivacyRequest", func(t *testing.T, f *fixture) {
			r := f.privacyRequestOfA(t)
			must(t, f.store.DeletePrivacyRequest(f.ctx, f.B.Org.ID, r.ID))
			if _, err := f.store.PrivacyRequestByID(f.ctx, r.ID); err != nil {
				t.Fatalf("B deleted A's privacy request: %v", err)
			}
		}},
		isolationCase{"PrivacyRequests", func(t *testing.T, f *fixture) {
			f.privacyRequestOfA(t)
			list, err := f.store.PrivacyRequests(f.ctx, f.B.Org.ID, PrivacyRequestFilter{})
			must(t, err)
			if len(list) != 0 {
				t.Fatalf("B listed %d of A's privacy requests", len(list))
			}
		}},
		isolationCase{"OrganizationPrivacyRequest", func(t *testing.T, f *fixture) {
			r := f.privacyRequestOfA(t)
			if _, err := f.store.OrganizationPrivacyRequest(f.ctx, f.B.Org.ID, r.ID); !errors.Is(err, ErrNotFound) {
				t.Fatalf("B loaded A's privacy request: %v", err)
			}
		}},
		isolationCase{"PrivacyExports", func(t *testing.T, f *fixture) {
			r := f.privacyRequestOfA(t)
			f.privacyExportOfA(t, r)
			list, err := f.store.PrivacyExports(f.ctx, f.B.Org.ID, r.ID)
			must(t, err)
			if len(list) != 0 {
				t.Fatalf("B listed %d of A's exports", len(list))
			}
		}},
		isolationCase{"LatestPrivacyExport", func(t *testing.T, f *fixture) {
			r := f.privacyRequestOfA(t)
			f.privacyExportOfA(t, r)
			if _, err := f.store.LatestPrivacyExport(f.ctx, f.B.Org.ID, r.ID); !errors.Is(err, ErrNotFound) {
				t.Fatalf("B loaded A's export: %v", err)
			}
		}},
		isolationCase{"PrivacyRequestsOfContact", func(t *testing.T, f *fixture) {
			f.privacyRequestOfA(t)
			list, err := f.store.PrivacyRequestsOfContact(f.ctx, f.B.Org.ID, f.A.Contact.ID)
			must(t, err)
			if len(list) != 0 {
				t.Fatalf("B listed %d of A's contact's requests", len(list))
			}
		}},
		isolationCase{"PrivacyMailTaken", func(t *testing.T, f *fixture) {
			r := f.privacyRequestOfA(t)
			taken, err := f.store.PrivacyMailTaken(f.ctx, f.B.Org.ID, r.SourceRef)
			must(t, err)
			if taken {
				t.Fatal("A's mail counts as taken by B")
			}
		}},
	)
}

// privacyRequestOfA is a request of A's contact to A, from a mail.
func (f *fixture) privacyRequestOfA(t *testing.T) *models.PrivacyRequest {
	t.Helper()
	r := &models.PrivacyRequest{OrganizationID: f.A.Org.ID, Controller: models.ControllerOrganization, SubjectKind: models.SubjectEndUser,
		SubjectID: f.A.Contact.ID, Type: obligations.DsrAccess, Source: models.DsrSourceMail, SourceRef: "mail-of-a",
		RequesterEmail: f.A.Contact.Email, Status: obligations.DsrReceived, ReceivedAt: f.now, Deadline: f.now.Add(30 * 24 * time.Hour)}
	must(t, f.store.CreatePrivacyRequest(f.ctx, r))
	return r
}

func (f *fixture) privacyExportOfA(t *testing.T, r *models.PrivacyRequest) *models.PrivacyExport {
	t.Helper()
	e := &models.PrivacyExport{OrganizationID: f.A.Org.ID, RequestID: r.ID, DataKeyID: r.DataKeyID, Format: models.ExportAccessReport,
		FileName: "export.zip", ContentType: "application/zip", BlobKey: "blob-a", TokenHash: "token-hash-a",
		ExpiresAt: f.now.Add(24 * time.Hour), CreatedAt: f.now}
	must(t, f.store.with(f.ctx).Create(e).Error)
	return e
}

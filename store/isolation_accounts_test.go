package store

import (
	"errors"
	"testing"
	"time"

	"github.com/convot/convot/internal/crypto"
	"github.com/convot/convot/models"
)

// Cross-tenant cases of accounts, sessions, organizations, invitations,
// recovery codes, audit events, decisions, support, incidents and plans.

func init() {
	isolationCases = append(isolationCases,
		// accounts
		isolationCase{"Account", func(t *testing.T, f *fixture) {
			if _, err := f.store.Account(f.ctx, f.B.Org.ID, f.A.Owner.ID); !errors.Is(err, ErrNotFound) {
				t.Fatalf("B loaded A's account: %v", err)
			}
		}},
		isolationCase{"ActiveAccount", func(t *testing.T, f *fixture) {
			if _, err := f.store.ActiveAccount(f.ctx, f.B.Org.ID, f.A.Owner.ID); !errors.Is(err, ErrNotFound) {
				t.Fatalf("B loaded A's account: %v", err)
			}
		}},
		isolationCase{"ActiveMembers", func(t *testing.T, f *fixture) {
			list, err := f.store.ActiveMembers(f.ctx, f.B.Org.ID)
			must(t, err)
			for _, a := range list {
				if a.ID == f.A.Owner.ID {
					t.Fatal("B listed A's owner")
				}
			}
		}},
		isolationCase{"ActiveMemberCount", func(t *testing.T, f *fixture) {
			n, err := f.store.ActiveMemberCount(f.ctx, f.B.Org.ID)
			must(t, err)
			if n != 1 {
				t.Fatalf("B counts %d members, want its owner only", n)
			}
		}},
		isolationCase{"SetLastLogin", func(t *testing.T, f *fixture) {
			must(t, f.store.SetLastLogin(f.ctx, f.B.Org.ID, f.A.Owner.ID, f.now))
			if f.ownerOfA(t).LastLoginAt != nil {
				t.Fatal("B set A's owner's last sign-in")
			}
		}},
		isolationCase{"SaveProfile", func(t *testing.T, f *fixture) {
			a := f.A.Owner
			a.FullName = "Changed"
			must(t, f.store.SaveProfile(f.ctx, f.B.Org.ID, &a))
			if f.ownerOfA(t).FullName != f.A.Owner.FullName {
				t.Fatal("B changed A's owner's profile")
			}
		}},
		isolationCase{"SaveTOTPSecret", func(t *testing.T, f *fixture) {
			a := f.A.Owner
			a.TOTPSecret = "CHANGED"
			must(t, f.store.SaveTOTPSecret(f.ctx, f.B.Org.ID, &a))
			if f.ownerOfA(t).TOTPSecret != "" {
				t.Fatal("B set A's owner's TOTP secret")
			}
		}},
		isolationCase{"EnableTOTP", func(t *testing.T, f *fixture) {
			must(t, f.store.EnableTOTP(f.ctx, f.B.Org.ID, f.A.Owner.ID, 7))
			if f.ownerOfA(t).TOTPEnabled {
				t.Fatal("B turned on A's owner's two-factor authentication")
			}
		}},
		isolationCase{"DisableTOTP", func(t *testing.T, f *fixture) {
			must(t, f.store.EnableTOTP(f.ctx, f.A.Org.ID, f.A.Owner.ID, 7))
			must(t, f.store.DisableTOTP(f.ctx, f.B.Org.ID, f.A.Owner.ID))
			if !f.ownerOfA(t).TOTPEnabled {
				t.Fatal("B turned off A's owner's two-factor authentication")
			}
		}},
		isolationCase{"SetPasswordHash", func(t *testing.T, f *fixture) {
			must(t, f.store.SetPasswordHash(f.ctx, f.B.Org.ID, f.A.Owner.ID, "changed"))
			if f.ownerOfA(t).PasswordHash != "" {
				t.Fatal("B changed A's owner's password")
			}
		}},
		isolationCase{"ResetPassword", func(t *testing.T, f *fixture) {
			_, err := f.store.AdmitLoginAttempt(f.ctx, f.A.Owner.ID, f.now, 1, time.Hour)
			must(t, err)
			must(t, f.store.ResetPassword(f.ctx, f.B.Org.ID, f.A.Owner.ID, "changed"))
			if a := f.ownerOfA(t); a.PasswordHash != "" || a.LockedUntil == nil {
				t.Fatal("B reset A's owner's password")
			}
		}},
		isolationCase{"SetRole", func(t *testing.T, f *fixture) {
			must(t, f.store.SetRole(f.ctx, f.B.Org.ID, f.A.Owner.ID, models.RoleAgent))
			if f.ownerOfA(t).Role != models.RoleOwner {
				t.Fatal("B changed A's owner's role")
			}
		}},
		isolationCase{"DisableAccount", func(t *testing.T, f *fixture) {
			must(t, f.store.DisableAccount(f.ctx, f.B.Org.ID, f.A.Owner.ID))
			if f.ownerOfA(t).Status != "active" {
				t.Fatal("B disabled A's owner")
			}
		}},

		// sessions
		isolationCase{"DeleteSession", func(t *testing.T, f *fixture) {
			sess := f.sessionOfA(t)
			must(t, f.store.DeleteSession(f.ctx, f.B.Org.ID, sess.ID))
			f.sessionOfAStill(t, sess)
		}},
		isolationCase{"DeleteSessions", func(t *testing.T, f *fixture) {
			sess := f.sessionOfA(t)
			must(t, f.store.DeleteSessions(f.ctx, f.B.Org.ID, f.A.Owner.ID))
			f.sessionOfAStill(t, sess)
		}},
		isolationCase{"DeleteOtherSessions", func(t *testing.T, f *fixture) {
			sess := f.sessionOfA(t)
			must(t, f.store.DeleteOtherSessions(f.ctx, f.B.Org.ID, f.A.Owner.ID, 0))
			f.sessionOfAStill(t, sess)
		}},
		isolationCase{"TouchSession", func(t *testing.T, f *fixture) {
			sess := f.sessionOfA(t)
			must(t, f.store.TouchSession(f.ctx, f.B.Org.ID, sess.ID, f.now.Add(time.Hour)))
			if got := f.sessionOfAStill(t, sess); !got.LastSeenAt.Equal(sess.LastSeenAt) {
				t.Fatal("B touched A's session")
			}
		}},
		isolationCase{"CompleteSessionMFA", func(t *testing.T, f *fixture) {
			sess := f.sessionOfA(t)
			must(t, f.store.CompleteSessionMFA(f.ctx, f.B.Org.ID, sess.ID))
			if got := f.sessionOfAStill(t, sess); !got.MFAPending {
				t.Fatal("B completed the second factor of A's session")
			}
		}},

		// organizations
		isolationCase{"Organization", func(t *testing.T, f *fixture) {
			o, err := f.store.Organization(f.ctx, f.B.Org.ID)
			must(t, err)
			if o.ID != f.B.Org.ID {
				t.Fatalf("B's organization is %d", o.ID)
			}
		}},
		isolationCase{"SaveOrganizationProfile", func(t *testing.T, f *fixture) {
			o := f.A.Org
			o.CompanyName = "Changed"
			must(t, f.store.SaveOrganizationProfile(f.ctx, f.B.Org.ID, &o))
			if got, _ := f.store.Organization(f.ctx, f.A.Org.ID); got.CompanyName != f.A.Org.CompanyName {
				t.Fatal("B changed A's organization")
			}
		}},
		isolationCase{"SetRequireMFA", func(t *testing.T, f *fixture) {
			must(t, f.store.SetRequireMFA(f.ctx, f.B.Org.ID, true))
			if got, _ := f.store.Organization(f.ctx, f.A.Org.ID); got.RequireMFA {
				t.Fatal("B required two-factor authentication of A")
			}
		}},

		// invitations
		isolationCase{"PendingInvitations", func(t *testing.T, f *fixture) {
			f.invitationOfA(t)
			list, err := f.store.PendingInvitations(f.ctx, f.B.Org.ID, f.now)
			must(t, err)
			if len(list) != 0 {
				t.Fatalf("B listed %d of A's invitations", len(list))
			}
		}},
		isolationCase{"ShredInvitationEmail", func(t *testing.T, f *fixture) {
			inv := f.invitationOfA(t)
			if err := f.store.ShredInvitationEmail(f.ctx, f.B.Org.ID, inv.ID); !errors.Is(err, ErrNotFound) {
				t.Fatalf("B shredding A's invitation: %v", err)
			}
			got, err := f.store.InvitationByTokenHash(f.ctx, inv.TokenHash)
			must(t, err)
			if got.Email != inv.Email {
				t.Fatalf("B shredded A's invitation: email %q", got.Email)
			}
		}},

		// recovery codes
		isolationCase{"RecoveryCodesLeft", func(t *testing.T, f *fixture) {
			f.recoveryCodesOfA(t)
			n, err := f.store.RecoveryCodesLeft(f.ctx, f.B.Org.ID, f.A.Owner.ID)
			must(t, err)
			if n != 0 {
				t.Fatalf("B counted %d of A's recovery codes", n)
			}
		}},
		isolationCase{"ReplaceRecoveryCodes", func(t *testing.T, f *fixture) {
			f.recoveryCodesOfA(t)
			if err := f.store.ReplaceRecoveryCodes(f.ctx, f.B.Org.ID, f.A.Owner.ID, []string{"x"}, f.now); !errors.Is(err, ErrNotFound) {
				t.Fatalf("B replacing A's recovery codes: %v", err)
			}
			f.recoveryCodesOfAStill(t)
		}},
		isolationCase{"DeleteRecoveryCodes", func(t *testing.T, f *fixture) {
			f.recoveryCodesOfA(t)
			must(t, f.store.DeleteRecoveryCodes(f.ctx, f.B.Org.ID, f.A.Owner.ID))
			f.recoveryCodesOfAStill(t)
		}},

		// audit events and decisions
		isolationCase{"AuditLog", func(t *testing.T, f *fixture) {
			must(t, f.store.CreateAuditEvent(f.ctx, &models.AuditEvent{OrganizationID: f.A.Org.ID, ActorID: f.A.Owner.ID,
				DataKeyID: f.A.Owner.DataKeyID, Action: "auth.login", CreatedAt: f.now}))
			for _, action := range []string{"", "auth.login"} {
				list, err := f.store.AuditLog(f.ctx, f.B.Org.ID, AuditFilter{Action: action, ActorID: f.A.Owner.ID, Limit: 200})
				must(t, err)
				if len(list) != 0 {
					t.Fatalf("B listed %d of A's audit events", len(list))
				}
			}
		}},
		isolationCase{"Decisions", func(t *testing.T, f *fixture) {
			must(t, f.store.with(f.ctx).Create(&models.EgressDecision{OrganizationID: f.A.Org.ID, Subprocessor: "openai", Allow: true, CreatedAt: f.now}).Error)
			list, err := f.store.Decisions(f.ctx, f.B.Org.ID, models.DecisionFilter{OrganizationID: f.A.Org.ID})
			must(t, err)
			if len(list) != 0 {
				t.Fatalf("B listed %d of A's decisions", len(list))
			}
		}},

		// support
		isolationCase{"SupportTickets", func(t *testing.T, f *fixture) {
			f.ticketOfA(t)
			list, err := f.store.SupportTickets(f.ctx, f.B.Org.ID)
			must(t, err)
			if len(list) != 0 {
				t.Fatalf("B listed %d of A's tickets", len(list))
			}
		}},
		isolationCase{"SupportTicket", func(t *testing.T, f *fixture) {
			tk := f.ticketOfA(t)
			if _, err := f.store.SupportTicket(f.ctx, f.B.Org.ID, tk.ID); !errors.Is(err, ErrNotFound) {
				t.Fatalf("B loaded A's ticket: %v", err)
			}
		}},
		isolationCase{"SupportMessages", func(t *testing.T, f *fixture) {
			tk := f.ticketOfA(t)
			list, err := f.store.SupportMessages(f.ctx, f.B.Org.ID, tk.ID)
			must(t, err)
			if len(list) != 0 {
				t.Fatalf("B read %d of A's ticket messages", len(list))
			}
		}},
		isolationCase{"ReopenSupportTicket", func(t *testing.T, f *fixture) {
			tk := f.ticketOfA(t)
			must(t, f.store.CloseSupportTicket(f.ctx, f.A.Org.ID, tk.ID, f.now))
			must(t, f.store.ReopenSupportTicket(f.ctx, f.B.Org.ID, tk.ID, f.now))
			if got, _ := f.store.SupportTicket(f.ctx, f.A.Org.ID, tk.ID); got.Status != models.TicketClosed {
				t.Fatal("B reopened A's ticket")
			}
		}},
		isolationCase{"CloseSupportTicket", func(t *testing.T, f *fixture) {
			tk := f.ticketOfA(t)
			must(t, f.store.CloseSupportTicket(f.ctx, f.B.Org.ID, tk.ID, f.now))
			if got, _ := f.store.SupportTicket(f.ctx, f.A.Org.ID, tk.ID); got.Status != models.TicketOpen {
				t.Fatal("B closed A's ticket")
			}
		}},

		// incidents
		isolationCase{"IncidentSummaries", func(t *testing.T, f *fixture) {
			f.incidentOfA(t)
			list, err := f.store.IncidentSummaries(f.ctx, f.B.Org.ID)
			must(t, err)
			if len(list) != 0 {
				t.Fatalf("B listed %d of A's incidents", len(list))
			}
		}},
		isolationCase{"Incident", func(t *testing.T, f *fixture) {
			inc := f.incidentOfA(t)
			if _, err := f.store.Incident(f.ctx, f.B.Org.ID, inc.ID); !errors.Is(err, ErrNotFound) {
				t.Fatalf("B loaded A's incident: %v", err)
			}
		}},
		isolationCase{"IncidentSteps", func(t *testing.T, f *fixture) {
			inc := f.incidentOfA(t)
			list, err := f.store.IncidentSteps(f.ctx, f.B.Org.ID, inc.ID)
			must(t, err)
			if len(list) != 0 {
				t.Fatalf("B read %d steps of A's incident", len(list))
			}
		}},
		isolationCase{"SaveIncidentRiskReason", func(t *testing.T, f *fixture) {
			inc := f.incidentOfA(t)
			changed := inc
			changed.RiskReason = "changed"
			must(t, f.store.SaveIncidentRiskReason(f.ctx, f.B.Org.ID, &changed))
			if got, _ := f.store.Incident(f.ctx, f.A.Org.ID, inc.ID); got.RiskReason != inc.RiskReason {
				t.Fatal("B changed A's incident")
			}
		}},
		isolationCase{"SaveIncidentDelayReasons", func(t *testing.T, f *fixture) {
			inc := f.incidentOfA(t)
			changed := inc
			changed.DelayReasons = "changed"
			must(t, f.store.SaveIncidentDelayReasons(f.ctx, f.B.Org.ID, &changed))
			if got, _ := f.store.Incident(f.ctx, f.A.Org.ID, inc.ID); got.DelayReasons != inc.DelayReasons {
				t.Fatal("B changed A's incident")
			}
		}},

		// plans
		isolationCase{"PlanOf", func(t *testing.T, f *fixture) {
			must(t, f.store.with(f.ctx).Create(&models.Subscription{OrganizationID: f.A.Org.ID, Plan: models.PlanGrowth, Status: "active",
				CreatedAt: f.now, UpdatedAt: f.now}).Error)
			plan, err := f.store.PlanOf(f.ctx, f.B.Org.ID)
			must(t, err)
			if plan.ID != models.PlanFree {
				t.Fatalf("B has A's plan %s", plan.ID)
			}
		}},
		isolationCase{"SeatsUsed", func(t *testing.T, f *fixture) {
			f.invitationOfA(t)
			members, invited, err := f.store.SeatsUsed(f.ctx, f.B.Org.ID, f.now)
			must(t, err)
			if members != 1 || invited != 0 {
				t.Fatalf("B uses %d seats and %d invitations, want its owner only", members, invited)
			}
		}},
	)
}

func (f *fixture) ownerOfA(t *testing.T) *models.Account {
	t.Helper()
	a, err := f.store.Account(f.ctx, f.A.Org.ID, f.A.Owner.ID)
	must(t, err)
	return a
}

func (f *fixture) sessionOfA(t *testing.T) models.Session {
	t.Helper()
	sess := models.Session{TokenHash: crypto.HashToken("session-a"), AccountID: f.A.Owner.ID, OrganizationID: f.A.Org.ID,
		DataKeyID: f.A.Owner.DataKeyID, MFAPending: true, CreatedAt: f.now, LastSeenAt: f.now, ExpiresAt: f.now.Add(time.Hour)}
	must(t, f.store.CreateSession(f.ctx, &sess))
	return sess
}

// sessionOfAStill fails unless A's session is still there, and returns it.
func (f *fixture) sessionOfAStill(t *testing.T, sess models.Session) *models.Session {
	t.Helper()
	got, err := f.store.SessionByTokenHash(f.ctx, sess.TokenHash)
	if err != nil {
		t.Fatalf("A's session is gone: %v", err)
	}
	return got
}

func (f *fixture) invitationOfA(t *testing.T) models.Invitation {
	t.Helper()
	inv := models.Invitation{OrganizationID: f.A.Org.ID, Email: "invitee-a@example.com", Role: models.RoleAgent,
		TokenHash: crypto.HashToken("invitation-a"), InvitedByID: f.A.Owner.ID, ExpiresAt: f.now.Add(time.Hour), CreatedAt: f.now}
	must(t, f.store.CreateInvitation(f.ctx, &inv))
	return inv
}

func (f *fixture) recoveryCodesOfA(t *testing.T) {
	t.Helper()
	must(t, f.store.ReplaceRecoveryCodes(f.ctx, f.A.Org.ID, f.A.Owner.ID, []string{"h1", "h2"}, f.now))
}

// recoveryCodesOfAStill fails unless A's two recovery codes are still
// there.
func (f *fixture) recoveryCodesOfAStill(t *testing.T) {
	t.Helper()
	n, err := f.store.RecoveryCodesLeft(f.ctx, f.A.Org.ID, f.A.Owner.ID)
	must(t, err)
	if n != 2 {
		t.Fatalf("A has %d recovery codes left, want 2", n)
	}
}

func (f *fixture) ticketOfA(t *testing.T) models.SupportTicket {
	t.Helper()
	tk := models.SupportTicket{OrganizationID: f.A.Org.ID, AccountID: f.A.Owner.ID, DataKeyID: f.A.Owner.DataKeyID,
		Subject: "Help", Status: models.TicketOpen, CreatedAt: f.now, UpdatedAt: f.now}
	must(t, f.store.CreateSupportTicket(f.ctx, &tk))
	must(t, f.store.CreateSupportMessage(f.ctx, &models.SupportMessage{TicketID: tk.ID, OrganizationID: f.A.Org.ID,
		DataKeyID: tk.DataKeyID, AuthorType: models.SupportAuthorCustomer, AuthorID: f.A.Owner.ID, Body: "Please", CreatedAt: f.now}))
	return tk
}

func (f *fixture) incidentOfA(t *testing.T) models.Incident {
	t.Helper()
	inc := models.Incident{OrganizationID: f.A.Org.ID, RecordedByID: f.A.Owner.ID, DataKeyID: f.A.Org.DataKeyID,
		AffectedOrganizations: []uint64{f.A.Org.ID}, AwareAt: f.now, Nature: "lost laptop", Categories: []string{"user.name"},
		SubjectKinds: []string{models.SubjectCustomer}, RiskReason: "unencrypted", DelayReasons: "holiday",
		ContactName: "Officer A", ContactEmail: "officer-a@example.com", Status: models.IncidentOpen,
		NoticeDueAt: f.now.Add(72 * time.Hour), CreatedAt: f.now, UpdatedAt: f.now}
	must(t, f.store.CreateIncident(f.ctx, &inc))
	must(t, f.store.CreateIncidentStep(f.ctx, &models.IncidentStep{IncidentID: inc.ID, OrganizationID: f.A.Org.ID,
		OnceKey: "recorded", Step: "recorded", ActorID: f.A.Owner.ID, At: f.now}))
	return inc
}

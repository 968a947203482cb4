package activities

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.temporal.io/sdk/testsuite"

	"github.com/convot/convot/internal/backup"
	"github.com/convot/convot/internal/blob"
	"github.com/convot/convot/internal/crypto"
	"github.com/convot/convot/internal/mail"
	"github.com/convot/convot/internal/obligations"
	"github.com/convot/convot/internal/testdb"
	"github.com/convot/convot/internal/testenv"
	"github.com/convot/convot/models"
	"github.com/convot/convot/store"
	"github.com/convot/convot/workflows"
)

// obligationRig is a database, an outbox, a blob store and the real
// activities, run by the real workflows in a time-skipping environment.
type obligationRig struct {
	db     *testdb.DB
	outbox *mail.Outbox
	blobs  string
	acts   *Activities
}

func newObligations(t *testing.T) *obligationRig {
	t.Helper()
	db := testdb.New(t)
	outbox, err := mail.NewOutbox(t.TempDir())
	require.NoError(t, err)
	dir := t.TempDir()
	disk, err := blob.NewDisk(dir)
	require.NoError(t, err)
	a := &Activities{Store: store.New(db.DB, db.Keys), Keys: db.Keys, Mail: outbox, MailFrom: "Convot <no-reply@convot.test>", BaseURL: "https://convot.test", Blobs: disk,
		Backups: &backup.Backups{DB: db.DB, Blobs: disk, Master: db.Master, Context: backup.StorageContext("eu")}}
	return &obligationRig{db: db, outbox: outbox, blobs: dir, acts: a}
}

func (o *obligationRig) env(t *testing.T, start time.Time) *testsuite.TestWorkflowEnvironment {
	t.Helper()
	env := testenv.WorkflowEnv(start)
	workflows.Register(env)
	Register(env, o.acts)
	return env
}

func (o *obligationRig) org(t *testing.T, name string) (models.Organization, models.Account) {
	t.Helper()
	org := models.Organization{PublicKey: crypto.RandomToken(8), CompanyName: name, Region: "eu", Status: models.OrgActive}
	require.NoError(t, o.db.Create(&org).Error)
	owner := models.Account{OrganizationID: org.ID, FullName: "Owner of " + name, DisplayName: "Owner", Email: "owner@" + strings.ToLower(name) + ".example",
		Role: models.RoleOwner, Status: "active"}
	require.NoError(t, o.db.Create(&owner).Error)
	return org, owner
}

func (o *obligationRig) mails(t *testing.T, tag string) []mail.Message {
	t.Helper()
	all, err := o.outbox.List()
	require.NoError(t, err)
	var out []mail.Message
	for _, m := range all {
		if m.Tag == tag {
			out = append(out, m)
		}
	}
	return out
}

func (o *obligationRig) audits(t *testing.T, action string) []models.AuditEvent {
	t.Helper()
	var out []models.AuditEvent
	require.NoError(t, o.db.Where("action = ?", action).Order("id").Find(&out).Error)
	return out
}

// The sweeps, started as the schedules start them, delete what each class
// keeps no longer against the workflow's clock (twelve months, two years
// after close, seven years), keep the rest, and record what they deleted
// in an audit event: counts per table, never data.
func TestRetentionSweepsDeleteOnlyExpiredRowsAndAuditCounts(t *testing.T) {
	o := newObligations(t)
	now := time.Now().UTC().Truncate(time.Second)
	org, owner := o.org(t, "Sweepco")
	ago := func(years, months, days int) time.Time { return now.AddDate(-years, -months, -days) }

	// Logs: twelve months.
	for _, at := range []time.Time{ago(0, 12, 1), ago(0, 12, 1), ago(0, 11, 28)} {
		require.NoError(t, o.db.Create(&models.UsageEvent{OrganizationID: org.ID, AccountID: owner.ID, DataKeyID: owner.DataKeyID, Page: "/inbox", IP: "192.0.2.44", OccurredAt: at}).Error)
		require.NoError(t, o.db.Create(&models.AuditEvent{OrganizationID: org.ID, ActorID: owner.ID, DataKeyID: owner.DataKeyID, Action: "auth.login", IP: "192.0.2.44", CreatedAt: at}).Error)
	}
	// Support: two years after close.
	closedOld, closedNew := ago(2, 0, 1), ago(1, 11, 28)
	for _, closed := range []*time.Time{&closedOld, &closedNew, nil} {
		status := models.TicketClosed
		if closed == nil {
			status = models.TicketOpen
		}
		tk := models.SupportTicket{OrganizationID: org.ID, AccountID: owner.ID, DataKeyID: owner.DataKeyID, Subject: "help", Status: status, ClosedAt: closed, CreatedAt: ago(3, 0, 0)}
		require.NoError(t, o.db.Create(&tk).Error)
		require.NoError(t, o.db.Create(&models.SupportMessage{TicketID: tk.ID, OrganizationID: org.ID, DataKeyID: owner.DataKeyID, AuthorType: models.SupportAuthorCustomer, Body: "my card was charged twice", CreatedAt: ago(3, 0, 0)}).Error)
	}
	// Billing: seven years.
	for i, issued := range []time.Time{ago(7, 0, 1), ago(6, 11, 28)} {
		require.NoError(t, o.db.Create(&models.Invoice{OrganizationID: org.ID, StripeInvoiceID: "in_" + string(rune('a'+i)), Number: "INV-1", Status: "paid", Currency: "eur", IssuedAt: issued, HostedInvoiceURL: "https://pay.example/i"}).Error)
		require.NoError(t, o.db.Create(&models.Payment{OrganizationID: org.ID, Reference: "evt_" + string(rune('a'+i)), StripeInvoiceID: "in_x", Status: "succeeded", Currency: "eur", AttemptedAt: issued}).Error)
	}

	for _, class := range []string{obligations.RetentionSecurityLog, obligations.RetentionSupport, obligations.RetentionBilling} {
		env := o.env(t, now)
		env.ExecuteWorkflow(workflows.RetentionSweepWorkflowType, workflows.SweepInput{Class: class})
		require.True(t, env.IsWorkflowCompleted(), class)
		require.NoError(t, env.GetWorkflowError(), class)
	}
	count := func(model any) int64 {
		var n int64
		require.NoError(t, o.db.Model(model).Count(&n).Error)
		return n
	}
	require.Equal(t, int64(1), count(&models.UsageEvent{}))
	require.Equal(t, int64(2), count(&models.SupportMessage{}), "the expired ticket's message is gone")
	require.Equal(t, int64(2), count(&models.SupportTicket{}))
	require.Equal(t, int64(1), count(&models.Invoice{}))
	require.Equal(t, int64(1), count(&models.Payment{}))
	var logins int64
	require.NoError(t, o.db.Model(&models.AuditEvent{}).Where("action = ?", "auth.login").Count(&logins).Error)
	require.Equal(t, int64(1), logins)

	swept := o.audits(t, "retention.swept")
	require.Len(t, swept, 3)
	details := map[string]string{}
	for _, e := range swept {
		details[e.Target] = e.Detail
		require.NotContains(t, e.Detail, "192.0.2.44")
		require.NotContains(t, e.Detail, "charged")
	}
	require.Contains(t, details["retention:security_log"], "usage_events=2")
	require.Contains(t, details["retention:security_log"], "audit_events=2")
	require.Contains(t, details["retention:support"], "support_messages=1")
	require.Contains(t, details["retention:support"], "support_tickets=1")
	require.Contains(t, details["retention:billing"], "invoices=1")
	require.Contains(t, details["retention:billing"], "payments=1")

	// Run again: nothing more goes.
	env := o.env(t, now)
	env.ExecuteWorkflow(workflows.RetentionSweepWorkflowType, workflows.SweepInput{Class: obligations.RetentionSecurityLog})
	require.NoError(t, env.GetWorkflowError())
	var res workflows.SweepResult
	require.NoError(t, env.GetWorkflowResult(&res))
	require.Equal(t, int64(0), res.Rows)
}

// The daily backup writes an encrypted backup into the blob store and
// records it; its own expiry workflow, started by the daily one and
// outliving it, deletes every blob ninety days later and records the
// backup expired.
func TestBackupIsTakenAndDeletedNinetyDaysLater(t *testing.T) {
	o := newObligations(t)
	o.org(t, "Backupco")
	start := time.Now().UTC()
	env := o.env(t, start)
	blobs := func() int {
		entries, _ := os.ReadDir(filepath.Join(o.blobs, "backups", "1"))
		return len(entries)
	}
	var rec models.Backup
	env.RegisterDelayedCallback(func() {
		require.NoError(t, o.db.First(&rec, 1).Error)
		require.Equal(t, models.BackupCompleted, rec.Status)
		require.NotEmpty(t, rec.ManifestSHA256)
		require.Greater(t, rec.RowCount, int64(3))
		require.Equal(t, models.LatestMigration(), rec.SchemaVersion)
		require.Equal(t, rec.TakenAt.Add(90*24*time.Hour), rec.ExpiresAt)
		require.Greater(t, blobs(), 1, "manifest and parts")
		require.Len(t, o.audits(t, "backup.taken"), 1)
	}, time.Hour)
	env.RegisterDelayedCallback(func() {
		require.Greater(t, blobs(), 1, "still kept on day 89")
		require.Empty(t, o.audits(t, "backup.expired"))
	}, 89*24*time.Hour)
	env.ExecuteWorkflow(workflows.DailyBackupWorkflowType)
	require.True(t, env.IsWorkflowCompleted())
	require.NoError(t, env.GetWorkflowError())
	var res workflows.BackupResult
	require.NoError(t, env.GetWorkflowResult(&res))
	require.Equal(t, uint64(1), res.BackupID)
	require.NotZero(t, rec.ID, "the backup was checked while kept")

	// Ninety days on, the expiry has run.
	require.Zero(t, blobs(), "every blob of the backup is deleted")
	require.NoError(t, o.db.First(&rec, 1).Error)
	require.Equal(t, models.BackupExpired, rec.Status)
	require.Len(t, o.audits(t, "backup.expired"), 1)
	require.False(t, env.Now().Before(start.Add(90*24*time.Hour)), "not before ninety days")
}

// A backup whose master key version is no longer configured cannot be
// shredded: the pass says so in the audit log and goes on with the others
// rather than failing every daily backup after it.
func TestShreddingSkipsABackupItCannotOpen(t *testing.T) {
	o := newObligations(t)
	o.org(t, "Shredco")
	ctx := context.Background()
	for _, id := range []uint64{1, 2} {
		_, err := o.acts.Backups.Take(ctx, id, time.Now(), nil)
		require.NoError(t, err)
		require.NoError(t, o.db.Create(&models.Backup{ID: id, Status: models.BackupCompleted, TakenAt: time.Now(), ExpiresAt: time.Now().Add(obligations.BackupRetention)}).Error)
	}
	// Backup 1 was taken under a master key this deployment no longer has.
	other, err := crypto.ParseMasterKeys(crypto.GenerateMasterKey(7))
	require.NoError(t, err)
	foreign := &backup.Backups{DB: o.db.DB, Blobs: o.acts.Backups.Blobs, Master: other, Context: o.acts.Backups.Context}
	_, err = foreign.Take(ctx, 1, time.Now(), nil)
	require.NoError(t, err)

	env := testenv.ActivityEnv(o.acts.ShredBackupKeys)
	_, err = env.ExecuteActivity(o.acts.ShredBackupKeys)
	require.NoError(t, err)
	skipped := o.audits(t, "backup.keys_not_shredded")
	require.Len(t, skipped, 1)
	require.Equal(t, "backup:1", skipped[0].Target)
	var rec models.Backup
	require.NoError(t, o.db.First(&rec, 2).Error)
	require.NotNil(t, rec.KeysShreddedAt, "the other backup was shredded")
}

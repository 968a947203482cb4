package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"
	"unicode/utf8"

	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/sdk/client"

	"github.com/convot/convot/handlers/dashboard"
	"github.com/convot/convot/internal/backup"
	"github.com/convot/convot/models"
	"github.com/convot/convot/policies"
	"github.com/convot/convot/store"
	"github.com/convot/convot/workflows"
)

// The commands of issue #6's obligations: backups (list, restore), policy
// versions (publish, versions) and Convot's side of support tickets. The
// recurring obligations themselves are Temporal Schedules, created when a
// worker starts (ensureSchedules).

// backups is the backup store of the app (openApp builds it): its blob
// store, master key and the deployment's storage context.
func (a *app) backups() *backup.Backups {
	return a.backupStore
}

// ensureSchedules creates or updates the Temporal Schedules of the
// retention obligations; every worker does it at start.
func ensureSchedules(ctx context.Context, c client.Client) error {
	if err := workflows.EnsureSchedules(ctx, c); err != nil {
		return fmt.Errorf("ensure the Temporal schedules: %w", err)
	}
	return nil
}

// openTool opens the app for a one-off command: CONVOT_MASTER_KEY, or the
// development key in CONVOT_DATA_DIR when it is not set.
func openTool(ctx context.Context, out io.Writer) (*app, error) {
	return openApp(ctx, noMasterKey(), out)
}

// noMasterKey is a one-off command run without CONVOT_MASTER_KEY, which
// then uses the development key in CONVOT_DATA_DIR.
func noMasterKey() bool { return os.Getenv("CONVOT_MASTER_KEY") == "" }

func runBackup(ctx context.Context, args []string, out io.Writer) error {
	if len(args) == 0 {
		return errors.New("say `convot backup list` or `convot backup restore <id>`")
	}
	switch args[0] {
	case "list":
		a, err := openCommand(ctx, "backup list", args[1:], noMasterKey(), out)
		if err != nil {
			return err
		}
		defer a.close()
		return listBackups(ctx, a.store, out)
	case "restore":
		if len(args) < 2 {
			return errors.New("say which backup: `convot backup restore <id>` (see `convot backup list`)")
		}
		id, err := strconv.ParseUint(args[1], 10, 64)
		if err != nil || id == 0 {
			return fmt.Errorf("backup ID %q: want a number from `convot backup list`", args[1])
		}
		if err := flags("backup restore", args[2:], nil); err != nil {
			return err
		}
		return restoreBackup(ctx, id, out)
	}
	return fmt.Errorf("unknown backup command %q: say list or restore", args[0])
}

func listBackups(ctx context.Context, st *store.Store, out io.Writer) error {
	list, err := st.Backups(ctx)
	if err != nil {
		return err
	}
	tw := tabwriter.NewWriter(out, 0, 0, 2, ' ', 0)
	_, _ = fmt.Fprintln(tw, "ID\tSTATUS\tTAKEN\tEXPIRES\tTABLES\tROWS\tBYTES\tMASTER KEY\tSCHEMA\tMANIFEST SHA-256")
	for _, b := range list {
		_, _ = fmt.Fprintf(tw, "%d\t%s\t%s\t%s\t%d\t%d\t%d\tv%d\t%d\t%s\n", b.ID, b.Status, b.TakenAt.UTC().Format(time.RFC3339),
			b.ExpiresAt.UTC().Format(time.RFC3339), b.TableCount, b.RowCount, b.Bytes, b.MasterVersion, b.SchemaVersion, b.ManifestSHA256)
	}
	if len(list) == 0 {
		_, _ = fmt.Fprintln(tw, "(no backups yet: the schedule convot-backup-daily takes one every day)")
	}
	return tw.Flush()
}

// restoreBackup restores a backup into the database of DATABASE_URL (or
// the SQLite file in CONVOT_DATA_DIR), which must be empty: a new,
// migrated database. The key store is not started before the restore (it
// would create keys of its own); the backup brings the deployment's.
func restoreBackup(ctx context.Context, id uint64, out io.Writer) (retErr error) {
	cfg, master, err := loadConfig(noMasterKey(), out)
	if err != nil {
		return err
	}
	db, err := models.Open(cfg.DatabaseURL, cfg.DataDir)
	if err != nil {
		return err
	}
	// No key store yet: the restore brings the deployment's keys.
	st := store.New(db, nil)
	defer func() {
		if err := st.Close(); err != nil && retErr == nil {
			retErr = fmt.Errorf("close the restored database: %w", err)
		}
	}()
	if _, err := models.Migrate(ctx, db); err != nil {
		return err
	}
	// The gate's decisions are kept in memory until the restore is done:
	// written before, they would make the database not empty.
	decisions := policies.NewMemoryLog()
	gate, err := policies.NewGate(ctx, decisions)
	if err != nil {
		return err
	}
	blobs, err := openBlobs(cfg, gate)
	if err != nil {
		return err
	}
	b := &backup.Backups{DB: db, Blobs: blobs, Master: master, Context: backup.StorageContext(cfg.Region)}
	m, err := b.Restore(ctx, db, id)
	if err != nil {
		return err
	}
	for _, r := range decisions.Records() {
		if err := st.DecisionLog().Record(ctx, r); err != nil {
			return err
		}
	}
	_, _ = fmt.Fprintf(out, "restored backup %d taken %s: %d tables, %d rows (schema version %d, master key v%d)\n",
		m.ID, m.TakenAt.Format(time.RFC3339), len(m.Tables), m.Rows(), m.SchemaVersion, m.MasterVersion)
	return nil
}

// policyPublication is one `convot policy publish`.
type policyPublication struct {
	Text      string
	Effective time.Time
	Material  bool
	Summary   string
}

// publishPolicy records a new version of the privacy policy and starts its
// notice (a material change), or refuses it. The embedded policy becomes
// version 1 first when no version is recorded. A version whose notice
// cannot be started is taken back.
func publishPolicy(ctx context.Context, st *store.Store, p policyPublication, now time.Time, startNotice func(workflows.PolicyChangeInput) error) (*models.PolicyVersion, error) {
	if err := models.CheckPolicyEffective(p.Material, now, p.Effective); err != nil {
		return nil, err
	}
	if err := models.CheckPolicyText(p.Text); err != nil {
		return nil, fmt.Errorf("--file: %w", err)
	}
	embedded, err := dashboard.EmbeddedPolicy()
	if err != nil {
		return nil, err
	}
	if err := st.SeedPolicy(ctx, embedded, now); err != nil {
		return nil, err
	}
	n, err := st.NextPolicyVersion(ctx)
	if err != nil {
		return nil, err
	}
	// Materiality is not the publisher's word alone: a change of any
	// sentence of the sections on data collected, purposes, sharing,
	// transfers or retention is material (notice mailed, 30 days ahead).
	if !p.Material && n > 1 {
		prev, err := st.PolicyByVersion(ctx, n-1)
		if err != nil {
			return nil, err
		}
		if changed := models.MaterialSectionsChanged(prev.Text, p.Text); len(changed) > 0 {
			p.Material = true
			if err := models.CheckPolicyEffective(true, now, p.Effective); err != nil {
				return nil, fmt.Errorf("published as non-material, but it changes %s: a material change (policy §13): %w", strings.Join(changed, ", "), err)
			}
			if p.Summary == "" {
				p.Summary = "Changes to: " + strings.Join(changed, ", ") + "."
			}
		}
	}
	v := &models.PolicyVersion{Version: n, Text: p.Text, Summary: p.Summary, Material: p.Material, PublishedAt: now, EffectiveAt: p.Effective, CreatedAt: now}
	if err := st.CreatePolicyVersion(ctx, v); err != nil {
		return nil, err
	}
	if p.Material {
		if err := startNotice(workflows.PolicyChangeInput{Version: n, Material: true, EffectiveAt: p.Effective}); err != nil {
			_ = st.DeletePolicyVersion(context.WithoutCancel(ctx), v.ID)
			return nil, fmt.Errorf("version %d not published: its notice could not be started: %w", n, err)
		}
	}
	return v, nil
}

// runPolicyPublish is `convot policy publish`: Convot-the-company's act of
// publishing its policy, so a command for whoever runs the deployment, not
// a dashboard page (customers' owners are not Convot's privacy officers).
func runPolicyPublish(ctx context.Context, args []string, out io.Writer) error {
	var file, effective, summary string
	var material bool
	if err := flags("policy publish", args, func(fs *flag.FlagSet) {
		fs.StringVar(&file, "file", "", "the new policy text (UTF-8)")
		fs.StringVar(&effective, "effective", "", "the date it takes effect, YYYY-MM-DD (UTC); a material change at least 30 days away")
		fs.BoolVar(&material, "material", false, "a material change: every customer account is mailed, the dashboard shows a banner")
		fs.StringVar(&summary, "summary", "", "what changes, in a sentence or two (shown in the mail and the banner)")
	}); err != nil {
		return err
	}
	p, err := readPublication(file, effective, summary, material)
	if err != nil {
		return err
	}
	if err := models.CheckPolicyEffective(p.Material, time.Now().UTC(), p.Effective); err != nil {
		return err // before touching anything
	}
	a, err := openTool(ctx, out)
	if err != nil {
		return err
	}
	defer a.close()
	var c client.Client
	defer func() {
		if c != nil {
			c.Close()
		}
	}()
	v, err := publishPolicy(ctx, a.store, p, time.Now().UTC(), func(in workflows.PolicyChangeInput) error {
		// Dialled only for a material change (declared, or found so).
		var err error
		if c, err = dialTemporalAt(ctx, a.cfg, a.master, a.temporalAddress()); err != nil {
			return err
		}
		_, err = c.ExecuteWorkflow(ctx, client.StartWorkflowOptions{
			ID: workflows.PolicyChangeWorkflowID(in.Version), TaskQueue: workflows.TaskQueue,
			WorkflowIDConflictPolicy: enumspb.WORKFLOW_ID_CONFLICT_POLICY_USE_EXISTING,
		}, workflows.PolicyChangeWorkflowType, in)
		return err
	})
	if err != nil {
		return err
	}
	kind := "a non-material change: no notice mailed"
	if v.Material && !p.Material {
		kind = "published as non-material, but it changes what §13 makes material: every customer account is mailed (workflow " + workflows.PolicyChangeWorkflowID(v.Version) + "), the dashboard shows a banner"
	} else if v.Material {
		kind = "a material change: every customer account is mailed (workflow " + workflows.PolicyChangeWorkflowID(v.Version) + "), the dashboard shows a banner"
	}
	_, _ = fmt.Fprintf(out, "published privacy policy version %d, effective %s; %s\n", v.Version, v.EffectiveAt.Format(time.DateOnly), kind)
	return nil
}

func readPublication(file, effective, summary string, material bool) (policyPublication, error) {
	var p policyPublication
	if file == "" || effective == "" {
		return p, errors.New("--file and --effective are required (see `convot policy --help`)")
	}
	b, err := os.ReadFile(file)
	if err != nil {
		return p, fmt.Errorf("--file: %w", err)
	}
	if len(b) == 0 || len(b) > 1<<20 || !utf8.Valid(b) {
		return p, errors.New("--file: want a UTF-8 text of at most 1 MiB")
	}
	p.Text, p.Material, p.Summary = string(b), material, strings.TrimSpace(summary)
	if p.Effective, err = time.Parse(time.DateOnly, effective); err != nil {
		return p, fmt.Errorf("--effective %q: want a date, YYYY-MM-DD", effective)
	}
	if material && p.Summary == "" {
		return p, errors.New("--summary is required for a material change: say what changes")
	}
	if len(p.Summary) > 500 {
		return p, errors.New("--summary: at most 500 characters")
	}
	return p, nil
}

func runPolicyVersions(ctx context.Context, args []string, out io.Writer) error {
	a, err := openCommand(ctx, "policy versions", args, noMasterKey(), out)
	if err != nil {
		return err
	}
	defer a.close()
	list, err := a.store.PolicyVersions(ctx)
	if err != nil {
		return err
	}
	tw := tabwriter.NewWriter(out, 0, 0, 2, ' ', 0)
	_, _ = fmt.Fprintln(tw, "VERSION\tPUBLISHED\tEFFECTIVE\tMATERIAL\tSUMMARY")
	for _, v := range list {
		_, _ = fmt.Fprintf(tw, "%d\t%s\t%s\t%t\t%s\n", v.Version, v.PublishedAt.Format(time.DateOnly), v.EffectiveAt.Format(time.DateOnly), v.Material, v.Summary)
	}
	return tw.Flush()
}

// runSupport is Convot's support team's side of support tickets.
func runSupport(ctx context.Context, args []string, out io.Writer) error {
	if len(args) == 0 {
		return errors.New("say `convot support list`, `show <id>`, `reply <id> --message TEXT` or `close <id>`")
	}
	cmd, rest := args[0], args[1:]
	var id uint64
	if cmd != "list" {
		if len(rest) == 0 {
			return fmt.Errorf("say which ticket: `convot support %s <id>`", cmd)
		}
		var err error
		if id, err = strconv.ParseUint(rest[0], 10, 64); err != nil || id == 0 {
			return fmt.Errorf("ticket ID %q: want a number", rest[0])
		}
		rest = rest[1:]
	}
	var message, staff string
	staffFlag := func(fs *flag.FlagSet) {
		fs.StringVar(&staff, "staff", os.Getenv("CONVOT_STAFF"), "the email of your staff account (default $CONVOT_STAFF): the audit log records who acted")
	}
	switch cmd {
	case "list", "show":
		if err := flags("support "+cmd, rest, nil); err != nil {
			return err
		}
	case "close":
		if err := flags("support close", rest, staffFlag); err != nil {
			return err
		}
	case "reply":
		if err := flags("support reply", rest, func(fs *flag.FlagSet) {
			fs.StringVar(&message, "message", "", "the reply")
			staffFlag(fs)
		}); err != nil {
			return err
		}
		if message = strings.TrimSpace(message); message == "" || len(message) > 10000 {
			return errors.New("--message: the reply, at most 10,000 characters")
		}
	default:
		return fmt.Errorf("unknown support command %q: say list, show, reply or close", cmd)
	}
	a, err := openTool(ctx, out)
	if err != nil {
		return err
	}
	defer a.close()
	return supportCommand(ctx, a.store, supportAction{cmd: cmd, ticket: id, staff: staff, message: message}, time.Now().UTC(), out)
}

// supportAction is one `convot support` command, its flags parsed.
type supportAction struct {
	cmd            string
	ticket         uint64
	staff, message string
}

// supportCommand carries out a support command; a reply or a closure is
// made by the staff member --staff names, in the audit log with its name.
func supportCommand(ctx context.Context, st *store.Store, act supportAction, now time.Time, out io.Writer) error {
	if act.cmd == "list" {
		list, err := st.RecentSupportTickets(ctx, 500)
		if err != nil {
			return err
		}
		tw := tabwriter.NewWriter(out, 0, 0, 2, ' ', 0)
		_, _ = fmt.Fprintln(tw, "ID\tORGANIZATION\tSTATUS\tUPDATED\tSUBJECT")
		for _, t := range list {
			_, _ = fmt.Fprintf(tw, "%d\t%d\t%s\t%s\t%s\n", t.ID, t.OrganizationID, t.Status, t.UpdatedAt.Format(time.RFC3339), t.Subject)
		}
		return tw.Flush()
	}
	var actor *models.Account
	if act.cmd == "reply" || act.cmd == "close" {
		var err error
		if actor, err = staffActor(ctx, st, act.staff); err != nil {
			return err
		}
	}
	t, err := st.SupportTicketByID(ctx, act.ticket)
	if errors.Is(err, store.ErrNotFound) {
		return fmt.Errorf("no support ticket %d", act.ticket)
	}
	if err != nil {
		return err
	}
	target, detail := fmt.Sprintf("support_ticket:%d", t.ID), fmt.Sprintf("organization %d, by CLI", t.OrganizationID)
	switch act.cmd {
	case "show":
		msgs, err := st.SupportMessagesByTicketID(ctx, t.ID)
		if err != nil {
			return err
		}
		_, _ = fmt.Fprintf(out, "#%d %s (%s), organization %d\n", t.ID, t.Subject, t.Status, t.OrganizationID)
		for _, m := range msgs {
			_, _ = fmt.Fprintf(out, "\n--- %s, %s\n%s\n", m.AuthorType, m.CreatedAt.Format(time.RFC3339), m.Body)
		}
		return nil
	case "reply":
		return st.Tx(ctx, func(tx *store.Store) error {
			m := models.SupportMessage{TicketID: t.ID, OrganizationID: t.OrganizationID, DataKeyID: t.DataKeyID, AuthorType: models.SupportAuthorSupport, AuthorID: actor.ID, Body: act.message, CreatedAt: now}
			if err := tx.CreateSupportMessage(ctx, &m); err != nil {
				return err
			}
			if err := tx.AnswerSupportTicketByID(ctx, t.ID, now); err != nil {
				return err
			}
			return staffAudit(ctx, tx, actor, "staff.support_replied", target, detail, now)
		})
	default: // close
		return st.Tx(ctx, func(tx *store.Store) error {
			if err := tx.CloseSupportTicketByID(ctx, t.ID, now); err != nil {
				return err
			}
			return staffAudit(ctx, tx, actor, "staff.support_closed", target, detail, now)
		})
	}
}

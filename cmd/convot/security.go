package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strconv"
	"text/tabwriter"
	"time"

	"github.com/convot/convot/security"
	"github.com/convot/convot/store"
)

// `convot security`: Convot's staff's side of vulnerability reports (mail
// to the security address). Triage, fixed and close go to the report's
// workflow as the staff member --staff names (a staff account with
// two-factor authentication), which records them in the audit log.

func runSecurity(ctx context.Context, args []string, out io.Writer) error {
	if len(args) == 0 {
		return errors.New("say `convot security list`, `show <id>`, `triage <id> --severity S`, `fixed <id>` or `close <id> --outcome O`")
	}
	cmd, rest := args[0], args[1:]
	var id uint64
	if cmd != "list" {
		if len(rest) == 0 {
			return fmt.Errorf("say which report: `convot security %s <id>`", cmd)
		}
		var err error
		if id, err = strconv.ParseUint(rest[0], 10, 64); err != nil || id == 0 {
			return fmt.Errorf("report ID %q: want a number (VR-<number> without VR-)", rest[0])
		}
		rest = rest[1:]
	}
	var staff, value string
	withStaff := func(extra func(fs *flag.FlagSet)) func(fs *flag.FlagSet) {
		return func(fs *flag.FlagSet) {
			fs.StringVar(&staff, "staff", os.Getenv("CONVOT_STAFF"), "the email of your staff account (default $CONVOT_STAFF): the audit log records who acted")
			if extra != nil {
				extra(fs)
			}
		}
	}
	action := ""
	switch cmd {
	case "list", "show":
		if err := flags("security "+cmd, rest, nil); err != nil {
			return err
		}
	case "triage":
		action = security.ActionTriage
		if err := flags("security triage", rest, withStaff(func(fs *flag.FlagSet) {
			fs.StringVar(&value, "severity", "", "low, medium, high or critical")
		})); err != nil {
			return err
		}
	case "fixed":
		action = security.ActionFixed
		if err := flags("security fixed", rest, withStaff(nil)); err != nil {
			return err
		}
	case "close":
		action = security.ActionClose
		if err := flags("security close", rest, withStaff(func(fs *flag.FlagSet) {
			fs.StringVar(&value, "outcome", "", "fixed, not_applicable or duplicate")
		})); err != nil {
			return err
		}
	default:
		return fmt.Errorf("unknown security command %q: say list, show, triage, fixed or close", cmd)
	}
	a, err := openTool(ctx, out)
	if err != nil {
		return err
	}
	defer a.close()
	dial := func() (security.Workflows, func(), error) {
		c, err := dialTemporalAt(ctx, a.cfg, a.master, a.temporalAddress())
		if err != nil {
			return nil, nil, err
		}
		return security.TemporalWorkflows{Client: c}, c.Close, nil
	}
	return securityCommand(ctx, a.store, dial, securityAction{report: id, action: action, value: value, staff: staff, cmd: cmd}, out)
}

// securityAction is one `convot security` command, its flags parsed.
type securityAction struct {
	cmd, action, value, staff string
	report                    uint64
}

// securityCommand lists or shows reports, or sends a staff action to a
// report's workflow (dialled only then) as the staff member --staff
// names, who must be staff with two-factor authentication.
func securityCommand(ctx context.Context, st *store.Store, dial func() (security.Workflows, func(), error), act securityAction, out io.Writer) error {
	if act.action == "" {
		return securityShow(ctx, st, act.report, out)
	}
	actor, err := staffActor(ctx, st, act.staff)
	if err != nil {
		return err
	}
	w, closeW, err := dial()
	if err != nil {
		return err
	}
	defer closeW()
	reports := &security.Reports{Store: st, Workflows: w, Now: time.Now}
	if err := reports.Act(ctx, actor, act.report, act.action, act.value); err != nil {
		return err
	}
	_, _ = fmt.Fprintf(out, "VR-%d: %s sent to its workflow as staff account %d\n", act.report, act.cmd, actor.ID)
	return nil
}

// securityShow lists the reports (id 0) or shows one.
func securityShow(ctx context.Context, st *store.Store, id uint64, out io.Writer) error {
	if id == 0 {
		list, err := st.VulnerabilityReports(ctx, 200)
		if err != nil {
			return err
		}
		tw := tabwriter.NewWriter(out, 0, 0, 2, ' ', 0)
		_, _ = fmt.Fprintln(tw, "REPORT\tSTATUS\tSEVERITY\tRECEIVED\tTRIAGE DUE\tSUBJECT")
		for _, r := range list {
			_, _ = fmt.Fprintf(tw, "VR-%d\t%s\t%s\t%s\t%s\t%s\n", r.ID, r.Status, r.Severity, r.ReceivedAt.Format(time.DateTime), r.AcknowledgeDueAt.Format(time.DateTime), r.Subject)
		}
		return tw.Flush()
	}
	r, err := st.VulnerabilityReport(ctx, id)
	if errors.Is(err, store.ErrNotFound) {
		return fmt.Errorf("there is no report VR-%d", id)
	}
	if err != nil {
		return err
	}
	_, _ = fmt.Fprintf(out, "VR-%d  %s\nstatus %s  severity %s  outcome %s\nfrom %s <%s>, received %s, triage due %s\n\n%s\n",
		r.ID, r.Subject, r.Status, r.Severity, r.Outcome, r.ReporterName, r.ReporterEmail, r.ReceivedAt.Format(time.DateTime), r.AcknowledgeDueAt.Format(time.DateTime), r.Body)
	return nil
}

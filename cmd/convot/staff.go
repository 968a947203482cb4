package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"

	convotmail "github.com/convot/convot/internal/mail"
	"github.com/convot/convot/models"
	"github.com/convot/convot/store"
)

// Convot's own staff: `convot staff add|remove <email>` names the
// dashboard accounts that may use the staff console; `list` shows them.
// Whoever runs these commands operates the deployment (they hold its
// database), so the first staff member can only be named here.

func runStaff(ctx context.Context, args []string, out io.Writer) error {
	if len(args) == 0 {
		return errors.New("say `convot staff list`, `add <email>` or `remove <email>`")
	}
	cmd, rest := args[0], args[1:]
	var email string
	switch cmd {
	case "list":
		if err := flags("staff list", rest, nil); err != nil {
			return err
		}
	case "add", "remove":
		if len(rest) == 0 {
			return fmt.Errorf("say whose account: `convot staff %s <email>`", cmd)
		}
		email = rest[0]
		if err := flags("staff "+cmd, rest[1:], nil); err != nil {
			return err
		}
	default:
		return fmt.Errorf("unknown staff command %q: say list, add or remove", cmd)
	}
	a, err := openTool(ctx, out)
	if err != nil {
		return err
	}
	defer a.close()
	return staffCommand(ctx, a.store, cmd, email, time.Now().UTC(), out)
}

func staffCommand(ctx context.Context, st *store.Store, cmd, email string, now time.Time, out io.Writer) error {
	if cmd == "list" {
		list, err := st.StaffAccounts(ctx)
		if err != nil {
			return err
		}
		tw := tabwriter.NewWriter(out, 0, 0, 2, ' ', 0)
		_, _ = fmt.Fprintln(tw, "ACCOUNT\tORGANIZATION\tSINCE\tTWO-FACTOR\tSTATUS")
		for _, s := range list {
			mfa := "off (no console access)"
			if s.Account.TOTPEnabled {
				mfa = "on"
			}
			_, _ = fmt.Fprintf(tw, "%d\t%d\t%s\t%s\t%s\n", s.Member.AccountID, s.Account.OrganizationID, s.Member.CreatedAt.Format(time.DateOnly), mfa, s.Account.Status)
		}
		return tw.Flush()
	}
	acct, err := accountByEmail(ctx, st, email)
	if err != nil {
		return err
	}
	if cmd == "add" {
		return st.Tx(ctx, func(tx *store.Store) error {
			if _, err := tx.AddStaffMember(ctx, acct.ID, now); err != nil {
				if errors.Is(err, store.ErrAlreadyStaff) {
					return fmt.Errorf("account %d is a staff member already", acct.ID)
				}
				return err
			}
			if err := staffAudit(ctx, tx, nil, "staff.added", fmt.Sprintf("account:%d", acct.ID), "by the deployment's operator (CLI)", now); err != nil {
				return err
			}
			_, _ = fmt.Fprintf(out, "account %d is now staff", acct.ID)
			if !acct.TOTPEnabled {
				_, _ = fmt.Fprint(out, "; it must turn on two-factor authentication (Settings → Security) before it can use the staff console")
			}
			_, _ = fmt.Fprintln(out)
			return nil
		})
	}
	return st.Tx(ctx, func(tx *store.Store) error {
		removed, err := tx.RemoveStaffMember(ctx, acct.ID)
		if err != nil {
			return err
		}
		if !removed {
			return fmt.Errorf("account %d is not a staff member", acct.ID)
		}
		if err := staffAudit(ctx, tx, nil, "staff.removed", fmt.Sprintf("account:%d", acct.ID), "by the deployment's operator (CLI)", now); err != nil {
			return err
		}
		_, _ = fmt.Fprintf(out, "account %d is no longer staff\n", acct.ID)
		return nil
	})
}

func accountByEmail(ctx context.Context, st *store.Store, email string) (*models.Account, error) {
	canonical, err := convotmail.CanonicalAddress(strings.TrimSpace(email))
	if err != nil {
		return nil, fmt.Errorf("%q: want the email address of a dashboard account", email)
	}
	acct, err := st.ActiveAccountByEmail(ctx, canonical)
	if errors.Is(err, store.ErrNotFound) {
		return nil, errors.New("no active dashboard account has this email: the person signs up or is invited first")
	}
	return acct, err
}

// staffActor is the staff member a CLI command acts as (`--staff EMAIL`):
// it must be staff and use two-factor authentication, as in the console;
// the command's audit events name it.
func staffActor(ctx context.Context, st *store.Store, email string) (*models.Account, error) {
	if strings.TrimSpace(email) == "" {
		return nil, errors.New("--staff: say which staff member you are (the email of your dashboard account); the audit log records it")
	}
	acct, err := accountByEmail(ctx, st, email)
	if err != nil {
		return nil, fmt.Errorf("--staff: %w", err)
	}
	if _, err := st.ActiveStaffMember(ctx, acct.ID); errors.Is(err, store.ErrNotFound) {
		return nil, errors.New("--staff: this account is not a staff member (`convot staff add`)")
	} else if err != nil {
		return nil, err
	}
	if !acct.TOTPEnabled {
		return nil, errors.New("--staff: this staff account has no two-factor authentication; staff must use it (privacy policy §10)")
	}
	return acct, nil
}

// staffAudit records a staff action in the deployment's audit log
// (organization 0), with the acting staff account, or none when the
// deployment's operator acted (staff add and remove).
func staffAudit(ctx context.Context, tx *store.Store, actor *models.Account, action, target, detail string, now time.Time) error {
	ev := models.AuditEvent{Action: action, Target: target, Detail: detail, CreatedAt: now}
	if actor != nil {
		ev.ActorID, ev.DataKeyID = actor.ID, actor.DataKeyID
	} else {
		ev.DataKeyID = tx.Keys().SystemKey()
	}
	return tx.CreateAuditEvent(ctx, &ev)
}

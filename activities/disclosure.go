package activities

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/convot/convot/internal/mail"
	"github.com/convot/convot/models"
	"github.com/convot/convot/policies"
	"github.com/convot/convot/store"
	"github.com/convot/convot/workflows"
)

// Disclosure requests (policy §6): the activities of
// workflows.DisclosureRequest. The data leaves through
// subprocessors.Disclosures, which asks the egress gate first.

func disclosureActivities(a *Activities) map[string]any {
	return map[string]any{
		workflows.ActivityRecordDisclosureStep:     a.RecordDisclosureStep,
		workflows.ActivityEscalateDisclosure:       a.EscalateDisclosure,
		workflows.ActivityDiscloseData:             a.DiscloseData,
		workflows.ActivityNotifyDisclosureSubjects: a.NotifyDisclosureSubjects,
	}
}

func (a *Activities) disclosure(ctx context.Context, id uint64) (*models.DisclosureRequest, error) {
	d, err := a.Store.DisclosureRequest(ctx, id)
	return found(d, err, "disclosure request", id)
}

func disclosureTarget(id uint64) string { return fmt.Sprintf("disclosure_request:%d", id) }

// RecordDisclosureStep records a step (recorded, approved, refused) in the
// register and the deployment's audit log, with the officer.
func (a *Activities) RecordDisclosureStep(ctx context.Context, in workflows.DisclosureStepInput) error {
	d, err := a.disclosure(ctx, in.DisclosureID)
	if err != nil {
		return err
	}
	updates := map[string]any{"status": in.Status}
	if in.Step == "approved" || in.Step == "refused" {
		updates["approved_by_id"], updates["decided_at"] = in.ActorID, in.At
	}
	if in.Step == "refused" {
		updates["closed_at"] = in.At
	}
	return a.Store.Tx(ctx, func(tx *store.Store) error {
		if err := tx.UpdateDisclosureRequest(ctx, d.ID, updates, in.At); err != nil {
			return err
		}
		return a.systemAudit(ctx, tx, 0, in.ActorID, "disclosure."+in.Step, fmt.Sprintf("%s about organization %d", d.Kind, d.OrganizationID), disclosureTarget(d.ID))
	})
}

// EscalateDisclosure tells every staff member with two-factor
// authentication that a request's response deadline passed undecided.
func (a *Activities) EscalateDisclosure(ctx context.Context, in workflows.DisclosureStepInput) error {
	if a.Mail == nil {
		return errNoMail()
	}
	d, err := a.disclosure(ctx, in.DisclosureID)
	if err != nil {
		return err
	}
	if d.Status != models.DisclosureReceived { // decided, or escalated already
		return nil
	}
	staff, err := a.Store.StaffAccounts(ctx)
	if err != nil {
		return err
	}
	link := strings.TrimSuffix(a.BaseURL, "/") + fmt.Sprintf("/staff/disclosures/%d", d.ID)
	for _, s := range staff {
		if !s.Account.TOTPEnabled || s.Account.Status != "active" || s.Account.Email == "" {
			continue
		}
		err := a.Mail.Send(ctx, mail.Message{From: a.MailFrom, To: s.Account.Email,
			Subject: fmt.Sprintf("Disclosure request #%d is past its response deadline", d.ID),
			Text: fmt.Sprintf("Hello %s,\n\ndisclosure request #%d (%s) was due for a decision by %s and no privacy officer has approved or refused it. Decide in the staff console:\n%s\n",
				s.Account.DisplayName, d.ID, d.Kind, d.DueAt.UTC().Format("2006-01-02 15:04 UTC"), link),
			Stream: mail.Transactional, Tag: "disclosure_escalation", Org: deploymentOr(0), Recipient: policies.SubjectContext{Kind: models.SubjectCustomer}})
		if err != nil && !undeliverable(err) {
			return fmt.Errorf("mail the escalation: %w", err)
		}
	}
	return a.Store.Tx(ctx, func(tx *store.Store) error {
		if err := tx.UpdateDisclosureRequest(ctx, d.ID, map[string]any{"status": models.DisclosureOverdue}, in.At); err != nil {
			return err
		}
		return a.systemAudit(ctx, tx, 0, 0, "disclosure.overdue", "response deadline passed without a decision", disclosureTarget(d.ID))
	})
}

// covered reports whether category is one of requested or below one.
func covered(category string, requested []string) bool {
	for _, r := range requested {
		if category == r || strings.HasPrefix(category, r+".") {
			return true
		}
	}
	return false
}

// disclosureFields are the requested fields held about the request's
// subject (the contact, the account, or every account of the organization
// for a merger), named by field.
func (a *Activities) disclosureFields(ctx context.Context, d *models.DisclosureRequest) (map[string]policies.Field, error) {
	all := map[string]policies.Field{}
	add := func(prefix, name, category, value string) {
		if value != "" && covered(category, d.Categories) {
			all[prefix+name] = policies.Field{Category: category, Value: value}
		}
	}
	switch {
	case d.SubjectKind == models.SubjectEndUser:
		c, err := a.Store.Contact(ctx, d.OrganizationID, d.SubjectID)
		if err != nil {
			return nil, err
		}
		add("", "name", "user.name", c.Name)
		add("", "email", "user.contact.email", c.Email)
		add("", "phone", "user.contact.phone_number", c.Phone)
		add("", "ip_address", "user.device.ip_address", c.IP)
		add("", "country", "user.location.imprecise", c.Country)
	case d.SubjectID != 0:
		acc, err := a.Store.Account(ctx, d.OrganizationID, d.SubjectID)
		if err != nil {
			return nil, err
		}
		add("", "name", "user.name", acc.FullName)
		add("", "email", "user.contact.email", acc.Email)
		add("", "role", "user.account", acc.Role)
	default:
		members, err := a.Store.ActiveMembers(ctx, d.OrganizationID)
		if err != nil {
			return nil, err
		}
		for _, m := range members {
			p := fmt.Sprintf("account_%d.", m.ID)
			add(p, "name", "user.name", m.FullName)
			add(p, "email", "user.contact.email", m.Email)
			add(p, "role", "user.account", m.Role)
		}
	}
	return all, nil
}

// DiscloseData sends the requested data held about the subject to the
// recorded recipient, through the gate; a denial ends the request as
// refused, with the gate's reasons recorded.
func (a *Activities) DiscloseData(ctx context.Context, in workflows.DisclosureStepInput) (workflows.DisclosureOutcome, error) {
	d, err := a.disclosure(ctx, in.DisclosureID)
	if err != nil {
		return workflows.DisclosureOutcome{}, err
	}
	if d.DisclosedAt != nil { // sent already: a retry after the commit was lost
		return workflows.DisclosureOutcome{Allowed: true, Fields: d.DisclosedFields, Digest: d.DisclosedDigest}, nil
	}
	org, err := a.organization(ctx, d.OrganizationID)
	if err != nil {
		return workflows.DisclosureOutcome{}, err
	}
	fields, err := a.disclosureFields(ctx, d)
	if err != nil {
		return workflows.DisclosureOutcome{}, err
	}
	refuse := func(reason string) (workflows.DisclosureOutcome, error) {
		now := time.Now().UTC()
		err := a.Store.Tx(ctx, func(tx *store.Store) error {
			if err := tx.UpdateDisclosureRequest(ctx, d.ID, map[string]any{"status": models.DisclosureRefused, "gate_reason": reason, "closed_at": now}, now); err != nil {
				return err
			}
			return a.systemAudit(ctx, tx, 0, 0, "disclosure.denied", reason, disclosureTarget(d.ID))
		})
		return workflows.DisclosureOutcome{Reason: reason}, err
	}
	if len(fields) == 0 {
		return refuse("nothing of what the request asked for is held")
	}
	var cats []string
	for _, f := range fields {
		if !contains(cats, f.Category) {
			cats = append(cats, f.Category)
		}
	}
	subjectKind := d.SubjectKind
	if subjectKind == "" {
		subjectKind = models.SubjectCustomer
	}
	flow := policies.Flow{Purpose: "essential.legal_obligation", Categories: cats, Organization: org.GateContext(),
		Subject: policies.SubjectContext{Kind: subjectKind}, DestinationRegion: org.Region,
		Disclosure: &policies.DisclosureContext{Kind: d.Kind, Approved: d.ApprovedByID != 0 && d.Status == models.DisclosureApproved,
			RecipientRecorded: d.Recipient != "" && d.RecipientAddress != "", LegalBasisRecorded: strings.TrimSpace(d.LegalBasis) != "", Requested: d.Categories}}
	if a.Disclosures == nil {
		return workflows.DisclosureOutcome{}, errNoMail()
	}
	intro := fmt.Sprintf("Disclosure #%d in answer to the request of %s (%s).\nLegal basis: %s\nOnly the data categories requested are disclosed: %s.",
		d.ID, d.RequestedBy, d.Kind, d.LegalBasis, strings.Join(d.Categories, ", "))
	res, err := a.Disclosures.Disclose(ctx, flow, fields, d.RecipientAddress, fmt.Sprintf("Disclosure #%d", d.ID), intro)
	if err != nil {
		return workflows.DisclosureOutcome{}, err
	}
	if !res.Decision.Allow {
		return refuse(res.Decision.Reason)
	}
	now := time.Now().UTC()
	err = a.Store.Tx(ctx, func(tx *store.Store) error {
		if err := tx.UpdateDisclosureRequest(ctx, d.ID, map[string]any{"status": models.DisclosureDisclosed, "disclosed_at": now,
			"disclosed_digest": res.Digest, "disclosed_fields": res.Fields}, now); err != nil {
			return err
		}
		return a.systemAudit(ctx, tx, 0, d.ApprovedByID, "disclosure.disclosed",
			fmt.Sprintf("%d fields (%s) to the recorded recipient; sha256 %s", res.Fields, strings.Join(cats, ", "), res.Digest), disclosureTarget(d.ID))
	})
	return workflows.DisclosureOutcome{Allowed: true, Fields: res.Fields, Digest: res.Digest}, err
}

func contains(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}

// NotifyDisclosureSubjects tells the people concerned that their data was
// disclosed, to whom, on what basis and which categories, once; unless the
// request forbids it, which is recorded instead. A merger tells every
// account of the organization.
func (a *Activities) NotifyDisclosureSubjects(ctx context.Context, in workflows.DisclosureStepInput) (workflows.DisclosureOutcome, error) {
	d, err := a.disclosure(ctx, in.DisclosureID)
	if err != nil {
		return workflows.DisclosureOutcome{}, err
	}
	now := time.Now().UTC()
	if d.NoticeForbidden {
		err := a.Store.Tx(ctx, func(tx *store.Store) error {
			if err := tx.UpdateDisclosureRequest(ctx, d.ID, map[string]any{"status": models.DisclosureClosed, "closed_at": now}, now); err != nil {
				return err
			}
			return a.systemAudit(ctx, tx, 0, 0, "disclosure.notice_withheld", "the request forbids notice to the people concerned", disclosureTarget(d.ID))
		})
		return workflows.DisclosureOutcome{Forbidden: true}, err
	}
	if a.Mail == nil {
		return workflows.DisclosureOutcome{}, errNoMail()
	}
	claimed, err := a.Store.ClaimDisclosureNotice(ctx, d.ID, now)
	if err != nil {
		return workflows.DisclosureOutcome{}, err
	}
	if !claimed {
		return workflows.DisclosureOutcome{Notified: d.Notified}, nil
	}
	org, err := a.organization(ctx, d.OrganizationID)
	if err != nil {
		return workflows.DisclosureOutcome{}, err
	}
	type person struct {
		kind, email, name string
	}
	var people []person
	switch {
	case d.SubjectKind == models.SubjectEndUser:
		c, err := a.Store.Contact(ctx, d.OrganizationID, d.SubjectID)
		if err != nil {
			return workflows.DisclosureOutcome{}, err
		}
		people = append(people, person{models.SubjectEndUser, c.Email, c.Name})
	case d.SubjectID != 0:
		acc, err := a.Store.Account(ctx, d.OrganizationID, d.SubjectID)
		if err != nil {
			return workflows.DisclosureOutcome{}, err
		}
		people = append(people, person{models.SubjectCustomer, acc.Email, acc.FullName})
	default: // a merger: every account of the organization
		members, err := a.Store.ActiveMembers(ctx, d.OrganizationID)
		if err != nil {
			return workflows.DisclosureOutcome{}, err
		}
		for _, m := range members {
			people = append(people, person{models.SubjectCustomer, m.Email, m.FullName})
		}
	}
	what := map[string]string{
		"legal_demand": "a legal demand (such as a court order or subpoena)",
		"enforcement":  "a request of a law-enforcement or supervisory authority",
		"merger":       "a merger, acquisition or sale of assets, to the party taking over the service",
		"consent":      "your explicit consent",
	}[d.Kind]
	var n int64
	for _, p := range people {
		if p.email == "" {
			continue
		}
		greeting := "Hello,"
		if p.name != "" {
			greeting = "Hello " + p.name + ","
		}
		text := fmt.Sprintf("%s\n\nwe disclosed personal data about you in answer to %s (privacy policy §6).\n\nRecipient: %s\nLegal basis: %s\nData disclosed: %s\n\nOnly the data asked for was disclosed. For questions, reply to this email or write to our privacy address.\n",
			greeting, what, d.Recipient, d.LegalBasis, strings.Join(d.Categories, ", "))
		err := a.Mail.Send(ctx, mail.Message{From: a.MailFrom, To: p.email, Subject: "We disclosed personal data about you", Text: text,
			Stream: mail.Transactional, Tag: "disclosure_notice", Org: org.GateContext(), Recipient: policies.SubjectContext{Kind: p.kind}})
		if err != nil {
			if undeliverable(err) {
				continue
			}
			_ = a.Store.ReleaseDisclosureNotice(context.WithoutCancel(ctx), d.ID)
			return workflows.DisclosureOutcome{}, fmt.Errorf("mail the disclosure notice: %w", err)
		}
		n++
	}
	err = a.Store.Tx(ctx, func(tx *store.Store) error {
		if err := tx.UpdateDisclosureRequest(ctx, d.ID, map[string]any{"status": models.DisclosureClosed, "notified": n, "closed_at": now}, now); err != nil {
			return err
		}
		return a.systemAudit(ctx, tx, 0, 0, "disclosure.notified", fmt.Sprintf("%d people told", n), disclosureTarget(d.ID))
	})
	return workflows.DisclosureOutcome{Notified: n}, err
}

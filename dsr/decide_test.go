package dsr

import (
	"errors"
	"strings"
	"testing"

	"github.com/convot/convot/internal/obligations"
	"github.com/convot/convot/models"
	"github.com/convot/convot/workflows"
)

// The officer's decisions are checked against the request before anything
// is sent: approval only when the request waits for it, a reason for a
// rejection and an extension, one extension of 1 or 2 months, nothing on
// a closed request; the decision names the officer.
func TestDecisionsAreCheckedBeforeTheyAreSent(t *testing.T) {
	waiting := &models.PrivacyRequest{ID: 7, Type: obligations.DsrErasure, Status: obligations.DsrAwaitingApproval}
	closed := &models.PrivacyRequest{ID: 8, Type: obligations.DsrAccess, Status: obligations.DsrCompleted}
	extended := &models.PrivacyRequest{ID: 9, Type: obligations.DsrAccess, Status: obligations.DsrInProgress, Extended: true}

	dec, err := Approval(waiting, 42)
	if err != nil || dec.Signal != workflows.SignalDsrApprove || dec.Arg.(workflows.DsrDecisionSignal).ByAccountID != 42 || dec.Action != "privacy.approved" {
		t.Fatalf("approval: %+v %v", dec, err)
	}
	for name, c := range map[string]struct {
		err  error
		kind error
	}{
		"approve a closed request":  {func() error { _, e := Approval(closed, 1); return e }(), ErrGone},
		"reject a closed request":   {func() error { _, e := Rejection(closed, 1, "why"); return e }(), ErrGone},
		"reject without a reason":   {func() error { _, e := Rejection(waiting, 1, "   "); return e }(), ErrInvalid},
		"reject with a long reason": {func() error { _, e := Rejection(waiting, 1, strings.Repeat("é", 501)); return e }(), ErrInvalid},
		"extend twice":              {func() error { _, e := Extension(extended, 1, 1, "why"); return e }(), ErrAlreadyDone},
		"extend by three months":    {func() error { _, e := Extension(waiting, 1, 3, "why"); return e }(), ErrInvalid},
		"extend by zero months":     {func() error { _, e := Extension(waiting, 1, 0, "why"); return e }(), ErrInvalid},
		"extend without a reason":   {func() error { _, e := Extension(waiting, 1, 2, ""); return e }(), ErrInvalid},
	} {
		var r *Refusal
		if !errors.As(c.err, &r) || !errors.Is(c.err, c.kind) || r.Message == "" {
			t.Errorf("%s: %v, want a refusal of kind %v with a message", name, c.err, c.kind)
		}
	}
	dec, err = Extension(waiting, 5, 2, " Billing records span two systems. ")
	if err != nil || dec.Arg.(workflows.DsrExtendSignal) != (workflows.DsrExtendSignal{Months: 2, Reason: "Billing records span two systems.", ByAccountID: 5}) {
		t.Fatalf("extension: %+v %v", dec, err)
	}
	dec, err = Rejection(waiting, 5, "Identity not established.")
	if err != nil || dec.Arg.(workflows.DsrDecisionSignal).Reason != "Identity not established." {
		t.Fatalf("rejection: %+v %v", dec, err)
	}
}

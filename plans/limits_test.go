package plans

import (
	"context"
	"fmt"
	"testing"

	"github.com/convot/convot/models"
)

// Where billing is off nothing is limited, and nothing is read to say so:
// these Limits have no store, so a query would panic.
func TestNothingIsLimitedWithoutBilling(t *testing.T) {
	ctx := context.Background()
	org := &models.Organization{ID: 1}
	for name, l := range map[string]*Limits{"nil": nil, "billing off": {Apply: false}} {
		if n, err := l.ConversationLimit(ctx, nil, org, "widget"); n != -1 || err != nil {
			t.Errorf("%s: conversation limit %d, %v", name, n, err)
		}
		if ok, err := l.AcceptingConversations(ctx, org); !ok || err != nil {
			t.Errorf("%s: accepting %v, %v", name, ok, err)
		}
		if notice := l.ConversationLimitNotice(ctx, org); notice != "" {
			t.Errorf("%s: notice %q", name, notice)
		}
		if err := l.SeatForInvitation(ctx, org, models.RoleAgent); err != nil {
			t.Errorf("%s: invitation %v", name, err)
		}
		if err := l.SeatForMember(ctx, nil, org.ID, models.RoleAgent); err != nil {
			t.Errorf("%s: member %v", name, err)
		}
		if err := l.SeatForRole(ctx, nil, org.ID, models.RoleAuditor, models.RoleAgent); err != nil {
			t.Errorf("%s: role %v", name, err)
		}
	}
}

// Email is never refused for the plan: only the widget has a limit.
func TestOnlyTheWidgetHasAConversationLimit(t *testing.T) {
	l := &Limits{Apply: true}
	if n, err := l.ConversationLimit(context.Background(), nil, &models.Organization{ID: 1}, "email"); n != -1 || err != nil {
		t.Fatalf("email: limit %d, %v", n, err)
	}
}

// A limit's message reaches the person who ran into it, through wrapping.
func TestLimitMessage(t *testing.T) {
	err := fmt.Errorf("accept invitation: %w", ErrLimit{"No seat left."})
	if got := LimitMessage(err); got != "No seat left." {
		t.Fatalf("LimitMessage = %q", got)
	}
	if got := LimitMessage(fmt.Errorf("database down")); got != "" {
		t.Fatalf("another error reads as a limit: %q", got)
	}
}

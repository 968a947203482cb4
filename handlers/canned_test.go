package handlers

import (
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/convot/convot/handlers/dashboard"
	"github.com/convot/convot/models"
)

func TestCannedResponses(t *testing.T) {
	ts, w := acmeInbox(t)
	_, conv := w.conversation(t, models.Contact{Name: "Ada"}, "Hello")
	b := w.owner
	b.get("/inbox/canned")

	if r := b.post("/inbox/canned", url.Values{"shortcut": {"/Thanks"}, "body": {"Thank you for reaching out!"}}); r.status != http.StatusSeeOther {
		t.Fatalf("create: %d %s", r.status, excerpt(r.body))
	}
	var cr models.CannedResponse
	if err := ts.db.Where("organization_id = ?", w.org.ID).First(&cr).Error; err != nil || cr.Shortcut != "thanks" {
		t.Fatalf("stored: %+v %v", cr, err)
	}
	// Bad input: a clear 4xx and nothing stored.
	for _, bad := range []struct {
		form url.Values
		want int
	}{
		{url.Values{"shortcut": {"thanks"}, "body": {"again"}}, http.StatusConflict},
		{url.Values{"shortcut": {"two words"}, "body": {"x"}}, http.StatusUnprocessableEntity},
		{url.Values{"shortcut": {""}, "body": {"x"}}, http.StatusUnprocessableEntity},
		{url.Values{"shortcut": {strings.Repeat("a", 33)}, "body": {"x"}}, http.StatusUnprocessableEntity},
		{url.Values{"shortcut": {"empty"}, "body": {"  "}}, http.StatusUnprocessableEntity},
		{url.Values{"shortcut": {"long"}, "body": {strings.Repeat("x", dashboard.CannedBodyMax+1)}}, http.StatusUnprocessableEntity},
	} {
		if r := b.post("/inbox/canned", bad.form); r.status != bad.want {
			t.Errorf("create %v: %d, want %d", bad.form.Get("shortcut"), r.status, bad.want)
		}
	}
	var n int64
	ts.db.Model(&models.CannedResponse{}).Count(&n)
	if n != 1 {
		t.Fatalf("%d canned responses after bad input", n)
	}

	// The composer offers it ("/" + shortcut, and the picker).
	page := b.get(convPath(conv, ""))
	if !strings.Contains(page.body, `data-canned-shortcut="thanks" data-canned-body="Thank you for reaching out!"`) {
		t.Fatal("the composer does not offer the canned response")
	}

	// Edit, then delete.
	if r := b.get("/inbox/canned/" + itoa(cr.ID)); r.status != http.StatusOK || !strings.Contains(r.body, "Thank you for reaching out!") {
		t.Fatalf("edit page: %d", r.status)
	}
	if r := b.post("/inbox/canned/"+itoa(cr.ID), url.Values{"shortcut": {"thanks"}, "body": {"Thanks a lot!"}}); r.status != http.StatusSeeOther {
		t.Fatalf("update keeping the shortcut: %d %s", r.status, excerpt(r.body))
	}
	b.post("/inbox/canned", url.Values{"shortcut": {"bye"}, "body": {"Goodbye"}})
	if r := b.post("/inbox/canned/"+itoa(cr.ID), url.Values{"shortcut": {"bye"}, "body": {"x"}}); r.status != http.StatusConflict {
		t.Fatalf("update to a taken shortcut: %d", r.status)
	}
	ts.db.First(&cr, cr.ID)
	if cr.Body != "Thanks a lot!" {
		t.Fatalf("body after update: %q", cr.Body)
	}
	if r := b.post("/inbox/canned/"+itoa(cr.ID)+"/delete", nil); r.status != http.StatusSeeOther {
		t.Fatalf("delete: %d", r.status)
	}
	ts.db.Model(&models.CannedResponse{}).Where("id = ?", cr.ID).Count(&n)
	if n != 0 {
		t.Fatal("not deleted")
	}
	if r := b.get("/inbox/canned/" + itoa(cr.ID)); r.status != http.StatusNotFound {
		t.Fatalf("deleted response's page: %d", r.status)
	}
}

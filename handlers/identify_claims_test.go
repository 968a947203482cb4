package handlers

import (
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/chromedp/chromedp"

	"github.com/convot/convot/contacts"
	"github.com/convot/convot/models"
)

var claimCodeInMail = regexp.MustCompile(`code in the chat: ([0-9]{6})`)

// victimWithHistory is a visitor who gave their address (identity
// verification off, the default), started a conversation and got a
// reply.
func victimWithHistory(t *testing.T, w *widgetWorld, email string) (*visitor, models.Contact, uint64) {
	t.Helper()
	v := w.visitor(t)
	v.boot(widgetSite + "/")
	if r := v.call(http.MethodPost, "/identify", map[string]any{"email": email, "name": "Victor Victim"}); r.status != http.StatusOK {
		t.Fatalf("victim identify: %d %s", r.status, r.body)
	}
	convID := v.start("My order 4711 went to Hauptstrasse 5")
	w.operatorSays(t, convID, "We will resend it to Hauptstrasse 5", false)
	return v, v.contact(), convID
}

// claimFails checks that the visitor sees nothing of the victim's history.
func claimFails(t *testing.T, v *visitor, victim models.Contact, convID uint64, when string) {
	t.Helper()
	if r := v.call(http.MethodGet, "/conversations", nil); r.status != http.StatusOK || strings.Contains(string(r.body), "Hauptstrasse") ||
		len(r.json(t)["conversations"].([]any)) != 0 {
		t.Fatalf("%s: conversations listed: %d %s", when, r.status, r.body)
	}
	if r := v.call(http.MethodGet, fmt.Sprintf("/conversations/%d/messages", convID), nil); r.status != http.StatusNotFound {
		t.Fatalf("%s: the victim's messages: %d %s", when, r.status, r.body)
	}
	if ct := v.contact(); ct.ID == victim.ID || ct.Email != "" {
		t.Fatalf("%s: the visitor became the victim's contact or holds its address: %+v", when, ct)
	}
}

func TestIdentifyWithoutVerificationNeverRevealsHistory(t *testing.T) {
	w := newWidgetWorld(t)
	_, victim, convID := victimWithHistory(t, w, "victor@example.com")

	mallory := w.visitor(t)
	mallory.boot(widgetSite + "/")
	r := mallory.call(http.MethodPost, "/identify", map[string]any{"email": "Victor@Example.com", "name": "Mallory"})
	out := r.json(t)
	if r.status != http.StatusOK || out["merged"] == true || out["proof_needed"] != true || len(out["conversations"].([]any)) != 0 ||
		strings.Contains(string(r.body), "Hauptstrasse") {
		t.Fatalf("identify with the victim's address: %d %s", r.status, r.body)
	}
	claimFails(t, mallory, victim, convID, "after identify")
	if ct := mallory.contact(); ct.ClaimedContactID != victim.ID || ct.Name != "Mallory" {
		t.Fatalf("the claim is not recorded: %+v", ct)
	}
	if s := mallory.boot(widgetSite + "/"); s["proof_needed"] != true || len(s["conversations"].([]any)) != 0 {
		t.Fatalf("session after the claim: %v", s)
	}
	// An external ID of its own proves nothing of the address: the claim stands.
	if r := mallory.call(http.MethodPost, "/identify", map[string]any{"external_id": "victor-1"}); r.status != http.StatusOK {
		t.Fatalf("identify with an ID: %d %s", r.status, r.body)
	}
	claimFails(t, mallory, victim, convID, "after a second identify")

	// No code sent yet: nothing to try.
	if r := mallory.call(http.MethodPost, "/identify/confirm", map[string]string{"code": "000000"}); r.status != http.StatusGone {
		t.Fatalf("confirm before a code: %d %s", r.status, r.body)
	}
	if r := mallory.call(http.MethodPost, "/identify/code", nil); r.status != http.StatusOK {
		t.Fatalf("code: %d %s", r.status, r.body)
	}
	code := claimCodeInMail.FindStringSubmatch(w.ts.lastMail(t, "victor@example.com", "identity_claim_code").Text)
	if code == nil {
		t.Fatal("no code in the mail")
	}
	if r := mallory.call(http.MethodPost, "/identify/code", nil); r.status != http.StatusTooManyRequests {
		t.Fatalf("a second code within the minute: %d %s", r.status, r.body)
	}
	// Guessing: five wrong codes, then even the right one is refused.
	wrong := fmt.Sprintf("%06d", (mustAtoi(t, code[1])+1)%1_000_000)
	for i := 0; i < contacts.ClaimMaxAttempts; i++ {
		if r := mallory.call(http.MethodPost, "/identify/confirm", map[string]string{"code": wrong}); r.status != http.StatusUnprocessableEntity {
			t.Fatalf("wrong code %d: %d %s", i+1, r.status, r.body)
		}
	}
	if r := mallory.call(http.MethodPost, "/identify/confirm", map[string]string{"code": code[1]}); r.status != http.StatusGone {
		t.Fatalf("the right code after five wrong ones: %d %s", r.status, r.body)
	}
	claimFails(t, mallory, victim, convID, "after guessing")
	if r := mallory.call(http.MethodPost, "/identify/confirm", map[string]string{"code": ""}); r.status != http.StatusUnprocessableEntity {
		t.Fatalf("empty code: %d", r.status)
	}
	// Giving an address nobody has ends the claim.
	if r := mallory.call(http.MethodPost, "/identify", map[string]any{"email": "mallory@example.com"}); r.status != http.StatusOK || r.json(t)["proof_needed"] == true {
		t.Fatalf("identify with an address of one's own: %d %s", r.status, r.body)
	}
	if ct := mallory.contact(); ct.ClaimedContactID != 0 || ct.Email != "mallory@example.com" {
		t.Fatalf("after identifying with an own address: %+v", ct)
	}
}

func mustAtoi(t *testing.T, s string) int {
	t.Helper()
	n, err := strconv.Atoi(s)
	if err != nil {
		t.Fatal(err)
	}
	return n
}

func TestMailedCodeJoinsTheHistory(t *testing.T) {
	w := newWidgetWorld(t)
	_, victim, convID := victimWithHistory(t, w, "victor@example.com")

	// Victor on his phone: identify, ask for the code, enter it.
	phone := w.visitor(t)
	phone.boot(widgetSite + "/")
	if r := phone.call(http.MethodPost, "/identify", map[string]any{"email": "victor@example.com"}); r.json(t)["proof_needed"] != true {
		t.Fatalf("identify: %s", r.body)
	}
	if r := phone.call(http.MethodPost, "/identify/code", nil); r.status != http.StatusOK {
		t.Fatalf("code: %d %s", r.status, r.body)
	}
	code := claimCodeInMail.FindStringSubmatch(w.ts.lastMail(t, "victor@example.com", "identity_claim_code").Text)
	if code == nil {
		t.Fatal("no code in the mail")
	}
	r := phone.call(http.MethodPost, "/identify/confirm", map[string]string{"code": " " + code[1] + " "})
	out := r.json(t)
	if r.status != http.StatusOK || out["merged"] != true || out["proof_needed"] == true || len(out["conversations"].([]any)) != 1 ||
		uint64(out["contact"].(map[string]any)["id"].(float64)) != victim.ID {
		t.Fatalf("confirm: %d %s", r.status, r.body)
	}
	if m := phone.messages(convID, 0); len(m) != 2 {
		t.Fatalf("the history after the code: %v", m)
	}
	// The code is used up with the claim.
	if r := phone.call(http.MethodPost, "/identify/confirm", map[string]string{"code": code[1]}); r.status != http.StatusConflict {
		t.Fatalf("the code again: %d %s", r.status, r.body)
	}
}

func TestOperatorMergesAClaimant(t *testing.T) {
	w := newWidgetWorld(t)
	_, victim, convID := victimWithHistory(t, w, "victor@example.com")
	claimant := w.visitor(t)
	claimant.boot(widgetSite + "/")
	claimant.call(http.MethodPost, "/identify", map[string]any{"email": "victor@example.com", "name": "Victor on his laptop"})
	claimantContact := claimant.contact()
	other := w.visitor(t)
	other.boot(widgetSite + "/")
	otherContact := other.contact()

	page := w.owner.get(fmt.Sprintf("/inbox/contacts/%d", victim.ID))
	if page.status != http.StatusOK || !strings.Contains(page.body, `data-testid="merge-claimant"`) || !strings.Contains(page.body, "Victor on his laptop") {
		t.Fatalf("contact page: %d %s", page.status, excerpt(page.body))
	}
	path := fmt.Sprintf("/inbox/contacts/%d/merge", victim.ID)
	// An auditor reads but does not manage contacts.
	auditor := inviteAndJoin(t, w.ts, w.owner, "audrey@acme.test", models.RoleAuditor)
	auditor.get("/")
	if r := auditor.post(path, url.Values{"claimant": {itoa(claimantContact.ID)}}); r.status != http.StatusForbidden {
		t.Fatalf("merge by an auditor: %d", r.status)
	}
	if r := w.owner.postRaw(path, url.Values{"claimant": {itoa(claimantContact.ID)}}); r.status != http.StatusForbidden {
		t.Fatalf("merge without CSRF: %d", r.status)
	}
	// Only a visitor's own claim can be merged, not any contact.
	if r := w.owner.post(path, url.Values{"claimant": {itoa(otherContact.ID)}}); r.status != http.StatusNotFound {
		t.Fatalf("merge of a contact that claims nothing: %d", r.status)
	}
	claimFails(t, claimant, victim, convID, "before the merge")
	w.owner.get(fmt.Sprintf("/inbox/contacts/%d", victim.ID))
	if r := w.owner.post(path, url.Values{"claimant": {itoa(claimantContact.ID)}}); r.status != http.StatusSeeOther {
		t.Fatalf("merge: %d %s", r.status, excerpt(r.body))
	}
	assertAudit(t, w.ts, "contact.claim_merged")
	if s := claimant.boot(widgetSite + "/"); s["proof_needed"] == true || len(s["conversations"].([]any)) != 1 {
		t.Fatalf("the claimant's session after the merge: %v", s)
	}
	if m := claimant.messages(convID, 0); len(m) != 2 {
		t.Fatalf("the history after the merge: %v", m)
	}
	// A signed-out browser may not merge.
	anonymous := w.ts.browser(t)
	anonymous.get("/login")
	if r := anonymous.post(path, url.Values{"claimant": {"1"}}); r.status != http.StatusSeeOther || !strings.HasPrefix(r.location, "/login") {
		t.Fatalf("merge signed out: %d %s", r.status, r.location)
	}
}

// Twenty visitors naming one new address at once: one contact holds it,
// the others claim it.
func TestParallelIdentifiesMakeOneContact(t *testing.T) {
	w := newWidgetWorld(t)
	const visitors = 20
	vs := make([]*visitor, visitors)
	for i := range vs {
		vs[i] = w.visitor(t)
		vs[i].boot(widgetSite + "/")
	}
	statuses := make([]int, visitors)
	var wg sync.WaitGroup
	for i, v := range vs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			statuses[i] = v.do(http.MethodPost, "/identify", "application/json", strings.NewReader(`{"email": "same@example.com"}`)).status
		}()
	}
	wg.Wait()
	for i, s := range statuses {
		if s != http.StatusOK {
			t.Errorf("identify %d: %d", i, s)
		}
	}
	var holders []models.Contact
	w.ts.db.Where("organization_id = ? AND email_index = ?", w.org.ID, w.ts.db.Keys.BlindIndex("same@example.com")).Find(&holders)
	if len(holders) != 1 {
		t.Fatalf("%d contacts hold the address, want 1", len(holders))
	}
	var claimants int64
	w.ts.db.Model(&models.Contact{}).Where("organization_id = ? AND claimed_contact_id = ?", w.org.ID, holders[0].ID).Count(&claimants)
	if claimants != visitors-1 {
		t.Fatalf("%d visitors claim the address, want %d", claimants, visitors-1)
	}
	// Each visitor kept its own contact: none was replaced by a new one.
	for _, v := range vs {
		if ct := v.contact(); ct.ID != holders[0].ID && ct.ClaimedContactID != holders[0].ID {
			t.Fatalf("visitor's contact after the race: %+v", ct)
		}
	}
	var all int64
	w.ts.db.Model(&models.Contact{}).Where("organization_id = ?", w.org.ID).Count(&all)
	if all != visitors {
		t.Fatalf("%d contacts for %d visitors", all, visitors)
	}
}

// In Chromium: a visitor naming a known address sees no history, is told
// to get a code by mail, enters it, and sees the history.
func TestWidgetAsksForTheMailedCodeInBrowser(t *testing.T) {
	w := newWidgetWorld(t)
	_, _, convID := victimWithHistory(t, w, "victor@example.com")
	host := hostPage(t, w.ts.URL, w.org.PublicKey)
	w.ts.db.Model(&models.Organization{}).Where("id = ?", w.org.ID).Update("allowed_origins", host.URL)
	w.ts.srv.widget.ForgetOrganization(w.org.PublicKey)

	page := pageDriver{t, newBrowserContext(t, chromium(t))}
	in := func(id string) chromedp.JSPath { return chromedp.JSPath(inShadow(id)) }
	page.run("load the page", chromedp.Navigate(host.URL+"/"))
	page.waitJS("session", `window.ConvotWidget && ConvotWidget.state().started`)
	page.run("open", chromedp.Click(in("convot-launcher")))
	if got := page.eval("identify", `ConvotWidget.identify({email: "victor@example.com"}).then(() => String(ConvotWidget.state().conversationId))`); got != "0" {
		t.Fatalf("a conversation shown before the proof: %s", got)
	}
	page.waitJS("proof asked", `!`+inShadow("convot-proof")+`.hidden && `+inShadow("convot-proof-form")+`.hidden`)
	page.run("ask for a code", chromedp.Click(in("convot-proof-send")))
	page.waitJS("code form", `!`+inShadow("convot-proof-form")+`.hidden && `+inShadow("convot-proof-status")+`.textContent.includes("Check your mail")`)
	code := claimCodeInMail.FindStringSubmatch(w.ts.lastMail(t, "victor@example.com", "identity_claim_code").Text)
	if code == nil {
		t.Fatal("no code in the mail")
	}
	page.run("enter the code", chromedp.SendKeys(in("convot-proof-code"), code[1]), chromedp.Click(in("convot-proof-submit")))
	page.waitJS("history shown", `ConvotWidget.state().conversationId === `+strconv.FormatUint(convID, 10)+` && `+inShadow("convot-proof")+`.hidden`)
	page.waitJS("reply shown", `[...ConvotWidget.root.querySelectorAll('[data-testid="convot-message-body"]')].some(e => e.textContent.includes("resend it"))`)
}

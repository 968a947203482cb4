package handlers

import (
	"net/http"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/pquerna/otp/totp"
	"golang.org/x/crypto/bcrypt"

	"github.com/convot/convot/handlers/site"
	"github.com/convot/convot/models"
)

func TestSignupLoginAndCSRF(t *testing.T) {
	ts := newTestServer(t)
	b := ts.browser(t)
	b.get("/signup")
	form := url.Values{"full_name": {"Olivia Owner"}, "email": {"olivia@acme.test"}, "password": {"correct horse battery"}, "company_name": {"Acme"}, "region": {"eu"}}

	// No token, and a wrong token: refused, nothing created.
	if r := b.postRaw("/signup", form); r.status != http.StatusForbidden || !strings.Contains(r.body, "CSRF") {
		t.Fatalf("signup without CSRF token: %d", r.status)
	}
	wrong := url.Values{}
	for k, v := range form {
		wrong[k] = v
	}
	wrong.Set("csrf_token", strings.Repeat("x", 43))
	if r := b.postRaw("/signup", wrong); r.status != http.StatusForbidden {
		t.Fatalf("signup with a wrong CSRF token: %d", r.status)
	}
	var n int64
	ts.db.Model(&models.Account{}).Count(&n)
	if n != 0 {
		t.Fatalf("%d accounts created without a CSRF token", n)
	}

	r := b.post("/signup", form)
	if r.status != http.StatusSeeOther || r.location != "/?notice=welcome" {
		t.Fatalf("signup: %d %q %s", r.status, r.location, excerpt(r.body))
	}
	var session *http.Cookie
	for _, c := range r.header.Values("Set-Cookie") {
		if strings.HasPrefix(c, site.SessionCookie+"=") {
			if !strings.Contains(c, "HttpOnly") || !strings.Contains(c, "SameSite=Lax") {
				t.Errorf("session cookie flags: %s", c)
			}
			session = &http.Cookie{}
		}
	}
	if session == nil {
		t.Fatal("no session cookie after sign-up")
	}
	home := b.get("/")
	if home.status != http.StatusOK || !strings.Contains(home.body, "Acme") {
		t.Fatalf("home after sign-up: %d", home.status)
	}
	for _, h := range []string{"Content-Security-Policy", "X-Content-Type-Options"} {
		if home.header.Get(h) == "" {
			t.Errorf("missing %s", h)
		}
	}
	if !strings.Contains(home.header.Get("Content-Security-Policy"), "frame-ancestors 'none'") {
		t.Errorf("CSP lacks frame-ancestors: %s", home.header.Get("Content-Security-Policy"))
	}

	// The owner and organization are stored as the policy says.
	var owner models.Account
	ts.db.Where("email_index = ?", ts.db.Keys.BlindIndex("olivia@acme.test")).First(&owner)
	if owner.Role != models.RoleOwner {
		t.Fatalf("owner role = %q", owner.Role)
	}
	if cost, err := bcrypt.Cost([]byte(owner.PasswordHash)); err != nil || cost < 12 {
		t.Fatalf("bcrypt cost %d (%v), want >= 12", cost, err)
	}

	// A state-changing dashboard request needs the token too.
	if r := b.postRaw("/settings/profile", url.Values{"full_name": {"Mallory"}, "language": {"en"}, "time_zone": {"UTC"}}); r.status != http.StatusForbidden {
		t.Fatalf("profile change without CSRF: %d", r.status)
	}
	b.get("/settings/profile")
	if r := b.post("/settings/profile", url.Values{"full_name": {"Olivia Newname"}, "language": {"de"}, "time_zone": {"Europe/Berlin"}}); r.status != http.StatusSeeOther {
		t.Fatalf("profile change with CSRF: %d %s", r.status, excerpt(r.body))
	}
	ts.db.First(&owner, owner.ID)
	if owner.FullName != "Olivia Newname" || owner.Language != "de" {
		t.Fatalf("profile not saved: %q %q", owner.FullName, owner.Language)
	}

	// Sign out, then in again.
	b.logout()
	if r := b.get("/"); r.status != http.StatusSeeOther || r.location != "/login" {
		t.Fatalf("home after logout: %d %s", r.status, r.location)
	}
	if r := b.login("olivia@acme.test", "wrong password!"); r.status != http.StatusUnauthorized || !strings.Contains(r.body, "Wrong email or password") {
		t.Fatalf("wrong password: %d", r.status)
	}
	if r := b.login("OLIVIA@acme.test", "correct horse battery"); r.status != http.StatusSeeOther || r.location != "/" {
		t.Fatalf("login: %d %s", r.status, excerpt(r.body))
	}
	ts.lastMail(t, "olivia@acme.test", "security_alert")
	assertAudit(t, ts, "auth.signup", "auth.login_failed", "auth.login", "auth.logout")
}

func assertAudit(t *testing.T, ts *testServer, actions ...string) {
	t.Helper()
	for _, a := range actions {
		var n int64
		ts.db.Model(&models.AuditEvent{}).Where("action = ?", a).Count(&n)
		if n == 0 {
			t.Errorf("no audit event %s", a)
		}
	}
}

func TestBadSignupInput(t *testing.T) {
	ts := newTestServer(t)
	b := ts.browser(t)
	b.signup("taken@acme.test", "Acme")
	b.logout()
	c := ts.browser(t)
	c.get("/signup")
	good := url.Values{"full_name": {"Bob"}, "email": {"bob@acme.test"}, "password": {"long enough password"}, "company_name": {"Bobco"}, "region": {"us"}}
	cases := []struct {
		name   string
		change func(url.Values)
		status int
		msg    string
	}{
		{"bad email", func(v url.Values) { v.Set("email", "not-an-email") }, 422, "valid email"},
		{"short password", func(v url.Values) { v.Set("password", "short") }, 422, "at least 10"},
		{"unknown region", func(v url.Values) { v.Set("region", "mars") }, 422, "us, eu, uk or ch"},
		{"no name", func(v url.Values) { v.Set("full_name", " ") }, 422, "full name"},
		{"duplicate email", func(v url.Values) { v.Set("email", "Taken@acme.test") }, 409, "already exists"},
	}
	for _, tc := range cases {
		v := url.Values{}
		for k, vals := range good {
			v[k] = append([]string(nil), vals...)
		}
		tc.change(v)
		r := c.post("/signup", v)
		if r.status != tc.status || !strings.Contains(r.body, tc.msg) {
			t.Errorf("%s: %d %s", tc.name, r.status, excerpt(r.body))
		}
	}
	// JSON clients get JSON errors.
	req, _ := http.NewRequest("POST", ts.URL+"/signup", strings.NewReader(url.Values{"csrf_token": {c.csrf}, "email": {"x"}}.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Accept", "application/json")
	resp, err := c.http.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	r := c.read(resp)
	if r.status != 422 || !strings.Contains(r.body, `"error"`) {
		t.Errorf("JSON error: %d %s", r.status, r.body)
	}
	// An oversized body is refused before it is read.
	huge := url.Values{"csrf_token": {c.csrf}, "full_name": {strings.Repeat("a", 70000)}}
	if r := c.postRaw("/signup", huge); r.status != http.StatusRequestEntityTooLarge {
		t.Errorf("oversized body: %d", r.status)
	}
}

func TestFiveWrongPasswordsLockTheAccount(t *testing.T) {
	ts, b := acmeOwner(t)
	b.logout()
	for i := 0; i < 5; i++ {
		if r := b.login("olivia@acme.test", "guess number "+string(rune('a'+i))); r.status != http.StatusUnauthorized {
			t.Fatalf("attempt %d: %d", i+1, r.status)
		}
	}
	// Locked: even the right password is refused for a while.
	r := b.login("olivia@acme.test", "correct horse battery")
	if r.status != http.StatusTooManyRequests || !strings.Contains(r.body, "locked") {
		t.Fatalf("login while locked: %d %s", r.status, excerpt(r.body))
	}
	assertAudit(t, ts, "auth.login_refused_locked")
	ts.advance(16 * time.Minute)
	if r := b.login("olivia@acme.test", "correct horse battery"); r.status != http.StatusSeeOther {
		t.Fatalf("login after the lockout: %d %s", r.status, excerpt(r.body))
	}
}

var secretInPage = regexp.MustCompile(`<code>([A-Z2-7]{16,})</code>`)

// enrolMFA turns two-factor authentication on and returns the secret and
// the recovery codes.
func enrolMFA(t *testing.T, ts *testServer, b *browser) (string, []string) {
	t.Helper()
	page := b.get("/settings/security")
	m := secretInPage.FindStringSubmatch(page.body)
	if m == nil || !strings.Contains(page.body, "data:image/png;base64,") {
		t.Fatalf("security page has no QR code and secret: %d", page.status)
	}
	secret := m[1]
	if r := b.post("/settings/security/mfa/enable", url.Values{"code": {"000000"}}); r.status != http.StatusUnprocessableEntity {
		t.Fatalf("enable with a wrong code: %d", r.status)
	}
	code, _ := totp.GenerateCode(secret, ts.clock())
	r := b.post("/settings/security/mfa/enable", url.Values{"code": {code}})
	if r.status != http.StatusOK {
		t.Fatalf("enable: %d %s", r.status, excerpt(r.body))
	}
	codes := regexp.MustCompile(`<code>([a-z2-7]{5}-[a-z2-7]{5})</code>`).FindAllStringSubmatch(r.body, -1)
	if len(codes) != 10 {
		t.Fatalf("%d recovery codes shown, want 10", len(codes))
	}
	var out []string
	for _, c := range codes {
		out = append(out, c[1])
	}
	return secret, out
}

func TestMFAEnrolmentAndLogin(t *testing.T) {
	ts, b := acmeOwner(t)
	secret, recovery := enrolMFA(t, ts, b)
	assertAudit(t, ts, "auth.mfa_enabled")
	b.logout()

	// The password alone is half a sign-in.
	ts.advance(time.Minute)
	r := b.login("olivia@acme.test", "correct horse battery")
	if r.status != http.StatusSeeOther || r.location != "/login/mfa" {
		t.Fatalf("login with MFA: %d %s", r.status, r.location)
	}
	if r := b.get("/"); r.status != http.StatusSeeOther || r.location != "/login/mfa" {
		t.Fatalf("home before the second factor: %d %s", r.status, r.location)
	}
	b.get("/login/mfa")
	if r := b.post("/login/mfa", url.Values{"code": {"123456"}}); r.status != http.StatusUnauthorized {
		t.Fatalf("wrong code: %d", r.status)
	}
	// An expired code (ten minutes old) is refused.
	old, _ := totp.GenerateCode(secret, ts.clock().Add(-10*time.Minute))
	if r := b.post("/login/mfa", url.Values{"code": {old}}); r.status != http.StatusUnauthorized {
		t.Fatalf("expired code: %d", r.status)
	}
	code, _ := totp.GenerateCode(secret, ts.clock())
	if r := b.post("/login/mfa", url.Values{"code": {code}}); r.status != http.StatusSeeOther || r.location != "/" {
		t.Fatalf("right code: %d %s", r.status, excerpt(r.body))
	}
	if r := b.get("/"); r.status != http.StatusOK {
		t.Fatalf("home after MFA: %d", r.status)
	}

	// The same code cannot be used twice.
	c := ts.browser(t)
	c.login("olivia@acme.test", "correct horse battery")
	c.get("/login/mfa")
	if r := c.post("/login/mfa", url.Values{"code": {code}}); r.status != http.StatusUnauthorized {
		t.Fatalf("replayed code: %d", r.status)
	}
	// A recovery code works once.
	if r := c.post("/login/mfa", url.Values{"code": {recovery[0]}}); r.status != http.StatusSeeOther {
		t.Fatalf("recovery code: %d %s", r.status, excerpt(r.body))
	}
	d := ts.browser(t)
	d.login("olivia@acme.test", "correct horse battery")
	d.get("/login/mfa")
	if r := d.post("/login/mfa", url.Values{"code": {recovery[0]}}); r.status != http.StatusUnauthorized {
		t.Fatalf("reused recovery code: %d", r.status)
	}
	assertAudit(t, ts, "auth.mfa_failed")
}

func TestOwnerCanRequireMFA(t *testing.T) {
	ts, owner := acmeOwner(t)
	agent := inviteAndJoin(t, ts, owner, "adam@acme.test", "agent")
	owner.get("/settings/organization")
	if r := owner.post("/settings/organization/mfa", url.Values{"require_mfa": {"1"}}); r.status != http.StatusConflict {
		t.Fatalf("requiring MFA before having it: %d", r.status)
	}
	enrolMFA(t, ts, owner)
	owner.get("/settings/organization")
	if r := owner.post("/settings/organization/mfa", url.Values{"require_mfa": {"1"}}); r.status != http.StatusSeeOther {
		t.Fatalf("require MFA: %d %s", r.status, excerpt(r.body))
	}
	if r := agent.get("/"); r.status != http.StatusSeeOther || r.location != "/settings/security" {
		t.Fatalf("agent without MFA: %d %s", r.status, r.location)
	}
	if r := agent.get("/settings/security"); r.status != http.StatusOK || !strings.Contains(r.body, "requires two-factor") {
		t.Fatalf("security page for agent: %d", r.status)
	}
	enrolMFA(t, ts, agent)
	if r := agent.get("/"); r.status != http.StatusOK {
		t.Fatalf("agent with MFA: %d", r.status)
	}
}

// inviteAndJoin invites someone by email and accepts the invitation from
// the link in the mail, in a new browser.
func inviteAndJoin(t *testing.T, ts *testServer, inviter *browser, email, role string) *browser {
	t.Helper()
	inviter.get("/settings/team")
	if r := inviter.post("/settings/team/invite", url.Values{"email": {email}, "role": {role}}); r.status != http.StatusSeeOther {
		t.Fatalf("invite: %d %s", r.status, excerpt(r.body))
	}
	token := tokenIn(t, ts.lastMail(t, email, "invitation").Text)
	b := ts.browser(t)
	if r := b.get("/invitations/accept?token=" + token); r.status != http.StatusOK {
		t.Fatalf("invitation page: %d", r.status)
	}
	if r := b.post("/invitations/accept", url.Values{"token": {token}, "full_name": {"Adam Agent"}, "password": {"agent password 1"}}); r.status != http.StatusSeeOther {
		t.Fatalf("accept: %d %s", r.status, excerpt(r.body))
	}
	// The link works once.
	if r := ts.browser(t).get("/invitations/accept?token=" + token); r.status != http.StatusGone {
		t.Fatalf("reused invitation: %d", r.status)
	}
	return b
}

func TestRolesLimitWhatAnAgentReaches(t *testing.T) {
	ts, owner := acmeOwner(t)
	agent := inviteAndJoin(t, ts, owner, "adam@acme.test", "agent")
	if r := agent.get("/"); r.status != http.StatusOK {
		t.Fatalf("agent home: %d", r.status)
	}
	for _, path := range []string{"/settings/team", "/settings/organization", "/audit-log"} {
		if r := agent.get(path); r.status != http.StatusForbidden {
			t.Errorf("agent GET %s: %d, want 403", path, r.status)
		}
	}
	agent.get("/settings/profile")
	for _, path := range []string{"/settings/team/invite", "/settings/organization", "/settings/organization/mfa", "/settings/team/1/role"} {
		if r := agent.post(path, url.Values{"email": {"eve@acme.test"}, "role": {"admin"}, "company_name": {"x"}}); r.status != http.StatusForbidden {
			t.Errorf("agent POST %s: %d, want 403", path, r.status)
		}
	}
	// The owner promotes the agent; an admin reaches the team page but may
	// not change roles.
	var agentAccount models.Account
	ts.db.Where("email_index = ?", ts.db.Keys.BlindIndex("adam@acme.test")).First(&agentAccount)
	owner.get("/settings/team")
	if r := owner.post("/settings/team/"+itoa(agentAccount.ID)+"/role", url.Values{"role": {"admin"}}); r.status != http.StatusSeeOther {
		t.Fatalf("promote: %d %s", r.status, excerpt(r.body))
	}
	assertAudit(t, ts, "account.role_changed", "team.invited", "team.joined")
	if r := agent.get("/settings/team"); r.status != http.StatusOK {
		t.Fatalf("admin team page: %d", r.status)
	}
	if r := agent.post("/settings/team/1/role", url.Values{"role": {"agent"}}); r.status != http.StatusForbidden {
		t.Fatalf("admin changing roles: %d", r.status)
	}
}

func TestAnotherOrganizationsMemberIsNotFound(t *testing.T) {
	ts, a := acmeOwner(t)
	inviteAndJoin(t, ts, a, "adam@acme.test", "agent")
	var adam models.Account
	ts.db.Where("email_index = ?", ts.db.Keys.BlindIndex("adam@acme.test")).First(&adam)
	b := ts.browser(t)
	b.signup("boris@other.test", "Other")
	b.get("/settings/team")
	for _, path := range []string{"/settings/team/" + itoa(adam.ID) + "/role", "/settings/team/" + itoa(adam.ID) + "/remove"} {
		if r := b.post(path, url.Values{"role": {"admin"}}); r.status != http.StatusNotFound {
			t.Errorf("POST %s from another organization: %d, want 404", path, r.status)
		}
	}
	ts.db.First(&adam, adam.ID)
	if adam.Role != "agent" || adam.Status != "active" {
		t.Fatalf("another organization changed the member: %+v", adam.Role)
	}
	if r := b.get("/settings/team"); strings.Contains(r.body, "adam@acme.test") {
		t.Fatal("another organization's member listed")
	}
}

func TestPasswordReset(t *testing.T) {
	ts, _ := acmeOwner(t) // Olivia, whose password is reset
	other := ts.browser(t)
	other.login("olivia@acme.test", "correct horse battery")

	anon := ts.browser(t)
	anon.get("/password/forgot")
	// Unknown and known addresses get the same answer.
	unknown := anon.post("/password/forgot", url.Values{"email": {"nobody@acme.test"}})
	known := anon.post("/password/forgot", url.Values{"email": {"olivia@acme.test"}})
	if unknown.status != known.status || unknown.location != known.location {
		t.Fatalf("forgot answers differ: %d %s vs %d %s", unknown.status, unknown.location, known.status, known.location)
	}
	token := tokenIn(t, ts.lastMail(t, "olivia@acme.test", "password_reset").Text)
	if r := anon.get("/password/reset?token=" + token); r.status != http.StatusOK {
		t.Fatalf("reset page: %d", r.status)
	}
	if r := anon.post("/password/reset", url.Values{"token": {token}, "password": {"short"}}); r.status != http.StatusUnprocessableEntity {
		t.Fatalf("short new password: %d", r.status)
	}
	if r := anon.post("/password/reset", url.Values{"token": {token}, "password": {"a brand new password"}}); r.status != http.StatusSeeOther {
		t.Fatalf("reset: %d %s", r.status, excerpt(r.body))
	}
	if r := anon.post("/password/reset", url.Values{"token": {token}, "password": {"another new password"}}); r.status != http.StatusGone {
		t.Fatalf("reused reset link: %d", r.status)
	}
	// Every signed-in browser is signed out.
	if r := other.get("/"); r.status != http.StatusSeeOther {
		t.Fatalf("old session after reset: %d", r.status)
	}
	if r := anon.login("olivia@acme.test", "a brand new password"); r.status != http.StatusSeeOther {
		t.Fatalf("login with new password: %d", r.status)
	}
	// An expired link is refused.
	anon.get("/password/forgot")
	anon.post("/password/forgot", url.Values{"email": {"olivia@acme.test"}})
	token2 := tokenIn(t, ts.lastMail(t, "olivia@acme.test", "password_reset").Text)
	ts.advance(2 * time.Hour)
	if r := anon.get("/password/reset?token=" + token2); r.status != http.StatusGone {
		t.Fatalf("expired reset link: %d", r.status)
	}
}

func TestSessionsExpire(t *testing.T) {
	ts, b := acmeOwner(t)
	ts.advance(25 * time.Hour)
	if r := b.get("/"); r.status != http.StatusSeeOther || r.location != "/login" {
		t.Fatalf("idle session: %d %s", r.status, r.location)
	}
}

func itoa(id uint64) string { return strconv.FormatUint(id, 10) }

// Fifteen wrong passwords sent at once all count: the account is locked
// and the right password is refused, as after fifteen in a row.
func TestParallelWrongPasswordsLockTheAccount(t *testing.T) {
	ts := newTestServer(t)
	owner := ts.browser(t)
	owner.signup("olivia@acme.test", "Acme")
	owner.logout()
	const guesses = 15
	guessers := make([]*browser, guesses)
	for i := range guessers {
		guessers[i] = ts.browser(t)
		guessers[i].get("/login")
	}
	var wg sync.WaitGroup
	statuses := make([]int, guesses)
	for i, g := range guessers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			statuses[i] = g.post("/login", url.Values{"email": {"olivia@acme.test"}, "password": {"wrong guess " + itoa(uint64(i))}}).status
		}()
	}
	wg.Wait()
	for i, s := range statuses {
		if s != http.StatusUnauthorized && s != http.StatusTooManyRequests {
			t.Errorf("guess %d: %d", i, s)
		}
	}
	account := accountByEmail(t, ts, "olivia@acme.test")
	if account.FailedLogins != guesses || account.LockedUntil == nil {
		t.Fatalf("after %d parallel wrong passwords: failed_logins=%d locked_until=%v", guesses, account.FailedLogins, account.LockedUntil)
	}
	if r := owner.login("olivia@acme.test", "correct horse battery"); r.status != http.StatusTooManyRequests || !strings.Contains(r.body, "locked") {
		t.Fatalf("right password after the burst: %d %s", r.status, excerpt(r.body))
	}
}

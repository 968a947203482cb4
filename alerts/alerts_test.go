package alerts_test

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/convot/convot/alerts"
	"github.com/convot/convot/internal/config"
	"github.com/convot/convot/internal/crypto"
	"github.com/convot/convot/internal/geoip"
	"github.com/convot/convot/internal/geoip/geoiptest"
	"github.com/convot/convot/internal/mail"
	"github.com/convot/convot/internal/metrics"
	"github.com/convot/convot/internal/testdb"
	"github.com/convot/convot/models"
	"github.com/convot/convot/policies"
	"github.com/convot/convot/store"
)

// mailbox keeps the mail the monitor sends.
type mailbox struct {
	mu   sync.Mutex
	sent []mail.Message
}

func (b *mailbox) Send(_ context.Context, m mail.Message) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.sent = append(b.sent, m)
	return nil
}

func (b *mailbox) messages() []mail.Message {
	b.mu.Lock()
	defer b.mu.Unlock()
	return append([]mail.Message(nil), b.sent...)
}

// env is an organization with an owner and an agent, a monitor whose
// clock the test moves, and its mailbox.
type env struct {
	ctx          context.Context
	store        *store.Store
	org          models.Organization
	owner, agent models.Account
	monitor      *alerts.Monitor
	mail         *mailbox
	mu           sync.Mutex
	now          time.Time
}

const (
	ipFR = "198.51.100.7"
	ipDE = "203.0.113.9"
	ipNL = "192.0.2.44"
)

func newEnv(t *testing.T, th config.AlertThresholds) *env {
	t.Helper()
	db := testdb.New(t)
	e := &env{ctx: context.Background(), store: store.New(db.DB, db.Keys), mail: &mailbox{},
		now: time.Date(2026, 12, 7, 10, 5, 0, 0, time.UTC)}
	e.org = models.Organization{PublicKey: crypto.RandomToken(16), CompanyName: "Acme", Region: "eu", Status: models.OrgActive}
	must(t, e.store.CreateOrganization(e.ctx, &e.org))
	e.owner = models.Account{OrganizationID: e.org.ID, FullName: "Olga Owner", DisplayName: "Olga", Email: "olga@example.com",
		Role: models.RoleOwner, Status: "active", CreatedAt: e.now}
	must(t, e.store.CreateAccount(e.ctx, &e.owner))
	e.agent = models.Account{OrganizationID: e.org.ID, FullName: "Adam Agent", DisplayName: "Adam", Email: "adam@example.com",
		Role: models.RoleAgent, Status: "active", CreatedAt: e.now}
	must(t, e.store.CreateAccount(e.ctx, &e.agent))
	geo, err := geoip.Open(geoiptest.Write(t, map[string]string{"198.51.100.0/24": "FR", "203.0.113.0/24": "DE"}))
	must(t, err)
	t.Cleanup(func() { _ = geo.Close() })
	e.monitor = &alerts.Monitor{Store: e.store, Thresholds: th, Mail: e.mail, MailFrom: "Convot <no-reply@convot.io>",
		BaseURL: "https://app.convot.example", GeoIP: geo, IPSecret: []byte("test secret"), Now: e.clock}
	return e
}

func (e *env) clock() time.Time {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.now
}

func (e *env) advance(d time.Duration) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.now = e.now.Add(d)
}

// raised lists the organization's alert events of rule.
func (e *env) raised(t *testing.T, rule string) []models.AuditEvent {
	t.Helper()
	list, err := e.store.AuditLog(e.ctx, e.org.ID, store.AuditFilter{Action: alerts.AuditAction, Limit: 1000})
	must(t, err)
	var out []models.AuditEvent
	for _, ev := range list {
		if strings.HasPrefix(ev.Detail, rule+":") {
			out = append(out, ev)
		}
	}
	return out
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// race runs n events at once.
func race(t *testing.T, n int, event func(i int) error) {
	t.Helper()
	var wg sync.WaitGroup
	errs := make(chan error, n)
	start := make(chan struct{})
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			errs <- event(i)
		}()
	}
	close(start)
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Error(err)
		}
	}
}

// A counted rule: threshold-1 events raise nothing; the threshold-th
// raises exactly one alert (an audit event naming the rule, a mail to the
// owner, the metric's increment); more events in the window raise no
// other; the next window can raise again; and threshold events at once,
// racing, raise exactly one.
type countedRule struct {
	rule   string
	th     func(config.Threshold) config.AlertThresholds
	event  func(e *env, i int) error
	target func(e *env) string
}

var countedRules = []countedRule{
	{alerts.RuleFailedSignInsAccount,
		func(t config.Threshold) config.AlertThresholds {
			return config.AlertThresholds{FailedSignInsAccount: t}
		},
		// From a different address each time: only the account's count grows.
		func(e *env, i int) error {
			return e.monitor.FailedSignIn(e.ctx, e.org.ID, e.agent.ID, fmt.Sprintf("198.51.%d.%d", i/200, i%200+1))
		},
		func(e *env) string { return fmt.Sprintf("account:%d", e.agent.ID) }},
	{alerts.RuleFailedSignInsIP,
		func(t config.Threshold) config.AlertThresholds { return config.AlertThresholds{FailedSignInsIP: t} },
		// One address, the two accounts in turn.
		func(e *env, i int) error {
			id := e.owner.ID
			if i%2 == 1 {
				id = e.agent.ID
			}
			return e.monitor.FailedSignIn(e.ctx, e.org.ID, id, ipNL)
		},
		func(e *env) string { return fmt.Sprintf("organization:%d", e.org.ID) }},
	{alerts.RuleGateDenials,
		func(t config.Threshold) config.AlertThresholds { return config.AlertThresholds{GateDenials: t} },
		// Through the decision log the gate writes to, as in production.
		func(e *env, i int) error {
			w := &alerts.DenialWatch{Log: policies.NewMemoryLog()}
			w.Watch(e.monitor)
			return w.Record(e.ctx, policies.DecisionRecord{OrganizationID: e.org.ID, Subprocessor: "openai", Allow: false, Reason: "feature off"})
		},
		func(e *env) string { return fmt.Sprintf("organization:%d", e.org.ID) }},
	{alerts.RuleBulkDownloads,
		func(t config.Threshold) config.AlertThresholds { return config.AlertThresholds{BulkDownloads: t} },
		func(e *env, i int) error { return e.monitor.Downloaded(e.ctx, e.org.ID, e.agent.ID, ipFR) },
		func(e *env) string { return fmt.Sprintf("account:%d", e.agent.ID) }},
}

func TestCountedRules(t *testing.T) {
	const threshold = 5
	th := config.Threshold{Count: threshold, Window: time.Hour}
	for _, r := range countedRules {
		t.Run(r.rule, func(t *testing.T) {
			metric := metrics.SecurityAlerts.WithLabelValues(r.rule)
			e := newEnv(t, r.th(th))
			for i := range threshold - 1 {
				must(t, r.event(e, i))
			}
			if got := e.raised(t, r.rule); len(got) != 0 {
				t.Fatalf("%d events raised %d alerts, want none", threshold-1, len(got))
			}
			if n := len(e.mail.messages()); n != 0 {
				t.Fatalf("%d mails before the threshold", n)
			}
			before := testutil.ToFloat64(metric)
			must(t, r.event(e, threshold-1))
			got := e.raised(t, r.rule)
			if len(got) != 1 {
				t.Fatalf("the threshold raised %d alerts, want 1", len(got))
			}
			if got[0].Target != r.target(e) || got[0].ActorID != 0 {
				t.Errorf("alert target %q actor %d, want %q by the system", got[0].Target, got[0].ActorID, r.target(e))
			}
			if v := testutil.ToFloat64(metric); v != before+1 {
				t.Errorf("convot_security_alerts_total{rule=%q} %v -> %v, want +1", r.rule, before, v)
			}
			msgs := e.mail.messages()
			if len(msgs) != 1 || msgs[0].To != e.owner.Email || msgs[0].Tag != alerts.MailTag || msgs[0].Org.ID != e.org.ID {
				t.Fatalf("mail %+v, want one alert to the owner", msgs)
			}
			for _, personal := range []string{ipFR, ipNL, e.agent.Email, "Adam Agent"} {
				if strings.Contains(msgs[0].Text+msgs[0].Subject+got[0].Detail+got[0].Target, personal) {
					t.Errorf("the alert names %q: %s / %s", personal, got[0].Detail, msgs[0].Text)
				}
			}
			// More in the window: no second alert.
			for i := range threshold {
				must(t, r.event(e, threshold+i))
			}
			if got := e.raised(t, r.rule); len(got) != 1 {
				t.Fatalf("the window raised %d alerts, want 1", len(got))
			}
			// The next window counts afresh.
			e.advance(time.Hour)
			for i := range threshold {
				must(t, r.event(e, i))
			}
			if got := e.raised(t, r.rule); len(got) != 2 {
				t.Fatalf("after the next window's threshold, %d alerts, want 2", len(got))
			}
		})
		t.Run(r.rule+"/raced", func(t *testing.T) {
			e := newEnv(t, r.th(th))
			race(t, 3*threshold, func(i int) error { return r.event(e, i) })
			if got := e.raised(t, r.rule); len(got) != 1 {
				t.Fatalf("%d racing events raised %d alerts, want exactly 1", 3*threshold, len(got))
			}
			if n := len(e.mail.messages()); n != 1 {
				t.Fatalf("%d mails, want 1", n)
			}
		})
		t.Run(r.rule+"/off", func(t *testing.T) {
			e := newEnv(t, config.AlertThresholds{})
			for i := range 3 * threshold {
				must(t, r.event(e, i))
			}
			if got := e.raised(t, r.rule); len(got) != 0 {
				t.Fatalf("a rule turned off raised %d alerts", len(got))
			}
		})
	}
}

// Failed sign-ins from one address count per organization: another
// organization's failures from the same address do not add to it.
func TestFailedSignInsPerIPArePerOrganization(t *testing.T) {
	e := newEnv(t, config.AlertThresholds{FailedSignInsIP: config.Threshold{Count: 2, Window: time.Hour}})
	other := models.Organization{PublicKey: crypto.RandomToken(16), CompanyName: "Other", Region: "eu", Status: models.OrgActive}
	must(t, e.store.CreateOrganization(e.ctx, &other))
	stranger := models.Account{OrganizationID: other.ID, FullName: "S", Email: "s@example.com", Role: models.RoleOwner, Status: "active", CreatedAt: e.now}
	must(t, e.store.CreateAccount(e.ctx, &stranger))
	must(t, e.monitor.FailedSignIn(e.ctx, other.ID, stranger.ID, ipNL))
	must(t, e.monitor.FailedSignIn(e.ctx, e.org.ID, e.agent.ID, ipNL))
	if got := e.raised(t, alerts.RuleFailedSignInsIP); len(got) != 0 {
		t.Fatalf("another organization's failure counted: %d alerts", len(got))
	}
	must(t, e.monitor.FailedSignIn(e.ctx, e.org.ID, e.agent.ID, ipNL))
	if got := e.raised(t, alerts.RuleFailedSignInsIP); len(got) != 1 {
		t.Fatalf("%d alerts, want 1", len(got))
	}
	// An unknown email has no organization: nothing is counted.
	must(t, e.monitor.FailedSignIn(e.ctx, 0, 0, ipNL))
}

// A sign-in from a country not seen for the account raises new_country
// once, even when sign-ins from it race; the account's first country, a
// country seen before, an address without a country and a rule turned
// off raise nothing.
func TestNewCountryRule(t *testing.T) {
	metric := metrics.SecurityAlerts.WithLabelValues(alerts.RuleNewCountry)
	e := newEnv(t, config.AlertThresholds{NewCountry: true})
	must(t, e.monitor.SignedIn(e.ctx, e.org.ID, e.agent.ID, ipFR)) // the first country
	must(t, e.monitor.SignedIn(e.ctx, e.org.ID, e.agent.ID, ipFR))
	must(t, e.monitor.SignedIn(e.ctx, e.org.ID, e.agent.ID, ipNL)) // no country known
	if got := e.raised(t, alerts.RuleNewCountry); len(got) != 0 {
		t.Fatalf("%d alerts before a new country", len(got))
	}
	before := testutil.ToFloat64(metric)
	race(t, 8, func(int) error { return e.monitor.SignedIn(e.ctx, e.org.ID, e.agent.ID, ipDE) })
	got := e.raised(t, alerts.RuleNewCountry)
	if len(got) != 1 {
		t.Fatalf("8 racing sign-ins from a new country raised %d alerts, want exactly 1", len(got))
	}
	if v := testutil.ToFloat64(metric); v != before+1 {
		t.Errorf("metric %v -> %v", before, v)
	}
	msgs := e.mail.messages()
	if len(msgs) != 1 || msgs[0].To != e.owner.Email {
		t.Fatalf("mail %+v", msgs)
	}
	for _, s := range []string{"DE", "Germany", ipDE} {
		if strings.Contains(got[0].Detail+got[0].Target+msgs[0].Text, s) {
			t.Errorf("the alert names %q", s)
		}
	}
	must(t, e.monitor.SignedIn(e.ctx, e.org.ID, e.agent.ID, ipDE))
	if got := e.raised(t, alerts.RuleNewCountry); len(got) != 1 {
		t.Fatalf("a country seen before raised again: %d alerts", len(got))
	}
	// The owner's first sign-in is no alert, whatever the agent did.
	must(t, e.monitor.SignedIn(e.ctx, e.org.ID, e.owner.ID, ipDE))
	if got := e.raised(t, alerts.RuleNewCountry); len(got) != 1 {
		t.Fatalf("another account's first country raised an alert")
	}

	off := newEnv(t, config.AlertThresholds{})
	must(t, off.monitor.SignedIn(off.ctx, off.org.ID, off.agent.ID, ipFR))
	must(t, off.monitor.SignedIn(off.ctx, off.org.ID, off.agent.ID, ipDE))
	if got := off.raised(t, alerts.RuleNewCountry); len(got) != 0 {
		t.Fatalf("the rule turned off raised %d alerts", len(got))
	}
}

// Allowed decisions and decisions of no organization are not denials of
// an organization; a nil monitor counts nothing.
func TestDenialWatchCountsOnlyAnOrganizationsDenials(t *testing.T) {
	e := newEnv(t, config.AlertThresholds{GateDenials: config.Threshold{Count: 1, Window: time.Hour}})
	log := policies.NewMemoryLog()
	w := &alerts.DenialWatch{Log: log}
	must(t, w.Record(e.ctx, policies.DecisionRecord{OrganizationID: e.org.ID})) // no monitor yet
	w.Watch(e.monitor)
	must(t, w.Record(e.ctx, policies.DecisionRecord{OrganizationID: e.org.ID, Allow: true}))
	must(t, w.Record(e.ctx, policies.DecisionRecord{OrganizationID: 0}))
	if got := e.raised(t, alerts.RuleGateDenials); len(got) != 0 {
		t.Fatalf("%d alerts", len(got))
	}
	if n := len(log.Records()); n != 3 {
		t.Fatalf("the decision log kept %d of 3 decisions", n)
	}
	must(t, w.Record(e.ctx, policies.DecisionRecord{OrganizationID: e.org.ID}))
	if got := e.raised(t, alerts.RuleGateDenials); len(got) != 1 {
		t.Fatalf("%d alerts, want 1", len(got))
	}
}

package handlers

import (
	"context"
	"io"
	"log/slog"
	"net"
	"net/url"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"go.temporal.io/sdk/client"
	tlog "go.temporal.io/sdk/log"

	"github.com/convot/convot/handlers/codec"
	"github.com/convot/convot/internal/devstack"
	"github.com/convot/convot/internal/payloads"
	"github.com/convot/convot/internal/testenv"
	"github.com/convot/convot/models"
	"github.com/convot/convot/workflows"
)

func freeTCPPort(t *testing.T) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = ln.Close() }()
	return ln.Addr().(*net.TCPAddr).Port
}

// The Temporal UI as `convot dev` runs it (the Temporal CLI's dev server
// with its UI under /temporal and the codec endpoint /codec), proxied by
// Convot: in Chromium, the UI without a session sends to the sign-in
// page; signed in to the dashboard as the owner, a `dsr-` workflow's page
// shows its input decoded (the request's ground, which is only in the
// encrypted payload), with nothing set in the UI's codec dialog, on
// 127.0.0.1 as on localhost.
func TestTemporalUIDecodesForASignedInOfficerInTheBrowser(t *testing.T) {
	cli := testenv.Require(t, "TEMPORAL_CLI")
	browser := chromium(t)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	attrs := map[string]string{}
	for name, kind := range workflows.SearchAttributes {
		attrs[name] = kind.String()
	}
	temporal, err := devstack.StartTemporal(ctx, devstack.TemporalOptions{
		CLIPath: cli, DataDir: t.TempDir(), Port: freeTCPPort(t), UIPort: freeTCPPort(t),
		SearchAttributes: attrs, UIPublicPath: codec.UIPath, UICodecEndpoint: "/codec",
		Log: io.Discard, Logger: slog.New(slog.DiscardHandler), MaxRestarts: -1,
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = temporal.Stop(10 * time.Second) })
	upstream, err := url.Parse(temporal.UIURL())
	if err != nil {
		t.Fatal(err)
	}
	ts := newConfiguredTestServer(t, func(s *Server) { s.TemporalUIUpstream = upstream })

	owner := ts.browser(t)
	owner.signup("olivia@temporal-ui.test", "Acme")
	var olivia models.Account
	if err := ts.db.Where("email_index = ?", ts.db.Keys.BlindIndex("olivia@temporal-ui.test")).First(&olivia).Error; err != nil {
		t.Fatal(err)
	}
	c, err := client.DialContext(ctx, client.Options{HostPort: temporal.Address(), Namespace: "default",
		DataConverter: payloads.DataConverter(ts.codec), Logger: tlog.NewStructuredLogger(slog.New(slog.DiscardHandler))})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	// No worker: the request's workflow waits on its first task, its
	// input recorded (encrypted) in the history.
	const ground = "ground-seen-only-decoded"
	in := workflows.PrivacyRequestInput{RequestID: 4242, OrganizationID: olivia.OrganizationID, Type: "objection", Ground: ground, ReceivedAt: time.Now().UTC()}
	run, err := c.ExecuteWorkflow(ctx, workflows.PrivacyRequestStartOptions(in), workflows.PrivacyRequestWorkflowType, in)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = c.TerminateWorkflow(context.Background(), run.GetID(), "", "test over") }()
	if !strings.HasPrefix(run.GetID(), "dsr-") {
		t.Fatalf("workflow id %q", run.GetID())
	}
	page := "/temporal/namespaces/default/workflows/" + run.GetID()

	bctx, cancelB := chromedp.NewContext(browser, chromedp.WithNewBrowserContext())
	defer cancelB()
	bctx, cancelT := context.WithTimeout(bctx, 150*time.Second)
	defer cancelT()
	d := pageDriver{t, bctx}
	d.run("the UI without a session", chromedp.Navigate(ts.URL+page), chromedp.WaitVisible(chromedp.CSS(`input[name=password]`)))
	if got := d.eval("where the UI sent", `location.pathname`); got != "/login" {
		t.Fatalf("the UI without a session landed on %q, want /login", got)
	}
	if got := d.eval("the UI's API without a session", `fetch('/temporal/api/v1/settings').then(r => String(r.status))`); got != "401" {
		t.Fatalf("the UI's API without a session: %s, want 401", got)
	}
	d.run("sign in",
		chromedp.SendKeys(chromedp.CSS(`input[name=email]`), "olivia@temporal-ui.test"),
		chromedp.SendKeys(chromedp.CSS(`input[name=password]`), "correct horse battery"),
		chromedp.Submit(chromedp.CSS(`input[name=password]`)),
		chromedp.WaitVisible(chromedp.CSS(`[data-testid=nav-inbox]`)),
	)
	// The officer typed another host for the same server: same origin
	// all the same, so the codec call carries the session.
	localhost := strings.Replace(ts.URL, "127.0.0.1", "localhost", 1)
	for _, base := range []string{ts.URL, localhost} {
		if base == localhost {
			d.run("sign in on localhost",
				chromedp.Navigate(localhost+"/login"),
				chromedp.SendKeys(chromedp.CSS(`input[name=email]`), "olivia@temporal-ui.test"),
				chromedp.SendKeys(chromedp.CSS(`input[name=password]`), "correct horse battery"),
				chromedp.Submit(chromedp.CSS(`input[name=password]`)),
				chromedp.WaitVisible(chromedp.CSS(`[data-testid=nav-inbox]`)),
			)
		}
		d.run("the workflow in the Temporal UI on "+base, chromedp.Navigate(base+page))
		if _, err := chromedp.Run(d.ctx, chromedp.Poll[bool](`document.body.innerText.includes(`+"'"+ground+"'"+`)`,
			chromedp.WithPollingTimeout(45*time.Second))); err != nil {
			text := d.eval("the page", `location.href + "\n" + document.body.innerText.slice(0, 3000)`)
			t.Fatalf("the decoded input is not shown on %s: %v\n%s", base, err, text)
		}
	}

	// Another organization's owner sees the workflow listed (IDs and
	// search attributes hold no personal data) but its input still
	// encrypted: the codec decodes only the officer's organization's.
	other := ts.browser(t)
	other.signup("gina@globex-ui.test", "Globex")
	gctx, cancelG := chromedp.NewContext(browser, chromedp.WithNewBrowserContext())
	defer cancelG()
	gctx, cancelGT := context.WithTimeout(gctx, 90*time.Second)
	defer cancelGT()
	g := pageDriver{t, gctx}
	g.run("sign in as Globex's owner",
		chromedp.Navigate(ts.URL+"/login"),
		chromedp.SendKeys(chromedp.CSS(`input[name=email]`), "gina@globex-ui.test"),
		chromedp.SendKeys(chromedp.CSS(`input[name=password]`), "correct horse battery"),
		chromedp.Submit(chromedp.CSS(`input[name=password]`)),
		chromedp.WaitVisible(chromedp.CSS(`[data-testid=nav-inbox]`)),
		chromedp.Navigate(ts.URL+page),
	)
	if _, err := chromedp.Run(g.ctx, chromedp.Poll[bool](`(() => { const t = document.body.innerText; return t.includes('Input') && t.includes('Result') && t.includes('`+run.GetID()+`'); })()`,
		chromedp.WithPollingTimeout(45*time.Second))); err != nil {
		t.Fatalf("the workflow page for Globex's owner: %v", err)
	}
	time.Sleep(3 * time.Second) // the codec call has had its time
	text := g.eval("the page", `document.body.innerText`)
	if os.Getenv("DEBUG_UI") != "" {
		t.Log(text)
	}
	if strings.Contains(text, ground) || strings.Contains(text, `"RequestID"`) {
		t.Fatal("Globex's owner reads Acme's request in the Temporal UI")
	}
}

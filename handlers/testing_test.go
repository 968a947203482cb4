package handlers

import (
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/convot/convot/conversation"
	"github.com/convot/convot/internal/blob"
	"github.com/convot/convot/internal/config"
	"github.com/convot/convot/internal/crypto"
	"github.com/convot/convot/internal/mail"
	"github.com/convot/convot/internal/payloads"
	"github.com/convot/convot/internal/realtime"
	"github.com/convot/convot/internal/testdb"
	"github.com/convot/convot/store"
	"github.com/convot/convot/web"
)

// staticFile reads a file of web/static as the binary embeds it.
func staticFile(t *testing.T, name string) []byte {
	t.Helper()
	f, err := web.Static().Open(name)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = f.Close() }() // embedded and read only: nothing to lose
	b, err := io.ReadAll(f)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// testServer runs the dashboard against a fresh database with a clock the
// test controls.
type testServer struct {
	*httptest.Server
	srv    *Server
	db     *testdb.DB
	outbox *mail.Outbox
	codec  *payloads.Codec

	blobs      *blob.Disk
	lifecycles *recordedLifecycles

	mu  sync.Mutex
	now time.Time
}

// recordedLifecycles keeps the signals the server would send to Temporal,
// for tests that run without a Temporal server.
type recordedLifecycles struct {
	mu      sync.Mutex
	signals []conversation.LifecycleSignal
}

func (r *recordedLifecycles) Notify(s conversation.LifecycleSignal) {
	r.mu.Lock()
	r.signals = append(r.signals, s)
	r.mu.Unlock()
}

// sent returns the signals sent so far.
func (r *recordedLifecycles) sent() []conversation.LifecycleSignal {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]conversation.LifecycleSignal(nil), r.signals...)
}

func newTestServer(t *testing.T) *testServer {
	t.Helper()
	return newConfiguredTestServer(t, nil)
}

// newConfiguredTestServer is newTestServer with configure (when not nil)
// run on the Server before New builds the handler: for what New reads
// once, such as the privacy workflows and the clock.
func newConfiguredTestServer(t *testing.T, configure func(*Server)) *testServer {
	t.Helper()
	db := testdb.New(t)
	cfg, err := config.Load(func(k string) string {
		switch k {
		case "CONVOT_DATA_DIR":
			return t.TempDir()
		case "CONVOT_MAX_BODY_BYTES":
			return "65536"
		}
		return ""
	})
	if err != nil {
		t.Fatal(err)
	}
	outbox, err := mail.NewOutbox(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	ts := &testServer{db: db, outbox: outbox, now: time.Now()}
	codec, err := payloads.NewCodec(1, map[uint32][]byte{1: crypto.RandomKey()})
	if err != nil {
		t.Fatal(err)
	}
	ts.codec = codec
	if ts.blobs, err = blob.NewDisk(t.TempDir()); err != nil {
		t.Fatal(err)
	}
	ts.lifecycles = &recordedLifecycles{}
	ts.srv = &Server{Store: store.New(db.DB, db.Keys), Config: cfg, Mail: outbox, Outbox: outbox, now: ts.clock,
		PayloadCodec: codec, TemporalUIURL: "http://localhost:8233",
		Blobs: ts.blobs, Lifecycles: ts.lifecycles, Hub: realtime.NewLocal()}
	if configure != nil {
		configure(ts.srv)
	}
	h, err := New(ts.srv)
	if err != nil {
		t.Fatal(err)
	}
	ts.Server = httptest.NewServer(h)
	t.Cleanup(ts.Close)
	cfg.BaseURL, _ = url.Parse(ts.URL)
	return ts
}

func (ts *testServer) clock() time.Time {
	ts.mu.Lock()
	defer ts.mu.Unlock()
	return ts.now
}

func (ts *testServer) advance(d time.Duration) {
	ts.mu.Lock()
	ts.now = ts.now.Add(d)
	ts.mu.Unlock()
}

// browser is one browser: its own cookies, redirects not followed so the
// test sees each answer.
type browser struct {
	t    *testing.T
	ts   *testServer
	http *http.Client
	csrf string
}

func (ts *testServer) browser(t *testing.T) *browser {
	jar, _ := cookiejar.New(nil)
	return &browser{t: t, ts: ts, http: &http.Client{Jar: jar, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}}
}

var csrfInput = regexp.MustCompile(`name="csrf_token" value="([^"]+)"`)

type response struct {
	status   int
	body     string
	location string
	header   http.Header
}

func (b *browser) get(path string) response {
	b.t.Helper()
	resp, err := b.http.Get(b.ts.URL + path)
	if err != nil {
		b.t.Fatal(err)
	}
	return b.read(resp)
}

func (b *browser) read(resp *http.Response) response {
	defer func() { _ = resp.Body.Close() }() // read, not written: nothing to lose
	body, _ := io.ReadAll(resp.Body)
	if m := csrfInput.FindSubmatch(body); m != nil {
		b.csrf = string(m[1])
	}
	return response{status: resp.StatusCode, body: string(body), location: resp.Header.Get("Location"), header: resp.Header}
}

// post submits a form with the CSRF token the last page carried.
func (b *browser) post(path string, form url.Values) response {
	b.t.Helper()
	if form == nil {
		form = url.Values{}
	}
	if form.Get("csrf_token") == "" && b.csrf != "" {
		form.Set("csrf_token", b.csrf)
	}
	return b.postRaw(path, form)
}

func (b *browser) postRaw(path string, form url.Values) response {
	b.t.Helper()
	resp, err := b.http.PostForm(b.ts.URL+path, form)
	if err != nil {
		b.t.Fatal(err)
	}
	return b.read(resp)
}

// signup creates an organization and signs its owner in.
func (b *browser) signup(email, company string) {
	b.t.Helper()
	b.get("/signup")
	r := b.post("/signup", url.Values{"full_name": {"Olivia Owner"}, "email": {email}, "password": {"correct horse battery"}, "company_name": {company}, "region": {"eu"}})
	if r.status != http.StatusSeeOther || r.location != "/?notice=welcome" {
		b.t.Fatalf("signup: %d %s %s", r.status, r.location, excerpt(r.body))
	}
	b.get("/")
}

// logout signs out from the page a browser would be on.
func (b *browser) logout() {
	b.t.Helper()
	b.get("/")
	if r := b.post("/logout", nil); r.status != http.StatusSeeOther {
		b.t.Fatalf("logout: %d %s", r.status, excerpt(r.body))
	}
}

func (b *browser) login(email, password string) response {
	b.t.Helper()
	b.get("/login")
	return b.post("/login", url.Values{"email": {email}, "password": {password}})
}

// lastMail returns the newest mail to an address with a tag.
func (ts *testServer) lastMail(t *testing.T, to, tag string) mail.Message {
	t.Helper()
	msgs, err := ts.outbox.List()
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range msgs {
		if m.To == to && m.Tag == tag {
			return m
		}
	}
	t.Fatalf("no %s mail to %s", tag, to)
	return mail.Message{}
}

var linkToken = regexp.MustCompile(`token=([A-Za-z0-9_-]+)`)

func tokenIn(t *testing.T, text string) string {
	t.Helper()
	m := linkToken.FindStringSubmatch(text)
	if m == nil {
		t.Fatalf("no token link in %q", text)
	}
	return m[1]
}

func excerpt(s string) string {
	if i := strings.Index(s, `class="error"`); i >= 0 {
		s = s[i:]
	}
	if len(s) > 300 {
		s = s[:300]
	}
	return s
}

package subprocessors

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/getsentry/sentry-go"
	"github.com/gin-gonic/gin"
)

// sentryFakeServer is a Sentry ingestion endpoint: it keeps the items of
// every envelope posted to it, by type.
type sentryFakeServer struct {
	mu    sync.Mutex
	items map[string][]string
}

func (f *sentryFakeServer) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	var body io.Reader = r.Body
	if r.Header.Get("Content-Encoding") == "gzip" {
		zr, err := gzip.NewReader(r.Body)
		if err != nil {
			http.Error(w, "bad gzip", http.StatusBadRequest)
			return
		}
		body = zr
	}
	raw, _ := io.ReadAll(body)
	// An envelope: a header line, then an item header line and its payload
	// line for each item.
	sc := bufio.NewScanner(bytes.NewReader(raw))
	sc.Buffer(make([]byte, 1<<20), 1<<24)
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.items == nil {
		f.items = map[string][]string{}
	}
	first := true
	for sc.Scan() {
		if first {
			first = false
			f.items["envelope"] = append(f.items["envelope"], sc.Text())
			continue
		}
		var h struct {
			Type string `json:"type"`
		}
		if json.Unmarshal(sc.Bytes(), &h) != nil || h.Type == "" || !sc.Scan() {
			continue
		}
		f.items[h.Type] = append(f.items[h.Type], sc.Text())
	}
	w.WriteHeader(http.StatusOK)
}

func (f *sentryFakeServer) got(kind string) []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]string(nil), f.items[kind]...)
}

// sentryTracingRouter: a dashboard route that knows its organization and
// opens a child span whose description and data hold personal data.
func sentryTracingRouter() *gin.Engine {
	gin.SetMode(gin.TestMode)
	r := gin.New()
	r.Use(SentryGin())
	r.GET("/dashboard/contacts/:id", func(c *gin.Context) {
		SentrySetOrganization(c, sentryTestOrg)
		span := sentry.StartSpan(c.Request.Context(), "db.query",
			sentry.WithDescription("SELECT * FROM contacts WHERE email = '"+sentryTestEmail+"' AND ip = '"+sentryTestIP+"'"))
		span.SetData("body", sentryTestBody)
		span.SetTag("session_token", sentryTestToken)
		span.Finish()
		c.String(http.StatusOK, "ok")
	})
	return r
}

// With a traces sample rate, a request reaches Sentry as a transaction
// (over Sentry's own HTTP transport, to a fake ingestion endpoint) named
// by its route template, after the gate's decision; neither it nor its
// spans carry an email, an IP address, a token, a body, a cookie or a
// credential. With the rate at 0, no transaction is sent.
func TestSentryTransactionsScrubbed(t *testing.T) {
	gate, log := mustEgressGate(t)
	fake := &sentryFakeServer{}
	srv := httptest.NewServer(fake)
	defer srv.Close()
	dsn := strings.Replace(srv.URL, "http://", "http://public@", 1) + "/1"
	t.Cleanup(func() { sentry.CurrentHub().BindClient(nil) })

	send := func() {
		req := sentryTestRequest(http.MethodGet, "/dashboard/contacts/"+sentryTestEmail+"?token="+sentryTestToken, "")
		w := httptest.NewRecorder()
		sentryTracingRouter().ServeHTTP(w, req)
		if w.Code != http.StatusOK {
			t.Fatalf("status %d", w.Code)
		}
		if !sentry.Flush(5 * time.Second) {
			t.Fatal("Sentry did not flush")
		}
	}

	// Rate 0: no transaction.
	if err := InitSentry(dsn, gate, "test", 0, nil); err != nil {
		t.Fatal(err)
	}
	send()
	if got := fake.got("transaction"); len(got) != 0 {
		t.Fatalf("with a sample rate of 0, %d transactions were sent", len(got))
	}
	if err := InitSentry(dsn, gate, "test", 1.5, nil); err == nil {
		t.Fatal("a sample rate above 1 was accepted")
	}

	before := len(log.Records())
	if err := InitSentry(dsn, gate, "test", 1, nil); err != nil {
		t.Fatal(err)
	}
	send()
	txs := fake.got("transaction")
	if len(txs) != 1 {
		t.Fatalf("%d transactions arrived, want 1 (items: %v)", len(txs), fake.items)
	}
	js := txs[0] + strings.Join(fake.got("envelope"), "\n")
	for name, secret := range sentryTestSecrets {
		if strings.Contains(js, secret) {
			t.Errorf("the transaction carries the %s %q:\n%s", name, secret, js)
		}
	}
	var tx struct {
		Type        string                    `json:"type"`
		Transaction string                    `json:"transaction"`
		Tags        map[string]string         `json:"tags"`
		Contexts    map[string]map[string]any `json:"contexts"`
		Spans       []struct {
			Op          string            `json:"op"`
			Description string            `json:"description"`
			Data        map[string]any    `json:"data"`
			Tags        map[string]string `json:"tags"`
		} `json:"spans"`
	}
	if err := json.Unmarshal([]byte(txs[0]), &tx); err != nil {
		t.Fatal(err)
	}
	if tx.Type != "transaction" || tx.Transaction != "GET /dashboard/contacts/:id" {
		t.Errorf("transaction %q of type %q, want the route template", tx.Transaction, tx.Type)
	}
	if tx.Tags["http.status_code"] != "200" || tx.Contexts[sentryContextKey]["organization_id"] != float64(42) {
		t.Errorf("tags %v, contexts %v", tx.Tags, tx.Contexts)
	}
	if len(tx.Spans) != 1 || tx.Spans[0].Op != "db.query" {
		t.Fatalf("spans %+v, want the one db.query", tx.Spans)
	}
	sp := tx.Spans[0]
	if !strings.Contains(sp.Description, "SELECT * FROM contacts WHERE email = '"+SentryScrubbed) || sp.Data != nil ||
		sp.Tags["session_token"] != SentryScrubbed {
		t.Errorf("span not scrubbed: %+v", sp)
	}
	// The gate decided on the transaction, as the organization's flow.
	recs := log.Records()[before:]
	if len(recs) != 1 || !recs[0].Allow || recs[0].OrganizationID != 42 || recs[0].Subprocessor != sentrySubprocessor {
		t.Fatalf("decisions %+v, want one allowing organization 42's transaction", recs)
	}
	if !strings.Contains(strings.Join(recs[0].Drop, " "), sentryCatContent) {
		t.Errorf("the decision does not withhold the spans' data (%s): %v", sentryCatContent, recs[0].Drop)
	}
}

package main

import (
	"bufio"
	"context"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"go.temporal.io/api/workflowservice/v1"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/testsuite"

	"github.com/convot/convot/internal/obligations"
	"github.com/convot/convot/internal/testenv"
	"github.com/convot/convot/models"
	"github.com/convot/convot/policies"
)

// scrape GETs /metrics of the admin listener and returns its samples as
// "name{labels}" -> value (labels as Prometheus writes them, sorted).
func scrape(t *testing.T, base string) map[string]float64 {
	t.Helper()
	resp, err := http.Get(base + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = resp.Body.Close() }() // read whole below
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET /metrics: %s", resp.Status)
	}
	samples := map[string]float64{}
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		i := strings.LastIndexByte(line, ' ')
		v, err := strconv.ParseFloat(line[i+1:], 64)
		if err != nil {
			t.Fatalf("sample %q: %v", line, err)
		}
		samples[line[:i]] = v
	}
	return samples
}

// sum adds the samples of name whose labels include every one of want
// (each `key="value"`); found says whether any matched.
func sum(samples map[string]float64, name string, want ...string) (total float64, found bool) {
	for k, v := range samples {
		series, labels, _ := strings.Cut(k, "{")
		if series != name {
			continue
		}
		ok := true
		for _, w := range want {
			if !strings.Contains(labels, w) {
				ok = false
			}
		}
		if ok {
			total, found = total+v, true
		}
	}
	return total, found
}

// /metrics on the admin listener (and only there) carries the named
// series, and they move: requests by route template (never the raw
// path), gate decisions by subprocessor and result, open privacy
// requests by status and days left, the backup age, and the Temporal
// SDK's own metrics from the app's Temporal client.
func TestMetricsOnTheAdminListener(t *testing.T) {
	cli := testenv.Require(t, "TEMPORAL_CLI")
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	dev, err := testsuite.StartDevServer(ctx, testsuite.DevServerOptions{ExistingPath: cli, LogLevel: "error", ClientOptions: &client.Options{Namespace: "default"}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = dev.Stop() }) // the test is over

	adminPort := freePort(t)
	t.Setenv("CONVOT_DATA_DIR", t.TempDir())
	t.Setenv("CONVOT_MASTER_KEY", "")
	t.Setenv("DATABASE_URL", "") // SQLite in the temporary directory
	t.Setenv("CONVOT_ADMIN_ADDR", "127.0.0.1:"+strconv.Itoa(adminPort))
	a, err := openApp(ctx, true, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	defer a.close()
	c, err := dialTemporalAt(ctx, a.cfg, a.master, dev.FrontendHostPort())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	a.temporal = c
	srv, err := a.httpServer()
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	served := make(chan error, 1)
	go func() { served <- a.serveHTTP(ctx, srv, ln) }()
	defer func() {
		cancel()
		if err := <-served; err != nil {
			t.Errorf("serveHTTP: %v", err)
		}
	}()
	stopAdmin, err := startAdmin(ctx, a.cfg, adminServer{readyz: srv.Handler})
	if err != nil {
		t.Fatal(err)
	}
	defer stopAdmin()
	admin, public := "http://127.0.0.1:"+strconv.Itoa(adminPort), "http://"+ln.Addr().String()

	before := scrape(t, admin)
	const token = "RAWTOKEN4242"
	for i := 0; i < 3; i++ {
		for _, path := range []string{"/login", "/privacy-downloads/" + token, "/no-such-page-" + token} {
			resp, err := http.Get(public + path)
			if err != nil {
				t.Fatal(err)
			}
			_ = resp.Body.Close() // only counted
		}
	}
	// Gate decisions: an AI flow with the feature off is denied.
	if _, err := a.gate.Authorize(ctx, policies.Flow{Subprocessor: "openai", Purpose: "functional.ai.embeddings",
		Categories: []string{"user.content.message"}, Organization: policies.OrgContext{ID: 1, Region: "us"},
		Subject: policies.SubjectContext{Kind: "end_user"}, Feature: "embeddings"}); err != nil {
		t.Fatal(err)
	}
	// A Temporal call through the app's client.
	if _, err := c.ListWorkflow(ctx, &workflowservice.ListWorkflowExecutionsRequest{Namespace: "default"}); err != nil {
		t.Fatal(err)
	}
	// State read at scrape time: an open request due in 3 days, an
	// overdue one, and a backup completed two hours ago.
	now := time.Now().UTC()
	for _, r := range []models.PrivacyRequest{
		{OrganizationID: 1, Type: obligations.DsrAccess, Status: obligations.DsrReceived, ReceivedAt: now, Deadline: now.Add(3*24*time.Hour + time.Hour)},
		{OrganizationID: 1, Type: obligations.DsrErasure, Status: obligations.DsrReceived, ReceivedAt: now, Deadline: now.Add(-time.Hour)},
		{OrganizationID: 1, Type: obligations.DsrErasure, Status: obligations.DsrCompleted, ReceivedAt: now, Deadline: now.Add(time.Hour)},
	} {
		if err := a.store.CreatePrivacyRequest(ctx, &r); err != nil {
			t.Fatal(err)
		}
	}
	done := now.Add(-2 * time.Hour)
	if err := a.store.CreateBackup(ctx, &models.Backup{Status: models.BackupCompleted, TakenAt: done.Add(-time.Minute), CompletedAt: &done, ExpiresAt: now.Add(time.Hour)}); err != nil {
		t.Fatal(err)
	}
	after := scrape(t, admin)

	moved := func(name string, by float64, labels ...string) {
		t.Helper()
		b, _ := sum(before, name, labels...)
		v, ok := sum(after, name, labels...)
		if !ok || v-b < by {
			t.Errorf("%s%v: %v -> %v (found %v), want +%v", name, labels, b, v, ok, by)
		}
	}
	moved("convot_http_requests_total", 3, `route="/login"`, `method="GET"`, `code="200"`)
	moved("convot_http_requests_total", 3, `route="/privacy-downloads/:token"`)
	moved("convot_http_requests_total", 3, `route="unmatched"`, `code="404"`)
	moved("convot_http_request_duration_seconds_count", 3, `route="/login"`)
	moved("convot_gate_decisions_total", 1, `subprocessor="openai"`, `result="deny"`)
	moved("convot_privacy_requests_open", 1, `status="received"`, `days_left="0-7"`)
	moved("convot_privacy_requests_open", 1, `status="received"`, `days_left="overdue"`)
	if _, ok := sum(after, "convot_privacy_requests_open", `status="completed"`); ok {
		t.Error("a completed request is counted as open")
	}
	if age, ok := sum(after, "convot_backup_age_seconds"); !ok || age < 7100 || age > 7400 {
		t.Errorf("convot_backup_age_seconds = %v (found %v), want about 7200", age, ok)
	}
	// The SDK's own request counter, from the client's calls (dial included).
	moved("temporal_request", 1)
	if _, ok := sum(after, "temporal_request", `operation="ListWorkflowExecutions"`); !ok {
		for k := range after {
			if strings.HasPrefix(k, "temporal_") {
				t.Log(k)
			}
		}
		t.Error("temporal_request lacks the operation ListWorkflowExecutions")
	}
	if _, ok := sum(after, "go_goroutines"); !ok {
		t.Error("no Go runtime metrics")
	}
	for k := range after {
		if strings.Contains(k, token) {
			t.Errorf("a raw path leaked into a label: %s", k)
		}
	}
	// Not on the public port.
	resp, err := http.Get(public + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	_ = resp.Body.Close() // only the status is wanted
	if resp.StatusCode == http.StatusOK {
		t.Error("/metrics is served on the public port")
	}
}

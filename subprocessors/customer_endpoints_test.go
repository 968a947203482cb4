package subprocessors

import (
	"context"
	"errors"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"net/url"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/convot/convot/policies"
)

// fakeResolver answers every host from its table; nothing reaches DNS.
type fakeResolver map[string][]string

func (f fakeResolver) LookupIPAddr(_ context.Context, host string) ([]net.IPAddr, error) {
	ips, ok := f[host]
	if !ok {
		return nil, &net.DNSError{Err: "no such host", Name: host, IsNotFound: true}
	}
	var out []net.IPAddr
	for _, s := range ips {
		out = append(out, net.IPAddr{IP: net.ParseIP(s)})
	}
	return out, nil
}

var webhookOrg = policies.OrgContext{ID: 7, Region: "eu"}

func webhookRequest(u string) EndpointRequest {
	return EndpointRequest{
		URL: u, Body: []byte(`{"type":"webhook.test"}`), Header: http.Header{"Webhook-Id": {"msg_1"}},
		Categories: []string{"system.operations"}, Organization: webhookOrg,
		Subject: policies.SubjectContext{Kind: "none"},
	}
}

// countingServer counts the requests it receives.
func countingServer(t *testing.T, h http.HandlerFunc) (*httptest.Server, *atomic.Int64) {
	t.Helper()
	var n atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n.Add(1)
		h(w, r)
	}))
	t.Cleanup(srv.Close)
	return srv, &n
}

// An endpoint whose host resolves to loopback, the cloud metadata address
// or a private network is refused at connect time: nothing is sent, and the
// error says why. The same host is reached when the development setting
// allows private addresses, so the refusal is the guard's.
func TestCustomerEndpointRefusesInternalAddresses(t *testing.T) {
	gate, _ := mustEgressGate(t)
	srv, hits := countingServer(t, func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusNoContent) })
	port := srv.Listener.Addr().(*net.TCPAddr).Port
	resolver := fakeResolver{
		"loopback.example": {"127.0.0.1"},
		"metadata.example": {"169.254.169.254"},
		"private.example":  {"10.0.0.1"},
		"mixed.example":    {"10.0.0.1", "127.0.0.1", "fd00::1"},
	}
	c, err := NewCustomerEndpoints(gate, CustomerEndpointsConfig{Resolver: resolver, Timeout: 2 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	for _, host := range []string{"loopback.example", "metadata.example", "private.example", "mixed.example", "127.0.0.1", "169.254.169.254", "10.0.0.1", "[::1]"} {
		u := "http://" + host + ":" + itoa(port) + "/hook"
		_, err := c.Deliver(context.Background(), webhookRequest(u))
		if !errors.Is(err, ErrRefusedAddress) {
			t.Errorf("%s: err %v, want ErrRefusedAddress", host, err)
		}
		parsed, _ := url.Parse(u)
		if err := c.CheckURL(context.Background(), parsed); !errors.Is(err, ErrRefusedAddress) {
			t.Errorf("CheckURL %s: %v, want ErrRefusedAddress", host, err)
		}
	}
	if n := hits.Load(); n != 0 {
		t.Fatalf("%d requests reached the server behind refused addresses", n)
	}

	dev, err := NewCustomerEndpoints(gate, CustomerEndpointsConfig{Resolver: resolver, AllowPrivate: true, Timeout: 2 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	resp, err := dev.Deliver(context.Background(), webhookRequest("http://loopback.example:"+itoa(port)+"/hook"))
	if err != nil || resp.Status != http.StatusNoContent || hits.Load() != 1 {
		t.Fatalf("with private addresses allowed: %+v %v, %d requests", resp, err, hits.Load())
	}
}

// The ranges the guard refuses, and public addresses it lets through.
func TestRefusedAddress(t *testing.T) {
	for _, s := range []string{"127.0.0.1", "127.8.8.8", "::1", "10.0.0.1", "172.16.5.4", "192.168.1.1", "169.254.169.254",
		"169.254.1.1", "fe80::1", "fc00::1", "0.0.0.0", "::", "100.64.0.1", "224.0.0.1", "::ffff:127.0.0.1", "::ffff:169.254.169.254", "fd00:ec2::254"} {
		if RefusedAddress(netip.MustParseAddr(s)) == "" {
			t.Errorf("%s is allowed", s)
		}
	}
	for _, s := range []string{"93.184.215.14", "8.8.8.8", "2606:4700::1111"} {
		if why := RefusedAddress(netip.MustParseAddr(s)); why != "" {
			t.Errorf("%s refused: %s", s, why)
		}
	}
}

// A redirect is the endpoint's answer: its target is never requested.
func TestCustomerEndpointFollowsNoRedirect(t *testing.T) {
	gate, _ := mustEgressGate(t)
	target, targetHits := countingServer(t, func(w http.ResponseWriter, _ *http.Request) {})
	srv, _ := countingServer(t, func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, target.URL+"/elsewhere", http.StatusTemporaryRedirect)
	})
	c, _ := NewCustomerEndpoints(gate, CustomerEndpointsConfig{AllowPrivate: true, Timeout: 2 * time.Second})
	resp, err := c.Deliver(context.Background(), webhookRequest(srv.URL))
	if err != nil || resp.Status != http.StatusTemporaryRedirect {
		t.Fatalf("%+v %v", resp, err)
	}
	if targetHits.Load() != 0 {
		t.Fatal("the redirect was followed")
	}
}

// An endpoint that hangs is given up after the timeout.
func TestCustomerEndpointTimesOut(t *testing.T) {
	gate, _ := mustEgressGate(t)
	release := make(chan struct{})
	srv, _ := countingServer(t, func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-release:
		case <-r.Context().Done():
		}
	})
	defer close(release)
	c, _ := NewCustomerEndpoints(gate, CustomerEndpointsConfig{AllowPrivate: true, Timeout: 300 * time.Millisecond})
	start := time.Now()
	_, err := c.Deliver(context.Background(), webhookRequest(srv.URL))
	if err == nil || time.Since(start) > 5*time.Second {
		t.Fatalf("err %v after %s", err, time.Since(start))
	}
}

// Every delivery asks the gate, which records the decision: the Customer
// receiving its own data is allowed; a restricted contact's content is
// not, and nothing is sent.
func TestCustomerEndpointAsksTheGate(t *testing.T) {
	gate, log := mustEgressGate(t)
	srv, hits := countingServer(t, func(w http.ResponseWriter, _ *http.Request) { _, _ = w.Write([]byte(strings.Repeat("é", 400))) })
	c, _ := NewCustomerEndpoints(gate, CustomerEndpointsConfig{AllowPrivate: true})
	resp, err := c.Deliver(context.Background(), webhookRequest(srv.URL))
	if err != nil || resp.Status != http.StatusOK || len(resp.Excerpt) > 512 || !strings.HasPrefix(resp.Excerpt, "é") {
		t.Fatalf("%+v %v", resp, err)
	}
	req := webhookRequest(srv.URL)
	req.Categories = []string{"system.operations", "user.content.message"}
	req.Subject = policies.SubjectContext{Kind: "end_user", Restricted: true}
	if _, err := c.Deliver(context.Background(), req); !errors.Is(err, ErrDenied) || !strings.Contains(err.Error(), "restricted") {
		t.Fatalf("restricted contact's content: %v", err)
	}
	if hits.Load() != 1 {
		t.Fatalf("%d requests, want 1", hits.Load())
	}
	entries := log.Records()
	if len(entries) != 2 || !entries[0].Allow || entries[1].Allow || entries[0].Subprocessor != CustomerEndpointRecipient || entries[0].OrganizationID != 7 {
		t.Fatalf("decision log %+v", entries)
	}
}

func itoa(n int) string { return strconv.Itoa(n) }

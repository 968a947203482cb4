package main

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"io"
	"net/http"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/convot/convot/internal/config"
	"github.com/convot/convot/internal/crypto"
)

// `convot healthcheck` answers for the admin listener of serve and worker
// (the distroless image has no curl): 0 while it answers /healthz, an
// error naming the URL once it is gone. The admin listener answers HEAD
// as it answers GET.
func TestHealthcheckProbesTheAdminListener(t *testing.T) {
	port := freePort(t)
	t.Setenv("CONVOT_ADMIN_ADDR", "127.0.0.1:"+strconv.Itoa(port))
	cfg, err := config.Load(os.Getenv)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	notReady := errors.New("temporal down")
	var ready error
	stop, err := startAdmin(ctx, cfg, adminServer{ready: func(context.Context) error { return ready }})
	if err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	if err := runHealthcheck(ctx, nil, &out); err != nil || !strings.Contains(out.String(), "200") {
		t.Fatalf("healthcheck of a live listener: %v %q", err, out.String())
	}
	base := "http://127.0.0.1:" + strconv.Itoa(port)
	for _, path := range []string{"/healthz", "/readyz"} {
		resp, err := http.Head(base + path)
		if err != nil || resp.StatusCode != http.StatusOK {
			t.Fatalf("HEAD %s: %v %v", path, resp, err)
		}
		_ = resp.Body.Close()
	}
	ready = notReady
	if err := runHealthcheck(ctx, []string{"-path", "/readyz"}, io.Discard); err == nil || !strings.Contains(err.Error(), "503") {
		t.Fatalf("healthcheck -path /readyz with Temporal down: %v", err)
	}
	stop()
	err = runHealthcheck(ctx, nil, io.Discard)
	if err == nil || !strings.Contains(err.Error(), base+"/healthz") {
		t.Fatalf("healthcheck of a stopped listener: %v", err)
	}
}

// migrate -wait retries with backoff while a dependency is not ready, and
// gives up with the last error once the deadline is near; without -wait
// the first error is returned at once.
func TestMigrateRetriesUntilDeadline(t *testing.T) {
	ctx := context.Background()
	calls := 0
	err := retryUntil(ctx, time.Now().Add(10*time.Second), "database", func() error {
		calls++
		if calls < 3 {
			return errors.New("connection refused")
		}
		return nil
	})
	if err != nil || calls != 3 {
		t.Fatalf("retry until ready: %v after %d calls", err, calls)
	}
	calls = 0
	start := time.Now()
	err = retryUntil(ctx, time.Now().Add(time.Second), "temporal", func() error { calls++; return errors.New("namespace default not found") })
	if err == nil || !strings.Contains(err.Error(), "temporal not ready after") || !strings.Contains(err.Error(), "namespace default not found") {
		t.Fatalf("past the deadline: %v", err)
	}
	if calls < 2 || time.Since(start) > 3*time.Second {
		t.Fatalf("%d attempts in %s", calls, time.Since(start))
	}
	calls = 0
	if err := retryUntil(ctx, time.Now(), "database", func() error { calls++; return errors.New("down") }); err == nil || calls != 1 {
		t.Fatalf("no wait: %v after %d calls", err, calls)
	}
}

// The Temporal client speaks mTLS with TEMPORAL_TLS_CERT/KEY, verifies the
// frontend against TEMPORAL_TLS_CA, and sends TEMPORAL_API_KEY as
// credentials; with none of them it dials plain gRPC (the dev server).
func TestTemporalClientTLSAndAPIKey(t *testing.T) {
	dir := t.TempDir()
	certFile, keyFile := selfSigned(t, dir)
	master, err := crypto.ParseMasterKeys(crypto.GenerateMasterKey(1))
	if err != nil {
		t.Fatal(err)
	}
	plain, err := config.Load(func(string) string { return "" })
	if err != nil {
		t.Fatal(err)
	}
	opts, err := temporalOptions(plain, master, "localhost:7233")
	if err != nil || opts.ConnectionOptions.TLS != nil || opts.Credentials != nil {
		t.Fatalf("no TLS setting: %+v %v", opts.ConnectionOptions.TLS, err)
	}

	env := map[string]string{"TEMPORAL_TLS_CERT": certFile, "TEMPORAL_TLS_KEY": keyFile, "TEMPORAL_TLS_CA": certFile, "TEMPORAL_API_KEY": "test-api-key"}
	cfg, err := config.Load(func(k string) string { return env[k] })
	if err != nil {
		t.Fatal(err)
	}
	opts, err = temporalOptions(cfg, master, "localhost:7233")
	if err != nil {
		t.Fatal(err)
	}
	if opts.Credentials == nil {
		t.Fatal("TEMPORAL_API_KEY set but no credentials")
	}
	clientTLS := opts.ConnectionOptions.TLS
	if clientTLS == nil || clientTLS.ServerName != "localhost" || len(clientTLS.Certificates) != 1 || clientTLS.MinVersion < tls.VersionTLS12 {
		t.Fatalf("client TLS: %+v", clientTLS)
	}
	// A frontend that requires a client certificate signed by the CA
	// completes the handshake with the client's configuration.
	serverCert, err := tls.LoadX509KeyPair(certFile, keyFile)
	if err != nil {
		t.Fatal(err)
	}
	pemBytes, _ := os.ReadFile(certFile)
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(pemBytes)
	ln, err := tls.Listen("tcp", "127.0.0.1:0", &tls.Config{Certificates: []tls.Certificate{serverCert}, ClientCAs: pool, ClientAuth: tls.RequireAndVerifyClientCert, MinVersion: tls.VersionTLS12})
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = ln.Close() }()
	handshakes := make(chan error, 2)
	go func() {
		for range 2 {
			conn, err := ln.Accept()
			if err != nil {
				handshakes <- err
				return
			}
			handshakes <- conn.(*tls.Conn).Handshake()
			_ = conn.Close()
		}
	}()
	conn, err := tls.Dial("tcp", ln.Addr().String(), clientTLS)
	if err != nil {
		t.Fatalf("mTLS dial: %v", err)
	}
	_ = conn.Close()
	if err := <-handshakes; err != nil {
		t.Fatalf("server side of the mTLS handshake: %v", err)
	}
	// Without the client certificate the frontend refuses.
	noCert := clientTLS.Clone()
	noCert.Certificates = nil
	if conn, err := tls.Dial("tcp", ln.Addr().String(), noCert); err == nil {
		_, _ = conn.Read(make([]byte, 1)) // TLS 1.3 reports the refusal on first read
		_ = conn.Close()
	}
	if err := <-handshakes; err == nil {
		t.Fatal("frontend accepted a client without certificate")
	}

	// Half a key pair, or a CA file that holds no certificate, stops at start.
	if _, err := config.Load(func(k string) string { return map[string]string{"TEMPORAL_TLS_CERT": certFile}[k] }); err == nil {
		t.Fatal("TEMPORAL_TLS_CERT without TEMPORAL_TLS_KEY accepted")
	}
	bad := dir + "/empty.pem"
	writeFile(t, bad, "no certificate here")
	cfg, err = config.Load(func(k string) string { return map[string]string{"TEMPORAL_TLS_CA": bad}[k] })
	if err != nil {
		t.Fatal(err)
	}
	if _, err := temporalOptions(cfg, master, "localhost:7233"); err == nil || !strings.Contains(err.Error(), "TEMPORAL_TLS_CA") {
		t.Fatalf("CA file without a certificate: %v", err)
	}
}

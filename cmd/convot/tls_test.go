package main

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func selfSigned(t *testing.T, dir string) (certFile, keyFile string) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "localhost"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IPAddresses: []net.IP{net.ParseIP("127.0.0.1")}, DNSNames: []string{"localhost"}}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	keyDER, _ := x509.MarshalECPrivateKey(key)
	certFile, keyFile = filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	writeFile(t, certFile, string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})))
	writeFile(t, keyFile, string(pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: keyDER})))
	return certFile, keyFile
}

// With a certificate the server speaks TLS 1.2 or newer only, sends HSTS
// and marks its cookies Secure. Go servers have defaulted to TLS 1.2 since
// Go 1.22, so a handshake alone would pass without Convot's setting: the
// test checks the config's explicit MinVersion and suites, then runs with
// GODEBUG=tls10server=1 (Go's switch back to a TLS 1.0 default), under which
// only Convot's own settings (MinVersion, and AEAD suites that TLS 1.1
// cannot use) refuse TLS 1.1; it also offers CBC suites (in Go's default
// list) that Convot's list excludes.
func TestTLSOnlyFromVersion12(t *testing.T) {
	cfg := serverTLSConfig()
	if cfg.MinVersion != tls.VersionTLS12 {
		t.Fatalf("server MinVersion = %#x, want TLS 1.2 set explicitly", cfg.MinVersion)
	}
	if len(cfg.CipherSuites) == 0 {
		t.Fatal("server cipher suites left to Go's default, which includes CBC suites")
	}
	for _, id := range cfg.CipherSuites {
		name := tls.CipherSuiteName(id)
		aead := strings.Contains(name, "_GCM_") || strings.Contains(name, "CHACHA20")
		if !strings.HasPrefix(name, "TLS_ECDHE_") || !aead {
			t.Errorf("server offers %s: not forward-secret AEAD", name)
		}
	}
	for _, s := range tls.InsecureCipherSuites() {
		for _, id := range cfg.CipherSuites {
			if s.ID == id {
				t.Errorf("server offers insecure suite %s", s.Name)
			}
		}
	}

	// Go re-reads GODEBUG when it is set: the default minimum falls to TLS 1.0.
	t.Setenv("GODEBUG", "tls10server=1")
	dir := t.TempDir()
	cert, key := selfSigned(t, dir)
	t.Setenv("CONVOT_DATA_DIR", dir)
	t.Setenv("CONVOT_TLS_CERT", cert)
	t.Setenv("CONVOT_TLS_KEY", key)
	t.Setenv("CONVOT_MASTER_KEY", "")
	t.Setenv("DATABASE_URL", "") // SQLite in the temporary directory keeps the test self-contained
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	a, err := openApp(ctx, true, os.Stderr)
	if err != nil {
		t.Fatal(err)
	}
	defer a.close()
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
	addr := ln.Addr().String()

	for _, c := range []struct {
		name string
		cfg  *tls.Config
	}{
		{"TLS 1.1", &tls.Config{InsecureSkipVerify: true, MinVersion: tls.VersionTLS10, MaxVersion: tls.VersionTLS11}},                                                                                   // #nosec: test of refusal
		{"TLS 1.0", &tls.Config{InsecureSkipVerify: true, MinVersion: tls.VersionTLS10, MaxVersion: tls.VersionTLS10}},                                                                                   // #nosec: test of refusal
		{"TLS 1.2 CBC", &tls.Config{InsecureSkipVerify: true, MaxVersion: tls.VersionTLS12, CipherSuites: []uint16{tls.TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA, tls.TLS_ECDHE_ECDSA_WITH_AES_256_CBC_SHA}}}, // #nosec: test of refusal
	} {
		if conn, err := tls.Dial("tcp", addr, c.cfg); err == nil {
			v := conn.ConnectionState().Version
			_ = conn.Close() // the test fails either way
			t.Errorf("a %s handshake succeeded (version %#x)", c.name, v)
		}
	}
	for _, v := range []uint16{tls.VersionTLS12, tls.VersionTLS13} {
		conn, err := tls.Dial("tcp", addr, &tls.Config{InsecureSkipVerify: true, MinVersion: v, MaxVersion: v}) // #nosec: self-signed test certificate
		if err != nil {
			t.Fatalf("handshake at %#x: %v", v, err)
		}
		_ = conn.Close()
	}
	client := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{InsecureSkipVerify: true, MinVersion: tls.VersionTLS12}}} // #nosec: self-signed test certificate
	resp, err := client.Get("https://" + addr + "/login")
	if err != nil {
		t.Fatal(err)
	}
	_ = resp.Body.Close() // only the status and headers are wanted
	if resp.StatusCode != 200 || !strings.Contains(resp.Header.Get("Strict-Transport-Security"), "max-age=") {
		t.Fatalf("GET /login over TLS: %d, HSTS %q", resp.StatusCode, resp.Header.Get("Strict-Transport-Security"))
	}
	for _, c := range resp.Header.Values("Set-Cookie") {
		if !strings.Contains(c, "Secure") {
			t.Errorf("cookie without Secure under TLS: %s", c)
		}
	}
}

package main

import "crypto/tls"

// serverTLSConfig is the TLS configuration of Convot's HTTP server (policy
// §10: "TLS 1.2 or newer" in transit). The minimum is set explicitly rather
// than left to Go's default, which a GODEBUG setting (tls10server=1) or an
// older toolchain lowers to TLS 1.0. For TLS 1.2 only forward-secret AEAD
// suites are offered: no CBC, no RSA key exchange, no 3DES (TLS 1.3 suites
// are not configurable and are all AEAD).
func serverTLSConfig() *tls.Config {
	return &tls.Config{
		MinVersion: tls.VersionTLS12,
		CipherSuites: []uint16{
			tls.TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256,
			tls.TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256,
			tls.TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384,
			tls.TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384,
			tls.TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256,
			tls.TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256,
		},
	}
}

package payloads

import (
	"net/http"

	"go.temporal.io/sdk/converter"
)

// MaxRequestBytes bounds a codec request: a batch of payloads, each at most
// Temporal's 2 MB blob limit, as JSON.
const MaxRequestBytes = 16 << 20

// Handler is the codec server the Temporal UI (and CLI) calls to show
// payloads in clear: POST <prefix>/decode and <prefix>/encode, bodies as
// JSON-encoded temporal.api.common.v1.Payloads.
//
// allowedOrigin is the Temporal UI's origin (scheme://host[:port]). A
// browser request from it gets CORS headers, credentials included, and
// its preflight (OPTIONS) is answered; a request from any other origin is
// refused. Requests without an Origin (CLI, scripts) are served like the
// UI's.
//
// authorize is asked on every request except the preflight, which carries
// no credentials; false answers 401. The caller decides who may read
// payloads: a privacy officer's session, a bearer token.
func Handler(c *Codec, allowedOrigin string, authorize func(*http.Request) bool) http.Handler {
	codec := converter.NewPayloadCodecHTTPHandler(c)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("Cache-Control", "no-store")
		h.Add("Vary", "Origin")
		if origin := r.Header.Get("Origin"); origin != "" {
			if allowedOrigin == "" || origin != allowedOrigin {
				http.Error(w, "origin not allowed", http.StatusForbidden)
				return
			}
			h.Set("Access-Control-Allow-Origin", allowedOrigin)
			h.Set("Access-Control-Allow-Credentials", "true")
		}
		if r.Method == http.MethodOptions {
			h.Set("Access-Control-Allow-Methods", "POST, OPTIONS")
			h.Set("Access-Control-Allow-Headers", "Content-Type, X-Namespace, Authorization")
			h.Set("Access-Control-Max-Age", "600")
			w.WriteHeader(http.StatusNoContent)
			return
		}
		if authorize == nil || !authorize(r) {
			http.Error(w, "not authorized to read Temporal payloads", http.StatusUnauthorized)
			return
		}
		if r.Method != http.MethodPost {
			h.Set("Allow", "POST, OPTIONS")
			http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
			return
		}
		if r.ContentLength > MaxRequestBytes {
			http.Error(w, "request too large", http.StatusRequestEntityTooLarge)
			return
		}
		r.Body = http.MaxBytesReader(w, r.Body, MaxRequestBytes)
		codec.ServeHTTP(w, r)
	})
}

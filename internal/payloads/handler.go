package payloads

import (
	"net/http"
	"net/url"
	"strings"

	commonpb "go.temporal.io/api/common/v1"
	"go.temporal.io/sdk/converter"
)

// MaxRequestBytes bounds a codec request: a batch of payloads, each at most
// Temporal's 2 MB blob limit, as JSON.
const MaxRequestBytes = 16 << 20

// Handler is the codec server the Temporal UI (and CLI) calls to show
// payloads in clear: POST <prefix>/decode and <prefix>/encode, bodies as
// JSON-encoded temporal.api.common.v1.Payloads.
//
// A browser request is served when it comes from the server's own origin
// (the Temporal UI proxied under Convot's origin: its Origin names the
// request's own host) or from allowedOrigin, a Temporal UI served on an
// origin of its own (scheme://host[:port]; empty for none), which gets
// CORS headers, credentials included, and its preflight (OPTIONS)
// answered. A request from any other origin is refused. Requests without
// an Origin (CLI, scripts) are served like the UI's.
//
// authorize is asked on every request except the preflight, which carries
// no credentials; false answers 401. It says who reads (Reader): decode
// answers what that reader may read in clear and leaves the rest
// encrypted (Codec.DecodeFor); encode is for staff only (403 otherwise).
func Handler(c *Codec, allowedOrigin string, authorize func(*http.Request) (Reader, bool)) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("Cache-Control", "no-store")
		h.Add("Vary", "Origin")
		if origin := r.Header.Get("Origin"); origin != "" && !sameOrigin(origin, r) {
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
		var reader Reader
		ok := false
		if authorize != nil {
			reader, ok = authorize(r)
		}
		if !ok {
			http.Error(w, "not authorized to read Temporal payloads", http.StatusUnauthorized)
			return
		}
		if r.Method != http.MethodPost {
			h.Set("Allow", "POST, OPTIONS")
			http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
			return
		}
		if strings.HasSuffix(r.URL.Path, "/encode") && !reader.Staff {
			http.Error(w, "only Convot's staff may encode Temporal payloads", http.StatusForbidden)
			return
		}
		if r.ContentLength > MaxRequestBytes {
			http.Error(w, "request too large", http.StatusRequestEntityTooLarge)
			return
		}
		r.Body = http.MaxBytesReader(w, r.Body, MaxRequestBytes)
		converter.NewPayloadCodecHTTPHandler(readerCodec{c, reader}).ServeHTTP(w, r)
	})
}

// sameOrigin: the browser's Origin names the host the request was sent
// to. Another site's page cannot send that Origin; a name rebound to this
// server's address could, but the browser then sends no session cookie of
// this origin with it.
func sameOrigin(origin string, r *http.Request) bool {
	u, err := url.Parse(origin)
	return err == nil && u.Host != "" && strings.EqualFold(u.Host, r.Host)
}

// readerCodec decodes for one reader.
type readerCodec struct {
	c      *Codec
	reader Reader
}

func (rc readerCodec) Encode(ps []*commonpb.Payload) ([]*commonpb.Payload, error) {
	return rc.c.Encode(ps)
}

func (rc readerCodec) Decode(ps []*commonpb.Payload) ([]*commonpb.Payload, error) {
	return rc.c.DecodeFor(rc.reader, ps)
}

package handlers

import (
	"net/http"
	"strings"
	"testing"

	"github.com/gin-gonic/gin"
)

// HEAD is answered wherever GET is, with GET's status and headers and no
// body: every GET route without a parameter, for a signed-in owner (so the
// dashboard's pages answer too), and /healthz for a stranger.
func TestHeadAnsweredWhereverGetIs(t *testing.T) {
	ts, owner := acmeOwner(t)
	head := func(b *browser, path string) *http.Response {
		t.Helper()
		req, _ := http.NewRequest(http.MethodHead, ts.URL+path, nil)
		resp, err := b.http.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		_ = resp.Body.Close() // HEAD: no body
		return resp
	}
	if resp := head(ts.browser(t), "/healthz"); resp.StatusCode != http.StatusOK {
		t.Fatalf("HEAD /healthz: %s", resp.Status)
	}
	checked := 0
	for _, rt := range ts.Config.Handler.(*gin.Engine).Routes() {
		if rt.Method != http.MethodGet || strings.ContainsAny(rt.Path, ":*") || strings.Contains(rt.Path, "/ws") ||
			strings.HasSuffix(rt.Path, "/logout") {
			continue
		}
		get := owner.get(rt.Path)
		resp := head(owner, rt.Path)
		if resp.StatusCode != get.status {
			t.Errorf("HEAD %s: %d, GET: %d", rt.Path, resp.StatusCode, get.status)
		}
		if ct := get.header.Get("Content-Type"); resp.Header.Get("Content-Type") != ct {
			t.Errorf("HEAD %s: Content-Type %q, GET: %q", rt.Path, resp.Header.Get("Content-Type"), ct)
		}
		checked++
	}
	if checked < 10 {
		t.Fatalf("only %d GET routes checked", checked)
	}
	// A path with no GET route is still 404 for HEAD.
	if resp := head(owner, "/no-such-page"); resp.StatusCode != http.StatusNotFound {
		t.Fatalf("HEAD of nothing: %s", resp.Status)
	}
}

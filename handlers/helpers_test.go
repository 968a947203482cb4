package handlers

import (
	"bytes"
	"errors"
	"mime/multipart"
	"net/http"
	"net/http/httptest"
	"strconv"
	"testing"

	"github.com/convot/convot/internal/realtime"
)

// multipartForm encodes fields and, when fileName is set, data as the form's
// "file" part, the way a browser uploads; it returns the body and its
// content type.
func multipartForm(t *testing.T, fields map[string]string, fileName string, data []byte) (*bytes.Buffer, string) {
	t.Helper()
	var buf bytes.Buffer
	mw := multipart.NewWriter(&buf)
	var errs []error
	for k, v := range fields {
		errs = append(errs, mw.WriteField(k, v))
	}
	if fileName != "" {
		fw, err := mw.CreateFormFile("file", fileName)
		if err == nil {
			_, err = fw.Write(data)
		}
		errs = append(errs, err)
	}
	if err := errors.Join(append(errs, mw.Close())...); err != nil {
		t.Fatal(err)
	}
	return &buf, mw.FormDataContentType()
}

// anotherNode starts another web node on ts's database, store, mail, blobs
// and clock, like a second replica behind a load balancer; configure sets
// what the node has of its own before New builds it.
func (ts *testServer) anotherNode(t *testing.T, configure func(*Server)) *testServer {
	t.Helper()
	s := &Server{Store: ts.srv.Store, Config: ts.srv.Config, Mail: ts.srv.Mail, Outbox: ts.srv.Outbox,
		Blobs: ts.blobs, Lifecycles: ts.lifecycles, now: ts.clock}
	configure(s)
	h, err := New(s)
	if err != nil {
		t.Fatal(err)
	}
	node := &testServer{Server: httptest.NewServer(h), srv: s, db: ts.db, outbox: ts.outbox, blobs: ts.blobs, lifecycles: ts.lifecycles, now: ts.now}
	t.Cleanup(node.Close)
	return node
}

// acmeOwner is a test server and the browser of Olivia, who signed Acme up.
func acmeOwner(t *testing.T) (*testServer, *browser) {
	t.Helper()
	ts := newTestServer(t)
	owner := ts.browser(t)
	owner.signup("olivia@acme.test", "Acme")
	return ts, owner
}

// acmeInbox is a test server and the inbox of Acme, signed up by Olivia.
func acmeInbox(t *testing.T) (*testServer, *inboxWorld) {
	t.Helper()
	ts := newTestServer(t)
	return ts, newInboxWorld(t, ts, "olivia@acme.test", "Acme")
}

// wantGet has b fetch path and, when the status is not want, reports what
// was answered wrongly and the status it got.
func wantGet(t *testing.T, b *browser, path string, want int, what string) {
	t.Helper()
	if r := b.get(path); r.status != want {
		t.Errorf("%s: %d", what, r.status)
	}
}

// widgetStart opens a visitor session on the widget API at api and starts
// a conversation with body: the visitor's token and the conversation.
func widgetStart(t *testing.T, api, body string) (string, realtime.ConversationView) {
	t.Helper()
	var session struct {
		Token string `json:"token"`
	}
	widgetCall(t, http.MethodPost, api+"/session", "", `{"page_url":"https://shop.example/","create":true}`, http.StatusOK, &session)
	var started struct {
		Conversation realtime.ConversationView `json:"conversation"`
	}
	widgetCall(t, http.MethodPost, api+"/conversations", session.Token, `{"body":`+strconv.Quote(body)+`}`, http.StatusCreated, &started)
	return session.Token, started.Conversation
}

package handlers

import (
	"context"
	"encoding/json"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/convot/convot/internal/realtime"
	"github.com/convot/convot/internal/testenv"
	"github.com/convot/convot/models"
	"github.com/convot/convot/policies"
	"github.com/convot/convot/store"
	"github.com/convot/convot/subprocessors"
)

// redisHub is a hub on the Redis at REDIS_URL, as a web node has one.
func redisHub(t *testing.T, ts *testServer, redisURL string) realtime.Hub {
	t.Helper()
	gate, err := policies.NewGate(context.Background(), models.DecisionLog{DB: ts.db.DB})
	if err != nil {
		t.Fatal(err)
	}
	f, err := subprocessors.NewRedisFanout(gate, subprocessors.RedisConfig{URL: redisURL, Region: "eu"})
	if err != nil {
		t.Fatal(err)
	}
	hub := realtime.NewRedis(f)
	t.Cleanup(func() { _ = hub.Close() }) // the test is over; nothing to report
	return hub
}

// secondNode starts another web node on the same database with its own
// hub, like a second replica behind a load balancer.
func secondNode(t *testing.T, ts *testServer, hub realtime.Hub) *testServer {
	t.Helper()
	return ts.anotherNode(t, func(s *Server) { s.Hub = hub })
}

// A visitor on one web node and an operator on another see each other's
// messages live: the events cross through Redis pub/sub.
func TestMessagesCrossWebNodesThroughRedis(t *testing.T) {
	redisURL := testenv.Require(t, "REDIS_URL")
	testenv.Require(t, "DATABASE_URL") // one PostgreSQL behind both nodes
	nodeA := newTestServer(t)
	nodeA.srv.Hub = redisHub(t, nodeA, redisURL)
	nodeA.srv.Conversations.Hub = nodeA.srv.Hub // what publishes the events
	nodeB := secondNode(t, nodeA, redisHub(t, nodeA, redisURL))

	w := newInboxWorld(t, nodeA, "olivia@nodes.test", "Nodes") // region eu, as the Redis deployment
	// The operator's socket is on node B (the session lives in the
	// database, so node B knows the cookie node A set).
	operator := &browser{t: t, ts: nodeB, http: w.owner.http}
	opConn, resp, err := dialInbox(t, operator, "", nil)
	if err != nil {
		t.Fatalf("operator socket on node B: %v (%v)", err, resp)
	}

	// The visitor talks to node A.
	api := nodeA.URL + "/widget/v1/" + w.org.PublicKey
	token, conv := widgetStart(t, api, "hello from node A")
	if e := readEventOfType(t, opConn, realtime.TypeMessage); e.Message.Body != "hello from node A" {
		t.Fatalf("operator on node B got %q", e.Message.Body)
	}

	// And back: the visitor's socket on node A hears the reply posted on B.
	visitorConn := dialVisitor(t, nodeA, w.org.PublicKey, conv.ID, token)
	operator.get("/inbox/conversations/" + idText(conv.ID))
	if r := operator.post("/inbox/conversations/"+idText(conv.ID)+"/reply", url.Values{"body": {"hello from node B"}}); r.status != http.StatusSeeOther {
		t.Fatalf("reply on node B: %d %s", r.status, excerpt(r.body))
	}
	if e := readEventOfType(t, visitorConn, realtime.TypeMessage); e.Message.Body != "hello from node B" {
		t.Fatalf("visitor on node A got %q", e.Message.Body)
	}
}

func idText(id uint64) string { return strconv.FormatUint(id, 10) }

// widgetCall makes a widget API call and decodes the answer.
func widgetCall(t *testing.T, method, url, token, body string, want int, into any) {
	t.Helper()
	req, _ := http.NewRequest(method, url, strings.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = resp.Body.Close() }() // read, not written: nothing to lose
	if resp.StatusCode != want {
		var e struct{ Error string }
		_ = json.NewDecoder(resp.Body).Decode(&e) // only explains the failure below
		t.Fatalf("%s %s: %d %s, want %d", method, url, resp.StatusCode, e.Error, want)
	}
	if into != nil {
		if err := json.NewDecoder(resp.Body).Decode(into); err != nil {
			t.Fatal(err)
		}
	}
}

// dialVisitor opens a visitor's conversation socket as the widget does.
func dialVisitor(t *testing.T, ts *testServer, orgKey string, convID uint64, token string) *websocket.Conn {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	u := "ws" + strings.TrimPrefix(ts.URL, "http") + "/widget/v1/" + orgKey + "/conversations/" + idText(convID) + "/socket"
	conn, _, err := websocket.Dial(ctx, u, &websocket.DialOptions{Subprotocols: []string{"convot.v1", "token." + token}})
	if err != nil {
		t.Fatalf("visitor socket: %v", err)
	}
	t.Cleanup(func() { _ = conn.CloseNow() }) // the test is over; nothing to report
	return conn
}

// readEventOfType reads events until one of the type arrives.
func readEventOfType(t *testing.T, conn *websocket.Conn, typ string) realtime.LiveEvent {
	t.Helper()
	for {
		if e := readEvent(t, conn); e.Type == typ {
			return e
		}
	}
}

// A contact who restricted processing (policy §9: stored, nothing more)
// has its messages stored, but the egress gate keeps them off Redis: the
// operator on the other node does not get them live, the next contact's
// message does arrive, and the decision log says why.
func TestRestrictedContactsMessagesStayOffRedis(t *testing.T) {
	redisURL := testenv.Require(t, "REDIS_URL")
	testenv.Require(t, "DATABASE_URL")
	nodeA := newTestServer(t)
	nodeA.srv.Hub = redisHub(t, nodeA, redisURL)
	nodeA.srv.Conversations.Hub = nodeA.srv.Hub // what publishes the events
	nodeB := secondNode(t, nodeA, redisHub(t, nodeA, redisURL))
	w := newInboxWorld(t, nodeA, "olivia@restricted.test", "Restricted")
	operator := &browser{t: t, ts: nodeB, http: w.owner.http}
	opConn, resp, err := dialInbox(t, operator, "", nil)
	if err != nil {
		t.Fatalf("operator socket on node B: %v (%v)", err, resp)
	}
	api := nodeA.URL + "/widget/v1/" + w.org.PublicKey
	session := func() (token string, contactID uint64) {
		var s struct {
			Token   string `json:"token"`
			Contact struct {
				ID uint64 `json:"id"`
			} `json:"contact"`
		}
		widgetCall(t, http.MethodPost, api+"/session", "", `{"page_url":"https://shop.example/","create":true}`, http.StatusOK, &s)
		return s.Token, s.Contact.ID
	}
	restrictedToken, restrictedID := session()
	if err := store.New(nodeA.db.DB, nodeA.db.Keys).RecordPreference(context.Background(), models.SubjectPreference{OrganizationID: w.org.ID, ContactID: restrictedID,
		Kind: models.PreferenceRestriction, Active: true, Source: "dsr-test"}); err != nil {
		t.Fatal(err)
	}
	widgetCall(t, http.MethodPost, api+"/conversations", restrictedToken, `{"body":"from a restricted contact"}`, http.StatusCreated, nil)
	freeToken, _ := session()
	widgetCall(t, http.MethodPost, api+"/conversations", freeToken, `{"body":"from a contact without restriction"}`, http.StatusCreated, nil)

	if e := readEventOfType(t, opConn, realtime.TypeMessage); e.Message.Body != "from a contact without restriction" {
		t.Fatalf("the operator's next message is %q: a restricted contact's message went through Redis", e.Message.Body)
	}
	var stored int64
	nodeA.db.Model(&models.Message{}).Where("organization_id = ? AND author_id = ?", w.org.ID, restrictedID).Count(&stored)
	if stored != 1 {
		t.Fatalf("the restricted contact's message is not stored (%d)", stored)
	}
	var denied int64
	nodeA.db.Model(&models.EgressDecision{}).Where("organization_id = ? AND subprocessor = ? AND allow = ? AND reason LIKE ?",
		w.org.ID, "redis", false, "%restricted%").Count(&denied)
	if denied == 0 {
		t.Fatal("no decision records why the event stayed off Redis")
	}
	// The operator still reads it, from the database.
	var conv models.Conversation
	nodeA.db.Where("contact_id = ?", restrictedID).First(&conv)
	if r := operator.get("/inbox/conversations/" + idText(conv.ID)); !strings.Contains(r.body, "from a restricted contact") {
		t.Fatalf("the conversation does not show the stored message: %s", excerpt(r.body))
	}
}

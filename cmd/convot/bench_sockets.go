package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"runtime/pprof"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/coder/websocket"

	"github.com/convot/convot/handlers"
	"github.com/convot/convot/handlers/dashboard"
	"github.com/convot/convot/handlers/widget"
	"github.com/convot/convot/internal/blob"
	"github.com/convot/convot/internal/config"
	"github.com/convot/convot/internal/crypto"
	"github.com/convot/convot/internal/mail"
	"github.com/convot/convot/internal/realtime"
	"github.com/convot/convot/models"
	"github.com/convot/convot/policies"
	"github.com/convot/convot/store"
	"github.com/convot/convot/subprocessors"
)

// `convot bench sockets` holds many live sockets on one web node and
// measures what each costs the node (heap and RSS) and how fast a message
// posted through the widget API reaches the operators' and the visitor's
// sockets. The sockets' client ends live in a child process (this binary
// again, reading its plan on stdin), so the node's memory is the node's
// alone and neither process needs more than ~10,000 file descriptors.

// Pauses of the bench: for the sockets' connect-time work to settle
// before the node is weighed, and for the last events in flight.
var socketBenchSettle, socketBenchDrain = 2 * time.Second, 3 * time.Second

type socketBenchOptions struct {
	visitors, operators, orgs, messages, rate, workers int
	hub, memProfile, post                              string
	client                                             bool
}

func runBenchSockets(ctx context.Context, args []string, out io.Writer) error {
	var o socketBenchOptions
	err := flags("bench", args, func(fs *flag.FlagSet) {
		fs.IntVar(&o.visitors, "visitors", 9000, "visitor sockets (one conversation each)")
		fs.IntVar(&o.operators, "operators", 1000, "operator sockets (inbox), spread over the organizations")
		fs.IntVar(&o.orgs, "orgs", 100, "organizations the sockets are spread over")
		fs.IntVar(&o.messages, "messages", 10000, "messages to post through the widget API once the sockets are open")
		fs.IntVar(&o.rate, "rate", 1000, "messages per second to offer")
		fs.IntVar(&o.workers, "workers", 128, "concurrent senders")
		fs.StringVar(&o.hub, "hub", "auto", "live events hub: local (in-process), redis (REDIS_URL) or auto (redis when REDIS_URL is set)")
		fs.StringVar(&o.memProfile, "memprofile", "", "write the node's heap profile, sockets open, to this file")
		fs.StringVar(&o.post, "post", "widget", "how messages are posted: widget (the API: database, then the hub) or hub (straight on the hub as the widget API does after its commit: the fan-out alone)")
		fs.BoolVar(&o.client, "client", false, "internal: be the sockets' client process (reads its plan on stdin)")
	})
	if err != nil {
		return err
	}
	raised := raiseFileLimit()
	if o.client {
		return socketBenchClient(ctx, os.Stdin, out)
	}
	if o.post != "widget" && o.post != "hub" {
		return fmt.Errorf("-post %q: want widget or hub", o.post)
	}
	if o.orgs < 1 || o.visitors < o.orgs || o.operators < o.orgs || o.messages < 1 || o.rate < 1 || o.workers < 1 {
		return errors.New("orgs, messages, rate and workers must be at least 1, visitors and operators at least orgs")
	}
	return socketBenchServer(ctx, o, raised, out)
}

// raiseFileLimit lifts the soft limit of open files to the hard one: each
// socket is a descriptor, and the usual soft limit (1,024) is far below
// 10,000. It returns the limit now in force.
func raiseFileLimit() uint64 {
	var l syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &l); err != nil {
		return 0
	}
	if l.Cur < l.Max {
		l.Cur = l.Max
		if err := syscall.Setrlimit(syscall.RLIMIT_NOFILE, &l); err != nil {
			_ = syscall.Getrlimit(syscall.RLIMIT_NOFILE, &l) // report what holds
		}
	}
	return l.Cur
}

// socketPlan is what the client process is told to open.
type socketPlan struct {
	Base      string          `json:"base"` // ws://host:port
	Operators []socketOp      `json:"operators"`
	Visitors  []socketVisitor `json:"visitors"`
}

type socketOp struct {
	Cookie string `json:"cookie"`
}

type socketVisitor struct {
	OrgKey       string `json:"org_key"`
	OrgID        uint64 `json:"org_id"`
	Token        string `json:"token"`
	Conversation uint64 `json:"conversation"`
}

// socketResult is what the client process reports when its stdin closes.
type socketResult struct {
	Opened   int     `json:"opened"`
	Failed   int     `json:"failed"`
	FirstErr string  `json:"first_err,omitempty"`
	Closed   int     `json:"closed"` // sockets the server closed during the run
	Operator []int64 `json:"operator"`
	Visitor  []int64 `json:"visitor"`
}

func socketBenchServer(ctx context.Context, o socketBenchOptions, fileLimit uint64, out io.Writer) error {
	cfg, err := config.Load(os.Getenv)
	if err != nil {
		return err
	}
	if need := uint64(o.visitors+o.operators) + 256; fileLimit < need {
		return fmt.Errorf("open files limit %d, %d needed: raise the hard limit (ulimit -Hn) or open fewer sockets", fileLimit, need)
	}
	tmp, err := os.MkdirTemp("", "convot-bench-")
	if err != nil {
		return err
	}
	defer func() {
		if err := os.RemoveAll(tmp); err != nil {
			slog.Warn("bench: temporary directory left behind", "dir", tmp, "err", err)
		}
	}()
	dbURL, _, dropSchema, err := benchSchema(cfg.DatabaseURL)
	if err != nil {
		return err
	}
	defer dropSchema()
	master, err := crypto.ParseMasterKeys(crypto.GenerateMasterKey(1))
	if err != nil {
		return err
	}
	db, keys, err := models.Setup(ctx, dbURL, tmp, master)
	if err != nil {
		return err
	}
	st := store.New(db, keys)
	defer func() { _ = st.Close() }() // the bench's own database
	// The message path's statements plan once, as openApp has them.
	if err := st.OpenGenericPlans(); err != nil {
		return err
	}
	database := "SQLite"
	if dbURL != "" {
		database = "PostgreSQL"
		_ = st.SetMaxConns(64)
	}
	decisions := st.GroupDecisionLog()
	defer decisions.Close()
	gate, err := policies.NewGate(ctx, decisions)
	if err != nil {
		return err
	}
	blobs, err := blob.NewDisk(filepath.Join(tmp, "blobs"))
	if err != nil {
		return err
	}
	outbox, err := mail.NewOutbox(filepath.Join(tmp, "outbox"))
	if err != nil {
		return err
	}
	var hub realtime.Hub
	hubName := "in-process hub"
	switch {
	case o.hub == "redis" || (o.hub == "auto" && cfg.RedisURL != ""):
		if cfg.RedisURL == "" {
			return errors.New("-hub redis: set REDIS_URL")
		}
		f, err := subprocessors.NewRedisFanout(gate, subprocessors.RedisConfig{URL: cfg.RedisURL, Region: cfg.Region})
		if err != nil {
			return err
		}
		hub, hubName = realtime.NewRedis(f), "Redis pub/sub"
	case o.hub == "local" || o.hub == "auto":
		hub = realtime.NewLocal()
	default:
		return fmt.Errorf("-hub %q: want local, redis or auto", o.hub)
	}
	defer func() { _ = hub.Close() }() // after the measurements
	// The bench's visitors all come from 127.0.0.1: new visitors per IP
	// are not limited; every other limit stays.
	limits := widget.DefaultLimits
	limits.NewVisitors = widget.Rate{Burst: o.visitors + 1, Every: time.Millisecond}
	node := &handlers.Server{Store: st, Config: cfg, Mail: outbox, Hub: hub, Blobs: blobs, WidgetLimits: &limits}
	h, err := handlers.New(node)
	if err != nil {
		return err
	}
	defer node.Close(context.Background())
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	srv := &http.Server{Handler: h, ReadHeaderTimeout: config.ReadHeaderTimeout}
	go func() {
		if err := srv.Serve(ln); !errors.Is(err, http.ErrServerClosed) {
			slog.Error("bench: web node stopped", "err", err)
		}
	}()
	defer func() { _ = srv.Close() }() // after the measurements
	base := "http://" + ln.Addr().String()
	cfg.BaseURL, _ = url.Parse(base)
	_, _ = fmt.Fprintf(out, "bench sockets: %d visitor + %d operator sockets over %d organizations on one web node, %s, %s; open files limit %d\n",
		o.visitors, o.operators, o.orgs, database, hubName, fileLimit)

	// Organizations, their operators' sessions, and the visitors'
	// conversations, through the login form and the widget API.
	began := time.Now()
	plan, orgs, err := socketBenchWorld(ctx, st, base, o)
	if err != nil {
		return err
	}
	_, _ = fmt.Fprintf(out, "set up %d organizations and %d conversations in %.1fs\n", len(orgs), len(plan.Visitors), time.Since(began).Seconds())

	before := sampleMemory()
	stdin, stdout, wait, err := startSocketClient(ctx)
	if err != nil {
		return err
	}
	defer func() { _ = wait() }() // its result is read below; a failure shows there
	defer func() { _ = stdin.Close() }()
	plan.Base = "ws" + strings.TrimPrefix(base, "http")
	if err := json.NewEncoder(stdin).Encode(plan); err != nil {
		return fmt.Errorf("client process: %w", err)
	}
	lines := bufio.NewReader(stdout)
	began = time.Now()
	ready, err := lines.ReadString('\n')
	if err != nil {
		return fmt.Errorf("client process: %w", err)
	}
	_, _ = fmt.Fprintf(out, "client process: %s in %.1fs\n", strings.TrimSpace(ready), time.Since(began).Seconds())
	// Let the connect-time heartbeats settle, then weigh the node.
	time.Sleep(socketBenchSettle)
	after := sampleMemory()
	if o.memProfile != "" {
		if err := writeHeapProfile(o.memProfile); err != nil {
			return err
		}
	}
	sockets := o.visitors + o.operators
	_, _ = fmt.Fprintf(out, "node memory with %d sockets open (GC'd heap, after - before):\n", sockets)
	perSocket := func(a, b uint64) string {
		return fmt.Sprintf("%+.1f MB = %.1f KB/socket", (float64(a)-float64(b))/1e6, (float64(a)-float64(b))/float64(sockets)/1e3)
	}
	_, _ = fmt.Fprintf(out, "  heap in use   %s\n", perSocket(after.heap, before.heap))
	_, _ = fmt.Fprintf(out, "  stacks        %s\n", perSocket(after.stack, before.stack))
	_, _ = fmt.Fprintf(out, "  Go runtime    %s (all memory obtained from the OS)\n", perSocket(after.sys, before.sys))
	_, _ = fmt.Fprintf(out, "  RSS           %s\n", perSocket(after.rss, before.rss))
	_, _ = fmt.Fprintf(out, "  goroutines    %+d = %.2f/socket\n", after.goroutines-before.goroutines, float64(after.goroutines-before.goroutines)/float64(sockets))

	// Messages: each visitor in turn posts one, open loop, its due time in
	// the body; the client process times its arrival on every socket.
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: o.workers * 2, MaxConnsPerHost: o.workers * 2}, Timeout: 30 * time.Second}
	type job struct {
		v   socketVisitor
		due time.Time
	}
	jobs := make(chan job, o.messages)
	byID := map[uint64]*models.Organization{}
	for i := range orgs {
		byID[orgs[i].ID] = &orgs[i]
	}
	var (
		mu       sync.Mutex
		acked    = make([]time.Duration, 0, o.messages)
		failures atomic.Int64
		firstErr atomic.Value
		wg       sync.WaitGroup
	)
	for range o.workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := range jobs {
				if o.post == "hub" {
					err := socketBenchPublish(ctx, hub, byID[j.v.OrgID], j.v.Conversation, j.due)
					if err != nil {
						failures.Add(1)
						firstErr.CompareAndSwap(nil, err.Error())
						continue
					}
					mu.Lock()
					acked = append(acked, time.Since(j.due))
					mu.Unlock()
					continue
				}
				payload, _ := json.Marshal(map[string]string{"body": fmt.Sprintf("bench %d", j.due.UnixNano())})
				u := fmt.Sprintf("%s/widget/v1/%s/conversations/%d/messages", base, j.v.OrgKey, j.v.Conversation)
				req, _ := http.NewRequestWithContext(ctx, http.MethodPost, u, bytes.NewReader(payload))
				req.Header.Set("Content-Type", "application/json")
				req.Header.Set("Authorization", "Bearer "+j.v.Token)
				resp, err := client.Do(req)
				if err == nil {
					_, _ = io.Copy(io.Discard, resp.Body) // so that the connection is reused
					_ = resp.Body.Close()
					if resp.StatusCode != http.StatusCreated {
						err = fmt.Errorf("send: %s", resp.Status)
					}
				}
				if err != nil {
					failures.Add(1)
					firstErr.CompareAndSwap(nil, err.Error())
					continue
				}
				mu.Lock()
				acked = append(acked, time.Since(j.due))
				mu.Unlock()
			}
		}()
	}
	began = time.Now()
	for i := range o.messages {
		due := began.Add(time.Duration(i) * time.Second / time.Duration(o.rate))
		if wait := time.Until(due); wait > 0 {
			select {
			case <-time.After(wait):
			case <-ctx.Done():
				close(jobs)
				return ctx.Err()
			}
		}
		jobs <- job{v: plan.Visitors[i%len(plan.Visitors)], due: due}
	}
	close(jobs)
	wg.Wait()
	sending := time.Since(began)
	time.Sleep(socketBenchDrain) // the last events in flight
	during := sampleMemory()
	_ = stdin.Close() // the client reports and exits
	var res socketResult
	if err := json.NewDecoder(lines).Decode(&res); err != nil {
		return fmt.Errorf("client process result: %w", err)
	}
	perOrg := o.operators / o.orgs
	_, _ = fmt.Fprintf(out, "posted through the %s: %d in %.2fs: %.0f messages/s acknowledged; %d failed", o.post, len(acked), sending.Seconds(), float64(len(acked))/sending.Seconds(), failures.Load())
	if e := firstErr.Load(); e != nil {
		_, _ = fmt.Fprintf(out, " (first: %s)", e)
	}
	_, _ = fmt.Fprintln(out)
	_, _ = fmt.Fprintf(out, "fan-out: each message to its visitor's socket and ~%d operator sockets (%.0f socket writes/s)\n", perOrg, float64(len(acked))*float64(perOrg+1)/sending.Seconds())
	_, _ = fmt.Fprintf(out, "posted → acknowledged:    %s\n", percentiles(acked))
	_, _ = fmt.Fprintf(out, "posted → operator socket: %s (%d deliveries)\n", percentiles(nanos(res.Operator)), len(res.Operator))
	_, _ = fmt.Fprintf(out, "posted → visitor socket:  %s (%d deliveries)\n", percentiles(nanos(res.Visitor)), len(res.Visitor))
	_, _ = fmt.Fprintf(out, "node after the messages: heap %+.1f MB, RSS %+.1f MB, goroutines %+d (vs. before the sockets)\n",
		(float64(during.heap)-float64(before.heap))/1e6, (float64(during.rss)-float64(before.rss))/1e6, during.goroutines-before.goroutines)
	_, _ = fmt.Fprintf(out, "sockets: %d opened, %d failed to open, %d closed by the node during the run\n", res.Opened, res.Failed, res.Closed)
	wantOp, wantVis := len(acked)*perOrg, len(acked)
	if res.Failed > 0 || failures.Load() > 0 || len(res.Operator) < wantOp || len(res.Visitor) < wantVis {
		return fmt.Errorf("incomplete: %d sockets failed (%s), %d posts failed, %d/%d operator and %d/%d visitor deliveries",
			res.Failed, res.FirstErr, failures.Load(), len(res.Operator), wantOp, len(res.Visitor), wantVis)
	}
	return nil
}

// startSocketClient starts the sockets' client process: this binary
// again, with -client. (A test runs the client in its own process instead.)
var startSocketClient = func(ctx context.Context) (io.WriteCloser, io.Reader, func() error, error) {
	self, err := os.Executable()
	if err != nil {
		return nil, nil, nil, err
	}
	child := exec.CommandContext(ctx, self, "bench", "sockets", "-client")
	child.Stderr = os.Stderr
	stdin, err := child.StdinPipe()
	if err != nil {
		return nil, nil, nil, err
	}
	stdout, err := child.StdoutPipe()
	if err != nil {
		return nil, nil, nil, err
	}
	if err := child.Start(); err != nil {
		return nil, nil, nil, err
	}
	return stdin, stdout, child.Wait, nil
}

func writeHeapProfile(path string) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	if err := pprof.WriteHeapProfile(f); err != nil {
		_ = f.Close() // the error to report is the one above
		return fmt.Errorf("-memprofile: %w", err)
	}
	return f.Close()
}

// socketBenchPublish publishes a message event the way the widget API
// does once the message is committed: one event on the organization's
// topic and the conversation's.
func socketBenchPublish(ctx context.Context, hub realtime.Hub, org *models.Organization, conv uint64, due time.Time) error {
	payload, err := json.Marshal(realtime.LiveEvent{Type: realtime.TypeMessage, ConversationID: conv, Message: &realtime.MessageView{
		ID: uint64(due.UnixNano()), AuthorType: "contact", Body: fmt.Sprintf("bench %d", due.UnixNano()), CreatedAt: due, Attachments: []realtime.AttachmentView{}}})
	if err != nil {
		return err
	}
	return hub.PublishEach(ctx, []string{realtime.OrgTopic(org.ID), realtime.ConversationTopic(conv)}, realtime.Event{
		Org: org.GateContext(), Subject: policies.SubjectContext{Kind: models.SubjectEndUser},
		Categories: []string{"user.content.message", "user.content.attachment"}, Payload: payload})
}

func nanos(xs []int64) []time.Duration {
	d := make([]time.Duration, len(xs))
	for i, x := range xs {
		d[i] = time.Duration(x)
	}
	return d
}

type memorySample struct {
	heap, stack, sys, rss uint64
	goroutines            int
}

// sampleMemory collects garbage, then reads the heap in use, the
// goroutine stacks, what the runtime holds from the OS, and the RSS.
func sampleMemory() memorySample {
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	s := memorySample{heap: m.HeapInuse, stack: m.StackInuse, sys: m.Sys, goroutines: runtime.NumGoroutine()}
	if b, err := os.ReadFile("/proc/self/status"); err == nil {
		for _, line := range strings.Split(string(b), "\n") {
			if v, ok := strings.CutPrefix(line, "VmRSS:"); ok {
				kb, _ := strconv.ParseUint(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
				s.rss = kb * 1024
			}
		}
	}
	return s
}

// socketBenchWorld creates the organizations (one operator account each,
// whose session the organization's operator sockets share) and one
// conversation per visitor.
func socketBenchWorld(ctx context.Context, st *store.Store, base string, o socketBenchOptions) (socketPlan, []models.Organization, error) {
	password := crypto.RandomToken(16)
	hash, err := dashboard.HashPassword(password) // once: bcrypt is slow on purpose
	if err != nil {
		return socketPlan{}, nil, err
	}
	orgs := make([]models.Organization, o.orgs)
	cookies := make([]string, o.orgs)
	errs := make(chan error, o.orgs)
	sem := make(chan struct{}, 4)
	var wg sync.WaitGroup
	for i := range o.orgs {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			var err error
			orgs[i], cookies[i], err = socketBenchOrg(ctx, st, base, i, password, hash)
			if err != nil {
				errs <- err
			}
		}()
	}
	wg.Wait()
	close(errs)
	if err := <-errs; err != nil {
		return socketPlan{}, nil, err
	}
	keys := make([]string, len(orgs))
	for i := range orgs {
		keys[i] = orgs[i].PublicKey
	}
	var plan socketPlan
	for i := range o.operators {
		plan.Operators = append(plan.Operators, socketOp{Cookie: cookies[i%o.orgs]})
	}
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 64, MaxConnsPerHost: 64}, Timeout: 30 * time.Second}
	for i, key := range keys {
		n := o.visitors / o.orgs
		if i < o.visitors%o.orgs {
			n++
		}
		vs, err := benchVisitors(ctx, client, base+"/widget/v1/"+key, n, 32)
		if err != nil {
			return socketPlan{}, nil, err
		}
		for _, v := range vs {
			plan.Visitors = append(plan.Visitors, socketVisitor{OrgKey: key, OrgID: orgs[i].ID, Token: v.token, Conversation: v.conversation})
		}
	}
	client.CloseIdleConnections()
	// Interleave the organizations, so that consecutive posts spread.
	interleaved := make([]socketVisitor, 0, len(plan.Visitors))
	byOrg := map[string][]socketVisitor{}
	for _, v := range plan.Visitors {
		byOrg[v.OrgKey] = append(byOrg[v.OrgKey], v)
	}
	for round := 0; len(interleaved) < len(plan.Visitors); round++ {
		for _, key := range keys {
			if round < len(byOrg[key]) {
				interleaved = append(interleaved, byOrg[key][round])
			}
		}
	}
	plan.Visitors = interleaved
	return plan, orgs, nil
}

// socketBenchOrg creates an organization and its operator, and signs the
// operator in through the login form.
func socketBenchOrg(ctx context.Context, st *store.Store, base string, i int, password, hash string) (models.Organization, string, error) {
	org := models.Organization{PublicKey: crypto.RandomToken(16), CompanyName: fmt.Sprintf("Bench %d", i), Region: "eu", Status: models.OrgActive}
	email := fmt.Sprintf("operator%d@bench.convot.localhost", i)
	err := st.Tx(ctx, func(tx *store.Store) error {
		if err := tx.CreateOrganization(ctx, &org); err != nil {
			return err
		}
		return tx.CreateAccount(ctx, &models.Account{OrganizationID: org.ID, FullName: "Bench Operator", Email: email,
			PasswordHash: hash, Role: models.RoleAgent, Status: "active", TimeZone: "UTC", Language: "en"})
	})
	if err != nil {
		return models.Organization{}, "", err
	}
	jar, _ := cookiejar.New(nil)
	// Sign-ins are throttled per address: each operator signs in from an
	// address of its own in 127.0.0.0/8 (all of it is the loopback).
	local := &net.TCPAddr{IP: net.IPv4(127, byte(1+(i+1)/250), byte((i+1)%250+2), 1)}
	transport := &http.Transport{DialContext: (&net.Dialer{LocalAddr: local}).DialContext}
	c := &http.Client{Jar: jar, Transport: transport, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	defer c.CloseIdleConnections()
	resp, err := c.Get(base + "/login")
	if err != nil {
		return models.Organization{}, "", err
	}
	page, err := io.ReadAll(resp.Body)
	_ = resp.Body.Close()
	if err != nil {
		return models.Organization{}, "", fmt.Errorf("login page: %w", err)
	}
	m := regexp.MustCompile(`name="csrf_token" value="([^"]+)"`).FindSubmatch(page)
	if m == nil {
		return models.Organization{}, "", errors.New("login page without a CSRF token")
	}
	resp, err = c.PostForm(base+"/login", url.Values{"email": {email}, "password": {password}, "csrf_token": {string(m[1])}})
	if err != nil {
		return models.Organization{}, "", err
	}
	_ = resp.Body.Close() // only the status and cookies are wanted
	if resp.StatusCode != http.StatusSeeOther {
		return models.Organization{}, "", fmt.Errorf("operator login: %s", resp.Status)
	}
	u, _ := url.Parse(base)
	var parts []string
	for _, ck := range jar.Cookies(u) {
		parts = append(parts, ck.Name+"="+ck.Value)
	}
	return org, strings.Join(parts, "; "), nil
}

// bodyMark finds the due time a bench message carries in its body.
var bodyMark = []byte(`"body":"bench `)

// socketBenchClient opens the plan's sockets, says "ready" on out, records
// the latency of every bench message each socket receives, and when in
// closes reports a socketResult as JSON on out.
func socketBenchClient(ctx context.Context, in io.Reader, out io.Writer) error {
	dec := json.NewDecoder(in)
	var plan socketPlan
	if err := dec.Decode(&plan); err != nil {
		return fmt.Errorf("plan: %w", err)
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var (
		mu     sync.Mutex
		res    socketResult
		conns  []*websocket.Conn
		readWG sync.WaitGroup
	)
	read := func(conn *websocket.Conn, operator bool) {
		defer readWG.Done()
		for {
			_, data, err := conn.Read(ctx)
			if err != nil {
				if ctx.Err() == nil {
					mu.Lock()
					res.Closed++
					mu.Unlock()
				}
				return
			}
			now := time.Now().UnixNano()
			i := bytes.Index(data, bodyMark)
			if i < 0 {
				continue
			}
			rest := data[i+len(bodyMark):]
			end := bytes.IndexByte(rest, '"')
			if end < 0 {
				continue
			}
			due, err := strconv.ParseInt(string(rest[:end]), 10, 64)
			if err != nil {
				continue
			}
			mu.Lock()
			if operator {
				res.Operator = append(res.Operator, now-due)
			} else {
				res.Visitor = append(res.Visitor, now-due)
			}
			mu.Unlock()
		}
	}
	dial := func(u string, opts *websocket.DialOptions, operator bool) {
		dctx, dcancel := context.WithTimeout(ctx, 30*time.Second)
		defer dcancel()
		conn, resp, err := websocket.Dial(dctx, u, opts)
		if resp != nil && resp.Body != nil {
			_ = resp.Body.Close()
		}
		mu.Lock()
		defer mu.Unlock()
		if err != nil {
			res.Failed++
			if res.FirstErr == "" {
				res.FirstErr = err.Error()
			}
			return
		}
		conn.SetReadLimit(1 << 20)
		res.Opened++
		conns = append(conns, conn)
		readWG.Add(1)
		go read(conn, operator)
	}
	sem := make(chan struct{}, 64)
	var wg sync.WaitGroup
	start := func(f func()) {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			f()
		}()
	}
	dialer := &http.Client{Transport: &http.Transport{DisableKeepAlives: true}}
	for _, op := range plan.Operators {
		start(func() {
			dial(plan.Base+"/inbox/ws", &websocket.DialOptions{HTTPClient: dialer, HTTPHeader: http.Header{"Cookie": {op.Cookie}}}, true)
		})
	}
	for _, v := range plan.Visitors {
		start(func() {
			u := fmt.Sprintf("%s/widget/v1/%s/conversations/%d/socket", plan.Base, v.OrgKey, v.Conversation)
			dial(u, &websocket.DialOptions{HTTPClient: dialer, Subprotocols: []string{"convot.v1", "token." + v.Token}}, false)
		})
	}
	wg.Wait()
	mu.Lock()
	_, _ = fmt.Fprintf(out, "%d sockets open, %d failed\n", res.Opened, res.Failed)
	mu.Unlock()
	_, _ = io.Copy(io.Discard, io.MultiReader(dec.Buffered(), in)) // until the node is done
	cancel()
	for _, c := range conns {
		_ = c.CloseNow() // the run is over
	}
	readWG.Wait()
	return json.NewEncoder(out).Encode(res)
}

package main

import (
	"bytes"
	"cmp"
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
	"path/filepath"
	"regexp"
	"runtime/pprof"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/coder/websocket"
	"go.temporal.io/sdk/client"

	"github.com/convot/convot/conversation"
	"github.com/convot/convot/handlers"
	"github.com/convot/convot/handlers/dashboard"
	"github.com/convot/convot/handlers/widget"
	"github.com/convot/convot/internal/blob"
	"github.com/convot/convot/internal/config"
	"github.com/convot/convot/internal/crypto"
	"github.com/convot/convot/internal/devstack"
	"github.com/convot/convot/internal/mail"
	"github.com/convot/convot/internal/realtime"
	"github.com/convot/convot/models"
	"github.com/convot/convot/policies"
	"github.com/convot/convot/store"
	"github.com/convot/convot/subprocessors"
	"github.com/convot/convot/workflows"
)

// runBench runs a load test. `convot bench messages` sends widget messages
// to one web node and times each until it arrives on an operator's
// WebSocket connected to another node (through Redis when REDIS_URL is
// set), the way a visitor and an operator meet in production.
func runBench(ctx context.Context, args []string, out io.Writer) error {
	if len(args) > 0 && args[0] == "ai" {
		return benchAI(args[1:], out)
	}
	if len(args) > 0 && args[0] == "sockets" {
		return runBenchSockets(ctx, args[1:], out)
	}
	if len(args) == 0 || args[0] != "messages" {
		return errors.New("want `convot bench messages`, `convot bench sockets` or `convot bench ai` (see `convot bench --help`)")
	}
	var o benchOptions
	err := flags("bench", args[1:], func(fs *flag.FlagSet) {
		fs.IntVar(&o.messages, "messages", 20000, "messages to send")
		fs.IntVar(&o.rate, "rate", 1000, "messages per second to offer (0: as fast as the workers go)")
		fs.IntVar(&o.visitors, "visitors", 600, "visitors sending (each is rate-limited like a real one)")
		fs.IntVar(&o.workers, "workers", 128, "concurrent senders")
		fs.IntVar(&o.nodes, "nodes", 2, "web nodes (two need REDIS_URL)")
		fs.IntVar(&o.words, "words", 3, "words in each message (3 to 47, distinct): each distinct word is a row of the search index, so the database's work per message grows with it")
		fs.StringVar(&o.cpuProfile, "cpuprofile", "", "write a CPU profile of the run to this file")
		fs.BoolVar(&o.worker, "worker", true, "with -lifecycles, run the Temporal worker in the bench's process (as `convot dev` does), so the lifecycle workflows handle their signals and run their activities; its CPU counts in the convot process's")
		fs.BoolVar(&o.lifecycles, "lifecycles", true, "signal each conversation's lifecycle workflow through the outbox, as production does, on the Temporal at TEMPORAL_ADDRESS (unset: a Temporal dev server the bench starts, see TEMPORAL_CLI), and report the outbox's lag; -lifecycles=false leaves lifecycle tracking out (figures then not production's)")
		fs.StringVar(&o.pgbench, "pgbench", "16,64", "pgbench baseline before the run (PostgreSQL only): client counts, comma-separated; '' for none")
		fs.DurationVar(&o.pgbenchFor, "pgbench-duration", 5*time.Second, "how long each pgbench run lasts")
	})
	if err != nil {
		return err
	}
	return benchMessages(ctx, o, out)
}

type benchOptions struct {
	messages, rate, visitors, workers, nodes int
	words                                    int
	cpuProfile                               string
	lifecycles, worker                       bool
	pgbench                                  string
	pgbenchFor                               time.Duration
}

func benchMessages(ctx context.Context, o benchOptions, out io.Writer) (retErr error) {
	cfg, err := config.Load(os.Getenv)
	if err != nil {
		return err
	}
	if o.nodes > 1 && cfg.RedisURL == "" {
		_, _ = fmt.Fprintln(out, "REDIS_URL is not set: one web node with the in-process hub")
		o.nodes = 1
	}
	if o.nodes < 1 || o.visitors < 1 || o.workers < 1 || o.messages < 1 {
		return errors.New("messages, visitors, workers and nodes must be at least 1")
	}
	if o.words < 3 || o.words > 3+len(benchWords) {
		// past benchWords, words would repeat: not the distinct words asked for
		return fmt.Errorf("words must be from 3 to %d", 3+len(benchWords))
	}
	clients, err := parseClients(o.pgbench)
	if err != nil {
		return err
	}
	if o.pgbenchFor < time.Second {
		return errors.New("-pgbench-duration must be at least 1s")
	}
	// The bench works in a database of its own: a fresh PostgreSQL schema
	// (dropped afterwards) or a temporary SQLite file, under a fresh key.
	tmp, err := os.MkdirTemp("", "convot-bench-")
	if err != nil {
		return err
	}
	defer func() {
		if err := os.RemoveAll(tmp); err != nil {
			slog.Warn("bench: temporary directory left behind", "dir", tmp, "err", err)
		}
	}()
	dbURL, schema, dropSchema, err := benchSchema(cfg.DatabaseURL)
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
	// The bench's own database: its schema is dropped or its file removed.
	defer func() { _ = st.Close() }()
	// The message path's statements plan once, as openApp has them.
	if err := st.OpenGenericPlans(); err != nil {
		return err
	}
	if dbURL != "" {
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
	database := "SQLite"
	if dbURL != "" {
		database = "PostgreSQL"
	}
	// The baseline first, in the bench's schema, before Convot loads the
	// machine.
	var baseline []baselineResult
	if len(clients) > 0 && dbURL != "" {
		pgbench, err := findPgbench()
		if err != nil {
			return err
		}
		if err := st.CreateInsertBaseline(ctx, schema); err != nil {
			return err
		}
		for _, n := range clients {
			r, err := runBaseline(ctx, pgbench, st, cfg.DatabaseURL, schema, n, o.pgbenchFor)
			if err != nil {
				return err
			}
			baseline = append(baseline, r)
		}
	}
	var temporal client.Client
	temporalAddress := cfg.TemporalAddress
	temporalPid := 0 // the dev server the bench started, if it did
	if o.lifecycles {
		if temporalAddress == "" {
			dev, err := benchTemporal(ctx, tmp, cfg.TemporalNamespace, out)
			if err != nil {
				return err
			}
			defer func() {
				if err := dev.Stop(10 * time.Second); err != nil {
					slog.Warn("bench: stopping the Temporal dev server", "err", err)
				}
			}()
			temporalAddress, temporalPid = dev.Address(), dev.Pid()
		}
		if temporal, err = dialTemporalAt(ctx, cfg, master, temporalAddress); err != nil {
			return err
		}
		defer temporal.Close()
		// Signal-with-start sets the lifecycle's search attributes.
		if err := workflows.RegisterSearchAttributes(ctx, temporal, cfg.TemporalNamespace); err != nil {
			return fmt.Errorf("register search attributes: %w", err)
		}
	}
	hubName := "in-process hub"
	var local realtime.Hub = realtime.NewLocal()
	bases := make([]string, o.nodes)
	var drainers []*conversation.OutboxDrainer
	var lastNode *handlers.Server
	var nodes []*handlers.Server
	for i := range o.nodes {
		hub := local
		if cfg.RedisURL != "" {
			f, err := subprocessors.NewRedisFanout(gate, subprocessors.RedisConfig{URL: cfg.RedisURL, Region: cfg.Region})
			if err != nil {
				return err
			}
			hub, hubName = realtime.NewRedis(f), "Redis pub/sub"
			defer func() { _ = hub.Close() }() // after the measurements: nothing left to lose
		}
		nodeCfg := *cfg
		// The bench's visitors all come from 127.0.0.1: new visitors per
		// IP are not limited; each visitor's own limits stay (2 messages
		// a second after a burst of 20: -visitors bounds the rate).
		limits := widget.DefaultLimits
		limits.NewVisitors = widget.Rate{Burst: o.visitors + 1, Every: time.Millisecond}
		node := &handlers.Server{Store: st, Config: &nodeCfg, Mail: outbox, Hub: hub, Blobs: blobs, Temporal: temporal, WidgetLimits: &limits}
		h, err := handlers.New(node)
		if err != nil {
			return err
		}
		defer node.Close(context.Background())
		lastNode = node
		nodes = append(nodes, node)
		if node.Drainer != nil {
			drainers = append(drainers, node.Drainer)
		}
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return err
		}
		srv := &http.Server{Handler: h, ReadHeaderTimeout: config.ReadHeaderTimeout}
		go func() {
			if err := srv.Serve(ln); !errors.Is(err, http.ErrServerClosed) {
				slog.Error("bench: web node stopped", "addr", ln.Addr().String(), "err", err)
			}
		}()
		defer func() { _ = srv.Close() }() // after the measurements: nothing left to lose
		bases[i] = "http://" + ln.Addr().String()
		nodeCfg.BaseURL, _ = url.Parse(bases[i])
	}
	if temporal != nil && o.worker {
		// The worker production runs beside the web nodes (`convot
		// worker`), with what the lifecycles' activities use.
		w := newWorker(temporal, &app{cfg: cfg, master: master, store: st, keys: keys, outbox: outbox, mail: outbox,
			gate: gate, temporal: temporal, blobs: blobs, hub: lastNode.Hub, handlers: lastNode})
		if err := w.Start(); err != nil {
			return fmt.Errorf("the Temporal worker: %w", err)
		}
		defer w.Stop()
	}
	_, _ = fmt.Fprintf(out, "bench messages: %d messages of %d words at %s/s offered, %d visitors, %d senders, %d web node(s), %s, %s\n",
		o.messages, o.words, rateText(o.rate), o.visitors, o.workers, o.nodes, database, hubName)
	if temporal == nil {
		_, _ = fmt.Fprintln(out, "conversation lifecycle signals: NOT SENT (-lifecycles=false): lifecycle tracking is left out, unlike production")
	} else {
		worker := "a Temporal worker in this process runs the lifecycle workflows"
		if !o.worker {
			worker = "NO worker runs the lifecycle workflows (-worker=false)"
		}
		_, _ = fmt.Fprintf(out, "conversation lifecycle signals: through the outbox to Temporal at %s, drained by every node during the run; %s\n", temporalAddress, worker)
	}

	orgKey, cookies, err := benchOrganization(ctx, st, bases[len(bases)-1])
	if err != nil {
		return err
	}
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: o.workers * 2, MaxConnsPerHost: o.workers * 2}, Timeout: 30 * time.Second}
	api := bases[0] + "/widget/v1/" + orgKey
	visitors, err := benchVisitors(ctx, client, api, o.visitors, o.workers)
	if err != nil {
		return err
	}
	if temporal != nil {
		// The visitors' conversations and their lifecycle workflows
		// exist before the timed run, as they do on a site that is
		// chatting: the run measures messages, not workflow starts.
		started, startedIn, left := benchSignalLag(ctx, st, drainers)
		if left > 0 {
			return fmt.Errorf("the lifecycles of the bench's conversations did not start within a minute (%d signals left)", left)
		}
		settledIn := benchSettle(temporalPid, 3*time.Minute)
		_, _ = fmt.Fprintf(out, "lifecycle workflows of %d conversations started (%d deliveries) in %.2fs and settled (their first messages handled) %.2fs later, before the timed run\n",
			len(visitors), started.Deliveries, startedIn.Seconds(), settledIn.Seconds())
	}

	// The operator listens on the last node; visitors send to the first.
	// The socket opens now, read from at once (a socket not read from
	// does not answer pings and is closed).
	wsURL := "ws" + strings.TrimPrefix(bases[len(bases)-1], "http") + "/inbox/ws"
	conn, _, err := websocket.Dial(ctx, wsURL, &websocket.DialOptions{HTTPHeader: http.Header{"Cookie": {cookies}}})
	if err != nil {
		return fmt.Errorf("operator socket: %w", err)
	}
	defer func() { _ = conn.CloseNow() }() // for early returns; closed normally below
	conn.SetReadLimit(1 << 20)

	var (
		mu       sync.Mutex
		sentAt   = make(map[string]time.Time, o.messages)
		arrived  = make([]time.Duration, 0, o.messages)
		acked    = make([]time.Duration, 0, o.messages)
		failures atomic.Int64
		firstErr atomic.Value
		done     = make(chan struct{})
	)
	go func() { // the operator's socket
		defer close(done)
		for {
			_, data, err := conn.Read(ctx)
			if err != nil {
				return
			}
			now := time.Now()
			var e realtime.LiveEvent
			if json.Unmarshal(data, &e) != nil || e.Type != realtime.TypeMessage || e.Message == nil {
				continue
			}
			mu.Lock()
			if t, ok := sentAt[e.Message.Body]; ok {
				arrived = append(arrived, now.Sub(t))
				delete(sentAt, e.Message.Body)
				if len(arrived)+int(failures.Load()) >= o.messages {
					mu.Unlock()
					return
				}
			}
			mu.Unlock()
		}
	}()

	// Open loop: message i is due at began+i/rate, and its latency counts
	// from then, so time spent waiting for a free sender is not hidden
	// (no coordinated omission).
	type job struct {
		i   int
		due time.Time
	}
	jobs := make(chan job, o.messages)
	var wg sync.WaitGroup
	for range o.workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := range jobs {
				v := visitors[j.i%len(visitors)]
				body := benchMessageBody(j.i, o.words)
				payload, _ := json.Marshal(map[string]string{"body": body})
				req, _ := http.NewRequestWithContext(ctx, http.MethodPost, fmt.Sprintf("%s/conversations/%d/messages", api, v.conversation), bytes.NewReader(payload))
				req.Header.Set("Content-Type", "application/json")
				req.Header.Set("Authorization", "Bearer "+v.token)
				start := j.due
				if start.IsZero() {
					start = time.Now()
				}
				mu.Lock()
				sentAt[body] = start
				mu.Unlock()
				resp, err := client.Do(req)
				if err == nil {
					// Read to the end so that the connection is reused.
					_, readErr := io.Copy(io.Discard, resp.Body)
					_ = resp.Body.Close()
					switch {
					case resp.StatusCode != http.StatusCreated:
						err = fmt.Errorf("send: %s", resp.Status)
					case readErr != nil:
						err = fmt.Errorf("send: read the answer: %w", readErr)
					}
				}
				if err != nil {
					failures.Add(1)
					firstErr.CompareAndSwap(nil, err.Error())
					mu.Lock()
					delete(sentAt, body)
					mu.Unlock()
					continue
				}
				mu.Lock()
				acked = append(acked, time.Since(start))
				mu.Unlock()
			}
		}()
	}
	if o.cpuProfile != "" {
		f, err := os.Create(o.cpuProfile)
		if err != nil {
			return err
		}
		if err := pprof.StartCPUProfile(f); err != nil {
			_ = f.Close() // empty: the error to report is the one above
			return err
		}
		defer func() {
			pprof.StopCPUProfile()
			if err := f.Close(); err != nil && retErr == nil {
				retErr = fmt.Errorf("-cpuprofile: %w", err)
			}
		}()
	}
	// CPU time over the run, the outbox's drain included: this process (the
	// web nodes and the load generator), the PostgreSQL backends of its
	// connections, and the Temporal dev server if the bench started it.
	var backends *backendCPU
	stopBackends := func() {}
	if dbURL != "" {
		backends = newBackendCPU(st, benchAppName(schema))
		stopBackends = backends.sample(ctx)
	}
	selfBefore := selfCPU()
	temporalBefore, _ := procCPU(temporalPid)
	depth := outboxDepth(ctx, st, temporal != nil)
	began := time.Now()
	for i := range o.messages {
		var due time.Time
		if o.rate > 0 {
			due = began.Add(time.Duration(i) * time.Second / time.Duration(o.rate))
			if wait := time.Until(due); wait > 0 {
				select {
				case <-time.After(wait):
				case <-ctx.Done():
					close(jobs)
					return ctx.Err()
				}
			}
		}
		jobs <- job{i: i, due: due}
	}
	close(jobs)
	wg.Wait()
	sending := time.Since(began)
	// Late events still count: the wait ends when every message arrived,
	// or when none has for 5 s (those left never arrived), or after a
	// minute.
	arrivals := func() int { mu.Lock(); defer mu.Unlock(); return len(arrived) }
	for last, quietSince, deadline := arrivals(), time.Now(), time.Now().Add(time.Minute); ; {
		select {
		case <-done:
		case <-time.After(100 * time.Millisecond):
			if n := arrivals(); n != last {
				last, quietSince = n, time.Now()
			}
			if time.Since(quietSince) < 5*time.Second && time.Now().Before(deadline) {
				continue
			}
		}
		break
	}
	total := time.Since(began)
	// CPU over the run alone: what the messages cost as they are sent
	// and delivered live; the outbox's drain below adds the lifecycle
	// signals that were let wait.
	runSelf := selfCPU() - selfBefore
	var runBackends, runTemporal time.Duration
	if backends != nil {
		backends.poll(ctx, false)
		runBackends = backends.total()
	}
	if after, ok := procCPU(temporalPid); ok && temporalPid > 0 {
		runTemporal = after - temporalBefore
	}
	if temporal != nil {
		drained, drainedIn, left := benchSignalLag(ctx, st, drainers)
		_, _ = fmt.Fprintf(out, "lifecycle signals: %d in %d deliveries to Temporal (%.1f a delivery); longest wait in the outbox %s; most waiting at once %d; outbox empty %.2fs after the last send; %d left\n",
			drained.Signals, drained.Deliveries, float64(drained.Signals)/float64(max(drained.Deliveries, 1)),
			drained.MaxLag.Round(time.Millisecond), depth(), drainedIn.Seconds(), left)
	}
	window := time.Since(began)
	selfUsed := selfCPU() - selfBefore
	stopBackends()
	var temporalUsed time.Duration
	if temporalPid > 0 {
		if after, ok := procCPU(temporalPid); ok {
			temporalUsed = after - temporalBefore
		}
	}
	// Everything is measured: a failed closing handshake changes nothing.
	_ = conn.Close(websocket.StatusNormalClosure, "")

	mu.Lock()
	defer mu.Unlock()
	lost := len(sentAt)
	_, _ = fmt.Fprintf(out, "sent %d in %.2fs: %.0f messages/s acknowledged; %d failed", len(acked), sending.Seconds(), float64(len(acked))/sending.Seconds(), failures.Load())
	if e := firstErr.Load(); e != nil {
		_, _ = fmt.Fprintf(out, " (first: %s)", e)
	}
	_, _ = fmt.Fprintln(out)
	_, _ = fmt.Fprintf(out, "arrived on the operator's socket: %d (%.0f/s over %.2fs), never arrived: %d\n", len(arrived), float64(len(arrived))/total.Seconds(), total.Seconds(), lost)
	_, _ = fmt.Fprintf(out, "send → acknowledged:   %s\n", percentiles(acked))
	var batches, batched int64
	for _, node := range nodes {
		b, m := node.Conversations.GroupCommitStats()
		batches, batched = batches+b, batched+m
	}
	_, _ = fmt.Fprintf(out, "group commit since the nodes started: %d messages in %d statements, %.2f a statement\n",
		batched, batches, float64(batched)/float64(max(batches, 1)))
	_, _ = fmt.Fprintf(out, "send → operator socket: %s\n", percentiles(arrived))
	n := int64(len(acked))
	cpuLine := func(over string, d, self, pg, tmp time.Duration) {
		cpu := fmt.Sprintf("CPU per message over %.2fs (%s): convot process (%d web node(s) and the load generator) %s", d.Seconds(), over, o.nodes, perUnit(self, n))
		if backends != nil {
			cpu += ", PostgreSQL backends " + perUnit(pg, n)
		}
		if temporalPid > 0 {
			cpu += ", Temporal dev server " + perUnit(tmp, n)
		}
		_, _ = fmt.Fprintln(out, cpu)
	}
	cpuLine("the run", total, runSelf, runBackends, runTemporal)
	if temporal != nil {
		var pg time.Duration
		if backends != nil {
			pg = backends.total()
		}
		cpuLine("the run and the outbox's drain, idle waits included", window, selfUsed, pg, temporalUsed)
	}
	if len(clients) > 0 && dbURL == "" {
		_, _ = fmt.Fprintln(out, "baseline: none (pgbench needs PostgreSQL: set DATABASE_URL)")
	}
	if len(baseline) > 0 {
		printBaseline(out, baseline, o.pgbenchFor)
		best := slices.MaxFunc(baseline, func(a, b baselineResult) int { return cmp.Compare(a.tps, b.tps) })
		rate := float64(len(acked)) / sending.Seconds()
		_, _ = fmt.Fprintf(out, "side by side: convot %.0f messages/s acknowledged, pgbench %.0f inserts/s (%d clients): %.2f × pgbench\n",
			rate, best.tps, best.clients, rate/best.tps)
	}
	if lost > 0 || failures.Load() > 0 {
		return fmt.Errorf("%d messages failed and %d never reached the operator", failures.Load(), lost)
	}
	return nil
}

// benchSettle waits (up to limit) until this process and the Temporal
// dev server (pid, 0 for none) use less than a fifth of a core between
// them for two seconds running: the lifecycles started before the run
// have finished their first work (routing, indexing, language) and the
// run measures messages alone. It returns how long it waited.
func benchSettle(pid int, limit time.Duration) time.Duration {
	start := time.Now()
	quiet := 0
	for quiet < 2 && time.Since(start) < limit {
		self := selfCPU()
		tmp, _ := procCPU(pid)
		time.Sleep(time.Second)
		used := selfCPU() - self
		if after, ok := procCPU(pid); ok && pid > 0 {
			used += after - tmp
		}
		if used < 200*time.Millisecond {
			quiet++
		} else {
			quiet = 0
		}
	}
	return time.Since(start)
}

// benchSignalLag waits (up to a minute) for the outbox to empty and returns
// the longest any signal waited in it, how long the emptying took from now,
// and what was left.
func benchSignalLag(ctx context.Context, st *store.Store, drainers []*conversation.OutboxDrainer) (stats conversation.DrainStats, drainedIn time.Duration, left int64) {
	start := time.Now()
	for time.Since(start) < time.Minute {
		n, err := st.PendingLifecycleSignals(ctx)
		if err != nil || n == 0 {
			left = n
			break
		}
		left = n
		time.Sleep(50 * time.Millisecond)
	}
	drainedIn = time.Since(start)
	for _, d := range drainers {
		one := d.TakeStats()
		stats.Deliveries += one.Deliveries
		stats.Signals += one.Signals
		stats.MaxLag = max(stats.MaxLag, one.MaxLag)
	}
	return stats, drainedIn, left
}

func rateText(rate int) string {
	if rate <= 0 {
		return "max"
	}
	return fmt.Sprint(rate)
}

func percentiles(d []time.Duration) string {
	if len(d) == 0 {
		return "no samples"
	}
	s := slices.Clone(d)
	slices.Sort(s)
	at := func(p float64) time.Duration { return s[min(len(s)-1, int(p*float64(len(s))))] }
	ms := func(x time.Duration) string { return fmt.Sprintf("%.1fms", float64(x.Microseconds())/1000) }
	return fmt.Sprintf("p50 %s  p90 %s  p99 %s  max %s", ms(at(0.50)), ms(at(0.90)), ms(at(0.99)), ms(s[len(s)-1]))
}

// benchSchema gives the bench a schema of its own in PostgreSQL, and its
// connections an application name of their own (benchAppName) that tells
// their backends apart; with no DATABASE_URL it uses SQLite in its
// temporary directory.
func benchSchema(base string) (dbURL, schema string, drop func(), err error) {
	if base == "" {
		return "", "", func() {}, nil
	}
	db, err := models.Open(base, "")
	if err != nil {
		return "", "", nil, err
	}
	admin := store.New(db, nil)
	name := "bench_" + strings.ToLower(regexp.MustCompile(`[^A-Za-z0-9]`).ReplaceAllString(crypto.RandomToken(8), "x"))
	if err := admin.CreateSchema(context.Background(), name); err != nil {
		return "", "", nil, err
	}
	drop = func() {
		if err := admin.DropSchema(context.Background(), name); err != nil {
			slog.Warn("bench: schema left behind", "schema", name, "err", err)
		}
		_ = admin.Close() // the admin connection only dropped the schema
	}
	u, err := url.Parse(base)
	if err != nil {
		drop()
		return "", "", nil, err
	}
	q := u.Query()
	q.Set("search_path", name)
	q.Set("application_name", benchAppName(name))
	u.RawQuery = q.Encode()
	return u.String(), name, drop, nil
}

// benchAppName is the application name of the bench's connections.
func benchAppName(schema string) string { return "convot-" + appSuffix.Replace(schema) }

// benchTemporal starts a Temporal dev server for the bench, on free ports,
// its data in dir.
func benchTemporal(ctx context.Context, dir, namespace string, out io.Writer) (*devstack.TemporalServer, error) {
	cli, err := devstack.FindTemporalCLI(ctx, os.Getenv, out)
	if err != nil {
		return nil, fmt.Errorf("-lifecycles needs a Temporal server: set TEMPORAL_ADDRESS, or let the bench start a dev server (%w); -lifecycles=false runs without lifecycle tracking", err)
	}
	var ports [2]int
	for i := range ports {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return nil, err
		}
		ports[i] = ln.Addr().(*net.TCPAddr).Port
		_ = ln.Close() // only its number was wanted
	}
	attrs := map[string]string{}
	for name, kind := range workflows.SearchAttributes {
		attrs[name] = kind.String()
	}
	_, _ = fmt.Fprintln(out, "starting a Temporal dev server for the lifecycle signals...")
	return devstack.StartTemporal(ctx, devstack.TemporalOptions{
		CLIPath: cli, DataDir: filepath.Join(dir, "temporal"), IP: "127.0.0.1",
		Port: ports[0], UIPort: ports[1], Namespace: namespace, SearchAttributes: attrs,
	})
}

// outboxDepth samples the lifecycle outbox every 250 ms until the returned
// function is called, which returns the most signals waiting at once.
func outboxDepth(ctx context.Context, st *store.Store, on bool) func() int64 {
	if !on {
		return func() int64 { return 0 }
	}
	var most atomic.Int64
	done := make(chan struct{})
	finished := make(chan struct{})
	go func() {
		defer close(finished)
		t := time.NewTicker(250 * time.Millisecond)
		defer t.Stop()
		for {
			select {
			case <-done:
				return
			case <-t.C:
				if n, err := st.PendingLifecycleSignals(ctx); err == nil && n > most.Load() {
					most.Store(n)
				}
			}
		}
	}()
	var once sync.Once
	return func() int64 {
		once.Do(func() { close(done); <-finished })
		return most.Load()
	}
}

// benchOrganization creates an organization and an operator, signs the
// operator in through the login form, and returns the widget key and the
// session cookies.
func benchOrganization(ctx context.Context, st *store.Store, base string) (string, string, error) {
	password := crypto.RandomToken(16)
	hash, err := dashboard.HashPassword(password)
	if err != nil {
		return "", "", err
	}
	org := models.Organization{PublicKey: crypto.RandomToken(16), CompanyName: "Bench", Region: "eu", Status: models.OrgActive}
	email := "operator@bench.convot.localhost"
	err = st.Tx(ctx, func(tx *store.Store) error {
		if err := tx.CreateOrganization(ctx, &org); err != nil {
			return err
		}
		return tx.CreateAccount(ctx, &models.Account{OrganizationID: org.ID, FullName: "Bench Operator", Email: email,
			PasswordHash: hash, Role: models.RoleAgent, Status: "active", TimeZone: "UTC", Language: "en"})
	})
	if err != nil {
		return "", "", err
	}
	jar, _ := cookiejar.New(nil)
	c := &http.Client{Jar: jar, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := c.Get(base + "/login")
	if err != nil {
		return "", "", err
	}
	page, err := io.ReadAll(resp.Body)
	_ = resp.Body.Close()
	if err != nil {
		return "", "", fmt.Errorf("login page: %w", err)
	}
	m := regexp.MustCompile(`name="csrf_token" value="([^"]+)"`).FindSubmatch(page)
	if m == nil {
		return "", "", errors.New("login page without a CSRF token")
	}
	resp, err = c.PostForm(base+"/login", url.Values{"email": {email}, "password": {password}, "csrf_token": {string(m[1])}})
	if err != nil {
		return "", "", err
	}
	_ = resp.Body.Close() // only the status and cookies are wanted
	if resp.StatusCode != http.StatusSeeOther {
		return "", "", fmt.Errorf("operator login: %s", resp.Status)
	}
	u, _ := url.Parse(base)
	var parts []string
	for _, ck := range jar.Cookies(u) {
		parts = append(parts, ck.Name+"="+ck.Value)
	}
	return org.PublicKey, strings.Join(parts, "; "), nil
}

type benchVisitor struct {
	token        string
	conversation uint64
}

// benchVisitors starts a session and a conversation for each visitor.
func benchVisitors(ctx context.Context, client *http.Client, api string, n, parallel int) ([]benchVisitor, error) {
	visitors := make([]benchVisitor, n)
	errs := make(chan error, n)
	sem := make(chan struct{}, parallel)
	var wg sync.WaitGroup
	for i := range visitors {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			var session struct {
				Token string `json:"token"`
			}
			if err := benchJSON(ctx, client, api+"/session", "", map[string]any{"page_url": "https://bench.example/", "create": true}, &session); err != nil {
				errs <- fmt.Errorf("visitor session: %w", err)
				return
			}
			var started struct {
				Conversation struct {
					ID uint64 `json:"id"`
				} `json:"conversation"`
			}
			if err := benchJSON(ctx, client, api+"/conversations", session.Token, map[string]string{"body": "hello"}, &started); err != nil {
				errs <- fmt.Errorf("start conversation: %w", err)
				return
			}
			visitors[i] = benchVisitor{token: session.Token, conversation: started.Conversation.ID}
		}()
	}
	wg.Wait()
	close(errs)
	if err := <-errs; err != nil {
		return nil, err
	}
	return visitors, nil
}

func benchJSON(ctx context.Context, client *http.Client, url, token string, body, into any) error {
	payload, _ := json.Marshal(body)
	req, _ := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(payload))
	req.Header.Set("Content-Type", "application/json")
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := client.Do(req)
	if err != nil {
		return err
	}
	defer func() { _ = resp.Body.Close() }()
	if resp.StatusCode/100 != 2 {
		b, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
		return fmt.Errorf("%s: %s", resp.Status, bytes.TrimSpace(b))
	}
	return json.NewDecoder(resp.Body).Decode(into)
}

// benchWords are what a longer bench message is made of beyond its first
// three words ("bench message N").
var benchWords = strings.Fields(`hello thanks order shipping delivery refund invoice account password
	login problem question answer payment card address package tracking number week today
	tomorrow please help support email phone return size colour price discount code cart
	checkout subscription cancel update change error page app mobile browser`)

// benchMessageBody is message i of the bench, of n words (n >= 3): "bench
// message i" and n-3 words of benchWords, each message's own selection, so
// that messages index different words, as a conversation's do.
func benchMessageBody(i, n int) string {
	var b strings.Builder
	fmt.Fprintf(&b, "bench message %d", i)
	for k := range n - 3 {
		b.WriteByte(' ')
		b.WriteString(benchWords[(i*7+k*13)%len(benchWords)])
	}
	return b.String()
}

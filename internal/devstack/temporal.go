package devstack

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"go.temporal.io/api/operatorservice/v1"
	"go.temporal.io/api/workflowservice/v1"
	"go.temporal.io/sdk/client"
	tlog "go.temporal.io/sdk/log"
)

const (
	defaultIP           = "127.0.0.1"
	defaultPort         = 7233
	defaultUIPort       = 8233
	defaultNamespace    = "default"
	defaultStartTimeout = 60 * time.Second
	defaultMaxRestarts  = 5
	defaultStopTimeout  = 10 * time.Second

	// stableAfter is how long a child must have run for its exit to count as
	// a fresh failure rather than one more in a crash loop.
	stableAfter   = time.Minute
	backoffFirst  = 500 * time.Millisecond
	backoffMax    = 30 * time.Second
	probeInterval = 200 * time.Millisecond
	probeTimeout  = 2 * time.Second
)

// searchAttributeTypes maps the lower-cased type names start-dev accepts to
// their spelling.
var searchAttributeTypes = map[string]string{
	"text": "Text", "keyword": "Keyword", "int": "Int", "double": "Double",
	"bool": "Bool", "datetime": "Datetime", "keywordlist": "KeywordList",
}

// TemporalOptions configures StartTemporal.
type TemporalOptions struct {
	// CLIPath is the Temporal CLI binary (see FindTemporalCLI). Required.
	CLIPath string
	// DataDir holds the dev server's SQLite file (temporal.db) and, unless
	// Log is set, its output (temporal.log). Required; created if missing.
	DataDir string
	// IP the frontend and the web UI bind to. Default 127.0.0.1.
	IP string
	// Port of the frontend gRPC service. Default 7233.
	Port int
	// UIPort of the web UI. Default 8233.
	UIPort int
	// Namespace created at start. Default "default".
	Namespace string
	// SearchAttributes registered at start: name -> type (Text, Keyword,
	// Int, Double, Bool, Datetime, KeywordList), passed as
	// --search-attribute name=Type.
	SearchAttributes map[string]string
	// UICodecEndpoint is the codec server the web UI calls to show
	// encrypted payloads in clear (--ui-codec-endpoint); empty for none. A
	// path alone ("/codec") is called on the origin the UI is served from.
	UICodecEndpoint string
	// UIPublicPath is the path the web UI is served under
	// (--ui-public-path), e.g. "/temporal" behind a reverse proxy on
	// another server's origin; empty for the root.
	UIPublicPath string
	// Log receives the child's stdout and stderr. Default: DataDir/temporal.log
	// (appended to), so the dev console stays readable.
	Log io.Writer

	// Logger receives supervision events (restarts, stops). Default slog.Default().
	Logger *slog.Logger
	// StartTimeout bounds each start until the server is ready. Default 60s.
	StartTimeout time.Duration
	// MaxRestarts is how many consecutive unexpected exits are restarted
	// before supervision gives up (a run longer than a minute resets the
	// count). Default 5; negative disables restarts.
	MaxRestarts int
}

// TemporalServer is a running, supervised `temporal server start-dev` child.
type TemporalServer struct {
	opts    TemporalOptions
	args    []string
	addr    string
	uiURL   string
	logPath string   // "" when the output goes to opts.Log
	logFile *os.File // owned, closed by Stop
	out     *logSink
	log     *slog.Logger

	supCtx    context.Context
	supCancel context.CancelFunc
	supDone   chan struct{}

	mu       sync.Mutex
	cur      *child
	stopping bool
	restarts int
	err      error

	stopOnce sync.Once
	stopErr  error
}

// child is one run of the CLI process; it leads its own process group.
type child struct {
	pid     int
	started time.Time
	exited  chan struct{} // closed once Wait returned
	waitErr error         // set before exited is closed
}

var errStopping = errors.New("the Temporal dev server is stopping")

// StartTemporal starts `temporal server start-dev` as a child process in its
// own process group and returns once its frontend answers gRPC health
// checks, the namespace and search attributes exist and the web UI answers
// HTTP. From then on the child is supervised: an unexpected exit is logged
// and the server restarted with exponential backoff, up to MaxRestarts.
//
// ctx bounds the start only (cancelling it later does not stop the server);
// call Stop to stop it. On Linux the child also gets SIGTERM if convot dies
// without calling Stop.
func StartTemporal(ctx context.Context, o TemporalOptions) (*TemporalServer, error) {
	o, args, err := normalize(o)
	if err != nil {
		return nil, err
	}
	if err := os.MkdirAll(o.DataDir, 0o700); err != nil {
		return nil, fmt.Errorf("create the data directory: %w", err)
	}

	s := &TemporalServer{
		opts:    o,
		args:    args,
		addr:    net.JoinHostPort(dialHost(o.IP), strconv.Itoa(o.Port)),
		uiURL:   "http://" + net.JoinHostPort(dialHost(o.IP), strconv.Itoa(o.UIPort)),
		log:     o.Logger,
		supDone: make(chan struct{}),
	}
	w := o.Log
	if w == nil {
		s.logPath = filepath.Join(o.DataDir, "temporal.log")
		f, err := os.OpenFile(s.logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
		if err != nil {
			return nil, fmt.Errorf("open the Temporal dev server log: %w", err)
		}
		s.logFile, w = f, f
	}
	s.out = &logSink{w: w, tail: tailBuffer{max: 16 << 10}}
	s.supCtx, s.supCancel = context.WithCancel(context.Background())

	fail := func(err error) (*TemporalServer, error) {
		s.supCancel()
		if s.logFile != nil {
			_ = s.logFile.Close() // err is the failure to report
		}
		return nil, err
	}
	c, err := s.startChild()
	if err != nil {
		return fail(err)
	}
	readyCtx, cancel := context.WithTimeout(ctx, o.StartTimeout)
	err = s.waitReady(readyCtx, c)
	cancel()
	if err != nil {
		if serr := s.stopChild(c, 5*time.Second); serr != nil {
			s.log.Warn("stopping the Temporal dev server after a failed start", "err", serr)
		}
		if ctx.Err() != nil {
			err = ctx.Err()
		}
		return fail(fmt.Errorf("temporal server start-dev: %w%s", err, s.outputHint()))
	}
	s.log.Info("Temporal dev server ready", "address", s.addr, "ui", s.uiURL, "pid", c.pid)
	go s.supervise(c)
	return s, nil
}

// Address is the frontend's host:port, for client.Options.HostPort.
func (s *TemporalServer) Address() string { return s.addr }

// UIURL is the web UI server's base URL (its public path not included).
func (s *TemporalServer) UIURL() string { return s.uiURL }

// Pid is the process id of the current (or, once stopped, the last) child.
// The child leads its own process group, so it is also the group id.
func (s *TemporalServer) Pid() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.cur == nil {
		return 0
	}
	return s.cur.pid
}

// Restarts is how many times the supervisor has restarted the server.
func (s *TemporalServer) Restarts() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.restarts
}

// Done is closed when supervision ends: after Stop, or when the supervisor
// gave up restarting (Err then says why).
func (s *TemporalServer) Done() <-chan struct{} { return s.supDone }

// Err is non-nil once the supervisor has given up restarting the server.
func (s *TemporalServer) Err() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.err
}

// Stop ends supervision (so nothing is restarted), sends SIGINT to the
// child's process group, waits up to timeout (10s if timeout <= 0) for it
// to exit, then sends SIGKILL to the group; it returns once no process of
// the group is left. Stop is idempotent: later calls wait for the first and
// return its result.
func (s *TemporalServer) Stop(timeout time.Duration) error {
	s.stopOnce.Do(func() { s.stopErr = s.stop(timeout) })
	return s.stopErr
}

func (s *TemporalServer) stop(timeout time.Duration) error {
	if timeout <= 0 {
		timeout = defaultStopTimeout
	}
	s.mu.Lock()
	s.stopping = true
	s.mu.Unlock()
	s.supCancel()
	<-s.supDone // the supervisor starts no child once stopping is set

	s.mu.Lock()
	c := s.cur
	s.mu.Unlock()
	var err error
	if c != nil {
		err = s.stopChild(c, timeout)
	}
	if s.logFile != nil {
		if cerr := s.logFile.Close(); err == nil && cerr != nil && !errors.Is(cerr, os.ErrClosed) {
			err = cerr
		}
	}
	if err == nil {
		s.log.Info("Temporal dev server stopped")
	}
	return err
}

// stopChild interrupts c's process group, kills it after timeout, and then
// kills whatever is left in the group.
func (s *TemporalServer) stopChild(c *child, timeout time.Duration) error {
	select {
	case <-c.exited:
	default:
		if err := interruptGroup(c.pid); err != nil {
			return fmt.Errorf("interrupt the Temporal dev server: %w", err)
		}
		select {
		case <-c.exited:
		case <-time.After(timeout):
			s.log.Warn("Temporal dev server did not stop in time; killing it", "pid", c.pid, "timeout", timeout)
			if err := killGroup(c.pid); err != nil {
				return fmt.Errorf("kill the Temporal dev server: %w", err)
			}
			select {
			case <-c.exited:
			case <-time.After(10 * time.Second):
				return fmt.Errorf("the Temporal dev server (pid %d) did not exit after SIGKILL", c.pid)
			}
		}
	}
	return reapGroup(c.pid)
}

// reapGroup kills processes left in the group after its leader exited.
func reapGroup(pgid int) error {
	if !groupAlive(pgid) {
		return nil
	}
	if err := killGroup(pgid); err != nil {
		return err
	}
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		if !groupAlive(pgid) {
			return nil
		}
	}
	return fmt.Errorf("processes of group %d are still alive after SIGKILL", pgid)
}

// startChild starts one CLI process, unless Stop has begun.
func (s *TemporalServer) startChild() (*child, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.stopping {
		return nil, errStopping
	}
	if err := checkPortsFree(s.opts.IP, s.opts.Port, s.opts.UIPort); err != nil {
		return nil, err
	}
	cmd := exec.Command(s.opts.CLIPath, s.args...)
	cmd.Dir = s.opts.DataDir
	cmd.Stdout, cmd.Stderr = s.out, s.out // one copying goroutine, one pipe
	cmd.SysProcAttr = sysProcAttr()
	cmd.WaitDelay = 2 * time.Second // do not hang on a pipe held by a stray grandchild
	_, _ = fmt.Fprintf(s.out, "\n--- convot %s: %s %s\n", time.Now().Format(time.RFC3339), s.opts.CLIPath, strings.Join(s.args, " "))
	if err := startProcess(cmd); err != nil {
		return nil, fmt.Errorf("start %s: %w", s.opts.CLIPath, err)
	}
	c := &child{pid: cmd.Process.Pid, started: time.Now(), exited: make(chan struct{})}
	go func() {
		c.waitErr = cmd.Wait()
		_, _ = fmt.Fprintf(s.out, "--- convot %s: pid %d exited: %v\n", time.Now().Format(time.RFC3339), c.pid, exitStatus(c.waitErr))
		close(c.exited)
	}()
	s.cur = c
	return c, nil
}

// supervise restarts the child when it exits without Stop being called.
func (s *TemporalServer) supervise(c *child) {
	defer close(s.supDone)
	failures := 0
	for {
		select {
		case <-s.supCtx.Done():
			return
		case <-c.exited:
		}
		if s.supCtx.Err() != nil {
			return
		}
		ran := time.Since(c.started)
		if ran >= stableAfter {
			failures = 0
		}
		failures++
		if c.pid > 0 {
			_ = reapGroup(c.pid)
		}
		if s.opts.MaxRestarts < 0 || failures > s.opts.MaxRestarts {
			why := "restarts are disabled"
			if s.opts.MaxRestarts >= 0 {
				why = fmt.Sprintf("it already failed after %d restarts in a row", failures-1)
			}
			err := fmt.Errorf("the Temporal dev server exited (%v) and is not restarted: %s%s",
				exitStatus(c.waitErr), why, s.outputHint())
			s.mu.Lock()
			s.err = err
			s.mu.Unlock()
			s.log.Error("Temporal dev server supervision gave up", "err", err)
			return
		}
		delay := backoff(failures)
		s.log.Warn("Temporal dev server exited unexpectedly; restarting it",
			"pid", c.pid, "status", exitStatus(c.waitErr), "ran", ran.Round(time.Millisecond),
			"restart_in", delay, "attempt", failures, "max_restarts", s.opts.MaxRestarts)
		select {
		case <-s.supCtx.Done():
			return
		case <-time.After(delay):
		}
		nc, err := s.startChild()
		if errors.Is(err, errStopping) {
			return
		}
		s.mu.Lock()
		s.restarts++
		s.mu.Unlock()
		if err != nil {
			s.log.Warn("restarting the Temporal dev server failed", "err", err)
			done := make(chan struct{})
			close(done)
			c = &child{started: time.Now(), exited: done, waitErr: err}
			continue
		}
		c = nc
		go s.checkRestarted(nc)
	}
}

// checkRestarted logs when a restarted child is ready, and kills it if it
// does not become ready in time (the supervisor then tries again).
func (s *TemporalServer) checkRestarted(c *child) {
	ctx, cancel := context.WithTimeout(s.supCtx, s.opts.StartTimeout)
	defer cancel()
	err := s.waitReady(ctx, c)
	switch {
	case err == nil:
		s.log.Info("Temporal dev server restarted and ready", "pid", c.pid, "address", s.addr)
	case s.supCtx.Err() != nil:
	default:
		select {
		case <-c.exited:
		default:
			s.log.Warn("restarted Temporal dev server is not ready; killing it", "pid", c.pid, "err", err)
			_ = killGroup(c.pid)
		}
	}
}

// waitReady polls until the server is ready, c exits, or ctx ends.
func (s *TemporalServer) waitReady(ctx context.Context, c *child) error {
	var cl client.Client
	defer func() {
		if cl != nil {
			cl.Close()
		}
	}()
	for {
		select {
		case <-c.exited:
			return fmt.Errorf("exited during start (%v)", exitStatus(c.waitErr))
		default:
		}
		err := s.probe(ctx, &cl)
		if err == nil {
			return nil
		}
		select {
		case <-c.exited:
			return fmt.Errorf("exited during start (%v)", exitStatus(c.waitErr))
		case <-ctx.Done():
			return fmt.Errorf("not ready: %w (last check: %w)", ctx.Err(), err)
		case <-time.After(probeInterval):
		}
	}
}

// probe checks once that the frontend is healthy, the namespace and the
// search attributes exist, and the web UI answers.
func (s *TemporalServer) probe(ctx context.Context, cl *client.Client) error {
	ctx, cancel := context.WithTimeout(ctx, probeTimeout)
	defer cancel()
	if *cl == nil {
		var d net.Dialer
		conn, err := d.DialContext(ctx, "tcp", s.addr)
		if err != nil {
			return fmt.Errorf("frontend %s: %w", s.addr, err)
		}
		_ = conn.Close() // it only showed that the port answers
		c, err := client.DialContext(ctx, client.Options{
			HostPort:  s.addr,
			Namespace: s.opts.Namespace,
			Logger:    tlog.NewStructuredLogger(slog.New(slog.DiscardHandler)),
		})
		if err != nil {
			return fmt.Errorf("frontend %s: %w", s.addr, err)
		}
		*cl = c
	}
	c := *cl
	if _, err := c.CheckHealth(ctx, &client.CheckHealthRequest{}); err != nil {
		return fmt.Errorf("health check: %w", err)
	}
	if _, err := c.WorkflowService().DescribeNamespace(ctx, &workflowservice.DescribeNamespaceRequest{Namespace: s.opts.Namespace}); err != nil {
		return fmt.Errorf("namespace %q: %w", s.opts.Namespace, err)
	}
	if len(s.opts.SearchAttributes) > 0 {
		resp, err := c.OperatorService().ListSearchAttributes(ctx, &operatorservice.ListSearchAttributesRequest{Namespace: s.opts.Namespace})
		if err != nil {
			return fmt.Errorf("list search attributes: %w", err)
		}
		for name := range s.opts.SearchAttributes {
			if _, ok := resp.GetCustomAttributes()[name]; !ok {
				return fmt.Errorf("search attribute %s is not registered yet", name)
			}
		}
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, s.uiURL+s.opts.UIPublicPath+"/", nil)
	if err != nil {
		return err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return fmt.Errorf("web UI: %w", err)
	}
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 1<<20))
	_ = resp.Body.Close()
	if resp.StatusCode >= 500 {
		return fmt.Errorf("web UI: %s", resp.Status)
	}
	return nil
}

// outputHint returns the end of the child's output and where the rest is.
func (s *TemporalServer) outputHint() string {
	var b strings.Builder
	if tail := strings.TrimSpace(lastLines(s.out.tailString(), 15)); tail != "" {
		b.WriteString("\nlast output of the Temporal dev server:\n")
		b.WriteString(tail)
	}
	if s.logPath != "" {
		fmt.Fprintf(&b, "\n(full output in %s)", s.logPath)
	}
	return b.String()
}

// normalize applies the defaults, validates o and builds the CLI arguments.
func normalize(o TemporalOptions) (TemporalOptions, []string, error) {
	if o.CLIPath == "" {
		return o, nil, errors.New("devstack: TemporalOptions.CLIPath is required (see FindTemporalCLI)")
	}
	if o.DataDir == "" {
		return o, nil, errors.New("devstack: TemporalOptions.DataDir is required")
	}
	dir, err := filepath.Abs(o.DataDir)
	if err != nil {
		return o, nil, err
	}
	o.DataDir = dir
	if o.IP == "" {
		o.IP = defaultIP
	}
	if o.Port == 0 {
		o.Port = defaultPort
	}
	if o.UIPort == 0 {
		o.UIPort = defaultUIPort
	}
	if o.Namespace == "" {
		o.Namespace = defaultNamespace
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	if o.StartTimeout <= 0 {
		o.StartTimeout = defaultStartTimeout
	}
	if o.MaxRestarts == 0 {
		o.MaxRestarts = defaultMaxRestarts
	}
	for _, p := range []int{o.Port, o.UIPort} {
		if p < 1 || p > 65535 {
			return o, nil, fmt.Errorf("devstack: port %d out of range", p)
		}
	}
	if o.Port == o.UIPort {
		return o, nil, fmt.Errorf("devstack: the gRPC port and the UI port are both %d", o.Port)
	}

	args := []string{"server", "start-dev",
		"--ip", o.IP,
		"--port", strconv.Itoa(o.Port),
		"--ui-port", strconv.Itoa(o.UIPort),
		"--db-filename", filepath.Join(o.DataDir, "temporal.db"),
		"--namespace", o.Namespace,
		"--log-level", "warn",
	}
	names := make([]string, 0, len(o.SearchAttributes))
	for name := range o.SearchAttributes {
		names = append(names, name)
	}
	sort.Strings(names)
	attrs := make(map[string]string, len(names))
	for _, name := range names {
		if !isIdentifier(name) {
			return o, nil, fmt.Errorf("devstack: search attribute name %q is not an identifier", name)
		}
		typ, ok := searchAttributeTypes[strings.ToLower(o.SearchAttributes[name])]
		if !ok {
			return o, nil, fmt.Errorf("devstack: search attribute %s has type %q; want one of Text, Keyword, Int, Double, Bool, Datetime, KeywordList",
				name, o.SearchAttributes[name])
		}
		attrs[name] = typ
		args = append(args, "--search-attribute", name+"="+typ)
	}
	o.SearchAttributes = attrs
	if o.UICodecEndpoint != "" {
		args = append(args, "--ui-codec-endpoint", o.UICodecEndpoint)
	}
	if o.UIPublicPath != "" {
		if !strings.HasPrefix(o.UIPublicPath, "/") || strings.HasSuffix(o.UIPublicPath, "/") {
			return o, nil, fmt.Errorf("devstack: UI public path %q: want /name, without a trailing slash", o.UIPublicPath)
		}
		args = append(args, "--ui-public-path", o.UIPublicPath)
	}
	return o, args, nil
}

func isIdentifier(s string) bool {
	if s == "" {
		return false
	}
	for i, r := range s {
		switch {
		case r == '_', r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z':
		case r >= '0' && r <= '9' && i > 0:
		default:
			return false
		}
	}
	return true
}

// dialHost is where to connect for a server bound to ip.
func dialHost(ip string) string {
	if p := net.ParseIP(ip); p != nil && p.IsUnspecified() {
		if p.To4() != nil {
			return "127.0.0.1"
		}
		return "::1"
	}
	return ip
}

// checkPortsFree fails when something already listens on a port, so that a
// server already running there is not mistaken for the child.
func checkPortsFree(ip string, ports ...int) error {
	for _, p := range ports {
		ln, err := net.Listen("tcp", net.JoinHostPort(ip, strconv.Itoa(p)))
		if err != nil {
			return fmt.Errorf("port %d on %s is not available (is another Temporal server running?): %w", p, ip, err)
		}
		_ = ln.Close() // it only showed that the port is free
	}
	return nil
}

func backoff(failures int) time.Duration {
	d := backoffFirst
	for i := 1; i < failures && d < backoffMax; i++ {
		d *= 2
	}
	return min(d, backoffMax)
}

func exitStatus(err error) string {
	if err == nil {
		return "exit status 0"
	}
	return err.Error()
}

// FreePort returns a TCP port on 127.0.0.1 that was free a moment ago. It
// is taken below the kernel's ephemeral range (32768-60999 on Linux): a
// port from that range, released again, can be handed to the Temporal CLI
// when it picks "a random free port" for its HTTP API or metrics, and the
// dev server then collides with itself. Below the range only an explicit
// bind takes a port.
func FreePort() (int, error) {
	for range 200 {
		port := 15000 + rand.IntN(17000)
		ln, err := net.Listen("tcp", "127.0.0.1:"+strconv.Itoa(port))
		if err != nil {
			continue
		}
		_ = ln.Close() // it only showed that the port is free
		return port, nil
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer func() { _ = ln.Close() }()
	return ln.Addr().(*net.TCPAddr).Port, nil
}

// logSink serialises writes from the child's output and from convot to the
// log writer, keeps the end of the output for error messages, and never
// fails a write (a failing log must not block the child on a full pipe).
type logSink struct {
	mu   sync.Mutex
	w    io.Writer
	tail tailBuffer
}

func (l *logSink) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	_, _ = l.tail.Write(p)
	_, _ = l.w.Write(p)
	return len(p), nil
}

func (l *logSink) tailString() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.tail.String()
}

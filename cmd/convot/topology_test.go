package main

import (
	"archive/zip"
	"bufio"
	"bytes"
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime/multipart"
	"net"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/compose-spec/compose-go/v2/types"
	"github.com/johannesboyne/gofakes3"
	"github.com/johannesboyne/gofakes3/backend/s3mem"
	"gorm.io/gorm"

	"github.com/convot/convot/handlers/dashboard"
	"github.com/convot/convot/internal/crypto"
	"github.com/convot/convot/internal/devstack"
	"github.com/convot/convot/internal/mail"
	"github.com/convot/convot/internal/obligations"
	"github.com/convot/convot/internal/realtime"
	"github.com/convot/convot/internal/testenv"
	"github.com/convot/convot/models"
	"github.com/convot/convot/store"
)

// composeDependencies are the compose services Convot's containers reach
// by name, the variable naming each, and the port its image listens on.
// The topology test replaces each address by the one of the same service
// here (and checks that the compose file names a service that exists).
var composeDependencies = map[string]struct {
	service string
	port    string
}{
	"DATABASE_URL":       {"postgres", "5432"},
	"REDIS_URL":          {"redis", "6379"},
	"TEMPORAL_ADDRESS":   {"temporal", "7233"},
	"CONVOT_S3_ENDPOINT": {"objectstore", "9000"},
}

// topoProcess is one Convot container of the compose file, run as a process.
type topoProcess struct {
	name    string
	command []string
	user    *syscall.Credential // nil: the test's own
	env     []string
	// admin is the admin listener's base URL ("" for migrate); base the
	// HTTP listener's (web nodes only).
	admin, base string
	log         string
	cmd         *exec.Cmd
	exited      chan struct{}
}

// The production topology of docker-compose.yml runs, without Docker: the
// commands and environment of its Convot services (migrate, two web nodes,
// a worker), read with compose-go, are started as processes of the binary
// the image holds, with only the addresses that differ here replaced:
// PostgreSQL (a fresh schema), Redis, a Temporal dev server, an in-process
// S3 server whose bucket is the one the compose file creates at start, the
// named volumes (directories) and free ports. Temporal is started only
// once migrate waits for it, so its -wait is what lets it succeed. Then:
// a widget message on web-1 reaches an operator's socket on web-2; an attachment
// uploaded through web-1 downloads, the same bytes, through web-2 (it is
// in the bucket, not on a disk); an access request taken by web-1 and
// verified on web-2 runs on the worker to its completion, and its export
// (written to S3 by the worker) downloads; web-1 killed with SIGKILL
// leaves web-2 healthy and taking messages, and every message web-1
// acknowledged is stored and readable through web-2.
func TestComposeTopologyRuns(t *testing.T) {
	dbBase := testenv.Require(t, "DATABASE_URL")
	redisURL := testenv.Require(t, "REDIS_URL")
	cli := testenv.Require(t, "TEMPORAL_CLI")
	if testing.Short() {
		t.Skip("builds the binary and runs the topology")
	}
	began := time.Now()
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()

	// .env: the secrets, nothing else.
	masterText := crypto.GenerateMasterKey(1)
	pgPassword := os.Getenv("PGPASSWORD")
	if pgPassword == "" {
		pgPassword = "topology-" + crypto.RandomToken(8) // trust authentication ignores it
	}
	secrets := map[string]string{"POSTGRES_PASSWORD": pgPassword, "CONVOT_MASTER_KEY": masterText, "S3_SECRET_KEY": crypto.RandomToken(16)}
	project, err := loadCompose(t, secrets)
	if err != nil {
		t.Fatalf("docker-compose.yml does not load: %v", err)
	}
	image := readDockerfile(t)

	// The services run as the image's USER (when the test may switch to
	// it), in directories that user reaches.
	var runAs *syscall.Credential
	if os.Geteuid() == 0 {
		runAs = image.user
	} else if image.user != nil {
		t.Logf("not root: the services run as this user, not as the image's USER %d", image.user.Uid)
	}
	bin := filepath.Join(sharedDir(t, nil), "convot")
	if out, err := exec.CommandContext(ctx, "go", "build", "-p", "1", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("build: %v\n%s", err, out)
	}
	t.Logf("binary built in %s", time.Since(began).Round(time.Second))

	// The dependencies, here.
	dbURL, _, dropSchema, err := benchSchema(dbBase)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(dropSchema) // registered first: runs after every process stopped
	temporalPort, uiPort := freePort(t), freePort(t)
	s3backend := s3mem.New()
	s3 := httptest.NewServer(gofakes3.New(s3backend).Server())
	t.Cleanup(s3.Close)
	bucket := composeBucket(t, project)
	if err := s3backend.CreateBucket(bucket); err != nil {
		t.Fatal(err)
	}
	local := map[string]string{
		"DATABASE_URL":       dbURL,
		"REDIS_URL":          redisURL,
		"TEMPORAL_ADDRESS":   "127.0.0.1:" + strconv.Itoa(temporalPort),
		"CONVOT_S3_ENDPOINT": s3.URL,
	}
	volumes := map[string]string{} // named volume → directory
	logDir := t.TempDir()

	// Convot's services, by their command.
	var migrate *topoProcess
	var webs, workers []*topoProcess
	names := make([]string, 0, len(project.Services))
	for name, s := range project.Services {
		if s.Build != nil {
			names = append(names, name)
		}
	}
	slices.Sort(names)
	for _, name := range names {
		s := project.Services[name]
		if len(s.Entrypoint) > 0 {
			t.Fatalf("%s: entrypoint %v replaces the image's (%v)", name, s.Entrypoint, image.entrypoint)
		}
		if len(s.Command) == 0 {
			t.Fatalf("%s: no command", name)
		}
		p := &topoProcess{name: name, command: s.Command, log: filepath.Join(logDir, name+".log"), exited: make(chan struct{}), user: runAs}
		p.env = topologyEnv(t, project, s, image, local, volumes, p)
		switch s.Command[0] {
		case "migrate":
			migrate = p
		case "serve":
			webs = append(webs, p)
		case "worker":
			workers = append(workers, p)
		default:
			t.Fatalf("%s: unknown command %v", name, s.Command)
		}
	}
	if migrate == nil || len(webs) != 2 || len(workers) != 1 {
		t.Fatalf("want migrate, two web nodes and a worker; have migrate %v, web %d, worker %d", migrate != nil, len(webs), len(workers))
	}
	worker, web1, web2 := workers[0], webs[0], webs[1]
	dataDir := envValue(web1.env, "CONVOT_DATA_DIR")
	for _, p := range []*topoProcess{migrate, web2, worker} {
		if got := envValue(p.env, "CONVOT_DATA_DIR"); got != dataDir {
			t.Fatalf("%s and %s do not share CONVOT_DATA_DIR's volume (the mail outbox): %s, %s", web1.name, p.name, dataDir, got)
		}
	}
	// Every process is stopped before Temporal, the S3 server and the
	// schema go (cleanups run last registered first).
	var temporal *devstack.TemporalServer
	t.Cleanup(func() {
		if temporal != nil {
			_ = temporal.Stop(10 * time.Second) // the test is over
		}
	})

	// migrate starts before Temporal answers (a cold start): it migrates
	// the database, then its -wait retries Temporal until it is up.
	startTopo(t, bin, migrate)
	for deadline := time.Now().Add(time.Minute); !strings.Contains(tail(migrate.log), "dependency=temporal"); time.Sleep(100 * time.Millisecond) {
		select {
		case <-migrate.exited:
			t.Fatalf("migrate exited while Temporal was down:\n%s", tail(migrate.log))
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("migrate not waiting for Temporal after a minute:\n%s", tail(migrate.log))
		}
	}
	temporal, err = devstack.StartTemporal(ctx, devstack.TemporalOptions{
		CLIPath: cli, DataDir: t.TempDir(), Port: temporalPort, UIPort: uiPort,
		Namespace: envValue(migrate.env, "TEMPORAL_NAMESPACE"), Log: io.Discard, MaxRestarts: -1,
	})
	if err != nil {
		t.Fatal(err)
	}
	select {
	case <-migrate.exited:
	case <-time.After(2 * time.Minute):
		t.Fatalf("migrate still running after two minutes:\n%s", tail(migrate.log))
	}
	if code := migrate.cmd.ProcessState.ExitCode(); code != 0 {
		t.Fatalf("migrate exited with %d:\n%s", code, tail(migrate.log))
	}
	if out := tail(migrate.log); !strings.Contains(out, "search attributes registered") {
		t.Fatalf("migrate did not register the search attributes:\n%s", out)
	}

	// Then the services that wait for it, and their healthchecks.
	for _, p := range []*topoProcess{web1, web2, worker} {
		startTopo(t, bin, p)
	}
	for _, p := range []*topoProcess{web1, web2, worker} {
		waitHealthy(t, bin, project.Services[p.name], image, p)
	}
	t.Logf("topology up after %s", time.Since(began).Round(time.Second))
	if runAs != nil {
		status, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", web2.cmd.Process.Pid))
		if want := fmt.Sprintf("\nUid:\t%d\t", runAs.Uid); err != nil || !strings.Contains(string(status), want) {
			t.Fatalf("%s does not run as the image's USER %d: %v", web2.name, runAs.Uid, err)
		}
	}

	// The organization and its owner (the privacy officer), signed in on web-2.
	master, err := crypto.ParseMasterKeys(masterText)
	if err != nil {
		t.Fatal(err)
	}
	db, keys, err := models.Setup(ctx, dbURL, t.TempDir(), master)
	if err != nil {
		t.Fatal(err)
	}
	st := store.New(db, keys)
	t.Cleanup(func() { _ = st.Close() }) // read only from here
	orgKey, owner := topologyOwner(t, ctx, st, web2.base)

	// The operator's socket on web-2.
	events := operatorSocket(t, ctx, owner, web2.base)

	// 1. A widget message on web-1 reaches the operator on web-2.
	hc := &http.Client{Timeout: 15 * time.Second}
	api1, api2 := web1.base+"/widget/v1/"+orgKey, web2.base+"/widget/v1/"+orgKey
	email := "ada." + strings.ToLower(crypto.RandomToken(6)) + "@example.com"
	visitor := topoVisitor(t, ctx, hc, api1, "hello from web-1")
	waitMessage(t, events, "hello from web-1", web2.name)
	var identified map[string]any
	if err := benchJSON(ctx, hc, api1+"/identify", visitor.token, map[string]string{"name": "Ada", "email": email}, &identified); err != nil {
		t.Fatalf("identify on %s: %v", web1.name, err)
	}

	// 2. An attachment uploaded through web-1 downloads through web-2.
	file := make([]byte, 256<<10)
	_, _ = rand.Read(file)
	copy(file, "\x89PNG\r\n\x1a\n")
	attID := uploadAttachment(t, ctx, hc, api1, visitor, "scan.png", file)
	convPath := fmt.Sprintf("/conversations/%d/attachments/%d", visitor.conversation, attID)
	if got := getBytes(t, ctx, hc, api2+convPath, visitor.token); !bytes.Equal(got, file) {
		t.Fatalf("the attachment through %s's widget API: %d bytes, not the %d uploaded", web2.name, len(got), len(file))
	}
	if got := getBytes(t, ctx, owner, web2.base+"/inbox"+convPath, ""); !bytes.Equal(got, file) {
		t.Fatalf("the attachment in %s's inbox: %d bytes, not the %d uploaded", web2.name, len(got), len(file))
	}
	if listing := getBytes(t, ctx, hc, s3.URL+"/"+bucket+"?prefix=attachments/", ""); !bytes.Contains(listing, []byte("<Key>attachments/")) {
		t.Fatalf("no attachment in the bucket %s: %s", bucket, listing)
	}
	if _, err := os.Stat(filepath.Join(dataDir, "blobs")); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("blobs on the data volume, not (only) in S3: %v", err)
	}

	// 3. An access request, taken by web-1 and verified and approved on
	// web-2, runs on the worker to completion; its export downloads.
	outbox, err := mail.NewOutbox(filepath.Join(dataDir, "outbox"))
	if err != nil {
		t.Fatal(err)
	}
	var taken struct {
		ID uint64 `json:"id"`
	}
	if err := benchJSON(ctx, hc, web1.base+"/api/privacy-requests/"+orgKey, "", map[string]string{"type": "access", "email": email}, &taken); err != nil || taken.ID == 0 {
		t.Fatalf("access request on %s: %v", web1.name, err)
	}
	code := regexp.MustCompile(`\b(\d{8})\b`).FindStringSubmatch(waitMail(t, outbox, email, "privacy_request_code").Text)
	if code == nil {
		t.Fatal("no code in the verification mail")
	}
	var verified map[string]any
	if err := benchJSON(ctx, hc, fmt.Sprintf("%s/api/privacy-verification/%d", web2.base, taken.ID), "", map[string]string{"code": code[1]}, &verified); err != nil {
		t.Fatalf("verification on %s: %v", web2.name, err)
	}
	waitStatus(t, ctx, db, taken.ID, obligations.DsrAwaitingApproval, worker)
	approvePath := fmt.Sprintf("%s/privacy/requests/%d/approve", web2.base, taken.ID)
	csrf := csrfField.FindSubmatch(getBytes(t, ctx, owner, approvePath, ""))
	if csrf == nil {
		t.Fatal("the approval page has no CSRF token")
	}
	resp, err := owner.PostForm(approvePath, url.Values{"confirm": {"yes"}, "csrf_token": {string(csrf[1])}})
	if err != nil {
		t.Fatal(err)
	}
	_ = resp.Body.Close() // only the status is wanted
	if resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("approval on %s: %s", web2.name, resp.Status)
	}
	waitStatus(t, ctx, db, taken.ID, obligations.DsrCompleted, worker)
	token := regexp.MustCompile(`/privacy-downloads/([A-Za-z0-9_-]+)`).FindStringSubmatch(waitMail(t, outbox, email, "privacy_request_completed").Text)
	if token == nil {
		t.Fatal("no download link in the completion mail")
	}
	export := postBytes(t, ctx, hc, web1.base+"/api/privacy-downloads/"+token[1])
	if !zipContains(t, export, "hello from web-1") {
		t.Fatal("the export does not hold the requester's message")
	}

	// 4. web-1 dies under load: SIGKILL.
	senders := []topoSender{visitor}
	for i := range 5 {
		senders = append(senders, topoVisitor(t, ctx, hc, api1, fmt.Sprintf("visitor %d", i)))
	}
	acked := make([][]uint64, len(senders))
	var wg sync.WaitGroup
	for i, v := range senders {
		wg.Go(func() {
			for n := 0; ; n++ {
				var answer struct {
					Message struct {
						ID uint64 `json:"id"`
					} `json:"message"`
				}
				err := benchJSON(ctx, hc, fmt.Sprintf("%s/conversations/%d/messages", api1, v.conversation), v.token, map[string]string{"body": fmt.Sprintf("load %d", n)}, &answer)
				if err == nil {
					acked[i] = append(acked[i], answer.Message.ID)
					continue
				}
				select {
				case <-web1.exited:
					return
				case <-ctx.Done():
					return
				case <-time.After(50 * time.Millisecond): // throttled, as a visitor would be
				}
			}
		})
	}
	time.Sleep(2 * time.Second)
	if err := web1.cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	<-web1.exited
	wg.Wait()
	total := 0
	for _, ids := range acked {
		total += len(ids)
	}
	t.Logf("%d messages acknowledged by %s before SIGKILL", total, web1.name)
	if total == 0 {
		t.Fatalf("%s acknowledged no message before it was killed", web1.name)
	}

	// web-2 is healthy, ready, and takes messages, which reach the operator.
	if err := composeHealthcheck(ctx, bin, project.Services[web2.name], image, web2); err != nil {
		t.Fatalf("%s's healthcheck after %s's death: %v", web2.name, web1.name, err)
	}
	if err := composeHealthcheck(ctx, bin, project.Services[web1.name], image, web1); err == nil {
		t.Fatalf("%s's healthcheck passes after SIGKILL", web1.name)
	}
	if status := httpStatus(ctx, web2.admin+"/readyz"); status != http.StatusOK {
		t.Fatalf("%s /readyz after %s's death: %d", web2.name, web1.name, status)
	}
	if status := httpStatus(ctx, web2.base+"/healthz"); status != http.StatusOK {
		t.Fatalf("%s /healthz after %s's death: %d", web2.name, web1.name, status)
	}
	var after map[string]any
	if err := benchJSON(ctx, hc, fmt.Sprintf("%s/conversations/%d/messages", api2, visitor.conversation), visitor.token, map[string]string{"body": "after the kill"}, &after); err != nil {
		t.Fatalf("message on %s after %s's death: %v", web2.name, web1.name, err)
	}
	waitMessage(t, events, "after the kill", web2.name)

	// Every message web-1 acknowledged is stored, and web-2 shows it.
	for i, v := range senders {
		seen := map[uint64]bool{}
		for _, id := range widgetMessageIDs(t, ctx, hc, api2, v) {
			seen[id] = true
		}
		for _, id := range acked[i] {
			var n int64
			if err := db.Model(&models.Message{}).Where("id = ? AND conversation_id = ?", id, v.conversation).Count(&n).Error; err != nil || n != 1 {
				t.Errorf("acknowledged message %d not in the database (%v)", id, err)
			}
			if !seen[id] {
				t.Errorf("acknowledged message %d not listed by %s", id, web2.name)
			}
		}
	}

	// docker stop: SIGTERM, then SIGKILL after the grace period (10 s
	// unless the service sets one). web-2 and the worker stop in time,
	// with status 0.
	for _, p := range []*topoProcess{web2, worker} {
		grace := 10 * time.Second
		if g := project.Services[p.name].StopGracePeriod; g != nil {
			grace = time.Duration(*g)
		}
		stopping := time.Now()
		if err := p.cmd.Process.Signal(syscall.SIGTERM); err != nil {
			t.Fatal(err)
		}
		select {
		case <-p.exited:
			if code := p.cmd.ProcessState.ExitCode(); code != 0 {
				t.Errorf("%s exited with %d on SIGTERM:\n%s", p.name, code, tail(p.log))
			}
			t.Logf("%s stopped in %s", p.name, time.Since(stopping).Round(10*time.Millisecond))
		case <-time.After(grace):
			t.Errorf("%s still running %s after SIGTERM: docker would kill it", p.name, grace)
		}
	}
	t.Logf("topology test done in %s", time.Since(began).Round(time.Second))
}

// image is what the Dockerfile's final stage gives every Convot container.
type dockerImage struct {
	entrypoint string   // the binary
	env        []string // ENV, as KEY=value
	// user is USER (uid and gid; nil for root); owners are the paths its
	// COPY --chown lines create, with their owner.
	user   *syscall.Credential
	owners map[string]*syscall.Credential
}

// sharedDir is a new directory (removed at the end) that every user may
// enter, owned by owner when given.
func sharedDir(t *testing.T, owner *syscall.Credential) string {
	t.Helper()
	dir, err := os.MkdirTemp("", "convot-topology-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = os.RemoveAll(dir) }) // a temporary directory
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	if owner != nil {
		if err := os.Chown(dir, int(owner.Uid), int(owner.Gid)); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

// parseOwner reads "uid:gid" (numeric, as distroless images use them).
func parseOwner(t *testing.T, s string) *syscall.Credential {
	t.Helper()
	u, g, _ := strings.Cut(s, ":")
	uid, err1 := strconv.ParseUint(u, 10, 32)
	gid, err2 := strconv.ParseUint(g, 10, 32)
	if err1 != nil || err2 != nil {
		t.Fatalf("Dockerfile: owner %q is not numeric uid:gid", s)
	}
	return &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid)}
}

// readDockerfile reads the final stage's ENTRYPOINT and ENV.
func readDockerfile(t *testing.T) dockerImage {
	t.Helper()
	f, err := os.Open(filepath.Join("..", "..", "Dockerfile"))
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = f.Close() }()
	var img dockerImage
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		switch {
		case strings.HasPrefix(line, "FROM "):
			img = dockerImage{owners: map[string]*syscall.Credential{}}
		case strings.HasPrefix(line, "USER "):
			img.user = parseOwner(t, strings.TrimSpace(strings.TrimPrefix(line, "USER ")))
		case strings.HasPrefix(line, "COPY "):
			fields := strings.Fields(line)
			for _, f := range fields {
				if owner, ok := strings.CutPrefix(f, "--chown="); ok {
					img.owners[fields[len(fields)-1]] = parseOwner(t, owner)
				}
			}
		case strings.HasPrefix(line, "ENV "):
			for _, kv := range strings.Fields(strings.TrimPrefix(line, "ENV ")) {
				if !strings.Contains(kv, "=") {
					t.Fatalf("Dockerfile: ENV %q is not KEY=value", kv)
				}
				img.env = append(img.env, kv)
			}
		case strings.HasPrefix(line, "ENTRYPOINT "):
			var ep []string
			if err := json.Unmarshal([]byte(strings.TrimPrefix(line, "ENTRYPOINT ")), &ep); err != nil || len(ep) != 1 {
				t.Fatalf("Dockerfile: ENTRYPOINT %q is not [\"/path/to/convot\"]", line)
			}
			img.entrypoint = ep[0]
		}
	}
	if img.entrypoint == "" {
		t.Fatal("Dockerfile: no ENTRYPOINT in the final stage")
	}
	return img
}

// composeBucket is the bucket the compose file creates at start (its mc
// job: `mc mb ... alias/bucket`); every Convot service must use it.
func composeBucket(t *testing.T, p *types.Project) string {
	t.Helper()
	re := regexp.MustCompile(`\bmc mb\b(?:\s+--?[a-z-]+)*\s+[A-Za-z0-9_-]+/([a-z0-9][a-z0-9.-]+)`)
	var bucket string
	for _, s := range p.Services {
		if m := re.FindStringSubmatch(strings.Join(s.Command, " ")); m != nil {
			bucket = m[1]
		}
	}
	if bucket == "" {
		t.Fatal("no service of docker-compose.yml creates a bucket (mc mb)")
	}
	for name, s := range p.Services {
		if s.Build == nil {
			continue
		}
		if v := s.Environment["CONVOT_S3_BUCKET"]; v == nil || *v != bucket {
			t.Fatalf("%s: CONVOT_S3_BUCKET is not the bucket %q created at start", name, bucket)
		}
	}
	return bucket
}

// topologyEnv is a Convot container's environment: the image's, then the
// service's, with the addresses of the dependencies, the listeners and the
// named volumes replaced by their counterparts here.
func topologyEnv(t *testing.T, p *types.Project, s types.ServiceConfig, img dockerImage, local, volumes map[string]string, proc *topoProcess) []string {
	t.Helper()
	env := map[string]string{}
	for _, kv := range img.env {
		k, v, _ := strings.Cut(kv, "=")
		env[k] = v
	}
	for k, v := range s.Environment {
		if v != nil {
			env[k] = *v
		}
	}
	// The database the URL names is the one the postgres service creates,
	// as the user it creates.
	if v, ok := env["DATABASE_URL"]; ok {
		u, err := url.Parse(v)
		pg := p.Services[composeDependencies["DATABASE_URL"].service].Environment
		if err != nil || pg["POSTGRES_USER"] == nil || pg["POSTGRES_DB"] == nil || u.User.Username() != *pg["POSTGRES_USER"] || strings.TrimPrefix(u.Path, "/") != *pg["POSTGRES_DB"] {
			t.Fatalf("%s: DATABASE_URL %s is not the database and user the postgres service creates", s.Name, v)
		}
	}
	for key, dep := range composeDependencies {
		v, ok := env[key]
		if !ok {
			continue
		}
		host, port := v, ""
		if u, err := url.Parse(v); err == nil && u.Host != "" {
			host = u.Host
		}
		host, port, err := net.SplitHostPort(host)
		if err != nil || host != dep.service || port != dep.port {
			t.Fatalf("%s: %s=%s is not the service %s on port %s", s.Name, key, v, dep.service, dep.port)
		}
		if _, ok := p.Services[dep.service]; !ok {
			t.Fatalf("%s: %s names %s, which is no service of the compose file", s.Name, key, dep.service)
		}
		env[key] = local[key]
	}
	// Listeners: free ports on loopback.
	if addr, ok := env["CONVOT_HTTP_ADDR"]; ok && s.Command[0] == "serve" {
		_, port, err := net.SplitHostPort(addr)
		if err != nil {
			t.Fatalf("%s: CONVOT_HTTP_ADDR %q", s.Name, addr)
		}
		published := slices.ContainsFunc(s.Ports, func(pc types.ServicePortConfig) bool { return strconv.Itoa(int(pc.Target)) == port })
		if !published {
			t.Fatalf("%s: CONVOT_HTTP_ADDR's port %s is not the one published (%+v)", s.Name, port, s.Ports)
		}
		env["CONVOT_HTTP_ADDR"] = "127.0.0.1:" + strconv.Itoa(freePort(t))
		proc.base = "http://" + env["CONVOT_HTTP_ADDR"]
	}
	if _, ok := env["CONVOT_ADMIN_ADDR"]; ok && s.Command[0] != "migrate" {
		env["CONVOT_ADMIN_ADDR"] = "127.0.0.1:" + strconv.Itoa(freePort(t))
		proc.admin = "http://" + env["CONVOT_ADMIN_ADDR"]
	}
	// Named volumes: one directory each, shared by the services mounting it.
	onVolume := map[string]bool{}
	for _, v := range s.Volumes {
		if v.Type != types.VolumeTypeVolume {
			continue
		}
		dir, ok := volumes[v.Source]
		if !ok {
			// A new named volume takes the owner of the image's directory
			// it is mounted on; Docker creates a missing one for root.
			var owner *syscall.Credential
			if proc.user != nil {
				owner = img.owners[v.Target]
			}
			dir = sharedDir(t, owner)
			volumes[v.Source] = dir
		}
		for k, val := range env {
			if val == v.Target || strings.HasPrefix(val, v.Target+"/") {
				env[k] = dir + strings.TrimPrefix(val, v.Target)
				onVolume[k] = true
			}
		}
	}
	// What Convot keeps on disk (the mail outbox) must be on a volume: a
	// container's own files die with it.
	if !onVolume["CONVOT_DATA_DIR"] {
		t.Fatalf("%s: CONVOT_DATA_DIR %q is on no volume", s.Name, env["CONVOT_DATA_DIR"])
	}
	out := make([]string, 0, len(env))
	for k, v := range env {
		out = append(out, k+"="+v)
	}
	slices.Sort(out)
	return out
}

func envValue(env []string, key string) string {
	for _, kv := range env {
		if k, v, _ := strings.Cut(kv, "="); k == key {
			return v
		}
	}
	return ""
}

// startTopo starts a service's command; it is killed when the test ends.
func startTopo(t *testing.T, bin string, p *topoProcess) {
	t.Helper()
	logFile, err := os.Create(p.log)
	if err != nil {
		t.Fatal(err)
	}
	p.cmd = exec.Command(bin, p.command...)
	p.cmd.Env = p.env
	if p.user != nil {
		p.cmd.SysProcAttr = &syscall.SysProcAttr{Credential: p.user}
	}
	p.cmd.Stdout, p.cmd.Stderr = logFile, logFile
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() {
		_ = p.cmd.Wait() // its status is read from ProcessState
		_ = logFile.Close()
		close(p.exited)
	}()
	t.Cleanup(func() {
		select {
		case <-p.exited:
			return
		default:
		}
		_ = p.cmd.Process.Signal(syscall.SIGTERM) // as docker stop
		select {
		case <-p.exited:
		case <-time.After(15 * time.Second):
			_ = p.cmd.Process.Kill() // the test is over
			<-p.exited
		}
		if t.Failed() {
			t.Logf("%s's log:\n%s", p.name, tail(p.log))
		}
	})
}

// tail is the end of a log file.
func tail(path string) string {
	b, _ := os.ReadFile(path)
	if len(b) > 6000 {
		b = b[len(b)-6000:]
	}
	return string(b)
}

// composeHealthcheck runs the service's compose healthcheck (CMD form, the
// image's binary replaced by bin) in the service's environment.
func composeHealthcheck(ctx context.Context, bin string, s types.ServiceConfig, img dockerImage, p *topoProcess) error {
	hc := s.HealthCheck
	if hc == nil || hc.Disable || len(hc.Test) < 2 || hc.Test[0] != "CMD" || hc.Test[1] != img.entrypoint {
		return fmt.Errorf("healthcheck %v is not [CMD %s ...]", hc, img.entrypoint)
	}
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, hc.Test[2:]...)
	cmd.Env = p.env
	if p.user != nil {
		cmd.SysProcAttr = &syscall.SysProcAttr{Credential: p.user}
	}
	out, err := cmd.CombinedOutput()
	if err != nil {
		return fmt.Errorf("%w: %s", err, bytes.TrimSpace(out))
	}
	return nil
}

// waitHealthy waits for the compose healthcheck to pass, then for the
// admin listener's /readyz (every dependency up).
func waitHealthy(t *testing.T, bin string, s types.ServiceConfig, img dockerImage, p *topoProcess) {
	t.Helper()
	deadline := time.Now().Add(90 * time.Second)
	var err error
	for time.Now().Before(deadline) {
		select {
		case <-p.exited:
			t.Fatalf("%s exited with %v:\n%s", p.name, p.cmd.ProcessState, tail(p.log))
		default:
		}
		if err = composeHealthcheck(context.Background(), bin, s, img, p); err == nil {
			break
		}
		time.Sleep(200 * time.Millisecond)
	}
	if err != nil {
		t.Fatalf("%s: healthcheck not passing: %v\n%s", p.name, err, tail(p.log))
	}
	for time.Now().Before(deadline) {
		if httpStatus(context.Background(), p.admin+"/readyz") == http.StatusOK {
			return
		}
		time.Sleep(200 * time.Millisecond)
	}
	t.Fatalf("%s: /readyz not 200:\n%s", p.name, tail(p.log))
}

func httpStatus(ctx context.Context, u string) int {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0
	}
	_ = resp.Body.Close() // only the status is wanted
	return resp.StatusCode
}

// topologyOwner creates an organization and its owner and signs the owner
// in on base; it returns the widget key and the owner's browser.
func topologyOwner(t *testing.T, ctx context.Context, st *store.Store, base string) (string, *http.Client) {
	t.Helper()
	password := crypto.RandomToken(16)
	hash, err := dashboard.HashPassword(password)
	if err != nil {
		t.Fatal(err)
	}
	org := models.Organization{PublicKey: crypto.RandomToken(16), CompanyName: "Topology", Region: "eu", Status: models.OrgActive}
	email := "olivia@topology.convot.localhost"
	err = st.Tx(ctx, func(tx *store.Store) error {
		if err := tx.CreateOrganization(ctx, &org); err != nil {
			return err
		}
		return tx.CreateAccount(ctx, &models.Account{OrganizationID: org.ID, FullName: "Olivia Owner", Email: email,
			PasswordHash: hash, Role: models.RoleOwner, Status: "active", TimeZone: "UTC", Language: "en", CreatedAt: time.Now().UTC()})
	})
	if err != nil {
		t.Fatal(err)
	}
	jar, _ := cookiejar.New(nil)
	owner := &http.Client{Jar: jar, Timeout: 15 * time.Second, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	m := csrfField.FindSubmatch(getBytes(t, ctx, owner, base+"/login", ""))
	if m == nil {
		t.Fatal("login page without a CSRF token")
	}
	resp, err := owner.PostForm(base+"/login", url.Values{"email": {email}, "password": {password}, "csrf_token": {string(m[1])}})
	if err != nil {
		t.Fatal(err)
	}
	_ = resp.Body.Close() // only the status is wanted
	if resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("owner login: %s", resp.Status)
	}
	return org.PublicKey, owner
}

// operatorSocket opens the inbox socket of the signed-in browser on base
// and returns its live events.
func operatorSocket(t *testing.T, ctx context.Context, browser *http.Client, base string) <-chan realtime.LiveEvent {
	t.Helper()
	u, _ := url.Parse(base)
	var cookies []string
	for _, c := range browser.Jar.Cookies(u) {
		cookies = append(cookies, c.Name+"="+c.Value)
	}
	conn, _, err := websocket.Dial(ctx, "ws"+strings.TrimPrefix(base, "http")+"/inbox/ws", &websocket.DialOptions{HTTPHeader: http.Header{"Cookie": {strings.Join(cookies, "; ")}}})
	if err != nil {
		t.Fatalf("operator socket on %s: %v", base, err)
	}
	t.Cleanup(func() { _ = conn.CloseNow() }) // the test is over
	conn.SetReadLimit(1 << 20)
	events := make(chan realtime.LiveEvent, 4096)
	go func() {
		defer close(events)
		for {
			_, data, err := conn.Read(ctx)
			if err != nil {
				return
			}
			var e realtime.LiveEvent
			if json.Unmarshal(data, &e) == nil && e.Type == realtime.TypeMessage && e.Message != nil {
				select {
				case events <- e:
				default: // the load's messages: not awaited
				}
			}
		}
	}()
	return events
}

func waitMessage(t *testing.T, events <-chan realtime.LiveEvent, body, node string) {
	t.Helper()
	timeout := time.After(20 * time.Second)
	for {
		select {
		case e, ok := <-events:
			if !ok {
				t.Fatalf("the operator's socket on %s closed before %q", node, body)
			}
			if e.Message.Body == body {
				return
			}
		case <-timeout:
			t.Fatalf("%q never reached the operator's socket on %s", body, node)
		}
	}
}

type topoSender = benchVisitor

// topoVisitor starts a widget session and a conversation on api.
func topoVisitor(t *testing.T, ctx context.Context, hc *http.Client, api, first string) topoSender {
	t.Helper()
	var session struct {
		Token string `json:"token"`
	}
	if err := benchJSON(ctx, hc, api+"/session", "", map[string]any{"page_url": "https://shop.example/", "create": true}, &session); err != nil {
		t.Fatalf("visitor session: %v", err)
	}
	var started struct {
		Conversation struct {
			ID uint64 `json:"id"`
		} `json:"conversation"`
	}
	if err := benchJSON(ctx, hc, api+"/conversations", session.Token, map[string]string{"body": first}, &started); err != nil {
		t.Fatalf("start a conversation: %v", err)
	}
	return topoSender{token: session.Token, conversation: started.Conversation.ID}
}

func uploadAttachment(t *testing.T, ctx context.Context, hc *http.Client, api string, v topoSender, name string, data []byte) uint64 {
	t.Helper()
	var body bytes.Buffer
	mw := multipart.NewWriter(&body)
	fw, _ := mw.CreateFormFile("file", name)
	_, _ = fw.Write(data)
	_ = mw.Close() // a bytes.Buffer does not fail
	req, _ := http.NewRequestWithContext(ctx, http.MethodPost, fmt.Sprintf("%s/conversations/%d/attachments", api, v.conversation), &body)
	req.Header.Set("Content-Type", mw.FormDataContentType())
	req.Header.Set("Authorization", "Bearer "+v.token)
	resp, err := hc.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = resp.Body.Close() }()
	var answer struct {
		Message realtime.MessageView `json:"message"`
	}
	if resp.StatusCode != http.StatusCreated || json.NewDecoder(resp.Body).Decode(&answer) != nil || len(answer.Message.Attachments) != 1 {
		t.Fatalf("upload: %s", resp.Status)
	}
	return answer.Message.Attachments[0].ID
}

// getBytes GETs u (with a visitor's bearer token when given) and returns
// the body of a 200.
func getBytes(t *testing.T, ctx context.Context, hc *http.Client, u, token string) []byte {
	t.Helper()
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := hc.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = resp.Body.Close() }()
	b, err := io.ReadAll(resp.Body)
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("GET %s: %s %v", u, resp.Status, err)
	}
	return b
}

func postBytes(t *testing.T, ctx context.Context, hc *http.Client, u string) []byte {
	t.Helper()
	req, _ := http.NewRequestWithContext(ctx, http.MethodPost, u, nil)
	resp, err := hc.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = resp.Body.Close() }()
	b, err := io.ReadAll(resp.Body)
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("POST %s: %s %v %.300s", u, resp.Status, err, b)
	}
	return b
}

func zipContains(t *testing.T, data []byte, text string) bool {
	t.Helper()
	zr, err := zip.NewReader(bytes.NewReader(data), int64(len(data)))
	if err != nil {
		t.Fatalf("the export is not a ZIP archive: %v", err)
	}
	for _, f := range zr.File {
		rc, err := f.Open()
		if err != nil {
			t.Fatal(err)
		}
		b, err := io.ReadAll(rc)
		_ = rc.Close() // read to the end
		if err != nil {
			t.Fatal(err)
		}
		if bytes.Contains(b, []byte(text)) {
			return true
		}
	}
	return false
}

// waitMail waits for the outbox's mail of tag to to.
func waitMail(t *testing.T, outbox *mail.Outbox, to, tag string) mail.Message {
	t.Helper()
	for deadline := time.Now().Add(60 * time.Second); time.Now().Before(deadline); time.Sleep(200 * time.Millisecond) {
		msgs, err := outbox.List()
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range msgs {
			if (strings.Contains(m.To, "<"+to+">") || m.To == to) && m.Tag == tag {
				return m
			}
		}
	}
	msgs, err := outbox.List()
	var seen []string
	for _, m := range msgs {
		seen = append(seen, m.Tag)
	}
	t.Fatalf("no %s mail in the outbox (%v, %v)", tag, seen, err)
	return mail.Message{}
}

// waitStatus waits for the request's status, as the worker sets it.
func waitStatus(t *testing.T, ctx context.Context, db *gorm.DB, id uint64, status string, worker *topoProcess) {
	t.Helper()
	var r models.PrivacyRequest
	for deadline := time.Now().Add(60 * time.Second); time.Now().Before(deadline); time.Sleep(200 * time.Millisecond) {
		if err := db.WithContext(ctx).First(&r, id).Error; err != nil {
			t.Fatal(err)
		}
		if r.Status == status {
			return
		}
	}
	t.Fatalf("privacy request %d is %s, not %s:\n%s", id, r.Status, status, tail(worker.log))
}

// widgetMessageIDs lists a conversation's messages through the widget API.
func widgetMessageIDs(t *testing.T, ctx context.Context, hc *http.Client, api string, v topoSender) []uint64 {
	t.Helper()
	var ids []uint64
	after := uint64(0)
	for {
		var page struct {
			Messages []realtime.MessageView `json:"messages"`
			HasMore  bool                   `json:"has_more"`
		}
		b := getBytes(t, ctx, hc, fmt.Sprintf("%s/conversations/%d/messages?after_id=%d&limit=200", api, v.conversation, after), v.token)
		if err := json.Unmarshal(b, &page); err != nil {
			t.Fatal(err)
		}
		for _, m := range page.Messages {
			ids = append(ids, m.ID)
			after = max(after, m.ID)
		}
		if !page.HasMore || len(page.Messages) == 0 {
			return ids
		}
	}
}

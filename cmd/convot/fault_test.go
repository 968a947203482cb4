package main

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/testsuite"
	"go.temporal.io/sdk/worker"

	"github.com/convot/convot/activities"
	"github.com/convot/convot/internal/config"
	"github.com/convot/convot/internal/crypto"
	"github.com/convot/convot/internal/testenv"
	"github.com/convot/convot/models"
	"github.com/convot/convot/store"
	"github.com/convot/convot/workflows"
)

// startServeNode runs `convot serve` as a child process and waits until
// /readyz says it is ready.
func startServeNode(t *testing.T, bin string, env []string) (*exec.Cmd, string) {
	t.Helper()
	port := freePort(t)
	base := "http://127.0.0.1:" + strconv.Itoa(port)
	cmd := exec.Command(bin, "serve")
	cmd.Env = slices.Concat(env, []string{"CONVOT_HTTP_ADDR=127.0.0.1:" + strconv.Itoa(port), "CONVOT_BASE_URL=" + base})
	logFile, err := os.Create(filepath.Join(t.TempDir(), "node.log"))
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stdout, cmd.Stderr = logFile, logFile
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if cmd.ProcessState == nil {
			_ = cmd.Process.Kill() // the test is over; its exit status is of no interest
			_ = cmd.Wait()
		}
	})
	for deadline := time.Now().Add(time.Minute); time.Now().Before(deadline); time.Sleep(100 * time.Millisecond) {
		if resp, err := http.Get(base + "/readyz"); err == nil {
			_ = resp.Body.Close() // only the status is wanted
			if resp.StatusCode == http.StatusOK {
				return cmd, base
			}
		}
	}
	log, _ := os.ReadFile(logFile.Name())
	t.Fatalf("web node not ready within a minute:\n%s", log)
	return nil, ""
}

// A web node killed with SIGKILL under load loses nothing: every message
// it acknowledged is stored, and every message stored (acknowledged or
// not) reaches its conversation's lifecycle workflow, delivered from the
// outbox by the node started after it.
func TestKilledWebNodeLosesNoLifecycleSignal(t *testing.T) {
	dbBase := testenv.Require(t, "DATABASE_URL")
	cli := testenv.Require(t, "TEMPORAL_CLI")
	if testing.Short() {
		t.Skip("builds and runs the binary")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 8*time.Minute)
	defer cancel()
	bin := filepath.Join(t.TempDir(), "convot")
	if out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("build: %v\n%s", err, out)
	}
	dev, err := testsuite.StartDevServer(ctx, testsuite.DevServerOptions{ExistingPath: cli, LogLevel: "error", ClientOptions: &client.Options{Namespace: "default"}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = dev.Stop() }) // the test is over
	if err := workflows.RegisterSearchAttributes(ctx, dev.Client(), "default"); err != nil {
		t.Fatal(err)
	}

	dbURL, _, dropSchema, err := benchSchema(dbBase)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(dropSchema)
	masterText := crypto.GenerateMasterKey(1)
	master, err := crypto.ParseMasterKeys(masterText)
	if err != nil {
		t.Fatal(err)
	}
	db, keys, err := models.Setup(ctx, dbURL, t.TempDir(), master)
	if err != nil {
		t.Fatal(err)
	}
	// The worker decodes what the nodes encode: the same payload codec.
	cfg, err := config.Load(func(string) string { return "" })
	if err != nil {
		t.Fatal(err)
	}
	temporal, err := dialTemporalAt(ctx, cfg, master, dev.FrontendHostPort())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(temporal.Close)
	st := store.New(db, keys)
	t.Cleanup(func() { _ = st.Close() })
	// The lifecycle workflows run on a worker of the test's own (no mail
	// is due: contacts' messages only).
	w := worker.New(temporal, workflows.TaskQueue, worker.Options{})
	workflows.Register(w)
	activities.Register(w, &activities.Activities{Store: st, Keys: keys})
	if err := w.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(w.Stop)

	env := append(os.Environ(), "DATABASE_URL="+dbURL, "CONVOT_MASTER_KEY="+masterText, "REDIS_URL=",
		"TEMPORAL_ADDRESS="+dev.FrontendHostPort(), "CONVOT_DATA_DIR="+t.TempDir(), "CONVOT_LOG_LEVEL=error")
	first, base := startServeNode(t, bin, env)
	orgKey, _, err := benchOrganization(ctx, st, base)
	if err != nil {
		t.Fatal(err)
	}
	httpc := &http.Client{Timeout: 10 * time.Second}
	api := base + "/widget/v1/" + orgKey
	visitors, err := benchVisitors(ctx, httpc, api, 40, 8)
	if err != nil {
		t.Fatal(err)
	}

	// Load: every visitor writes until the node dies.
	var acked sync.Map // message ID → conversation ID
	var ackedN atomic.Int64
	var wg sync.WaitGroup
	for _, v := range visitors {
		wg.Go(func() {
			for i := 0; ; i++ {
				var answer struct {
					Message struct {
						ID uint64 `json:"id"`
					} `json:"message"`
				}
				url := fmt.Sprintf("%s/conversations/%d/messages", api, v.conversation)
				if err := benchJSON(ctx, httpc, url, v.token, map[string]string{"body": fmt.Sprintf("message %d", i)}, &answer); err != nil {
					if first.ProcessState != nil || !alive(first.Process.Pid) {
						return // the node is gone
					}
					time.Sleep(50 * time.Millisecond) // throttled: a real visitor waits too
					continue
				}
				acked.Store(answer.Message.ID, v.conversation)
				ackedN.Add(1)
			}
		})
	}
	time.Sleep(3 * time.Second)
	if err := first.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	_ = first.Wait() // killed: its status says so
	wg.Wait()
	t.Logf("%d messages acknowledged before SIGKILL", ackedN.Load())
	if ackedN.Load() == 0 {
		t.Fatal("no message acknowledged: no load")
	}

	// Every acknowledged message is stored.
	acked.Range(func(id, convID any) bool {
		var n int64
		if err := db.Model(&models.Message{}).Where("id = ? AND conversation_id = ?", id, convID).Count(&n).Error; err != nil || n != 1 {
			t.Errorf("acknowledged message %v not stored (%v)", id, err)
		}
		return true
	})

	// Another node drains what the dead one left in the outbox.
	pending, err := st.PendingLifecycleSignals(ctx)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("%d signals left in the outbox by the killed node", pending)
	startServeNode(t, bin, env)
	for deadline := time.Now().Add(2 * time.Minute); ; time.Sleep(200 * time.Millisecond) {
		n, err := st.PendingLifecycleSignals(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if n == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d signals still in the outbox", n)
		}
	}
	// Each workflow heard the latest message stored in its conversation.
	for _, v := range visitors {
		var last uint64
		if err := db.Model(&models.Message{}).Where("conversation_id = ?", v.conversation).Select("MAX(id)").Scan(&last).Error; err != nil {
			t.Fatal(err)
		}
		var state workflows.ConversationState
		for deadline := time.Now().Add(time.Minute); ; time.Sleep(200 * time.Millisecond) {
			q, err := temporal.QueryWorkflow(ctx, workflows.ConversationWorkflowID(v.conversation), "", workflows.QueryStatus)
			if err == nil {
				err = q.Get(&state)
			}
			if err == nil && state.LastMessageID == last {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("conversation %d: workflow's last message %d, stored %d (%v)", v.conversation, state.LastMessageID, last, err)
			}
		}
	}
}

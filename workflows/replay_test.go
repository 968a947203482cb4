package workflows_test

import (
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/log"
	"go.temporal.io/sdk/worker"

	"github.com/convot/convot/workflows"
)

// historiesDir holds event histories recorded on a real Temporal server
// (record_test.go). Replaying them against the current code is how a
// change that would break running executions (a nondeterminism: a
// command added, removed or reordered without workflow.GetVersion) shows
// up before deployment.
const historiesDir = "testdata/histories"

// TestReplayRecordedHistories replays every recorded history with the
// workflows registered as the worker registers them, and checks each
// registered workflow type has at least one history.
func TestReplayRecordedHistories(t *testing.T) {
	files, err := filepath.Glob(filepath.Join(historiesDir, "*.json"))
	require.NoError(t, err)
	require.NotEmpty(t, files, "no histories in %s", historiesDir)
	logger := log.NewStructuredLogger(slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn})))

	replayed := map[string][]string{}
	for _, file := range files {
		typ := historyWorkflowType(t, file)
		replayed[typ] = append(replayed[typ], filepath.Base(file))
		t.Run(strings.TrimSuffix(filepath.Base(file), ".json"), func(t *testing.T) {
			replayer := worker.NewWorkflowReplayer()
			workflows.Register(replayer)
			require.NoError(t, replayer.ReplayWorkflowHistoryFromJSONFile(logger, file), "replaying %s (%s)", file, typ)
		})
	}
	for _, typ := range sortedKeys(workerRegistrations(t).workflows) {
		if len(replayed[typ]) == 0 {
			t.Errorf("workflow type %s has no recorded history in %s: add a scenario to TestRecordHistories and record (see record_test.go)", typ, historiesDir)
		} else {
			t.Logf("%s: %s", typ, strings.Join(replayed[typ], ", "))
		}
	}
}

// historyWorkflowType reads the workflow type a history starts.
func historyWorkflowType(t *testing.T, file string) string {
	t.Helper()
	f, err := os.Open(file)
	require.NoError(t, err)
	defer func() { _ = f.Close() }() // read only
	h, err := client.HistoryFromJSON(f, client.HistoryJSONOptions{})
	require.NoError(t, err, file)
	require.NotEmpty(t, h.GetEvents(), file)
	name := h.GetEvents()[0].GetWorkflowExecutionStartedEventAttributes().GetWorkflowType().GetName()
	require.NotEmpty(t, name, "%s does not begin with WorkflowExecutionStarted", file)
	return name
}

package workflows

import (
	"sync"
	"testing"

	"github.com/stretchr/testify/require"
	"go.temporal.io/sdk/testsuite"
)

// callLog is what a fake activity saw, in order; a test environment may run
// activities on goroutines of its own.
type callLog[C any] struct {
	mu    sync.Mutex
	calls []C
}

func (l *callLog[C]) add(c C) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.calls = append(l.calls, c)
}

// where returns the calls keep accepts, in order.
func (l *callLog[C]) where(keep func(C) bool) []C {
	l.mu.Lock()
	defer l.mu.Unlock()
	var out []C
	for _, c := range l.calls {
		if keep(c) {
			out = append(out, c)
		}
	}
	return out
}

// query returns the answer of the workflow to the query name.
func query[T any](t *testing.T, env *testsuite.TestWorkflowEnvironment, name string) T {
	t.Helper()
	v, err := env.QueryWorkflow(name)
	require.NoError(t, err)
	var answer T
	require.NoError(t, v.Get(&answer))
	return answer
}

// runToEnd runs the workflow and requires that it ended without an error.
func runToEnd(t *testing.T, env *testsuite.TestWorkflowEnvironment, workflowType string, input any) {
	t.Helper()
	env.ExecuteWorkflow(workflowType, input)
	require.True(t, env.IsWorkflowCompleted())
	require.NoError(t, env.GetWorkflowError())
}

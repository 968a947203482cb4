package workflows_test

import (
	"reflect"
	"sort"
	"testing"

	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/worker"
	"go.temporal.io/sdk/workflow"

	"github.com/convot/convot/activities"
	"github.com/convot/convot/workflows"
)

// registrations captures what the worker registers, by name. cmd/convot's
// newWorker registers exactly workflows.Register and activities.Register,
// so calling those two on a capture sees the worker's registry without a
// server or a database.
type registrations struct {
	// Registry is nil: a registration method not overridden below (Nexus,
	// dynamic workflows or activities) panics, so a new kind of
	// registration cannot go unnoticed.
	worker.Registry
	activities map[string]reflect.Type
	workflows  map[string]reflect.Type
	problems   []string
}

func (r *registrations) RegisterActivity(a any) {
	r.problems = append(r.problems, "an activity ("+reflect.TypeOf(a).String()+") is registered without a name; the workflows call activities by name")
}

func (r *registrations) RegisterActivityWithOptions(a any, o activity.RegisterOptions) {
	r.note(r.activities, "activity", o.Name, a, r.RegisterActivity)
}

func (r *registrations) RegisterWorkflow(w any) {
	r.problems = append(r.problems, "a workflow ("+reflect.TypeOf(w).String()+") is registered without a name")
}

func (r *registrations) RegisterWorkflowWithOptions(w any, o workflow.RegisterOptions) {
	r.note(r.workflows, "workflow", o.Name, w, r.RegisterWorkflow)
}

// note adds fn to seen under its name, or a problem: it has no name
// (unnamed says which), or the name is taken.
func (r *registrations) note(seen map[string]reflect.Type, kind, name string, fn any, unnamed func(any)) {
	if name == "" {
		unnamed(fn)
		return
	}
	if _, dup := seen[name]; dup {
		r.problems = append(r.problems, kind+" "+name+" is registered twice")
	}
	seen[name] = reflect.TypeOf(fn)
}

// workerRegistrations registers every workflow and activity as the worker
// does. The activities' dependencies stay nil: nothing runs.
func workerRegistrations(t *testing.T) *registrations {
	t.Helper()
	r := &registrations{activities: map[string]reflect.Type{}, workflows: map[string]reflect.Type{}}
	workflows.Register(r)
	activities.Register(r, &activities.Activities{})
	for _, p := range r.problems {
		t.Error(p)
	}
	return r
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

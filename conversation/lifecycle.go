package conversation

import "github.com/convot/convot/workflows"

// LifecycleSignal is one thing a conversation's lifecycle workflow must
// hear: a message, an assignment, a snooze, a resolve or a reopen.
type LifecycleSignal struct {
	Input workflows.ConversationInput // starts the workflow if it is not running
	Name  string                      // workflows.SignalMessage, ...
	Arg   any
}

// Lifecycles hears the signals of committed changes when the lifecycle
// outbox is off: tests record what would be sent. Deployments use the
// outbox (outbox.go), which a crash cannot empty.
type Lifecycles interface {
	Notify(LifecycleSignal)
}

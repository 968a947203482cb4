package workflows

import "go.temporal.io/sdk/workflow"

// onSignal has s receive one signal from ch, decoded as a T, and hand it
// to handle. Receiving is not recorded in the history: only the signal
// itself is.
func onSignal[T any](ctx workflow.Context, s workflow.Selector, ch workflow.ReceiveChannel, handle func(T)) {
	s.AddReceive(ch, func(ch workflow.ReceiveChannel, _ bool) {
		var v T
		ch.Receive(ctx, &v)
		handle(v)
	})
}

// onBareSignal is onSignal for a signal that carries nothing.
func onBareSignal(ctx workflow.Context, s workflow.Selector, ch workflow.ReceiveChannel, handle func()) {
	s.AddReceive(ch, func(ch workflow.ReceiveChannel, _ bool) {
		ch.Receive(ctx, nil)
		handle()
	})
}

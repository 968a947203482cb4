package workflows

import "sync"

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

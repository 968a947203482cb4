package devstack

import (
	"os/exec"
	"runtime"
	"sync"
	"syscall"
)

// sysProcAttr puts the child in its own process group (so a Ctrl-C in the
// terminal reaches convot only, which then stops the child in order) and
// has the kernel send it SIGTERM if convot dies without stopping it.
func sysProcAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGTERM}
}

// Pdeathsig fires when the thread that forked the child exits, not the
// process. Go may end a thread whenever a goroutine that locked it returns,
// so children are forked from one goroutine locked to its thread for the
// life of the process: the signal then means "convot died".
var forker struct {
	once sync.Once
	reqs chan func()
}

func startProcess(cmd *exec.Cmd) error {
	forker.once.Do(func() {
		forker.reqs = make(chan func())
		go func() {
			runtime.LockOSThread() // never unlocked: the thread lives as long as the process
			for f := range forker.reqs {
				f()
			}
		}()
	})
	errc := make(chan error, 1)
	forker.reqs <- func() { errc <- cmd.Start() }
	return <-errc
}

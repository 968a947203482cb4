//go:build !unix

package devstack

import (
	"os"
	"os/exec"
	"syscall"
)

// Without process groups the child alone is signalled, and killed: other
// systems cannot deliver an interrupt to another process.

func sysProcAttr() *syscall.SysProcAttr { return nil }

func startProcess(cmd *exec.Cmd) error { return cmd.Start() }

func interruptGroup(pid int) error { return killGroup(pid) }

func killGroup(pid int) error {
	if pid <= 0 {
		return nil
	}
	p, err := os.FindProcess(pid)
	if err != nil {
		return nil
	}
	if err := p.Kill(); err != nil && err != os.ErrProcessDone {
		return err
	}
	return nil
}

func groupAlive(int) bool { return false }

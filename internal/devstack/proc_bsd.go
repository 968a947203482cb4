//go:build unix && !linux

package devstack

import (
	"os/exec"
	"syscall"
)

// sysProcAttr puts the child in its own process group, so a Ctrl-C in the
// terminal reaches convot only, which then stops the child in order.
func sysProcAttr() *syscall.SysProcAttr { return &syscall.SysProcAttr{Setpgid: true} }

func startProcess(cmd *exec.Cmd) error { return cmd.Start() }

//go:build unix

package devstack

import (
	"errors"
	"syscall"
)

// interruptGroup sends SIGINT to the process group pgid.
func interruptGroup(pgid int) error { return signalGroup(pgid, syscall.SIGINT) }

// killGroup sends SIGKILL to the process group pgid.
func killGroup(pgid int) error { return signalGroup(pgid, syscall.SIGKILL) }

func signalGroup(pgid int, sig syscall.Signal) error {
	if pgid <= 0 {
		return nil
	}
	if err := syscall.Kill(-pgid, sig); err != nil && !errors.Is(err, syscall.ESRCH) {
		return err
	}
	return nil
}

// groupAlive reports whether any process is left in the group pgid.
func groupAlive(pgid int) bool {
	if pgid <= 0 {
		return false
	}
	err := syscall.Kill(-pgid, 0)
	return err == nil || errors.Is(err, syscall.EPERM)
}

//go:build unix

package peer

import (
	"os/exec"
	"syscall"
)

// setProcessGroup puts the peer in a process group of its own, so Stop also
// reaches whatever it forks.
func setProcessGroup(cmd *exec.Cmd) {
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	setParentDeathSignal(cmd.SysProcAttr)
}

func signalGroup(cmd *exec.Cmd, kill bool) {
	sig := syscall.SIGTERM
	if kill {
		sig = syscall.SIGKILL
	}
	// A negative pid addresses the whole group (its id is the leader's pid).
	_ = syscall.Kill(-cmd.Process.Pid, sig)
}

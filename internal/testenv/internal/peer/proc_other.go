//go:build !unix

package peer

import "os/exec"

// Without process groups only the peer itself is stopped.
func setProcessGroup(*exec.Cmd) {}

func signalGroup(cmd *exec.Cmd, _ bool) {
	_ = cmd.Process.Kill()
}

func procState(int) string { return "" }

package peer

import "syscall"

// setParentDeathSignal kills the peer if the test binary dies without calling
// Stop (a -timeout panic, a crash), so no MinIO or node is left behind on CI.
// Linux ties this to the forking OS thread, which the Go runtime ends when a
// goroutine locked to it exits: Start forks from a goroutine that stays locked
// to its thread until the peer exits, so only the process's death fires it.
func setParentDeathSignal(a *syscall.SysProcAttr) {
	a.Pdeathsig = syscall.SIGKILL
}

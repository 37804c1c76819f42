package peer

import "syscall"

// setParentDeathSignal kills the peer if the test binary dies without calling
// Stop (a -timeout panic, a crash), so no MinIO or node is left behind on CI.
// Linux ties this to the forking OS thread; the Go runtime keeps such threads
// alive unless a goroutine exits while locked to one, which this package never does.
func setParentDeathSignal(a *syscall.SysProcAttr) {
	a.Pdeathsig = syscall.SIGKILL
}

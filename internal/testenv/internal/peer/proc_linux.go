package peer

import (
	"bytes"
	"fmt"
	"os"
	"strconv"
	"strings"
	"syscall"
)

// setParentDeathSignal kills the peer if the test binary dies without calling
// Stop (a -timeout panic, a crash), so no MinIO or node is left behind on CI.
// Linux ties this to the forking OS thread, which the Go runtime ends when a
// goroutine locked to it exits: Start forks from a goroutine that stays locked
// to its thread until the peer exits, so only the process's death fires it.
func setParentDeathSignal(a *syscall.SysProcAttr) {
	a.Pdeathsig = syscall.SIGKILL
}

// procState describes process pid from /proc for a start that timed out:
// its scheduler state, the CPU time it has used, and where the kernel has it
// waiting, which tell a busy peer from a stuck one.
func procState(pid int) string {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return "no /proc state: " + err.Error()
	}
	// The command name (field 2) is in parentheses and may hold spaces.
	i := bytes.LastIndexByte(b, ')')
	if i < 0 {
		return "unreadable /proc state"
	}
	f := strings.Fields(string(b[i+1:]))
	if len(f) < 13 {
		return "unreadable /proc state"
	}
	// f[0] is field 3 (state); utime and stime are fields 14 and 15, in clock
	// ticks of 1/100 s on Linux (USER_HZ).
	utime, _ := strconv.ParseInt(f[11], 10, 64)
	stime, _ := strconv.ParseInt(f[12], 10, 64)
	s := fmt.Sprintf("process state %s, cpu user %.2fs system %.2fs", f[0], float64(utime)/100, float64(stime)/100)
	if w, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/wchan"); err == nil && len(w) > 0 && string(w) != "0" {
		s += ", waiting in " + string(w)
	}
	return s
}

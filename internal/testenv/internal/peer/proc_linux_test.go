package peer

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"regexp"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// A goroutine that locks its OS thread and exits without unlocking makes the
// runtime end that thread. A peer started from such a goroutine must not get
// its parent-death signal (SIGKILL) then: only the test process's death may
// fire it (golang/go#27505).
func TestPeerOutlivesTheThreadThatStartedIt(t *testing.T) {
	sleep, err := exec.LookPath("sleep")
	if err != nil {
		t.Skip("no sleep binary:", err)
	}
	var p *Process
	var tid int
	// The main thread is never ended (the runtime parks it instead), so the
	// goroutine must land on another one; it does on the first try or two.
	for range 10 {
		type result struct {
			p   *Process
			tid int
			err error
		}
		done := make(chan result, 1)
		go func() {
			runtime.LockOSThread() // never unlocked: the thread ends with this goroutine
			var r result
			r.tid = syscall.Gettid()
			if r.tid != os.Getpid() {
				r.p, r.err = Start("sleep", exec.Command(sleep, "60"), NewOutput())
			}
			done <- r
		}()
		r := <-done
		if r.err != nil {
			t.Fatal(r.err)
		}
		if r.p != nil {
			p, tid = r.p, r.tid
			break
		}
	}
	if p == nil {
		t.Skip("the goroutine ran on the main thread every time")
	}
	t.Cleanup(func() { p.Stop() })

	// Linux sends the parent-death signal while the thread exits, before the
	// thread leaves /proc: once it has left, the signal has been sent or never will.
	task := fmt.Sprintf("/proc/self/task/%d", tid)
	deadline := time.Now().Add(10 * time.Second)
	for {
		if _, err := os.Stat(task); errors.Is(err, fs.ErrNotExist) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("thread %d still exists 10s after its locked goroutine exited", tid)
		}
		time.Sleep(10 * time.Millisecond)
	}

	select {
	case <-p.done:
		t.Fatalf("the peer exited when the thread that started it ended: %v", p.waitErr)
	default:
	}
	if why := dying(p.cmd.Process.Pid); why != "" {
		t.Fatalf("the peer was killed when the thread that started it ended: %s", why)
	}
	if err := p.Stop(); err != nil {
		t.Fatal(err)
	}
}

// dying says why process pid is dead or about to die of a signal already
// sent, or "" if it is neither: gone, a zombie, exiting, or SIGKILL pending.
func dying(pid int) string {
	stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return err.Error()
	}
	// pid (comm) state ppid pgrp session tty_nr tpgid flags ...
	f := strings.Fields(string(stat[strings.LastIndexByte(string(stat), ')')+1:]))
	if f[0] == "Z" || f[0] == "X" {
		return "state " + f[0]
	}
	const pfExiting = 0x4
	if flags, _ := strconv.ParseUint(f[6], 10, 64); flags&pfExiting != 0 {
		return "exiting"
	}
	status, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return err.Error()
	}
	const sigkill = 1 << (syscall.SIGKILL - 1)
	for line := range strings.Lines(string(status)) {
		k, v, _ := strings.Cut(strings.TrimSpace(line), ":\t")
		if k == "SigPnd" || k == "ShdPnd" {
			if mask, _ := strconv.ParseUint(v, 16, 64); mask&sigkill != 0 {
				return k + " holds SIGKILL"
			}
		}
	}
	return ""
}

// A start that times out says whether the peer was busy or waiting.
func TestProcStateOfASleepingPeer(t *testing.T) {
	sleep, err := exec.LookPath("sleep")
	if err != nil {
		t.Fatal("no sleep binary:", err)
	}
	p, err := Start("sleep", exec.Command(sleep, "60"), NewOutput(regexp.MustCompile("never printed")))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.Stop() })
	ctx, cancel := context.WithTimeout(t.Context(), 100*time.Millisecond)
	defer cancel()
	_, err = p.WaitLine(ctx, 0)
	if err == nil {
		t.Fatal("sleep printed no line, yet WaitLine returned")
	}
	if !strings.Contains(err.Error(), "process state S, cpu user ") {
		t.Errorf("timeout error = %q, want the sleeping process's /proc state", err)
	}
	if got := procState(-1); !strings.HasPrefix(got, "no /proc state") {
		t.Errorf("procState(-1) = %q", got)
	}
}

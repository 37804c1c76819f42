//go:build unix && !linux

package peer

import "syscall"

func setParentDeathSignal(*syscall.SysProcAttr) {}

func procState(int) string { return "" }

package main

import (
	"log/slog"
	"os"
	"runtime/debug"
	"strconv"
	"strings"
)

// cgroupMemoryMax is where cgroup v2 (containers, systemd's MemoryMax=)
// says how much memory the process may use.
const cgroupMemoryMax = "/sys/fs/cgroup/memory.max"

// memoryLimitShare is the part of a cgroup's memory given to the Go heap
// as its soft limit: the rest is for what the runtime does not count
// (thread stacks, cgo's SQLite, the kernel's socket buffers on its side).
const memoryLimitShare = 0.8

// setMemoryLimit gives the Go runtime a soft memory limit below the
// cgroup's, unless GOMEMLIMIT says otherwise. GOGC stays at its default:
// the media and ACD paths do not allocate in steady state, so collections
// are rare and cheap; what the limit buys is that a burst (thousands of
// calls starting at once) makes the collector work harder near the
// container's limit instead of the kernel killing hotline mid-call.
func setMemoryLimit(log *slog.Logger) {
	if os.Getenv("GOMEMLIMIT") != "" {
		log.Info("memory limit from GOMEMLIMIT", "bytes", debug.SetMemoryLimit(-1))
		return
	}
	limit, ok := cgroupLimit(cgroupMemoryMax)
	if !ok {
		return // no cgroup limit: the runtime's default (none) is right
	}
	soft := int64(float64(limit) * memoryLimitShare)
	debug.SetMemoryLimit(soft)
	log.Info("memory limit from the cgroup", "cgroup_bytes", limit, "go_soft_limit_bytes", soft)
}

// cgroupLimit reads a cgroup v2 memory.max: a number of bytes, or "max"
// (no limit: false).
func cgroupLimit(path string) (int64, bool) {
	b, err := os.ReadFile(path)
	if err != nil {
		return 0, false
	}
	n, err := strconv.ParseInt(strings.TrimSpace(string(b)), 10, 64)
	return n, err == nil && n > 0
}

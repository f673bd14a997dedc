package main

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// clockTicks is USER_HZ, the unit of utime and stime in /proc/PID/stat. It is 100 on
// every Linux architecture Go runs on (the kernel exports it to user space as a
// constant), and reading sysconf(_SC_CLK_TCK) would need cgo.
const clockTicks = 100

// procSample is one reading of a process from /proc.
type procSample struct {
	at       time.Time
	cpuTicks uint64 // utime + stime, all threads
	rssBytes int64
	ok       bool // false once the process has gone
}

// readProc reads utime+stime from /proc/PID/stat and VmRSS from /proc/PID/status.
func readProc(pid int) procSample {
	s := procSample{at: time.Now()}
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return s
	}
	// The command name (field 2) is in parentheses and may hold spaces, so count
	// fields from the last ')'. After it come field 3 (state) onwards; utime and
	// stime are fields 14 and 15 (proc(5)).
	i := bytes.LastIndexByte(b, ')')
	if i < 0 {
		return s
	}
	f := strings.Fields(string(b[i+1:]))
	if len(f) < 13 {
		return s
	}
	utime, err1 := strconv.ParseUint(f[11], 10, 64)
	stime, err2 := strconv.ParseUint(f[12], 10, 64)
	if err1 != nil || err2 != nil {
		return s
	}
	s.cpuTicks = utime + stime
	s.ok = true
	if st, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid)); err == nil {
		for line := range strings.Lines(string(st)) {
			if rest, found := strings.CutPrefix(line, "VmRSS:"); found {
				s.rssBytes = parseKB(rest)
			}
		}
	}
	return s
}

// parseKB parses "   1234 kB" into bytes.
func parseKB(s string) int64 {
	f := strings.Fields(s)
	if len(f) == 0 {
		return 0
	}
	n, err := strconv.ParseInt(f[0], 10, 64)
	if err != nil {
		return 0
	}
	return n * 1024
}

// cores is the CPU used between two samples, in cores (1.0 = one core busy).
func cores(from, to procSample) float64 {
	if !from.ok || !to.ok || !to.at.After(from.at) || to.cpuTicks < from.cpuTicks {
		return 0
	}
	cpu := float64(to.cpuTicks-from.cpuTicks) / clockTicks
	return cpu / to.at.Sub(from.at).Seconds()
}

// machine describes the box the numbers were taken on.
type machine struct {
	CPUModel string
	Cores    int
	MemBytes int64
	Kernel   string
}

func (m machine) String() string {
	return fmt.Sprintf("%s, %d cores, %s RAM, Linux %s", m.CPUModel, m.Cores, formatBytes(m.MemBytes), m.Kernel)
}

func readMachine() machine {
	m := machine{CPUModel: "unknown CPU", Cores: runtime.NumCPU(), Kernel: "unknown"}
	if b, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		sc := bufio.NewScanner(bytes.NewReader(b))
		for sc.Scan() {
			k, v, ok := strings.Cut(sc.Text(), ":")
			if ok && strings.TrimSpace(k) == "model name" {
				m.CPUModel = strings.Join(strings.Fields(v), " ")
				break
			}
		}
	}
	if b, err := os.ReadFile("/proc/meminfo"); err == nil {
		for line := range strings.Lines(string(b)) {
			if rest, found := strings.CutPrefix(line, "MemTotal:"); found {
				m.MemBytes = parseKB(rest)
			}
		}
	}
	if b, err := os.ReadFile("/proc/sys/kernel/osrelease"); err == nil {
		m.Kernel = strings.TrimSpace(string(b))
	}
	return m
}

func formatBytes(n int64) string {
	switch {
	case n >= 1<<30:
		return fmt.Sprintf("%.1f GiB", float64(n)/(1<<30))
	case n >= 1<<20:
		return fmt.Sprintf("%.0f MB", float64(n)/(1<<20))
	default:
		return fmt.Sprintf("%d kB", n/1024)
	}
}

// freeSIPPort returns a port that is free on 127.0.0.1 for both UDP and TCP (hotline
// listens on both with the one -sip address). The kernel picks it, so it comes from
// the ephemeral range, where the port-picking end-to-end tests never look.
func freeSIPPort() (int, error) {
	for range 50 {
		tl, err := net.Listen("tcp4", "127.0.0.1:0")
		if err != nil {
			return 0, err
		}
		port := tl.Addr().(*net.TCPAddr).Port
		ul, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1), Port: port})
		tl.Close()
		if err != nil {
			continue
		}
		ul.Close()
		return port, nil
	}
	return 0, errors.New("no port free for both UDP and TCP on 127.0.0.1")
}

// freeTCPPort returns a TCP port free on 127.0.0.1 (hotline's HTTP).
func freeTCPPort() (int, error) {
	l, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// freeUDPPorts returns an even UDP port p with p..p+span-1 all free on 127.0.0.1.
// SIPp's -mp wants that: audio on p, video on p+2 (each with its odd neighbour).
func freeUDPPorts(span int) (int, error) {
	for range 100 {
		c, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
		if err != nil {
			return 0, err
		}
		base := c.LocalAddr().(*net.UDPAddr).Port
		c.Close()
		if span > 1 {
			base -= base % 2
		}
		if base+span-1 > 65535 {
			continue
		}
		if udpRangeFree(base, span) {
			return base, nil
		}
	}
	return 0, fmt.Errorf("no %d consecutive UDP ports free on 127.0.0.1", span)
}

func udpRangeFree(base, span int) bool {
	var held []*net.UDPConn
	defer func() {
		for _, c := range held {
			c.Close()
		}
	}()
	for p := base; p < base+span; p++ {
		c, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1), Port: p})
		if err != nil {
			return false
		}
		held = append(held, c)
	}
	return true
}

// waitUDPBound waits until something has bound UDP port on 127.0.0.1 (SIPp's uas has
// started), or the deadline passes, or exited reports that the process is gone.
func waitUDPBound(port int, deadline time.Duration, exited <-chan struct{}) error {
	end := time.Now().Add(deadline)
	for {
		c, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1), Port: port})
		if err != nil {
			return nil // bound by someone: the uas
		}
		c.Close()
		select {
		case <-exited:
			return errors.New("exited before binding its port")
		default:
		}
		if time.Now().After(end) {
			return fmt.Errorf("port %d not bound after %s", port, deadline)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// stopProcess sends SIGTERM and waits up to grace for the process to exit, then kills
// it. done is closed when Wait has returned.
func stopProcess(cmd *exec.Cmd, done <-chan struct{}, grace time.Duration) (killed bool) {
	if cmd.Process == nil {
		return false
	}
	select {
	case <-done:
		return false
	default:
	}
	_ = cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-done:
		return false
	case <-time.After(grace):
	}
	_ = cmd.Process.Kill()
	<-done
	return true
}

// udpSocket is one UDP socket's line of /proc/net/udp.
type udpSocket struct {
	rxQueue int64 // bytes waiting in the receive buffer
	drops   int64 // datagrams the kernel dropped, mostly for a full receive buffer
	ok      bool
}

// readUDPSocket finds the socket bound to 127.0.0.1:port in /proc/net/udp (this
// network namespace) and returns its receive queue and drop counter.
func readUDPSocket(port int) udpSocket {
	b, err := os.ReadFile("/proc/net/udp")
	if err != nil {
		return udpSocket{}
	}
	return parseProcNetUDP(string(b), port)
}

func parseProcNetUDP(table string, port int) udpSocket {
	// 127.0.0.1 is written as the little-endian hex of the address, the port as
	// big-endian hex: "0100007F:1F90".
	want := fmt.Sprintf("0100007F:%04X", port)
	for line := range strings.Lines(table) {
		f := strings.Fields(line)
		// sl local rem st tx:rx tr:when retrnsmt uid timeout inode ref pointer drops
		if len(f) < 13 || f[1] != want {
			continue
		}
		_, rx, _ := strings.Cut(f[4], ":")
		q, err1 := strconv.ParseInt(rx, 16, 64)
		d, err2 := strconv.ParseInt(f[12], 10, 64)
		if err1 != nil || err2 != nil {
			continue
		}
		return udpSocket{rxQueue: q, drops: d, ok: true}
	}
	return udpSocket{}
}

// udpErrors reads the system-wide UDP receive errors from /proc/net/snmp: datagrams
// dropped because a receive buffer was full (RcvbufErrors), and all receive errors.
func udpErrors() (rcvbuf, inErrors int64) {
	b, err := os.ReadFile("/proc/net/snmp")
	if err != nil {
		return 0, 0
	}
	var names []string
	for line := range strings.Lines(string(b)) {
		rest, ok := strings.CutPrefix(line, "Udp: ")
		if !ok {
			continue
		}
		f := strings.Fields(rest)
		if names == nil {
			names = f
			continue
		}
		for i, n := range names {
			if i >= len(f) {
				break
			}
			v, _ := strconv.ParseInt(f[i], 10, 64)
			switch n {
			case "RcvbufErrors":
				rcvbuf = v
			case "InErrors":
				inErrors = v
			}
		}
		break
	}
	return rcvbuf, inErrors
}

// boxCPU is the whole machine's CPU time from the "cpu" line of /proc/stat, in ticks.
type boxCPU struct {
	at          time.Time
	total, idle uint64 // idle includes iowait
	ok          bool
}

func readBoxCPU() boxCPU {
	c := boxCPU{at: time.Now()}
	b, err := os.ReadFile("/proc/stat")
	if err != nil {
		return c
	}
	line, _, _ := strings.Cut(string(b), "\n")
	f := strings.Fields(line)
	if len(f) < 6 || f[0] != "cpu" {
		return c
	}
	for i, v := range f[1:] {
		n, err := strconv.ParseUint(v, 10, 64)
		if err != nil {
			return c
		}
		if i >= 8 { // guest and guest_nice are already counted in user and nice
			break
		}
		c.total += n
		if i == 3 || i == 4 { // idle, iowait
			c.idle += n
		}
	}
	c.ok = true
	return c
}

// busyCores is how many cores of the box were busy between two readings.
func busyCores(from, to boxCPU, cores int) float64 {
	if !from.ok || !to.ok || to.total <= from.total {
		return 0
	}
	dt := float64(to.total - from.total)
	di := float64(to.idle - from.idle)
	return (dt - di) / dt * float64(cores)
}

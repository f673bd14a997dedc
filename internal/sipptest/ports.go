package sipptest

import (
	"fmt"
	"math/rand/v2"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
)

// Port allocation for SIPp.
//
// SIPp binds the ports it is given itself, so a test cannot hand it an open socket the
// way it hands one to hotline (STYLE.md §8): we have to pick a free number, close our
// probe, and let SIPp bind it. Two things keep that honest when packages run in
// parallel:
//
//   - Ports come from below the kernel's ephemeral range
//     (/proc/sys/net/ipv4/ip_local_port_range), which no "bind to :0" ever returns, so a
//     hotline under test listening on 127.0.0.1:0 cannot take a port SIPp is about to
//     bind.
//   - Every port handed out is locked until the test ends: in this process by a set, and
//     across the test binaries `go test ./...` runs side by side by an flock on
//     $TMPDIR/hotline-sipptest-ports/PORT.lock, which the kernel drops if the process
//     dies.

// mediaPortSpan is how many ports from -mp SIPp may use: RTP audio on mp, RTCP-style
// mp+1 left alone, video on mp+2 (and its mp+3) — see `sipp -h` for -mp and -rtp_echo.
const mediaPortSpan = 4

var reserved = struct {
	sync.Mutex
	ports map[int]bool
}{ports: map[int]bool{}}

// FreeUDPPort reserves a UDP port on 127.0.0.1 for the rest of t (SIPp's -p or -cp).
func FreeUDPPort(t testing.TB) int {
	t.Helper()
	return reservePorts(t, 1, 1)
}

// FreeMediaPort reserves an even port mp with mp..mp+3 free on 127.0.0.1 for the rest
// of t, for SIPp's -mp: audio on mp, video on mp+2 (RTP convention puts RTP on even
// ports, RFC 3550 §11).
func FreeMediaPort(t testing.TB) int {
	t.Helper()
	return reservePorts(t, mediaPortSpan, 2)
}

func reservePorts(t testing.TB, span, align int) int {
	t.Helper()
	lo, hi := candidateRange()
	const attempts = 200
	for range attempts {
		base := lo + rand.IntN(hi-lo-span)
		base -= base % align
		if p, ok := tryReserve(base, span); ok {
			t.Cleanup(p.release)
			return base
		}
	}
	t.Fatalf("sipptest: no %d free UDP port(s) on 127.0.0.1 in [%d, %d) after %d attempts", span, lo, hi, attempts)
	return 0
}

// candidateRange is the span of ports below the ephemeral range, or above it when the
// range below is too small.
func candidateRange() (lo, hi int) {
	ephLo, ephHi := 32768, 60999 // Linux defaults
	if b, err := os.ReadFile("/proc/sys/net/ipv4/ip_local_port_range"); err == nil {
		f := strings.Fields(string(b))
		if len(f) == 2 {
			l, err1 := strconv.Atoi(f[0])
			h, err2 := strconv.Atoi(f[1])
			if err1 == nil && err2 == nil && l <= h {
				ephLo, ephHi = l, h
			}
		}
	}
	const floor = 20000 // stay clear of well-known and commonly configured ports
	if ephLo-floor >= 2000 {
		return floor, ephLo
	}
	return ephHi + 1, 65535
}

type reservation struct {
	ports []int
	locks []portLock
}

func (r *reservation) release() {
	for _, l := range r.locks {
		l.unlock()
	}
	reserved.Lock()
	for _, p := range r.ports {
		delete(reserved.ports, p)
	}
	reserved.Unlock()
}

func tryReserve(base, span int) (*reservation, bool) {
	r := &reservation{}
	reserved.Lock()
	for p := base; p < base+span; p++ {
		if reserved.ports[p] {
			reserved.Unlock()
			return nil, false
		}
	}
	for p := base; p < base+span; p++ {
		reserved.ports[p] = true
		r.ports = append(r.ports, p)
	}
	reserved.Unlock()

	for p := base; p < base+span; p++ {
		l, ok := lockPort(p)
		if !ok {
			r.release()
			return nil, false
		}
		r.locks = append(r.locks, l)
		if !udpFree(p) {
			r.release()
			return nil, false
		}
	}
	return r, true
}

func udpFree(port int) bool {
	c, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1), Port: port})
	if err != nil {
		return false
	}
	c.Close()
	return true
}

func lockDir() string {
	return filepath.Join(os.TempDir(), "hotline-sipptest-ports")
}

func lockPath(port int) string {
	return filepath.Join(lockDir(), fmt.Sprintf("%d.lock", port))
}

// FreePortRange reserves span consecutive UDP ports starting at an even port, for
// the rest of t; it returns the first. hotline's RTP range in end-to-end tests comes
// from here so parallel tests and SIPp never share a port.
func FreePortRange(t testing.TB, span int) int {
	t.Helper()
	return reservePorts(t, span, 2)
}

package sipptest

import (
	"net"
	"os"
	"testing"
)

func TestFreeMediaPortReservesFourEvenPorts(t *testing.T) {
	seen := map[int]bool{}
	for range 20 {
		mp := FreeMediaPort(t)
		if mp%2 != 0 {
			t.Errorf("media port %d is odd", mp)
		}
		for p := mp; p < mp+mediaPortSpan; p++ {
			if seen[p] {
				t.Fatalf("port %d handed out twice", p)
			}
			seen[p] = true
			c, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1), Port: p})
			if err != nil {
				t.Fatalf("reserved port %d is not bindable: %v", p, err)
			}
			c.Close()
		}
	}
}

func TestFreeUDPPortIsBelowEphemeralRangeAndLocked(t *testing.T) {
	lo, hi := candidateRange()
	p := FreeUDPPort(t)
	if p < lo || p >= hi {
		t.Errorf("port %d outside [%d, %d)", p, lo, hi)
	}
	// Another process (simulated by a second lock attempt) cannot take it.
	if l, ok := lockPort(p); ok {
		l.unlock()
		t.Errorf("port %d is not locked against other test processes", p)
	}
	if _, err := os.Stat(lockPath(p)); err != nil {
		t.Error(err)
	}
}

func TestReleasedPortCanBeReservedAgain(t *testing.T) {
	var p int
	t.Run("hold", func(t *testing.T) { p = FreeUDPPort(t) })
	r, ok := tryReserve(p, 1)
	if !ok {
		t.Fatalf("port %d still reserved after its test ended", p)
	}
	r.release()
}

package media

import (
	"bytes"
	"encoding/binary"
	"errors"
	"math"
	"net"
	"net/netip"
	"os"
	"testing"
	"time"

	"github.com/pion/rtp"
)

// testTimeout bounds every wait in these tests; generous for -race on a
// busy two-core machine, and never spent by a passing test.
const testTimeout = 5 * time.Second

var loopback = netip.MustParseAddr("127.0.0.1")

// newTestEngine returns an engine on 127.0.0.1 with ports from the OS.
// With manualPacer the pacer goroutine is not started and the test calls
// tickN to advance time deterministically.
func newTestEngine(t testing.TB, manualPacer bool) *Engine {
	t.Helper()
	cfg := Config{BindIP: loopback}
	var (
		e   *Engine
		err error
	)
	if manualPacer {
		e, err = newEngine(cfg)
	} else {
		e, err = NewEngine(cfg)
	}
	if err != nil {
		t.Fatalf("new engine: %v", err)
	}
	t.Cleanup(func() { e.Close() })
	return e
}

func tickN(e *Engine, n int) {
	for range n {
		e.pacer.tick(e, time.Now())
	}
}

func newTestEndpoint(t testing.TB, e *Engine, leg string) *Endpoint {
	t.Helper()
	ep, err := e.NewEndpoint("test-call", leg)
	if err != nil {
		t.Fatalf("new endpoint: %v", err)
	}
	t.Cleanup(func() { ep.Close() })
	return ep
}

// udpPeer is a plain UDP socket standing in for a phone or a carrier.
type udpPeer struct {
	t    testing.TB
	conn *net.UDPConn
	buf  []byte
}

func newUDPPeer(t testing.TB) *udpPeer {
	t.Helper()
	conn, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatalf("listen udp: %v", err)
	}
	t.Cleanup(func() { conn.Close() })
	return &udpPeer{t: t, conn: conn, buf: make([]byte, 2048)}
}

func (p *udpPeer) addr() netip.AddrPort {
	return p.conn.LocalAddr().(*net.UDPAddr).AddrPort()
}

func (p *udpPeer) send(to netip.AddrPort, pkt *rtp.Packet) {
	p.t.Helper()
	b, err := pkt.Marshal()
	if err != nil {
		p.t.Fatalf("marshal rtp: %v", err)
	}
	p.sendRaw(to, b)
}

func (p *udpPeer) sendRaw(to netip.AddrPort, b []byte) {
	p.t.Helper()
	if _, err := p.conn.WriteToUDPAddrPort(b, to); err != nil {
		p.t.Fatalf("send udp: %v", err)
	}
}

// receivedPacket is an RTP packet with its arrival time and source.
type receivedPacket struct {
	rtp.Packet
	at  time.Time
	src netip.AddrPort
}

// recv reads one RTP packet or fails the test after timeout.
func (p *udpPeer) recv(timeout time.Duration) receivedPacket {
	p.t.Helper()
	pkt, err := p.tryRecv(timeout)
	if err != nil {
		p.t.Fatalf("receive rtp on %s: %v", p.addr(), err)
	}
	return pkt
}

func (p *udpPeer) tryRecv(timeout time.Duration) (receivedPacket, error) {
	if err := p.conn.SetReadDeadline(time.Now().Add(timeout)); err != nil {
		return receivedPacket{}, err
	}
	n, src, err := p.conn.ReadFromUDPAddrPort(p.buf)
	if err != nil {
		return receivedPacket{}, err
	}
	var rp receivedPacket
	if err := rp.Unmarshal(bytes.Clone(p.buf[:n])); err != nil {
		return receivedPacket{}, err
	}
	rp.at = time.Now()
	rp.src = src
	return rp, nil
}

// expectSilence asserts that nothing arrives within d. This is a negative
// check: it waits for the absence of a packet, not for something to happen.
func (p *udpPeer) expectSilence(d time.Duration) {
	p.t.Helper()
	pkt, err := p.tryRecv(d)
	if err == nil {
		p.t.Fatalf("unexpected packet seq=%d pt=%d", pkt.SequenceNumber, pkt.PayloadType)
	}
	if !errors.Is(err, os.ErrDeadlineExceeded) {
		p.t.Fatalf("read: %v", err)
	}
}

// waitEvent returns the next event of ep or fails after testTimeout.
func waitEvent(t testing.TB, ep *Endpoint) Event {
	t.Helper()
	select {
	case ev := <-ep.Events():
		return ev
	case <-time.After(testTimeout):
		t.Fatalf("no event from endpoint %s within %v", ep.LocalAddr(), testTimeout)
		return Event{}
	}
}

// waitFor polls cond until it holds or the deadline passes.
func waitFor(t testing.TB, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(testTimeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(time.Millisecond) // polling interval, not a wait for an event
	}
}

// tone returns n samples of a sine of freq Hz at 8 kHz and amplitude amp.
func tone(n int, freq, amp float64) []int16 {
	out := make([]int16, n)
	for i := range out {
		out[i] = int16(amp * math.Sin(2*math.Pi*freq*float64(i)/sampleRate))
	}
	return out
}

// rms returns the root mean square of samples.
func rms(samples []int16) float64 {
	var sum float64
	for _, s := range samples {
		sum += float64(s) * float64(s)
	}
	return math.Sqrt(sum / float64(max(1, len(samples))))
}

// toneLevel returns the amplitude of the freq component of samples taken
// at rate (Goertzel / single-bin DFT).
func toneLevel(samples []float64, freq float64, rate int) float64 {
	var re, im float64
	for i, s := range samples {
		ph := 2 * math.Pi * freq * float64(i) / float64(rate)
		re += s * math.Cos(ph)
		im -= s * math.Sin(ph)
	}
	return 2 * math.Hypot(re, im) / float64(len(samples))
}

func int16sToFloats(s []int16) []float64 {
	out := make([]float64, len(s))
	for i, v := range s {
		out[i] = float64(v) / 32768
	}
	return out
}

// dtmfPayload builds an RFC 4733 payload.
func dtmfPayload(event uint8, end bool, duration uint16) []byte {
	b := []byte{event, 10, 0, 0} // volume -10 dBm0
	if end {
		b[1] |= 0x80
	}
	binary.BigEndian.PutUint16(b[2:], duration)
	return b
}

// nopTap counts frames and keeps copies of the last one.
type countingTap struct {
	frames  int
	lastIn  [samplesPerFrame]int16
	lastOut [samplesPerFrame]int16
	allIn   []int16
	allOut  []int16
	keepAll bool
}

func (c *countingTap) Frame(in, out []int16) {
	c.frames++
	copy(c.lastIn[:], in)
	copy(c.lastOut[:], out)
	if c.keepAll {
		c.allIn = append(c.allIn, in...)
		c.allOut = append(c.allOut, out...)
	}
}

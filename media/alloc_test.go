package media

import (
	"net/netip"
	"runtime"
	"testing"
	"time"

	"github.com/pion/rtp"
)

// nopTap is a tap that does nothing, so only media's own work is measured.
type nopTap struct{}

func (nopTap) Frame(in, out []int16) {}

// newPacerLoad returns a manual-pacer engine with n endpoints all playing a
// looping prompt to one sink socket (which nobody reads: the kernel drops
// what overflows) and, for every other endpoint, a tap.
func newPacerLoad(tb testing.TB, n int) *Engine {
	tb.Helper()
	e := newTestEngine(tb, true)
	sink := newUDPPeer(tb)
	moh := NewPrompt("moh", tone(50*samplesPerFrame, 440, 8000))
	for i := range n {
		ep := newTestEndpoint(tb, e, "caller")
		codec := CodecPCMU
		if i%2 == 1 {
			codec = CodecPCMA
			ep.Record(nopTap{})
		}
		ep.SetRemote(Remote{Addr: sink.addr(), Codec: codec})
		ep.Play(Playlist{Prompts: []*Prompt{moh}, Loop: true})
	}
	return e
}

// TestSharedTickServesEveryStreamOnce: a tick shared out among helpers
// sends one packet per stream, no more and no fewer, and allocates nothing.
func TestSharedTickServesEveryStreamOnce(t *testing.T) {
	const streams = 3*streamsPerShare + 17 // four shares, one short
	e := newPacerLoad(t, streams)
	e.pacer.startHelpers(3)
	defer e.pacer.stopHelpers()
	tickN(e, 3)
	before := e.Stats().PacketsOut
	if allocs := steadyAllocs(20, func() { e.pacer.tick(e, time.Now()) }); allocs != 0 {
		t.Fatalf("shared pacer tick: %.1f allocs, want 0", allocs)
	}
	ticks := e.pacer.ticks.Load() - 3
	if got := e.Stats().PacketsOut - before; got != uint64(streams)*ticks {
		t.Fatalf("PacketsOut grew by %d over %d ticks, want %d (one per stream per tick)", got, ticks, uint64(streams)*ticks)
	}
}

func TestPacerTickDoesNotAllocate(t *testing.T) {
	e := newPacerLoad(t, 50)
	tickN(e, 3) // first sends may grow socket-internal state
	if allocs := steadyAllocs(100, func() { e.pacer.tick(e, time.Now()) }); allocs != 0 {
		t.Fatalf("pacer tick: %.1f allocs, want 0", allocs)
	}
	if got := e.Stats().PacketsOut; got < 50*100 {
		t.Fatalf("PacketsOut = %d: the ticks did not send", got)
	}
}

// relayLoop is a bridge between two endpoints with a phone on each; round
// sends one packet from phone A and reads what phone B receives.
type relayLoop struct {
	bp     *bridgedPair
	pkt    []byte
	buf    []byte
	toA    netip.AddrPort
	seq    uint16
	failed error
}

func newRelayLoop(tb testing.TB, tapped bool) *relayLoop {
	bp := newBridgedPair(tb, true, Remote{Codec: CodecPCMU, DTMFPayloadType: 101}, Remote{Codec: CodecPCMA, DTMFPayloadType: 96})
	if tapped {
		bp.a.Record(nopTap{})
		bp.b.Record(nopTap{})
	}
	p := rtp.Packet{Header: rtp.Header{Version: 2, PayloadType: 0, SSRC: 42}, Payload: make([]byte, samplesPerFrame)}
	b, err := p.Marshal()
	if err != nil {
		tb.Fatal(err)
	}
	// One deadline for the whole run: setting it per read would be measured.
	if err := bp.phoneB.conn.SetReadDeadline(time.Now().Add(time.Minute)); err != nil {
		tb.Fatal(err)
	}
	return &relayLoop{bp: bp, pkt: b, buf: make([]byte, 2048), toA: bp.a.LocalAddr()}
}

func (l *relayLoop) round() {
	l.seq++
	l.pkt[2], l.pkt[3] = byte(l.seq>>8), byte(l.seq)
	ts := uint32(l.seq) * samplesPerFrame
	l.pkt[4], l.pkt[5], l.pkt[6], l.pkt[7] = byte(ts>>24), byte(ts>>16), byte(ts>>8), byte(ts)
	if _, err := l.bp.phoneA.conn.WriteToUDPAddrPort(l.pkt, l.toA); err != nil {
		l.failed = err
		return
	}
	if _, _, err := l.bp.phoneB.conn.ReadFromUDPAddrPort(l.buf); err != nil {
		l.failed = err
	}
}

func TestPacketReadAndRelayDoNotAllocate(t *testing.T) {
	tests := []struct {
		name   string
		tapped bool
	}{
		{"plain relay with transcoding", false},
		{"relay feeding taps on both legs", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			l := newRelayLoop(t, tt.tapped)
			for range 10 {
				l.round() // latch, talkspurt start and first-use growth
			}
			// Measures the whole path across goroutines: phone A's send, the
			// reader of a (read, unmarshal, decode, relay, transcode, send)
			// and phone B's receive.
			allocs := steadyAllocs(200, l.round)
			if l.failed != nil {
				t.Fatal(l.failed)
			}
			if allocs != 0 {
				t.Fatalf("read+relay: %.2f allocs per packet, want 0", allocs)
			}
		})
	}
}

func TestDTMFFeedDoesNotAllocate(t *testing.T) {
	var d DTMFDetector
	payload := dtmfPayload(5, false, 160)
	ts := uint32(0)
	allocs := testing.AllocsPerRun(1000, func() {
		ts += 800
		d.Feed(ts, payload)
		d.Feed(ts, payload)
	})
	if allocs != 0 {
		t.Fatalf("Feed: %.1f allocs, want 0", allocs)
	}
}

// BenchmarkPacerTick measures one 20 ms tick serving 1000 playing streams,
// half of them also feeding a tap. A tick must stay well under 20 ms.
func BenchmarkPacerTick(b *testing.B) {
	e := newPacerLoad(b, 1000)
	tickN(e, 3)
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		e.pacer.tick(e, time.Now())
	}
}

// BenchmarkPacerTickShared is BenchmarkPacerTick with the tick shared out
// among helpers as a running engine does (one per CPU beyond the first).
func BenchmarkPacerTickShared(b *testing.B) {
	e := newPacerLoad(b, 1000)
	e.pacer.startHelpers(max(1, runtime.GOMAXPROCS(0)-1))
	defer e.pacer.stopHelpers()
	tickN(e, 3)
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		e.pacer.tick(e, time.Now())
	}
}

// BenchmarkRelay measures one packet through a bridge with PCMU->PCMA
// transcoding, from phone A's send to phone B's receive (two loopback UDP
// hops and the endpoint reader in between).
func BenchmarkRelay(b *testing.B) {
	l := newRelayLoop(b, false)
	for range 10 {
		l.round()
	}
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		l.round()
	}
	if l.failed != nil {
		b.Fatal(l.failed)
	}
}

func BenchmarkDTMFFeed(b *testing.B) {
	var d DTMFDetector
	payload := dtmfPayload(5, false, 160)
	ts := uint32(0)
	b.ReportAllocs()
	for b.Loop() {
		ts += 800
		d.Feed(ts, payload)
	}
}

// steadyAllocs is testing.AllocsPerRun taken three times, keeping the
// lowest: the code under test allocating shows in every measurement, while
// the runtime's own occasional allocation (seen under -race, about one run
// in twenty) does not repeat, and must not fail the test.
func steadyAllocs(runs int, f func()) float64 {
	lowest := testing.AllocsPerRun(runs, f)
	for range 2 {
		if lowest == 0 {
			break
		}
		lowest = min(lowest, testing.AllocsPerRun(runs, f))
	}
	return lowest
}

package media

import (
	"errors"
	"fmt"
	"math"
	"testing"
	"time"

	"github.com/pion/rtp"
	"github.com/zaf/g711"
)

const (
	mixAmp    = 6000.0 // per tone; five tones together stay below clipping
	mixFrames = 10     // 200 ms per measurement: every test tone has whole cycles
	mixDTMFPT = 101
)

// mixParty is one endpoint in a test mix with the phone at its far end,
// which talks a tone of its own and collects what it hears.
type mixParty struct {
	name  string
	ep    *Endpoint
	phone *udpPeer
	codec Codec
	freq  float64
	sent  int // frames sent, for phase and RTP numbering
	heard []int16

	// The RTP stream the phone receives.
	pkts    int
	ssrc    uint32
	lastSeq uint16
	lastTS  uint32
	badSeq  int
}

type mixRig struct {
	t *testing.T
	e *Engine
	m *Mix
}

// newMixRig returns a mix on a manual pacer with no jitter prefill: the
// rig feeds every talker's frame before each tick, in lockstep, so what a
// tick sends is what was said just before it. The prefill has tests of its
// own (TestMixJitterBufferPlayout, TestMixPrefillBridgesJitter).
func newMixRig(t *testing.T) *mixRig {
	e := newTestEngine(t, true)
	m := e.NewMix()
	t.Cleanup(func() { m.Close() })
	if err := m.SetJitterDepth(0); err != nil {
		t.Fatal(err)
	}
	return &mixRig{t: t, e: e, m: m}
}

// party opens an endpoint whose phone talks freq Hz in codec.
func (r *mixRig) party(name string, freq float64, codec Codec) *mixParty {
	p := &mixParty{name: name, ep: newTestEndpoint(r.t, r.e, name), phone: newUDPPeer(r.t), codec: codec, freq: freq}
	p.ep.SetRemote(Remote{Addr: p.phone.addr(), Codec: codec, DTMFPayloadType: mixDTMFPT})
	return p
}

func (r *mixRig) join(p *mixParty, role Role) {
	r.t.Helper()
	if err := r.m.Join(p.ep, role); err != nil {
		r.t.Fatalf("join %s: %v", p.name, err)
	}
}

// speak sends one 20 ms frame of each party's tone and waits until its
// endpoint has queued it for the mix.
func (r *mixRig) speak(ps ...*mixParty) {
	r.t.Helper()
	for _, p := range ps {
		p.sendFrame(p.toneFrame())
	}
	r.settle(ps...)
}

// toneFrame returns the next 20 ms of p's tone in its codec.
func (p *mixParty) toneFrame() []byte {
	payload := make([]byte, samplesPerFrame)
	for i := range payload {
		n := p.sent*samplesPerFrame + i
		s := int16(mixAmp * math.Sin(2*math.Pi*p.freq*float64(n)/sampleRate))
		if p.codec == CodecPCMA {
			payload[i] = g711.EncodeAlawFrame(s)
		} else {
			payload[i] = g711.EncodeUlawFrame(s)
		}
	}
	return payload
}

// sendFrame sends payload from p's phone as the next packet of its stream.
func (p *mixParty) sendFrame(payload []byte) {
	p.phone.send(p.ep.LocalAddr(), &rtp.Packet{Header: rtp.Header{
		Version: 2, PayloadType: p.codec.PayloadType(), SequenceNumber: uint16(p.sent),
		Timestamp: uint32(p.sent * samplesPerFrame), SSRC: 0x5000 + uint32(p.freq),
	}, Payload: payload})
	p.sent++
}

// settlePT is a payload type no test endpoint negotiates.
const settlePT = 99

// settle waits until the readers of ps have handled everything their
// phones sent: each phone sends one packet of settlePT, which its reader
// counts as invalid only after the packets before it (loopback UDP keeps
// the order of one socket's datagrams).
func (r *mixRig) settle(ps ...*mixParty) {
	r.t.Helper()
	want := r.e.Stats().PacketsInvalid + uint64(len(ps))
	for _, p := range ps {
		p.phone.send(p.ep.LocalAddr(), &rtp.Packet{Header: rtp.Header{Version: 2, PayloadType: settlePT}})
	}
	waitFor(r.t, "the readers to handle what was sent", func() bool {
		return r.e.Stats().PacketsInvalid >= want
	})
}

// hear reads the one packet a tick sent to p and keeps its audio.
func (p *mixParty) hear(t *testing.T) {
	t.Helper()
	pkt := p.phone.recv(testTimeout)
	if got := CodecFromPayloadType(pkt.PayloadType); got != p.codec {
		t.Fatalf("%s received payload type %d, want %s", p.name, pkt.PayloadType, p.codec)
	}
	if len(pkt.Payload) != samplesPerFrame {
		t.Fatalf("%s received %d bytes of audio", p.name, len(pkt.Payload))
	}
	if p.pkts > 0 && (pkt.SSRC != p.ssrc || pkt.SequenceNumber != p.lastSeq+1 || pkt.Timestamp != p.lastTS+samplesPerFrame) {
		p.badSeq++
	}
	p.pkts++
	p.ssrc, p.lastSeq, p.lastTS = pkt.SSRC, pkt.SequenceNumber, pkt.Timestamp
	for _, b := range pkt.Payload {
		if p.codec == CodecPCMA {
			p.heard = append(p.heard, g711.DecodeAlawFrame(b))
		} else {
			p.heard = append(p.heard, g711.DecodeUlawFrame(b))
		}
	}
}

// frames runs n pacer ticks, each with one frame from every talker, and
// collects what every hearer receives (hearers' earlier audio is dropped).
func (r *mixRig) frames(n int, talkers, hearers []*mixParty) {
	r.t.Helper()
	for _, h := range hearers {
		h.heard = h.heard[:0]
	}
	for range n {
		r.speak(talkers...)
		tickN(r.e, 1)
		for _, h := range hearers {
			h.hear(r.t)
		}
	}
}

// level is the amplitude of freq in what p heard, relative to one test tone.
func level(samples []int16, freq float64) float64 {
	return toneLevel(int16sToFloats(samples), freq, sampleRate) / (mixAmp / 32768)
}

// expectHears checks that p heard exactly the tones of want among all.
func expectHears(t *testing.T, p *mixParty, all []*mixParty, want ...*mixParty) {
	t.Helper()
	for _, src := range all {
		l := level(p.heard, src.freq)
		should := false
		for _, w := range want {
			should = should || w == src
		}
		switch {
		case should && l < 0.8:
			t.Errorf("%s hears %s's %.0f Hz at %.3f, want ~1", p.name, src.name, src.freq, l)
		case !should && l > 0.02:
			t.Errorf("%s hears %s's %.0f Hz at %.3f, want nothing", p.name, src.name, src.freq, l)
		}
	}
}

func parties(ps ...*mixParty) []*mixParty { return ps }

func TestMixThreeWayIsMixMinusAcrossCodecs(t *testing.T) {
	r := newMixRig(t)
	a := r.party("A", 500, CodecPCMU)
	b := r.party("B", 1000, CodecPCMU)
	c := r.party("C", 1500, CodecPCMA)
	all := parties(a, b, c)
	for _, p := range all {
		r.join(p, Speaker())
	}
	r.frames(mixFrames, all, all)
	expectHears(t, a, all, b, c)
	expectHears(t, b, all, a, c)
	expectHears(t, c, all, a, b)
	for _, p := range all {
		if p.badSeq != 0 {
			t.Errorf("%s: %d packets broke the RTP sequence/timestamp/SSRC", p.name, p.badSeq)
		}
	}

	// Missing frames are silence: only B talks.
	r.frames(mixFrames, parties(b), all)
	expectHears(t, a, all, b)
	expectHears(t, c, all, b)
	if got := rms(b.heard); got != 0 && got > 16 {
		t.Errorf("B hears rms %.0f while alone talking, want silence", got)
	}
	// A frame is used once: nothing is left over for the next tick.
	r.frames(1, nil, all)
	for _, p := range all {
		if got := rms(p.heard); got > 16 {
			t.Errorf("%s hears rms %.0f after everyone stopped", p.name, got)
		}
	}
}

func TestMixListenerAndWhisperer(t *testing.T) {
	r := newMixRig(t)
	a := r.party("A", 500, CodecPCMU)  // caller
	b := r.party("B", 1000, CodecPCMA) // agent
	c := r.party("C", 1500, CodecPCMU) // third party
	d := r.party("D", 2000, CodecPCMU) // supervisor, silent monitoring
	w := r.party("W", 2500, CodecPCMA) // supervisor, coaching B
	all := parties(a, b, c, d, w)
	for _, p := range all[:3] {
		r.join(p, Speaker())
	}
	r.join(d, Listener())
	r.join(w, Whisperer(b.ep))

	r.frames(mixFrames, all, all)
	expectHears(t, a, all, b, c)
	expectHears(t, b, all, a, c, w)
	expectHears(t, c, all, a, b)
	expectHears(t, d, all, a, b, c)
	expectHears(t, w, all, a, b, c)

	// Barge-in: the monitoring supervisor becomes a speaker.
	if err := r.m.SetRole(d.ep, Speaker()); err != nil {
		t.Fatal(err)
	}
	r.frames(mixFrames, all, all)
	expectHears(t, a, all, b, c, d)
	expectHears(t, d, all, a, b, c)
	expectHears(t, w, all, a, b, c, d)
}

func TestMixLeaveAndClose(t *testing.T) {
	r := newMixRig(t)
	a := r.party("A", 500, CodecPCMU)
	b := r.party("B", 1000, CodecPCMU)
	c := r.party("C", 1500, CodecPCMU)
	all := parties(a, b, c)
	for _, p := range all {
		r.join(p, Speaker())
	}
	r.frames(2, all, all)

	r.m.Leave(c.ep)
	r.m.Leave(c.ep) // idempotent
	if n := r.m.Len(); n != 2 {
		t.Fatalf("Len = %d after C left, want 2", n)
	}
	r.frames(mixFrames, parties(a, b), parties(a, b))
	c.phone.expectSilence(50 * time.Millisecond)
	expectHears(t, a, all, b)
	expectHears(t, b, all, a)
	// C talking now goes nowhere.
	in := r.e.Stats().PacketsIn
	c.phone.send(c.ep.LocalAddr(), &rtp.Packet{Header: rtp.Header{Version: 2, PayloadType: 0, SequenceNumber: 99, SSRC: 9}, Payload: make([]byte, samplesPerFrame)})
	waitFor(t, "C's packet read", func() bool { return r.e.Stats().PacketsIn > in })
	r.frames(1, nil, parties(a, b))
	if got := rms(a.heard) + rms(b.heard); got > 32 {
		t.Errorf("C, after leaving, is heard at rms %.0f", got)
	}

	if err := r.m.Close(); err != nil {
		t.Fatal(err)
	}
	r.m.Close() // idempotent
	out := r.e.Stats().PacketsOut
	tickN(r.e, 3)
	for _, p := range all {
		p.phone.expectSilence(50 * time.Millisecond)
	}
	if got := r.e.Stats().PacketsOut; got != out {
		t.Errorf("PacketsOut went from %d to %d after Close", out, got)
	}
	if err := r.m.Join(a.ep, Speaker()); !errors.Is(err, ErrMixClosed) {
		t.Errorf("Join after Close = %v, want ErrMixClosed", err)
	}
	a.ep.mu.Lock()
	mode, mix := a.ep.mode, a.ep.mix
	a.ep.mu.Unlock()
	if mode != outQuiet || mix != nil {
		t.Errorf("after Close A has mode %d, mix %p; want quiet and none", mode, mix)
	}
}

func TestMixPlaybackReplacesWhatTheParticipantHears(t *testing.T) {
	r := newMixRig(t)
	a := r.party("A", 500, CodecPCMU)
	b := r.party("B", 1000, CodecPCMU)
	all := parties(a, b)
	r.join(a, Speaker())
	r.join(b, Speaker())
	// Not 3000 Hz: the third harmonic of G.711's distortion would alias
	// onto B's 1000 Hz.
	const holdFreq = 2750
	moh := NewPrompt("moh", tone(samplesPerFrame*5, holdFreq, mixAmp))
	a.ep.Play(Playlist{Prompts: []*Prompt{moh}, Loop: true})

	r.frames(mixFrames, all, all)
	if l := level(a.heard, holdFreq); l < 0.8 {
		t.Errorf("A hears the hold music at %.3f, want ~1", l)
	}
	expectHears(t, a, all) // the prompt, not the mix
	expectHears(t, b, all, a)
	if l := level(b.heard, holdFreq); l > 0.02 {
		t.Errorf("B hears A's hold music at %.3f", l)
	}

	a.ep.StopPlayback()
	r.frames(mixFrames, all, all)
	expectHears(t, a, all, b)
	if l := level(a.heard, holdFreq); l > 0.02 {
		t.Errorf("A still hears the hold music at %.3f after StopPlayback", l)
	}
}

func TestMixRecordingTapHearsWhatTheParticipantSaysAndHears(t *testing.T) {
	r := newMixRig(t)
	a := r.party("A", 500, CodecPCMU)
	b := r.party("B", 1000, CodecPCMA)
	c := r.party("C", 1500, CodecPCMU)
	all := parties(a, b, c)
	for _, p := range all {
		r.join(p, Speaker())
	}
	tap := &countingTap{keepAll: true}
	a.ep.Record(tap)
	r.frames(mixFrames+1, all, all)
	// The tap's out lags the mix by one tick (endpoints are paced before
	// mixes): measure whole frames 1..mixFrames of it.
	in := tap.allIn[:mixFrames*samplesPerFrame]
	out := tap.allOut[samplesPerFrame : (mixFrames+1)*samplesPerFrame]
	if l := level(in, a.freq); l < 0.8 {
		t.Errorf("tap in has A at %.3f, want ~1", l)
	}
	for _, src := range parties(b, c) {
		if l := level(in, src.freq); l > 0.02 {
			t.Errorf("tap in has %s at %.3f", src.name, l)
		}
		if l := level(out, src.freq); l < 0.8 {
			t.Errorf("tap out has %s at %.3f, want ~1", src.name, l)
		}
	}
	if l := level(out, a.freq); l > 0.02 {
		t.Errorf("tap out has A's own voice at %.3f", l)
	}
}

func TestMixDTMFIsReportedAndNotForwarded(t *testing.T) {
	r := newMixRig(t)
	a := r.party("A", 500, CodecPCMU)
	b := r.party("B", 1000, CodecPCMU)
	r.join(a, Speaker())
	r.join(b, Speaker())
	for i, end := range []bool{false, true, true, true} {
		a.phone.send(a.ep.LocalAddr(), &rtp.Packet{Header: rtp.Header{
			Version: 2, PayloadType: mixDTMFPT, Marker: i == 0, SequenceNumber: uint16(i), Timestamp: 800, SSRC: 7,
		}, Payload: dtmfPayload(5, end, uint16(160*(i+1)))})
	}
	if ev := waitEvent(t, a.ep); ev.Kind != EventDTMF || ev.Digit != '5' {
		t.Fatalf("event %+v, want DTMF 5", ev)
	}
	tickN(r.e, 1)
	b.hear(t) // audio (silence), not an RFC 4733 packet
	b.phone.expectSilence(30 * time.Millisecond)
}

func TestMixJoinUnbridgesAndBridgeLeaves(t *testing.T) {
	r := newMixRig(t)
	a := r.party("A", 500, CodecPCMU)
	b := r.party("B", 1000, CodecPCMU)
	x := r.party("X", 1500, CodecPCMU)
	Bridge(a.ep, x.ep)
	r.join(a, Speaker())
	r.join(b, Speaker())
	x.ep.mu.Lock()
	xPeer, xMode := x.ep.peer, x.ep.mode
	x.ep.mu.Unlock()
	if xPeer != nil || xMode != outQuiet {
		t.Fatalf("X after A joined: peer %p mode %d; want unbridged and quiet", xPeer, xMode)
	}
	r.frames(mixFrames, parties(a, b), parties(a, b))
	expectHears(t, a, parties(a, b, x), b)

	Bridge(a.ep, x.ep)
	if _, in := r.m.Role(a.ep); in || r.m.Len() != 1 {
		t.Fatalf("A still in the mix after Bridge (Len %d)", r.m.Len())
	}
	// Joining another mix leaves this one.
	other := r.e.NewMix()
	defer other.Close()
	if err := other.Join(b.ep, Listener()); err != nil {
		t.Fatal(err)
	}
	if r.m.Len() != 0 || other.Len() != 1 {
		t.Fatalf("after B joined another mix: Len %d and %d, want 0 and 1", r.m.Len(), other.Len())
	}
	// Closing an endpoint leaves its mix.
	b.ep.Close()
	if other.Len() != 0 {
		t.Fatalf("closed endpoint still in its mix")
	}
}

func TestMixRejectsBadRoles(t *testing.T) {
	r := newMixRig(t)
	a := r.party("A", 500, CodecPCMU)
	b := r.party("B", 1000, CodecPCMU)
	z := r.party("Z", 1500, CodecPCMU)
	foreign := newTestEndpoint(t, newTestEngine(t, true), "foreign")
	tests := []struct {
		name string
		ep   *Endpoint
		role Role
		want error
	}{
		{"zero role", a.ep, Role{}, ErrBadRole},
		{"speaker with a target", a.ep, Role{Kind: RoleSpeaker, Target: b.ep}, ErrBadRole},
		{"whisper to nobody", a.ep, Whisperer(nil), ErrBadRole},
		{"whisper to oneself", a.ep, Whisperer(a.ep), ErrBadRole},
		{"whisper to a non-member", a.ep, Whisperer(z.ep), ErrNotInMix},
		{"endpoint of another engine", foreign, Speaker(), ErrBadRole},
	}
	r.join(b, Speaker())
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if err := r.m.Join(tt.ep, tt.role); !errors.Is(err, tt.want) {
				t.Errorf("Join = %v, want %v", err, tt.want)
			}
		})
	}
	if err := r.m.SetRole(a.ep, Speaker()); !errors.Is(err, ErrNotInMix) {
		t.Errorf("SetRole of a non-member = %v, want ErrNotInMix", err)
	}
	if err := r.m.SetRole(b.ep, Whisperer(b.ep)); !errors.Is(err, ErrBadRole) {
		t.Errorf("SetRole whisper to self = %v, want ErrBadRole", err)
	}
	z.ep.Close()
	if err := r.m.Join(z.ep, Speaker()); !errors.Is(err, ErrEndpointClosed) {
		t.Errorf("Join of a closed endpoint = %v, want ErrEndpointClosed", err)
	}
	if r.m.Len() != 1 {
		t.Errorf("Len = %d after failed joins, want 1", r.m.Len())
	}
}

// newMixLoad returns a manual-pacer engine with mixes of parties speakers
// each, all sending to one sink socket nobody reads, and a feed function
// that queues one received frame on every participant, as the reader would.
func newMixLoad(tb testing.TB, mixes, parties int) (*Engine, func()) {
	tb.Helper()
	e := newTestEngine(tb, true)
	sink := newUDPPeer(tb)
	var eps []*Endpoint
	for range mixes {
		m := e.NewMix()
		tb.Cleanup(func() { m.Close() })
		for i := range parties {
			ep := newTestEndpoint(tb, e, fmt.Sprint("party", i))
			codec := CodecPCMU
			if i%2 == 1 {
				codec = CodecPCMA
			}
			ep.SetRemote(Remote{Addr: sink.addr(), Codec: codec})
			if err := m.Join(ep, Speaker()); err != nil {
				tb.Fatal(err)
			}
			eps = append(eps, ep)
		}
	}
	frames := make([][]int16, parties)
	for i := range frames {
		frames[i] = tone(samplesPerFrame, 400+300*float64(i), 8000)
	}
	feed := func() {
		for i, ep := range eps {
			ep.mu.Lock()
			ep.pushMix(frames[i%parties])
			ep.mu.Unlock()
		}
	}
	return e, feed
}

func TestMixTickDoesNotAllocate(t *testing.T) {
	e, feed := newMixLoad(t, 10, 3)
	for range 3 { // first sends may grow socket-internal state
		feed()
		tickN(e, 1)
	}
	before := e.Stats().PacketsOut
	allocs := steadyAllocs(100, func() {
		feed()
		e.pacer.tick(e, time.Now())
	})
	if allocs != 0 {
		t.Fatalf("mix tick: %.1f allocs per frame, want 0", allocs)
	}
	if got := e.Stats().PacketsOut - before; got < 30*100 {
		t.Fatalf("%d packets sent: the ticks did not mix", got)
	}
}

// BenchmarkMix3 measures one 20 ms frame of a three-party conference: take
// the three frames, build three mix-minus sums, encode (PCMU and PCMA) and
// send three packets. ns/op is ns per frame of the whole mix.
func BenchmarkMix3(b *testing.B) { benchmarkMix(b, 1, 3) }

// BenchmarkMix100x3 is a pacer tick serving 100 three-party conferences
// (300 legs); it must stay well under 20 ms.
func BenchmarkMix100x3(b *testing.B) { benchmarkMix(b, 100, 3) }

func benchmarkMix(b *testing.B, mixes, parties int) {
	e, feed := newMixLoad(b, mixes, parties)
	for range 3 {
		feed()
		tickN(e, 1)
	}
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		feed()
		e.pacer.tick(e, time.Now())
	}
}

// TestMixOnRunningPacer is the mix on the engine's own 20 ms pacer with a
// phone talking in real time: A hears B's tone in paced packets.
func TestMixOnRunningPacer(t *testing.T) {
	e := newTestEngine(t, false)
	m := e.NewMix()
	defer m.Close()
	r := &mixRig{t: t, e: e, m: m}
	a := r.party("A", 500, CodecPCMU)
	b := r.party("B", 1000, CodecPCMA)
	r.join(a, Speaker())
	r.join(b, Speaker())

	const frames = 25
	done := make(chan struct{})
	go func() {
		defer close(done)
		ticker := time.NewTicker(pacerInterval)
		defer ticker.Stop()
		for i := range frames {
			payload := make([]byte, samplesPerFrame)
			for j := range payload {
				n := i*samplesPerFrame + j
				payload[j] = g711.EncodeAlawFrame(int16(mixAmp * math.Sin(2*math.Pi*b.freq*float64(n)/sampleRate)))
			}
			pkt := rtp.Packet{Header: rtp.Header{Version: 2, PayloadType: 8, SequenceNumber: uint16(i), Timestamp: uint32(i * samplesPerFrame), SSRC: 3}, Payload: payload}
			raw, _ := pkt.Marshal()
			b.phone.conn.WriteToUDPAddrPort(raw, b.ep.LocalAddr())
			<-ticker.C
		}
	}()
	start := time.Now()
	for range frames {
		a.hear(t)
	}
	<-done
	if elapsed := time.Since(start); elapsed < (frames-3)*pacerInterval {
		t.Errorf("%d packets in %v: not paced at 20 ms", frames, elapsed)
	}
	if a.badSeq != 0 {
		t.Errorf("%d packets broke the RTP sequence", a.badSeq)
	}
	// Timing jitter between the phone and the pacer may cost a frame or
	// two; the tone must still dominate.
	if l := level(a.heard, b.freq); l < 0.5 {
		t.Errorf("A hears B at %.3f, want most of it", l)
	}
	if l := level(a.heard, a.freq); l > 0.02 {
		t.Errorf("A hears itself at %.3f", l)
	}
}

package media

import (
	"bytes"
	"errors"
	"net"
	"net/netip"
	"sync/atomic"
	"testing"
	"time"

	"github.com/pion/rtp"
	"github.com/zaf/g711"
)

func TestPlayPlaylistArrivesAsPacedRTP(t *testing.T) {
	tests := []struct {
		name  string
		codec Codec
	}{
		{"PCMU", CodecPCMU},
		{"PCMA", CodecPCMA},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newTestEngine(t, false)
			ep := newTestEndpoint(t, e, "caller")
			phone := newUDPPeer(t)
			ep.SetRemote(Remote{Addr: phone.addr(), Codec: tt.codec})

			first := NewPrompt("first", tone(10*samplesPerFrame, 440, 8000))
			second := NewPrompt("second", tone(5*samplesPerFrame-40, 1000, 8000)) // last frame padded
			id := ep.Play(Playlist{Prompts: []*Prompt{first, second}})

			const want = 15
			var got []receivedPacket
			for range want {
				got = append(got, phone.recv(testTimeout))
			}
			if ev := waitEvent(t, ep); ev != (Event{Kind: EventPlaybackDone, PlaybackID: id}) {
				t.Fatalf("event = %+v, want PlaybackDone %d", ev, id)
			}
			phone.expectSilence(100 * time.Millisecond)

			for i, p := range got {
				if p.PayloadType != tt.codec.PayloadType() {
					t.Errorf("packet %d: payload type %d, want %d", i, p.PayloadType, tt.codec.PayloadType())
				}
				if p.SSRC != got[0].SSRC {
					t.Errorf("packet %d: ssrc %#x, want %#x", i, p.SSRC, got[0].SSRC)
				}
				if p.Marker != (i == 0) {
					t.Errorf("packet %d: marker %v", i, p.Marker)
				}
				if len(p.Payload) != samplesPerFrame {
					t.Errorf("packet %d: %d payload bytes", i, len(p.Payload))
				}
				prompt, frame := first, i
				if i >= 10 {
					prompt, frame = second, i-10
				}
				wantPayload, _ := prompt.frame(tt.codec, frame)
				if !bytes.Equal(p.Payload, wantPayload) {
					t.Errorf("packet %d: payload is not frame %d of %s", i, frame, prompt.Name)
				}
				if i == 0 {
					continue
				}
				if d := p.SequenceNumber - got[i-1].SequenceNumber; d != 1 {
					t.Errorf("packet %d: sequence step %d", i, d)
				}
				if d := p.Timestamp - got[i-1].Timestamp; d != samplesPerFrame {
					t.Errorf("packet %d: timestamp step %d", i, d)
				}
			}
			span := got[want-1].at.Sub(got[0].at)
			if avg := span / (want - 1); avg < 15*time.Millisecond || avg > 30*time.Millisecond {
				t.Errorf("average packet interval %v, want about 20ms", avg)
			}
			if s := e.Stats(); s.PacketsOut != want || s.PlayingStreams != 0 {
				t.Errorf("stats: %+v", s)
			}
		})
	}
}

func TestPlayLoopRepeatsUntilStopped(t *testing.T) {
	e := newTestEngine(t, false)
	ep := newTestEndpoint(t, e, "caller")
	phone := newUDPPeer(t)
	ep.SetRemote(Remote{Addr: phone.addr(), Codec: CodecPCMU})

	moh := NewPrompt("moh", tone(3*samplesPerFrame, 500, 8000))
	ep.Play(Playlist{Prompts: []*Prompt{moh}, Loop: true})
	var prev receivedPacket
	for i := range 10 { // more than three times around
		p := phone.recv(testTimeout)
		want, _ := moh.frame(CodecPCMU, i%3)
		if !bytes.Equal(p.Payload, want) {
			t.Fatalf("packet %d is not frame %d of the loop", i, i%3)
		}
		if i > 0 && (p.SequenceNumber-prev.SequenceNumber != 1 || p.Timestamp-prev.Timestamp != samplesPerFrame) {
			t.Fatalf("packet %d: discontinuity across loop", i)
		}
		prev = p
	}
	if got := e.Stats().PlayingStreams; got != 1 {
		t.Errorf("PlayingStreams = %d, want 1", got)
	}
	ep.StopPlayback()
	if got := e.Stats().PlayingStreams; got != 0 {
		t.Errorf("PlayingStreams after stop = %d, want 0", got)
	}
	// At most one packet may have been in flight when StopPlayback returned.
	if _, err := phone.tryRecv(60 * time.Millisecond); err == nil {
		phone.expectSilence(60 * time.Millisecond)
	}
	select {
	case ev := <-ep.Events():
		t.Fatalf("stopped loop produced event %+v", ev)
	default:
	}
}

func TestPlayReplacesPlaybackWithoutDoneAndKeepsStreamContinuous(t *testing.T) {
	e := newTestEngine(t, true)
	ep := newTestEndpoint(t, e, "caller")
	phone := newUDPPeer(t)
	ep.SetRemote(Remote{Addr: phone.addr(), Codec: CodecPCMA})

	long := NewPrompt("long", tone(50*samplesPerFrame, 440, 8000))
	short := NewPrompt("short", tone(2*samplesPerFrame, 880, 8000))
	firstID := ep.Play(Playlist{Prompts: []*Prompt{long}})
	tickN(e, 3)
	secondID := ep.Play(Playlist{Prompts: []*Prompt{short}})
	tickN(e, 3)

	var got []receivedPacket
	for range 5 {
		got = append(got, phone.recv(testTimeout))
	}
	if ev := waitEvent(t, ep); ev.Kind != EventPlaybackDone || ev.PlaybackID != secondID {
		t.Fatalf("event %+v, want done of %d (not %d)", ev, secondID, firstID)
	}
	for i, p := range got {
		if wantMarker := i == 0 || i == 3; p.Marker != wantMarker {
			t.Errorf("packet %d: marker %v, want %v (set at each source switch)", i, p.Marker, wantMarker)
		}
		if i > 0 {
			if p.SequenceNumber-got[i-1].SequenceNumber != 1 {
				t.Errorf("packet %d: sequence not continuous", i)
			}
			if d := int32(p.Timestamp - got[i-1].Timestamp); d < samplesPerFrame {
				t.Errorf("packet %d: timestamp step %d, want >= %d", i, d, samplesPerFrame)
			}
			if p.SSRC != got[0].SSRC {
				t.Errorf("packet %d: ssrc changed", i)
			}
		}
	}
}

func TestPlayEmptyPlaylistEndsAtOnce(t *testing.T) {
	e := newTestEngine(t, true)
	ep := newTestEndpoint(t, e, "caller")
	id := ep.Play(Playlist{Prompts: []*Prompt{nil, NewPrompt("empty", nil)}})
	if ev := waitEvent(t, ep); ev != (Event{Kind: EventPlaybackDone, PlaybackID: id}) {
		t.Fatalf("event %+v", ev)
	}
	ep.Play(Playlist{Loop: true})
	if got := e.Stats().PlayingStreams; got != 0 {
		t.Fatalf("empty loop counts as playing: %d", got)
	}
}

func TestDTMFPacketsProduceExactlyTheDigits(t *testing.T) {
	const (
		dtmfPT = 101
		ssrcA  = 0x1111
		ssrcB  = 0x2222
	)
	type send struct {
		pt      uint8
		ssrc    uint32
		ts      uint32
		marker  bool
		payload []byte
	}
	ev := func(ts uint32, digit uint8, end bool, dur uint16) send {
		return send{pt: dtmfPT, ssrc: ssrcA, ts: ts, marker: dur <= 160 && !end, payload: dtmfPayload(digit, end, dur)}
	}
	press := func(ts uint32, digit uint8) []send {
		return []send{
			ev(ts, digit, false, 160), ev(ts, digit, false, 320), ev(ts, digit, false, 480),
			ev(ts, digit, true, 640), ev(ts, digit, true, 640), ev(ts, digit, true, 640),
		}
	}
	concat := func(parts ...[]send) []send {
		var out []send
		for _, p := range parts {
			out = append(out, p...)
		}
		return out
	}
	tests := []struct {
		name string
		seq  []send
		want string
	}{
		{"one press with triple end", press(1000, 1), "1"},
		{"every key", concat(press(1000, 0), press(2000, 9), press(3000, 10), press(4000, 11), press(5000, 12), press(6000, 15)), "09*#AD"},
		{"marker lost", []send{{pt: dtmfPT, ssrc: ssrcA, ts: 1000, payload: dtmfPayload(4, false, 160)}, ev(1000, 4, true, 320)}, "4"},
		{"end packets lost", concat(press(1000, 1)[:3], press(2000, 2)[:2]), "12"},
		{"only end packets arrive", press(1000, 5)[3:], "5"},
		{"back-to-back same digit", concat(press(1000, 3), press(1800, 3)), "33"},
		{"same digit, ends lost", concat(press(1000, 3)[:1], press(1800, 3)[:1]), "33"},
		{"duplicated packets", concat(press(1000, 6), press(1000, 6)), "6"},
		{"late repeat after next digit", concat(press(1000, 1)[:2], press(2000, 2)[:2], press(1000, 1)[3:]), "12"},
		{"wrong payload type ignored", []send{{pt: 100, ssrc: ssrcA, ts: 1000, payload: dtmfPayload(1, false, 160)}}, ""},
		{"audio payload type is not dtmf", []send{{pt: 0, ssrc: ssrcA, ts: 1000, payload: dtmfPayload(1, false, 160)}}, ""},
		{"malformed payloads ignored", []send{
			{pt: dtmfPT, ssrc: ssrcA, ts: 1000, payload: []byte{1, 0}},
			{pt: dtmfPT, ssrc: ssrcA, ts: 1100, payload: dtmfPayload(16, false, 160)},
			{pt: dtmfPT, ssrc: ssrcA, ts: 1200, payload: dtmfPayload(8, true, 160)},
		}, "8"},
		{"timestamp wraps", concat(press(0xffffff00, 1), press(0x60, 2)), "12"},
		{"long event in segments", []send{
			ev(1000, 7, false, 0xffff), {pt: dtmfPT, ssrc: ssrcA, ts: 1000 + 0xffff, payload: dtmfPayload(7, false, 800)},
			{pt: dtmfPT, ssrc: ssrcA, ts: 1000 + 0xffff, payload: dtmfPayload(7, true, 1600)},
		}, "7"},
		{"new ssrc starts a new timestamp space", concat(press(50000, 1), []send{{pt: dtmfPT, ssrc: ssrcB, ts: 100, payload: dtmfPayload(2, false, 160)}}), "12"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newTestEngine(t, true)
			ep := newTestEndpoint(t, e, "caller")
			phone := newUDPPeer(t)
			ep.SetRemote(Remote{Addr: phone.addr(), Codec: CodecPCMU, DTMFPayloadType: dtmfPT})

			var seq uint16 = 100
			lastSSRC, lastTS := uint32(ssrcA), uint32(0)
			for _, s := range tt.seq {
				seq++
				phone.send(ep.LocalAddr(), &rtp.Packet{
					Header:  rtp.Header{Version: 2, Marker: s.marker, PayloadType: s.pt, SequenceNumber: seq, Timestamp: s.ts, SSRC: s.ssrc},
					Payload: s.payload,
				})
				if s.pt == dtmfPT {
					lastSSRC, lastTS = s.ssrc, s.ts
				}
			}
			// A sentinel 'D' with a later timestamp: once it is reported, every
			// packet before it has been processed (one reader, in order).
			seq++
			phone.send(ep.LocalAddr(), &rtp.Packet{
				Header:  rtp.Header{Version: 2, Marker: true, PayloadType: dtmfPT, SequenceNumber: seq, Timestamp: lastTS + 100000, SSRC: lastSSRC},
				Payload: dtmfPayload(15, false, 160),
			})
			var got []byte
			for {
				ev := waitEvent(t, ep)
				if ev.Kind != EventDTMF {
					t.Fatalf("unexpected event %+v", ev)
				}
				got = append(got, ev.Digit)
				if len(got) > len(tt.want) {
					break
				}
			}
			if string(got) != tt.want+"D" {
				t.Fatalf("digits %q, want %q", got, tt.want)
			}
			if n := e.Stats().DTMFDigits; n != uint64(len(got)) {
				t.Errorf("DTMFDigits = %d, want %d", n, len(got))
			}
		})
	}
}

// bridgedPair is two endpoints bridged together, each with a phone.
type bridgedPair struct {
	e                  *Engine
	a, b               *Endpoint
	phoneA, phoneB     *udpPeer
	remoteA, remoteB   Remote
	nextSeq            uint16
	nextTS             uint32
	sentFromA, sentToB int
}

func newBridgedPair(t testing.TB, manualPacer bool, ra, rb Remote) *bridgedPair {
	bp := &bridgedPair{e: newTestEngine(t, manualPacer)}
	bp.a = newTestEndpoint(t, bp.e, "caller")
	bp.b = newTestEndpoint(t, bp.e, "agent")
	bp.phoneA, bp.phoneB = newUDPPeer(t), newUDPPeer(t)
	ra.Addr, rb.Addr = bp.phoneA.addr(), bp.phoneB.addr()
	bp.remoteA, bp.remoteB = ra, rb
	bp.a.SetRemote(ra)
	bp.b.SetRemote(rb)
	Bridge(bp.a, bp.b)
	return bp
}

func TestBridgeRelaysBothWaysAndTranscodes(t *testing.T) {
	const dtmfA, dtmfB = 101, 96
	tests := []struct {
		name         string
		codecA       Codec
		codecB       Codec
		dtmfB        uint8
		wantEventsAB bool
	}{
		{"PCMU to PCMA", CodecPCMU, CodecPCMA, dtmfB, true},
		{"PCMA to PCMU", CodecPCMA, CodecPCMU, dtmfB, true},
		{"same codec, no dtmf on agent side", CodecPCMU, CodecPCMU, 0, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			bp := newBridgedPair(t, false,
				Remote{Codec: tt.codecA, DTMFPayloadType: dtmfA},
				Remote{Codec: tt.codecB, DTMFPayloadType: tt.dtmfB})

			speech := tone(samplesPerFrame, 700, 12000)
			encode := func(c Codec, pcm []int16) []byte {
				out := make([]byte, len(pcm))
				for i, s := range pcm {
					if c == CodecPCMU {
						out[i] = g711.EncodeUlawFrame(s)
					} else {
						out[i] = g711.EncodeAlawFrame(s)
					}
				}
				return out
			}
			decode := func(c Codec, b []byte) []int16 {
				out := make([]int16, len(b))
				c.decodeInto(out, b)
				return out
			}
			check := func(dir string, from *udpPeer, to netip.AddrPort, recv *udpPeer, inCodec, outCodec Codec) {
				t.Helper()
				var first receivedPacket
				for i := range 5 {
					from.send(to, &rtp.Packet{
						Header:  rtp.Header{Version: 2, Marker: i == 0, PayloadType: inCodec.PayloadType(), SequenceNumber: uint16(500 + i), Timestamp: uint32(9000 + 160*i), SSRC: 0xabcdef},
						Payload: encode(inCodec, speech),
					})
					got := recv.recv(testTimeout)
					if got.PayloadType != outCodec.PayloadType() {
						t.Fatalf("%s: payload type %d, want %d", dir, got.PayloadType, outCodec.PayloadType())
					}
					if i == 0 {
						first = got
						if !got.Marker {
							t.Errorf("%s: first relayed packet has no marker", dir)
						}
					} else {
						if got.SequenceNumber-first.SequenceNumber != uint16(i) || got.Timestamp-first.Timestamp != uint32(160*i) {
							t.Errorf("%s: packet %d: seq/ts not mapped consistently", dir, i)
						}
						if got.SSRC != first.SSRC || got.Marker {
							t.Errorf("%s: packet %d: ssrc or marker wrong", dir, i)
						}
					}
					if got.SSRC == 0xabcdef {
						t.Errorf("%s: source ssrc leaked through", dir)
					}
					pcm := decode(outCodec, got.Payload)
					for j := range pcm {
						// Two G.711 quantizations: within 4% of the sample plus a floor.
						if diff := abs(int(pcm[j]) - int(speech[j])); diff > abs(int(speech[j]))/25+64 {
							t.Fatalf("%s: sample %d = %d, sent %d", dir, j, pcm[j], speech[j])
						}
					}
				}
			}
			check("a->b", bp.phoneA, bp.a.LocalAddr(), bp.phoneB, tt.codecA, tt.codecB)
			check("b->a", bp.phoneB, bp.b.LocalAddr(), bp.phoneA, tt.codecB, tt.codecA)

			// RFC 4733 passes through with the payload type remapped.
			event := dtmfPayload(5, false, 160)
			bp.phoneA.send(bp.a.LocalAddr(), &rtp.Packet{
				Header:  rtp.Header{Version: 2, Marker: true, PayloadType: dtmfA, SequenceNumber: 505, Timestamp: 9000 + 160*5, SSRC: 0xabcdef},
				Payload: event,
			})
			if ev := waitEvent(t, bp.a); ev.Kind != EventDTMF || ev.Digit != '5' {
				t.Fatalf("digit on a: %+v", ev)
			}
			if tt.wantEventsAB {
				got := bp.phoneB.recv(testTimeout)
				if got.PayloadType != tt.dtmfB || !bytes.Equal(got.Payload, event) {
					t.Fatalf("relayed event pt %d payload %x", got.PayloadType, got.Payload)
				}
			} else {
				bp.phoneB.expectSilence(100 * time.Millisecond)
			}

			// Unbridge: both go quiet.
			Unbridge(bp.a)
			bp.phoneA.send(bp.a.LocalAddr(), &rtp.Packet{
				Header:  rtp.Header{Version: 2, PayloadType: tt.codecA.PayloadType(), SequenceNumber: 506, Timestamp: 9000 + 160*6, SSRC: 0xabcdef},
				Payload: encode(tt.codecA, speech),
			})
			bp.phoneB.expectSilence(100 * time.Millisecond)
		})
	}
}

func abs(x int) int {
	if x < 0 {
		return -x
	}
	return x
}

func TestPlayDuringBridgeReplacesRelayOnThatSideOnly(t *testing.T) {
	bp := newBridgedPair(t, true, Remote{Codec: CodecPCMU}, Remote{Codec: CodecPCMU})
	beep := NewPrompt("beep", tone(samplesPerFrame, 1000, 8000))
	bp.b.Play(Playlist{Prompts: []*Prompt{beep}, Loop: true})

	// a's audio no longer reaches b's phone...
	bp.phoneA.send(bp.a.LocalAddr(), &rtp.Packet{Header: rtp.Header{Version: 2, PayloadType: 0, SequenceNumber: 1, Timestamp: 1, SSRC: 1}, Payload: make([]byte, 160)})
	// ...but b's audio still reaches a's phone.
	bp.phoneB.send(bp.b.LocalAddr(), &rtp.Packet{Header: rtp.Header{Version: 2, PayloadType: 0, SequenceNumber: 1, Timestamp: 1, SSRC: 2}, Payload: make([]byte, 160)})
	bp.phoneA.recv(testTimeout)
	tickN(bp.e, 1)
	got := bp.phoneB.recv(testTimeout)
	want, _ := beep.frame(CodecPCMU, 0)
	if !bytes.Equal(got.Payload, want) {
		t.Fatalf("b's phone got relayed audio instead of the prompt")
	}
	bp.phoneB.expectSilence(50 * time.Millisecond)
}

func TestSymmetricRTPLatchesOntoActualSource(t *testing.T) {
	e := newTestEngine(t, true)
	ep := newTestEndpoint(t, e, "caller")
	signalled, actual, stray := newUDPPeer(t), newUDPPeer(t), newUDPPeer(t)
	ep.SetRemote(Remote{Addr: signalled.addr(), Codec: CodecPCMU})
	ep.Play(Playlist{Prompts: []*Prompt{NewPrompt("moh", tone(samplesPerFrame, 400, 8000))}, Loop: true})

	tickN(e, 1)
	signalled.recv(testTimeout) // before any packet arrives: the SDP address

	// The NAT's address is not the signalled one: it latches once it has
	// sent two packets in sequence.
	actual.send(ep.LocalAddr(), audioPacket(1, 7))
	waitFor(t, "probation packet", func() bool { return e.Stats().Dropped[DropSource] == 1 })
	actual.send(ep.LocalAddr(), audioPacket(2, 7))
	waitFor(t, "latch", func() bool { return e.Stats().PacketsIn == 2 && !ep.LastHeard().IsZero() })
	tickN(e, 1)
	actual.recv(testTimeout)

	stray.send(ep.LocalAddr(), audioPacket(3, 7))
	stray.send(ep.LocalAddr(), audioPacket(4, 7))
	waitFor(t, "stray packets", func() bool { return e.Stats().Dropped[DropSource] == 3 })
	tickN(e, 1)
	actual.recv(testTimeout) // still latched
	stray.expectSilence(50 * time.Millisecond)

	// A re-INVITE to a new address drops the latch.
	moved := newUDPPeer(t)
	ep.SetRemote(Remote{Addr: moved.addr(), Codec: CodecPCMU})
	tickN(e, 1)
	moved.recv(testTimeout)
}

// audioPacket is 20 ms of PCMU silence with sequence number seq.
func audioPacket(seq uint16, ssrc uint32) *rtp.Packet {
	return &rtp.Packet{Header: rtp.Header{Version: 2, PayloadType: 0, SequenceNumber: seq, Timestamp: uint32(seq) * samplesPerFrame, SSRC: ssrc},
		Payload: bytes.Repeat([]byte{ulawSilence}, samplesPerFrame)}
}

// TestLatchingRule drives acceptSource with a fake clock through the rule
// of docs/security.md.
func TestLatchingRule(t *testing.T) {
	signalled := netip.MustParseAddrPort("10.0.0.1:4000") // private, from the SDP
	first := netip.MustParseAddrPort("192.0.2.1:4000")
	second := netip.MustParseAddrPort("192.0.2.2:5000")
	t0 := time.Unix(1000, 0)
	type pkt struct {
		src    netip.AddrPort
		ssrc   uint32
		seq    uint16
		after  time.Duration
		wantOK bool
	}
	latchFirst := []pkt{{first, 1, 10, 0, false}, {first, 1, 11, 20 * time.Millisecond, true}}
	tests := []struct {
		name     string
		pkts     []pkt
		wantDest netip.AddrPort
	}{
		{"signalled address latches at once", []pkt{{signalled, 1, 10, 0, true}}, signalled},
		{"a single packet from elsewhere does not latch", []pkt{{first, 1, 10, 0, false}}, signalled},
		{"two in sequence from elsewhere latch", latchFirst, first},
		{"out of sequence restarts probation", []pkt{{first, 1, 10, 0, false}, {first, 1, 12, 0, false}, {first, 1, 13, 0, true}}, first},
		{"an ssrc change restarts probation", []pkt{{first, 1, 10, 0, false}, {first, 2, 11, 0, false}, {first, 2, 12, 0, true}}, first},
		{"interleaved sources never pass", []pkt{{first, 1, 10, 0, false}, {second, 1, 11, 0, false}, {first, 1, 11, 0, false}}, signalled},
		{"other source while the first talks", append(latchFirst,
			pkt{second, 5, 1, 500 * time.Millisecond, false}, pkt{second, 5, 2, 520 * time.Millisecond, false}), first},
		{"just before the silence limit", append(latchFirst,
			pkt{second, 5, 1, relatchAfter - 2*time.Millisecond, false}, pkt{second, 5, 2, relatchAfter - time.Millisecond, false}), first},
		{"one packet after a second of silence", append(latchFirst,
			pkt{second, 5, 1, relatchAfter + 20*time.Millisecond, false}), first},
		{"two in sequence after a second of silence", append(latchFirst,
			pkt{second, 5, 1, relatchAfter + 20*time.Millisecond, false}, pkt{second, 5, 2, relatchAfter + 40*time.Millisecond, true}), second},
		{"a source that kept sending takes over on the first packet after the silence", append(latchFirst,
			pkt{second, 5, 1, 500 * time.Millisecond, false}, pkt{second, 5, 2, relatchAfter + 20*time.Millisecond, true}), second},
		{"the latched source may change ssrc", append(latchFirst, pkt{first, 9, 500, 40 * time.Millisecond, true}), first},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ep := &Endpoint{logger: newTestEngine(t, true).logger}
			ep.remote.Addr = signalled
			ep.sendAddr = signalled
			for i, p := range tt.pkts {
				if ok := ep.acceptSource(p.src, p.ssrc, p.seq, t0.Add(p.after)); ok != p.wantOK {
					t.Fatalf("packet %d from %s: accept = %v, want %v", i, p.src, ok, p.wantOK)
				}
			}
			if ep.sendAddr != tt.wantDest {
				t.Fatalf("dest %s, want %s", ep.sendAddr, tt.wantDest)
			}
		})
	}
}

func TestRecordingTapGetsOneFramePerTick(t *testing.T) {
	e := newTestEngine(t, true)
	ep := newTestEndpoint(t, e, "caller")
	phone := newUDPPeer(t)
	ep.SetRemote(Remote{Addr: phone.addr(), Codec: CodecPCMU})
	tap := &countingTap{}
	ep.Record(tap)

	tickN(e, 7) // quiet: silence both ways
	if tap.frames != 7 || rms(tap.lastIn[:]) != 0 || rms(tap.lastOut[:]) != 0 {
		t.Fatalf("after 7 quiet ticks: %d frames, in rms %.0f, out rms %.0f", tap.frames, rms(tap.lastIn[:]), rms(tap.lastOut[:]))
	}

	greeting := NewPrompt("greeting", tone(samplesPerFrame*3, 440, 8000))
	ep.Play(Playlist{Prompts: []*Prompt{greeting}})
	caller := tone(samplesPerFrame, 1000, 8000)
	payload := make([]byte, samplesPerFrame)
	for i, s := range caller {
		payload[i] = g711.EncodeUlawFrame(s)
	}
	phone.send(ep.LocalAddr(), &rtp.Packet{Header: rtp.Header{Version: 2, PayloadType: 0, SequenceNumber: 1, Timestamp: 1, SSRC: 1}, Payload: payload})
	waitFor(t, "packet in tap buffer", func() bool {
		ep.mu.Lock()
		defer ep.mu.Unlock()
		return ep.tapIn.n == samplesPerFrame
	})
	tickN(e, 1)
	if tap.frames != 8 {
		t.Fatalf("frames = %d, want 8", tap.frames)
	}
	_, wantOut := greeting.frame(CodecPCMU, 0)
	if tap.lastOut != [samplesPerFrame]int16(wantOut) {
		t.Errorf("out is not the prompt being played")
	}
	for i, s := range tap.lastIn {
		if want := g711.DecodeUlawFrame(payload[i]); s != want {
			t.Fatalf("in[%d] = %d, want %d", i, s, want)
		}
	}
	tickN(e, 1)
	if rms(tap.lastIn[:]) != 0 {
		t.Errorf("in is not silent after the one received packet")
	}
	ep.Record(nil)
	tickN(e, 5)
	if tap.frames != 9 {
		t.Errorf("detached tap got frames: %d, want 9", tap.frames)
	}
}

func TestRecordingTapOnBridgedLegHearsBothSides(t *testing.T) {
	bp := newBridgedPair(t, true, Remote{Codec: CodecPCMU}, Remote{Codec: CodecPCMA})
	tap := &countingTap{}
	bp.a.Record(tap)
	fromCaller := tone(samplesPerFrame, 600, 8000)
	fromAgent := tone(samplesPerFrame, 1200, 8000)
	ulaw, alaw := make([]byte, samplesPerFrame), make([]byte, samplesPerFrame)
	for i := range samplesPerFrame {
		ulaw[i] = g711.EncodeUlawFrame(fromCaller[i])
		alaw[i] = g711.EncodeAlawFrame(fromAgent[i])
	}
	bp.phoneA.send(bp.a.LocalAddr(), &rtp.Packet{Header: rtp.Header{Version: 2, PayloadType: 0, SequenceNumber: 1, Timestamp: 1, SSRC: 1}, Payload: ulaw})
	bp.phoneB.send(bp.b.LocalAddr(), &rtp.Packet{Header: rtp.Header{Version: 2, PayloadType: 8, SequenceNumber: 1, Timestamp: 1, SSRC: 2}, Payload: alaw})
	bp.phoneA.recv(testTimeout)
	bp.phoneB.recv(testTimeout)
	tickN(bp.e, 1)
	for i := range samplesPerFrame {
		if tap.lastIn[i] != g711.DecodeUlawFrame(ulaw[i]) || tap.lastOut[i] != g711.DecodeAlawFrame(alaw[i]) {
			t.Fatalf("sample %d: in %d out %d", i, tap.lastIn[i], tap.lastOut[i])
		}
	}
}

func TestEndpointRejectsNonRTPAndUnnegotiatedPayloads(t *testing.T) {
	tests := []struct {
		name   string
		bytes  []byte
		reason DropReason
	}{
		{"too short", []byte{0x80, 0}, DropMalformed},
		{"rtp version 1", append([]byte{0x40, 0, 0, 1, 0, 0, 0, 1, 0, 0, 0, 1}, make([]byte, 160)...), DropMalformed},
		{"empty audio payload", []byte{0x80, 0, 0, 1, 0, 0, 0, 1, 0, 0, 0, 1}, DropMalformed},
		{"audio payload over 150 ms", append([]byte{0x80, 0, 0, 1, 0, 0, 0, 1, 0, 0, 0, 1}, make([]byte, maxAudioPayload+1)...), DropMalformed},
		{"g722 not negotiated", append([]byte{0x80, 9, 0, 1, 0, 0, 0, 1, 0, 0, 0, 1}, make([]byte, 160)...), DropPayloadType},
		{"pcma when pcmu negotiated", append([]byte{0x80, 8, 0, 1, 0, 0, 0, 1, 0, 0, 0, 1}, make([]byte, 160)...), DropPayloadType},
		{"bad telephone-event payload", []byte{0x80, 101, 0, 1, 0, 0, 0, 1, 0, 0, 0, 1, 1, 0}, DropDTMF},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newTestEngine(t, true)
			ep := newTestEndpoint(t, e, "caller")
			phone := newUDPPeer(t)
			ep.SetRemote(Remote{Addr: phone.addr(), Codec: CodecPCMU, DTMFPayloadType: 101})
			phone.sendRaw(ep.LocalAddr(), tt.bytes)
			waitFor(t, "invalid packet counted", func() bool { return e.Stats().Dropped[tt.reason] == 1 })
			if s := e.Stats(); s.PacketsIn != 1 || s.PacketsInvalid != 1 {
				t.Fatalf("stats %+v", s)
			}
		})
	}
}

func TestPortPoolSkipsRefusedPortsAndRunsOut(t *testing.T) {
	// Find an even port we can hold ourselves, so the pool has to skip it.
	var held *net.UDPConn
	for range 100 {
		c, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
		if err != nil {
			t.Fatal(err)
		}
		if c.LocalAddr().(*net.UDPAddr).Port%2 == 0 && c.LocalAddr().(*net.UDPAddr).Port < 65000 {
			held = c
			break
		}
		c.Close()
	}
	if held == nil {
		t.Skip("no even ephemeral port found")
	}
	defer held.Close()
	low := held.LocalAddr().(*net.UDPAddr).Port

	e, err := NewEngine(Config{BindIP: loopback, PortLow: low, PortHigh: low + 3})
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close()
	if got := e.Stats().PortsFree; got != 2 {
		t.Fatalf("PortsFree = %d, want 2", got)
	}
	ep, err := e.NewEndpoint("c1", "caller")
	if err != nil {
		t.Skipf("port %d also taken by someone else: %v", low+2, err)
	}
	if got := int(ep.LocalAddr().Port()); got != low+2 {
		t.Fatalf("endpoint on port %d, want %d (skipping the refused %d)", got, low+2, low)
	}
	if _, err := e.NewEndpoint("c2", "caller"); !errors.Is(err, ErrNoPorts) {
		t.Fatalf("second endpoint: %v, want ErrNoPorts", err)
	}
	held.Close()
	ep.Close()
	ep.Close() // idempotent
	if s := e.Stats(); s.ActiveEndpoints != 0 || s.PortsFree != 2 {
		t.Fatalf("after close: %+v", s)
	}
	ep2, err := e.NewEndpoint("c3", "caller")
	if err != nil {
		t.Fatalf("after freeing: %v", err)
	}
	if got := int(ep2.LocalAddr().Port()); got != low {
		t.Errorf("got port %d, want the formerly refused %d (longest free)", got, low)
	}
}

func TestNewEngineRejectsBadPortRanges(t *testing.T) {
	tests := []struct {
		name      string
		low, high int
	}{
		{"inverted", 20000, 10000},
		{"above 65535", 65000, 70000},
		{"negative", -2, 100},
		{"only an odd port", 10001, 10001},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if e, err := NewEngine(Config{PortLow: tt.low, PortHigh: tt.high}); err == nil {
				e.Close()
				t.Fatalf("accepted %d-%d", tt.low, tt.high)
			}
		})
	}
}

func TestEventsDropWhenOwnerIsSlow(t *testing.T) {
	e := newTestEngine(t, true)
	ep := newTestEndpoint(t, e, "caller")
	for range eventQueueLen + 3 {
		ep.Play(Playlist{}) // each ends at once with an event
	}
	if got := e.Stats().EventsDropped; got != 3 {
		t.Fatalf("EventsDropped = %d, want 3", got)
	}
}

func TestCodecEnum(t *testing.T) {
	tests := []struct {
		codec Codec
		name  string
		pt    uint8
		rate  uint32
	}{
		{CodecUnknown, "Unknown", 255, 0},
		{CodecPCMU, "PCMU", 0, 8000},
		{CodecPCMA, "PCMA", 8, 8000},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if tt.codec.String() != tt.name || tt.codec.PayloadType() != tt.pt || tt.codec.ClockRate() != tt.rate {
				t.Fatalf("%v: %q %d %d", tt.codec, tt.codec.String(), tt.codec.PayloadType(), tt.codec.ClockRate())
			}
			if tt.codec != CodecUnknown && CodecFromPayloadType(tt.pt) != tt.codec {
				t.Fatalf("CodecFromPayloadType(%d) = %v", tt.pt, CodecFromPayloadType(tt.pt))
			}
		})
	}
	if CodecFromPayloadType(9) != CodecUnknown || EventKind(0).String() != "Unknown" || EventDTMF.String() != "DTMF" {
		t.Fatal("unknown values")
	}
}

// fakeClock is a clock tests move by hand; safe for the readers.
type fakeClock struct{ ns atomic.Int64 }

func newFakeClock() *fakeClock {
	c := &fakeClock{}
	c.ns.Store(time.Unix(1000, 0).UnixNano())
	return c
}

func (c *fakeClock) Now() time.Time          { return time.Unix(0, c.ns.Load()) }
func (c *fakeClock) Advance(d time.Duration) { c.ns.Add(int64(d)) }

// latchRig is a bridged pair whose readers stamp packets with a fake
// clock: phone A talks to the caller endpoint, phone B hears the relay.
type latchRig struct {
	*bridgedPair
	clk *fakeClock
}

func newLatchRig(t *testing.T) *latchRig {
	e := newTestEngine(t, false)
	clk := newFakeClock()
	e.now = clk.Now // before any reader starts
	bp := &bridgedPair{e: e, a: newTestEndpoint(t, e, "caller"), b: newTestEndpoint(t, e, "agent")}
	bp.phoneA, bp.phoneB = newUDPPeer(t), newUDPPeer(t)
	bp.remoteA = Remote{Addr: bp.phoneA.addr(), Codec: CodecPCMU, DTMFPayloadType: 101}
	bp.remoteB = Remote{Addr: bp.phoneB.addr(), Codec: CodecPCMU, DTMFPayloadType: 101}
	bp.a.SetRemote(bp.remoteA)
	bp.b.SetRemote(bp.remoteB)
	Bridge(bp.a, bp.b)
	return &latchRig{bridgedPair: bp, clk: clk}
}

// talk sends an audio packet from p to the caller endpoint and reports
// whether phone B heard it relayed; a dropped one is waited for in the
// counters, so the answer never depends on a timeout.
func (r *latchRig) talk(t *testing.T, p *udpPeer, seq uint16, ssrc uint32) bool {
	t.Helper()
	before := r.e.Stats()
	p.send(r.a.LocalAddr(), audioPacket(seq, ssrc))
	waitFor(t, "the packet to be handled", func() bool {
		s := r.e.Stats()
		return s.PacketsOut > before.PacketsOut || s.PacketsInvalid > before.PacketsInvalid
	})
	if r.e.Stats().PacketsOut == before.PacketsOut {
		return false
	}
	got := r.phoneB.recv(testTimeout)
	if got.SSRC == ssrc {
		t.Fatalf("relayed packet kept the source's SSRC")
	}
	return true
}

// answerReaches reports where phone B's packet, relayed by the caller
// endpoint, arrives: the caller endpoint's destination.
func (r *latchRig) answerReaches(t *testing.T, candidates ...*udpPeer) *udpPeer {
	t.Helper()
	sent := r.e.Stats().PacketsOut
	r.phoneB.send(r.b.LocalAddr(), audioPacket(1, 99))
	for _, c := range candidates {
		if _, err := c.tryRecv(200 * time.Millisecond); err == nil {
			// The counter moves after the datagram leaves: wait for it, so
			// that the next talk does not take this packet for its own.
			waitFor(t, "the relay to be counted", func() bool { return r.e.Stats().PacketsOut > sent })
			return c
		}
	}
	return nil
}

func TestLatchingOverUDP(t *testing.T) {
	t.Run("spoofed source ignored while the caller talks", func(t *testing.T) {
		r := newLatchRig(t)
		spoofer := newUDPPeer(t)
		if !r.talk(t, r.phoneA, 1, 7) {
			t.Fatal("the signalled phone was not relayed")
		}
		r.clk.Advance(20 * time.Millisecond)
		for seq := uint16(100); seq < 105; seq++ { // in sequence: probation alone would pass it
			if r.talk(t, spoofer, seq, 666) {
				t.Fatalf("spoofed packet %d relayed", seq)
			}
		}
		if got := r.e.Stats().Dropped[DropSource]; got != 5 {
			t.Fatalf("source drops = %d, want 5", got)
		}
		if got := r.answerReaches(t, r.phoneA, spoofer); got != r.phoneA {
			t.Fatal("the answer did not go to the latched phone")
		}
	})
	t.Run("silent source, then a new one relatches after probation", func(t *testing.T) {
		r := newLatchRig(t)
		rebound := newUDPPeer(t) // the same phone after a NAT rebinding
		if !r.talk(t, r.phoneA, 1, 7) {
			t.Fatal("first packet not relayed")
		}
		r.clk.Advance(relatchAfter)
		if r.talk(t, rebound, 2, 7) {
			t.Fatal("a single packet took over the stream")
		}
		if !r.talk(t, rebound, 3, 7) {
			t.Fatal("the second in-sequence packet did not take over")
		}
		if got := r.answerReaches(t, rebound, r.phoneA); got != rebound {
			t.Fatal("the answer did not follow the new source")
		}
	})
	t.Run("re-INVITE to a new address", func(t *testing.T) {
		r := newLatchRig(t)
		if !r.talk(t, r.phoneA, 1, 7) {
			t.Fatal("first packet not relayed")
		}
		moved, nat := newUDPPeer(t), newUDPPeer(t)
		r.a.SetRemote(Remote{Addr: moved.addr(), Codec: CodecPCMU, DTMFPayloadType: 101})
		if r.talk(t, r.phoneA, 2, 7) {
			t.Fatal("the old address is still relayed after the re-INVITE")
		}
		if got := r.answerReaches(t, moved, r.phoneA); got != moved {
			t.Fatal("before any packet, the answer does not go to the new signalled address")
		}
		// The new address behind a NAT: its packets come from elsewhere and
		// latch after probation, with no wait for silence.
		if r.talk(t, nat, 10, 8) {
			t.Fatal("one packet from a NAT address latched")
		}
		if !r.talk(t, nat, 11, 8) {
			t.Fatal("two in-sequence packets did not latch")
		}
		if got := r.answerReaches(t, nat, moved); got != nat {
			t.Fatal("the answer did not go to the latched NAT address")
		}
	})
	t.Run("a held phone's silence hands its stream to no one", func(t *testing.T) {
		r := newLatchRig(t)
		spoofer := newUDPPeer(t)
		if !r.talk(t, r.phoneA, 1, 7) {
			t.Fatal("first packet not relayed")
		}
		quiet := r.remoteA
		quiet.Quiet = true // re-INVITE inactive, same address
		r.a.SetRemote(quiet)
		r.clk.Advance(time.Minute)
		for seq := uint16(100); seq < 105; seq++ {
			if r.talk(t, spoofer, seq, 666) {
				t.Fatalf("packet %d from a stranger took the held stream", seq)
			}
		}
		if got := r.answerReaches(t, r.phoneA, spoofer); got != r.phoneA {
			t.Fatal("the answer left the held phone")
		}
		// Resumed from behind a new NAT binding: the old source has been
		// silent, the new one passes probation and takes over.
		r.a.SetRemote(r.remoteA)
		if r.talk(t, spoofer, 200, 9) || !r.talk(t, spoofer, 201, 9) {
			t.Fatal("after the resume, a new source did not relatch after probation")
		}
	})
	t.Run("ssrc change mid-stream", func(t *testing.T) {
		r := newLatchRig(t)
		for seq := uint16(1); seq <= 3; seq++ {
			if !r.talk(t, r.phoneA, seq, 7) {
				t.Fatalf("packet %d not relayed", seq)
			}
		}
		// The phone restarts its stream (a re-INVITE it did not send, a
		// transfer inside a PBX): new SSRC, new sequence and timestamps.
		for seq := uint16(40000); seq < 40003; seq++ {
			if !r.talk(t, r.phoneA, seq, 8) {
				t.Fatalf("packet %d of the new ssrc not relayed", seq)
			}
		}
		r.phoneA.send(r.a.LocalAddr(), &rtp.Packet{
			Header:  rtp.Header{Version: 2, Marker: true, PayloadType: 101, SequenceNumber: 40003, Timestamp: 5, SSRC: 8},
			Payload: dtmfPayload(5, false, 160),
		})
		if ev := waitEvent(t, r.a); ev.Kind != EventDTMF || ev.Digit != '5' {
			t.Fatalf("event %+v, want digit 5", ev)
		}
	})
}

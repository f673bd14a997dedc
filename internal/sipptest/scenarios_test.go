package sipptest

import (
	"context"
	"fmt"
	"math"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/pion/rtp"
	"github.com/zaf/g711"
)

// These tests run the scenarios of testdata/sipp against a fake peer written here, so
// the scenarios are known to work before hotline is; hotline's own end-to-end tests
// then run the same files against hotline.

const sipWait = 10 * time.Second

// rtpRecorder keeps every RTP packet sent to its socket.
type rtpRecorder struct {
	conn *net.UDPConn
	mu   sync.Mutex
	pkts []CapturedRTP
	done chan struct{}
}

func newRTPRecorder(t testing.TB) *rtpRecorder {
	t.Helper()
	c, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	r := &rtpRecorder{conn: c, done: make(chan struct{})}
	start := time.Now()
	go func() {
		defer close(r.done)
		buf := make([]byte, 2048)
		for {
			n, from, err := c.ReadFromUDP(buf)
			if err != nil {
				return // closed
			}
			var p rtp.Packet
			if p.Unmarshal(buf[:n]) != nil {
				continue
			}
			p.Payload = append([]byte(nil), p.Payload...)
			r.mu.Lock()
			r.pkts = append(r.pkts, CapturedRTP{At: time.Since(start), SrcPort: uint16(from.Port), Packet: p})
			r.mu.Unlock()
		}
	}()
	t.Cleanup(func() { r.stop() })
	return r
}

func (r *rtpRecorder) port() int { return r.conn.LocalAddr().(*net.UDPAddr).Port }

// stop closes the socket and returns what arrived.
func (r *rtpRecorder) stop() []CapturedRTP {
	r.conn.Close()
	<-r.done
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.pkts
}

// waitPackets polls until n packets of payload type pt arrived or the deadline passes.
func (r *rtpRecorder) waitPackets(pt uint8, n int, timeout time.Duration) int {
	deadline := time.Now().Add(timeout)
	for {
		r.mu.Lock()
		got := 0
		for _, p := range r.pkts {
			if p.Packet.PayloadType == pt {
				got++
			}
		}
		r.mu.Unlock()
		if got >= n || time.Now().After(deadline) {
			return got
		}
		time.Sleep(10 * time.Millisecond) // polling with a deadline, not waiting blind
	}
}

// dominantFrequency estimates a tone's frequency from zero crossings of µ-law audio.
func dominantFrequency(pkts []CapturedRTP) float64 {
	var samples []int16
	for _, p := range pkts {
		for _, b := range p.Packet.Payload {
			samples = append(samples, g711.DecodeUlawFrame(b))
		}
	}
	crossings := 0
	for i := 1; i < len(samples); i++ {
		if (samples[i-1] < 0) != (samples[i] < 0) {
			crossings++
		}
	}
	return float64(crossings) / 2 / (float64(len(samples)) / sampleRate)
}

func byPayloadType(pkts []CapturedRTP, pt uint8) []CapturedRTP {
	var out []CapturedRTP
	for _, p := range pkts {
		if p.Packet.PayloadType == pt {
			out = append(out, p)
		}
	}
	return out
}

// checkKeyPress asserts one RFC 4733 key press of digit among pkts.
func checkKeyPress(t *testing.T, pkts []CapturedRTP, digit rune) {
	t.Helper()
	events := byPayloadType(pkts, 101)
	if len(events) < 3 {
		t.Fatalf("%d telephone-event packets, want a key press (at least 3)", len(events))
	}
	ts := events[0].Packet.Timestamp
	ends := 0
	for i, p := range events {
		ev, err := ParseTelephoneEvent(p.Packet.Payload)
		if err != nil {
			t.Fatal(err)
		}
		if d, _ := DTMFDigit(ev.Event); d != digit {
			t.Errorf("event packet %d: key %q, want %q", i, d, digit)
		}
		if p.Packet.Timestamp != ts {
			t.Errorf("event packet %d: timestamp %d, want %d (one event, one timestamp)", i, p.Packet.Timestamp, ts)
		}
		if p.Packet.Marker != (i == 0) {
			t.Errorf("event packet %d: marker %v", i, p.Packet.Marker)
		}
		if ev.End {
			ends++
		}
	}
	if ends != dtmfEndRepeats {
		t.Errorf("%d end packets, want %d", ends, dtmfEndRepeats)
	}
}

func TestCarrierCallSendsOfferDigitAndTone(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name  string
		digit string
		key   rune
	}{
		{"digit 2", "2", '2'},
		{"digit star", "star", '*'},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			uas := newFakeUA(t)
			media := newRTPRecorder(t)
			p, err := Start(ctx, t, Scenario{
				File:    "carrier_call.xml",
				Remote:  uas.addr(),
				Service: "5551000",
				Vars:    map[string]string{"digit": tt.digit, "prompt_ms": "100", "talk_ms": "1000"},
				Timeout: 20 * time.Second,
			})
			if err != nil {
				t.Fatal(err)
			}

			inv := uas.expect("INVITE", sipWait)
			for _, want := range []string{"m=audio ", " RTP/AVP 0 8 101", "a=rtpmap:101 telephone-event/8000", "a=ptime:20"} {
				if !strings.Contains(inv.body, want) {
					t.Errorf("offer lacks %q:\n%s", want, inv.body)
				}
			}
			if got := sdpMediaPort(t, inv.body); got != p.MediaPort() {
				t.Errorf("offer's media port %d, want -mp %d", got, p.MediaPort())
			}
			uas.respond(inv, 100, "Trying", "", nil, "")
			answer := fmt.Sprintf("v=0\r\no=fake 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\n"+
				"m=audio %d RTP/AVP 0 101\r\na=rtpmap:0 PCMU/8000\r\na=rtpmap:101 telephone-event/8000\r\na=ptime:20\r\n", media.port())
			uas.respond(inv, 200, "OK", "uas1", []string{
				"Contact: <sip:5551000@" + uas.addr() + ">",
				"Content-Type: application/sdp",
			}, answer)
			uas.expect("ACK", sipWait)
			// The caller talks until its BYE; wait for the tone to be under way first.
			media.waitPackets(0, 25, sipWait)
			bye := uas.expect("BYE", sipWait)
			uas.respond(bye, 200, "OK", "", nil, "")

			p.WaitSuccess(t, 1)
			pkts := media.stop()
			checkKeyPress(t, pkts, tt.key)
			audio := byPayloadType(pkts, 0)
			if len(audio) < 25 {
				t.Fatalf("%d PCMU packets in a 1 s talk, want at least 25", len(audio))
			}
			for _, a := range pkts {
				if int(a.SrcPort) != p.MediaPort() {
					t.Fatalf("RTP from port %d, want SIPp's -mp %d", a.SrcPort, p.MediaPort())
				}
			}
			if f := dominantFrequency(audio); math.Abs(f-440) > 20 {
				t.Errorf("caller's audio is %.0f Hz, want 440", f)
			}
		})
	}
}

func TestAgentRegisterAndUnregisterAnswerDigest(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name        string
		file        string
		vars        map[string]string
		wantExpires string
	}{
		{"register", "agent_register.xml", map[string]string{"expires": "120"}, "120"},
		{"register default expiry", "agent_register.xml", nil, "3600"},
		{"unregister", "agent_unregister.xml", nil, "0"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			reg := newFakeUA(t)
			p, err := Start(ctx, t, Scenario{
				File: tt.file, Remote: reg.addr(), Service: "1002",
				AuthUser: "1002", AuthPass: "demo1002", Vars: tt.vars, Timeout: 15 * time.Second,
			})
			if err != nil {
				t.Fatal(err)
			}
			first := reg.expect("REGISTER", sipWait)
			if first.get("Authorization") != "" {
				t.Errorf("first REGISTER already has credentials")
			}
			reg.challenge(first, "n0nce1")
			second := reg.expect("REGISTER", sipWait)
			checkDigest(t, second, "1002", "demo1002", "hotline", "n0nce1")
			if second.get("Call-ID") != first.get("Call-ID") || second.get("CSeq") != "2 REGISTER" {
				t.Errorf("second REGISTER: Call-ID %q CSeq %q, want the first's Call-ID and CSeq 2", second.get("Call-ID"), second.get("CSeq"))
			}
			if got := second.get("Expires"); got != tt.wantExpires {
				t.Errorf("Expires %q, want %q", got, tt.wantExpires)
			}
			wantContact := fmt.Sprintf("<sip:1002@127.0.0.1:%d;transport=UDP>", p.res.LocalPort)
			if got := second.get("Contact"); got != wantContact {
				t.Errorf("Contact %q, want %q", got, wantContact)
			}
			reg.respond(second, 200, "OK", "reg1", []string{"Contact: " + second.get("Contact") + ";expires=" + tt.wantExpires}, "")
			p.WaitSuccess(t, 1)
		})
	}
}

// fakeHotline plays hotline's side for one agent: registrar, then the agent leg.
type fakeHotline struct {
	*fakeUA
	t     *testing.T
	agent *Process
}

// register takes the agent's REGISTER with the digest challenge, and returns the
// Contact to call.
func (h *fakeHotline) register(user, pass string) *net.UDPAddr {
	h.t.Helper()
	first := h.expect("REGISTER", sipWait)
	h.challenge(first, "n0nce2")
	second := h.expect("REGISTER", sipWait)
	checkDigest(h.t, second, user, pass, "hotline", "n0nce2")
	h.respond(second, 200, "OK", "reg1", nil, "")
	return second.from
}

// unregister takes the REGISTER with Expires: 0 that ends the agent's run.
func (h *fakeHotline) unregister() {
	h.t.Helper()
	unreg := h.expect("REGISTER", sipWait)
	if unreg.get("Expires") != "0" {
		h.t.Errorf("last REGISTER has Expires %q, want 0", unreg.get("Expires"))
	}
	h.respond(unreg, 200, "OK", "reg1", nil, "")
}

func (h *fakeHotline) invite(to *net.UDPAddr, callID, branch string, mediaPort int) string {
	offer := fmt.Sprintf("v=0\r\no=hotline 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\n"+
		"m=audio %d RTP/AVP 0 8 101\r\na=rtpmap:0 PCMU/8000\r\na=rtpmap:8 PCMA/8000\r\n"+
		"a=rtpmap:101 telephone-event/8000\r\na=fmtp:101 0-16\r\na=ptime:20\r\n", mediaPort)
	msg := fmt.Sprintf("INVITE sip:1001@%s SIP/2.0\r\nVia: SIP/2.0/UDP %s;branch=%s\r\n"+
		"From: <sip:hotline@%s>;tag=hl1\r\nTo: <sip:1001@%s>\r\nCall-ID: %s\r\nCSeq: 7 INVITE\r\n"+
		"Contact: <sip:hotline@%s>\r\nMax-Forwards: 70\r\nContent-Type: application/sdp\r\nContent-Length: %d\r\n\r\n%s",
		to, h.addr(), branch, h.addr(), to, callID, h.addr(), len(offer), offer)
	h.send(to, msg)
	return msg
}

func TestAgentRingsUntilCancelled(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithTimeout(context.Background(), 40*time.Second)
	defer cancel()
	h := &fakeHotline{fakeUA: newFakeUA(t), t: t}
	p, err := Start(ctx, t, Scenario{
		File: "agent.xml", OutOfCall: "agent_no_answer.xml", Remote: h.addr(),
		Service: "1001", AuthUser: "1001", AuthPass: "demo1001", Timeout: 30 * time.Second,
	})
	if err != nil {
		t.Fatal(err)
	}
	contact := h.register("1001", "demo1001")
	if err := p.WaitMessage(ctx, "SIP/2.0 200 OK"); err != nil {
		t.Fatal(err)
	}

	h.invite(contact, "ring-1@hotline", "z9hG4bKinv1", 9)
	ringing := h.expect("180", sipWait)
	toTag := ringing.get("To")
	cancelMsg := fmt.Sprintf("CANCEL sip:1001@%s SIP/2.0\r\nVia: SIP/2.0/UDP %s;branch=z9hG4bKinv1\r\n"+
		"From: <sip:hotline@%s>;tag=hl1\r\nTo: <sip:1001@%s>\r\nCall-ID: ring-1@hotline\r\nCSeq: 7 CANCEL\r\n"+
		"Max-Forwards: 70\r\nContent-Length: 0\r\n\r\n", contact, h.addr(), h.addr(), contact)
	h.send(contact, cancelMsg)
	if ok := h.expect("200", sipWait); ok.get("CSeq") != "7 CANCEL" {
		t.Errorf("200 for %q, want 7 CANCEL", ok.get("CSeq"))
	}
	terminated := h.expect("487", sipWait)
	if terminated.get("CSeq") != "7 INVITE" {
		t.Errorf("487 for %q, want 7 INVITE", terminated.get("CSeq"))
	}
	h.send(contact, fmt.Sprintf("ACK sip:1001@%s SIP/2.0\r\nVia: SIP/2.0/UDP %s;branch=z9hG4bKinv1\r\n"+
		"From: <sip:hotline@%s>;tag=hl1\r\nTo: %s\r\nCall-ID: ring-1@hotline\r\nCSeq: 7 ACK\r\n"+
		"Max-Forwards: 70\r\nContent-Length: 0\r\n\r\n", contact, h.addr(), h.addr(), toTag))

	h.unregister()
	res := p.WaitSuccess(t, 1)
	if !strings.Contains(res.Logs, "agent 1001 was cancelled") {
		t.Errorf("out-of-call scenario did not finish; logs:\n%s", res.Logs)
	}
}

func TestAgentAnswersTalksAndHangsUp(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithTimeout(context.Background(), 40*time.Second)
	defer cancel()
	h := &fakeHotline{fakeUA: newFakeUA(t), t: t}
	media := newRTPRecorder(t)
	p, err := Start(ctx, t, Scenario{
		File: "agent.xml", OutOfCall: "agent_answer.xml", Remote: h.addr(),
		Service: "1001", AuthUser: "1001", AuthPass: "demo1001", Timeout: 30 * time.Second,
		Vars: map[string]string{"hangup": "agent", "talk_ms": "1000", "ring_ms": "50"},
	})
	if err != nil {
		t.Fatal(err)
	}
	contact := h.register("1001", "demo1001")

	h.invite(contact, "talk-1@hotline", "z9hG4bKinv2", media.port())
	h.expect("180", sipWait)
	ok := h.expect("200", sipWait)
	for _, want := range []string{" RTP/AVP 0 101", "a=rtpmap:101 telephone-event/8000"} {
		if !strings.Contains(ok.body, want) {
			t.Errorf("answer lacks %q:\n%s", want, ok.body)
		}
	}
	if got := sdpMediaPort(t, ok.body); got != p.MediaPort() {
		t.Errorf("answer's media port %d, want -mp %d", got, p.MediaPort())
	}
	h.send(contact, fmt.Sprintf("ACK sip:1001@%s SIP/2.0\r\nVia: SIP/2.0/UDP %s;branch=z9hG4bKack2\r\n"+
		"From: <sip:hotline@%s>;tag=hl1\r\nTo: %s\r\nCall-ID: talk-1@hotline\r\nCSeq: 7 ACK\r\n"+
		"Max-Forwards: 70\r\nContent-Length: 0\r\n\r\n", contact, h.addr(), h.addr(), ok.get("To")))

	bye := h.expect("BYE", sipWait)
	if !strings.Contains(bye.get("From"), ";tag=") || !strings.Contains(bye.get("To"), "tag=hl1") {
		t.Errorf("BYE From %q To %q: want the agent's tag in From and ours in To", bye.get("From"), bye.get("To"))
	}
	if bye.get("Call-ID") != "talk-1@hotline" {
		t.Errorf("BYE Call-ID %q", bye.get("Call-ID"))
	}
	h.respond(bye, 200, "OK", "", nil, "")
	h.unregister()

	p.WaitSuccess(t, 1)
	audio := byPayloadType(media.stop(), 0)
	if len(audio) < 25 {
		t.Fatalf("%d PCMU packets from the agent in 1 s of talk, want at least 25", len(audio))
	}
	if f := dominantFrequency(audio); math.Abs(f-1000) > 30 {
		t.Errorf("agent's audio is %.0f Hz, want 1000", f)
	}
}

// A whole call with both SIPp sides and no fake: the caller's scenario against the
// agent's answer scenario run as a plain UAS, agent hanging up first.
func TestCarrierCallAgainstAgentAnswer(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithTimeout(context.Background(), 40*time.Second)
	defer cancel()
	agent, err := Start(ctx, t, Scenario{
		File: "agent_answer.xml", Service: "1001", Timeout: 20 * time.Second,
		Vars: map[string]string{"hangup": "agent", "talk_ms": "1500", "ring_ms": "50"},
	})
	if err != nil {
		t.Fatal(err)
	}
	caller, err := Run(ctx, t, Scenario{
		File: "carrier_call.xml", Remote: agent.LocalAddr(), Service: "5551000", Timeout: 20 * time.Second,
		Vars: map[string]string{"digit": "1", "prompt_ms": "100", "hangup": "remote"},
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := caller.Check(1); err != nil {
		t.Fatal(err)
	}
	res, err := agent.Wait()
	if err != nil {
		t.Fatal(err)
	}
	if err := res.Check(1); err != nil {
		t.Fatal(err)
	}
}

// The carrier variants that end the call from the caller's side after a wait.
func TestCarrierHangsUpAfterWaiting(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name      string
		file      string
		vars      map[string]string
		wantDigit rune // 0: no key press
	}{
		{"queued then hangs up", "carrier_wait_hangup.xml", map[string]string{"digit": "hash", "prompt_ms": "100", "wait_ms": "500"}, '#'},
		{"never presses", "carrier_no_digit.xml", map[string]string{"wait_ms": "700"}, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			uas := newFakeUA(t)
			media := newRTPRecorder(t)
			p, err := Start(ctx, t, Scenario{File: tt.file, Remote: uas.addr(), Service: "5551000", Vars: tt.vars, Timeout: 20 * time.Second})
			if err != nil {
				t.Fatal(err)
			}
			inv := uas.expect("INVITE", sipWait)
			answer := fmt.Sprintf("v=0\r\no=fake 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\n"+
				"m=audio %d RTP/AVP 0 101\r\na=rtpmap:101 telephone-event/8000\r\n", media.port())
			uas.respond(inv, 200, "OK", "uas1", []string{"Contact: <sip:x@" + uas.addr() + ">", "Content-Type: application/sdp"}, answer)
			uas.expect("ACK", sipWait)
			bye := uas.expect("BYE", sipWait)
			uas.respond(bye, 200, "OK", "", nil, "")
			p.WaitSuccess(t, 1)
			pkts := media.stop()
			if tt.wantDigit != 0 {
				checkKeyPress(t, pkts, tt.wantDigit)
			} else if n := len(byPayloadType(pkts, 101)); n != 0 {
				t.Errorf("%d telephone-event packets from a caller who never presses", n)
			}
		})
	}
}

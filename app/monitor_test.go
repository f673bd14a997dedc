package app_test

import (
	"context"
	"encoding/binary"
	"fmt"
	"math"
	"net"
	"net/netip"
	"slices"
	"testing"
	"time"

	"github.com/emiago/sipgo"
	"github.com/zaf/g711"

	"github.com/hotline-cc/hotline/config"
	"github.com/hotline-cc/hotline/internal/sipptest"
	hsip "github.com/hotline-cc/hotline/sip"
)

// supervisorSession is a supervisor's phone in a monitoring call: it sends
// a 2 kHz tone (the supervisor speaking) and keeps what it hears.
type supervisorSession struct {
	sess  *sipgo.DialogClientSession
	heard chan []int16 // 20 ms frames received, decoded
	keys  chan byte    // keys to press (RFC 4733, payload type 101)
	// tone is the frequency spoken in Hz; 0 is 2 kHz.
	tone float64
}

// dialMonitor has user (password demoUSER) dial code at hotline; it
// returns the final status, and the session when answered.
func (p *featurePhone) dialMonitor(t *testing.T, ctx context.Context, h *hotline, user, code string) (int, *supervisorSession) {
	t.Helper()
	sess, _, status := p.invite(t, ctx, h, user, "demo"+user, code)
	if status != 200 {
		return status, nil
	}
	t.Cleanup(func() { sess.Close() })
	answer, err := hsip.ParseSDP(sess.InviteResponse.Body())
	if err != nil {
		t.Fatal(err)
	}
	s := &supervisorSession{sess: sess, heard: make(chan []int16, 500), keys: make(chan byte, 4)}
	go s.receive(p.rtp)
	go s.speak(ctx, p.rtp, answer.Addr)
	return 200, s
}

// receive decodes PCMU frames as they come, until the socket closes.
func (s *supervisorSession) receive(conn *net.UDPConn) {
	buf := make([]byte, 1500)
	for {
		n, err := conn.Read(buf)
		if err != nil {
			return
		}
		if n <= 12 || buf[1]&0x7f != 0 {
			continue // not PCMU audio
		}
		pcm := g711.DecodeUlaw(buf[12:n])
		frame := make([]int16, len(pcm)/2)
		for i := range frame {
			frame[i] = int16(binary.LittleEndian.Uint16(pcm[2*i:]))
		}
		select {
		case s.heard <- frame:
		default:
		}
	}
}

// speak sends s.tone (2 kHz by default), 20 ms at a time, for at most 10 s; a key
// from s.keys goes out instead of the tone as three RFC 4733 packets, the
// last with the end bit.
func (s *supervisorSession) speak(ctx context.Context, conn *net.UDPConn, to netip.AddrPort) {
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	pkt := make([]byte, 12+160)
	pcm := make([]byte, 320)
	var key byte
	keyPackets := 0
	for i := range 500 {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
		if keyPackets == 0 {
			select {
			case key = <-s.keys:
				keyPackets = 3
			default:
			}
		}
		if keyPackets > 0 {
			keyPackets--
			ev := make([]byte, 12+4)
			ev[0], ev[1] = 0x80, 101
			binary.BigEndian.PutUint16(ev[2:], uint16(i))
			binary.BigEndian.PutUint32(ev[4:], 0x10000) // one event: one timestamp
			binary.BigEndian.PutUint32(ev[8:], 0x5eed)
			ev[12] = key - '0'
			ev[13] = 10 // volume
			if keyPackets == 0 {
				ev[13] |= 0x80 // end
			}
			binary.BigEndian.PutUint16(ev[14:], uint16(160*(3-keyPackets)))
			if _, err := conn.WriteToUDPAddrPort(ev, to); err != nil {
				return
			}
			continue
		}
		for j := range 160 {
			v := int16(8000 * sinTable[(i*160+j)%4])
			if s.tone != 0 {
				v = int16(math.Round(8000 * math.Sin(2*math.Pi*s.tone*float64(i*160+j)/8000)))
			}
			binary.LittleEndian.PutUint16(pcm[2*j:], uint16(v))
		}
		pkt[0], pkt[1] = 0x80, 0
		binary.BigEndian.PutUint16(pkt[2:], uint16(i))
		binary.BigEndian.PutUint32(pkt[4:], uint32(i*160))
		binary.BigEndian.PutUint32(pkt[8:], 0x5eed)
		copy(pkt[12:], g711.EncodeUlaw(pcm))
		if _, err := conn.WriteToUDPAddrPort(pkt, to); err != nil {
			return
		}
	}
}

// sinTable is 2 kHz at 8 kHz: four samples a period.
var sinTable = [4]float64{0, 1, 0, -1}

// hears reports whether, within d, the session receives frames with freq.
func (s *supervisorSession) hears(freq float64, d time.Duration) bool {
	deadline := time.After(d)
	for {
		select {
		case f := <-s.heard:
			if toneLevel(f, freq) > 0.3 && rms(f) > 200 {
				return true
			}
		case <-deadline:
			return false
		}
	}
}

// monitoredCall starts hotline with supervisor 1004, agent 1003 talking to
// a caller (440 Hz) on support; it returns when 1003 is on the call.
func monitoredCall(t *testing.T, ctx context.Context) (*hotline, *sipptest.Process) {
	h := startHotline(t, func(c *config.Config) {
		for i := range c.Agents {
			c.Agents[i].Supervisor = c.Agents[i].ID == "1004"
		}
		c.HTTP.Tokens = append(c.HTTP.Tokens, config.Token{Name: "1002", Role: config.RoleAgent, Token: "agent-1002"})
	})
	h.startAgent(ctx, "1003", "agent_answer.xml", map[string]string{"ring_ms": "100"})
	caller, err := sipptest.Start(ctx, t, sipptest.Scenario{
		File: "carrier_call.xml", Remote: h.sipAddr(), Service: "100", Timeout: 40 * time.Second,
		Vars: map[string]string{"digit": "2", "talk_ms": "4000"},
	})
	if err != nil {
		t.Fatal(err)
	}
	h.waitAgent("1003", "on-call")
	return h, caller
}

// TestSupervisorListensAndWhispers: supervisor 1004 dials *311003 and hears
// the agent and the caller; an agent without the role gets 403; with *32
// the supervisor whispers and the caller never hears it, with *33 they
// barge in and the caller does.
func TestSupervisorListensWhispersAndBarges(t *testing.T) {
	t.Parallel()
	requirePCAP(t)
	for _, tc := range []struct {
		code        string
		callerHears bool
	}{{"*311003", false}, {"*321003", false}, {"*331003", true}} {
		t.Run(tc.code, func(t *testing.T) {
			t.Parallel()
			ctx, cancel := context.WithTimeout(context.Background(), 40*time.Second)
			defer cancel()
			h, caller := monitoredCall(t, ctx)
			if tc.code == "*311003" {
				if status, _ := newFeaturePhone(t).dialMonitor(t, ctx, h, "1002", tc.code); status != 403 {
					t.Errorf("agent 1002 (no supervisor) monitoring: %d, want 403", status)
				}
				if status, _ := newFeaturePhone(t).dialMonitor(t, ctx, h, "1004", "*311001"); status != 404 {
					t.Errorf("monitoring agent 1001, who is not on a call: %d, want 404", status)
				}
			}
			status, sup := newFeaturePhone(t).dialMonitor(t, ctx, h, "1004", tc.code)
			if status != 200 {
				t.Fatalf("supervisor 1004 dials %s: %d", tc.code, status)
			}
			if !sup.hears(1000, 3*time.Second) || !sup.hears(440, 3*time.Second) {
				t.Errorf("%s: the supervisor does not hear both the agent (1 kHz) and the caller (440 Hz)", tc.code)
			}
			if v := metricValue(h.metrics(), `hotline_calls_monitoring_sessions{mode="`+map[string]string{"*31": "listen", "*32": "whisper", "*33": "barge"}[tc.code[:3]]+`"}`); v != 1 {
				t.Errorf("monitoring sessions gauge %v, want 1", v)
			}
			caller.WaitSuccess(t, 1)
			cdr := h.waitEndedCall()
			waitFor(t, 5*time.Second, "the monitoring session to end with the call", func() (bool, string) {
				v := metricValue(h.metrics(), `hotline_calls_monitoring_sessions{mode="`+map[string]string{"*31": "listen", "*32": "whisper", "*33": "barge"}[tc.code[:3]]+`"}`)
				return v == 0, fmt.Sprint(v)
			})
			// What the caller heard: the supervisor's 2 kHz only on barge.
			right := h.recording(cdr.CallID).right
			heard := false
			for i := 0; i+800 <= len(right); i += 800 {
				if toneLevel(right[i:i+800], 2000) > 0.2 && rms(right[i:i+800]) > 200 {
					heard = true
				}
			}
			if heard != tc.callerHears {
				t.Errorf("%s: the caller heard the supervisor: %v, want %v", tc.code, heard, tc.callerHears)
			}
		})
	}
}

// TestMonitoringFromTheAPI: a supervisor desktop starts monitoring agent
// 1003's call with POST /api/v1/calls/{id}/monitor: hotline calls
// supervisor 1004's phone into the call to listen, PATCH switches to
// barge, DELETE ends the session (the phone gets a BYE). Agents without
// the role, and agent tokens for someone else, are refused; the timeline
// shows each mode as a session nested in the talk.
func TestMonitoringFromTheAPI(t *testing.T) {
	t.Parallel()
	requirePCAP(t)
	ctx, cancel := context.WithTimeout(context.Background(), 40*time.Second)
	defer cancel()
	h, caller := monitoredCall(t, ctx)
	callID := h.agent("1003").CallID
	monitor := "/api/v1/calls/" + callID + "/monitor"
	sup := h.startAgentPhone(ctx, "1004", "agent_answer.xml", map[string]string{"ring_ms": "100"})
	h.waitAgent("1004", "available")
	gauge := h.monitoringSessions

	h.do("POST", monitor, h.token, map[string]string{"supervisor": "1002", "mode": "listen"}).want(t, "1002 is no supervisor", 403, nil)
	h.do("POST", monitor, "agent-1002", map[string]string{"supervisor": "1004", "mode": "listen"}).want(t, "agent token for someone else", 403, nil)
	h.do("POST", monitor, h.token, map[string]string{"supervisor": "1004", "mode": "shout"}).want(t, "unknown mode", 400, nil)
	h.do("POST", "/api/v1/calls/nope/monitor", h.token, map[string]string{"supervisor": "1004", "mode": "listen"}).want(t, "unknown call", 404, nil)
	h.do("POST", monitor, h.token, map[string]string{"supervisor": "1004", "mode": "listen"}).want(t, "listen", 202, nil)
	waitFor(t, 5*time.Second, "the supervisor listening", func() (bool, string) { return gauge("listen") == 1, fmt.Sprint(gauge("listen")) })
	h.do("PATCH", monitor+"/1004", h.token, map[string]string{"mode": "barge"}).want(t, "switch to barge", 200, nil)
	if l, b := gauge("listen"), gauge("barge"); l != 0 || b != 1 {
		t.Errorf("after the switch: listen %v, barge %v sessions; want 0 and 1", l, b)
	}
	h.do("PATCH", monitor+"/1001", h.token, map[string]string{"mode": "barge"}).want(t, "no session of 1001", 404, nil)
	h.do("DELETE", monitor+"/1004", h.token, nil).want(t, "stop", 200, nil)
	finished(t, sup, "the supervisor's phone is hung up")
	if b := gauge("barge"); b != 0 {
		t.Errorf("after DELETE: %v barge sessions, want 0", b)
	}
	caller.WaitSuccess(t, 1)
	h.waitEndedCall()
	var sessions []string
	for _, s := range h.timeline(callID).Stages {
		if s.Stage == "monitor" {
			sessions = append(sessions, s.AgentID+" "+s.Detail+": "+s.Result)
		}
	}
	if want := []string{"1004 listen 1003: switched to barge", "1004 barge 1003: left"}; !slices.Equal(sessions, want) {
		t.Errorf("monitoring in the timeline %q, want %q", sessions, want)
	}
}

// TestSupervisorSwitchesModesWithKeys: a supervisor listening (*31)
// presses 6 and barges in (as with Asterisk's ChanSpy): the caller then
// hears them.
func TestSupervisorSwitchesModesWithKeys(t *testing.T) {
	t.Parallel()
	requirePCAP(t)
	ctx, cancel := context.WithTimeout(context.Background(), 40*time.Second)
	defer cancel()
	h, caller := monitoredCall(t, ctx)
	status, sup := newFeaturePhone(t).dialMonitor(t, ctx, h, "1004", "*311003")
	if status != 200 {
		t.Fatalf("supervisor 1004 dials *311003: %d", status)
	}
	gauge := h.monitoringSessions
	waitFor(t, 5*time.Second, "the supervisor listening", func() (bool, string) { return gauge("listen") == 1, fmt.Sprint(gauge("listen")) })
	sup.keys <- '6'
	waitFor(t, 5*time.Second, "the supervisor barging in after 6", func() (bool, string) {
		return gauge("barge") == 1 && gauge("listen") == 0, fmt.Sprint(gauge("listen"), gauge("barge"))
	})
	caller.WaitSuccess(t, 1)
	cdr := h.waitEndedCall()
	right := h.recording(cdr.CallID).right
	heard := false
	for i := 0; i+800 <= len(right); i += 800 {
		heard = heard || toneLevel(right[i:i+800], 2000) > 0.2 && rms(right[i:i+800]) > 200
	}
	if !heard {
		t.Error("the caller never heard the supervisor after they pressed 6 (barge)")
	}
}

// monitoringSessions reads the gauge of live monitoring sessions in mode.
func (h *hotline) monitoringSessions(mode string) float64 {
	return metricValue(h.metrics(), `hotline_calls_monitoring_sessions{mode="`+mode+`"}`)
}

package app_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/hotline-cc/hotline/config"
	"github.com/hotline-cc/hotline/internal/sipptest"
)

// What each party of a mix hears, stream by stream: every party speaks its
// own tone (the carrier caller 440 Hz, agent 1003's Go phone 2 kHz, 1004's
// Go phone 1 kHz, a supervisor 2 kHz), so a frame tells whose voices it
// carries.

// callToPhone1003Tone is callToPhone1003 with an agent who speaks tone Hz:
// 1003's Go phone registers, a carrier caller (440 Hz, waiting for
// hotline's BYE) presses 2 for support, and the phone picks up and hears
// the caller for half a second.
func callToPhone1003Tone(t *testing.T, ctx context.Context, h *hotline, tone float64) (*agentPhone, *phoneCall, *sipptest.Process) {
	t.Helper()
	carol := newAgentPhoneTone(t, h, "1003", 0, tone)
	h.waitAgent("1003", "available")
	caller := h.startCaller(ctx, "carrier_call.xml", "100", map[string]string{"digit": "2", "hangup": "remote"})
	a := carol.pickUp(15 * time.Second)
	h.waitAgent("1003", "on-call")
	a.hearsFor(t, 440, 25)
	return carol, a, caller
}

// heardMix sorts the 100 ms frames of samples by which of parties (a name
// to its frequency) they carry, as names joined with "+" in parties'
// order ("1003+1004"); frames with none, or with a tone neither clearly
// present nor absent (straddling a change), are left out, runs merged.
func heardMix(samples []int16, names []string, parties map[string]float64) []string {
	const frame = 800
	var seq []string
next:
	for i := 0; i+frame <= len(samples); i += frame {
		f := samples[i : i+frame]
		var heard []string
		for _, name := range names {
			switch a := toneAmplitude(f, parties[name]); {
			case a > toneHeard:
				heard = append(heard, name)
			case a > toneAbsent:
				continue next
			}
		}
		kind := strings.Join(heard, "+")
		if kind == "" || (len(seq) > 0 && seq[len(seq)-1] == kind) {
			continue
		}
		seq = append(seq, kind)
	}
	return seq
}

// TestConferenceEachPartyHearsTheOtherTwo: agent 1003's desktop adds
// extension 1004 (a second Go phone) to the call with POST
// /api/v1/calls/{id}/conference. In the three-way mix each party hears
// the other two and never themselves: 1003 the caller and 1004, 1004 the
// caller and 1003, the caller (hotline's recording) 1003 and 1004. When
// 1004 hangs up, caller and 1003 go on hearing each other, and only each
// other.
func TestConferenceEachPartyHearsTheOtherTwo(t *testing.T) {
	t.Parallel()
	requirePCAP(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	const callerTone, carolTone, daveTone = 440, 2000, 1000
	h := startHotline(t, nil)
	carol, a, caller := callToPhone1003Tone(t, ctx, h, carolTone)
	dave := newAgentPhoneTone(t, h, "1004", 0, daveTone)
	callID := h.agent("1003").CallID
	a.hearsTones(t, 5, []float64{callerTone}, []float64{carolTone, daveTone})

	h.do("POST", "/api/v1/calls/"+callID+"/conference", h.token, map[string]string{"to": "extension:1004"}).want(t, "conference", 202, nil)
	d := dave.pickUp(5 * time.Second)
	waitFor(t, 5*time.Second, "the conference connected", func() (bool, string) {
		v := metricSum(h.metrics(), "hotline_transfers_total", `kind="conference"`, `target="extension"`, `result="connected"`)
		return v == 1, fmt.Sprint(v)
	})
	a.hearsTones(t, 10, []float64{callerTone, daveTone}, []float64{carolTone})
	d.hearsTones(t, 10, []float64{callerTone, carolTone}, []float64{daveTone})

	dave.hangUp(d)
	// 1004's voice leaves 1003's stream: the caller alone again.
	a.hearsTones(t, 10, []float64{callerTone}, []float64{carolTone, daveTone})
	carol.hangUp(a)
	caller.WaitSuccess(t, 1)

	cdr := h.waitEndedCall()
	if cdr.CallID != callID || cdr.AgentID != "1003" || cdr.Result != "completed" {
		t.Errorf("CDR = %+v; want the call completed with 1003", cdr)
	}
	// The caller's stream: 1003, then 1003 with 1004, then 1003 alone;
	// never their own voice.
	right := h.recording(callID).right
	parties := map[string]float64{"caller": callerTone, "1003": carolTone, "1004": daveTone}
	seq := heardMix(right, []string{"caller", "1003", "1004"}, parties)
	if !containsRun(seq, "1003", "1003+1004", "1003") {
		t.Errorf("the caller heard %v; want 1003, then 1003 and 1004 mixed, then 1003 alone", seq)
	}
	for _, kind := range seq {
		if strings.Contains(kind, "caller") {
			t.Errorf("the caller heard themselves: %v", seq)
			break
		}
	}
	checkMetrics(t, h, map[string]float64{
		`hotline_transfers_total{kind="conference",target="extension",result="connected"}`: 1,
	})
}

// TestWhisperHeardByTheAgentOnly: supervisor 1004 dials *321003 and
// whispers (2 kHz) while agent 1003 (a Go phone speaking 1 kHz) talks to
// the caller: 1003's phone hears the caller and the supervisor, the
// supervisor hears both, and the caller (hotline's recording) hears 1003
// but never the supervisor. Agent 1002, no supervisor, gets 403 for both
// whisper (*32) and barge (*33).
func TestWhisperHeardByTheAgentOnly(t *testing.T) {
	t.Parallel()
	requirePCAP(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	const callerTone, carolTone, supervisorTone = 440, 1000, 2000
	h := startHotline(t, func(c *config.Config) {
		for i := range c.Agents {
			c.Agents[i].Supervisor = c.Agents[i].ID == "1004"
		}
	})
	carol, a, caller := callToPhone1003Tone(t, ctx, h, carolTone)
	callID := h.agent("1003").CallID

	for _, code := range []string{"*331003", "*321003"} {
		if status, _ := newFeaturePhone(t).dialMonitor(t, ctx, h, "1002", code); status != 403 {
			t.Errorf("agent 1002 (no supervisor) dials %s: %d, want 403", code, status)
		}
	}
	if n := metricSum(h.metrics(), "hotline_calls_monitoring_sessions"); n != 0 {
		t.Errorf("after the refusals: %v monitoring sessions, want none", n)
	}

	status, sup := newFeaturePhone(t).dialMonitor(t, ctx, h, "1004", "*321003")
	if status != 200 {
		t.Fatalf("supervisor 1004 dials *321003: %d", status)
	}
	waitFor(t, 5*time.Second, "the supervisor whispering", func() (bool, string) {
		v := h.monitoringSessions("whisper")
		return v == 1, fmt.Sprint(v)
	})
	a.hearsTones(t, 10, []float64{callerTone, supervisorTone}, []float64{carolTone})
	if !sup.hears(carolTone, 3*time.Second) || !sup.hears(callerTone, 3*time.Second) {
		t.Error("the whispering supervisor does not hear both 1003 (1 kHz) and the caller (440 Hz)")
	}
	carol.hangUp(a)
	caller.WaitSuccess(t, 1)

	cdr := h.waitEndedCall()
	if cdr.CallID != callID || cdr.AgentID != "1003" || cdr.Result != "completed" {
		t.Errorf("CDR = %+v; want the call completed with 1003", cdr)
	}
	waitFor(t, 5*time.Second, "the whisper session to end with the call", func() (bool, string) {
		v := h.monitoringSessions("whisper")
		return v == 0, fmt.Sprint(v)
	})
	right := h.recording(callID).right
	for i := 0; i+800 <= len(right); i += 800 {
		if lv := toneAmplitude(right[i:i+800], supervisorTone); lv > toneAbsent {
			t.Errorf("the caller heard the whispering supervisor at %d ms (2 kHz at %.0f)", i/8, lv)
			break
		}
	}
	// The whisper went on until 1003 hung up: in the recording's last
	// 600 ms the caller hears 1003 through the mix, without the supervisor.
	seq := heardMix(right[max(0, len(right)-4800):], []string{"1003", "supervisor"},
		map[string]float64{"1003": carolTone, "supervisor": supervisorTone})
	if len(seq) == 0 || seq[len(seq)-1] != "1003" {
		t.Errorf("in the last 600 ms the caller heard %v; want 1003 (alone)", seq)
	}
}

package app_test

import (
	"context"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/hotline-cc/hotline/config"
	"github.com/hotline-cc/hotline/internal/sipptest"
)

// Transfers started from an agent's softphone (a Go phone, agentPhone) or
// from the API, which the caller (carrier_call.xml, 440 Hz) hears through:
// agent 1003 speaks 2 kHz, SIPp agents and far ends 1 kHz.

// callToPhone1003 registers agent 1003's Go phone, has a carrier caller
// press 2 (support) and waits until the phone has picked the call up and
// talked with the caller for half a second. The caller waits for hotline's
// BYE.
func callToPhone1003(t *testing.T, ctx context.Context, h *hotline) (*agentPhone, *phoneCall, *sipptest.Process) {
	t.Helper()
	carol := newAgentPhone(t, h, "1003", 0)
	h.waitAgent("1003", "available")
	caller := h.startCaller(ctx, "carrier_call.xml", "100", map[string]string{"digit": "2", "hangup": "remote"})
	a := carol.pickUp(15 * time.Second)
	h.waitAgent("1003", "on-call")
	a.hearsFor(t, 440, 25)
	return carol, a, caller
}

// TestAttendedTransferFromThePhone: agent 1003's phone holds the caller
// (re-INVITE sendonly on dialog A), calls agent 1004 (dialog B, which the
// ACD routes to 1004 as an exclusive consultation) and transfers with a
// REFER carrying Replaces (RFC 5589 §7), on A naming B or on B naming A, as
// phones do either way. Hotline answers 202, NOTIFYs 100 Trying and 200
// OK, hangs up both of the phone's dialogs and the caller talks to 1004. A
// Replaces naming no dialog of the consultation fails (NOTIFY 503) and
// changes nothing; the phone hanging B up cancels the consultation (1004
// is hung up) and takes the caller back.
func TestAttendedTransferFromThePhone(t *testing.T) {
	t.Parallel()
	requirePCAP(t)
	for _, tc := range []struct {
		name string
		// referOnB: the REFER goes on the consultation, naming A.
		referOnB bool
		// bogus: Replaces names no dialog; the phone then cancels.
		bogus, cancel bool
	}{
		{name: "REFER on the caller's dialog"},
		{name: "REFER on the consultation", referOnB: true},
		{name: "Replaces naming an unknown dialog", bogus: true, cancel: true},
		{name: "hanging up the consultation cancels it", cancel: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			ctx, cancel := context.WithTimeout(context.Background(), 40*time.Second)
			defer cancel()
			h := startHotline(t, nil)
			carol, a, caller := callToPhone1003(t, ctx, h)
			// 1004 logs in only now, so that the caller went to 1003. Their
			// phone rings 600 ms, which the caller spends in hold music.
			// After a transfer they hang up 3 s after answering the
			// consultation; else they wait for hotline's BYE.
			daveVars := map[string]string{"ring_ms": "600", "hangup": "agent", "talk_ms": "3000"}
			if tc.cancel {
				daveVars = map[string]string{"ring_ms": "600"}
			}
			dave := h.startAgent(ctx, "1004", "agent_answer.xml", daveVars)

			carol.hold(a, true)
			h.waitAgent("1003", "on-hold")
			b := carol.dial("1004") // hotline answers at once; the agent hears music
			h.waitAgent("1004", "on-call")

			if tc.bogus {
				if status := carol.refer(a, "1004", "nope@127.0.0.1;to-tag=x;from-tag=y"); status != 202 {
					t.Fatalf("REFER with an unknown Replaces: %d, want 202 (the outcome comes by NOTIFY)", status)
				}
				if n := carol.waitNotify(a.callID()); n.body != "SIP/2.0 100 Trying" {
					t.Errorf("first NOTIFY %q, want 100 Trying", n.body)
				}
				if n := carol.waitNotify(a.callID()); n.body != "SIP/2.0 503 Service Unavailable" || !strings.HasPrefix(n.state, "terminated") {
					t.Errorf("final NOTIFY %q (%s), want a terminated 503", n.body, n.state)
				}
				if s := h.agentState("1004"); s != "on-call" {
					t.Errorf("after the failed REFER 1004 is %s, want still consulted (on-call)", s)
				}
			}
			if tc.cancel {
				carol.hangUp(b)
				finished(t, dave, "1004 is hung up when the consultation is canceled")
				carol.hold(a, false)
				h.waitAgent("1003", "on-call")
				a.hearsFor(t, 440, 25) // the caller is back, talking to 1003
				carol.hangUp(a)
				caller.WaitSuccess(t, 1)
				cdr := h.waitEndedCall()
				if cdr.AgentID != "1003" || cdr.TransferTo != "" || cdr.Result != "completed" {
					t.Errorf("CDR = %+v; want completed with 1003, no transfer", cdr)
				}
				seq := heardParties(h.recording(cdr.CallID).right, map[string]float64{"1003": agentTone, "1004": 1000})
				if !containsRun(seq, "1003", "music", "1003") || slices.Contains(seq, "1004") {
					t.Errorf("the caller heard %v; want 1003, hold music, 1003 again and never 1004", seq)
				}
				checkMetrics(t, h, map[string]float64{
					`hotline_transfers_total{kind="consult",target="agent",result="canceled"}`: 1,
					`hotline_transfers_total{kind="attended"}`:                                 0,
				})
				return
			}

			on, named := a, b
			if tc.referOnB {
				on, named = b, a
			}
			if status := carol.refer(on, "1004", named.replaces()); status != 202 {
				t.Fatalf("REFER: %d, want 202", status)
			}
			for _, want := range []string{"SIP/2.0 100 Trying", "SIP/2.0 200 OK"} {
				if n := carol.waitNotify(on.callID()); n.body != want {
					t.Errorf("NOTIFY %q, want %q", n.body, want)
				}
			}
			a.waitEnded(t, "the caller's dialog with 1003 after the transfer")
			b.waitEnded(t, "the consultation after the transfer")
			finished(t, dave, "1004 talks to the caller and hangs up")
			caller.WaitSuccess(t, 1)
			cdr := h.waitEndedCall()
			if cdr.TransferTo != "agent 1004" || cdr.AgentID != "1004" || cdr.Result != "completed" {
				t.Errorf("CDR = %+v; want completed after an attended transfer to agent 1004", cdr)
			}
			seq := heardParties(h.recording(cdr.CallID).right, map[string]float64{"1003": agentTone, "1004": 1000})
			if !containsRun(seq, "1003", "music", "1004") {
				t.Errorf("the caller heard %v; want 1003, hold music, then 1004", seq)
			}
			checkMetrics(t, h, map[string]float64{
				`hotline_transfers_total{kind="attended",target="agent",result="completed"}`: 1,
				`hotline_transfers_total{kind="consult",target="agent",result="connected"}`:  1,
			})
		})
	}
}

// TestFailedBlindTransferComesBackToTheAgent: agent 1003 sends the caller
// to extension 1004 through the API; 1004's phone is busy (486), so the
// call rings 1003 again (transfers.failed_return: agent, the default),
// who picks up and talks to the caller until hanging up.
func TestFailedBlindTransferComesBackToTheAgent(t *testing.T) {
	t.Parallel()
	requirePCAP(t)
	ctx, cancel := context.WithTimeout(context.Background(), 40*time.Second)
	defer cancel()
	h := startHotline(t, nil)
	carol, a, caller := callToPhone1003(t, ctx, h)
	dave := newAgentPhone(t, h, "1004", 486)
	callID := h.agent("1003").CallID
	h.do("POST", "/api/v1/calls/"+callID+"/transfer", h.token, map[string]string{"to": "extension:1004"}).want(t, "transfer", 202, nil)
	a.waitEnded(t, "1003's leg after the transfer")
	select {
	case <-dave.rejected:
	case <-time.After(5 * time.Second):
		t.Fatal("1004's phone was never called")
	}
	again := carol.pickUp(10 * time.Second)
	h.waitAgent("1003", "on-call")
	again.hearsFor(t, 440, 25)
	carol.hangUp(again)
	caller.WaitSuccess(t, 1)

	cdr := h.waitEndedCall()
	if cdr.CallID != callID || cdr.AgentID != "1003" || cdr.Result != "completed" {
		t.Errorf("CDR = %+v; want the call completed with 1003", cdr)
	}
	// 1004's busy and the recall take milliseconds: no music between the
	// two talks to hear. What counts is that 1003's voice reaches the
	// caller again in the end (the phone hung up half a second into it).
	right := h.recording(callID).right
	if seq := heardParties(right[max(0, len(right)-3200):], map[string]float64{"1003": agentTone}); !slices.Contains(seq, "1003") {
		t.Errorf("in the last 400 ms the caller heard %v; want 1003 again", seq)
	}
	checkMetrics(t, h, map[string]float64{
		`hotline_transfers_total{kind="blind",target="extension",result="busy"}`:     1,
		`hotline_transfers_total{kind="blind",target="extension",result="returned"}`: 1,
	})
}

// TestBlindTransferToAnExternalNumber: numbers in transfers.external (here
// 555*) go out through the trunk's outbound address (a SIPp UAS playing
// 1 kHz), which the caller is bridged to; others get 403.
func TestBlindTransferToAnExternalNumber(t *testing.T) {
	t.Parallel()
	requirePCAP(t)
	ctx, cancel := context.WithTimeout(context.Background(), 40*time.Second)
	defer cancel()
	// The far end answers and hangs up after 2 s: hotline then ends the call.
	far, err := sipptest.Start(ctx, t, sipptest.Scenario{
		File: "agent_answer.xml", Service: "5550123", Timeout: 30 * time.Second,
		Vars: map[string]string{"ring_ms": "200", "hangup": "agent", "talk_ms": "2000"},
	})
	if err != nil {
		t.Fatal(err)
	}
	h := startHotline(t, func(c *config.Config) {
		c.Transfers.External = []string{"555*"}
		c.Trunks[0].Outbound = far.LocalAddr()
	})
	_, a, caller := callToPhone1003(t, ctx, h)
	callID := h.agent("1003").CallID
	transfer := "/api/v1/calls/" + callID + "/transfer"
	h.do("POST", transfer, h.token, map[string]string{"to": "number:+4930"}).want(t, "a number outside transfers.external", 403, nil)
	h.do("POST", transfer, h.token, map[string]string{"to": "number:5550123"}).want(t, "transfer to 5550123", 202, nil)
	a.waitEnded(t, "1003's leg after the transfer")
	finished(t, far, "the far end answers, talks and hangs up")
	caller.WaitSuccess(t, 1)

	cdr := h.waitEndedCall()
	if cdr.CallID != callID || cdr.TransferTo != "number 5550123" {
		t.Errorf("CDR = %+v; want the transfer to number 5550123", cdr)
	}
	seq := heardParties(h.recording(callID).right, map[string]float64{"1003": agentTone, "far end": 1000})
	if !containsRun(seq, "1003", "music", "far end") && !containsRun(seq, "1003", "far end") {
		t.Errorf("the caller heard %v; want 1003, then the far end", seq)
	}
	checkMetrics(t, h, map[string]float64{
		`hotline_transfers_total{kind="blind",target="number",result="connected"}`: 1,
	})
}

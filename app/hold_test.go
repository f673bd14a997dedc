package app_test

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/hotline-cc/hotline/api"
	"github.com/hotline-cc/hotline/internal/sipptest"
)

// heardSequence sorts what the caller heard after the agent answered, in
// 100 ms frames: "agent" (the agent phone's 1 kHz tone) or "music" (sound
// without that tone); quiet frames (and frames that straddle a change,
// neither one nor the other) are left out and runs of one kind merged.
func heardSequence(samples []int16) []string {
	const frame = 800
	var seq []string
	answered := false
	for i := 0; i+frame <= len(samples); i += frame {
		f := samples[i : i+frame]
		kind := ""
		switch lv, r := toneLevel(f, 1000), rms(f); {
		case lv > 0.5 && r > 300:
			kind, answered = "agent", true
		case r > 200 && lv < 0.2:
			kind = "music"
		}
		if !answered || kind == "" || (len(seq) > 0 && seq[len(seq)-1] == kind) {
			continue
		}
		seq = append(seq, kind)
	}
	return seq
}

// TestHoldFromThePhonePlaysMusicAndCounts: the agent's phone holds the
// caller for 1.5 s (re-INVITE sendonly, then sendrecv). The caller hears
// the agent, then hold music instead, then the agent again; the CDR has
// one hold of about 1.5 s; the metrics count it.
func TestHoldFromThePhonePlaysMusicAndCounts(t *testing.T) {
	t.Parallel()
	requirePCAP(t)
	h := startHotline(t, nil)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	agent := h.startAgent(ctx, "1003", "agent_hold.xml", map[string]string{"hold_after_ms": "800", "hold_ms": "1500"})
	caller, err := sipptest.Start(ctx, t, sipptest.Scenario{
		File: "carrier_call.xml", Remote: h.sipAddr(), Service: "100", Timeout: 40 * time.Second,
		Vars: map[string]string{"digit": "2", "talk_ms": "4500"},
	})
	if err != nil {
		t.Fatal(err)
	}
	caller.WaitSuccess(t, 1)
	finished(t, agent, "agent")
	cdr := h.waitEndedCall()
	if cdr.Holds != 1 || cdr.HoldSec < 1.3 || cdr.HoldSec > 2.5 {
		t.Errorf("CDR holds %d, hold %.2f s; want one hold of about 1.5 s", cdr.Holds, cdr.HoldSec)
	}
	seq := heardSequence(h.recording(cdr.CallID).right)
	if !containsRun(seq, "agent", "music", "agent") {
		t.Errorf("the caller heard %v; want the agent, hold music, then the agent again", seq)
	}
	m := h.metrics()
	if held, now := metricValue(m, "hotline_calls_holds_total"), metricValue(m, "hotline_calls_on_hold"); held != 1 || now != 0 {
		t.Errorf("hotline_calls_holds_total %v, hotline_calls_on_hold %v; want 1 and 0", held, now)
	}
}

// containsRun reports whether want occurs in seq as consecutive items.
func containsRun(seq []string, want ...string) bool {
	for i := 0; i+len(want) <= len(seq); i++ {
		match := true
		for j, w := range want {
			match = match && seq[i+j] == w
		}
		if match {
			return true
		}
	}
	return false
}

// TestHoldFromTheAPI: an agent desktop holds and resumes the caller with
// POST /api/v1/calls/{id}/hold and /resume; the agent is on-hold in
// between, and the CDR counts the hold. Unknown calls get 404, repeats are
// harmless.
func TestHoldFromTheAPI(t *testing.T) {
	t.Parallel()
	requirePCAP(t)
	h := startHotline(t, nil)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	agent := h.startAgent(ctx, "1003", "agent_answer.xml", map[string]string{"ring_ms": "100"})
	caller, callID := h.callTo1003(ctx, "5000")
	h.do("POST", "/api/v1/calls/nope/hold", h.token, nil).want(t, "hold an unknown call", 404, nil)
	h.do("POST", "/api/v1/calls/"+callID+"/hold", h.token, nil).want(t, "hold", 200, nil)
	h.waitAgent("1003", "on-hold")
	h.do("POST", "/api/v1/calls/"+callID+"/hold", h.token, nil).want(t, "hold again", 200, nil)
	if v := metricValue(h.metrics(), `hotline_calls_on_hold`); v != 1 {
		t.Errorf("hotline_calls_on_hold = %v while held, want 1", v)
	}
	h.do("POST", "/api/v1/calls/"+callID+"/resume", h.token, nil).want(t, "resume", 200, nil)
	h.waitAgent("1003", "on-call")
	caller.WaitSuccess(t, 1)
	finished(t, agent, "agent")
	cdr := h.waitEndedCall()
	if cdr.Holds != 1 || cdr.HoldSec <= 0 {
		t.Errorf("CDR holds %d, hold %.2f s; want one hold", cdr.Holds, cdr.HoldSec)
	}
}

// TestBlindTransferToAQueueFromTheAPI: agent 1003 (support) sends the
// caller to sales through the API; 1003's leg is hung up, agent 1001
// answers from sales, and the CDR keeps the caller's first enqueue (its
// wait covers both queues) and both talks. A bad target gets 400.
func TestBlindTransferToAQueueFromTheAPI(t *testing.T) {
	t.Parallel()
	requirePCAP(t)
	h := startHotline(t, nil)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	carol := h.startAgent(ctx, "1003", "agent_answer.xml", map[string]string{"ring_ms": "100"})
	caller, callID := h.callTo1003(ctx, "6000")
	h.do("POST", "/api/v1/calls/"+callID+"/transfer", h.token, map[string]string{"to": "queue:nope"}).want(t, "unknown queue", 400, nil)
	h.do("POST", "/api/v1/calls/"+callID+"/transfer", h.token, map[string]string{"to": "fax:1"}).want(t, "unknown kind", 400, nil)
	h.do("POST", "/api/v1/calls/"+callID+"/transfer", h.token, map[string]string{"to": "queue:sales"}).want(t, "transfer", 202, nil)
	finished(t, carol, "agent 1003 is hung up by the transfer")
	alice := h.startAgentPhone(ctx, "1001", "agent_answer.xml", map[string]string{"ring_ms": "100"})
	caller.WaitSuccess(t, 1)
	finished(t, alice, "agent 1001 answers the transferred call")
	cdr := h.waitEndedCall()
	if cdr.CallID != callID || cdr.AgentID != "1001" || cdr.Queue != "sales" || cdr.TransferTo != "queue sales" ||
		cdr.Result != "completed" || cdr.TalkSec < 1 || cdr.SLOutcome != "met" || cdr.QueueWaitSec > cdr.TalkSec {
		t.Errorf("CDR = %+v; want agent 1001 in sales after a transfer from 1003, the first answer's verdict (met), waits without the talk", cdr)
	}
	var events []string
	for _, e := range h.agentEvents("1003") {
		events = append(events, e.From+">"+e.To)
	}
	if !slices.Contains(events, "on-call>available") && !slices.Contains(events, "on-call>wrap-up") {
		t.Errorf("1003's trail %v: the transfer did not release them", events)
	}
}

// TestBlindTransferByREFER: agent 1003's softphone transfers the caller
// with REFER (RFC 3515), to the sales queue or to agent 1001 by ID;
// hotline accepts it (202, NOTIFY 100 Trying, NOTIFY 200 OK), releases
// 1003, and agent 1001 answers. The transfer counts by its target kind.
func TestBlindTransferByREFER(t *testing.T) {
	t.Parallel()
	requirePCAP(t)
	for _, tc := range []struct{ referTo, kind, transferTo string }{
		{"sales", "queue", "queue sales"},
		{"1001", "agent", "agent 1001"},
	} {
		t.Run(tc.kind, func(t *testing.T) {
			t.Parallel()
			h := startHotline(t, nil)
			ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
			defer cancel()
			carol := h.startAgent(ctx, "1003", "agent_refer.xml", map[string]string{"ring_ms": "100", "refer_after_ms": "800", "refer_to": tc.referTo})
			alice := h.startAgent(ctx, "1001", "agent_answer.xml", map[string]string{"ring_ms": "100"})
			caller, err := sipptest.Start(ctx, t, sipptest.Scenario{
				File: "carrier_call.xml", Remote: h.sipAddr(), Service: "100", Timeout: 40 * time.Second,
				Vars: map[string]string{"digit": "2", "talk_ms": "5000"},
			})
			if err != nil {
				t.Fatal(err)
			}
			caller.WaitSuccess(t, 1)
			finished(t, carol, "agent 1003 refers the call and gets the NOTIFYs and the BYE")
			finished(t, alice, "agent 1001 answers the transferred call")
			cdr := h.waitEndedCall()
			if cdr.AgentID != "1001" || cdr.TransferTo != tc.transferTo || cdr.Result != "completed" {
				t.Errorf("CDR = %+v; want agent 1001 after 1003's REFER to %s", cdr, tc.referTo)
			}
			checkMetrics(t, h, map[string]float64{
				`hotline_transfers_total{kind="blind",target="` + tc.kind + `",result="started"}`:   1,
				`hotline_transfers_total{kind="blind",target="` + tc.kind + `",result="connected"}`: 1,
			})
		})
	}
}

// TestThreeWayConferenceFromTheAPI: agent 1003 adds the phone of 1004 to
// the call; the three are mixed until 1004 hangs up, then caller and 1003
// go on (the caller hears 1003 to the end). A second conference while one
// is on is refused.
func TestThreeWayConferenceFromTheAPI(t *testing.T) {
	t.Parallel()
	requirePCAP(t)
	h := startHotline(t, nil)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	carol := h.startAgent(ctx, "1003", "agent_answer.xml", map[string]string{"ring_ms": "100"})
	// 1004's phone answers the conference and leaves after a second. 1003
	// logged in first: the longest idle, the call goes to them.
	dave := h.startAgentPhone(ctx, "1004", "agent_answer.xml", map[string]string{"ring_ms": "100", "hangup": "agent", "talk_ms": "1000"})
	h.waitAgent("1004", "available")
	caller, callID := h.callTo1003(ctx, "5000")
	h.do("POST", "/api/v1/calls/"+callID+"/conference", h.token, map[string]string{"to": "queue:sales"}).want(t, "a queue is no conference party", 400, nil)
	h.do("POST", "/api/v1/calls/"+callID+"/conference", h.token, map[string]string{"to": "extension:1004"}).want(t, "conference", 202, nil)
	finished(t, dave, "1004 joins the conference and leaves")
	caller.WaitSuccess(t, 1)
	finished(t, carol, "1003 talks to the caller to the end")
	cdr := h.waitEndedCall()
	if cdr.AgentID != "1003" || cdr.Result != "completed" {
		t.Errorf("CDR = %+v; want completed with 1003", cdr)
	}
	if v := metricSum(h.metrics(), "hotline_transfers_total", `kind="conference"`, `target="extension"`, `result="connected"`); v != 1 {
		t.Errorf("conference connected %v times, want 1", v)
	}
	// The caller hears 1003 (1 kHz) in the last second, after 1004 left.
	right := h.recording(cdr.CallID).right
	if n := len(right); n < 16000 || toneLevel(right[n-12000:n-4000], 1000) < 0.3 {
		t.Errorf("the caller does not hear the agent after the third party left")
	}
}

// callTo1003 has a carrier caller (440 Hz) press 2 for support, where agent
// 1003 answers; it returns the caller's SIPp and the call's ID once 1003
// is on the call. The caller talks for talkMs and hangs up.
func (h *hotline) callTo1003(ctx context.Context, talkMs string) (*sipptest.Process, string) {
	h.t.Helper()
	caller, err := sipptest.Start(ctx, h.t, sipptest.Scenario{
		File: "carrier_call.xml", Remote: h.sipAddr(), Service: "100", Timeout: 40 * time.Second,
		Vars: map[string]string{"digit": "2", "talk_ms": talkMs},
	})
	if err != nil {
		h.t.Fatal(err)
	}
	h.waitAgent("1003", "on-call")
	var ag api.AgentJSON
	h.get("/api/v1/agents/1003", &ag)
	if ag.CallID == "" {
		h.t.Fatal("agent 1003 on a call without a call ID")
	}
	return caller, ag.CallID
}

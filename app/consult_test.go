package app_test

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/hotline-cc/hotline/api"
)

// TestConsultAndAttendedTransferFromTheAPI: agent 1003's desktop consults
// the sales queue; the caller goes on hold (music) and the ACD picks 1001,
// who talks with 1003; cancel hangs 1001 up and gives 1003 the caller back.
// A second consultation, with agent 1002 by name, is completed: the caller
// talks to 1002 and 1003 is released. Bad requests get 403 and 409.
func TestConsultAndAttendedTransferFromTheAPI(t *testing.T) {
	t.Parallel()
	requirePCAP(t)
	h := startHotline(t, nil)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	carol := h.startAgent(ctx, "1003", "agent_answer.xml", map[string]string{"ring_ms": "100"})
	// The consultees' phones ring for a second: the caller hears music.
	alice := h.startAgent(ctx, "1001", "agent_answer.xml", map[string]string{"ring_ms": "1000"})
	bob := h.startAgent(ctx, "1002", "agent_answer.xml", map[string]string{"ring_ms": "1000"})
	caller, callID := h.callTo1003(ctx, "9000")
	consult := "/api/v1/calls/" + callID + "/consult"

	h.do("POST", consult, h.token, map[string]string{"to": "number:+493012345"}).want(t, "a number outside transfers.external", 403, nil)
	h.do("POST", consult+"/complete", h.token, nil).want(t, "complete without a consultation", 409, nil)
	h.do("POST", consult, h.token, map[string]string{"to": "queue:sales"}).want(t, "consult sales", 202, nil)
	h.waitAgent("1003", "on-hold")
	h.waitAgent("1001", "on-call") // longest idle in sales: registered first
	h.do("POST", consult, h.token, map[string]string{"to": "queue:sales"}).want(t, "a second consultation", 409, nil)
	h.do("POST", consult+"/cancel", h.token, nil).want(t, "cancel", 200, nil)
	finished(t, alice, "1001 is hung up when the consultation is canceled")
	h.waitAgent("1003", "on-call")

	h.do("POST", consult, h.token, map[string]string{"to": "agent:1002"}).want(t, "consult agent 1002", 202, nil)
	h.waitAgent("1002", "on-call")
	h.do("POST", consult+"/complete", h.token, nil).want(t, "complete", 200, nil)
	finished(t, carol, "1003 is released by the attended transfer")
	caller.WaitSuccess(t, 1)
	finished(t, bob, "1002 talks to the caller to the end")

	cdr := h.waitEndedCall()
	if cdr.CallID != callID || cdr.TransferTo != "agent 1002" || cdr.AgentID != "1002" || cdr.Result != "completed" || cdr.Holds != 2 {
		t.Errorf("CDR = %+v; want the transfer to agent 1002, completed, two holds", cdr)
	}
	// The caller heard hold music while 1002's phone rang (a second),
	// then 1002's 1 kHz tone: 1003's own tone never reached them, since
	// the desktop put them on hold as soon as the call was connected.
	if music, tone := musicBeforeTone(h.recording(cdr.CallID).right); tone < 0 || music < 5 {
		t.Errorf("the caller heard 1002 from frame %d after %d frames of music; want music while 1002 rang, then 1002", tone, music)
	}
	m := h.metrics()
	for _, want := range []struct {
		labels []string
		n      float64
	}{
		{[]string{`kind="consult"`, `target="queue"`, `result="connected"`}, 1},
		{[]string{`kind="consult"`, `target="queue"`, `result="canceled"`}, 1},
		{[]string{`kind="consult"`, `target="agent"`, `result="connected"`}, 1},
		{[]string{`kind="attended"`, `target="agent"`, `result="completed"`}, 1},
	} {
		if v := metricSum(m, "hotline_transfers_total", want.labels...); v != want.n {
			t.Errorf("hotline_transfers_total%v = %v, want %v", want.labels, v, want.n)
		}
	}
	// The timeline: each leg change is a stage, and they add up.
	got := h.timeline(callID)
	if d := got.UnaccountedSec; d < -0.01 || d > 0.01 {
		t.Errorf("timeline: %.3f s of the call in no stage", d)
	}
	want := []string{"ivr", "queue", "ring 1003 answered", "talk 1003", "consult", "ring 1001 answered", "talk 1003",
		"consult", "ring 1002 answered", "talk 1002"}
	if stages := stageNames(got); !slices.Equal(stages, want) {
		t.Errorf("timeline %v, want %v", stages, want)
	}
	var trail []string
	for _, e := range h.agentEvents("1002") {
		trail = append(trail, e.From+">"+e.To)
	}
	if !slices.Contains(trail, "on-call>available") {
		t.Errorf("1002's trail %v: the ACD did not release them when the call ended", trail)
	}
}

// musicBeforeTone finds the first 100 ms frame that carries the agent
// phones' 1 kHz tone (-1: none) and counts the frames of music (sound
// without that tone) in the second before it.
func musicBeforeTone(samples []int16) (music, tone int) {
	const frame = 800
	for i := 0; i+frame <= len(samples); i += frame {
		if toneLevel(samples[i:i+frame], 1000) > 0.5 {
			for j := max(0, i-10*frame); j < i; j += frame {
				if f := samples[j : j+frame]; rms(f) > 200 && toneLevel(f, 1000) < 0.2 {
					music++
				}
			}
			return music, i / frame
		}
	}
	return 0, -1
}

// timeline fetches GET /api/v1/calls/{id}/timeline.
func (h *hotline) timeline(callID string) api.TimelineJSON {
	h.t.Helper()
	var tl api.TimelineJSON
	h.get("/api/v1/calls/"+callID+"/timeline", &tl)
	return tl
}

// stageNames lists a timeline's stages as "kind", with the agent for talk,
// and "ring AGENT RESULT" for rings.
func stageNames(tl api.TimelineJSON) []string {
	var out []string
	for _, s := range tl.Stages {
		switch s.Stage {
		case "ring":
			out = append(out, "ring "+s.AgentID+" "+s.Result)
		case "talk":
			out = append(out, "talk "+s.AgentID)
		default:
			out = append(out, s.Stage)
		}
	}
	return out
}

// TestConferencesWithAgentsThroughTheACD: agent 1003 adds agent 1002 to
// the call (POST .../conference {"to":"agent:1002"}): the ACD has 1002
// on-call while they take part and frees them when they leave. Then 1003
// consults sales and merges the consultation into a conference (POST
// .../consult/conference); when 1003 hangs up, agent 1001 (whom the ACD
// picked) takes the call over to the end.
func TestConferencesWithAgentsThroughTheACD(t *testing.T) {
	t.Parallel()
	requirePCAP(t)
	h := startHotline(t, nil)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	carol := h.startAgent(ctx, "1003", "agent_answer.xml", map[string]string{"ring_ms": "100", "hangup": "agent", "talk_ms": "4000"})
	alice := h.startAgent(ctx, "1001", "agent_answer.xml", map[string]string{"ring_ms": "100"})
	bob := h.startAgent(ctx, "1002", "agent_answer.xml", map[string]string{"ring_ms": "100", "hangup": "agent", "talk_ms": "800"})
	caller, callID := h.callTo1003(ctx, "8000")
	calls := "/api/v1/calls/" + callID

	h.do("POST", calls+"/conference", h.token, map[string]string{"to": "agent:1002"}).want(t, "conference agent 1002", 202, nil)
	h.waitAgent("1002", "on-call")
	h.do("POST", calls+"/consult", h.token, map[string]string{"to": "queue:sales"}).want(t, "consult while 1002 is in the conference", 409, nil)
	finished(t, bob, "1002 leaves the conference")
	waitFor(t, 5*time.Second, "1002 released by the ACD", func() (bool, string) {
		s := h.agentState("1002")
		return s != "on-call", s
	})

	h.do("POST", calls+"/consult/conference", h.token, nil).want(t, "merge without a consultation", 409, nil)
	h.do("POST", calls+"/consult", h.token, map[string]string{"to": "queue:sales"}).want(t, "consult sales", 202, nil)
	h.waitAgent("1001", "on-call")
	h.do("POST", calls+"/consult/conference", h.token, nil).want(t, "merge", 200, nil)
	h.waitAgent("1003", "on-call") // off hold, in the conference
	finished(t, carol, "1003 hangs up the conference")
	caller.WaitSuccess(t, 1)
	finished(t, alice, "1001 talks to the caller to the end")

	cdr := h.waitEndedCall()
	if cdr.AgentID != "1001" || cdr.Result != "completed" {
		t.Errorf("CDR = %+v; want completed with 1001, who took the call over", cdr)
	}
	want := []string{"ivr", "queue", "ring 1003 answered", "talk 1003", "ring 1002 answered", "conference", "talk 1003",
		"consult", "ring 1001 answered", "conference", "talk 1001"}
	if got := stageNames(h.timeline(callID)); !slices.Equal(got, want) {
		t.Errorf("timeline %v, want %v", got, want)
	}
	checkMetrics(t, h, map[string]float64{
		`hotline_transfers_total{kind="conference",target="agent",result="connected"}`: 1,
		`hotline_transfers_total{kind="conference",target="queue",result="connected"}`: 1,
	})
	var trail []string
	for _, e := range h.agentEvents("1002") {
		trail = append(trail, e.From+">"+e.To)
	}
	if !slices.Contains(trail, "ringing>on-call") || !slices.Contains(trail, "on-call>available") {
		t.Errorf("1002's trail %v: want on-call for the conference, then available", trail)
	}
}

// TestBlindTransferToTheSurveyFlow: agent 1003 sends the caller to the
// survey flow (POST .../transfer {"to":"flow:nps"}); 1003 is released,
// the caller keys 7#, and the score lands in the CDR with 1003's call.
func TestBlindTransferToTheSurveyFlow(t *testing.T) {
	t.Parallel()
	requirePCAP(t)
	h := startHotlineYAML(t, ivrTrunk+`
flows:
  - name: main
    start: to_support
    nodes:
      to_support: { queue: support }
`+npsSurveyFlow)
	ctx, cancel := context.WithTimeout(context.Background(), 40*time.Second)
	defer cancel()
	carol := h.startAgent(ctx, "1003", "agent_answer.xml", map[string]string{"ring_ms": "100"})
	caller := h.startIVRCall(ctx, "100", map[string]string{"keys": "7#", "first_ms": "3000"})
	h.waitAgent("1003", "on-call")
	callID := h.agent("1003").CallID
	h.do("POST", "/api/v1/calls/"+callID+"/transfer", h.token, map[string]string{"to": "flow:nps"}).want(t, "transfer to the survey", 202, nil)
	finished(t, carol, "1003 is released by the transfer")
	caller.WaitSuccess(t, 1)
	cdr := h.endedCDR(callID)
	if cdr.SurveyScore == nil || *cdr.SurveyScore != 7 || cdr.AgentID != "1003" || cdr.TransferTo != "flow nps" {
		t.Errorf("CDR = %+v; want 1003's call sent to flow nps with survey score 7", cdr)
	}
	checkMetrics(t, h, map[string]float64{
		`hotline_transfers_total{kind="blind",target="flow",result="connected"}`: 1,
		`hotline_survey_responses_total{category="passive",queue="support"}`:     1,
	})
}

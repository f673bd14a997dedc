package app_test

import (
	"context"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/hotline-cc/hotline/api"
	"github.com/hotline-cc/hotline/config"
	"github.com/hotline-cc/hotline/internal/sipptest"
)

// TestAgentIDAnnouncedBeforeBridge: in a queue that announces the agent
// and whispers to them, the caller first hears "agent 1 0 0 3 at your
// service" and only then the agent's voice (1 kHz); the agent hears the
// whisper meanwhile. The recording's right channel (what the caller hears)
// shows speech right after the connect and the agent's tone at the end.
func TestAgentIDAnnouncedBeforeBridge(t *testing.T) {
	t.Parallel()
	requirePCAP(t)
	h := startHotline(t, func(c *config.Config) {
		q := c.Queue("support")
		q.AnnounceAgent, q.Whisper = true, true
	})
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	agent := h.startAgent(ctx, "1003", "agent_answer.xml", map[string]string{"hangup": "remote"})
	h.call(ctx, "carrier_call.xml", "100", map[string]string{"digit": "2", "talk_ms": "5000"})
	finished(t, agent, "agent")
	cdr := h.waitEndedCall()
	if cdr.Result != "completed" || cdr.AgentID != "1003" {
		t.Fatalf("CDR = %+v", cdr)
	}
	w := h.recording(cdr.CallID)
	connected := cdr.End.Add(-time.Duration(cdr.TalkSec * float64(time.Second))).Sub(*cdr.Answer)
	at := func(d time.Duration) int { return int(d.Seconds() * 8000) }
	intro := w.right[at(connected+300*time.Millisecond):at(connected+1300*time.Millisecond)]
	if lv := toneLevel(intro, 1000); lv > 0.2 || rms(intro) < 200 {
		t.Errorf("right after the connect the caller hears 1 kHz level %.2f, rms %.0f; want the agent's ID spoken, not the agent", lv, rms(intro))
	}
	end := len(w.right) - 1600
	talk := w.right[end-at(time.Second) : end]
	if lv := toneLevel(talk, 1000); lv < 0.3 {
		t.Errorf("at the end the caller hears 1 kHz level %.2f; want the agent", lv)
	}
}

// TestAgentHoldIsAnAgentState: the agent's phone puts the caller on hold
// (re-INVITE sendonly) and takes them back (sendrecv); the agent is on-hold
// in between, and the audit trail has both changes.
func TestAgentHoldIsAnAgentState(t *testing.T) {
	t.Parallel()
	requirePCAP(t)
	h := startHotline(t, nil)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	agent := h.startAgent(ctx, "1003", "agent_hold.xml", map[string]string{"hold_after_ms": "500", "hold_ms": "1500"})
	caller, err := sipptest.Start(ctx, t, sipptest.Scenario{
		File: "carrier_call.xml", Remote: h.sipAddr(), Service: "100", Timeout: 40 * time.Second,
		Vars: map[string]string{"digit": "2", "talk_ms": "5000"},
	})
	if err != nil {
		t.Fatal(err)
	}
	h.waitAgent("1003", "on-hold")
	h.waitAgent("1003", "on-call")
	caller.WaitSuccess(t, 1)
	finished(t, agent, "agent")
	var seq []string
	for _, e := range h.agentEvents("1003") {
		seq = append(seq, e.From+">"+e.To)
	}
	if !slices.Contains(seq, "on-call>on-hold") || !slices.Contains(seq, "on-hold>on-call") {
		t.Errorf("1003's audit trail %v has no hold and unhold", seq)
	}
}

// TestFlowVariablesReachTheQueue: a set node marks the caller VIP with a
// business type and priority; the call is queued with them (CDR priority
// and tags) and its path through the IVR is stored.
func TestFlowVariablesReachTheQueue(t *testing.T) {
	t.Parallel()
	requirePCAP(t)
	demo := string(config.DemoYAML)
	demo = strings.Replace(demo, "    start: welcome\n", "    start: mark\n", 1)
	demo = strings.Replace(demo, "    nodes:\n", "    nodes:\n      mark: { set: { vars: { vip: \"true\", business_type: cards, priority: \"7\" }, next: welcome } }\n", 1)
	parsed, err := config.Parse("flow.yaml", []byte(demo))
	if err != nil {
		t.Fatal(err)
	}
	h := startHotline(t, func(c *config.Config) { c.Flows = parsed.Flows })
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	h.call(ctx, "carrier_wait_hangup.xml", "100", map[string]string{"digit": "2", "wait_ms": "500"})
	cdr := h.waitEndedCall()
	var full api.CallJSON
	h.get("/api/v1/calls/"+cdr.CallID, &full)
	if full.Priority != 7 || full.Tags != "vip,cards" || full.IVRPath != "mark>welcome>support" {
		t.Fatalf("CDR priority %d, tags %q, path %q; want 7, vip,cards, mark>welcome>support", full.Priority, full.Tags, full.IVRPath)
	}
}

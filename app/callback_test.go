package app_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/hotline-cc/hotline/api"
	"github.com/hotline-cc/hotline/config"
	"github.com/hotline-cc/hotline/internal/sipptest"
)

// TestCallbackDialsAgentThenCustomer: a callback reaches the front of its
// queue, the ACD reserves agent 1003, hotline rings them and, once they
// answer, dials the customer through the trunk's outbound address: a SIPp
// UAS playing the customer, who talks for 1.5 s and hangs up. The callback
// ends done, with its attempt recorded and a CDR of the conversation.
func TestCallbackDialsAgentThenCustomer(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	customer, err := sipptest.Start(ctx, t, sipptest.Scenario{
		File: "agent_answer.xml", Service: "5550123", Timeout: 60 * time.Second,
		Vars: map[string]string{"hangup": "agent", "talk_ms": "1500", "ring_ms": "300"},
	})
	if err != nil {
		t.Fatal(err)
	}
	h := startHotline(t, func(c *config.Config) {
		c.Trunks[0].Outbound = customer.LocalAddr()
	})
	agent := h.startAgent(ctx, "1003", "agent_answer.xml", map[string]string{"ring_ms": "100"})

	var cb api.CallbackCreatedJSON
	h.do("POST", "/api/v1/callbacks", h.token, map[string]any{"queue": "support", "number": "5550123"}).
		want(t, "schedule a callback", 201, &cb)

	customer.WaitSuccess(t, 1)
	var got api.CallbackDetailJSON
	waitFor(t, 20*time.Second, "callback done", func() (bool, string) {
		h.do("GET", fmt.Sprintf("/api/v1/callbacks/%d", cb.ID), h.token, nil).want(t, "GET the callback", 200, &got)
		return got.State == "done", got.State
	})
	if got.Attempts != 1 || len(got.AttemptLog) != 1 || got.AttemptLog[0].Result != "answered" || got.AttemptLog[0].AgentID != "1003" {
		t.Fatalf("callback = %+v", got)
	}
	var call api.CallJSON
	if status := h.get("/api/v1/calls/"+got.AttemptLog[0].CallID, &call); status != 200 {
		t.Fatalf("CDR of the callback conversation: status %d", status)
	}
	if call.AgentID != "1003" || call.Called != "5550123" || call.Queue != "support" || call.TalkSec < 1 || call.RecordingURL == "" {
		t.Errorf("callback CDR = %+v", call)
	}
	h.waitAgent("1003", "available")
	if err := agent.WaitMessage(ctx, "Callback support"); err != nil {
		t.Errorf("the agent's phone did not show the callback: %v", err)
	}
}

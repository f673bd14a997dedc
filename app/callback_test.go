package app_test

import (
	"context"
	"fmt"
	"math"
	"strings"
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

// TestCallerChoosesCallbackAndKeepsPlace: with nobody to answer, a caller
// waiting in support presses the callback key, confirms the number read
// out and is let go. The callback keeps the caller's enqueue time; when
// agent 1003 logs in it goes to them and the customer (a SIPp UAS) is
// called. The caller's own CDR says callback, service level excluded.
func TestCallerChoosesCallbackAndKeepsPlace(t *testing.T) {
	requirePCAP(t)
	t.Parallel()
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	customer, err := sipptest.Start(ctx, t, sipptest.Scenario{
		File: "agent_answer.xml", Service: "+15550100", Timeout: 60 * time.Second,
		Vars: map[string]string{"hangup": "agent", "talk_ms": "1000", "ring_ms": "100"},
	})
	if err != nil {
		t.Fatal(err)
	}
	h := startHotline(t, func(c *config.Config) {
		c.Trunks[0].Outbound = customer.LocalAddr()
		c.Queue("support").CallbackKey = "3" // carrier_callback.xml's key
	})
	before := time.Now()
	h.call(ctx, "carrier_callback.xml", "100", map[string]string{"queue_ms": "1500"})
	caller := h.waitEndedCall()
	if caller.Result != "callback" || caller.Queue != "support" {
		t.Fatalf("caller CDR = %+v, want result callback in support", caller)
	}
	// The stored callback carries the ACD's enqueue time of the caller (the
	// journal writes it just after the caller is let go; the database keeps
	// milliseconds).
	var cb api.CallbackJSON
	waitFor(t, 10*time.Second, "the callback with the caller's place", func() (bool, string) {
		var list struct{ Callbacks []api.CallbackJSON }
		h.do("GET", "/api/v1/callbacks?state=pending", h.token, nil).want(t, "pending callbacks", 200, &list)
		q := h.queue("support")
		if len(list.Callbacks) != 1 || len(q.Waiting) != 1 || !q.Waiting[0].Callback {
			return false, fmt.Sprintf("callbacks %+v, waiting %+v", list.Callbacks, q.Waiting)
		}
		cb = list.Callbacks[0]
		diff := q.Waiting[0].QueuedAt.Sub(cb.QueuedAt)
		return diff >= 0 && diff < time.Millisecond, fmt.Sprintf("stored %v, queue says %v", cb.QueuedAt, q.Waiting[0].QueuedAt)
	})
	if cb.Number != "+15550100" || cb.Queue != "support" || cb.OriginCallID != caller.CallID ||
		cb.QueuedAt.Before(before.Truncate(time.Millisecond)) || cb.QueuedAt.After(caller.Start.Add(10*time.Second)) {
		t.Fatalf("callback = %+v (caller started %v)", cb, caller.Start)
	}

	// The callback takes 1003 the moment they register: no wait for "available".
	h.startAgentPhone(ctx, "1003", "agent_answer.xml", map[string]string{"ring_ms": "100"})
	customer.WaitSuccess(t, 1)
	waitFor(t, 20*time.Second, "callback done", func() (bool, string) {
		var got api.CallbackDetailJSON
		h.do("GET", fmt.Sprintf("/api/v1/callbacks/%d", cb.ID), h.token, nil).want(t, "GET the callback", 200, &got)
		return got.State == "done", got.State
	})
	var cdr api.CallJSON
	h.get("/api/v1/calls/"+caller.CallID, &cdr)
	if cdr.SLOutcome != "excluded" || cdr.CallbackID != cb.ID {
		t.Errorf("caller's CDR: service level %q, callback %d; want excluded, %d", cdr.SLOutcome, cdr.CallbackID, cb.ID)
	}
}

// TestMaxWaitGoesToVoicemail: nobody answers support; after max_wait the
// caller hears the greeting and the tone and leaves a message (440 Hz),
// which is the end of the call's recording; the CDR says voicemail and the
// service level counts the call as missed.
func TestMaxWaitGoesToVoicemail(t *testing.T) {
	requirePCAP(t)
	t.Parallel()
	h := startHotline(t, func(c *config.Config) {
		q := c.Queue("support")
		q.MaxWait, q.MaxWaitDest = 2*time.Second, config.Destination{Kind: config.DestVoicemail}
	})
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	h.call(ctx, "carrier_call.xml", "100", map[string]string{"digit": "2", "talk_ms": "9000"})
	cdr := h.waitEndedCall()
	if cdr.Result != "voicemail" || cdr.Queue != "support" || cdr.HangupBy != "caller" || cdr.QueueWaitSec < 1.9 || cdr.QueueWaitSec > 3 {
		t.Fatalf("CDR = %+v, want voicemail after a 2 s wait, ended by the caller", cdr)
	}
	waitFor(t, 5*time.Second, "the service-level verdict", func() (bool, string) {
		var c api.CallJSON
		h.get("/api/v1/calls/"+cdr.CallID, &c)
		return c.SLOutcome == "missed", c.SLOutcome
	})
	// What the caller heard (the right channel) has the tone after the
	// greeting: a 1 kHz beep once the wait was over, and the recording runs
	// to the end of the call, so the message is in it.
	w := h.recording(cdr.CallID)
	if recLen, callLen := float64(len(w.right))/8000, cdr.End.Sub(*cdr.Answer).Seconds(); math.Abs(recLen-callLen) > 0.75 {
		t.Errorf("recording is %.2fs, call was %.2fs", recLen, callLen)
	}
	beep := -1.0
	for i := 0; i+1600 <= len(w.right); i += 800 {
		if toneLevel(w.right[i:i+1600], 1000) > 0.5 {
			beep = float64(i) / 8000
			break
		}
	}
	if beep < 2 {
		t.Errorf("the voicemail tone is at %.1fs of the recording; want it after the 2 s wait (and the greeting)", beep)
	}
}

// TestVoicemailNodeTakesAMessage: a flow whose menu key 2 leads to a
// voicemail node; the caller leaves a message and the CDR says voicemail.
func TestVoicemailNodeTakesAMessage(t *testing.T) {
	requirePCAP(t)
	t.Parallel()
	demo := strings.Replace(string(config.DemoYAML), "      support:\n        queue: { name: support }\n", "      support:\n        voicemail: {}\n", 1)
	parsed, err := config.Parse("vm.yaml", []byte(demo))
	if err != nil {
		t.Fatal(err)
	}
	h := startHotline(t, func(c *config.Config) { c.Flows = parsed.Flows })
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	h.call(ctx, "carrier_call.xml", "100", map[string]string{"digit": "2", "talk_ms": "6000"})
	cdr := h.waitEndedCall()
	if cdr.Result != "voicemail" || cdr.Queue != "" || cdr.HangupBy != "caller" || cdr.RecordingURL == "" {
		t.Fatalf("CDR = %+v, want a voicemail outside any queue", cdr)
	}
}

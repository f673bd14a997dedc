package app_test

import (
	"context"
	"fmt"
	"math"
	"net/url"
	"slices"
	"testing"
	"time"

	"github.com/hotline-cc/hotline/api"
	"github.com/hotline-cc/hotline/config"
	"github.com/hotline-cc/hotline/internal/sipptest"
)

// End-to-end checks of the routing rules of docs/acd.md: SIPp callers and SIPp
// agents over loopback against an in-process hotline (the demo configuration:
// sales = 1001, 1002; support = 1003, 1004; IVR 1 = sales, 2 = support; every
// carrier scenario calls from +15550100).

// startCaller runs a carrier scenario in the background, calling called.
func (h *hotline) startCaller(ctx context.Context, scenario, called string, vars map[string]string) *sipptest.Process {
	h.t.Helper()
	p, err := sipptest.Start(ctx, h.t, sipptest.Scenario{
		File: scenario, Remote: h.sipAddr(), Service: called, Vars: vars, Timeout: 40 * time.Second,
	})
	if err != nil {
		h.t.Fatal(err)
	}
	return p
}

// waitQueue polls GET /api/v1/queues until queue name satisfies ok.
func (h *hotline) waitQueue(name, what string, within time.Duration, ok func(api.QueueJSON) bool) api.QueueJSON {
	h.t.Helper()
	var q api.QueueJSON
	waitFor(h.t, within, name+": "+what, func() (bool, string) {
		q = h.queue(name)
		return ok(q), fmt.Sprintf("waiting %+v", q.Waiting)
	})
	return q
}

// waitAgentWhere polls GET /api/v1/agents/{id} until ok holds.
func (h *hotline) waitAgentWhere(id, what string, within time.Duration, ok func(api.AgentJSON) bool) api.AgentJSON {
	h.t.Helper()
	var ag api.AgentJSON
	waitFor(h.t, within, "agent "+id+": "+what, func() (bool, string) {
		ag = h.agent(id)
		return ok(ag), fmt.Sprintf("%+v", ag)
	})
	return ag
}

// endedCDR waits for the CDR of call id to be complete.
func (h *hotline) endedCDR(id string) api.CallJSON {
	h.t.Helper()
	var cdr api.CallJSON
	waitFor(h.t, 10*time.Second, "completed CDR of "+id, func() (bool, string) {
		cdr = api.CallJSON{}
		status := h.get("/api/v1/calls/"+url.PathEscape(id), &cdr)
		return status == 200 && cdr.End != nil, fmt.Sprintf("status %d, %+v", status, cdr)
	})
	return cdr
}

// waitDecisions waits until call id has n routing decisions on record (the
// journal writes them in the background) and returns them in offer order.
func (h *hotline) waitDecisions(id string, n int) []api.DecisionJSON {
	h.t.Helper()
	var dec struct {
		CallID    string `json:"call_id"`
		Decisions []api.DecisionJSON
	}
	waitFor(h.t, 5*time.Second, fmt.Sprintf("%d decisions of %s", n, id), func() (bool, string) {
		h.do("GET", "/api/v1/calls/"+url.PathEscape(id)+"/decisions", h.token, nil).want(h.t, "decisions", 200, &dec)
		return dec.CallID == id && len(dec.Decisions) >= n, fmt.Sprintf("%+v", dec)
	})
	if len(dec.Decisions) != n {
		h.t.Fatalf("call %s: %d decisions, want %d: %+v", id, len(dec.Decisions), n, dec.Decisions)
	}
	return dec.Decisions
}

// TestVIPJumpsTheQueue: two callers to support differ only by the number they
// dialed; a priority rule makes 8009 a VIP line (priority 10). The normal
// caller A queues first, the VIP B second, and the queue lists B first. The
// first agent to log in gets B; A keeps waiting and finally hangs up.
func TestVIPJumpsTheQueue(t *testing.T) {
	t.Parallel()
	requirePCAP(t)
	h := startHotline(t, func(c *config.Config) {
		// Only this rule: the demo's vip rule is about callers, and every
		// carrier scenario calls from the same number.
		c.Priorities = []config.PriorityRule{{Name: "vip-line", Called: []string{"8009"}, Priority: 10}}
	})
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()

	// A: presses 2 and gives up 7 s later, long after B is served.
	callerA := h.startCaller(ctx, "carrier_wait_hangup.xml", "100", map[string]string{"digit": "2", "wait_ms": "7000"})
	q := h.waitQueue("support", "caller A waiting", 10*time.Second, func(q api.QueueJSON) bool { return len(q.Waiting) == 1 })
	idA, queuedA := q.Waiting[0].CallID, q.Waiting[0].QueuedAt
	if w := q.Waiting[0]; w.Priority != 0 {
		t.Fatalf("caller A (dialed 100) waits with priority %d, want 0: %+v", w.Priority, w)
	}

	// B: the VIP line; hangs up 9 s after pressing 2, after A has gone.
	callerB := h.startCaller(ctx, "carrier_call.xml", "8009", map[string]string{"digit": "2", "talk_ms": "9000"})
	q = h.waitQueue("support", "callers A and B waiting", 10*time.Second, func(q api.QueueJSON) bool { return len(q.Waiting) == 2 })
	idB := q.Waiting[0].CallID
	if idB == idA || q.Waiting[1].CallID != idA {
		t.Fatalf("support waiting = %+v; want the VIP (dialed 8009) first, then A (%s)", q.Waiting, idA)
	}
	if b, a := q.Waiting[0], q.Waiting[1]; b.Priority != 10 || a.Priority != 0 || !(b.EffectivePriority > a.EffectivePriority) ||
		!b.QueuedAt.After(a.QueuedAt) {
		t.Fatalf("support waiting: B %+v, A %+v; want B priority 10 (queued later), A priority 0", b, a)
	}

	// The first agent to log in takes B, not A who has waited longer.
	agent := h.startAgentPhone(ctx, "1003", "agent_answer.xml", map[string]string{"hangup": "remote"})
	h.waitAgentWhere("1003", "on a call with B", 10*time.Second, func(ag api.AgentJSON) bool {
		return ag.State == "on-call"
	})
	if ag := h.agent("1003"); ag.CallID != idB {
		t.Fatalf("1003 is on call %q, want the VIP %s (A is %s)", ag.CallID, idB, idA)
	}
	q = h.queue("support")
	if len(q.Waiting) != 1 || q.Waiting[0].CallID != idA || q.Waiting[0].AgentID != "" {
		t.Fatalf("while 1003 talks to B, support waiting = %+v; want A alone, not ringing", q.Waiting)
	}

	finished(t, callerA, "caller A, who gives up")
	finished(t, callerB, "caller B, the VIP")

	b := h.endedCDR(idB)
	if b.Result != "completed" || b.AgentID != "1003" || b.Queue != "support" || b.Called != "8009" ||
		b.Priority != 10 || b.Tags != "vip-line" || b.SLOutcome != "met" || b.Offers != 1 {
		t.Errorf("VIP CDR = %+v; want completed by 1003, priority 10, tags vip-line, SL met, 1 offer", b)
	}
	a := h.endedCDR(idA)
	if a.Result != "abandoned" || a.AgentID != "" || a.Queue != "support" || a.Called != "100" ||
		a.Priority != 0 || a.Tags != "" || a.Offers != 0 || a.SLOutcome != "missed" {
		t.Errorf("caller A's CDR = %+v; want abandoned in support, priority 0, no tags, no offer, SL missed (waited > 5 s)", a)
	}
	// An abandoned call's queue_wait_seconds is its time in the queue, from
	// its enqueue to its BYE.
	if waited := a.End.Sub(queuedA).Seconds(); waited < 5 || waited > 9 || math.Abs(a.QueueWaitSec-waited) > 0.5 {
		t.Errorf("caller A was in the queue %.2fs, CDR says %.2fs; want about 7 s both", waited, a.QueueWaitSec)
	}
	d := h.waitDecisions(idB, 1)[0]
	if d.AgentID != "1003" || d.Queue != "support" || d.Rule != "longest-idle" || d.EffectivePriority < 10 {
		t.Errorf("VIP decision = %+v; want 1003 by longest-idle with effective priority ≥ 10", d)
	}
	h.waitDecisions(idA, 0)
	finished(t, agent, "agent 1003")
}

// TestDedicatedAgentWaitedForThenBypassed: calls from +15550100 belong to agent
// 1004 (wait 3 s). With 1003 idle longer, the first call still goes to 1004.
// While 1004 is in wrap-up after it, a second call waits 3 s for them, with
// 1003 free and not offered, then goes to 1003.
func TestDedicatedAgentWaitedForThenBypassed(t *testing.T) {
	t.Parallel()
	requirePCAP(t)
	h := startHotline(t, func(c *config.Config) {
		c.DedicatedAgents = []config.DedicatedAgent{{Caller: "+15550100", Agent: "1004", Wait: 3 * time.Second}}
		c.Queue("support").WrapUp = 30 * time.Second
	})
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	carol := h.startAgent(ctx, "1003", "agent_answer.xml", map[string]string{"hangup": "remote"})
	// Dave stays registered after his one call (agent_calls 2), so that he is
	// in wrap-up rather than logged out when the second call comes.
	h.startAgent(ctx, "1004", "agent_answer.xml", map[string]string{"hangup": "remote", "agent_calls": "2"})
	if c, d := h.agent("1003"), h.agent("1004"); c.IdleSince == nil || d.IdleSince == nil || !c.IdleSince.Before(*d.IdleSince) {
		t.Fatalf("1003 must be idle longer: 1003 idle since %v, 1004 since %v", c.IdleSince, d.IdleSince)
	}

	// Part 1: both free; the dedicated agent gets the call.
	h.call(ctx, "carrier_call.xml", "100", map[string]string{"digit": "2", "talk_ms": "2500"})
	first := h.waitEndedCall()
	if first.Result != "completed" || first.AgentID != "1004" || first.Queue != "support" {
		t.Fatalf("first call's CDR = %+v; want 1004, the dedicated agent, though 1003 was idle longer", first)
	}
	if d := h.waitDecisions(first.CallID, 1)[0]; d.Rule != "dedicated" || d.AgentID != "1004" {
		t.Errorf("first call's decision = %+v; want rule dedicated, agent 1004", d)
	}
	h.waitAgent("1004", "wrap-up")
	if ag := h.agent("1003"); ag.State != "available" {
		t.Fatalf("1003 = %+v, want available", ag)
	}

	// Part 2: 1004 in wrap-up, 1003 free. The caller waits for 1004 alone.
	caller := h.startCaller(ctx, "carrier_call.xml", "100", map[string]string{"digit": "2", "talk_ms": "6000"})
	q := h.waitQueue("support", "caller waiting for 1004", 10*time.Second, func(q api.QueueJSON) bool {
		return len(q.Waiting) == 1
	})
	w := q.Waiting[0]
	if w.WaitingFor != "1004" || w.AgentID != "" {
		t.Fatalf("support waiting = %+v; want the caller waiting for 1004, nobody ringing", q.Waiting)
	}
	second := w.CallID
	if c, d := h.agent("1003"), h.agent("1004"); c.State != "available" || d.State != "wrap-up" || d.DedicatedWaiting != 1 {
		t.Fatalf("while the caller waits for 1004: 1003 = %s, 1004 = %s (dedicated waiting %d); want available, wrap-up, 1",
			c.State, d.State, d.DedicatedWaiting)
	}
	finished(t, caller, "second caller")
	cdr := h.endedCDR(second)
	if cdr.Result != "completed" || cdr.AgentID != "1003" || cdr.Queue != "support" || cdr.Offers != 1 {
		t.Fatalf("second call's CDR = %+v; want 1003 after the wait for 1004", cdr)
	}
	if cdr.QueueWaitSec < 2.8 || cdr.QueueWaitSec >= 6 {
		t.Errorf("second call waited %.2fs, want the 3 s dedicated wait (2.8 to 6 s)", cdr.QueueWaitSec)
	}
	d := h.waitDecisions(second, 1)[0]
	if d.Rule == "dedicated" || d.Rule == "" || d.AgentID != "1003" || d.WaitSec < 2.8 {
		t.Errorf("second call's decision = %+v; want 1003 by a rule other than dedicated, after ≥ 2.8 s", d)
	}
	if ag := h.agent("1004"); ag.State != "wrap-up" || ag.Counters.Offers["answered"] != 1 || ag.DedicatedWaiting != 0 {
		t.Errorf("1004 after the second call = %+v; want still in wrap-up, one answered offer, nobody waiting", ag)
	}
	finished(t, carol, "agent 1003")
}

// TestUnansweredOfferGoesToNextAndMarksMissed: with one missed offer allowed
// before not-ready, 1003 (idle longest) rings out after the 2 s ring timeout;
// the call goes to 1004, and the ACD makes 1003 not ready, reason missed.
func TestUnansweredOfferGoesToNextAndMarksMissed(t *testing.T) {
	t.Parallel()
	requirePCAP(t)
	h := startHotline(t, func(c *config.Config) {
		c.AgentStates.MissedBeforeNotReady = 1
		c.Queue("support").RingTimeout = 2 * time.Second
	})
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	// 1003 stays registered after the canceled INVITE (agent_calls 2): its
	// state afterwards is the ACD's doing, not a logout.
	h.startAgent(ctx, "1003", "agent_no_answer.xml", map[string]string{"agent_calls": "2"})
	dave := h.startAgent(ctx, "1004", "agent_answer.xml", map[string]string{"hangup": "remote"})
	h.call(ctx, "carrier_call.xml", "100", map[string]string{"digit": "2", "talk_ms": "5000"})
	cdr := h.waitEndedCall()
	if cdr.Result != "completed" || cdr.AgentID != "1004" || cdr.Offers != 2 {
		t.Fatalf("CDR = %+v; want 1004 after a ring-out at 1003 (2 offers)", cdr)
	}
	finished(t, dave, "1004 should have answered")
	if cdr.QueueWaitSec < 2 || cdr.QueueWaitSec > 4.5 {
		t.Errorf("queue wait %.2fs, want the 2 s ring timeout and a little", cdr.QueueWaitSec)
	}
	ds := h.waitDecisions(cdr.CallID, 2)
	if ds[0].AgentID != "1003" || ds[1].AgentID != "1004" {
		t.Errorf("decisions = %+v; want 1003, then 1004", ds)
	}

	ag := h.waitAgentWhere("1003", "not ready (missed)", 5*time.Second, func(ag api.AgentJSON) bool { return ag.State == "not-ready" })
	if ag.Reason != config.ReasonMissed || !ag.Registered || ag.Counters.Offers["ring-timeout"] != 1 || ag.Counters.Offers["answered"] != 0 {
		t.Errorf("1003 = %+v; want not-ready reason missed, still registered, one ring-timeout offer", ag)
	}
	ev := h.waitEvent("1003", "not-ready, missed", func(e api.AgentEventJSON) bool {
		return e.To == "not-ready" && e.Reason == config.ReasonMissed
	})
	if ev.Source != "acd" || ev.Device != "1003" {
		t.Errorf("audit entry %+v; want source acd on device 1003", ev)
	}
	if got := metricValue(h.metrics(), `hotline_acd_agents_not_ready{reason="missed"}`); got != 1 {
		t.Errorf("not-ready agents with reason missed = %v, want 1", got)
	}
}

// TestOverflowKeepsWaitTime: support moves its callers to sales after 2 s.
// Nobody serves support; 1001 (sales) answers the moved call. The wait counts
// from the first enqueue, across the move.
func TestOverflowKeepsWaitTime(t *testing.T) {
	t.Parallel()
	requirePCAP(t)
	h := startHotline(t, func(c *config.Config) {
		c.Queue("support").Escalation = []config.EscalationStep{{After: 2 * time.Second, Queue: "sales"}}
	})
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	alice := h.startAgent(ctx, "1001", "agent_answer.xml", map[string]string{"hangup": "remote"})
	caller := h.startCaller(ctx, "carrier_call.xml", "100", map[string]string{"digit": "2", "talk_ms": "5000"})
	q := h.waitQueue("support", "the caller waiting", 10*time.Second, func(q api.QueueJSON) bool { return len(q.Waiting) == 1 })
	id, queuedAt := q.Waiting[0].CallID, q.Waiting[0].QueuedAt
	if ag := h.agent("1001"); ag.State != "available" || slices.Contains(ag.Queues, "support") {
		t.Fatalf("1001 = %+v; want available and not in support", ag)
	}
	finished(t, caller, "caller")
	cdr := h.endedCDR(id)
	if cdr.Result != "completed" || cdr.AgentID != "1001" || cdr.Queue != "sales" || cdr.IVRDigits != "2" || cdr.Offers != 1 {
		t.Fatalf("CDR = %+v; want completed by 1001 in sales after the move", cdr)
	}
	finished(t, alice, "agent 1001")
	if cdr.QueueWaitSec < 2 || cdr.QueueWaitSec > 5 {
		t.Errorf("queue wait %.2fs; want ≥ 2 s, counted from entering support, not from the move", cdr.QueueWaitSec)
	}
	if cdr.SLOutcome != "met" {
		t.Errorf("service level %q, want met (threshold 20 s)", cdr.SLOutcome)
	}
	d := h.waitDecisions(id, 1)[0]
	if d.AgentID != "1001" || d.Queue != "sales" || d.WaitSec < 1.99 {
		t.Errorf("decision = %+v; want 1001 in sales with a wait ≥ 2 s", d)
	}
	if got := d.At.Sub(queuedAt).Seconds(); got < 1.99 || got > 5 { // the decision time is stored in ms
		t.Errorf("offered %.2fs after entering support, want just after the 2 s step", got)
	}
	m := h.metrics()
	if got := metricValue(m, `hotline_acd_calls_moved_total{direction="in",queue="sales"}`); got != 1 {
		t.Errorf("calls moved into sales = %v, want 1", got)
	}
}

// TestWrapUpDelaysNextOffer: support has 3 s of wrap-up and only 1003 serves
// it. A second caller waits while 1003 talks to the first and is not offered
// until 1003's wrap-up after that call has ended.
func TestWrapUpDelaysNextOffer(t *testing.T) {
	t.Parallel()
	requirePCAP(t)
	h := startHotline(t, func(c *config.Config) {
		c.Queue("support").WrapUp = 3 * time.Second
	})
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	carol := h.startAgent(ctx, "1003", "agent_answer.xml", map[string]string{"hangup": "remote", "agent_calls": "2"})

	caller1 := h.startCaller(ctx, "carrier_call.xml", "100", map[string]string{"digit": "2", "talk_ms": "4000"})
	ag := h.waitAgentWhere("1003", "on call 1", 10*time.Second, func(ag api.AgentJSON) bool { return ag.State == "on-call" })
	call1 := ag.CallID
	caller2 := h.startCaller(ctx, "carrier_call.xml", "100", map[string]string{"digit": "2", "talk_ms": "7500"})
	q := h.waitQueue("support", "caller 2 waiting", 10*time.Second, func(q api.QueueJSON) bool { return len(q.Waiting) == 1 })
	call2 := q.Waiting[0].CallID

	// Call 1 ends: 1003 is in wrap-up and call 2 is not offered.
	ag = h.waitAgentWhere("1003", "wrap-up after call 1", 10*time.Second, func(ag api.AgentJSON) bool { return ag.State == "wrap-up" })
	if ag.WrapUpUntil == nil || ag.Since == nil || ag.WrapUpUntil.Sub(*ag.Since) < 2900*time.Millisecond || ag.WrapUpUntil.Sub(*ag.Since) > 3100*time.Millisecond {
		t.Errorf("1003 in wrap-up: since %v, until %v; want 3 s", ag.Since, ag.WrapUpUntil)
	}
	if q := h.queue("support"); len(q.Waiting) != 1 || q.Waiting[0].CallID != call2 || q.Waiting[0].AgentID != "" {
		t.Fatalf("during wrap-up support waiting = %+v; want call 2, not ringing", q.Waiting)
	}
	finished(t, caller1, "caller 1")
	cdr1 := h.endedCDR(call1)
	h.waitAgentWhere("1003", "on call 2", 10*time.Second, func(ag api.AgentJSON) bool { return ag.State == "on-call" && ag.CallID == call2 })
	finished(t, caller2, "caller 2")
	cdr2 := h.endedCDR(call2)
	if cdr1.AgentID != "1003" || cdr2.AgentID != "1003" || cdr2.Result != "completed" {
		t.Fatalf("CDRs: call 1 %+v, call 2 %+v; want both answered by 1003", cdr1, cdr2)
	}
	if cdr2.QueueWaitSec < 2.5 {
		t.Errorf("call 2 waited %.2fs, want at least the 3 s wrap-up", cdr2.QueueWaitSec)
	}
	// Call 1's CDR carries the after-call work it cost (written by the
	// journal when the wrap-up ends).
	waitFor(t, 5*time.Second, "call 1's wrap-up on its CDR", func() (bool, string) {
		var c api.CallJSON
		h.get("/api/v1/calls/"+call1, &c)
		return c.WrapUpSec > 2.9 && c.WrapUpSec < 3.2, fmt.Sprintf("wrap_up_seconds %.2f", c.WrapUpSec)
	})
	// ...and its timeline a wrap-up stage, nested under 1003's talk, so
	// the call's own stages still add up to its duration.
	tl := h.timeline(call1)
	last := tl.Stages[len(tl.Stages)-1]
	if last.Stage != "wrap-up" || last.AgentID != "1003" || last.Parent == 0 || last.DurationSec < 2.9 || last.DurationSec > 3.2 ||
		tl.UnaccountedSec < -0.01 || tl.UnaccountedSec > 0.01 {
		t.Errorf("call 1's timeline ends with %+v (unaccounted %.3f s); want 1003's 3 s wrap-up, nested", last, tl.UnaccountedSec)
	}
	d := h.waitDecisions(call2, 1)[0]
	if gap := d.At.Sub(*cdr1.End).Seconds(); gap < 2.8 || gap > 4.5 {
		t.Errorf("call 2 offered %.2fs after call 1 ended, want the 3 s wrap-up", gap)
	}

	// The audit trail: on-call → wrap-up → available (3 s later, by the ACD)
	// → ringing for call 2.
	var seq []api.AgentEventJSON
	waitFor(t, 5*time.Second, "1003's events around call 1", func() (bool, string) {
		evs := h.agentEvents("1003")
		slices.Reverse(evs) // oldest first
		i := slices.IndexFunc(evs, func(e api.AgentEventJSON) bool { return e.To == "wrap-up" })
		if i >= 1 && i+2 < len(evs) {
			seq = evs[i-1 : i+3]
			return true, ""
		}
		return false, fmt.Sprintf("%+v", evs)
	})
	onCall, wrap, avail, ring := seq[0], seq[1], seq[2], seq[3]
	if onCall.To != "on-call" || wrap.From != "on-call" || wrap.To != "wrap-up" || avail.From != "wrap-up" || avail.To != "available" ||
		avail.Source != "acd" || ring.From != "available" || ring.To != "ringing" || ring.CallID != call2 {
		t.Fatalf("1003's events after answering call 1: %+v; want on-call → wrap-up → available (acd) → ringing for call 2", seq)
	}
	if got := avail.At.Sub(wrap.At).Seconds(); got < 2.9 || got > 3.5 {
		t.Errorf("wrap-up lasted %.2fs in the audit trail, want 3 s", got)
	}
	finished(t, carol, "agent 1003")
}

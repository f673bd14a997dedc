package call

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/hotline-cc/hotline/acd"
	"github.com/hotline-cc/hotline/config"
	"github.com/hotline-cc/hotline/ivr"
	hsip "github.com/hotline-cc/hotline/sip"
	"github.com/hotline-cc/hotline/store"
)

// Target is where an agent sends a connected call: Kind "queue", "agent",
// "flow", "extension" or "number" (through an outbound trunk, when
// transfers.external allows it), and its Name.
type Target struct {
	Kind, Name string
}

func (t Target) String() string { return t.Kind + " " + t.Name }

// ErrBadTarget is a transfer target that names nothing known.
var ErrBadTarget = errors.New("bad transfer target")

// ParseTarget reads "queue:support", "agent:1004", "flow:survey",
// "extension:2000" or "number:+493012345".
func ParseTarget(s string) (Target, error) {
	kind, name, ok := strings.Cut(s, ":")
	switch {
	case !ok || name == "":
		return Target{}, fmt.Errorf("%w %q: want KIND:NAME, KIND one of queue, agent, flow, extension, number", ErrBadTarget, s)
	case kind != "queue" && kind != "agent" && kind != "flow" && kind != "extension" && kind != "number":
		return Target{}, fmt.Errorf("%w %q: unknown kind %q (queue, agent, flow, extension, number)", ErrBadTarget, s, kind)
	case !dialableName(name):
		return Target{}, fmt.Errorf("%w %q: invalid name", ErrBadTarget, s)
	}
	return Target{Kind: kind, Name: name}, nil
}

// dialableName accepts the names targets have: queue, flow and agent
// names, SIP user parts of extensions.
func dialableName(s string) bool {
	if len(s) > 64 {
		return false
	}
	for _, r := range s {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || strings.ContainsRune("_-+.*#", r)) {
			return false
		}
	}
	return true
}

// blindTransferRing is how long an agent or extension that a call is
// blind-transferred to rings (or is waited for) before the call comes back.
const blindTransferRing = 30 * time.Second

// blindState follows a blind transfer until its target answers: from is
// the agent who sent the call; recall is set once the call, which the
// target did not take, is on its way back to them.
type blindState struct {
	from   string
	target Target
	recall bool
}

// Transfer sends a connected call on (a blind transfer, as an agent desktop
// asks through the API): the agent is released, and the caller goes to the
// target, hearing music until someone answers. A caller sent to a queue
// keeps their place and wait; one whose target agent, extension or
// number cannot take the call comes back as transfers.failed_return says:
// to the agent who sent it, or to the queue they were answered from.
func (m *Manager) Transfer(ctx context.Context, callID string, to Target) error {
	return m.controlCall(ctx, callID, control{transfer: &to, source: "api"})
}

// carryOut does what a control asks.
func (c *Call) carryOut(req control) error {
	switch {
	case req.query != nil:
		return req.query()
	case req.monitorMode != nil:
		return c.changeMonitor(req.monitorMode)
	case req.consult != nil:
		return c.startConsult(*req.consult, req.phone, req.source)
	case req.completeConsult:
		err := c.completeConsult(req)
		if err != nil {
			c.log.Info("attended transfer refused", "err", err, "source", req.source)
			go notifyReferOutcome(req.referrer, 503, "Service Unavailable")
		}
		return err
	case req.cancelConsult:
		return c.cancelConsult()
	case req.mergeConsult:
		return c.mergeConsult()
	case req.conference != nil:
		return c.startConference(*req.conference)
	case req.monitor != nil:
		return c.startMonitor(req.monitor)
	case req.unmonitor != nil:
		c.stopMonitor(req.unmonitor)
		return nil
	case req.transfer == nil:
		return c.setHold(req)
	}
	err := c.blindTransfer(*req.transfer, req)
	if err != nil && req.referrer != nil {
		// The phone waits for the REFER's outcome (and refuses a new
		// REFER until it has one): the transfer did not happen.
		c.log.Info("refer refused", "err", err)
		go notifyReferOutcome(req.referrer, 503, "Service Unavailable")
	}
	return err
}

// blindTransfer releases the agent and sends the caller to t.
func (c *Call) blindTransfer(t Target, req control) error {
	source := req.source
	if c.stage != StageTalking || c.agentLeg == nil || (req.leg != nil && req.leg != c.agentLeg) {
		return ErrNotTalking
	}
	if c.thirdLeg != nil || c.conferenceCancel != nil {
		return ErrConferenceBusy
	}
	cfg := c.rt.Config
	switch {
	case t.Kind == "queue" && cfg.Queue(t.Name) == nil,
		t.Kind == "flow" && c.rt.Flows[t.Name] == nil,
		t.Kind == "agent" && cfg.Agent(t.Name) == nil:
		return fmt.Errorf("%w: no %s", ErrBadTarget, t)
	case t.Kind == "agent" && t.Name == c.agentID:
		return fmt.Errorf("%w: the call is already with agent %s", ErrBadTarget, t.Name)
	case t.Kind == "number":
		if err := c.checkPersonTarget(t); err != nil {
			return err
		}
	}
	if c.consult != nil {
		return ErrConsultBusy
	}
	from, leg := c.agentID, c.agentLeg
	c.endTalk(c.now())
	// RFC 3515 §2.4.5: the transferor learns the outcome from a NOTIFY;
	// ours is that hotline has taken the call over.
	c.m.wg.Add(1)
	go func() {
		defer c.m.wg.Done()
		notifyReferOutcome(req.referrer, 200, "OK")
		hangupLeg(leg, "transferred")
	}()
	c.transferFallback = c.queueName
	c.cdr.TransferTo = t.String()
	c.blind = &blindState{from: from, target: t}
	c.m.deps.Metrics.agentTransfer("blind", t.Kind, "started")
	c.log.Info("blind transfer", "from_agent", from, "to", t.String(), "source", source)
	switch t.Kind {
	case "queue":
		c.requeue(t.Name)
	case "flow":
		c.stage = StageIVR
		c.flow = c.rt.Flows[t.Name]
		c.enterStage(store.StageIVR, store.Stage{Detail: t.Name})
		vars := c.callVars()
		vars["agent_id"], vars["queue"] = from, c.queueName
		run, actions := ivr.StartWith(c.flow, c.now(), vars)
		// The flow runs after the talk, as a survey does: its answer
		// (survey_score) is kept with the call and its agent, and its path
		// is not mixed into why the caller called.
		c.ivrRun, c.surveyRun = run, run
		c.countTransfer("", "connected")
		c.apply(actions)
	case "agent":
		c.stage = StageIVR // transferToAgent queues the call for that agent
		c.startTransfer(ivr.Transfer{Agent: t.Name, Timeout: blindTransferRing})
	case "extension":
		c.stage = StageIVR
		c.startTransfer(ivr.Transfer{Extension: t.Name, Timeout: blindTransferRing})
	case "number":
		c.stage = StageIVR
		c.startTransfer(ivr.Transfer{Number: t.Name, Trunk: c.rt.Config.Transfers.Trunk, Timeout: blindTransferRing})
	}
	return nil
}

// requeue puts a caller an agent sent on back in a queue, in the place
// their first enqueue gave them.
func (c *Call) requeue(queue string) {
	c.stage = StageQueued
	c.queueName, c.cdr.Queue = queue, queue
	c.enterStage(store.StageQueue, store.Stage{Queue: queue, Detail: "transferred"})
	c.waitStart = c.now()
	c.playHoldMusic(true)
	c.m.deps.ACD.Post(acd.CallQueued{
		CallID: c.id, Queue: queue, Priority: c.cdr.Priority, Transferred: true, QueuedAt: c.queuedAt,
	})
}

// transferCameBack handles a transfer whose target could not take the
// call after the flow was over (a blind transfer): the agent who sent it
// gets it back (transfers.failed_return: agent, the default), else the
// caller goes back to the queue they came from, or, with none, the call
// ends. It reports whether it took care of the call; false means the flow
// is still running and decides.
func (c *Call) transferCameBack(result string) bool {
	if !c.ivrRun.Done() {
		return false
	}
	cfg := c.rt.Config
	if b := c.blind; b != nil && !b.recall && cfg.Transfers.FailedReturn == config.FailedReturnAgent && cfg.Agent(b.from) != nil {
		b.recall = true
		c.log.Info("transfer failed, back to the agent", "result", result, "agent_id", b.from)
		c.stage = StageIVR
		c.startTransfer(ivr.Transfer{Agent: b.from, Timeout: blindTransferRing})
		return true
	}
	c.blind = nil // what happens next is the queue's, not the transfer's
	if q := c.transferFallback; q != "" && cfg.Queue(q) != nil {
		c.log.Info("transfer failed, back to the queue", "result", result, "queue", q)
		c.requeue(q)
		return true
	}
	c.hangupBy, c.cause, c.result = "system", "transfer-"+result, "failed"
	c.endCaller("transfer " + result)
	return true
}

// referred takes a REFER from the agent's phone (on a SIP goroutine): its
// target becomes a blind transfer, carried out on the call's goroutine.
// An agent's ID names that agent, a queue's or a flow's name that queue
// or flow; anything else is an extension registered here. It accepts the
// REFER (202) when the call can be transferred at all.
func (c *Call) referred(leg *hsip.OutboundCall, req hsip.ReferRequest) bool {
	t := c.m.dialedTarget(c.rt.Config, req.Target)
	if t.Kind == "number" && c.rt.Flows[req.Target] != nil {
		t.Kind = "flow"
	}
	req0 := control{transfer: &t, source: "refer", leg: leg, referrer: leg}
	if req.Replaces != nil {
		// An attended transfer: the REFER names the phone's consultation
		// call, which is to replace this leg.
		req0 = control{completeConsult: true, replaces: req.Replaces, source: "refer", leg: leg, referrer: leg}
	}
	select {
	case c.controls <- req0:
		return true
	case <-c.done:
		return false
	}
}

// waitOver ends the caller's current wait for an agent at now: the CDR's
// queue wait adds it up across queues and transfers. It returns the wait.
func (c *Call) waitOver(now time.Time) time.Duration {
	if c.waitStart.IsZero() {
		return 0
	}
	d := now.Sub(c.waitStart)
	c.cdr.QueueWait += d
	c.waitStart = time.Time{}
	return d
}

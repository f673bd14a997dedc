package call

import (
	"context"
	"errors"
	"net/netip"
	"strings"
	"time"

	"github.com/emiago/sipgo/sip"

	"github.com/hotline-cc/hotline/acd"
	"github.com/hotline-cc/hotline/ivr"
	"github.com/hotline-cc/hotline/media"
	hsip "github.com/hotline-cc/hotline/sip"
	"github.com/hotline-cc/hotline/store"
)

// transferOutcome comes back from a transfer's dialer goroutine.
type transferOutcome struct {
	leg    *hsip.OutboundCall
	ep     *media.Endpoint
	result string // "" when leg answered
	err    error  // why the dial failed
	// offerID is the ACD offer dialed (a consultation's), else 0; dial
	// tells a consultation's dials apart (direct dials have no offer).
	offerID, dial uint64
}

// transferKind names a transfer for metrics and logs.
func transferKind(t ivr.Transfer) string {
	switch {
	case t.Extension != "":
		return "extension"
	case t.Agent != "":
		return "agent"
	}
	return "number"
}

// startTransfer rings the target of an IVR transfer node while the caller
// hears music; transferred picks the outcome up in the call's loop.
func (c *Call) startTransfer(t ivr.Transfer) {
	c.transfer = t
	c.enterStage(store.StageTransfer, store.Stage{Detail: t.String()})
	if t.Agent != "" {
		c.transferToAgent(t)
		return
	}
	binding, callerID, result := c.transferTarget(t)
	if result != "" {
		c.transferred <- transferOutcome{result: result}
		return
	}
	ep, err := c.m.deps.Media.NewEndpoint(c.id, "transfer")
	if err != nil {
		c.log.Error("no media endpoint for a transfer", "err", err)
		c.transferred <- transferOutcome{result: "failed"}
		return
	}
	if p := c.rt.Prompts["moh"]; p != nil {
		// The caller never hears dead air while the target rings.
		c.playback = 0
		c.caller.Play(media.Playlist{Prompts: []*media.Prompt{p}, Loop: true})
	}
	ctx, cancel := context.WithTimeout(c.ctx, t.Timeout)
	c.transferCancel = cancel
	c.log.Info("ivr transfer", "target", t.String(), "contact", binding.Contact.String())
	req := hsip.DialRequest{
		Target: binding, CallerID: callerID, CallerName: c.in.CallerName,
		LocalRTP: c.sdpAddr(ep), Log: c.log.With("transfer", t.String()),
	}
	go c.dialInto(ctx, cancel, req, ep, func(o transferOutcome) { c.transferred <- o })
}

// transferTarget finds where a transfer rings, or says why it cannot.
func (c *Call) transferTarget(t ivr.Transfer) (binding hsip.Binding, callerID, result string) {
	cfg := c.rt.Config
	switch {
	case t.Number != "":
		trunk := cfg.OutboundTrunk()
		if t.Trunk != "" {
			trunk = cfg.Trunk(t.Trunk)
		}
		if trunk == nil || trunk.Outbound == "" {
			return binding, "", "no-trunk"
		}
		carrier, err := netip.ParseAddrPort(trunk.Outbound)
		if err != nil {
			return binding, "", "no-trunk"
		}
		// Carriers show the caller's own number when they allow it
		// (diversion); this trunk's number is what every carrier accepts.
		return hsip.Binding{
			User:      t.Number,
			Contact:   sip.Uri{Scheme: "sip", User: t.Number, Host: carrier.Addr().String(), Port: int(carrier.Port())},
			Source:    carrier.String(),
			Transport: "UDP",
		}, trunk.OutboundCallerID(), ""
	}
	b, ok := c.m.deps.SIP.Registrar().Lookup(t.Extension)
	if !ok {
		return binding, "", "unavailable"
	}
	return b, c.in.Caller, ""
}

// transferToAgent hands the call to the ACD for one agent: it waits in
// one of the agent's queues (which keeps the books: offers, wait, CDR) for
// that agent alone, up to the transfer's timeout, hearing the queue's
// music. The ACD offers it when the agent is free, or sends it back
// (RouteCall to no destination) when they cannot take it.
func (c *Call) transferToAgent(t ivr.Transfer) {
	queue, result := c.agentQueue(t.Agent)
	if result != "" {
		c.transferred <- transferOutcome{result: result}
		return
	}
	c.agentTransfer = true
	c.stage = StageQueued
	c.queueName, c.cdr.Queue = queue, queue
	if c.queuedAt.IsZero() {
		c.queuedAt = c.now() // a blind transfer keeps the first enqueue
	}
	c.waitStart = c.now()
	c.ivrTimer.Stop()
	c.log.Info("ivr transfer to an agent", "agent_id", t.Agent, "queue", queue)
	c.playHoldMusic(false)
	c.m.deps.ACD.Post(acd.CallQueued{
		CallID: c.id, Queue: queue, PreferredAgent: t.Agent, PreferredWait: t.Timeout, Exclusive: true,
	})
}

// agentQueue returns the first queue agent id serves, or why the agent
// cannot take a transfer.
func (c *Call) agentQueue(id string) (string, string) {
	ctx, cancel := context.WithTimeout(c.ctx, 2*time.Second)
	defer cancel()
	snap, err := c.m.deps.ACD.Snapshot(ctx)
	if err != nil {
		return "", "failed"
	}
	for _, a := range snap.Agents {
		if a.ID == id && len(a.Queues) > 0 {
			return a.Queues[0], ""
		}
	}
	return "", "unavailable"
}

// agentTransferFailed takes the call back from the ACD into its flow:
// the agent could not take it.
func (c *Call) agentTransferFailed(r acd.RouteCall) {
	c.agentTransfer = false
	c.cancelOffers()
	c.stage = StageIVR
	c.waitOver(c.now())
	result := strings.TrimPrefix(r.Reason, "agent-")
	switch result {
	case "ring-timeout":
		result = "no-answer"
	case "unreachable", "logged-out", "failed":
		result = "unavailable"
	}
	c.caller.StopPlayback()
	c.countTransfer("agent", result)
	c.log.Info("ivr transfer failed", "target", c.transfer.String(), "result", result)
	if c.transferCameBack(result) {
		return
	}
	c.enterStage(store.StageIVR, store.Stage{Detail: c.flow.Name()})
	c.apply(c.ivrRun.Step(ivr.EventTransferDone{Result: result}, c.now()))
}

// agentTransferConnected ends the IVR of a call whose agent transfer the
// agent answered.
func (c *Call) agentTransferConnected() {
	c.agentTransfer = false
	if c.blind == nil {
		c.cdr.TransferTo = c.transfer.String() // a blind transfer named its target
	}
	c.countTransfer("agent", "connected")
	c.ivrRun.Step(ivr.EventTransferDone{Connected: true}, c.now())
	c.ivrDone()
}

// countTransfer counts a transfer's outcome: an IVR transfer node's
// (ivrKind), or, while an agent's blind transfer is under way, that
// transfer's. A blind transfer's call coming back to its agent is
// "returned"; the recall's own failures are not the transfer's.
func (c *Call) countTransfer(ivrKind, result string) {
	b := c.blind
	if b == nil {
		c.m.deps.Metrics.transfer(ivrKind, result)
		return
	}
	if b.recall {
		if result != "connected" {
			return
		}
		result = "returned"
	}
	c.m.deps.Metrics.agentTransfer("blind", b.target.Kind, result)
	if result == "connected" || result == "returned" {
		c.blind = nil
	}
}

// transferFailure says why a transfer's dial failed, as the flow's
// transfer_result variable has it.
func transferFailure(err error, ctx context.Context) string {
	var de *hsip.DialError
	switch {
	case errors.As(err, &de) && de.Kind == hsip.DialFailureBusy:
		return "busy"
	case errors.As(err, &de) && de.Kind == hsip.DialFailureRejected:
		return "rejected"
	case errors.As(err, &de) && de.Kind == hsip.DialFailureUnreachable:
		return "unavailable"
	case ctx.Err() != nil:
		return "no-answer"
	}
	return "failed"
}

// transferDone takes a transfer's outcome: bridge the caller to the target,
// or tell the flow it failed.
func (c *Call) transferDone(o transferOutcome) {
	c.transferCancel = nil
	kind := transferKind(c.transfer)
	if c.stage != StageIVR {
		// The caller left while the target rang.
		if o.leg != nil {
			c.goHangup(o.leg, "caller-gone")
		}
		if o.ep != nil {
			o.ep.Close()
		}
		return
	}
	if o.result != "" {
		if o.ep != nil {
			o.ep.Close()
		}
		c.caller.StopPlayback()
		c.countTransfer(kind, o.result)
		c.log.Info("ivr transfer failed", "target", c.transfer.String(), "result", o.result)
		if !c.transferCameBack(o.result) {
			c.enterStage(store.StageIVR, store.Stage{Detail: c.flow.Name()})
			c.apply(c.ivrRun.Step(ivr.EventTransferDone{Result: o.result}, c.now()))
		}
		return
	}
	c.countTransfer(kind, "connected")
	o.ep.SetRemote(media.Remote{Addr: o.leg.Answer.Addr, Codec: codecOf(o.leg.PayloadType), DTMFPayloadType: o.leg.Answer.DTMFPayloadType})
	c.caller.StopPlayback()
	media.Bridge(c.caller, o.ep)
	c.targetLeg, c.targetEP = o.leg, o.ep
	c.stage = StageTransferred
	c.enterStage(store.StageTalk, store.Stage{Detail: c.transfer.String()})
	c.ivrTimer.Stop()
	c.talkStart = c.now()
	if c.cdr.TransferTo == "" {
		c.cdr.TransferTo = c.transfer.String()
	}
	c.apply(c.ivrRun.Step(ivr.EventTransferDone{Connected: true}, c.now()))
	c.ivrDone()
	c.log.Info("ivr transfer connected", "target", c.cdr.TransferTo)
	if err := c.m.deps.Store.CallUpdated(context.Background(), c.cdr); err != nil {
		c.log.Error("cdr update", "err", err)
	}
}

// targetGone: the transfer's target hung up; so does the caller.
func (c *Call) targetGone() {
	if c.hangupBy == "" {
		c.hangupBy, c.cause = "target", "bye"
	}
	c.setResult("transferred")
	c.endCaller("transfer-target-hangup")
}

// dialInto dials req (on its own goroutine) and reports the outcome, into
// an inbox buffered for the dials a call can have in flight of its kind;
// cancel releases ctx.
func (c *Call) dialInto(ctx context.Context, cancel context.CancelFunc, req hsip.DialRequest, ep *media.Endpoint, report func(transferOutcome)) {
	defer cancel()
	leg, err := c.m.deps.SIP.Dial(ctx, req)
	out := transferOutcome{leg: leg, ep: ep, err: err}
	if err != nil {
		out.result = transferFailure(err, ctx)
	}
	report(out)
}

// abandonDial stops a dial still in flight at the end of the call (cancel
// nil: none) and, in the background, hangs up a leg that answered anyway
// and closes its endpoint.
func (c *Call) abandonDial(cancel context.CancelFunc, inbox <-chan transferOutcome) {
	if cancel == nil {
		return
	}
	cancel()
	c.m.wg.Add(1)
	go func() {
		defer c.m.wg.Done()
		o := <-inbox
		if o.leg != nil {
			hangupLeg(o.leg, "caller-gone")
		}
		if o.ep != nil {
			o.ep.Close()
		}
	}()
}

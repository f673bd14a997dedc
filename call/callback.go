package call

import (
	"context"
	"errors"
	"log/slog"
	"net/netip"
	"runtime/debug"
	"time"

	"github.com/emiago/sipgo/sip"

	"github.com/hotline-cc/hotline/acd"
	"github.com/hotline-cc/hotline/config"
	"github.com/hotline-cc/hotline/media"
	hsip "github.com/hotline-cc/hotline/sip"
	"github.com/hotline-cc/hotline/store"
)

// customerRingTimeout is how long a callback lets the customer's phone ring:
// long enough for a mobile in a pocket, short of a carrier's voicemail.
const customerRingTimeout = 30 * time.Second

// callbackAttempt is one try at a callback the ACD offered: ring the agent
// it chose, whisper "callback" to them, then call the customer through the
// outbound trunk and bridge the two. It runs on its own goroutine.
type callbackAttempt struct {
	m     *Manager
	offer acd.OfferCall
	log   *slog.Logger
	// stopRing withdraws the offer (CancelOffer): while the agent rings it
	// stops the ringing; after they answered (a late answer the ACD
	// refused) it ends the attempt.
	stopRing context.CancelFunc
	// answered is set once OfferAnswered is posted (on the attempt's
	// goroutine; read by its recover).
	answered bool
}

// startCallback runs an offered callback. Attempts are keyed by offer:
// the ACD may offer the same callback again (after a ring timeout) while
// the last attempt's dialer is still cleaning up.
func (m *Manager) startCallback(o acd.OfferCall) {
	select {
	case <-m.draining:
		// Shutting down: the callback keeps its place for the next start.
		m.postLater(acd.OfferFailed{OfferID: o.OfferID, Reason: acd.OfferNotPlaced})
		return
	default:
	}
	// The ACD cancels on its ring timeout; the deadline and the shutdown
	// watch below only matter if the ACD has stopped.
	ringCtx, stopRing := context.WithTimeout(context.Background(), o.RingTimeout+10*time.Second)
	att := &callbackAttempt{m: m, offer: o, stopRing: stopRing,
		log: m.deps.Log.With("call_id", o.CallID, "callback_id", o.CallbackID, "agent_id", o.AgentID)}
	m.callbacks.Store(o.OfferID, att)
	m.wg.Add(1)
	go func() {
		defer m.wg.Done()
		defer m.callbacks.Delete(o.OfferID)
		defer stopRing()
		defer func() {
			// One attempt's bug must not take every call down.
			if r := recover(); r != nil {
				att.log.Error("callback attempt panicked", "panic", r, "stack", string(debug.Stack()))
				if att.answered {
					m.deps.ACD.Post(acd.CallbackFailed{CallID: o.CallID, Result: "internal-error"})
				} else {
					m.deps.ACD.Post(acd.OfferFailed{OfferID: o.OfferID, Reason: acd.OfferNotPlaced})
				}
			}
		}()
		go func() {
			select {
			case <-m.stopping:
				stopRing()
			case <-ringCtx.Done():
			}
		}()
		att.run(ringCtx)
	}()
}

// cancelCallback withdraws the agent's ringing for a callback offer (ring
// timeout, agent logged out). Once the agent answered it is too late: the
// ACD then hears OfferAnswered as a late answer and the attempt ends.
func (m *Manager) cancelCallback(c acd.CancelOffer) {
	v, ok := m.callbacks.Load(c.OfferID)
	if !ok {
		return
	}
	att := v.(*callbackAttempt)
	att.log.Info("callback offer canceled", "reason", c.Reason.String())
	att.stopRing()
}

func (a *callbackAttempt) run(ringCtx context.Context) {
	m, o := a.m, a.offer
	rt := m.deps.Runtime()
	trunk := rt.Config.OutboundTrunk()
	fail := func(reason acd.OfferFailure, why string, err error) {
		if ringCtx.Err() != nil {
			return // withdrawn: the ACD has moved on
		}
		a.log.Warn("callback offer failed", "why", why, "err", err)
		m.deps.ACD.Post(acd.OfferFailed{OfferID: o.OfferID, Reason: reason})
	}
	if trunk == nil {
		fail(acd.OfferNotPlaced, "no trunk has an outbound address", nil)
		return
	}
	carrier, err := netip.ParseAddrPort(trunk.Outbound)
	if err != nil {
		fail(acd.OfferNotPlaced, "bad outbound address", err)
		return
	}
	binding, ok := m.deps.SIP.Registrar().Lookup(o.Device)
	if !ok {
		fail(acd.OfferUnreachable, "agent phone not registered", errNoBinding)
		return
	}
	agentEP, err := m.deps.Media.NewEndpoint(o.CallID, "agent")
	if err != nil {
		fail(acd.OfferNotPlaced, "no media endpoint", err)
		return
	}
	defer agentEP.Close()
	agentLeg, err := m.deps.SIP.Dial(ringCtx, hsip.DialRequest{
		Target: binding, CallerID: o.Number, CallerName: "Callback " + o.Queue,
		LocalRTP: advertisedAddr(rt.Config, agentEP), Log: a.log,
	})
	if err != nil {
		fail(failureOf(err), "agent did not answer", err)
		return
	}
	defer hangupLeg(agentLeg, "callback-end")
	if ringCtx.Err() != nil {
		// Answered as the ACD withdrew the offer: the ACD will refuse the answer.
		a.log.Info("agent answered a withdrawn callback offer")
		return
	}
	agentEP.SetRemote(media.Remote{Addr: agentLeg.Answer.Addr, Codec: codecOf(agentLeg.PayloadType), DTMFPayloadType: agentLeg.Answer.DTMFPayloadType})
	m.deps.ACD.Post(acd.OfferAnswered{OfferID: o.OfferID, CallID: o.CallID, AgentID: o.AgentID})
	a.answered = true
	a.log.Info("callback: agent answered, calling the customer", "number", o.Number, "attempt", o.Attempt)
	if p := rt.Prompts["whisper_callback"]; p != nil {
		agentEP.Play(media.Playlist{Prompts: []*media.Prompt{p}})
	}

	result, customerLeg, customerEP := a.dialCustomer(ringCtx, agentLeg, carrier, trunk)
	if ringCtx.Err() != nil {
		// The ACD refused the answer (it came after a ring timeout): the
		// callback is back in its place, this attempt never happened.
		a.log.Info("callback offer withdrawn after the agent answered")
		if customerLeg != nil {
			customerEP.Close()
			hangupLeg(customerLeg, "callback-withdrawn")
		}
		return
	}
	if customerLeg == nil {
		m.deps.ACD.Post(acd.CallbackFailed{CallID: o.CallID, Result: result})
		a.recordAttempt("", result)
		return
	}
	defer customerEP.Close()
	defer hangupLeg(customerLeg, "callback-end")
	a.recordAttempt(customerLeg.ID, "answered")
	a.talk(agentLeg, agentEP, customerLeg, customerEP, trunk.Name)
	m.deps.ACD.Post(acd.CallEnded{CallID: o.CallID})
}

// dialCustomer calls the customer through the carrier while the agent
// listens to the ringing. It returns the customer's leg, or why not.
func (a *callbackAttempt) dialCustomer(withdrawn context.Context, agentLeg *hsip.OutboundCall, carrier netip.AddrPort, trunk *config.Trunk) (string, *hsip.OutboundCall, *media.Endpoint) {
	m, o := a.m, a.offer
	ep, err := m.deps.Media.NewEndpoint(o.CallID, "customer")
	if err != nil {
		a.log.Error("no media endpoint for the customer", "err", err)
		return "failed", nil, nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), customerRingTimeout)
	defer cancel()
	go func() {
		// The agent giving up, or the ACD withdrawing the offer, ends the
		// attempt.
		select {
		case <-agentLeg.Done():
			cancel()
		case <-withdrawn.Done():
			cancel()
		case <-m.stopping:
			cancel()
		case <-ctx.Done():
		}
	}()
	target := hsip.Binding{
		User:      o.Number,
		Contact:   sip.Uri{Scheme: "sip", User: o.Number, Host: carrier.Addr().String(), Port: int(carrier.Port())},
		Source:    carrier.String(),
		Transport: "UDP",
	}
	leg, err := m.deps.SIP.Dial(ctx, hsip.DialRequest{
		Target: target, CallerID: trunk.OutboundCallerID(), CallerName: o.Queue,
		LocalRTP: advertisedAddr(m.deps.Runtime().Config, ep), Log: a.log.With("trunk", trunk.Name),
	})
	if err != nil {
		ep.Close()
		result := "no-answer"
		var de *hsip.DialError
		switch {
		case agentLegEnded(agentLeg):
			result = "agent-hung-up"
		case errors.As(err, &de) && de.Kind == hsip.DialFailureBusy:
			result = "busy"
		case errors.As(err, &de) && de.Kind == hsip.DialFailureRejected:
			result = "rejected"
		case errors.As(err, &de) && de.Kind == hsip.DialFailureUnreachable:
			result = "unreachable"
		}
		a.log.Info("callback: customer not reached", "result", result, "err", err)
		return result, nil, nil
	}
	ep.SetRemote(media.Remote{Addr: leg.Answer.Addr, Codec: codecOf(leg.PayloadType), DTMFPayloadType: leg.Answer.DTMFPayloadType})
	return "answered", leg, ep
}

func agentLegEnded(leg *hsip.OutboundCall) bool {
	select {
	case <-leg.Done():
		return true
	default:
		return false
	}
}

// talk bridges agent and customer, records them and writes the callback's
// CDR, until either hangs up.
func (a *callbackAttempt) talk(agentLeg *hsip.OutboundCall, agentEP *media.Endpoint, customerLeg *hsip.OutboundCall, customerEP *media.Endpoint, trunk string) {
	m, o := a.m, a.offer
	start := m.deps.Clock.Now()
	cdr := store.CDR{
		CallID: customerLeg.ID, Caller: o.AgentID, Called: o.Number, Trunk: trunk, Start: start, Answer: start,
		Queue: o.Queue, AgentID: o.AgentID, CallbackID: o.CallbackID, Result: "callback",
	}
	rec, path := m.createRecording(customerLeg.ID, start, a.log)
	if rec != nil {
		cdr.RecordingPath = path
		customerEP.Record(rec)
	}
	if err := m.deps.Store.CallAnswered(context.Background(), cdr); err != nil {
		a.log.Error("cdr insert", "err", err)
	}
	media.Bridge(customerEP, agentEP)
	a.log.Info("callback connected", "customer_call_id", customerLeg.ID)
	hangupBy := "system"
	select {
	case <-customerLeg.Done():
		hangupBy = "customer"
	case <-agentLeg.Done():
		hangupBy = "agent"
	case <-m.stopping:
	}
	media.Unbridge(customerEP)
	customerEP.Record(nil)
	if rec != nil {
		if err := rec.Close(); err != nil {
			a.log.Error("recording close", "err", err)
		}
	}
	end := m.deps.Clock.Now()
	cdr.End, cdr.Talk, cdr.HangupBy, cdr.HangupCause = end, end.Sub(start), hangupBy, "bye"
	if err := m.deps.Store.CallEnded(context.Background(), cdr); err != nil {
		a.log.Error("cdr final write", "err", err)
	}
	a.log.Info("callback ended", "hangup_by", hangupBy, "talk", cdr.Talk.Round(time.Millisecond).String())
}

func (a *callbackAttempt) recordAttempt(callID, result string) {
	err := a.m.deps.Store.RecordCallbackAttempt(context.Background(), store.CallbackAttempt{
		CallbackID: a.offer.CallbackID, At: a.m.deps.Clock.Now(), AgentID: a.offer.AgentID, CallID: callID, Result: result,
	})
	if err != nil {
		a.log.Error("callback attempt record", "err", err)
	}
}

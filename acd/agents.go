package acd

import (
	"strings"

	"github.com/hotline-cc/hotline/config"

	"math"
	"time"
)

// staffed reports whether an agent in state s counts as working the
// queue, for the estimated wait.
func staffed(s AgentState) bool {
	switch s {
	case AgentStateAvailable, AgentStateRinging, AgentStateOnCall, AgentStateOnHold, AgentStateWrapUp:
		return true
	case AgentStateUnknown, AgentStateLoggedOut, AgentStateNotReady:
	}
	return false
}

// setAgentState changes an agent's state and reports it for the audit.
func (st *State) setAgentState(a *agent, to AgentState, reason, source string, now time.Time) {
	from := a.state
	if from == to && a.reason == reason {
		return
	}
	if was, is := staffed(from), staffed(to); was != is {
		for _, m := range a.memberships {
			if m.stage == 0 {
				if is {
					m.queue.staffed++
				} else {
					m.queue.staffed--
				}
			}
		}
	}
	inState := now.Sub(a.since)
	a.state, a.reason, a.since = to, reason, now
	var callID string
	switch {
	case a.offer != nil:
		callID = a.offer.call.id
	case a.call != nil:
		callID = a.call.id
	case from == AgentStateWrapUp || to == AgentStateWrapUp:
		// After-call work belongs to the call just ended.
		callID = a.wrapCallID
	}
	if from == AgentStateWrapUp && to != AgentStateWrapUp {
		a.wrapCallID = ""
	}
	st.emit(CommandAgentState).AgentState = AgentStateChanged{
		AgentID: a.id, Device: a.device, From: from, To: to, Reason: reason, Source: source, CallID: callID,
		InStateFor: inState,
	}
}

func (st *State) agentLoggedIn(ev AgentLoggedIn, now time.Time) {
	a := st.agents[ev.AgentID]
	if a == nil || a.retired {
		st.counters.UnknownEvents++
		return
	}
	if ev.Device != "" && ev.Device != a.device {
		if other := st.devices[ev.Device]; other != nil && other != a {
			// Hot-desking: the phone's previous agent leaves it.
			st.agentLoggedOut(other.id, ReasonTakenOver, ev.Source, now)
			if other.device == ev.Device {
				// They were on a call, so their logout waits for its end;
				// the phone is the new agent's from now on (the devices
				// index holds one agent per phone).
				other.device = ""
			}
		}
		if st.devices[a.device] == a {
			delete(st.devices, a.device)
		}
		a.device, a.deviceSince = ev.Device, now
		st.devices[a.device] = a
	}
	switch a.state {
	case AgentStateLoggedOut, AgentStateUnknown:
		// A newly logged-in agent queues behind those already idle.
		a.idleSince = now
		a.counters.MissedInARow = 0
		st.setAgentState(a, AgentStateAvailable, "", ev.Source, now)
		st.makeIdle(a)
	default:
		// A registration refresh, or a login again during a call: forget a
		// pending logout, change nothing else (not even the idle time).
		if a.pending.state == AgentStateLoggedOut {
			a.pending = pendingState{}
		}
	}
}

func (st *State) deviceUnregistered(device string, now time.Time) {
	a := st.devices[device]
	if a == nil {
		st.counters.StaleEvents++
		return
	}
	st.agentLoggedOut(a.id, ReasonDeviceGone, "register", now)
}

func (st *State) agentLoggedOut(agentID, reason, source string, now time.Time) {
	a := st.agents[agentID]
	if a == nil {
		st.counters.UnknownEvents++
		return
	}
	switch a.state {
	case AgentStateRinging:
		st.cancelOffer(a.offer, CancelAgentLoggedOut, now)
		st.setLoggedOut(a, reason, source, now)
	case AgentStateOnCall, AgentStateOnHold:
		// The call goes on; the logout takes effect when it ends. Callers
		// waiting for this agent by name need not wait for that: the agent
		// takes no call after this one.
		a.pending = pendingState{state: AgentStateLoggedOut, reason: reason, source: source}
		st.releaseDedicated(a, now)
	case AgentStateAvailable, AgentStateWrapUp, AgentStateNotReady:
		st.setLoggedOut(a, reason, source, now)
	case AgentStateLoggedOut, AgentStateUnknown:
	}
	st.releaseAgentIfRetired(a, now)
}

func (st *State) setLoggedOut(a *agent, reason, source string, now time.Time) {
	st.leaveIdle(a)
	st.stopAgentTimer(a)
	a.pending = pendingState{}
	st.setAgentState(a, AgentStateLoggedOut, reason, source, now)
	if st.devices[a.device] == a {
		delete(st.devices, a.device)
	}
	a.device = ""
	st.releaseDedicated(a, now)
}

func (st *State) agentStateRequested(ev AgentStateRequested, now time.Time) {
	a := st.agents[ev.AgentID]
	if a == nil {
		st.counters.UnknownEvents++
		return
	}
	switch ev.State {
	case AgentStateLoggedOut:
		st.agentLoggedOut(a.id, ev.Reason, ev.Source, now)
		return
	case AgentStateAvailable, AgentStateNotReady:
	default:
		st.counters.UnknownEvents++
		return
	}
	switch a.state {
	case AgentStateLoggedOut, AgentStateUnknown:
		// Log in first: the ACD would not know which phone to ring.
		st.counters.UnknownEvents++
	case AgentStateRinging, AgentStateOnCall, AgentStateOnHold:
		a.pending = pendingState{state: ev.State, reason: ev.Reason, source: ev.Source}
		if ev.State == AgentStateNotReady {
			// As for a logout during a call: the callers waiting for this
			// agent by name are released now, not when the break starts.
			st.releaseDedicated(a, now)
		}
	case AgentStateAvailable, AgentStateNotReady, AgentStateWrapUp:
		st.applyRequested(a, ev.State, ev.Reason, ev.Source, now)
	}
}

// applyRequested moves a free agent (available, not-ready or in wrap-up)
// to available or not-ready.
func (st *State) applyRequested(a *agent, to AgentState, reason, source string, now time.Time) {
	a.pending = pendingState{} // the latest request wins
	if to == AgentStateAvailable {
		reason = ""
		if a.state == AgentStateAvailable {
			return // already; a cool-down runs its course
		}
	}
	if a.state == AgentStateWrapUp {
		st.recordHandleTime(a, now)
	}
	st.leaveIdle(a)
	st.stopAgentTimer(a)
	wasAvailable := a.state == AgentStateAvailable
	st.setAgentState(a, to, reason, source, now)
	if to == AgentStateNotReady {
		st.releaseDedicated(a, now)
		return
	}
	if !wasAvailable {
		// Idle time counts from the end of wrap-up or of the break.
		a.idleSince = now
	}
	a.counters.MissedInARow = 0
	st.makeIdle(a)
}

func (st *State) wrapUpDone(ev WrapUpDone, now time.Time) {
	a := st.agents[ev.AgentID]
	if a == nil {
		st.counters.UnknownEvents++
		return
	}
	if a.state != AgentStateWrapUp {
		st.counters.StaleEvents++
		return
	}
	st.finishWork(a, ev.Source, now)
}

// endAgentCall frees the agent of a connected call that ended: wrap-up if
// the queue asks for it, else straight on.
func (st *State) endAgentCall(a *agent, now time.Time) {
	c := a.call
	a.call = nil
	if wrap := c.queue.spec.WrapUp; wrap > 0 && a.pending.state != AgentStateLoggedOut && !a.retired {
		a.wrapCallID = c.id
		st.setAgentState(a, AgentStateWrapUp, "", "acd", now)
		a.coolingDown = false
		st.setTimer(&a.timer, now.Add(wrap))
		return
	}
	st.recordHandleTime(a, now)
	st.finishWork(a, "acd", now)
}

// recordHandleTime feeds the agent's last call (talk plus wrap-up) into
// the moving average behind estimated waits.
func (st *State) recordHandleTime(a *agent, now time.Time) {
	if a.callStart.IsZero() {
		return
	}
	handled := now.Sub(a.callStart)
	a.callStart = time.Time{}
	for _, m := range a.memberships {
		if q := m.queue; q.handleTime == 0 {
			q.handleTime = handled
		} else {
			// An exponential average over about the last five calls.
			q.handleTime += (handled - q.handleTime) / 5
		}
	}
}

// finishWork ends an agent's work on a call (after wrap-up, or at once):
// idle time starts now, and a state asked for during the call applies.
func (st *State) finishWork(a *agent, source string, now time.Time) {
	if a.state == AgentStateWrapUp {
		st.recordHandleTime(a, now)
	}
	st.stopAgentTimer(a)
	a.idleSince = now
	p := a.pending
	a.pending = pendingState{}
	switch {
	case p.state == AgentStateLoggedOut:
		st.setLoggedOut(a, p.reason, p.source, now)
	case a.retired:
		// Removed by a reload while at work: straight to logged out (and
		// deleted below), never shown available in between.
		st.setLoggedOut(a, ReasonRemoved, "acd", now)
	case p.state == AgentStateNotReady:
		st.setAgentState(a, AgentStateNotReady, p.reason, p.source, now)
		st.releaseDedicated(a, now)
	default:
		st.setAgentState(a, AgentStateAvailable, "", source, now)
		st.makeIdle(a)
	}
	st.releaseAgentIfRetired(a, now)
}

func (st *State) agentTimerExpired(a *agent, now time.Time) {
	a.timer.at = time.Time{}
	switch {
	case a.coolingDown:
		a.coolingDown = false
		st.makeIdle(a)
	case a.state == AgentStateWrapUp:
		st.finishWork(a, "acd", now)
	}
}

func (st *State) stopAgentTimer(a *agent) {
	st.stopTimer(&a.timer)
	a.coolingDown = false
}

// makeIdle puts an available agent into the idle heap of each of their
// queues and marks those queues (and callers waiting for the agent by name)
// for dispatch.
func (st *State) makeIdle(a *agent) {
	if a.inIdleHeaps || a.retired || a.state != AgentStateAvailable || a.coolingDown {
		return
	}
	a.inIdleHeaps = true
	idleKey := unixNanos(a.idleSince)
	for _, m := range a.memberships {
		m.idleKey, m.agentRank = idleKey, a.rank
		m.queue.idle[m.stage].push(m)
		st.markDirty(m.queue)
	}
	if a.dedicated.len() > 0 {
		st.markAgentDirty(a)
	}
}

// leaveIdle takes an agent out of every idle heap.
func (st *State) leaveIdle(a *agent) {
	if !a.inIdleHeaps {
		return
	}
	a.inIdleHeaps = false
	for _, m := range a.memberships {
		m.queue.idle[m.stage].remove(m.heapIndex)
	}
}

func (st *State) offerAnswered(ev OfferAnswered, now time.Time) {
	o := st.offers[ev.OfferID]
	if o != nil && (ev.CallID != "" && ev.CallID != o.call.id || ev.AgentID != "" && ev.AgentID != o.agent.id) {
		// An answer that names another call or agent than the offer: a
		// conductor bug; never connect the wrong pair.
		st.counters.StaleEvents++
		return
	}
	if o == nil {
		st.counters.StaleEvents++
		if ev.CallID != "" {
			// The phone answered after we withdrew the offer (ring timeout,
			// logout): the call is back in its queue, so the leg must go.
			st.emit(CommandCancelOffer).Cancel = CancelOffer{OfferID: ev.OfferID, CallID: ev.CallID, AgentID: ev.AgentID, Reason: CancelLateAnswer}
		}
		return
	}
	c, a := o.call, o.agent
	q := c.queue
	st.endOffer(o)
	q.counters.OffersByResult[OfferResultAnswered]++
	a.counters.OffersByResult[OfferResultAnswered]++
	a.counters.CallsAnswered++
	a.counters.MissedInARow = 0
	st.stopTimer(&c.timer)
	q.callers--
	c.state, c.agent = callConnected, a
	a.call, a.callStart = c, now
	if c.callback {
		c.attempts++
		st.callbackChanged(c, "dialing", now)
	} else {
		wait := now.Sub(c.queuedAt)
		q.counters.CallsConnected++
		q.counters.ConnectedWait += wait
		st.exit(c, q, ExitConnected, c.slOutcome(q, ExitConnected, wait), a.id, now)
	}
	st.setAgentState(a, AgentStateOnCall, "", "acd", now)
	st.releaseQueueIfRetired(q)
}

func (st *State) offerFailed(offerID uint64, reason OfferFailure, now time.Time) {
	o := st.offers[offerID]
	if o == nil {
		st.counters.StaleEvents++
		return
	}
	st.failOffer(o, resultOfFailure(reason), now)
}

// cancelOffer withdraws an offer the ACD decided to end and tells the
// conductor.
func (st *State) cancelOffer(o *offer, reason CancelReason, now time.Time) {
	st.emit(CommandCancelOffer).Cancel = CancelOffer{
		OfferID: o.id,
		CallID:  o.call.id,
		AgentID: o.agent.id,
		Reason:  reason,
	}
	st.failOffer(o, resultOfCancel(reason), now)
}

// failOffer ends an unanswered offer: the call regains its place in its
// queue and the agent is available again with the idle time they had. An
// agent at fault (no answer, rejection, ring timeout) sits out a cool-down,
// or goes not-ready after too many ring-outs in a row.
func (st *State) failOffer(o *offer, result OfferResult, now time.Time) {
	c, a := o.call, o.agent
	q := c.queue
	if result == OfferResultNotPlaced && !c.callback {
		// Only callbacks may be refused this way; for a call it would loop
		// (the same agent, at once), so it counts as unreachable.
		result = OfferResultUnreachable
	}
	st.endOffer(o)
	q.counters.OffersByResult[result]++
	a.counters.OffersByResult[result]++

	// A dedicated agent gets one try; then anyone qualified.
	c.preferred, c.dedicatedUntil = nil, time.Time{}
	if result == OfferResultNotPlaced && c.callback {
		// The conductor cannot place callbacks right now (no outbound
		// trunk, shutting down): hold this one back a while, in its place,
		// rather than hand it from agent to agent.
		c.state, c.notBefore = callScheduled, now.Add(st.cooldown)
		st.armCallTimer(c, now)
	} else {
		st.enqueue(c)
	}

	if result.missed() {
		a.counters.MissedInARow++
	}
	p := a.pending
	a.pending = pendingState{}
	switch {
	case p.state == AgentStateLoggedOut || result == OfferResultAgentLoggedOut:
		// setLoggedOut (below, or in agentLoggedOut) takes the agent from
		// ringing straight to logged out: the audit must not show them
		// available for an instant, as if they could take a call.
	case a.retired:
		// As in finishWork: removed by a reload, off the ACD at once.
		st.setLoggedOut(a, ReasonRemoved, "acd", now)
	case p.state == AgentStateNotReady:
		st.setAgentState(a, AgentStateNotReady, p.reason, p.source, now)
		st.releaseDedicated(a, now)
	case result.missed() && st.missedMax > 0 && a.counters.MissedInARow >= st.missedMax:
		st.setAgentState(a, AgentStateNotReady, ReasonMissed, "acd", now)
		st.releaseDedicated(a, now)
	default:
		st.setAgentState(a, AgentStateAvailable, "", "acd", now)
		if result.agentAtFault() {
			c.rememberFailure(a)
			a.coolingDown = true
			st.setTimer(&a.timer, now.Add(st.cooldown))
		} else {
			st.makeIdle(a)
		}
	}
	if p.state == AgentStateLoggedOut {
		st.setLoggedOut(a, p.reason, p.source, now)
	}
	if c.exclusive && c.state == callWaiting && result != OfferResultCallMoved && result != OfferResultCallerAbandoned {
		// Only this agent could take the call, and did not: back to its
		// flow, with why.
		st.sendTo(c, q, nil, config.Destination{}, "agent-"+strings.TrimPrefix(result.String(), "agent-"), 0, now)
	}
	if a.state != AgentStateRinging {
		// (A ringing agent here is being logged out: agentLoggedOut
		// finishes that and releases them.)
		st.releaseAgentIfRetired(a, now)
	}
}

// endOffer unlinks an offer from everything that refers to it.
func (st *State) endOffer(o *offer) {
	st.stopTimer(&o.timer)
	delete(st.offers, o.id)
	o.call.queue.offering--
	o.call.offer = nil
	o.agent.offer = nil
	*o = offer{}
	st.freeOffers = append(st.freeOffers, o)
}

// unixNanos orders times as int64; the zero time sorts first.
func unixNanos(t time.Time) int64 {
	if t.IsZero() {
		return math.MinInt64
	}
	return t.UnixNano()
}

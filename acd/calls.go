package acd

import (
	"time"

	"github.com/hotline-cc/hotline/config"
)

// maxMoveChain bounds how many queues one call may be passed through in a
// single step (closed → overflow → full → ...). The configuration refuses
// cycles; this is the belt to those braces.
const maxMoveChain = 8

func (st *State) callQueued(ev CallQueued, now time.Time) {
	q := st.queues[ev.Queue]
	if q == nil || q.retired {
		st.counters.UnknownEvents++
		return
	}
	if _, dup := st.calls[ev.CallID]; dup {
		st.counters.StaleEvents++
		return
	}
	c := st.newCall()
	st.lastCallSeq++
	*c = call{
		id:       ev.CallID,
		priority: ev.Priority,
		queuedAt: now,
		seq:      st.lastCallSeq,
		heapIdx:  -1,
	}
	c.timer = timer{call: c, index: -1}
	st.calls[c.id] = c
	if a := st.agents[ev.PreferredAgent]; a != nil {
		c.preferred = a
		c.dedicatedUntil = now.Add(max(ev.PreferredWait, 0))
	}
	c.exclusive = ev.Exclusive
	c.transferred = ev.Transferred
	if ev.Transferred && !ev.QueuedAt.IsZero() && !ev.QueuedAt.After(now) {
		c.queuedAt = ev.QueuedAt
	}
	st.admit(c, q, nil, "", 0, now)
}

// admit puts c into q, or sends it on when q is closed or full. reason is
// empty for a new call and says why a moving call left its last queue;
// asked is the queue a new caller asked for when closed or full queues sent
// them on to q, nil for a call that waited in a queue or is new.
//
// Callbacks are not callers on the line: a closed or full queue still takes
// them, since routing them to a flow or a busy tone means nothing (and would
// lose the callback without a "failed" report).
func (st *State) admit(c *call, q *queue, asked *queue, reason string, depth int, now time.Time) {
	spec := &q.spec
	if asked == nil && c.queue == nil {
		asked = q
	}
	switch {
	case c.exclusive:
		// A transfer to one agent: the queue only keeps the books.
	case !c.callback && spec.Hours != nil && !spec.Hours.Open(now):
		st.sendTo(c, q, asked, spec.ClosedDest, "closed", depth, now)
		return
	case !c.callback && spec.MaxWaiting > 0 && q.callers >= spec.MaxWaiting:
		st.sendTo(c, q, asked, spec.FullDest, "queue-full", depth, now)
		return
	}
	from := c.queue
	c.queue = q
	c.enteredAt = now
	c.stage, c.stepsDone = 0, 0
	c.setOrderKey()
	q.callers++
	switch {
	case from != nil:
		q.counters.CallsMovedIn++
		from.counters.CallsMovedOut++
		st.emit(CommandMove).Move = CallMoved{CallID: c.id, From: from.name, To: q.name, Reason: reason}
		if c.callback {
			// The merge index is by queue: it must follow the callback, or
			// dropCall (which looks under the new queue) would leave it
			// pointing at a recycled call.
			if k := (callbackKey{from.name, c.number}); st.callbacks[k] == c {
				delete(st.callbacks, k)
			}
			if k := (callbackKey{q.name, c.number}); st.callbacks[k] == nil {
				st.callbacks[k] = c
			}
		}
	case asked != q:
		// A new caller sent on by a closed or full queue: it first queues
		// here, but the conductor still believes it is in the queue it
		// asked for, and must hear of the move to play this queue's music
		// and name it in the CDR.
		q.counters.CallsQueued++
		st.emit(CommandMove).Move = CallMoved{CallID: c.id, From: asked.name, To: q.name, Reason: reason}
	default:
		q.counters.CallsQueued++
	}
	c.maxWaitAt = time.Time{}
	if spec.MaxWait > 0 && !c.callback {
		// Max wait bounds a caller's time on hold; a callback has no caller
		// holding on.
		c.maxWaitAt = now.Add(spec.MaxWait)
	}
	c.announceAt = time.Time{}
	if spec.PositionEvery > 0 && !c.callback {
		c.announceAt = now.Add(spec.PositionEvery)
	}
	if c.exclusive {
		c.maxWaitAt, c.announceAt = time.Time{}, time.Time{}
		c.stepsDone = len(spec.Escalation)
	}
	if p := c.preferred; p != nil && st.waitsFor(c, p) {
		c.state = callDedicated
		p.dedicated.push(c)
		if p.inIdleHeaps {
			st.markAgentDirty(p)
		} else if !c.callback {
			// Tell the caller at once that their advisor is coming.
			st.announce(c, now)
		}
	} else if c.exclusive {
		st.exclusiveFailed(c, "agent-unavailable", now)
		return
	} else {
		c.preferred = nil
		c.dedicatedUntil = time.Time{}
		st.enqueue(c)
	}
	st.armCallTimer(c, now)
}

// exclusiveFailed sends an exclusive call back to its flow: its agent
// cannot take it. c is in no heap, but still counted in its queue.
func (st *State) exclusiveFailed(c *call, reason string, now time.Time) {
	c.state = callUnknown
	c.queue.callers--
	st.sendTo(c, c.queue, nil, config.Destination{}, reason, 0, now)
}

// waitsFor reports whether a new call should wait for its preferred agent:
// they must be working (not logged out or on a break, nor about to be after
// their current call), and either free now or worth waiting for.
func (st *State) waitsFor(c *call, a *agent) bool {
	if a.retired || c.callback || a.pending.state == AgentStateLoggedOut || a.pending.state == AgentStateNotReady {
		return false
	}
	switch a.state {
	case AgentStateAvailable:
		return a.inIdleHeaps || c.dedicatedUntil.After(c.enteredAt)
	case AgentStateRinging, AgentStateOnCall, AgentStateOnHold, AgentStateWrapUp:
		return c.dedicatedUntil.After(c.enteredAt)
	case AgentStateUnknown, AgentStateLoggedOut, AgentStateNotReady:
	}
	return false
}

// enqueue puts a call in its queue's waiting heap for its stage.
func (st *State) enqueue(c *call) {
	c.state = callWaiting
	c.queue.waiting[c.stage].push(c)
	st.markDirty(c.queue)
}

// unlinkWaiting takes a call out of whichever heap holds it.
func (st *State) unlinkWaiting(c *call) {
	switch c.state {
	case callWaiting:
		c.queue.waiting[c.stage].remove(c.heapIdx)
	case callDedicated:
		c.preferred.dedicated.remove(c.heapIdx)
	case callUnknown, callOffering, callConnected, callScheduled:
	}
}

// releaseDedicated sends every caller waiting for a by name to their
// queue: a is not coming (logged out, on a break, removed).
func (st *State) releaseDedicated(a *agent, now time.Time) {
	for a.dedicated.len() > 0 {
		c := a.dedicated.pop()
		if c.exclusive {
			st.exclusiveFailed(c, "agent-unavailable", now)
			continue
		}
		c.preferred, c.dedicatedUntil = nil, time.Time{}
		st.enqueue(c)
		st.armCallTimer(c, now)
	}
}

// sendTo routes c, which could not stay in q, to dest. asked is as for
// admit.
func (st *State) sendTo(c *call, q, asked *queue, dest config.Destination, reason string, depth int, now time.Time) {
	st.leaveQueue(c, now)
	if dest.Kind == config.DestQueue {
		if target := st.queues[dest.Target]; target != nil && !target.retired && target != q && depth < maxMoveChain {
			st.admit(c, target, asked, reason, depth+1, now)
			return
		}
	}
	if c.callback {
		// A callback can only wait in a queue (callbacks skip the closed,
		// full and max-wait checks, so only an escalation to a queue a
		// reload removed gets here): with none to go to, it has failed.
		st.callbackChanged(c, "failed", now)
		st.dropCall(c)
		return
	}
	if (dest.Kind == config.DestQueue || dest.Kind == config.DestNone) && !c.exclusive {
		// No usable queue: the caller hears busy rather than wait forever.
		dest = config.Destination{Kind: config.DestBusy}
	}
	sl := SLNone
	switch {
	case c.exclusive || c.transferred:
		// A transfer to one agent who could not take it, or a call that
		// had its verdict when first answered: none here.
		sl = SLExcluded
	case c.queue != nil:
		// Sent away after waiting: the queue failed this caller.
		sl = SLMissed
	}
	home := q
	if c.queue != nil {
		home = c.queue
	}
	st.exit(c, home, ExitRouted, sl, "", now)
	home.counters.CallsRouted++
	st.emit(CommandRoute).Route = RouteCall{CallID: c.id, Queue: home.name, Destination: dest, Reason: reason}
	st.dropCall(c)
}

// leaveQueue detaches a call that is not connected from its queue, ending
// an offer in flight.
func (st *State) leaveQueue(c *call, now time.Time) {
	if c.queue == nil || c.state == callUnknown {
		return
	}
	if c.state == callOffering {
		st.cancelOffer(c.offer, CancelCallMoved, now)
	}
	st.unlinkWaiting(c)
	c.state = callUnknown
	c.queue.callers--
}

// exit reports that c left queue q and counts its service-level verdict.
func (st *State) exit(c *call, q *queue, how Exit, sl SLOutcome, agentID string, now time.Time) {
	wait := now.Sub(c.queuedAt)
	if c.transferred {
		// Its place dates from the first enqueue; this wait does not
		// include the talk before the transfer.
		wait = now.Sub(c.enteredAt)
	}
	if c.queue == nil {
		wait = 0
	}
	q.counters.SL[sl]++
	if sl != SLNone {
		q.sl.add(now, sl)
	}
	st.emit(CommandCallExit).Exit = CallExit{
		CallID: c.id, Queue: q.name, Exit: how, Wait: wait, SL: sl,
		AgentID: agentID, Priority: c.priority, Offers: c.offers, Transferred: c.transferred,
	}
}

// slOutcome is the verdict for call c leaving q after wait: an exclusive
// call (a transfer to one agent) is none of the queue's business.
func (c *call) slOutcome(q *queue, how Exit, wait time.Duration) SLOutcome {
	if c.exclusive || c.transferred {
		return SLExcluded
	}
	return q.slOutcome(how, wait)
}

// slOutcome is the verdict for a caller who leaves q after wait.
func (q *queue) slOutcome(how Exit, wait time.Duration) SLOutcome {
	sl := &q.spec.ServiceLevel
	switch how {
	case ExitConnected:
		if wait <= sl.Threshold {
			return SLMet
		}
		return SLMissed
	case ExitAbandoned:
		if sl.IgnoreAbandons || wait < sl.ShortAbandon {
			return SLExcluded
		}
		return SLMissed
	case ExitRouted:
		return SLMissed
	case ExitCallback:
		return SLExcluded
	case ExitUnknown:
	}
	return SLNone
}

// callGone handles a caller who hung up (CallAbandoned) or a call that ended
// (CallEnded), whatever state the call was in: the point of both events is
// that nothing about this call may hold an agent any more.
func (st *State) callGone(callID string, how Exit, now time.Time) {
	c := st.calls[callID]
	if c == nil {
		st.counters.StaleEvents++
		return
	}
	q := c.queue
	switch c.state {
	case callWaiting, callDedicated, callOffering, callScheduled:
		if c.state == callOffering {
			st.cancelOffer(c.offer, CancelCallerAbandoned, now)
		}
		st.unlinkWaiting(c)
		q.callers--
		if c.callback {
			st.callbackChanged(c, "canceled", now)
		} else {
			wait := now.Sub(c.queuedAt)
			q.counters.CallsAbandoned++
			q.counters.AbandonedWait += wait
			st.exit(c, q, how, c.slOutcome(q, how, wait), "", now)
		}
	case callConnected:
		if c.callback {
			st.callbackChanged(c, "done", now)
		}
		st.endAgentCall(c.agent, now)
	case callUnknown:
	}
	st.dropCall(c)
}

func (st *State) callHeld(ev CallHeld, now time.Time) {
	c := st.calls[ev.CallID]
	if c == nil || c.state != callConnected {
		st.counters.StaleEvents++
		return
	}
	to := AgentStateOnCall
	if ev.Held {
		to = AgentStateOnHold
	}
	st.setAgentState(c.agent, to, "", "acd", now)
}

// armCallTimer arms the call's timer for its next deadline.
func (st *State) armCallTimer(c *call, now time.Time) {
	var next time.Time
	earliest := func(t time.Time) {
		if !t.IsZero() && (next.IsZero() || t.Before(next)) {
			next = t
		}
	}
	switch c.state {
	case callWaiting, callOffering, callDedicated:
		if at, ok := c.nextStepAt(); ok {
			earliest(at)
		}
		earliest(c.maxWaitAt)
		earliest(c.announceAt)
		if c.state == callDedicated {
			earliest(c.dedicatedUntil)
		}
	case callScheduled:
		earliest(c.notBefore)
	case callUnknown, callConnected:
	}
	st.setTimer(&c.timer, next)
}

// nextStepAt is when the call's next escalation step applies.
func (c *call) nextStepAt() (time.Time, bool) {
	steps := c.queue.spec.Escalation
	if c.stepsDone >= len(steps) {
		return time.Time{}, false
	}
	return c.enteredAt.Add(steps[c.stepsDone].After), true
}

func (st *State) callTimerExpired(c *call, now time.Time) {
	if c.state == callScheduled {
		if !c.notBefore.After(now) {
			c.notBefore = time.Time{}
			st.enqueue(c)
		}
		st.armCallTimer(c, now)
		return
	}
	if c.state == callDedicated && !c.dedicatedUntil.After(now) && c.exclusive {
		c.preferred.dedicated.remove(c.heapIdx)
		st.exclusiveFailed(c, "agent-busy", now)
		return
	}
	if c.state == callDedicated && !c.dedicatedUntil.After(now) {
		// The dedicated agent did not come free in time: anyone qualified.
		c.preferred.dedicated.remove(c.heapIdx)
		c.preferred, c.dedicatedUntil = nil, time.Time{}
		st.enqueue(c)
	}
	for {
		at, ok := c.nextStepAt()
		if !ok || at.After(now) {
			break
		}
		step := c.queue.spec.Escalation[c.stepsDone]
		c.stepsDone++
		if step.Queue != "" {
			st.sendTo(c, c.queue, nil, config.Destination{Kind: config.DestQueue, Target: step.Queue}, "escalation", 0, now)
			return // the call was re-admitted (its timer re-armed) or dropped
		}
		st.raiseStage(c)
	}
	if !c.maxWaitAt.IsZero() && !c.maxWaitAt.After(now) {
		c.maxWaitAt = time.Time{}
		st.sendTo(c, c.queue, nil, c.queue.spec.MaxWaitDest, "max-wait", 0, now)
		return
	}
	if !c.announceAt.IsZero() && !c.announceAt.After(now) {
		if every := c.queue.spec.PositionEvery; every <= 0 {
			// A reload switched announcements off while the caller waited
			// (stepping the deadline by zero would never end).
			c.announceAt = time.Time{}
		} else {
			if c.state != callOffering {
				st.announce(c, now)
			}
			for !c.announceAt.After(now) {
				c.announceAt = c.announceAt.Add(every)
			}
		}
	}
	st.armCallTimer(c, now)
}

// raiseStage moves the call one escalation stage up: more agents qualify.
func (st *State) raiseStage(c *call) {
	q := c.queue
	if c.stage+1 >= q.stages {
		return
	}
	if c.state == callWaiting {
		q.waiting[c.stage].remove(c.heapIdx)
		c.stage++
		st.enqueue(c)
		return
	}
	c.stage++
}

// dropCall forgets a call that is gone from the ACD.
func (st *State) dropCall(c *call) {
	q := c.queue
	st.stopTimer(&c.timer)
	if c.callback {
		if k := (callbackKey{q.name, c.number}); st.callbacks[k] == c {
			delete(st.callbacks, k)
		}
	}
	delete(st.calls, c.id)
	*c = call{}
	st.freeCalls = append(st.freeCalls, c)
	if q != nil {
		st.releaseQueueIfRetired(q)
	}
}

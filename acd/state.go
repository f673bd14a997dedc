package acd

import (
	"fmt"
	"time"
)

// State is everything the ACD knows. Only Step and Snapshot read or write
// it; it is not safe for concurrent use (Router owns one on its goroutine).
type State struct {
	agents map[string]*agent
	queues map[string]*queue
	calls  map[string]*call
	offers map[uint64]*offer

	// ringDeadlines holds every offer in flight, earliest deadline first.
	ringDeadlines indexedHeap[*offer]
	// agentTimers holds agents with a pending timer (today: the cool-down
	// after a failed offer; wrap-up will join it), earliest first.
	agentTimers indexedHeap[*agent]

	offerCooldown time.Duration
	lastOfferID   uint64
	lastCallSeq   uint64

	// dirty lists queues whose callers or idle agents changed during the
	// current Step; only they can have a new match (see dispatch).
	dirty []*queue
	// skipped is scratch space for chooseAgent.
	skipped []*membership
	// out is reused for Step's result.
	out []Command
	// Free lists: calls and offers are recycled so that a steady stream of
	// calls does not allocate.
	freeCalls  []*call
	freeOffers []*offer

	counters Counters
}

// Counters are totals since the State was created.
type Counters struct {
	// StaleEvents counts events for offers or calls the ACD no longer (or
	// never) knew: late answers after a ring timeout, duplicate reports.
	StaleEvents uint64
	// UnknownEvents counts events naming an agent or queue that is not in
	// the topology.
	UnknownEvents uint64
}

// QueueCounters are per-queue totals since the queue was created.
type QueueCounters struct {
	CallsQueued    uint64
	CallsAbandoned uint64 // hung up before being connected
	CallsConnected uint64
	// OffersByResult is indexed by OfferResult.
	OffersByResult [OfferResultLimit]uint64
	// ConnectedWait and AbandonedWait sum the queue wait of connected and
	// abandoned calls, for average-speed-of-answer style metrics.
	ConnectedWait time.Duration
	AbandonedWait time.Duration
}

type agent struct {
	id, name string
	state    AgentState
	since    time.Time // when state last changed
	// idleSince orders available agents: the smallest is offered first. It
	// is set at login and when a connected call ends, and deliberately not
	// touched by a failed offer.
	idleSince time.Time
	// cooldownUntil is non-zero while the agent sits out after a failed
	// offer; the agent is then in agentTimers and in no idle heap.
	cooldownUntil time.Time
	timerIndex    int
	memberships   []*membership
	inIdleHeaps   bool
	offer         *offer // while ringing
	call          *call  // while on call
	logoutPending bool   // logged out during a call; applied at call end
	retired       bool   // removed from the topology; deleted once free
}

func (a *agent) before(b *agent) bool {
	if !a.cooldownUntil.Equal(b.cooldownUntil) {
		return a.cooldownUntil.Before(b.cooldownUntil)
	}
	return a.id < b.id
}

func (a *agent) setHeapIndex(i int) { a.timerIndex = i }

// membership is one agent in one queue; it is the element of the queue's
// idle heap, so an agent in several queues has one slot in each.
type membership struct {
	agent     *agent
	queue     *queue
	heapIndex int
}

// before orders idle agents by (idleSince, agent ID): longest idle first,
// ties broken by ID so that routing is deterministic. Skill tiers will be
// the first field of this tuple.
func (m *membership) before(o *membership) bool {
	if !m.agent.idleSince.Equal(o.agent.idleSince) {
		return m.agent.idleSince.Before(o.agent.idleSince)
	}
	return m.agent.id < o.agent.id
}

func (m *membership) setHeapIndex(i int) { m.heapIndex = i }

type queue struct {
	name        string
	ringTimeout time.Duration
	members     []*membership
	// idle holds the members that can take an offer now.
	idle indexedHeap[*membership]
	// waiting holds the callers not currently being offered, in service
	// order. A call whose offer fails goes back with its original key, so it
	// regains its place.
	waiting  indexedHeap[*call]
	offering int // calls of this queue with an offer in flight
	dirty    bool
	retired  bool // removed from the topology; deleted once it has no calls
	counters QueueCounters
}

type callState uint8

const (
	callUnknown callState = iota
	callWaiting
	callOffering
	callConnected
)

func (s callState) String() string {
	switch s {
	case callUnknown:
		return "unknown"
	case callWaiting:
		return "waiting"
	case callOffering:
		return "offering"
	case callConnected:
		return "connected"
	}
	return fmt.Sprintf("callState(%d)", uint8(s))
}

// recentFailureMemory is how many agents who failed a call that call
// remembers, to try others before them.
const recentFailureMemory = 4

type call struct {
	id       string
	queue    *queue
	priority int
	queuedAt time.Time
	seq      uint64 // arrival order; breaks ties between equal queuedAt
	state    callState
	heapIdx  int
	offer    *offer // while offering
	agent    *agent // while connected
	// recentFailures is a ring of the last agents whose offer for this
	// call failed.
	recentFailures [recentFailureMemory]*agent
	failureCount   int
}

// before orders waiting callers by (priority desc, queuedAt, seq).
func (c *call) before(o *call) bool {
	if c.priority != o.priority {
		return c.priority > o.priority
	}
	if !c.queuedAt.Equal(o.queuedAt) {
		return c.queuedAt.Before(o.queuedAt)
	}
	return c.seq < o.seq
}

func (c *call) setHeapIndex(i int) { c.heapIdx = i }

func (c *call) recentlyFailedWith(a *agent) bool {
	for _, f := range c.recentFailures {
		if f == a {
			return true
		}
	}
	return false
}

func (c *call) rememberFailure(a *agent) {
	c.recentFailures[c.failureCount%recentFailureMemory] = a
	c.failureCount++
}

type offer struct {
	id        uint64
	call      *call
	agent     *agent
	deadline  time.Time
	heapIndex int
}

func (o *offer) before(p *offer) bool {
	if !o.deadline.Equal(p.deadline) {
		return o.deadline.Before(p.deadline)
	}
	return o.id < p.id
}

func (o *offer) setHeapIndex(i int) { o.heapIndex = i }

// NewState returns a State with every agent logged out and no calls.
func NewState(top Topology) *State {
	st := &State{
		agents: make(map[string]*agent, len(top.Agents)),
		queues: make(map[string]*queue, len(top.Queues)),
		calls:  make(map[string]*call),
		offers: make(map[uint64]*offer),
	}
	st.applyTopology(top, time.Time{})
	st.dispatch(time.Time{}) // clears the dirty marks; nobody is logged in
	return st
}

// NextDeadline returns the earliest ring timeout or agent timer; zero when
// there is none. The owner delivers Tick at (or after) that time.
func (st *State) NextDeadline() time.Time {
	var next time.Time
	if o, ok := st.ringDeadlines.peek(); ok {
		next = o.deadline
	}
	if a, ok := st.agentTimers.peek(); ok && (next.IsZero() || a.cooldownUntil.Before(next)) {
		next = a.cooldownUntil
	}
	return next
}

// Counters returns the State's global counters.
func (st *State) Counters() Counters { return st.counters }

// Step applies ev at time now and returns the commands for the conductor.
// It first expires every deadline at or before now, so a late Tick costs
// nothing but latency. The returned slice is reused by the next Step.
//
// Step is the only writer of st: no I/O, no clock, no rand.
func Step(st *State, ev Event, now time.Time) []Command {
	st.out = st.out[:0]
	st.expireDeadlines(now)
	switch ev := ev.(type) {
	case CallQueued:
		st.callQueued(ev, now)
	case CallAbandoned:
		st.callGone(ev.CallID, now)
	case CallEnded:
		st.callGone(ev.CallID, now)
	case AgentLoggedIn:
		st.agentLoggedIn(ev.AgentID, now)
	case AgentLoggedOut:
		st.agentLoggedOut(ev.AgentID, now)
	case OfferAnswered:
		st.offerAnswered(ev, now)
	case OfferFailed:
		st.offerFailed(ev.OfferID, ev.Reason, now)
	case TopologyChanged:
		st.applyTopology(ev.Topology, now)
	case Tick:
		// Deadlines were expired above.
	case snapshotRequest:
		// Answered by the Router, never stepped.
	case nil:
		st.counters.StaleEvents++
	}
	st.dispatch(now)
	return st.out
}

func (st *State) expireDeadlines(now time.Time) {
	for {
		o, ok := st.ringDeadlines.peek()
		if !ok || o.deadline.After(now) {
			break
		}
		st.cancelOffer(o, CancelRingTimeout, now)
	}
	for {
		a, ok := st.agentTimers.peek()
		if !ok || a.cooldownUntil.After(now) {
			break
		}
		st.agentTimers.pop()
		a.cooldownUntil = time.Time{}
		st.makeIdle(a)
	}
}

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
		queue:    q,
		priority: ev.Priority,
		queuedAt: now,
		seq:      st.lastCallSeq,
		state:    callWaiting,
	}
	st.calls[c.id] = c
	q.counters.CallsQueued++
	q.waiting.push(c)
	st.markDirty(q)
}

// callGone handles a caller who hung up (CallAbandoned) or a call that ended
// (CallEnded), whatever state the call was in: the point of both events is
// that nothing about this call may hold an agent any more.
func (st *State) callGone(callID string, now time.Time) {
	c := st.calls[callID]
	if c == nil {
		st.counters.StaleEvents++
		return
	}
	q := c.queue
	switch c.state {
	case callWaiting:
		q.waiting.remove(c.heapIdx)
		q.counters.CallsAbandoned++
		q.counters.AbandonedWait += now.Sub(c.queuedAt)
	case callOffering:
		st.cancelOffer(c.offer, CancelCallerAbandoned, now)
		// cancelOffer put the call back in the waiting heap.
		q.waiting.remove(c.heapIdx)
		q.counters.CallsAbandoned++
		q.counters.AbandonedWait += now.Sub(c.queuedAt)
	case callConnected:
		a := c.agent
		a.call = nil
		a.idleSince = now
		if a.logoutPending {
			st.setLoggedOut(a, now)
		} else {
			a.state, a.since = AgentStateAvailable, now
			st.makeIdle(a)
		}
		st.releaseAgentIfRetired(a)
	case callUnknown:
	}
	st.dropCall(c)
}

func (st *State) agentLoggedIn(agentID string, now time.Time) {
	a := st.agents[agentID]
	if a == nil || a.retired {
		st.counters.UnknownEvents++
		return
	}
	switch a.state {
	case AgentStateLoggedOut, AgentStateUnknown:
		a.state, a.since = AgentStateAvailable, now
		// A newly logged-in agent queues behind those already waiting.
		a.idleSince = now
		st.makeIdle(a)
	case AgentStateOnCall:
		// Registered again during the call: forget a pending logout.
		a.logoutPending = false
	case AgentStateAvailable, AgentStateRinging:
		// A registration refresh; nothing changes.
	}
}

func (st *State) agentLoggedOut(agentID string, now time.Time) {
	a := st.agents[agentID]
	if a == nil {
		st.counters.UnknownEvents++
		return
	}
	switch a.state {
	case AgentStateAvailable:
		st.setLoggedOut(a, now)
	case AgentStateRinging:
		st.cancelOffer(a.offer, CancelAgentLoggedOut, now)
		st.setLoggedOut(a, now)
	case AgentStateOnCall:
		// The call goes on; the logout takes effect when it ends.
		a.logoutPending = true
	case AgentStateLoggedOut, AgentStateUnknown:
	}
	st.releaseAgentIfRetired(a)
}

func (st *State) offerAnswered(ev OfferAnswered, now time.Time) {
	o := st.offers[ev.OfferID]
	if o == nil {
		st.counters.StaleEvents++
		if ev.CallID != "" {
			// The phone answered after we withdrew the offer (ring timeout,
			// logout): the call is back in its queue, so the leg must go.
			st.out = append(st.out, CancelOffer{OfferID: ev.OfferID, CallID: ev.CallID, AgentID: ev.AgentID, Reason: CancelLateAnswer})
		}
		return
	}
	c, a := o.call, o.agent
	q := c.queue
	st.endOffer(o)
	q.counters.OffersByResult[OfferResultAnswered]++
	q.counters.CallsConnected++
	q.counters.ConnectedWait += now.Sub(c.queuedAt)
	c.state, c.agent = callConnected, a
	a.state, a.since, a.call = AgentStateOnCall, now, c
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
	st.out = append(st.out, CancelOffer{
		OfferID: o.id,
		CallID:  o.call.id,
		AgentID: o.agent.id,
		Reason:  reason,
	})
	st.failOffer(o, resultOfCancel(reason), now)
}

// failOffer ends an unanswered offer: the call regains its place in its
// queue and the agent is available again with the idle time they had. An
// agent at fault (no answer, rejection, ring timeout) sits out a cool-down.
func (st *State) failOffer(o *offer, result OfferResult, now time.Time) {
	c, a := o.call, o.agent
	q := c.queue
	st.endOffer(o)
	q.counters.OffersByResult[result]++

	c.state = callWaiting
	q.waiting.push(c)
	st.markDirty(q)

	a.state, a.since = AgentStateAvailable, now
	switch result {
	case OfferResultCallerAbandoned, OfferResultAgentLoggedOut:
		// Not the agent's doing (or they are leaving anyway).
		st.makeIdle(a)
	default:
		c.rememberFailure(a)
		a.cooldownUntil = now.Add(st.offerCooldown)
		st.agentTimers.push(a)
	}
	st.releaseAgentIfRetired(a)
}

// endOffer unlinks an offer from everything that refers to it.
func (st *State) endOffer(o *offer) {
	st.ringDeadlines.remove(o.heapIndex)
	delete(st.offers, o.id)
	o.call.queue.offering--
	o.call.offer = nil
	o.agent.offer = nil
	*o = offer{}
	st.freeOffers = append(st.freeOffers, o)
}

// makeIdle puts an available agent into the idle heap of each of their
// queues and marks those queues for dispatch.
func (st *State) makeIdle(a *agent) {
	if a.inIdleHeaps || a.retired || a.state != AgentStateAvailable || !a.cooldownUntil.IsZero() {
		return
	}
	a.inIdleHeaps = true
	for _, m := range a.memberships {
		m.queue.idle.push(m)
		st.markDirty(m.queue)
	}
}

// leaveIdle takes an agent out of every idle heap.
func (st *State) leaveIdle(a *agent) {
	if !a.inIdleHeaps {
		return
	}
	a.inIdleHeaps = false
	for _, m := range a.memberships {
		m.queue.idle.remove(m.heapIndex)
	}
}

func (st *State) setLoggedOut(a *agent, now time.Time) {
	st.leaveIdle(a)
	if !a.cooldownUntil.IsZero() {
		st.agentTimers.remove(a.timerIndex)
		a.cooldownUntil = time.Time{}
	}
	a.state, a.since = AgentStateLoggedOut, now
	a.logoutPending = false
}

func (st *State) markDirty(q *queue) {
	if !q.dirty {
		q.dirty = true
		st.dirty = append(st.dirty, q)
	}
}

// dispatch makes every match that the current Step made possible. Between
// Steps no queue has both a waiting caller and an idle agent, so only queues
// touched in this Step (st.dirty) need a look, never all agents or queues.
//
// Each round serves the caller who has waited longest among the dirty
// queues' heads: when an agent in several queues becomes free, the oldest
// caller of those queues gets them; when a caller arrives, they get the
// longest-idle agent of their queue.
func (st *State) dispatch(now time.Time) {
	for {
		var best *queue
		var bestCall *call
		for _, q := range st.dirty {
			if q.idle.len() == 0 {
				continue
			}
			c, ok := q.waiting.peek()
			if !ok {
				continue
			}
			if bestCall == nil || c.before(bestCall) {
				best, bestCall = q, c
			}
		}
		if best == nil {
			break
		}
		st.offer(bestCall, st.chooseAgent(best, bestCall), now)
	}
	for i, q := range st.dirty {
		q.dirty = false
		st.dirty[i] = nil
	}
	st.dirty = st.dirty[:0]
}

// chooseAgent returns the longest-idle agent of q for c, skipping the agents
// who recently failed c unless nobody else is idle. It pops at most
// recentFailureMemory+1 entries, so it stays O(log n).
func (st *State) chooseAgent(q *queue, c *call) *agent {
	top, _ := q.idle.peek()
	if c.failureCount == 0 || !c.recentlyFailedWith(top.agent) {
		return top.agent
	}
	var chosen *agent
	for q.idle.len() > 0 {
		m := q.idle.pop()
		st.skipped = append(st.skipped, m)
		if !c.recentlyFailedWith(m.agent) {
			chosen = m.agent
			break
		}
	}
	if chosen == nil {
		// Everyone idle has failed this call recently: retry the one who
		// has been idle longest rather than keep the caller waiting.
		chosen = st.skipped[0].agent
	}
	for i, m := range st.skipped {
		q.idle.push(m)
		st.skipped[i] = nil
	}
	st.skipped = st.skipped[:0]
	return chosen
}

func (st *State) offer(c *call, a *agent, now time.Time) {
	q := c.queue
	q.waiting.remove(c.heapIdx)
	st.leaveIdle(a)

	st.lastOfferID++
	o := st.newOffer()
	*o = offer{
		id:       st.lastOfferID,
		call:     c,
		agent:    a,
		deadline: now.Add(q.ringTimeout),
	}
	st.offers[o.id] = o
	st.ringDeadlines.push(o)
	q.offering++
	c.state, c.offer = callOffering, o
	a.state, a.since, a.offer = AgentStateRinging, now, o

	st.out = append(st.out, OfferCall{
		OfferID:     o.id,
		CallID:      c.id,
		AgentID:     a.id,
		Queue:       q.name,
		RingTimeout: q.ringTimeout,
	})
}

func (st *State) newCall() *call {
	if n := len(st.freeCalls); n > 0 {
		c := st.freeCalls[n-1]
		st.freeCalls[n-1] = nil
		st.freeCalls = st.freeCalls[:n-1]
		return c
	}
	return new(call)
}

func (st *State) newOffer() *offer {
	if n := len(st.freeOffers); n > 0 {
		o := st.freeOffers[n-1]
		st.freeOffers[n-1] = nil
		st.freeOffers = st.freeOffers[:n-1]
		return o
	}
	return new(offer)
}

func (st *State) dropCall(c *call) {
	q := c.queue
	delete(st.calls, c.id)
	*c = call{}
	st.freeCalls = append(st.freeCalls, c)
	st.releaseQueueIfRetired(q)
}

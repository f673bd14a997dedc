package acd

import (
	"fmt"
	"time"
)

// State is everything the ACD knows. Only Step and Snapshot read or write
// it; it is not safe for concurrent use (Router owns one on its goroutine).
type State struct {
	agents  map[string]*agent
	queues  map[string]*queue
	calls   map[string]*call
	offers  map[uint64]*offer
	devices map[string]*agent // device -> the agent logged in on it
	// callbacks finds a pending callback by queue and number, to merge a
	// second request from the same number into the first.
	callbacks map[callbackKey]*call

	// timers holds every pending deadline (ring timeouts, cool-downs,
	// wrap-ups, escalations, announcements...), earliest first.
	timers    indexedHeap[*timer]
	timerSeq  uint64
	topology  Topology
	cooldown  time.Duration
	missedMax int

	lastOfferID uint64
	lastCallSeq uint64

	// dirty lists queues whose callers or idle agents changed during the
	// current Step, dirtyAgents the agents who became idle with callers
	// waiting for them by name; only they can have a new match.
	dirty       []*queue
	dirtyAgents []*agent
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

type callbackKey struct{ queue, number string }

// Counters are totals since the State was created.
type Counters struct {
	// StaleEvents counts events for offers or calls the ACD no longer (or
	// never) knew: late answers after a ring timeout, duplicate reports.
	StaleEvents uint64
	// UnknownEvents counts events naming an agent or queue that is not in
	// the topology, or asking for something the agent's state forbids.
	UnknownEvents uint64
	// Repairs counts corrections made by the self-healing check.
	Repairs uint64
}

// QueueCounters are per-queue totals since the queue was created.
type QueueCounters struct {
	CallsQueued    uint64
	CallsAbandoned uint64 // hung up before being connected
	CallsConnected uint64
	CallsRouted    uint64 // sent to a destination: closed, full, max wait
	CallsMovedIn   uint64
	CallsMovedOut  uint64
	Callbacks      uint64 // callers who chose a callback
	// OffersByResult is indexed by OfferResult.
	OffersByResult [OfferResultLimit]uint64
	// ConnectedWait and AbandonedWait sum the queue wait of connected and
	// abandoned calls, for average-speed-of-answer style metrics.
	ConnectedWait time.Duration
	AbandonedWait time.Duration
	// SL counts service-level verdicts, indexed by SLOutcome.
	SL [4]uint64
}

// AgentCounters are per-agent totals since the agent was created.
type AgentCounters struct {
	// OffersByResult is indexed by OfferResult: missed offers are told
	// apart (no answer, rejected, busy, unreachable).
	OffersByResult [OfferResultLimit]uint64
	CallsAnswered  uint64
	// MissedInARow counts ring-outs since the last answer.
	MissedInARow int
}

// timer is one pending deadline. Exactly one of call, agent and offer is
// set. Ties are broken by seq, so expiry order is deterministic.
type timer struct {
	at time.Time
	// atKey is at in Unix ns: heap sifts compare it instead of time.Time.
	atKey int64
	seq   uint64
	index int
	call  *call
	agent *agent
	offer *offer
}

func (t *timer) before(o *timer) bool {
	if t.atKey != o.atKey {
		return t.atKey < o.atKey
	}
	return t.seq < o.seq
}

func (t *timer) setHeapIndex(i int) { t.index = i }

func (t *timer) armed() bool { return t.index >= 0 }

type agent struct {
	id, name string
	// rank is the agent's position in ID order, for cheap tie-breaks.
	rank   int
	skills []SkillLevel
	device string
	// deviceSince is when the agent logged in on device.
	deviceSince time.Time
	state       AgentState
	reason      string
	since       time.Time // when state last changed
	// idleSince orders available agents: the smallest is offered first. It
	// is set at login, when after-call work ends and when a not-ready agent
	// becomes available, and deliberately not touched by a failed offer.
	idleSince time.Time
	// timer is armed for a cool-down (state available) or the end of
	// wrap-up (state wrap-up).
	timer       timer
	coolingDown bool
	memberships []*membership
	inIdleHeaps bool
	offer       *offer // while ringing
	call        *call  // while on a call
	callStart   time.Time
	// wrapCallID is the call whose after-call work the agent is doing.
	wrapCallID string
	// pending is a state asked for during a call (not-ready, logged-out or
	// back to available), applied when the call's work is done.
	pending pendingState
	// dedicated holds callers waiting for this agent by name.
	dedicated indexedHeap[*call]
	dirty     bool
	retired   bool // removed from the topology; deleted once free
	counters  AgentCounters
}

type pendingState struct {
	state          AgentState // AgentStateUnknown: nothing pending
	reason, source string
}

// membership is one agent in one queue; it is the element of the queue's
// idle heap for its stage, so an agent in several queues has one slot in
// each.
type membership struct {
	agent *agent
	queue *queue
	// stage is the first escalation stage at which the agent may take the
	// queue's calls: 0 for the queue's own agents and skills.
	stage int
	// tier is the agent's skill level for the queue (higher is better);
	// zero under the longest-idle strategy.
	tier int
	// idleKey and agentRank copy the agent's idle time (Unix ns) and the
	// rank of their ID when the membership enters the idle heap, so that
	// comparing two members reads no agent: heap sifts were the hottest
	// code in BenchmarkACD.
	idleKey   int64
	agentRank int
	heapIndex int
}

// before orders idle agents by (tier desc, idleSince, agent ID): the
// best-skilled first, then the longest idle, ties broken by ID so that
// routing is deterministic.
func (m *membership) before(o *membership) bool {
	if m.tier != o.tier {
		return m.tier > o.tier
	}
	if m.idleKey != o.idleKey {
		return m.idleKey < o.idleKey
	}
	return m.agentRank < o.agentRank
}

func (m *membership) setHeapIndex(i int) { m.heapIndex = i }

type queue struct {
	spec QueueSpec
	name string
	// agingPerNanosecond is AgingPerMinute per nanosecond of wait.
	agingPerNanosecond float64
	// stages is 1 + the number of escalation steps that widen skills.
	stages  int
	members []*membership
	// idle[k] holds the members of stage k who can take an offer now.
	idle []indexedHeap[*membership]
	// waiting[k] holds the callers at escalation stage k not currently
	// being offered, in service order. A call whose offer fails goes back
	// with its original key, so it regains its place.
	waiting []indexedHeap[*call]
	// callers counts every call of the queue not yet connected, wherever
	// it waits (heaps, dedicated waits, offers, scheduled callbacks).
	callers  int
	offering int
	// staffed counts stage-0 members who are logged in and not not-ready,
	// for the estimated wait.
	staffed    int
	handleTime time.Duration // moving average of talk plus wrap-up
	sl         slWindow
	dirty      bool
	retired    bool // removed from the topology; deleted once it has no calls
	counters   QueueCounters
}

type callState uint8

const (
	callUnknown callState = iota
	// callWaiting: in its queue's waiting heap for its stage.
	callWaiting
	// callDedicated: in its preferred agent's dedicated heap.
	callDedicated
	callOffering
	callConnected
	// callScheduled: a callback not to be offered before notBefore.
	callScheduled
)

func (s callState) String() string {
	switch s {
	case callUnknown:
		return "unknown"
	case callWaiting:
		return "waiting"
	case callDedicated:
		return "dedicated"
	case callOffering:
		return "offering"
	case callConnected:
		return "connected"
	case callScheduled:
		return "scheduled"
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
	// queuedAt is when the caller first queued: it orders callers and
	// measures the service level, and survives moves between queues.
	queuedAt time.Time
	// enteredAt is when the call entered its current queue: escalation
	// steps count from it.
	enteredAt time.Time
	seq       uint64 // arrival order; breaks ties between equal keys
	// strictKey and agingKey are the service-order key in the current
	// queue; see setOrderKey.
	strictKey int64
	agingKey  int64
	state     callState
	stage     int
	stepsDone int // escalation steps applied in the current queue
	heapIdx   int
	timer     timer
	// Deadlines feeding timer; zero when not pending.
	maxWaitAt, dedicatedUntil, announceAt, notBefore time.Time
	preferred                                        *agent
	offer                                            *offer // while offering
	agent                                            *agent // while connected
	offers                                           int
	// recentFailures is a ring of the last agents whose offer for this
	// call failed.
	recentFailures [recentFailureMemory]*agent
	failureCount   int
	// exclusive calls wait for their preferred agent only.
	exclusive bool
	// transferred calls were answered before and sent on by an agent.
	transferred bool
	// Callback fields.
	callback              bool
	callbackID            int64
	number                string
	attempts, maxAttempts int
}

// before orders waiting callers by effective priority, then arrival; see
// setOrderKey.
func (c *call) before(o *call) bool {
	if c.strictKey != o.strictKey {
		return c.strictKey < o.strictKey
	}
	if c.agingKey != o.agingKey {
		return c.agingKey < o.agingKey
	}
	return c.seq < o.seq
}

func (c *call) setHeapIndex(i int) { c.heapIdx = i }

// setOrderKey computes the call's service order in its queue. With aging
// rate r (priority per nanosecond) the effective priority at time t is
// priority + r*(t - queuedAt), so comparing two calls of one queue at any t
// is comparing queuedAt - priority/r: the key does not change while the
// calls wait, and the heap never needs re-sorting. With r = 0 priorities
// are strict: (priority desc, queuedAt).
func (c *call) setOrderKey() {
	r := c.queue.agingPerNanosecond
	if r > 0 {
		c.strictKey = 0
		c.agingKey = c.queuedAt.UnixNano() - int64(float64(c.priority)/r)
		return
	}
	c.strictKey = -int64(c.priority)
	c.agingKey = c.queuedAt.UnixNano()
}

// effectivePriority is the call's priority grown by its wait.
func (c *call) effectivePriority(now time.Time) float64 {
	return float64(c.priority) + c.queue.agingPerNanosecond*float64(now.Sub(c.queuedAt))
}

// servedBefore compares calls of different queues at now: effective
// priority, then arrival.
func (c *call) servedBefore(o *call, now time.Time) bool {
	if pc, po := c.effectivePriority(now), o.effectivePriority(now); pc != po {
		return pc > po
	}
	if !c.queuedAt.Equal(o.queuedAt) {
		return c.queuedAt.Before(o.queuedAt)
	}
	return c.seq < o.seq
}

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
	id    uint64
	call  *call
	agent *agent
	timer timer
}

// NewState returns a State with every agent logged out and no calls.
func NewState(top Topology) *State {
	st := &State{
		agents:    make(map[string]*agent, len(top.Agents)),
		queues:    make(map[string]*queue, len(top.Queues)),
		calls:     make(map[string]*call),
		offers:    make(map[uint64]*offer),
		devices:   make(map[string]*agent),
		callbacks: make(map[callbackKey]*call),
	}
	st.applyTopology(top, time.Time{})
	st.dispatch(time.Time{}) // clears the dirty marks; nobody is logged in
	st.out = st.out[:0]
	return st
}

// NextDeadline returns the earliest pending deadline; zero when there is
// none. The owner delivers Tick at (or after) that time.
func (st *State) NextDeadline() time.Time {
	if t, ok := st.timers.peek(); ok {
		return t.at
	}
	return time.Time{}
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
		st.callGone(ev.CallID, ExitAbandoned, now)
	case CallEnded:
		st.callGone(ev.CallID, ExitAbandoned, now)
	case CallHeld:
		st.callHeld(ev, now)
	case CallbackRequested:
		st.callbackRequested(ev, now)
	case CallbackScheduled:
		st.callbackScheduled(ev, now)
	case CallbackFailed:
		st.callbackFailed(ev, now)
	case AgentLoggedIn:
		st.agentLoggedIn(ev, now)
	case AgentLoggedOut:
		st.agentLoggedOut(ev.AgentID, ev.Reason, ev.Source, now)
	case DeviceUnregistered:
		st.deviceUnregistered(ev.Device, now)
	case AgentStateRequested:
		st.agentStateRequested(ev, now)
	case WrapUpDone:
		st.wrapUpDone(ev, now)
	case OfferAnswered:
		st.offerAnswered(ev, now)
	case OfferFailed:
		st.offerFailed(ev.OfferID, ev.Reason, now)
	case TopologyChanged:
		st.applyTopology(ev.Topology, now)
	case Reconcile:
		st.reconcile(ev, now)
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

// emit appends a command of the given kind to the Step's result and
// returns it for the caller to fill in its payload. Commands are built in
// place: they are large (a tagged union), and copying them showed up in
// BenchmarkACD.
func (st *State) emit(kind CommandKind) *Command {
	if n := len(st.out); n < cap(st.out) {
		st.out = st.out[:n+1]
		st.out[n] = Command{Kind: kind}
	} else {
		st.out = append(st.out, Command{Kind: kind})
	}
	return &st.out[len(st.out)-1]
}

// setTimer arms t for at, or disarms it when at is zero.
func (st *State) setTimer(t *timer, at time.Time) {
	if at.IsZero() {
		st.stopTimer(t)
		return
	}
	if t.armed() {
		if t.at.Equal(at) {
			return
		}
		t.at, t.atKey = at, unixNanos(at)
		st.timerSeq++
		t.seq = st.timerSeq
		st.timers.fix(t.index)
		return
	}
	t.at, t.atKey = at, unixNanos(at)
	st.timerSeq++
	t.seq = st.timerSeq
	st.timers.push(t)
}

func (st *State) stopTimer(t *timer) {
	if t.armed() {
		st.timers.remove(t.index)
	}
	t.at = time.Time{}
}

func (st *State) expireDeadlines(now time.Time) {
	for {
		t, ok := st.timers.peek()
		if !ok || t.at.After(now) {
			return
		}
		st.timers.pop()
		switch {
		case t.offer != nil:
			st.cancelOffer(t.offer, CancelRingTimeout, now)
		case t.agent != nil:
			st.agentTimerExpired(t.agent, now)
		case t.call != nil:
			st.callTimerExpired(t.call, now)
		}
	}
}

func (st *State) markDirty(q *queue) {
	if !q.dirty {
		q.dirty = true
		st.dirty = append(st.dirty, q)
	}
}

func (st *State) markAgentDirty(a *agent) {
	if !a.dirty {
		a.dirty = true
		st.dirtyAgents = append(st.dirtyAgents, a)
	}
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

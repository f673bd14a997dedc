package acd

import (
	"cmp"
	"fmt"
	"maps"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/hotline-cc/hotline/config"
)

// model is the test's own bookkeeping of what a conductor would know, kept
// apart from State so that the two can disagree.
type model struct {
	arrival      map[string]int    // call ID -> arrival order
	queueOf      map[string]string // every call not yet gone -> its queue
	waiting      map[string]bool   // queued, no offer open, not connected
	openOffers   map[uint64]string // offer ID -> agent ID
	offerCall    map[uint64]string // offer ID -> call ID
	agentBusy    map[string]string // agent ID -> "offer N" or "call X"
	connected    map[string]string // call ID -> agent ID
	resolved     map[uint64]bool
	nextArrival  int
	offersIssued int
}

func newModel() *model {
	return &model{
		arrival:    map[string]int{},
		queueOf:    map[string]string{},
		waiting:    map[string]bool{},
		openOffers: map[uint64]string{},
		offerCall:  map[uint64]string{},
		agentBusy:  map[string]string{},
		connected:  map[string]string{},
		resolved:   map[uint64]bool{},
	}
}

// apply records the commands of one Step and checks them against the rules.
func (m *model) apply(cmds []Command) error {
	var offeredNow []string
	for _, cmd := range cmds {
		switch cmd.Kind {
		case CommandOffer:
			cmd := cmd.Offer
			m.offersIssued++
			if m.resolved[cmd.OfferID] || m.openOffers[cmd.OfferID] != "" {
				return fmt.Errorf("offer ID %d reused", cmd.OfferID)
			}
			if busy := m.agentBusy[cmd.AgentID]; busy != "" {
				return fmt.Errorf("offer %d to agent %s who is busy with %s", cmd.OfferID, cmd.AgentID, busy)
			}
			if !m.waiting[cmd.CallID] {
				return fmt.Errorf("offer %d for call %s that is not waiting", cmd.OfferID, cmd.CallID)
			}
			if m.queueOf[cmd.CallID] != cmd.Queue {
				return fmt.Errorf("offer %d names queue %s for a call in %s", cmd.OfferID, cmd.Queue, m.queueOf[cmd.CallID])
			}
			m.waiting[cmd.CallID] = false
			m.openOffers[cmd.OfferID] = cmd.AgentID
			m.offerCall[cmd.OfferID] = cmd.CallID
			m.agentBusy[cmd.AgentID] = fmt.Sprintf("offer %d", cmd.OfferID)
			offeredNow = append(offeredNow, cmd.CallID)
		case CommandCancelOffer:
			cmd := cmd.Cancel
			if m.openOffers[cmd.OfferID] != cmd.AgentID || m.offerCall[cmd.OfferID] != cmd.CallID {
				return fmt.Errorf("cancel of offer %d (%s/%s) that is not open", cmd.OfferID, cmd.CallID, cmd.AgentID)
			}
			m.resolveOffer(cmd.OfferID, cmd.Reason != CancelCallerAbandoned)
		}
	}
	// FIFO: nobody still waiting in the same queue arrived before a caller
	// who was just offered (generated calls all have the same priority).
	for _, callID := range offeredNow {
		for other, w := range m.waiting {
			if w && m.queueOf[other] == m.queueOf[callID] && m.arrival[other] < m.arrival[callID] {
				return fmt.Errorf("call %s offered while earlier caller %s still waits in %s", callID, other, m.queueOf[callID])
			}
		}
	}
	return nil
}

func (m *model) resolveOffer(id uint64, requeue bool) {
	callID := m.offerCall[id]
	delete(m.agentBusy, m.openOffers[id])
	delete(m.openOffers, id)
	m.resolved[id] = true
	if requeue {
		m.waiting[callID] = true
	}
}

// callGone records a hang-up; an offer still ringing for the call must be
// cancelled by the State, which apply checks.
func (m *model) callGone(callID string) {
	delete(m.waiting, callID)
	delete(m.queueOf, callID)
	if agentID, ok := m.connected[callID]; ok {
		delete(m.agentBusy, agentID)
		delete(m.connected, callID)
	}
}

// pick returns a random key of mp; keys are sorted first so that a seed
// replays exactly despite random map order.
func pick[K cmp.Ordered, V any](r *rand.Rand, mp map[K]V) (K, bool) {
	keys := make([]K, 0, len(mp))
	for k := range mp {
		keys = append(keys, k)
	}
	var zero K
	if len(keys) == 0 {
		return zero, false
	}
	slices.Sort(keys)
	return keys[r.IntN(len(keys))], true
}

func randomTopology(r *rand.Rand, agents, queues int) Topology {
	var top Topology
	for i := range agents {
		top.Agents = append(top.Agents, AgentSpec{ID: fmt.Sprintf("a%d", i)})
	}
	for i := range queues {
		q := QueueSpec{Name: fmt.Sprintf("q%d", i), RingTimeout: time.Duration(5+r.IntN(20)) * time.Second}
		for j := range agents {
			if r.IntN(3) == 0 {
				q.Agents = append(q.Agents, fmt.Sprintf("a%d", j))
			}
		}
		top.Queues = append(top.Queues, q)
	}
	return top
}

// TestStepInvariantsUnderRandomEvents drives Step with seeded random events,
// answering offers the way a conductor would, and checks after every step
// that the State is consistent, that no agent holds two things at once, that
// every offer resolves exactly once and that queues stay first in first out.
func TestStepInvariantsUnderRandomEvents(t *testing.T) {
	const stepsPerSeed = 3000
	for seed := range uint64(20) {
		t.Run(fmt.Sprintf("seed=%d", seed), func(t *testing.T) {
			r := rand.New(rand.NewPCG(seed, 0x5eed))
			top := randomTopology(r, 12, 4)
			st := NewState(top)
			m := newModel()
			now := t0
			nextCall := 0
			// The trace is rendered only on failure: formatting every step
			// took half the test's time.
			type traced struct {
				i    int
				now  time.Time
				ev   Event
				cmds []Command
			}
			var trace []traced
			traceTail := func() string {
				var lines []string
				for _, e := range trace {
					desc := fmt.Sprintf("%#v", e.ev)
					if tc, ok := e.ev.(TopologyChanged); ok {
						desc = fmt.Sprintf("TopologyChanged{%d agents, %d queues}", len(tc.Topology.Agents), len(tc.Topology.Queues))
					}
					lines = append(lines, fmt.Sprintf("%d t=%v %s -> %v", e.i, e.now.Sub(t0), desc, fmtCommands(e.cmds)))
				}
				return tail(lines, 15)
			}
			var kinds [10]int

			for i := range stepsPerSeed {
				now = now.Add(time.Duration(r.IntN(4000)) * time.Millisecond)
				var ev Event
				switch k := r.IntN(100); {
				case k < 22:
					nextCall++
					id := fmt.Sprintf("c%d", nextCall)
					q := fmt.Sprintf("q%d", r.IntN(len(top.Queues)+1)) // sometimes unknown
					ev = CallQueued{CallID: id, Queue: q}
					if sq := st.queues[q]; sq != nil && !sq.retired {
						m.arrival[id] = m.nextArrival
						m.nextArrival++
						m.queueOf[id] = q
						m.waiting[id] = true
					}
				case k < 32:
					id, ok := pick(r, m.queueOf)
					if !ok {
						id = "nobody"
					}
					ev = CallAbandoned{CallID: id}
				case k < 47:
					ev = AgentLoggedIn{AgentID: fmt.Sprintf("a%d", r.IntN(14))}
				case k < 53:
					ev = AgentLoggedOut{AgentID: fmt.Sprintf("a%d", r.IntN(14))}
				case k < 68:
					id, ok := pick(r, m.openOffers)
					if !ok || r.IntN(20) == 0 {
						id = uint64(r.IntN(m.offersIssued + 2)) // often stale
					}
					ev = OfferAnswered{OfferID: id}
				case k < 78:
					id, ok := pick(r, m.openOffers)
					if !ok {
						id = 999999
					}
					ev = OfferFailed{OfferID: id, Reason: OfferFailure(r.IntN(5))}
				case k < 92:
					id, ok := pick(r, m.connected)
					if !ok {
						id = "nobody"
					}
					ev = CallEnded{CallID: id}
				case k < 98:
					ev = Tick{}
				default:
					top = randomTopology(r, 10+r.IntN(5), 3+r.IntN(3))
					ev = TopologyChanged{Topology: top}
				}

				// What the event itself does, before the State's commands.
				// An offer whose ring timeout has passed is cancelled by the
				// State before the event is seen, so the event is stale.
				switch ev := ev.(type) {
				case OfferAnswered:
					if agentID := m.openOffers[ev.OfferID]; agentID != "" && !deadlinePassed(st, ev.OfferID, now) {
						callID := m.offerCall[ev.OfferID]
						m.resolveOffer(ev.OfferID, false)
						m.agentBusy[agentID] = "call " + callID
						m.connected[callID] = agentID
						kinds[0]++
					}
				case OfferFailed:
					if m.openOffers[ev.OfferID] != "" && !deadlinePassed(st, ev.OfferID, now) {
						m.resolveOffer(ev.OfferID, true)
						kinds[1]++
					}
				case CallAbandoned:
					m.callGone(ev.CallID)
				case CallEnded:
					if _, ok := m.connected[ev.CallID]; ok {
						kinds[2]++
					}
					m.callGone(ev.CallID)
				}

				cmds := Step(st, ev, now)
				for _, c := range cmds {
					if c.Kind == CommandCancelOffer && c.Cancel.Reason == CancelRingTimeout {
						kinds[3]++
					}
				}
				if len(trace) == 15 {
					trace = trace[1:]
				}
				trace = append(trace, traced{i: i, now: now, ev: ev, cmds: routing(cmds)})
				if err := m.apply(cmds); err != nil {
					t.Fatalf("%v\ntrace tail:\n%s", err, traceTail())
				}
				if err := st.Check(); err != nil {
					t.Fatalf("after step %d: %v\ntrace tail:\n%s", i, err, traceTail())
				}
				if err := m.agrees(st); err != nil {
					t.Fatalf("after step %d: %v\ntrace tail:\n%s", i, err, traceTail())
				}
			}
			// The generator must reach the interesting paths, or the test
			// proves little.
			if kinds[0] == 0 || kinds[1] == 0 || kinds[2] == 0 || kinds[3] == 0 {
				t.Errorf("generator too tame: answered=%d failed=%d ended=%d timed-out=%d", kinds[0], kinds[1], kinds[2], kinds[3])
			}

			// Every offer still open must time out: far in the future, one
			// Tick cancels them all (and may issue new ones).
			open := slices.Collect(maps.Keys(m.openOffers))
			if err := m.apply(Step(st, Tick{}, now.Add(time.Hour))); err != nil {
				t.Fatal(err)
			}
			for _, id := range open {
				if !m.resolved[id] {
					t.Errorf("offer %d never resolved", id)
				}
			}
		})
	}
}

// deadlinePassed reports whether Step will expire the offer before it sees
// the event carrying it.
func deadlinePassed(st *State, offerID uint64, now time.Time) bool {
	o := st.offers[offerID]
	return o != nil && !o.timer.at.After(now)
}

// agrees checks that the State and the model see the same busy agents and
// open offers.
func (m *model) agrees(st *State) error {
	for id, a := range st.agents {
		busy := a.offer != nil || a.call != nil
		if busy != (m.agentBusy[id] != "") {
			return fmt.Errorf("agent %s: state says busy=%v (%v), model says %q", id, busy, a.state, m.agentBusy[id])
		}
	}
	if len(st.offers) != len(m.openOffers) {
		return fmt.Errorf("state has %d offers open, model %d", len(st.offers), len(m.openOffers))
	}
	return nil
}

func tail(lines []string, n int) string {
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

// ---- Properties over a skilled center ----

// The anchor queue is where the starvation bound is checked. It is served
// by one agent, the guardian, who is always logged in, never goes on a
// break, answers every offer within guardianAnswerMax, talks at most
// guardianTalkMax and has the queue's wrap-up. The generator keeps it
// overloaded with callers of every priority. Nothing moves into it and its
// callers ask for no callback; see TestStepPropertiesSkilledCenter for the
// bound.
const (
	anchorQueue         = "anchor"
	guardian            = "guardian"
	guardianDevice      = "dev-guardian"
	anchorAging         = 2.0 // priority per minute
	anchorMaxWaiting    = 4
	anchorRingTimeout   = 15 * time.Second
	anchorWrapUp        = 5 * time.Second
	guardianAnswerMax   = 3 * time.Second
	guardianTalkMax     = 60 * time.Second
	propMaxPriority     = 10
	propMaxPreferedWait = 20 * time.Second
)

// starvationBound is how long an anchor caller of priority p may wait
// before an agent answers.
//
// Order keys never change while calls wait (setOrderKey): a call queued at
// q0 with priority p has key q0 - p/r, and it is served before every call
// of a larger key. A call arriving at t has key at least t - P/r (P the
// highest priority), so once t > q0 + (P-p)/r no new arrival can pass it.
// Before reaching the queue's heap the caller may wait for a dedicated
// agent (at most propMaxPreferedWait) and ring them once (at most the ring
// timeout). So from T* = q0 + max((P-p)/r, preferred wait + ring timeout)
// on, the caller waits in the heap, and only calls already in the queue at
// T* can be served before it: at most anchorMaxWaiting-1 of them, since
// MaxWaiting bounds every caller of the queue (nothing is moved or
// scheduled into it, and its callers take no callback). The guardian
// serves the heap's head whenever free, one call per cycle of at most
// answer + talk + wrap-up (deadlines are delivered on time): first the
// call in hand at T*, then those ahead, then the caller's own offer is
// answered within guardianAnswerMax. One second of slack covers the
// nanosecond rounding of the keys.
func starvationBound(p int) time.Duration {
	aging := time.Duration(float64(propMaxPriority-p) / anchorAging * float64(time.Minute))
	cycle := guardianAnswerMax + guardianTalkMax + anchorWrapUp
	return max(aging, propMaxPreferedWait+anchorRingTimeout) + anchorMaxWaiting*cycle + guardianAnswerMax + time.Second
}

// hourlySlots is open for ten minutes of every twenty, every day.
func hourlySlots() *config.Calendar {
	cal := &config.Calendar{Name: "slots", Location: time.UTC}
	for d := range cal.Weekly {
		for m := 0; m < 24*60; m += 20 {
			cal.Weekly[d] = append(cal.Weekly[d], config.Span{From: m, To: m + 10})
		}
	}
	return cal
}

// propTopology is a small skilled center (skilledTopology) with every
// queue feature drawn at random, plus the anchor queue and its guardian.
func propTopology(r *rand.Rand) Topology {
	top := skilledTopology(r, centerShape{agents: 9 + r.IntN(6), queues: 4 + r.IntN(3), skills: 5})
	top.MissedBeforeNotReady = r.IntN(4)
	if r.IntN(2) == 0 {
		top.OfferCooldown = time.Duration(2+r.IntN(7)) * time.Second
	}
	n := len(top.Queues)
	dest := func(i int) config.Destination {
		switch k := r.IntN(6); {
		case k == 0 && i+1 < n: // only to later queues: no cycles, as the configuration requires
			return config.Destination{Kind: config.DestQueue, Target: top.Queues[i+1+r.IntN(n-i-1)].Name}
		case k == 1:
			return config.Destination{Kind: config.DestFlow, Target: "sorry"}
		case k == 2:
			return config.Destination{Kind: config.DestCallback}
		case k == 3:
			return config.Destination{Kind: config.DestHangup}
		case k == 4:
			return config.Destination{Kind: config.DestNone}
		}
		return config.Destination{Kind: config.DestBusy}
	}
	for i := range top.Queues {
		q := &top.Queues[i]
		q.AgingPerMinute = []float64{0, 0.5, 1, 2}[r.IntN(4)]
		q.WrapUp = []time.Duration{0, 0, 2 * time.Second, 10 * time.Second}[r.IntN(4)]
		q.RingTimeout = time.Duration(5+r.IntN(16)) * time.Second
		q.CallbackRetry = time.Duration(20+r.IntN(40)) * time.Second
		q.CallbackMaxAttempts = 1 + r.IntN(3)
		q.ServiceLevel = config.ServiceLevel{Threshold: 20 * time.Second, ShortAbandon: time.Duration(r.IntN(6)) * time.Second, IgnoreAbandons: r.IntN(5) == 0}
		if r.IntN(2) == 0 {
			q.Strategy = config.StrategyLongestIdle
		} else {
			q.Strategy = config.StrategyBestSkilled
		}
		if r.IntN(3) == 0 {
			q.Agents = append(q.Agents, top.Agents[r.IntN(len(top.Agents))].ID)
		}
		if r.IntN(3) == 0 {
			q.MaxWait = time.Duration(60+r.IntN(240)) * time.Second
			q.MaxWaitDest = dest(i)
		}
		if r.IntN(4) == 0 {
			q.MaxWaiting = 3 + r.IntN(4)
			q.FullDest = dest(i)
		}
		if r.IntN(6) == 0 {
			q.Hours = hourlySlots()
			q.ClosedDest = dest(i)
		}
		if r.IntN(2) == 0 {
			q.PositionEvery = time.Duration(20+r.IntN(40)) * time.Second
		}
		if r.IntN(3) == 0 && i+1 < n {
			q.Escalation = append(q.Escalation, EscalationStep{After: time.Duration(45+r.IntN(90)) * time.Second, Queue: top.Queues[i+1+r.IntN(n-i-1)].Name})
		}
	}
	top.Agents = append(top.Agents, AgentSpec{ID: guardian, Name: "Guardian"})
	top.Queues = append(top.Queues, QueueSpec{
		Name: anchorQueue, Agents: []string{guardian}, AgingPerMinute: anchorAging, MaxWaiting: anchorMaxWaiting,
		FullDest: config.Destination{Kind: config.DestBusy}, RingTimeout: anchorRingTimeout, WrapUp: anchorWrapUp,
		PositionEvery: 30 * time.Second,
	})
	return top
}

// pmCall is the conductor's view of one call the ACD holds.
type pmCall struct {
	queue     string
	priority  int
	queuedAt  time.Time
	callback  bool
	offer     uint64 // open offer, or 0
	connected string // the agent, once answered
}

type pmOffer struct{ call, agent string }

// scheduledEvent is a conductor reaction due at a time (an answer, a
// hang-up...).
type scheduledEvent struct {
	at  time.Time
	seq int
	ev  Event
}

// propSim is the generator and the model of what a conductor knows, built
// from the commands alone (plus which events it sent).
type propSim struct {
	r   *rand.Rand
	st  *State
	now time.Time
	top Topology

	calls      map[string]*pmCall
	offers     map[uint64]*pmOffer
	resolved   map[uint64]bool
	agentState map[string]AgentState
	agentOffer map[string]uint64
	agentCall  map[string]string
	exited     map[string]bool

	scheduled    []scheduledEvent
	schedSeq     int
	nextRandom   time.Time
	nextAnchor   time.Time // the next anchor caller
	nextCall     int
	nextCallback int64
	lastOfferID  uint64

	// stats prove the generator reaches the interesting paths.
	stats map[string]int
	// worst is the largest wait/bound ratio seen in the anchor queue.
	worst float64
	// draining is set at the end, when time jumps without the guardian
	// answering: the bound no longer applies.
	draining bool
	trace    []traceEntry
}

type traceEntry struct {
	at   time.Time
	ev   Event
	cmds []Command
}

func newPropSim(seed uint64) *propSim {
	r := rand.New(rand.NewPCG(seed, 0xacd))
	s := &propSim{
		r: r, now: t0, top: propTopology(r),
		calls: map[string]*pmCall{}, offers: map[uint64]*pmOffer{}, resolved: map[uint64]bool{},
		agentState: map[string]AgentState{}, agentOffer: map[string]uint64{}, agentCall: map[string]string{},
		exited: map[string]bool{}, stats: map[string]int{},
	}
	s.st = NewState(s.top)
	s.nextRandom, s.nextAnchor = t0, t0
	return s
}

func (s *propSim) schedule(after time.Duration, ev Event) {
	s.schedSeq++
	s.scheduled = append(s.scheduled, scheduledEvent{at: s.now.Add(after), seq: s.schedSeq, ev: ev})
}

func (s *propSim) uniform(lo, hi time.Duration) time.Duration {
	return lo + time.Duration(s.r.Int64N(int64(hi-lo)+1))
}

// next returns the next event and its time: a deadline of the State (a
// Tick, delivered on time as the Router does), a scheduled reaction, or a
// random event.
func (s *propSim) next() (Event, time.Time) {
	si := -1
	for i, e := range s.scheduled {
		if si < 0 || e.at.Before(s.scheduled[si].at) || e.at.Equal(s.scheduled[si].at) && e.seq < s.scheduled[si].seq {
			si = i
		}
	}
	var at time.Time
	if s.nextAnchor.Before(s.nextRandom) {
		at = s.nextAnchor
	} else {
		at = s.nextRandom
	}
	if si >= 0 && s.scheduled[si].at.Before(at) {
		at = s.scheduled[si].at
	}
	if d := s.st.NextDeadline(); !d.IsZero() && !d.After(at) {
		return Tick{}, d
	}
	if si >= 0 && s.scheduled[si].at.Equal(at) {
		ev := s.scheduled[si].ev
		s.scheduled = slices.Delete(s.scheduled, si, si+1)
		return ev, at
	}
	if s.nextAnchor.Equal(at) {
		// Anchor callers arrive about twice as fast as the guardian can
		// serve them, half of them with a raised priority: without aging,
		// the ones of priority 0 would starve.
		s.nextAnchor = at.Add(s.uniform(0, 40*time.Second))
		s.nextCall++
		ev := CallQueued{CallID: fmt.Sprintf("c%d", s.nextCall), Queue: anchorQueue}
		switch p := s.r.IntN(4); {
		case p == 1:
			ev.Priority = 1 + s.r.IntN(propMaxPriority-1)
		case p == 2:
			ev.Priority = propMaxPriority
		case p == 3 && s.r.IntN(3) == 0:
			ev.PreferredAgent, ev.PreferredWait = s.busyAgent(), s.uniform(0, propMaxPreferedWait)
		}
		return ev, at
	}
	ev := s.randomEvent()
	switch k := s.r.IntN(100); {
	case k < 83:
		s.nextRandom = at.Add(s.uniform(0, 3*time.Second))
	case k < 98:
		s.nextRandom = at.Add(s.uniform(3*time.Second, time.Minute))
	default: // a quiet spell: timeouts of every kind fire
		s.nextRandom = at.Add(s.uniform(time.Minute, 10*time.Minute))
	}
	return ev, at
}

// pickCall returns a random call of the model that ok accepts.
func (s *propSim) pickCall(ok func(id string, c *pmCall) bool) (string, bool) {
	var ids []string
	for _, id := range slices.Sorted(maps.Keys(s.calls)) { // ok may draw random numbers
		if ok(id, s.calls[id]) {
			ids = append(ids, id)
		}
	}
	if len(ids) == 0 {
		return "", false
	}
	return ids[s.r.IntN(len(ids))], true
}

// randomAgent returns an agent ID other than the guardian's, sometimes one
// the topology does not (or no longer) have.
func (s *propSim) randomAgent() string {
	return fmt.Sprintf("agent-%05d", s.r.IntN(16))
}

// busyAgent returns an agent on a call, if any: a caller's usual agent is
// often busy, which is when they wait for them.
func (s *propSim) busyAgent() string {
	busy := slices.Sorted(maps.Keys(s.agentCall))
	if len(busy) == 0 || slices.Contains(busy, guardian) && len(busy) == 1 {
		return s.randomAgent()
	}
	for {
		if a := busy[s.r.IntN(len(busy))]; a != guardian {
			return a
		}
	}
}

func (s *propSim) randomDevice() string { return fmt.Sprintf("dev-%d", s.r.IntN(18)) }

func (s *propSim) randomQueue() string {
	switch k := s.r.IntN(20); {
	case k < 1:
		return anchorQueue
	case k == 1:
		return "queue-9999" // unknown
	}
	return s.top.Queues[s.r.IntN(len(s.top.Queues)-1)].Name
}

func (s *propSim) randomEvent() Event {
	r := s.r
	switch k := r.IntN(100); {
	case k < 25:
		s.nextCall++
		ev := CallQueued{CallID: fmt.Sprintf("c%d", s.nextCall), Queue: s.randomQueue()}
		switch p := r.IntN(10); {
		case p < 6:
		case p < 9:
			ev.Priority = 1 + r.IntN(propMaxPriority-1)
		default:
			ev.Priority = propMaxPriority
		}
		if r.IntN(5) == 0 {
			// The anchor's bound counts on a short wait for a dedicated
			// agent; elsewhere callers may wait long enough to hear
			// announcements about it.
			ev.PreferredAgent = s.randomAgent()
			if r.IntN(2) == 0 {
				ev.PreferredAgent = s.busyAgent()
			}
			ev.PreferredWait = s.uniform(0, propMaxPreferedWait)
			if ev.Queue != anchorQueue {
				ev.PreferredWait = s.uniform(0, 2*time.Minute)
			}
		}
		return ev
	case k < 33:
		id, ok := s.pickCall(func(_ string, c *pmCall) bool { return c.connected == "" || r.IntN(5) == 0 })
		if !ok {
			id = "nobody"
		}
		return CallAbandoned{CallID: id}
	case k < 38:
		id, ok := s.pickCall(func(_ string, c *pmCall) bool {
			return c.queue != anchorQueue && !c.callback && c.connected == ""
		})
		if !ok {
			id = "nobody"
		}
		s.nextCallback++
		return CallbackRequested{CallID: id, CallbackID: s.nextCallback, Number: fmt.Sprintf("+4930%d", r.IntN(4))}
	case k < 40:
		s.nextCallback++
		return CallbackScheduled{
			CallbackID: s.nextCallback, Queue: s.top.Queues[r.IntN(len(s.top.Queues)-1)].Name,
			Number: fmt.Sprintf("+4930%d", r.IntN(4)), Priority: r.IntN(propMaxPriority + 1),
			QueuedAt: s.now.Add(-s.uniform(0, 5*time.Minute)), NotBefore: s.now.Add(s.uniform(-30*time.Second, 2*time.Minute)),
			Attempts: r.IntN(2), MaxAttempts: r.IntN(4),
		}
	case k < 52:
		return AgentLoggedIn{AgentID: s.randomAgent(), Device: s.randomDevice(), Source: "register"}
	case k < 55:
		return AgentLoggedOut{AgentID: s.randomAgent(), Reason: "shift-end", Source: "api:test"}
	case k < 57:
		return DeviceUnregistered{Device: s.randomDevice()}
	case k < 68:
		ev := AgentStateRequested{AgentID: s.randomAgent(), State: AgentStateAvailable, Source: "feature-code"}
		switch n := r.IntN(10); {
		case n < 5:
			ev.State, ev.Reason = AgentStateNotReady, []string{"break", "lunch", "meeting"}[r.IntN(3)]
		case n == 5:
			ev.State = AgentStateOnCall // not a state one may ask for
		}
		return ev
	case k < 72:
		id := s.randomAgent()
		if r.IntN(2) == 0 {
			id = guardian
		}
		return WrapUpDone{AgentID: id, Source: "feature-code"}
	case k < 74:
		s.top = propTopology(r)
		s.stats["reload"]++
		return TopologyChanged{Topology: s.top}
	case k < 77:
		live := map[string]bool{}
		for _, id := range slices.Sorted(maps.Keys(s.calls)) {
			if !s.calls[id].callback && r.IntN(12) != 0 {
				live[id] = true
			}
		}
		registered := map[string]bool{guardianDevice: true}
		for i := range 18 {
			if r.IntN(10) != 0 {
				registered[fmt.Sprintf("dev-%d", i)] = true
			}
		}
		return Reconcile{Taken: s.now.Add(-s.uniform(0, 5*time.Second)), LiveCalls: live, RegisteredDevices: registered}
	case k < 80:
		// Stale reports: for offers long resolved, or never made (never
		// for an open one, which might be the guardian's).
		id := uint64(r.IntN(int(s.lastOfferID) + 2))
		if s.offers[id] != nil {
			id = s.lastOfferID + 1000
		}
		switch r.IntN(4) {
		case 0:
			return OfferAnswered{OfferID: id, CallID: "stale", AgentID: s.randomAgent()}
		case 1:
			return OfferFailed{OfferID: id, Reason: OfferRejected}
		case 2:
			return CallHeld{CallID: "nobody", Held: true}
		}
		return CallbackFailed{CallID: "callback-0"}
	}
	return Tick{}
}

// react schedules what the conductor and the people do after an offer or
// an answer.
func (s *propSim) reactToOffer(o *OfferCall, rt time.Duration) {
	if o.AgentID == guardian {
		s.schedule(s.uniform(200*time.Millisecond, guardianAnswerMax), OfferAnswered{OfferID: o.OfferID, CallID: o.CallID, AgentID: o.AgentID})
		return
	}
	switch k := s.r.IntN(100); {
	case k < 65: // some answer after the ring timeout: late answers
		s.schedule(s.uniform(300*time.Millisecond, rt+3*time.Second), OfferAnswered{OfferID: o.OfferID, CallID: o.CallID, AgentID: o.AgentID})
	case k < 90:
		s.schedule(s.uniform(300*time.Millisecond, rt), OfferFailed{OfferID: o.OfferID, Reason: OfferFailure(s.r.IntN(5))})
	}
}

func (s *propSim) reactToAnswer(callID, agentID string, callback bool) {
	talk := s.uniform(5*time.Second, 3*time.Minute)
	if agentID == guardian {
		talk = s.uniform(5*time.Second, guardianTalkMax)
	}
	if s.r.IntN(3) == 0 {
		s.schedule(talk/3, CallHeld{CallID: callID, Held: true})
		s.schedule(talk*2/3, CallHeld{CallID: callID, Held: false})
	}
	if callback && s.r.IntN(5) < 2 {
		s.schedule(talk, CallbackFailed{CallID: callID, Result: "no-answer"})
		return
	}
	s.schedule(talk, CallEnded{CallID: callID})
}

func (s *propSim) dropCall(id string) {
	c := s.calls[id]
	if c == nil {
		return
	}
	if c.connected != "" {
		delete(s.agentCall, c.connected)
	}
	delete(s.calls, id)
}

func (s *propSim) resolve(id uint64) {
	o := s.offers[id]
	delete(s.agentOffer, o.agent)
	if c := s.calls[o.call]; c != nil && c.offer == id {
		c.offer = 0
	}
	delete(s.offers, id)
	s.resolved[id] = true
}

// step applies one event and checks every property.
func (s *propSim) step(ev Event, at time.Time) error {
	s.now = at
	// What the event says before the ACD sees it.
	switch ev := ev.(type) {
	case CallQueued:
		if q := s.st.queues[ev.Queue]; q != nil && !q.retired && s.calls[ev.CallID] == nil {
			s.calls[ev.CallID] = &pmCall{queue: ev.Queue, priority: ev.Priority, queuedAt: at}
		}
	case CallbackScheduled:
		// It may be offered at once; if it merges, "merged" drops it.
		id := CallbackCallID(ev.CallbackID)
		if q := s.st.queues[ev.Queue]; q != nil && !q.retired && s.calls[id] == nil {
			s.calls[id] = &pmCall{queue: ev.Queue, priority: ev.Priority, queuedAt: ev.QueuedAt, callback: true}
		}
	}
	var answering, failing uint64
	switch ev := ev.(type) {
	case CallEnded, CallAbandoned, CallbackFailed:
		// A hang-up frees the agent before the ACD offers them anything.
		var id string
		switch ev := ev.(type) {
		case CallEnded:
			id = ev.CallID
		case CallAbandoned:
			id = ev.CallID
		case CallbackFailed:
			id = ev.CallID
		}
		if c := s.calls[id]; c != nil && c.connected != "" {
			delete(s.agentCall, c.connected)
			c.connected = ""
		}
	case OfferAnswered:
		if s.offers[ev.OfferID] != nil {
			answering = ev.OfferID
		}
	case OfferFailed:
		if s.offers[ev.OfferID] != nil {
			failing = ev.OfferID
		}
	}

	cmds := Step(s.st, ev, at)
	s.trace = append(s.trace, traceEntry{at: at, ev: ev, cmds: slices.Clone(cmds)})
	if len(s.trace) > 40 {
		s.trace = s.trace[1:]
	}
	if err := s.st.Check(); err != nil {
		return err
	}
	var offered []*OfferCall
	for i := range cmds {
		if err := s.command(&cmds[i], ev, failing); err != nil {
			return err
		}
		if cmds[i].Kind == CommandOffer {
			offered = append(offered, &cmds[i].Offer)
		}
	}

	// What the event did, now that the commands tell whether the ACD took
	// it: an answer or failure for an offer still open was applied (one
	// the ACD had already withdrawn was answered by a cancel).
	switch ev := ev.(type) {
	case OfferAnswered:
		if answering != 0 && s.offers[answering] != nil {
			o := s.offers[answering]
			s.resolve(answering)
			c := s.calls[o.call]
			c.connected = o.agent
			s.agentCall[o.agent] = o.call
			s.stats["answered"]++
			if c.queue == anchorQueue && !c.callback {
				if err := s.checkWait(o.call, c); err != nil {
					return err
				}
				for _, w := range s.calls {
					if w.queue == anchorQueue && w.connected == "" && w.queuedAt.Before(c.queuedAt) {
						s.stats["anchor caller overtaken"]++
						break
					}
				}
			}
			s.reactToAnswer(o.call, o.agent, c.callback)
		}
	case OfferFailed:
		if failing != 0 && s.offers[failing] != nil {
			s.resolve(failing)
			s.stats["failed"]++
		}
	case CallQueued:
		if c := s.st.calls[ev.CallID]; c != nil && c.state == callDedicated {
			s.stats["waits for a dedicated agent"]++
		}
	case CallEnded:
		s.dropCall(ev.CallID)
	case CallAbandoned:
		s.dropCall(ev.CallID)
	}
	for _, o := range offered {
		if err := s.checkOrder(o); err != nil {
			return err
		}
	}
	return s.agrees()
}

// command records one command in the model and checks it.
func (s *propSim) command(cmd *Command, ev Event, failing uint64) error {
	switch cmd.Kind {
	case CommandOffer:
		o := &cmd.Offer
		if f := s.offers[failing]; f != nil && (f.call == o.CallID || f.agent == o.AgentID) {
			// The failure was applied before this new offer was made.
			s.resolve(failing)
			s.stats["failed"]++
		}
		s.stats["offer "+o.Decision.Rule.String()]++
		if o.Decision.Stage > 0 {
			s.stats["offer at escalation stage"]++
		}
		if o.Callback {
			s.stats["callback offer"]++
		}
		if o.OfferID <= s.lastOfferID {
			return fmt.Errorf("offer ID %d not increasing", o.OfferID)
		}
		s.lastOfferID = o.OfferID
		if busy := s.agentOffer[o.AgentID]; busy != 0 {
			return fmt.Errorf("offer %d to %s, who has offer %d open", o.OfferID, o.AgentID, busy)
		}
		if call := s.agentCall[o.AgentID]; call != "" {
			return fmt.Errorf("offer %d to %s, who is on call %s", o.OfferID, o.AgentID, call)
		}
		if st := s.agentState[o.AgentID]; st != AgentStateRinging {
			return fmt.Errorf("offer %d to %s, whose audited state is %v", o.OfferID, o.AgentID, st)
		}
		c := s.calls[o.CallID]
		switch {
		case c == nil:
			return fmt.Errorf("offer %d for unknown call %s", o.OfferID, o.CallID)
		case c.offer != 0 || c.connected != "":
			return fmt.Errorf("offer %d for call %s, already offered (%d) or connected (%q)", o.OfferID, o.CallID, c.offer, c.connected)
		case c.queue != o.Queue:
			return fmt.Errorf("offer %d names queue %s for a call in %s", o.OfferID, o.Queue, c.queue)
		case o.Callback != c.callback:
			return fmt.Errorf("offer %d: callback %v for a call with callback %v", o.OfferID, o.Callback, c.callback)
		case o.Decision.NumCandidates == 0 || o.Decision.Candidates[0].AgentID != o.AgentID:
			return fmt.Errorf("offer %d to %s: decision does not put the chosen agent first: %+v", o.OfferID, o.AgentID, o.Decision)
		}
		c.offer = o.OfferID
		s.offers[o.OfferID] = &pmOffer{call: o.CallID, agent: o.AgentID}
		s.agentOffer[o.AgentID] = o.OfferID
		s.reactToOffer(o, o.RingTimeout)
	case CommandCancelOffer:
		c := &cmd.Cancel
		s.stats["cancel "+c.Reason.String()]++
		if c.Reason == CancelLateAnswer {
			if ans, ok := ev.(OfferAnswered); !ok || ans.OfferID != c.OfferID {
				return fmt.Errorf("late-answer cancel of offer %d, which was not just answered", c.OfferID)
			}
			if s.offers[c.OfferID] != nil {
				return fmt.Errorf("late-answer cancel of offer %d, which is open", c.OfferID)
			}
			return nil
		}
		o := s.offers[c.OfferID]
		if o == nil || o.call != c.CallID || o.agent != c.AgentID {
			return fmt.Errorf("cancel of offer %d (%s/%s), which is not open", c.OfferID, c.CallID, c.AgentID)
		}
		s.resolve(c.OfferID)
	case CommandAgentState:
		a := &cmd.AgentState
		from, ok := s.agentState[a.AgentID]
		if !ok {
			from = AgentStateLoggedOut
		}
		if a.From != from {
			return fmt.Errorf("agent %s: audit says %v>%v, but the last audited state was %v", a.AgentID, a.From, a.To, from)
		}
		if a.From == a.To && a.To != AgentStateNotReady {
			return fmt.Errorf("agent %s: audit of a non-change %v>%v", a.AgentID, a.From, a.To)
		}
		s.agentState[a.AgentID] = a.To
		s.stats["agent "+a.To.String()+" "+a.Reason]++
	case CommandCallExit:
		e := &cmd.Exit
		c := s.calls[e.CallID]
		if c == nil || c.callback || s.exited[e.CallID] {
			return fmt.Errorf("exit of %s: unknown, a callback, or exited before", e.CallID)
		}
		s.exited[e.CallID] = true
		s.stats["exit "+e.Exit.String()+" "+e.SL.String()]++
		if e.Exit != ExitConnected {
			s.dropCall(e.CallID)
		}
	case CommandRoute:
		s.stats["route "+cmd.Route.Reason]++
		s.dropCall(cmd.Route.CallID)
	case CommandMove:
		m := &cmd.Move
		s.stats["move "+m.Reason]++
		c := s.calls[m.CallID]
		if c == nil || c.queue != m.From {
			return fmt.Errorf("move of %s from %s: the call is not there (%+v)", m.CallID, m.From, c)
		}
		if m.To == anchorQueue || m.From == anchorQueue {
			return fmt.Errorf("move %+v touches the anchor queue", m)
		}
		c.queue = m.To
	case CommandCallback:
		cb := &cmd.Callback
		s.stats["callback "+cb.State]++
		c := s.calls[cb.CallID]
		switch cb.State {
		case "pending":
			if c == nil {
				s.calls[cb.CallID] = &pmCall{queue: cb.Queue, priority: cb.Priority, queuedAt: cb.QueuedAt, callback: true}
			} else if c.connected != "" {
				delete(s.agentCall, c.connected)
				c.connected = ""
			}
		case "merged":
			if first := s.calls[CallbackCallID(cb.MergedInto)]; first != nil {
				first.priority, first.queuedAt = cb.Priority, cb.QueuedAt
			}
			s.dropCall(cb.CallID)
		case "dialing":
		case "done", "failed", "canceled":
			s.dropCall(cb.CallID)
		default:
			return fmt.Errorf("callback state %q", cb.State)
		}
	case CommandAnnounce:
		s.stats["announce"]++
		if cmd.Announce.WaitingFor != "" {
			s.stats["announce waiting-for"]++
		}
	case CommandRepair:
		s.stats["repair"]++
		if id := cmd.Repair.CallID; id != "" {
			// The call's exit, if it waited, follows; a connected one just
			// frees its agent.
			if c := s.calls[id]; c != nil && c.connected != "" {
				s.dropCall(id)
			}
		}
	case CommandUnknown:
		return fmt.Errorf("unknown command")
	}
	return nil
}

// checkOrder: an offer that followed the queue's order (not a dedicated
// pick, not a retry of an agent who failed the call) leaves no caller
// waiting in the call's queue who comes first (servedBefore at now) and
// whom the agent could have taken: at a stage the agent's membership
// reaches, and not recently failed by that agent.
func (s *propSim) checkOrder(o *OfferCall) error {
	d := &o.Decision
	if d.Rule == RuleDedicated || d.Rule == RuleRetryFailed {
		return nil
	}
	c, a := s.st.calls[o.CallID], s.st.agents[o.AgentID]
	if c == nil || a == nil || c.offer == nil || c.offer.id != o.OfferID {
		return fmt.Errorf("offer %d is not the open offer of %s", o.OfferID, o.CallID)
	}
	if d.Stage != c.stage {
		return fmt.Errorf("offer %d: decision stage %d, call at stage %d", o.OfferID, d.Stage, c.stage)
	}
	stage := -1
	for _, m := range a.memberships {
		if m.queue == c.queue {
			stage = m.stage
		}
	}
	if stage < 0 || stage > c.stage {
		return fmt.Errorf("offer %d by rule %v to %s, who does not serve %s at stage %d", o.OfferID, d.Rule, a.id, c.queue.name, c.stage)
	}
	for _, w := range s.st.calls {
		if w.queue == c.queue && w.state == callWaiting && w.stage >= stage && !w.recentlyFailedWith(a) && w.servedBefore(c, s.now) {
			return fmt.Errorf("offer %d gives %s (priority %d, queued %v, keys %d/%d) to %s while %s (priority %d, queued %v, keys %d/%d, stage %d) comes first in %s (aging %v)",
				o.OfferID, c.id, c.priority, c.queuedAt.Sub(t0), c.strictKey, c.agingKey, a.id, w.id, w.priority, w.queuedAt.Sub(t0), w.strictKey, w.agingKey, w.stage,
				c.queue.name, c.queue.spec.AgingPerMinute)
		}
	}
	return nil
}

// checkWait checks the starvation bound for an anchor caller.
func (s *propSim) checkWait(id string, c *pmCall) error {
	if s.draining {
		return nil
	}
	wait, bound := s.now.Sub(c.queuedAt), starvationBound(c.priority)
	if wait > bound {
		return fmt.Errorf("anchor caller %s (priority %d) has waited %v, more than the bound %v", id, c.priority, wait, bound)
	}
	s.worst = max(s.worst, float64(wait)/float64(bound))
	return nil
}

// agrees compares the model with the State, and checks that no anchor
// caller waits beyond the bound.
func (s *propSim) agrees() error {
	if len(s.calls) != len(s.st.calls) {
		for id := range s.st.calls {
			if s.calls[id] == nil {
				return fmt.Errorf("the ACD holds call %s, the model does not", id)
			}
		}
		for id := range s.calls {
			if s.st.calls[id] == nil {
				return fmt.Errorf("the model holds call %s, the ACD does not", id)
			}
		}
	}
	if len(s.offers) != len(s.st.offers) {
		return fmt.Errorf("%d offers open, the model counts %d", len(s.st.offers), len(s.offers))
	}
	for id, a := range s.st.agents {
		if (a.offer != nil) != (s.agentOffer[id] != 0) || (a.call != nil) != (s.agentCall[id] != "") {
			return fmt.Errorf("agent %s: ringing=%v on-call=%v, the model says offer %d call %q", id, a.offer != nil, a.call != nil, s.agentOffer[id], s.agentCall[id])
		}
		if st, ok := s.agentState[id]; ok && st != a.state {
			return fmt.Errorf("agent %s is %v, the audit says %v", id, a.state, st)
		}
	}
	for id, c := range s.calls {
		if c.queue == anchorQueue && !c.callback && c.connected == "" {
			if err := s.checkWait(id, c); err != nil {
				return err
			}
		}
	}
	return nil
}

func (s *propSim) dump() string {
	var b strings.Builder
	for _, e := range s.trace {
		desc := fmt.Sprintf("%#v", e.ev)
		if tc, ok := e.ev.(TopologyChanged); ok {
			desc = fmt.Sprintf("TopologyChanged{%d agents, %d queues}", len(tc.Topology.Agents), len(tc.Topology.Queues))
		}
		fmt.Fprintf(&b, "t=%v %s\n", e.at.Sub(t0), desc)
		for i := range e.cmds {
			fmt.Fprintf(&b, "      %s\n", show(&e.cmds[i]))
		}
	}
	return b.String()
}

// TestStepPropertiesSkilledCenter drives a small skilled center with
// seeded random events (priorities and aging, wrap-up, breaks, holds,
// dedicated agents, callbacks, escalation, abandons, answers, failures,
// ring timeouts, reloads, reconciliation and hot-desking) and a conductor
// that reacts to offers, and checks after every Step: the State's
// invariants; that the audit of agent states is continuous; that no agent
// gets two offers or an offer while busy; that the model and the State
// agree on calls and offers; the queue order (checkOrder); and the
// starvation bound in the anchor queue (starvationBound). At the end every
// offer must resolve.
func TestStepPropertiesSkilledCenter(t *testing.T) {
	const seeds, stepsPerSeed = 24, 3000
	total := map[string]int{}
	worst := 0.0
	for seed := range uint64(seeds) {
		s := newPropSim(seed)
		fail := func(i int, err error) {
			t.Fatalf("seed %d, step %d: %v\nreplay with this seed; trace tail:\n%s", seed, i, err, s.dump())
		}
		// The guardian is always there.
		if err := s.step(AgentLoggedIn{AgentID: guardian, Device: guardianDevice, Source: "register"}, t0); err != nil {
			fail(0, err)
		}
		for i := range stepsPerSeed {
			ev, at := s.next()
			if err := s.step(ev, at); err != nil {
				fail(i, err)
			}
		}
		// Every offer open now resolves: far in the future, their ring
		// timeouts have passed.
		s.draining = true
		open := slices.Collect(maps.Keys(s.offers))
		if err := s.step(Tick{}, s.now.Add(time.Hour)); err != nil {
			fail(stepsPerSeed, err)
		}
		for _, id := range open {
			if !s.resolved[id] {
				t.Errorf("seed %d: offer %d never resolved", seed, id)
			}
		}
		// Everyone hangs up: nothing may be left.
		for _, id := range slices.Sorted(maps.Keys(s.calls)) {
			if err := s.step(CallEnded{CallID: id}, s.now.Add(time.Second)); err != nil {
				fail(stepsPerSeed, err)
			}
		}
		if err := s.step(Tick{}, s.now.Add(time.Hour)); err != nil {
			fail(stepsPerSeed, err)
		}
		if len(s.st.calls) != 0 || len(s.st.offers) != 0 || s.st.NextDeadline().After(s.now) {
			t.Errorf("seed %d: %d calls, %d offers left, deadline %v", seed, len(s.st.calls), len(s.st.offers), s.st.NextDeadline())
		}
		for k, v := range s.stats {
			total[k] += v
		}
		worst = max(worst, s.worst)
	}
	// The generator must reach the interesting paths, or the test proves
	// little.
	for _, k := range []string{
		"answered", "failed", "reload", "repair", "announce", "announce waiting-for",
		"offer best-skilled", "offer longest-idle", "offer dedicated", "offer retry-failed", "offer at escalation stage",
		"cancel ring-timeout", "cancel late-answer", "cancel caller-abandoned", "cancel agent-logged-out", "cancel call-moved",
		"agent on-hold ", "agent wrap-up ", "agent not-ready missed", "agent not-ready lunch", "agent logged-out taken-over",
		"agent logged-out device-gone",
		"callback pending", "callback merged", "callback dialing", "callback done", "callback failed", "callback offer",
		"move escalation", "route max-wait", "route queue-full", "exit connected met", "exit connected missed",
		"exit abandoned excluded", "exit callback excluded", "anchor caller overtaken", "waits for a dedicated agent",
	} {
		if total[k] == 0 {
			t.Errorf("the generator never produced %q", k)
		}
	}
	// The anchor queue must be loaded enough for the bound to matter.
	if worst < 0.25 {
		t.Errorf("anchor callers waited at most %.0f%% of the bound: the starvation check is vacuous", 100*worst)
	}
	t.Logf("worst anchor wait %.0f%% of the bound; %v", 100*worst, total)
}

// TestStepDeterministic replays the same seeded day twice: Step must give
// the same commands for the same events at the same times, whatever the
// order in which Go iterates the State's maps (different in each run), so
// that recorded traces replay and a failing seed reproduces.
func TestStepDeterministic(t *testing.T) {
	run := func() []string {
		s := newPropSim(1)
		var out []string
		record := func(ev Event, at time.Time) {
			if err := s.step(ev, at); err != nil {
				t.Fatal(err)
			}
			line := fmt.Sprintf("t=%v %T", at.Sub(t0), ev)
			for _, c := range s.trace[len(s.trace)-1].cmds {
				line += " | " + show(&c)
			}
			out = append(out, line)
		}
		record(AgentLoggedIn{AgentID: guardian, Device: guardianDevice}, t0)
		for range 1500 {
			record(s.next())
		}
		return out
	}
	a, b := run(), run()
	for i := range a {
		if a[i] != b[i] {
			t.Fatalf("the runs differ at step %d:\n%s\n%s", i, a[i], b[i])
		}
	}
}

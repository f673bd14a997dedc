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
			var trace []string
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
				desc := fmt.Sprintf("%#v", ev)
				if tc, ok := ev.(TopologyChanged); ok {
					desc = fmt.Sprintf("TopologyChanged{%d agents, %d queues}", len(tc.Topology.Agents), len(tc.Topology.Queues))
				}
				trace = append(trace, fmt.Sprintf("%d t=%v %s -> %v", i, now.Sub(t0), desc, fmtCommands(routing(cmds))))
				if err := m.apply(cmds); err != nil {
					t.Fatalf("%v\ntrace tail:\n%s", err, tail(trace, 15))
				}
				if err := st.Check(); err != nil {
					t.Fatalf("after step %d: %v\ntrace tail:\n%s", i, err, tail(trace, 15))
				}
				if err := m.agrees(st); err != nil {
					t.Fatalf("after step %d: %v\ntrace tail:\n%s", i, err, tail(trace, 15))
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

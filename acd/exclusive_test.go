package acd

import (
	"testing"
	"time"

	"github.com/hotline-cc/hotline/config"
)

// routesOf returns the RouteCall commands of a step.
func routesOf(cmds []Command) []RouteCall {
	var out []RouteCall
	for _, c := range cmds {
		if c.Kind == CommandRoute {
			out = append(out, c.Route)
		}
	}
	return out
}

// exclusive is an IVR transfer of call id to agent a2, waiting up to 10 s.
func exclusive(id string) CallQueued {
	return CallQueued{CallID: id, Queue: "support", PreferredAgent: "a2", PreferredWait: 10 * time.Second, Exclusive: true}
}

func checkRoute(t *testing.T, st *State, cmds []Command, callID, reason string) {
	t.Helper()
	if err := st.Check(); err != nil {
		t.Fatal(err)
	}
	routes := routesOf(cmds)
	if len(routes) != 1 || routes[0].CallID != callID || routes[0].Reason != reason || routes[0].Destination.Kind != config.DestNone {
		t.Fatalf("routes %+v, want %s back to its flow for %s", routes, callID, reason)
	}
	if _, still := st.calls[callID]; still {
		t.Fatalf("%s is still in the ACD", callID)
	}
	if q := st.queues["support"]; q.callers != 0 {
		t.Fatalf("support counts %d callers", q.callers)
	}
}

func TestExclusiveCallGoesToItsAgentOnly(t *testing.T) {
	st := NewState(twoQueueTopology())
	Step(st, AgentLoggedIn{AgentID: "a1"}, t0) // longer idle than a2
	Step(st, AgentLoggedIn{AgentID: "a2"}, t0.Add(sec(1)))
	got := routing(Step(st, exclusive("c1"), t0.Add(sec(2))))
	if len(got) != 1 || got[0].Offer.AgentID != "a2" {
		t.Fatalf("offers %v, want a2 only", fmtCommands(got))
	}
	cmds := Step(st, OfferAnswered{OfferID: 1, CallID: "c1", AgentID: "a2"}, t0.Add(sec(3)))
	if err := st.Check(); err != nil || len(routesOf(cmds)) != 0 {
		t.Fatalf("answer: %v, routes %+v", err, routesOf(cmds))
	}
}

func TestExclusiveCallComesBackWhenItsAgentCannot(t *testing.T) {
	t.Run("not logged in", func(t *testing.T) {
		st := NewState(twoQueueTopology())
		Step(st, AgentLoggedIn{AgentID: "a1"}, t0)
		checkRoute(t, st, Step(st, exclusive("c1"), t0.Add(sec(1))), "c1", "agent-unavailable")
	})
	t.Run("busy too long", func(t *testing.T) {
		st := NewState(twoQueueTopology())
		Step(st, AgentLoggedIn{AgentID: "a2"}, t0)
		Step(st, CallQueued{CallID: "c0", Queue: "support"}, t0)
		Step(st, OfferAnswered{OfferID: 1, CallID: "c0", AgentID: "a2"}, t0.Add(sec(1)))
		Step(st, AgentLoggedIn{AgentID: "a1"}, t0.Add(sec(1)))
		if got := routing(Step(st, exclusive("c1"), t0.Add(sec(2)))); len(got) != 0 {
			t.Fatalf("offers %v to others while a2 is busy", fmtCommands(got))
		}
		checkRoute(t, st, Step(st, Tick{}, t0.Add(sec(12))), "c1", "agent-busy")
	})
	t.Run("no answer", func(t *testing.T) {
		st := NewState(twoQueueTopology())
		Step(st, AgentLoggedIn{AgentID: "a2"}, t0)
		Step(st, AgentLoggedIn{AgentID: "a1"}, t0)
		Step(st, exclusive("c1"), t0.Add(sec(1)))
		checkRoute(t, st, Step(st, OfferFailed{OfferID: 1, Reason: OfferNoAnswer}, t0.Add(sec(5))), "c1", "agent-no-answer")
	})
	t.Run("goes on a break", func(t *testing.T) {
		st := NewState(twoQueueTopology())
		Step(st, AgentLoggedIn{AgentID: "a2"}, t0)
		Step(st, CallQueued{CallID: "c0", Queue: "support"}, t0)
		Step(st, OfferAnswered{OfferID: 1, CallID: "c0", AgentID: "a2"}, t0.Add(sec(1)))
		Step(st, exclusive("c1"), t0.Add(sec(2)))
		// The break is asked for during a call: the caller need not wait
		// for that call to end to learn a2 is not coming.
		checkRoute(t, st, Step(st, AgentStateRequested{AgentID: "a2", State: AgentStateNotReady, Reason: "break"}, t0.Add(sec(3))), "c1", "agent-unavailable")
	})
	t.Run("caller hangs up while ringing", func(t *testing.T) {
		st := NewState(twoQueueTopology())
		Step(st, AgentLoggedIn{AgentID: "a2"}, t0)
		Step(st, exclusive("c1"), t0.Add(sec(1)))
		cmds := Step(st, CallAbandoned{CallID: "c1"}, t0.Add(sec(2)))
		if err := st.Check(); err != nil || len(routesOf(cmds)) != 0 {
			t.Fatalf("abandon: %v, routes %+v", err, routesOf(cmds))
		}
	})
}

func TestExclusiveCallSurvivesReloads(t *testing.T) {
	st := NewState(twoQueueTopology())
	Step(st, AgentLoggedIn{AgentID: "a1"}, t0)
	Step(st, AgentLoggedIn{AgentID: "a2"}, t0)
	Step(st, CallQueued{CallID: "c0", Queue: "support", PreferredAgent: "a2"}, t0)
	Step(st, OfferAnswered{OfferID: 1, CallID: "c0", AgentID: "a2"}, t0.Add(sec(1)))
	Step(st, exclusive("c1"), t0.Add(sec(2)))
	// A reload that keeps a2 (and adds an escalation) keeps c1 waiting for
	// a2 alone; one that removes a2 sends c1 back at once.
	top := twoQueueTopology()
	top.Queues[0].Escalation = []EscalationStep{{After: time.Second, Queue: "sales"}}
	cmds := Step(st, TopologyChanged{Topology: top}, t0.Add(sec(3)))
	if err := st.Check(); err != nil || len(routesOf(cmds)) != 0 || len(routing(cmds)) != 0 {
		t.Fatalf("reload keeping a2: %v, commands %v", err, fmtCommands(cmds))
	}
	if cmds := Step(st, Tick{}, t0.Add(sec(5))); len(routing(cmds)) != 0 || len(routesOf(cmds)) != 0 {
		t.Fatalf("c1 escalated or was offered: %v", fmtCommands(cmds))
	}
	top.Agents = top.Agents[:1]
	top.Queues[0].Agents = []string{"a1"}
	checkRoute(t, st, Step(st, TopologyChanged{Topology: top}, t0.Add(sec(6))), "c1", "agent-unavailable")
}

func TestExclusiveCallIsNoServiceLevelVerdict(t *testing.T) {
	st := NewState(twoQueueTopology())
	Step(st, AgentLoggedIn{AgentID: "a2"}, t0)
	Step(st, exclusive("c1"), t0)
	Step(st, CallAbandoned{CallID: "c1"}, t0.Add(sec(30)))
	Step(st, exclusive("c2"), t0.Add(sec(31)))
	Step(st, OfferAnswered{OfferID: 2, CallID: "c2", AgentID: "a2"}, t0.Add(sec(60)))
	sl := st.queues["support"].counters.SL
	if sl[SLMet] != 0 || sl[SLMissed] != 0 || sl[SLExcluded] != 2 {
		t.Errorf("support SL counters %v, want two excluded", sl)
	}
}

func TestExclusiveCallAgentLoggedOutWhileRinging(t *testing.T) {
	st := NewState(twoQueueTopology())
	Step(st, AgentLoggedIn{AgentID: "a2"}, t0)
	Step(st, exclusive("c1"), t0)
	checkRoute(t, st, Step(st, AgentLoggedOut{AgentID: "a2"}, t0.Add(sec(1))), "c1", "agent-logged-out")
}

// TestTransferredCallKeepsItsPlace: a call an agent sends back to a queue
// keeps its first enqueue time, so it is served before callers who came
// later, and gets no second service-level verdict; its wait counts from
// the transfer, not the talk before it.
func TestTransferredCallKeepsItsPlace(t *testing.T) {
	st := NewState(twoQueueTopology())
	Step(st, CallQueued{CallID: "later", Queue: "support"}, t0.Add(sec(50)))
	Step(st, CallQueued{CallID: "back", Queue: "support", Transferred: true, QueuedAt: t0}, t0.Add(sec(60)))
	got := routing(Step(st, AgentLoggedIn{AgentID: "a1"}, t0.Add(sec(61))))
	if len(got) != 1 || got[0].Offer.CallID != "back" {
		t.Fatalf("offers %v, want the transferred call first", fmtCommands(got))
	}
	var exits []CallExit
	for _, c := range Step(st, OfferAnswered{OfferID: 1, CallID: "back", AgentID: "a1"}, t0.Add(sec(62))) {
		if c.Kind == CommandCallExit {
			exits = append(exits, c.Exit)
		}
	}
	if len(exits) != 1 || exits[0].SL != SLExcluded || exits[0].Wait != sec(2) || !exits[0].Transferred {
		t.Errorf("exit %+v, want a transferred exit, excluded, with the wait since the transfer", exits)
	}
	if err := st.Check(); err != nil {
		t.Fatal(err)
	}
}

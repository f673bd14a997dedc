package acd

import (
	"fmt"
	"slices"
	"testing"
	"time"
)

var t0 = time.Date(2026, 11, 23, 9, 0, 0, 0, time.UTC)

// sec is a point in a test's timeline, in seconds after t0.
func sec(s float64) time.Duration { return time.Duration(s * float64(time.Second)) }

type step struct {
	at   time.Duration // since t0
	ev   Event
	want []Command
}

// twoQueueTopology: support = a1 a2 a3, sales = a1 a4; 20 s ring timeout
// and the default 5 s cool-down.
func twoQueueTopology() Topology {
	return Topology{
		Agents: []AgentSpec{{ID: "a1", Name: "Ann"}, {ID: "a2", Name: "Bob"}, {ID: "a3", Name: "Cid"}, {ID: "a4", Name: "Dee"}},
		Queues: []QueueSpec{
			{Name: "support", Agents: []string{"a1", "a2", "a3"}, RingTimeout: 20 * time.Second},
			{Name: "sales", Agents: []string{"a1", "a4"}, RingTimeout: 20 * time.Second},
		},
	}
}

func offerCall(id uint64, callID, agentID, queue string) Command {
	return Command{Kind: CommandOffer, Offer: OfferCall{OfferID: id, CallID: callID, AgentID: agentID, Queue: queue, RingTimeout: 20 * time.Second, Attempt: 1}}
}

func cancel(id uint64, callID, agentID string, reason CancelReason) Command {
	return Command{Kind: CommandCancelOffer, Cancel: CancelOffer{OfferID: id, CallID: callID, AgentID: agentID, Reason: reason}}
}

// routing keeps the offers and cancels of a Step, without their decision
// logs, which have tests of their own.
func routing(cmds []Command) []Command {
	var out []Command
	for _, c := range cmds {
		switch c.Kind {
		case CommandOffer:
			c.Offer.Decision = Decision{}
			out = append(out, Command{Kind: c.Kind, Offer: c.Offer})
		case CommandCancelOffer:
			out = append(out, Command{Kind: c.Kind, Cancel: c.Cancel})
		default:
		}
	}
	return out
}

func runSteps(t *testing.T, st *State, steps []step) {
	t.Helper()
	for i, s := range steps {
		got := routing(Step(st, s.ev, t0.Add(s.at)))
		if err := st.Check(); err != nil {
			t.Fatalf("step %d (t=%v, %#v): %v", i, s.at, s.ev, err)
		}
		if !slices.Equal(got, s.want) {
			t.Fatalf("step %d (t=%v, %#v):\n got  %v\n want %v", i, s.at, s.ev, fmtCommands(got), fmtCommands(s.want))
		}
	}
}

func fmtCommands(cmds []Command) string {
	if len(cmds) == 0 {
		return "[]"
	}
	s := ""
	for _, c := range cmds {
		switch c.Kind {
		case CommandOffer:
			s += fmt.Sprintf("\n    offer %+v", c.Offer)
		case CommandCancelOffer:
			s += fmt.Sprintf("\n    cancel %+v", c.Cancel)
		default:
			s += "\n    " + c.Kind.String()
		}
	}
	return s
}

func TestStep(t *testing.T) {
	tests := []struct {
		name  string
		steps []step
	}{
		{
			name: "call goes to the longest idle agent",
			steps: []step{
				{at: sec(0), ev: AgentLoggedIn{AgentID: "a2"}},
				{at: sec(1), ev: AgentLoggedIn{AgentID: "a3"}},
				{at: sec(2), ev: AgentLoggedIn{AgentID: "a1"}},
				{at: sec(3), ev: CallQueued{CallID: "c1", Queue: "support"}, want: []Command{offerCall(1, "c1", "a2", "support")}},
				{at: sec(4), ev: CallQueued{CallID: "c2", Queue: "support"}, want: []Command{offerCall(2, "c2", "a3", "support")}},
			},
		},
		{
			name: "registration refresh keeps idle time",
			steps: []step{
				{at: sec(0), ev: AgentLoggedIn{AgentID: "a2"}},
				{at: sec(1), ev: AgentLoggedIn{AgentID: "a3"}},
				{at: sec(2), ev: AgentLoggedIn{AgentID: "a2"}},
				{at: sec(3), ev: CallQueued{CallID: "c1", Queue: "support"}, want: []Command{offerCall(1, "c1", "a2", "support")}},
			},
		},
		{
			name: "callers are served first in first out",
			steps: []step{
				{at: sec(0), ev: CallQueued{CallID: "c1", Queue: "support"}},
				{at: sec(1), ev: CallQueued{CallID: "c2", Queue: "support"}},
				{at: sec(1), ev: CallQueued{CallID: "c3", Queue: "support"}},
				{at: sec(2), ev: AgentLoggedIn{AgentID: "a2"}, want: []Command{offerCall(1, "c1", "a2", "support")}},
				{at: sec(3), ev: AgentLoggedIn{AgentID: "a3"}, want: []Command{offerCall(2, "c2", "a3", "support")}},
				{at: sec(4), ev: OfferAnswered{OfferID: 1}},
				{at: sec(5), ev: CallEnded{"c1"}, want: []Command{offerCall(3, "c3", "a2", "support")}},
			},
		},
		{
			name: "higher priority is served before earlier arrivals",
			steps: []step{
				{at: sec(0), ev: CallQueued{CallID: "c1", Queue: "support"}},
				{at: sec(1), ev: CallQueued{CallID: "vip", Queue: "support", Priority: 5}},
				{at: sec(2), ev: AgentLoggedIn{AgentID: "a2"}, want: []Command{offerCall(1, "vip", "a2", "support")}},
			},
		},
		{
			name: "failed offer goes to the next agent",
			steps: []step{
				{at: sec(0), ev: AgentLoggedIn{AgentID: "a2"}},
				{at: sec(1), ev: AgentLoggedIn{AgentID: "a3"}},
				{at: sec(2), ev: CallQueued{CallID: "c1", Queue: "support"}, want: []Command{offerCall(1, "c1", "a2", "support")}},
				{at: sec(3), ev: OfferFailed{OfferID: 1, Reason: OfferRejected}, want: []Command{offerCall(2, "c1", "a3", "support")}},
			},
		},
		{
			name: "failed call keeps its place ahead of later callers",
			steps: []step{
				{at: sec(0), ev: AgentLoggedIn{AgentID: "a2"}},
				{at: sec(1), ev: CallQueued{CallID: "c1", Queue: "support"}, want: []Command{offerCall(1, "c1", "a2", "support")}},
				{at: sec(2), ev: CallQueued{CallID: "c2", Queue: "support"}},
				{at: sec(3), ev: OfferFailed{OfferID: 1, Reason: OfferBusy}},
				{at: sec(4), ev: AgentLoggedIn{AgentID: "a3"}, want: []Command{offerCall(2, "c1", "a3", "support")}},
			},
		},
		{
			name: "ring timeout cancels and tries the next agent",
			steps: []step{
				{at: sec(0), ev: AgentLoggedIn{AgentID: "a2"}},
				{at: sec(1), ev: AgentLoggedIn{AgentID: "a3"}},
				{at: sec(2), ev: CallQueued{CallID: "c1", Queue: "support"}, want: []Command{offerCall(1, "c1", "a2", "support")}},
				{at: sec(21.9), ev: Tick{}},
				{at: sec(22), ev: Tick{}, want: []Command{
					cancel(1, "c1", "a2", CancelRingTimeout),
					offerCall(2, "c1", "a3", "support"),
				}},
				{at: sec(23), ev: OfferAnswered{OfferID: 1}}, // late answer: stale
				{at: sec(24), ev: OfferAnswered{OfferID: 2}},
			},
		},
		{
			name: "an answer after the ring timeout is refused with a late-answer cancel",
			steps: []step{
				{at: sec(0), ev: AgentLoggedIn{AgentID: "a2"}},
				{at: sec(1), ev: AgentLoggedIn{AgentID: "a3"}},
				{at: sec(2), ev: CallQueued{CallID: "c1", Queue: "support"}, want: []Command{offerCall(1, "c1", "a2", "support")}},
				{at: sec(22), ev: Tick{}, want: []Command{
					cancel(1, "c1", "a2", CancelRingTimeout),
					offerCall(2, "c1", "a3", "support"),
				}},
				{at: sec(22.1), ev: OfferAnswered{OfferID: 1, CallID: "c1", AgentID: "a2"}, want: []Command{
					cancel(1, "c1", "a2", CancelLateAnswer),
				}},
				{at: sec(23), ev: OfferAnswered{OfferID: 2, CallID: "c1", AgentID: "a3"}},
			},
		},
		{
			name: "only agent is retried after the cool-down",
			steps: []step{
				{at: sec(0), ev: AgentLoggedIn{AgentID: "a4"}},
				{at: sec(1), ev: CallQueued{CallID: "c1", Queue: "sales"}, want: []Command{offerCall(1, "c1", "a4", "sales")}},
				{at: sec(2), ev: OfferFailed{OfferID: 1, Reason: OfferNoAnswer}},
				{at: sec(6.9), ev: Tick{}},
				{at: sec(7), ev: Tick{}, want: []Command{offerCall(2, "c1", "a4", "sales")}},
			},
		},
		{
			name: "call avoids an agent who recently failed it while others are idle",
			steps: []step{
				{at: sec(0), ev: AgentLoggedIn{AgentID: "a2"}},
				{at: sec(0.5), ev: AgentLoggedIn{AgentID: "a1"}},
				{at: sec(1), ev: CallQueued{CallID: "c1", Queue: "support"}, want: []Command{offerCall(1, "c1", "a2", "support")}},
				{at: sec(2), ev: OfferFailed{OfferID: 1, Reason: OfferRejected}, want: []Command{offerCall(2, "c1", "a1", "support")}},
				{at: sec(7), ev: Tick{}}, // a2's cool-down ends; a2 idle since 0
				{at: sec(8), ev: AgentLoggedIn{AgentID: "a3"}},
				{at: sec(22), ev: Tick{}, want: []Command{
					cancel(2, "c1", "a1", CancelRingTimeout),
					offerCall(3, "c1", "a3", "support"), // not a2, who failed c1
				}},
				{at: sec(23), ev: CallQueued{CallID: "c2", Queue: "support"}, want: []Command{offerCall(4, "c2", "a2", "support")}},
			},
		},
		{
			name: "failed offer keeps the agent's idle time",
			steps: []step{
				{at: sec(0), ev: AgentLoggedIn{AgentID: "a2"}},
				{at: sec(1), ev: AgentLoggedIn{AgentID: "a3"}},
				{at: sec(2), ev: CallQueued{CallID: "c1", Queue: "support"}, want: []Command{offerCall(1, "c1", "a2", "support")}},
				{at: sec(3), ev: OfferFailed{OfferID: 1, Reason: OfferUnreachable}, want: []Command{offerCall(2, "c1", "a3", "support")}},
				{at: sec(4), ev: AgentLoggedIn{AgentID: "a1"}},
				{at: sec(9), ev: CallQueued{CallID: "c2", Queue: "support"}, want: []Command{offerCall(3, "c2", "a2", "support")}},
			},
		},
		{
			name: "agent is longest idle from the end of their last call",
			steps: []step{
				{at: sec(0), ev: AgentLoggedIn{AgentID: "a2"}},
				{at: sec(1), ev: AgentLoggedIn{AgentID: "a3"}},
				{at: sec(2), ev: CallQueued{CallID: "c1", Queue: "support"}, want: []Command{offerCall(1, "c1", "a2", "support")}},
				{at: sec(3), ev: OfferAnswered{OfferID: 1}},
				{at: sec(10), ev: CallEnded{"c1"}},
				{at: sec(11), ev: CallQueued{CallID: "c2", Queue: "support"}, want: []Command{offerCall(2, "c2", "a3", "support")}},
				{at: sec(12), ev: CallQueued{CallID: "c3", Queue: "support"}, want: []Command{offerCall(3, "c3", "a2", "support")}},
			},
		},
		{
			name: "caller abandons while ringing",
			steps: []step{
				{at: sec(0), ev: AgentLoggedIn{AgentID: "a2"}},
				{at: sec(1), ev: AgentLoggedIn{AgentID: "a3"}},
				{at: sec(2), ev: CallQueued{CallID: "c1", Queue: "support"}, want: []Command{offerCall(1, "c1", "a2", "support")}},
				{at: sec(3), ev: CallAbandoned{"c1"}, want: []Command{cancel(1, "c1", "a2", CancelCallerAbandoned)}},
				// No cool-down, idle time kept: a2 is still first.
				{at: sec(4), ev: CallQueued{CallID: "c2", Queue: "support"}, want: []Command{offerCall(2, "c2", "a2", "support")}},
				{at: sec(5), ev: OfferFailed{OfferID: 1}}, // stale
			},
		},
		{
			name: "caller abandons while waiting",
			steps: []step{
				{at: sec(0), ev: CallQueued{CallID: "c1", Queue: "support"}},
				{at: sec(1), ev: CallAbandoned{"c1"}},
				{at: sec(2), ev: AgentLoggedIn{AgentID: "a2"}},
				{at: sec(3), ev: CallQueued{CallID: "c2", Queue: "support"}, want: []Command{offerCall(1, "c2", "a2", "support")}},
			},
		},
		{
			name: "logout while ringing fails the offer",
			steps: []step{
				{at: sec(0), ev: AgentLoggedIn{AgentID: "a2"}},
				{at: sec(1), ev: AgentLoggedIn{AgentID: "a3"}},
				{at: sec(2), ev: CallQueued{CallID: "c1", Queue: "support"}, want: []Command{offerCall(1, "c1", "a2", "support")}},
				{at: sec(3), ev: AgentLoggedOut{AgentID: "a2"}, want: []Command{
					cancel(1, "c1", "a2", CancelAgentLoggedOut),
					offerCall(2, "c1", "a3", "support"),
				}},
				{at: sec(40), ev: Tick{}, want: []Command{cancel(2, "c1", "a3", CancelRingTimeout)}},
			},
		},
		{
			name: "logout while talking takes effect at call end",
			steps: []step{
				{at: sec(0), ev: AgentLoggedIn{AgentID: "a4"}},
				{at: sec(1), ev: CallQueued{CallID: "c1", Queue: "sales"}, want: []Command{offerCall(1, "c1", "a4", "sales")}},
				{at: sec(2), ev: OfferAnswered{OfferID: 1}},
				{at: sec(3), ev: AgentLoggedOut{AgentID: "a4"}},
				{at: sec(4), ev: CallQueued{CallID: "c2", Queue: "sales"}},
				{at: sec(5), ev: CallEnded{"c1"}},
				{at: sec(6), ev: AgentLoggedIn{AgentID: "a1"}, want: []Command{offerCall(2, "c2", "a1", "sales")}},
			},
		},
		{
			name: "login during a call cancels the pending logout",
			steps: []step{
				{at: sec(0), ev: AgentLoggedIn{AgentID: "a4"}},
				{at: sec(1), ev: CallQueued{CallID: "c1", Queue: "sales"}, want: []Command{offerCall(1, "c1", "a4", "sales")}},
				{at: sec(2), ev: OfferAnswered{OfferID: 1}},
				{at: sec(3), ev: AgentLoggedOut{AgentID: "a4"}},
				{at: sec(4), ev: AgentLoggedIn{AgentID: "a4"}},
				{at: sec(5), ev: CallQueued{CallID: "c2", Queue: "sales"}},
				{at: sec(6), ev: CallEnded{"c1"}, want: []Command{offerCall(2, "c2", "a4", "sales")}},
			},
		},
		{
			name: "agent in two queues takes the longest waiting caller",
			steps: []step{
				{at: sec(0), ev: CallQueued{CallID: "support-1", Queue: "support"}},
				{at: sec(1), ev: CallQueued{CallID: "sales-1", Queue: "sales"}},
				{at: sec(2), ev: CallQueued{CallID: "support-2", Queue: "support"}},
				{at: sec(3), ev: AgentLoggedIn{AgentID: "a1"}, want: []Command{offerCall(1, "support-1", "a1", "support")}},
				{at: sec(4), ev: OfferAnswered{OfferID: 1}},
				{at: sec(5), ev: CallEnded{"support-1"}, want: []Command{offerCall(2, "sales-1", "a1", "sales")}},
				{at: sec(6), ev: OfferAnswered{OfferID: 2}},
				{at: sec(7), ev: CallEnded{"sales-1"}, want: []Command{offerCall(3, "support-2", "a1", "support")}},
			},
		},
		{
			name: "unknown agents queues offers and calls are ignored",
			steps: []step{
				{at: sec(0), ev: AgentLoggedIn{AgentID: "nobody"}},
				{at: sec(0), ev: AgentLoggedOut{AgentID: "nobody"}},
				{at: sec(1), ev: CallQueued{CallID: "c1", Queue: "nowhere"}},
				{at: sec(2), ev: OfferAnswered{OfferID: 42}},
				{at: sec(2), ev: OfferFailed{OfferID: 42}},
				{at: sec(3), ev: CallEnded{"c1"}},
				{at: sec(3), ev: CallAbandoned{"c9"}},
				{at: sec(4), ev: AgentLoggedIn{AgentID: "a2"}},
				{at: sec(5), ev: CallQueued{CallID: "c2", Queue: "support"}, want: []Command{offerCall(1, "c2", "a2", "support")}},
				{at: sec(6), ev: CallQueued{CallID: "c2", Queue: "support"}}, // duplicate
			},
		},
		{
			name: "reload adds a member who takes a waiting call",
			steps: []step{
				{at: sec(0), ev: AgentLoggedIn{AgentID: "a4"}},
				{at: sec(1), ev: CallQueued{CallID: "c1", Queue: "support"}},
				{at: sec(2), ev: TopologyChanged{Topology{
					Agents: twoQueueTopology().Agents,
					Queues: []QueueSpec{{Name: "support", Agents: []string{"a4"}, RingTimeout: 20 * time.Second}},
				}}, want: []Command{offerCall(1, "c1", "a4", "support")}},
			},
		},
		{
			name: "reload keeps a removed agent's call and queue until they finish",
			steps: []step{
				{at: sec(0), ev: AgentLoggedIn{AgentID: "a4"}},
				{at: sec(1), ev: CallQueued{CallID: "c1", Queue: "sales"}, want: []Command{offerCall(1, "c1", "a4", "sales")}},
				{at: sec(2), ev: CallQueued{CallID: "c2", Queue: "sales"}},
				{at: sec(3), ev: TopologyChanged{Topology{
					Agents: []AgentSpec{{ID: "a1"}, {ID: "a2"}},
					Queues: []QueueSpec{{Name: "support", Agents: []string{"a1", "a2"}}},
				}}},
				{at: sec(4), ev: OfferAnswered{OfferID: 1}},
				{at: sec(5), ev: CallQueued{CallID: "c3", Queue: "sales"}}, // sales is gone
				{at: sec(6), ev: CallEnded{"c1"}},                          // a4 is gone too
				{at: sec(7), ev: AgentLoggedIn{AgentID: "a4"}},
				{at: sec(8), ev: CallAbandoned{"c2"}},
				{at: sec(9), ev: AgentLoggedIn{AgentID: "a1"}},
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			st := NewState(twoQueueTopology())
			runSteps(t, st, tt.steps)
			if err := st.Check(); err != nil {
				t.Fatal(err)
			}
		})
	}
}

func TestStepCounters(t *testing.T) {
	st := NewState(twoQueueTopology())
	runSteps(t, st, []step{
		{at: sec(0), ev: AgentLoggedIn{AgentID: "a2"}},
		{at: sec(0), ev: AgentLoggedIn{AgentID: "a3"}},
		{at: sec(1), ev: CallQueued{CallID: "c1", Queue: "support"}, want: []Command{offerCall(1, "c1", "a2", "support")}},
		{at: sec(2), ev: OfferFailed{OfferID: 1, Reason: OfferRejected}, want: []Command{offerCall(2, "c1", "a3", "support")}},
		{at: sec(4), ev: OfferAnswered{OfferID: 2}},
		{at: sec(5), ev: CallQueued{CallID: "c2", Queue: "support"}},
		{at: sec(8), ev: CallAbandoned{"c2"}},
		{at: sec(9), ev: OfferAnswered{OfferID: 2}},
		{at: sec(9), ev: AgentLoggedIn{AgentID: "ghost"}},
	})
	snap := st.Snapshot(t0.Add(sec(10)))
	var got QueueCounters
	for _, q := range snap.Queues {
		if q.Name == "support" {
			got = q.Counters
		}
	}
	want := QueueCounters{CallsQueued: 2, CallsAbandoned: 1, CallsConnected: 1, ConnectedWait: sec(3), AbandonedWait: sec(3)}
	want.OffersByResult[OfferResultRejected] = 1
	want.OffersByResult[OfferResultAnswered] = 1
	// c1 was answered 3 s after queuing (met); c2 hung up after 3 s, which
	// counts as missed when the queue sets no short-abandon time.
	want.SL[SLMet], want.SL[SLMissed] = 1, 1
	if got != want {
		t.Errorf("support counters:\n got  %+v\n want %+v", got, want)
	}
	if want := (Counters{StaleEvents: 1, UnknownEvents: 1}); snap.Counters != want {
		t.Errorf("counters = %+v, want %+v", snap.Counters, want)
	}
}

func TestSnapshot(t *testing.T) {
	st := NewState(twoQueueTopology())
	runSteps(t, st, []step{
		{at: sec(0), ev: AgentLoggedIn{AgentID: "a1"}},
		{at: sec(1), ev: AgentLoggedIn{AgentID: "a4"}},
		{at: sec(2), ev: CallQueued{CallID: "c1", Queue: "sales"}, want: []Command{offerCall(1, "c1", "a1", "sales")}},
		{at: sec(3), ev: OfferFailed{OfferID: 1, Reason: OfferNoAnswer}, want: []Command{offerCall(2, "c1", "a4", "sales")}},
		{at: sec(4), ev: CallQueued{CallID: "c2", Queue: "sales"}},
		{at: sec(5), ev: CallQueued{CallID: "c3", Queue: "support"}},
	})
	snap := st.Snapshot(t0.Add(sec(6)))

	if got := len(snap.Agents); got != 4 {
		t.Fatalf("got %d agents, want 4", got)
	}
	a1 := snap.Agents[0]
	wantA1 := AgentSnapshot{
		ID: "a1", Name: "Ann", State: AgentStateAvailable, Since: t0.Add(sec(3)),
		IdleSince: t0, CooldownUntil: t0.Add(sec(8)), Queues: []string{"sales", "support"},
	}
	wantA1.Counters.OffersByResult[OfferResultNoAnswer] = 1
	wantA1.Counters.MissedInARow = 1
	if fmt.Sprint(a1) != fmt.Sprint(wantA1) {
		t.Errorf("a1:\n got  %+v\n want %+v", a1, wantA1)
	}
	if a4 := snap.Agents[3]; a4.State != AgentStateRinging || a4.CallID != "c1" || a4.OfferID != 2 {
		t.Errorf("a4 = %+v, want ringing for c1 (offer 2)", a4)
	}

	sales := snap.Queues[0]
	if sales.Name != "sales" {
		t.Fatalf("queues not sorted: %v first", sales.Name)
	}
	wantWaiting := []WaitingCall{
		{CallID: "c1", QueuedAt: t0.Add(sec(2)), Wait: sec(4), OfferID: 2, AgentID: "a4"},
		{CallID: "c2", QueuedAt: t0.Add(sec(4)), Wait: sec(2)},
	}
	if !slices.Equal(sales.Waiting, wantWaiting) {
		t.Errorf("sales waiting:\n got  %+v\n want %+v", sales.Waiting, wantWaiting)
	}
	if sales.OldestWait != sec(4) || sales.AgentsLoggedIn != 2 || sales.AgentsRinging != 1 ||
		sales.AgentsCoolingOff != 1 || sales.AgentsAvailable != 0 {
		t.Errorf("sales = %+v", sales)
	}
	support := snap.Queues[1]
	if support.AgentsLoggedIn != 1 || support.AgentsCoolingOff != 1 || len(support.Waiting) != 1 {
		t.Errorf("support = %+v", support)
	}
}

func TestNextDeadline(t *testing.T) {
	st := NewState(twoQueueTopology())
	if got := st.NextDeadline(); !got.IsZero() {
		t.Fatalf("idle state has deadline %v", got)
	}
	runSteps(t, st, []step{
		{at: sec(0), ev: AgentLoggedIn{AgentID: "a4"}},
		{at: sec(1), ev: CallQueued{CallID: "c1", Queue: "sales"}, want: []Command{offerCall(1, "c1", "a4", "sales")}},
	})
	if got, want := st.NextDeadline(), t0.Add(sec(21)); !got.Equal(want) {
		t.Errorf("ringing: deadline %v, want ring timeout %v", got, want)
	}
	runSteps(t, st, []step{{at: sec(2), ev: OfferFailed{OfferID: 1, Reason: OfferBusy}}})
	if got, want := st.NextDeadline(), t0.Add(sec(7)); !got.Equal(want) {
		t.Errorf("cooling: deadline %v, want end of cool-down %v", got, want)
	}
}

func TestTopologyDefaultsAndDuplicateMembers(t *testing.T) {
	st := NewState(Topology{
		Agents: []AgentSpec{{ID: "a1"}},
		Queues: []QueueSpec{{Name: "q", Agents: []string{"a1", "a1", "ghost"}}},
	})
	runSteps(t, st, []step{
		{at: 0, ev: AgentLoggedIn{AgentID: "a1"}},
		{at: 0, ev: CallQueued{CallID: "c", Queue: "q"}, want: []Command{
			{Kind: CommandOffer, Offer: OfferCall{OfferID: 1, CallID: "c", AgentID: "a1", Queue: "q", RingTimeout: DefaultRingTimeout, Attempt: 1}},
		}},
	})
	if err := st.Check(); err != nil {
		t.Fatal(err)
	}
}

// TestAnswerNamingAnotherCallIsRefused: an OfferAnswered whose call or
// agent does not match the offer never connects anyone.
func TestAnswerNamingAnotherCallIsRefused(t *testing.T) {
	st := NewState(twoQueueTopology())
	runSteps(t, st, []step{
		{at: 0, ev: AgentLoggedIn{AgentID: "a2"}},
		{at: sec(1), ev: CallQueued{CallID: "c1", Queue: "support"}, want: []Command{offerCall(1, "c1", "a2", "support")}},
		{at: sec(2), ev: OfferAnswered{OfferID: 1, CallID: "c9", AgentID: "a2"}},
		{at: sec(2), ev: OfferAnswered{OfferID: 1, CallID: "c1", AgentID: "a3"}},
	})
	if a2 := st.agents["a2"]; a2.state != AgentStateRinging || st.counters.StaleEvents != 2 {
		t.Fatalf("a2 %v, stale %d; want still ringing and two refused answers", a2.state, st.counters.StaleEvents)
	}
}

// TestReconcileDropsLostCallback: a connected callback whose legs the
// conductor no longer has frees its agent; one still live is kept.
func TestReconcileDropsLostCallback(t *testing.T) {
	st := NewState(twoQueueTopology())
	runSteps(t, st, []step{
		{at: 0, ev: AgentLoggedIn{AgentID: "a2"}},
		{at: 0, ev: AgentLoggedIn{AgentID: "a3"}},
		{at: sec(1), ev: CallbackScheduled{CallbackID: 7, Queue: "support", Number: "5550123"}, want: []Command{
			{Kind: CommandOffer, Offer: OfferCall{OfferID: 1, CallID: "callback-7", AgentID: "a2", Queue: "support", RingTimeout: 20 * time.Second, Callback: true, CallbackID: 7, Number: "5550123", Attempt: 1}},
		}},
		{at: sec(2), ev: OfferAnswered{OfferID: 1, CallID: "callback-7", AgentID: "a2"}},
		{at: sec(3), ev: Reconcile{Taken: t0.Add(sec(3)), LiveCalls: map[string]bool{"callback-7": true}}},
	})
	if st.agents["a2"].state != AgentStateOnCall {
		t.Fatal("a live callback was dropped")
	}
	runSteps(t, st, []step{{at: sec(4), ev: Reconcile{Taken: t0.Add(sec(4)), LiveCalls: map[string]bool{}}}})
	if st.agents["a2"].state != AgentStateAvailable || st.calls["callback-7"] != nil || st.counters.Repairs != 1 {
		t.Fatalf("a2 %v, callback kept %v, repairs %d; want the lost callback dropped", st.agents["a2"].state, st.calls["callback-7"] != nil, st.counters.Repairs)
	}
}

// TestCallbackNotPlacedWaitsInItsPlace: a callback the conductor cannot
// place does not cool its agent down; it waits a cool-down in its place.
func TestCallbackNotPlacedWaitsInItsPlace(t *testing.T) {
	st := NewState(twoQueueTopology())
	offer := func(id uint64) Command {
		return Command{Kind: CommandOffer, Offer: OfferCall{OfferID: id, CallID: "callback-7", AgentID: "a2", Queue: "support", RingTimeout: 20 * time.Second, Callback: true, CallbackID: 7, Number: "5550123", Attempt: 1}}
	}
	runSteps(t, st, []step{
		{at: 0, ev: AgentLoggedIn{AgentID: "a2"}},
		{at: sec(1), ev: CallbackScheduled{CallbackID: 7, Queue: "support", Number: "5550123"}, want: []Command{offer(1)}},
		{at: sec(2), ev: OfferFailed{OfferID: 1, Reason: OfferNotPlaced}},
		{at: sec(6), ev: Tick{}},
		{at: sec(7), ev: Tick{}, want: []Command{offer(2)}},
	})
	if a2 := st.agents["a2"]; a2.counters.OffersByResult[OfferResultNotPlaced] != 1 {
		t.Errorf("a2 counters %+v", a2.counters)
	}
}

// TestDedicatedWaitIsAnnouncedAtOnce: a caller who will wait for their busy
// advisor is told so when they enter the queue.
func TestDedicatedWaitIsAnnouncedAtOnce(t *testing.T) {
	st := NewState(twoQueueTopology())
	Step(st, AgentLoggedIn{AgentID: "a2"}, t0)
	Step(st, CallQueued{CallID: "c1", Queue: "support"}, t0.Add(sec(1)))
	Step(st, OfferAnswered{OfferID: 1, CallID: "c1", AgentID: "a2"}, t0.Add(sec(2)))
	var got []Announce
	for _, cmd := range Step(st, CallQueued{CallID: "c2", Queue: "support", PreferredAgent: "a2", PreferredWait: 30 * time.Second}, t0.Add(sec(3))) {
		if cmd.Kind == CommandAnnounce {
			got = append(got, cmd.Announce)
		}
	}
	if len(got) != 1 || got[0].CallID != "c2" || got[0].WaitingFor != "a2" || got[0].Position != 1 {
		t.Fatalf("announcements %+v, want c2 told it waits for a2", got)
	}
}

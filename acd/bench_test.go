package acd

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"
	"time"
)

type tracedEvent struct {
	ev  Event
	now time.Time
}

// contactCenterTrace records a busy day: every agent logs in, then callers
// arrive in random queues; 90% of offers are answered, 10% fail, and calls
// end so that about half the agents are on a call and some callers wait.
// Step is deterministic, so replaying the trace on a new State yields the
// same offers.
func contactCenterTrace(agents, queues, queuesPerAgent, events int) (Topology, []tracedEvent) {
	r := rand.New(rand.NewPCG(1, 2))
	top := Topology{}
	members := make([][]string, queues)
	for i := range agents {
		id := fmt.Sprintf("agent-%05d", i)
		top.Agents = append(top.Agents, AgentSpec{ID: id})
		for _, q := range r.Perm(queues)[:queuesPerAgent] {
			members[q] = append(members[q], id)
		}
	}
	for i := range queues {
		top.Queues = append(top.Queues, QueueSpec{Name: fmt.Sprintf("queue-%04d", i), Agents: members[i], RingTimeout: 20 * time.Second})
	}

	st := NewState(top)
	now := t0
	var trace []tracedEvent
	var pending []Event // the conductor's reactions to the last commands
	var connected []string
	record := func(ev Event) {
		trace = append(trace, tracedEvent{ev, now})
		for _, cmd := range Step(st, ev, now) {
			if offer, ok := cmd.(OfferCall); ok {
				if r.IntN(10) == 0 {
					pending = append(pending, OfferFailed{OfferID: offer.OfferID, Reason: OfferNoAnswer})
				} else {
					pending = append(pending, OfferAnswered{OfferID: offer.OfferID})
					connected = append(connected, offer.CallID)
				}
			}
		}
	}
	for _, a := range top.Agents {
		record(AgentLoggedIn{AgentID: a.ID})
	}
	for call := 0; len(trace) < events; call++ {
		now = now.Add(time.Duration(r.IntN(20)) * time.Millisecond)
		record(CallQueued{CallID: fmt.Sprintf("call-%d", call), Queue: top.Queues[r.IntN(queues)].Name})
		for len(pending) > 0 {
			ev := pending[0]
			pending = pending[1:]
			record(ev)
		}
		for len(connected) > agents/2 {
			i := r.IntN(len(connected))
			id := connected[i]
			connected = slices.Delete(connected, i, i+1)
			record(CallEnded{CallID: id})
		}
		if call%50 == 0 {
			record(Tick{})
		}
	}
	return top, trace
}

// BenchmarkStep replays a recorded trace; ns/decision is the time per
// routing decision (an OfferCall), including the events between decisions.
func BenchmarkStep(b *testing.B) {
	for _, size := range []struct{ agents, queues int }{{1000, 100}, {10000, 1000}} {
		b.Run(fmt.Sprintf("agents=%d/queues=%d", size.agents, size.queues), func(b *testing.B) {
			top, trace := contactCenterTrace(size.agents, size.queues, 3, 200_000)
			st := NewState(top)
			decisions := 0
			b.ReportAllocs()
			b.ResetTimer()
			for i := range b.N {
				j := i % len(trace)
				if j == 0 && i > 0 {
					b.StopTimer()
					st = NewState(top)
					b.StartTimer()
				}
				for _, cmd := range Step(st, trace[j].ev, trace[j].now) {
					if _, ok := cmd.(OfferCall); ok {
						decisions++
					}
				}
			}
			if decisions > 0 {
				b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(decisions), "ns/decision")
			}
		})
	}
}

// BenchmarkStepLatency times each Step that makes a decision, to show the
// tail the next issue's p99 target is about.
func BenchmarkStepLatency(b *testing.B) {
	top, trace := contactCenterTrace(10000, 1000, 3, 200_000)
	st := NewState(top)
	var durations []time.Duration
	b.ResetTimer()
	for i := range b.N {
		j := i % len(trace)
		if j == 0 && i > 0 {
			b.StopTimer()
			st = NewState(top)
			b.StartTimer()
		}
		start := time.Now()
		cmds := Step(st, trace[j].ev, trace[j].now)
		elapsed := time.Since(start)
		if len(cmds) > 0 {
			if _, ok := cmds[len(cmds)-1].(OfferCall); ok {
				durations = append(durations, elapsed)
			}
		}
	}
	b.StopTimer()
	if len(durations) > 0 {
		slices.Sort(durations)
		b.ReportMetric(float64(durations[len(durations)/2].Nanoseconds()), "p50-ns/decision")
		b.ReportMetric(float64(durations[len(durations)*99/100].Nanoseconds()), "p99-ns/decision")
	}
}

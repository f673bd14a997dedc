package acd

import (
	"fmt"
	"math/rand/v2"
	"runtime"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/hotline-cc/hotline/config"
)

type tracedEvent struct {
	ev  Event
	now time.Time
	// decides marks the events whose Step made a routing decision (an
	// offer) when the trace was recorded; Step is deterministic, so a
	// replay decides at the same events.
	decides bool
}

// centerShape sizes a generated contact center.
type centerShape struct {
	agents, queues, skills, events int
}

// skilledTopology builds a center where every queue asks for a pair of
// skills and agents are trained for a queue or two, so an agent serves a
// few queues and a queue has a dozen agents or so, like the skill-based
// centers of banks. A quarter of the queues have wrap-up, a
// fifth escalate to a wider tier after 30 s.
func skilledTopology(r *rand.Rand, shape centerShape) Topology {
	skill := func(i int) string { return fmt.Sprintf("skill-%02d", i) }
	var pairs [][2]int
	for a := range shape.skills {
		for b := a + 1; b < shape.skills; b++ {
			pairs = append(pairs, [2]int{a, b})
		}
	}
	r.Shuffle(len(pairs), func(i, j int) { pairs[i], pairs[j] = pairs[j], pairs[i] })
	top := Topology{MissedBeforeNotReady: 3}
	for i := range shape.queues {
		p := pairs[i%len(pairs)]
		q := QueueSpec{
			Name:           fmt.Sprintf("queue-%04d", i),
			Skills:         []SkillLevel{{Skill: skill(p[0]), Level: 1 + r.IntN(3)}, {Skill: skill(p[1]), Level: 1 + r.IntN(3)}},
			RingTimeout:    15 * time.Second,
			AgingPerMinute: 1,
		}
		if i%4 == 0 {
			q.WrapUp = 2 * time.Second
		}
		if i%5 == 0 {
			// Widen by lowering both minimum levels to 1.
			q.Escalation = []EscalationStep{{After: 30 * time.Second, Skills: []SkillLevel{{Skill: skill(p[0]), Level: 1}, {Skill: skill(p[1]), Level: 1}}}}
		}
		if i%2 == 0 {
			q.Strategy = config.StrategyLongestIdle
		}
		top.Queues = append(top.Queues, q)
	}
	// Each agent is trained for one queue's pair of skills, at a level
	// that usually qualifies, and has one more skill that may qualify them
	// for other queues or their escalation tiers.
	for i := range shape.agents {
		home := top.Queues[r.IntN(shape.queues)]
		a := AgentSpec{ID: fmt.Sprintf("agent-%05d", i)}
		for _, s := range home.Skills {
			a.Skills = append(a.Skills, SkillLevel{Skill: s.Skill, Level: 2 + r.IntN(9)})
		}
		if extra := skill(r.IntN(shape.skills)); extra != home.Skills[0].Skill && extra != home.Skills[1].Skill {
			a.Skills = append(a.Skills, SkillLevel{Skill: extra, Level: 1 + r.IntN(10)})
		}
		top.Agents = append(top.Agents, a)
	}
	return top
}

// contactCenterTrace records a busy day: every agent logs in, then callers
// arrive in random queues (5% VIPs, 5% asking for a dedicated agent); 90% of
// offers are answered, the rest ring out or are rejected; some callers hang
// up while waiting; agents take breaks; calls end so that about 60% of the
// agents are busy and callers queue.
func contactCenterTrace(shape centerShape) (Topology, []tracedEvent) {
	r := rand.New(rand.NewPCG(1, 2))
	top := skilledTopology(r, shape)
	st := NewState(top)
	now := t0
	var trace []tracedEvent
	var pending []Event // the conductor's reactions to the last commands
	var connected, waiting []string
	onBreak := map[string]bool{}
	record := func(ev Event) {
		cmds := Step(st, ev, now)
		decided := false
		for i := range cmds {
			cmd := &cmds[i]
			switch cmd.Kind {
			case CommandOffer:
				decided = true
				switch n := r.IntN(100); {
				case n < 90:
					pending = append(pending, OfferAnswered{OfferID: cmd.Offer.OfferID, CallID: cmd.Offer.CallID, AgentID: cmd.Offer.AgentID})
					connected = append(connected, cmd.Offer.CallID)
				case n < 97:
					pending = append(pending, OfferFailed{OfferID: cmd.Offer.OfferID, Reason: OfferNoAnswer})
				default:
					pending = append(pending, OfferFailed{OfferID: cmd.Offer.OfferID, Reason: OfferRejected})
				}
			case CommandAgentState:
				if cmd.AgentState.To == AgentStateNotReady && cmd.AgentState.Reason == ReasonMissed {
					onBreak[cmd.AgentState.AgentID] = true
				}
			default:
			}
		}
		trace = append(trace, tracedEvent{ev: ev, now: now, decides: decided})
	}
	for _, a := range top.Agents {
		record(AgentLoggedIn{AgentID: a.ID, Device: a.ID, Source: "register"})
	}
	for call := 0; len(trace) < shape.events; call++ {
		now = now.Add(time.Duration(r.IntN(4)) * time.Millisecond)
		ev := CallQueued{CallID: fmt.Sprintf("call-%d", call), Queue: top.Queues[r.IntN(shape.queues)].Name}
		switch n := r.IntN(100); {
		case n < 5:
			ev.Priority = 10
		case n < 10:
			ev.PreferredAgent, ev.PreferredWait = top.Agents[r.IntN(shape.agents)].ID, 10*time.Second
		}
		waiting = append(waiting, ev.CallID)
		record(ev)
		for len(pending) > 0 {
			ev := pending[0]
			pending = pending[1:]
			record(ev)
		}
		if r.IntN(100) < 3 && len(waiting) > 0 {
			i := r.IntN(len(waiting))
			record(CallAbandoned{CallID: waiting[i]})
			waiting = slices.Delete(waiting, i, i+1)
		}
		if len(waiting) > 4*shape.agents {
			waiting = waiting[len(waiting)-shape.agents:]
		}
		for len(connected) > shape.agents*6/10 {
			i := r.IntN(len(connected))
			id := connected[i]
			connected = slices.Delete(connected, i, i+1)
			record(CallEnded{CallID: id})
		}
		switch n := r.IntN(100); {
		case n < 2:
			id := top.Agents[r.IntN(shape.agents)].ID
			record(AgentStateRequested{AgentID: id, State: AgentStateNotReady, Reason: "break", Source: "feature-code"})
			onBreak[id] = true
		case n < 5:
			for id := range onBreak {
				record(AgentStateRequested{AgentID: id, State: AgentStateAvailable, Source: "feature-code"})
				delete(onBreak, id)
				break
			}
		}
		if call%50 == 0 {
			record(Tick{})
		}
	}
	return top, trace
}

var (
	benchTraceOnce sync.Once
	benchTop       Topology
	benchTrace     []tracedEvent
)

// acdBenchTrace is built once per test binary: the benchmark function runs
// several times while the framework sizes b.N.
func acdBenchTrace() (Topology, []tracedEvent) {
	benchTraceOnce.Do(func() {
		benchTop, benchTrace = contactCenterTrace(centerShape{agents: 10_000, queues: 1_000, skills: 50, events: 400_000})
	})
	return benchTop, benchTrace
}

// warmupEvents are replayed with the timer stopped after each fresh State,
// so that the measurement sees the steady state: heaps, maps and free lists
// grown to the center's size.
const warmupEvents = 100_000

// BenchmarkACD replays a recorded day of a center with 10,000 agents, 1,000
// queues and 50 skills. ns/op is per event (events/s is its inverse) and
// allocs/op must be 0; p50-ns and p99-ns are the latency of the Steps that
// made a routing decision, measured in a separate pass after the timed loop
// so that reading the clock does not weigh on the throughput figure.
func BenchmarkACD(b *testing.B) {
	top, trace := acdBenchTrace()
	measured := trace[warmupEvents:]
	fresh := func() *State {
		st := NewState(top)
		for _, te := range trace[:warmupEvents] {
			Step(st, te.ev, te.now)
		}
		// Collect the set-up's garbage now, with the timer stopped: with one
		// core, a GC cycle it left due would otherwise run inside the
		// measurement, though Step itself allocates nothing.
		runtime.GC()
		return st
	}
	st := fresh()
	b.ReportAllocs()
	b.ResetTimer()
	for i := range b.N {
		j := i % len(measured)
		if j == 0 && i > 0 {
			b.StopTimer()
			st = fresh()
			b.StartTimer()
		}
		Step(st, measured[j].ev, measured[j].now)
	}
	b.StopTimer()
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "events/s")

	st = fresh()
	var latencies []time.Duration
	for _, te := range measured {
		start := time.Now()
		Step(st, te.ev, te.now)
		if elapsed := time.Since(start); te.decides {
			latencies = append(latencies, elapsed)
		}
	}
	if len(latencies) == 0 {
		b.Fatal("the trace made no routing decision")
	}
	slices.Sort(latencies)
	b.ReportMetric(float64(latencies[len(latencies)/2].Nanoseconds()), "p50-ns")
	b.ReportMetric(float64(latencies[len(latencies)*99/100].Nanoseconds()), "p99-ns")
}

// TestBenchTraceIsRealistic keeps the benchmark honest: the generated day
// must exercise routing, failures, breaks, escalation and dedicated agents,
// and the State must stay consistent through it.
func TestBenchTraceIsRealistic(t *testing.T) {
	if testing.Short() {
		t.Skip("builds a 10,000-agent trace")
	}
	top, trace := contactCenterTrace(centerShape{agents: 2_000, queues: 200, skills: 50, events: 60_000})
	st := NewState(top)
	kinds := map[CommandKind]int{}
	rules := map[Rule]int{}
	states := map[AgentState]int{}
	for i, te := range trace {
		for _, cmd := range Step(st, te.ev, te.now) {
			kinds[cmd.Kind]++
			if cmd.Kind == CommandOffer {
				rules[cmd.Offer.Decision.Rule]++
			}
			if cmd.Kind == CommandAgentState {
				states[cmd.AgentState.To]++
			}
		}
		if i%5000 == 0 {
			if err := st.Check(); err != nil {
				t.Fatalf("event %d: %v", i, err)
			}
		}
	}
	if err := st.Check(); err != nil {
		t.Fatal(err)
	}
	for _, k := range []CommandKind{CommandOffer, CommandCancelOffer, CommandAgentState, CommandCallExit} {
		if kinds[k] == 0 {
			t.Errorf("no %s command in the trace", k)
		}
	}
	for _, r := range []Rule{RuleDedicated, RuleBestSkilled, RuleLongestIdle} {
		if rules[r] == 0 {
			t.Errorf("no offer decided by rule %s", r)
		}
	}
	for _, s := range []AgentState{AgentStateNotReady, AgentStateWrapUp, AgentStateOnCall} {
		if states[s] == 0 {
			t.Errorf("no agent went %s", s)
		}
	}
	snap := st.Snapshot(trace[len(trace)-1].now)
	waiting := 0
	for _, q := range snap.Queues {
		waiting += len(q.Waiting)
	}
	if waiting == 0 {
		t.Error("nobody waits at the end of the day: agents are never the bottleneck")
	}
	t.Logf("commands %v, rules %v, callers waiting at the end %d", kinds, rules, waiting)
}

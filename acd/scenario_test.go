package acd

import (
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/hotline-cc/hotline/config"
)

// Scenario tests: one short script per routing rule, on a fake timeline
// (t0 plus seconds). Each step's commands are rendered as one line each
// (see show) so that the expectations read like the audit log.

// scenario drives one State through a script.
type scenario struct {
	t    *testing.T
	st   *State
	now  time.Time
	last []Command // the last step's commands, copied
}

func newScenario(t *testing.T, top Topology) *scenario {
	t.Helper()
	return &scenario{t: t, st: NewState(top), now: t0}
}

// routingKinds are always compared by step: an unexpected offer, cancel,
// move or route is never ignored.
var routingKinds = []string{"offer", "cancel", "move", "route"}

// show renders a command on one line.
func show(c *Command) string {
	switch c.Kind {
	case CommandOffer:
		o := &c.Offer
		s := fmt.Sprintf("offer %s>%s", o.CallID, o.AgentID)
		if o.Callback {
			s += fmt.Sprintf(" callback=%d number=%s attempt=%d", o.CallbackID, o.Number, o.Attempt)
		}
		return s
	case CommandCancelOffer:
		return fmt.Sprintf("cancel %s>%s %v", c.Cancel.CallID, c.Cancel.AgentID, c.Cancel.Reason)
	case CommandAgentState:
		a := &c.AgentState
		s := fmt.Sprintf("state %s %v>%v", a.AgentID, a.From, a.To)
		if a.Reason != "" {
			s += " " + a.Reason
		}
		return s
	case CommandCallExit:
		e := &c.Exit
		s := fmt.Sprintf("exit %s %s %v", e.CallID, e.Queue, e.Exit)
		if e.SL != SLNone {
			s += " " + e.SL.String()
		}
		return s + " " + e.Wait.String()
	case CommandRoute:
		r := &c.Route
		return fmt.Sprintf("route %s %s>%v %s", r.CallID, r.Queue, r.Destination, r.Reason)
	case CommandMove:
		m := &c.Move
		return fmt.Sprintf("move %s %s>%s %s", m.CallID, m.From, m.To, m.Reason)
	case CommandAnnounce:
		a := &c.Announce
		s := fmt.Sprintf("announce %s pos=%d", a.CallID, a.Position)
		if a.EWT != 0 {
			s += " ewt=" + a.EWT.String()
		}
		if a.WaitingFor != "" {
			s += " for=" + a.WaitingFor
		}
		return s
	case CommandCallback:
		cb := &c.Callback
		s := fmt.Sprintf("callback %d %s", cb.CallbackID, cb.State)
		if cb.MergedInto != 0 {
			s += fmt.Sprintf(" into %d", cb.MergedInto)
		}
		if cb.Attempts != 0 {
			s += fmt.Sprintf(" attempts=%d", cb.Attempts)
		}
		return s
	case CommandRepair:
		id := c.Repair.CallID + c.Repair.AgentID
		return fmt.Sprintf("repair %s: %s", id, c.Repair.What)
	case CommandUnknown:
	}
	return c.Kind.String()
}

func showAll(cmds []Command) []string {
	out := make([]string, len(cmds))
	for i := range cmds {
		out[i] = show(&cmds[i])
	}
	return out
}

// at applies ev at t0+secs, checks the State's invariants and returns the
// rendered commands.
func (s *scenario) at(secs float64, ev Event) []string {
	s.t.Helper()
	s.now = t0.Add(sec(secs))
	s.last = slices.Clone(Step(s.st, ev, s.now))
	if err := s.st.Check(); err != nil {
		s.t.Fatalf("t=%vs %#v: %v", secs, ev, err)
	}
	return showAll(s.last)
}

// step applies ev and compares its commands with want: offers, cancels,
// moves and routes always; the other kinds only when want names one of
// them.
func (s *scenario) step(secs float64, ev Event, want ...string) {
	s.t.Helper()
	got := s.at(secs, ev)
	kinds := slices.Clone(routingKinds)
	for _, w := range want {
		kinds = append(kinds, strings.Fields(w)[0])
	}
	got = slices.DeleteFunc(got, func(line string) bool { return !slices.Contains(kinds, strings.Fields(line)[0]) })
	// A bare kind in want asks that no command of that kind be issued.
	want = slices.DeleteFunc(slices.Clone(want), func(w string) bool { return !strings.Contains(w, " ") })
	if !slices.Equal(got, want) {
		s.t.Fatalf("t=%vs %#v:\n got  %s\n want %s", secs, ev, strings.Join(got, "\n      "), strings.Join(want, "\n      "))
	}
}

func (s *scenario) tick(secs float64, want ...string) {
	s.t.Helper()
	s.step(secs, Tick{}, want...)
}

// login logs agents in at secs, each on a phone named after them.
func (s *scenario) login(secs float64, ids ...string) {
	s.t.Helper()
	for _, id := range ids {
		s.at(secs, AgentLoggedIn{AgentID: id, Device: "phone-" + id, Source: "register"})
	}
}

// offerOf returns the open offer for callID.
func (s *scenario) offerOf(callID string) uint64 {
	s.t.Helper()
	c := s.st.calls[callID]
	if c == nil || c.offer == nil {
		s.t.Fatalf("no offer open for %s", callID)
	}
	return c.offer.id
}

func (s *scenario) answer(secs float64, callID string, want ...string) {
	s.t.Helper()
	s.step(secs, OfferAnswered{OfferID: s.offerOf(callID)}, want...)
}

func (s *scenario) fail(secs float64, callID string, reason OfferFailure, want ...string) {
	s.t.Helper()
	s.step(secs, OfferFailed{OfferID: s.offerOf(callID), Reason: reason}, want...)
}

// lastOffer returns the last step's offer for callID.
func (s *scenario) lastOffer(callID string) OfferCall {
	s.t.Helper()
	for _, c := range s.last {
		if c.Kind == CommandOffer && c.Offer.CallID == callID {
			return c.Offer
		}
	}
	s.t.Fatalf("no offer for %s in %v", callID, showAll(s.last))
	return OfferCall{}
}

// find returns the last step's command rendered as line.
func (s *scenario) find(line string) *Command {
	s.t.Helper()
	for i := range s.last {
		if show(&s.last[i]) == line {
			return &s.last[i]
		}
	}
	s.t.Fatalf("no %q in %v", line, showAll(s.last))
	return nil
}

func (s *scenario) agent(id string) AgentSnapshot {
	s.t.Helper()
	for _, a := range s.st.Snapshot(s.now).Agents {
		if a.ID == id {
			return a
		}
	}
	s.t.Fatalf("no agent %s in the snapshot", id)
	return AgentSnapshot{}
}

func (s *scenario) queue(name string) QueueSnapshot {
	s.t.Helper()
	for _, q := range s.st.Snapshot(s.now).Queues {
		if q.Name == name {
			return q
		}
	}
	s.t.Fatalf("no queue %s in the snapshot", name)
	return QueueSnapshot{}
}

// waiting lists the IDs of a queue's callers in service order.
func (s *scenario) waiting(queue string) []string {
	s.t.Helper()
	var ids []string
	for _, w := range s.queue(queue).Waiting {
		ids = append(ids, w.CallID)
	}
	return ids
}

func (s *scenario) wantWaiting(queue string, ids ...string) {
	s.t.Helper()
	if got := s.waiting(queue); !slices.Equal(got, ids) {
		s.t.Fatalf("t=%v: %s waiting %v, want %v", s.now.Sub(t0), queue, got, ids)
	}
}

func (s *scenario) wantState(id string, state AgentState, reason string) {
	s.t.Helper()
	if a := s.agent(id); a.State != state || a.Reason != reason {
		s.t.Fatalf("t=%v: agent %s is %v (%q), want %v (%q)", s.now.Sub(t0), id, a.State, a.Reason, state, reason)
	}
}

func skills(kv ...any) []SkillLevel {
	var out []SkillLevel
	for i := 0; i < len(kv); i += 2 {
		out = append(out, SkillLevel{Skill: kv[i].(string), Level: kv[i+1].(int)})
	}
	return out
}

func agents(ids ...string) []AgentSpec {
	var out []AgentSpec
	for _, id := range ids {
		out = append(out, AgentSpec{ID: id})
	}
	return out
}

// ---- 1. Skills with levels ----

func skillsTopology(strategy config.Strategy) Topology {
	return Topology{
		Agents: []AgentSpec{
			{ID: "ann", Skills: skills("billing", 5)},
			{ID: "bob", Skills: skills("billing", 3)},
			{ID: "cid", Skills: skills("billing", 8)},
			{ID: "dee", Skills: skills("billing", 2)}, // below the level: member only by name
			{ID: "eve"}, // no skill: not a member
			{ID: "fay", Skills: skills("billing", 5)},
			{ID: "tia", Skills: skills("tech", 9, "english", 2)},
			{ID: "tom", Skills: skills("tech", 4, "english", 4)},
			{ID: "ted", Skills: skills("tech", 9)}, // no english
		},
		Queues: []QueueSpec{
			{Name: "billing", Skills: skills("billing", 3), Agents: []string{"dee"}, Strategy: strategy},
			{Name: "tech", Skills: skills("tech", 2, "english", 1), Strategy: strategy},
		},
	}
}

func TestScenarioSkillsBestSkilled(t *testing.T) {
	s := newScenario(t, skillsTopology(config.StrategyBestSkilled))
	s.login(0, "bob")
	s.login(0.5, "fay")
	s.login(1, "ann")
	s.login(2, "cid")
	s.login(3, "dee")
	s.login(4, "eve")
	if q := s.agent("eve").Queues; len(q) != 0 {
		t.Fatalf("eve serves %v, want no queue", q)
	}
	if q := s.agent("dee").Queues; !slices.Equal(q, []string{"billing"}) {
		t.Fatalf("dee serves %v, want billing (listed by name)", q)
	}
	// Highest tier first; within tier 5, fay has been idle longer than ann.
	s.step(10, CallQueued{CallID: "c1", Queue: "billing"}, "offer c1>cid")
	if d := s.lastOffer("c1").Decision; d.Rule != RuleBestSkilled || d.Tier != 8 || d.Idle != sec(8) || d.Candidates[0].AgentID != "cid" {
		t.Errorf("c1 decision = %+v", d)
	}
	s.step(11, CallQueued{CallID: "c2", Queue: "billing"}, "offer c2>fay")
	s.step(12, CallQueued{CallID: "c3", Queue: "billing"}, "offer c3>ann")
	s.step(13, CallQueued{CallID: "c4", Queue: "billing"}, "offer c4>bob")
	s.step(14, CallQueued{CallID: "c5", Queue: "billing"}, "offer c5>dee")
	if d := s.lastOffer("c5").Decision; d.Tier != 2 {
		t.Errorf("dee's tier = %d, want her level 2", d.Tier)
	}
	s.step(15, CallQueued{CallID: "c6", Queue: "billing"}) // eve is not qualified
	if w := s.queue("billing").Waiting; w[len(w)-1].CallID != "c6" || w[len(w)-1].AgentID != "" {
		t.Fatalf("billing waiting %+v, want c6 last and not offered", w)
	}

	// Several required skills: the tier is the agent's lowest level among
	// them; ted lacks english.
	s = newScenario(t, skillsTopology(config.StrategyBestSkilled))
	s.login(20, "tia")
	s.login(21, "tom")
	s.login(22, "ted")
	s.step(30, CallQueued{CallID: "t1", Queue: "tech"}, "offer t1>tom")
	if d := s.lastOffer("t1").Decision; d.Tier != 4 {
		t.Errorf("tom's tier = %d, want 4", d.Tier)
	}
	s.step(31, CallQueued{CallID: "t2", Queue: "tech"}, "offer t2>tia")
	s.step(32, CallQueued{CallID: "t3", Queue: "tech"})
}

func TestScenarioSkillsLongestIdle(t *testing.T) {
	s := newScenario(t, skillsTopology(config.StrategyLongestIdle))
	s.login(0, "bob")
	s.login(0.5, "fay")
	s.login(1, "ann")
	s.login(2, "cid")
	s.login(3, "dee")
	s.step(10, CallQueued{CallID: "c1", Queue: "billing"}, "offer c1>bob")
	if d := s.lastOffer("c1").Decision; d.Rule != RuleLongestIdle || d.Tier != 0 || d.Idle != sec(10) {
		t.Errorf("c1 decision = %+v", d)
	}
	s.step(11, CallQueued{CallID: "c2", Queue: "billing"}, "offer c2>fay")
	s.step(12, CallQueued{CallID: "c3", Queue: "billing"}, "offer c3>ann")
	s.step(13, CallQueued{CallID: "c4", Queue: "billing"}, "offer c4>cid")
	s.step(14, CallQueued{CallID: "c5", Queue: "billing"}, "offer c5>dee")
}

// Idle time counts from the end of after-call work; a missed offer does
// not reset it.
func TestScenarioIdleTime(t *testing.T) {
	top := Topology{
		Agents: agents("a1", "a2", "a3"),
		Queues: []QueueSpec{{Name: "q", Agents: []string{"a1", "a2", "a3"}, WrapUp: 10 * time.Second, Strategy: config.StrategyLongestIdle}},
	}
	s := newScenario(t, top)
	s.login(0, "a1")
	s.login(1, "a2")
	s.step(2, CallQueued{CallID: "c1", Queue: "q"}, "offer c1>a1")
	s.answer(3, "c1")
	s.step(20, CallEnded{CallID: "c1"}, "state a1 on-call>wrap-up")
	s.login(25, "a3")
	s.tick(30, "state a1 wrap-up>available")
	if a := s.agent("a1"); !a.IdleSince.Equal(t0.Add(sec(30))) {
		t.Fatalf("a1 idle since %v, want the end of wrap-up", a.IdleSince.Sub(t0))
	}
	// a2 (idle since 1) rejects: still first in line after the cool-down.
	s.step(40, CallQueued{CallID: "c2", Queue: "q"}, "offer c2>a2")
	s.fail(41, "c2", OfferRejected, "offer c2>a3") // a3 idle since 25, a1 since 30
	s.step(50, CallQueued{CallID: "c3", Queue: "q"}, "offer c3>a2")
	s.step(51, CallQueued{CallID: "c4", Queue: "q"}, "offer c4>a1")
}

// An agent in several queues takes the most urgent of their callers.
func TestScenarioAgentInSeveralQueues(t *testing.T) {
	top := Topology{
		Agents: []AgentSpec{{ID: "max", Skills: skills("billing", 4, "tech", 5, "english", 5)}},
		Queues: []QueueSpec{
			{Name: "billing", Skills: skills("billing", 3)},
			{Name: "tech", Skills: skills("tech", 2, "english", 1)},
		},
	}
	s := newScenario(t, top)
	s.step(0, CallQueued{CallID: "tech-1", Queue: "tech"})
	s.step(5, CallQueued{CallID: "billing-1", Queue: "billing"})
	s.step(6, CallQueued{CallID: "tech-2", Queue: "tech"})
	s.step(7, CallQueued{CallID: "billing-vip", Queue: "billing", Priority: 5})
	s.login(10, "max")
	s.find("offer billing-vip>max")
	s.answer(11, "billing-vip")
	s.step(12, CallEnded{CallID: "billing-vip"}, "offer tech-1>max")
	s.answer(13, "tech-1")
	s.step(14, CallEnded{CallID: "tech-1"}, "offer billing-1>max")
	s.answer(15, "billing-1")
	s.step(16, CallEnded{CallID: "billing-1"}, "offer tech-2>max")
}

// ---- 2. Priority with aging ----

func agingTopology(rate float64) Topology {
	return Topology{
		Agents: agents("a1"),
		Queues: []QueueSpec{{Name: "q", Agents: []string{"a1"}, AgingPerMinute: rate}},
	}
}

func TestScenarioPriorityAging(t *testing.T) {
	t.Run("a VIP jumps ahead of earlier callers", func(t *testing.T) {
		s := newScenario(t, agingTopology(1))
		s.step(0, CallQueued{CallID: "c0", Queue: "q"})
		s.step(60, CallQueued{CallID: "vip", Queue: "q", Priority: 10})
		s.wantWaiting("q", "vip", "c0")
		if w := s.queue("q").Waiting; w[0].EffectivePriority != 10 || w[1].EffectivePriority != 1 {
			t.Errorf("effective priorities %v, %v; want 10, 1", w[0].EffectivePriority, w[1].EffectivePriority)
		}
		s.login(120, "a1")
		s.find("offer vip>a1")
		if d := s.lastOffer("vip").Decision; d.EffectivePriority != 11 || d.Wait != sec(60) {
			t.Errorf("vip decision = %+v, want effective priority 11 after 60 s", d)
		}
	})
	t.Run("a caller who waited long enough beats a fresh VIP", func(t *testing.T) {
		s := newScenario(t, agingTopology(1))
		s.step(0, CallQueued{CallID: "c0", Queue: "q"})
		s.step(660, CallQueued{CallID: "vip", Queue: "q", Priority: 10})
		s.login(661, "a1")
		s.find("offer c0>a1")
	})
	t.Run("equal effective priority is first in first out", func(t *testing.T) {
		s := newScenario(t, agingTopology(1))
		s.step(0, CallQueued{CallID: "c0", Queue: "q"})
		s.step(600, CallQueued{CallID: "vip", Queue: "q", Priority: 10}) // c0 reached 10 too
		s.step(600, CallQueued{CallID: "c1", Queue: "q"})
		s.step(660, CallQueued{CallID: "p1", Queue: "q", Priority: 1}) // 1 at 660 = c1's 1
		s.wantWaiting("q", "c0", "vip", "c1", "p1")
		s.login(700, "a1")
		s.find("offer c0>a1")
		prev, at := "c0", 700.0
		for _, next := range []string{"vip", "c1", "p1"} {
			s.answer(at+1, prev)
			s.step(at+2, CallEnded{CallID: prev}, "offer "+next+">a1")
			prev, at = next, at+2
		}
	})
	t.Run("without aging priorities are strict", func(t *testing.T) {
		s := newScenario(t, agingTopology(0))
		s.step(0, CallQueued{CallID: "c0", Queue: "q"})
		s.step(3600, CallQueued{CallID: "vip", Queue: "q", Priority: 10})
		s.step(3601, CallQueued{CallID: "c1", Queue: "q"})
		s.wantWaiting("q", "vip", "c0", "c1")
		s.login(3602, "a1")
		s.find("offer vip>a1")
	})
}

// ---- 3. Dedicated agent ----

func dedicatedTopology() Topology {
	return Topology{
		Agents: agents("a1", "a2", "x"),
		Queues: []QueueSpec{{Name: "q", Agents: []string{"a1", "a2"}, WrapUp: time.Minute, RingTimeout: time.Minute}},
	}
}

func TestScenarioDedicatedAgent(t *testing.T) {
	t.Run("a free dedicated agent gets the call at once, member or not", func(t *testing.T) {
		s := newScenario(t, dedicatedTopology())
		s.login(0, "a1", "x")
		s.step(1, CallQueued{CallID: "c1", Queue: "q", PreferredAgent: "x"}, "offer c1>x")
		d := s.lastOffer("c1").Decision
		if d.Rule != RuleDedicated || d.NumCandidates != 1 || d.Candidates[0].AgentID != "x" {
			t.Errorf("decision = %+v", d)
		}
		// x fails: the call goes to the queue.
		s.fail(2, "c1", OfferRejected, "offer c1>a1")
	})
	for _, busy := range []string{"ringing", "on-call", "on-hold", "wrap-up"} {
		t.Run("the caller waits for a dedicated agent who is "+busy, func(t *testing.T) {
			s := newScenario(t, dedicatedTopology())
			s.login(0, "a1")
			s.step(1, CallQueued{CallID: "c0", Queue: "q"}, "offer c0>a1")
			switch busy {
			case "on-call":
				s.answer(2, "c0")
			case "on-hold":
				s.answer(2, "c0")
				s.step(2, CallHeld{CallID: "c0", Held: true}, "state a1 on-call>on-hold")
			case "wrap-up":
				s.answer(2, "c0")
				s.step(2, CallEnded{CallID: "c0"}, "state a1 on-call>wrap-up")
			}
			s.login(3, "a2")
			s.step(4, CallQueued{CallID: "c1", Queue: "q", PreferredAgent: "a1", PreferredWait: 30 * time.Second})
			if w := s.queue("q").Waiting; w[len(w)-1].WaitingFor != "a1" {
				t.Fatalf("c1 waits for %q, want a1", w[len(w)-1].WaitingFor)
			}
			if n := s.agent("a1").DedicatedWaiting; n != 1 {
				t.Fatalf("a1 has %d dedicated callers, want 1", n)
			}
			s.tick(33.9)
			s.tick(34, "offer c1>a2") // a1 did not come free in time
		})
	}
	t.Run("the dedicated agent coming free takes the caller", func(t *testing.T) {
		s := newScenario(t, dedicatedTopology())
		s.login(0, "a1", "a2")
		s.step(1, CallQueued{CallID: "c0", Queue: "q"}, "offer c0>a1")
		s.answer(2, "c0")
		s.step(3, CallQueued{CallID: "c1", Queue: "q", PreferredAgent: "a1", PreferredWait: time.Minute})
		s.step(4, CallEnded{CallID: "c0"}, "state a1 on-call>wrap-up")
		s.step(10, WrapUpDone{AgentID: "a1"}, "state a1 wrap-up>available", "state a1 available>ringing", "offer c1>a1")
		if d := s.lastOffer("c1").Decision; d.Rule != RuleDedicated || d.Wait != sec(7) {
			t.Errorf("decision = %+v", d)
		}
	})
	for _, absent := range []string{"logged-out", "not-ready", "wait-zero"} {
		t.Run("no wait for a dedicated agent who is "+absent, func(t *testing.T) {
			s := newScenario(t, dedicatedTopology())
			s.login(0, "a1", "a2")
			wait := time.Minute
			switch absent {
			case "not-ready":
				s.at(0, AgentStateRequested{AgentID: "a1", State: AgentStateNotReady, Reason: "lunch"})
			case "logged-out":
				s.at(0, AgentLoggedOut{AgentID: "a1"})
			case "wait-zero":
				s.step(0, CallQueued{CallID: "c0", Queue: "q"}, "offer c0>a1")
				wait = 0
			}
			s.step(1, CallQueued{CallID: "c1", Queue: "q", PreferredAgent: "a1", PreferredWait: wait}, "offer c1>a2")
		})
	}
	t.Run("a dedicated agent logging out releases their callers at once", func(t *testing.T) {
		s := newScenario(t, dedicatedTopology())
		s.login(0, "a1", "x")
		s.step(1, CallQueued{CallID: "c1", Queue: "q", PreferredAgent: "x", PreferredWait: time.Minute}, "offer c1>x")
		s.step(2, CallQueued{CallID: "c2", Queue: "q", PreferredAgent: "x", PreferredWait: time.Minute})
		s.step(3, AgentLoggedOut{AgentID: "x"}, "cancel c1>x agent-logged-out", "offer c1>a1")
		s.wantWaiting("q", "c1", "c2")
		if w := s.queue("q").Waiting[1]; w.WaitingFor != "" {
			t.Errorf("c2 still waits for %q", w.WaitingFor)
		}
	})
	for _, leaving := range []Event{
		AgentLoggedOut{AgentID: "a1", Reason: "shift-end"},
		AgentStateRequested{AgentID: "a1", State: AgentStateNotReady, Reason: "lunch"},
	} {
		t.Run(fmt.Sprintf("%T during a call releases the callers waiting for the agent", leaving), func(t *testing.T) {
			// The agent will take no call after this one: waiting for them
			// is pointless, whether the request applies now or later.
			s := newScenario(t, dedicatedTopology())
			s.login(0, "a1")
			s.step(1, CallQueued{CallID: "c0", Queue: "q"}, "offer c0>a1")
			s.answer(2, "c0")
			s.step(3, CallQueued{CallID: "c1", Queue: "q", PreferredAgent: "a1", PreferredWait: time.Minute})
			s.login(4, "a2")
			s.step(5, leaving, "offer c1>a2")
			if a := s.agent("a1"); a.State != AgentStateOnCall || a.DedicatedWaiting != 0 {
				t.Errorf("a1 = %+v", a)
			}
			// Nor does a new caller wait for them.
			s.step(6, CallQueued{CallID: "c2", Queue: "q", PreferredAgent: "a1", PreferredWait: time.Minute})
			if w := s.queue("q").Waiting; w[len(w)-1].WaitingFor != "" {
				t.Errorf("c2 waits for %q", w[len(w)-1].WaitingFor)
			}
		})
	}
}

// ---- 4. Escalation ----

func escalationTopology(salesLevel int) Topology {
	return Topology{
		Agents: []AgentSpec{
			{ID: "s5", Skills: skills("sales", salesLevel+5)},
			{ID: "s2", Skills: skills("sales", salesLevel+2)},
			{ID: "o1"},
		},
		Queues: []QueueSpec{
			{Name: "sales", Skills: skills("sales", 5), ServiceLevel: config.ServiceLevel{Threshold: 20 * time.Second},
				Escalation: []EscalationStep{
					{After: 60 * time.Second, Queue: "overflow"},
					{After: 30 * time.Second, Skills: skills("sales", 2)},
				}},
			{Name: "overflow", Agents: []string{"o1"}, ServiceLevel: config.ServiceLevel{Threshold: 20 * time.Second},
				Escalation: []EscalationStep{{After: 20 * time.Second, Skills: skills("sales", 1)}}},
		},
	}
}

func TestScenarioEscalation(t *testing.T) {
	t.Run("skills widen after a wait", func(t *testing.T) {
		s := newScenario(t, escalationTopology(0))
		s.login(0, "s5", "s2")
		s.step(1, CallQueued{CallID: "c0", Queue: "sales"}, "offer c0>s5")
		s.answer(2, "c0")
		s.step(10, CallQueued{CallID: "c1", Queue: "sales"}) // s2 (level 2) is not enough yet
		if w := s.queue("sales").Waiting[0]; w.Stage != 0 {
			t.Fatalf("c1 at stage %d, want 0", w.Stage)
		}
		s.tick(39.9)
		s.tick(40, "offer c1>s2")
		if d := s.lastOffer("c1").Decision; d.Stage != 1 || d.Tier != 2 || d.Wait != sec(30) {
			t.Errorf("decision = %+v, want stage 1, tier 2", d)
		}
	})
	t.Run("the queue's own agents are preferred over escalation agents", func(t *testing.T) {
		// Nobody qualifies until a reload raises both agents' levels in
		// one step; by then c1 has reached stage 1, where both may serve.
		s := newScenario(t, escalationTopology(-4))
		s.login(0, "s2") // idle longest
		s.login(1, "s5")
		s.step(2, CallQueued{CallID: "c1", Queue: "sales"})
		s.tick(32)
		if w := s.queue("sales").Waiting[0]; w.Stage != 1 {
			t.Fatalf("c1 at stage %d, want 1", w.Stage)
		}
		s.step(40, TopologyChanged{Topology: escalationTopology(0)}, "offer c1>s5")
		d := s.lastOffer("c1").Decision
		if d.Rule != RuleBestSkilled || d.Stage != 1 || d.Tier != 5 || d.NumCandidates != 2 ||
			d.Candidates[0] != (Candidate{AgentID: "s5", Tier: 5, Stage: 0, Idle: sec(39)}) ||
			d.Candidates[1] != (Candidate{AgentID: "s2", Tier: 2, Stage: 1, Idle: sec(40)}) {
			t.Errorf("decision = %+v", d)
		}
	})
	t.Run("a call moves to another queue with its place", func(t *testing.T) {
		s := newScenario(t, escalationTopology(0))
		s.step(0, CallQueued{CallID: "c1", Queue: "sales", Priority: 3})
		s.step(50, CallQueued{CallID: "o-1", Queue: "overflow", Priority: 3})
		s.tick(60, "move c1 sales>overflow escalation")
		s.wantWaiting("overflow", "c1", "o-1")
		if w := s.queue("overflow").Waiting[0]; !w.QueuedAt.Equal(t0) || w.Priority != 3 || w.Stage != 0 {
			t.Errorf("c1 in overflow = %+v, want queued at t0 with priority 3 at stage 0", w)
		}
		if q := s.queue("overflow"); q.Counters.CallsMovedIn != 1 || q.Counters.CallsQueued != 1 {
			t.Errorf("overflow counters = %+v", q.Counters)
		}
		// The stage clock restarts in the new queue: 20 s after the move,
		// not after the first queuing.
		s.tick(79.9)
		if w := s.queue("overflow").Waiting[0]; w.Stage != 0 {
			t.Fatalf("c1 reached stage %d before its time", w.Stage)
		}
		s.tick(80)
		if w := s.queue("overflow").Waiting[0]; w.Stage != 1 {
			t.Fatalf("c1 at stage %d, want 1", w.Stage)
		}
		s.login(90, "o1")
		s.find("offer c1>o1")
		s.answer(91, "c1", "exit c1 overflow connected missed 1m31s")
	})
}

// ---- 5. Max wait, full, closed ----

func limitsTopology(q QueueSpec) Topology {
	q.Name = "q"
	q.Agents = []string{"a1"}
	return Topology{
		Agents: agents("a1", "o1"),
		Queues: []QueueSpec{q, {Name: "overflow", Agents: []string{"o1"}}},
	}
}

// weekdayMornings is open 09:00 to 09:10 on weekdays (t0 is a Monday 09:00
// UTC).
func weekdayMornings() *config.Calendar {
	cal := &config.Calendar{Name: "mornings", Location: time.UTC}
	for d := time.Monday; d <= time.Friday; d++ {
		cal.Weekly[d] = []config.Span{{From: 9 * 60, To: 9*60 + 10}}
	}
	return cal
}

func TestScenarioMaxWait(t *testing.T) {
	for _, dest := range []config.Destination{
		{Kind: config.DestFlow, Target: "voicemail"},
		{Kind: config.DestCallback},
		{Kind: config.DestBusy},
		{Kind: config.DestHangup},
	} {
		t.Run(dest.String(), func(t *testing.T) {
			s := newScenario(t, limitsTopology(QueueSpec{MaxWait: time.Minute, MaxWaitDest: dest}))
			s.step(0, CallQueued{CallID: "c1", Queue: "q"})
			s.tick(59.9)
			s.tick(60, "exit c1 q routed missed 1m0s", "route c1 q>"+dest.String()+" max-wait")
			if q := s.queue("q"); q.Counters.CallsRouted != 1 || q.Counters.SL[SLMissed] != 1 || len(q.Waiting) != 0 {
				t.Errorf("q = %+v", q)
			}
		})
	}
	t.Run("to another queue", func(t *testing.T) {
		dest := config.Destination{Kind: config.DestQueue, Target: "overflow"}
		s := newScenario(t, limitsTopology(QueueSpec{MaxWait: time.Minute, MaxWaitDest: dest}))
		s.step(0, CallQueued{CallID: "c1", Queue: "q", Priority: 2})
		s.tick(60, "move c1 q>overflow max-wait")
		s.login(70, "o1")
		s.find("offer c1>o1")
		s.answer(71, "c1", "exit c1 overflow connected missed 1m11s")
	})
	t.Run("a call ringing an agent at max wait is moved", func(t *testing.T) {
		s := newScenario(t, limitsTopology(QueueSpec{MaxWait: time.Minute, MaxWaitDest: config.Destination{Kind: config.DestBusy}, RingTimeout: 2 * time.Minute}))
		s.login(0, "a1")
		s.step(1, CallQueued{CallID: "c1", Queue: "q"}, "offer c1>a1")
		s.tick(61, "cancel c1>a1 call-moved", "route c1 q>busy max-wait")
		s.wantState("a1", AgentStateAvailable, "")
	})
}

func TestScenarioQueueFull(t *testing.T) {
	t.Run("to busy", func(t *testing.T) {
		s := newScenario(t, limitsTopology(QueueSpec{MaxWaiting: 2, FullDest: config.Destination{Kind: config.DestBusy}}))
		s.step(0, CallQueued{CallID: "c1", Queue: "q"})
		s.step(1, CallQueued{CallID: "c2", Queue: "q"})
		s.step(2, CallQueued{CallID: "c3", Queue: "q"}, "exit c3 q routed 0s", "route c3 q>busy queue-full")
		q := s.queue("q")
		if q.Counters.SL[SLNone] != 1 || q.SLKnown || q.Counters.CallsQueued != 2 || q.Counters.CallsRouted != 1 {
			t.Errorf("q = %+v: the refused caller must never count", q)
		}
		s.step(3, CallAbandoned{CallID: "c1"})
		s.step(4, CallQueued{CallID: "c4", Queue: "q"})
		s.wantWaiting("q", "c2", "c4")
	})
	t.Run("to another queue", func(t *testing.T) {
		s := newScenario(t, limitsTopology(QueueSpec{MaxWaiting: 1, FullDest: config.Destination{Kind: config.DestQueue, Target: "overflow"}}))
		s.step(0, CallQueued{CallID: "c1", Queue: "q"})
		// The conductor must hear of the move: it plays the new queue's
		// music and names it in the CDR.
		s.step(1, CallQueued{CallID: "c2", Queue: "q"}, "move c2 q>overflow queue-full")
		s.wantWaiting("overflow", "c2")
		s.login(2, "o1")
		s.find("offer c2>o1")
		s.answer(3, "c2", "exit c2 overflow connected met 2s")
	})
}

func TestScenarioClosed(t *testing.T) {
	t.Run("to a flow", func(t *testing.T) {
		s := newScenario(t, limitsTopology(QueueSpec{Hours: weekdayMornings(), ClosedDest: config.Destination{Kind: config.DestFlow, Target: "closed-msg"}}))
		s.step(0, CallQueued{CallID: "c1", Queue: "q"})
		s.step(599, CallQueued{CallID: "c2", Queue: "q"})
		s.step(600, CallQueued{CallID: "c3", Queue: "q"}, "exit c3 q routed 0s", "route c3 q>flow:closed-msg closed")
		// Callers who came in while open are still served.
		s.login(700, "a1")
		s.find("offer c1>a1")
		s.wantWaiting("q", "c1", "c2")
	})
	t.Run("to another queue", func(t *testing.T) {
		s := newScenario(t, limitsTopology(QueueSpec{Hours: weekdayMornings(), ClosedDest: config.Destination{Kind: config.DestQueue, Target: "overflow"}}))
		s.step(600, CallQueued{CallID: "c1", Queue: "q"}, "move c1 q>overflow closed")
		s.wantWaiting("overflow", "c1")
		s.wantWaiting("q")
	})
	t.Run("unset destination is busy", func(t *testing.T) {
		s := newScenario(t, limitsTopology(QueueSpec{Hours: weekdayMornings()}))
		s.step(600, CallQueued{CallID: "c1", Queue: "q"}, "route c1 q>busy closed")
	})
}

// ---- 6. Agent states ----

func statesTopology() Topology {
	return Topology{
		Agents:               agents("a1", "a2"),
		MissedBeforeNotReady: 2,
		Queues:               []QueueSpec{{Name: "q", Agents: []string{"a1", "a2"}, WrapUp: 30 * time.Second, RingTimeout: 10 * time.Second}},
	}
}

func TestScenarioAgentStates(t *testing.T) {
	s := newScenario(t, statesTopology())
	s.step(0, AgentLoggedIn{AgentID: "a1", Device: "desk-1", Source: "register"}, "state a1 logged-out>available")
	if c := s.find("state a1 logged-out>available").AgentState; c.Source != "register" || c.Device != "desk-1" {
		t.Errorf("login audit = %+v", c)
	}
	s.step(1, CallQueued{CallID: "c1", Queue: "q"}, "state a1 available>ringing", "offer c1>a1")
	if c := s.find("state a1 available>ringing").AgentState; c.Source != "acd" || c.CallID != "c1" {
		t.Errorf("ringing audit = %+v", c)
	}
	s.answer(2, "c1", "state a1 ringing>on-call")
	s.step(3, CallHeld{CallID: "c1", Held: true}, "state a1 on-call>on-hold")
	s.step(4, CallHeld{CallID: "c1", Held: false}, "state a1 on-hold>on-call")
	s.step(5, CallEnded{CallID: "c1"}, "state a1 on-call>wrap-up")
	if a := s.agent("a1"); !a.WrapUpUntil.Equal(t0.Add(sec(35))) {
		t.Errorf("wrap-up until %v", a.WrapUpUntil.Sub(t0))
	}
	s.step(6, CallQueued{CallID: "c2", Queue: "q"}) // the next offer waits for the wrap-up
	s.tick(35, "state a1 wrap-up>available", "state a1 available>ringing", "offer c2>a1")

	// Ended early by WrapUpDone, or by asking to be available.
	s.answer(36, "c2")
	s.step(37, CallEnded{CallID: "c2"}, "state a1 on-call>wrap-up")
	s.step(38, WrapUpDone{AgentID: "a1", Source: "feature-code"}, "state a1 wrap-up>available")
	s.step(39, CallQueued{CallID: "c3", Queue: "q"}, "offer c3>a1")
	s.answer(40, "c3")
	s.step(41, CallEnded{CallID: "c3"})
	s.step(42, AgentStateRequested{AgentID: "a1", State: AgentStateAvailable, Source: "api:sup"}, "state a1 wrap-up>available")
	if c := s.find("state a1 wrap-up>available").AgentState; c.Source != "api:sup" {
		t.Errorf("source = %q", c.Source)
	}

	// Not-ready with a reason; available again.
	s.step(43, AgentStateRequested{AgentID: "a1", State: AgentStateNotReady, Reason: "break", Source: "feature-code"}, "state a1 available>not-ready break")
	s.step(44, CallQueued{CallID: "c4", Queue: "q"})
	s.step(45, AgentStateRequested{AgentID: "a1", State: AgentStateAvailable}, "state a1 not-ready>available", "state a1 available>ringing", "offer c4>a1")

	// A request while ringing, talking or on hold waits for the end of the
	// work, wrap-up included.
	s.step(46, AgentStateRequested{AgentID: "a1", State: AgentStateNotReady, Reason: "lunch"})
	if a := s.agent("a1"); a.State != AgentStateRinging || a.Pending != AgentStateNotReady || a.PendingReason != "lunch" {
		t.Fatalf("a1 = %+v, want ringing with not-ready pending", a)
	}
	s.answer(47, "c4", "state a1 ringing>on-call")
	s.step(48, CallHeld{CallID: "c4", Held: true}, "state a1 on-call>on-hold")
	s.step(49, AgentStateRequested{AgentID: "a1", State: AgentStateNotReady, Reason: "meeting"})
	s.step(50, CallEnded{CallID: "c4"}, "state a1 on-hold>wrap-up")
	s.tick(80, "state a1 wrap-up>not-ready meeting")

	// A request while ringing applies when the offer fails.
	s.step(81, AgentStateRequested{AgentID: "a1", State: AgentStateAvailable}, "state a1 not-ready>available")
	s.step(82, CallQueued{CallID: "c5", Queue: "q"}, "offer c5>a1")
	s.step(83, AgentStateRequested{AgentID: "a1", State: AgentStateNotReady, Reason: "coffee"})
	s.fail(84, "c5", OfferRejected, "state a1 ringing>not-ready coffee")
	s.step(85, CallAbandoned{CallID: "c5"})
}

func TestScenarioMissedOffers(t *testing.T) {
	s := newScenario(t, statesTopology())
	s.login(0, "a1")
	// Rejections, busy and unreachable are counted but are not ring-outs.
	s.step(1, CallQueued{CallID: "c1", Queue: "q"}, "offer c1>a1")
	for i, reason := range []OfferFailure{OfferRejected, OfferBusy, OfferUnreachable, OfferRejected} {
		at := float64(2 + 10*i)
		s.fail(at, "c1", reason)
		s.tick(at+5, "offer c1>a1") // retried after the cool-down
	}
	s.wantState("a1", AgentStateRinging, "")
	// Two ring-outs in a row: a no-answer, then the ring timeout.
	s.fail(40, "c1", OfferNoAnswer, "state a1 ringing>available")
	s.tick(45, "offer c1>a1")
	s.tick(55, "cancel c1>a1 ring-timeout", "state a1 ringing>not-ready missed")
	c := s.agent("a1").Counters
	want := [OfferResultLimit]uint64{}
	want[OfferResultRejected], want[OfferResultBusy], want[OfferResultUnreachable] = 2, 1, 1
	want[OfferResultNoAnswer], want[OfferResultRingTimeout] = 1, 1
	if c.OffersByResult != want || c.MissedInARow != 2 {
		t.Errorf("a1 counters = %+v, want %v", c, want)
	}
	// Back from not-ready: the count starts again.
	s.step(70, AgentStateRequested{AgentID: "a1", State: AgentStateAvailable}, "state a1 not-ready>available", "state a1 available>ringing", "offer c1>a1")
	if n := s.agent("a1").Counters.MissedInARow; n != 0 {
		t.Errorf("missed in a row = %d after coming back", n)
	}
	s.tick(80, "cancel c1>a1 ring-timeout", "state a1 ringing>available")
	// An answer resets the count too.
	s.tick(85, "offer c1>a1")
	s.answer(86, "c1")
	if n := s.agent("a1").Counters.MissedInARow; n != 0 {
		t.Errorf("missed in a row = %d after an answer", n)
	}
}

func TestScenarioLogoutWhileRinging(t *testing.T) {
	s := newScenario(t, statesTopology())
	s.login(0, "a1")
	s.step(1, CallQueued{CallID: "c1", Queue: "q"}, "offer c1>a1")
	// The audit goes straight from ringing to logged out.
	got := s.at(2, AgentLoggedOut{AgentID: "a1", Reason: "shift-end", Source: "api:sup"})
	want := []string{"cancel c1>a1 agent-logged-out", "state a1 ringing>logged-out shift-end"}
	if !slices.Equal(got, want) {
		t.Fatalf("got %v, want %v", got, want)
	}
}

// ---- 7. Hot-desking ----

func TestScenarioHotDesking(t *testing.T) {
	s := newScenario(t, statesTopology())
	s.step(0, AgentLoggedIn{AgentID: "a1", Device: "desk-1"}, "state a1 logged-out>available")
	s.step(1, AgentLoggedIn{AgentID: "a2", Device: "desk-1", Source: "feature-code"},
		"state a1 available>logged-out taken-over", "state a2 logged-out>available")
	if a1, a2 := s.agent("a1"), s.agent("a2"); a1.Device != "" || a2.Device != "desk-1" {
		t.Fatalf("devices: a1 %q, a2 %q", a1.Device, a2.Device)
	}
	s.step(2, CallQueued{CallID: "c1", Queue: "q"}, "offer c1>a2")
	if o := s.lastOffer("c1"); o.Device != "desk-1" {
		t.Errorf("offer rings %q, want desk-1", o.Device)
	}
	s.answer(3, "c1")

	// a1 takes the desk back while a2 is still talking on it: a2's logout
	// waits for the end of the call.
	s.step(4, AgentLoggedIn{AgentID: "a1", Device: "desk-1"}, "state a1 logged-out>available")
	if a2 := s.agent("a2"); a2.State != AgentStateOnCall || !a2.LogoutPending {
		t.Fatalf("a2 = %+v, want on call with logout pending", a2)
	}
	s.step(5, CallEnded{CallID: "c1"}, "state a2 on-call>logged-out taken-over") // no wrap-up when leaving
	if a1 := s.agent("a1"); a1.Device != "desk-1" || a1.State != AgentStateAvailable {
		t.Fatalf("a1 = %+v", a1)
	}

	// A phone that unregisters logs its agent out, at once or after the call.
	s.step(40, CallQueued{CallID: "c2", Queue: "q"}, "offer c2>a1")
	s.answer(41, "c2")
	s.step(42, DeviceUnregistered{Device: "desk-1"})
	if a1 := s.agent("a1"); !a1.LogoutPending {
		t.Fatalf("a1 = %+v, want logout pending", a1)
	}
	s.step(43, CallEnded{CallID: "c2"}, "state a1 on-call>logged-out device-gone")
	s.step(44, AgentLoggedIn{AgentID: "a2", Device: "desk-2"}, "state a2 logged-out>available")
	s.step(45, DeviceUnregistered{Device: "desk-2"}, "state a2 available>logged-out device-gone")

	// Moving to another phone keeps the agent logged in.
	s.step(46, AgentLoggedIn{AgentID: "a1", Device: "desk-3"}, "state a1 logged-out>available")
	s.step(47, AgentLoggedIn{AgentID: "a1", Device: "desk-4"})
	s.step(48, DeviceUnregistered{Device: "desk-3"})
	s.step(49, CallQueued{CallID: "c3", Queue: "q"}, "offer c3>a1")
	if o := s.lastOffer("c3"); o.Device != "desk-4" {
		t.Errorf("offer rings %q, want desk-4", o.Device)
	}
}

// ---- 8. Callbacks ----

func callbackTopology() Topology {
	return Topology{
		Agents: agents("a1", "a2"),
		Queues: []QueueSpec{{Name: "q", Agents: []string{"a1", "a2"}, CallbackRetry: time.Minute, CallbackMaxAttempts: 2,
			MaxWait: 2 * time.Minute, MaxWaitDest: config.Destination{Kind: config.DestBusy}, PositionEvery: 30 * time.Second}},
	}
}

func TestScenarioCallbacks(t *testing.T) {
	t.Run("a waiting caller keeps their place as a callback", func(t *testing.T) {
		s := newScenario(t, callbackTopology())
		s.step(0, CallQueued{CallID: "c1", Queue: "q", Priority: 1})
		s.step(10, CallQueued{CallID: "c2", Queue: "q", Priority: 1})
		s.step(20, CallbackRequested{CallID: "c1", CallbackID: 7, Number: "555"}, "exit c1 q callback excluded 20s", "callback 7 pending")
		s.wantWaiting("q", "callback-7", "c2")
		if w := s.queue("q").Waiting[0]; !w.QueuedAt.Equal(t0) || w.Priority != 1 || !w.Callback || w.Number != "555" || w.CallbackID != 7 {
			t.Errorf("callback = %+v", w)
		}
		if q := s.queue("q"); q.Counters.Callbacks != 1 || q.Counters.SL[SLExcluded] != 1 || q.CallbacksReady != 1 {
			t.Errorf("q = %+v", q)
		}
		// A callback is not a caller on the line: no announcements, and the
		// queue's max wait does not send it away.
		s.tick(40, "announce c2 pos=2")
		s.tick(70, "announce c2 pos=2")
		s.tick(100, "announce c2 pos=2")
		s.tick(120, "announce", "route", "callback") // c1's max wait would have been now
		s.tick(130, "route c2 q>busy max-wait")
		s.wantWaiting("q", "callback-7")

		s.login(200, "a1")
		o := s.lastOffer("callback-7")
		if !o.Callback || o.CallbackID != 7 || o.Number != "555" || o.Attempt != 1 {
			t.Errorf("offer = %+v", o)
		}
		s.answer(201, "callback-7", "callback 7 dialing attempts=1")
		s.step(260, CallEnded{CallID: "callback-7"}, "callback 7 done attempts=1")
		s.wantWaiting("q")
	})
	t.Run("a failed callback goes back to its place until its attempts run out", func(t *testing.T) {
		s := newScenario(t, callbackTopology())
		s.login(0, "a1")
		s.step(1, CallQueued{CallID: "c0", Queue: "q"}, "offer c0>a1")
		s.answer(2, "c0")
		s.step(3, CallQueued{CallID: "c1", Queue: "q"})
		s.step(4, CallbackRequested{CallID: "c1", CallbackID: 7, Number: "555"}, "callback 7 pending")
		s.step(5, CallEnded{CallID: "c0"}, "offer callback-7>a1 callback=7 number=555 attempt=1")
		s.answer(6, "callback-7")
		s.step(7, CallQueued{CallID: "c2", Queue: "q"})
		s.step(30, CallbackFailed{CallID: "callback-7", Result: "no-answer"}, "callback 7 pending attempts=1", "offer c2>a1")
		s.answer(31, "c2")
		s.step(40, CallQueued{CallID: "c3", Queue: "q"})
		s.wantWaiting("q", "callback-7", "c3") // scheduled again, still first in line
		s.step(50, CallEnded{CallID: "c2"}, "offer c3>a1")
		s.answer(51, "c3")
		s.step(60, CallEnded{CallID: "c3"})
		s.tick(89.9)
		s.tick(90, "offer callback-7>a1 callback=7 number=555 attempt=2")
		s.answer(91, "callback-7")
		s.step(92, CallbackFailed{CallID: "callback-7", Result: "busy"}, "callback 7 failed attempts=2")
		s.wantWaiting("q")
		s.wantState("a1", AgentStateAvailable, "")
	})
	t.Run("a ringing caller asking for a callback", func(t *testing.T) {
		s := newScenario(t, callbackTopology())
		s.login(0, "a1")
		s.step(1, CallQueued{CallID: "c1", Queue: "q"}, "offer c1>a1")
		s.step(2, CallbackRequested{CallID: "c1", CallbackID: 8, Number: "556"},
			"cancel c1>a1 call-moved", "exit c1 q callback excluded 1s", "callback 8 pending",
			"offer callback-8>a1 callback=8 number=556 attempt=1")
	})
	t.Run("a second request from the same number merges", func(t *testing.T) {
		s := newScenario(t, callbackTopology())
		s.step(0, CallQueued{CallID: "c1", Queue: "q"})
		s.step(1, CallQueued{CallID: "c2", Queue: "q", Priority: 5})
		s.step(3, CallQueued{CallID: "c3", Queue: "q"})
		s.step(5, CallbackRequested{CallID: "c3", CallbackID: 9, Number: "555"}, "callback 9 pending")
		s.step(6, CallbackRequested{CallID: "c2", CallbackID: 10, Number: "555"}, "exit c2 q callback excluded 5s", "callback 10 merged into 9")
		cb := s.find("callback 10 merged into 9").Callback
		if !cb.QueuedAt.Equal(t0.Add(sec(1))) || cb.Priority != 5 {
			t.Errorf("merged = %+v, want c2's earlier place and priority 5", cb)
		}
		s.wantWaiting("q", "callback-9", "c1")
		s.step(7, CallbackRequested{CallID: "c1", CallbackID: 11, Number: "555"}, "callback 11 merged into 9")
		if w := s.queue("q").Waiting; len(w) != 1 || !w[0].QueuedAt.Equal(t0) || w[0].Priority != 5 {
			t.Errorf("waiting = %+v, want one callback queued at t0 with priority 5", w)
		}
		s.login(8, "a1")
		s.find("offer callback-9>a1 callback=9 number=555 attempt=1")
	})
	t.Run("a callback that moved queues is forgotten for merging when done", func(t *testing.T) {
		top := callbackTopology()
		top.Queues[0].MaxWait = 0
		top.Queues[0].Escalation = []EscalationStep{{After: time.Minute, Queue: "other"}}
		top.Queues[0].Agents = []string{"a1"}
		top.Queues = append(top.Queues, QueueSpec{Name: "other", Agents: []string{"a2"}})
		s := newScenario(t, top)
		s.step(0, CallQueued{CallID: "c1", Queue: "q"})
		s.step(1, CallbackRequested{CallID: "c1", CallbackID: 1, Number: "555"}, "callback 1 pending")
		s.tick(61, "move callback-1 q>other escalation")
		s.login(62, "a2")
		s.find("offer callback-1>a2 callback=1 number=555 attempt=1")
		s.answer(63, "callback-1")
		s.step(64, CallEnded{CallID: "callback-1"}, "callback 1 done attempts=1")
		// A new request from the same number, in either queue, is a new
		// callback: nothing is left to merge into.
		s.step(65, CallQueued{CallID: "c2", Queue: "q"})
		s.step(66, CallbackRequested{CallID: "c2", CallbackID: 2, Number: "555"}, "callback 2 pending")
		s.step(67, CallbackScheduled{CallbackID: 3, Queue: "other", Number: "555"}, "offer callback-3>a2 callback=3 number=555 attempt=1")
	})
	t.Run("a scheduled callback enters the queue at its time", func(t *testing.T) {
		s := newScenario(t, callbackTopology())
		s.login(0, "a1")
		s.step(1, CallbackScheduled{CallbackID: 12, Queue: "q", Number: "777", QueuedAt: t0.Add(-time.Hour), NotBefore: t0.Add(sec(100)), MaxAttempts: 1})
		if w := s.queue("q").Waiting; len(w) != 1 || !w[0].NotBefore.Equal(t0.Add(sec(100))) {
			t.Fatalf("waiting = %+v", w)
		}
		s.step(2, CallQueued{CallID: "c1", Queue: "q"}, "offer c1>a1")
		s.answer(3, "c1")
		s.step(4, CallEnded{CallID: "c1"})
		s.tick(99.9)
		s.tick(100, "offer callback-12>a1 callback=12 number=777 attempt=1")
		s.answer(101, "callback-12")
		s.step(102, CallbackFailed{CallID: "callback-12"}, "callback 12 failed attempts=1")
	})
}

// ---- 9. Service level ----

func TestScenarioServiceLevel(t *testing.T) {
	sl := config.ServiceLevel{Threshold: 20 * time.Second, Target: 80, ShortAbandon: 5 * time.Second}
	top := Topology{
		Agents: agents("a1"),
		Queues: []QueueSpec{
			{Name: "q", Agents: []string{"a1"}, ServiceLevel: sl},
			{Name: "ignoring", ServiceLevel: config.ServiceLevel{Threshold: 20 * time.Second, IgnoreAbandons: true}},
		},
	}
	s := newScenario(t, top)
	s.step(0, CallQueued{CallID: "met", Queue: "q"})
	s.step(0, CallQueued{CallID: "edge", Queue: "q"})
	s.step(0, CallQueued{CallID: "late", Queue: "q"})
	s.step(0, CallQueued{CallID: "short", Queue: "q"})
	s.step(0, CallQueued{CallID: "long", Queue: "q"})
	s.step(4.9, CallAbandoned{CallID: "short"}, "exit short q abandoned excluded 4.9s")
	s.step(10, CallAbandoned{CallID: "long"}, "exit long q abandoned missed 10s")
	s.login(14, "a1")
	s.answer(15, "met", "exit met q connected met 15s")
	s.step(16, CallEnded{CallID: "met"}, "offer edge>a1")
	s.answer(20, "edge", "exit edge q connected met 20s") // within means up to and including
	s.step(21, CallEnded{CallID: "edge"}, "offer late>a1")
	s.answer(25, "late", "exit late q connected missed 25s")
	q := s.queue("q")
	if !q.SLKnown || q.SLCalls != 4 || q.ServiceLevel != 0.5 || q.SLThreshold != 20*time.Second || q.SLTarget != 80 {
		t.Errorf("q service level = %v over %d calls (known %v)", q.ServiceLevel, q.SLCalls, q.SLKnown)
	}
	if q.Counters.SL != [4]uint64{SLMet: 2, SLMissed: 2, SLExcluded: 1} {
		t.Errorf("q SL counters = %v", q.Counters.SL)
	}
	s.step(30, CallQueued{CallID: "x", Queue: "ignoring"})
	s.step(90, CallAbandoned{CallID: "x"}, "exit x ignoring abandoned excluded 1m0s")
	if q := s.queue("ignoring"); q.SLKnown {
		t.Errorf("ignoring: %+v", q)
	}
	// The live figure covers the last 15 minutes.
	s.now = t0.Add(14 * time.Minute)
	if q := s.queue("q"); !q.SLKnown || q.SLCalls != 4 {
		t.Errorf("after 14 min: %d calls", q.SLCalls)
	}
	s.now = t0.Add(16 * time.Minute)
	if q := s.queue("q"); q.SLKnown || q.SLCalls != 0 {
		t.Errorf("after 16 min: %d calls (known %v)", q.SLCalls, q.SLKnown)
	}
}

// ---- 10. Decision log ----

func TestScenarioDecisionLog(t *testing.T) {
	top := Topology{
		Agents: agents("a1", "a2", "a3"),
		Queues: []QueueSpec{{Name: "q", Agents: []string{"a1", "a2", "a3"}, AgingPerMinute: 2, RingTimeout: 20 * time.Second}},
	}
	s := newScenario(t, top)
	s.login(0, "a2")
	s.login(0.5, "a1")
	s.step(1, CallQueued{CallID: "c1", Queue: "q", Priority: 3}, "offer c1>a2")
	d := s.lastOffer("c1").Decision
	want := Decision{Rule: RuleBestSkilled, Idle: sec(1), EffectivePriority: 3, NumCandidates: 1}
	want.Candidates[0] = Candidate{AgentID: "a2", Idle: sec(1)}
	if d != want {
		t.Errorf("decision\n got  %+v\n want %+v", d, want)
	}
	s.fail(2, "c1", OfferRejected, "offer c1>a1")
	s.tick(7) // a2's cool-down ends
	s.login(8, "a3")
	// a2 has been idle longest but failed c1: a3 is chosen, a2 is logged as
	// skipped.
	s.tick(22, "cancel c1>a1 ring-timeout", "offer c1>a3")
	d = s.lastOffer("c1").Decision
	want = Decision{Rule: RuleBestSkilled, Idle: sec(14), Wait: sec(21), EffectivePriority: 3 + 2*21.0/60, NumCandidates: 2}
	want.Candidates[0] = Candidate{AgentID: "a3", Idle: sec(14)}
	want.Candidates[1] = Candidate{AgentID: "a2", Idle: sec(22), Skipped: "recent-failure"}
	if d != want {
		t.Errorf("decision\n got  %+v\n want %+v", d, want)
	}
	// Everyone idle failed c1: the one idle longest is retried.
	s.fail(23, "c1", OfferNoAnswer, "offer c1>a2")
	d = s.lastOffer("c1").Decision
	want = Decision{Rule: RuleRetryFailed, Idle: sec(23), Wait: sec(22), EffectivePriority: d.EffectivePriority, NumCandidates: 1}
	want.Candidates[0] = Candidate{AgentID: "a2", Idle: sec(23)}
	if d != want {
		t.Errorf("retry decision\n got  %+v\n want %+v", d, want)
	}
}

// ---- 11. Announcements ----

func TestScenarioAnnouncements(t *testing.T) {
	top := Topology{
		Agents: agents("a1", "a2"),
		Queues: []QueueSpec{{Name: "q", Agents: []string{"a1", "a2"}, PositionEvery: 30 * time.Second}},
	}
	s := newScenario(t, top)
	s.login(0, "a1")
	s.step(0, CallQueued{CallID: "c0", Queue: "q"}, "offer c0>a1")
	s.answer(0, "c0")
	s.step(1, CallQueued{CallID: "c1", Queue: "q"})
	s.step(5, CallQueued{CallID: "c2", Queue: "q"})
	s.step(10, CallQueued{CallID: "vip", Queue: "q", Priority: 5})
	s.step(12, CallQueued{CallID: "d1", Queue: "q", PreferredAgent: "a1", PreferredWait: time.Hour})
	// No handle time is known yet: no estimated wait.
	s.tick(31, "announce c1 pos=2")
	s.tick(35, "announce c2 pos=3")
	s.tick(40, "announce vip pos=1")
	s.tick(42, "announce d1 pos=1 for=a1")
	s.step(60, CallEnded{CallID: "c0"}, "offer d1>a1") // a 60 s call: the handle time
	if q := s.queue("q"); q.HandleTime != time.Minute || q.Staffed != 1 {
		t.Fatalf("q = %+v", q)
	}
	s.tick(61, "announce c1 pos=2 ewt=2m0s")
	s.login(62, "a2")
	s.find("offer vip>a2")
	s.tick(65, "announce c2 pos=2 ewt=1m0s") // two agents now
}

// ---- 12. Self-healing ----

func TestScenarioReconcile(t *testing.T) {
	s := newScenario(t, twoQueueTopology())
	s.step(0, AgentLoggedIn{AgentID: "a1", Device: "desk-1"})
	s.step(0, AgentLoggedIn{AgentID: "a4", Device: "desk-4"})
	s.step(1, CallQueued{CallID: "talking", Queue: "sales"}, "offer talking>a1")
	s.answer(2, "talking")
	s.step(3, CallQueued{CallID: "ringing", Queue: "sales"}, "offer ringing>a4")
	s.step(4, CallQueued{CallID: "live", Queue: "support"})
	s.step(5, CallQueued{CallID: "ghost", Queue: "support"})
	s.step(6, CallbackScheduled{CallbackID: 1, Queue: "support", Number: "555"})
	s.step(20, AgentLoggedIn{AgentID: "a2", Device: "desk-2"}, "offer live>a2")
	s.step(21, CallQueued{CallID: "late", Queue: "support"}) // after Taken: not judged
	got := s.at(22, Reconcile{
		Taken:             t0.Add(sec(19)),
		LiveCalls:         map[string]bool{"live": true, "ringing": true},
		RegisteredDevices: map[string]bool{"desk-4": true},
	})
	want := []string{
		"repair ghost: call has no live dialog", "exit ghost support abandoned missed 17s",
		"repair talking: call has no live dialog", "state a1 on-call>available",
		"repair a1: device desk-1 is not registered", "state a1 available>logged-out device-gone",
	}
	if !slices.Equal(got, want) {
		t.Fatalf("reconcile:\n got  %s\n want %s", strings.Join(got, "\n      "), strings.Join(want, "\n      "))
	}
	if s.st.Counters().Repairs != 3 {
		t.Errorf("repairs = %d", s.st.Counters().Repairs)
	}
	s.wantWaiting("support", "live", "callback-1", "late")
	s.wantState("a2", AgentStateRinging, "") // logged in after Taken
}

func TestScenarioRepair(t *testing.T) {
	setup := func(t *testing.T) *scenario {
		s := newScenario(t, twoQueueTopology())
		s.login(0, "a1", "a3")
		for i := range 5 {
			s.at(1+float64(i), CallQueued{CallID: fmt.Sprintf("w%d", i), Queue: "support", Priority: i % 2})
		}
		s.answer(6, "w1") // w0 rings a1, w1 talks to a3; w3 (priority 1), w2, w4 wait
		s.login(7, "a4")  // idle in sales
		s.at(8, CallbackScheduled{CallbackID: 1, Queue: "support", Number: "555", NotBefore: t0.Add(1000 * time.Second)})
		return s
	}
	corruptions := map[string]func(st *State){
		"swapped waiting callers": func(st *State) {
			h := &st.queues["support"].waiting[0]
			h.items[0], h.items[h.len()-1] = h.items[h.len()-1], h.items[0]
		},
		"cleared idle heap": func(st *State) {
			h := &st.queues["sales"].idle[0]
			h.items = h.items[:0]
		},
		"swapped timers": func(st *State) {
			st.timers.items[0], st.timers.items[1] = st.timers.items[1], st.timers.items[0]
		},
		"wrong caller count": func(st *State) { st.queues["sales"].callers += 3 },
	}
	for name, corrupt := range corruptions {
		t.Run(name, func(t *testing.T) {
			s := setup(t)
			corrupt(s.st)
			err := s.st.Check()
			if err == nil {
				t.Fatal("Check found nothing wrong")
			}
			s.now = t0.Add(sec(12))
			cmds := Repair(s.st, err, s.now)
			if len(cmds) != 1 || cmds[0].Kind != CommandRepair || !strings.HasPrefix(cmds[0].Repair.What, "rebuilt indexes: ") {
				t.Errorf("repair commands = %v", showAll(cmds))
			}
			if err := s.st.Check(); err != nil {
				t.Fatalf("after repair: %v", err)
			}
			if s.st.Counters().Repairs != 1 {
				t.Errorf("repairs = %d", s.st.Counters().Repairs)
			}
			// Routing goes on as before: a4 is idle, w3 is first in line,
			// and the timers still fire.
			s.step(13, CallQueued{CallID: "c1", Queue: "sales"}, "offer c1>a4")
			s.fail(14, "w0", OfferRejected)
			s.step(15, CallEnded{CallID: "w1"}, "offer w3>a3")
			s.tick(19, "offer w0>a1") // a1's cool-down ends: retried, nobody else is idle
			s.tick(33, "cancel c1>a4 ring-timeout")
			s.at(1000, Tick{})
		})
	}
}

// ---- 13. Reload ----

func TestScenarioReload(t *testing.T) {
	t.Run("calls in flight are not disturbed; a removed agent finishes", func(t *testing.T) {
		s := newScenario(t, twoQueueTopology())
		s.login(0, "a1", "a4", "a2")
		s.step(1, CallQueued{CallID: "c1", Queue: "sales"}, "offer c1>a1")
		s.step(2, CallQueued{CallID: "c2", Queue: "sales"}, "offer c2>a4")
		s.answer(3, "c1")
		top := twoQueueTopology()
		top.Agents = slices.DeleteFunc(top.Agents, func(a AgentSpec) bool { return a.ID == "a1" || a.ID == "a4" })
		top.Queues[1].Agents = []string{"a2"}
		s.step(4, TopologyChanged{Topology: top})
		if a := s.agent("a1"); !a.Retired || a.State != AgentStateOnCall {
			t.Fatalf("a1 = %+v", a)
		}
		s.answer(5, "c2")
		s.step(6, CallQueued{CallID: "c3", Queue: "sales"}, "offer c3>a2")
		s.step(7, CallEnded{CallID: "c1"})
		s.step(8, CallEnded{CallID: "c2"})
		for _, a := range s.st.Snapshot(s.now).Agents {
			if a.ID == "a1" || a.ID == "a4" {
				t.Errorf("removed agent %s still there after their call", a.ID)
			}
		}
	})
	t.Run("fewer stages while a call rings at a removed stage", func(t *testing.T) {
		s := newScenario(t, escalationTopology(0))
		s.login(0, "s5")
		s.step(0, CallQueued{CallID: "c0", Queue: "sales"}, "offer c0>s5")
		s.answer(0, "c0")
		s.step(1, CallQueued{CallID: "c1", Queue: "sales"})
		s.step(2, CallQueued{CallID: "c2", Queue: "sales", PreferredAgent: "s5", PreferredWait: 50 * time.Second})
		s.login(3, "s2")
		s.tick(31, "offer c1>s2") // stage 1
		top := escalationTopology(0)
		top.Queues[0].Escalation = nil
		s.step(32, TopologyChanged{Topology: top})
		s.fail(33, "c1", OfferRejected)
		s.wantWaiting("sales", "c1", "c2")
		s.tick(52) // c2 stops waiting for s5
		s.step(53, CallEnded{CallID: "c0"}, "offer c1>s5")
	})
	t.Run("a removed agent who is logged in is logged out", func(t *testing.T) {
		s := newScenario(t, twoQueueTopology())
		s.login(0, "a3")
		top := twoQueueTopology()
		top.Agents = top.Agents[:2]
		s.step(1, TopologyChanged{Topology: top}, "state a3 available>logged-out removed")
	})
	t.Run("callers waiting for a removed agent stop waiting", func(t *testing.T) {
		s := newScenario(t, dedicatedTopology())
		s.login(0, "x", "a1")
		s.step(1, CallQueued{CallID: "c0", Queue: "q", PreferredAgent: "x"}, "offer c0>x")
		s.answer(2, "c0")
		s.step(3, CallQueued{CallID: "c1", Queue: "q", PreferredAgent: "x", PreferredWait: time.Minute})
		top := dedicatedTopology()
		top.Agents = agents("a1", "a2")
		s.step(4, TopologyChanged{Topology: top}, "offer c1>a1")
		s.step(5, CallEnded{CallID: "c0"}, "state x on-call>logged-out removed")
	})
	t.Run("a queue's aging changes while a callback is dialed", func(t *testing.T) {
		top := callbackTopology()
		top.Queues[0].MaxWait = 0
		s := newScenario(t, top)
		s.login(0, "a1")
		s.step(1, CallQueued{CallID: "c0", Queue: "q"}, "offer c0>a1")
		s.answer(2, "c0")
		s.step(3, CallQueued{CallID: "c1", Queue: "q", Priority: 1})
		s.step(4, CallbackRequested{CallID: "c1", CallbackID: 1, Number: "555"})
		s.step(5, CallEnded{CallID: "c0"}, "offer callback-1>a1 callback=1 number=555 attempt=1")
		s.answer(6, "callback-1")
		s.step(7, CallQueued{CallID: "vip", Queue: "q", Priority: 2})
		top.Queues[0].AgingPerMinute = 1 // priorities were strict
		s.step(8, TopologyChanged{Topology: top})
		s.step(185, CallbackFailed{CallID: "callback-1"}, "offer vip>a1")
		s.answer(186, "vip")
		s.step(187, CallQueued{CallID: "c2", Queue: "q", Priority: 9})
		// The callback is back at 245. At 250 it has aged to 1 + 247/60,
		// about 5.1, and c2 to 9 + 63/60: c2 first, as if priorities were
		// still strict.
		s.step(250, CallEnded{CallID: "vip"}, "offer c2>a1")
	})
	t.Run("a callback whose queue was removed while it was dialed fails", func(t *testing.T) {
		s := newScenario(t, callbackTopology())
		s.login(0, "a1")
		s.step(1, CallQueued{CallID: "c1", Queue: "q"}, "offer c1>a1")
		s.step(2, CallbackRequested{CallID: "c1", CallbackID: 1, Number: "555"}, "cancel c1>a1 call-moved", "offer callback-1>a1 callback=1 number=555 attempt=1")
		s.answer(3, "callback-1")
		s.step(4, TopologyChanged{Topology: Topology{Agents: agents("a1")}})
		s.step(5, CallbackFailed{CallID: "callback-1"}, "callback 1 failed attempts=1")
		if len(s.st.calls) != 0 || len(s.st.queues) != 0 {
			t.Errorf("left %d calls, %d queues", len(s.st.calls), len(s.st.queues))
		}
	})
	t.Run("announcements switched off while callers wait", func(t *testing.T) {
		top := Topology{Agents: agents("a1"), Queues: []QueueSpec{{Name: "q", Agents: []string{"a1"}, PositionEvery: 30 * time.Second}}}
		s := newScenario(t, top)
		s.step(0, CallQueued{CallID: "c1", Queue: "q"})
		top.Queues[0].PositionEvery = 0
		s.step(10, TopologyChanged{Topology: top})
		if got := s.at(30, Tick{}); len(got) != 0 {
			t.Errorf("got %v", got)
		}
		if next := s.st.NextDeadline(); !next.IsZero() {
			t.Errorf("deadline %v left", next.Sub(t0))
		}
	})
}

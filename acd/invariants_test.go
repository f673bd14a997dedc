package acd

import (
	"errors"
	"fmt"
)

// checkInvariants verifies the State's internal consistency: every index
// agrees with the objects it indexes, and no queue is left with both a
// waiting caller and an idle agent.
func (st *State) checkInvariants() error {
	var errs []error
	fail := func(format string, args ...any) { errs = append(errs, fmt.Errorf(format, args...)) }

	for id, a := range st.agents {
		if a.id != id {
			fail("agent %q stored under %q", a.id, id)
		}
		if (a.state == AgentStateRinging) != (a.offer != nil) {
			fail("agent %s: state %v with offer %v", id, a.state, a.offer != nil)
		}
		if (a.state == AgentStateOnCall) != (a.call != nil) {
			fail("agent %s: state %v with call %v", id, a.state, a.call != nil)
		}
		if a.offer != nil && a.call != nil {
			fail("agent %s both ringing and on a call", id)
		}
		wantIdle := a.state == AgentStateAvailable && a.cooldownUntil.IsZero() && !a.retired
		if a.inIdleHeaps != wantIdle {
			fail("agent %s: inIdleHeaps=%v, want %v (state %v, cooling %v)", id, a.inIdleHeaps, wantIdle, a.state, !a.cooldownUntil.IsZero())
		}
		if !a.cooldownUntil.IsZero() {
			if a.state != AgentStateAvailable {
				fail("agent %s cooling down while %v", id, a.state)
			}
			if a.timerIndex < 0 || a.timerIndex >= st.agentTimers.len() || st.agentTimers.items[a.timerIndex] != a {
				fail("agent %s cooling down but not in agentTimers at %d", id, a.timerIndex)
			}
		} else if a.timerIndex != -1 {
			fail("agent %s has timer index %d without a cool-down", id, a.timerIndex)
		}
		if a.logoutPending && a.state != AgentStateOnCall {
			fail("agent %s: logout pending while %v", id, a.state)
		}
		for _, m := range a.memberships {
			if m.agent != a {
				fail("agent %s: membership of %s points elsewhere", id, m.queue.name)
			}
			if st.queues[m.queue.name] != m.queue {
				fail("agent %s: member of deleted queue %s", id, m.queue.name)
			}
			inHeap := m.heapIndex >= 0 && m.heapIndex < m.queue.idle.len() && m.queue.idle.items[m.heapIndex] == m
			if inHeap != a.inIdleHeaps {
				fail("agent %s in %s idle heap: %v, want %v", id, m.queue.name, inHeap, a.inIdleHeaps)
			}
		}
	}
	for id, o := range st.offers {
		if o.id != id || o.call.offer != o || o.agent.offer != o {
			fail("offer %d not linked both ways", id)
		}
		if o.call.state != callOffering {
			fail("offer %d: call %s is %v", id, o.call.id, o.call.state)
		}
		if o.heapIndex < 0 || o.heapIndex >= st.ringDeadlines.len() || st.ringDeadlines.items[o.heapIndex] != o {
			fail("offer %d missing from ringDeadlines", id)
		}
	}
	if st.ringDeadlines.len() != len(st.offers) {
		fail("%d ring deadlines for %d offers", st.ringDeadlines.len(), len(st.offers))
	}
	offering := make(map[*queue]int)
	for id, c := range st.calls {
		if c.id != id {
			fail("call %q stored under %q", c.id, id)
		}
		switch c.state {
		case callWaiting:
			q := c.queue
			if c.heapIdx < 0 || c.heapIdx >= q.waiting.len() || q.waiting.items[c.heapIdx] != c {
				fail("waiting call %s not in %s's heap", id, q.name)
			}
		case callOffering:
			offering[c.queue]++
			if c.offer == nil || st.offers[c.offer.id] != c.offer {
				fail("offering call %s has no live offer", id)
			}
		case callConnected:
			if c.agent == nil || c.agent.call != c {
				fail("connected call %s not linked to its agent", id)
			}
		case callUnknown:
			fail("call %s in unknown state", id)
		}
	}
	for name, q := range st.queues {
		if q.name != name {
			fail("queue %q stored under %q", q.name, name)
		}
		if q.offering != offering[q] {
			fail("queue %s: offering=%d, counted %d", name, q.offering, offering[q])
		}
		if q.dirty {
			fail("queue %s left dirty", name)
		}
		if q.idle.len() > 0 && q.waiting.len() > 0 {
			fail("queue %s has %d idle agents and %d waiting callers", name, q.idle.len(), q.waiting.len())
		}
		if q.retired && q.waiting.len() == 0 && q.offering == 0 {
			fail("retired queue %s has no calls but was kept", name)
		}
		for _, c := range q.waiting.items {
			if st.calls[c.id] != c || c.state != callWaiting || c.queue != q {
				fail("queue %s holds stale caller %s", name, c.id)
			}
		}
		for _, m := range q.members {
			if st.agents[m.agent.id] != m.agent || !m.agent.isMemberOf(q) {
				fail("queue %s lists non-member %s", name, m.agent.id)
			}
		}
		checkHeap(&q.idle, "idle of "+name, fail)
		checkHeap(&q.waiting, "waiting of "+name, fail)
	}
	checkHeap(&st.ringDeadlines, "ringDeadlines", fail)
	checkHeap(&st.agentTimers, "agentTimers", fail)
	return errors.Join(errs...)
}

func checkHeap[T heapItem[T]](h *indexedHeap[T], name string, fail func(string, ...any)) {
	for i := 1; i < len(h.items); i++ {
		if h.items[i].before(h.items[(i-1)/2]) {
			fail("heap %s out of order at %d", name, i)
			return
		}
	}
}

package acd

import (
	"errors"
	"fmt"
	"maps"
	"slices"
	"time"
)

// Check verifies the State's consistency: every index agrees with the
// objects it indexes, every offer has a deadline, an agent is in at most
// one call, and no caller waits while an agent who may take them is idle.
// It walks everything, so the Router runs it periodically, not per event.
func (st *State) Check() error {
	var errs []error
	fail := func(format string, args ...any) { errs = append(errs, fmt.Errorf(format, args...)) }

	for id, a := range st.agents {
		if a.id != id {
			fail("agent %q stored under %q", a.id, id)
		}
		if (a.state == AgentStateRinging) != (a.offer != nil) {
			fail("agent %s: state %v with offer %v", id, a.state, a.offer != nil)
		}
		if (a.state == AgentStateOnCall || a.state == AgentStateOnHold) != (a.call != nil) {
			fail("agent %s: state %v with call %v", id, a.state, a.call != nil)
		}
		if a.offer != nil && a.call != nil {
			fail("agent %s both ringing and on a call", id)
		}
		wantIdle := a.state == AgentStateAvailable && !a.coolingDown && !a.retired
		if a.inIdleHeaps != wantIdle {
			fail("agent %s: inIdleHeaps=%v, want %v (state %v, cooling %v)", id, a.inIdleHeaps, wantIdle, a.state, a.coolingDown)
		}
		wantTimer := a.coolingDown || a.state == AgentStateWrapUp
		if a.timer.armed() != wantTimer || (a.timer.armed() && st.timers.items[a.timer.index] != &a.timer) {
			fail("agent %s: timer armed=%v, want %v (state %v)", id, a.timer.armed(), wantTimer, a.state)
		}
		if a.coolingDown && a.state != AgentStateAvailable {
			fail("agent %s cooling down while %v", id, a.state)
		}
		if a.pending.state != AgentStateUnknown && !a.state.busy() && a.state != AgentStateWrapUp {
			fail("agent %s: %v pending while %v", id, a.pending.state, a.state)
		}
		if a.device != "" && st.devices[a.device] != a {
			fail("agent %s: device %q not indexed", id, a.device)
		}
		if a.state == AgentStateLoggedOut && a.device != "" {
			fail("agent %s logged out but on device %q", id, a.device)
		}
		for _, m := range a.memberships {
			if m.agent != a {
				fail("agent %s: membership of %s points elsewhere", id, m.queue.name)
			}
			if st.queues[m.queue.name] != m.queue {
				fail("agent %s: member of deleted queue %s", id, m.queue.name)
			}
			h := &m.queue.idle[m.stage]
			inHeap := m.heapIndex >= 0 && m.heapIndex < h.len() && h.items[m.heapIndex] == m
			if inHeap != a.inIdleHeaps {
				fail("agent %s in %s idle heap: %v, want %v", id, m.queue.name, inHeap, a.inIdleHeaps)
			}
		}
		for _, c := range a.dedicated.items {
			if st.calls[c.id] != c || c.state != callDedicated || c.preferred != a {
				fail("agent %s holds stale dedicated caller %s", id, c.id)
			}
		}
		if a.inIdleHeaps && a.dedicated.len() > 0 {
			fail("agent %s idle while %d callers wait for them", id, a.dedicated.len())
		}
		checkHeap(&a.dedicated, "dedicated of "+id, fail)
	}
	for device, a := range st.devices {
		if a.device != device || st.agents[a.id] != a {
			fail("device %q indexes agent %s on %q", device, a.id, a.device)
		}
	}
	timers := 0
	for id, o := range st.offers {
		if o.id != id || o.call.offer != o || o.agent.offer != o {
			fail("offer %d not linked both ways", id)
		}
		if o.call.state != callOffering {
			fail("offer %d: call %s is %v", id, o.call.id, o.call.state)
		}
		if !o.timer.armed() || st.timers.items[o.timer.index] != &o.timer {
			fail("offer %d has no ring deadline", id)
		}
		timers++
	}
	callers := make(map[*queue]int)
	offering := make(map[*queue]int)
	for id, c := range st.calls {
		if c.id != id {
			fail("call %q stored under %q", c.id, id)
		}
		if c.state != callConnected {
			callers[c.queue]++
			if st.queues[c.queue.name] != c.queue {
				fail("call %s (%v) is in deleted queue %s", id, c.state, c.queue.name)
			}
		}
		if c.timer.armed() {
			timers++
		}
		switch c.state {
		case callWaiting:
			h := &c.queue.waiting[c.stage]
			if c.heapIdx < 0 || c.heapIdx >= h.len() || h.items[c.heapIdx] != c {
				fail("waiting call %s not in %s's heap for stage %d", id, c.queue.name, c.stage)
			}
			if c.exclusive {
				fail("call %s waits for one agent only but is in %s's heap, where anyone may take it", id, c.queue.name)
			}
		case callDedicated:
			if c.preferred == nil || c.heapIdx < 0 || c.heapIdx >= c.preferred.dedicated.len() || c.preferred.dedicated.items[c.heapIdx] != c {
				fail("call %s waits for an agent but is not in their list", id)
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
			if c.timer.armed() {
				fail("connected call %s has a timer", id)
			}
		case callScheduled:
			if !c.callback || !c.timer.armed() {
				fail("scheduled call %s is not a callback with a timer", id)
			}
		case callUnknown:
			fail("call %s in unknown state", id)
		}
	}
	for _, a := range st.agents {
		if a.timer.armed() {
			timers++
		}
	}
	if timers != st.timers.len() {
		fail("%d timers in the heap, %d armed", st.timers.len(), timers)
	}
	for name, q := range st.queues {
		if q.name != name {
			fail("queue %q stored under %q", q.name, name)
		}
		if q.offering != offering[q] {
			fail("queue %s: offering=%d, counted %d", name, q.offering, offering[q])
		}
		if q.callers != callers[q] {
			fail("queue %s: callers=%d, counted %d", name, q.callers, callers[q])
		}
		if q.dirty {
			fail("queue %s left dirty", name)
		}
		staffedCount := 0
		for _, m := range q.members {
			if st.agents[m.agent.id] != m.agent || !m.agent.isMemberOf(q) {
				fail("queue %s lists non-member %s", name, m.agent.id)
			}
			if m.stage == 0 && staffed(m.agent.state) {
				staffedCount++
			}
		}
		if staffedCount != q.staffed {
			fail("queue %s: staffed=%d, counted %d", name, q.staffed, staffedCount)
		}
		for k := range q.stages {
			if c, ok := q.waiting[k].peek(); ok {
				for j := 0; j <= k; j++ {
					if q.idle[j].len() > 0 {
						fail("queue %s: caller %s at stage %d waits while %d agents of stage %d are idle", name, c.id, k, q.idle[j].len(), j)
					}
				}
			}
			for _, c := range q.waiting[k].items {
				if st.calls[c.id] != c || c.state != callWaiting || c.queue != q || c.stage != k {
					fail("queue %s holds stale caller %s", name, c.id)
				}
			}
			for i, m := range q.idle[k].items {
				if m.queue != q || m.stage != k || m.heapIndex != i || !m.agent.inIdleHeaps ||
					st.agents[m.agent.id] != m.agent || !slices.Contains(m.agent.memberships, m) {
					fail("queue %s: idle heap of stage %d holds a stale membership of %s", name, k, m.agent.id)
				}
			}
			checkHeap(&q.idle[k], fmt.Sprintf("idle of %s stage %d", name, k), fail)
			checkHeap(&q.waiting[k], fmt.Sprintf("waiting of %s stage %d", name, k), fail)
		}
		if q.retired && q.callers == 0 && q.offering == 0 {
			fail("retired queue %s has no calls but was kept", name)
		}
	}
	checkHeap(&st.timers, "timers", fail)
	return errors.Join(errs...)
}

func (a *agent) isMemberOf(q *queue) bool {
	for _, m := range a.memberships {
		if m.queue == q {
			return true
		}
	}
	return false
}

func checkHeap[T heapItem[T]](h *indexedHeap[T], name string, fail func(string, ...any)) {
	for i := range h.items {
		if i > 0 && h.items[i].before(h.items[(i-1)/2]) {
			fail("heap %s out of order at %d", name, i)
			return
		}
	}
}

// reconcile drops what the conductor says no longer exists: calls that
// have no live dialog and agents whose phone is no longer registered. Each
// correction is counted and reported.
func (st *State) reconcile(ev Reconcile, now time.Time) {
	if ev.LiveCalls != nil {
		var gone []string
		for id, c := range st.calls {
			// A waiting callback has no dialog by nature; a connected one has
			// its agent's (judged from when it connected).
			judged := !c.callback && c.queuedAt.Before(ev.Taken) ||
				c.callback && c.state == callConnected && c.agent.callStart.Before(ev.Taken)
			if judged && !ev.LiveCalls[id] {
				gone = append(gone, id)
			}
		}
		slices.Sort(gone) // commands in a deterministic order
		for _, id := range gone {
			st.repaired(id, "", "call has no live dialog")
			st.callGone(id, ExitAbandoned, now)
		}
	}
	if ev.RegisteredDevices != nil {
		var gone []string
		for device, a := range st.devices {
			if a.deviceSince.Before(ev.Taken) && !ev.RegisteredDevices[device] {
				gone = append(gone, device)
			}
		}
		slices.Sort(gone)
		for _, device := range gone {
			a := st.devices[device]
			st.repaired("", a.id, "device "+device+" is not registered")
			st.agentLoggedOut(a.id, ReasonDeviceGone, ReasonRepaired, now)
		}
	}
}

func (st *State) repaired(callID, agentID, what string) {
	st.counters.Repairs++
	st.emit(CommandRepair).Repair = Repaired{CallID: callID, AgentID: agentID, What: what}
}

// Repair rebuilds the State's indexes from its objects after Check found
// them inconsistent: the objects (agents, calls, offers and their links)
// are trusted, every heap and counter is rebuilt from them. It returns the
// commands (the repair report, offers it now makes) like Step does.
func Repair(st *State, problem error, now time.Time) []Command {
	st.out = st.out[:0]
	st.repaired("", "", "rebuilt indexes: "+problem.Error())
	st.timers.items = st.timers.items[:0]
	for _, q := range st.queues {
		for k := range q.stages {
			q.idle[k].items = q.idle[k].items[:0]
			q.waiting[k].items = q.waiting[k].items[:0]
		}
		q.callers, q.offering, q.staffed = 0, 0, 0
	}
	rearm := func(t *timer) {
		t.index = -1
		if !t.at.IsZero() {
			st.timers.push(t)
		}
	}
	// Agents in ID order: the commands (repairs, then offers to callers
	// waiting for an agent by name) must not depend on map order.
	agentIDs := slices.Sorted(maps.Keys(st.agents))
	for _, id := range agentIDs {
		a := st.agents[id]
		a.inIdleHeaps = false
		a.dedicated.items = a.dedicated.items[:0]
		for _, m := range a.memberships {
			m.heapIndex = -1
			if m.stage == 0 && staffed(a.state) {
				m.queue.staffed++
			}
		}
		if (a.state == AgentStateRinging && a.offer == nil) ||
			((a.state == AgentStateOnCall || a.state == AgentStateOnHold) && a.call == nil) {
			st.repaired("", a.id, a.state.String()+" without a call")
			a.pending = pendingState{}
			st.setAgentState(a, AgentStateAvailable, "", ReasonRepaired, now)
		}
		rearm(&a.timer)
	}
	for _, o := range st.offers {
		rearm(&o.timer)
		o.call.queue.offering++
	}
	for _, c := range st.calls {
		c.heapIdx = -1
		rearm(&c.timer)
		if c.state != callConnected {
			c.queue.callers++
		}
		switch c.state {
		case callDedicated:
			if c.preferred != nil {
				c.preferred.dedicated.push(c)
				break
			}
			st.enqueue(c)
		case callWaiting:
			st.enqueue(c)
		case callUnknown, callOffering, callConnected, callScheduled:
		}
	}
	for _, id := range agentIDs {
		st.makeIdle(st.agents[id])
	}
	for _, q := range st.queues {
		st.markDirty(q)
	}
	st.dispatch(now)
	return st.out
}

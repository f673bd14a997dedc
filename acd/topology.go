package acd

import "time"

// applyTopology makes st match top. Agents and queues keep their state when
// they survive the change. An agent or queue that disappears while it still
// has a call is retired instead: it takes no new work, finishes what it has
// and is deleted when it falls idle, so a reload never drops a caller or
// tears down a ringing phone.
func (st *State) applyTopology(top Topology, now time.Time) {
	st.offerCooldown = top.OfferCooldown
	if st.offerCooldown <= 0 {
		st.offerCooldown = DefaultOfferCooldown
	}

	wantAgents := make(map[string]AgentSpec, len(top.Agents))
	for _, spec := range top.Agents {
		if _, dup := wantAgents[spec.ID]; !dup && spec.ID != "" {
			wantAgents[spec.ID] = spec
		}
	}
	wantQueues := make(map[string]QueueSpec, len(top.Queues))
	for _, spec := range top.Queues {
		if _, dup := wantQueues[spec.Name]; !dup && spec.Name != "" {
			wantQueues[spec.Name] = spec
		}
	}

	// Take every agent out of the idle heaps; memberships are rebuilt below
	// and the available ones go back in.
	for _, a := range st.agents {
		st.leaveIdle(a)
	}

	for id, spec := range wantAgents {
		a := st.agents[id]
		if a == nil {
			a = &agent{id: id, state: AgentStateLoggedOut, since: now, timerIndex: -1}
			st.agents[id] = a
		}
		a.name = spec.Name
		a.retired = false
	}
	for id, a := range st.agents {
		if _, keep := wantAgents[id]; !keep {
			a.retired = true
		}
	}

	for name, spec := range wantQueues {
		q := st.queues[name]
		if q == nil {
			q = &queue{name: name}
			st.queues[name] = q
		}
		q.ringTimeout = spec.RingTimeout
		if q.ringTimeout <= 0 {
			q.ringTimeout = DefaultRingTimeout
		}
		q.retired = false
	}
	for name, q := range st.queues {
		if _, keep := wantQueues[name]; !keep {
			q.retired = true
		}
	}

	// Rebuild memberships. A retired queue keeps its surviving members so
	// that its remaining callers can still be served.
	for _, a := range st.agents {
		clear(a.memberships)
		a.memberships = a.memberships[:0]
	}
	for name, q := range st.queues {
		var memberIDs []string
		if spec, ok := wantQueues[name]; ok {
			memberIDs = spec.Agents
		} else {
			for _, m := range q.members {
				memberIDs = append(memberIDs, m.agent.id)
			}
		}
		clear(q.members)
		q.members = q.members[:0]
		for _, id := range memberIDs {
			a := st.agents[id]
			if a == nil || a.retired || a.isMemberOf(q) {
				continue
			}
			m := &membership{agent: a, queue: q, heapIndex: -1}
			q.members = append(q.members, m)
			a.memberships = append(a.memberships, m)
		}
	}

	for _, a := range st.agents {
		st.releaseAgentIfRetired(a)
		st.makeIdle(a)
	}
	for _, q := range st.queues {
		st.releaseQueueIfRetired(q)
	}
	for _, q := range st.queues {
		st.markDirty(q)
	}
}

func (a *agent) isMemberOf(q *queue) bool {
	for _, m := range a.memberships {
		if m.queue == q {
			return true
		}
	}
	return false
}

// releaseAgentIfRetired deletes a retired agent once no offer or call holds
// them.
func (st *State) releaseAgentIfRetired(a *agent) {
	if !a.retired || a.offer != nil || a.call != nil {
		return
	}
	st.leaveIdle(a)
	if !a.cooldownUntil.IsZero() {
		st.agentTimers.remove(a.timerIndex)
		a.cooldownUntil = time.Time{}
	}
	for _, m := range a.memberships {
		q := m.queue
		for i, qm := range q.members {
			if qm == m {
				q.members = append(q.members[:i], q.members[i+1:]...)
				break
			}
		}
	}
	a.memberships = nil
	delete(st.agents, a.id)
}

// releaseQueueIfRetired deletes a retired queue once no caller waits in it
// or rings an agent from it. Connected calls do not need their queue.
func (st *State) releaseQueueIfRetired(q *queue) {
	// A connected call may outlive its queue, and a reload may since have
	// created a new queue of the same name: that one is not ours to delete.
	if !q.retired || q.waiting.len() > 0 || q.offering > 0 || st.queues[q.name] != q {
		return
	}
	for _, m := range q.members {
		a := m.agent
		for i, am := range a.memberships {
			if am == m {
				a.memberships = append(a.memberships[:i], a.memberships[i+1:]...)
				break
			}
		}
	}
	q.members = nil
	delete(st.queues, q.name)
}

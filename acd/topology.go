package acd

import (
	"cmp"
	"maps"
	"slices"
	"time"

	"github.com/hotline-cc/hotline/config"
)

// applyTopology makes st match top. Agents and queues keep their state when
// they survive the change. An agent or queue that disappears while it still
// has a call is retired instead: it takes no new work, finishes what it has
// and is deleted when it falls idle, so a reload never drops a caller or
// tears down a ringing phone.
func (st *State) applyTopology(top Topology, now time.Time) {
	st.topology = top
	st.cooldown = top.OfferCooldown
	if st.cooldown <= 0 {
		st.cooldown = DefaultOfferCooldown
	}
	st.missedMax = top.MissedBeforeNotReady

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

	// Take every agent out of the idle heaps and every waiting caller out
	// of the waiting heaps (and the dedicated ones: their order key may
	// change with the queue's aging): stages and memberships are rebuilt
	// below, and everyone goes back in. Calls ringing an agent or scheduled
	// are fixed up too, since the stage they reached may no longer exist.
	// They are taken in arrival order so that timers armed below get their
	// tie-breaking sequence deterministically.
	for _, a := range st.agents {
		st.leaveIdle(a)
	}
	var waiting []*call
	for _, c := range st.calls {
		switch c.state {
		case callWaiting:
			c.queue.waiting[c.stage].remove(c.heapIdx)
		case callDedicated:
			c.preferred.dedicated.remove(c.heapIdx)
		case callConnected, callUnknown:
			continue
		case callOffering, callScheduled:
		}
		waiting = append(waiting, c)
	}
	slices.SortFunc(waiting, func(x, y *call) int { return cmp.Compare(x.seq, y.seq) })

	for id, spec := range wantAgents {
		a := st.agents[id]
		if a == nil {
			a = &agent{id: id, state: AgentStateLoggedOut, since: now}
			a.timer = timer{agent: a, index: -1}
			st.agents[id] = a
		}
		a.name = spec.Name
		a.skills = sortedSkills(spec.Skills)
		a.retired = false
	}
	for id, a := range st.agents {
		if _, keep := wantAgents[id]; !keep {
			a.retired = true
		}
	}
	ids := slices.Sorted(maps.Keys(st.agents))
	for rank, id := range ids {
		st.agents[id].rank = rank
	}

	for name, spec := range wantQueues {
		q := st.queues[name]
		if q == nil {
			q = &queue{name: name}
			st.queues[name] = q
		}
		q.configure(spec)
		q.retired = false
	}
	for name, q := range st.queues {
		if _, keep := wantQueues[name]; !keep {
			q.retired = true
		}
	}

	st.rebuildMemberships(wantQueues)

	for _, c := range waiting {
		// A call may have reached a stage the new escalation no longer has;
		// enqueueing it there later (when its offer fails) would index a
		// heap that is gone.
		c.stage = min(c.stage, c.queue.stages-1)
		c.stepsDone = min(c.stepsDone, len(c.queue.spec.Escalation))
		if c.exclusive {
			c.stepsDone = len(c.queue.spec.Escalation) // never escalated
		}
		c.setOrderKey()
		switch {
		case c.exclusive && (c.preferred == nil || c.preferred.retired):
			// The one agent this call waits for is gone.
			st.exclusiveFailed(c, "agent-unavailable", now)
			continue // dropped: no timer to arm
		case c.state == callDedicated && !c.preferred.retired:
			c.preferred.dedicated.push(c)
		case c.state == callDedicated, c.state == callWaiting:
			// The dedicated agent was removed: no point waiting for them.
			c.preferred, c.dedicatedUntil = nil, time.Time{}
			st.enqueue(c)
		}
		st.armCallTimer(c, now)
	}
	// In ID order: an agent with callers waiting for them by name is
	// queued for dispatch here, and offer IDs must not depend on map order.
	for _, id := range ids {
		a := st.agents[id]
		st.releaseAgentIfRetired(a, now)
		st.makeIdle(a)
	}
	for _, q := range st.queues {
		st.releaseQueueIfRetired(q)
	}
	for _, q := range st.queues {
		st.markDirty(q)
	}
}

// configure applies a queue's spec, with defaults, and sizes its per-stage
// heaps (keeping what they hold: the caller empties them first).
func (q *queue) configure(spec QueueSpec) {
	if spec.RingTimeout <= 0 {
		spec.RingTimeout = DefaultRingTimeout
	}
	if spec.ServiceLevel.Threshold <= 0 {
		spec.ServiceLevel.Threshold = defaultSLThreshold
	}
	if spec.ServiceLevel.Target <= 0 {
		spec.ServiceLevel.Target = defaultSLTarget
	}
	if spec.CallbackRetry <= 0 {
		spec.CallbackRetry = DefaultCallbackRetry
	}
	if spec.CallbackMaxAttempts <= 0 {
		spec.CallbackMaxAttempts = DefaultCallbackMaxAttempts
	}
	// Escalation steps apply in time order; a step that moves the call
	// ends the list (nothing after it could apply).
	steps := slices.Clone(spec.Escalation)
	slices.SortStableFunc(steps, func(a, b EscalationStep) int { return int(a.After - b.After) })
	for i, s := range steps {
		if s.Queue != "" {
			steps = steps[:i+1]
			break
		}
	}
	spec.Escalation = steps
	q.spec = spec
	q.agingPerNanosecond = spec.AgingPerMinute / float64(time.Minute)
	q.stages = 1
	for _, s := range steps {
		if s.Queue == "" {
			q.stages++
		}
	}
	for len(q.idle) < q.stages {
		q.idle = append(q.idle, indexedHeap[*membership]{})
		q.waiting = append(q.waiting, indexedHeap[*call]{})
	}
	q.idle, q.waiting = q.idle[:q.stages], q.waiting[:q.stages]
}

// stageRequirements returns the skill set of each stage: stage 0 is the
// queue's own skills, stage k the k-th escalation step that widens skills.
func (q *queue) stageRequirements() [][]SkillLevel {
	reqs := [][]SkillLevel{q.spec.Skills}
	for _, s := range q.spec.Escalation {
		if s.Queue == "" {
			reqs = append(reqs, s.Skills)
		}
	}
	return reqs
}

// rebuildMemberships recomputes who serves which queue at which stage and
// tier. A retired queue keeps its surviving members so that its remaining
// callers can still be served.
func (st *State) rebuildMemberships(wantQueues map[string]QueueSpec) {
	for _, a := range st.agents {
		clear(a.memberships)
		a.memberships = a.memberships[:0]
	}
	// bySkill indexes agents by skill, so a queue only examines agents who
	// have its rarest required skill instead of all of them.
	bySkill := map[string][]*agent{}
	for _, a := range st.agents {
		if a.retired {
			continue
		}
		for _, s := range a.skills {
			bySkill[s.Skill] = append(bySkill[s.Skill], a)
		}
	}
	for _, list := range bySkill {
		slices.SortFunc(list, func(x, y *agent) int { return cmpString(x.id, y.id) })
	}
	for name, q := range st.queues {
		var explicit []string
		if spec, ok := wantQueues[name]; ok {
			explicit = spec.Agents
		} else {
			for _, m := range q.members {
				if m.stage == 0 {
					explicit = append(explicit, m.agent.id)
				}
			}
		}
		q.staffed = 0
		clear(q.members)
		q.members = q.members[:0]
		seen := map[*agent]bool{}
		join := func(a *agent, stage, tier int) {
			if a == nil || a.retired || seen[a] {
				return
			}
			seen[a] = true
			if q.spec.Strategy == config.StrategyLongestIdle {
				tier = 0
			}
			m := &membership{agent: a, queue: q, stage: stage, tier: tier, heapIndex: -1}
			q.members = append(q.members, m)
			a.memberships = append(a.memberships, m)
			if stage == 0 && staffed(a.state) {
				q.staffed++
			}
		}
		reqs := q.stageRequirements()
		for _, id := range explicit {
			a := st.agents[id]
			if a != nil {
				join(a, 0, tierFor(a, reqs[0]))
			}
		}
		for stage, req := range reqs {
			if len(req) == 0 {
				continue
			}
			for _, a := range candidatesFor(bySkill, req) {
				if tier, ok := qualifies(a, req); ok {
					join(a, stage, tier)
				}
			}
		}
	}
}

// candidatesFor returns the agents who have the rarest skill of req.
func candidatesFor(bySkill map[string][]*agent, req []SkillLevel) []*agent {
	var best []*agent
	for i, r := range req {
		list := bySkill[r.Skill]
		if i == 0 || len(list) < len(best) {
			best = list
		}
	}
	return best
}

// qualifies reports whether a has every skill of req at its level, and
// the agent's tier for it: their lowest level among those skills.
func qualifies(a *agent, req []SkillLevel) (tier int, ok bool) {
	tier = 10
	for _, r := range req {
		lvl := a.skillLevel(r.Skill)
		if lvl < max(r.Level, 1) {
			return 0, false
		}
		tier = min(tier, lvl)
	}
	return tier, true
}

// tierFor is the tier of an explicitly listed member: their level by the
// queue's skills if they have them, else 0.
func tierFor(a *agent, req []SkillLevel) int {
	if len(req) == 0 {
		return 0
	}
	tier := 10
	for _, r := range req {
		tier = min(tier, a.skillLevel(r.Skill))
	}
	return tier
}

func (a *agent) skillLevel(skill string) int {
	i, found := slices.BinarySearchFunc(a.skills, skill, func(s SkillLevel, name string) int { return cmpString(s.Skill, name) })
	if !found {
		return 0
	}
	return a.skills[i].Level
}

func sortedSkills(skills []SkillLevel) []SkillLevel {
	out := slices.Clone(skills)
	slices.SortFunc(out, func(x, y SkillLevel) int { return cmpString(x.Skill, y.Skill) })
	return out
}

func cmpString(a, b string) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// releaseAgentIfRetired deletes a retired agent once no offer or call holds
// them. One still logged in is logged out first (reason removed), so that
// the audit, and whoever follows the agent's state, sees them go.
func (st *State) releaseAgentIfRetired(a *agent, now time.Time) {
	if !a.retired || a.offer != nil || a.call != nil {
		return
	}
	if a.state != AgentStateLoggedOut && a.state != AgentStateUnknown {
		st.setLoggedOut(a, ReasonRemoved, "acd", now)
	}
	st.leaveIdle(a)
	st.stopAgentTimer(a)
	st.releaseDedicated(a, now)
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
	if st.devices[a.device] == a {
		delete(st.devices, a.device)
	}
	delete(st.agents, a.id)
}

// releaseQueueIfRetired deletes a retired queue once no caller waits in it
// or rings an agent from it. Connected calls do not need their queue.
func (st *State) releaseQueueIfRetired(q *queue) {
	// A connected call may outlive its queue, and a reload may since have
	// created a new queue of the same name: that one is not ours to delete.
	if !q.retired || q.callers > 0 || q.offering > 0 || st.queues[q.name] != q {
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

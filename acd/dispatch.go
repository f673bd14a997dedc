package acd

import (
	"time"

	"github.com/hotline-cc/hotline/config"
)

// dispatch makes every match that the current Step made possible. Between
// Steps no caller has an idle agent who may take them, so only queues and
// agents touched in this Step (st.dirty, st.dirtyAgents) need a look, never
// all agents or queues.
//
// Callers waiting for an agent by name come first. Then each round serves
// the caller with the highest effective priority (then the longest wait)
// among the dirty queues' heads: when an agent in several queues becomes
// free, the most urgent caller of those queues gets them; when a caller
// arrives, they get the best agent of their queue.
func (st *State) dispatch(now time.Time) {
	for i, a := range st.dirtyAgents {
		a.dirty = false
		st.dirtyAgents[i] = nil
		if c, ok := a.dedicated.peek(); ok && a.inIdleHeaps {
			st.offer(c, a, st.dedicatedDecision(c, a, now), now)
		}
	}
	st.dirtyAgents = st.dirtyAgents[:0]

	for {
		var bestCall *call
		for _, q := range st.dirty {
			idleUpTo := -1 // the first stage with an idle agent
			for k := range q.stages {
				if q.idle[k].len() > 0 {
					idleUpTo = k
					break
				}
			}
			if idleUpTo < 0 {
				continue
			}
			for k := idleUpTo; k < q.stages; k++ {
				if c, ok := q.waiting[k].peek(); ok && (bestCall == nil || c.servedBefore(bestCall, now)) {
					bestCall = c
				}
			}
		}
		if bestCall == nil {
			break
		}
		a, d := st.chooseAgent(bestCall, now)
		st.offer(bestCall, a, d, now)
	}
	for i, q := range st.dirty {
		q.dirty = false
		st.dirty[i] = nil
	}
	st.dirty = st.dirty[:0]
}

func (st *State) dedicatedDecision(c *call, a *agent, now time.Time) Decision {
	d := Decision{
		Rule:              RuleDedicated,
		Stage:             c.stage,
		Idle:              now.Sub(a.idleSince),
		Wait:              now.Sub(c.queuedAt),
		EffectivePriority: c.effectivePriority(now),
	}
	d.add(Candidate{AgentID: a.id, Idle: d.Idle, Stage: c.stage})
	return d
}

// putFirst puts the chosen agent's candidate at the front, as Decision
// documents: when agents who failed the call were passed over (or one of
// them is retried), they were compared, and logged, before the choice.
// The chosen one is not marked skipped; if the log was full before it, the
// last candidate makes room.
func (d *Decision) putFirst(chosen Candidate) {
	i := 0
	for i < d.NumCandidates && d.Candidates[i].AgentID != chosen.AgentID {
		i++
	}
	if i == d.NumCandidates {
		if d.NumCandidates < len(d.Candidates) {
			d.NumCandidates++
		} else {
			i--
		}
	}
	copy(d.Candidates[1:i+1], d.Candidates[:i])
	d.Candidates[0] = chosen
}

func (d *Decision) add(c Candidate) {
	if d.NumCandidates < len(d.Candidates) {
		d.Candidates[d.NumCandidates] = c
		d.NumCandidates++
	}
}

// chooseAgent picks the agent for c among the idle agents of the stages c
// has reached: the lowest stage first (a queue's own agents before the
// ones escalation added), then the heap order (tier, idle time). Agents who
// recently failed c are passed over while anyone else is idle; each heap
// is popped at most recentFailureMemory+1 times, so this stays O(log n).
func (st *State) chooseAgent(c *call, now time.Time) (*agent, Decision) {
	q := c.queue
	d := Decision{
		Rule:              RuleBestSkilled,
		Stage:             c.stage,
		Wait:              now.Sub(c.queuedAt),
		EffectivePriority: c.effectivePriority(now),
	}
	if q.spec.Strategy == config.StrategyLongestIdle {
		d.Rule = RuleLongestIdle
	}
	var chosen, fallback *membership
	for k := 0; k <= c.stage && k < q.stages; k++ {
		h := &q.idle[k]
		top, ok := h.peek()
		if !ok {
			continue
		}
		if c.failureCount == 0 || !c.recentlyFailedWith(top.agent) {
			d.add(candidateOf(top, "", now))
			if chosen == nil {
				chosen = top
			}
			continue
		}
		if chosen != nil {
			d.add(candidateOf(top, "recent-failure", now))
			continue
		}
		for h.len() > 0 && len(st.skipped) <= recentFailureMemory {
			m := h.pop()
			st.skipped = append(st.skipped, m)
			if !c.recentlyFailedWith(m.agent) {
				chosen = m
				break
			}
			d.add(candidateOf(m, "recent-failure", now))
			if fallback == nil {
				fallback = m
			}
		}
		if chosen != nil {
			d.add(candidateOf(chosen, "", now))
		}
		for i, m := range st.skipped {
			h.push(m)
			st.skipped[i] = nil
		}
		st.skipped = st.skipped[:0]
	}
	if chosen == nil {
		// Everyone idle has failed this call recently: retry the best of
		// them rather than keep the caller waiting.
		chosen = fallback
		d.Rule = RuleRetryFailed
	}
	if first := &d.Candidates[0]; d.NumCandidates == 0 || first.AgentID != chosen.agent.id || first.Skipped != "" {
		d.putFirst(candidateOf(chosen, "", now)) // rare: only after skipping
	}
	d.Tier = chosen.tier
	d.Idle = now.Sub(chosen.agent.idleSince)
	return chosen.agent, d
}

func candidateOf(m *membership, skipped string, now time.Time) Candidate {
	// m is in an idle heap, so idleKey holds the agent's idle time.
	return Candidate{AgentID: m.agent.id, Tier: m.tier, Stage: m.stage, Idle: time.Duration(now.UnixNano() - m.idleKey), Skipped: skipped}
}

// offer reserves agent a for call c and asks the conductor to ring them.
func (st *State) offer(c *call, a *agent, d Decision, now time.Time) {
	q := c.queue
	st.unlinkWaiting(c)
	st.leaveIdle(a)
	st.stopAgentTimer(a)

	st.lastOfferID++
	o := st.newOffer()
	*o = offer{id: st.lastOfferID, call: c, agent: a}
	o.timer = timer{offer: o, index: -1}
	st.offers[o.id] = o
	st.setTimer(&o.timer, now.Add(q.spec.RingTimeout))
	q.offering++
	c.offers++
	c.state, c.offer = callOffering, o
	a.offer = o
	st.setAgentState(a, AgentStateRinging, "", "acd", now)

	st.emit(CommandOffer).Offer = OfferCall{
		OfferID:     o.id,
		CallID:      c.id,
		AgentID:     a.id,
		Device:      a.device,
		Queue:       q.name,
		RingTimeout: q.spec.RingTimeout,
		Callback:    c.callback,
		CallbackID:  c.callbackID,
		Number:      c.number,
		Attempt:     c.attempts + 1,
		Decision:    d,
	}
}

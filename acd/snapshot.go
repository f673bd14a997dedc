package acd

import (
	"cmp"
	"slices"
	"time"
)

// Snapshot is a copy of the ACD's state at one instant, for the HTTP API
// and metrics. It shares nothing with the State.
type Snapshot struct {
	At       time.Time
	Agents   []AgentSnapshot // by ID
	Queues   []QueueSnapshot // by name
	Counters Counters
}

// AgentSnapshot describes one agent.
type AgentSnapshot struct {
	ID, Name string
	State    AgentState
	Since    time.Time // when State began
	// IdleSince orders available agents (smallest first); zero if the agent
	// never logged in.
	IdleSince time.Time
	// CooldownUntil is non-zero while an available agent sits out after a
	// failed offer.
	CooldownUntil time.Time
	CallID        string // the call ringing or connected, if any
	OfferID       uint64 // while ringing
	Queues        []string
	LogoutPending bool // logged out during a call
	Retired       bool // removed by a reload; deleted when free
}

// QueueSnapshot describes one queue.
type QueueSnapshot struct {
	Name        string
	RingTimeout time.Duration
	// Waiting lists the callers not yet connected in service order,
	// including those whose offer is ringing (AgentID set).
	Waiting    []WaitingCall
	OldestWait time.Duration
	// Agents counts members by what they are doing; AgentsAvailable are
	// those who can be offered a call right now.
	AgentsLoggedIn   int
	AgentsAvailable  int
	AgentsCoolingOff int
	AgentsRinging    int
	AgentsOnCall     int
	Retired          bool
	Counters         QueueCounters
}

// WaitingCall is one caller in a queue.
type WaitingCall struct {
	CallID   string
	Priority int
	QueuedAt time.Time
	Wait     time.Duration
	OfferID  uint64 // non-zero while an agent rings for this call
	AgentID  string
}

// Snapshot copies the state as of now.
func (st *State) Snapshot(now time.Time) Snapshot {
	snap := Snapshot{
		At:       now,
		Agents:   make([]AgentSnapshot, 0, len(st.agents)),
		Queues:   make([]QueueSnapshot, 0, len(st.queues)),
		Counters: st.counters,
	}
	for _, a := range st.agents {
		as := AgentSnapshot{
			ID:            a.id,
			Name:          a.name,
			State:         a.state,
			Since:         a.since,
			IdleSince:     a.idleSince,
			CooldownUntil: a.cooldownUntil,
			LogoutPending: a.logoutPending,
			Retired:       a.retired,
		}
		switch {
		case a.offer != nil:
			as.CallID, as.OfferID = a.offer.call.id, a.offer.id
		case a.call != nil:
			as.CallID = a.call.id
		}
		for _, m := range a.memberships {
			as.Queues = append(as.Queues, m.queue.name)
		}
		slices.Sort(as.Queues)
		snap.Agents = append(snap.Agents, as)
	}
	slices.SortFunc(snap.Agents, func(a, b AgentSnapshot) int { return cmp.Compare(a.ID, b.ID) })

	waiting := make(map[*queue][]*call, len(st.queues))
	for _, c := range st.calls {
		if c.state == callWaiting || c.state == callOffering {
			waiting[c.queue] = append(waiting[c.queue], c)
		}
	}
	for _, q := range st.queues {
		qs := QueueSnapshot{
			Name:        q.name,
			RingTimeout: q.ringTimeout,
			Retired:     q.retired,
			Counters:    q.counters,
		}
		calls := waiting[q]
		slices.SortFunc(calls, func(a, b *call) int {
			switch {
			case a.before(b):
				return -1
			case b.before(a):
				return 1
			}
			return 0
		})
		for _, c := range calls {
			wc := WaitingCall{
				CallID:   c.id,
				Priority: c.priority,
				QueuedAt: c.queuedAt,
				Wait:     now.Sub(c.queuedAt),
			}
			if c.offer != nil {
				wc.OfferID, wc.AgentID = c.offer.id, c.offer.agent.id
			}
			qs.OldestWait = max(qs.OldestWait, wc.Wait)
			qs.Waiting = append(qs.Waiting, wc)
		}
		for _, m := range q.members {
			a := m.agent
			if a.state != AgentStateLoggedOut && a.state != AgentStateUnknown {
				qs.AgentsLoggedIn++
			}
			switch a.state {
			case AgentStateAvailable:
				if a.inIdleHeaps {
					qs.AgentsAvailable++
				} else {
					qs.AgentsCoolingOff++
				}
			case AgentStateRinging:
				qs.AgentsRinging++
			case AgentStateOnCall:
				qs.AgentsOnCall++
			case AgentStateLoggedOut, AgentStateUnknown:
			}
		}
		snap.Queues = append(snap.Queues, qs)
	}
	slices.SortFunc(snap.Queues, func(a, b QueueSnapshot) int { return cmp.Compare(a.Name, b.Name) })
	return snap
}

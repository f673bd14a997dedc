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
	// Reason explains not-ready and logged-out states.
	Reason string
	// Device is the phone the agent is logged in on.
	Device string
	// CooldownUntil is non-zero while an available agent sits out after a
	// failed offer; WrapUpUntil while they do after-call work.
	CooldownUntil time.Time
	WrapUpUntil   time.Time
	CallID        string // the call ringing or connected, if any
	OfferID       uint64 // while ringing
	Queues        []string
	Skills        []SkillLevel
	// Pending is a state asked for during a call, applied when it ends;
	// PendingReason its reason.
	Pending       AgentState
	PendingReason string
	LogoutPending bool // logged out during a call
	Retired       bool // removed by a reload; deleted when free
	// DedicatedWaiting counts callers waiting for this agent by name.
	DedicatedWaiting int
	Counters         AgentCounters
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
	// AgentsByState counts members by state (indexed by AgentState);
	// NotReadyByReason counts the not-ready ones by reason.
	AgentsByState    [agentStateLimit]int
	NotReadyByReason map[string]int
	// Staffed counts the queue's own agents who are logged in and not on a
	// break; the estimated wait divides by it.
	Staffed    int
	HandleTime time.Duration // moving average of talk plus wrap-up
	// ServiceLevel is the share of calls answered within the threshold over
	// the last 15 minutes (SLCalls of them); SLKnown is false when none.
	ServiceLevel   float64
	SLCalls        int
	SLKnown        bool
	SLThreshold    time.Duration
	SLTarget       float64
	CallbacksReady int // callbacks waiting for an agent, scheduled ones too
	Retired        bool
	Counters       QueueCounters
}

// WaitingCall is one caller in a queue.
type WaitingCall struct {
	CallID            string
	Priority          int
	EffectivePriority float64
	QueuedAt          time.Time
	Wait              time.Duration
	Stage             int
	OfferID           uint64 // non-zero while an agent rings for this call
	AgentID           string
	WaitingFor        string // the dedicated agent the caller waits for
	Callback          bool
	CallbackID        int64
	Number            string    // callbacks: the number to call
	NotBefore         time.Time // scheduled callbacks
	Attempts          int
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
			ID:               a.id,
			Name:             a.name,
			State:            a.state,
			Since:            a.since,
			IdleSince:        a.idleSince,
			Reason:           a.reason,
			Device:           a.device,
			Skills:           slices.Clone(a.skills),
			Pending:          a.pending.state,
			PendingReason:    a.pending.reason,
			LogoutPending:    a.pending.state == AgentStateLoggedOut,
			Retired:          a.retired,
			DedicatedWaiting: a.dedicated.len(),
			Counters:         a.counters,
		}
		if a.coolingDown {
			as.CooldownUntil = a.timer.at
		}
		if a.state == AgentStateWrapUp {
			as.WrapUpUntil = a.timer.at
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
		if c.state != callConnected {
			waiting[c.queue] = append(waiting[c.queue], c)
		}
	}
	for _, q := range st.queues {
		qs := QueueSnapshot{
			Name:        q.name,
			RingTimeout: q.spec.RingTimeout,
			Staffed:     q.staffed,
			HandleTime:  q.handleTime,
			SLThreshold: q.spec.ServiceLevel.Threshold,
			SLTarget:    q.spec.ServiceLevel.Target,
			Retired:     q.retired,
			Counters:    q.counters,
		}
		qs.ServiceLevel, qs.SLCalls, qs.SLKnown = q.sl.ratio(now)
		calls := waiting[q]
		slices.SortFunc(calls, func(a, b *call) int {
			switch {
			case a.servedBefore(b, now):
				return -1
			case b.servedBefore(a, now):
				return 1
			}
			return 0
		})
		for _, c := range calls {
			wc := WaitingCall{
				CallID:            c.id,
				Priority:          c.priority,
				EffectivePriority: c.effectivePriority(now),
				QueuedAt:          c.queuedAt,
				Wait:              now.Sub(c.queuedAt),
				Stage:             c.stage,
				Callback:          c.callback,
				CallbackID:        c.callbackID,
				Number:            c.number,
				NotBefore:         c.notBefore,
				Attempts:          c.attempts,
			}
			if c.offer != nil {
				wc.OfferID, wc.AgentID = c.offer.id, c.offer.agent.id
			}
			if c.state == callDedicated {
				wc.WaitingFor = c.preferred.id
			}
			if c.callback {
				qs.CallbacksReady++
			}
			qs.OldestWait = max(qs.OldestWait, wc.Wait)
			qs.Waiting = append(qs.Waiting, wc)
		}
		for _, m := range q.members {
			a := m.agent
			qs.AgentsByState[a.state]++
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
			case AgentStateOnCall, AgentStateOnHold:
				qs.AgentsOnCall++
			case AgentStateNotReady:
				if qs.NotReadyByReason == nil {
					qs.NotReadyByReason = map[string]int{}
				}
				qs.NotReadyByReason[a.reason]++
			case AgentStateLoggedOut, AgentStateUnknown, AgentStateWrapUp, agentStateLimit:
			}
		}
		snap.Queues = append(snap.Queues, qs)
	}
	slices.SortFunc(snap.Queues, func(a, b QueueSnapshot) int { return cmp.Compare(a.Name, b.Name) })
	return snap
}

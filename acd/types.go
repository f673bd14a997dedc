package acd

import (
	"fmt"
	"time"
)

// AgentState is where an agent is in the offer cycle.
type AgentState uint8

const (
	AgentStateUnknown AgentState = iota
	// AgentStateLoggedOut: not registered; receives no offers.
	AgentStateLoggedOut
	// AgentStateAvailable: logged in and free. An agent cooling down after a
	// failed offer is available but not offered until CooldownUntil.
	AgentStateAvailable
	// AgentStateRinging: reserved for one offer; their phone is ringing.
	AgentStateRinging
	// AgentStateOnCall: connected to a caller.
	AgentStateOnCall
)

func (s AgentState) String() string {
	switch s {
	case AgentStateUnknown:
		return "unknown"
	case AgentStateLoggedOut:
		return "logged-out"
	case AgentStateAvailable:
		return "available"
	case AgentStateRinging:
		return "ringing"
	case AgentStateOnCall:
		return "on-call"
	}
	return fmt.Sprintf("AgentState(%d)", uint8(s))
}

// OfferFailure says why the conductor could not connect an offer.
type OfferFailure uint8

const (
	OfferFailureUnknown OfferFailure = iota
	// OfferNoAnswer: the phone rang out on its own side (480, 408 after a
	// provisional) before our ring timeout.
	OfferNoAnswer
	// OfferRejected: the agent declined (486 Busy Here, 603 Decline).
	OfferRejected
	// OfferBusy: the agent's device is busy with something else (600, or
	// the conductor found the contact already in a dialog).
	OfferBusy
	// OfferUnreachable: no usable contact, 408/503 or a transport error.
	OfferUnreachable
)

func (f OfferFailure) String() string {
	switch f {
	case OfferFailureUnknown:
		return "unknown"
	case OfferNoAnswer:
		return "no-answer"
	case OfferRejected:
		return "rejected"
	case OfferBusy:
		return "busy"
	case OfferUnreachable:
		return "unreachable"
	}
	return fmt.Sprintf("OfferFailure(%d)", uint8(f))
}

// CancelReason says why the ACD withdrew an offer.
type CancelReason uint8

const (
	CancelReasonUnknown CancelReason = iota
	// CancelRingTimeout: the queue's ring timeout elapsed; the ACD owns that
	// timer so the conductor need not race it.
	CancelRingTimeout
	// CancelCallerAbandoned: the caller hung up while the agent rang.
	CancelCallerAbandoned
	// CancelAgentLoggedOut: the agent unregistered while ringing.
	CancelAgentLoggedOut
	// CancelLateAnswer: the agent answered an offer the ACD had already
	// withdrawn; the conductor must hang the agent leg up.
	CancelLateAnswer
)

func (r CancelReason) String() string {
	switch r {
	case CancelReasonUnknown:
		return "unknown"
	case CancelRingTimeout:
		return "ring-timeout"
	case CancelCallerAbandoned:
		return "caller-abandoned"
	case CancelAgentLoggedOut:
		return "agent-logged-out"
	case CancelLateAnswer:
		return "late-answer"
	}
	return fmt.Sprintf("CancelReason(%d)", uint8(r))
}

// OfferResult is how an offer ended; it indexes QueueCounters.OffersByResult.
type OfferResult uint8

const (
	OfferResultUnknown OfferResult = iota
	OfferResultAnswered
	OfferResultNoAnswer
	OfferResultRejected
	OfferResultBusy
	OfferResultUnreachable
	// OfferResultFailed: OfferFailed without a known reason.
	OfferResultFailed
	OfferResultRingTimeout
	OfferResultCallerAbandoned
	OfferResultAgentLoggedOut
	OfferResultLimit // keep last: sizes the counter array
)

func (r OfferResult) String() string {
	switch r {
	case OfferResultUnknown:
		return "unknown"
	case OfferResultAnswered:
		return "answered"
	case OfferResultNoAnswer:
		return "no-answer"
	case OfferResultRejected:
		return "rejected"
	case OfferResultBusy:
		return "busy"
	case OfferResultUnreachable:
		return "unreachable"
	case OfferResultFailed:
		return "failed"
	case OfferResultRingTimeout:
		return "ring-timeout"
	case OfferResultCallerAbandoned:
		return "caller-abandoned"
	case OfferResultAgentLoggedOut:
		return "agent-logged-out"
	case OfferResultLimit:
	}
	return fmt.Sprintf("OfferResult(%d)", uint8(r))
}

func resultOfFailure(f OfferFailure) OfferResult {
	switch f {
	case OfferNoAnswer:
		return OfferResultNoAnswer
	case OfferRejected:
		return OfferResultRejected
	case OfferBusy:
		return OfferResultBusy
	case OfferUnreachable:
		return OfferResultUnreachable
	case OfferFailureUnknown:
	}
	return OfferResultFailed
}

func resultOfCancel(r CancelReason) OfferResult {
	switch r {
	case CancelRingTimeout:
		return OfferResultRingTimeout
	case CancelCallerAbandoned:
		return OfferResultCallerAbandoned
	case CancelAgentLoggedOut:
		return OfferResultAgentLoggedOut
	case CancelReasonUnknown:
	}
	return OfferResultFailed
}

// Event is an input to Step. The set is closed: only this package's types
// implement it, so Step's switch is exhaustive.
type Event interface{ isEvent() }

// CallQueued: a caller entered a queue. Higher Priority is served first;
// equal priorities are served in arrival order.
type CallQueued struct {
	CallID, Queue string
	Priority      int
}

// CallAbandoned: the caller hung up before being connected, while waiting or
// while an agent rang.
type CallAbandoned struct{ CallID string }

// AgentLoggedIn: the agent registered. A refresh of a live registration is a
// no-op and does not touch the agent's idle time.
type AgentLoggedIn struct{ AgentID string }

// AgentLoggedOut: the agent's registration ended or was removed.
type AgentLoggedOut struct{ AgentID string }

// OfferAnswered: the agent answered (200 OK) and the legs are bridged.
//
// CallID and AgentID let the ACD refuse an answer that came too late: if the
// offer was already withdrawn, it answers with CancelOffer (CancelLateAnswer)
// and the conductor drops the agent leg.
type OfferAnswered struct {
	OfferID         uint64
	CallID, AgentID string
}

// OfferFailed: the agent leg ended without an answer.
type OfferFailed struct {
	OfferID uint64
	Reason  OfferFailure
}

// CallEnded: a connected call ended (BYE from either side).
type CallEnded struct{ CallID string }

// Tick: the deadline reported by NextDeadline has passed.
type Tick struct{}

// TopologyChanged replaces queues and agents (a config reload). Calls and
// offers in flight are not disturbed; see docs/acd.md.
type TopologyChanged struct{ Topology Topology }

func (CallQueued) isEvent()      {}
func (CallAbandoned) isEvent()   {}
func (AgentLoggedIn) isEvent()   {}
func (AgentLoggedOut) isEvent()  {}
func (OfferAnswered) isEvent()   {}
func (OfferFailed) isEvent()     {}
func (CallEnded) isEvent()       {}
func (Tick) isEvent()            {}
func (TopologyChanged) isEvent() {}

// Command is an output of Step, for the conductor.
type Command interface{ isCommand() }

// OfferCall: ring AgentID for CallID. The conductor reports exactly one of
// OfferAnswered or OfferFailed for OfferID unless the ACD cancels it first.
// RingTimeout is informational: the ACD itself cancels the offer when it
// elapses.
type OfferCall struct {
	OfferID         uint64
	CallID, AgentID string
	Queue           string
	RingTimeout     time.Duration
}

// CancelOffer: stop ringing the agent for this offer. The ACD has already
// released the agent and, unless the caller abandoned, requeued the call; a
// later OfferAnswered for OfferID is stale, so the conductor must hang up an
// agent leg that answers after it received CancelOffer.
type CancelOffer struct {
	OfferID         uint64
	CallID, AgentID string
	Reason          CancelReason
}

func (OfferCall) isCommand()   {}
func (CancelOffer) isCommand() {}

// Topology is the ACD's view of the configuration.
type Topology struct {
	Queues []QueueSpec
	Agents []AgentSpec
	// OfferCooldown is how long an agent whose offer failed or timed out is
	// skipped before being offered again; zero means DefaultOfferCooldown.
	OfferCooldown time.Duration
}

// QueueSpec describes one queue. Agents lists member agent IDs; IDs not in
// Topology.Agents are ignored.
type QueueSpec struct {
	Name        string
	Agents      []string
	RingTimeout time.Duration // zero means DefaultRingTimeout
}

// AgentSpec describes one agent.
type AgentSpec struct {
	ID, Name string
}

const (
	// DefaultRingTimeout matches what desk phones users expect before a
	// call rolls to the next agent (Asterisk's queue default is 15 s).
	DefaultRingTimeout = 20 * time.Second
	// DefaultOfferCooldown keeps an agent who just missed or rejected a call
	// from being rung again at once (Asterisk's "retry" default is 5 s).
	DefaultOfferCooldown = 5 * time.Second
)

package acd

import (
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/hotline-cc/hotline/config"
)

// AgentState is what an agent is doing, as the ACD sees it.
type AgentState uint8

const (
	AgentStateUnknown AgentState = iota
	// AgentStateLoggedOut: not logged in on any phone; receives no offers.
	AgentStateLoggedOut
	// AgentStateAvailable: logged in and free. An agent cooling down after a
	// failed offer is available but not offered until the cool-down ends.
	AgentStateAvailable
	// AgentStateRinging: reserved for one offer; their phone is ringing.
	AgentStateRinging
	// AgentStateOnCall: connected to a caller.
	AgentStateOnCall
	// AgentStateOnHold: connected, with the caller on hold.
	AgentStateOnHold
	// AgentStateWrapUp: after-call work; ends when the queue's wrap-up time
	// is over or the agent says they are ready.
	AgentStateWrapUp
	// AgentStateNotReady: logged in but taking no calls, with a reason
	// (break, lunch, missed, ...).
	AgentStateNotReady
	agentStateLimit // keep last: sizes per-state counters
)

var agentStateNames = [...]string{
	AgentStateUnknown:   "unknown",
	AgentStateLoggedOut: "logged-out",
	AgentStateAvailable: "available",
	AgentStateRinging:   "ringing",
	AgentStateOnCall:    "on-call",
	AgentStateOnHold:    "on-hold",
	AgentStateWrapUp:    "wrap-up",
	AgentStateNotReady:  "not-ready",
}

func (s AgentState) String() string {
	if int(s) < len(agentStateNames) {
		return agentStateNames[s]
	}
	return fmt.Sprintf("AgentState(%d)", uint8(s))
}

// AgentStates lists every state an agent can be in, for metrics that must
// show zeros.
func AgentStates() []AgentState {
	return []AgentState{AgentStateLoggedOut, AgentStateAvailable, AgentStateRinging, AgentStateOnCall,
		AgentStateOnHold, AgentStateWrapUp, AgentStateNotReady}
}

// ParseAgentState returns the state spelled s (as String prints it), or
// AgentStateUnknown.
func ParseAgentState(s string) AgentState {
	for st, name := range agentStateNames {
		if name == s && AgentState(st) != AgentStateUnknown {
			return AgentState(st)
		}
	}
	return AgentStateUnknown
}

// busy reports whether the agent is tied to a call (ringing or connected).
func (s AgentState) busy() bool {
	return s == AgentStateRinging || s == AgentStateOnCall || s == AgentStateOnHold
}

// Reasons the ACD itself gives for a state change.
const (
	// ReasonMissed: the agent let MissedBeforeNotReady offers in a row ring
	// out and was made not-ready.
	ReasonMissed = "missed"
	// ReasonDeviceGone: the agent's phone unregistered.
	ReasonDeviceGone = "device-gone"
	// ReasonTakenOver: another agent logged in on the same phone.
	ReasonTakenOver = "taken-over"
	// ReasonRepaired: the periodic consistency check corrected the state.
	ReasonRepaired = "repaired"
	// ReasonRemoved: a reload removed the agent from the configuration.
	ReasonRemoved = "removed"
)

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
	// OfferNotPlaced: the conductor could not place a callback offer for
	// reasons of its own (no outbound trunk, no media port, shutting
	// down): the agent is not to blame, and the callback waits a cool-down
	// in its place before it is offered again. For a caller's call it
	// counts as OfferUnreachable.
	OfferNotPlaced
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
	case OfferNotPlaced:
		return "not-placed"
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
	// CancelAgentLoggedOut: the agent logged out while ringing.
	CancelAgentLoggedOut
	// CancelLateAnswer: the agent answered an offer the ACD had already
	// withdrawn; the conductor must hang the agent leg up.
	CancelLateAnswer
	// CancelCallMoved: the call left its queue (max wait, callback) while
	// the agent rang.
	CancelCallMoved
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
	case CancelCallMoved:
		return "call-moved"
	}
	return fmt.Sprintf("CancelReason(%d)", uint8(r))
}

// OfferResult is how an offer ended; it indexes the offer counters.
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
	OfferResultCallMoved
	OfferResultNotPlaced
	OfferResultLimit // keep last: sizes the counter array
)

var offerResultNames = [...]string{
	OfferResultUnknown:         "unknown",
	OfferResultAnswered:        "answered",
	OfferResultNoAnswer:        "no-answer",
	OfferResultRejected:        "rejected",
	OfferResultBusy:            "busy",
	OfferResultUnreachable:     "unreachable",
	OfferResultFailed:          "failed",
	OfferResultRingTimeout:     "ring-timeout",
	OfferResultCallerAbandoned: "caller-abandoned",
	OfferResultAgentLoggedOut:  "agent-logged-out",
	OfferResultCallMoved:       "call-moved",
	OfferResultNotPlaced:       "not-placed",
}

func (r OfferResult) String() string {
	if int(r) < len(offerResultNames) && r != OfferResultLimit {
		return offerResultNames[r]
	}
	return fmt.Sprintf("OfferResult(%d)", uint8(r))
}

// agentAtFault reports whether the result counts against the agent: they
// sit out a cool-down and the call tries someone else first.
func (r OfferResult) agentAtFault() bool {
	switch r {
	case OfferResultCallerAbandoned, OfferResultAgentLoggedOut, OfferResultCallMoved, OfferResultAnswered,
		OfferResultNotPlaced:
		return false
	}
	return true
}

// missed reports whether the result is a ring-out that counts towards the
// missed-offers limit. Rejections and unreachable phones are counted apart.
func (r OfferResult) missed() bool {
	return r == OfferResultNoAnswer || r == OfferResultRingTimeout
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
	case OfferNotPlaced:
		return OfferResultNotPlaced
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
	case CancelCallMoved:
		return OfferResultCallMoved
	case CancelReasonUnknown, CancelLateAnswer:
	}
	return OfferResultFailed
}

// SLOutcome is a call's service-level verdict, decided once when the call
// leaves the queue and stored with its CDR so that every report agrees.
type SLOutcome uint8

const (
	// SLNone: the call never counted (refused at entry: closed, full).
	SLNone SLOutcome = iota
	// SLMet: answered within the queue's threshold.
	SLMet
	// SLMissed: answered late, abandoned after the short-abandon time, or
	// sent elsewhere after waiting.
	SLMissed
	// SLExcluded: a short abandon, an abandon in a queue that ignores
	// abandons, or a caller who chose a callback.
	SLExcluded
)

func (o SLOutcome) String() string {
	switch o {
	case SLNone:
		return ""
	case SLMet:
		return "met"
	case SLMissed:
		return "missed"
	case SLExcluded:
		return "excluded"
	}
	return fmt.Sprintf("SLOutcome(%d)", uint8(o))
}

// Exit is how a call left its queue.
type Exit uint8

const (
	ExitUnknown Exit = iota
	// ExitConnected: an agent answered.
	ExitConnected
	// ExitAbandoned: the caller hung up while waiting or ringing.
	ExitAbandoned
	// ExitRouted: the ACD sent the call to a destination (closed, full,
	// max wait).
	ExitRouted
	// ExitCallback: the caller chose to be called back; the callback keeps
	// the place.
	ExitCallback
)

func (e Exit) String() string {
	switch e {
	case ExitUnknown:
		return "unknown"
	case ExitConnected:
		return "connected"
	case ExitAbandoned:
		return "abandoned"
	case ExitRouted:
		return "routed"
	case ExitCallback:
		return "callback"
	}
	return fmt.Sprintf("Exit(%d)", uint8(e))
}

// Rule names why an agent was chosen, for the decision log.
type Rule uint8

const (
	RuleUnknown Rule = iota
	// RuleDedicated: the caller's dedicated (or last) agent.
	RuleDedicated
	// RuleBestSkilled: the best-skilled tier first, longest idle within it.
	RuleBestSkilled
	// RuleLongestIdle: longest idle among every qualified agent.
	RuleLongestIdle
	// RuleRetryFailed: everyone idle had failed this call recently; the one
	// idle longest is tried again rather than keep the caller waiting.
	RuleRetryFailed
)

func (r Rule) String() string {
	switch r {
	case RuleUnknown:
		return "unknown"
	case RuleDedicated:
		return "dedicated"
	case RuleBestSkilled:
		return "best-skilled"
	case RuleLongestIdle:
		return "longest-idle"
	case RuleRetryFailed:
		return "retry-failed"
	}
	return fmt.Sprintf("Rule(%d)", uint8(r))
}

// Event is an input to Step. The set is closed: only this package's types
// implement it, so Step's switch is exhaustive.
type Event interface{ isEvent() }

// CallQueued: a caller entered a queue.
type CallQueued struct {
	CallID, Queue string
	// Priority is the call's base priority (trunk, caller lists, IVR). The
	// queue's aging makes it grow with the wait; higher is served first.
	Priority int
	// PreferredAgent, when set, gets the call first if logged in: the
	// caller's dedicated advisor or the agent who served them last. The
	// caller waits up to PreferredWait for them, then anyone qualified may
	// take the call.
	PreferredAgent string
	PreferredWait  time.Duration
	// Exclusive: only PreferredAgent may take the call (an IVR transfer to
	// one agent). If they cannot come within PreferredWait (logged out, on
	// a break, busy too long, no answer), the call leaves with a RouteCall
	// whose Destination is DestNone and whose Reason says why, so that its
	// flow goes on. Such a call skips the queue's hours, size limit,
	// escalation, max wait and announcements, and counts as excluded from
	// the service level when it leaves unanswered.
	Exclusive bool
	// Transferred: an agent sent the call on (a blind transfer to a queue or
	// an agent). QueuedAt, when set and not in the future, is when the
	// caller first queued: the call keeps its place and its wait. It had
	// its service-level verdict when it was first answered: it gets none
	// again.
	Transferred bool
	QueuedAt    time.Time
}

// CallAbandoned: the caller hung up before being connected.
type CallAbandoned struct{ CallID string }

// CallEnded: a connected call ended (BYE from either side).
type CallEnded struct{ CallID string }

// CallHeld: the agent put the caller on hold (Held) or took them off it.
type CallHeld struct {
	CallID string
	Held   bool
}

// CallbackRequested: a waiting caller chose to be called back at Number.
// The callback keeps the call's place (enqueue time and priority) under the
// ID CallbackCallID(CallbackID); the caller's own call is gone from the ACD.
type CallbackRequested struct {
	CallID     string
	CallbackID int64
	Number     string
}

// CallbackScheduled puts a callback in its queue: one asked for through the
// API ("call me at 20:00"), or one reloaded from the database at start-up.
// It is offered from NotBefore on, ordered by QueuedAt and Priority.
type CallbackScheduled struct {
	CallbackID            int64
	Queue, Number         string
	Priority              int
	QueuedAt, NotBefore   time.Time
	Attempts, MaxAttempts int
}

// CallbackFailed: the agent answered a callback offer but the customer did
// not (Result says how). The callback goes back to its place for another
// attempt after the queue's retry time, until its attempts run out.
type CallbackFailed struct {
	CallID string
	Result string
}

// AgentLoggedIn: the agent logged in on Device (a registered phone's user).
// A login on the device the agent already uses changes nothing; a login on
// another device moves them there. An agent already on Device is logged out.
type AgentLoggedIn struct {
	AgentID, Device string
	// Source says who did it (register, feature-code, api:NAME), for the
	// audit.
	Source string
}

// AgentLoggedOut: the agent logged out (feature code, API) or their phone
// unregistered. During a call it takes effect when the call ends.
type AgentLoggedOut struct {
	AgentID, Reason, Source string
}

// DeviceUnregistered: a phone's registration ended; whoever is logged in on
// it is logged out (reason device-gone).
type DeviceUnregistered struct{ Device string }

// AgentStateRequested: the agent (feature code), a supervisor or the API
// asks for Available or NotReady (with Reason). During a call the request
// waits for the call to end; during wrap-up it ends the wrap-up.
type AgentStateRequested struct {
	AgentID string
	State   AgentState
	Reason  string
	Source  string
}

// WrapUpDone: the agent ended their after-call work early.
type WrapUpDone struct{ AgentID, Source string }

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

// Tick: the deadline reported by NextDeadline has passed.
type Tick struct{}

// TopologyChanged replaces queues and agents (a config reload). Calls and
// offers in flight are not disturbed; see docs/acd.md.
type TopologyChanged struct{ Topology Topology }

// Reconcile tells the ACD what the conductor knows to be true, for the
// periodic self-healing check: the calls that still exist and the devices
// still registered. The ACD drops what contradicts it and reports each
// repair.
//
// Taken is when the conductor gathered the facts: only calls queued and
// logins made before it are judged, so an event racing the snapshot is
// never mistaken for drift. A nil map skips that check.
type Reconcile struct {
	Taken             time.Time
	LiveCalls         map[string]bool
	RegisteredDevices map[string]bool
}

func (CallQueued) isEvent()          {}
func (CallAbandoned) isEvent()       {}
func (CallEnded) isEvent()           {}
func (CallHeld) isEvent()            {}
func (CallbackRequested) isEvent()   {}
func (CallbackScheduled) isEvent()   {}
func (CallbackFailed) isEvent()      {}
func (AgentLoggedIn) isEvent()       {}
func (AgentLoggedOut) isEvent()      {}
func (DeviceUnregistered) isEvent()  {}
func (AgentStateRequested) isEvent() {}
func (WrapUpDone) isEvent()          {}
func (OfferAnswered) isEvent()       {}
func (OfferFailed) isEvent()         {}
func (Tick) isEvent()                {}
func (TopologyChanged) isEvent()     {}
func (Reconcile) isEvent()           {}

// CallbackCallID is the ID under which the ACD keeps callback cbID.
func CallbackCallID(cbID int64) string { return fmt.Sprintf("%s%d", callbackIDPrefix, cbID) }

// IsCallbackCallID reports whether id names a callback (CallbackCallID)
// rather than a caller's call.
func IsCallbackCallID(id string) bool { return strings.HasPrefix(id, callbackIDPrefix) }

const callbackIDPrefix = "callback-"

// ConsultCallID is the ACD's ID for the n-th consultation an agent of call
// callID asked for ("consult the tier-2 queue"): the ACD routes it like a
// caller's call to an agent of a queue, or to one agent, but it has no
// CDR of its own.
func ConsultCallID(callID string, n int) string {
	return consultIDPrefix + strconv.Itoa(n) + "-" + callID
}

// ConsultedCall returns the call a consultation's ID (ConsultCallID)
// belongs to, or false for any other ID.
func ConsultedCall(id string) (string, bool) {
	rest, ok := strings.CutPrefix(id, consultIDPrefix)
	if !ok {
		return "", false
	}
	n, callID, ok := strings.Cut(rest, "-")
	if _, err := strconv.Atoi(n); err != nil || !ok || callID == "" {
		return "", false
	}
	return callID, true
}

const consultIDPrefix = "consult-"

// CommandKind says which payload of a Command is set.
type CommandKind uint8

const (
	CommandUnknown CommandKind = iota
	// CommandOffer: ring an agent (Command.Offer).
	CommandOffer
	// CommandCancelOffer: stop ringing (Command.Cancel).
	CommandCancelOffer
	// CommandAgentState: an agent changed state (Command.AgentState), for
	// the audit log and the agent's phone.
	CommandAgentState
	// CommandCallExit: a call left its queue, with its service-level
	// verdict (Command.Exit).
	CommandCallExit
	// CommandRoute: send a call to a destination outside the ACD: a flow,
	// a callback offer, busy or hang-up (Command.Route).
	CommandRoute
	// CommandMove: the call now waits in another queue (Command.Move).
	CommandMove
	// CommandAnnounce: tell a waiting caller their position and expected
	// wait (Command.Announce).
	CommandAnnounce
	// CommandCallback: a callback changed state (Command.Callback).
	CommandCallback
	// CommandRepair: the self-healing check corrected something
	// (Command.Repair).
	CommandRepair
)

var commandKindNames = [...]string{
	CommandUnknown:     "unknown",
	CommandOffer:       "offer",
	CommandCancelOffer: "cancel-offer",
	CommandAgentState:  "agent-state",
	CommandCallExit:    "call-exit",
	CommandRoute:       "route",
	CommandMove:        "move",
	CommandAnnounce:    "announce",
	CommandCallback:    "callback",
	CommandRepair:      "repair",
}

func (k CommandKind) String() string {
	if int(k) < len(commandKindNames) {
		return commandKindNames[k]
	}
	return fmt.Sprintf("CommandKind(%d)", uint8(k))
}

// Command is an output of Step, for the conductor. It is a tagged union
// rather than an interface so that Step hands commands out without boxing
// them on the heap: Kind says which one payload field is set.
type Command struct {
	Kind       CommandKind
	Offer      OfferCall
	Cancel     CancelOffer
	AgentState AgentStateChanged
	Exit       CallExit
	Route      RouteCall
	Move       CallMoved
	Announce   Announce
	Callback   CallbackChanged
	Repair     Repaired
}

// CallID returns the call the command is about, if any.
func (c *Command) CallID() string {
	switch c.Kind {
	case CommandOffer:
		return c.Offer.CallID
	case CommandCancelOffer:
		return c.Cancel.CallID
	case CommandAgentState:
		return c.AgentState.CallID
	case CommandCallExit:
		return c.Exit.CallID
	case CommandRoute:
		return c.Route.CallID
	case CommandMove:
		return c.Move.CallID
	case CommandAnnounce:
		return c.Announce.CallID
	case CommandCallback:
		return c.Callback.CallID
	case CommandRepair:
		return c.Repair.CallID
	case CommandUnknown:
	}
	return ""
}

// OfferCall: ring AgentID on Device for CallID. The conductor reports
// exactly one of OfferAnswered or OfferFailed for OfferID unless the ACD
// cancels it first. RingTimeout is informational: the ACD itself cancels the
// offer when it elapses.
type OfferCall struct {
	OfferID                 uint64
	CallID, AgentID, Device string
	Queue                   string
	RingTimeout             time.Duration
	// Callback is set when the offer is a callback: once the agent answers,
	// the conductor dials Number through the trunk.
	Callback   bool
	CallbackID int64
	Number     string
	Attempt    int // 1 for the first try of a callback
	Decision   Decision
}

// Decision explains an offer: who else was considered and why this agent.
type Decision struct {
	Rule              Rule
	Stage             int           // escalation stage the call had reached
	Tier              int           // the chosen agent's skill tier (level) for the queue
	Idle              time.Duration // how long the chosen agent had been idle
	Wait              time.Duration // how long the call had waited
	EffectivePriority float64
	// Candidates are the agents compared: the chosen one first, then the
	// others in the order they were compared (agents passed over for a
	// recent failure are marked Skipped). NumCandidates says how many of
	// the array are set.
	Candidates    [MaxCandidates]Candidate
	NumCandidates int
}

// MaxCandidates bounds the decision log of one offer.
const MaxCandidates = 6

// Candidate is one agent a decision compared.
type Candidate struct {
	AgentID string
	Tier    int
	Stage   int
	Idle    time.Duration
	// Skipped says why this candidate lost if not on merit: "recent-failure".
	Skipped string
}

// CancelOffer: stop ringing the agent for this offer. The ACD has already
// released the agent and, unless the caller left, requeued the call; a later
// OfferAnswered for OfferID is stale, so the conductor must hang up an agent
// leg that answers after it received CancelOffer.
type CancelOffer struct {
	OfferID         uint64
	CallID, AgentID string
	Reason          CancelReason
}

// AgentStateChanged records one agent state change: who, why and when (the
// Step's now).
type AgentStateChanged struct {
	AgentID, Device string
	From, To        AgentState
	Reason          string // not-ready reason, logout reason, or ""
	Source          string // acd, register, feature-code, api:NAME, repair
	// CallID is the call the change is about, if any; for wrap-up, the call
	// whose after-call work it is.
	CallID string
	// InStateFor is how long the agent had been in From: the talk time when
	// leaving on-call, the wrap-up time when leaving wrap-up.
	InStateFor time.Duration
}

// CallExit: the call left its queue. SL is the verdict for the queue's
// service level, Wait the time since the call first queued.
type CallExit struct {
	CallID, Queue string
	Exit          Exit
	Wait          time.Duration
	SL            SLOutcome
	AgentID       string // for ExitConnected
	Priority      int
	Offers        int // how many agents were offered the call
	// Transferred: an agent sent the call back to a queue; its
	// service-level verdict and offers were reported when it was first
	// answered, and Wait counts from the transfer.
	Transferred bool
}

// RouteCall: the call leaves the ACD for Destination (never a queue: moves
// between queues stay inside the ACD and are reported as CallMoved).
type RouteCall struct {
	CallID, Queue string
	Destination   config.Destination
	Reason        string // closed, queue-full, max-wait
}

// CallMoved: the call now waits in To, with its enqueue time and priority
// kept.
type CallMoved struct {
	CallID, From, To string
	Reason           string // escalation, queue-full, max-wait, closed
}

// Announce: tell a waiting caller their place. Position counts from 1; EWT
// is the estimated wait (zero when unknown). WaitingFor is set while the
// caller waits for their dedicated agent.
type Announce struct {
	CallID, Queue string
	Position      int
	EWT           time.Duration
	WaitingFor    string
}

// CallbackChanged reports a callback's progress, for the database.
type CallbackChanged struct {
	CallbackID int64
	CallID     string // the ACD's ID for the callback (CallbackCallID)
	Queue      string
	State      string // pending, merged, done, failed
	Attempts   int
	// MergedInto is set with State "merged": the earlier callback for the
	// same number that absorbed this one.
	MergedInto int64
	// QueuedAt and Priority are the callback's place after a merge.
	QueuedAt time.Time
	Priority int
}

// Repaired reports one correction made by the self-healing check.
type Repaired struct {
	CallID, AgentID string
	What            string
}

// Topology is the ACD's view of the configuration.
type Topology struct {
	Queues []QueueSpec
	Agents []AgentSpec
	// OfferCooldown is how long an agent whose offer failed or timed out is
	// skipped before being offered again; zero means DefaultOfferCooldown.
	OfferCooldown time.Duration
	// MissedBeforeNotReady is how many offers in a row an agent may let
	// ring out before they are made not-ready (reason "missed"); 0 never.
	MissedBeforeNotReady int
}

// QueueSpec describes one queue.
type QueueSpec struct {
	Name string
	// Agents lists member agent IDs; IDs not in Topology.Agents are ignored.
	Agents []string
	// Skills: agents with all of these at or above the level are members
	// too.
	Skills      []SkillLevel
	Strategy    config.Strategy
	RingTimeout time.Duration // zero means DefaultRingTimeout
	WrapUp      time.Duration
	// AgingPerMinute is how much a waiting call's priority grows per
	// minute; zero makes priorities strict.
	AgingPerMinute float64
	ServiceLevel   config.ServiceLevel
	Escalation     []EscalationStep
	MaxWait        time.Duration
	MaxWaitDest    config.Destination
	MaxWaiting     int
	FullDest       config.Destination
	// Hours, when set, says when the queue takes calls; outside them a new
	// call goes to ClosedDest. Callers already waiting are still served.
	Hours         *config.Calendar
	ClosedDest    config.Destination
	PositionEvery time.Duration
	// CallbackRetry is the pause between callback attempts;
	// CallbackMaxAttempts the default number of attempts.
	CallbackRetry       time.Duration
	CallbackMaxAttempts int
}

// SkillLevel is a skill with a level from 1 to 10.
type SkillLevel struct {
	Skill string
	Level int
}

// EscalationStep applies to a call that has waited After in the queue:
// either agents with Skills become eligible too, or the call moves to
// Queue, keeping its enqueue time and priority.
type EscalationStep struct {
	After  time.Duration
	Skills []SkillLevel
	Queue  string
}

// AgentSpec describes one agent.
type AgentSpec struct {
	ID, Name string
	Skills   []SkillLevel
}

const (
	// DefaultRingTimeout matches what desk phones users expect before a
	// call rolls to the next agent (Asterisk's queue default is 15 s).
	DefaultRingTimeout = 20 * time.Second
	// DefaultOfferCooldown keeps an agent who just missed or rejected a call
	// from being rung again at once (Asterisk's "retry" default is 5 s).
	DefaultOfferCooldown = 5 * time.Second
	// DefaultCallbackRetry is the pause between two callback attempts.
	DefaultCallbackRetry = 5 * time.Minute
	// DefaultCallbackMaxAttempts bounds the attempts of a callback.
	DefaultCallbackMaxAttempts = 3
	// defaultSLThreshold and defaultSLTarget: "80% answered in 20 s", the
	// industry's customary service level, for a queue that names none.
	defaultSLThreshold = 20 * time.Second
	defaultSLTarget    = 80
)

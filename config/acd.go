package config

import (
	"slices"
	"strconv"
	"strings"
	"time"
)

// Defaults and limits of the contact-center settings. The ACD relies on the
// limits: Parse refuses anything outside them.
const (
	DefaultStrategy              = StrategyBestSkilled
	DefaultAgingPerMinute        = 1.0
	DefaultServiceLevelThreshold = 20 * time.Second
	DefaultServiceLevelTarget    = 80.0
	DefaultShortAbandon          = 5 * time.Second
	DefaultStickyWait            = 20 * time.Second
	DefaultCallbackMaxAttempts   = 3
	DefaultCallbackRetry         = 5 * time.Minute
	DefaultDedicatedWait         = 30 * time.Second
	DefaultMissedBeforeNotReady  = 3

	// MinSkillLevel and MaxSkillLevel bound agent levels and queue minimums.
	MinSkillLevel = 1
	MaxSkillLevel = 10
	// MinPriority and MaxPriority bound every priority: trunk, queue, rule.
	MinPriority = -100
	MaxPriority = 100
	// MaxEscalationSteps bounds a queue's escalation.
	MaxEscalationSteps  = 8
	MaxWrapUp           = 10 * time.Minute
	MaxAgingPerMinute   = 1000.0
	MaxDedicatedWait    = 10 * time.Minute
	MaxStickyWait       = 10 * time.Minute
	MaxStickyDays       = 365
	MinPositionEvery    = 10 * time.Second
	MinCallbackRetry    = 30 * time.Second
	MaxCallbackAttempts = 10
)

// ReasonMissed is the not-ready reason the ACD sets when an agent has missed
// AgentStates.MissedBeforeNotReady offers in a row; it cannot be configured.
const ReasonMissed = "missed"

// SkillLevel is an agent's level in a skill, or a queue's minimum level.
type SkillLevel struct {
	Skill string
	// Level is 1 (novice) to 10 (expert).
	Level int
	// Pos is where the skill is written.
	Pos Pos
}

// Level returns the agent's level in skill, or 0 if the agent lacks it.
// Agents have a handful of skills, so a scan beats a search, and an Agent
// built in code need not sort them.
func (a *Agent) Level(skill string) int {
	for _, s := range a.Skills {
		if s.Skill == skill {
			return s.Level
		}
	}
	return 0
}

// Meets reports whether the agent has every skill in reqs at its level or
// higher. No requirements are always met.
func (a *Agent) Meets(reqs []SkillLevel) bool {
	for _, r := range reqs {
		if a.Level(r.Skill) < r.Level {
			return false
		}
	}
	return true
}

// Serves reports whether agent a serves the queue from the start: listed by
// ID in Agents, or meeting all of Skills when the queue has skills.
// Escalation steps widen this as a call waits.
func (q *Queue) Serves(a *Agent) bool {
	return slices.Contains(q.Agents, a.ID) || len(q.Skills) > 0 && a.Meets(q.Skills)
}

// Members returns the IDs of the agents who serve q (see Queue.Serves), in
// the order of Config.Agents.
func (c *Config) Members(q *Queue) []string {
	var ids []string
	for i := range c.Agents {
		if q.Serves(&c.Agents[i]) {
			ids = append(ids, c.Agents[i].ID)
		}
	}
	return ids
}

// Phone is a hot-desk device: it registers like an agent's phone, but any
// agent may log in on it with their PIN.
type Phone struct {
	// User is the SIP user name the phone registers as; never an agent ID.
	User string
	// Password is the phone's SIP digest password.
	Password string
	Pos      Pos
}

// Phone returns the hot-desk phone registering as user, or nil.
func (c *Config) Phone(user string) *Phone {
	for i := range c.Phones {
		if c.Phones[i].User == user {
			return &c.Phones[i]
		}
	}
	return nil
}

// Strategy is how a queue picks among the agents free to take a call.
type Strategy uint8

// Strategies. The zero value is the default, so that a Queue built in code
// behaves like one read from a file.
const (
	// StrategyBestSkilled offers the call to the agent with the highest
	// levels in the queue's skills, the longest idle among equals.
	StrategyBestSkilled Strategy = iota
	// StrategyLongestIdle offers the call to the agent idle longest.
	StrategyLongestIdle
)

var strategyNames = [...]string{
	StrategyBestSkilled: "best-skilled",
	StrategyLongestIdle: "longest-idle",
}

func (s Strategy) String() string {
	if int(s) < len(strategyNames) {
		return strategyNames[s]
	}
	return "Strategy(" + strconv.Itoa(int(s)) + ")"
}

// ParseStrategy returns the strategy spelled s in a configuration file.
func ParseStrategy(s string) (Strategy, bool) {
	i := slices.Index(strategyNames[:], s)
	return Strategy(max(i, 0)), i >= 0
}

// DestinationKind is where a call goes when a queue will not keep it.
type DestinationKind uint8

// Destination kinds. DestNone means the setting is off.
const (
	DestNone DestinationKind = iota
	// DestQueue moves the call to another queue, keeping its enqueue time
	// and priority.
	DestQueue
	// DestFlow sends the caller to an IVR flow.
	DestFlow
	// DestCallback takes the caller's number and calls back later.
	DestCallback
	// DestBusy ends the call with a busy signal.
	DestBusy
	// DestHangup ends the call.
	DestHangup
	// DestVoicemail records a message from the caller, kept as the call's
	// recording with result "voicemail".
	DestVoicemail
)

var destinationKindNames = [...]string{
	DestNone:      "",
	DestQueue:     "queue",
	DestFlow:      "flow",
	DestCallback:  "callback",
	DestBusy:      "busy",
	DestHangup:    "hangup",
	DestVoicemail: "voicemail",
}

func (k DestinationKind) String() string {
	if int(k) < len(destinationKindNames) {
		return destinationKindNames[k]
	}
	return "DestinationKind(" + strconv.Itoa(int(k)) + ")"
}

// Destination is where a call goes: written "queue:NAME", "flow:NAME",
// "callback", "voicemail", "busy" or "hangup".
type Destination struct {
	Kind DestinationKind
	// Target names the queue or flow for DestQueue and DestFlow.
	Target string
	Pos    Pos
}

// String returns the destination as a configuration file spells it.
func (d Destination) String() string {
	if d.Kind == DestQueue || d.Kind == DestFlow {
		return d.Kind.String() + ":" + d.Target
	}
	return d.Kind.String()
}

// EscalationStep changes how a call is served once it has waited After.
// Exactly one of Skills and Queue is set.
type EscalationStep struct {
	// After is counted from when the call entered this queue: a call moved
	// here starts the queue's steps afresh (its enqueue time, which orders
	// callers and measures the service level, is kept).
	After Duration
	// Skills is an additional set of requirements: agents meeting all of
	// them (a lower minimum level, say, or an expert skill) may now take
	// the call too.
	Skills []SkillLevel
	// Queue moves the call to this queue, keeping its enqueue time and
	// priority. A queue step is always a queue's last.
	Queue string
	Pos   Pos
}

// ServiceLevel is how a queue's service level is counted: the share of
// calls answered within Threshold, against a Target.
type ServiceLevel struct {
	// Threshold: calls answered within it count as met.
	Threshold Duration
	// Target is the percentage aimed for, 1 to 100.
	Target float64
	// ShortAbandon: callers who hang up sooner are left out entirely
	// (they likely misdialed). 0 counts every abandon.
	ShortAbandon Duration
	// IgnoreAbandons leaves every abandoned call out.
	IgnoreAbandons bool
}

// StickyAgent offers a returning caller to the agent who last talked to
// them, within Days days, waiting up to Wait for that agent.
type StickyAgent struct {
	// Days is how long a caller is remembered; 0 means off.
	Days int
	Wait Duration
}

// PriorityRule sets the priority of calls whose numbers match.
type PriorityRule struct {
	Name string
	// Callers and Called are number patterns, as for Trunk.Numbers: "*",
	// "555*" or an exact number. When both are given, both must match.
	Callers []string
	Called  []string
	// Priority is -100..100.
	Priority int
	Pos      Pos
}

// Matches reports whether the rule applies to a call from caller to called.
// A rule with neither Callers nor Called matches nothing.
func (r *PriorityRule) Matches(caller, called string) bool {
	if len(r.Callers) == 0 && len(r.Called) == 0 {
		return false
	}
	return matchesAny(r.Callers, caller) && matchesAny(r.Called, called)
}

// matchesAny reports whether number matches one of patterns; no patterns
// match anything.
func matchesAny(patterns []string, number string) bool {
	if len(patterns) == 0 {
		return true
	}
	for _, p := range patterns {
		if numberMatches(p, number) {
			return true
		}
	}
	return false
}

// CallPriority returns the priority of a call arriving on trunk from caller
// to called: the highest of the trunk's Priority and every matching rule's
// Priority, or 0 when there is neither (an unknown trunk counts as none).
// rules names the matching rules in file order, for the CDR. The call's
// priority in a queue is the highest of this and the queue's Priority.
func (c *Config) CallPriority(trunk, caller, called string) (priority int, rules []string) {
	found := false
	if t := c.Trunk(trunk); t != nil {
		priority, found = t.Priority, true
	}
	for i := range c.Priorities {
		r := &c.Priorities[i]
		if !r.Matches(caller, called) {
			continue
		}
		if !found || r.Priority > priority {
			priority, found = r.Priority, true
		}
		rules = append(rules, r.Name)
	}
	return priority, rules
}

// DedicatedAgent routes a key customer to their own advisor: calls from
// Caller are offered to Agent first, for up to Wait.
type DedicatedAgent struct {
	// Caller is a number pattern, as for Trunk.Numbers.
	Caller string
	Agent  string
	Wait   Duration
	Pos    Pos
}

// DedicatedFor returns the dedicated agent for calls from caller: an exact
// pattern wins over a prefix pattern, the longest prefix over shorter ones,
// and "*" comes last.
func (c *Config) DedicatedFor(caller string) (DedicatedAgent, bool) {
	best, bestRank := -1, -1
	for i, da := range c.DedicatedAgents {
		if !numberMatches(da.Caller, caller) {
			continue
		}
		// An exact pattern outranks every prefix; a prefix ranks by length,
		// so "*" (an empty prefix) ranks lowest.
		rank := len(da.Caller) - 1
		if !strings.HasSuffix(da.Caller, "*") {
			rank = len(caller) + 1
		}
		if rank > bestRank {
			best, bestRank = i, rank
		}
	}
	if best < 0 {
		return DedicatedAgent{}, false
	}
	return c.DedicatedAgents[best], true
}

// AgentStates configures agents' not-ready handling.
type AgentStates struct {
	// NotReadyReasons are the reasons an agent may give for not being
	// ready; ReasonMissed is not among them.
	NotReadyReasons []Reason
	// MissedBeforeNotReady is how many offers in a row an agent may miss
	// before the ACD makes them not ready (reason ReasonMissed); 0 means
	// never.
	MissedBeforeNotReady int
}

// Reason is a not-ready reason.
type Reason struct {
	// Code is 1 to 3 digits, keyed in on a phone.
	Code string
	// Name is what reports and the API show.
	Name string
	Pos  Pos
}

// DefaultAgentStates returns the agent-state settings of a file that leaves
// agent_states out.
func DefaultAgentStates() AgentStates {
	return AgentStates{
		NotReadyReasons: []Reason{
			{Code: "1", Name: "break"},
			{Code: "2", Name: "lunch"},
			{Code: "3", Name: "training"},
			{Code: "4", Name: "meeting"},
			{Code: "9", Name: "other"},
		},
		MissedBeforeNotReady: DefaultMissedBeforeNotReady,
	}
}

// ReasonByCode returns the not-ready reason with the given code.
func (c *Config) ReasonByCode(code string) (Reason, bool) {
	for _, r := range c.AgentStates.NotReadyReasons {
		if r.Code == code {
			return r, true
		}
	}
	return Reason{}, false
}

// FeatureCodes are what an agent dials on a registered phone to change
// state. Each is "*" and 1 to 4 digits; none is a prefix of another.
type FeatureCodes struct {
	Login    string
	Ready    string
	NotReady string
	Logout   string
	// Listen, Whisper and Barge, followed by an agent's ID, let a
	// supervisor monitor that agent's call: hear it silently, speak to
	// the agent only, or join it as a third party.
	Listen  string
	Whisper string
	Barge   string
	// Disposition, followed by a disposition's code, gives the agent's
	// last call its wrap-up code (*24 1).
	Disposition string
}

// DefaultFeatureCodes returns the feature codes of a file that leaves
// feature_codes out.
func DefaultFeatureCodes() FeatureCodes {
	return FeatureCodes{Login: "*20", Ready: "*21", NotReady: "*22", Logout: "*23", Listen: "*31", Whisper: "*32", Barge: "*33",
		Disposition: "*24"}
}

// DefaultQueue returns a queue with every default a file may leave out.
func DefaultQueue(name string) Queue {
	return Queue{
		Name:           name,
		RingTimeout:    DefaultRingTimeout,
		Music:          DefaultMusic,
		Strategy:       DefaultStrategy,
		AgingPerMinute: DefaultAgingPerMinute,
		ServiceLevel: ServiceLevel{
			Threshold:    DefaultServiceLevelThreshold,
			Target:       DefaultServiceLevelTarget,
			ShortAbandon: DefaultShortAbandon,
		},
		Sticky:              StickyAgent{Wait: DefaultStickyWait},
		CallbackMaxAttempts: DefaultCallbackMaxAttempts,
		CallbackRetry:       DefaultCallbackRetry,
	}
}

package config

import (
	"strconv"
	"time"
)

// Flow is an IVR flow as written in the file: a start node and named nodes.
// ivr.Compile turns it into a runnable graph.
type Flow struct {
	Name  string
	Start Ref
	Nodes []Node
	Pos   Pos
}

// Node returns the node called name, or nil.
func (f *Flow) Node(name string) *Node {
	for i := range f.Nodes {
		if f.Nodes[i].Name == name {
			return &f.Nodes[i]
		}
	}
	return nil
}

// Ref is a name that refers to something defined elsewhere (a node, a queue,
// a prompt), with where the reference was written so that a dangling one can
// be reported at the right place.
type Ref struct {
	Name string
	Pos  Pos
}

// NodeKind is what an IVR node does. Each kind has its own settings struct
// in Node; adding a kind adds a constant, a struct and a Node field.
type NodeKind uint8

// Node kinds.
const (
	NodeUnknown NodeKind = iota
	// NodeMenu plays a prompt and branches on one DTMF digit.
	NodeMenu
	// NodePlay plays prompts and continues.
	NodePlay
	// NodeQueue puts the caller into an ACD queue; the flow ends there.
	NodeQueue
	// NodeHangup optionally plays a prompt and ends the call.
	NodeHangup
	// NodeGoto continues at another node at once.
	NodeGoto
	// NodeSet sets call variables and continues.
	NodeSet
	// NodeBranch continues at the first case whose condition on a variable
	// holds, else at Else.
	NodeBranch
	// NodeCollect gathers several digits into a variable.
	NodeCollect
	// NodeSchedule continues by a calendar: open, closed or holiday.
	NodeSchedule
	// NodeVoicemail takes a message from the caller; the flow ends there.
	NodeVoicemail
	// NodeCallback offers a callback in a queue; the flow ends there.
	NodeCallback
	// NodeHTTP asks a web service (a CRM) about the call and continues.
	NodeHTTP
	// NodeSay speaks a number, digits, an amount, a date or an agent ID.
	NodeSay
	// NodeTransfer connects the caller to a number, an extension or an
	// agent; the flow continues only if that fails.
	NodeTransfer
	// NodeSurvey arms the post-call survey: the caller goes to a flow when
	// the agent hangs up first.
	NodeSurvey
	// NodeSubflow runs another flow and comes back when it returns.
	NodeSubflow
	// NodeReturn ends a subflow: the caller goes back to the calling flow.
	NodeReturn
)

var nodeKindNames = [...]string{
	NodeUnknown:   "unknown",
	NodeMenu:      "menu",
	NodePlay:      "play",
	NodeQueue:     "queue",
	NodeHangup:    "hangup",
	NodeGoto:      "goto",
	NodeSet:       "set",
	NodeBranch:    "branch",
	NodeCollect:   "collect",
	NodeSchedule:  "schedule",
	NodeVoicemail: "voicemail",
	NodeCallback:  "callback",
	NodeHTTP:      "http",
	NodeSay:       "say",
	NodeTransfer:  "transfer",
	NodeSurvey:    "survey",
	NodeSubflow:   "subflow",
	NodeReturn:    "return",
}

func (k NodeKind) String() string {
	if int(k) < len(nodeKindNames) {
		return nodeKindNames[k]
	}
	return "NodeKind(" + strconv.Itoa(int(k)) + ")"
}

// Node is one step of a flow. Exactly the field matching Kind is set.
type Node struct {
	Name string
	Kind NodeKind
	// Pos is where the node's name is written.
	Pos Pos

	Menu      *MenuNode
	Play      *PlayNode
	Queue     *QueueNode
	Hangup    *HangupNode
	Goto      *GotoNode
	Set       *SetNode
	Branch    *BranchNode
	Collect   *CollectNode
	Schedule  *ScheduleNode
	Voicemail *VoicemailNode
	Callback  *CallbackNode
	HTTP      *HTTPNode
	Say       *SayNode
	Transfer  *TransferNode
	Survey    *SurveyNode
	Subflow   *SubflowNode
}

// Targets returns every node name this node can continue at, in the order
// written; empty Refs (meaning "hang up") are left out.
func (n *Node) Targets() []Ref {
	var refs []Ref
	add := func(r Ref) {
		if r.Name != "" {
			refs = append(refs, r)
		}
	}
	switch n.Kind {
	case NodeMenu:
		if m := n.Menu; m != nil {
			for _, c := range m.Choices {
				add(c.Target)
			}
			add(m.NoInput)
			add(m.Invalid)
		}
	case NodePlay:
		if n.Play != nil {
			add(n.Play.Next)
		}
	case NodeGoto:
		if n.Goto != nil {
			add(n.Goto.Target)
		}
	case NodeSet:
		if n.Set != nil {
			add(n.Set.Next)
		}
	case NodeBranch:
		if b := n.Branch; b != nil {
			for _, c := range b.Cases {
				add(c.Next)
			}
			add(b.Else)
		}
	case NodeCollect:
		if c := n.Collect; c != nil {
			add(c.Next)
			add(c.Invalid)
		}
	case NodeSchedule:
		if sc := n.Schedule; sc != nil {
			add(sc.Open)
			add(sc.Closed)
			add(sc.Holiday)
		}
	case NodeHTTP:
		if h := n.HTTP; h != nil {
			add(h.Next)
			add(h.Fallback)
		}
	case NodeSay:
		if n.Say != nil {
			add(n.Say.Next)
		}
	case NodeTransfer:
		if n.Transfer != nil {
			add(n.Transfer.Failed)
		}
	case NodeSurvey:
		if n.Survey != nil {
			add(n.Survey.Next)
		}
	case NodeSubflow:
		if n.Subflow != nil {
			add(n.Subflow.Next)
		}
	case NodeQueue, NodeHangup, NodeVoicemail, NodeCallback, NodeReturn, NodeUnknown:
	}
	return refs
}

// MenuNode plays Prompts and waits for one DTMF digit.
type MenuNode struct {
	// Prompts are played in order; a digit interrupts them.
	Prompts []Ref
	// Timeout is how long to wait for a digit after the prompts end.
	Timeout Duration

	// NoInputPrompts are played before the menu is replayed after silence
	// (optional).
	NoInputPrompts []Ref
	// NoInputRetries is how many times the menu is replayed after silence.
	NoInputRetries int
	// NoInput is where the call goes after silence once the retries are used;
	// empty means hang up.
	NoInput Ref

	// InvalidPrompts are played after a digit with no choice (optional).
	InvalidPrompts []Ref
	// InvalidRetries is how many times the menu is replayed after a wrong
	// digit.
	InvalidRetries int
	// Invalid is where the call goes after a wrong digit once the retries
	// are used; empty means hang up.
	Invalid Ref

	Choices []Choice
}

// Choice maps a DTMF digit to a node.
type Choice struct {
	// Digit is one of 0-9, *, #, A-D.
	Digit  byte
	Target Ref
	// Pos is where the digit is written.
	Pos Pos
}

// PlayNode plays Prompts, which digits do not interrupt, then goes to Next.
type PlayNode struct {
	Prompts []Ref
	Next    Ref
}

// QueueNode hands the caller to the ACD queue named by Queue. The path the
// caller took through the IVR can set how they are served there.
type QueueNode struct {
	// Queue is the queue's name, or a template such as "${target}" that
	// a set, collect or http node filled in; then the call waits in
	// Default whenever the value names no queue, and Known lists the
	// queues it may name.
	Queue   Ref
	Default Ref
	Known   []string
	// Priority, when HasPriority, is the call's priority (the highest of it,
	// the queue's, the trunk's and the priority rules' applies).
	Priority    int
	HasPriority bool
	// Tags label the call (CDR tags, whisper: a "vip" tag is whispered).
	Tags []string
	// Agent, when set, is the agent the call goes to first, waited for up
	// to AgentWait: a dedicated agent chosen by the IVR.
	Agent     string
	AgentWait Duration
}

// HangupNode plays Prompts (optional), then ends the call.
type HangupNode struct {
	Prompts []Ref
	// Reason is recorded in the CDR.
	Reason string
}

// GotoNode continues at Target without waiting for anything.
type GotoNode struct {
	Target Ref
}

// IsDTMF reports whether d is a DTMF digit as RFC 4733 §3.2 numbers them:
// 0-9, *, # and A-D.
func IsDTMF(d byte) bool {
	switch {
	case d >= '0' && d <= '9', d == '*', d == '#', d >= 'A' && d <= 'D':
		return true
	}
	return false
}

// SetNode sets call variables, then continues at Next. Variables the
// queue reads: priority (-100..100), vip (true/false), business_type (a tag
// of the call), dedicated_agent (an agent ID), language.
type SetNode struct {
	Vars []VarValue
	Next Ref
}

// VarValue is one variable and the value it gets.
type VarValue struct {
	Name, Value string
	Pos         Pos
}

// BranchNode continues at the first case that holds, else at Else.
type BranchNode struct {
	Cases []BranchCase
	Else  Ref
}

// BranchCase tests one variable (caller, called, or one set before):
// equal to Equals, starting with Prefix, one of In, or a number above
// GreaterThan and/or below LessThan; or, without a variable, the time of
// the call (Time, Days).
type BranchCase struct {
	Var       string
	Equals    string
	HasEquals bool
	Prefix    string
	In        []string
	// GreaterThan and LessThan compare the variable as a number (both may
	// be set: a range); a variable that is no number fails the test.
	GreaterThan, LessThan       float64
	HasGreaterThan, HasLessThan bool
	// Time and Days test the time of the call instead of a variable, in
	// Location: within Time (nil: any time) on one of Days (empty: any day).
	Time     *Span
	Days     []time.Weekday
	Location *time.Location
	Next     Ref
	Pos      Pos
}

// CollectNode plays Prompts and gathers digits into the variable Var: an
// account number, a date of birth. Input ends with Terminator, at Max
// digits, or when the caller stops keying for DigitTimeout.
type CollectNode struct {
	Prompts      []Ref
	Var          string
	Min, Max     int
	Terminator   byte     // 0: none
	Timeout      Duration // for the first digit, after the prompts
	DigitTimeout Duration // between digits
	// Pattern, when set, must match the digits (Go regexp syntax).
	Pattern    string
	PatternPos Pos
	// InvalidPrompts play after input that is too short, too long or does
	// not match; Retries is how often the caller may try again.
	InvalidPrompts []Ref
	Retries        int
	// Next is where a good input goes; Invalid where the call goes once the
	// retries are spent (empty: hang up).
	Next, Invalid Ref
}

// ScheduleNode continues by the calendar (opening hours, holidays, make-up
// workdays, time zone; see calendars in the configuration): at Open while
// it is open, at Holiday on a holiday (Closed when Holiday is empty), else
// at Closed.
type ScheduleNode struct {
	Calendar              Ref
	Cal                   *Calendar // Calendar, resolved
	Open, Closed, Holiday Ref
}

// VoicemailNode takes a message: a greeting, a tone, then the caller
// speaks (the end of the call's recording; CDR result voicemail).
type VoicemailNode struct{}

// CallbackNode offers a callback in Queue: the caller confirms their
// number (or keys one in) and hangs up; the callback waits in the queue.
type CallbackNode struct {
	Queue Ref
}

// HTTPNode asks a web service about the call (a CRM data dip): it sends
// Method to URL with Body, waits up to Timeout, and copies fields of the
// JSON answer into call variables. A 2xx answer goes to Next; anything
// else (an error, a timeout, another status, a body that is not JSON) goes
// to Fallback. Either way the variable http_status says what happened:
// the status code, "timeout" or "error".
type HTTPNode struct {
	Method string // GET or POST
	// URL's scheme and host are written out; variables (escaped) may only
	// follow them, so that no caller input can choose the server.
	URL         Template
	Body        Template
	ContentType string
	Headers     []HTTPHeader
	Timeout     Duration
	Vars        []HTTPVar
	Next        Ref
	Fallback    Ref
}

// HTTPHeader is a request header; its value may use variables.
type HTTPHeader struct {
	Name  string
	Value Template
}

// HTTPVar copies the JSON field at Path (dot-separated keys and array
// indexes: customer.accounts.0.type) into the variable Name.
type HTTPVar struct {
	Name, Path string
	Pos        Pos
}

// Say kinds: how a say node reads its value.
const (
	SayNumber  = "number"
	SayDigits  = "digits"
	SayAmount  = "amount"
	SayDate    = "date"
	SayAgentID = "agent_id"
)

// SayNode speaks Value As a number, digit string, amount, date or agent
// ID, in Language (empty: the call's language variable, else en), from
// the prompt set of that language, then goes to Next.
type SayNode struct {
	Value    Template
	As       string
	Language string
	Next     Ref
}

// TransferNode connects the caller to exactly one of: Number, an outside
// number called through Trunk (empty: the first trunk with outbound);
// Extension, a phone registered here; Agent, an agent, rung wherever they
// are logged in. If the target does not answer within Timeout (or is busy,
// or unknown) the flow goes on at Failed (empty: hang up), with the
// variable transfer_result saying why.
type TransferNode struct {
	Number Template
	// Allow lists the numbers (exact, or a prefix ending in *) a Number
	// with variables may become; required then, since a number keyed in
	// or looked up could otherwise be any toll destination.
	Allow     []string
	Trunk     Ref
	Extension Template
	Agent     Template
	Timeout   Duration
	Failed    Ref
}

// SurveyNode arms the post-call survey: when the agent hangs up first,
// the caller is sent to Flow (which asks "rate us 0 to 10" and collects
// the score into the variable survey_score). The flow goes on at Next.
type SurveyNode struct {
	Flow Ref
	Next Ref
}

// SubflowNode runs Flow from its start; when it reaches a return node the
// caller comes back to Next. Flows shared by several menus (identify the
// caller, opening hours) are written once this way.
type SubflowNode struct {
	Flow   Ref
	Target *Flow // Flow, resolved
	Next   Ref
}

package ivr

import (
	"fmt"
	"maps"
	"slices"
	"time"
)

// Run is one call's way through a graph. It is owned by the call's goroutine
// and not safe for concurrent use. A Run keeps the graph it started with,
// even when the configuration is reloaded.
type Run struct {
	graph *Graph
	node  NodeID

	// playing is set from a Play until its EventPlaybackDone or a stop.
	playing       bool
	interruptible bool
	// after, when pending, is where the call goes once the current playback
	// ends: a play node's next, or a menu's exit after its last prompt.
	after continuation

	// deadline is when EventTimeout is due; zero means none.
	deadline time.Time

	// Menu retry counters; reset whenever a node is entered.
	noInputs int
	invalids int

	digits []byte
	done   bool
	// path lists the nodes entered, in order; choices the menu keys that
	// chose a way on. They are what reports of reasons for calls and the
	// node-visit metrics are made of.
	path    []NodeID
	choices []Choice
	// vars are the call's variables: caller and called from the start,
	// then what set and collect nodes set.
	vars map[string]string
	// collected holds the digits a collect node has gathered so far.
	collected []byte

	// fetchSeq numbers data dips, so that an answer that comes after its
	// node timed out is known for what it is.
	fetchSeq uint64
	// survey is the flow a survey node armed for after the call.
	survey string
	// transferring is set while a Transfer waits for its EventTransferDone.
	transferring bool

	// hops counts nodes entered within one Start or Step, to stop a loop
	// that Compile should have refused.
	hops int
}

// continuation is a transition that waits for the current playback.
type continuation struct {
	pending bool
	target  NodeID // zero: hang up with reason
	reason  string
}

// Start begins a call at the graph's start node.
func Start(g *Graph, now time.Time) (*Run, []Action) {
	return StartWith(g, now, nil)
}

// StartWith begins a call with variables already known (caller, called),
// which branch nodes can test.
func StartWith(g *Graph, now time.Time, vars map[string]string) (*Run, []Action) {
	r := &Run{graph: g, vars: maps.Clone(vars)}
	if r.vars == nil {
		r.vars = map[string]string{}
	}
	return r, r.enter(g.start, now)
}

// Survey returns the flow a survey node armed: where the caller goes when
// the agent hangs up first ("" for none).
func (r *Run) Survey() string { return r.survey }

// Var returns one of the call's variables.
func (r *Run) Var(name string) string { return r.vars[name] }

// Vars returns a copy of the call's variables.
func (r *Run) Vars() map[string]string { return maps.Clone(r.vars) }

// Step feeds one event to the run and returns what the owner must do. It is
// pure: no I/O and no clock; now is the owner's current time.
func (r *Run) Step(ev Event, now time.Time) []Action {
	if r.done || ev == nil {
		return nil
	}
	r.hops = 0
	switch e := ev.(type) {
	case EventDigit:
		digit := normalizeDigit(e.Digit)
		if digitIndex(digit) < 0 {
			return nil
		}
		r.digits = append(r.digits, digit)
		if r.playing && !r.interruptible {
			// Not a barge-in point: keep the digit for the CDR only.
			return nil
		}
		if r.after.pending {
			return nil
		}
		ev = EventDigit{Digit: digit}
	case EventTimeout:
		if r.deadline.IsZero() || now.Before(r.deadline) {
			return nil
		}
		r.deadline = time.Time{}
	case EventPlaybackDone:
		if !r.playing {
			return nil
		}
		r.playing = false
		if r.after.pending {
			next := r.after
			r.after = continuation{}
			return r.follow(next.target, next.reason, now)
		}
	}
	return r.graph.nodes[r.node-1].behavior.handle(r, ev, now)
}

// Deadline is when the owner must deliver EventTimeout; zero means none.
func (r *Run) Deadline() time.Time { return r.deadline }

// Digits returns every DTMF digit the caller pressed, in order, including
// those that chose nothing; it goes into the CDR.
func (r *Run) Digits() string { return string(r.digits) }

// Choice is a menu key that chose a way on.
type Choice struct {
	Node  string
	Digit byte
}

// Path returns the names of the nodes the call entered, in order.
func (r *Run) Path() []string {
	out := make([]string, len(r.path))
	for i, id := range r.path {
		out[i] = r.graph.nodes[id-1].name
	}
	return out
}

// Choices returns the menu keys that chose a way on, in order.
func (r *Run) Choices() []Choice { return slices.Clone(r.choices) }

// Done reports whether the run has handed the call on (Enqueue) or ended it
// (Hangup); Step does nothing after that.
func (r *Run) Done() bool { return r.done }

// Node returns the name of the node the call is at, for logs and CDRs.
func (r *Run) Node() string { return r.graph.nodes[r.node-1].name }

// Graph returns the graph the run started with.
func (r *Run) Graph() *Graph { return r.graph }

// waiting reports whether something outside will move the run on: a
// playback ending or a deadline. A run that is neither done nor waiting
// would be stuck; the fuzz test checks this never happens.
func (r *Run) waiting() bool { return r.playing || !r.deadline.IsZero() || r.transferring }

// enter moves the call to node id and runs its entry behaviour. Leaving a
// node stops its playback and forgets its timers and counters.
func (r *Run) enter(id NodeID, now time.Time) []Action {
	var actions []Action
	if r.playing {
		actions = append(actions, StopPlayback{})
	}
	r.playing, r.interruptible = false, false
	r.transferring = false
	r.after = continuation{}
	r.deadline = time.Time{}
	r.noInputs, r.invalids = 0, 0
	r.node = id
	r.path = append(r.path, id)

	r.hops++
	if r.hops > len(r.graph.nodes) {
		n := r.graph.nodes[id-1]
		return append(actions, r.hangup(fmt.Sprintf("ivr loop without caller input at node %q (%s)", n.name, n.pos)))
	}
	return append(actions, r.graph.nodes[id-1].behavior.enter(r, now)...)
}

// follow goes to target, or hangs up with reason when there is none.
func (r *Run) follow(target NodeID, reason string, now time.Time) []Action {
	if target == 0 {
		var actions []Action
		if r.playing {
			actions = append(actions, StopPlayback{})
			r.playing = false
		}
		return append(actions, r.hangup(reason))
	}
	return r.enter(target, now)
}

// play starts prompts; the caller gets a copy so that it cannot change the
// graph shared by every call.
func (r *Run) play(prompts []string, interruptible bool) Action {
	r.playing, r.interruptible = true, interruptible
	return Play{Prompts: slices.Clone(prompts), Interruptible: interruptible}
}

// playThen plays prompts that digits do not interrupt and then follows
// target; with no prompts it follows target at once.
func (r *Run) playThen(prompts []string, target NodeID, reason string, now time.Time) []Action {
	if len(prompts) == 0 {
		return r.follow(target, reason, now)
	}
	var actions []Action
	if r.playing {
		actions = append(actions, StopPlayback{})
	}
	r.deadline = time.Time{}
	r.after = continuation{pending: true, target: target, reason: reason}
	return append(actions, r.play(prompts, false))
}

func (r *Run) hangup(reason string) Action {
	r.done = true
	r.deadline = time.Time{}
	return Hangup{Reason: reason}
}

func (r *Run) enqueue(how Enqueue) Action {
	r.done = true
	r.deadline = time.Time{}
	return how
}

package ivr

import (
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"
)

// SimOptions describe a simulated caller.
type SimOptions struct {
	// At is when the call starts.
	At time.Time
	// Digits are the keys the caller presses, in groups: each group is
	// keyed, one digit after another, the next time the flow waits for the
	// caller (after a prompt). An empty list is a caller who says nothing.
	Digits []string
	// PromptLength says how long a prompt plays; unknown prompts last 0.
	PromptLength func(name string) time.Duration
	// MaxSteps bounds the simulation (0: 1000 events).
	MaxSteps int
	// Vars are the call's variables at the start (caller, called).
	Vars map[string]string
	// Fetch answers data dips (nil: every dip fails). A result with
	// TimedOut lets the node's timeout pass instead.
	Fetch func(Fetch) FetchResult
	// TransferResult is how transfers go: "" connects them; otherwise the
	// outcome reported to the flow (busy, no-answer, ...).
	TransferResult string
}

// FetchResult is a simulated answer to a data dip.
type FetchResult struct {
	Status   int
	Body     []byte
	Err      error
	TimedOut bool
	// Source says where the answer came from (a fixture, the network).
	Source string
}

// SimStep is one line of a transcript.
type SimStep struct {
	At   time.Duration // since the call started
	Node string
	What string
}

// Transcript is what a simulated call did.
type Transcript struct {
	Steps []SimStep
	// Result is how the flow ended: the Enqueue or Hangup action, or nil if
	// the simulation ran out of steps.
	Result Action
	Digits string
	// Vars are the call's variables when the flow ended.
	Vars map[string]string
	// Survey is the survey flow armed for after the call, if any.
	Survey string
}

// String prints the transcript, one step per line, then the result.
func (t Transcript) String() string {
	var b strings.Builder
	for _, s := range t.Steps {
		fmt.Fprintf(&b, "%7.1fs  %-12s %s\n", s.At.Seconds(), s.Node, s.What)
	}
	if len(t.Vars) > 0 {
		keys := slices.Sorted(maps.Keys(t.Vars))
		parts := make([]string, len(keys))
		for i, k := range keys {
			parts[i] = k + "=" + t.Vars[k]
		}
		b.WriteString("vars: " + strings.Join(parts, " ") + "\n")
	}
	if t.Result != nil {
		b.WriteString("result: " + describeEnd(t.Result) + "\n")
	} else {
		b.WriteString("result: none (the simulation stopped; is the flow waiting forever?)\n")
	}
	fmt.Fprintf(&b, "digits: %q\n", t.Digits)
	if t.Survey != "" {
		fmt.Fprintf(&b, "survey after the agent hangs up first: %s\n", t.Survey)
	}
	return b.String()
}

// describeEnd says how a flow handed the call on.
func describeEnd(a Action) string {
	switch a := a.(type) {
	case Enqueue:
		return describeEnqueue(a)
	case Hangup:
		return "hang up (" + a.Reason + ")"
	case Voicemail:
		return "voicemail"
	case OfferCallback:
		return "callback offer in queue " + a.Queue
	case Transfer:
		return "transfer to " + a.String()
	}
	return fmt.Sprintf("%T", a)
}

func describeEnqueue(e Enqueue) string {
	s := "queue " + e.Queue
	if e.HasPriority {
		s += fmt.Sprintf(", priority %d", e.Priority)
	}
	if len(e.Tags) > 0 {
		s += ", tags " + strings.Join(e.Tags, " ")
	}
	if e.Agent != "" {
		s += fmt.Sprintf(", agent %s (waits up to %s)", e.Agent, e.AgentWait)
	}
	return s
}

// Simulate runs g for a caller who presses opts.Digits, without SIP or
// audio: prompts take their length, silence runs into the flow's
// timeouts. It is the engine of `hotline ivr simulate`.
func Simulate(g *Graph, opts SimOptions) Transcript {
	maxSteps := opts.MaxSteps
	if maxSteps <= 0 {
		maxSteps = 1000
	}
	length := opts.PromptLength
	if length == nil {
		length = func(string) time.Duration { return 0 }
	}
	now := opts.At
	var t Transcript
	run, actions := StartWith(g, now, opts.Vars)
	note := func(format string, args ...any) {
		t.Steps = append(t.Steps, SimStep{At: now.Sub(opts.At), Node: run.Node(), What: fmt.Sprintf(format, args...)})
	}
	groups := slices.Clone(opts.Digits) // consumed below; the caller's stays whole
	for steps := 0; steps < maxSteps; steps++ {
		var playing *Play
		var answer Event
		fetchTimedOut := false
		for _, a := range actions {
			switch a := a.(type) {
			case Note:
				note("note: %s", a.Text)
			case Fetch:
				note("data dip: %s %s", a.Method, a.URL)
				answer = simulateFetch(opts.Fetch, a, note)
				fetchTimedOut = answer == nil
			case Transfer:
				if opts.TransferResult == "" {
					t.Result = a
					t.Digits, t.Vars, t.Survey = run.Digits(), run.Vars(), run.Survey()
					note("%s (answered)", describeEnd(a))
					return t
				}
				note("%s: %s", describeEnd(a), opts.TransferResult)
				answer = EventTransferDone{Result: opts.TransferResult}
			case Play:
				note("play %s", strings.Join(a.Prompts, ", "))
				p := a
				playing = &p
			case StopPlayback:
				note("prompt stopped by the digit")
				playing = nil
			case Enqueue, Hangup, Voicemail, OfferCallback:
				t.Result = a
				t.Digits, t.Vars, t.Survey = run.Digits(), run.Vars(), run.Survey()
				note("%s", describeEnd(a))
				return t
			}
		}
		switch {
		case answer != nil:
			actions = run.Step(answer, now)
		case fetchTimedOut:
			now = run.Deadline()
			actions = run.Step(EventTimeout{}, now)
		case playing != nil:
			for _, p := range playing.Prompts {
				now = now.Add(length(p))
			}
			actions = run.Step(EventPlaybackDone{}, now)
		case len(groups) > 0 && groups[0] != "":
			d := groups[0][0]
			groups[0] = groups[0][1:]
			if groups[0] == "" {
				groups = groups[1:]
			}
			note("caller presses %c", d)
			actions = run.Step(EventDigit{Digit: d}, now)
		case len(groups) > 0:
			groups = groups[1:] // an empty group: the caller lets this wait pass
			fallthrough
		default:
			deadline := run.Deadline()
			if deadline.IsZero() {
				t.Digits = run.Digits()
				return t
			}
			note("silence for %s", deadline.Sub(now))
			now = deadline
			actions = run.Step(EventTimeout{}, now)
		}
	}
	t.Digits = run.Digits()
	return t
}

// simulateFetch answers a data dip from fetch; nil means a timeout (the
// run's deadline will pass).
func simulateFetch(fetch func(Fetch) FetchResult, f Fetch, note func(string, ...any)) Event {
	if fetch == nil {
		note("data dip not sent: give canned answers with -http-fixture, or send it for real with -http-live")
		return EventFetched{Seq: f.Seq, Err: errNoFixture}
	}
	res := fetch(f)
	switch {
	case res.TimedOut:
		note("data dip: no answer within %s (%s)", f.Timeout, res.Source)
		return nil
	case res.Err != nil:
		note("data dip failed: %v (%s)", res.Err, res.Source)
	default:
		note("data dip answered %d: %s (%s)", res.Status, oneLine(res.Body), res.Source)
	}
	return EventFetched{Seq: f.Seq, Status: res.Status, Body: res.Body, Err: res.Err}
}

var errNoFixture = errors.New("no fixture")

// oneLine shortens a body for a transcript line.
func oneLine(b []byte) string {
	s := strings.Join(strings.Fields(string(b)), " ")
	if len(s) > 120 {
		s = s[:117] + "..."
	}
	return s
}

package ivr

import (
	"fmt"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/hotline-cc/hotline/config"
)

// behavior is what one node kind does. enter runs when a call arrives at
// the node; handle gets the events the Run does not settle itself (digits
// at a barge-in point, timeouts, the end of a playback with nothing queued
// after it). Implementations are plain values: they are shared by every
// call, and Graph.Version hashes their printed form (%#v); a kind holding a
// pointer prints itself with GoString, so that the version never depends
// on addresses.
//
// Adding a node kind means a config.NodeKind, a behavior and a case in
// compileNode.
type behavior interface {
	enter(r *Run, now time.Time) []Action
	handle(r *Run, ev Event, now time.Time) []Action
	// edges lists the nodes this one can continue at, each with what takes
	// the caller there ("1", "no input", ...; "" when it simply goes on).
	// A target of zero hangs up.
	edges() []edge
	// waitsForCaller reports whether the node only moves on when the caller
	// does something, which is what makes a loop through it harmless.
	waitsForCaller() bool
}

// dtmfDigits orders the 16 DTMF events as RFC 4733 §3.2 numbers them.
const dtmfDigits = "0123456789*#ABCD"

func digitIndex(d byte) int {
	for i := range len(dtmfDigits) {
		if dtmfDigits[i] == d {
			return i
		}
	}
	return -1
}

func normalizeDigit(d byte) byte {
	if d >= 'a' && d <= 'd' {
		return d - 'a' + 'A'
	}
	return d
}

// menuNode plays prompts and branches on one digit.
type menuNode struct {
	name    string
	prompts []string
	timeout time.Duration

	noInputPrompts []string
	noInputRetries int
	noInput        NodeID

	invalidPrompts []string
	invalidRetries int
	invalid        NodeID

	// choices is indexed by digitIndex; zero means the digit is invalid.
	choices [len(dtmfDigits)]NodeID
}

func (m menuNode) enter(r *Run, _ time.Time) []Action {
	return []Action{r.play(m.prompts, true)}
}

func (m menuNode) handle(r *Run, ev Event, now time.Time) []Action {
	switch e := ev.(type) {
	case EventPlaybackDone:
		// The caller has heard the options: only now does the wait start.
		r.deadline = now.Add(m.timeout)
		return nil
	case EventDigit:
		var actions []Action
		if r.playing {
			actions = append(actions, StopPlayback{})
			r.playing = false
		}
		r.deadline = time.Time{}
		if target := m.choices[digitIndex(e.Digit)]; target != 0 {
			r.choices = append(r.choices, Choice{Node: m.name, Digit: e.Digit})
			return append(actions, r.enter(target, now)...)
		}
		r.invalids++
		if r.invalids > m.invalidRetries {
			return append(actions, r.playThen(m.invalidPrompts, m.invalid, "invalid input at menu "+m.name, now)...)
		}
		return append(actions, r.play(concat(m.invalidPrompts, m.prompts), true))
	case EventTimeout:
		r.noInputs++
		if r.noInputs > m.noInputRetries {
			return r.playThen(m.noInputPrompts, m.noInput, "no input at menu "+m.name, now)
		}
		return []Action{r.play(concat(m.noInputPrompts, m.prompts), true)}
	}
	return nil
}

func (m menuNode) edges() []edge {
	var out []edge
	for i, id := range m.choices {
		if id != 0 {
			out = append(out, edge{label: string(dtmfDigits[i]), to: id})
		}
	}
	return append(out, edge{label: "no input", to: m.noInput}, edge{label: "invalid", to: m.invalid})
}

func (menuNode) waitsForCaller() bool { return true }

// collectNode gathers digits into a variable.
type collectNode struct {
	name           string
	prompts        []string
	variable       string
	min, max       int
	terminator     byte
	timeout        time.Duration
	digitTimeout   time.Duration
	pattern        *regexp.Regexp
	invalidPrompts []string
	retries        int
	next, invalid  NodeID
}

func (c collectNode) enter(r *Run, _ time.Time) []Action {
	r.collected = r.collected[:0]
	return []Action{r.play(c.prompts, true)}
}

func (c collectNode) handle(r *Run, ev Event, now time.Time) []Action {
	switch e := ev.(type) {
	case EventPlaybackDone:
		if len(r.collected) == 0 {
			r.deadline = now.Add(c.timeout)
		}
		return nil
	case EventDigit:
		var actions []Action
		if r.playing {
			actions = append(actions, StopPlayback{})
			r.playing = false
		}
		if c.terminator != 0 && e.Digit == c.terminator {
			return append(actions, c.finish(r, now)...)
		}
		r.collected = append(r.collected, e.Digit)
		if len(r.collected) >= c.max {
			return append(actions, c.finish(r, now)...)
		}
		r.deadline = now.Add(c.digitTimeout)
		return actions
	case EventTimeout:
		// The caller stopped keying (or never started): what there is, is
		// the input.
		return c.finish(r, now)
	}
	return nil
}

// finish checks the digits: good ones go into the variable and on to next;
// bad ones are asked for again, until the retries are spent.
func (c collectNode) finish(r *Run, now time.Time) []Action {
	r.deadline = time.Time{}
	got := string(r.collected)
	r.collected = r.collected[:0]
	if len(got) >= c.min && len(got) <= c.max && (c.pattern == nil || c.pattern.MatchString(got)) {
		r.vars[c.variable] = got
		return r.enter(c.next, now)
	}
	r.invalids++
	if r.invalids > c.retries {
		return r.playThen(c.invalidPrompts, c.invalid, "no valid input at "+c.name, now)
	}
	return []Action{r.play(concat(c.invalidPrompts, c.prompts), true)}
}

// GoString prints the node for Graph.Version: the pattern by its text.
func (c collectNode) GoString() string {
	pattern := ""
	if c.pattern != nil {
		pattern = c.pattern.String()
	}
	return fmt.Sprintf("collect{%q %q %q %d-%d term:%q %s/%s pattern:%q %q retries:%d next:%d invalid:%d}",
		c.name, c.prompts, c.variable, c.min, c.max, c.terminator, c.timeout, c.digitTimeout, pattern,
		c.invalidPrompts, c.retries, c.next, c.invalid)
}

func (c collectNode) edges() []edge {
	return []edge{{label: c.variable + " collected", to: c.next}, {label: "invalid", to: c.invalid}}
}

func (collectNode) waitsForCaller() bool { return true }

// endNode hands the call on with one action (voicemail, a callback offer);
// the flow ends there.
type endNode struct {
	action Action
}

func (e endNode) enter(r *Run, _ time.Time) []Action {
	r.done = true
	r.deadline = time.Time{}
	return []Action{e.action}
}

func (endNode) handle(*Run, Event, time.Time) []Action { return nil }
func (endNode) edges() []edge                          { return nil }
func (endNode) waitsForCaller() bool                   { return false }

// scheduleNode continues by a calendar.
type scheduleNode struct {
	cal                   *config.Calendar
	open, closed, holiday NodeID
}

func (s scheduleNode) enter(r *Run, now time.Time) []Action {
	switch {
	case s.cal.Open(now):
		return r.enter(s.open, now)
	case s.cal.Holiday(now):
		return r.enter(s.holiday, now)
	}
	return r.enter(s.closed, now)
}

// GoString prints the node for Graph.Version: the calendar by name.
func (s scheduleNode) GoString() string {
	return fmt.Sprintf("schedule{cal:%q open:%d closed:%d holiday:%d}", s.cal.Name, s.open, s.closed, s.holiday)
}

func (scheduleNode) handle(*Run, Event, time.Time) []Action { return nil }
func (scheduleNode) waitsForCaller() bool                   { return false }
func (s scheduleNode) edges() []edge {
	return []edge{{label: "open", to: s.open}, {label: "closed", to: s.closed}, {label: "holiday", to: s.holiday}}
}

// setNode sets call variables and continues.
type setNode struct {
	names, values []string
	next          NodeID
}

func (s setNode) enter(r *Run, now time.Time) []Action {
	for i, name := range s.names {
		r.vars[name] = s.values[i]
	}
	return r.enter(s.next, now)
}

func (setNode) handle(*Run, Event, time.Time) []Action { return nil }
func (s setNode) edges() []edge                        { return []edge{{to: s.next}} }
func (setNode) waitsForCaller() bool                   { return false }

// branchNode continues at the first case that holds.
type branchNode struct {
	cases     []branchCase
	otherwise NodeID
}

type branchCase struct {
	variable, equals, prefix string
	hasEquals                bool
	in                       []string
	gt, lt                   float64
	hasGT, hasLT             bool
	// window and days test the time of the call in loc (a time case has
	// no variable).
	window *config.Span
	days   []time.Weekday
	loc    *time.Location
	next   NodeID
}

func (c branchCase) holds(vars map[string]string, now time.Time) bool {
	if c.variable == "" {
		local := now.In(c.loc)
		minute := local.Hour()*60 + local.Minute()
		inWindow := c.window == nil || minute >= c.window.From && minute < c.window.To
		return inWindow && (len(c.days) == 0 || slices.Contains(c.days, local.Weekday()))
	}
	v := vars[c.variable]
	switch {
	case c.hasEquals:
		return v == c.equals
	case c.prefix != "":
		return strings.HasPrefix(v, c.prefix)
	case c.hasGT || c.hasLT:
		n, err := strconv.ParseFloat(strings.TrimSpace(v), 64)
		return err == nil && (!c.hasGT || n > c.gt) && (!c.hasLT || n < c.lt)
	default:
		return slices.Contains(c.in, v)
	}
}

func (c branchCase) String() string {
	switch {
	case c.variable == "":
		var parts []string
		if c.window != nil {
			parts = append(parts, c.window.String())
		}
		for _, d := range c.days {
			parts = append(parts, d.String()[:3])
		}
		return strings.Join(parts, " ") + " " + c.loc.String()
	case c.hasEquals:
		return c.variable + " = " + c.equals
	case c.prefix != "":
		return c.variable + " starts " + c.prefix
	case c.hasGT && c.hasLT:
		return fmt.Sprintf("%g < %s < %g", c.gt, c.variable, c.lt)
	case c.hasGT:
		return fmt.Sprintf("%s > %g", c.variable, c.gt)
	case c.hasLT:
		return fmt.Sprintf("%s < %g", c.variable, c.lt)
	}
	return c.variable + " in " + strings.Join(c.in, " ")
}

// GoString prints the case for Graph.Version: the time zone by name.
func (c branchCase) GoString() string {
	return fmt.Sprintf("case{%s next:%d}", c.String(), c.next)
}

func (b branchNode) enter(r *Run, now time.Time) []Action {
	for _, c := range b.cases {
		if c.holds(r.vars, now) {
			return r.enter(c.next, now)
		}
	}
	return r.enter(b.otherwise, now)
}

// GoString prints the node for Graph.Version: each case by its text (a
// time case holds pointers, whose addresses must not change the version).
func (b branchNode) GoString() string {
	cases := make([]string, len(b.cases))
	for i, c := range b.cases {
		cases[i] = c.GoString()
	}
	return fmt.Sprintf("branch{%s else:%d}", strings.Join(cases, " "), b.otherwise)
}

func (branchNode) handle(*Run, Event, time.Time) []Action { return nil }
func (branchNode) waitsForCaller() bool                   { return false }
func (b branchNode) edges() []edge {
	out := make([]edge, 0, len(b.cases)+1)
	for _, c := range b.cases {
		out = append(out, edge{label: c.String(), to: c.next})
	}
	return append(out, edge{label: "else", to: b.otherwise})
}

// edge is one way out of a node.
type edge struct {
	label string
	to    NodeID
}

// next lists the nodes b can continue at.
func next(b behavior) []NodeID {
	var ids []NodeID
	for _, e := range b.edges() {
		ids = append(ids, e.to)
	}
	return ids
}

func concat(a, b []string) []string {
	out := make([]string, 0, len(a)+len(b))
	return append(append(out, a...), b...)
}

// playNode plays prompts that digits do not interrupt, then moves on.
type playNode struct {
	prompts []string
	target  NodeID
}

func (p playNode) enter(r *Run, now time.Time) []Action {
	return r.playThen(p.prompts, p.target, "", now)
}

func (playNode) handle(*Run, Event, time.Time) []Action { return nil }
func (p playNode) edges() []edge                        { return []edge{{to: p.target}} }
func (playNode) waitsForCaller() bool                   { return false }

// queueNode hands the call to the ACD.
type queueNode struct {
	// how is the queue and what the node says of the call.
	how Enqueue
	// name, when set, chooses the queue from variables: one of known, else
	// fallback.
	name     config.Template
	fallback string
	known    []string
}

func (q queueNode) enter(r *Run, _ time.Time) []Action {
	how := q.how
	if q.name.Text != "" {
		how.Queue = q.name.Expand(r.vars, nil)
		if !slices.Contains(q.known, how.Queue) {
			how.Queue = q.fallback
		}
	}
	return []Action{r.enqueue(how)}
}

// GoString prints the node for Graph.Version.
func (q queueNode) GoString() string {
	return fmt.Sprintf("queue{%#v name:%q fallback:%q known:%q}", q.how, q.name.Text, q.fallback, q.known)
}

func (queueNode) handle(*Run, Event, time.Time) []Action { return nil }
func (queueNode) edges() []edge                          { return nil }
func (queueNode) waitsForCaller() bool                   { return false }

// hangupNode says goodbye, if told to, and ends the call.
type hangupNode struct {
	prompts []string
	reason  string
}

func (h hangupNode) enter(r *Run, now time.Time) []Action {
	return r.playThen(h.prompts, 0, h.reason, now)
}

func (hangupNode) handle(*Run, Event, time.Time) []Action { return nil }
func (hangupNode) edges() []edge                          { return nil }
func (hangupNode) waitsForCaller() bool                   { return false }

// gotoNode continues elsewhere at once.
type gotoNode struct {
	target NodeID
}

func (g gotoNode) enter(r *Run, now time.Time) []Action {
	return r.enter(g.target, now)
}

func (gotoNode) handle(*Run, Event, time.Time) []Action { return nil }
func (g gotoNode) edges() []edge                        { return []edge{{to: g.target}} }
func (gotoNode) waitsForCaller() bool                   { return false }

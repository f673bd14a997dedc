package ivr

import (
	"fmt"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/hotline-cc/hotline/config"
	"github.com/hotline-cc/hotline/ivr/say"
)

// sayNode speaks a value from the prompt set of the call's language.
type sayNode struct {
	value config.Template
	kind  say.Kind
	// lang is the node's language; empty uses the call's language
	// variable.
	lang string
	next NodeID
}

// DefaultLanguage is the say language of a call that sets none.
const DefaultLanguage = "en"

func (s sayNode) enter(r *Run, now time.Time) []Action {
	lang := s.lang
	if lang == "" {
		lang = r.language()
	}
	value := s.value.Expand(r.vars, nil)
	pieces, err := say.Pieces(lang, s.kind, value)
	if err != nil {
		// The caller hears nothing for this node, and the flow goes on:
		// a CRM's odd balance must not end the call.
		return append([]Action{Note{Text: fmt.Sprintf("say %s %q: %v", s.kind, value, err)}}, r.enter(s.next, now)...)
	}
	return r.playThen(pieces, s.next, "", now)
}

func (sayNode) handle(*Run, Event, time.Time) []Action { return nil }
func (s sayNode) edges() []edge                        { return []edge{{to: s.next}} }
func (sayNode) waitsForCaller() bool                   { return false }

// language is the call's say language: its language variable when there
// is a prompt set for it, else DefaultLanguage.
func (r *Run) language() string {
	lang := r.vars["language"]
	for _, known := range say.Languages() {
		if lang == known {
			return lang
		}
	}
	return DefaultLanguage
}

// transferNode connects the caller elsewhere; the flow goes on only if
// that fails.
type transferNode struct {
	number, extension, agent config.Template
	allow                    []string
	trunk                    string
	timeout                  time.Duration
	failed                   NodeID
}

// dialable is what a transfer may dial: a telephone number or a SIP user
// part, nothing that could reach into a URI's other parts.
var dialable = regexp.MustCompile(`^\+?[0-9A-Za-z*#._-]{1,64}$`)

func (t transferNode) enter(r *Run, now time.Time) []Action {
	tr := Transfer{
		Number:    t.number.Expand(r.vars, nil),
		Extension: t.extension.Expand(r.vars, nil),
		Agent:     t.agent.Expand(r.vars, nil),
		Trunk:     t.trunk,
		Timeout:   t.timeout,
	}
	target := tr.Number + tr.Extension + tr.Agent
	if !dialable.MatchString(target) {
		r.vars["transfer_result"] = "invalid-target"
		return append([]Action{Note{Text: fmt.Sprintf("transfer target %q is not a number or extension", target)}},
			r.follow(t.failed, "transfer to an invalid target", now)...)
	}
	if tr.Number != "" && len(t.allow) > 0 && !slices.ContainsFunc(t.allow, func(p string) bool { return config.NumberMatches(p, tr.Number) }) {
		r.vars["transfer_result"] = "not-allowed"
		return append([]Action{Note{Text: fmt.Sprintf("transfer to %q refused: not in the node's allow list", tr.Number)}},
			r.follow(t.failed, "transfer to a number not allowed", now)...)
	}
	r.deadline = time.Time{}
	r.transferring = true
	return []Action{tr}
}

func (t transferNode) handle(r *Run, ev Event, now time.Time) []Action {
	e, ok := ev.(EventTransferDone)
	if !ok || !r.transferring {
		return nil
	}
	r.transferring = false
	if e.Connected {
		r.done = true
		return nil
	}
	r.vars["transfer_result"] = e.Result
	return r.follow(t.failed, "transfer failed: "+e.Result, now)
}

func (t transferNode) edges() []edge { return []edge{{label: "failed", to: t.failed}} }

// waitsForCaller: a transfer waits for the target, not the caller, and a
// loop of failing transfers would ring phones without end.
func (transferNode) waitsForCaller() bool { return false }

// String describes the transfer's target for transcripts.
func (t Transfer) String() string {
	switch {
	case t.Extension != "":
		return "extension " + t.Extension
	case t.Agent != "":
		return "agent " + t.Agent
	case t.Trunk != "":
		return fmt.Sprintf("number %s via trunk %s", t.Number, t.Trunk)
	}
	return "number " + t.Number
}

// surveyNode arms the post-call survey and goes on.
type surveyNode struct {
	flow string
	next NodeID
}

func (s surveyNode) enter(r *Run, now time.Time) []Action {
	r.survey = s.flow
	return r.enter(s.next, now)
}

func (surveyNode) handle(*Run, Event, time.Time) []Action { return nil }
func (s surveyNode) edges() []edge                        { return []edge{{label: "survey " + s.flow, to: s.next}} }
func (surveyNode) waitsForCaller() bool                   { return false }

// subflowNode enters an inlined subflow at its start.
type subflowNode struct {
	flow  string
	start NodeID
}

func (s subflowNode) enter(r *Run, now time.Time) []Action { return r.enter(s.start, now) }

func (subflowNode) handle(*Run, Event, time.Time) []Action { return nil }
func (s subflowNode) edges() []edge                        { return []edge{{label: "run " + s.flow, to: s.start}} }
func (subflowNode) waitsForCaller() bool                   { return false }

// returnNode goes back to the node after the subflow call; in a flow run
// by itself there is nothing to go back to, and the call ends.
type returnNode struct {
	target NodeID
}

func (n returnNode) enter(r *Run, now time.Time) []Action {
	return r.follow(n.target, "return outside a subflow", now)
}

func (returnNode) handle(*Run, Event, time.Time) []Action { return nil }
func (n returnNode) edges() []edge                        { return []edge{{label: "return", to: n.target}} }
func (returnNode) waitsForCaller() bool                   { return false }

// sayPieces checks that the prompt set of every language a say node may
// use is complete.
func (c *compiler) sayPieces(n *config.Node, lang string) {
	if c.hasPrompt == nil {
		return
	}
	langs := say.Languages()
	if lang != "" {
		langs = []string{lang}
	}
	for _, l := range langs {
		var missing []string
		for _, p := range say.Required(l) {
			if !c.hasPrompt(p) {
				missing = append(missing, p)
			}
		}
		if len(missing) > 0 {
			c.add(n.Pos, "%snode %q: the %s say prompt set lacks %s", c.ctx, n.Name, l, strings.Join(missing, ", "))
		}
	}
}

// compileCallNode compiles the node kinds that reach outside the flow:
// data dips, say, transfers, surveys and subflows.
func (c *compiler) compileCallNode(n *config.Node) (behavior, bool) {
	switch n.Kind {
	case config.NodeHTTP:
		h := n.HTTP
		if h == nil {
			return c.missing(n), true
		}
		return httpNode{
			name: c.cur.prefix + n.Name, method: h.Method, url: h.URL, body: h.Body, contentType: h.ContentType,
			headers: h.Headers, timeout: h.Timeout, vars: h.Vars,
			next: c.target(n, h.Next, "next"), fallback: c.target(n, h.Fallback, "fallback"),
		}, true
	case config.NodeSay:
		s := n.Say
		if s == nil {
			return c.missing(n), true
		}
		kind, ok := say.ParseKind(s.As)
		if !ok {
			c.add(n.Pos, "%snode %q: cannot say %q", c.ctx, n.Name, s.As)
		}
		c.sayPieces(n, s.Language)
		return sayNode{value: s.Value, kind: kind, lang: s.Language, next: c.target(n, s.Next, "next")}, true
	case config.NodeTransfer:
		t := n.Transfer
		if t == nil {
			return c.missing(n), true
		}
		return transferNode{
			number: t.Number, extension: t.Extension, agent: t.Agent, allow: t.Allow, trunk: t.Trunk.Name, timeout: t.Timeout,
			failed: c.resolve(t.Failed, fmt.Sprintf("node %q: failed: ", n.Name)),
		}, true
	case config.NodeSurvey:
		if n.Survey == nil {
			return c.missing(n), true
		}
		return surveyNode{flow: n.Survey.Flow.Name, next: c.target(n, n.Survey.Next, "next")}, true
	case config.NodeSubflow:
		s := n.Subflow
		callee := c.scopeOf(n)
		if s == nil || callee == nil {
			return c.missing(n), true // config reported the unknown flow
		}
		c.target(n, s.Next, "next") // where its return nodes go
		return subflowNode{flow: s.Flow.Name, start: c.resolveIn(callee, s.Target.Start, fmt.Sprintf("node %q: flow %q: start: ", n.Name, s.Flow.Name))}, true
	case config.NodeReturn:
		if c.cur.parent == nil {
			return returnNode{}, true
		}
		return returnNode{target: c.resolveIn(c.cur.parent, c.cur.call.Subflow.Next, fmt.Sprintf("node %q: next: ", c.cur.call.Name))}, true
	}
	return nil, false
}

// scopeOf returns the scope a subflow node inlined.
func (c *compiler) scopeOf(n *config.Node) *scope {
	for _, s := range c.scopes {
		if s.call == n && s.parent == c.cur {
			return s
		}
	}
	return nil
}

// missing reports a node whose kind came without its settings.
func (c *compiler) missing(n *config.Node) behavior {
	c.add(n.Pos, "%snode %q: %s node without its settings", c.ctx, n.Name, n.Kind)
	return nil
}

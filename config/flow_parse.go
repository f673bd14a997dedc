package config

import (
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"

	"gopkg.in/yaml.v3"
)

// HTTP data dip limits: a CRM that takes longer than MaxHTTPTimeout keeps
// a caller in silence too long to be worth waiting for.
const (
	DefaultHTTPTimeout  = 3 * time.Second
	MaxHTTPTimeout      = 30 * time.Second
	DefaultTransferRing = 30 * time.Second
	MaxTransferRing     = 5 * time.Minute
)

// template reads a Template from a scalar.
func (d *decoder) template(dst *Template, ctx string) field {
	return func(n *yaml.Node) {
		s, ok := d.scalar(n, ctx)
		if !ok {
			return
		}
		t, err := ParseTemplate(s)
		if err != nil {
			d.errorf(d.resolve(n), "%s: %v", ctx, err)
			return
		}
		*dst = t
	}
}

func (d *decoder) httpNode(v *yaml.Node, ctx string, node *Node) {
	node.Kind = NodeHTTP
	h := &HTTPNode{Method: http.MethodGet, Timeout: DefaultHTTPTimeout}
	node.HTTP = h
	var urlNode *yaml.Node
	var urlBad bool
	d.fields(v, ctx, map[string]field{
		"method": func(n *yaml.Node) {
			s, ok := d.scalar(n, ctx+": method")
			if !ok {
				return
			}
			if m := strings.ToUpper(s); m == http.MethodGet || m == http.MethodPost {
				h.Method = m
				return
			}
			d.errorf(d.resolve(n), "%s: method must be GET or POST, got %q", ctx, s)
		},
		"url": func(n *yaml.Node) {
			urlNode = n
			before := len(d.errs)
			d.template(&h.URL, ctx+": url")(n)
			urlBad = len(d.errs) > before
		},
		"body":         d.template(&h.Body, ctx+": body"),
		"content_type": d.nonEmpty(&h.ContentType, ctx+": content_type"),
		"timeout":      d.durationIn(&h.Timeout, ctx+": timeout", 100*time.Millisecond, MaxHTTPTimeout, ""),
		"headers": func(n *yaml.Node) {
			for key, value := range d.pairs(n, ctx+": headers") {
				if !validHeaderName(key.Value) {
					d.errorf(key, "%s: headers: invalid header name %q", ctx, key.Value)
					continue
				}
				hd := HTTPHeader{Name: key.Value}
				d.template(&hd.Value, ctx+": headers: "+key.Value)(value)
				h.Headers = append(h.Headers, hd)
			}
		},
		"vars": func(n *yaml.Node) {
			for key, value := range d.pairs(n, ctx+": vars") {
				path, ok := d.scalar(value, ctx+": vars: "+key.Value)
				if !ok || !d.varName(key, key.Value, ctx+": vars") {
					continue
				}
				if path == "" || strings.Contains(path, "..") || strings.HasPrefix(path, ".") || strings.HasSuffix(path, ".") {
					d.errorf(d.resolve(value), "%s: vars: %s: invalid JSON path %q (dot-separated keys, e.g. customer.tier)", ctx, key.Value, path)
					continue
				}
				h.Vars = append(h.Vars, HTTPVar{Name: key.Value, Path: path, Pos: d.pos(key)})
			}
		},
		"next":     d.ref(&h.Next, ctx+": next"),
		"fallback": d.ref(&h.Fallback, ctx+": fallback"),
	})
	if urlNode == nil {
		d.errorf(v, "%s: url is required", ctx)
	} else if msg := checkDipURL(h.URL); msg != "" && !urlBad {
		d.errorf(d.resolve(urlNode), "%s: url: %s", ctx, msg)
	}
	if h.Method == http.MethodGet && h.Body.Text != "" {
		d.errorf(v, "%s: a GET has no body; use method: POST", ctx)
	}
	if h.ContentType == "" && h.Body.Text != "" {
		h.ContentType = "application/json"
	}
	if h.Next.Name == "" || h.Fallback.Name == "" {
		d.errorf(v, "%s: next and fallback are required (where the call goes when the service answers, and when it does not)", ctx)
	}
}

// checkDipURL makes sure the scheme and host are written out: a variable
// in them would let caller input choose where the request goes.
func checkDipURL(t Template) string {
	prefix := t.literalPrefix()
	rest, ok := strings.CutPrefix(prefix, "http://")
	if !ok {
		rest, ok = strings.CutPrefix(prefix, "https://")
	}
	if !ok {
		return fmt.Sprintf("must start with http:// or https://, got %q", t.Text)
	}
	host, _, complete := strings.Cut(rest, "/")
	if host == "" || (!complete && !t.Literal()) {
		return fmt.Sprintf("variables may only follow the host: write the scheme, host and the / after it out (got %q)", t.Text)
	}
	// Every variable filled in (escaped, as calls will), the URL must parse.
	if _, err := url.Parse(t.Expand(nil, func(string) string { return "x" })); err != nil {
		return fmt.Sprintf("invalid URL %q: %v", t.Text, errors.Unwrap(err))
	}
	return ""
}

// validHeaderName accepts an HTTP token (RFC 9110 §5.1).
func validHeaderName(s string) bool {
	if s == "" {
		return false
	}
	for _, r := range s {
		if r > 126 || r <= 32 || strings.ContainsRune("\"(),/:;<=>?@[\\]{}", r) {
			return false
		}
	}
	return true
}

var sayKinds = []string{SayAgentID, SayAmount, SayDate, SayDigits, SayNumber}

// SayLanguages are the languages with a built-in say prompt set.
var SayLanguages = []string{"en", "zh"}

func (d *decoder) sayNode(v *yaml.Node, ctx string, node *Node) {
	node.Kind = NodeSay
	s := &SayNode{}
	node.Say = s
	var valueSet, asSet bool
	d.fields(v, ctx, map[string]field{
		"value": func(n *yaml.Node) { valueSet = true; d.template(&s.Value, ctx+": value")(n) },
		"as": func(n *yaml.Node) {
			asSet = true
			as, ok := d.scalar(n, ctx+": as")
			if !ok {
				return
			}
			if !slices.Contains(sayKinds, as) {
				d.errorf(d.resolve(n), "%s: as: unknown kind %q%s", ctx, as, hint(as, sayKinds, true))
				return
			}
			s.As = as
		},
		"language": func(n *yaml.Node) {
			lang, ok := d.scalar(n, ctx+": language")
			if !ok {
				return
			}
			if !slices.Contains(SayLanguages, lang) {
				d.errorf(d.resolve(n), "%s: language: no prompt set for %q%s", ctx, lang, hint(lang, SayLanguages, true))
				return
			}
			s.Language = lang
		},
		"next": d.ref(&s.Next, ctx+": next"),
	})
	switch {
	case !valueSet:
		d.errorf(v, "%s: value is required (e.g. \"${balance}\")", ctx)
	case !asSet:
		d.errorf(v, "%s: as is required (one of %s)", ctx, strings.Join(sayKinds, ", "))
	case s.Next.Name == "":
		d.errorf(v, "%s: next is required", ctx)
	}
}

func (d *decoder) transferNode(v *yaml.Node, ctx string, node *Node) {
	node.Kind = NodeTransfer
	t := &TransferNode{Timeout: DefaultTransferRing}
	node.Transfer = t
	targets := 0
	target := func(dst *Template, key string) field {
		return func(n *yaml.Node) { targets++; d.template(dst, ctx+": "+key)(n) }
	}
	d.fields(v, ctx, map[string]field{
		"number":    target(&t.Number, "number"),
		"extension": target(&t.Extension, "extension"),
		"agent":     target(&t.Agent, "agent"),
		"trunk":     d.ref(&t.Trunk, ctx+": trunk"),
		"allow": func(v *yaml.Node) {
			for _, ref := range d.refs(v, ctx+": allow") {
				if err := checkNumberPattern(ref.Name); err != nil {
					d.errs.Add(ref.Pos, "%s: allow: %v", ctx, err)
					continue
				}
				t.Allow = append(t.Allow, ref.Name)
			}
		},
		"timeout": d.durationIn(&t.Timeout, ctx+": timeout", time.Second, MaxTransferRing, ""),
		"failed":  d.ref(&t.Failed, ctx+": failed"),
	})
	if targets != 1 {
		d.errorf(v, "%s: needs exactly one of number, extension or agent", ctx)
	}
	if t.Number.Text != "" && !t.Number.Literal() && len(t.Allow) == 0 {
		d.errorf(v, "%s: a number made of variables needs allow (the numbers it may become, e.g. [\"400*\", \"+8610*\"]): anything else could be a toll call", ctx)
	}
	if t.Trunk.Name != "" && t.Number.Text == "" {
		d.errs.Add(t.Trunk.Pos, "%s: trunk is only for a number", ctx)
	}
	if a := t.Agent; a.Text != "" && a.Literal() && !slices.Contains(d.agentIDs, a.Text) {
		d.errorf(v, "%s: agent: unknown agent %q%s", ctx, a.Text, hint(a.Text, d.agentIDs, false))
	}
}

func (d *decoder) surveyNode(v *yaml.Node, ctx string, node *Node) {
	node.Kind = NodeSurvey
	s := &SurveyNode{}
	node.Survey = s
	d.flowAndNext(v, ctx, &s.Flow, &s.Next, "the survey flow, and where this call goes on now")
}

func (d *decoder) subflowNode(v *yaml.Node, ctx string, node *Node) {
	node.Kind = NodeSubflow
	s := &SubflowNode{}
	node.Subflow = s
	d.flowAndNext(v, ctx, &s.Flow, &s.Next, "the flow to run, and where to go when it returns")
}

// flowAndNext reads the settings of a node that names a flow and a next
// node, both required; what says what they are for.
func (d *decoder) flowAndNext(v *yaml.Node, ctx string, flow, next *Ref, what string) {
	d.fields(v, ctx, map[string]field{
		"flow": d.ref(flow, ctx+": flow"),
		"next": d.ref(next, ctx+": next"),
	})
	if flow.Name == "" || next.Name == "" {
		d.errorf(v, "%s: flow and next are required (%s)", ctx, what)
	}
}

// returnNode accepts "return: {}" (or an empty "return:").
func (d *decoder) returnNode(v *yaml.Node, ctx string, node *Node) {
	node.Kind = NodeReturn
	if !isNull(v) {
		d.fields(v, ctx, map[string]field{})
	}
}

// flowLinks checks what flows say of other flows and of trunks, once all
// are known: survey and subflow targets exist, subflows do not call
// themselves (directly or not), and transfers to a number have a trunk to
// dial through.
func (d *decoder) flowLinks(c *Config) {
	flowNames := make([]string, len(c.Flows))
	for i, f := range c.Flows {
		flowNames[i] = f.Name
	}
	trunkNames := make([]string, len(c.Trunks))
	for i, t := range c.Trunks {
		trunkNames[i] = t.Name
	}
	for _, f := range c.Flows {
		ctx := fmt.Sprintf("flow %q", f.Name)
		for _, n := range f.Nodes {
			var flowRef Ref
			switch {
			case n.Kind == NodeSurvey && n.Survey != nil:
				flowRef = n.Survey.Flow
			case n.Kind == NodeSubflow && n.Subflow != nil:
				flowRef = n.Subflow.Flow
				n.Subflow.Target = c.Flow(flowRef.Name)
			case n.Kind == NodeTransfer && n.Transfer != nil && n.Transfer.Number.Text != "":
				tr := n.Transfer.Trunk
				switch {
				case tr.Name == "" && c.OutboundTrunk() == nil:
					d.errs.Add(n.Pos, "%s: node %q: a transfer to a number needs a trunk with outbound (the carrier's ip:port)", ctx, n.Name)
				case tr.Name != "" && c.Trunk(tr.Name) == nil:
					d.errs.Add(tr.Pos, "%s: node %q: trunk: unknown trunk %q%s", ctx, n.Name, tr.Name, hint(tr.Name, trunkNames, false))
				case tr.Name != "" && c.Trunk(tr.Name).Outbound == "":
					d.errs.Add(tr.Pos, "%s: node %q: trunk %q has no outbound address to call through", ctx, n.Name, tr.Name)
				}
			}
			if flowRef.Name != "" && c.Flow(flowRef.Name) == nil {
				d.errs.Add(flowRef.Pos, "%s: node %q: unknown flow %q%s", ctx, n.Name, flowRef.Name, hint(flowRef.Name, flowNames, false))
			}
		}
		if cycle := subflowCycle(c, f.Name, nil, map[string]bool{}); cycle != nil {
			d.errs.Add(f.Pos, "flow %q calls itself through subflows (%s); a subflow must return without calling back", f.Name, strings.Join(cycle, " > "))
		}
	}
}

// subflowCycle returns the chain of flows by which chain[0] calls itself
// through subflow nodes, or nil. done holds the flows already searched
// from chain[0] without finding it: each flow is searched once, however
// many flows call it.
func subflowCycle(c *Config, name string, chain []string, done map[string]bool) []string {
	if slices.Contains(chain, name) {
		if name == chain[0] {
			return append(chain, name)
		}
		return nil // a cycle that does not pass through the first flow is reported for its own flows
	}
	f := c.Flow(name)
	if f == nil || done[name] {
		return nil
	}
	chain = append(chain, name)
	for _, n := range f.Nodes {
		if n.Kind == NodeSubflow && n.Subflow != nil {
			if cycle := subflowCycle(c, n.Subflow.Flow.Name, chain, done); cycle != nil {
				return cycle
			}
		}
	}
	done[name] = true
	return nil
}

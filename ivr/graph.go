package ivr

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"regexp"
	"slices"
	"strings"

	"github.com/hotline-cc/hotline/config"
)

// NodeID identifies a node within one Graph; zero means none.
type NodeID uint16

// maxNodes keeps NodeIDs within their type.
const maxNodes = 1<<16 - 1

// Graph is a compiled flow. It is immutable and shared by every call that
// runs it.
type Graph struct {
	name    string
	version string
	start   NodeID
	nodes   []node // nodes[id-1]
}

type node struct {
	// inlined is set for the nodes of a subflow copied into this graph.
	inlined  bool
	name     string
	kind     config.NodeKind
	pos      config.Pos
	behavior behavior
}

// Name returns the flow's name.
func (g *Graph) Name() string { return g.name }

// Version returns a short hash of what the flow does, recorded in CDRs so
// that a call can be matched to the flow it ran. Comments, formatting and
// positions do not change it; any setting does.
func (g *Graph) Version() string { return g.version }

// CompileAll compiles every flow of a configuration, keyed by name.
func CompileAll(c *config.Config, hasPrompt func(name string) bool) (map[string]*Graph, config.Errors) {
	graphs := make(map[string]*Graph, len(c.Flows))
	var errs config.Errors
	for i := range c.Flows {
		g, flowErrs := Compile(&c.Flows[i], hasPrompt)
		errs = append(errs, flowErrs...)
		if g != nil {
			graphs[g.name] = g
		}
	}
	if len(errs) > 0 {
		errs.Sort()
		return nil, errs
	}
	return graphs, nil
}

// Compile checks a flow and resolves it into a Graph. hasPrompt tells
// whether a prompt exists; nil skips prompt checks. Besides what config
// checks (Compile repeats the reference checks, for flows built in code), it
// refuses unknown prompts, nodes that cannot be reached from the start, and
// loops through which a call would go round without the caller being able
// to leave (goto and play nodes only).
func Compile(f *config.Flow, hasPrompt func(name string) bool) (*Graph, config.Errors) {
	c := &compiler{flow: f, hasPrompt: hasPrompt, ids: map[string]NodeID{}}
	if f == nil {
		c.errs.Add(config.Pos{}, "no flow")
		return nil, c.errs
	}
	c.ctx = fmt.Sprintf("flow %q: ", f.Name)
	nodes, owners := c.inline(f)
	if nodes == nil && len(c.errs) > 0 {
		return nil, c.errs
	}
	g := &Graph{name: f.Name, nodes: make([]node, len(nodes))}
	for i, n := range nodes {
		c.cur = owners[i]
		g.nodes[i] = node{name: c.cur.prefix + n.Name, kind: n.Kind, pos: n.Pos, behavior: c.compileNode(n), inlined: c.cur.parent != nil}
	}
	c.cur = c.top
	if f.Start.Name == "" {
		c.errs.Add(f.Pos, "%sno start node", c.ctx)
	} else {
		g.start = c.resolve(f.Start, "start: ")
	}
	for _, call := range c.brokenSubflows {
		c.errs.Add(call.Pos, "%snode %q: flow %q has errors (reported at that flow)", c.ctx, call.Name, call.Subflow.Flow.Name)
	}
	if len(c.errs) > 0 {
		c.errs.Sort()
		return nil, c.errs
	}
	c.checkReachable(g)
	c.checkLoops(g)
	if len(c.errs) > 0 {
		c.errs.Sort()
		return nil, c.errs
	}
	g.version = version(g)
	return g, nil
}

// maxSubflowDepth bounds subflows within subflows; configuration refuses
// a flow that calls itself, this catches flows built in code.
const maxSubflowDepth = 16

// scope is one copy of a flow within a graph: the flow compiled, or a
// subflow inlined at a subflow node. Its nodes are named prefix+name, so
// that a subflow's nodes show in paths and metrics as "identify.ask".
type scope struct {
	flow   *config.Flow
	prefix string
	parent *scope
	// call is the subflow node that inlined this scope (nil at the top).
	call  *config.Node
	depth int
}

// inline lists the nodes of f and, after them, those of every subflow it
// calls (each call gets its own copy), and gives each its NodeID.
func (c *compiler) inline(f *config.Flow) ([]*config.Node, []*scope) {
	c.top = &scope{flow: f}
	scopes := []*scope{c.top}
	prefixes := map[string]int{}
	var nodes []*config.Node
	var owners []*scope
	for i := 0; i < len(scopes); i++ {
		s := scopes[i]
		for j := range s.flow.Nodes {
			n := &s.flow.Nodes[j]
			full := s.prefix + n.Name
			switch first, dup := c.ids[full]; {
			case s.parent != nil && (n.Name == "" || dup):
				c.brokenSubflows = appendOnce(c.brokenSubflows, topCall(s))
				continue
			case n.Name == "":
				c.errs.Add(n.Pos, "%snode without a name", c.ctx)
				continue
			case dup:
				c.errs.Add(n.Pos, "%sduplicate node %q (first at %s)", c.ctx, n.Name, nodes[first-1].Pos)
				continue
			}
			if len(nodes) >= maxNodes {
				c.errs.Add(f.Pos, "%shas more than %d nodes with its subflows", c.ctx, maxNodes)
				return nil, nil
			}
			nodes = append(nodes, n)
			owners = append(owners, s)
			c.ids[full] = NodeID(len(nodes))
			if n.Kind != config.NodeSubflow || n.Subflow == nil || n.Subflow.Target == nil {
				continue
			}
			if s.depth >= maxSubflowDepth {
				c.errs.Add(n.Pos, "%snode %q: subflows nest deeper than %d (does a flow call itself?)", c.ctx, n.Name, maxSubflowDepth)
				return nil, nil
			}
			callee := n.Subflow.Target
			prefixes[callee.Name]++
			prefix := callee.Name
			if k := prefixes[callee.Name]; k > 1 {
				prefix = fmt.Sprintf("%s#%d", callee.Name, k)
			}
			scopes = append(scopes, &scope{flow: callee, prefix: s.prefix + prefix + ".", parent: s, call: n, depth: s.depth + 1})
		}
	}
	c.scopes = scopes
	return nodes, owners
}

// topCall returns the subflow node in the compiled flow through which s
// was inlined.
func topCall(s *scope) *config.Node {
	for s.parent.parent != nil {
		s = s.parent
	}
	return s.call
}

func appendOnce(list []*config.Node, n *config.Node) []*config.Node {
	if slices.Contains(list, n) {
		return list
	}
	return append(list, n)
}

type compiler struct {
	flow      *config.Flow
	hasPrompt func(string) bool
	// ids holds every node's ID by its name within the graph (a subflow's
	// with its scope's prefix).
	ids map[string]NodeID
	ctx string
	// top is the flow compiled; cur the scope of the node being compiled.
	top, cur *scope
	scopes   []*scope
	// brokenSubflows are the subflow nodes of the top flow whose flows have
	// errors; those are reported where that flow is compiled by itself,
	// here only once at the call.
	brokenSubflows []*config.Node
	errs           config.Errors
}

// add reports a problem in the node being compiled. One in a subflow's
// node is that flow's own problem, reported where it is compiled; here the
// subflow call is marked broken.
func (c *compiler) add(pos config.Pos, format string, args ...any) {
	if c.cur != nil && c.cur.parent != nil {
		c.brokenSubflows = appendOnce(c.brokenSubflows, topCall(c.cur))
		return
	}
	c.errs.Add(pos, format, args...)
}

// resolve turns a node reference into its ID; an empty reference is zero.
func (c *compiler) resolve(r config.Ref, what string) NodeID {
	if r.Name == "" {
		return 0
	}
	return c.resolveIn(c.cur, r, what)
}

// resolveIn resolves r among the nodes of scope s.
func (c *compiler) resolveIn(s *scope, r config.Ref, what string) NodeID {
	if r.Name == "" {
		return 0
	}
	id, ok := c.ids[s.prefix+r.Name]
	if !ok {
		names := make([]string, 0, len(s.flow.Nodes))
		for _, n := range s.flow.Nodes {
			names = append(names, n.Name)
		}
		slices.Sort(names)
		c.add(r.Pos, "%s%sunknown node %q (known: %s)", c.ctx, what, r.Name, strings.Join(names, ", "))
	}
	return id
}

// target resolves a reference that must be there.
func (c *compiler) target(n *config.Node, r config.Ref, what string) NodeID {
	if r.Name == "" {
		c.add(n.Pos, "%snode %q: %s is required", c.ctx, n.Name, what)
		return 0
	}
	return c.resolve(r, fmt.Sprintf("node %q: %s: ", n.Name, what))
}

// prompts checks prompt names and returns them.
func (c *compiler) prompts(n *config.Node, refs []config.Ref, what string, required bool) []string {
	if required && len(refs) == 0 {
		c.add(n.Pos, "%snode %q: %s is required", c.ctx, n.Name, what)
	}
	names := make([]string, 0, len(refs))
	for _, r := range refs {
		switch {
		case r.Name == "":
			c.add(r.Pos, "%snode %q: %s: empty prompt name", c.ctx, n.Name, what)
		case c.hasPrompt != nil && !c.hasPrompt(r.Name):
			c.add(r.Pos, "%snode %q: %s: unknown prompt %q", c.ctx, n.Name, what, r.Name)
		}
		names = append(names, r.Name)
	}
	return names
}

func (c *compiler) compileNode(n *config.Node) behavior {
	if b, ok := c.compileCallNode(n); ok {
		return b
	}
	missing := func() behavior { return c.missing(n) }
	switch n.Kind {
	case config.NodeMenu:
		if n.Menu == nil {
			return missing()
		}
		return c.menu(n, n.Menu)
	case config.NodePlay:
		if n.Play == nil {
			return missing()
		}
		return playNode{
			prompts: c.prompts(n, n.Play.Prompts, "prompt", true),
			target:  c.target(n, n.Play.Next, "next"),
		}
	case config.NodeQueue:
		if n.Queue == nil {
			return missing()
		}
		if n.Queue.Queue.Name == "" {
			c.add(n.Pos, "%snode %q: queue name is required", c.ctx, n.Name)
		}
		qn := n.Queue
		node := queueNode{how: Enqueue{
			Queue: qn.Queue.Name, Priority: qn.Priority, HasPriority: qn.HasPriority,
			Tags: qn.Tags, Agent: qn.Agent, AgentWait: qn.AgentWait,
		}}
		if strings.Contains(qn.Queue.Name, "${") {
			name, err := config.ParseTemplate(qn.Queue.Name)
			if err != nil {
				c.add(qn.Queue.Pos, "%snode %q: name: %v", c.ctx, n.Name, err)
			}
			node.name, node.fallback, node.known = name, qn.Default.Name, qn.Known
		}
		return node
	case config.NodeHangup:
		if n.Hangup == nil {
			return missing()
		}
		reason := n.Hangup.Reason
		if reason == "" {
			reason = "hangup at node " + n.Name
		}
		return hangupNode{prompts: c.prompts(n, n.Hangup.Prompts, "prompt", false), reason: reason}
	case config.NodeGoto:
		if n.Goto == nil {
			return missing()
		}
		return gotoNode{target: c.target(n, n.Goto.Target, "goto")}
	case config.NodeSet:
		if n.Set == nil {
			return missing()
		}
		sn := setNode{next: c.target(n, n.Set.Next, "next")}
		for _, v := range n.Set.Vars {
			sn.names = append(sn.names, v.Name)
			sn.values = append(sn.values, v.Value)
		}
		return sn
	case config.NodeBranch:
		if n.Branch == nil {
			return missing()
		}
		bn := branchNode{otherwise: c.target(n, n.Branch.Else, "else")}
		for _, cs := range n.Branch.Cases {
			bn.cases = append(bn.cases, branchCase{
				variable: cs.Var, equals: cs.Equals, hasEquals: cs.HasEquals, prefix: cs.Prefix,
				in: cs.In, gt: cs.GreaterThan, lt: cs.LessThan, hasGT: cs.HasGreaterThan, hasLT: cs.HasLessThan,
				window: cs.Time, days: cs.Days, loc: cs.Location, next: c.target(n, cs.Next, "next"),
			})
		}
		return bn
	case config.NodeVoicemail:
		return endNode{action: Voicemail{}}
	case config.NodeCallback:
		if n.Callback == nil {
			return missing()
		}
		return endNode{action: OfferCallback{Queue: n.Callback.Queue.Name}}
	case config.NodeSchedule:
		sc := n.Schedule
		if sc == nil || sc.Cal == nil {
			return missing() // config reported the unknown calendar
		}
		node := scheduleNode{cal: sc.Cal, open: c.target(n, sc.Open, "open"), closed: c.target(n, sc.Closed, "closed")}
		node.holiday = node.closed
		if sc.Holiday.Name != "" {
			node.holiday = c.target(n, sc.Holiday, "holiday")
		}
		return node
	case config.NodeCollect:
		cn := n.Collect
		if cn == nil {
			return missing()
		}
		node := collectNode{
			name: n.Name, prompts: c.prompts(n, cn.Prompts, "prompt", true), variable: cn.Var,
			min: cn.Min, max: cn.Max, terminator: cn.Terminator, timeout: cn.Timeout, digitTimeout: cn.DigitTimeout,
			invalidPrompts: c.prompts(n, cn.InvalidPrompts, "invalid_prompt", false), retries: cn.Retries,
			next: c.target(n, cn.Next, "next"), invalid: c.target(n, cn.Invalid, "invalid"),
		}
		if cn.Pattern != "" {
			node.pattern = regexp.MustCompile(cn.Pattern) // config compiled it already
		}
		return node
	case config.NodeUnknown, config.NodeHTTP, config.NodeSay, config.NodeTransfer, config.NodeSurvey,
		config.NodeSubflow, config.NodeReturn:
	}
	c.add(n.Pos, "%snode %q: unknown node kind %s", c.ctx, n.Name, n.Kind)
	return nil
}

func (c *compiler) menu(n *config.Node, m *config.MenuNode) behavior {
	ctx := fmt.Sprintf("%snode %q: ", c.ctx, n.Name)
	b := menuNode{
		name:           n.Name,
		prompts:        c.prompts(n, m.Prompts, "prompt", true),
		timeout:        m.Timeout,
		noInputPrompts: c.prompts(n, m.NoInputPrompts, "no_input_prompt", false),
		noInputRetries: m.NoInputRetries,
		noInput:        c.resolve(m.NoInput, fmt.Sprintf("node %q: no_input: ", n.Name)),
		invalidPrompts: c.prompts(n, m.InvalidPrompts, "invalid_prompt", false),
		invalidRetries: m.InvalidRetries,
		invalid:        c.resolve(m.Invalid, fmt.Sprintf("node %q: invalid: ", n.Name)),
	}
	if b.timeout <= 0 {
		c.add(n.Pos, "%stimeout must be more than zero", ctx)
	}
	if b.noInputRetries < 0 || b.invalidRetries < 0 {
		c.add(n.Pos, "%sretries must not be negative", ctx)
	}
	if len(m.Choices) == 0 {
		c.add(n.Pos, "%sa menu needs at least one choice", ctx)
	}
	for _, choice := range m.Choices {
		i := digitIndex(normalizeDigit(choice.Digit))
		switch {
		case i < 0:
			c.add(choice.Pos, "%schoice %q is not a DTMF digit", ctx, choice.Digit)
		case b.choices[i] != 0:
			c.add(choice.Pos, "%sdigit %c chosen twice", ctx, choice.Digit)
		default:
			b.choices[i] = c.target(n, choice.Target, "choices: "+string(choice.Digit))
		}
	}
	return b
}

// checkReachable reports nodes no call can get to: usually a typo in a
// target, or a node left behind by an edit.
func (c *compiler) checkReachable(g *Graph) {
	seen := make([]bool, len(g.nodes)+1)
	stack := []NodeID{g.start}
	seen[g.start] = true
	for len(stack) > 0 {
		id := stack[len(stack)-1]
		stack = stack[:len(stack)-1]
		for _, next := range next(g.nodes[id-1].behavior) {
			if next != 0 && !seen[next] {
				seen[next] = true
				stack = append(stack, next)
			}
		}
	}
	for i, n := range g.nodes {
		// A subflow's unreachable nodes are reported where it is compiled
		// by itself.
		if !seen[i+1] && !n.inlined {
			c.errs.Add(n.pos, "%snode %q cannot be reached from start node %q", c.ctx, n.name, c.flow.Start.Name)
		}
	}
}

// checkLoops reports cycles made only of nodes that move on by themselves
// (goto, play, set, branch): a call caught in one goes round until the
// caller hangs up, with nothing to press to get out. A depth-first search
// over those nodes finds every such cycle; each is reported once, at its
// first node in file order. A branch counts even if only some calls would
// take the looping case: which ones depends on data, so it is refused.
func (c *compiler) checkLoops(g *Graph) {
	const (
		unseen = iota
		onStack
		finished
	)
	state := make([]uint8, len(g.nodes)+1)
	reported := make([]bool, len(g.nodes)+1)
	var stack []NodeID
	var visit func(id NodeID)
	visit = func(id NodeID) {
		state[id] = onStack
		stack = append(stack, id)
		for _, to := range next(g.nodes[id-1].behavior) {
			if to == 0 || g.nodes[to-1].behavior.waitsForCaller() {
				continue
			}
			switch state[to] {
			case unseen:
				visit(to)
			case onStack:
				at := slices.Index(stack, to)
				cycle := stack[at:]
				if slices.ContainsFunc(cycle, func(n NodeID) bool { return reported[n] }) {
					continue
				}
				if !slices.ContainsFunc(cycle, func(n NodeID) bool { return !g.nodes[n-1].inlined }) {
					// Within one subflow: reported where it is compiled.
					for _, n := range cycle {
						reported[n] = true
					}
					continue
				}
				names := make([]string, 0, len(cycle)+1)
				first := cycle[0]
				for _, n := range cycle {
					names = append(names, g.nodes[n-1].name)
					reported[n] = true
					first = min(first, n)
				}
				names = append(names, g.nodes[cycle[0]-1].name)
				c.errs.Add(g.nodes[first-1].pos, "%snodes loop without waiting for the caller: %s", c.ctx, strings.Join(names, " → "))
			}
		}
		stack = stack[:len(stack)-1]
		state[id] = finished
	}
	for id := range g.nodes {
		nid := NodeID(id + 1)
		if state[nid] == unseen && !g.nodes[id].behavior.waitsForCaller() {
			visit(nid)
		}
	}
}

// version hashes the compiled graph: names, kinds and settings, not
// positions or comments.
func version(g *Graph) string {
	h := sha256.New()
	fmt.Fprintf(h, "flow %q start %d\n", g.name, g.start)
	for _, n := range g.nodes {
		fmt.Fprintf(h, "node %q %s %#v\n", n.name, n.kind, n.behavior)
	}
	return hex.EncodeToString(h.Sum(nil))[:12]
}

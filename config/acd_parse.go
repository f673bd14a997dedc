package config

import (
	"fmt"
	"regexp"
	"slices"
	"strings"

	"gopkg.in/yaml.v3"
)

// Decoding of the contact-center settings: skills, hot-desk phones, the
// queue settings beyond members and prompts, priority rules, dedicated
// agents, agent states and feature codes. Calendars are in calendar.go.

// maxWaiting bounds Queue.MaxWaiting; more is a typo, not a design.
const maxWaiting = 100000

// maxMissedOffers bounds AgentStates.MissedBeforeNotReady.
const maxMissedOffers = 100

// skills reads the top-level list of skill names.
func (d *decoder) skills(n *yaml.Node) []string {
	var skills []string
	seen := map[string]int{}
	for _, item := range d.items(n, "skills") {
		s, ok := d.scalar(item, "skills")
		if !ok {
			continue
		}
		switch line, dup := seen[s]; {
		case !namePattern.MatchString(s):
			d.errorf(item, "skills: invalid skill name %q (use letters, digits, _ and -, at most 64)", s)
		case dup:
			d.errorf(item, "skills: %q is listed twice (first at line %d)", s, line)
		default:
			seen[s] = item.Line
			skills = append(skills, s)
		}
	}
	return skills
}

// skillLevels reads a mapping of skill names to levels, e.g.
// {sales: 8, english: 5}, sorted by skill.
func (d *decoder) skillLevels(n *yaml.Node, ctx string, declared []string) []SkillLevel {
	n = d.resolve(n)
	if n == nil || isNull(n) {
		return nil
	}
	if n.Kind != yaml.MappingNode {
		d.errorf(n, "%s: skills: expected a mapping of skill: level (%d-%d), e.g. {sales: 5}, got %s", ctx, MinSkillLevel, MaxSkillLevel, describe(n))
		return nil
	}
	var levels []SkillLevel
	for key, value := range d.pairs(n, ctx+": skills") {
		sl := SkillLevel{Skill: key.Value, Pos: d.pos(key)}
		d.integer(&sl.Level, ctx+": skills: "+key.Value, MinSkillLevel, MaxSkillLevel)(value)
		switch {
		case len(declared) == 0:
			d.errorf(key, "%s: unknown skill %q (no skills are declared; list every skill under the top-level skills:)", ctx, key.Value)
		case !slices.Contains(declared, key.Value):
			d.errorf(key, "%s: unknown skill %q%s", ctx, key.Value, hint(key.Value, declared, false))
		case sl.Level > 0:
			levels = append(levels, sl)
		}
	}
	slices.SortFunc(levels, func(a, b SkillLevel) int { return strings.Compare(a.Skill, b.Skill) })
	return levels
}

// phoneUser is a hot-desk phone's SIP user name.
var phoneUser = regexp.MustCompile(`^[A-Za-z0-9_.-]{1,64}$`)

func (d *decoder) phones(n *yaml.Node, c *Config) []Phone {
	var phones []Phone
	seen := map[string]int{}
	for i, item := range d.items(n, "phones") {
		ctx := fmt.Sprintf("phone #%d", i+1)
		p := Phone{Pos: d.pos(item)}
		if v := d.lookup(item, "user"); v != nil {
			ctx = fmt.Sprintf("phone %q", v.Value)
			switch line, dup := seen[v.Value]; {
			case !phoneUser.MatchString(v.Value):
				d.errorf(v, "%s: invalid user (use letters, digits, _, - and ., at most 64)", ctx)
			case c.Agent(v.Value) != nil:
				d.errorf(v, "%s: user is also agent %q's ID (the agent's own phone); give the hot-desk phone another name", ctx, v.Value)
			case dup:
				d.errorf(v, "duplicate phone %q (first at line %d)", v.Value, line)
			default:
				seen[v.Value] = v.Line
				p.User = v.Value
			}
		} else if item.Kind == yaml.MappingNode {
			d.errorf(item, "%s: user is required (the SIP user name the phone registers as)", ctx)
		}
		var hasPassword bool
		d.fields(item, ctx, map[string]field{
			"user": func(*yaml.Node) {},
			"password": func(v *yaml.Node) {
				hasPassword = true
				d.nonEmpty(&p.Password, ctx+": password")(v)
			},
		})
		if !hasPassword && item.Kind == yaml.MappingNode {
			d.errorf(item, "%s: password is required (the phone's SIP digest password)", ctx)
		}
		phones = append(phones, p)
	}
	return phones
}

// destination reads "queue:NAME", "flow:NAME", "callback", "busy" or
// "hangup". Queue and flow names are checked by queueLinks, once every
// queue and flow is known; self is the queue being decoded.
func (d *decoder) destination(dst *Destination, queueCtx, key, self string) field {
	ctx := queueCtx + ": " + key
	return func(n *yaml.Node) {
		s, ok := d.scalar(n, ctx)
		if !ok {
			return
		}
		n = d.resolve(n)
		kind, target, hasTarget := strings.Cut(s, ":")
		kind, target = strings.TrimSpace(kind), strings.TrimSpace(target)
		dest := Destination{Target: target, Pos: d.pos(n)}
		switch kind {
		case "queue", "flow":
			if target == "" {
				d.errorf(n, "%s: %s needs a name, e.g. \"%s:NAME\"", ctx, kind, kind)
				return
			}
			dest.Kind = DestFlow
			if kind == "queue" {
				dest.Kind = DestQueue
				if target == self {
					d.errorf(n, "%s: queue:%s is this queue; name another queue", ctx, target)
					return
				}
			}
		case "callback", "voicemail", "busy", "hangup":
			if hasTarget {
				d.errorf(n, "%s: %s takes no name, got %q", ctx, kind, s)
				return
			}
			dest.Kind = DestinationKind(slices.Index(destinationKindNames[:], kind))
		default:
			d.errorf(n, "%s: invalid destination %q (use queue:NAME, flow:NAME, callback, voicemail, busy or hangup)", ctx, s)
			return
		}
		*dst = dest
	}
}

// destinationNeeds checks that a limit (key, written at node, active when
// set) and its destination (destKey, written unless destNode is nil) come
// together.
func (d *decoder) destinationNeeds(ctx string, node *yaml.Node, set bool, destNode *yaml.Node, key, destKey, destWhy, keyWhy string) {
	switch {
	case set && destNode == nil:
		d.errorf(node, "%s: %s needs %s (%s)", ctx, key, destKey, destWhy)
	case node == nil && destNode != nil:
		d.errorf(destNode, "%s: %s needs %s (%s)", ctx, destKey, key, keyWhy)
	}
}

func (d *decoder) serviceLevel(n *yaml.Node, ctx string, sl *ServiceLevel) {
	d.fields(n, ctx, map[string]field{
		"threshold":       d.duration(&sl.Threshold, ctx+": threshold"),
		"target":          d.number(&sl.Target, ctx+": target", 1, 100, true),
		"short_abandon":   d.durationIn(&sl.ShortAbandon, ctx+": short_abandon", 0, 0, "counting every abandon"),
		"ignore_abandons": d.boolean(&sl.IgnoreAbandons, ctx+": ignore_abandons"),
	})
}

// escalation reads a queue's escalation steps. Queue names are checked by
// queueLinks.
func (d *decoder) escalation(n *yaml.Node, queueCtx string, q *Queue, c *Config) []EscalationStep {
	var steps []EscalationStep
	var prevAfter Duration
	items := d.items(n, queueCtx+": escalation")
	for i, item := range items {
		ctx := fmt.Sprintf("%s: escalation step #%d", queueCtx, i+1)
		if i == MaxEscalationSteps {
			d.errorf(item, "%s: escalation: at most %d steps", queueCtx, MaxEscalationSteps)
		}
		step := EscalationStep{Pos: d.pos(item)}
		var afterNode, skillsNode, queueNode *yaml.Node
		d.fields(item, ctx, map[string]field{
			"after": func(v *yaml.Node) {
				afterNode = d.resolve(v)
				d.duration(&step.After, ctx+": after")(v)
			},
			"skills": func(v *yaml.Node) {
				skillsNode = d.resolve(v)
				step.Skills = d.skillLevels(v, ctx, c.Skills)
			},
			"queue": func(v *yaml.Node) {
				s, ok := d.scalar(v, ctx+": queue")
				if !ok {
					return
				}
				queueNode = d.resolve(v)
				if s == q.Name {
					d.errorf(queueNode, "%s: queue %q is this queue; name another queue", ctx, s)
					return
				}
				step.Queue = s
				if q.Name != "" {
					d.links = append(d.links, queueLink{from: q.Name, to: s, what: fmt.Sprintf("escalation step #%d", i+1), pos: d.pos(queueNode)})
				}
			},
		})
		if item.Kind != yaml.MappingNode {
			continue
		}
		switch {
		case afterNode == nil:
			d.errorf(item, "%s: after is required (how long the call has waited, e.g. 2m)", ctx)
		case step.After > 0 && step.After <= prevAfter:
			d.errorf(afterNode, "%s: after (%s) must be later than the step before's (%s)", ctx, fmtDuration(step.After), fmtDuration(prevAfter))
		}
		prevAfter = max(prevAfter, step.After)
		switch {
		case skillsNode != nil && queueNode != nil:
			d.errorf(queueNode, "%s: give skills or queue, not both (make them two steps)", ctx)
		case skillsNode == nil && queueNode == nil:
			d.errorf(item, "%s: give skills (who else may take the call) or queue (where the call moves)", ctx)
		case skillsNode != nil && len(skillsNode.Content) == 0:
			d.errorf(skillsNode, "%s: skills must name at least one skill", ctx)
		case queueNode != nil && i < len(items)-1:
			d.errorf(queueNode, "%s: a queue step must be the last step (the call leaves this queue)", ctx)
		}
		steps = append(steps, step)
	}
	return steps
}

// queueLink is one way a call can move from one queue to another.
type queueLink struct {
	from, to string
	// what is the setting that moves it: "escalation step #2", "full_dest".
	what string
	pos  Pos
}

// queueLinks checks the queues and flows that queue settings name, and
// refuses loops: a call must not be able to move between queues forever.
func (d *decoder) queueLinks(c *Config) {
	queueNames := make([]string, len(c.Queues))
	for i, q := range c.Queues {
		queueNames[i] = q.Name
	}
	flowNames := make([]string, len(c.Flows))
	for i, f := range c.Flows {
		flowNames[i] = f.Name
	}
	for _, q := range c.Queues {
		for _, dest := range []struct {
			key  string
			dest Destination
		}{{"max_wait_dest", q.MaxWaitDest}, {"full_dest", q.FullDest}, {"closed_dest", q.ClosedDest}} {
			switch dest.dest.Kind {
			case DestQueue:
				if q.Name == "" {
					continue // the queue's name is wrong, reported already
				}
				d.links = append(d.links, queueLink{from: q.Name, to: dest.dest.Target, what: dest.key, pos: dest.dest.Pos})
			case DestFlow:
				if c.Flow(dest.dest.Target) == nil {
					d.errs.Add(dest.dest.Pos, "queue %q: %s: unknown flow %q%s", q.Name, dest.key, dest.dest.Target, hint(dest.dest.Target, flowNames, false))
				}
			case DestNone, DestCallback, DestBusy, DestHangup, DestVoicemail:
			}
		}
	}
	// Links in file order, so that a loop is reported where it closes.
	slices.SortStableFunc(d.links, func(a, b queueLink) int { return a.pos.compare(b.pos) })
	edges := map[string][]queueLink{}
	for _, l := range d.links {
		switch {
		case c.Queue(l.to) == nil:
			d.errs.Add(l.pos, "queue %q: %s: unknown queue %q%s", l.from, l.what, l.to, hint(l.to, queueNames, false))
		case l.from != l.to: // a link to itself is refused where it is read
			edges[l.from] = append(edges[l.from], l)
		}
	}
	// Depth-first search; a link to a queue still on the path closes a loop.
	const (
		unvisited = iota
		onPath
		done
	)
	state := map[string]int{}
	var path []queueLink
	var visit func(queue string)
	visit = func(queue string) {
		state[queue] = onPath
		for _, l := range edges[queue] {
			switch state[l.to] {
			case onPath:
				loop := []string{l.to}
				for _, p := range path[slices.IndexFunc(path, func(p queueLink) bool { return p.from == l.to }):] {
					loop = append(loop, fmt.Sprintf("%s (%s)", p.to, p.what))
				}
				loop = append(loop, fmt.Sprintf("%s (%s)", l.to, l.what))
				d.errs.Add(l.pos, "queue %q: %s: queue %q makes a loop: %s; a call could move between these queues forever",
					l.from, l.what, l.to, strings.Join(loop, " -> "))
			case unvisited:
				path = append(path, l)
				visit(l.to)
				path = path[:len(path)-1]
			}
		}
		state[queue] = done
	}
	for _, q := range c.Queues {
		if state[q.Name] == unvisited {
			visit(q.Name)
		}
	}
}

func (d *decoder) priorities(n *yaml.Node) []PriorityRule {
	var rules []PriorityRule
	seen := map[string]Pos{}
	for i, item := range d.items(n, "priorities") {
		name, ctx := d.name(item, "priority rule", i, "name", seen)
		r := PriorityRule{Name: name, Pos: d.pos(item)}
		var hasPriority, hasPatterns bool
		patterns := func(dst *[]string, key string) field {
			return func(v *yaml.Node) {
				for _, ref := range d.refs(v, ctx+": "+key) {
					hasPatterns = true
					if err := checkNumberPattern(ref.Name); err != nil {
						d.errs.Add(ref.Pos, "%s: %s: %v", ctx, key, err)
						continue
					}
					*dst = append(*dst, ref.Name)
				}
			}
		}
		d.fields(item, ctx, map[string]field{
			"name":    func(*yaml.Node) {},
			"callers": patterns(&r.Callers, "callers"),
			"called":  patterns(&r.Called, "called"),
			"priority": func(v *yaml.Node) {
				hasPriority = true
				d.integer(&r.Priority, ctx+": priority", MinPriority, MaxPriority)(v)
			},
		})
		if item.Kind != yaml.MappingNode {
			continue
		}
		if !hasPatterns {
			d.errorf(item, "%s: needs callers, called or both (the numbers it applies to)", ctx)
		}
		if !hasPriority {
			d.errorf(item, "%s: priority is required (%d to %d)", ctx, MinPriority, MaxPriority)
		}
		rules = append(rules, r)
	}
	return rules
}

func (d *decoder) dedicatedAgents(n *yaml.Node, c *Config) []DedicatedAgent {
	var out []DedicatedAgent
	seen := map[string]int{}
	agentIDs := make([]string, len(c.Agents))
	for i, a := range c.Agents {
		agentIDs[i] = a.ID
	}
	for i, item := range d.items(n, "dedicated_agents") {
		ctx := fmt.Sprintf("dedicated agent #%d", i+1)
		if v := d.lookup(item, "caller"); v != nil {
			ctx = fmt.Sprintf("dedicated agent for %q", v.Value)
		}
		da := DedicatedAgent{Wait: DefaultDedicatedWait, Pos: d.pos(item)}
		var hasCaller, hasAgent bool
		d.fields(item, ctx, map[string]field{
			"caller": func(v *yaml.Node) {
				hasCaller = true
				s, ok := d.scalar(v, ctx+": caller")
				if !ok {
					return
				}
				v = d.resolve(v)
				if err := checkNumberPattern(s); err != nil {
					d.errorf(v, "%s: caller: %v", ctx, err)
					return
				}
				if line, dup := seen[s]; dup {
					d.errorf(v, "duplicate dedicated agent for %q (first at line %d)", s, line)
					return
				}
				seen[s] = v.Line
				da.Caller = s
			},
			"agent": func(v *yaml.Node) {
				hasAgent = true
				s, ok := d.scalar(v, ctx+": agent")
				if !ok {
					return
				}
				if c.Agent(s) == nil {
					d.errorf(d.resolve(v), "%s: unknown agent %q%s", ctx, s, hint(s, agentIDs, false))
					return
				}
				da.Agent = s
			},
			"wait": d.durationIn(&da.Wait, ctx+": wait", 0, MaxDedicatedWait, ""),
		})
		if item.Kind != yaml.MappingNode {
			continue
		}
		if !hasCaller {
			d.errorf(item, "%s: caller is required (a number pattern: exact, \"555*\" or \"*\")", ctx)
		}
		if !hasAgent {
			d.errorf(item, "%s: agent is required (the agent's ID)", ctx)
		}
		out = append(out, da)
	}
	return out
}

// reasonCode is a not-ready reason's code: keyed in on a phone.
var reasonCode = regexp.MustCompile(`^[0-9]{1,3}$`)

func (d *decoder) agentStates(n *yaml.Node, as *AgentStates) {
	d.fields(n, "agent_states", map[string]field{
		"not_ready_reasons": func(v *yaml.Node) {
			as.NotReadyReasons = d.reasons(v)
			if v = d.resolve(v); v != nil && v.Kind == yaml.SequenceNode && len(v.Content) == 0 {
				d.errorf(v, "agent_states: not_ready_reasons: give at least one reason (or leave the key out for the defaults)")
			}
		},
		"missed_offers_before_not_ready": d.integer(&as.MissedBeforeNotReady, "agent_states: missed_offers_before_not_ready", 0, maxMissedOffers),
	})
}

func (d *decoder) reasons(n *yaml.Node) []Reason {
	var reasons []Reason
	names := map[string]int{}
	codes := map[string]int{}
	for i, item := range d.items(n, "agent_states: not_ready_reasons") {
		ctx := fmt.Sprintf("agent_states: reason #%d", i+1)
		r := Reason{Pos: d.pos(item)}
		if v := d.lookup(item, "name"); v != nil {
			ctx = fmt.Sprintf("agent_states: reason %q", v.Value)
			switch line, dup := names[v.Value]; {
			case !namePattern.MatchString(v.Value):
				d.errorf(v, "%s: invalid name (use letters, digits, _ and -, at most 64)", ctx)
			case v.Value == ReasonMissed:
				d.errorf(v, "%s: the name %q is reserved: the ACD gives it after missed offers (see missed_offers_before_not_ready)", ctx, ReasonMissed)
			case dup:
				d.errorf(v, "agent_states: duplicate reason %q (first at line %d)", v.Value, line)
			default:
				names[v.Value] = v.Line
				r.Name = v.Value
			}
		} else if item.Kind == yaml.MappingNode {
			d.errorf(item, "%s: name is required", ctx)
		}
		var hasCode bool
		d.fields(item, ctx, map[string]field{
			"name": func(*yaml.Node) {},
			"code": func(v *yaml.Node) {
				hasCode = true
				s, ok := d.scalar(v, ctx+": code")
				if !ok {
					return
				}
				v = d.resolve(v)
				switch line, dup := codes[s]; {
				case !reasonCode.MatchString(s):
					d.errorf(v, "%s: code must be 1 to 3 digits (agents key it in on their phone)", ctx)
				case dup:
					d.errorf(v, "%s: code %q is taken (first at line %d)", ctx, s, line)
				default:
					codes[s] = v.Line
					r.Code = s
				}
			},
		})
		if !hasCode && item.Kind == yaml.MappingNode {
			d.errorf(item, "%s: code is required (1 to 3 digits)", ctx)
		}
		reasons = append(reasons, r)
	}
	return reasons
}

// featureCode is what a phone dials to change an agent's state.
var featureCode = regexp.MustCompile(`^\*[0-9]{1,4}$`)

func (d *decoder) featureCodes(n *yaml.Node, fc *FeatureCodes) {
	codes := []struct {
		key  string
		dst  *string
		node *yaml.Node
		// bad is set when the file gives a code that is refused.
		bad bool
	}{{key: "login", dst: &fc.Login}, {key: "ready", dst: &fc.Ready}, {key: "not_ready", dst: &fc.NotReady}, {key: "logout", dst: &fc.Logout},
		{key: "listen", dst: &fc.Listen}, {key: "whisper", dst: &fc.Whisper}, {key: "barge", dst: &fc.Barge},
		{key: "disposition", dst: &fc.Disposition}}
	known := map[string]field{}
	for i := range codes {
		code := &codes[i]
		known[code.key] = func(v *yaml.Node) {
			ctx := "feature_codes." + code.key
			code.bad = true
			s, ok := d.scalar(v, ctx)
			if !ok {
				return
			}
			v = d.resolve(v)
			if !featureCode.MatchString(s) {
				d.errorf(v, "%s: must be * and 1 to 4 digits, e.g. \"*20\" (quote it), got %q", ctx, s)
				return
			}
			code.bad = false
			*code.dst, code.node = s, v
		}
	}
	d.fields(n, "feature_codes", known)
	// Phones send a number when it is complete, so a code that begins
	// another could never be dialed (or would shadow it).
	for i, a := range codes {
		for _, b := range codes[i+1:] {
			if a.node == nil && b.node == nil || a.bad || b.bad {
				continue // both defaults, or reported already
			}
			// Report at whichever is written later in the file.
			at := b.node
			if at == nil || a.node != nil && (a.node.Line > at.Line || a.node.Line == at.Line && a.node.Column > at.Column) {
				at = a.node
			}
			isDefault := ""
			switch {
			case a.node == nil:
				isDefault = fmt.Sprintf(" (the default for %s)", a.key)
			case b.node == nil:
				isDefault = fmt.Sprintf(" (the default for %s)", b.key)
			}
			switch {
			case *a.dst == *b.dst:
				d.errorf(at, "feature_codes: %s and %s are both %q%s", a.key, b.key, *a.dst, isDefault)
			case strings.HasPrefix(*b.dst, *a.dst):
				d.errorf(at, "feature_codes: %s %q is the start of %s %q; one of them could never be dialed%s", a.key, *a.dst, b.key, *b.dst, isDefault)
			case strings.HasPrefix(*a.dst, *b.dst):
				d.errorf(at, "feature_codes: %s %q is the start of %s %q; one of them could never be dialed%s", b.key, *b.dst, a.key, *a.dst, isDefault)
			}
		}
	}
}

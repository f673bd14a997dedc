package ivr

import (
	"fmt"
	"io"
	"strconv"
	"strings"

	"github.com/hotline-cc/hotline/config"
)

// WriteDOT writes the flow as a Graphviz digraph (`dot -Tsvg`): one box
// per node with its kind and what it plays or where it queues, one arrow
// per way out labelled with what takes the caller there.
func (g *Graph) WriteDOT(w io.Writer) error {
	var b strings.Builder
	fmt.Fprintf(&b, "digraph %s {\n", strconv.Quote(g.name))
	b.WriteString("  rankdir=LR;\n  node [shape=box, fontname=\"Helvetica\"];\n  edge [fontname=\"Helvetica\"];\n")
	// The start and hang-up marks have ids no node name can take (names
	// are letters, digits, _ and -).
	b.WriteString("  \"(start)\" [shape=circle, label=\"\", width=0.2, style=filled, fillcolor=black];\n")
	b.WriteString("  \"(hang up)\" [shape=doublecircle, label=\"hang up\"];\n")
	fmt.Fprintf(&b, "  \"(start)\" -> %s;\n", strconv.Quote(g.nodes[g.start-1].name))
	for _, n := range g.nodes {
		shape := "box"
		switch n.kind {
		case config.NodeQueue:
			shape = "ellipse"
		case config.NodeHangup:
			shape = "octagon"
		case config.NodeMenu:
			shape = "diamond"
		}
		fmt.Fprintf(&b, "  %s [shape=%s, label=%s];\n", strconv.Quote(n.name), shape, strconv.Quote(n.name+"\n"+describeNode(n)))
	}
	for _, n := range g.nodes {
		for _, e := range n.behavior.edges() {
			attr := ""
			if e.label != "" {
				attr = " [label=" + strconv.Quote(e.label) + "]"
			}
			fmt.Fprintf(&b, "  %s -> %s%s;\n", strconv.Quote(n.name), strconv.Quote(g.targetName(e.to)), attr)
		}
		if n.kind == config.NodeHangup {
			fmt.Fprintf(&b, "  %s -> \"(hang up)\";\n", strconv.Quote(n.name))
		}
	}
	b.WriteString("}\n")
	_, err := io.WriteString(w, b.String())
	return err
}

// WriteMermaid writes the flow as a Mermaid flowchart, which GitHub and
// many wikis draw from a ```mermaid block.
func (g *Graph) WriteMermaid(w io.Writer) error {
	var b strings.Builder
	b.WriteString("flowchart LR\n")
	// Mermaid ids are the node numbers: names may hold characters (-)
	// Mermaid reads as syntax.
	ids := make(map[string]string, len(g.nodes))
	for i, n := range g.nodes {
		ids[n.name] = "n" + strconv.Itoa(i+1)
	}
	id := func(name string) string { return ids[name] }
	b.WriteString("  start_((start)) --> " + id(g.nodes[g.start-1].name) + "\n")
	for _, n := range g.nodes {
		open, close := "[", "]"
		switch n.kind {
		case config.NodeQueue:
			open, close = "([", "])"
		case config.NodeMenu:
			open, close = "{", "}"
		case config.NodeHangup:
			open, close = "[[", "]]"
		}
		fmt.Fprintf(&b, "  %s%s\"%s<br/>%s\"%s\n", id(n.name), open, mermaidText(n.name), mermaidText(describeNode(n)), close)
	}
	for _, n := range g.nodes {
		for _, e := range n.behavior.edges() {
			to := "hangup_((hang up))"
			if e.to != 0 {
				to = id(g.nodes[e.to-1].name)
			}
			if e.label != "" {
				fmt.Fprintf(&b, "  %s -->|%s| %s\n", id(n.name), mermaidText(e.label), to)
			} else {
				fmt.Fprintf(&b, "  %s --> %s\n", id(n.name), to)
			}
		}
		if n.kind == config.NodeHangup {
			fmt.Fprintf(&b, "  %s --> hangup_((hang up))\n", id(n.name))
		}
	}
	_, err := io.WriteString(w, b.String())
	return err
}

func (g *Graph) targetName(id NodeID) string {
	if id == 0 {
		return "(hang up)"
	}
	return g.nodes[id-1].name
}

// describeNode is a node's kind and its main setting, for pictures.
func describeNode(n node) string {
	switch b := n.behavior.(type) {
	case menuNode:
		return "menu: " + strings.Join(b.prompts, ", ")
	case playNode:
		return "play: " + strings.Join(b.prompts, ", ")
	case queueNode:
		s := "queue " + b.how.Queue
		if b.how.HasPriority {
			s += fmt.Sprintf(", priority %d", b.how.Priority)
		}
		if len(b.how.Tags) > 0 {
			s += ", tags " + strings.Join(b.how.Tags, " ")
		}
		if b.how.Agent != "" {
			s += ", agent " + b.how.Agent
		}
		return s
	case hangupNode:
		if len(b.prompts) > 0 {
			return "hang up after " + strings.Join(b.prompts, ", ")
		}
		return "hang up"
	case gotoNode:
		return "goto"
	case endNode:
		return describeEnd(b.action)
	}
	return n.kind.String()
}

// mermaidText escapes what Mermaid reads inside a quoted label.
func mermaidText(s string) string {
	return strings.NewReplacer("#", "#35;", `"`, "#quot;", "<", "#lt;", ">", "#gt;", "|", "#124;").Replace(s)
}

package config

import (
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"

	"gopkg.in/yaml.v3"
)

// maxAliasExpansions bounds how many times aliases are followed in one file.
// YAML anchors can make a small file expand into an enormous tree ("billion
// laughs"); a hand-written config never needs more than a handful.
const maxAliasExpansions = 1000

// decoder walks yaml.Nodes, collecting every problem instead of stopping at
// the first.
type decoder struct {
	file    string
	errs    Errors
	aliases int
	// links are the ways calls move between queues, checked once every
	// queue is known.
	links []queueLink
	// agentIDs are the agents decoded so far, for references to them.
	agentIDs []string
	// calendars are the calendars decoded so far (before the flows).
	knownCalendars []Calendar
}

func (d *decoder) pos(n *yaml.Node) Pos {
	return Pos{File: d.file, Line: n.Line, Col: n.Column}
}

func (d *decoder) errorf(n *yaml.Node, format string, args ...any) {
	d.errs.Add(d.pos(n), format, args...)
}

// resolve follows aliases to the node they stand for; nil means the alias
// budget is spent (already reported).
func (d *decoder) resolve(n *yaml.Node) *yaml.Node {
	for n != nil && n.Kind == yaml.AliasNode {
		d.aliases++
		if d.aliases == maxAliasExpansions+1 {
			d.errorf(n, "too many alias expansions (more than %d); is an anchor used recursively?", maxAliasExpansions)
		}
		if d.aliases > maxAliasExpansions {
			return nil
		}
		n = n.Alias
	}
	return n
}

func isNull(n *yaml.Node) bool {
	return n.Kind == yaml.ScalarNode && n.ShortTag() == "!!null"
}

// describe names what a node is, for "expected X, got Y" messages.
func describe(n *yaml.Node) string {
	switch n.Kind {
	case yaml.MappingNode:
		return "a mapping"
	case yaml.SequenceNode:
		return "a list"
	case yaml.ScalarNode:
		switch n.ShortTag() {
		case "!!null":
			return "nothing"
		case "!!int", "!!float":
			return "the number " + n.Value
		case "!!bool":
			return "the boolean " + n.Value
		}
		return strconv.Quote(n.Value)
	case yaml.DocumentNode:
		return "a document"
	case yaml.AliasNode:
		return "an alias"
	}
	return "an unknown YAML node"
}

// field decodes the value of one mapping key.
type field func(value *yaml.Node)

// fields decodes a mapping whose keys must all be in known; it reports
// unknown and duplicate keys and skips their values. A null value is an
// empty mapping, so "sip:" on its own means "all defaults".
func (d *decoder) fields(n *yaml.Node, ctx string, known map[string]field) {
	for key, value := range d.pairs(n, ctx) {
		decode, ok := known[key.Value]
		if !ok {
			names := make([]string, 0, len(known))
			for name := range known {
				names = append(names, name)
			}
			d.errorf(key, "%sunknown key %q%s", prefix(ctx), key.Value, hint(key.Value, names, true))
			continue
		}
		decode(value)
	}
}

// pairs yields the keys and values of a mapping in file order, reporting
// non-mappings, non-scalar keys and duplicate keys (yaml.v3 keeps both
// copies of a duplicate in a Node, so the check is ours).
func (d *decoder) pairs(n *yaml.Node, ctx string) func(yield func(key, value *yaml.Node) bool) {
	return func(yield func(key, value *yaml.Node) bool) {
		n = d.resolve(n)
		if n == nil || isNull(n) {
			return
		}
		if n.Kind != yaml.MappingNode {
			d.errorf(n, "%sexpected a mapping, got %s", prefix(ctx), describe(n))
			return
		}
		seen := make(map[string]*yaml.Node, len(n.Content)/2)
		for i := 0; i+1 < len(n.Content); i += 2 {
			key, value := d.resolve(n.Content[i]), d.resolve(n.Content[i+1])
			if key == nil || value == nil {
				continue
			}
			if key.Kind != yaml.ScalarNode {
				d.errorf(key, "%sexpected a key, got %s", prefix(ctx), describe(key))
				continue
			}
			if key.Value == "<<" && key.ShortTag() == "!!merge" {
				d.errorf(key, "%smerge keys (<<) are not supported; repeat the settings", prefix(ctx))
				continue
			}
			if first, dup := seen[key.Value]; dup {
				d.errorf(key, "%sduplicate key %q (first at line %d)", prefix(ctx), key.Value, first.Line)
				continue
			}
			seen[key.Value] = key
			if !yield(key, value) {
				return
			}
		}
	}
}

// items yields the elements of a list; null is an empty list.
func (d *decoder) items(n *yaml.Node, ctx string) []*yaml.Node {
	n = d.resolve(n)
	if n == nil || isNull(n) {
		return nil
	}
	if n.Kind != yaml.SequenceNode {
		d.errorf(n, "%sexpected a list, got %s", prefix(ctx), describe(n))
		return nil
	}
	var out []*yaml.Node
	for _, item := range n.Content {
		if item = d.resolve(item); item != nil {
			out = append(out, item)
		}
	}
	return out
}

// scalar returns the text of a non-null scalar. Any scalar tag is accepted
// because YAML reads "1001" as a number and "on" may be meant as text; the
// source text is kept as written.
func (d *decoder) scalar(n *yaml.Node, ctx string) (string, bool) {
	n = d.resolve(n)
	if n == nil {
		return "", false
	}
	if n.Kind != yaml.ScalarNode || isNull(n) {
		d.errorf(n, "%sexpected a string, got %s", prefix(ctx), describe(n))
		return "", false
	}
	return n.Value, true
}

// str stores a scalar's text in dst.
func (d *decoder) str(dst *string, ctx string) field {
	return func(n *yaml.Node) {
		if s, ok := d.scalar(n, ctx); ok {
			*dst = s
		}
	}
}

// ref stores a name and where it was written.
func (d *decoder) ref(dst *Ref, ctx string) field {
	return func(n *yaml.Node) {
		if s, ok := d.scalar(n, ctx); ok {
			*dst = Ref{Name: s, Pos: d.pos(d.resolve(n))}
		}
	}
}

// refs reads one name or a list of names.
func (d *decoder) refs(n *yaml.Node, ctx string) []Ref {
	n = d.resolve(n)
	if n == nil {
		return nil
	}
	if n.Kind == yaml.ScalarNode && !isNull(n) {
		return []Ref{{Name: n.Value, Pos: d.pos(n)}}
	}
	if n.Kind != yaml.SequenceNode {
		d.errorf(n, "%sexpected a name or a list of names, got %s", prefix(ctx), describe(n))
		return nil
	}
	var out []Ref
	for _, item := range d.items(n, ctx) {
		if s, ok := d.scalar(item, ctx); ok {
			out = append(out, Ref{Name: s, Pos: d.pos(item)})
		}
	}
	return out
}

// duration reads a positive Go duration such as "5s" or "1m30s".
func (d *decoder) duration(dst *Duration, ctx string) field {
	return d.durationIn(dst, ctx, 0, 0, "")
}

// durationIn reads a duration of at least lo and, when hi > 0, at most hi.
// zero says what 0 means for the key ("off", "no limit"); empty means 0 is
// refused like any duration below lo.
func (d *decoder) durationIn(dst *Duration, ctx string, lo, hi Duration, zero string) field {
	return func(n *yaml.Node) {
		s, ok := d.scalar(n, ctx)
		if !ok {
			return
		}
		n = d.resolve(n)
		v, err := time.ParseDuration(s)
		orZero := ""
		if zero != "" {
			orZero = " (or 0s for " + zero + ")"
		}
		switch {
		case err != nil && isNumber(s):
			d.errorf(n, "%sduration %q needs a unit, e.g. \"%ss\"", prefix(ctx), s, s)
		case err != nil:
			d.errorf(n, "%sinvalid duration %q (use a number and a unit: 500ms, 5s, 1m30s)", prefix(ctx), s)
		case zero == "" && v <= 0 && lo > 0:
			d.errorf(n, "%smust be at least %s, got %q", prefix(ctx), fmtDuration(lo), s)
		case zero == "" && v <= 0:
			d.errorf(n, "%sduration must be more than zero, got %q", prefix(ctx), s)
		case v < 0:
			d.errorf(n, "%sduration must not be negative, got %q", prefix(ctx), s)
		case v == 0:
			*dst = 0
		case v < lo:
			d.errorf(n, "%smust be at least %s%s, got %q", prefix(ctx), fmtDuration(lo), orZero, s)
		case hi > 0 && v > hi:
			d.errorf(n, "%smust be at most %s, got %q", prefix(ctx), fmtDuration(hi), s)
		default:
			*dst = v
		}
	}
}

// fmtDuration writes a duration the way a person would in the file: "10m",
// not "10m0s".
func fmtDuration(v Duration) string {
	s := v.String()
	if strings.HasSuffix(s, "m0s") {
		s = s[:len(s)-2]
	}
	if strings.HasSuffix(s, "h0m") {
		s = s[:len(s)-2]
	}
	return s
}

func isNumber(s string) bool {
	_, err := strconv.ParseFloat(s, 64)
	return err == nil
}

// integer reads a whole number in [lo, hi].
func (d *decoder) integer(dst *int, ctx string, lo, hi int) field {
	return func(n *yaml.Node) {
		s, ok := d.scalar(n, ctx)
		if !ok {
			return
		}
		n = d.resolve(n)
		v, err := strconv.Atoi(s)
		switch {
		case err != nil:
			d.errorf(n, "%sexpected a whole number, got %s", prefix(ctx), describe(n))
		case v < lo || v > hi:
			d.errorf(n, "%smust be between %d and %d, got %d", prefix(ctx), lo, hi, v)
		default:
			*dst = v
		}
	}
}

// number reads a decimal number in [lo, hi]; a trailing "%" is allowed when
// percent is set.
func (d *decoder) number(dst *float64, ctx string, lo, hi float64, percent bool) field {
	return func(n *yaml.Node) {
		s, ok := d.scalar(n, ctx)
		if !ok {
			return
		}
		n = d.resolve(n)
		if percent {
			s = strings.TrimSpace(strings.TrimSuffix(s, "%"))
		}
		v, err := strconv.ParseFloat(s, 64)
		switch {
		case err != nil || math.IsNaN(v) || math.IsInf(v, 0):
			d.errorf(n, "%sexpected a number, got %s", prefix(ctx), describe(n))
		case v < lo || v > hi:
			d.errorf(n, "%smust be between %g and %g, got %g", prefix(ctx), lo, hi, v)
		default:
			*dst = v
		}
	}
}

// boolean reads true or false. Quoted "true" and YAML 1.1's yes/no/on/off
// are refused: they are strings to yaml.v3, and the intent is unclear.
func (d *decoder) boolean(dst *bool, ctx string) field {
	return func(n *yaml.Node) {
		s, ok := d.scalar(n, ctx)
		if !ok {
			return
		}
		n = d.resolve(n)
		v, err := strconv.ParseBool(strings.ToLower(s))
		if n.ShortTag() != "!!bool" || err != nil {
			d.errorf(n, "%sexpected true or false, got %s", prefix(ctx), describe(n))
			return
		}
		*dst = v
	}
}

// lookup returns the value of key in a mapping without reporting anything;
// list elements use it to learn their name before decoding, so that every
// message about them can say which one it is.
func (d *decoder) lookup(n *yaml.Node, key string) *yaml.Node {
	if n == nil || n.Kind != yaml.MappingNode {
		return nil
	}
	for i := 0; i+1 < len(n.Content); i += 2 {
		if k := n.Content[i]; k.Kind == yaml.ScalarNode && k.Value == key {
			v := n.Content[i+1]
			if v.Kind == yaml.AliasNode {
				v = v.Alias
			}
			if v != nil && v.Kind == yaml.ScalarNode && !isNull(v) {
				return v
			}
			return nil
		}
	}
	return nil
}

func prefix(ctx string) string {
	if ctx == "" {
		return ""
	}
	return ctx + ": "
}

// printable quotes a name that holds control characters, so that an error
// message stays on one line.
func printable(name string) string {
	if strings.ContainsFunc(name, func(r rune) bool { return r < 0x20 || r == 0x7f }) {
		return strconv.Quote(name)
	}
	return name
}

// hint suggests what was meant by an unknown name: the whole list when it is
// short, otherwise the closest known name. For keys (always), a long list is
// still given in full when no name is close.
func hint(name string, known []string, always bool) string {
	if len(known) == 0 {
		return ""
	}
	sorted := slices.Clone(known)
	slices.Sort(sorted)
	sorted = slices.Compact(sorted)
	shown := make([]string, len(sorted))
	for i, k := range sorted {
		shown[i] = printable(k)
	}
	all := " (known: " + strings.Join(shown, ", ") + ")"
	if len(sorted) <= 10 {
		return all
	}
	best, bestDist := "", len(name)/2+1
	for _, k := range sorted {
		if dist := editDistance(name, k); dist < bestDist {
			best, bestDist = k, dist
		}
	}
	switch {
	case best != "":
		return fmt.Sprintf(" (did you mean %q?)", best)
	case always:
		return all
	}
	return ""
}

// editDistance is the Levenshtein distance between a and b, in bytes.
func editDistance(a, b string) int {
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}

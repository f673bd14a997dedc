package config

import (
	"cmp"
	"fmt"
	"slices"
	"strings"
)

// Pos is a place in a configuration file. Line and Col count from 1; zero
// means unknown (YAML syntax errors, for instance, carry a line but no column).
type Pos struct {
	File string
	Line int
	Col  int
}

// String formats the position the way compilers and editors expect:
// "file:line:col", dropping the parts that are unknown.
func (p Pos) String() string {
	s := p.File
	if s == "" {
		s = "-"
	}
	if p.Line > 0 {
		s += fmt.Sprintf(":%d", p.Line)
		if p.Col > 0 {
			s += fmt.Sprintf(":%d", p.Col)
		}
	}
	return s
}

// IsValid reports whether the position names a line.
func (p Pos) IsValid() bool { return p.Line > 0 }

// compare orders positions by file, line and column.
func (p Pos) compare(q Pos) int {
	return cmp.Or(
		cmp.Compare(p.File, q.File),
		cmp.Compare(p.Line, q.Line),
		cmp.Compare(p.Col, q.Col),
	)
}

// Error is one problem found in a configuration, with where it is.
type Error struct {
	Pos Pos
	Msg string
}

func (e Error) Error() string { return e.Pos.String() + ": " + e.Msg }

// Errors is every problem found in a configuration. Parse and Load return
// it (never a bare Error) so that an admin fixes all problems in one pass.
type Errors []Error

// Error lists the problems one per line, sorted by position.
func (es Errors) Error() string {
	sorted := slices.Clone(es)
	sorted.Sort()
	lines := make([]string, len(sorted))
	for i, e := range sorted {
		lines[i] = e.Error()
	}
	return strings.Join(lines, "\n")
}

// Sort orders the problems by position, keeping the order of problems
// found at the same place.
func (es Errors) Sort() {
	slices.SortStableFunc(es, func(a, b Error) int { return a.Pos.compare(b.Pos) })
}

// Add appends a problem at pos. A message stays on one line whatever the
// file held (a pattern or a name with a line break in it): one problem is
// one `file:line:col: message` line for editors and scripts.
func (es *Errors) Add(pos Pos, format string, args ...any) {
	msg := strings.Map(func(r rune) rune {
		if r < 0x20 || r == 0x7f {
			return '?'
		}
		return r
	}, fmt.Sprintf(format, args...))
	*es = append(*es, Error{Pos: pos, Msg: msg})
}

// Err returns es as an error, or nil when there are no problems; it keeps a
// nil Errors from turning into a non-nil error interface.
func (es Errors) Err() error {
	if len(es) == 0 {
		return nil
	}
	sorted := slices.Clone(es)
	sorted.Sort()
	return sorted
}

package config

import (
	"fmt"
	"strings"
)

// Template is text with ${name} references to call variables: an HTTP data
// dip's URL and body, a say node's value, a transfer's number. It is parsed
// once when the configuration loads; Expand fills it in for one call.
type Template struct {
	// Text is the template as written.
	Text  string
	parts []templatePart
}

// templatePart is a literal, or (isVar) the name of a variable.
type templatePart struct {
	text  string
	isVar bool
}

// ParseTemplate reads text with ${name} references; "$$" writes one "$".
// Names follow the variable rules (letters, digits, _ and -).
func ParseTemplate(text string) (Template, error) {
	t := Template{Text: text}
	var lit strings.Builder
	for i := 0; i < len(text); i++ {
		ch := text[i]
		if ch != '$' {
			lit.WriteByte(ch)
			continue
		}
		switch {
		case i+1 < len(text) && text[i+1] == '$':
			lit.WriteByte('$')
			i++
		case i+1 < len(text) && text[i+1] == '{':
			end := strings.IndexByte(text[i+2:], '}')
			if end < 0 {
				return Template{}, fmt.Errorf("unclosed ${ at byte %d of %q", i, text)
			}
			name := text[i+2 : i+2+end]
			if !namePattern.MatchString(name) {
				return Template{}, fmt.Errorf("invalid variable name %q in %q (use letters, digits, _ and -)", name, text)
			}
			if lit.Len() > 0 {
				t.parts = append(t.parts, templatePart{text: lit.String()})
				lit.Reset()
			}
			t.parts = append(t.parts, templatePart{text: name, isVar: true})
			i += 2 + end
		default:
			return Template{}, fmt.Errorf("lone $ at byte %d of %q (write ${name} for a variable, $$ for a dollar sign)", i, text)
		}
	}
	if lit.Len() > 0 {
		t.parts = append(t.parts, templatePart{text: lit.String()})
	}
	return t, nil
}

// Expand fills the template in: each variable's value, passed through
// escape (nil: as it is); a variable without a value is empty.
func (t Template) Expand(vars map[string]string, escape func(string) string) string {
	var b strings.Builder
	for _, p := range t.parts {
		switch {
		case !p.isVar:
			b.WriteString(p.text)
		case escape != nil:
			b.WriteString(escape(vars[p.text]))
		default:
			b.WriteString(vars[p.text])
		}
	}
	return b.String()
}

// Vars lists the variables the template reads, in order.
func (t Template) Vars() []string {
	var out []string
	for _, p := range t.parts {
		if p.isVar {
			out = append(out, p.text)
		}
	}
	return out
}

// Literal reports whether the template has no variables: its Text is its
// value.
func (t Template) Literal() bool { return len(t.Vars()) == 0 }

// literalPrefix is the text before the first variable.
func (t Template) literalPrefix() string {
	if len(t.parts) == 0 || t.parts[0].isVar {
		return ""
	}
	return t.parts[0].text
}

// GoString prints the template as written, for flow versions.
func (t Template) GoString() string { return fmt.Sprintf("%q", t.Text) }

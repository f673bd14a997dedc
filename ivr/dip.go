package ivr

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/hotline-cc/hotline/config"
)

// maxVarLength bounds a variable copied from a web service's answer: call
// variables go into logs, CDRs and prompts, not whole documents.
const maxVarLength = 1024

// MaxFetchBody bounds the answer the owner reads for a Fetch.
const MaxFetchBody = 64 << 10

// httpNode asks a web service about the call and continues by its answer.
type httpNode struct {
	name        string
	method      string
	url, body   config.Template
	contentType string
	headers     []config.HTTPHeader
	timeout     time.Duration
	vars        []config.HTTPVar
	next        NodeID
	fallback    NodeID
}

func (h httpNode) enter(r *Run, now time.Time) []Action {
	r.fetchSeq++
	r.deadline = now.Add(h.timeout)
	f := Fetch{
		Seq:     r.fetchSeq,
		Node:    h.name,
		Method:  h.method,
		URL:     h.url.Expand(r.vars, escapeURLValue),
		Timeout: h.timeout,
	}
	if h.body.Text != "" {
		escape := escapeJSONValue
		if !strings.Contains(h.contentType, "json") {
			escape = escapeURLValue
		}
		f.Body = []byte(h.body.Expand(r.vars, escape))
		f.ContentType = h.contentType
	}
	for _, hd := range h.headers {
		f.Headers = append(f.Headers, [2]string{hd.Name, hd.Value.Expand(r.vars, stripControl)})
	}
	return []Action{f}
}

func (h httpNode) handle(r *Run, ev Event, now time.Time) []Action {
	switch e := ev.(type) {
	case EventFetched:
		if e.Seq != r.fetchSeq || r.deadline.IsZero() {
			return nil // an answer that came after its timeout
		}
		r.deadline = time.Time{}
		if e.Err != nil {
			r.vars["http_status"] = "error"
			return append([]Action{Note{Text: fmt.Sprintf("data dip %s failed: %v", h.name, e.Err)}}, r.enter(h.fallback, now)...)
		}
		r.vars["http_status"] = strconv.Itoa(e.Status)
		if e.Status < 200 || e.Status > 299 {
			return append([]Action{Note{Text: fmt.Sprintf("data dip %s answered %d", h.name, e.Status)}}, r.enter(h.fallback, now)...)
		}
		if len(h.vars) > 0 {
			if err := h.copyVars(r, e.Body); err != nil {
				return append([]Action{Note{Text: fmt.Sprintf("data dip %s: %v", h.name, err)}}, r.enter(h.fallback, now)...)
			}
		}
		return r.enter(h.next, now)
	case EventTimeout:
		r.vars["http_status"] = "timeout"
		return append([]Action{Note{Text: fmt.Sprintf("data dip %s timed out after %s", h.name, h.timeout)}}, r.enter(h.fallback, now)...)
	}
	return nil
}

// copyVars sets the node's variables from a JSON answer. A field that is
// missing leaves its variable as it was; an answer that is not JSON is an
// error.
func (h httpNode) copyVars(r *Run, body []byte) error {
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	var doc any
	if err := dec.Decode(&doc); err != nil {
		return fmt.Errorf("answer is not JSON: %v", err)
	}
	for _, v := range h.vars {
		value, ok := jsonPath(doc, v.Path)
		if !ok {
			continue
		}
		if len(value) > maxVarLength {
			value = value[:maxVarLength]
		}
		r.vars[v.Name] = value
	}
	return nil
}

// jsonPath finds the value at a dot-separated path of keys and array
// indexes and prints it as a variable: strings as they are, numbers and
// booleans as written, null as empty, objects and arrays as JSON.
func jsonPath(doc any, path string) (string, bool) {
	cur := doc
	for key := range strings.SplitSeq(path, ".") {
		switch node := cur.(type) {
		case map[string]any:
			next, ok := node[key]
			if !ok {
				return "", false
			}
			cur = next
		case []any:
			i, err := strconv.Atoi(key)
			if err != nil || i < 0 || i >= len(node) {
				return "", false
			}
			cur = node[i]
		default:
			return "", false
		}
	}
	switch v := cur.(type) {
	case string:
		return stripControl(v), true
	case json.Number:
		return v.String(), true
	case bool:
		return strconv.FormatBool(v), true
	case nil:
		return "", true
	}
	b, err := json.Marshal(cur)
	if err != nil {
		return "", false
	}
	return string(b), true
}

func (h httpNode) edges() []edge {
	return []edge{{label: "ok", to: h.next}, {label: "fallback", to: h.fallback}}
}

// waitsForCaller is false: a loop through a data dip would hammer the
// service without the caller doing anything.
func (httpNode) waitsForCaller() bool { return false }

// escapeURLValue percent-encodes everything but RFC 3986's unreserved
// characters, so that a value can neither end a path segment nor add a
// query parameter, wherever the template puts it.
func escapeURLValue(s string) string {
	const hex = "0123456789ABCDEF"
	var b strings.Builder
	for i := range len(s) {
		ch := s[i]
		if ch >= 'A' && ch <= 'Z' || ch >= 'a' && ch <= 'z' || ch >= '0' && ch <= '9' || ch == '-' || ch == '.' || ch == '_' || ch == '~' {
			b.WriteByte(ch)
			continue
		}
		b.WriteByte('%')
		b.WriteByte(hex[ch>>4])
		b.WriteByte(hex[ch&15])
	}
	return b.String()
}

// escapeJSONValue escapes a value for the inside of a JSON string.
func escapeJSONValue(s string) string {
	b, _ := json.Marshal(s) // a string always marshals
	return string(b[1 : len(b)-1])
}

// stripControl drops control characters (CR, LF, NUL...), so that no value
// can split a header or a log line.
func stripControl(s string) string {
	if !strings.ContainsFunc(s, isControl) {
		return s
	}
	return strings.Map(func(r rune) rune {
		if isControl(r) {
			return -1
		}
		return r
	}, s)
}

func isControl(r rune) bool { return r < 0x20 || r == 0x7f }

package api

import (
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/hotline-cc/hotline/store"
)

// RecordingJSON is a call with a recording, as the recording search lists
// it: the CDR and what QA keeps about the recording.
type RecordingJSON struct {
	CallJSON
	// Disposition is the agent's wrap-up code; LegalHold keeps the
	// recording from retention.
	Disposition string `json:"disposition,omitempty"`
	LegalHold   bool   `json:"legal_hold"`
}

// recordingSearchParams are the parameters of the recording search; any
// other is refused, so that a misspelt filter cannot silently list every
// recording.
var recordingSearchParams = []string{"business_type", "queue", "agent", "caller", "disposition", "flow_version",
	"result", "from", "to", "min_duration", "max_duration", "min_talk", "max_talk", "min_score", "max_score",
	"legal_hold", "limit", "cursor"}

// searchRecordings is GET /api/v1/recordings?business_type=&queue=&agent=&...:
// the calls with a recording that match every filter given, newest first,
// a page at a time. Admin, supervisor and qa tokens search every call; an
// agent token only the agent's own calls.
func (a *api) searchRecordings(w http.ResponseWriter, r *http.Request) {
	p := params{values: r.URL.Query()}
	p.only(recordingSearchParams)
	q := store.RecordingQuery{
		BusinessType: p.text("business_type"), Queue: p.text("queue"), AgentID: p.text("agent"),
		Caller: p.text("caller"), Disposition: p.text("disposition"), FlowVersion: p.text("flow_version"),
		Result: p.text("result"), From: p.time("from"), To: p.time("to"),
		MinDuration: p.duration("min_duration"), MaxDuration: p.duration("max_duration"),
		MinTalk: p.duration("min_talk"), MaxTalk: p.duration("max_talk"),
		MinScore: p.score("min_score"), MaxScore: p.score("max_score"),
		LegalHold: p.boolean("legal_hold"), Limit: p.limit("limit", store.DefaultRecordingLimit, store.MaxRecordingLimit),
		Cursor: p.text("cursor"),
	}
	p.ordered("from", !q.From.IsZero() && !q.To.IsZero() && !q.From.Before(q.To), "to")
	p.ordered("min_duration", q.MaxDuration > 0 && q.MinDuration > q.MaxDuration, "max_duration")
	p.ordered("min_talk", q.MaxTalk > 0 && q.MinTalk > q.MaxTalk, "max_talk")
	p.ordered("min_score", q.MinScore != nil && q.MaxScore != nil && *q.MinScore > *q.MaxScore, "max_score")
	if p.failed(w) {
		return
	}
	if !scopeToAgent(w, who(r), &q.AgentID) {
		return
	}
	calls, next, err := a.Store.SearchRecordings(r.Context(), q)
	if errors.Is(err, store.ErrBadCursor) {
		writeError(w, http.StatusBadRequest, "cursor is not one this API returned; start again without it")
		return
	}
	if err != nil {
		a.serverError(w, r, err)
		return
	}
	out := make([]RecordingJSON, 0, len(calls))
	for _, c := range calls {
		out = append(out, RecordingJSON{CallJSON: toJSON(c), Disposition: c.Disposition, LegalHold: c.LegalHold})
	}
	var nextCursor *string
	if next != "" {
		nextCursor = &next
	}
	writeJSON(w, http.StatusOK, map[string]any{"recordings": out, "next_cursor": nextCursor})
}

// scopeToAgent narrows a search to the calls p may see, as listing calls
// does: reviewers see every call; any other token only the calls of the
// agent whose ID is its name, so agentID becomes that (asking for another
// agent's is refused with 403). It writes the error and returns false when
// it refuses.
func scopeToAgent(w http.ResponseWriter, p *principal, agentID *string) bool {
	if p.mayReview() {
		return true
	}
	if *agentID != "" && *agentID != p.name {
		writeError(w, http.StatusForbidden, "token "+strconv.Quote(p.name)+" (role "+p.role.String()+
			") may search only its own agent's recordings; admin, supervisor and qa tokens may search all")
		return false
	}
	*agentID = p.name
	return true
}

// params reads query parameters, keeping the first problem: each reader
// returns the zero value once one is found, and failed answers it.
type params struct {
	values  url.Values
	problem string
}

func (p *params) fail(format string, args ...any) {
	if p.problem == "" {
		p.problem = fmt.Sprintf(format, args...)
	}
}

// failed writes the problem as a 400 and reports whether there was one.
func (p *params) failed(w http.ResponseWriter) bool {
	if p.problem == "" {
		return false
	}
	writeError(w, http.StatusBadRequest, p.problem)
	return true
}

// only refuses parameters not in known.
func (p *params) only(known []string) {
	for name := range p.values {
		if !slices.Contains(known, name) {
			p.fail("unknown parameter %q; known: %s", name, strings.Join(known, ", "))
		}
	}
}

// text returns the parameter's value, "" when absent; given twice it is
// refused, since which one would win is a guess.
func (p *params) text(name string) string {
	vs := p.values[name]
	if len(vs) > 1 {
		p.fail("%s is given %d times; give it once", name, len(vs))
	}
	if len(vs) == 0 {
		return ""
	}
	return vs[0]
}

func (p *params) time(name string) time.Time {
	s := p.text(name)
	if s == "" {
		return time.Time{}
	}
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		p.fail("%s must be an RFC 3339 time, such as 2026-11-23T10:00:00Z", name)
	}
	return t
}

// duration reads a Go duration ("90s", "2m"), 0 or more.
func (p *params) duration(name string) time.Duration {
	s := p.text(name)
	if s == "" {
		return 0
	}
	d, err := time.ParseDuration(s)
	if err != nil || d < 0 {
		p.fail("%s must be a duration such as 90s or 2m, not negative", name)
	}
	return d
}

// score reads a survey score, 0 to 10; nil when absent.
func (p *params) score(name string) *int {
	s := p.text(name)
	if s == "" {
		return nil
	}
	n, err := strconv.Atoi(s)
	if err != nil || n < 0 || n > store.MaxSurveyScore {
		p.fail("%s must be a whole number from 0 to %d", name, store.MaxSurveyScore)
		return nil
	}
	return &n
}

// boolean reads true or false; nil when absent.
func (p *params) boolean(name string) *bool {
	var b bool
	switch p.text(name) {
	case "":
		return nil
	case "true":
		b = true
	case "false":
	default:
		p.fail("%s must be true or false", name)
		return nil
	}
	return &b
}

// limit reads a page size from 1 to most, def when absent.
func (p *params) limit(name string, def, most int) int {
	s := p.text(name)
	if s == "" {
		return def
	}
	n, err := strconv.Atoi(s)
	if err != nil || n < 1 || n > most {
		p.fail("%s must be a whole number from 1 to %d", name, most)
	}
	return n
}

// ordered refuses low and high when inverted says their range is empty.
func (p *params) ordered(low string, inverted bool, high string) {
	if inverted {
		p.fail("%s and %s leave nothing between them", low, high)
	}
}

package api

import (
	"context"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/hotline-cc/hotline/store"
)

// recorded writes a finished call of a minute with a recording, answered
// by agent in queue support.
func (a *testAPI) recorded(id, agent string, start time.Time, change func(*store.CDR)) {
	a.t.Helper()
	c := store.CDR{CallID: id, Caller: "+15550100", Start: start, Queue: "support", AgentID: agent,
		Talk: 40 * time.Second, Result: "completed", RecordingPath: "/rec/" + id + ".wav"}
	if change != nil {
		change(&c)
	}
	a.call(c)
}

// recordingIDs lists the call IDs of a search answer.
func recordingIDs(t *testing.T, body map[string]any) []string {
	t.Helper()
	list, ok := body["recordings"].([]any)
	if !ok {
		t.Fatalf("no recordings list: %v", body)
	}
	ids := []string{}
	for _, r := range list {
		ids = append(ids, r.(map[string]any)["call_id"].(string))
	}
	return ids
}

func TestSearchRecordingsFilters(t *testing.T) {
	a := newTestAPI(t)
	ctx := context.Background()
	at := func(m int) time.Time { return t0.Add(time.Duration(m) * time.Minute) }
	a.recorded("plain", "1001", at(0), nil)
	a.recorded("card", "1001", at(1), func(c *store.CDR) { c.BusinessType = "card" })
	a.recorded("sales", "1002", at(2), func(c *store.CDR) { c.Queue = "sales" })
	a.recorded("caller", "1002", at(3), func(c *store.CDR) { c.Caller = "+15550222" })
	a.recorded("flow", "1001", at(4), func(c *store.CDR) { c.FlowVersion = "v2" })
	a.recorded("abandoned", "1001", at(5), func(c *store.CDR) { c.Result = "abandoned" })
	a.recorded("long", "1002", at(6), func(c *store.CDR) { c.End = c.Start.Add(5 * time.Minute); c.Talk = 4 * time.Minute })
	a.recorded("scored", "1001", at(7), func(c *store.CDR) { c.SurveyScore, c.SurveySet = 9, true })
	a.recorded("held", "1002", at(8), nil)
	a.recorded("disposed", "1001", at(9), nil)
	a.recorded("deleted", "1001", at(10), nil)
	a.recorded("unrecorded", "1001", at(11), func(c *store.CDR) { c.RecordingPath = "" })
	if err := a.store.SetLegalHold(ctx, "held", true); err != nil {
		t.Fatal(err)
	}
	if err := a.store.SetDisposition(ctx, "disposed", "resolved"); err != nil {
		t.Fatal(err)
	}
	if err := a.store.RecordingDeleted(ctx, "deleted", at(20)); err != nil {
		t.Fatal(err)
	}

	for query, want := range map[string][]string{
		"":                                       {"disposed", "held", "scored", "long", "abandoned", "flow", "caller", "sales", "card", "plain"},
		"business_type=card":                     {"card"},
		"queue=sales":                            {"sales"},
		"agent=1002":                             {"held", "long", "caller", "sales"},
		"caller=%2B15550222":                     {"caller"},
		"disposition=resolved":                   {"disposed"},
		"flow_version=v2":                        {"flow"},
		"result=abandoned":                       {"abandoned"},
		"from=2026-11-23T09:08:00Z":              {"disposed", "held"},
		"to=2026-11-23T09:01:00Z":                {"plain"},
		"min_duration=2m":                        {"long"},
		"max_duration=60s&agent=1002":            {"held", "caller", "sales"},
		"min_talk=1m":                            {"long"},
		"max_talk=40s&from=2026-11-23T09:07:00Z": {"disposed", "held", "scored"},
		"min_score=9&max_score=10":               {"scored"},
		"max_score=8":                            {},
		"legal_hold=true":                        {"held"},
		"legal_hold=false&from=2026-11-23T09:08:00Z": {"disposed"},
	} {
		body := a.want("/api/v1/recordings?"+query, qaToken, 200)
		if got := recordingIDs(t, body); !slices.Equal(got, want) {
			t.Errorf("%q: got %v, want %v", query, got, want)
		}
	}

	body := a.want("/api/v1/recordings?disposition=resolved", supToken, 200)
	rec := body["recordings"].([]any)[0].(map[string]any)
	for k, v := range map[string]any{
		"call_id": "disposed", "agent_id": "1001", "disposition": "resolved", "legal_hold": false,
		"recording_url": "/api/v1/recordings/disposed", "talk_seconds": 40.0,
	} {
		if rec[k] != v {
			t.Errorf("%s = %#v, want %#v", k, rec[k], v)
		}
	}
	if v, present := body["next_cursor"]; !present || v != nil {
		t.Errorf("next_cursor %v (present %v), want null", v, present)
	}
}

func TestSearchRecordingsPages(t *testing.T) {
	a := newTestAPI(t)
	var want []string
	// Two calls in each second, so that pages end between calls that
	// started at the same time.
	for i := range 11 {
		id := "c" + string(rune('a'+i))
		a.recorded(id, "1001", t0.Add(time.Duration(i/2)*time.Second), nil)
		want = append([]string{id}, want...)
	}
	var got []string
	query := "/api/v1/recordings?limit=3&agent=1001"
	for range 10 {
		body := a.want(query, adminToken, 200)
		page := recordingIDs(t, body)
		got = append(got, page...)
		next, _ := body["next_cursor"].(string)
		if next == "" {
			break
		}
		if len(page) != 3 {
			t.Fatalf("a page of %d before the last", len(page))
		}
		query = "/api/v1/recordings?limit=3&agent=1001&cursor=" + url.QueryEscape(next)
	}
	if !slices.Equal(got, want) {
		t.Errorf("paged through %v, want %v", got, want)
	}
}

func TestSearchRecordingsAgentSeesOwnCalls(t *testing.T) {
	a := newTestAPI(t)
	a.recorded("mine", "1001", t0, nil)
	a.recorded("theirs", "1002", t0.Add(time.Minute), nil)
	a.recorded("unanswered", "", t0.Add(2*time.Minute), nil)

	// agentToken is agent 1001's.
	for _, query := range []string{"", "?agent=1001", "?limit=500"} {
		body := a.want("/api/v1/recordings"+query, agentToken, 200)
		if got := recordingIDs(t, body); !slices.Equal(got, []string{"mine"}) {
			t.Errorf("agent token, %q: %v, want only its own call", query, got)
		}
	}
	a.want("/api/v1/recordings?agent=1002", agentToken, 403)
	for _, token := range []string{adminToken, supToken, qaToken} {
		if got := recordingIDs(t, a.want("/api/v1/recordings", token, 200)); len(got) != 3 {
			t.Errorf("token %s sees %v, want every call", token, got)
		}
	}
}

func TestSearchRecordingsRefusesBadParameters(t *testing.T) {
	a := newTestAPI(t)
	for _, tt := range []struct{ query, names string }{
		{"limit=0", "limit"},
		{"limit=501", "limit"},
		{"limit=ten", "limit"},
		{"from=yesterday", "from"},
		{"to=2026-11-23", "to"},
		{"from=2026-11-23T10:00:00Z&to=2026-11-23T09:00:00Z", "from"},
		{"min_duration=60", "min_duration"},
		{"max_duration=-1s", "max_duration"},
		{"min_talk=x", "min_talk"},
		{"max_talk=1q", "max_talk"},
		{"min_talk=2m&max_talk=1m", "min_talk"},
		{"min_score=11", "min_score"},
		{"max_score=-1", "max_score"},
		{"min_score=5&max_score=4", "min_score"},
		{"legal_hold=yes", "legal_hold"},
		{"cursor=!!", "cursor"},
		{"cursor=eC95", "cursor"},
		{"agnet=1001", "agnet"},
		{"queue=a&queue=b", "queue"},
	} {
		body := a.want("/api/v1/recordings?"+tt.query, adminToken, 400)
		if msg, _ := body["error"].(string); !strings.Contains(msg, tt.names) {
			t.Errorf("%q: error %q does not name %s", tt.query, msg, tt.names)
		}
	}
	a.want("/api/v1/recordings", "", 401)
	a.want("/api/v1/recordings", "wrong", 401)
}

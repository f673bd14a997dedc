package api

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/hotline-cc/hotline/config"
	"github.com/hotline-cc/hotline/store"
)

var t0 = time.Date(2026, 11, 23, 9, 0, 0, 0, time.UTC)

// Tokens of testAPI, one per role.
const (
	adminToken = "admin-secret"
	supToken   = "sup-secret"
	qaToken    = "qa-secret"
	agentToken = "agent-secret"
)

type testAPI struct {
	t     *testing.T
	h     http.Handler
	store *store.Store
}

// newTestAPI serves the API over a real store in t.TempDir(), with no ACD:
// enough for the endpoints that only read the store.
func newTestAPI(t *testing.T) *testAPI {
	t.Helper()
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	st, err := store.Open(filepath.Join(t.TempDir(), "hotline.db"), log)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	cfg := &config.Config{HTTP: config.HTTP{Tokens: []config.Token{
		{Name: "ops", Token: adminToken, Role: config.RoleAdmin},
		{Name: "sup", Token: supToken, Role: config.RoleSupervisor},
		{Name: "qa", Token: qaToken, Role: config.RoleQA},
		{Name: "1001", Token: agentToken, Role: config.RoleAgent},
	}}}
	h := Handler(Deps{Config: func() *config.Config { return cfg }, Store: st, Gatherer: prometheus.NewRegistry(), Log: log})
	return &testAPI{t: t, h: h, store: st}
}

// get answers the status and the decoded JSON body.
func (a *testAPI) get(path, token string) (int, map[string]any) {
	a.t.Helper()
	req := httptest.NewRequest("GET", path, nil)
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	rec := httptest.NewRecorder()
	a.h.ServeHTTP(rec, req)
	if ct := rec.Header().Get("Content-Type"); ct != "application/json" {
		a.t.Errorf("GET %s: Content-Type %q", path, ct)
	}
	var body map[string]any
	if err := json.Unmarshal(rec.Body.Bytes(), &body); err != nil {
		a.t.Fatalf("GET %s: %d, body %q: %v", path, rec.Code, rec.Body, err)
	}
	return rec.Code, body
}

// want fails unless GET path answers status; an error answer must say why.
func (a *testAPI) want(path, token string, status int) map[string]any {
	a.t.Helper()
	code, body := a.get(path, token)
	if code != status {
		a.t.Fatalf("GET %s: %d %v, want %d", path, code, body, status)
	}
	if status >= 400 {
		if msg, _ := body["error"].(string); msg == "" {
			a.t.Errorf("GET %s: %d without an error message: %v", path, code, body)
		}
	}
	return body
}

// call writes a finished call.
func (a *testAPI) call(c store.CDR) {
	a.t.Helper()
	ctx := context.Background()
	if c.Answer.IsZero() {
		c.Answer = c.Start
	}
	if c.End.IsZero() {
		c.End = c.Start.Add(time.Minute)
	}
	if err := a.store.CallAnswered(ctx, store.CDR{CallID: c.CallID, Start: c.Start, Answer: c.Answer}); err != nil {
		a.t.Fatal(err)
	}
	if err := a.store.CallEnded(ctx, c); err != nil {
		a.t.Fatal(err)
	}
}

func TestGetCallNewFields(t *testing.T) {
	a := newTestAPI(t)
	vm := t0.Add(20*time.Second + 500*time.Millisecond)
	a.call(store.CDR{CallID: "c1", Start: t0, BusinessType: "private_banking", TransferTo: "extension 2000",
		SurveyScore: 0, SurveySet: true, VoicemailStart: vm, Result: "voicemail", AgentID: "1001"}) // the agent token's own call
	a.call(store.CDR{CallID: "c2", Start: t0.Add(time.Minute)})

	body := a.want("/api/v1/calls/c1", agentToken, 200)
	for k, v := range map[string]any{
		"business_type": "private_banking", "transfer_to": "extension 2000",
		"survey_score": 0.0, "voicemail_start": "2026-11-23T09:00:20.5Z",
	} {
		if body[k] != v {
			t.Errorf("c1 %s = %#v, want %#v", k, body[k], v)
		}
	}
	body = a.want("/api/v1/calls/c2", adminToken, 200)
	if v, present := body["survey_score"]; !present || v != nil {
		t.Errorf("c2 survey_score = %#v (present %v), want null", v, present)
	}
	for _, k := range []string{"business_type", "transfer_to", "voicemail_start"} {
		if v, present := body[k]; present {
			t.Errorf("c2 has %s = %#v", k, v)
		}
	}
	// The list shows them too.
	body = a.want("/api/v1/calls", adminToken, 200)
	calls, _ := body["calls"].([]any)
	if len(calls) != 2 {
		t.Fatalf("calls: %v", body)
	}
	if c1 := calls[1].(map[string]any); c1["call_id"] != "c1" || c1["survey_score"] != 0.0 || c1["business_type"] != "private_banking" {
		t.Errorf("listed c1: %v", c1)
	}
}

func TestVoicemailsEndpoint(t *testing.T) {
	a := newTestAPI(t)
	for i, q := range []string{"support", "sales", "support"} {
		start := t0.Add(time.Duration(i) * time.Hour)
		c := store.CDR{CallID: fmt.Sprintf("v%d@host", i), Caller: "+1555010" + fmt.Sprint(i), Called: "100",
			Queue: q, BusinessType: "retail", Start: start, Answer: start.Add(time.Second),
			VoicemailStart: start.Add(21 * time.Second), End: start.Add(36*time.Second + 500*time.Millisecond),
			Result: "voicemail", RecordingPath: "rec.wav"}
		if i == 1 {
			c.RecordingPath, c.VoicemailStart = "", time.Time{}
		}
		a.call(c)
	}
	a.call(store.CDR{CallID: "talked", Start: t0.Add(90 * time.Minute), Queue: "support", Result: "completed"})

	ids := func(body map[string]any) []string {
		out := []string{}
		vs, ok := body["voicemails"].([]any)
		if !ok {
			t.Fatalf("no voicemails list: %v", body)
		}
		for _, v := range vs {
			out = append(out, v.(map[string]any)["call_id"].(string))
		}
		return out
	}
	for _, tt := range []struct {
		query string
		want  []string
	}{
		{"", []string{"v2@host", "v1@host", "v0@host"}},
		{"queue=support", []string{"v2@host", "v0@host"}},
		{"from=2026-11-23T10:00:00Z", []string{"v2@host", "v1@host"}},
		{"to=2026-11-23T10:00:00%2B00:00", []string{"v0@host"}},
		{"from=2026-11-23T09:30:00Z&to=2026-11-23T10:30:00Z", []string{"v1@host"}},
		{"limit=1&offset=1", []string{"v1@host"}},
		{"offset=3", []string{}},
		{"queue=nope", []string{}},
	} {
		for _, token := range []string{adminToken, supToken, qaToken} {
			if got := ids(a.want("/api/v1/voicemails?"+tt.query, token, 200)); !reflect.DeepEqual(got, tt.want) {
				t.Errorf("?%s: %v, want %v", tt.query, got, tt.want)
			}
		}
	}

	body := a.want("/api/v1/voicemails?queue=support&limit=1", adminToken, 200)
	got := body["voicemails"].([]any)[0].(map[string]any)
	want := map[string]any{
		"call_id": "v2@host", "caller": "+15550102", "called": "100", "queue": "support", "business_type": "retail",
		"at": "2026-11-23T11:00:21Z", "duration_seconds": 15.5, "offset_seconds": 20.0,
		"recording_url": "/api/v1/recordings/" + url.PathEscape("v2@host"),
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("voicemail\n got  %v\n want %v", got, want)
	}
	// Without a recording or a recorded start: at is the end, the rest null.
	body = a.want("/api/v1/voicemails?queue=sales", adminToken, 200)
	got = body["voicemails"].([]any)[0].(map[string]any)
	if got["at"] != "2026-11-23T10:00:36.5Z" || got["duration_seconds"] != nil || got["offset_seconds"] != nil || got["recording_url"] != nil {
		t.Errorf("voicemail without start or recording: %v", got)
	}
	for _, k := range []string{"duration_seconds", "offset_seconds", "recording_url"} {
		if _, present := got[k]; !present {
			t.Errorf("%s missing, want null", k)
		}
	}

	a.want("/api/v1/voicemails", agentToken, 403)
	a.want("/api/v1/voicemails", "", 401)
	a.want("/api/v1/voicemails", "wrong", 401)
	for _, q := range []string{
		"limit=0", "limit=1001", "limit=x", "offset=-1", "offset=x", "offset=1.5",
		"from=yesterday", "to=2026-11-23", "from=2026-11-23T10:00:00Z&to=2026-11-23T10:00:00Z",
		"from=2026-11-24T00:00:00Z&to=2026-11-23T00:00:00Z",
	} {
		a.want("/api/v1/voicemails?"+q, adminToken, 400)
	}
}

func TestNPSEndpoint(t *testing.T) {
	a := newTestAPI(t)
	for i, c := range []store.CDR{
		{AgentID: "1001", Queue: "support", BusinessType: "retail", SurveyScore: 10, SurveySet: true},
		{AgentID: "1001", Queue: "support", BusinessType: "retail", SurveyScore: 9, SurveySet: true},
		{AgentID: "1002", Queue: "support", SurveyScore: 8, SurveySet: true},
		{AgentID: "1002", Queue: "support", BusinessType: "retail", SurveyScore: 3, SurveySet: true},
		{AgentID: "1002", Queue: "support"}, // no answer
	} {
		c.CallID, c.Start = fmt.Sprintf("n%d", i), t0.Add(time.Duration(i)*time.Minute)
		a.call(c)
	}
	const period = "from=2026-11-23T00:00:00Z&to=2026-11-24T00:00:00Z"
	type group struct {
		Key                                        string
		Responses, Promoters, Passives, Detractors int
		NPS                                        *float64
		AverageScore                               *float64 `json:"average_score"`
	}
	f := func(v float64) *float64 { return &v }

	for _, token := range []string{adminToken, supToken, qaToken} {
		body := a.want("/api/v1/reports/nps?group_by=queue&"+period, token, 200)
		if body["responses"] != 4.0 || body["promoters"] != 2.0 || body["passives"] != 1.0 ||
			body["detractors"] != 1.0 || body["nps"] != 25.0 || body["average_score"] != 7.5 || body["group_by"] != "queue" {
			t.Errorf("totals: %v", body)
		}
	}
	decode := func(body map[string]any) []group {
		raw, _ := json.Marshal(body["groups"])
		var gs []group
		if err := json.Unmarshal(raw, &gs); err != nil {
			t.Fatal(err)
		}
		return gs
	}
	for _, tt := range []struct {
		query string
		want  []group
	}{
		{"group_by=queue", []group{{"support", 4, 2, 1, 1, f(25), f(7.5)}}},
		{"group_by=agent", []group{
			{"1001", 2, 2, 0, 0, f(100), f(9.5)},
			{"1002", 2, 0, 1, 1, f(-50), f(5.5)},
		}},
		{"", []group{ // agent by default
			{"1001", 2, 2, 0, 0, f(100), f(9.5)},
			{"1002", 2, 0, 1, 1, f(-50), f(5.5)},
		}},
		{"group_by=business_type", []group{
			{"retail", 3, 2, 0, 1, f(100.0 / 3), f(22.0 / 3)},
			{"", 1, 0, 1, 0, f(0), f(8)},
		}},
	} {
		got := decode(a.want("/api/v1/reports/nps?"+tt.query+"&"+period, adminToken, 200))
		if !reflect.DeepEqual(got, tt.want) {
			t.Errorf("?%s:\n got  %+v\n want %+v", tt.query, got, tt.want)
		}
	}
	// No responses: nps and average are null, groups an empty list.
	body := a.want("/api/v1/reports/nps?from=2026-11-20T00:00:00Z&to=2026-11-21T00:00:00Z", adminToken, 200)
	if gs, ok := body["groups"].([]any); !ok || len(gs) != 0 || body["nps"] != nil || body["average_score"] != nil || body["responses"] != 0.0 {
		t.Errorf("no responses: %v", body)
	}
	for _, k := range []string{"nps", "average_score"} {
		if _, present := body[k]; !present {
			t.Errorf("%s missing, want null", k)
		}
	}

	a.want("/api/v1/reports/nps", agentToken, 403)
	a.want("/api/v1/reports/nps", "", 401)
	for _, q := range []string{
		"group_by=caller", "group_by=tags", "format=xml", "from=yesterday",
		"from=2026-11-24T00:00:00Z&to=2026-11-23T00:00:00Z", "from=2020-01-01T00:00:00Z&to=2026-01-01T00:00:00Z",
	} {
		a.want("/api/v1/reports/nps?"+q, adminToken, 400)
	}
	a.want("/api/v1/reports/nps?format=json&"+period, adminToken, 200)
}

func TestReasonsReportByBusinessType(t *testing.T) {
	a := newTestAPI(t)
	for i, c := range []store.CDR{
		{BusinessType: "retail", Queue: "support", Result: "completed"},
		{BusinessType: "retail", Result: "ivr"},
		{Result: "ivr"},
	} {
		c.CallID, c.Start = fmt.Sprintf("r%d", i), t0.Add(time.Duration(i)*time.Minute)
		a.call(c)
	}
	body := a.want("/api/v1/reports/reasons?group_by=business_type&from=2026-11-23T00:00:00Z&to=2026-11-24T00:00:00Z", adminToken, 200)
	raw, _ := json.Marshal(body["reasons"])
	var got []ReasonJSON
	if err := json.Unmarshal(raw, &got); err != nil {
		t.Fatal(err)
	}
	want := []ReasonJSON{
		{Key: "retail", Calls: 2, Contained: 1, Queued: 1, Answered: 1},
		{Key: "", Calls: 1, Contained: 1},
	}
	if !reflect.DeepEqual(got, want) || body["group_by"] != "business_type" || body["calls"] != 3.0 || body["contained"] != 2.0 {
		t.Errorf("report %v\n reasons %+v, want %+v", body, got, want)
	}
	_, body = a.get("/api/v1/reports/reasons?group_by=agent", adminToken)
	if msg, _ := body["error"].(string); !strings.Contains(msg, "business_type") {
		t.Errorf("bad group_by error %q does not offer business_type", msg)
	}
}

func TestMayReview(t *testing.T) {
	for role, want := range map[config.Role]bool{
		config.RoleAdmin: true, config.RoleSupervisor: true, config.RoleQA: true,
		config.RoleAgent: false, config.RoleUnknown: false,
	} {
		if got := (&principal{name: "x", role: role}).mayReview(); got != want {
			t.Errorf("%s mayReview = %v", role, got)
		}
	}
}

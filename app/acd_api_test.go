package app_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"net/http"
	"net/url"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/hotline-cc/hotline/acd"
	"github.com/hotline-cc/hotline/api"
	"github.com/hotline-cc/hotline/config"
	"github.com/hotline-cc/hotline/internal/sipptest"
)

// Tokens the ACD API tests add to the demo's admin token (h.token).
const (
	supToken   = "sup-token"        // supervisor "sup"
	qaToken    = "qa-token"         // qa "qa"
	agentToken = "agent-1001-token" // agent "1001"
	carolToken = "agent-1003-token" // agent "1003"
)

// withRoles adds a token of every role; the agent tokens are named after
// their agents.
func withRoles(c *config.Config) {
	c.HTTP.Tokens = append(c.HTTP.Tokens,
		config.Token{Name: "sup", Token: supToken, Role: config.RoleSupervisor},
		config.Token{Name: "qa", Token: qaToken, Role: config.RoleQA},
		config.Token{Name: "1001", Token: agentToken, Role: config.RoleAgent},
		config.Token{Name: "1003", Token: carolToken, Role: config.RoleAgent},
	)
}

// apiResponse is one API answer.
type apiResponse struct {
	status int
	header http.Header
	body   []byte
}

// do sends an API request with token ("" for none). body is sent as is when
// it is a string, JSON-encoded otherwise, and left out when nil.
func (h *hotline) do(method, path, token string, body any) apiResponse {
	h.t.Helper()
	var rd io.Reader
	switch b := body.(type) {
	case nil:
	case string:
		rd = strings.NewReader(b)
	default:
		j, err := json.Marshal(b)
		if err != nil {
			h.t.Fatal(err)
		}
		rd = bytes.NewReader(j)
	}
	req, err := http.NewRequest(method, h.url(path), rd)
	if err != nil {
		h.t.Fatal(err)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	if rd != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	res, err := h.client.Do(req)
	if err != nil {
		h.t.Fatal(err)
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	if err != nil {
		h.t.Fatal(err)
	}
	return apiResponse{status: res.StatusCode, header: res.Header, body: b}
}

// want fails unless the answer has status; a JSON body is decoded into v (if
// not nil). Every answer must be JSON, and every 4xx must carry an error.
func (r apiResponse) want(t *testing.T, what string, status int, v any) {
	t.Helper()
	if r.status != status {
		t.Fatalf("%s: status %d, want %d: %s", what, r.status, status, r.body)
	}
	if ct := r.header.Get("Content-Type"); ct != "application/json" {
		t.Fatalf("%s: Content-Type %q", what, ct)
	}
	if status >= 400 {
		var e struct{ Error string }
		if err := json.Unmarshal(r.body, &e); err != nil || e.Error == "" {
			t.Fatalf("%s: want a JSON error, got %s (%v)", what, r.body, err)
		}
	}
	if v != nil {
		// Decode into a zero value: fields the answer omits must not keep
		// what an earlier answer said.
		reflect.ValueOf(v).Elem().SetZero()
		if err := json.Unmarshal(r.body, v); err != nil {
			t.Fatalf("%s: %v: %s", what, err, r.body)
		}
	}
}

// errorText is the "error" of a JSON error answer.
func (r apiResponse) errorText() string {
	var e struct{ Error string }
	_ = json.Unmarshal(r.body, &e)
	return e.Error
}

func (h *hotline) agent(id string) api.AgentJSON {
	h.t.Helper()
	var ag api.AgentJSON
	h.do("GET", "/api/v1/agents/"+id, h.token, nil).want(h.t, "GET agent "+id, 200, &ag)
	return ag
}

func (h *hotline) queue(name string) api.QueueJSON {
	h.t.Helper()
	var out struct{ Queues []api.QueueJSON }
	h.do("GET", "/api/v1/queues", h.token, nil).want(h.t, "GET queues", 200, &out)
	for _, q := range out.Queues {
		if q.Name == name {
			return q
		}
	}
	h.t.Fatalf("no queue %s in %+v", name, out.Queues)
	return api.QueueJSON{}
}

func (h *hotline) agentEvents(id string) []api.AgentEventJSON {
	h.t.Helper()
	var out struct {
		AgentID string `json:"agent_id"`
		Events  []api.AgentEventJSON
	}
	h.do("GET", "/api/v1/agents/"+id+"/events", h.token, nil).want(h.t, "GET events", 200, &out)
	return out.Events
}

// waitEvent waits for an audit entry of agent id matching ok (the journal
// writes them in the background).
func (h *hotline) waitEvent(id, what string, ok func(api.AgentEventJSON) bool) api.AgentEventJSON {
	h.t.Helper()
	var found api.AgentEventJSON
	waitFor(h.t, 5*time.Second, "agent "+id+" event: "+what, func() (bool, string) {
		evs := h.agentEvents(id)
		for _, e := range evs {
			if ok(e) {
				found = e
				return true, ""
			}
		}
		return false, fmt.Sprintf("%+v", evs)
	})
	return found
}

// TestACDAPIAgentState: a supervisor, or the agent themselves, sets an agent
// not-ready and back through the API; everyone else is refused, and bad
// requests are 4xx with JSON errors.
func TestACDAPIAgentState(t *testing.T) {
	t.Parallel()
	h := startHotline(t, withRoles)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	h.startAgent(ctx, "1001", "agent_answer.xml", nil)

	// Every token may read, QA included.
	var ag api.AgentJSON
	h.do("GET", "/api/v1/agents/1001", qaToken, nil).want(t, "qa reads an agent", 200, &ag)
	if ag.State != "available" || !ag.Registered || ag.Device != "1001" || ag.Name != "Alice" ||
		!slices.Equal(ag.Queues, []string{"sales"}) || ag.Since == nil || ag.IdleSince == nil {
		t.Fatalf("agent 1001 = %+v", ag)
	}
	if !slices.Contains(ag.Skills, api.SkillJSON{Skill: "sales", Level: 8}) || len(ag.Skills) != 2 {
		t.Errorf("skills = %+v", ag.Skills)
	}
	if n, ok := ag.Counters.Offers["answered"]; !ok || n != 0 || len(ag.Counters.Offers) != int(acd.OfferResultLimit)-1 {
		t.Errorf("offer counters = %+v, want every result at 0", ag.Counters.Offers)
	}
	var list struct{ Agents []api.AgentJSON }
	h.do("GET", "/api/v1/agents", agentToken, nil).want(t, "agent token lists agents", 200, &list)
	if len(list.Agents) != 4 {
		t.Fatalf("%d agents", len(list.Agents))
	}

	// The agent sets themselves on a break.
	h.do("PUT", "/api/v1/agents/1001/state", agentToken, map[string]string{"state": "not-ready", "reason": "break"}).
		want(t, "agent goes on a break", 202, &ag)
	if ag.State != "not-ready" || ag.Reason != "break" {
		t.Fatalf("after not-ready: %+v", ag)
	}
	ev := h.waitEvent("1001", "to not-ready", func(e api.AgentEventJSON) bool { return e.To == "not-ready" })
	if ev.From != "available" || ev.Reason != "break" || ev.Source != "api:1001" || ev.Device != "1001" {
		t.Errorf("audit entry %+v", ev)
	}
	m := h.metrics()
	for series, want := range map[string]float64{
		`hotline_acd_agents{state="not-ready"}`:                  1,
		`hotline_acd_agents{state="available"}`:                  0,
		`hotline_acd_agents{state="logged-out"}`:                 3,
		`hotline_acd_agents{state="wrap-up"}`:                    0,
		`hotline_acd_agents_not_ready{reason="break"}`:           1,
		`hotline_acd_agents_not_ready{reason="missed"}`:          0,
		`hotline_acd_staffed_agents{queue="sales"}`:              0,
		`hotline_acd_unknown_events_total`:                       0,
		`hotline_queue_callers_waiting{queue="sales"}`:           0,
		`hotline_acd_calls_total{queue="sales",result="queued"}`: 0,
	} {
		if got := metricValue(m, series); got != want {
			t.Errorf("%s = %v, want %v", series, got, want)
		}
	}

	refusals := []struct {
		name, method, path, token string
		body                      any
		status                    int
		errorHas                  string
	}{
		{"no token", "PUT", "/api/v1/agents/1001/state", "", `{"state":"available"}`, 401, "token"},
		{"agent token, another agent", "PUT", "/api/v1/agents/1002/state", agentToken, `{"state":"available"}`, 403, "may not change agent 1002"},
		{"qa token", "PUT", "/api/v1/agents/1001/state", qaToken, `{"state":"available"}`, 403, "role qa"},
		{"unknown agent", "PUT", "/api/v1/agents/9999/state", h.token, `{"state":"available"}`, 404, "no agent"},
		{"bad JSON", "PUT", "/api/v1/agents/1001/state", h.token, `{"state":`, 400, "JSON"},
		{"not an object", "PUT", "/api/v1/agents/1001/state", h.token, `["available"]`, 400, "JSON object"},
		{"empty body", "PUT", "/api/v1/agents/1001/state", h.token, "", 400, "JSON object"},
		{"trailing data", "PUT", "/api/v1/agents/1001/state", h.token, `{"state":"available"} {}`, 400, ""},
		{"unknown field", "PUT", "/api/v1/agents/1001/state", h.token, `{"state":"available","mood":"happy"}`, 400, `unknown field "mood"`},
		{"wrong type", "PUT", "/api/v1/agents/1001/state", h.token, `{"state":3}`, 400, `"state"`},
		{"bad state", "PUT", "/api/v1/agents/1001/state", h.token, `{"state":"ringing"}`, 400, "state must be"},
		{"unknown reason", "PUT", "/api/v1/agents/1001/state", h.token, `{"state":"not-ready","reason":"nap"}`, 400, "break, lunch, training, meeting, other"},
		{"missed is the ACD's", "PUT", "/api/v1/agents/1001/state", h.token, `{"state":"not-ready","reason":"missed"}`, 400, "break, lunch"},
		{"no reason", "PUT", "/api/v1/agents/1001/state", h.token, `{"state":"not-ready"}`, 400, "needs a reason"},
		{"reason for available", "PUT", "/api/v1/agents/1001/state", h.token, `{"state":"available","reason":"break"}`, 400, "reason"},
		{"body too large", "PUT", "/api/v1/agents/1001/state", h.token, `{"state":"` + strings.Repeat("a", 70<<10) + `"}`, 413, "larger"},
		{"logged-out agent", "PUT", "/api/v1/agents/1002/state", supToken, `{"state":"available"}`, 409, "log in first"},
	}
	for _, tt := range refusals {
		t.Run(tt.name, func(t *testing.T) {
			res := h.do(tt.method, tt.path, tt.token, tt.body)
			res.want(t, tt.name, tt.status, nil)
			if !strings.Contains(res.errorText(), tt.errorHas) {
				t.Errorf("error %q, want it to mention %q", res.errorText(), tt.errorHas)
			}
		})
	}
	// Not JSON at all.
	req, _ := http.NewRequest("PUT", h.url("/api/v1/agents/1001/state"), strings.NewReader("state=available"))
	req.Header.Set("Authorization", "Bearer "+h.token)
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	if res, err := http.DefaultClient.Do(req); err != nil || res.StatusCode != http.StatusUnsupportedMediaType {
		t.Errorf("form body: %v %v", res, err)
	} else {
		res.Body.Close()
	}
	if got := h.agent("1001"); got.State != "not-ready" {
		t.Fatalf("a refused request changed the agent: %+v", got)
	}

	// A supervisor sends them back to work, then logs them out.
	h.do("PUT", "/api/v1/agents/1001/state", supToken, map[string]string{"state": "available"}).
		want(t, "supervisor makes the agent available", 202, &ag)
	if ag.State != "available" || ag.Reason != "" {
		t.Fatalf("after available: %+v", ag)
	}
	h.do("PUT", "/api/v1/agents/1001/state", supToken, map[string]string{"state": "logged-out"}).
		want(t, "supervisor logs the agent out", 202, &ag)
	if ag.State != "logged-out" || ag.Reason != "api" || ag.Device != "" {
		t.Fatalf("after logged-out: %+v", ag)
	}
	ev = h.waitEvent("1001", "logged out", func(e api.AgentEventJSON) bool { return e.To == "logged-out" })
	if ev.Source != "api:sup" || ev.Reason != "api" {
		t.Errorf("audit entry %+v", ev)
	}
	// The audit trail, newest first, with since and limit.
	evs := h.agentEvents("1001")
	if len(evs) < 4 || evs[0].To != "logged-out" {
		t.Fatalf("events %+v", evs)
	}
	var page struct{ Events []api.AgentEventJSON }
	h.do("GET", "/api/v1/agents/1001/events?limit=1", qaToken, nil).want(t, "events limit", 200, &page)
	if len(page.Events) != 1 || page.Events[0] != evs[0] {
		t.Errorf("limit=1: %+v", page.Events)
	}
	since := evs[0].At.Add(time.Millisecond).Format(time.RFC3339Nano)
	h.do("GET", "/api/v1/agents/1001/events?since="+url.QueryEscape(since), h.token, nil).want(t, "events since", 200, &page)
	if len(page.Events) != 0 {
		t.Errorf("since after the last event: %+v", page.Events)
	}
	h.do("GET", "/api/v1/agents/1001/events?since=yesterday", h.token, nil).want(t, "bad since", 400, nil)
	h.do("GET", "/api/v1/agents/1001/events?limit=0", h.token, nil).want(t, "bad limit", 400, nil)
	h.do("GET", "/api/v1/agents/9999/events", h.token, nil).want(t, "unknown agent's events", 404, nil)
	h.do("GET", "/api/v1/agents/9999", h.token, nil).want(t, "unknown agent", 404, nil)
}

// TestACDAPINotReadyAgentIsNotOffered: an agent on a break is passed over; the
// caller waits until the API makes the agent available, and the offer's routing
// decision is then on record.
func TestACDAPINotReadyAgentIsNotOffered(t *testing.T) {
	t.Parallel()
	requirePCAP(t)
	h := startHotline(t, withRoles)
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	agent := h.startAgent(ctx, "1003", "agent_answer.xml", map[string]string{"hangup": "remote"})
	h.do("PUT", "/api/v1/agents/1003/state", carolToken, map[string]string{"state": "not-ready", "reason": "lunch"}).
		want(t, "1003 goes to lunch", 202, nil)

	carrier, err := sipptest.Start(ctx, t, sipptest.Scenario{
		File: "carrier_call.xml", Remote: h.sipAddr(), Service: "100",
		Vars: map[string]string{"digit": "2", "talk_ms": "8000"}, Timeout: 60 * time.Second,
	})
	if err != nil {
		t.Fatal(err)
	}
	var callID string
	waitFor(t, 10*time.Second, "a caller waiting in support", func() (bool, string) {
		q := h.queue("support")
		if len(q.Waiting) == 1 {
			callID = q.Waiting[0].CallID
			return true, ""
		}
		return false, fmt.Sprintf("%+v", q.Waiting)
	})
	// Give the ACD every chance to offer the call; it must not.
	time.Sleep(1500 * time.Millisecond)
	q := h.queue("support")
	if len(q.Waiting) != 1 || q.Waiting[0].AgentID != "" || q.Waiting[0].WaitSec < 1 || q.OldestWaitSec < q.Waiting[0].WaitSec {
		t.Fatalf("support waiting = %+v", q.Waiting)
	}
	if q.AgentsByState["not-ready"] != 1 || q.NotReadyByReason["lunch"] != 1 || q.Staffed != 0 || q.EstimatedWaitSec != nil {
		t.Errorf("support = %+v", q)
	}
	if q.ServiceLevel.TargetPercent != 85 || q.ServiceLevel.ThresholdSec != 20 || q.ServiceLevel.Known || q.ServiceLevel.Ratio != nil {
		t.Errorf("service level = %+v", q.ServiceLevel)
	}
	if q.Counters.Queued != 1 || q.Waiting[0].EffectivePriority < float64(q.Waiting[0].Priority) {
		t.Errorf("counters %+v, waiting %+v", q.Counters, q.Waiting[0])
	}
	ag := h.agent("1003")
	if ag.State != "not-ready" || ag.Counters.Offers["answered"]+ag.Counters.Offers["ring-timeout"] != 0 {
		t.Fatalf("agent on lunch = %+v", ag)
	}

	h.do("PUT", "/api/v1/agents/1003/state", supToken, map[string]string{"state": "available"}).
		want(t, "1003 back from lunch", 202, nil)
	finished(t, carrier, "caller")
	finished(t, agent, "agent")
	cdr := h.waitEndedCall()
	if cdr.CallID != callID || cdr.AgentID != "1003" || cdr.Result != "completed" || cdr.QueueWaitSec < 1.5 {
		t.Fatalf("CDR = %+v", cdr)
	}

	var dec struct {
		CallID    string `json:"call_id"`
		Decisions []api.DecisionJSON
	}
	waitFor(t, 5*time.Second, "the offer's decision", func() (bool, string) {
		h.do("GET", "/api/v1/calls/"+url.PathEscape(callID)+"/decisions", qaToken, nil).want(t, "decisions", 200, &dec)
		return len(dec.Decisions) == 1, string(fmt.Sprint(dec))
	})
	d := dec.Decisions[0]
	if dec.CallID != callID || d.AgentID != "1003" || d.Queue != "support" || d.Rule != "longest-idle" ||
		d.OfferID == 0 || d.WaitSec < 1.5 || d.At.IsZero() {
		t.Errorf("decision = %+v", d)
	}
	if len(d.Candidates) == 0 || d.Candidates[0].AgentID != "1003" {
		t.Errorf("candidates = %+v", d.Candidates)
	}

	m := h.metrics()
	for series, want := range map[string]float64{
		`hotline_acd_calls_total{queue="support",result="queued"}`:                1,
		`hotline_acd_calls_total{queue="support",result="connected"}`:             1,
		`hotline_acd_queue_offers_total{queue="support",result="answered"}`:       1,
		`hotline_acd_offers_total{result="answered"}`:                             1,
		`hotline_acd_service_level_verdicts_total{outcome="met",queue="support"}`: 1,
		`hotline_acd_service_level_ratio{queue="support"}`:                        1,
		`hotline_acd_service_level_target_ratio{queue="support"}`:                 0.85,
		`hotline_acd_service_level_threshold_seconds{queue="support"}`:            20,
		`hotline_acd_service_level_calls{queue="support"}`:                        1,
	} {
		if got := metricValue(m, series); got != want {
			t.Errorf("%s = %v, want %v", series, got, want)
		}
	}
	if got := metricValue(m, `hotline_acd_wait_seconds_total{queue="support",result="connected"}`); !(got >= 1.5) {
		t.Errorf("connected wait total = %v", got)
	}
	// The call ended, so the queue has a handle time; the SIPp agent has
	// unregistered, so nobody is staffed and there is no estimated wait until
	// 1004 logs in.
	h.waitAgent("1003", "logged-out")
	q = h.queue("support")
	if q.HandleTimeSec == nil || *q.HandleTimeSec < 3 || q.EstimatedWaitSec != nil || q.Staffed != 0 {
		t.Fatalf("support after the call: handle time %v, estimated wait %v, staffed %d", q.HandleTimeSec, q.EstimatedWaitSec, q.Staffed)
	}
	if got := metricValue(h.metrics(), `hotline_acd_handle_time_seconds{queue="support"}`); got != *q.HandleTimeSec {
		t.Errorf("handle time metric %v, API %v", got, *q.HandleTimeSec)
	}
	h.startAgent(ctx, "1004", "agent_answer.xml", nil)
	q = h.queue("support")
	if q.Staffed != 1 || q.EstimatedWaitSec == nil || *q.EstimatedWaitSec != *q.HandleTimeSec {
		t.Errorf("support with 1004: staffed %d, estimated wait %v, want (0+1) × %v ÷ 1", q.Staffed, q.EstimatedWaitSec, *q.HandleTimeSec)
	}
}

// TestACDAPILoginByPIN: an agent logs in on another registered phone with their
// PIN (hot-desking), taking it over, and logs out again.
func TestACDAPILoginByPIN(t *testing.T) {
	t.Parallel()
	h := startHotline(t, func(c *config.Config) {
		withRoles(c)
		c.Agent("1004").PIN = ""
	})
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	h.startAgent(ctx, "1001", "agent_answer.xml", nil)

	login := func(token, agent string, body any) apiResponse {
		return h.do("POST", "/api/v1/agents/"+agent+"/login", token, body)
	}
	type L = map[string]string
	login(carolToken, "1003", L{"device": "1001", "pin": "0000"}).want(t, "wrong PIN", 403, nil)
	login(carolToken, "1003", L{"device": "1001"}).want(t, "no PIN", 400, nil)
	login(carolToken, "1003", L{"pin": "6543"}).want(t, "no device", 400, nil)
	login(carolToken, "1003", `{"device":"1001","pin":"6543","remember":true}`).want(t, "unknown field", 400, nil)
	login(carolToken, "1004", L{"device": "1001", "pin": "7654"}).want(t, "another agent", 403, nil)
	login(qaToken, "1003", L{"device": "1001", "pin": "6543"}).want(t, "qa token", 403, nil)
	login(h.token, "9999", L{"device": "1001", "pin": "6543"}).want(t, "unknown agent", 404, nil)
	login(h.token, "1004", L{"device": "1001", "pin": "7654"}).want(t, "agent without PIN", 403, nil)
	res := login(carolToken, "1003", L{"device": "desk9", "pin": "6543"})
	res.want(t, "unregistered device", 409, nil)
	if !strings.Contains(res.errorText(), "not registered") {
		t.Errorf("409 error %q", res.errorText())
	}
	if ag := h.agent("1003"); ag.State != "logged-out" {
		t.Fatalf("refused logins changed 1003: %+v", ag)
	}

	var ag api.AgentJSON
	login(carolToken, "1003", L{"device": "1001", "pin": "6543"}).want(t, "login on 1001's phone", 202, &ag)
	if ag.State != "available" || ag.Device != "1001" || !ag.Registered {
		t.Fatalf("1003 after login: %+v", ag)
	}
	if alice := h.agent("1001"); alice.State != "logged-out" || alice.Reason != "taken-over" {
		t.Errorf("1001 after 1003 took the phone: %+v", alice)
	}
	ev := h.waitEvent("1003", "login", func(e api.AgentEventJSON) bool { return e.To == "available" })
	if ev.Source != "api:1003" || ev.Device != "1001" {
		t.Errorf("login audit %+v", ev)
	}

	h.do("POST", "/api/v1/agents/1003/logout", carolToken, `{"reason":"home"}`).want(t, "logout with a field", 400, nil)
	h.do("POST", "/api/v1/agents/1003/logout", agentToken, nil).want(t, "logout by another agent", 403, nil)
	h.do("POST", "/api/v1/agents/1003/logout", carolToken, nil).want(t, "logout", 202, &ag)
	if ag.State != "logged-out" || ag.Reason != "api" || ag.Device != "" {
		t.Fatalf("1003 after logout: %+v", ag)
	}
	h.do("POST", "/api/v1/agents/1003/logout", supToken, "{}").want(t, "logout again, empty object", 202, nil)

	// Guessing a PIN locks the agent's logins for a while, right PIN or not.
	for i := range 5 {
		login(h.token, "1002", L{"device": "1001", "pin": fmt.Sprint(1000 + i)}).want(t, "guess", 403, nil)
	}
	res = login(h.token, "1002", L{"device": "1001", "pin": "5432"})
	res.want(t, "after 5 wrong PINs", 429, nil)
	if res.header.Get("Retry-After") == "" {
		t.Error("429 without Retry-After")
	}
}

// TestACDAPICallbacks: scheduling, merging, listing and canceling callbacks.
func TestACDAPICallbacks(t *testing.T) {
	t.Parallel()
	h := startHotline(t, func(c *config.Config) {
		withRoles(c)
		// Callbacks need a way out; nothing here is dialed (no agent).
		c.Trunks[0].Outbound = "127.0.0.1:9"
	})
	at := time.Now().Add(time.Hour).UTC().Truncate(time.Second)

	var cb api.CallbackCreatedJSON
	res := h.do("POST", "/api/v1/callbacks", supToken, map[string]any{
		"queue": "sales", "number": "+15551234", "at": at.Format(time.RFC3339), "priority": 5,
	})
	res.want(t, "schedule a callback", 201, &cb)
	if cb.ID == 0 || cb.Merged || cb.State != "pending" || cb.Queue != "sales" || cb.Number != "+15551234" ||
		cb.Priority != 5 || cb.MaxAttempts != 3 || cb.Attempts != 0 || cb.NotBefore == nil || !cb.NotBefore.Equal(at) {
		t.Fatalf("created %+v", cb)
	}
	loc := res.header.Get("Location")
	if loc != fmt.Sprintf("/api/v1/callbacks/%d", cb.ID) {
		t.Fatalf("Location %q", loc)
	}
	var got api.CallbackDetailJSON
	h.do("GET", loc, qaToken, nil).want(t, "GET the callback", 200, &got)
	if got.ID != cb.ID || got.State != "pending" || got.AttemptLog == nil || len(got.AttemptLog) != 0 {
		t.Fatalf("GET %s = %+v", loc, got)
	}
	var list struct{ Callbacks []api.CallbackJSON }
	h.do("GET", "/api/v1/callbacks?state=pending&limit=10", agentToken, nil).want(t, "pending callbacks", 200, &list)
	if len(list.Callbacks) != 1 || list.Callbacks[0].ID != cb.ID {
		t.Fatalf("pending = %+v", list.Callbacks)
	}
	q := h.queue("sales")
	if len(q.Waiting) != 1 || q.CallbacksWaiting != 1 {
		t.Fatalf("sales waiting = %+v", q.Waiting)
	}
	w := q.Waiting[0]
	if !w.Callback || w.CallbackID != cb.ID || w.Number != "+15551234" || w.Priority != 5 ||
		w.CallID != fmt.Sprintf("callback-%d", cb.ID) || w.NotBefore == nil || !w.NotBefore.Equal(at) {
		t.Errorf("waiting callback = %+v", w)
	}
	m := h.metrics()
	if got := metricValue(m, `hotline_acd_callbacks_pending{queue="sales"}`); got != 1 {
		t.Errorf("callbacks pending = %v", got)
	}
	if got := metricValue(m, `hotline_queue_callers_waiting{queue="sales"}`); got != 0 {
		t.Errorf("callers waiting = %v; callbacks are counted apart", got)
	}
	if q.OldestWaitSec != 0 {
		t.Errorf("oldest wait %v with only a callback waiting", q.OldestWaitSec)
	}

	// The same number again: the open callback answers, no second one.
	var again api.CallbackCreatedJSON
	h.do("POST", "/api/v1/callbacks", h.token, map[string]any{"queue": "sales", "number": "+15551234"}).
		want(t, "same number again", 200, &again)
	if !again.Merged || again.ID != cb.ID {
		t.Fatalf("second request = %+v", again)
	}

	for _, tt := range []struct {
		name, token string
		body        any
		status      int
	}{
		{"no token", "", `{"queue":"sales","number":"5551000"}`, 401},
		{"qa token", qaToken, `{"queue":"sales","number":"5551000"}`, 403},
		{"agent token", agentToken, `{"queue":"sales","number":"5551000"}`, 403},
		{"unknown queue", supToken, `{"queue":"nosuch","number":"5551000"}`, 400},
		{"no queue", supToken, `{"number":"5551000"}`, 400},
		{"short number", supToken, `{"queue":"sales","number":"12"}`, 400},
		{"letters", supToken, `{"queue":"sales","number":"555-1000"}`, 400},
		{"long number", supToken, `{"queue":"sales","number":"+123456789012345678901"}`, 400},
		{"priority too high", supToken, `{"queue":"sales","number":"5551000","priority":101}`, 400},
		{"priority not whole", supToken, `{"queue":"sales","number":"5551000","priority":1.5}`, 400},
		{"bad at", supToken, `{"queue":"sales","number":"5551000","at":"tomorrow"}`, 400},
		{"at years ahead", supToken, `{"queue":"sales","number":"5551000","at":"2999-01-01T00:00:00Z"}`, 400},
		{"unknown field", supToken, `{"queue":"sales","number":"5551000","name":"Bob"}`, 400},
		{"empty body", supToken, "", 400},
	} {
		t.Run(tt.name, func(t *testing.T) {
			h.do("POST", "/api/v1/callbacks", tt.token, tt.body).want(t, tt.name, tt.status, nil)
		})
	}
	h.do("GET", "/api/v1/callbacks?state=nope", h.token, nil).want(t, "bad state filter", 400, nil)
	h.do("GET", "/api/v1/callbacks?limit=0", h.token, nil).want(t, "bad limit", 400, nil)
	h.do("GET", "/api/v1/callbacks/999", h.token, nil).want(t, "unknown callback", 404, nil)
	h.do("GET", "/api/v1/callbacks/abc", h.token, nil).want(t, "callback id not a number", 404, nil)

	// A callback for now waits as nobody serves sales; it has no decisions yet.
	var now api.CallbackCreatedJSON
	h.do("POST", "/api/v1/callbacks", supToken, map[string]any{"queue": "sales", "number": "5551000"}).
		want(t, "callback for now", 201, &now)
	if now.NotBefore != nil {
		t.Errorf("a callback for now has not_before %v", now.NotBefore)
	}
	var dec struct{ Decisions []api.DecisionJSON }
	h.do("GET", fmt.Sprintf("/api/v1/calls/callback-%d/decisions", now.ID), h.token, nil).want(t, "callback decisions", 200, &dec)
	if dec.Decisions == nil || len(dec.Decisions) != 0 {
		t.Errorf("decisions of a callback never offered = %+v", dec.Decisions)
	}
	if q := h.queue("sales"); len(q.Waiting) != 2 || q.Counters.Queued != 2 {
		t.Errorf("sales = %+v", q)
	}

	// Cancel.
	h.do("DELETE", loc, qaToken, nil).want(t, "qa cancels", 403, nil)
	var canceled api.CallbackJSON
	h.do("DELETE", loc, supToken, nil).want(t, "cancel", 200, &canceled)
	if canceled.State != "canceled" || canceled.ID != cb.ID {
		t.Fatalf("canceled = %+v", canceled)
	}
	h.do("GET", loc, h.token, nil).want(t, "GET after cancel", 200, &got)
	if got.State != "canceled" {
		t.Errorf("stored state %q", got.State)
	}
	if q := h.queue("sales"); len(q.Waiting) != 1 || q.Waiting[0].CallbackID != now.ID {
		t.Errorf("sales after cancel = %+v", q.Waiting)
	}
	res = h.do("DELETE", loc, supToken, nil)
	res.want(t, "cancel twice", 409, nil)
	if !strings.Contains(res.errorText(), "already canceled") {
		t.Errorf("409 error %q", res.errorText())
	}
	h.do("DELETE", "/api/v1/callbacks/999", supToken, nil).want(t, "cancel unknown", 404, nil)
	h.do("GET", "/api/v1/callbacks?state=canceled", h.token, nil).want(t, "canceled callbacks", 200, &list)
	if len(list.Callbacks) != 1 || list.Callbacks[0].ID != cb.ID {
		t.Errorf("canceled = %+v", list.Callbacks)
	}
	// Canceled, the number may ask again and gets a new callback.
	h.do("POST", "/api/v1/callbacks", supToken, map[string]any{"queue": "sales", "number": "+15551234"}).
		want(t, "same number after cancel", 201, &again)
	if again.ID == cb.ID || again.Merged {
		t.Errorf("after cancel = %+v", again)
	}
	if got := metricValue(h.metrics(), `hotline_acd_callbacks_pending{queue="sales"}`); got != 2 {
		t.Errorf("callbacks pending = %v", got)
	}
}

// TestACDAPIMethodsAndDecisions: each path answers the methods it does not
// support with a JSON 405 and an Allow header; decisions need a known call, and
// a call that never queued has none.
func TestACDAPIMethodsAndDecisions(t *testing.T) {
	t.Parallel()
	h := startHotline(t, nil)
	for _, tt := range []struct{ method, path, allow string }{
		{"POST", "/api/v1/calls", "GET, HEAD"},
		{"DELETE", "/api/v1/calls/x", "GET, HEAD"},
		{"POST", "/api/v1/calls/x/decisions", "GET, HEAD"},
		{"DELETE", "/api/v1/agents", "GET, HEAD"},
		{"PUT", "/api/v1/agents/1001", "GET, HEAD"},
		{"POST", "/api/v1/agents/1001/state", "PUT"},
		{"GET", "/api/v1/agents/1001/state", "PUT"},
		{"GET", "/api/v1/agents/1001/login", "POST"},
		{"PUT", "/api/v1/agents/1001/logout", "POST"},
		{"POST", "/api/v1/agents/1001/events", "GET, HEAD"},
		{"POST", "/api/v1/queues", "GET, HEAD"},
		{"PUT", "/api/v1/callbacks", "GET, HEAD, POST"},
		{"POST", "/api/v1/callbacks/1", "DELETE, GET, HEAD"},
		{"PATCH", "/api/v1/recordings/x", "GET, HEAD"},
		{"POST", "/healthz", "GET, HEAD"},
		{"POST", "/metrics", "GET, HEAD"},
	} {
		res := h.do(tt.method, tt.path, "", nil)
		res.want(t, tt.method+" "+tt.path, 405, nil)
		if got := res.header.Get("Allow"); got != tt.allow {
			t.Errorf("%s %s: Allow %q, want %q", tt.method, tt.path, got, tt.allow)
		}
	}
	// HEAD works wherever GET does; an unknown path is a JSON 404 for any method.
	if res := h.do("HEAD", "/api/v1/agents", h.token, nil); res.status != 200 {
		t.Errorf("HEAD agents: %d", res.status)
	}
	h.do("DELETE", "/api/v1/nothing", h.token, nil).want(t, "unknown path", 404, nil)
	// The demo has no outbound trunk: a callback could never be dialed.
	h.do("POST", "/api/v1/callbacks", h.token, map[string]any{"queue": "sales", "number": "5551000"}).
		want(t, "a callback without an outbound trunk", 409, nil)

	h.do("GET", "/api/v1/calls/nosuch/decisions", h.token, nil).want(t, "decisions of an unknown call", 404, nil)
	h.do("GET", "/api/v1/calls/callback-999/decisions", h.token, nil).want(t, "decisions of an unknown callback", 404, nil)
	h.do("GET", "/api/v1/calls/x/decisions", "", nil).want(t, "decisions without token", 401, nil)

	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	h.call(ctx, "carrier_no_digit.xml", "100", map[string]string{"wait_ms": "1000"})
	cdr := h.waitEndedCall()
	var dec struct {
		CallID    string `json:"call_id"`
		Decisions []api.DecisionJSON
	}
	h.do("GET", "/api/v1/calls/"+url.PathEscape(cdr.CallID)+"/decisions", h.token, nil).want(t, "decisions of an IVR call", 200, &dec)
	if dec.CallID != cdr.CallID || dec.Decisions == nil || len(dec.Decisions) != 0 {
		t.Errorf("decisions = %+v", dec)
	}

	// Every ACD metric is there before anything happens, and lints.
	m := h.metrics()
	for _, series := range []string{
		`hotline_acd_agents{state="on-hold"}`,
		`hotline_acd_agents_not_ready{reason="missed"}`,
		`hotline_acd_calls_total{queue="sales",result="callback"}`,
		`hotline_acd_calls_moved_total{direction="in",queue="support"}`,
		`hotline_acd_queue_offers_total{queue="sales",result="no-answer"}`,
		`hotline_acd_service_level_verdicts_total{outcome="excluded",queue="sales"}`,
		`hotline_acd_service_level_target_ratio{queue="sales"}`,
		`hotline_acd_callbacks_pending{queue="support"}`,
		`hotline_acd_staffed_agents{queue="support"}`,
		`hotline_acd_wait_seconds_total{queue="sales",result="abandoned"}`,
		`hotline_acd_offers_total{result="rejected"}`,
		`hotline_acd_calls_queued_total`,
		`hotline_acd_calls_abandoned_total`,
		`hotline_acd_repairs_total`,
		`hotline_acd_stale_events_total`,
		`hotline_acd_unknown_events_total`,
		`hotline_queue_oldest_wait_seconds{queue="sales"}`,
	} {
		if math.IsNaN(metricValue(m, series)) {
			t.Errorf("no %s", series)
		}
	}
	// What is not known yet is left out rather than made up.
	for _, series := range []string{
		`hotline_acd_service_level_ratio{queue="sales"}`,
		`hotline_acd_handle_time_seconds{queue="sales"}`,
	} {
		if !math.IsNaN(metricValue(m, series)) {
			t.Errorf("%s exported before any call counted", series)
		}
	}
}

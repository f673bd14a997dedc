package api

import (
	"io"
	"log/slog"
	"net/http/httptest"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/hotline-cc/hotline/config"
	"github.com/hotline-cc/hotline/store"
)

// kpiPeriod is the hour after t0, the period of the KPI tests.
const kpiPeriod = "from=2026-11-23T09:00:00Z&to=2026-11-23T10:00:00Z"

// kpiCalls writes a small day: two queues, two agents, a transfer, an
// abandon, service-level outcomes and wrap-ups.
func (a *testAPI) kpiCalls() {
	a.t.Helper()
	call := func(id, queue, agent string, minute int, change func(*store.CDR)) {
		c := store.CDR{CallID: id, Caller: "+1" + id, Queue: queue, AgentID: agent, Result: "completed",
			Start: t0.Add(time.Duration(minute) * time.Minute)}
		change(&c)
		a.call(c)
	}
	call("s1", "support", "1001", 0, func(c *store.CDR) {
		c.Talk, c.Hold, c.WrapUp, c.SLOutcome = 100*time.Second, 20*time.Second, 10*time.Second, store.SLMet
	})
	call("s2", "support", "1002", 20, func(c *store.CDR) {
		c.Talk, c.WrapUp, c.SLOutcome, c.TransferTo = 50*time.Second, 30*time.Second, store.SLMissed, "extension 2000"
	})
	call("s3", "support", "", 40, func(c *store.CDR) { c.Result, c.SLOutcome = "abandoned", store.SLExcluded })
	call("b1", "sales", "1001", 50, func(c *store.CDR) { c.Talk, c.SLOutcome = 60*time.Second, store.SLMet })
	// Outside the period.
	call("late", "sales", "1001", 60, func(c *store.CDR) { c.Talk = time.Hour })
}

// report GETs a KPI report as JSON and returns its rows.
func (a *testAPI) reportRows(path string) []any {
	a.t.Helper()
	body := a.want(path, qaToken, 200)
	rows, ok := body["rows"].([]any)
	if !ok {
		a.t.Fatalf("%s: no rows: %v", path, body)
	}
	return rows
}

func TestKPIReportsJSON(t *testing.T) {
	a := newTestAPI(t)
	a.kpiCalls()
	for _, tt := range []struct {
		path string
		want []any
	}{
		{"/api/v1/reports/aht?" + kpiPeriod, []any{
			map[string]any{"calls": 3.0, "avg_talk": 70.0, "avg_hold": 20.0 / 3, "avg_wrap_up": 40.0 / 3, "aht": 250.0 / 3},
		}},
		{"/api/v1/reports/aht?group_by=agent&" + kpiPeriod, []any{
			map[string]any{"key": "1001", "calls": 2.0, "avg_talk": 80.0, "avg_hold": 10.0, "avg_wrap_up": 5.0, "aht": 85.0},
			map[string]any{"key": "1002", "calls": 1.0, "avg_talk": 50.0, "avg_hold": 0.0, "avg_wrap_up": 30.0, "aht": 80.0},
		}},
		{"/api/v1/reports/sl?group_by=queue&" + kpiPeriod, []any{
			map[string]any{"key": "sales", "met": 1.0, "missed": 0.0, "sl": 1.0},
			map[string]any{"key": "support", "met": 1.0, "missed": 1.0, "sl": 0.5},
		}},
		{"/api/v1/reports/rates?group_by=queue&" + kpiPeriod, []any{
			map[string]any{"key": "sales", "offered": 1.0, "answered": 1.0, "abandoned": 0.0, "transferred": 0.0,
				"answer_rate": 1.0, "abandon_rate": 0.0, "transfer_rate": 0.0},
			map[string]any{"key": "support", "offered": 3.0, "answered": 2.0, "abandoned": 1.0, "transferred": 1.0,
				"answer_rate": 2.0 / 3, "abandon_rate": 1.0 / 3, "transfer_rate": 1.0 / 3},
		}},
		{"/api/v1/reports/fcr?group_by=business_type&" + kpiPeriod, []any{
			map[string]any{"key": "", "calls": 3.0, "resolved": 3.0, "fcr_rate": 1.0},
		}},
		{"/api/v1/reports/rates?interval=30m&" + kpiPeriod, []any{
			map[string]any{"interval_start": "2026-11-23T09:00:00Z", "offered": 2.0, "answered": 2.0, "abandoned": 0.0,
				"transferred": 1.0, "answer_rate": 1.0, "abandon_rate": 0.0, "transfer_rate": 0.5},
			map[string]any{"interval_start": "2026-11-23T09:30:00Z", "offered": 2.0, "answered": 1.0, "abandoned": 1.0,
				"transferred": 0.0, "answer_rate": 0.5, "abandon_rate": 0.5, "transfer_rate": 0.0},
		}},
	} {
		if got := a.reportRows(tt.path); !reflect.DeepEqual(got, tt.want) {
			t.Errorf("%s:\n got  %v\n want %v", tt.path, got, tt.want)
		}
	}

	body := a.want("/api/v1/reports/sl?group_by=agent&interval=15m&"+kpiPeriod, supToken, 200)
	for k, v := range map[string]any{"kpi": "sl", "group_by": "agent", "interval": "15m",
		"from": "2026-11-23T09:00:00Z", "to": "2026-11-23T10:00:00Z"} {
		if body[k] != v {
			t.Errorf("%s = %#v, want %#v", k, body[k], v)
		}
	}
	// The calls of 09:00 and 09:50 (agent 1001) and 09:20 (agent 1002);
	// the abandoned call's outcome is excluded.
	want := []any{
		map[string]any{"key": "1001", "interval_start": "2026-11-23T09:00:00Z", "met": 1.0, "missed": 0.0, "sl": 1.0},
		map[string]any{"key": "1002", "interval_start": "2026-11-23T09:15:00Z", "met": 0.0, "missed": 1.0, "sl": 0.0},
		map[string]any{"key": "1001", "interval_start": "2026-11-23T09:45:00Z", "met": 1.0, "missed": 0.0, "sl": 1.0},
	}
	if !reflect.DeepEqual(body["rows"], want) {
		t.Errorf("sl by agent and 15m:\n got  %v\n want %v", body["rows"], want)
	}
	if rows := a.reportRows("/api/v1/reports/sl?from=2026-11-24T00:00:00Z&to=2026-11-25T00:00:00Z"); len(rows) != 0 {
		t.Errorf("a period without calls: %v", rows)
	}
}

// TestFCRReportUsesTheConfiguredWindow: a repeat an hour and a half later
// is outside a one-hour window (resolved), and one at exactly the hour is
// inside (not resolved).
func TestFCRReportUsesTheConfiguredWindow(t *testing.T) {
	a := newTestAPI(t)
	cfg := &config.Config{
		HTTP:    config.HTTP{Tokens: []config.Token{{Name: "qa", Token: qaToken, Role: config.RoleQA}}},
		Reports: config.Reports{FCRWindow: time.Hour},
	}
	a.h = Handler(Deps{Config: func() *config.Config { return cfg }, Store: a.store,
		Gatherer: prometheus.NewRegistry(), Log: slog.New(slog.NewTextHandler(io.Discard, nil))})
	a.call(store.CDR{CallID: "a", Caller: "+1", AgentID: "1001", Start: t0})
	a.call(store.CDR{CallID: "a-again", Caller: "+1", Start: t0.Add(90 * time.Minute)})
	a.call(store.CDR{CallID: "b", Caller: "+2", AgentID: "1001", Start: t0.Add(time.Minute)})
	a.call(store.CDR{CallID: "b-again", Caller: "+2", Start: t0.Add(61 * time.Minute)})

	body := a.want("/api/v1/reports/fcr?"+kpiPeriod, qaToken, 200)
	want := []any{map[string]any{"calls": 2.0, "resolved": 1.0, "fcr_rate": 0.5}}
	if !reflect.DeepEqual(body["rows"], want) || body["fcr_window_seconds"] != 3600.0 {
		t.Errorf("rows %v, window %v; want %v and 3600", body["rows"], body["fcr_window_seconds"], want)
	}
}

func TestKPIReportCSV(t *testing.T) {
	a := newTestAPI(t)
	a.kpiCalls()
	for _, tt := range []struct{ query, want string }{
		{"rates?group_by=queue&interval=60m&format=csv&" + kpiPeriod,
			"queue,interval_start,offered,answered,abandoned,transferred,answer_rate,abandon_rate,transfer_rate\n" +
				"sales,2026-11-23T09:00:00Z,1,1,0,0,1,0,0\n" +
				"support,2026-11-23T09:00:00Z,3,2,1,1,0.6666666666666666,0.3333333333333333,0.3333333333333333\n"},
		{"fcr?format=csv&" + kpiPeriod, "calls,resolved,fcr_rate\n3,3,1\n"},
		{"sl?group_by=agent&format=csv&" + kpiPeriod, "agent,met,missed,sl\n1001,2,0,1\n1002,0,1,0\n"},
	} {
		rec := httptest.NewRecorder()
		req := httptest.NewRequest("GET", "/api/v1/reports/"+tt.query, nil)
		req.Header.Set("Authorization", "Bearer "+qaToken)
		a.h.ServeHTTP(rec, req)
		if rec.Code != 200 || !strings.HasPrefix(rec.Header().Get("Content-Type"), "text/csv") {
			t.Fatalf("%s: %d %s %s", tt.query, rec.Code, rec.Header().Get("Content-Type"), rec.Body)
		}
		if rec.Body.String() != tt.want {
			t.Errorf("%s:\n%s\nwant\n%s", tt.query, rec.Body, tt.want)
		}
	}
}

func TestKPIReportRefusals(t *testing.T) {
	a := newTestAPI(t)
	for _, tt := range []struct {
		path   string
		token  string
		status int
		names  string
	}{
		{"/api/v1/reports/fcr", "", 401, "token"},
		{"/api/v1/reports/fcr", "wrong", 401, "token"},
		{"/api/v1/reports/aht", agentToken, 403, "KPI"},
		{"/api/v1/reports/nope", adminToken, 404, "nope"},
		{"/api/v1/reports/sl?group_by=tags", adminToken, 400, "group_by"},
		{"/api/v1/reports/sl?interval=45m", adminToken, 400, "interval"},
		{"/api/v1/reports/sl?interval=1h", adminToken, 400, "interval"},
		{"/api/v1/reports/sl?format=xml", adminToken, 400, "format"},
		{"/api/v1/reports/sl?from=monday", adminToken, 400, "from"},
		{"/api/v1/reports/sl?to=2026-11-23T09:00:00Z&from=2026-11-23T10:00:00Z", adminToken, 400, "from"},
		{"/api/v1/reports/sl?grup_by=queue", adminToken, 400, "grup_by"},
		{"/api/v1/reports/sl?interval=15m&from=2025-11-23T09:00:00Z&to=2026-11-23T09:00:00Z", adminToken, 400, "interval"},
	} {
		body := a.want(tt.path, tt.token, tt.status)
		if msg, _ := body["error"].(string); !strings.Contains(msg, tt.names) {
			t.Errorf("%s: error %q does not mention %s", tt.path, msg, tt.names)
		}
	}
}

// TestNPSReportKeepsItsRoute: /api/v1/reports/nps keeps its own JSON
// answer (with average scores); CSV and intervals are the KPI reports'.
func TestNPSReportKeepsItsRoute(t *testing.T) {
	a := newTestAPI(t)
	a.call(store.CDR{CallID: "c1", Start: t0, AgentID: "1001", SurveyScore: 10, SurveySet: true})
	body := a.want("/api/v1/reports/nps?"+kpiPeriod, qaToken, 200)
	if body["nps"] != 100.0 || body["groups"] == nil {
		t.Errorf("nps report: %v", body)
	}
	// CSV and intervals come from the KPI reports.
	if rec := a.fetch("/api/v1/reports/nps?format=csv&interval=60m&"+kpiPeriod, qaToken, ""); rec.Code != 200 ||
		!strings.HasPrefix(rec.Body.String(), "interval_start,responses,promoters,passives,detractors,nps\n") {
		t.Errorf("nps as CSV by the hour: %d %q", rec.Code, rec.Body)
	}
	a.want("/api/v1/reports/nps", agentToken, 403)
}

// TestCSVTextDefusesFormulas: a group name a spreadsheet would run as a
// formula is written as text.
func TestCSVTextDefusesFormulas(t *testing.T) {
	for in, want := range map[string]string{
		"support": "support", "=HYPERLINK(\"x\")": "'=HYPERLINK(\"x\")", "+1": "'+1", "-2": "'-2", "@SUM(A1)": "'@SUM(A1)", "": "",
	} {
		if got := csvText(in); got != want {
			t.Errorf("csvText(%q) = %q, want %q", in, got, want)
		}
	}
}

package app_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hotline-cc/hotline/app"
	"github.com/hotline-cc/hotline/config"
	"github.com/hotline-cc/hotline/internal/sipptest"
	"github.com/hotline-cc/hotline/ivr/say"
	"github.com/hotline-cc/hotline/media"
	"github.com/hotline-cc/hotline/prompts"
)

// End-to-end checks of the IVR node kinds of docs/ivr.md beyond menus: data
// dips (http), set and branch, collect, schedule, say, transfer, survey and
// trunk routes. Each test runs its own configuration on loopback ports, SIPp
// carriers keying with ivr_carrier_keys.xml (caller +15550100), SIPp agents,
// and a local web service (httptest) as the CRM.

// ivrBase is the part of the tests' configurations that does not change:
// two agents (the harness's startAgent logs in with password "demo"+ID), a
// queue for cards and one for support. The listen addresses, data folder
// and RTP ports are replaced by startHotlineYAML.
const ivrBase = `
sip: { listen: "127.0.0.1:5060", realm: hotline }
http:
  listen: "127.0.0.1:8080"
  tokens: [{ name: test-admin, role: admin, token: test-token }]
data_dir: ./data
rtp: { ports: 20000-29999 }
agents:
  - { id: "1003", name: Carol, password: demo1003 }
  - { id: "1004", name: Dave, password: demo1004 }
queues:
  - { name: cards, agents: ["1003"], music: moh, ring_timeout: 5s }
  - { name: support, agents: ["1003", "1004"], music: moh, ring_timeout: 5s }
`

// ivrTrunk is a carrier trunk running flow main.
const ivrTrunk = `
trunks:
  - { name: carrier, acl: [127.0.0.0/8], numbers: ["*"], flow: main }
`

// startHotlineYAML runs ivrBase plus rest (trunks, flows, calendars) on the
// harness's loopback ports and temporary data folder.
func startHotlineYAML(t *testing.T, rest string) *hotline {
	t.Helper()
	text := ivrBase + rest
	parsed, err := config.Parse("ivr_e2e.yaml", []byte(text))
	if err != nil {
		t.Fatalf("configuration does not parse:\n%v\n%s", err, numbered(text))
	}
	return startHotline(t, func(c *config.Config) {
		keep := *c
		*c = *parsed
		c.SIP.Listen, c.SIP.Advertise = keep.SIP.Listen, keep.SIP.Advertise
		c.HTTP.Listen = keep.HTTP.Listen
		c.DataDir = keep.DataDir
		c.RTP.PortLow, c.RTP.PortHigh = keep.RTP.PortLow, keep.RTP.PortHigh
	})
}

func numbered(text string) string {
	var b strings.Builder
	for i, line := range strings.Split(text, "\n") {
		fmt.Fprintf(&b, "%3d %s\n", i+1, line)
	}
	return b.String()
}

// dipRequest is what the test CRM saw of one data dip.
type dipRequest struct {
	Method, URI, CallID, Accept string
}

// dipServer is a CRM on 127.0.0.1 that records every request and answers
// with answer.
type dipServer struct {
	*httptest.Server
	mu   sync.Mutex
	reqs []dipRequest
}

func newDipServer(t *testing.T, answer http.HandlerFunc) *dipServer {
	t.Helper()
	s := &dipServer{}
	s.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.mu.Lock()
		s.reqs = append(s.reqs, dipRequest{Method: r.Method, URI: r.RequestURI, CallID: r.Header.Get("X-Call-ID"), Accept: r.Header.Get("Accept")})
		s.mu.Unlock()
		answer(w, r)
	}))
	t.Cleanup(s.Close)
	return s
}

func (s *dipServer) requests() []dipRequest {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]dipRequest(nil), s.reqs...)
}

func writeJSON(w http.ResponseWriter, v any) {
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(v)
}

// ivrCall runs one ivr_carrier_keys.xml call to called and fails unless it
// went as scripted; it returns the call's SIP Call-ID, which is the CDR's.
func (h *hotline) ivrCall(ctx context.Context, called string, vars map[string]string) string {
	h.t.Helper()
	p := h.startIVRCall(ctx, called, vars)
	return sipCallID(h.t, p.WaitSuccess(h.t, 1))
}

// startIVRCall starts an ivr_carrier_keys.xml call in the background.
func (h *hotline) startIVRCall(ctx context.Context, called string, vars map[string]string) *sipptest.Process {
	h.t.Helper()
	p, err := sipptest.Start(ctx, h.t, sipptest.Scenario{
		File: "ivr_carrier_keys.xml", Remote: h.sipAddr(), Service: called, Vars: vars, Timeout: 20 * time.Second,
	})
	if err != nil {
		h.t.Fatal(err)
	}
	return p
}

var callIDHeader = regexp.MustCompile(`(?mi)^\s*Call-ID:\s*(\S+)\s*$`)

// sipCallID is the Call-ID of the one call of a finished SIPp run.
func sipCallID(t *testing.T, res *sipptest.Result) string {
	t.Helper()
	m := callIDHeader.FindStringSubmatch(res.Messages)
	if m == nil {
		t.Fatalf("no Call-ID in SIPp's messages:\n%s", tailString(res.Messages, 3000))
	}
	return m[1]
}

// metricSum adds up the samples of metric name whose labels include every
// one of labels (each written name="value"); absent series count 0.
func metricSum(text, name string, labels ...string) float64 {
	var sum float64
	for _, line := range strings.Split(text, "\n") {
		rest, ok := strings.CutPrefix(line, name+"{")
		if !ok {
			continue
		}
		set, value, ok := strings.Cut(rest, "} ")
		if !ok {
			continue
		}
		all := true
		for _, l := range labels {
			if !strings.Contains(","+set+",", ","+l+",") {
				all = false
				break
			}
		}
		if all {
			var v float64
			fmt.Sscanf(value, "%g", &v)
			sum += v
		}
	}
	return sum
}

// checkMetrics compares metric sums with what they should be.
func checkMetrics(t *testing.T, h *hotline, want map[string]float64) {
	t.Helper()
	m := h.metrics()
	for series, w := range want {
		name, labels, _ := strings.Cut(series, "{")
		labels = strings.TrimSuffix(labels, "}")
		var pairs []string
		if labels != "" {
			pairs = strings.Split(labels, ",")
		}
		if got := metricSum(m, name, pairs...); got != w {
			t.Errorf("%s = %v, want %v", series, got, w)
		}
	}
}

// hotlineLog is what hotline logged so far.
func (h *hotline) hotlineLog() string {
	h.t.Helper()
	b, err := os.ReadFile(h.cfg.DataDir + "/hotline.log")
	if err != nil {
		h.t.Fatal(err)
	}
	return string(b)
}

// promptAt returns where in samples (a recording's channel), at from or
// later, the built-in prompt name starts, or -1. It looks for the prompt's
// first loud 40 ms sample for sample: hotline plays prompts as loaded and
// records what it plays.
func promptAt(t *testing.T, samples []int16, name string, from int) int {
	t.Helper()
	f, err := prompts.FS.Open(name + ".wav")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	pcm, err := media.LoadWAV(f)
	if err != nil {
		t.Fatalf("prompt %s: %v", name, err)
	}
	// The first loud 40 ms: a prompt cut short by a key press has it too.
	const n = 320
	loudest := 0.0
	for at := 0; at+n <= len(pcm); at += n {
		loudest = max(loudest, rms(pcm[at:at+n]))
	}
	best := -1
	for at := 0; at+n <= len(pcm) && best < 0; at += n {
		if rms(pcm[at:at+n]) >= loudest/2 {
			best = at
		}
	}
	if loudest < 100 {
		t.Fatalf("prompt %s is silent", name)
	}
	needle := pcm[best : best+n]
	for i := max(from+best, 0); i+n <= len(samples); i++ {
		if slices.Equal(samples[i:i+n], needle) {
			return i - best
		}
	}
	return -1
}

// sampleTime writes a position in an 8 kHz recording, as promptAt
// returns it.
func sampleTime(i int) string {
	if i < 0 {
		return "nowhere (not heard)"
	}
	return fmt.Sprintf("%.2fs", float64(i)/8000)
}

// TestIVRDataDipBranchesAndMenusToAgent: the flow asks the CRM about the
// caller (GET /customers/${caller}), learns they are a gold cards customer,
// sets business_type and priority, and takes them through a two-level menu
// (1: cards, then 2: the cards queue) to agent 1003, who answers. The CRM
// sees the caller's number escaped and the call's ID; the CDR has the path,
// the business type, the priority, the queue and the agent.
func TestIVRDataDipBranchesAndMenusToAgent(t *testing.T) {
	t.Parallel()
	requirePCAP(t)
	crm := newDipServer(t, func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, map[string]any{"customer": map[string]any{"tier": "gold", "segment": "cards"}})
	})
	h := startHotlineYAML(t, ivrTrunk+strings.ReplaceAll(`
flows:
  - name: main
    start: lookup
    nodes:
      lookup:
        http:
          url: "CRM/customers/${caller}"
          timeout: 2s
          headers: { Accept: application/json }
          vars: { tier: customer.tier, segment: customer.segment }
          next: by_tier
          fallback: menu
      by_tier:
        branch:
          cases:
            - { var: tier, equals: gold, next: gold }
          else: menu
      gold: { set: { vars: { business_type: cards, priority: "7" }, next: menu } }
      menu:
        menu:
          prompt: welcome
          timeout: 2s
          no_input: support
          invalid: support
          choices: { "1": by_segment, "2": support }
      by_segment:
        branch:
          cases:
            - { var: segment, equals: cards, next: cards_menu }
          else: support
      cards_menu:
        menu:
          prompt: please_hold
          timeout: 2s
          no_input: support
          invalid: support
          choices: { "1": support, "2": cards }
      cards: { queue: { name: cards } }
      support: { queue: support }
`, "CRM", crm.URL))
	ctx, cancel := context.WithTimeout(context.Background(), 40*time.Second)
	defer cancel()
	agent := h.startAgent(ctx, "1003", "agent_answer.xml", map[string]string{"ring_ms": "100"})

	callID := h.ivrCall(ctx, "100", map[string]string{
		"keys": "1,2", "first_ms": "800", "pause_ms": "700", "hangup": "caller", "talk_ms": "1500",
	})
	finished(t, agent, "agent 1003 answers and gets the BYE")

	cdr := h.endedCDR(callID)
	if cdr.IVRPath != "lookup>by_tier>gold>menu>by_segment>cards_menu>cards" || cdr.IVRDigits != "12" {
		t.Errorf("ivr_path %q, ivr_digits %q; want the dip, gold, both menus (1, then 2) and the cards queue", cdr.IVRPath, cdr.IVRDigits)
	}
	if cdr.BusinessType != "cards" || cdr.Priority != 7 || !strings.Contains(","+cdr.Tags+",", ",cards,") {
		t.Errorf("business_type %q, priority %d, tags %q; want cards, 7, tagged cards", cdr.BusinessType, cdr.Priority, cdr.Tags)
	}
	if cdr.Queue != "cards" || cdr.AgentID != "1003" || cdr.Result != "completed" || cdr.HangupBy != "caller" || cdr.TalkSec <= 0 {
		t.Errorf("CDR = %+v; want completed in cards with 1003, caller hung up", cdr)
	}
	reqs := crm.requests()
	want := dipRequest{Method: "GET", URI: "/customers/%2B15550100", CallID: callID, Accept: "application/json"}
	if len(reqs) != 1 || reqs[0] != want {
		t.Errorf("CRM saw %+v, want one %+v", reqs, want)
	}
	checkMetrics(t, h, map[string]float64{
		`hotline_ivr_http_requests_total{flow="main",node="lookup",result="ok"}`: 1,
		`hotline_ivr_http_requests_total{result="timeout"}`:                      0,
		`hotline_ivr_menu_choices_total{flow="main",node="menu",key="1"}`:        1,
		`hotline_ivr_menu_choices_total{flow="main",node="cards_menu",key="2"}`:  1,
		`hotline_calls_total{result="completed"}`:                                1,
	})
}

// TestIVRDataDipTimeoutAndErrorFallBack: a CRM that does not answer within
// the node's 300 ms, and one that answers 500, both send the caller to the
// fallback, which tells them apart by http_status.
func TestIVRDataDipTimeoutAndErrorFallBack(t *testing.T) {
	t.Parallel()
	requirePCAP(t) // sipptest runs ivr_carrier_keys.xml (it can play key pcaps) only with a raw socket
	release := make(chan struct{})
	crm := newDipServer(t, func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/dip/7001": // hangs until hotline gives up (or the test ends)
			select {
			case <-r.Context().Done():
			case <-release:
			}
		case "/dip/7002":
			http.Error(w, "database on fire", http.StatusInternalServerError)
		default:
			writeJSON(w, map[string]any{"tier": "gold"})
		}
	})
	t.Cleanup(func() { close(release) }) // before crm.Close (cleanups run last first)
	h := startHotlineYAML(t, ivrTrunk+strings.ReplaceAll(`
flows:
  - name: main
    start: dip
    nodes:
      dip:
        http: { url: "CRM/dip/${called}", timeout: 300ms, vars: { tier: tier }, next: served, fallback: why }
      served: { hangup: { reason: served } }
      why:
        branch:
          cases:
            - { var: http_status, equals: timeout, next: timed_out }
            - { var: http_status, equals: "500", next: server_error }
          else: other_failure
      timed_out: { hangup: { reason: crm timed out } }
      server_error: { hangup: { reason: crm failed } }
      other_failure: { hangup: { reason: other } }
`, "CRM", crm.URL))
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()

	slow := h.ivrCall(ctx, "7001", nil)
	cdr := h.endedCDR(slow)
	if cdr.IVRPath != "dip>why>timed_out" || cdr.Result != "ivr" {
		t.Errorf("slow CRM: ivr_path %q, result %q; want dip>why>timed_out, ivr", cdr.IVRPath, cdr.Result)
	}
	if inIVR := cdr.End.Sub(*cdr.Answer); inIVR < 250*time.Millisecond || inIVR > 3*time.Second {
		t.Errorf("slow CRM: the call lasted %v; want about the 300 ms timeout", inIVR)
	}

	broken := h.ivrCall(ctx, "7002", nil)
	cdr = h.endedCDR(broken)
	if cdr.IVRPath != "dip>why>server_error" || cdr.Result != "ivr" {
		t.Errorf("CRM answering 500: ivr_path %q, result %q; want dip>why>server_error, ivr", cdr.IVRPath, cdr.Result)
	}

	reqs := crm.requests()
	if len(reqs) != 2 || reqs[0].URI != "/dip/7001" || reqs[0].CallID != slow || reqs[1].URI != "/dip/7002" || reqs[1].CallID != broken {
		t.Errorf("CRM saw %+v; want /dip/7001 from %s, then /dip/7002 from %s", reqs, slow, broken)
	}
	checkMetrics(t, h, map[string]float64{
		`hotline_ivr_http_requests_total{flow="main",node="dip",result="timeout"}`: 1,
		`hotline_ivr_http_requests_total{flow="main",node="dip",result="status"}`:  1,
		`hotline_ivr_http_requests_total{flow="main",node="dip",result="ok"}`:      0,
		`hotline_ivr_http_requests_total{flow="main",node="dip",result="error"}`:   0,
		`hotline_calls_total{result="ivr"}`:                                        2,
	})
}

var weekdayKeys = [...]string{time.Sunday: "sun", time.Monday: "mon", time.Tuesday: "tue", time.Wednesday: "wed",
	time.Thursday: "thu", time.Friday: "fri", time.Saturday: "sat"}

// TestIVRScheduleMakeUpWorkdayAndHoliday: in Asia/Shanghai, today is made a
// make-up workday of a calendar whose weekly hours leave today's weekday
// closed (open), a holiday of a calendar open around the clock (holiday),
// and the same calendar as the first without the workday stays closed.
func TestIVRScheduleMakeUpWorkdayAndHoliday(t *testing.T) {
	t.Parallel()
	requirePCAP(t) // sipptest runs ivr_carrier_keys.xml (it can play key pcaps) only with a raw socket
	loc, err := time.LoadLocation("Asia/Shanghai")
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now().In(loc)
	if midnight := time.Date(now.Year(), now.Month(), now.Day()+1, 0, 0, 0, 0, loc); midnight.Sub(now) < 2*time.Minute {
		t.Skipf("it is %s in Asia/Shanghai: too close to midnight for a test about today's date", now.Format("15:04:05"))
	}
	today := now.Format("2006-01-02")
	other := weekdayKeys[(now.Weekday()+1)%7] // any day but today's
	yaml := ivrTrunk + strings.NewReplacer("TODAY", today, "OTHER", other).Replace(`
calendars:
  - name: makeup
    timezone: Asia/Shanghai
    weekly: { OTHER: "00:00-24:00" }
    workdays: [{ date: "TODAY", as: OTHER }]
  - name: no_makeup
    timezone: Asia/Shanghai
    weekly: { OTHER: "00:00-24:00" }
  - name: festival
    timezone: Asia/Shanghai
    weekly: { mon-sun: "00:00-24:00" }
    holidays: ["TODAY"]
flows:
  - name: main
    start: pick
    nodes:
      pick:
        branch:
          cases:
            - { var: called, equals: "8001", next: makeup_hours }
            - { var: called, equals: "8002", next: festival_hours }
          else: plain_hours
      makeup_hours: { schedule: { calendar: makeup, open: open, closed: closed, holiday: holiday } }
      festival_hours: { schedule: { calendar: festival, open: open, closed: closed, holiday: holiday } }
      plain_hours: { schedule: { calendar: no_makeup, open: open, closed: closed, holiday: holiday } }
      open: { hangup: { reason: open } }
      closed: { hangup: { reason: closed } }
      holiday: { hangup: { reason: holiday } }
`)
	h := startHotlineYAML(t, yaml)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	for _, tc := range []struct{ called, path, why string }{
		{"8001", "pick>makeup_hours>open", "today is a make-up workday with " + other + "'s hours"},
		{"8002", "pick>festival_hours>holiday", "today is a holiday"},
		{"8003", "pick>plain_hours>closed", "today's weekday has no hours"},
	} {
		id := h.ivrCall(ctx, tc.called, nil)
		if cdr := h.endedCDR(id); cdr.IVRPath != tc.path || cdr.Result != "ivr" {
			t.Errorf("call to %s (%s, %s): ivr_path %q, result %q; want %s", tc.called, today, tc.why, cdr.IVRPath, cdr.Result, tc.path)
		}
	}
}

// TestIVRCollectRetriesUntilValid: an account number of 4 digits starting
// with 9, ended by #. The caller first keys 1234#, hears "invalid" and the
// question again, then keys 9123#; only the good number reaches the CRM
// and the branch after it.
func TestIVRCollectRetriesUntilValid(t *testing.T) {
	t.Parallel()
	requirePCAP(t)
	crm := newDipServer(t, func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, map[string]any{"ok": true})
	})
	h := startHotlineYAML(t, ivrTrunk+strings.ReplaceAll(`
flows:
  - name: main
    start: account
    nodes:
      account:
        collect:
          prompt: welcome
          var: account
          min: 4
          max: 8
          terminator: "#"
          pattern: "^9[0-9]{3}$"
          timeout: 3s
          digit_timeout: 2s
          invalid_prompt: invalid
          retries: 2
          next: verify
          invalid: rejected
      verify:
        http: { url: "CRM/accounts/${account}", timeout: 2s, next: check, fallback: rejected }
      check:
        branch:
          cases:
            - { var: account, equals: "9123", next: verified }
          else: rejected
      verified: { hangup: { reason: verified } }
      rejected: { hangup: { reason: rejected } }
`, "CRM", crm.URL))
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()

	start := time.Now()
	id := h.ivrCall(ctx, "100", map[string]string{"keys": "1234#,9123#", "first_ms": "800", "pause_ms": "1200"})
	took := time.Since(start)
	cdr := h.endedCDR(id)
	// A retry replays the question without entering the node again, so the
	// path has the collect node once; the digits show both attempts.
	if cdr.IVRPath != "account>verify>check>verified" || cdr.IVRDigits != "1234#9123#" || cdr.Result != "ivr" {
		t.Errorf("ivr_path %q, ivr_digits %q, result %q; want account>verify>check>verified after 1234#9123#", cdr.IVRPath, cdr.IVRDigits, cdr.Result)
	}
	if reqs := crm.requests(); len(reqs) != 1 || reqs[0].URI != "/accounts/9123" || reqs[0].CallID != id {
		t.Errorf("CRM saw %+v; want one GET /accounts/9123 (the rejected 1234 never leaves the IVR)", reqs)
	}
	// The caller heard "invalid" between the attempts: after the first #
	// (1.8 s after the answer) and before the second attempt (3.25 s).
	w := h.recording(id)
	switch at := promptAt(t, w.right, "invalid", 0); {
	case at < 0:
		t.Errorf("the invalid prompt is not in the recording (%.2fs; sipp ran %v)", float64(len(w.right))/8000, took)
	case at < int(1.5*8000) || at > int(3.3*8000):
		t.Errorf("the invalid prompt starts at %s of the recording; want it between the attempts, 1.8 s to 3.25 s", sampleTime(at))
	}
}

// surveyedSupportFlows arm the post-call survey nps, then queue the
// caller in support. nps: a beep, a score 0-10 keyed and ended with #, a
// beep and goodbye.
const surveyedSupportFlows = `
flows:
  - name: main
    start: arm
    nodes:
      arm: { survey: { flow: nps, next: to_support } }
      to_support: { queue: support }
` + npsSurveyFlow

// npsSurveyFlow is the survey flow nps alone.
const npsSurveyFlow = `
  - name: nps
    start: rate
    nodes:
      rate:
        collect:
          prompt: beep
          var: survey_score
          min: 1
          max: 2
          terminator: "#"
          pattern: "^([0-9]|10)$"
          timeout: 8s
          retries: 0
          next: thanks
          invalid: thanks
      thanks: { hangup: { prompt: beep, reason: survey done } }
`

// TestIVRPostCallSurveyScoreInCDR: the flow arms the nps survey before the
// queue; agent 1003 answers and hangs up first; the caller is taken to the
// survey, keys 9# and hears hotline hang up. The CDR keeps the agent and
// has survey_score 9; the survey counts a promoter.
func TestIVRPostCallSurveyScoreInCDR(t *testing.T) {
	t.Parallel()
	requirePCAP(t)
	h := startHotlineYAML(t, ivrTrunk+surveyedSupportFlows)
	ctx, cancel := context.WithTimeout(context.Background(), 40*time.Second)
	defer cancel()
	agent := h.startAgent(ctx, "1003", "agent_answer.xml", map[string]string{"ring_ms": "100", "hangup": "agent", "talk_ms": "1000"})

	// The agent hangs up about 1.2 s into the call; the caller keys 9# at
	// 4 s (digits while talking to the agent would be ignored) and then
	// waits for hotline's BYE.
	id := h.ivrCall(ctx, "100", map[string]string{"keys": "9#", "first_ms": "4000"})
	finished(t, agent, "agent 1003 answers and hangs up")

	cdr := h.endedCDR(id)
	if cdr.SurveyScore == nil || *cdr.SurveyScore != 9 {
		t.Errorf("survey_score = %v, want 9", cdr.SurveyScore)
	}
	if cdr.AgentID != "1003" || cdr.Queue != "support" || cdr.Result != "completed" || cdr.HangupBy != "agent" ||
		cdr.IVRPath != "arm>to_support" || cdr.IVRDigits != "" || cdr.TalkSec < 0.5 || cdr.TalkSec > 3 {
		t.Errorf("CDR = %+v; want completed with 1003 in support, agent hung up after about 1 s, the survey out of the IVR path", cdr)
	}
	checkMetrics(t, h, map[string]float64{
		`hotline_survey_responses_total{category="promoter",queue="support"}`: 1,
		`hotline_survey_responses_total{category="none"}`:                     0,
		`hotline_ivr_node_visits_total{flow="nps",node="rate"}`:               1,
	})
	if log := h.hotlineLog(); !strings.Contains(log, "survey answered") {
		t.Errorf("no \"survey answered\" in hotline's log")
	}
	// The caller heard the survey's question (a beep) after the agent left,
	// its goodbye (another beep) after keying at 4 s, and hotline's BYE
	// right after that.
	rt, err := app.LoadRuntime(h.cfg)
	if err != nil {
		t.Fatal(err)
	}
	beep := int(rt.Prompts["beep"].Duration() * 8000 / time.Second)
	w := h.recording(id)
	asked := promptAt(t, w.right, "beep", 0)
	thanked := promptAt(t, w.right, "beep", asked+beep)
	switch {
	case asked < int(cdr.TalkSec*8000) || asked > 4*8000:
		t.Errorf("the survey question starts at %s; want after the talk (%.2fs) and before the keys (4 s)", sampleTime(asked), cdr.TalkSec)
	case thanked < 4*8000:
		t.Errorf("the survey's goodbye starts at %s; want after the keys (4 s)", sampleTime(thanked))
	case len(w.right)-(thanked+beep) > 8000/2:
		t.Errorf("the call went on %.2fs after the survey's goodbye; want hotline's BYE right after it", float64(len(w.right)-(thanked+beep))/8000)
	}
}

// TestIVRTransferToNumberAndMissingExtension: a transfer node dials
// 5550123 through the trunk's outbound address (a SIPp UAS playing 1 kHz)
// and bridges the caller; a transfer to extension 2000, which nobody
// registered, fails at once with transfer_result unavailable and the flow
// goes on at failed.
func TestIVRTransferToNumberAndMissingExtension(t *testing.T) {
	t.Parallel()
	requirePCAP(t)
	ctx, cancel := context.WithTimeout(context.Background(), 40*time.Second)
	defer cancel()
	target, err := sipptest.Start(ctx, t, sipptest.Scenario{
		File: "agent_answer.xml", Service: "5550123", Timeout: 30 * time.Second,
		Vars: map[string]string{"ring_ms": "200"}, // answers, waits for hotline's BYE
	})
	if err != nil {
		t.Fatal(err)
	}
	h := startHotlineYAML(t, `
trunks:
  - { name: carrier, acl: [127.0.0.0/8], numbers: ["*"], flow: main, outbound: "`+target.LocalAddr()+`" }
`+transferFlow("to_number", `number: "5550123", timeout: 5s`, "to_extension", `extension: "2000", timeout: 2s`))

	id := h.ivrCall(ctx, "6001", map[string]string{"hangup": "caller", "talk_ms": "2500"})
	finished(t, target, "the transfer target answers and gets hotline's BYE")
	cdr := h.endedCDR(id)
	if cdr.Result != "transferred" || cdr.TransferTo != "number 5550123" || cdr.IVRPath != "pick>to_number" ||
		cdr.HangupBy != "caller" || cdr.Queue != "" || cdr.TalkSec < 1 {
		t.Errorf("CDR = %+v; want transferred to number 5550123, talked, caller hung up", cdr)
	}
	if res, _ := target.Wait(); !strings.Contains(res.Messages, "INVITE sip:5550123@") {
		t.Errorf("the target's INVITE is not for 5550123:\n%s", tailString(res.Messages, 2000))
	}
	// Bridged: in the last second of the call the caller hears the
	// target's 1 kHz tone.
	w := h.recording(id)
	end := len(w.right) - 1600
	if end < 8000 {
		t.Fatalf("recording too short: %d samples", len(w.right))
	}
	if lv, r := toneLevel(w.right[end-8000:end], 1000), rms(w.right[end-8000:end]); lv < 0.3 || r < 500 {
		t.Errorf("caller's side at the end: 1 kHz level %.2f, rms %.0f; want the target's tone", lv, r)
	}

	id = h.ivrCall(ctx, "6002", nil)
	cdr = h.endedCDR(id)
	if cdr.Result != "ivr" || cdr.TransferTo != "" || cdr.IVRPath != "pick>to_extension>why>unavailable" {
		t.Errorf("CDR = %+v; want the failed branch for transfer_result unavailable", cdr)
	}
	checkMetrics(t, h, map[string]float64{
		`hotline_ivr_transfers_total{kind="number",result="connected"}`:      1,
		`hotline_ivr_transfers_total{kind="extension",result="unavailable"}`: 1,
		`hotline_calls_total{result="transferred"}`:                          1,
		`hotline_calls_total{result="ivr"}`:                                  1,
	})
}

// transferFlow is flow main for the transfer tests: a call to 6001 goes to
// transfer node first (settings firstTo), any other to second; a failed
// transfer hangs up with reason "unavailable" or "transfer failed" by its
// transfer_result, so that the path says which.
func transferFlow(first, firstTo, second, secondTo string) string {
	return fmt.Sprintf(`
flows:
  - name: main
    start: pick
    nodes:
      pick:
        branch:
          cases:
            - { var: called, equals: "6001", next: %[1]s }
          else: %[3]s
      %[1]s: { transfer: { %[2]s, failed: why } }
      %[3]s: { transfer: { %[4]s, failed: why } }
      why:
        branch:
          cases:
            - { var: transfer_result, equals: unavailable, next: unavailable }
          else: other_failure
      unavailable: { hangup: { reason: unavailable } }
      other_failure: { hangup: { reason: transfer failed } }
`, first, firstTo, second, secondTo)
}

// TestIVRTrunkRoutesPickTheFlow: one trunk carries several service
// numbers; 4001 (exact) runs cards_flow, 4002 (prefix 40*) loans_flow and
// anything else the trunk's main.
func TestIVRTrunkRoutesPickTheFlow(t *testing.T) {
	t.Parallel()
	requirePCAP(t) // sipptest runs ivr_carrier_keys.xml (it can play key pcaps) only with a raw socket
	h := startHotlineYAML(t, `
trunks:
  - name: carrier
    acl: [127.0.0.0/8]
    numbers: ["*"]
    flow: main
    routes: { "4001": cards_flow, "40*": loans_flow }
flows:
  - name: main
    start: main_hello
    nodes:
      main_hello: { hangup: { reason: main } }
  - name: cards_flow
    start: cards_hello
    nodes:
      cards_hello: { hangup: { reason: cards } }
  - name: loans_flow
    start: loans_hello
    nodes:
      loans_hello: { hangup: { reason: loans } }
`)
	rt, err := app.LoadRuntime(h.cfg)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	for _, tc := range []struct{ called, flow, path string }{
		{"4001", "cards_flow", "cards_hello"},
		{"4002", "loans_flow", "loans_hello"},
		{"5000", "main", "main_hello"},
	} {
		id := h.ivrCall(ctx, tc.called, nil)
		cdr := h.endedCDR(id)
		if want := rt.Flows[tc.flow].Version(); cdr.IVRPath != tc.path || cdr.FlowVersion != want {
			t.Errorf("call to %s: ivr_path %q, flow_version %q; want %s of %s (version %s)", tc.called, cdr.IVRPath, cdr.FlowVersion, tc.path, tc.flow, want)
		}
	}
	if v := []string{rt.Flows["main"].Version(), rt.Flows["cards_flow"].Version(), rt.Flows["loans_flow"].Version()}; v[0] == v[1] || v[1] == v[2] || v[0] == v[2] {
		t.Errorf("flow versions %v are not distinct; the check above proves nothing", v)
	}
	checkMetrics(t, h, map[string]float64{
		`hotline_ivr_node_visits_total{flow="cards_flow",node="cards_hello"}`: 1,
		`hotline_ivr_node_visits_total{flow="loans_flow",node="loans_hello"}`: 1,
		`hotline_ivr_node_visits_total{flow="main",node="main_hello"}`:        1,
	})
}

// TestIVRSayAmountAndAgentIDInChinese: the CRM gives a balance of 12.50,
// which a say node reads out as an amount (in English, the default); a set
// node switches the call to Chinese, and the next say node reads agent ID
// 1003 from the zh prompt set. The caller hears all of it: the recording
// lasts as long as those pieces, and nothing is missing in the log.
func TestIVRSayAmountAndAgentIDInChinese(t *testing.T) {
	t.Parallel()
	requirePCAP(t) // sipptest runs ivr_carrier_keys.xml (it can play key pcaps) only with a raw socket
	crm := newDipServer(t, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprint(w, `{"account": {"balance": 12.50}}`) // a JSON number, kept as written
	})
	h := startHotlineYAML(t, ivrTrunk+strings.ReplaceAll(`
flows:
  - name: main
    start: balance
    nodes:
      balance:
        http: { url: "CRM/balance/${caller}", timeout: 2s, vars: { balance: account.balance }, next: say_balance, fallback: failed }
      say_balance: { say: { value: "${balance}", as: amount, next: chinese } }
      chinese: { set: { vars: { language: zh }, next: say_agent } }
      say_agent: { say: { value: "1003", as: agent_id, next: done } }
      done: { hangup: { reason: said } }
      failed: { hangup: { reason: no balance } }
`, "CRM", crm.URL))
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()

	id := h.ivrCall(ctx, "100", nil)
	cdr := h.endedCDR(id)
	if cdr.IVRPath != "balance>say_balance>chinese>say_agent>done" || cdr.Result != "ivr" {
		t.Fatalf("ivr_path %q, result %q; want balance>say_balance>chinese>say_agent>done", cdr.IVRPath, cdr.Result)
	}
	log := h.hotlineLog()
	for _, bad := range []string{"prompt missing", "ivr: say "} {
		if strings.Contains(log, bad) {
			t.Errorf("hotline logged %q:\n%s", bad, grepLines(log, bad))
		}
	}

	// The caller heard every piece, in order: the amount from the English
	// set, then the agent ID from the Chinese one (工号 幺零零三), and the
	// recording is as long as they are.
	enAmount, err := say.Pieces("en", say.Amount, "12.50")
	if err != nil {
		t.Fatal(err)
	}
	zhAgent, err := say.Pieces("zh", say.AgentID, "1003")
	if err != nil {
		t.Fatal(err)
	}
	rt, err := app.LoadRuntime(h.cfg)
	if err != nil {
		t.Fatal(err)
	}
	w := h.recording(id)
	at, heard := 0, time.Duration(0)
	for _, p := range append(enAmount, zhAgent...) {
		next := promptAt(t, w.right, p, at)
		if next < 0 {
			t.Fatalf("%s is not in the recording after %.2fs (pieces %q then %q)", p, float64(at)/8000, enAmount, zhAgent)
		}
		at = next + int(rt.Prompts[p].Duration()*8000/time.Second)
		heard += rt.Prompts[p].Duration()
	}
	if i := promptAt(t, w.right, "say/en/agent_number", 0); i >= 0 {
		t.Errorf("the English \"agent number\" is in the recording at %.2fs; the call was in Chinese by then", float64(i)/8000)
	}
	// From the answer to the BYE: the pieces back to back, the data dip and
	// the last frames (about 0.1 s).
	if got := time.Duration(len(w.right)) * time.Second / 8000; got < heard || got > heard+time.Second/2 {
		t.Errorf("recording %v; want about the %v of the pieces", got, heard)
	}
}

// TestIVRTransferToAnAgent: a transfer node names agent 1003, who answers
// through the ACD (the call is an ACD call: agent, queue, transfer_to in
// the CDR); agent 1004 is not logged in, so a transfer to them takes the
// failed branch with transfer_result unavailable.
func TestIVRTransferToAnAgent(t *testing.T) {
	t.Parallel()
	requirePCAP(t)
	h := startHotlineYAML(t, ivrTrunk+transferFlow("to_carol", `agent: "1003", timeout: 5s`, "to_dave", `agent: "${called}", timeout: 5s`))
	ctx, cancel := context.WithTimeout(context.Background(), 40*time.Second)
	defer cancel()
	agent := h.startAgent(ctx, "1003", "agent_answer.xml", map[string]string{"ring_ms": "100"})

	id := h.ivrCall(ctx, "6001", map[string]string{"hangup": "caller", "talk_ms": "1500"})
	finished(t, agent, "agent 1003 answers the transfer and gets the BYE")
	cdr := h.endedCDR(id)
	if cdr.AgentID != "1003" || cdr.TransferTo != "agent 1003" || cdr.Result != "completed" || cdr.IVRPath != "pick>to_carol" ||
		cdr.Queue != "cards" || cdr.TalkSec <= 0 {
		t.Errorf("CDR = %+v; want agent 1003 through cards, transfer_to agent 1003, completed", cdr)
	}

	id = h.ivrCall(ctx, "1004", nil)
	cdr = h.endedCDR(id)
	if cdr.Result != "ivr" || cdr.AgentID != "" || cdr.IVRPath != "pick>to_dave>why>unavailable" {
		t.Errorf("CDR = %+v; want the failed branch for transfer_result unavailable", cdr)
	}
	checkMetrics(t, h, map[string]float64{
		`hotline_ivr_transfers_total{kind="agent",result="connected"}`:   1,
		`hotline_ivr_transfers_total{kind="agent",result="unavailable"}`: 1,
	})
}

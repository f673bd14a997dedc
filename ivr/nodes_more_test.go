package ivr

import (
	"errors"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/hotline-cc/hotline/config"
	"github.com/hotline-cc/hotline/ivr/say"
)

// callNodesConfig has an outbound trunk (transfers to numbers need one)
// and the flows of the tests below.
const callNodesConfig = `agents: [{id: "1001", password: p}]
queues: [{name: q, agents: ["1001"]}]
trunks: [{name: t, acl: 127.0.0.1, flow: f, outbound: "127.0.0.1:5090"}]
flows:
  - name: f
    start: dip
    nodes:
      dip:
        http:
          url: "http://crm.test/customers/${caller}?called=${called}"
          headers: {Authorization: "Bearer ${token}"}
          timeout: 2s
          vars: {tier: customer.tier, balance: customer.accounts.1.balance, vip: customer.vip, none: customer.missing}
          next: speak
          fallback: sorry
      speak: {say: {value: "${balance}", as: amount, next: survey}}
      survey: {survey: {flow: nps, next: xfer}}
      xfer: {transfer: {number: "${tier}", allow: ["800*"], timeout: 20s, failed: sorry}}
      sorry: {hangup: {prompt: error}}
  - name: nps
    start: ask
    nodes:
      ask: {collect: {prompt: welcome, var: survey_score, max: 2, terminator: "#", pattern: "^(10|[0-9])$", next: bye}}
      bye: {hangup: {prompt: goodbye}}
`

// hasPromptOrSay accepts the demo prompts and every say piece.
func hasPromptOrSay(name string) bool {
	return hasDemoPrompt(name) || strings.HasPrefix(name, "say/")
}

func compileConfig(t *testing.T, src, flow string) *Graph {
	t.Helper()
	cfg, err := config.Parse("c.yaml", []byte(src))
	if err != nil {
		t.Fatal(err)
	}
	g, errs := Compile(cfg.Flow(flow), hasPromptOrSay)
	if errs != nil {
		t.Fatal(errs)
	}
	return g
}

func TestHTTPNode(t *testing.T) {
	g := compileConfig(t, callNodesConfig, "f")
	vars := map[string]string{"caller": "+86 138&x=1", "called": "4001", "token": "s3cret\r\nX-Evil: 1"}
	answer := []byte(`{"customer": {"tier": "8001", "vip": true, "accounts": [{"balance": 1}, {"balance": 12.5}]}}`)

	t.Run("answer fills variables", func(t *testing.T) {
		r, actions := StartWith(g, t0, vars)
		f, ok := actions[0].(Fetch)
		if !ok || len(actions) != 1 {
			t.Fatalf("Start = %#v, want one Fetch", actions)
		}
		if want := "http://crm.test/customers/%2B86%20138%26x%3D1?called=4001"; f.URL != want {
			t.Errorf("URL = %q, want %q (values escaped)", f.URL, want)
		}
		if want := [][2]string{{"Authorization", "Bearer s3cretX-Evil: 1"}}; !reflect.DeepEqual(f.Headers, want) {
			t.Errorf("headers = %q, want %q (no CR/LF from variables)", f.Headers, want)
		}
		if f.Timeout != 2*time.Second || !r.Deadline().Equal(t0.Add(2*time.Second)) {
			t.Errorf("timeout %v, deadline %v", f.Timeout, r.Deadline())
		}
		// A digit while the dip runs changes nothing but the digits.
		if got := r.Step(EventDigit{Digit: '5'}, t0); got != nil {
			t.Errorf("digit during the dip = %#v", got)
		}
		got := r.Step(EventFetched{Seq: f.Seq, Status: 200, Body: answer}, t0.Add(time.Second))
		want := []Action{Play{Prompts: mustPieces(t, "en", say.Amount, "12.5")}}
		if !reflect.DeepEqual(got, want) {
			t.Fatalf("answer = %#v, want %#v", got, want)
		}
		for k, v := range map[string]string{"tier": "8001", "balance": "12.5", "vip": "true", "http_status": "200"} {
			if r.Var(k) != v {
				t.Errorf("var %s = %q, want %q", k, r.Var(k), v)
			}
		}
		if _, set := r.Vars()["none"]; set {
			t.Error("a missing field set its variable")
		}
		// The amount is said, the survey armed, the transfer asked for.
		got = r.Step(EventPlaybackDone{}, t0.Add(3*time.Second))
		if want := []Action{Transfer{Number: "8001", Timeout: 20 * time.Second}}; !reflect.DeepEqual(got, want) {
			t.Fatalf("after say = %#v, want %#v", got, want)
		}
		if r.Survey() != "nps" {
			t.Errorf("Survey() = %q", r.Survey())
		}
		if r.Step(EventTransferDone{Connected: true}, t0.Add(4*time.Second)); !r.Done() {
			t.Error("a connected transfer leaves the run going")
		}
	})

	for _, tc := range []struct {
		name   string
		ev     func(f Fetch) Event
		at     time.Duration
		status string
	}{
		{"error", func(f Fetch) Event { return EventFetched{Seq: f.Seq, Err: errors.New("refused")} }, time.Second, "error"},
		{"not 2xx", func(f Fetch) Event { return EventFetched{Seq: f.Seq, Status: 503} }, time.Second, "503"},
		{"not JSON", func(f Fetch) Event { return EventFetched{Seq: f.Seq, Status: 200, Body: []byte("<html>")} }, time.Second, "200"},
		{"timeout", func(Fetch) Event { return EventTimeout{} }, 2 * time.Second, "timeout"},
	} {
		t.Run(tc.name+" goes to fallback", func(t *testing.T) {
			r, actions := StartWith(g, t0, vars)
			f := actions[0].(Fetch)
			got := r.Step(tc.ev(f), t0.Add(tc.at))
			if len(got) != 2 || !reflect.DeepEqual(got[1], Play{Prompts: []string{"error"}}) {
				t.Fatalf("got %#v, want a note and the fallback's prompt", got)
			}
			if _, ok := got[0].(Note); !ok {
				t.Errorf("first action %#v, want a Note", got[0])
			}
			if r.Var("http_status") != tc.status {
				t.Errorf("http_status = %q, want %q", r.Var("http_status"), tc.status)
			}
			// The late answer of a dip that timed out is ignored.
			if late := r.Step(EventFetched{Seq: f.Seq, Status: 200, Body: answer}, t0.Add(5*time.Second)); late != nil {
				t.Errorf("late answer = %#v", late)
			}
		})
	}
}

func mustPieces(t *testing.T, lang string, kind say.Kind, value string) []string {
	t.Helper()
	p, err := say.Pieces(lang, kind, value)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func TestSayNodeLanguageAndBadValues(t *testing.T) {
	g := compileYAMLWith(t, `
start: {say: {value: "${n}", as: number, next: id}}
id: {say: {value: "1003", as: agent_id, language: zh, next: bye}}
bye: {hangup: {}}
`)
	r, got := StartWith(g, t0, map[string]string{"n": "21", "language": "zh"})
	if want := []Action{Play{Prompts: mustPieces(t, "zh", say.Number, "21")}}; !reflect.DeepEqual(got, want) {
		t.Fatalf("zh number = %#v, want %#v", got, want)
	}
	got = r.Step(EventPlaybackDone{}, t0)
	if want := []Action{Play{Prompts: mustPieces(t, "zh", say.AgentID, "1003")}}; !reflect.DeepEqual(got, want) {
		t.Fatalf("zh agent ID = %#v, want %#v", got, want)
	}
	// An unknown language falls back to English; a value that is not a
	// number is skipped with a note, and the flow goes on.
	_, got = StartWith(g, t0, map[string]string{"n": "7", "language": "fr"})
	if want := []Action{Play{Prompts: mustPieces(t, "en", say.Number, "7")}}; !reflect.DeepEqual(got, want) {
		t.Errorf("fr falls back to en: %#v", got)
	}
	_, got = StartWith(g, t0, map[string]string{"n": "lots"})
	if len(got) != 2 {
		t.Fatalf("bad value = %#v", got)
	}
	if n, ok := got[0].(Note); !ok || !strings.Contains(n.Text, `"lots"`) {
		t.Errorf("bad value note = %#v", got[0])
	}
}

// compileYAMLWith is compileYAML with the say prompt sets present.
func compileYAMLWith(t *testing.T, nodes string) *Graph {
	t.Helper()
	g, errs := Compile(flowFromYAML(t, nodes), hasPromptOrSay)
	if errs != nil {
		t.Fatalf("Compile: %v", errs)
	}
	return g
}

func TestSayNodeNeedsItsPromptSet(t *testing.T) {
	_, errs := Compile(flowFromYAML(t, `start: {say: {value: "1", as: digits, language: zh, next: bye}}
bye: {hangup: {}}`), hasDemoPrompt)
	if errs == nil || !strings.Contains(errs.Error(), "the zh say prompt set lacks say/zh/") {
		t.Errorf("Compile = %v", errs)
	}
}

func TestTransferFailureGoesOn(t *testing.T) {
	g := compileConfig(t, callNodesConfig, "f")
	r, actions := StartWith(g, t0, map[string]string{"caller": "1"})
	r.Step(EventFetched{Seq: actions[0].(Fetch).Seq, Status: 200, Body: []byte(`{"customer": {"tier": "x y", "accounts": [0, {"balance": 3}]}}`)}, t0)
	got := r.Step(EventPlaybackDone{}, t0)
	// "x y" is no number: the transfer fails at once, without dialing.
	if len(got) != 2 || !reflect.DeepEqual(got[1], Play{Prompts: []string{"error"}}) || r.Var("transfer_result") != "invalid-target" {
		t.Fatalf("invalid target = %#v, transfer_result %q", got, r.Var("transfer_result"))
	}

	// A number outside the allow list is never dialed.
	r, actions = StartWith(g, t0, map[string]string{"caller": "1"})
	r.Step(EventFetched{Seq: actions[0].(Fetch).Seq, Status: 200, Body: []byte(`{"customer": {"tier": "0090123", "accounts": [0, {"balance": 3}]}}`)}, t0)
	got = r.Step(EventPlaybackDone{}, t0)
	if len(got) != 2 || r.Var("transfer_result") != "not-allowed" {
		t.Fatalf("number not allowed = %#v, transfer_result %q", got, r.Var("transfer_result"))
	}

	r, actions = StartWith(g, t0, map[string]string{"caller": "1"})
	r.Step(EventFetched{Seq: actions[0].(Fetch).Seq, Status: 200, Body: []byte(`{"customer": {"tier": "8001", "accounts": [0, {"balance": 3}]}}`)}, t0)
	r.Step(EventPlaybackDone{}, t0)
	got = r.Step(EventTransferDone{Result: "busy"}, t0)
	if !reflect.DeepEqual(got, []Action{Play{Prompts: []string{"error"}}}) || r.Var("transfer_result") != "busy" || r.Done() {
		t.Fatalf("busy = %#v, transfer_result %q", got, r.Var("transfer_result"))
	}
}

const subflowConfig = `agents: [{id: "1001", password: p}]
queues: [{name: q, agents: ["1001"]}]
flows:
  - name: main
    start: who
    nodes:
      who: {subflow: {flow: identify, next: menu}}
      menu: {menu: {prompt: welcome, choices: {"1": again, "2": q}}}
      again: {subflow: {flow: identify, next: q}}
      q: {queue: q}
  - name: identify
    start: ask
    nodes:
      ask: {collect: {prompt: welcome, var: account, min: 4, max: 4, next: vip, invalid: back}}
      vip: {branch: {cases: [{var: account, prefix: "9", next: mark}], else: back}}
      mark: {set: {vars: {vip: "true"}, next: back}}
      back: {return: {}}
`

func TestSubflowsRunAndReturn(t *testing.T) {
	g := compileConfig(t, subflowConfig, "main")
	r, _ := StartWith(g, t0, nil)
	for _, d := range "9123" {
		r.Step(EventDigit{Digit: byte(d)}, t0)
	}
	if r.Node() != "menu" || r.Var("vip") != "true" {
		t.Fatalf("after the subflow: node %q, vip %q", r.Node(), r.Var("vip"))
	}
	for _, d := range "11234" {
		r.Step(EventDigit{Digit: byte(d)}, t0)
	}
	if !r.Done() {
		t.Fatalf("run at %q, want queued", r.Node())
	}
	want := "who>identify.ask>identify.vip>identify.mark>identify.back>menu>again>identify#2.ask>identify#2.vip>identify#2.back>q"
	if got := strings.Join(r.Path(), ">"); got != want {
		t.Errorf("path = %s\nwant   %s", got, want)
	}
	// Run by itself, the subflow's return ends the call.
	alone := compileConfig(t, subflowConfig, "identify")
	r, _ = StartWith(alone, t0, nil)
	var last []Action
	for _, d := range "1234" {
		last = r.Step(EventDigit{Digit: byte(d)}, t0)
	}
	if !r.Done() || !reflect.DeepEqual(last[len(last)-1], Hangup{Reason: "return outside a subflow"}) {
		t.Errorf("return at the top = %#v", last)
	}
}

func TestSubflowProblemsAreReportedOnce(t *testing.T) {
	src := strings.Replace(subflowConfig, "prompt: welcome, var: account", "prompt: no_such_prompt, var: account", 1)
	cfg, err := config.Parse("c.yaml", []byte(src))
	if err != nil {
		t.Fatal(err)
	}
	_, errs := CompileAll(cfg, hasDemoPrompt)
	got := errs.Error()
	if strings.Count(got, `unknown prompt "no_such_prompt"`) != 1 || !strings.Contains(got, `node "who": flow "identify" has errors`) {
		t.Errorf("errors:\n%s", got)
	}
}

func TestLoopThroughASubflowIsRefused(t *testing.T) {
	src := `agents: [{id: "1001", password: p}]
queues: [{name: q, agents: ["1001"]}]
flows:
  - name: main
    start: a
    nodes:
      a: {subflow: {flow: tag, next: a}}
  - name: tag
    start: s
    nodes:
      s: {set: {vars: {x: "1"}, next: r}}
      r: {return: {}}
`
	cfg, err := config.Parse("c.yaml", []byte(src))
	if err != nil {
		t.Fatal(err)
	}
	_, errs := Compile(cfg.Flow("main"), hasDemoPrompt)
	if errs == nil || !strings.Contains(errs.Error(), "loop without waiting for the caller: a → tag.s → tag.r → a") {
		t.Errorf("Compile = %v", errs)
	}
}

func TestSimulateDataDipAndTransfer(t *testing.T) {
	g := compileConfig(t, callNodesConfig, "f")
	fetch := func(f Fetch) FetchResult {
		return FetchResult{Status: 200, Body: []byte(`{"customer": {"tier": "8001", "accounts": [0, {"balance": 7}]}}`), Source: "test"}
	}
	tr := Simulate(g, SimOptions{At: t0, Vars: map[string]string{"caller": "555"}, Fetch: fetch})
	for _, want := range []string{"data dip: GET http://crm.test/customers/555?called=", "data dip answered 200", "result: transfer to number 8001"} {
		if !strings.Contains(tr.String(), want) {
			t.Errorf("transcript lacks %q:\n%s", want, tr)
		}
	}
	timeout := func(Fetch) FetchResult { return FetchResult{TimedOut: true, Source: "test"} }
	tr = Simulate(g, SimOptions{At: t0, Vars: map[string]string{"caller": "555"}, Fetch: timeout, Digits: []string{"1"}})
	if s := tr.String(); !strings.Contains(s, "2.0s  sorry") || !strings.Contains(s, "http_status=timeout") {
		t.Errorf("timeout transcript:\n%s", s)
	}
}

func TestBranchOnNumbersAndTime(t *testing.T) {
	g := compileYAMLWith(t, `
start:
  branch:
    cases:
      - {var: balance, greater_than: 1000, next: rich}
      - {var: balance, greater_than: 0, less_than: 100, next: low}
      - {time: "09:00-12:00", days: "mon-fri", timezone: Asia/Shanghai, next: morning}
    else: other
rich: {hangup: {reason: rich}}
low: {hangup: {reason: low}}
morning: {hangup: {reason: morning}}
other: {hangup: {reason: other}}
`)
	shanghai, err := time.LoadLocation("Asia/Shanghai")
	if err != nil {
		t.Skip("no time zone database:", err)
	}
	monday10 := time.Date(2026, 11, 23, 10, 0, 0, 0, shanghai) // a Monday
	for _, tc := range []struct {
		balance string
		at      time.Time
		want    string
	}{
		{"1000.5", monday10, "rich"},
		{"1000", monday10, "morning"},
		{"99.99", monday10, "low"},
		{" 5 ", monday10, "low"},
		{"0", monday10, "morning"},
		{"lots", monday10.Add(3 * time.Hour), "other"},
		{"", monday10.Add(-2 * time.Hour), "other"},
		{"", monday10.Add(5 * 24 * time.Hour), "other"}, // Saturday
		{"", monday10.Add(4*24*time.Hour + 119*time.Minute), "morning"},
	} {
		_, got := StartWith(g, tc.at, map[string]string{"balance": tc.balance})
		if want := []Action{Hangup{Reason: tc.want}}; !reflect.DeepEqual(got, want) {
			t.Errorf("balance %q at %s: %#v, want %s", tc.balance, tc.at, got, tc.want)
		}
	}
}

// TestVersionsOfTimeCasesAreStable: a branch's time case holds pointers
// (its span, its time zone); the flow's version must not depend on them.
func TestVersionsOfTimeCasesAreStable(t *testing.T) {
	nodes := `
start:
  branch:
    cases: [{time: "09:00-12:00", days: "mon-fri", timezone: Asia/Shanghai, next: a}]
    else: a
a: {hangup: {}}
`
	if v1, v2 := compileYAMLWith(t, nodes).Version(), compileYAMLWith(t, nodes).Version(); v1 != v2 {
		t.Errorf("versions %s and %s for the same flow", v1, v2)
	}
	other := strings.Replace(nodes, "09:00-12:00", "09:00-12:30", 1)
	if compileYAMLWith(t, nodes).Version() == compileYAMLWith(t, other).Version() {
		t.Error("a changed time window keeps the version")
	}
}

func TestLoopInsideASubflowIsReportedOnce(t *testing.T) {
	src := `agents: [{id: "1001", password: p}]
queues: [{name: q, agents: ["1001"]}]
flows:
  - name: main
    start: a
    nodes:
      a: {subflow: {flow: spin, next: b}}
      b: {subflow: {flow: spin, next: q}}
      q: {queue: q}
  - name: spin
    start: s
    nodes:
      s: {goto: t}
      t: {goto: s}
`
	cfg, err := config.Parse("c.yaml", []byte(src))
	if err != nil {
		t.Fatal(err)
	}
	_, errs := CompileAll(cfg, hasDemoPrompt)
	if got := errs.Error(); strings.Count(got, "loop without waiting") != 1 || !strings.Contains(got, `flow "spin"`) {
		t.Errorf("errors:\n%s", got)
	}
}

func TestQueueNameFromAVariable(t *testing.T) {
	g := compileYAMLWith(t, `
start: {queue: {name: "${target}", default: support, priority: 5}}
`)
	for target, want := range map[string]string{"sales": "sales", "nope": "support", "": "support"} {
		_, got := StartWith(g, t0, map[string]string{"target": target})
		if want := []Action{Enqueue{Queue: want, Priority: 5, HasPriority: true}}; !reflect.DeepEqual(got, want) {
			t.Errorf("target %q: %#v, want %#v", target, got, want)
		}
	}
	src := "agents: [{id: \"1\", password: p}]\nqueues: [{name: q, agents: [\"1\"]}]\nflows:\n  - name: f\n    start: s\n    nodes:\n      s: {queue: {name: \"${x}\"}}\n      t: {queue: {name: q, default: q}}\n"
	_, err := config.Parse("q.yaml", []byte(src))
	for _, want := range []string{`a name made of variables needs default`, `default is only for a name made of variables`} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("Parse = %v\nwant %s", err, want)
		}
	}
}

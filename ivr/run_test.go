package ivr

import (
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/hotline-cc/hotline/config"
)

// demoPrompts are the prompts the demo configuration may name.
var demoPrompts = map[string]bool{
	"welcome": true, "invalid": true, "please_hold": true, "goodbye": true, "error": true, "moh": true,
}

func hasDemoPrompt(name string) bool { return demoPrompts[name] }

var t0 = time.Date(2026, 11, 23, 9, 0, 0, 0, time.UTC)

// step is one event at an offset from t0 and the actions it must produce.
type step struct {
	at   time.Duration
	ev   Event
	want []Action
}

// script runs a flow through events and checks every step's actions.
type script struct {
	name       string
	start      []Action
	steps      []step
	wantDone   bool
	wantDigits string
	// wantDeadline is the deadline after the last step, as an offset from
	// t0; negative means none.
	wantDeadline time.Duration
}

var (
	welcome       = Play{Prompts: []string{"welcome"}, Interruptible: true}
	invalidReplay = Play{Prompts: []string{"invalid", "welcome"}, Interruptible: true}
)

func runScripts(t *testing.T, g *Graph, scripts []script) {
	t.Helper()
	for _, sc := range scripts {
		t.Run(sc.name, func(t *testing.T) {
			r, got := Start(g, t0)
			if !reflect.DeepEqual(got, sc.start) {
				t.Fatalf("Start() = %#v, want %#v", got, sc.start)
			}
			for i, s := range sc.steps {
				got := r.Step(s.ev, t0.Add(s.at))
				if !reflect.DeepEqual(got, s.want) {
					t.Fatalf("step %d (%#v at %v) = %#v, want %#v", i, s.ev, s.at, got, s.want)
				}
				if !r.Done() && !r.waiting() {
					t.Fatalf("step %d: run at %q is neither done nor waiting", i, r.Node())
				}
			}
			if r.Done() != sc.wantDone {
				t.Errorf("Done() = %v, want %v", r.Done(), sc.wantDone)
			}
			if r.Digits() != sc.wantDigits {
				t.Errorf("Digits() = %q, want %q", r.Digits(), sc.wantDigits)
			}
			var wantDeadline time.Time
			if sc.wantDeadline >= 0 {
				wantDeadline = t0.Add(sc.wantDeadline)
			}
			if !r.Deadline().Equal(wantDeadline) {
				t.Errorf("Deadline() = %v, want %v", r.Deadline(), wantDeadline)
			}
		})
	}
}

func demoGraph(t testing.TB) *Graph {
	t.Helper()
	c := config.Demo()
	g, errs := Compile(c.Flow("main"), hasDemoPrompt)
	if errs != nil {
		t.Fatalf("Compile(demo main) = %v", errs)
	}
	return g
}

func TestDemoFlow(t *testing.T) {
	const none = -1
	runScripts(t, demoGraph(t), []script{
		{
			name:  "press 1 during the prompt goes to sales",
			start: []Action{welcome},
			steps: []step{
				{2 * time.Second, EventDigit{'1'}, []Action{StopPlayback{}, Enqueue{Queue: "sales"}}},
			},
			wantDone: true, wantDigits: "1", wantDeadline: none,
		},
		{
			name:  "press 2 after the prompt goes to support",
			start: []Action{welcome},
			steps: []step{
				{3 * time.Second, EventPlaybackDone{}, nil},
				{4 * time.Second, EventDigit{'2'}, []Action{Enqueue{Queue: "support"}}},
			},
			wantDone: true, wantDigits: "2", wantDeadline: none,
		},
		{
			name:  "timeout starts when the prompt ends",
			start: []Action{welcome},
			steps: []step{
				{3 * time.Second, EventPlaybackDone{}, nil},
			},
			wantDeadline: 8 * time.Second,
		},
		{
			name:  "silence replays the menu once, then goes to support",
			start: []Action{welcome},
			steps: []step{
				{3 * time.Second, EventPlaybackDone{}, nil},
				{8 * time.Second, EventTimeout{}, []Action{welcome}},
				{11 * time.Second, EventPlaybackDone{}, nil},
				{16 * time.Second, EventTimeout{}, []Action{Enqueue{Queue: "support"}}},
			},
			wantDone: true, wantDeadline: none,
		},
		{
			name:  "invalid digit plays the invalid prompt and the menu again",
			start: []Action{welcome},
			steps: []step{
				{3 * time.Second, EventPlaybackDone{}, nil},
				{4 * time.Second, EventDigit{'9'}, []Action{invalidReplay}},
				{9 * time.Second, EventPlaybackDone{}, nil},
				{10 * time.Second, EventDigit{'1'}, []Action{Enqueue{Queue: "sales"}}},
			},
			wantDone: true, wantDigits: "91", wantDeadline: none,
		},
		{
			name:  "invalid digit during the prompt stops it",
			start: []Action{welcome},
			steps: []step{
				{time.Second, EventDigit{'7'}, []Action{StopPlayback{}, invalidReplay}},
			},
			wantDigits: "7", wantDeadline: none,
		},
		{
			name:  "digit during the invalid prompt chooses",
			start: []Action{welcome},
			steps: []step{
				{time.Second, EventDigit{'7'}, []Action{StopPlayback{}, invalidReplay}},
				{2 * time.Second, EventDigit{'2'}, []Action{StopPlayback{}, Enqueue{Queue: "support"}}},
			},
			wantDone: true, wantDigits: "72", wantDeadline: none,
		},
		{
			name:  "third invalid digit says so and goes to support",
			start: []Action{welcome},
			steps: []step{
				{1 * time.Second, EventDigit{'9'}, []Action{StopPlayback{}, invalidReplay}},
				{2 * time.Second, EventDigit{'#'}, []Action{StopPlayback{}, invalidReplay}},
				{3 * time.Second, EventDigit{'9'}, []Action{StopPlayback{}, Play{Prompts: []string{"invalid"}}}},
				// The last prompt is not a barge-in point: the digit is only recorded.
				{4 * time.Second, EventDigit{'1'}, nil},
				{5 * time.Second, EventPlaybackDone{}, []Action{Enqueue{Queue: "support"}}},
			},
			wantDone: true, wantDigits: "9#91", wantDeadline: none,
		},
		{
			name:  "silence and wrong digits are counted apart",
			start: []Action{welcome},
			steps: []step{
				{3 * time.Second, EventPlaybackDone{}, nil},
				{8 * time.Second, EventTimeout{}, []Action{welcome}},
				{9 * time.Second, EventDigit{'5'}, []Action{StopPlayback{}, invalidReplay}},
				{12 * time.Second, EventPlaybackDone{}, nil},
				{13 * time.Second, EventDigit{'6'}, []Action{invalidReplay}},
				{16 * time.Second, EventPlaybackDone{}, nil},
			},
			wantDigits: "56", wantDeadline: 21 * time.Second,
		},
		{
			name:  "early or stale timeouts are ignored",
			start: []Action{welcome},
			steps: []step{
				{time.Second, EventTimeout{}, nil},
				{3 * time.Second, EventPlaybackDone{}, nil},
				{7 * time.Second, EventTimeout{}, nil},
			},
			wantDeadline: 8 * time.Second,
		},
		{
			name:  "playback done without a playback is ignored",
			start: []Action{welcome},
			steps: []step{
				{3 * time.Second, EventPlaybackDone{}, nil},
				{4 * time.Second, EventPlaybackDone{}, nil},
			},
			wantDeadline: 8 * time.Second,
		},
		{
			name:  "non-DTMF bytes are ignored, lower-case A-D are upper-cased",
			start: []Action{welcome},
			steps: []step{
				{time.Second, EventDigit{'x'}, nil},
				{time.Second, EventDigit{0}, nil},
				{2 * time.Second, EventDigit{'a'}, []Action{StopPlayback{}, invalidReplay}},
			},
			wantDigits: "A", wantDeadline: none,
		},
		{
			name:  "events after the end do nothing",
			start: []Action{welcome},
			steps: []step{
				{time.Second, EventDigit{'1'}, []Action{StopPlayback{}, Enqueue{Queue: "sales"}}},
				{2 * time.Second, EventDigit{'2'}, nil},
				{3 * time.Second, EventPlaybackDone{}, nil},
				{9 * time.Second, EventTimeout{}, nil},
				{9 * time.Second, nil, nil},
			},
			wantDone: true, wantDigits: "1", wantDeadline: none,
		},
	})
}

// flowFromYAML parses a configuration around nodes and returns flow "f".
func flowFromYAML(t testing.TB, nodes string) *config.Flow {
	t.Helper()
	// The agents come last so that error positions in the nodes stay put.
	src := "queues: [{name: sales, agents: [\"1\"]}, {name: support, agents: [\"1\"]}]\nflows:\n  - name: f\n    start: start\n    nodes:\n" +
		indent(nodes, "      ") + "\nagents: [{id: \"1\", password: p}]\n"
	c, err := config.Parse("flow.yaml", []byte(src))
	if err != nil {
		t.Fatalf("config.Parse:\n%s\n%v", src, err)
	}
	return c.Flow("f")
}

func indent(s, by string) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	for i, l := range lines {
		lines[i] = by + l
	}
	return strings.Join(lines, "\n") + "\n"
}

func compileYAML(t testing.TB, nodes string) *Graph {
	t.Helper()
	g, errs := Compile(flowFromYAML(t, nodes), hasDemoPrompt)
	if errs != nil {
		t.Fatalf("Compile: %v", errs)
	}
	return g
}

func TestPlayGotoAndHangup(t *testing.T) {
	g := compileYAML(t, `
start: {play: {prompt: [please_hold, moh], next: jump}}
jump: {goto: bye}
bye: {hangup: {prompt: goodbye, reason: closed}}
`)
	runScripts(t, g, []script{
		{
			name:  "play, goto, goodbye, hang up",
			start: []Action{Play{Prompts: []string{"please_hold", "moh"}}},
			steps: []step{
				{time.Second, EventDigit{'5'}, nil},
				{2 * time.Second, EventPlaybackDone{}, []Action{Play{Prompts: []string{"goodbye"}}}},
				{3 * time.Second, EventPlaybackDone{}, []Action{Hangup{Reason: "closed"}}},
			},
			wantDone: true, wantDigits: "5", wantDeadline: -1,
		},
	})
}

func TestMenuWithoutExitsHangsUp(t *testing.T) {
	g := compileYAML(t, `
start:
  menu:
    prompt: welcome
    timeout: 2s
    no_input_prompt: error
    no_input_retries: 0
    invalid_retries: 0
    choices: {"1": sales, "*": start}
sales: {queue: sales}
`)
	runScripts(t, g, []script{
		{
			name:  "silence says why, then hangs up",
			start: []Action{welcome},
			steps: []step{
				{time.Second, EventPlaybackDone{}, nil},
				{3 * time.Second, EventTimeout{}, []Action{Play{Prompts: []string{"error"}}}},
				{4 * time.Second, EventPlaybackDone{}, []Action{Hangup{Reason: "no input at menu start"}}},
			},
			wantDone: true, wantDeadline: -1,
		},
		{
			name:  "a wrong digit without invalid_prompt hangs up at once",
			start: []Action{welcome},
			steps: []step{
				{time.Second, EventDigit{'4'}, []Action{StopPlayback{}, Hangup{Reason: "invalid input at menu start"}}},
			},
			wantDone: true, wantDigits: "4", wantDeadline: -1,
		},
		{
			name:  "choosing the menu itself starts it afresh",
			start: []Action{welcome},
			steps: []step{
				{time.Second, EventPlaybackDone{}, nil},
				{2 * time.Second, EventDigit{'*'}, []Action{welcome}},
				{3 * time.Second, EventPlaybackDone{}, nil},
			},
			wantDigits: "*", wantDeadline: 5 * time.Second,
		},
	})
}

func TestHangupWithoutPromptEndsAtOnce(t *testing.T) {
	g := compileYAML(t, `start: {hangup: }`)
	r, got := Start(g, t0)
	if want := []Action{Hangup{Reason: "hangup at node start"}}; !reflect.DeepEqual(got, want) || !r.Done() {
		t.Errorf("Start() = %#v (done %v), want %#v", got, r.Done(), want)
	}
}

func TestPlayActionsDoNotShareTheGraph(t *testing.T) {
	g := demoGraph(t)
	_, actions := Start(g, t0)
	actions[0].(Play).Prompts[0] = "tampered"
	if _, again := Start(g, t0); again[0].(Play).Prompts[0] != "welcome" {
		t.Error("changing a Play's prompts changed the graph")
	}
}

// TestQueueNodeSaysHowToServe: the queue node's priority, tags and agent
// travel with the Enqueue action; an agent without agent_wait waits the
// default 30 s, and an unknown agent is a configuration error.
func TestQueueNodeSaysHowToServe(t *testing.T) {
	g := compileYAML(t, `start: {queue: {name: support, priority: 7, tags: [vip, cards], agent: "1", agent_wait: 20s}}`)
	_, actions := Start(g, t0)
	want := []Action{Enqueue{Queue: "support", Priority: 7, HasPriority: true, Tags: []string{"vip", "cards"}, Agent: "1", AgentWait: 20 * time.Second}}
	if !reflect.DeepEqual(actions, want) {
		t.Fatalf("actions %#v, want %#v", actions, want)
	}
	g = compileYAML(t, `start: {queue: {name: support, agent: "1"}}`)
	if _, actions = Start(g, t0); !reflect.DeepEqual(actions, []Action{Enqueue{Queue: "support", Agent: "1", AgentWait: 30 * time.Second}}) {
		t.Fatalf("default agent wait: %#v", actions)
	}
	src := "agents: [{id: \"1\", password: p}]\nqueues: [{name: support, agents: [\"1\"]}]\nflows:\n  - name: f\n    start: s\n    nodes:\n      s: {queue: {name: support, agent: \"9\", tags: [\"no way\"]}}\n"
	_, err := config.Parse("flow.yaml", []byte(src))
	for _, wantErr := range []string{`flow.yaml:7:41: flow "f": node "s": queue: agent: unknown agent "9"`, `invalid tag "no way"`} {
		if err == nil || !strings.Contains(err.Error(), wantErr) {
			t.Errorf("Parse = %v, want %s", err, wantErr)
		}
	}
}

// TestRunRecordsPathAndChoices: the nodes entered (repeats included) and
// the menu keys that chose a way on.
func TestRunRecordsPathAndChoices(t *testing.T) {
	g := demoGraph(t)
	r, _ := Start(g, t0)
	r.Step(EventPlaybackDone{}, t0)
	r.Step(EventDigit{Digit: '7'}, t0) // invalid: no choice
	r.Step(EventPlaybackDone{}, t0)
	r.Step(EventDigit{Digit: '1'}, t0)
	if got := r.Path(); !slices.Equal(got, []string{"welcome", "sales"}) {
		t.Errorf("path %v", got)
	}
	if got := r.Choices(); !slices.Equal(got, []Choice{{Node: "welcome", Digit: '1'}}) {
		t.Errorf("choices %+v", got)
	}
}

// TestSetAndBranch: a branch on the caller's number marks VIPs with set,
// and a branch on a variable set before picks the queue.
func TestSetAndBranch(t *testing.T) {
	g := compileYAML(t, `
start:
  branch:
    cases:
      - {var: caller, in: ["5550100", "5550101"], next: mark_vip}
      - {var: caller, prefix: "4930", next: mark_cards}
    else: menu
mark_vip: {set: {vars: {vip: "true", priority: "10", business_type: private_banking}, next: route}}
mark_cards: {set: {vars: {business_type: cards}, next: route}}
menu: {menu: {prompt: welcome, choices: {"1": sales}, no_input: route, invalid: route}}
route:
  branch:
    cases:
      - {var: business_type, equals: cards, next: sales}
    else: support
sales: {queue: sales}
support: {queue: support}
`)
	for _, tt := range []struct {
		caller, want, business string
	}{
		{"5550101", "support", "private_banking"},
		{"493012345", "sales", "cards"},
		{"5559999", "support", ""},
	} {
		tr := Simulate(g, SimOptions{At: t0, Vars: map[string]string{"caller": tt.caller}})
		e, ok := tr.Result.(Enqueue)
		if !ok || e.Queue != tt.want || tr.Vars["business_type"] != tt.business {
			t.Errorf("caller %s: %s", tt.caller, tr)
		}
	}
	tr := Simulate(g, SimOptions{At: t0, Vars: map[string]string{"caller": "5550100"}})
	if tr.Vars["vip"] != "true" || tr.Vars["priority"] != "10" {
		t.Errorf("VIP caller's variables %v", tr.Vars)
	}
	src := "agents: [{id: \"1\", password: p}]\nqueues: [{name: q, agents: [\"1\"]}]\nflows:\n  - name: f\n    start: s\n    nodes:\n" +
		"      s: {set: {vars: {priority: high, vip: yes, dedicated_agent: \"9\"}, next: b}}\n" +
		"      b: {branch: {cases: [{var: caller, equals: \"1\", prefix: \"2\", next: q}], else: q}}\n      q: {queue: q}\n"
	_, err := config.Parse("f.yaml", []byte(src))
	for _, want := range []string{
		`priority must be a whole number from -100 to 100, got "high"`, `vip must be true or false, got "yes"`,
		`dedicated_agent: unknown agent "9"`, `case #1: needs exactly one test: equals, prefix, in, or greater_than/less_than`,
	} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("Parse = %v\nwant %s", err, want)
		}
	}
}

// TestCollect: an account number of 6 to 8 digits ending with #: a good
// one goes into the variable; a short one is asked for again; silence
// after some digits ends the input; after the retries the call goes on to
// invalid.
func TestCollect(t *testing.T) {
	g := compileYAML(t, `
start:
  collect:
    prompt: welcome
    var: account
    min: 6
    max: 8
    terminator: "#"
    pattern: "^[1-9]"
    retries: 1
    invalid_prompt: invalid
    next: found
    invalid: support
found: {queue: sales}
support: {queue: support}
`)
	for _, tt := range []struct {
		name    string
		digits  []string
		queue   string
		account string
	}{
		{"good with #", []string{"123456#"}, "sales", "123456"},
		{"max ends it", []string{"12345678"}, "sales", "12345678"},
		{"silence ends it", []string{"1234567"}, "sales", "1234567"},
		{"short, then good", []string{"12#", "765432#"}, "sales", "765432"},
		{"pattern fails twice", []string{"0123456#", "0999999#"}, "support", ""},
		{"silent caller", nil, "support", ""},
	} {
		tr := Simulate(g, SimOptions{At: t0, Digits: tt.digits})
		e, ok := tr.Result.(Enqueue)
		if !ok || e.Queue != tt.queue || tr.Vars["account"] != tt.account {
			t.Errorf("%s: %s", tt.name, tr)
		}
	}
	_, err := config.Parse("c.yaml", []byte("agents: [{id: \"1\", password: p}]\nqueues: [{name: q, agents: [\"1\"]}]\nflows:\n  - name: f\n    start: c\n    nodes:\n"+
		"      c: {collect: {prompt: welcome, var: acct, min: 9, max: 4, terminator: \"1\", pattern: \"([\", next: q}}\n      q: {queue: q}\n"))
	for _, want := range []string{`terminator must be "#" or "*"`, `pattern: error parsing regexp`, `min (9) is more than max (4)`} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("Parse = %v\nwant %s", err, want)
		}
	}
}

// TestBranchLoopIsRefused: a loop through branch and set nodes waits for
// nothing, whichever case a call would take.
func TestBranchLoopIsRefused(t *testing.T) {
	f := flowFromYAML(t, `
start: {branch: {cases: [{var: caller, equals: "1", next: again}], else: q}}
again: {set: {vars: {seen: "yes"}, next: start}}
q: {queue: sales}
`)
	_, errs := Compile(f, hasDemoPrompt)
	if errs == nil || !strings.Contains(errs.Error(), `nodes loop without waiting for the caller: start → again → start`) {
		t.Fatalf("Compile = %v", errs)
	}
}

// TestSchedule: a bank open 09:00-17:00 on weekdays in Shanghai, closed on
// the National Day holidays, with a make-up Saturday.
func TestSchedule(t *testing.T) {
	src := `agents: [{id: "1", password: p}]
queues: [{name: q, agents: ["1"]}]
calendars:
  - name: bank
    timezone: Asia/Shanghai
    weekly: { mon-fri: "09:00-17:00" }
    holidays: ["2026-10-01", "2026-10-02"]
    workdays: [{date: "2026-10-10", as: mon}]
flows:
  - name: f
    start: hours
    nodes:
      hours: {schedule: {calendar: bank, open: q, closed: night, holiday: holiday}}
      night: {hangup: {prompt: goodbye, reason: closed}}
      holiday: {hangup: {prompt: goodbye, reason: holiday}}
      q: {queue: q}
`
	cfg, err := config.Parse("s.yaml", []byte(src))
	if err != nil {
		t.Fatal(err)
	}
	graphs, errs := CompileAll(cfg, hasDemoPrompt)
	if errs != nil {
		t.Fatal(errs)
	}
	g := graphs["f"]
	shanghai, _ := time.LoadLocation("Asia/Shanghai")
	for _, tt := range []struct {
		at   time.Time
		want string
	}{
		{time.Date(2026, 9, 30, 10, 0, 0, 0, shanghai), "queue q"},           // Wednesday
		{time.Date(2026, 9, 30, 18, 0, 0, 0, shanghai), "hang up (closed)"},  // after hours
		{time.Date(2026, 10, 1, 10, 0, 0, 0, shanghai), "hang up (holiday)"}, // National Day
		{time.Date(2026, 10, 10, 10, 0, 0, 0, shanghai), "queue q"},          // make-up Saturday
		{time.Date(2026, 10, 11, 10, 0, 0, 0, shanghai), "hang up (closed)"}, // Sunday
		{time.Date(2026, 9, 30, 2, 0, 0, 0, time.UTC), "queue q"},            // 10:00 in Shanghai
	} {
		tr := Simulate(g, SimOptions{At: tt.at})
		if !strings.Contains(tr.String(), "result: "+tt.want) {
			t.Errorf("%v: %s", tt.at, tr)
		}
	}
	again, _ := CompileAll(cfg, hasDemoPrompt)
	if again["f"].Version() != g.Version() {
		t.Error("the version of a flow with a schedule changes between compilations")
	}
	bad := strings.Replace(src, "calendar: bank,", "calendar: banc,", 1)
	if _, err := config.Parse("s.yaml", []byte(bad)); err == nil || !strings.Contains(err.Error(), `unknown calendar "banc"`) {
		t.Errorf("unknown calendar: %v", err)
	}
}

// TestVoicemailAndCallbackNodes end the flow with their actions.
func TestVoicemailAndCallbackNodes(t *testing.T) {
	cfg, err := config.Parse("f.yaml", []byte(`agents: [{id: "1", password: p}]
queues: [{name: support, agents: ["1"]}]
trunks: [{name: t, acl: 127.0.0.1, flow: f, outbound: "127.0.0.1:5090"}]
flows:
  - name: f
    start: start
    nodes:
      start: {menu: {prompt: welcome, choices: {"1": vm, "2": cb}, no_input: vm, invalid: vm}}
      vm: {voicemail: {}}
      cb: {callback: {queue: support}}
`))
	if err != nil {
		t.Fatal(err)
	}
	g, errs := Compile(cfg.Flow("f"), hasDemoPrompt)
	if errs != nil {
		t.Fatal(errs)
	}
	for digits, want := range map[string]string{"1": "result: voicemail", "2": "result: callback offer in queue support"} {
		if tr := Simulate(g, SimOptions{At: t0, Digits: []string{digits}}); !strings.Contains(tr.String(), want) {
			t.Errorf("digit %s: %s", digits, tr)
		}
	}
	src := "agents: [{id: \"1\", password: p}]\nqueues: [{name: q, agents: [\"1\"]}]\nflows:\n  - name: f\n    start: s\n    nodes:\n      s: {callback: {queue: nope}}\n"
	_, err = config.Parse("c.yaml", []byte(src))
	for _, want := range []string{`unknown queue "nope"`, `node "s": callbacks need a trunk with outbound`} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("Parse = %v\nwant %s", err, want)
		}
	}
}

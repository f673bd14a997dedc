package ivr

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/hotline-cc/hotline/config"
)

func TestCompileRejectsBadFlows(t *testing.T) {
	tests := []struct {
		name  string
		nodes string
		want  []string
	}{
		{
			name: "unknown prompts",
			nodes: `
start:
  menu: {prompt: [welcome, wellcome], invalid_prompt: invalid, no_input_prompt: nope, choices: {"1": bye}}
bye: {hangup: {prompt: goodby}}`,
			want: []string{
				`flow.yaml:7:34: flow "f": node "start": prompt: unknown prompt "wellcome"`,
				`flow.yaml:7:87: flow "f": node "start": no_input_prompt: unknown prompt "nope"`,
				`flow.yaml:8:30: flow "f": node "bye": prompt: unknown prompt "goodby"`,
			},
		},
		{
			name: "unreachable nodes",
			nodes: `
start: {queue: sales}
orphan: {goto: start}
island: {hangup: }`,
			want: []string{
				`flow.yaml:7:7: flow "f": node "orphan" cannot be reached from start node "start"`,
				`flow.yaml:8:7: flow "f": node "island" cannot be reached from start node "start"`,
			},
		},
		{
			name: "goto cycle",
			nodes: `
start: {goto: a}
a: {goto: b}
b: {goto: a}`,
			want: []string{`flow.yaml:7:7: flow "f": nodes loop without waiting for the caller: a → b → a`},
		},
		{
			name: "goto to itself",
			nodes: `
start: {goto: start}`,
			want: []string{`flow.yaml:6:7: flow "f": nodes loop without waiting for the caller: start → start`},
		},
		{
			name: "play loop has no way out",
			nodes: `
start: {play: {prompt: moh, next: again}}
again: {goto: start}`,
			want: []string{`flow.yaml:6:7: flow "f": nodes loop without waiting for the caller: start → again → start`},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			g, errs := Compile(flowFromYAML(t, tt.nodes), hasDemoPrompt)
			if g != nil {
				t.Errorf("Compile returned a graph despite errors")
			}
			if got, want := errs.Error(), strings.Join(tt.want, "\n"); got != want {
				t.Errorf("errors:\n%s\nwant:\n%s", got, want)
			}
		})
	}
}

func TestLoopThroughAMenuIsFine(t *testing.T) {
	compileYAML(t, `
start: {play: {prompt: welcome, next: m}}
m: {menu: {prompt: welcome, no_input: start, invalid: back, choices: {"1": q}}}
back: {goto: start}
q: {queue: sales}`)
}

// TestCompileChecksFlowsBuiltInCode covers what config.Parse already
// refuses, for flows that do not come from a file.
func TestCompileChecksFlowsBuiltInCode(t *testing.T) {
	pos := func(line int) config.Pos { return config.Pos{File: "code", Line: line, Col: 1} }
	ref := func(name string, line int) config.Ref { return config.Ref{Name: name, Pos: pos(line)} }
	tests := []struct {
		name string
		flow *config.Flow
		want string
	}{
		{"nil flow", nil, "-: no flow"},
		{
			"no start",
			&config.Flow{Name: "f", Pos: pos(1), Nodes: []config.Node{{Name: "h", Kind: config.NodeHangup, Hangup: &config.HangupNode{}, Pos: pos(2)}}},
			`code:1:1: flow "f": no start node`,
		},
		{
			"unknown start and target",
			&config.Flow{Name: "f", Start: ref("strat", 1), Nodes: []config.Node{
				{Name: "g", Kind: config.NodeGoto, Goto: &config.GotoNode{Target: ref("nowhere", 3)}, Pos: pos(2)},
			}},
			"code:1:1: flow \"f\": start: unknown node \"strat\" (known: g)\ncode:3:1: flow \"f\": node \"g\": goto: unknown node \"nowhere\" (known: g)",
		},
		{
			"kind without settings, unknown kind, duplicate",
			&config.Flow{Name: "f", Start: ref("m", 1), Nodes: []config.Node{
				{Name: "m", Kind: config.NodeMenu, Pos: pos(2)},
				{Name: "x", Pos: pos(3)},
				{Name: "m", Kind: config.NodeHangup, Hangup: &config.HangupNode{}, Pos: pos(4)},
			}},
			"code:2:1: flow \"f\": node \"m\": menu node without its settings\ncode:3:1: flow \"f\": node \"x\": unknown node kind unknown\ncode:4:1: flow \"f\": duplicate node \"m\" (first at code:2:1)",
		},
		{
			"bad menu settings",
			&config.Flow{Name: "f", Start: ref("m", 1), Nodes: []config.Node{
				{Name: "m", Kind: config.NodeMenu, Pos: pos(2), Menu: &config.MenuNode{
					Prompts: []config.Ref{ref("welcome", 3)},
					Choices: []config.Choice{{Digit: 'x', Target: ref("m", 4), Pos: pos(4)}, {Digit: '1', Pos: pos(5)}},
				}},
			}},
			"code:2:1: flow \"f\": node \"m\": timeout must be more than zero\ncode:2:1: flow \"f\": node \"m\": choices: 1 is required\ncode:4:1: flow \"f\": node \"m\": choice 'x' is not a DTMF digit",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			g, errs := Compile(tt.flow, nil)
			if g != nil || errs.Error() != tt.want {
				t.Errorf("Compile() = %v, errors:\n%s\nwant:\n%s", g, errs.Error(), tt.want)
			}
		})
	}
}

func TestVersionFollowsBehaviourNotFormatting(t *testing.T) {
	base := `
start: {menu: {prompt: welcome, timeout: 5s, choices: {"1": q}}}
q: {queue: sales}`
	reformatted := `
# the same flow, written differently
start:
  menu:
    prompt: [welcome]   # a list of one
    timeout: 5000ms
    choices:
      1: q
q:
  queue: {name: sales}`
	changed := `
start: {menu: {prompt: welcome, timeout: 6s, choices: {"1": q}}}
q: {queue: sales}`
	v := compileYAML(t, base).Version()
	if len(v) != 12 {
		t.Errorf("Version() = %q, want 12 hex digits", v)
	}
	if got := compileYAML(t, reformatted).Version(); got != v {
		t.Errorf("reformatted flow has version %s, want %s", got, v)
	}
	if got := compileYAML(t, changed).Version(); got == v {
		t.Errorf("changed timeout kept version %s", v)
	}
}

func TestCompileAll(t *testing.T) {
	graphs, errs := CompileAll(config.Demo(), hasDemoPrompt)
	if errs != nil || graphs["main"] == nil || graphs["main"].Name() != "main" {
		t.Fatalf("CompileAll(demo) = %v, %v", graphs, errs)
	}
	_, errs = CompileAll(config.Demo(), func(string) bool { return false })
	// The position moves whenever the demo is edited; the shape does not.
	if len(errs) != 2 || !regexp.MustCompile(`demo\.yaml:\d+:19: flow "main": node "welcome": prompt: unknown prompt "welcome"`).MatchString(errs.Error()) {
		t.Errorf("CompileAll without prompts = %v", errs)
	}
}

func TestRunReportsNodeAndGraph(t *testing.T) {
	g := demoGraph(t)
	r, _ := Start(g, t0)
	if r.Node() != "welcome" || r.Graph() != g {
		t.Errorf("Node() = %q, Graph() = %p, want welcome, %p", r.Node(), r.Graph(), g)
	}
	r.Step(EventDigit{'2'}, t0.Add(time.Second))
	if r.Node() != "support" {
		t.Errorf("Node() = %q after 2, want support", r.Node())
	}
}

// TestDocExamplesCompile compiles the flows of every complete example
// configuration in docs/ (config's tests check they parse).
func TestDocExamplesCompile(t *testing.T) {
	docs, err := filepath.Glob(filepath.Join("..", "docs", "*.md"))
	if err != nil {
		t.Fatal(err)
	}
	block := regexp.MustCompile("(?ms)^```yaml\\n(.*?)^```")
	var examples int
	for _, doc := range docs {
		text, err := os.ReadFile(doc)
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range block.FindAllSubmatch(text, -1) {
			examples++
			c, err := config.Parse(doc, m[1])
			if err != nil {
				t.Errorf("%s: %v", doc, err)
				continue
			}
			if _, errs := CompileAll(c, hasPromptOrSay); errs != nil {
				t.Errorf("%s: %v", doc, errs)
			}
		}
	}
	if examples == 0 {
		t.Error("no complete example in docs/*.md")
	}
}

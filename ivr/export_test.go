package ivr

import (
	"bytes"
	"flag"
	"fmt"
	"os"
	"testing"
	"time"
)

var update = flag.Bool("update", false, "rewrite golden files")

// TestGraphPictures pins the Graphviz and Mermaid drawings of a flow with
// every node kind; rewrite them with `go test ./ivr -run Pictures -update`.
func TestGraphPictures(t *testing.T) {
	g := compileYAML(t, `
start:
  menu:
    prompt: welcome
    timeout: 5s
    no_input: bye
    invalid: help
    choices: {"1": sales, "2": vip, "#": help}
help: {play: {prompt: [invalid, please_hold], next: again}}
again: {goto: start}
sales: {queue: sales}
vip: {queue: {name: support, priority: 10, tags: [vip], agent: "1"}}
bye: {hangup: {prompt: goodbye, reason: no choice}}
`)
	for _, tt := range []struct {
		golden string
		write  func(*bytes.Buffer) error
	}{
		{"testdata/graph.dot", func(b *bytes.Buffer) error { return g.WriteDOT(b) }},
		{"testdata/graph.mmd", func(b *bytes.Buffer) error { return g.WriteMermaid(b) }},
	} {
		var got bytes.Buffer
		if err := tt.write(&got); err != nil {
			t.Fatal(err)
		}
		if *update {
			if err := os.WriteFile(tt.golden, got.Bytes(), 0o644); err != nil {
				t.Fatal(err)
			}
		}
		want, err := os.ReadFile(tt.golden)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got.Bytes(), want) {
			t.Errorf("%s differs:\n%s", tt.golden, got.String())
		}
	}
}

// TestSimulateTranscripts pins what `hotline ivr simulate` prints for the
// demo menu and a few callers; prompts last 2 s each here.
func TestSimulateTranscripts(t *testing.T) {
	g := demoGraph(t)
	var out bytes.Buffer
	for _, tt := range []struct {
		name   string
		digits []string
	}{
		{"presses 2", []string{"2"}},
		{"silent caller", nil},
		{"wrong keys", []string{"9", "9", "9"}},
		{"waits once, then 1", []string{"", "1"}},
	} {
		tr := Simulate(g, SimOptions{At: t0, Digits: tt.digits, PromptLength: func(string) time.Duration { return 2 * time.Second }})
		fmt.Fprintf(&out, "== %s %q\n%s", tt.name, tt.digits, tr)
		if tr.Result == nil {
			t.Errorf("%s: no result", tt.name)
		}
	}
	const golden = "testdata/simulate.golden"
	if *update {
		if err := os.WriteFile(golden, out.Bytes(), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(out.Bytes(), want) {
		t.Errorf("transcripts differ from %s:\n%s", golden, out.String())
	}
}

// The flow fuzzer lives in the external test package so that it can hand
// what config accepts to ivr.Compile (ivr imports config; config cannot
// import ivr).
package config_test

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/hotline-cc/hotline/config"
	"github.com/hotline-cc/hotline/ivr"
	"github.com/hotline-cc/hotline/prompts"
)

// flowSeedDirs hold example configurations, valid and broken, shared with
// `hotline ivr check`'s golden tests, and config's own (so that the problems
// of every part of a configuration have their positions checked).
var flowSeedDirs = []string{
	filepath.Join("..", "testdata", "ivr"),
	filepath.Join("..", "testdata", "ivr", "bad"),
	"testdata",
}

// errorLine is how `hotline ivr check` prints a problem.
var errorLine = regexp.MustCompile(`^fuzz\.yaml:\d+:\d+: .+`)

// builtinPrompt reports whether name is one of the prompts embedded in the
// binary, as app.LoadRuntime would for a configuration without prompts.dir.
func builtinPrompt(tb testing.TB) func(string) bool {
	files, err := fs.Glob(prompts.FS, "*.wav")
	if err != nil || len(files) == 0 {
		tb.Fatalf("embedded prompts: %v (%d files)", err, len(files))
	}
	set := make(map[string]bool, len(files))
	for _, f := range files {
		set[strings.TrimSuffix(f, ".wav")] = true
	}
	return func(name string) bool { return set[name] }
}

// checkPositions fails unless every problem has a place in fuzz.yaml that
// an editor can jump to.
//
// YAML syntax errors are the one exception to line:col: yaml.v3 gives a line
// but never a column, and config.Pos documents that; such an error comes
// alone (the tree is never decoded), so it is allowed a zero column when it
// is the only problem. Only an empty file has no line at all.
func checkPositions(t *testing.T, what string, errs config.Errors) {
	t.Helper()
	for _, e := range errs {
		p := e.Pos
		switch {
		case p.File != "fuzz.yaml":
			t.Fatalf("%s: problem in file %q, want fuzz.yaml: %v", what, p.File, e)
		case e.Msg == "" || strings.Contains(e.Msg, "\n"):
			t.Fatalf("%s: message %q is not one line", what, e.Msg)
		case p.Line < 1 && e.Msg != "file is empty":
			t.Fatalf("%s: problem without a line: %q", what, e.Error())
		case p.Col < 1 && len(errs) == 1:
			// A YAML syntax error (or an empty file): line only.
		case p.Col < 1:
			t.Fatalf("%s: problem without a column: %q (all: %v)", what, e.Error(), errs)
		case !errorLine.MatchString(e.Error()):
			t.Fatalf("%s: %q is not fuzz.yaml:line:col: message", what, e.Error())
		}
	}
}

// FuzzFlowLoader feeds configuration files (seeded with the IVR examples,
// good and bad, and the demo) to config.Parse, then compiles and simulates
// every flow of the ones it accepts. Nothing may panic; every problem must
// carry a position; a flow that compiles must run to an end or a wait.
func FuzzFlowLoader(f *testing.F) {
	f.Add(config.DemoYAML)
	seeded := 0
	for _, dir := range flowSeedDirs {
		entries, err := os.ReadDir(dir)
		if errors.Is(err, fs.ErrNotExist) {
			f.Logf("no seeds: %s is missing", dir)
			continue
		}
		if err != nil {
			f.Fatal(err)
		}
		for _, e := range entries {
			if e.IsDir() || filepath.Ext(e.Name()) != ".yaml" {
				continue
			}
			data, err := os.ReadFile(filepath.Join(dir, e.Name()))
			if err != nil {
				f.Fatal(err)
			}
			f.Add(data)
			seeded++
		}
	}
	if seeded == 0 {
		f.Log("no example flows to seed from; fuzzing from the demo configuration only")
	}
	hasPrompt := builtinPrompt(f)
	at := time.Date(2026, 10, 1, 10, 0, 0, 0, time.UTC)
	f.Fuzz(func(t *testing.T, data []byte) {
		c, err := config.Parse("fuzz.yaml", data)
		if err != nil {
			var errs config.Errors
			if !errors.As(err, &errs) || len(errs) == 0 {
				t.Fatalf("Parse error %T is not a non-empty config.Errors: %v", err, err)
			}
			if c != nil {
				t.Fatal("Parse returned a configuration and an error")
			}
			checkPositions(t, "Parse", errs)
			return
		}
		if c == nil {
			t.Fatal("Parse returned neither a configuration nor an error")
		}
		for i := range c.Flows {
			g, errs := ivr.Compile(&c.Flows[i], hasPrompt)
			if g == nil {
				if len(errs) == 0 {
					t.Fatalf("flow %q: no graph and no errors", c.Flows[i].Name)
				}
				checkPositions(t, "Compile", errs)
				continue
			}
			if len(errs) != 0 {
				t.Fatalf("flow %q: a graph and errors: %v", c.Flows[i].Name, errs)
			}
			// A caller who says nothing, then one who presses keys.
			for _, digits := range [][]string{nil, {"1", "2", "123456#", "*", "0"}} {
				tr := ivr.Simulate(g, ivr.SimOptions{At: at, Digits: digits, MaxSteps: 200,
					Vars: map[string]string{"caller": "5550100", "called": "8005551000"}})
				_ = tr.String()
			}
		}
	})
}

package config

import (
	"errors"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

var update = flag.Bool("update", false, "rewrite golden files")

// TestBrokenConfigsReportEveryProblem parses each testdata/*.yaml, which is
// broken on purpose, and compares the error lines with its .golden file.
// Run `go test ./config -update` to rewrite them, then review the diff.
func TestBrokenConfigsReportEveryProblem(t *testing.T) {
	files, err := filepath.Glob(filepath.Join("testdata", "*.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	if len(files) == 0 {
		t.Fatal("no testdata/*.yaml files")
	}
	for _, file := range files {
		name := strings.TrimSuffix(filepath.Base(file), ".yaml")
		t.Run(name, func(t *testing.T) {
			c, err := Load(file)
			if err == nil {
				t.Fatalf("Load(%s) = %+v, want errors", file, c)
			}
			var errs Errors
			if !errors.As(err, &errs) {
				t.Fatalf("Load(%s) error is %T, want config.Errors: %v", file, err, err)
			}
			for _, e := range errs {
				// Only an empty file has no line to point at.
				if e.Pos.File != file || e.Pos.Line == 0 && e.Msg != "file is empty" {
					t.Errorf("error without a position: %v", e)
				}
			}
			got := err.Error() + "\n"
			golden := strings.TrimSuffix(file, ".yaml") + ".golden"
			if *update {
				if err := os.WriteFile(golden, []byte(got), 0o644); err != nil {
					t.Fatal(err)
				}
				return
			}
			want, err := os.ReadFile(golden)
			if err != nil {
				t.Fatalf("%v (run go test ./config -update to create it)", err)
			}
			if got != string(want) {
				t.Errorf("errors for %s differ from %s\n--- got\n%s--- want\n%s", file, golden, got, want)
			}
		})
	}
}

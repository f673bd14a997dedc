package config

import (
	"errors"
	"fmt"
	"strings"
	"testing"
)

// errorLines parses src as t.yaml and returns its problems, one per line.
func errorLines(t *testing.T, src string) []string {
	t.Helper()
	_, err := Parse("t.yaml", []byte(src))
	if err == nil {
		return nil
	}
	var errs Errors
	if !errors.As(err, &errs) {
		t.Fatalf("Parse error is %T, want Errors: %v", err, err)
	}
	return strings.Split(err.Error(), "\n")
}

// errorCase is a file and the problems Parse must report for it, each as
// "line:col: message". A case without want fails and prints what it got,
// ready to paste once reviewed.
type errorCase struct {
	name string
	yaml string
	want []string
}

func runErrorCases(t *testing.T, cases []errorCase) {
	t.Helper()
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got := errorLines(t, tc.yaml)
			if tc.want == nil {
				var b strings.Builder
				for _, g := range got {
					fmt.Fprintf(&b, "\t\t\t%q,\n", strings.TrimPrefix(g, "t.yaml:"))
				}
				t.Errorf("GEN %s\n%s", tc.name, b.String())
				return
			}
			want := make([]string, len(tc.want))
			for i, w := range tc.want {
				want[i] = "t.yaml:" + w
			}
			if strings.Join(got, "\n") != strings.Join(want, "\n") {
				t.Errorf("errors differ\n--- got\n%s\n--- want\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
			}
		})
	}
}

package call

import (
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/hotline-cc/hotline/config"
)

// TestAnalyticsHookCommand: the hook gets the WAV and the call ID and its
// JSON is kept; a hook that prints no JSON is refused; one that overstays
// its timeout is given up on even when a child it started holds its
// output open.
func TestAnalyticsHookCommand(t *testing.T) {
	dir := t.TempDir()
	script := func(name, body string) []string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte("#!/bin/sh\n"+body+"\n"), 0o755); err != nil {
			t.Fatal(err)
		}
		return []string{p}
	}
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	for _, tc := range []struct {
		name, body, wantAnswer, wantResult string
		timeout                            time.Duration
	}{
		// Generous where the hook must finish: a loaded test box can be
		// slow to start a shell.
		{"ok", `printf '{"wav":"%s","call":"%s"}' "$1" "$2"`, `{"wav":"/rec.wav","call":"c1"}`, "ok", 10 * time.Second},
		{"bad", `echo not json`, "", "bad-answer", 10 * time.Second},
		{"fails", `exit 3`, "", "error", 10 * time.Second},
		{"slow", `sleep 30 & sleep 30`, "", "timeout", 300 * time.Millisecond},
	} {
		t.Run(tc.name, func(t *testing.T) {
			start := time.Now()
			h := config.AnalyticsHook{Command: script(tc.name+".sh", tc.body), Timeout: tc.timeout}
			answer, result := runAnalyticsHook(h, "/rec.wav", "c1", log)
			if answer != tc.wantAnswer || result != tc.wantResult {
				t.Errorf("hook %q: %q, %s; want %q, %s", tc.body, answer, result, tc.wantAnswer, tc.wantResult)
			}
			if took := time.Since(start); took > h.Timeout+hookExitWait+2*time.Second {
				t.Errorf("the hook held hotline for %s", took)
			}
		})
	}
}

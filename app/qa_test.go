package app_test

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/hotline-cc/hotline/api"
	"github.com/hotline-cc/hotline/config"
)

// TestRecordingAnalyticsAndHook: when a call ends, its recording's talk is
// measured (the caller's 440 Hz and the agent's 1 kHz are speech on their
// channels) and the analytics hook (a script here) gets the WAV and the
// call ID; its JSON is stored with the call.
func TestRecordingAnalyticsAndHook(t *testing.T) {
	t.Parallel()
	requirePCAP(t)
	hook := filepath.Join(t.TempDir(), "hook.sh")
	script := "#!/bin/sh\nsize=$(wc -c < \"$1\")\nprintf '{\"text\":\"hello\",\"call\":\"%s\",\"bytes\":%s}' \"$2\" \"$size\"\n"
	if err := os.WriteFile(hook, []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	h := startHotline(t, func(c *config.Config) {
		c.Recordings.AnalyticsHook = config.AnalyticsHook{Command: []string{hook}, Timeout: 10 * time.Second}
	})
	ctx, cancel := context.WithTimeout(context.Background(), 40*time.Second)
	defer cancel()
	h.startAgent(ctx, "1003", "agent_answer.xml", map[string]string{"ring_ms": "100"})
	caller, callID := h.callTo1003(ctx, "3000")
	caller.WaitSuccess(t, 1)
	h.waitEndedCall()
	var cdr api.CallJSON
	waitFor(t, 10*time.Second, "the call's analytics", func() (bool, string) {
		h.get("/api/v1/calls/"+callID, &cdr)
		return cdr.Analytics != nil && len(cdr.Analytics.Hook) > 0, fmt.Sprintf("%+v", cdr.Analytics)
	})
	a := cdr.Analytics
	if a.AgentSpeechSec < 1 || a.CallerSpeechSec < 1 || a.AgentSpeechSec > cdr.TalkSec+0.1 || a.SilenceRatio < 0 || a.SilenceRatio > 1 {
		t.Errorf("analytics %+v for a talk of %.1f s where both sides sound", a, cdr.TalkSec)
	}
	var said struct {
		Text  string
		Call  string
		Bytes int64
	}
	if err := json.Unmarshal(a.Hook, &said); err != nil || said.Text != "hello" || said.Call != callID || said.Bytes < 44 {
		t.Errorf("hook answer %s (%v); want hello for %s and the WAV's size", a.Hook, err, callID)
	}
	checkMetrics(t, h, map[string]float64{
		`hotline_recordings_analyzed_total{result="ok"}`:            1,
		`hotline_recordings_analytics_hook_runs_total{result="ok"}`: 1,
	})
}

package app_test

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/hotline-cc/hotline/api"
	"github.com/hotline-cc/hotline/config"
)

// TestRecordingAnalyticsHookAndDisposition: when a call ends, its recording's talk is
// measured (the caller's 440 Hz and the agent's 1 kHz are speech on their
// channels) and the analytics hook (a script here) gets the WAV and the
// call ID; its JSON is stored with the call. Then the agent gives the
// call a wrap-up code from the phone, and the API changes it.
func TestRecordingAnalyticsHookAndDisposition(t *testing.T) {
	t.Parallel()
	requirePCAP(t)
	hook := filepath.Join(t.TempDir(), "hook.sh")
	script := "#!/bin/sh\nsize=$(wc -c < \"$1\")\nprintf '{\"text\":\"hello\",\"call\":\"%s\",\"bytes\":%s}' \"$2\" \"$size\"\n"
	if err := os.WriteFile(hook, []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	h := startHotline(t, func(c *config.Config) {
		c.Recordings.AnalyticsHook = config.AnalyticsHook{Command: []string{hook}, Timeout: 10 * time.Second}
		c.HTTP.Tokens = append(c.HTTP.Tokens, config.Token{Name: "1002", Role: config.RoleAgent, Token: "agent-1002"})
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
	// The wrap-up code: 1003's phone dials *24 1 (resolved), then the API
	// changes it; an unknown code or another agent's token changes nothing.
	if status := newFeaturePhone(t).dial(t, h, "1003", "demo1003", "*241"); status != 200 {
		t.Errorf("*241: %d", status)
	}
	if status := newFeaturePhone(t).dial(t, h, "1003", "demo1003", "*249"); status != 200 {
		t.Errorf("*249 (unknown code, answered with feature_failed): %d", status)
	}
	if h.get("/api/v1/calls/"+callID, &cdr); cdr.Disposition != "resolved" {
		t.Errorf("disposition after *241 then *249: %q, want resolved", cdr.Disposition)
	}
	disposition := "/api/v1/calls/" + callID + "/disposition"
	h.do("POST", disposition, "agent-1002", map[string]string{"disposition": "escalated"}).want(t, "another agent's call", 403, nil)
	h.do("POST", disposition, h.token, map[string]string{"disposition": "lost"}).want(t, "unknown disposition", 400, nil)
	h.do("POST", disposition, h.token, map[string]string{"disposition": "3"}).want(t, "by code", 200, nil)
	if h.get("/api/v1/calls/"+callID, &cdr); cdr.Disposition != "escalated" {
		t.Errorf("disposition after the API: %q, want escalated", cdr.Disposition)
	}
	checkMetrics(t, h, map[string]float64{
		`hotline_recordings_analyzed_total{result="ok"}`:            1,
		`hotline_recordings_analytics_hook_runs_total{result="ok"}`: 1,
	})
}

// TestOneRecordingThroughHoldTransferAndSurvey: a call that is held (from
// 1003's phone), blind-transferred back to support, where 1004 answers
// (the longest idle) and hangs up,
// and ends in the post-call survey keeps one recording as long as the
// call, and a timeline whose stages add up to the call's duration.
func TestOneRecordingThroughHoldTransferAndSurvey(t *testing.T) {
	t.Parallel()
	requirePCAP(t)
	h := startHotlineYAML(t, ivrTrunk+surveyedSupportFlows)
	ctx, cancel := context.WithTimeout(context.Background(), 40*time.Second)
	defer cancel()
	carol := h.startAgent(ctx, "1003", "agent_hold.xml", map[string]string{"ring_ms": "100", "hold_after_ms": "500", "hold_ms": "1000"})
	dave := h.startAgent(ctx, "1004", "agent_answer.xml", map[string]string{"ring_ms": "100", "hangup": "agent", "talk_ms": "1000"})
	caller := h.startIVRCall(ctx, "100", map[string]string{"keys": "8#", "first_ms": "7000"})
	h.waitAgent("1003", "on-call")
	waitFor(t, 10*time.Second, "1003's phone to hold and resume", func() (bool, string) {
		var trail []string
		for _, e := range h.agentEvents("1003") {
			trail = append(trail, e.From+">"+e.To)
		}
		return slices.Contains(trail, "on-hold>on-call"), fmt.Sprint(trail)
	})
	callID := h.agent("1003").CallID
	h.do("POST", "/api/v1/calls/"+callID+"/transfer", h.token, map[string]string{"to": "queue:support"}).want(t, "transfer", 202, nil)
	finished(t, carol, "1003 holds, resumes and is released by the transfer")
	finished(t, dave, "1004 answers the transfer and hangs up")
	caller.WaitSuccess(t, 1)

	cdr := h.endedCDR(callID)
	if cdr.SurveyScore == nil || *cdr.SurveyScore != 8 || cdr.Holds != 1 || cdr.TransferTo != "queue support" {
		t.Errorf("CDR = %+v; want one hold, the transfer to support and survey score 8", cdr)
	}
	wavs, _ := filepath.Glob(filepath.Join(h.cfg.DataDir, "recordings", "*", "*", "*", "*.wav"))
	if len(wavs) != 1 {
		t.Errorf("recordings %v, want one for the whole call", wavs)
	}
	duration := cdr.End.Sub(*cdr.Answer).Seconds()
	var wav wavFile
	waitFor(t, 5*time.Second, "the stage markers in the recording", func() (bool, string) {
		wav = h.recording(callID)
		return len(wav.markers) > 0, "none yet"
	})
	if got := float64(len(wav.right)) / 8000; got < duration-0.3 || got > duration+0.1 {
		t.Errorf("the recording lasts %.2f s, the call %.2f s", got, duration)
	}
	wantMarkers := []string{"ivr main", "queue support", "talk 1003 support", "hold 1003 support", "talk 1003 support",
		"queue support transferred", "talk 1004 support", "survey 1004 support nps"}
	if !slices.Equal(wav.markers, wantMarkers) {
		t.Errorf("markers %q, want %q", wav.markers, wantMarkers)
	}
	tl := h.timeline(callID)
	want := []string{"ivr", "queue", "ring 1003 answered", "talk 1003", "hold", "talk 1003", "queue", "ring 1004 answered", "talk 1004", "survey"}
	if got := stageNames(tl); !slices.Equal(got, want) {
		t.Errorf("timeline %v, want %v", got, want)
	}
	if d := tl.UnaccountedSec; d < -0.01 || d > 0.01 || tl.DurationSec < duration-0.01 {
		t.Errorf("the stages leave %.3f s of %.2f s unaccounted", d, tl.DurationSec)
	}
	// The survey's stage can be fetched from the recording on its own: the
	// caller's two keys are in it, not in the talk.
	res := h.do("GET", "/api/v1/recordings/"+callID+"?stage=survey", h.token, nil)
	if res.status != 200 || len(res.body) < 44+8000 {
		t.Errorf("the survey stage's recording: %d, %d bytes", res.status, len(res.body))
	}
}

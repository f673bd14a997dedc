package call

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"os/exec"
	"time"

	"github.com/hotline-cc/hotline/config"
	"github.com/hotline-cc/hotline/recorder"
	"github.com/hotline-cc/hotline/store"
)

// hookAnswerMax bounds what an analytics hook may return (it is stored
// with the call and shown with it).
const hookAnswerMax = 64 << 10

// hookExitWait is how long a hook whose time is up may take to let go of
// its output (a child it started may hold it open) before hotline stops
// waiting for it.
const hookExitWait = 5 * time.Second

// talkWindows are the call's talk stages (an agent, a transfer target or
// a conference with the caller) as offsets in its recording, which starts
// at the answer.
func (c *Call) talkWindows() []recorder.Window {
	var out []recorder.Window
	for _, st := range c.stages {
		if st.Parent != 0 || (st.Kind != store.StageTalk && st.Kind != store.StageConference) || st.End.IsZero() {
			continue
		}
		out = append(out, recorder.Window{From: st.Start.Sub(c.cdr.Answer), To: st.End.Sub(c.cdr.Answer)})
	}
	return out
}

// stageMarkers are the call's top-level stages as markers in its
// recording, which starts at the answer.
func (c *Call) stageMarkers() []recorder.Marker {
	var out []recorder.Marker
	for _, st := range c.stages {
		if st.Parent != 0 {
			continue
		}
		label := st.Kind
		for _, more := range []string{st.AgentID, st.Queue, st.Detail} {
			if more != "" {
				label += " " + more
			}
		}
		out = append(out, recorder.Marker{At: st.Start.Sub(c.cdr.Answer), Label: label})
	}
	return out
}

// analyzeRecording, off the call's goroutine, measures the closed
// recording's talk (speech per channel, silence, over-talk) and runs the
// analytics hook; the results go into the call's row. A call that never
// talked to anyone has nothing to measure, but the hook still hears it.
func (c *Call) analyzeRecording(path string) {
	windows := c.talkWindows()
	hook := c.rt.Config.Recordings.AnalyticsHook
	if len(windows) == 0 && !hook.Enabled() {
		return
	}
	m, callID, log := c.m, c.id, c.log
	m.wg.Add(1)
	go func() {
		defer m.wg.Done()
		// Calls end by the hundred at busy times: a few recordings at a
		// time (each is read, a hook may take minutes), the rest wait.
		m.analysisSlots <- struct{}{}
		defer func() { <-m.analysisSlots }()
		a, err := recorder.Analyze(path, windows)
		if err != nil {
			log.Error("recording analysis", "err", err)
			m.deps.Metrics.analyses.WithLabelValues("error").Inc()
			return
		}
		m.deps.Metrics.analyses.WithLabelValues("ok").Inc()
		out := store.Analytics{CallerSpeech: a.Caller, AgentSpeech: a.Agent, SilenceRatio: a.SilenceRatio(),
			Overtalk: a.Overtalk, LongestSilence: a.Longest}
		if hook.Enabled() {
			answer, result := runAnalyticsHook(hook, path, callID, log)
			m.deps.Metrics.hooks.WithLabelValues(result).Inc()
			out.Hook = answer
		}
		if err := m.deps.Store.RecordingAnalyzed(context.Background(), callID, out); err != nil {
			log.Error("recording analysis write", "err", err)
		}
	}()
}

// runAnalyticsHook hands the recording to speech analytics: the hook's
// command gets the WAV's path and the call ID as its last arguments and
// prints JSON; or the WAV is POSTed to its URL, which answers JSON. It
// returns the JSON ("" on failure) and a result for the metric.
func runAnalyticsHook(h config.AnalyticsHook, path, callID string, log *slog.Logger) (string, string) {
	ctx, cancel := context.WithTimeout(context.Background(), h.Timeout)
	defer cancel()
	var answer []byte
	var err error
	if len(h.Command) > 0 {
		answer, err = hookCommand(ctx, h.Command, path, callID)
	} else {
		answer, err = hookPost(ctx, h.URL, path, callID)
	}
	switch {
	case errors.Is(ctx.Err(), context.DeadlineExceeded):
		log.Warn("analytics hook timed out", "timeout", h.Timeout.String())
		return "", "timeout"
	case err != nil:
		log.Warn("analytics hook failed", "err", err)
		return "", "error"
	case !json.Valid(answer):
		log.Warn("analytics hook answered no JSON", "bytes", len(answer))
		return "", "bad-answer"
	}
	log.Info("analytics hook done", "bytes", len(answer))
	return string(bytes.TrimSpace(answer)), "ok"
}

func hookCommand(ctx context.Context, command []string, path, callID string) ([]byte, error) {
	cmd := exec.CommandContext(ctx, command[0], append(command[1:], path, callID)...)
	cmd.WaitDelay = hookExitWait
	var out bytes.Buffer
	cmd.Stdout = &limitedBuffer{buf: &out, left: hookAnswerMax}
	if err := cmd.Run(); err != nil {
		return nil, err
	}
	return out.Bytes(), nil
}

func hookPost(ctx context.Context, url, path, callID string) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, f)
	if err != nil {
		return nil, err
	}
	req.Header.Set("Content-Type", "audio/wav")
	req.Header.Set("X-Call-ID", callID)
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, err
	}
	defer res.Body.Close()
	if res.StatusCode/100 != 2 {
		return nil, fmt.Errorf("hook answered %s", res.Status)
	}
	return io.ReadAll(io.LimitReader(res.Body, hookAnswerMax))
}

// limitedBuffer keeps the first left bytes written and drops the rest,
// so a chatty hook cannot fill memory.
type limitedBuffer struct {
	buf  *bytes.Buffer
	left int
}

func (l *limitedBuffer) Write(p []byte) (int, error) {
	n := len(p)
	if len(p) > l.left {
		p = p[:l.left]
	}
	l.buf.Write(p)
	l.left -= len(p)
	return n, nil
}

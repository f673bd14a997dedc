package api

import (
	"net/http"
	"time"

	"github.com/hotline-cc/hotline/store"
)

// TimelineJSON is a call's stages as the API shows them, with what QA needs
// to check that they account for the whole call.
type TimelineJSON struct {
	CallID string     `json:"call_id"`
	Answer *time.Time `json:"answer"`
	End    *time.Time `json:"end"`
	// Live is true while the call goes on: its duration and its open
	// stages run to the time of the request.
	Live bool `json:"live"`
	// DurationSec runs from the answer (the start, for a call never
	// answered) to the end.
	DurationSec float64     `json:"duration_seconds"`
	Stages      []StageJSON `json:"stages"`
	// TotalsSec adds up the top-level stages by kind; nested ones (a ring
	// within a queue stage) would count their time twice.
	TotalsSec map[string]float64 `json:"totals"`
	// UnaccountedSec is the duration less the top-level stages: about 0
	// when they span the call, more for a gap, less for an overlap.
	UnaccountedSec float64 `json:"unaccounted_seconds"`
}

// StageJSON is one stage of a call; End is null while it is open.
type StageJSON struct {
	Seq         int        `json:"seq"`
	Stage       string     `json:"stage"`
	Start       time.Time  `json:"start"`
	End         *time.Time `json:"end"`
	DurationSec float64    `json:"duration_seconds"`
	Parent      int        `json:"parent"`
	AgentID     string     `json:"agent_id"`
	Queue       string     `json:"queue"`
	Detail      string     `json:"detail"`
	Result      string     `json:"result"`
}

// getTimeline shows a call's stages; it admits the tokens getCall admits.
func (a *api) getTimeline(w http.ResponseWriter, r *http.Request) {
	c, ok := a.pathCall(w, r)
	if !ok {
		return
	}
	stages, err := a.Store.Stages(r.Context(), c.CallID)
	if err != nil {
		a.serverError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, timeline(c, stages, time.Now()))
}

// timeline measures c and its stages as of now. A stage still open runs to
// now while the call is live, and to the call's end otherwise (which only a
// lost write leaves behind).
func timeline(c store.CDR, stages []store.Stage, now time.Time) TimelineJSON {
	live := c.End.IsZero()
	until := c.End
	if live {
		until = now
	}
	from := c.Answer
	if from.IsZero() {
		from = c.Start
	}
	duration := max(0, until.Sub(from))
	t := TimelineJSON{
		CallID: c.CallID, Answer: optTime(c.Answer), End: optTime(c.End), Live: live,
		DurationSec: duration.Seconds(),
		Stages:      make([]StageJSON, 0, len(stages)),
		TotalsSec:   map[string]float64{},
	}
	// Summed as durations, converted once, so that whole milliseconds add
	// up without float error.
	totals := map[string]time.Duration{}
	var accounted time.Duration
	for _, st := range stages {
		end := st.End
		if end.IsZero() {
			end = until
		}
		d := max(0, end.Sub(st.Start))
		t.Stages = append(t.Stages, StageJSON{
			Seq: st.Seq, Stage: st.Kind, Start: st.Start.UTC(), End: optTime(st.End), DurationSec: d.Seconds(),
			Parent: st.Parent, AgentID: st.AgentID, Queue: st.Queue, Detail: st.Detail, Result: st.Result,
		})
		if st.Parent == 0 {
			totals[st.Kind] += d
			accounted += d
		}
	}
	for kind, d := range totals {
		t.TotalsSec[kind] = d.Seconds()
	}
	t.UnaccountedSec = (duration - accounted).Seconds()
	return t
}

package api

import (
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/url"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/hotline-cc/hotline/recorder"
	"github.com/hotline-cc/hotline/store"
)

// CallJSON is a CDR as the API shows it.
type CallJSON struct {
	CallID    string     `json:"call_id"`
	Caller    string     `json:"caller"`
	Called    string     `json:"called"`
	Trunk     string     `json:"trunk"`
	Start     time.Time  `json:"start"`
	Answer    *time.Time `json:"answer,omitempty"`
	End       *time.Time `json:"end,omitempty"`
	IVRDigits string     `json:"ivr_digits"`
	// IVRPath is the caller's way through the IVR: node names joined by ">".
	IVRPath        string  `json:"ivr_path,omitempty"`
	FlowVersion    string  `json:"flow_version,omitempty"`
	Queue          string  `json:"queue,omitempty"`
	AgentID        string  `json:"agent_id,omitempty"`
	QueueWaitSec   float64 `json:"queue_wait_seconds"`
	TalkSec        float64 `json:"talk_seconds"`
	Result         string  `json:"result,omitempty"`
	HangupBy       string  `json:"hangup_by,omitempty"`
	HangupCause    string  `json:"hangup_cause,omitempty"`
	RecordingURL   string  `json:"recording_url,omitempty"`
	RecordingBytes int64   `json:"recording_bytes,omitempty"`
	// Priority is the call's base priority in its queue; Tags the priority
	// rules it matched.
	Priority int    `json:"priority"`
	Tags     string `json:"tags,omitempty"`
	// SLOutcome is the service-level verdict: met, missed, excluded, or
	// empty when the call never waited in a queue.
	SLOutcome string  `json:"sl_outcome,omitempty"`
	Offers    int     `json:"offers"`
	WrapUpSec float64 `json:"wrap_up_seconds,omitempty"`
	// HoldSec is the time the caller spent on hold while connected (part
	// of talk_seconds); Holds how many times.
	HoldSec    float64 `json:"hold_seconds"`
	Holds      int     `json:"holds"`
	CallbackID int64   `json:"callback_id,omitempty"`
	// BusinessType is the IVR's business_type variable; TransferTo where an
	// IVR transfer node sent the call ("number +8610...", "extension 2000",
	// "agent 1003").
	BusinessType string `json:"business_type,omitempty"`
	TransferTo   string `json:"transfer_to,omitempty"`
	// SurveyScore is the caller's survey answer (NPS, 0..10), null when the
	// caller gave none.
	SurveyScore *int `json:"survey_score"`
	// VoicemailStart is when the caller began a voicemail message: the
	// message is the recording from there to the end.
	VoicemailStart *time.Time `json:"voicemail_start,omitempty"`
	// Disposition is the agent's wrap-up code; LegalHold keeps the
	// recording from retention; RecordingDeleted is when retention
	// deleted it.
	Disposition      string     `json:"disposition,omitempty"`
	LegalHold        bool       `json:"legal_hold"`
	RecordingDeleted *time.Time `json:"recording_deleted,omitempty"`
	// Analytics is what was measured in the recording's talk stages when
	// the call ended; null before.
	Analytics *AnalyticsJSON `json:"analytics"`
}

// AnalyticsJSON is the cheap analysis of a call's talk: speech per
// channel, silence and over-talk, and what an analytics hook returned.
type AnalyticsJSON struct {
	CallerSpeechSec   float64         `json:"caller_speech_seconds"`
	AgentSpeechSec    float64         `json:"agent_speech_seconds"`
	SilenceRatio      float64         `json:"silence_ratio"`
	OvertalkSec       float64         `json:"overtalk_seconds"`
	LongestSilenceSec float64         `json:"longest_silence_seconds"`
	Hook              json.RawMessage `json:"hook,omitempty"`
}

func toJSON(c store.CDR) CallJSON {
	j := CallJSON{
		CallID: c.CallID, Caller: c.Caller, Called: c.Called, Trunk: c.Trunk, Start: c.Start,
		IVRDigits: c.IVRDigits, IVRPath: c.IVRPath, FlowVersion: c.FlowVersion, Queue: c.Queue, AgentID: c.AgentID,
		QueueWaitSec: c.QueueWait.Seconds(), TalkSec: c.Talk.Seconds(),
		Result: c.Result, HangupBy: c.HangupBy, HangupCause: c.HangupCause,
		Priority: c.Priority, Tags: c.Tags, SLOutcome: c.SLOutcome, Offers: c.Offers,
		WrapUpSec: c.WrapUp.Seconds(), CallbackID: c.CallbackID, HoldSec: c.Hold.Seconds(), Holds: c.Holds,
		BusinessType: c.BusinessType, TransferTo: c.TransferTo, VoicemailStart: optTime(c.VoicemailStart),
	}
	if c.SurveySet {
		score := c.SurveyScore
		j.SurveyScore = &score
	}
	if !c.Answer.IsZero() {
		t := c.Answer
		j.Answer = &t
	}
	if !c.End.IsZero() {
		t := c.End
		j.End = &t
	}
	if c.RecordingPath != "" && c.RecordingDeleted.IsZero() {
		j.RecordingURL = "/api/v1/recordings/" + url.PathEscape(c.CallID)
	}
	j.Disposition, j.LegalHold, j.RecordingDeleted = c.Disposition, c.LegalHold, optTime(c.RecordingDeleted)
	if a := c.Analytics; a != (store.Analytics{}) {
		j.Analytics = &AnalyticsJSON{
			CallerSpeechSec: a.CallerSpeech.Seconds(), AgentSpeechSec: a.AgentSpeech.Seconds(),
			SilenceRatio: a.SilenceRatio, OvertalkSec: a.Overtalk.Seconds(), LongestSilenceSec: a.LongestSilence.Seconds(),
		}
		if json.Valid([]byte(a.Hook)) {
			j.Analytics.Hook = json.RawMessage(a.Hook)
		}
	}
	return j
}

func (a *api) listCalls(w http.ResponseWriter, r *http.Request) {
	limit, ok := queryLimit(w, r)
	if !ok {
		return
	}
	before, ok := queryTime(w, r, "before")
	if !ok {
		return
	}
	opts := store.ListOptions{Limit: limit, Before: before}
	if p := who(r); !p.mayReview() {
		opts.AgentID = p.name // an agent lists only its own calls
	}
	cdrs, err := a.Store.ListCalls(r.Context(), opts)
	if err != nil {
		a.serverError(w, r, err)
		return
	}
	out := make([]CallJSON, 0, len(cdrs))
	for _, c := range cdrs {
		out = append(out, toJSON(c))
	}
	writeJSON(w, http.StatusOK, map[string]any{"calls": out})
}

func (a *api) getCall(w http.ResponseWriter, r *http.Request) {
	if c, ok := a.pathCall(w, r); ok {
		writeJSON(w, http.StatusOK, toJSON(c))
	}
}

// pathCall reads the call named by the path's {id}, or answers 404, 403
// (a call the token may not read) or 500 and returns false. Every view of
// one call goes through it, so that they all show the same calls to the
// same tokens.
func (a *api) pathCall(w http.ResponseWriter, r *http.Request) (store.CDR, bool) {
	c, err := a.Store.Call(r.Context(), r.PathValue("id"))
	if errors.Is(err, store.ErrNotFound) {
		writeError(w, http.StatusNotFound, "no call with that id")
		return store.CDR{}, false
	}
	if err != nil {
		a.serverError(w, r, err)
		return store.CDR{}, false
	}
	if forbidCall(w, who(r), c) {
		return store.CDR{}, false
	}
	return c, true
}

// mayReadCall reports whether p may read c: admin, supervisor and qa
// tokens any call, an agent's token only the calls that agent took.
func (p *principal) mayReadCall(c store.CDR) bool {
	return p.mayReview() || (c.AgentID != "" && c.AgentID == p.name)
}

// forbidCall answers 403 unless p may read c; it reports whether it did.
func forbidCall(w http.ResponseWriter, p *principal, c store.CDR) bool {
	if p.mayReadCall(c) {
		return false
	}
	writeError(w, http.StatusForbidden, "token "+strconv.Quote(p.name)+" (role "+p.role.String()+") may read only its own calls")
	return true
}

// DecisionJSON is one routing decision: why an offer went to its agent.
type DecisionJSON struct {
	OfferID           uint64          `json:"offer_id"`
	At                time.Time       `json:"at"`
	Queue             string          `json:"queue"`
	AgentID           string          `json:"agent_id"`
	Rule              string          `json:"rule"`
	Stage             int             `json:"stage"`
	Tier              int             `json:"tier"`
	IdleSec           float64         `json:"idle_seconds"`
	WaitSec           float64         `json:"wait_seconds"`
	EffectivePriority float64         `json:"effective_priority"`
	Candidates        []CandidateJSON `json:"candidates"`
}

// CandidateJSON is one agent a decision compared.
type CandidateJSON struct {
	AgentID string  `json:"agent_id"`
	Tier    int     `json:"tier"`
	Stage   int     `json:"stage"`
	IdleSec float64 `json:"idle_seconds"`
	Skipped string  `json:"skipped,omitempty"`
}

// getDecisions lists the routing decisions of a call, in offer order. The
// call must exist (a CDR, or a callback under the ACD's ID "callback-N");
// one with no decisions yet answers an empty list.
func (a *api) getDecisions(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	exists, err := a.callExists(r, id)
	if err != nil {
		a.serverError(w, r, err)
		return
	}
	if !exists {
		writeError(w, http.StatusNotFound, "no call with that id")
		return
	}
	if p := who(r); !p.mayReview() {
		// A callback's decisions have no call, so no agent's own: c stays
		// zero and is refused.
		c, err := a.Store.Call(r.Context(), id)
		if err != nil && !errors.Is(err, store.ErrNotFound) {
			a.serverError(w, r, err)
			return
		}
		if forbidCall(w, p, c) {
			return
		}
	}
	ds, err := a.Store.Decisions(r.Context(), id)
	if err != nil {
		a.serverError(w, r, err)
		return
	}
	out := make([]DecisionJSON, 0, len(ds))
	for _, d := range ds {
		j := DecisionJSON{
			OfferID: d.OfferID, At: d.At.UTC(), Queue: d.Queue, AgentID: d.AgentID, Rule: d.Rule,
			Stage: d.Stage, Tier: d.Tier, IdleSec: d.Idle.Seconds(), WaitSec: d.Wait.Seconds(),
			EffectivePriority: finite(d.EffectivePriority), Candidates: make([]CandidateJSON, 0, len(d.Candidates)),
		}
		for _, c := range d.Candidates {
			j.Candidates = append(j.Candidates, CandidateJSON{AgentID: c.AgentID, Tier: c.Tier, Stage: c.Stage,
				IdleSec: c.Idle.Seconds(), Skipped: c.Skipped})
		}
		out = append(out, j)
	}
	writeJSON(w, http.StatusOK, map[string]any{"call_id": id, "decisions": out})
}

// callExists reports whether id names a call with a CDR, or a callback
// (decisions of callback offers are kept under acd.CallbackCallID).
func (a *api) callExists(r *http.Request, id string) (bool, error) {
	_, err := a.Store.Call(r.Context(), id)
	if err == nil {
		return true, nil
	}
	if !errors.Is(err, store.ErrNotFound) {
		return false, err
	}
	if n, ok := strings.CutPrefix(id, "callback-"); ok {
		cbID, perr := strconv.ParseInt(n, 10, 64)
		if perr != nil || cbID <= 0 {
			return false, nil
		}
		_, err = a.Store.Callback(r.Context(), cbID)
		if err == nil {
			return true, nil
		}
		if !errors.Is(err, store.ErrNotFound) {
			return false, err
		}
	}
	return false, nil
}

// getRecording streams a call's WAV; http.ServeContent handles Range and
// If-Modified-Since, so players can seek. Each GET is audited (one entry
// per request, with its Range) before any audio is sent: a download that
// cannot be audited is refused. A recording retention deleted is 410 Gone.
func (a *api) getRecording(w http.ResponseWriter, r *http.Request) {
	c, ok := a.pathCall(w, r)
	if !ok {
		return
	}
	if c.RecordingPath == "" {
		writeError(w, http.StatusNotFound, "no recording for that call")
		return
	}
	if !c.RecordingDeleted.IsZero() {
		writeError(w, http.StatusGone, "the recording was deleted by retention at "+c.RecordingDeleted.Format(time.RFC3339))
		return
	}
	windows, name, ok := a.recordingWindows(w, r, c)
	if !ok {
		return
	}
	st, err := os.Stat(c.RecordingPath)
	var audio io.ReadSeekCloser
	if err == nil && windows == nil {
		audio, err = os.Open(c.RecordingPath)
	} else if err == nil {
		audio, err = recorder.OpenSlice(c.RecordingPath, windows)
	}
	if errors.Is(err, os.ErrNotExist) {
		writeError(w, http.StatusNotFound, "recording file is gone")
		return
	}
	if err != nil {
		a.serverError(w, r, err)
		return
	}
	defer audio.Close()
	detail := r.Header.Get("Range")
	if windows != nil {
		detail = strings.TrimSpace(name + " " + detail) // which stage was heard
	}
	if r.Method == http.MethodGet { // HEAD sends no audio
		if err := a.Store.Audit(r.Context(), auditEntry(r, store.AuditRecordingDownload, c.CallID, detail)); err != nil {
			a.serverError(w, r, err)
			return
		}
	}
	a.Log.Info("recording served", "call_id", c.CallID, "token", who(r).name, "range", r.Header.Get("Range"), "stage", r.URL.Query().Get("stage"))
	w.Header().Set("Content-Type", "audio/wav")
	w.Header().Set("Content-Disposition", `attachment; filename="`+name+`.wav"`)
	http.ServeContent(w, r, "", st.ModTime(), audio)
}

// recordingWindows reads ?stage=KIND (every top-level stage of that kind:
// talk, hold, ivr, queue...) or ?seq=N (one stage) into windows of the
// recording, which starts at the answer; nil windows mean the whole call.
// It names the file after the call and the stage. It has answered when
// it returns false.
func (a *api) recordingWindows(w http.ResponseWriter, r *http.Request, c store.CDR) ([]recorder.Window, string, bool) {
	q := r.URL.Query()
	kind, seqText := q.Get("stage"), q.Get("seq")
	name := safeName(c.CallID)
	if kind == "" && seqText == "" {
		return nil, name, true
	}
	seq, err := strconv.Atoi(seqText)
	if seqText != "" && (err != nil || seq < 1) {
		writeError(w, http.StatusBadRequest, "seq must be a stage's number (1, 2, ...)")
		return nil, "", false
	}
	stages, err := a.Store.Stages(r.Context(), c.CallID)
	if err != nil {
		a.serverError(w, r, err)
		return nil, "", false
	}
	end := c.End
	if end.IsZero() {
		end = time.Now()
	}
	var windows []recorder.Window
	for _, st := range stages {
		if seqText != "" && st.Seq != seq || kind != "" && (st.Kind != kind || st.Parent != 0) {
			continue
		}
		stop := st.End
		if stop.IsZero() {
			stop = end
		}
		windows = append(windows, recorder.Window{From: st.Start.Sub(c.Answer), To: stop.Sub(c.Answer)})
	}
	if len(windows) == 0 {
		writeError(w, http.StatusNotFound, "the call has no such stage (see GET /api/v1/calls/"+c.CallID+"/timeline)")
		return nil, "", false
	}
	return windows, name + "-" + safeName(kind+seqText), true
}

func safeName(s string) string {
	return strings.Map(func(r rune) rune {
		if r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' || r == '_' || r == '.' {
			return r
		}
		return '_'
	}, s)
}

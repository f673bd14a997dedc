package api

import (
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/hotline-cc/hotline/acd"
	"github.com/hotline-cc/hotline/config"
	"github.com/hotline-cc/hotline/store"
)

// CallbackJSON is a stored callback as the API shows it.
type CallbackJSON struct {
	ID       int64     `json:"id"`
	Queue    string    `json:"queue"`
	Number   string    `json:"number"`
	Priority int       `json:"priority"`
	QueuedAt time.Time `json:"queued_at"`
	// NotBefore: the callback is not offered before it.
	NotBefore    *time.Time `json:"not_before,omitempty"`
	Attempts     int        `json:"attempts"`
	MaxAttempts  int        `json:"max_attempts"`
	State        string     `json:"state"`
	OriginCallID string     `json:"origin_call_id,omitempty"`
	LastResult   string     `json:"last_result,omitempty"`
	UpdatedAt    time.Time  `json:"updated_at"`
}

// CallbackDetailJSON is one callback with the dials made, oldest first.
type CallbackDetailJSON struct {
	CallbackJSON
	AttemptLog []CallbackAttemptJSON `json:"attempt_log"`
}

// CallbackCreatedJSON answers POST /api/v1/callbacks: Merged says the
// number already had an open callback in the queue, which is returned
// instead of a new one.
type CallbackCreatedJSON struct {
	CallbackJSON
	Merged bool `json:"merged"`
}

// CallbackAttemptJSON is one dial of a callback.
type CallbackAttemptJSON struct {
	At      time.Time `json:"at"`
	AgentID string    `json:"agent_id,omitempty"`
	CallID  string    `json:"call_id,omitempty"`
	Result  string    `json:"result,omitempty"`
}

func callbackJSON(cb store.Callback) CallbackJSON {
	return CallbackJSON{
		ID: cb.ID, Queue: cb.Queue, Number: cb.Number, Priority: cb.Priority, QueuedAt: cb.QueuedAt.UTC(),
		NotBefore: optTime(cb.NotBefore), Attempts: cb.Attempts, MaxAttempts: cb.MaxAttempts, State: string(cb.State),
		OriginCallID: cb.OriginCallID, LastResult: cb.LastResult, UpdatedAt: cb.UpdatedAt.UTC(),
	}
}

func (a *api) listCallbacks(w http.ResponseWriter, r *http.Request) {
	state := store.CallbackState(r.URL.Query().Get("state"))
	if state != "" && !state.Valid() {
		writeError(w, http.StatusBadRequest, "state must be pending, dialing, done, failed or canceled")
		return
	}
	limit, ok := queryLimit(w, r)
	if !ok {
		return
	}
	cbs, err := a.Store.ListCallbacks(r.Context(), state, limit)
	if err != nil {
		a.serverError(w, r, err)
		return
	}
	out := make([]CallbackJSON, 0, len(cbs))
	for _, cb := range cbs {
		out = append(out, callbackJSON(cb))
	}
	writeJSON(w, http.StatusOK, map[string]any{"callbacks": out})
}

// callbackByPath loads the callback of the {id} path segment; it writes a
// 404 (or 500) and returns false if there is none.
func (a *api) callbackByPath(w http.ResponseWriter, r *http.Request) (store.Callback, bool) {
	id, err := strconv.ParseInt(r.PathValue("id"), 10, 64)
	if err != nil || id <= 0 {
		writeError(w, http.StatusNotFound, "no callback with that id")
		return store.Callback{}, false
	}
	cb, err := a.Store.Callback(r.Context(), id)
	if errors.Is(err, store.ErrNotFound) {
		writeError(w, http.StatusNotFound, "no callback with that id")
		return store.Callback{}, false
	}
	if err != nil {
		a.serverError(w, r, err)
		return store.Callback{}, false
	}
	return cb, true
}

func (a *api) getCallback(w http.ResponseWriter, r *http.Request) {
	cb, ok := a.callbackByPath(w, r)
	if !ok {
		return
	}
	attempts, err := a.Store.CallbackAttempts(r.Context(), cb.ID)
	if err != nil {
		a.serverError(w, r, err)
		return
	}
	j := CallbackDetailJSON{CallbackJSON: callbackJSON(cb), AttemptLog: make([]CallbackAttemptJSON, 0, len(attempts))}
	for _, at := range attempts {
		j.AttemptLog = append(j.AttemptLog, CallbackAttemptJSON{At: at.At.UTC(), AgentID: at.AgentID, CallID: at.CallID, Result: at.Result})
	}
	writeJSON(w, http.StatusOK, j)
}

// callbackRequest is the body of POST /api/v1/callbacks.
type callbackRequest struct {
	Queue  string `json:"queue"`
	Number string `json:"number"`
	// At is RFC 3339; empty means now.
	At       string `json:"at"`
	Priority *int   `json:"priority"`
}

// maxCallbackAhead bounds how far ahead a callback may be scheduled, to
// catch a mistyped year.
const maxCallbackAhead = 366 * 24 * time.Hour

// validNumber reports whether s is 3 to 20 digits, with an optional leading +.
func validNumber(s string) bool {
	digits := strings.TrimPrefix(s, "+")
	if len(digits) < 3 || len(digits) > 20 {
		return false
	}
	for _, c := range digits {
		if c < '0' || c > '9' {
			return false
		}
	}
	return true
}

func (a *api) createCallback(w http.ResponseWriter, r *http.Request) {
	p := who(r)
	if !p.mayManage() {
		writeError(w, http.StatusForbidden, "token "+strconv.Quote(p.name)+" (role "+p.role.String()+") may not schedule callbacks; admin and supervisor tokens may")
		return
	}
	var req callbackRequest
	if !decodeBody(w, r, &req, false) {
		return
	}
	cfg := a.Config()
	q := cfg.Queue(req.Queue)
	if q == nil {
		names := make([]string, 0, len(cfg.Queues))
		for i := range cfg.Queues {
			names = append(names, cfg.Queues[i].Name)
		}
		writeError(w, http.StatusBadRequest, "unknown queue "+strconv.Quote(req.Queue)+"; queues: "+strings.Join(names, ", "))
		return
	}
	if !validNumber(req.Number) {
		writeError(w, http.StatusBadRequest, "number must be 3 to 20 digits, with an optional leading +")
		return
	}
	if cfg.OutboundTrunk() == nil {
		writeError(w, http.StatusConflict, "no trunk has an outbound address, so callbacks cannot be dialed; set outbound on a trunk")
		return
	}
	priority := 0
	if req.Priority != nil {
		priority = *req.Priority
		if priority < config.MinPriority || priority > config.MaxPriority {
			writeError(w, http.StatusBadRequest, fmt.Sprintf("priority must be from %d to %d", config.MinPriority, config.MaxPriority))
			return
		}
	}
	now := time.Now()
	var notBefore time.Time
	if req.At != "" {
		t, err := time.Parse(time.RFC3339Nano, req.At)
		if err != nil {
			writeError(w, http.StatusBadRequest, "at must be an RFC 3339 time, such as 2026-11-23T20:00:00+01:00")
			return
		}
		if t.After(now.Add(maxCallbackAhead)) {
			writeError(w, http.StatusBadRequest, "at is more than a year ahead")
			return
		}
		if t.After(now) {
			notBefore = t
		}
	}

	a.cbMu.Lock()
	defer a.cbMu.Unlock()
	if open, found, err := a.Store.PendingCallbackFor(r.Context(), q.Name, req.Number); err != nil {
		a.serverError(w, r, err)
		return
	} else if found {
		// One promise per number and queue: the caller keeps the callback
		// they already have.
		w.Header().Set("Location", "/api/v1/callbacks/"+strconv.FormatInt(open.ID, 10))
		writeJSON(w, http.StatusOK, CallbackCreatedJSON{callbackJSON(open), true})
		return
	}
	cb := store.Callback{
		Queue: q.Name, Number: req.Number, Priority: priority, QueuedAt: now, NotBefore: notBefore,
		MaxAttempts: q.CallbackMaxAttempts, State: store.CallbackPending,
	}
	id, err := a.Store.SaveCallback(r.Context(), cb)
	if err != nil {
		a.serverError(w, r, err)
		return
	}
	a.ACD.Post(acd.CallbackScheduled{
		CallbackID: id, Queue: cb.Queue, Number: cb.Number, Priority: cb.Priority,
		QueuedAt: cb.QueuedAt, NotBefore: cb.NotBefore, MaxAttempts: cb.MaxAttempts,
	})
	a.Log.Info("api: callback scheduled", "callback_id", id, "queue", cb.Queue, "not_before", cb.NotBefore, "token", p.name)
	saved, err := a.Store.Callback(r.Context(), id)
	if err != nil {
		a.serverError(w, r, err)
		return
	}
	w.Header().Set("Location", "/api/v1/callbacks/"+strconv.FormatInt(id, 10))
	writeJSON(w, http.StatusCreated, CallbackCreatedJSON{callbackJSON(saved), false})
}

func (a *api) cancelCallback(w http.ResponseWriter, r *http.Request) {
	p := who(r)
	if !p.mayManage() {
		writeError(w, http.StatusForbidden, "token "+strconv.Quote(p.name)+" (role "+p.role.String()+") may not cancel callbacks; admin and supervisor tokens may")
		return
	}
	cb, ok := a.callbackByPath(w, r)
	if !ok {
		return
	}
	switch cb.State {
	case store.CallbackPending:
	case store.CallbackDialing:
		writeError(w, http.StatusConflict, "callback is being dialed and can no longer be canceled")
		return
	default:
		writeError(w, http.StatusConflict, "callback is already "+string(cb.State))
		return
	}
	callID := acd.CallbackCallID(cb.ID)
	snap, err := a.snapshot(r.Context())
	if err != nil {
		a.serverError(w, r, err)
		return
	}
	for _, ag := range snap.Agents {
		if ag.CallID == callID && ag.State != acd.AgentStateRinging {
			writeError(w, http.StatusConflict, "agent "+ag.ID+" is calling the customer back right now")
			return
		}
	}
	// The ACD drops the callback (and stops an agent's phone ringing for
	// it); its journal marks it canceled too, the store update below makes
	// the answer final without waiting for that.
	a.ACD.Post(acd.CallAbandoned{CallID: callID})
	cb.State, cb.UpdatedAt = store.CallbackCanceled, time.Now()
	if _, err := a.Store.SaveCallback(r.Context(), cb); err != nil {
		a.serverError(w, r, err)
		return
	}
	a.Log.Info("api: callback canceled", "callback_id", cb.ID, "queue", cb.Queue, "token", p.name)
	writeJSON(w, http.StatusOK, callbackJSON(cb))
}

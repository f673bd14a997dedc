// Package api serves hotline's HTTP interface: /healthz, /metrics and the JSON API
// under /api/v1, guarded by bearer tokens from the configuration. It reads the ACD
// through snapshots and the store through its read pool; it never writes call state.
package api

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"net/url"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/hotline-cc/hotline/acd"
	"github.com/hotline-cc/hotline/config"
	hsip "github.com/hotline-cc/hotline/sip"
	"github.com/hotline-cc/hotline/store"
)

// Deps are what the API reads.
type Deps struct {
	Config    func() *config.Config
	ACD       *acd.Router
	Store     *store.Store
	Registrar *hsip.Registrar
	Gatherer  prometheus.Gatherer
	Log       *slog.Logger
	Version   string
}

// Handler returns the HTTP handler of the whole API.
func Handler(d Deps) http.Handler {
	if d.Log == nil {
		d.Log = slog.Default()
	}
	a := &api{Deps: d}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", a.healthz)
	mux.Handle("GET /metrics", promhttp.HandlerFor(d.Gatherer, promhttp.HandlerOpts{ErrorLog: nil}))
	mux.HandleFunc("GET /api/v1/calls", a.auth(a.listCalls))
	mux.HandleFunc("GET /api/v1/calls/{id}", a.auth(a.getCall))
	mux.HandleFunc("GET /api/v1/agents", a.auth(a.listAgents))
	mux.HandleFunc("GET /api/v1/queues", a.auth(a.listQueues))
	mux.HandleFunc("GET /api/v1/recordings/{id}", a.auth(a.getRecording))
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		writeError(w, http.StatusNotFound, "no such endpoint: "+r.Method+" "+r.URL.Path)
	})
	return methodGuard(mux)
}

type api struct{ Deps }

// methodGuard answers 405 with JSON for known paths with the wrong method; the
// mux's own 405 is plain text.
func methodGuard(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			if strings.HasPrefix(r.URL.Path, "/api/v1/") || r.URL.Path == "/healthz" || r.URL.Path == "/metrics" {
				w.Header().Set("Allow", "GET, HEAD")
				writeError(w, http.StatusMethodNotAllowed, "method "+r.Method+" not allowed")
				return
			}
		}
		next.ServeHTTP(w, r)
	})
}

type principal struct {
	name string
	role config.Role
}

type ctxKey struct{}

// auth admits requests with a configured bearer token. Tokens are compared as
// SHA-256 digests in constant time, so the plaintext is never needed.
func (a *api) auth(next http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		h := r.Header.Get("Authorization")
		scheme, token, ok := strings.Cut(h, " ")
		if !ok || !strings.EqualFold(scheme, "Bearer") || token == "" {
			w.Header().Set("WWW-Authenticate", `Bearer realm="hotline"`)
			writeError(w, http.StatusUnauthorized, "missing bearer token")
			return
		}
		sum := sha256.Sum256([]byte(strings.TrimSpace(token)))
		var who *principal
		tokens := a.Config().HTTP.Tokens
		for i := range tokens {
			d := tokens[i].Digest()
			if subtle.ConstantTimeCompare(sum[:], d[:]) == 1 && who == nil {
				who = &principal{name: tokens[i].Name, role: tokens[i].Role}
			}
		}
		if who == nil {
			a.Log.Warn("api token refused", "remote", r.RemoteAddr, "path", r.URL.Path)
			w.Header().Set("WWW-Authenticate", `Bearer realm="hotline", error="invalid_token"`)
			writeError(w, http.StatusUnauthorized, "invalid token")
			return
		}
		next(w, r.WithContext(context.WithValue(r.Context(), ctxKey{}, who)))
	}
}

func (a *api) healthz(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, http.StatusOK, map[string]string{"status": "ok", "version": a.Version})
}

// CallJSON is a CDR as the API shows it.
type CallJSON struct {
	CallID         string     `json:"call_id"`
	Caller         string     `json:"caller"`
	Called         string     `json:"called"`
	Trunk          string     `json:"trunk"`
	Start          time.Time  `json:"start"`
	Answer         *time.Time `json:"answer,omitempty"`
	End            *time.Time `json:"end,omitempty"`
	IVRDigits      string     `json:"ivr_digits"`
	FlowVersion    string     `json:"flow_version,omitempty"`
	Queue          string     `json:"queue,omitempty"`
	AgentID        string     `json:"agent_id,omitempty"`
	QueueWaitSec   float64    `json:"queue_wait_seconds"`
	TalkSec        float64    `json:"talk_seconds"`
	Result         string     `json:"result,omitempty"`
	HangupBy       string     `json:"hangup_by,omitempty"`
	HangupCause    string     `json:"hangup_cause,omitempty"`
	RecordingURL   string     `json:"recording_url,omitempty"`
	RecordingBytes int64      `json:"recording_bytes,omitempty"`
}

func toJSON(c store.CDR) CallJSON {
	j := CallJSON{
		CallID: c.CallID, Caller: c.Caller, Called: c.Called, Trunk: c.Trunk, Start: c.Start,
		IVRDigits: c.IVRDigits, FlowVersion: c.FlowVersion, Queue: c.Queue, AgentID: c.AgentID,
		QueueWaitSec: c.QueueWait.Seconds(), TalkSec: c.Talk.Seconds(),
		Result: c.Result, HangupBy: c.HangupBy, HangupCause: c.HangupCause,
	}
	if !c.Answer.IsZero() {
		t := c.Answer
		j.Answer = &t
	}
	if !c.End.IsZero() {
		t := c.End
		j.End = &t
	}
	if c.RecordingPath != "" {
		j.RecordingURL = "/api/v1/recordings/" + url.PathEscape(c.CallID)
	}
	return j
}

func (a *api) listCalls(w http.ResponseWriter, r *http.Request) {
	limit := 50
	if s := r.URL.Query().Get("limit"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 || n > 1000 {
			writeError(w, http.StatusBadRequest, "limit must be a whole number from 1 to 1000")
			return
		}
		limit = n
	}
	var before time.Time
	if s := r.URL.Query().Get("before"); s != "" {
		t, err := time.Parse(time.RFC3339Nano, s)
		if err != nil {
			writeError(w, http.StatusBadRequest, "before must be an RFC 3339 time")
			return
		}
		before = t
	}
	cdrs, err := a.Store.ListCalls(r.Context(), store.ListOptions{Limit: limit, Before: before})
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
	c, err := a.Store.Call(r.Context(), r.PathValue("id"))
	if errors.Is(err, store.ErrNotFound) {
		writeError(w, http.StatusNotFound, "no call with that id")
		return
	}
	if err != nil {
		a.serverError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, toJSON(c))
}

// AgentJSON is an agent as the API shows it.
type AgentJSON struct {
	ID         string     `json:"id"`
	Name       string     `json:"name"`
	State      string     `json:"state"`
	Since      *time.Time `json:"since,omitempty"`
	IdleSince  *time.Time `json:"idle_since,omitempty"`
	CallID     string     `json:"call_id,omitempty"`
	Queues     []string   `json:"queues"`
	Registered bool       `json:"registered"`
	Contact    string     `json:"contact,omitempty"`
	UserAgent  string     `json:"user_agent,omitempty"`
}

func optTime(t time.Time) *time.Time {
	if t.IsZero() {
		return nil
	}
	return &t
}

func (a *api) listAgents(w http.ResponseWriter, r *http.Request) {
	snap, err := a.ACD.Snapshot(r.Context())
	if err != nil {
		a.serverError(w, r, err)
		return
	}
	out := make([]AgentJSON, 0, len(snap.Agents))
	for _, ag := range snap.Agents {
		j := AgentJSON{ID: ag.ID, Name: ag.Name, State: ag.State.String(), Since: optTime(ag.Since),
			IdleSince: optTime(ag.IdleSince), CallID: ag.CallID, Queues: ag.Queues}
		if j.Queues == nil {
			j.Queues = []string{}
		}
		if b, ok := a.Registrar.Lookup(ag.ID); ok {
			j.Registered, j.Contact, j.UserAgent = true, b.Contact.String(), b.UserAgent
		}
		out = append(out, j)
	}
	writeJSON(w, http.StatusOK, map[string]any{"agents": out})
}

// QueueJSON is a queue as the API shows it.
type QueueJSON struct {
	Name            string        `json:"name"`
	Waiting         []WaitingJSON `json:"waiting"`
	OldestWaitSec   float64       `json:"oldest_wait_seconds"`
	AgentsLoggedIn  int           `json:"agents_logged_in"`
	AgentsAvailable int           `json:"agents_available"`
	AgentsRinging   int           `json:"agents_ringing"`
	AgentsOnCall    int           `json:"agents_on_call"`
}

// WaitingJSON is one waiting caller.
type WaitingJSON struct {
	CallID   string    `json:"call_id"`
	QueuedAt time.Time `json:"queued_at"`
	WaitSec  float64   `json:"wait_seconds"`
	AgentID  string    `json:"ringing_agent_id,omitempty"`
}

func (a *api) listQueues(w http.ResponseWriter, r *http.Request) {
	snap, err := a.ACD.Snapshot(r.Context())
	if err != nil {
		a.serverError(w, r, err)
		return
	}
	out := make([]QueueJSON, 0, len(snap.Queues))
	for _, q := range snap.Queues {
		j := QueueJSON{Name: q.Name, OldestWaitSec: q.OldestWait.Seconds(), AgentsLoggedIn: q.AgentsLoggedIn,
			AgentsAvailable: q.AgentsAvailable, AgentsRinging: q.AgentsRinging, AgentsOnCall: q.AgentsOnCall,
			Waiting: make([]WaitingJSON, 0, len(q.Waiting))}
		for _, wc := range q.Waiting {
			j.Waiting = append(j.Waiting, WaitingJSON{CallID: wc.CallID, QueuedAt: wc.QueuedAt, WaitSec: wc.Wait.Seconds(), AgentID: wc.AgentID})
		}
		out = append(out, j)
	}
	writeJSON(w, http.StatusOK, map[string]any{"queues": out})
}

// getRecording streams a call's WAV; http.ServeContent handles Range and
// If-Modified-Since, so players can seek.
func (a *api) getRecording(w http.ResponseWriter, r *http.Request) {
	c, err := a.Store.Call(r.Context(), r.PathValue("id"))
	if errors.Is(err, store.ErrNotFound) || (err == nil && c.RecordingPath == "") {
		writeError(w, http.StatusNotFound, "no recording for that call")
		return
	}
	if err != nil {
		a.serverError(w, r, err)
		return
	}
	f, err := os.Open(c.RecordingPath)
	if errors.Is(err, os.ErrNotExist) {
		writeError(w, http.StatusNotFound, "recording file is gone")
		return
	}
	if err != nil {
		a.serverError(w, r, err)
		return
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		a.serverError(w, r, err)
		return
	}
	who, _ := r.Context().Value(ctxKey{}).(*principal)
	a.Log.Info("recording served", "call_id", c.CallID, "token", who.name, "range", r.Header.Get("Range"))
	w.Header().Set("Content-Type", "audio/wav")
	w.Header().Set("Content-Disposition", `attachment; filename="`+safeName(c.CallID)+`.wav"`)
	http.ServeContent(w, r, "", st.ModTime(), f)
}

func safeName(s string) string {
	return strings.Map(func(r rune) rune {
		if r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' || r == '_' || r == '.' {
			return r
		}
		return '_'
	}, s)
}

func (a *api) serverError(w http.ResponseWriter, r *http.Request, err error) {
	if errors.Is(err, context.Canceled) {
		return
	}
	a.Log.Error("api", "path", r.URL.Path, "err", err)
	writeError(w, http.StatusInternalServerError, "internal error")
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	_ = enc.Encode(v)
}

func writeError(w http.ResponseWriter, status int, msg string) {
	writeJSON(w, status, map[string]string{"error": msg})
}

// Package api serves hotline's HTTP interface: /healthz, /metrics and the JSON API
// under /api/v1, guarded by bearer tokens from the configuration. It reads the ACD
// through snapshots and the store through its read pool. Writes go through the ACD
// as events (agent states, logins, callbacks), so the ACD loop stays the only owner
// of call state; the only rows the API writes itself are callbacks it creates or
// cancels.
package api

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math"
	"mime"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/hotline-cc/hotline/acd"
	"github.com/hotline-cc/hotline/config"
	"github.com/hotline-cc/hotline/pinguard"
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
	// PINs guards agents' PIN logins; share it with the feature codes so
	// that guesses count together. Nil gets a guard of its own.
	PINs *pinguard.Guard
	// Reload reads the configuration file again and applies it (POST
	// /api/v1/reload); nil means it cannot. An error wrapping
	// ErrNoReloadSource answers 409, config.Errors 422 with every problem.
	Reload func() error
	// Calls controls live calls (hold, resume); nil answers 503.
	Calls CallControl
}

// MaxBodyBytes bounds a request body; a larger one is refused with 413.
const MaxBodyBytes = 64 << 10

// Handler returns the HTTP handler of the whole API.
func Handler(d Deps) http.Handler {
	if d.Log == nil {
		d.Log = slog.Default()
	}
	if d.PINs == nil {
		d.PINs = pinguard.New(nil)
	}
	a := &api{Deps: d, links: newLinkSigner()}
	mux := http.NewServeMux()
	// Every path is registered once, without a method: route answers a method
	// the path does not support with a JSON 405 and an Allow header (the
	// mux's own 405 is plain text, and a catch-all "/" would shadow it).
	route(mux, "/healthz", methods{"GET": a.healthz})
	route(mux, "/metrics", methods{"GET": promhttp.HandlerFor(d.Gatherer, promhttp.HandlerOpts{ErrorLog: nil}).ServeHTTP})
	route(mux, "/api/v1/calls", methods{"GET": a.auth(a.listCalls)})
	route(mux, "/api/v1/calls/{id}", methods{"GET": a.auth(a.getCall)})
	route(mux, "/api/v1/calls/{id}/decisions", methods{"GET": a.auth(a.getDecisions)})
	route(mux, "/api/v1/calls/{id}/timeline", methods{"GET": a.auth(a.getTimeline)})
	route(mux, "/api/v1/calls/{id}/hold", methods{"POST": a.auth(a.holdCall(true))})
	route(mux, "/api/v1/calls/{id}/resume", methods{"POST": a.auth(a.holdCall(false))})
	route(mux, "/api/v1/calls/{id}/transfer", methods{"POST": a.auth(a.transferCall)})
	route(mux, "/api/v1/calls/{id}/conference", methods{"POST": a.auth(a.conferenceCall)})
	route(mux, "/api/v1/calls/{id}/consult", methods{"POST": a.auth(a.consultCall)})
	route(mux, "/api/v1/calls/{id}/monitor", methods{"POST": a.auth(a.startMonitor)})
	route(mux, "/api/v1/calls/{id}/monitor/{supervisor}", methods{"PATCH": a.auth(a.changeMonitor), "DELETE": a.auth(a.stopMonitor)})
	route(mux, "/api/v1/calls/{id}/consult/complete", methods{"POST": a.auth(a.endConsult(true))})
	route(mux, "/api/v1/calls/{id}/consult/cancel", methods{"POST": a.auth(a.endConsult(false))})
	route(mux, "/api/v1/calls/{id}/consult/conference", methods{"POST": a.auth(a.mergeConsult)})
	route(mux, "/api/v1/calls/{id}/disposition", methods{"POST": a.auth(a.setDisposition)})
	route(mux, "/api/v1/agents", methods{"GET": a.auth(a.listAgents)})
	route(mux, "/api/v1/agents/{id}", methods{"GET": a.auth(a.getAgent)})
	route(mux, "/api/v1/agents/{id}/state", methods{"PUT": a.auth(a.putAgentState)})
	route(mux, "/api/v1/agents/{id}/login", methods{"POST": a.auth(a.loginAgent)})
	route(mux, "/api/v1/agents/{id}/logout", methods{"POST": a.auth(a.logoutAgent)})
	route(mux, "/api/v1/agents/{id}/events", methods{"GET": a.auth(a.agentEvents)})
	route(mux, "/api/v1/queues", methods{"GET": a.auth(a.listQueues)})
	route(mux, "/api/v1/callbacks", methods{"GET": a.auth(a.listCallbacks), "POST": a.auth(a.createCallback)})
	route(mux, "/api/v1/callbacks/{id}", methods{"GET": a.auth(a.getCallback), "DELETE": a.auth(a.cancelCallback)})
	route(mux, "/api/v1/recordings/{id}", methods{"GET": a.authOrSigned(a.getRecording)})
	route(mux, "/api/v1/recordings/{id}/link", methods{"POST": a.auth(a.recordingLink)})
	route(mux, "/qa", methods{"GET": qaPage()})
	route(mux, "/qa/{file}", methods{"GET": qaPage()})
	route(mux, "/api/v1/calls/{id}/legal-hold", methods{"PUT": a.auth(a.setLegalHold(true)), "DELETE": a.auth(a.setLegalHold(false))})
	route(mux, "/api/v1/audit", methods{"GET": a.auth(a.listAudit)})
	route(mux, "/api/v1/reload", methods{"POST": a.auth(a.reload)})
	route(mux, "/api/v1/reports/reasons", methods{"GET": a.auth(a.reasonsReport)})
	route(mux, "/api/v1/reports/nps", methods{"GET": a.auth(a.npsReport)})
	route(mux, "/api/v1/reports/{kpi}", methods{"GET": a.auth(a.kpiReport)})
	route(mux, "/api/v1/recordings", methods{"GET": a.auth(a.searchRecordings)})
	route(mux, "/api/v1/voicemails", methods{"GET": a.auth(a.listVoicemails)})
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		writeError(w, http.StatusNotFound, "no such endpoint: "+r.Method+" "+r.URL.Path)
	})
	return mux
}

type api struct {
	Deps
	// cbMu makes "is there an open callback for this number? if not, save
	// one" atomic among API requests, so two quick POSTs make one callback.
	cbMu sync.Mutex
	// links signs recording links for players that cannot send a token.
	links *linkSigner
}

// methods maps an HTTP method to its handler; GET serves HEAD too.
type methods map[string]http.HandlerFunc

// route registers pattern for every method and dispatches on r.Method, so
// that a method the path does not support gets a JSON 405 listing the ones
// it does.
func route(mux *http.ServeMux, pattern string, ms methods) {
	allowed := make([]string, 0, len(ms)+1)
	for m := range ms {
		allowed = append(allowed, m)
	}
	if ms["GET"] != nil && ms["HEAD"] == nil {
		allowed = append(allowed, "HEAD")
	}
	slices.Sort(allowed)
	allow := strings.Join(allowed, ", ")
	mux.HandleFunc(pattern, func(w http.ResponseWriter, r *http.Request) {
		h := ms[r.Method]
		if h == nil && r.Method == http.MethodHead {
			h = ms["GET"]
		}
		if h == nil {
			w.Header().Set("Allow", allow)
			writeError(w, http.StatusMethodNotAllowed, "method "+r.Method+" not allowed here; allowed: "+allow)
			return
		}
		h(w, r)
	})
}

type principal struct {
	name string
	role config.Role
}

// mayChangeAgent reports whether p may change agentID's state or log them in
// or out: admin and supervisor tokens may change anyone; an agent token only
// the agent whose ID is the token's name. QA tokens only read.
func (p *principal) mayChangeAgent(agentID string) bool {
	switch p.role {
	case config.RoleAdmin, config.RoleSupervisor:
		return true
	case config.RoleAgent:
		return p.name == agentID
	case config.RoleUnknown, config.RoleQA:
	}
	return false
}

// mayManage reports whether p may manage shared things (callbacks): admin
// and supervisor tokens.
func (p *principal) mayManage() bool {
	return p.role == config.RoleAdmin || p.role == config.RoleSupervisor
}

// mayReview reports whether p may review what callers said and left
// (voicemails, survey reports): admin, supervisor and qa tokens, not agents.
func (p *principal) mayReview() bool {
	switch p.role {
	case config.RoleAdmin, config.RoleSupervisor, config.RoleQA:
		return true
	case config.RoleUnknown, config.RoleAgent:
	}
	return false
}

// forbidReview answers 403 unless p may review; it reports whether it did.
func forbidReview(w http.ResponseWriter, p *principal, what string) bool {
	if p.mayReview() {
		return false
	}
	writeError(w, http.StatusForbidden, "token "+strconv.Quote(p.name)+" (role "+p.role.String()+") may not read "+what+"; admin, supervisor and qa tokens may")
	return true
}

// source is how the audit trail names changes made with p's token.
func (p *principal) source() string { return "api:" + p.name }

type ctxKey struct{}

// who returns the principal auth admitted; handlers behind auth always have one.
func who(r *http.Request) *principal {
	p, _ := r.Context().Value(ctxKey{}).(*principal)
	if p == nil {
		return &principal{name: "unknown", role: config.RoleUnknown}
	}
	return p
}

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

// decodeBody reads one JSON value of at most MaxBodyBytes into v, refusing
// unknown fields and trailing data. With optional set an empty body is fine
// (v keeps its zero value). It writes the error and returns false when the
// body is unusable.
func decodeBody(w http.ResponseWriter, r *http.Request, v any, optional bool) bool {
	if ct := r.Header.Get("Content-Type"); ct != "" {
		mt, _, err := mime.ParseMediaType(ct)
		if err != nil || mt != "application/json" {
			writeError(w, http.StatusUnsupportedMediaType, "Content-Type must be application/json")
			return false
		}
	}
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, MaxBodyBytes))
	dec.DisallowUnknownFields()
	err := dec.Decode(v)
	if errors.Is(err, io.EOF) {
		if optional {
			return true
		}
		writeError(w, http.StatusBadRequest, "request body must be a JSON object")
		return false
	}
	if err == nil {
		// One value only: anything after it but white space is a mistake.
		if _, terr := dec.Token(); !errors.Is(terr, io.EOF) {
			err = errors.New("trailing data after the JSON object")
			if terr != nil {
				err = terr
			}
		}
	}
	if err == nil {
		return true
	}
	var (
		tooBig    *http.MaxBytesError
		syntax    *json.SyntaxError
		wrongType *json.UnmarshalTypeError
	)
	switch {
	case errors.As(err, &tooBig):
		writeError(w, http.StatusRequestEntityTooLarge, fmt.Sprintf("request body larger than %d bytes", MaxBodyBytes))
	case errors.As(err, &syntax):
		writeError(w, http.StatusBadRequest, fmt.Sprintf("malformed JSON at byte %d: %v", syntax.Offset, err))
	case errors.As(err, &wrongType):
		if wrongType.Field == "" {
			writeError(w, http.StatusBadRequest, "request body must be a JSON object")
		} else {
			writeError(w, http.StatusBadRequest, fmt.Sprintf("field %q must be %s", wrongType.Field, jsonKind(wrongType.Type.Kind().String())))
		}
	case errors.Is(err, io.ErrUnexpectedEOF):
		writeError(w, http.StatusBadRequest, "malformed JSON: unexpected end of body")
	default:
		// encoding/json spells unknown fields `json: unknown field "x"`.
		writeError(w, http.StatusBadRequest, strings.TrimPrefix(err.Error(), "json: "))
	}
	return false
}

func jsonKind(goKind string) string {
	switch {
	case strings.HasPrefix(goKind, "int"), strings.HasPrefix(goKind, "uint"):
		return "a whole number"
	case strings.HasPrefix(goKind, "float"):
		return "a number"
	case goKind == "string":
		return "a string"
	case goKind == "bool":
		return "true or false"
	}
	return "of another type"
}

// queryLimit reads ?limit= (1-1000, default 50). It writes the error and
// returns false when it is bad.
func queryLimit(w http.ResponseWriter, r *http.Request) (int, bool) {
	s := r.URL.Query().Get("limit")
	if s == "" {
		return store.DefaultListLimit, true
	}
	n, err := strconv.Atoi(s)
	if err != nil || n < 1 || n > store.MaxListLimit {
		writeError(w, http.StatusBadRequest, fmt.Sprintf("limit must be a whole number from 1 to %d", store.MaxListLimit))
		return 0, false
	}
	return n, true
}

// queryPage reads a listing's limit and from/to times (each optional),
// or answers 400; it reports whether the request may go on.
func queryPage(w http.ResponseWriter, r *http.Request) (limit int, from, to time.Time, ok bool) {
	if limit, ok = queryLimit(w, r); !ok {
		return
	}
	if from, ok = queryTime(w, r, "from"); !ok {
		return
	}
	to, ok = queryTime(w, r, "to")
	return
}

// queryTime reads an RFC 3339 query parameter; zero when absent.
func queryTime(w http.ResponseWriter, r *http.Request, name string) (time.Time, bool) {
	s := r.URL.Query().Get(name)
	if s == "" {
		return time.Time{}, true
	}
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		writeError(w, http.StatusBadRequest, name+" must be an RFC 3339 time, such as 2026-11-23T10:00:00Z")
		return time.Time{}, false
	}
	return t, true
}

func optTime(t time.Time) *time.Time {
	if t.IsZero() {
		return nil
	}
	t = t.UTC()
	return &t
}

// finite keeps NaN and infinities, which JSON cannot spell, out of answers.
func finite(f float64) float64 {
	if math.IsNaN(f) || math.IsInf(f, 0) {
		return 0
	}
	return f
}

func (a *api) serverError(w http.ResponseWriter, r *http.Request, err error) {
	if errors.Is(err, context.Canceled) {
		return
	}
	a.Log.Error("api", "path", r.URL.Path, "err", err)
	if errors.Is(err, acd.ErrStopped) || errors.Is(err, context.DeadlineExceeded) {
		writeError(w, http.StatusServiceUnavailable, "the ACD is not running")
		return
	}
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

package api

import (
	"context"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/hotline-cc/hotline/acd"
	"github.com/hotline-cc/hotline/config"
)

// snapshotTimeout bounds the wait for the ACD loop; it answers in
// microseconds unless it is stuck.
const snapshotTimeout = 5 * time.Second

func (a *api) snapshot(ctx context.Context) (acd.Snapshot, error) {
	ctx, cancel := context.WithTimeout(ctx, snapshotTimeout)
	defer cancel()
	return a.ACD.Snapshot(ctx)
}

// AgentJSON is an agent as the API shows it.
type AgentJSON struct {
	ID    string `json:"id"`
	Name  string `json:"name"`
	State string `json:"state"`
	// Reason explains not-ready and logged-out states.
	Reason    string     `json:"reason,omitempty"`
	Since     *time.Time `json:"since,omitempty"`
	IdleSince *time.Time `json:"idle_since,omitempty"`
	// Device is the phone (SIP user) the agent is logged in on.
	Device  string      `json:"device,omitempty"`
	CallID  string      `json:"call_id,omitempty"`
	OfferID uint64      `json:"offer_id,omitempty"`
	Queues  []string    `json:"queues"`
	Skills  []SkillJSON `json:"skills"`
	// PendingState is a state asked for during a call, applied when it ends.
	PendingState     string            `json:"pending_state,omitempty"`
	PendingReason    string            `json:"pending_reason,omitempty"`
	WrapUpUntil      *time.Time        `json:"wrap_up_until,omitempty"`
	CooldownUntil    *time.Time        `json:"cooldown_until,omitempty"`
	DedicatedWaiting int               `json:"dedicated_waiting"`
	Retired          bool              `json:"retired,omitempty"`
	Counters         AgentCountersJSON `json:"counters"`
	// Registered says whether the agent's device (their own phone when
	// logged out) is registered.
	Registered bool   `json:"registered"`
	Contact    string `json:"contact,omitempty"`
	UserAgent  string `json:"user_agent,omitempty"`
}

// SkillJSON is a skill with its level (1-10).
type SkillJSON struct {
	Skill string `json:"skill"`
	Level int    `json:"level"`
}

// AgentCountersJSON are an agent's totals since hotline started.
type AgentCountersJSON struct {
	// Offers counts offers by how they ended (acd.OfferResult names).
	Offers        map[string]uint64 `json:"offers"`
	CallsAnswered uint64            `json:"calls_answered"`
	MissedInARow  int               `json:"missed_in_a_row"`
}

// offersByResult spells an OfferResult-indexed array as an object with
// every known result, zeros included.
func offersByResult(counts [acd.OfferResultLimit]uint64) map[string]uint64 {
	out := make(map[string]uint64, len(counts))
	for r, n := range counts {
		if acd.OfferResult(r) != acd.OfferResultUnknown {
			out[acd.OfferResult(r).String()] = n
		}
	}
	return out
}

func (a *api) agentJSON(ag *acd.AgentSnapshot) AgentJSON {
	j := AgentJSON{
		ID: ag.ID, Name: ag.Name, State: ag.State.String(), Reason: ag.Reason,
		Since: optTime(ag.Since), IdleSince: optTime(ag.IdleSince), Device: ag.Device,
		CallID: ag.CallID, OfferID: ag.OfferID, Queues: ag.Queues, Skills: make([]SkillJSON, 0, len(ag.Skills)),
		PendingReason: ag.PendingReason, WrapUpUntil: optTime(ag.WrapUpUntil), CooldownUntil: optTime(ag.CooldownUntil),
		DedicatedWaiting: ag.DedicatedWaiting, Retired: ag.Retired,
		Counters: AgentCountersJSON{
			Offers: offersByResult(ag.Counters.OffersByResult), CallsAnswered: ag.Counters.CallsAnswered,
			MissedInARow: ag.Counters.MissedInARow,
		},
	}
	if ag.Pending != acd.AgentStateUnknown {
		j.PendingState = ag.Pending.String()
	}
	if j.Queues == nil {
		j.Queues = []string{}
	}
	for _, s := range ag.Skills {
		j.Skills = append(j.Skills, SkillJSON{Skill: s.Skill, Level: s.Level})
	}
	device := ag.Device
	if device == "" {
		device = ag.ID
	}
	if b, ok := a.Registrar.Lookup(device); ok {
		j.Registered, j.Contact, j.UserAgent = true, b.Contact.String(), b.UserAgent
	}
	return j
}

func findAgent(snap *acd.Snapshot, id string) *acd.AgentSnapshot {
	for i := range snap.Agents {
		if snap.Agents[i].ID == id {
			return &snap.Agents[i]
		}
	}
	return nil
}

func (a *api) listAgents(w http.ResponseWriter, r *http.Request) {
	snap, err := a.snapshot(r.Context())
	if err != nil {
		a.serverError(w, r, err)
		return
	}
	out := make([]AgentJSON, 0, len(snap.Agents))
	for i := range snap.Agents {
		out = append(out, a.agentJSON(&snap.Agents[i]))
	}
	writeJSON(w, http.StatusOK, map[string]any{"agents": out})
}

func (a *api) getAgent(w http.ResponseWriter, r *http.Request) {
	a.writeAgent(w, r, r.PathValue("id"), http.StatusOK)
}

// writeAgent answers with the agent as the ACD sees it now: after every
// event posted before, since snapshots travel with the events.
func (a *api) writeAgent(w http.ResponseWriter, r *http.Request, id string, status int) {
	snap, err := a.snapshot(r.Context())
	if err != nil {
		a.serverError(w, r, err)
		return
	}
	ag := findAgent(&snap, id)
	if ag == nil {
		writeError(w, http.StatusNotFound, "no agent with that id")
		return
	}
	writeJSON(w, status, a.agentJSON(ag))
}

// changeableAgent checks that the agent exists in the configuration and that
// the token may change them. It writes the refusal and returns nil if not.
func (a *api) changeableAgent(w http.ResponseWriter, r *http.Request) (*config.Config, *config.Agent) {
	cfg := a.Config()
	ag := cfg.Agent(r.PathValue("id"))
	if ag == nil {
		writeError(w, http.StatusNotFound, "no agent with that id")
		return nil, nil
	}
	if p := who(r); !p.mayChangeAgent(ag.ID) {
		msg := "token " + strconv.Quote(p.name) + " (role " + p.role.String() + ") may not change agent " + ag.ID
		if p.role == config.RoleAgent {
			msg += "; an agent token may only change the agent whose ID is the token's name"
		}
		writeError(w, http.StatusForbidden, msg)
		return nil, nil
	}
	return cfg, ag
}

// stateRequest is the body of PUT /api/v1/agents/{id}/state.
type stateRequest struct {
	State  string `json:"state"`
	Reason string `json:"reason"`
}

// maxReasonLen bounds a free-form logout reason kept in the audit trail.
const maxReasonLen = 64

func (a *api) putAgentState(w http.ResponseWriter, r *http.Request) {
	cfg, ag := a.changeableAgent(w, r)
	if ag == nil {
		return
	}
	var req stateRequest
	if !decodeBody(w, r, &req, false) {
		return
	}
	st := acd.ParseAgentState(req.State)
	switch st {
	case acd.AgentStateAvailable:
		if req.Reason != "" {
			writeError(w, http.StatusBadRequest, "reason is only for not-ready and logged-out")
			return
		}
	case acd.AgentStateNotReady:
		names := make([]string, 0, len(cfg.AgentStates.NotReadyReasons))
		known := false
		for _, reason := range cfg.AgentStates.NotReadyReasons {
			names = append(names, reason.Name)
			known = known || reason.Name == req.Reason
		}
		if !known {
			what := "unknown not-ready reason " + strconv.Quote(req.Reason)
			if req.Reason == "" {
				what = "not-ready needs a reason"
			}
			writeError(w, http.StatusBadRequest, what+"; configured reasons: "+strings.Join(names, ", "))
			return
		}
	case acd.AgentStateLoggedOut:
		if req.Reason == "" {
			req.Reason = "api"
		}
		if len(req.Reason) > maxReasonLen || strings.ContainsFunc(req.Reason, func(c rune) bool { return c < ' ' || c == 0x7f }) {
			writeError(w, http.StatusBadRequest, fmt.Sprintf("reason must be at most %d printable characters", maxReasonLen))
			return
		}
	default:
		writeError(w, http.StatusBadRequest, `state must be "available", "not-ready" or "logged-out"`)
		return
	}
	if st != acd.AgentStateLoggedOut {
		// The ACD ignores a ready/not-ready request from a logged-out agent:
		// it would not know which phone to ring. Say so instead.
		snap, err := a.snapshot(r.Context())
		if err != nil {
			a.serverError(w, r, err)
			return
		}
		if cur := findAgent(&snap, ag.ID); cur != nil && cur.State == acd.AgentStateLoggedOut {
			writeError(w, http.StatusConflict, "agent "+ag.ID+" is logged out; log in first (POST /api/v1/agents/"+ag.ID+"/login, or register their phone)")
			return
		}
	}
	p := who(r)
	a.ACD.Post(acd.AgentStateRequested{AgentID: ag.ID, State: st, Reason: req.Reason, Source: p.source()})
	a.Log.Info("api: agent state requested", "agent_id", ag.ID, "state", st.String(), "reason", req.Reason, "token", p.name)
	a.writeAgent(w, r, ag.ID, http.StatusAccepted)
}

// loginRequest is the body of POST /api/v1/agents/{id}/login.
type loginRequest struct {
	Device string `json:"device"`
	PIN    string `json:"pin"`
}

// maxDeviceLen bounds a device name (a SIP user).
const maxDeviceLen = 64

func (a *api) loginAgent(w http.ResponseWriter, r *http.Request) {
	_, ag := a.changeableAgent(w, r)
	if ag == nil {
		return
	}
	var req loginRequest
	if !decodeBody(w, r, &req, false) {
		return
	}
	if req.Device == "" || len(req.Device) > maxDeviceLen {
		writeError(w, http.StatusBadRequest, fmt.Sprintf("device must be the SIP user of a registered phone (1 to %d characters)", maxDeviceLen))
		return
	}
	if req.PIN == "" {
		writeError(w, http.StatusBadRequest, "pin is required")
		return
	}
	if ag.PIN == "" {
		writeError(w, http.StatusForbidden, "agent "+ag.ID+" has no PIN and cannot log in on another phone")
		return
	}
	if ok, wait := a.PINs.Check(ag.ID, req.PIN, ag.PIN); wait > 0 {
		w.Header().Set("Retry-After", strconv.Itoa(int(wait.Seconds()+0.999)))
		writeError(w, http.StatusTooManyRequests, "too many wrong PINs for agent "+ag.ID+"; try again later")
		return
	} else if !ok {
		a.Log.Warn("api: wrong agent PIN", "agent_id", ag.ID, "token", who(r).name, "remote", r.RemoteAddr)
		writeError(w, http.StatusForbidden, "wrong PIN")
		return
	}
	if _, ok := a.Registrar.Lookup(req.Device); !ok {
		writeError(w, http.StatusConflict, "device "+strconv.Quote(req.Device)+" is not registered; the phone must register before an agent can log in on it")
		return
	}
	p := who(r)
	a.ACD.Post(acd.AgentLoggedIn{AgentID: ag.ID, Device: req.Device, Source: p.source()})
	a.Log.Info("api: agent login", "agent_id", ag.ID, "device", req.Device, "token", p.name)
	a.writeAgent(w, r, ag.ID, http.StatusAccepted)
}

func (a *api) logoutAgent(w http.ResponseWriter, r *http.Request) {
	_, ag := a.changeableAgent(w, r)
	if ag == nil {
		return
	}
	var req struct{} // no fields: an empty body or {}
	if !decodeBody(w, r, &req, true) {
		return
	}
	p := who(r)
	a.ACD.Post(acd.AgentLoggedOut{AgentID: ag.ID, Reason: "api", Source: p.source()})
	a.Log.Info("api: agent logout", "agent_id", ag.ID, "token", p.name)
	a.writeAgent(w, r, ag.ID, http.StatusAccepted)
}

// AgentEventJSON is one entry of an agent's audit trail.
type AgentEventJSON struct {
	At     time.Time `json:"at"`
	From   string    `json:"from"`
	To     string    `json:"to"`
	Reason string    `json:"reason,omitempty"`
	Source string    `json:"source,omitempty"`
	Device string    `json:"device,omitempty"`
	CallID string    `json:"call_id,omitempty"`
}

func (a *api) agentEvents(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	if a.Config().Agent(id) == nil {
		// An agent removed from the configuration keeps their history while
		// the ACD still knows them (finishing a call).
		snap, err := a.snapshot(r.Context())
		if err != nil {
			a.serverError(w, r, err)
			return
		}
		if findAgent(&snap, id) == nil {
			writeError(w, http.StatusNotFound, "no agent with that id")
			return
		}
	}
	limit, ok := queryLimit(w, r)
	if !ok {
		return
	}
	since, ok := queryTime(w, r, "since")
	if !ok {
		return
	}
	evs, err := a.Store.AgentEvents(r.Context(), id, since, limit)
	if err != nil {
		a.serverError(w, r, err)
		return
	}
	out := make([]AgentEventJSON, 0, len(evs))
	for _, e := range evs {
		out = append(out, AgentEventJSON{At: e.At.UTC(), From: e.From, To: e.To, Reason: e.Reason,
			Source: e.Source, Device: e.Device, CallID: e.CallID})
	}
	writeJSON(w, http.StatusOK, map[string]any{"agent_id": id, "events": out})
}

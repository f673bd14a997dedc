package api

import (
	"context"
	"errors"
	"net/http"
	"strconv"
	"time"

	"github.com/hotline-cc/hotline/acd"
	"github.com/hotline-cc/hotline/call"
	"github.com/hotline-cc/hotline/config"
)

// CallControl is what the API asks of live calls; the call package's
// Manager provides it.
type CallControl interface {
	// Hold puts the caller of a connected call on hold, or takes them off.
	Hold(ctx context.Context, callID string, held bool) error
	// Transfer sends a connected call on: a blind transfer.
	Transfer(ctx context.Context, callID string, to call.Target) error
	// Conference adds a third party to a connected call.
	Conference(ctx context.Context, callID string, to call.Target) error
	// Consult puts the caller on hold and calls a consultee for the agent.
	Consult(ctx context.Context, callID string, to call.Target) error
	// EndConsult completes the consultation (an attended transfer) or
	// cancels it (back to the caller).
	EndConsult(ctx context.Context, callID string, complete bool) error
	// MergeConsult turns the consultation into a three-way conference.
	MergeConsult(ctx context.Context, callID string) error
	// Monitor has a supervisor's phone called into the call; SetMonitorMode
	// and StopMonitor change and end the session.
	Monitor(ctx context.Context, callID, supervisor string, mode call.MonitorMode) error
	SetMonitorMode(ctx context.Context, callID, supervisor string, mode call.MonitorMode) error
	StopMonitor(ctx context.Context, callID, supervisor string) error
}

// holdCall serves POST /api/v1/calls/{id}/hold and /resume for an agent
// desktop: an agent token may only hold its own call.
func (a *api) holdCall(held bool) http.HandlerFunc {
	return a.controlCall(func(ctx context.Context, w http.ResponseWriter, r *http.Request, id, agentID string) {
		if err := a.Calls.Hold(ctx, id, held); !callControlFailed(w, id, err) {
			writeJSON(w, http.StatusOK, map[string]any{"call_id": id, "agent_id": agentID, "held": held})
		}
	})
}

// transferRequest is the body of POST /api/v1/calls/{id}/transfer.
type transferRequest struct {
	To string `json:"to"`
}

// transferCall serves POST /api/v1/calls/{id}/transfer: a blind transfer
// to "queue:NAME", "agent:ID", "flow:NAME" or "extension:USER".
func (a *api) transferCall(w http.ResponseWriter, r *http.Request) {
	a.sendCall(w, r, func(ctx context.Context, id string, to call.Target) error { return a.Calls.Transfer(ctx, id, to) })
}

// conferenceCall serves POST /api/v1/calls/{id}/conference: a third party
// ("extension:USER", "agent:ID" for the agent's own phone) joins.
func (a *api) conferenceCall(w http.ResponseWriter, r *http.Request) {
	a.sendCall(w, r, func(ctx context.Context, id string, to call.Target) error { return a.Calls.Conference(ctx, id, to) })
}

// consultCall serves POST /api/v1/calls/{id}/consult: the caller goes on
// hold and the agent is connected to "queue:NAME" (an agent the ACD
// picks), "agent:ID", "extension:USER" or an allowed "number:N".
func (a *api) consultCall(w http.ResponseWriter, r *http.Request) {
	a.sendCall(w, r, func(ctx context.Context, id string, to call.Target) error { return a.Calls.Consult(ctx, id, to) })
}

// endConsult serves POST /api/v1/calls/{id}/consult/complete (the caller
// and the consultee are connected, the agent leaves) and .../cancel (the
// consultee is hung up, the caller taken off hold).
func (a *api) endConsult(complete bool) http.HandlerFunc {
	return a.controlCall(func(ctx context.Context, w http.ResponseWriter, r *http.Request, id, agentID string) {
		if err := a.Calls.EndConsult(ctx, id, complete); !callControlFailed(w, id, err) {
			writeJSON(w, http.StatusOK, map[string]any{"call_id": id, "agent_id": agentID, "completed": complete})
		}
	})
}

// mergeConsult serves POST /api/v1/calls/{id}/consult/conference: the
// caller comes off hold into a three-way call with agent and consultee.
func (a *api) mergeConsult(w http.ResponseWriter, r *http.Request) {
	a.controlCall(func(ctx context.Context, w http.ResponseWriter, r *http.Request, id, agentID string) {
		if err := a.Calls.MergeConsult(ctx, id); !callControlFailed(w, id, err) {
			writeJSON(w, http.StatusOK, map[string]any{"call_id": id, "agent_id": agentID, "conference": true})
		}
	})(w, r)
}

// sendCall reads {"to": TARGET} and hands it to do (a transfer or a
// conference), answering 202 once the call took it.
func (a *api) sendCall(w http.ResponseWriter, r *http.Request, do func(context.Context, string, call.Target) error) {
	a.controlCall(func(ctx context.Context, w http.ResponseWriter, r *http.Request, id, agentID string) {
		var req transferRequest
		if !decodeBody(w, r, &req, false) {
			return
		}
		to, err := call.ParseTarget(req.To)
		if err != nil {
			writeError(w, http.StatusBadRequest, err.Error())
			return
		}
		if err := do(ctx, id, to); !callControlFailed(w, id, err) {
			writeJSON(w, http.StatusAccepted, map[string]any{"call_id": id, "from_agent": agentID, "to": req.To})
		}
	})(w, r)
}

// controlCall finds the agent connected to the call in the path and checks
// that the token may act for them (an agent token: only its own calls)
// before do.
func (a *api) controlCall(do func(ctx context.Context, w http.ResponseWriter, r *http.Request, id, agentID string)) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if a.Calls == nil {
			writeError(w, http.StatusServiceUnavailable, "call control is not available")
			return
		}
		id := r.PathValue("id")
		ctx, cancel := context.WithTimeout(r.Context(), 2*time.Second)
		defer cancel()
		snap, err := a.ACD.Snapshot(ctx)
		if err != nil {
			writeError(w, http.StatusServiceUnavailable, "the ACD did not answer")
			return
		}
		agentID := ""
		for _, ag := range snap.Agents {
			// The call's agent, or one who took it over from a
			// consultation (under the ACD's ID of that).
			if consulted, ok := acd.ConsultedCall(ag.CallID); ag.CallID == id || ok && consulted == id && agentID == "" {
				agentID = ag.ID
			}
		}
		if agentID == "" {
			writeError(w, http.StatusNotFound, "no call "+strconv.Quote(id)+" connected to an agent")
			return
		}
		if p := who(r); !p.mayChangeAgent(agentID) {
			writeError(w, http.StatusForbidden, "token "+strconv.Quote(p.name)+" (role "+p.role.String()+") may not control agent "+agentID+"'s call")
			return
		}
		do(ctx, w, r, id, agentID)
	}
}

// monitorRequest is the body of POST /api/v1/calls/{id}/monitor and of
// PATCH .../monitor/{supervisor} (mode only).
type monitorRequest struct {
	Supervisor string `json:"supervisor"`
	Mode       string `json:"mode"`
}

// startMonitor serves POST /api/v1/calls/{id}/monitor: hotline calls the
// supervisor's phone into the call, to listen, whisper to the agent or
// barge in. Admin and supervisor tokens may start any supervisor's
// session; an agent token only its own (and the agent must have the
// supervisor role).
func (a *api) startMonitor(w http.ResponseWriter, r *http.Request) {
	a.monitorControl(w, r, true, func(ctx context.Context, id, sup string, mode call.MonitorMode) (int, error) {
		return http.StatusAccepted, a.Calls.Monitor(ctx, id, sup, mode)
	})
}

// changeMonitor serves PATCH /api/v1/calls/{id}/monitor/{supervisor}
// {"mode": ...}.
func (a *api) changeMonitor(w http.ResponseWriter, r *http.Request) {
	a.monitorControl(w, r, true, func(ctx context.Context, id, sup string, mode call.MonitorMode) (int, error) {
		return http.StatusOK, a.Calls.SetMonitorMode(ctx, id, sup, mode)
	})
}

// stopMonitor serves DELETE /api/v1/calls/{id}/monitor/{supervisor}.
func (a *api) stopMonitor(w http.ResponseWriter, r *http.Request) {
	a.monitorControl(w, r, false, func(ctx context.Context, id, sup string, _ call.MonitorMode) (int, error) {
		return http.StatusOK, a.Calls.StopMonitor(ctx, id, sup)
	})
}

// monitorControl reads a monitoring request (the supervisor from the path
// or the body; a mode when withMode), checks the token and runs do.
func (a *api) monitorControl(w http.ResponseWriter, r *http.Request, withMode bool,
	do func(ctx context.Context, id, supervisor string, mode call.MonitorMode) (int, error)) {
	if a.Calls == nil {
		writeError(w, http.StatusServiceUnavailable, "call control is not available")
		return
	}
	var req monitorRequest
	if withMode && !decodeBody(w, r, &req, false) {
		return
	}
	if sup := r.PathValue("supervisor"); sup != "" {
		req.Supervisor = sup
	}
	mode, ok := call.ParseMonitorMode(req.Mode)
	switch {
	case req.Supervisor == "":
		writeError(w, http.StatusBadRequest, "supervisor is required")
		return
	case withMode && !ok:
		writeError(w, http.StatusBadRequest, "mode must be listen, whisper or barge")
		return
	}
	if p := who(r); !p.mayManage() && !(p.role == config.RoleAgent && p.name == req.Supervisor) {
		writeError(w, http.StatusForbidden, "token "+strconv.Quote(p.name)+" (role "+p.role.String()+") may not monitor as "+req.Supervisor)
		return
	}
	id := r.PathValue("id")
	ctx, cancel := context.WithTimeout(r.Context(), 5*time.Second)
	defer cancel()
	status, err := do(ctx, id, req.Supervisor, mode)
	if callControlFailed(w, id, err) {
		return
	}
	out := map[string]any{"call_id": id, "supervisor": req.Supervisor}
	if withMode {
		out["mode"] = mode.String()
	}
	writeJSON(w, status, out)
}

// callControlFailed answers a call control's error, if any: 404 for a call
// that is gone, 409 for one not connected, 400 for a bad target.
func callControlFailed(w http.ResponseWriter, id string, err error) bool {
	switch {
	case err == nil:
		return false
	case errors.Is(err, call.ErrNoSuchCall):
		writeError(w, http.StatusNotFound, "no call "+strconv.Quote(id))
	case errors.Is(err, call.ErrNotTalking), errors.Is(err, call.ErrConferenceBusy),
		errors.Is(err, call.ErrConsultBusy), errors.Is(err, call.ErrNoConsult):
		writeError(w, http.StatusConflict, err.Error())
	case errors.Is(err, call.ErrNotAllowed), errors.Is(err, call.ErrNotSupervisor):
		writeError(w, http.StatusForbidden, err.Error())
	case errors.Is(err, call.ErrNoSuchSession):
		writeError(w, http.StatusNotFound, err.Error())
	case errors.Is(err, call.ErrAlreadyMonitoring):
		writeError(w, http.StatusConflict, err.Error())
	case errors.Is(err, call.ErrBadTarget):
		writeError(w, http.StatusBadRequest, err.Error())
	default:
		writeError(w, http.StatusServiceUnavailable, err.Error())
	}
	return true
}

package api

import (
	"context"
	"errors"
	"net/http"
	"strconv"
	"time"

	"github.com/hotline-cc/hotline/acd"
	"github.com/hotline-cc/hotline/call"
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
	case errors.Is(err, call.ErrNotAllowed):
		writeError(w, http.StatusForbidden, err.Error())
	case errors.Is(err, call.ErrBadTarget):
		writeError(w, http.StatusBadRequest, err.Error())
	default:
		writeError(w, http.StatusServiceUnavailable, err.Error())
	}
	return true
}

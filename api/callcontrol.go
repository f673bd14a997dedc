package api

import (
	"context"
	"errors"
	"net/http"
	"strconv"
	"time"

	"github.com/hotline-cc/hotline/call"
)

// CallControl is what the API asks of live calls; the call package's
// Manager provides it.
type CallControl interface {
	// Hold puts the caller of a connected call on hold, or takes them off.
	Hold(ctx context.Context, callID string, held bool) error
}


// holdCall serves POST /api/v1/calls/{id}/hold and /resume for an agent
// desktop: an agent token may only hold its own call.
func (a *api) holdCall(held bool) http.HandlerFunc {
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
			if ag.CallID == id {
				agentID = ag.ID
			}
		}
		if agentID == "" {
			writeError(w, http.StatusNotFound, "no call "+strconv.Quote(id)+" connected to an agent")
			return
		}
		if p := who(r); !p.mayChangeAgent(agentID) {
			writeError(w, http.StatusForbidden, "token "+strconv.Quote(p.name)+" (role "+p.role.String()+") may not hold agent "+agentID+"'s call")
			return
		}
		switch err := a.Calls.Hold(ctx, id, held); {
		case errors.Is(err, call.ErrNoSuchCall):
			writeError(w, http.StatusNotFound, "no call "+strconv.Quote(id))
		case errors.Is(err, call.ErrNotTalking):
			writeError(w, http.StatusConflict, err.Error())
		case err != nil:
			writeError(w, http.StatusServiceUnavailable, err.Error())
		default:
			writeJSON(w, http.StatusOK, map[string]any{"call_id": id, "agent_id": agentID, "held": held})
		}
	}
}

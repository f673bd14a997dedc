package api

import (
	"net/http"
	"strconv"
	"strings"

	"github.com/hotline-cc/hotline/config"
)

// dispositionRequest is the body of POST /api/v1/calls/{id}/disposition:
// a disposition's name or its keypad code.
type dispositionRequest struct {
	Disposition string `json:"disposition"`
}

// setDisposition serves POST /api/v1/calls/{id}/disposition: the call's
// wrap-up code. Admin and supervisor tokens may set any call's; an agent
// token only that of a call it answered; qa tokens none.
func (a *api) setDisposition(w http.ResponseWriter, r *http.Request) {
	var req dispositionRequest
	if !decodeBody(w, r, &req, false) {
		return
	}
	cfg := a.Config()
	d, ok := cfg.DispositionByName(req.Disposition)
	if !ok {
		d, ok = cfg.DispositionByCode(req.Disposition)
	}
	if !ok {
		writeError(w, http.StatusBadRequest, "unknown disposition "+strconv.Quote(req.Disposition)+"; known: "+dispositionNames(cfg))
		return
	}
	c, ok := a.pathCall(w, r)
	if !ok {
		return
	}
	if p := who(r); !p.mayManage() && !(p.role == config.RoleAgent && p.name == c.AgentID) {
		writeError(w, http.StatusForbidden, "token "+strconv.Quote(p.name)+" (role "+p.role.String()+") may not set the disposition of this call")
		return
	}
	if err := a.Store.SetDisposition(r.Context(), c.CallID, d.Name); err != nil {
		a.serverError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"call_id": c.CallID, "disposition": d.Name})
}

func dispositionNames(cfg *config.Config) string {
	if len(cfg.Dispositions) == 0 {
		return "none (the configuration has no dispositions)"
	}
	names := make([]string, len(cfg.Dispositions))
	for i, d := range cfg.Dispositions {
		names[i] = d.Name + " (" + d.Code + ")"
	}
	return strings.Join(names, ", ")
}

package api

import (
	"errors"
	"fmt"
	"net/http"

	"github.com/hotline-cc/hotline/store"
)

// maxHoldReason bounds the reason kept with a legal-hold change.
const maxHoldReason = 500

// LegalHoldJSON answers a legal-hold change.
type LegalHoldJSON struct {
	CallID    string `json:"call_id"`
	LegalHold bool   `json:"legal_hold"`
}

// setLegalHold serves PUT (on) and DELETE (off) /api/v1/calls/{id}/legal-hold:
// admin and supervisor tokens only. An optional body {"reason": "..."} is
// kept in the audit entry written with the change.
func (a *api) setLegalHold(on bool) http.HandlerFunc {
	action, verb := store.AuditLegalHoldSet, "put recordings on legal hold"
	if !on {
		action, verb = store.AuditLegalHoldClear, "take recordings off legal hold"
	}
	return func(w http.ResponseWriter, r *http.Request) {
		if forbidManage(w, who(r), verb) {
			return
		}
		var body struct {
			Reason string `json:"reason"`
		}
		if !decodeBody(w, r, &body, true) {
			return
		}
		if len(body.Reason) > maxHoldReason {
			writeError(w, http.StatusBadRequest, fmt.Sprintf("reason longer than %d bytes", maxHoldReason))
			return
		}
		id := r.PathValue("id")
		err := a.Store.SetLegalHoldAudited(r.Context(), id, on, auditEntry(r, action, id, body.Reason))
		if errors.Is(err, store.ErrNotFound) {
			writeError(w, http.StatusNotFound, "no call with that id")
			return
		}
		if errors.Is(err, store.ErrRecordingDeleted) {
			writeError(w, http.StatusConflict, "the recording was already deleted by retention: there is nothing to hold")
			return
		}
		if err != nil {
			a.serverError(w, r, err)
			return
		}
		a.Log.Info("legal hold changed", "call_id", id, "legal_hold", on, "token", who(r).name)
		writeJSON(w, http.StatusOK, LegalHoldJSON{CallID: id, LegalHold: on})
	}
}

package api

import (
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/hotline-cc/hotline/store"
)

// AuditJSON is one audit entry: who listened to or downloaded a recording,
// or changed a legal hold.
type AuditJSON struct {
	ID     int64     `json:"id"`
	At     time.Time `json:"at"`
	Token  string    `json:"token"`
	Role   string    `json:"role"`
	Action string    `json:"action"`
	CallID string    `json:"call_id,omitempty"`
	Detail string    `json:"detail,omitempty"`
}

// listAudit answers GET /api/v1/audit?call_id=&token=&from=&to=&limit=,
// newest first: admin and supervisor tokens only.
func (a *api) listAudit(w http.ResponseWriter, r *http.Request) {
	if forbidManage(w, who(r), "read the audit log") {
		return
	}
	limit, from, to, ok := queryPage(w, r)
	if !ok {
		return
	}
	q := r.URL.Query()
	entries, err := a.Store.AuditEntries(r.Context(), store.AuditQuery{
		CallID: q.Get("call_id"), Token: q.Get("token"), From: from, To: to, Limit: limit,
	})
	if err != nil {
		a.serverError(w, r, err)
		return
	}
	out := make([]AuditJSON, 0, len(entries))
	for _, e := range entries {
		out = append(out, AuditJSON{ID: e.ID, At: e.At, Token: e.Token, Role: e.Role, Action: e.Action, CallID: e.CallID, Detail: e.Detail})
	}
	writeJSON(w, http.StatusOK, map[string]any{"entries": out})
}

// auditEntry is what r's token does to callID, now.
// maxAuditDetail bounds what an audit row keeps of a request's details.
const maxAuditDetail = 200

func auditEntry(r *http.Request, action, callID, detail string) store.AuditEntry {
	p := who(r)
	if len(detail) > maxAuditDetail {
		// A client chooses its Range header: it must not fill the log.
		detail = strings.ToValidUTF8(detail[:maxAuditDetail], "") + "…"
	}
	return store.AuditEntry{At: time.Now(), Token: p.name, Role: p.role.String(), Action: action, CallID: callID, Detail: detail}
}

// forbidManage answers 403 unless p may manage (admin, supervisor); it
// reports whether it did. what completes "may not ...".
func forbidManage(w http.ResponseWriter, p *principal, what string) bool {
	if p.mayManage() {
		return false
	}
	writeError(w, http.StatusForbidden, "token "+strconv.Quote(p.name)+" (role "+p.role.String()+") may not "+what+"; admin and supervisor tokens may")
	return true
}

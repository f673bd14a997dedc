package api

import (
	"net/http"
	"net/url"
	"strconv"
	"time"

	"github.com/hotline-cc/hotline/store"
)

// VoicemailJSON is one voicemail message: the end of its call's recording.
type VoicemailJSON struct {
	CallID       string `json:"call_id"`
	Caller       string `json:"caller"`
	Called       string `json:"called"`
	Queue        string `json:"queue"`
	BusinessType string `json:"business_type"`
	// At is when the caller began the message (the call's end if that was
	// not recorded).
	At time.Time `json:"at"`
	// DurationSec is the message's length; null while the caller still
	// speaks or when its start was not recorded.
	DurationSec *float64 `json:"duration_seconds"`
	// RecordingURL is the call's recording, null without one; OffsetSec is
	// where in it the message begins (null when unknown).
	RecordingURL *string  `json:"recording_url"`
	OffsetSec    *float64 `json:"offset_seconds"`
}

func voicemailJSON(v store.Voicemail) VoicemailJSON {
	j := VoicemailJSON{CallID: v.CallID, Caller: v.Caller, Called: v.Called, Queue: v.Queue,
		BusinessType: v.BusinessType, At: v.At().UTC()}
	if d, ok := v.Duration(); ok {
		s := d.Seconds()
		j.DurationSec = &s
	}
	if v.RecordingPath != "" {
		u := "/api/v1/recordings/" + url.PathEscape(v.CallID)
		j.RecordingURL = &u
	}
	if o, ok := v.Offset(); ok {
		s := o.Seconds()
		j.OffsetSec = &s
	}
	return j
}

// listVoicemails is GET /api/v1/voicemails?from=&to=&queue=&limit=&offset=:
// the calls that ended in a voicemail message, newest first (admin,
// supervisor and qa tokens).
func (a *api) listVoicemails(w http.ResponseWriter, r *http.Request) {
	if forbidReview(w, who(r), "voicemails") {
		return
	}
	limit, from, to, ok := queryPage(w, r)
	if !ok {
		return
	}
	if !from.IsZero() && !to.IsZero() && !from.Before(to) {
		writeError(w, http.StatusBadRequest, "from must be before to")
		return
	}
	offset := 0
	if s := r.URL.Query().Get("offset"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 0 {
			writeError(w, http.StatusBadRequest, "offset must be a whole number, 0 or more")
			return
		}
		offset = n
	}
	vs, err := a.Store.ListVoicemails(r.Context(), store.VoicemailQuery{
		From: from, To: to, Queue: r.URL.Query().Get("queue"), Limit: limit, Offset: offset,
	})
	if err != nil {
		a.serverError(w, r, err)
		return
	}
	out := make([]VoicemailJSON, 0, len(vs))
	for _, v := range vs {
		out = append(out, voicemailJSON(v))
	}
	writeJSON(w, http.StatusOK, map[string]any{"voicemails": out})
}

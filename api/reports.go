package api

import (
	"net/http"
	"time"

	"github.com/hotline-cc/hotline/store"
)

// maxReportRange bounds a report's period, so one request cannot scan
// years of CDRs.
const maxReportRange = 366 * 24 * time.Hour

// ReasonJSON is one line of the reasons report.
type ReasonJSON struct {
	Key       string `json:"key"`
	Calls     int    `json:"calls"`
	Contained int    `json:"contained"`
	Queued    int    `json:"queued"`
	Answered  int    `json:"answered"`
	Abandoned int    `json:"abandoned"`
}

// reasonsReport is GET /api/v1/reports/reasons?from=&to=&group_by=: why do
// people call, and how many the IVR served without an agent (containment).
func (a *api) reasonsReport(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	to, from := time.Now(), time.Time{}
	parse := func(name string, dst *time.Time) bool {
		v := q.Get(name)
		if v == "" {
			return true
		}
		t, err := time.Parse(time.RFC3339, v)
		if err != nil {
			writeError(w, http.StatusBadRequest, name+" must be an RFC 3339 time, e.g. 2026-10-01T00:00:00+08:00")
			return false
		}
		*dst = t
		return true
	}
	if !parse("to", &to) || !parse("from", &from) {
		return
	}
	if from.IsZero() {
		from = to.Add(-24 * time.Hour)
	}
	if !from.Before(to) || to.Sub(from) > maxReportRange {
		writeError(w, http.StatusBadRequest, "from must be before to, at most 366 days apart")
		return
	}
	group := store.ReasonGroup(q.Get("group_by"))
	if group == "" {
		group = store.ByMenuPath
	}
	switch group {
	case store.ByMenuPath, store.ByQueue, store.ByTags:
	default:
		writeError(w, http.StatusBadRequest, "group_by must be menu_path, queue or tags")
		return
	}
	rows, err := a.Store.ReasonsReport(r.Context(), from, to, group)
	if err != nil {
		a.serverError(w, r, err)
		return
	}
	out := make([]ReasonJSON, 0, len(rows))
	total, contained := 0, 0
	for _, row := range rows {
		out = append(out, ReasonJSON(row))
		total += row.Calls
		contained += row.Contained
	}
	var containment *float64
	if total > 0 {
		c := float64(contained) / float64(total)
		containment = &c
	}
	writeJSON(w, http.StatusOK, map[string]any{
		"from": from.UTC(), "to": to.UTC(), "group_by": group,
		"calls": total, "contained": contained, "containment": containment,
		"reasons": out,
	})
}

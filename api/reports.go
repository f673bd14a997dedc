package api

import (
	"net/http"
	"time"

	"github.com/hotline-cc/hotline/store"
)

// maxReportRange bounds a report's period, so one request cannot scan
// years of CDRs.
const maxReportRange = 366 * 24 * time.Hour

// reportPeriod reads a report's ?from= and ?to= (RFC 3339): to defaults to
// now, from to a day before to, and the period is at most maxReportRange.
// It writes the error and returns false when they are bad.
func reportPeriod(w http.ResponseWriter, r *http.Request) (from, to time.Time, ok bool) {
	q := r.URL.Query()
	to = time.Now()
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
		return time.Time{}, time.Time{}, false
	}
	if from.IsZero() {
		from = to.Add(-24 * time.Hour)
	}
	if !from.Before(to) || to.Sub(from) > maxReportRange {
		writeError(w, http.StatusBadRequest, "from must be before to, at most 366 days apart")
		return time.Time{}, time.Time{}, false
	}
	return from, to, true
}

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
	from, to, ok := reportPeriod(w, r)
	if !ok {
		return
	}
	group := store.ReasonGroup(r.URL.Query().Get("group_by"))
	if group == "" {
		group = store.ByMenuPath
	}
	switch group {
	case store.ByMenuPath, store.ByQueue, store.ByTags, store.ByBusinessType:
	default:
		writeError(w, http.StatusBadRequest, "group_by must be menu_path, queue, tags or business_type")
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

// NPSJSON is one group of the NPS report.
type NPSJSON struct {
	Key        string `json:"key"`
	Responses  int    `json:"responses"`
	Promoters  int    `json:"promoters"`
	Passives   int    `json:"passives"`
	Detractors int    `json:"detractors"`
	// NPS is (promoters - detractors) * 100 / responses, -100..100; null
	// with no responses, like AverageScore.
	NPS          *float64 `json:"nps"`
	AverageScore *float64 `json:"average_score"`
}

func npsJSON(row store.NPSRow) NPSJSON {
	j := NPSJSON{Key: row.Key, Responses: row.Responses, Promoters: row.Promoters,
		Passives: row.Passives, Detractors: row.Detractors}
	if nps, ok := row.NPS(); ok {
		j.NPS = &nps
	}
	if avg, ok := row.Average(); ok {
		j.AverageScore = &avg
	}
	return j
}

// npsReport is GET /api/v1/reports/nps?from=&to=&group_by=: the callers'
// survey answers by agent, queue or business type (admin, supervisor and
// qa tokens).
func (a *api) npsReport(w http.ResponseWriter, r *http.Request) {
	if q := r.URL.Query(); q.Get("format") == "csv" || q.Has("interval") {
		// CSV and intervals are the KPI reports' (their rows have no
		// average score, this report's have).
		r.SetPathValue("kpi", "nps")
		a.kpiReport(w, r)
		return
	}
	if forbidReview(w, who(r), "survey reports") {
		return
	}
	from, to, ok := reportPeriod(w, r)
	if !ok {
		return
	}
	q := r.URL.Query()
	group := store.NPSGroup(q.Get("group_by"))
	if group == "" {
		group = store.NPSByAgent
	}
	switch group {
	case store.NPSByAgent, store.NPSByQueue, store.NPSByBusinessType:
	default:
		writeError(w, http.StatusBadRequest, "group_by must be agent, queue or business_type")
		return
	}
	if f := q.Get("format"); f != "" && f != "json" {
		writeError(w, http.StatusBadRequest, "format must be json (the NPS report has no other)")
		return
	}
	rows, err := a.Store.NPSReport(r.Context(), from, to, group)
	if err != nil {
		a.serverError(w, r, err)
		return
	}
	out := make([]NPSJSON, 0, len(rows))
	var total store.NPSRow
	for _, row := range rows {
		out = append(out, npsJSON(row))
		total = total.Add(row)
	}
	t := npsJSON(total)
	writeJSON(w, http.StatusOK, map[string]any{
		"from": from.UTC(), "to": to.UTC(), "group_by": group,
		"responses": t.Responses, "promoters": t.Promoters, "passives": t.Passives, "detractors": t.Detractors,
		"nps": t.NPS, "average_score": t.AverageScore,
		"groups": out,
	})
}

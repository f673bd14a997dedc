package api

import (
	"context"
	"encoding/csv"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/hotline-cc/hotline/config"
	"github.com/hotline-cc/hotline/store"
)

// kpiParams are the parameters of the KPI reports; any other is refused.
var kpiParams = []string{"from", "to", "group_by", "interval", "format"}

// maxKPIBuckets bounds how many intervals a report may have (times the
// groups, its rows): 15-minute buckets over about 100 days.
const maxKPIBuckets = 10000

// kpiTable is a KPI report as the API shows it: named columns of numbers,
// one row per group and interval. A value is an int, or a *float64 that is
// nil when it cannot be computed (a rate of nothing).
type kpiTable struct {
	columns []string
	rows    []kpiTableRow
	// extra are more fields of the JSON answer (not in CSV).
	extra map[string]any
}

type kpiTableRow struct {
	key    store.KPIKey
	values []any
}

// kpiTableOf turns a store report into a kpiTable: values gives a row's
// key and its values, in the order of columns.
func kpiTableOf[T any](rows []T, err error, columns []string, values func(T) (store.KPIKey, []any)) (kpiTable, error) {
	if err != nil {
		return kpiTable{}, err
	}
	t := kpiTable{columns: columns, rows: make([]kpiTableRow, 0, len(rows))}
	for _, r := range rows {
		key, v := values(r)
		t.rows = append(t.rows, kpiTableRow{key: key, values: v})
	}
	return t, nil
}

// orNull is a computed value for a kpiTable: nil unless ok.
func orNull(v float64, ok bool) *float64 {
	if !ok {
		return nil
	}
	return &v
}

// kpiReports are the KPIs of GET /api/v1/reports/{kpi}, by name.
var kpiReports = map[string]func(a *api, ctx context.Context, q store.KPIQuery) (kpiTable, error){
	"fcr": func(a *api, ctx context.Context, q store.KPIQuery) (kpiTable, error) {
		window := a.fcrWindow()
		rows, err := a.Store.FCRReport(ctx, q, window)
		t, err := kpiTableOf(rows, err, []string{"calls", "resolved", "fcr_rate"}, func(r store.FCRRow) (store.KPIKey, []any) {
			return r.KPIKey, []any{r.Calls, r.Resolved, orNull(r.Rate())}
		})
		t.extra = map[string]any{"fcr_window_seconds": window.Seconds()}
		return t, err
	},
	"aht": func(a *api, ctx context.Context, q store.KPIQuery) (kpiTable, error) {
		rows, err := a.Store.AHTReport(ctx, q)
		return kpiTableOf(rows, err, []string{"calls", "avg_talk", "avg_hold", "avg_wrap_up", "aht"}, func(r store.AHTRow) (store.KPIKey, []any) {
			return r.KPIKey, []any{r.Calls, orNull(r.Mean(r.Talk)), orNull(r.Mean(r.Hold)),
				orNull(r.Mean(r.WrapUp)), orNull(r.Mean(r.HandleTime()))}
		})
	},
	"sl": func(a *api, ctx context.Context, q store.KPIQuery) (kpiTable, error) {
		rows, err := a.Store.SLReport(ctx, q)
		return kpiTableOf(rows, err, []string{"met", "missed", "sl"}, func(r store.SLRow) (store.KPIKey, []any) {
			return r.KPIKey, []any{r.Met, r.Missed, orNull(r.Rate())}
		})
	},
	"rates": func(a *api, ctx context.Context, q store.KPIQuery) (kpiTable, error) {
		rows, err := a.Store.RatesReport(ctx, q)
		return kpiTableOf(rows, err, []string{"offered", "answered", "abandoned", "transferred", "answer_rate", "abandon_rate", "transfer_rate"},
			func(r store.RatesRow) (store.KPIKey, []any) {
				return r.KPIKey, []any{r.Offered, r.Answered, r.Abandoned, r.Transferred,
					orNull(r.AnswerRate()), orNull(r.AbandonRate()), orNull(r.TransferRate())}
			})
	},
	"nps": func(a *api, ctx context.Context, q store.KPIQuery) (kpiTable, error) {
		rows, err := a.Store.NPSKPIReport(ctx, q)
		return kpiTableOf(rows, err, []string{"responses", "promoters", "passives", "detractors", "nps"},
			func(r store.NPSKPIRow) (store.KPIKey, []any) {
				return r.KPIKey, []any{r.Responses, r.Promoters, r.Passives, r.Detractors, orNull(r.NPS())}
			})
	},
}

// fcrWindow is the configured FCR window, the default when none is set.
func (a *api) fcrWindow() time.Duration {
	if w := a.Config().Reports.FCRWindow; w > 0 {
		return w
	}
	return config.DefaultFCRWindow
}

// kpiReport is GET /api/v1/reports/{kpi}?from=&to=&group_by=&interval=&format=:
// one of kpiReports over a period, by group and time interval, as JSON or
// CSV (admin, supervisor and qa tokens).
func (a *api) kpiReport(w http.ResponseWriter, r *http.Request) {
	name := r.PathValue("kpi")
	build, ok := kpiReports[name]
	if !ok {
		writeError(w, http.StatusNotFound, "no report "+strconv.Quote(name)+"; reports: fcr, aht, sl, rates, nps, reasons")
		return
	}
	if forbidReview(w, who(r), "KPI reports") {
		return
	}
	p := params{values: r.URL.Query()}
	p.only(kpiParams)
	groupBy, interval, format := p.text("group_by"), p.text("interval"), p.text("format")
	group := store.KPIGroup(groupBy)
	switch group {
	case "none":
		group = store.KPIByNone
	case store.KPIByNone, store.KPIByQueue, store.KPIByAgent, store.KPIByBusinessType:
	default:
		p.fail("group_by must be none, queue, agent or business_type")
	}
	var length time.Duration
	switch interval {
	case "":
	case "15m", "30m", "60m":
		length, _ = time.ParseDuration(interval)
	default:
		p.fail("interval must be 15m, 30m or 60m")
	}
	if format != "" && format != "json" && format != "csv" {
		p.fail("format must be json or csv")
	}
	if p.failed(w) {
		return
	}
	from, to, ok := reportPeriod(w, r)
	if !ok {
		return
	}
	if length > 0 && to.Sub(from)/length > maxKPIBuckets {
		writeError(w, http.StatusBadRequest, "interval "+interval+" cuts from..to into more than "+
			strconv.Itoa(maxKPIBuckets)+" intervals; take a shorter period or a longer interval")
		return
	}
	table, err := build(a, r.Context(), store.KPIQuery{From: from, To: to, GroupBy: group, Interval: length})
	if err != nil {
		a.serverError(w, r, err)
		return
	}
	if format == "csv" {
		writeKPICSV(w, name, string(group), length > 0, table)
		return
	}
	rows := make([]map[string]any, 0, len(table.rows))
	for _, row := range table.rows {
		m := make(map[string]any, len(table.columns)+2)
		if group != store.KPIByNone {
			m["key"] = row.key.Group
		}
		if length > 0 {
			m["interval_start"] = row.key.IntervalStart
		}
		for i, c := range table.columns {
			m[c] = row.values[i]
		}
		rows = append(rows, m)
	}
	if groupBy == "" {
		groupBy = "none"
	}
	out := map[string]any{"kpi": name, "from": from.UTC(), "to": to.UTC(), "group_by": groupBy, "rows": rows}
	if length > 0 {
		out["interval"] = interval
	}
	for k, v := range table.extra {
		out[k] = v
	}
	writeJSON(w, http.StatusOK, out)
}

// writeKPICSV writes table as CSV: a header row, then a row per group and
// interval. The first columns are the group (headed by its name) and the
// interval's start, when the report has them; a value that cannot be
// computed is an empty cell.
func writeKPICSV(w http.ResponseWriter, name, group string, intervals bool, table kpiTable) {
	var header []string
	if group != "" {
		header = append(header, group)
	}
	if intervals {
		header = append(header, "interval_start")
	}
	w.Header().Set("Content-Type", "text/csv; charset=utf-8")
	w.Header().Set("Content-Disposition", `attachment; filename="`+name+`.csv"`)
	w.Header().Set("Cache-Control", "no-store")
	cw := csv.NewWriter(w)
	_ = cw.Write(append(header, table.columns...))
	for _, row := range table.rows {
		record := make([]string, 0, len(header)+len(row.values))
		if group != "" {
			record = append(record, csvText(row.key.Group))
		}
		if intervals {
			record = append(record, row.key.IntervalStart.UTC().Format(time.RFC3339))
		}
		for _, v := range row.values {
			record = append(record, csvValue(v))
		}
		_ = cw.Write(record)
	}
	cw.Flush()
}

// csvText keeps a name (a queue, an agent, a business type) from being
// read as a formula by a spreadsheet (CSV injection): a cell that starts
// like one gets a leading apostrophe.
func csvText(s string) string {
	if s != "" && strings.ContainsRune("=+-@\t\r", rune(s[0])) {
		return "'" + s
	}
	return s
}

func csvValue(v any) string {
	switch v := v.(type) {
	case int:
		return strconv.Itoa(v)
	case *float64:
		if v == nil {
			return ""
		}
		return strconv.FormatFloat(*v, 'f', -1, 64)
	}
	// Every kpiTable value is one of the above; show a new kind rather
	// than lose it.
	return fmt.Sprint(v)
}

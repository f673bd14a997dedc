package store

import (
	"context"
	"database/sql"
	"fmt"
	"strconv"
	"time"
)

// KPIGroup says what a KPI report groups calls by.
type KPIGroup string

const (
	// KPIByNone sums every call of the period (of each interval) in one row.
	KPIByNone KPIGroup = ""
	// KPIByQueue groups by the queue the call ended in.
	KPIByQueue KPIGroup = "queue"
	// KPIByAgent groups by the agent who took the call.
	KPIByAgent KPIGroup = "agent"
	// KPIByBusinessType groups by the IVR's business_type variable.
	KPIByBusinessType KPIGroup = "business_type"
)

// kpiColumns maps a group to its column (a constant for none); the query
// is built from this table only, never from input.
var kpiColumns = map[KPIGroup]string{KPIByNone: "''", KPIByQueue: "queue", KPIByAgent: "agent_id",
	KPIByBusinessType: "business_type"}

// KPIQuery selects the calls of a KPI report and how they are grouped.
type KPIQuery struct {
	// From and To bound the calls' start, [From, To).
	From, To time.Time
	GroupBy  KPIGroup
	// Interval, if not 0, splits the report into buckets of that length by
	// the calls' start, aligned to the hour in UTC: it must divide an hour
	// into whole minutes (15m, 30m, 60m...).
	Interval time.Duration
}

// KPIKey says which calls a row of a KPI report counts.
type KPIKey struct {
	// Group is the value of the KPIQuery's GroupBy column ("" for calls
	// without one, and for every row with KPIByNone).
	Group string
	// IntervalStart is the start of the row's bucket; zero without an
	// Interval.
	IntervalStart time.Time
}

// FCRRow is one line of the first-call-resolution report.
type FCRRow struct {
	KPIKey
	// Calls counts the answered calls from known callers; Resolved those
	// the caller did not follow with another call on the same business
	// type within the window.
	Calls, Resolved int
}

// Rate is Resolved / Calls; false without calls.
func (r FCRRow) Rate() (float64, bool) { return ratio(r.Resolved, r.Calls) }

// AHTRow is one line of the average-handle-time report. The durations are
// sums over the row's calls.
type AHTRow struct {
	KPIKey
	Calls int
	// Talk includes Hold: the caller on hold is still connected.
	Talk, Hold, WrapUp time.Duration
}

// Mean is total (one of the row's sums) per call, in seconds; false
// without calls.
func (r AHTRow) Mean(total time.Duration) (float64, bool) {
	if r.Calls <= 0 {
		return 0, false
	}
	return total.Seconds() / float64(r.Calls), true
}

// HandleTime is the sum of the calls' handle times: talk (hold included)
// and wrap-up.
func (r AHTRow) HandleTime() time.Duration { return r.Talk + r.WrapUp }

// SLRow is one line of the service-level report.
type SLRow struct {
	KPIKey
	// Met and Missed count the calls with those outcomes; excluded calls
	// (short abandons) count in neither.
	Met, Missed int
}

// Rate is the service level, Met / (Met + Missed); false when both are 0.
func (r SLRow) Rate() (float64, bool) { return ratio(r.Met, r.Met+r.Missed) }

// RatesRow is one line of the queue-outcome report.
type RatesRow struct {
	KPIKey
	// Offered counts the calls that reached a queue; of those, Answered
	// the ones an agent took, Abandoned the ones whose caller hung up
	// (result abandoned), Transferred the ones sent elsewhere (transfer_to
	// set).
	Offered, Answered, Abandoned, Transferred int
}

// AnswerRate, AbandonRate and TransferRate are fractions of Offered;
// false without offered calls.
func (r RatesRow) AnswerRate() (float64, bool)   { return ratio(r.Answered, r.Offered) }
func (r RatesRow) AbandonRate() (float64, bool)  { return ratio(r.Abandoned, r.Offered) }
func (r RatesRow) TransferRate() (float64, bool) { return ratio(r.Transferred, r.Offered) }

func ratio(n, of int) (float64, bool) {
	if of <= 0 {
		return 0, false
	}
	return float64(n) / float64(of), true
}

// FCRReport counts, among the calls that started in the period, were
// answered by an agent and came from a known caller (anonymous calls,
// with no number or a withheld one, cannot be matched, so they are left
// out; so are callbacks, which hotline dialed), those that were resolved at
// the first call: the same caller did not call again on the same business
// type (both empty counts as the same) within window of the call's start.
// A call exactly window after is a repeat. Repeats after the period count
// (the report looks window past To), whatever became of them.
func (s *Store) FCRReport(ctx context.Context, q KPIQuery, window time.Duration) ([]FCRRow, error) {
	if window <= 0 {
		return nil, fmt.Errorf("fcr report: window %v: %w", window, ErrInvalid)
	}
	// LEAD finds each call's next call from the same caller on the same
	// business type in one sorted pass, rather than a lookup per call:
	// the only index on callers (calls_by_caller) holds answered calls
	// alone, and a repeat need not have been answered.
	const withNext = `WITH caller_calls AS (
		SELECT start_ms, agent_id, queue, business_type,
			LEAD(start_ms) OVER (PARTITION BY caller, business_type ORDER BY start_ms, call_id) AS next_ms
		FROM calls WHERE caller != '' AND lower(caller) NOT IN ('anonymous', 'unknown', 'unavailable', 'restricted', 'private')
			AND callback_id = 0 AND start_ms >= :from AND start_ms < :to + :window)
	`
	return kpiReport(ctx, s.readDB, "fcr report", q, withNext, "caller_calls", `agent_id != ''`,
		`COUNT(*), SUM(next_ms IS NULL OR next_ms - start_ms > :window)`,
		[]any{sql.Named("window", window.Milliseconds())},
		func(r *FCRRow) (*KPIKey, []any) { return &r.KPIKey, []any{&r.Calls, &r.Resolved} })
}

// AHTReport sums talk, hold and wrap-up of the calls that started in the
// period, were answered by an agent and have ended (before, their handle
// time is not known).
func (s *Store) AHTReport(ctx context.Context, q KPIQuery) ([]AHTRow, error) {
	return kpiReport(ctx, s.readDB, "aht report", q, "", "calls", `agent_id != '' AND end_ms IS NOT NULL`,
		`COUNT(*), SUM(talk_ms), SUM(hold_ms), SUM(wrap_up_ms)`, nil,
		func(r *AHTRow) (*KPIKey, []any) {
			return &r.KPIKey, []any{&r.Calls, millis{&r.Talk}, millis{&r.Hold}, millis{&r.WrapUp}}
		})
}

// SLReport counts the service-level outcomes of the calls that started in
// the period.
func (s *Store) SLReport(ctx context.Context, q KPIQuery) ([]SLRow, error) {
	return kpiReport(ctx, s.readDB, "sl report", q, "", "calls", `sl_outcome IN ('met', 'missed')`,
		`SUM(sl_outcome = 'met'), SUM(sl_outcome = 'missed')`, nil,
		func(r *SLRow) (*KPIKey, []any) { return &r.KPIKey, []any{&r.Met, &r.Missed} })
}

// RatesReport counts what became of the calls that started in the period
// and reached a queue.
func (s *Store) RatesReport(ctx context.Context, q KPIQuery) ([]RatesRow, error) {
	return kpiReport(ctx, s.readDB, "rates report", q, "", "calls", `queue != ''`,
		`COUNT(*), SUM(agent_id != ''), SUM(result = 'abandoned'), SUM(transfer_to != '')`, nil,
		func(r *RatesRow) (*KPIKey, []any) {
			return &r.KPIKey, []any{&r.Offered, &r.Answered, &r.Abandoned, &r.Transferred}
		})
}

// NPSKPIRow is one line of the NPS report by group and interval.
type NPSKPIRow struct {
	KPIKey
	// Responses counts the calls with a survey score; Promoters scored 9
	// or 10, Passives 7 or 8, Detractors 0 to 6.
	Responses, Promoters, Passives, Detractors int
}

// NPS is the net promoter score, -100..100: promoters' share minus
// detractors', in percent; false without responses.
func (r NPSKPIRow) NPS() (float64, bool) {
	if r.Responses <= 0 {
		return 0, false
	}
	return float64(r.Promoters-r.Detractors) * 100 / float64(r.Responses), true
}

// NPSKPIReport is the NPS of the surveyed calls that started in the
// period, by group and interval.
func (s *Store) NPSKPIReport(ctx context.Context, q KPIQuery) ([]NPSKPIRow, error) {
	return kpiReport(ctx, s.readDB, "nps report", q, "", "calls", `survey_score IS NOT NULL`,
		`COUNT(*), SUM(survey_score >= 9), SUM(survey_score BETWEEN 7 AND 8), SUM(survey_score <= 6)`, nil,
		func(r *NPSKPIRow) (*KPIKey, []any) {
			return &r.KPIKey, []any{&r.Responses, &r.Promoters, &r.Passives, &r.Detractors}
		})
}

// kpiReport runs the query every KPI report shares: with (a WITH clause,
// or "") then, over source, the rows that started in [From, To) and match
// where, grouped by q's column and interval, their measures computed in
// SQLite. fields gives the row's key and where to scan the measures.
// Rows come by interval, then group.
func kpiReport[T any](ctx context.Context, db *sql.DB, op string, q KPIQuery, with, source, where, measures string,
	args []any, fields func(*T) (*KPIKey, []any)) ([]T, error) {
	col, ok := kpiColumns[q.GroupBy]
	if !ok {
		return nil, fmt.Errorf("%s by %q: %w", op, q.GroupBy, ErrInvalid)
	}
	if !q.From.Before(q.To) || q.Interval < 0 || (q.Interval > 0 && (time.Hour%q.Interval != 0 || q.Interval%time.Minute != 0)) {
		return nil, fmt.Errorf("%s: from %v, to %v, interval %v: %w", op, q.From, q.To, q.Interval, ErrInvalid)
	}
	// Buckets count from the Unix epoch, which is on the hour in UTC. The
	// length is a validated integer of ours, not input.
	bucket := "NULL"
	if q.Interval > 0 {
		n := strconv.FormatInt(q.Interval.Milliseconds(), 10)
		bucket = "start_ms - start_ms % " + n
	}
	query := with + `SELECT ` + col + `, ` + bucket + `, ` + measures + ` FROM ` + source +
		` WHERE start_ms >= :from AND start_ms < :to AND ` + where + ` GROUP BY 1, 2 ORDER BY 2, 1`
	args = append(args, sql.Named("from", q.From.UnixMilli()), sql.Named("to", q.To.UnixMilli()))
	rows, err := db.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", op, err)
	}
	defer rows.Close()
	var out []T
	for rows.Next() {
		var (
			row    T
			bucket sql.NullInt64
		)
		key, dest := fields(&row)
		if err := rows.Scan(append([]any{&key.Group, &bucket}, dest...)...); err != nil {
			return nil, fmt.Errorf("%s: %w", op, err)
		}
		key.IntervalStart = millisTime(bucket)
		out = append(out, row)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("%s: %w", op, err)
	}
	return out, nil
}

// millis scans a number of milliseconds into a Duration.
type millis struct{ d *time.Duration }

func (m millis) Scan(src any) error {
	n, ok := src.(int64)
	if !ok {
		return fmt.Errorf("milliseconds: got %T", src)
	}
	*m.d = time.Duration(n) * time.Millisecond
	return nil
}

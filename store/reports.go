package store

import (
	"context"
	"fmt"
	"time"
)

// ReasonGroup says what the reasons report groups calls by.
type ReasonGroup string

const (
	// ByMenuPath groups by the caller's way through the IVR (ivr_path).
	ByMenuPath ReasonGroup = "menu_path"
	// ByQueue groups by the queue the call ended in ("" for calls that
	// never queued).
	ByQueue ReasonGroup = "queue"
	// ByTags groups by the call's tags (priority rules, IVR tags).
	ByTags ReasonGroup = "tags"
	// ByBusinessType groups by the IVR's business_type variable ("" for
	// calls whose flow set none).
	ByBusinessType ReasonGroup = "business_type"
)

// reasonColumns maps a group to its column; the query is built from this
// table only, never from input.
var reasonColumns = map[ReasonGroup]string{ByMenuPath: "ivr_path", ByQueue: "queue", ByTags: "tags",
	ByBusinessType: "business_type"}

// ReasonRow is one line of the reasons report.
type ReasonRow struct {
	Key string
	// Calls counts answered calls that started in the period; Contained
	// those that ended in self-service (never queued, not failed), Queued
	// those that reached a queue, Answered those an agent took, Abandoned
	// those that hung up while queued.
	Calls, Contained, Queued, Answered, Abandoned int
}

// ReasonsReport answers "why do people call": calls that started in [from,
// to), grouped by group, most frequent first.
func (s *Store) ReasonsReport(ctx context.Context, from, to time.Time, group ReasonGroup) ([]ReasonRow, error) {
	col, ok := reasonColumns[group]
	if !ok {
		return nil, fmt.Errorf("reasons report by %q: %w", group, ErrInvalid)
	}
	query := `SELECT ` + col + `, COUNT(*),
		SUM(queue = '' AND result = 'ivr'),
		SUM(queue != ''),
		SUM(result = 'completed'),
		SUM(result = 'abandoned')
		FROM calls WHERE start_ms >= ? AND start_ms < ? AND answer_ms IS NOT NULL
		GROUP BY ` + col + ` ORDER BY COUNT(*) DESC, ` + col
	rows, err := s.readDB.QueryContext(ctx, query, from.UnixMilli(), to.UnixMilli())
	if err != nil {
		return nil, fmt.Errorf("reasons report: %w", err)
	}
	defer rows.Close()
	var out []ReasonRow
	for rows.Next() {
		var r ReasonRow
		if err := rows.Scan(&r.Key, &r.Calls, &r.Contained, &r.Queued, &r.Answered, &r.Abandoned); err != nil {
			return nil, fmt.Errorf("reasons report: %w", err)
		}
		out = append(out, r)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("reasons report: %w", err)
	}
	return out, nil
}

// NPSGroup says what the NPS report groups survey answers by.
type NPSGroup string

const (
	// NPSByAgent groups by the agent who took the call ("" for calls no
	// agent answered).
	NPSByAgent NPSGroup = "agent"
	// NPSByQueue groups by the queue the call ended in ("" for calls that
	// never queued).
	NPSByQueue NPSGroup = "queue"
	// NPSByBusinessType groups by the IVR's business_type variable.
	NPSByBusinessType NPSGroup = "business_type"
)

// npsColumns maps a group to its column; the query is built from this
// table only, never from input.
var npsColumns = map[NPSGroup]string{NPSByAgent: "agent_id", NPSByQueue: "queue", NPSByBusinessType: "business_type"}

// NPSRow is one line of the NPS report: the survey answers of one group.
type NPSRow struct {
	Key string
	// Responses counts the calls with a survey score; Promoters scored 9 or
	// 10, Passives 7 or 8, Detractors 0 to 6. ScoreSum adds up the scores.
	Responses, Promoters, Passives, Detractors, ScoreSum int
}

// NPS is the net promoter score, (promoters - detractors) * 100 /
// responses, from -100 to 100; false when there are no responses.
func (r NPSRow) NPS() (float64, bool) {
	if r.Responses <= 0 {
		return 0, false
	}
	return float64(r.Promoters-r.Detractors) * 100 / float64(r.Responses), true
}

// Average is the mean score; false when there are no responses.
func (r NPSRow) Average() (float64, bool) {
	if r.Responses <= 0 {
		return 0, false
	}
	return float64(r.ScoreSum) / float64(r.Responses), true
}

// Add returns the sum of r and o, keeping r's Key: the totals of several
// rows.
func (r NPSRow) Add(o NPSRow) NPSRow {
	r.Responses += o.Responses
	r.Promoters += o.Promoters
	r.Passives += o.Passives
	r.Detractors += o.Detractors
	r.ScoreSum += o.ScoreSum
	return r
}

// NPSReport sums the survey answers of the calls that started in [from, to)
// and have a score, grouped by group, most responses first.
func (s *Store) NPSReport(ctx context.Context, from, to time.Time, group NPSGroup) ([]NPSRow, error) {
	col, ok := npsColumns[group]
	if !ok {
		return nil, fmt.Errorf("nps report by %q: %w", group, ErrInvalid)
	}
	query := `SELECT ` + col + `, COUNT(*),
		SUM(survey_score >= 9),
		SUM(survey_score BETWEEN 7 AND 8),
		SUM(survey_score <= 6),
		SUM(survey_score)
		FROM calls WHERE start_ms >= ? AND start_ms < ? AND survey_score IS NOT NULL
		GROUP BY ` + col + ` ORDER BY COUNT(*) DESC, ` + col
	rows, err := s.readDB.QueryContext(ctx, query, from.UnixMilli(), to.UnixMilli())
	if err != nil {
		return nil, fmt.Errorf("nps report: %w", err)
	}
	defer rows.Close()
	var out []NPSRow
	for rows.Next() {
		var r NPSRow
		if err := rows.Scan(&r.Key, &r.Responses, &r.Promoters, &r.Passives, &r.Detractors, &r.ScoreSum); err != nil {
			return nil, fmt.Errorf("nps report: %w", err)
		}
		out = append(out, r)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("nps report: %w", err)
	}
	return out, nil
}

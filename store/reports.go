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
)

// reasonColumns maps a group to its column; the query is built from this
// table only, never from input.
var reasonColumns = map[ReasonGroup]string{ByMenuPath: "ivr_path", ByQueue: "queue", ByTags: "tags"}

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

package store

import (
	"context"
	"database/sql"
	"fmt"
	"math"
	"strings"
	"time"
)

// day is how retention counts days: 24 hours, whatever the calendar.
const day = 24 * time.Hour

// ExpiredRecordings returns up to limit ended calls whose recording is still
// on disk (a recording path, not marked deleted), not on legal hold, and
// whose end is more than retention(business type) days before now; oldest
// end first. A business type whose retention is 0 is kept for ever. limit
// <= 0 means DefaultListLimit, and it is capped at MaxListLimit.
//
// The cutoff per business type is applied in SQL: the types present are
// read from their index, and each one's cutoff joins the calls as a
// VALUES table, so only old calls of types with a retention are scanned.
func (s *Store) ExpiredRecordings(ctx context.Context, now time.Time, retention func(businessType string) int, limit int) ([]CDR, error) {
	return s.ExpiredRecordingsAfter(ctx, now, retention, limit, CDR{})
}

// ExpiredRecordingsAfter is ExpiredRecordings from after on (its End and
// CallID; the zero CDR: from the start), in the same order: a sweep goes
// on past recordings it could not delete instead of listing them again.
func (s *Store) ExpiredRecordingsAfter(ctx context.Context, now time.Time, retention func(businessType string) int, limit int, after CDR) ([]CDR, error) {
	if limit <= 0 {
		limit = DefaultListLimit
	}
	limit = min(limit, MaxListLimit)
	types, err := s.businessTypes(ctx)
	if err != nil {
		return nil, fmt.Errorf("expired recordings: %w", err)
	}
	var values []string
	var args []any
	for _, bt := range types {
		days := retention(bt)
		if days <= 0 {
			continue // kept for ever
		}
		values = append(values, "(?, ?)")
		args = append(args, bt, now.Add(-time.Duration(days)*day).UnixMilli())
	}
	if len(values) == 0 {
		return nil, nil
	}
	// start_ms < cutoff_ms is implied by end_ms < cutoff_ms; spelled out,
	// it lets SQLite range-scan calls_by_business_type (business_type,
	// start_ms) instead of reading every call.
	query := `WITH cutoffs(bt, cutoff_ms) AS (VALUES ` + strings.Join(values, ", ") + `)
		SELECT ` + selectColumns + ` FROM cutoffs JOIN calls
			ON business_type = bt AND start_ms < cutoff_ms
		WHERE end_ms < cutoff_ms AND recording_path != ''
			AND recording_deleted_ms IS NULL AND legal_hold = 0
			AND (end_ms, call_id) > (?, ?)
		ORDER BY end_ms, call_id LIMIT ?`
	afterMs := int64(math.MinInt64)
	if !after.End.IsZero() {
		afterMs = after.End.UnixMilli()
	}
	rows, err := s.readDB.QueryContext(ctx, query, append(args, afterMs, after.CallID, limit)...)
	if err != nil {
		return nil, fmt.Errorf("expired recordings: %w", err)
	}
	defer rows.Close()
	var out []CDR
	for rows.Next() {
		c, err := scanCDR(rows)
		if err != nil {
			return nil, fmt.Errorf("expired recordings: %w", err)
		}
		out = append(out, c)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("expired recordings: %w", err)
	}
	return out, nil
}

// businessTypes lists the distinct business types of all calls ("" among
// them); the index on business_type answers it without reading the calls.
func (s *Store) businessTypes(ctx context.Context) ([]string, error) {
	rows, err := s.readDB.QueryContext(ctx, `SELECT DISTINCT business_type FROM calls`)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var types []string
	for rows.Next() {
		var bt string
		if err := rows.Scan(&bt); err != nil {
			return nil, err
		}
		types = append(types, bt)
	}
	return types, rows.Err()
}

// ClaimExpiredRecording marks callID's recording deleted at `at` before
// its file is removed, unless it went on legal hold (or was marked) since
// ExpiredRecordings listed it: then it reports false and the file must be
// kept. Marking first makes the hold check and the mark one step, so a
// hold set at any moment either wins or comes after the deletion.
func (s *Store) ClaimExpiredRecording(ctx context.Context, callID string, at time.Time) (bool, error) {
	n, err := s.write(ctx, func(tx *sql.Tx) (int64, error) {
		res, err := tx.ExecContext(ctx, `UPDATE calls SET recording_deleted_ms = ?2
			WHERE call_id = ?1 AND legal_hold = 0 AND recording_deleted_ms IS NULL AND recording_path != ''`,
			callID, at.UnixMilli())
		if err != nil {
			return 0, err
		}
		return res.RowsAffected()
	})
	if err != nil {
		return false, fmt.Errorf("claim expired recording %s: %w", callID, err)
	}
	return n > 0, nil
}

// ReleaseExpiredRecording undoes ClaimExpiredRecording(callID, at) when the
// file could not be removed, so that a later sweep tries again.
func (s *Store) ReleaseExpiredRecording(ctx context.Context, callID string, at time.Time) error {
	return s.updateCall(ctx, "release expired recording", callID,
		`UPDATE calls SET recording_deleted_ms = NULL WHERE call_id = ?1 AND recording_deleted_ms = ?2`, at.UnixMilli())
}

package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"
)

// CDR is one call detail record: one row per caller leg.
//
// Times and durations are stored with millisecond precision and read back
// in UTC. A zero time means "not reached" (End is zero while the call is
// live).
type CDR struct {
	CallID, Caller, Called, Trunk string
	Start, Answer, End            time.Time
	IVRDigits, FlowVersion        string
	Queue, AgentID                string
	QueueWait, Talk               time.Duration
	Result                        string // answered | abandoned | no-agent | rejected | failed ...
	HangupBy                      string // caller | agent | system
	HangupCause                   string // e.g. "bye", "cancel", "ring-timeout", "system-restart"
	RecordingPath                 string
}

// Writes merge into the row: a field left empty (zero) keeps the value
// stored before, so an update need only carry what it knows. Fields are
// never cleared.
const upsertSQL = `
INSERT INTO calls (call_id, caller, called, trunk, start_ms, answer_ms, end_ms,
	ivr_digits, flow_version, queue, agent_id, queue_wait_ms, talk_ms,
	result, hangup_by, hangup_cause, recording_path)
VALUES (?1, ?2, ?3, ?4,
	COALESCE(?5, (SELECT start_ms FROM calls WHERE call_id = ?1)),
	?6, ?7, ?8, ?9, ?10, ?11, COALESCE(?12, 0), COALESCE(?13, 0), ?14, ?15, ?16, ?17)
ON CONFLICT (call_id) DO UPDATE SET
	caller         = COALESCE(NULLIF(excluded.caller, ''), caller),
	called         = COALESCE(NULLIF(excluded.called, ''), called),
	trunk          = COALESCE(NULLIF(excluded.trunk, ''), trunk),
	start_ms       = COALESCE(?5, start_ms),
	answer_ms      = COALESCE(excluded.answer_ms, answer_ms),
	end_ms         = COALESCE(excluded.end_ms, end_ms),
	ivr_digits     = COALESCE(NULLIF(excluded.ivr_digits, ''), ivr_digits),
	flow_version   = COALESCE(NULLIF(excluded.flow_version, ''), flow_version),
	queue          = COALESCE(NULLIF(excluded.queue, ''), queue),
	agent_id       = COALESCE(NULLIF(excluded.agent_id, ''), agent_id),
	queue_wait_ms  = COALESCE(?12, queue_wait_ms),
	talk_ms        = COALESCE(?13, talk_ms),
	result         = COALESCE(NULLIF(excluded.result, ''), result),
	hangup_by      = COALESCE(NULLIF(excluded.hangup_by, ''), hangup_by),
	hangup_cause   = COALESCE(NULLIF(excluded.hangup_cause, ''), hangup_cause),
	recording_path = COALESCE(NULLIF(excluded.recording_path, ''), recording_path)`

const selectColumns = `call_id, caller, called, trunk, start_ms, answer_ms, end_ms,
	ivr_digits, flow_version, queue, agent_id, queue_wait_ms, talk_ms,
	result, hangup_by, hangup_cause, recording_path`

// CallAnswered writes the row when hotline answers the caller leg, so that
// every answered call has a row even if hotline dies a moment later. It
// needs CallID and Start.
func (s *Store) CallAnswered(ctx context.Context, c CDR) error {
	if c.CallID == "" || c.Start.IsZero() {
		return fmt.Errorf("call answered %q: need call ID and start: %w", c.CallID, ErrInvalidCDR)
	}
	return s.save(ctx, "call answered", c)
}

// CallUpdated merges what is known so far (queue, agent, digits...) into the
// call's row, creating it if needed (then Start is required).
func (s *Store) CallUpdated(ctx context.Context, c CDR) error {
	if c.CallID == "" {
		return fmt.Errorf("call updated: need call ID: %w", ErrInvalidCDR)
	}
	return s.save(ctx, "call updated", c)
}

// CallEnded writes the final values; End is required.
func (s *Store) CallEnded(ctx context.Context, c CDR) error {
	if c.CallID == "" || c.End.IsZero() {
		return fmt.Errorf("call ended %q: need call ID and end: %w", c.CallID, ErrInvalidCDR)
	}
	return s.save(ctx, "call ended", c)
}

func (s *Store) save(ctx context.Context, op string, c CDR) error {
	_, err := s.write(ctx, func(tx *sql.Tx) (int64, error) {
		_, err := tx.Stmt(s.upsert).Exec(
			c.CallID, c.Caller, c.Called, c.Trunk,
			nullMillis(c.Start), nullMillis(c.Answer), nullMillis(c.End),
			c.IVRDigits, c.FlowVersion, c.Queue, c.AgentID,
			nullDuration(c.QueueWait), nullDuration(c.Talk),
			c.Result, c.HangupBy, c.HangupCause, c.RecordingPath,
		)
		return 0, err
	})
	if err != nil {
		return fmt.Errorf("%s %s: %w", op, c.CallID, err)
	}
	return nil
}

// CloseDangling ends every call that has no End, as happens after a crash:
// End becomes at, HangupCause becomes cause, and HangupBy becomes "system"
// unless it was already known. It returns how many rows it closed.
func (s *Store) CloseDangling(ctx context.Context, cause string, at time.Time) (int, error) {
	n, err := s.write(ctx, func(tx *sql.Tx) (int64, error) {
		res, err := tx.Exec(`UPDATE calls SET
				end_ms = ?1,
				hangup_cause = ?2,
				hangup_by = CASE hangup_by WHEN '' THEN 'system' ELSE hangup_by END
			WHERE end_ms IS NULL`, at.UnixMilli(), cause)
		if err != nil {
			return 0, err
		}
		return res.RowsAffected()
	})
	if err != nil {
		return 0, fmt.Errorf("close dangling calls: %w", err)
	}
	return int(n), nil
}

// ListOptions pages through calls, newest first.
type ListOptions struct {
	// Limit is the page size: 0 means DefaultListLimit, and it is capped at
	// MaxListLimit.
	Limit int
	// Before, if set, returns only calls that started before it. To page
	// without skipping calls that started in the same millisecond, pass the
	// last row's Start and CallID as Before and BeforeCallID.
	Before       time.Time
	BeforeCallID string
}

const (
	DefaultListLimit = 50
	MaxListLimit     = 1000
)

// ListCalls returns calls by start time, newest first.
func (s *Store) ListCalls(ctx context.Context, opts ListOptions) ([]CDR, error) {
	limit := opts.Limit
	if limit <= 0 {
		limit = DefaultListLimit
	}
	limit = min(limit, MaxListLimit)
	query := `SELECT ` + selectColumns + ` FROM calls `
	args := []any{limit}
	switch {
	case opts.Before.IsZero():
	case opts.BeforeCallID == "":
		query += `WHERE start_ms < ?2 `
		args = append(args, opts.Before.UnixMilli())
	default:
		query += `WHERE (start_ms, call_id) < (?2, ?3) `
		args = append(args, opts.Before.UnixMilli(), opts.BeforeCallID)
	}
	query += `ORDER BY start_ms DESC, call_id DESC LIMIT ?1`

	rows, err := s.readDB.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, fmt.Errorf("list calls: %w", err)
	}
	defer rows.Close()
	var calls []CDR
	for rows.Next() {
		c, err := scanCDR(rows)
		if err != nil {
			return nil, fmt.Errorf("list calls: %w", err)
		}
		calls = append(calls, c)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list calls: %w", err)
	}
	return calls, nil
}

// Call returns one call; the error wraps ErrNotFound if there is none.
func (s *Store) Call(ctx context.Context, id string) (CDR, error) {
	row := s.readDB.QueryRowContext(ctx, `SELECT `+selectColumns+` FROM calls WHERE call_id = ?`, id)
	c, err := scanCDR(row)
	if errors.Is(err, sql.ErrNoRows) {
		return CDR{}, fmt.Errorf("call %s: %w", id, ErrNotFound)
	}
	if err != nil {
		return CDR{}, fmt.Errorf("call %s: %w", id, err)
	}
	return c, nil
}

type scanner interface{ Scan(dest ...any) error }

func scanCDR(row scanner) (CDR, error) {
	var (
		c                 CDR
		start             int64
		answer, end       sql.NullInt64
		queueWait, talkMs int64
	)
	err := row.Scan(&c.CallID, &c.Caller, &c.Called, &c.Trunk, &start, &answer, &end,
		&c.IVRDigits, &c.FlowVersion, &c.Queue, &c.AgentID, &queueWait, &talkMs,
		&c.Result, &c.HangupBy, &c.HangupCause, &c.RecordingPath)
	if err != nil {
		return CDR{}, err
	}
	c.Start = time.UnixMilli(start).UTC()
	if answer.Valid {
		c.Answer = time.UnixMilli(answer.Int64).UTC()
	}
	if end.Valid {
		c.End = time.UnixMilli(end.Int64).UTC()
	}
	c.QueueWait = time.Duration(queueWait) * time.Millisecond
	c.Talk = time.Duration(talkMs) * time.Millisecond
	return c, nil
}

func nullMillis(t time.Time) sql.NullInt64 {
	if t.IsZero() {
		return sql.NullInt64{}
	}
	return sql.NullInt64{Int64: t.UnixMilli(), Valid: true}
}

func nullDuration(d time.Duration) sql.NullInt64 {
	if d == 0 {
		return sql.NullInt64{}
	}
	return sql.NullInt64{Int64: d.Milliseconds(), Valid: true}
}

package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"time"
)

// AuditEntry is one row of the audit trail of recordings: who (an API
// token's name and role) did what (Action) to which call, and when.
type AuditEntry struct {
	ID     int64 // set by the store; ignored when writing
	At     time.Time
	Token  string // the token's name, never its secret
	Role   string
	Action string // one of the Audit* actions
	CallID string
	Detail string // e.g. the Range of a download, the reason of a hold
}

// Audited actions.
const (
	AuditRecordingDownload = "recording.download"
	AuditLegalHoldSet      = "legal_hold.set"
	AuditLegalHoldClear    = "legal_hold.clear"
)

// AuditQuery selects audit entries, newest first. Empty fields do not
// filter; From is inclusive, To exclusive.
type AuditQuery struct {
	CallID, Token string
	From, To      time.Time
	// Limit: 0 means DefaultListLimit; capped at MaxListLimit.
	Limit int
}

// Audit writes one audit entry. At, Token and Action are required
// (ErrInvalid otherwise).
func (s *Store) Audit(ctx context.Context, e AuditEntry) error {
	if err := e.valid(); err != nil {
		return err
	}
	_, err := s.write(ctx, func(tx *sql.Tx) (int64, error) { return 0, insertAudit(ctx, tx, e) })
	if err != nil {
		return fmt.Errorf("audit %s %s: %w", e.Action, e.CallID, err)
	}
	return nil
}

// SetLegalHoldAudited puts callID's recording on legal hold (or takes it
// off) and writes e in the same transaction, so a hold never changes
// without its audit row. ErrNotFound if there is no such call (nothing is
// written then).
func (s *Store) SetLegalHoldAudited(ctx context.Context, callID string, on bool, e AuditEntry) error {
	if err := e.valid(); err != nil {
		return err
	}
	n, err := s.write(ctx, func(tx *sql.Tx) (int64, error) {
		var deleted sql.NullInt64
		err := tx.QueryRowContext(ctx, `SELECT recording_deleted_ms FROM calls WHERE call_id = ?`, callID).Scan(&deleted)
		switch {
		case errors.Is(err, sql.ErrNoRows):
			return 0, nil
		case err != nil:
			return 0, err
		case deleted.Valid && on:
			// Nothing left to hold: say so rather than pretend.
			return 0, ErrRecordingDeleted
		}
		if _, err := tx.ExecContext(ctx, `UPDATE calls SET legal_hold = ?2 WHERE call_id = ?1`, callID, on); err != nil {
			return 0, err
		}
		return 1, insertAudit(ctx, tx, e)
	})
	if err != nil {
		return fmt.Errorf("set legal hold %s: %w", callID, err)
	}
	if n == 0 {
		return fmt.Errorf("set legal hold %s: %w", callID, ErrNotFound)
	}
	return nil
}

// ErrRecordingDeleted: the recording was deleted by retention.
var ErrRecordingDeleted = errors.New("the recording was deleted by retention")

func (e AuditEntry) valid() error {
	if e.At.IsZero() || e.Token == "" || e.Action == "" {
		return fmt.Errorf("audit entry %+v: need time, token and action: %w", e, ErrInvalid)
	}
	return nil
}

func insertAudit(ctx context.Context, tx *sql.Tx, e AuditEntry) error {
	_, err := tx.ExecContext(ctx, `INSERT INTO audit_log (at_ms, token, role, action, call_id, detail)
		VALUES (?, ?, ?, ?, ?, ?)`, e.At.UnixMilli(), e.Token, e.Role, e.Action, e.CallID, e.Detail)
	return err
}

// AuditEntries returns the entries q selects, newest first.
func (s *Store) AuditEntries(ctx context.Context, q AuditQuery) ([]AuditEntry, error) {
	limit := q.Limit
	if limit <= 0 {
		limit = DefaultListLimit
	}
	limit = min(limit, MaxListLimit)
	var where []string
	var args []any
	for _, c := range []struct {
		set  bool
		cond string
		arg  any
	}{
		{q.CallID != "", "call_id = ?", q.CallID},
		{q.Token != "", "token = ?", q.Token},
		{!q.From.IsZero(), "at_ms >= ?", q.From.UnixMilli()},
		{!q.To.IsZero(), "at_ms < ?", q.To.UnixMilli()},
	} {
		if c.set {
			where = append(where, c.cond)
			args = append(args, c.arg)
		}
	}
	query := `SELECT id, at_ms, token, role, action, call_id, detail FROM audit_log`
	if len(where) > 0 {
		query += ` WHERE ` + strings.Join(where, " AND ")
	}
	query += ` ORDER BY at_ms DESC, id DESC LIMIT ?`
	rows, err := s.readDB.QueryContext(ctx, query, append(args, limit)...)
	if err != nil {
		return nil, fmt.Errorf("audit entries: %w", err)
	}
	defer rows.Close()
	var out []AuditEntry
	for rows.Next() {
		var e AuditEntry
		var at int64
		if err := rows.Scan(&e.ID, &at, &e.Token, &e.Role, &e.Action, &e.CallID, &e.Detail); err != nil {
			return nil, fmt.Errorf("audit entries: %w", err)
		}
		e.At = time.UnixMilli(at).UTC()
		out = append(out, e)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("audit entries: %w", err)
	}
	return out, nil
}

package store

import (
	"context"
	"database/sql"
	"encoding/base64"
	"errors"
	"fmt"
	"net/url"
	"os"
	"strconv"
	"strings"
	"time"
)

// Page sizes of SearchRecordings.
const (
	DefaultRecordingLimit = 50
	MaxRecordingLimit     = 500
)

// ErrBadCursor: a RecordingQuery's Cursor is not one SearchRecordings
// returned. It wraps ErrInvalid.
var ErrBadCursor = fmt.Errorf("bad cursor: %w", ErrInvalid)

// RecordingQuery selects the calls SearchRecordings returns. Every field
// is a filter; its zero value (nil for the pointers) does not filter.
type RecordingQuery struct {
	// Exact matches on the call's columns.
	BusinessType, Queue, AgentID, Caller, Disposition, FlowVersion, Result string
	// From and To bound the call's start, [From, To).
	From, To time.Time
	// MinDuration and MaxDuration bound the call's length, start to end,
	// inclusive; a call still in progress has none and never matches.
	// MinTalk and MaxTalk bound the talk time (hold included), inclusive.
	MinDuration, MaxDuration, MinTalk, MaxTalk time.Duration
	// MinScore and MaxScore bound the survey score, inclusive; calls
	// without a score never match either.
	MinScore, MaxScore *int
	// LegalHold keeps only the recordings on legal hold (true) or only
	// those that are not (false).
	LegalHold *bool
	// Limit is the page size: 0 means DefaultRecordingLimit, and it is
	// capped at MaxRecordingLimit.
	Limit int
	// Cursor, the cursor the previous page returned, continues after that
	// page's last row; "" starts with the newest call.
	Cursor string
}

// SearchRecordings returns the calls that have a recording (not yet
// deleted by retention) and match q, newest first, and the cursor of the
// next page ("" when this page is the last).
func (s *Store) SearchRecordings(ctx context.Context, q RecordingQuery) ([]CDR, string, error) {
	return searchRecordings(ctx, s.readDB, q)
}

// recordingCursor is where a page of SearchRecordings ended: its last row.
type recordingCursor struct {
	startMs int64
	callID  string
}

// String encodes c opaquely, so that clients pass it back unchanged
// rather than build one.
func (c recordingCursor) String() string {
	return base64.RawURLEncoding.EncodeToString([]byte(strconv.FormatInt(c.startMs, 10) + "/" + c.callID))
}

func parseRecordingCursor(s string) (recordingCursor, error) {
	raw, err := base64.RawURLEncoding.DecodeString(s)
	if err != nil {
		return recordingCursor{}, ErrBadCursor
	}
	ms, callID, ok := strings.Cut(string(raw), "/")
	startMs, err := strconv.ParseInt(ms, 10, 64)
	if !ok || err != nil || callID == "" {
		return recordingCursor{}, ErrBadCursor
	}
	return recordingCursor{startMs: startMs, callID: callID}, nil
}

// searchRecordings runs SearchRecordings on db: the store's read pool or a
// Reader's.
func searchRecordings(ctx context.Context, db *sql.DB, q RecordingQuery) ([]CDR, string, error) {
	limit := q.Limit
	if limit <= 0 {
		limit = DefaultRecordingLimit
	}
	limit = min(limit, MaxRecordingLimit)
	// One row more than the page tells whether there is a next page.
	query, args, err := q.sql(limit + 1)
	if err != nil {
		return nil, "", fmt.Errorf("search recordings: %w", err)
	}
	rows, err := db.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, "", fmt.Errorf("search recordings: %w", err)
	}
	defer rows.Close()
	var calls []CDR
	for rows.Next() {
		c, err := scanCDR(rows)
		if err != nil {
			return nil, "", fmt.Errorf("search recordings: %w", err)
		}
		calls = append(calls, c)
	}
	if err := rows.Err(); err != nil {
		return nil, "", fmt.Errorf("search recordings: %w", err)
	}
	if len(calls) <= limit {
		return calls, "", nil
	}
	calls = calls[:limit]
	last := calls[limit-1]
	return calls, recordingCursor{startMs: last.Start.UnixMilli(), callID: last.CallID}.String(), nil
}

// sql turns q into a query of at most limit rows and its arguments. The
// conditions are plain comparisons on the columns, so that SQLite can pick
// the index that suits (calls_by_agent for an agent, calls_by_business_type
// for a business type, calls_by_start otherwise).
func (q RecordingQuery) sql(limit int) (string, []any, error) {
	if (!q.From.IsZero() && !q.To.IsZero() && !q.From.Before(q.To)) ||
		(q.MaxDuration > 0 && q.MinDuration > q.MaxDuration) || (q.MaxTalk > 0 && q.MinTalk > q.MaxTalk) ||
		(q.MinScore != nil && q.MaxScore != nil && *q.MinScore > *q.MaxScore) {
		return "", nil, fmt.Errorf("a range is empty (from not before to, or a minimum above its maximum): %w", ErrInvalid)
	}
	where := []string{`recording_path != ''`, `recording_deleted_ms IS NULL`}
	var args []any
	add := func(cond string, arg any) {
		where = append(where, cond)
		args = append(args, arg)
	}
	for _, eq := range []struct{ column, value string }{
		{"business_type", q.BusinessType}, {"queue", q.Queue}, {"agent_id", q.AgentID}, {"caller", q.Caller},
		{"disposition", q.Disposition}, {"flow_version", q.FlowVersion}, {"result", q.Result},
	} {
		if eq.value != "" {
			add(eq.column+` = ?`, eq.value)
		}
	}
	if !q.From.IsZero() {
		add(`start_ms >= ?`, q.From.UnixMilli())
	}
	if !q.To.IsZero() {
		add(`start_ms < ?`, q.To.UnixMilli())
	}
	for _, bound := range []struct {
		cond  string
		value time.Duration
	}{
		{`end_ms - start_ms >= ?`, q.MinDuration}, {`end_ms - start_ms <= ?`, q.MaxDuration},
		{`talk_ms >= ?`, q.MinTalk}, {`talk_ms <= ?`, q.MaxTalk},
	} {
		if bound.value > 0 {
			add(bound.cond, bound.value.Milliseconds())
		}
	}
	if q.MinScore != nil {
		add(`survey_score >= ?`, *q.MinScore)
	}
	if q.MaxScore != nil {
		add(`survey_score <= ?`, *q.MaxScore)
	}
	if q.LegalHold != nil {
		add(`legal_hold = ?`, *q.LegalHold)
	}
	if q.Cursor != "" {
		c, err := parseRecordingCursor(q.Cursor)
		if err != nil {
			return "", nil, err
		}
		// Spelled out rather than as the row value (start_ms, call_id) <
		// (?, ?), so that the bound on start_ms alone can narrow the scan
		// of any of the indexes, all of which have start_ms after the
		// equality column.
		where = append(where, `start_ms <= ? AND (start_ms < ? OR call_id < ?)`)
		args = append(args, c.startMs, c.startMs, c.callID)
	}
	query := `SELECT ` + selectColumns + ` FROM calls WHERE ` + strings.Join(where, ` AND `) +
		` ORDER BY start_ms DESC, call_id DESC LIMIT ` + strconv.Itoa(limit)
	return query, args, nil
}

// Reader is a database opened only for reading, by tools that run beside
// hotline (hotline recordings search): it never migrates, writes nor
// creates anything.
type Reader struct {
	db *sql.DB
}

// OpenReader opens the database at path for reading. The error wraps
// os.ErrNotExist when there is no such file, and ErrSchemaTooNew when a
// newer hotline wrote it; a database hotline has not yet migrated to this
// version is refused too.
func OpenReader(path string) (*Reader, error) {
	if _, err := os.Stat(path); err != nil {
		return nil, fmt.Errorf("open database: %w", err)
	}
	db, err := sql.Open("sqlite3", dsn(path, url.Values{
		"mode":          {"ro"},
		"_busy_timeout": {strconv.FormatInt(busyTimeout.Milliseconds(), 10)},
	}))
	if err != nil {
		return nil, fmt.Errorf("open database %s: %w", path, err)
	}
	var version int
	err = db.QueryRow("PRAGMA user_version").Scan(&version)
	switch {
	case err != nil:
	case version > len(migrations):
		err = fmt.Errorf("version %d, this binary knows %d: %w", version, len(migrations), ErrSchemaTooNew)
	case version < len(migrations):
		err = fmt.Errorf("schema version %d is older than this binary's %d; start hotline once to migrate it", version, len(migrations))
	}
	if err != nil {
		return nil, errors.Join(fmt.Errorf("open database %s: %w", path, err), db.Close())
	}
	return &Reader{db: db}, nil
}

// Close closes the database.
func (r *Reader) Close() error { return r.db.Close() }

// SearchRecordings is Store.SearchRecordings.
func (r *Reader) SearchRecordings(ctx context.Context, q RecordingQuery) ([]CDR, string, error) {
	return searchRecordings(ctx, r.db, q)
}

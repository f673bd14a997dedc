package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"
)

// CallbackState is where a Callback is in its life.
type CallbackState string

const (
	CallbackPending  CallbackState = "pending"  // waiting for an agent (and NotBefore)
	CallbackDialing  CallbackState = "dialing"  // being dialed now
	CallbackDone     CallbackState = "done"     // the caller was reached
	CallbackFailed   CallbackState = "failed"   // gave up (MaxAttempts reached)
	CallbackCanceled CallbackState = "canceled" // withdrawn (API, caller)
)

// Valid reports whether st is one of the states above.
func (st CallbackState) Valid() bool {
	switch st {
	case CallbackPending, CallbackDialing, CallbackDone, CallbackFailed, CallbackCanceled:
		return true
	}
	return false
}

// Callback is a promise to call a caller back. Callbacks are in the
// database so that they survive a restart. Times are kept to the
// millisecond and read back in UTC.
type Callback struct {
	ID     int64
	Queue  string
	Number string // the number to call back
	// Priority is the base priority the callback is routed with.
	Priority int
	// QueuedAt is when the caller first queued, so that the callback keeps
	// their place.
	QueuedAt time.Time
	// NotBefore: a scheduled callback is not offered before it. Zero means
	// at once.
	NotBefore             time.Time
	Attempts, MaxAttempts int
	State                 CallbackState
	// OriginCallID is the inbound call that asked for the callback; "" for
	// one scheduled through the API.
	OriginCallID string
	LastResult   string // the result of the last attempt, e.g. "no-answer", "busy"
	UpdatedAt    time.Time
}

// CallbackAttempt is one dial of a callback.
type CallbackAttempt struct {
	CallbackID int64
	At         time.Time // read back in UTC; zero is stamped with the time of the Record call
	AgentID    string    // the agent it was dialed for
	CallID     string    // the outbound call's ID (its CDR has CallbackID set)
	Result     string    // e.g. "answered", "no-answer", "busy", "failed"
}

const callbackColumns = `id, queue, number, priority, queued_ms, not_before_ms, attempts,
	max_attempts, state, origin_call_id, last_result, updated_ms`

// SaveCallback inserts cb when cb.ID is 0 and returns the new ID; otherwise
// it replaces every field of callback cb.ID (the error wraps ErrNotFound if
// there is none) and returns cb.ID.
//
// Queue and Number are required. Defaults: State "" means pending, a zero
// QueuedAt or UpdatedAt means now. The store does not merge requests: the
// ACD looks for an open one with PendingCallbackFor and updates it instead.
func (s *Store) SaveCallback(ctx context.Context, cb Callback) (int64, error) {
	if cb.Queue == "" || cb.Number == "" {
		return 0, fmt.Errorf("save callback %d: need queue and number: %w", cb.ID, ErrInvalid)
	}
	if cb.State == "" {
		cb.State = CallbackPending
	}
	if !cb.State.Valid() {
		return 0, fmt.Errorf("save callback %d: unknown state %q: %w", cb.ID, cb.State, ErrInvalid)
	}
	now := time.Now()
	if cb.UpdatedAt.IsZero() {
		cb.UpdatedAt = now
	}
	if cb.QueuedAt.IsZero() {
		cb.QueuedAt = now
	}
	args := []any{cb.Queue, cb.Number, cb.Priority, cb.QueuedAt.UnixMilli(), nullMillis(cb.NotBefore),
		cb.Attempts, cb.MaxAttempts, string(cb.State), cb.OriginCallID, cb.LastResult, cb.UpdatedAt.UnixMilli()}
	id, err := s.write(ctx, func(tx *sql.Tx) (int64, error) {
		if cb.ID == 0 {
			res, err := tx.Exec(`INSERT INTO callbacks (queue, number, priority, queued_ms, not_before_ms,
					attempts, max_attempts, state, origin_call_id, last_result, updated_ms)
				VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`, args...)
			if err != nil {
				return 0, err
			}
			return res.LastInsertId()
		}
		res, err := tx.Exec(`UPDATE callbacks SET queue = ?, number = ?, priority = ?, queued_ms = ?,
				not_before_ms = ?, attempts = ?, max_attempts = ?, state = ?, origin_call_id = ?,
				last_result = ?, updated_ms = ?
			WHERE id = ?`, append(args, cb.ID)...)
		if err != nil {
			return 0, err
		}
		n, err := res.RowsAffected()
		if err != nil {
			return 0, err
		}
		if n == 0 {
			return 0, ErrNotFound
		}
		return cb.ID, nil
	})
	if err != nil {
		return 0, fmt.Errorf("save callback %d: %w", cb.ID, err)
	}
	return id, nil
}

// Callback returns one callback; the error wraps ErrNotFound if there is
// none.
func (s *Store) Callback(ctx context.Context, id int64) (Callback, error) {
	row := s.readDB.QueryRowContext(ctx, `SELECT `+callbackColumns+` FROM callbacks WHERE id = ?`, id)
	cb, err := scanCallback(row)
	if errors.Is(err, sql.ErrNoRows) {
		return Callback{}, fmt.Errorf("callback %d: %w", id, ErrNotFound)
	}
	if err != nil {
		return Callback{}, fmt.Errorf("callback %d: %w", id, err)
	}
	return cb, nil
}

// PendingCallbacks returns the open callbacks (pending or dialing), by
// QueuedAt then ID: what the ACD loads at startup. Every open callback is
// returned; there is no limit.
func (s *Store) PendingCallbacks(ctx context.Context) ([]Callback, error) {
	cbs, err := s.queryCallbacks(ctx, pendingCallbacksSQL)
	if err != nil {
		return nil, fmt.Errorf("pending callbacks: %w", err)
	}
	return cbs, nil
}

// pendingCallbacksSQL finds the open callbacks through callbacks_by_state
// and sorts them: they are few, whatever the number of finished ones.
const pendingCallbacksSQL = `SELECT ` + callbackColumns + ` FROM callbacks
	WHERE state IN ('pending', 'dialing') ORDER BY queued_ms, id`

// PendingCallbackFor finds the open callback (pending or dialing) for
// number in queue, so that a second request can be merged into it. If
// there are several, it returns the earliest queued. ok is false if there
// is none.
func (s *Store) PendingCallbackFor(ctx context.Context, queue, number string) (cb Callback, ok bool, err error) {
	row := s.readDB.QueryRowContext(ctx, pendingCallbackForSQL, queue, number)
	cb, err = scanCallback(row)
	if errors.Is(err, sql.ErrNoRows) {
		return Callback{}, false, nil
	}
	if err != nil {
		return Callback{}, false, fmt.Errorf("pending callback for %s in %s: %w", number, queue, err)
	}
	return cb, true, nil
}

// pendingCallbackForSQL repeats callbacks_open_by_number's condition so
// that SQLite can use it.
const pendingCallbackForSQL = `SELECT ` + callbackColumns + ` FROM callbacks
	WHERE queue = ? AND number = ? AND state IN ('pending', 'dialing')
	ORDER BY queued_ms, id LIMIT 1`

// ListCallbacks returns callbacks in state (all states if state is ""),
// newest first (by ID). limit follows ListOptions.Limit: 0 or less means
// DefaultListLimit, and it is capped at MaxListLimit.
func (s *Store) ListCallbacks(ctx context.Context, state CallbackState, limit int) ([]Callback, error) {
	query := `SELECT ` + callbackColumns + ` FROM callbacks `
	args := []any{clampLimit(limit)}
	if state != "" {
		query += `WHERE state = ?2 `
		args = append(args, string(state))
	}
	query += `ORDER BY id DESC LIMIT ?1`
	cbs, err := s.queryCallbacks(ctx, query, args...)
	if err != nil {
		return nil, fmt.Errorf("list callbacks %s: %w", state, err)
	}
	return cbs, nil
}

func (s *Store) queryCallbacks(ctx context.Context, query string, args ...any) ([]Callback, error) {
	rows, err := s.readDB.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var cbs []Callback
	for rows.Next() {
		cb, err := scanCallback(rows)
		if err != nil {
			return nil, err
		}
		cbs = append(cbs, cb)
	}
	return cbs, rows.Err()
}

func scanCallback(row scanner) (Callback, error) {
	var (
		cb              Callback
		queued, updated int64
		notBefore       sql.NullInt64
		state           string
	)
	err := row.Scan(&cb.ID, &cb.Queue, &cb.Number, &cb.Priority, &queued, &notBefore, &cb.Attempts,
		&cb.MaxAttempts, &state, &cb.OriginCallID, &cb.LastResult, &updated)
	if err != nil {
		return Callback{}, err
	}
	cb.State = CallbackState(state)
	cb.QueuedAt = time.UnixMilli(queued).UTC()
	cb.NotBefore = millisTime(notBefore)
	cb.UpdatedAt = time.UnixMilli(updated).UTC()
	return cb, nil
}

// RecordCallbackAttempt logs one dial of a callback; the error wraps
// ErrNotFound if the callback does not exist. It does not change the
// callback itself: the ACD updates Attempts, LastResult and State with
// SaveCallback.
func (s *Store) RecordCallbackAttempt(ctx context.Context, a CallbackAttempt) error {
	if a.At.IsZero() {
		a.At = time.Now()
	}
	_, err := s.write(ctx, func(tx *sql.Tx) (int64, error) {
		res, err := tx.Exec(`INSERT INTO callback_attempts (callback_id, at_ms, agent_id, call_id, result)
			SELECT id, ?, ?, ?, ? FROM callbacks WHERE id = ?`,
			a.At.UnixMilli(), a.AgentID, a.CallID, a.Result, a.CallbackID)
		if err != nil {
			return 0, err
		}
		n, err := res.RowsAffected()
		if err != nil {
			return 0, err
		}
		if n == 0 {
			return 0, ErrNotFound
		}
		return 0, nil
	})
	if err != nil {
		return fmt.Errorf("record attempt of callback %d: %w", a.CallbackID, err)
	}
	return nil
}

// CallbackAttempts returns the attempts of callback id, oldest first (none
// is not an error, even for an unknown ID).
func (s *Store) CallbackAttempts(ctx context.Context, id int64) ([]CallbackAttempt, error) {
	rows, err := s.readDB.QueryContext(ctx, `SELECT callback_id, at_ms, agent_id, call_id, result
		FROM callback_attempts WHERE callback_id = ? ORDER BY at_ms, id`, id)
	if err != nil {
		return nil, fmt.Errorf("attempts of callback %d: %w", id, err)
	}
	defer rows.Close()
	var attempts []CallbackAttempt
	for rows.Next() {
		var (
			a  CallbackAttempt
			at int64
		)
		if err := rows.Scan(&a.CallbackID, &at, &a.AgentID, &a.CallID, &a.Result); err != nil {
			return nil, fmt.Errorf("attempts of callback %d: %w", id, err)
		}
		a.At = time.UnixMilli(at).UTC()
		attempts = append(attempts, a)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("attempts of callback %d: %w", id, err)
	}
	return attempts, nil
}

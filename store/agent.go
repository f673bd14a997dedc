package store

import (
	"context"
	"database/sql"
	"fmt"
	"time"
)

// AgentEvent is one change of an agent's state, for the audit trail.
//
// At is stored with millisecond precision and read back in UTC; a zero At
// is stamped with the time of the Record call.
type AgentEvent struct {
	At       time.Time
	AgentID  string
	From, To string // states, e.g. "available" -> "ringing"
	Reason   string // e.g. "offer", "no-answer", "break"
	Source   string // who caused it: "acd", "api", "sip", ...
	Device   string // the agent's device, when known
	CallID   string // the call involved, if any
}

const insertAgentEventSQL = `INSERT INTO agent_events
	(at_ms, agent_id, from_state, to_state, reason, source, device, call_id)
	VALUES (?, ?, ?, ?, ?, ?, ?, ?)`

// RecordAgentEvent appends e to the audit trail and waits until it is
// committed. Concurrent calls share the writer's transactions, so a burst
// costs a commit per batch, not per event. AgentID is required.
func (s *Store) RecordAgentEvent(ctx context.Context, e AgentEvent) error {
	run, err := s.agentEventWrite(&e)
	if err == nil {
		_, err = s.write(ctx, run)
	}
	if err != nil {
		return fmt.Errorf("record agent event %s: %w", e.AgentID, err)
	}
	return nil
}

// RecordAgentEventAsync queues e for the audit trail and returns without
// waiting for the commit, for callers such as the ACD's event loop that
// must not wait on the disk. The event is never dropped: when the writer's
// queue is full, RecordAgentEventAsync blocks until there is room (the
// writer frees it at the pace of its commits, milliseconds). Events queued
// before Close are committed before Close returns; after Close it fails
// with ErrClosed. A failure after queuing (disk full, I/O error) is logged
// and counted in FailedAsyncWrites. The returned error is only about
// queuing: ErrClosed, or ErrInvalid when AgentID is missing.
//
// Writes commit in the order they were queued, so once a later waiting
// write (RecordAgentEvent, CallUpdated...) returns, every event queued
// before it is committed.
func (s *Store) RecordAgentEventAsync(e AgentEvent) error {
	run, err := s.agentEventWrite(&e)
	if err == nil {
		err = s.enqueue("agent event "+e.AgentID, run)
	}
	if err != nil {
		return fmt.Errorf("record agent event %s: %w", e.AgentID, err)
	}
	return nil
}

// agentEventWrite validates e, stamps a zero At, and returns the insert.
func (s *Store) agentEventWrite(e *AgentEvent) (func(tx *sql.Tx) (int64, error), error) {
	if e.AgentID == "" {
		return nil, fmt.Errorf("need agent ID: %w", ErrInvalid)
	}
	if e.At.IsZero() {
		e.At = time.Now()
	}
	ev := *e
	return func(tx *sql.Tx) (int64, error) {
		_, err := tx.Stmt(s.insertAgentEvent).Exec(ev.At.UnixMilli(), ev.AgentID,
			ev.From, ev.To, ev.Reason, ev.Source, ev.Device, ev.CallID)
		return 0, err
	}, nil
}

// AgentEvents returns agentID's events (every agent's if agentID is "")
// at or after since (all of them if since is zero), newest first; events of
// the same millisecond come newest-recorded first. limit is the most to
// return: 0 or less means DefaultListLimit, and it is capped at
// MaxListLimit.
func (s *Store) AgentEvents(ctx context.Context, agentID string, since time.Time, limit int) ([]AgentEvent, error) {
	query, args := agentEventsQuery(agentID, since, limit)
	rows, err := s.readDB.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, fmt.Errorf("agent events %s: %w", agentID, err)
	}
	defer rows.Close()
	var events []AgentEvent
	for rows.Next() {
		var (
			e  AgentEvent
			at int64
		)
		if err := rows.Scan(&at, &e.AgentID, &e.From, &e.To, &e.Reason, &e.Source, &e.Device, &e.CallID); err != nil {
			return nil, fmt.Errorf("agent events %s: %w", agentID, err)
		}
		e.At = time.UnixMilli(at).UTC()
		events = append(events, e)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("agent events %s: %w", agentID, err)
	}
	return events, nil
}

// agentEventsQuery builds AgentEvents' query; with an agent it uses
// agent_events_by_agent, without one agent_events_by_at.
func agentEventsQuery(agentID string, since time.Time, limit int) (string, []any) {
	query := `SELECT at_ms, agent_id, from_state, to_state, reason, source, device, call_id
		FROM agent_events WHERE true `
	args := []any{clampLimit(limit)}
	if agentID != "" {
		args = append(args, agentID)
		query += fmt.Sprintf(`AND agent_id = ?%d `, len(args))
	}
	if !since.IsZero() {
		args = append(args, since.UnixMilli())
		query += fmt.Sprintf(`AND at_ms >= ?%d `, len(args))
	}
	return query + `ORDER BY at_ms DESC, id DESC LIMIT ?1`, args
}

// clampLimit applies ListOptions' rule for a page size: 0 or less means
// DefaultListLimit, and at most MaxListLimit.
func clampLimit(limit int) int {
	if limit <= 0 {
		return DefaultListLimit
	}
	return min(limit, MaxListLimit)
}

package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"math"
	"time"
)

// Candidate is one agent the router considered for an offer.
type Candidate struct {
	AgentID string        `json:"agent_id"`
	Tier    int           `json:"tier"`
	Idle    time.Duration `json:"idle_ms"` // JSON: whole milliseconds
	Stage   int           `json:"stage"`
	Skipped string        `json:"skipped,omitempty"` // why not chosen; "" for the chosen one
}

// candidateJSON is Candidate as stored: Idle in integer milliseconds.
type candidateJSON struct {
	AgentID string `json:"agent_id"`
	Tier    int    `json:"tier"`
	IdleMS  int64  `json:"idle_ms"`
	Stage   int    `json:"stage"`
	Skipped string `json:"skipped,omitempty"`
}

// MarshalJSON writes Idle as integer milliseconds.
func (c Candidate) MarshalJSON() ([]byte, error) {
	return json.Marshal(candidateJSON{AgentID: c.AgentID, Tier: c.Tier, IdleMS: c.Idle.Milliseconds(), Stage: c.Stage, Skipped: c.Skipped})
}

// UnmarshalJSON reads Idle as integer milliseconds.
func (c *Candidate) UnmarshalJSON(b []byte) error {
	var j candidateJSON
	if err := json.Unmarshal(b, &j); err != nil {
		return err
	}
	*c = Candidate{AgentID: j.AgentID, Tier: j.Tier, Idle: time.Duration(j.IdleMS) * time.Millisecond, Stage: j.Stage, Skipped: j.Skipped}
	return nil
}

// Decision records why the router offered a call to an agent: one per
// offer. Times and durations are kept to the millisecond (At read back in
// UTC; a zero At is stamped with the time of the Record call).
type Decision struct {
	CallID  string
	OfferID uint64 // below 1<<63
	At      time.Time
	Queue   string
	AgentID string // the agent offered the call
	Rule    string // the routing rule that chose it, e.g. "longest-idle", "sticky"
	Stage   int
	Tier    int
	Idle    time.Duration // the chosen agent's idle time
	Wait    time.Duration // the call's wait so far
	// EffectivePriority is the call's priority after aging and boosts.
	EffectivePriority float64
	Candidates        []Candidate
}

// Recording the same (CallID, OfferID) again replaces the row, so a retry
// after a timed-out RecordDecision is harmless.
const upsertDecisionSQL = `INSERT INTO decisions (call_id, offer_id, at_ms, queue, agent_id,
	rule, stage, tier, idle_ms, wait_ms, effective_priority, candidates)
VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
ON CONFLICT (call_id, offer_id) DO UPDATE SET
	at_ms = excluded.at_ms, queue = excluded.queue, agent_id = excluded.agent_id,
	rule = excluded.rule, stage = excluded.stage, tier = excluded.tier,
	idle_ms = excluded.idle_ms, wait_ms = excluded.wait_ms,
	effective_priority = excluded.effective_priority, candidates = excluded.candidates`

// RecordDecision stores d, waiting for the commit; concurrent calls share
// the writer's transactions. CallID is required and OfferID must fit in
// 63 bits (SQLite integers are signed).
func (s *Store) RecordDecision(ctx context.Context, d Decision) error {
	if d.CallID == "" {
		return fmt.Errorf("record decision: need call ID: %w", ErrInvalid)
	}
	if d.OfferID > math.MaxInt64 {
		return fmt.Errorf("record decision %s/%d: offer ID above 1<<63: %w", d.CallID, d.OfferID, ErrInvalid)
	}
	if math.IsNaN(d.EffectivePriority) {
		// SQLite stores NaN as NULL, which the NOT NULL column refuses.
		return fmt.Errorf("record decision %s/%d: effective priority is NaN: %w", d.CallID, d.OfferID, ErrInvalid)
	}
	if d.At.IsZero() {
		d.At = time.Now()
	}
	candidates := d.Candidates
	if candidates == nil {
		candidates = []Candidate{}
	}
	cand, err := json.Marshal(candidates)
	if err != nil {
		return fmt.Errorf("record decision %s/%d: candidates: %w", d.CallID, d.OfferID, err)
	}
	_, err = s.write(ctx, func(tx *sql.Tx) (int64, error) {
		_, err := tx.Stmt(s.upsertDecision).Exec(d.CallID, int64(d.OfferID), d.At.UnixMilli(),
			d.Queue, d.AgentID, d.Rule, d.Stage, d.Tier, d.Idle.Milliseconds(), d.Wait.Milliseconds(),
			d.EffectivePriority, string(cand))
		return 0, err
	})
	if err != nil {
		return fmt.Errorf("record decision %s/%d: %w", d.CallID, d.OfferID, err)
	}
	return nil
}

// Decisions returns the call's routing decisions in offer order (none is
// not an error). A decision without candidates has nil Candidates.
func (s *Store) Decisions(ctx context.Context, callID string) ([]Decision, error) {
	rows, err := s.readDB.QueryContext(ctx, `SELECT call_id, offer_id, at_ms, queue, agent_id,
			rule, stage, tier, idle_ms, wait_ms, effective_priority, candidates
		FROM decisions WHERE call_id = ? ORDER BY offer_id`, callID)
	if err != nil {
		return nil, fmt.Errorf("decisions %s: %w", callID, err)
	}
	defer rows.Close()
	var decisions []Decision
	for rows.Next() {
		var (
			d           Decision
			offerID, at int64
			idle, wait  int64
			candidates  string
		)
		if err := rows.Scan(&d.CallID, &offerID, &at, &d.Queue, &d.AgentID, &d.Rule, &d.Stage, &d.Tier,
			&idle, &wait, &d.EffectivePriority, &candidates); err != nil {
			return nil, fmt.Errorf("decisions %s: %w", callID, err)
		}
		d.OfferID = uint64(offerID)
		d.At = time.UnixMilli(at).UTC()
		d.Idle = time.Duration(idle) * time.Millisecond
		d.Wait = time.Duration(wait) * time.Millisecond
		if err := json.Unmarshal([]byte(candidates), &d.Candidates); err != nil {
			return nil, fmt.Errorf("decisions %s: offer %d: candidates: %w", callID, offerID, err)
		}
		if len(d.Candidates) == 0 {
			d.Candidates = nil
		}
		decisions = append(decisions, d)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("decisions %s: %w", callID, err)
	}
	return decisions, nil
}

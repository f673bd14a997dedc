package store

import (
	"context"
	"database/sql"
	"fmt"
	"slices"
	"time"
)

// Stage kinds (Stage.Kind). The column takes any non-empty kind, so a new
// one needs no migration; these are the ones hotline writes.
const (
	StageIVR        = "ivr"
	StageQueue      = "queue"
	StageRing       = "ring"
	StageTalk       = "talk"
	StageHold       = "hold"
	StageConsult    = "consult"
	StageTransfer   = "transfer"
	StageConference = "conference"
	StageSurvey     = "survey"
	StageVoicemail  = "voicemail"
	StageWrapUp     = "wrap-up"
)

// Stage is one step of a call's timeline: what the call was doing from
// Start to End. Top-level stages follow one another and together span the
// call; a nested stage (Parent set) happens within one of them, such as an
// agent's phone ringing while the caller waits in a queue, so it is not
// counted again.
//
// Times are kept to the millisecond and read back in UTC.
type Stage struct {
	CallID string
	// Seq numbers the call's stages from 1, in the order they began.
	Seq  int
	Kind string // StageIVR, StageQueue, ...
	// End is zero while the stage is still open.
	Start, End time.Time
	// Parent is 0 for a top-level stage, else the Seq of the top-level
	// stage this one happens within.
	Parent int
	// AgentID and Queue are who and where, when the stage has them; Detail
	// says more (an IVR node, a transfer target); Result is how the stage
	// ended (e.g. "answered", "no-answer", "abandoned").
	AgentID, Queue, Detail, Result string
}

// Writing a stage again replaces every column, so a stage first written
// open is closed by writing it again with End.
const upsertStageSQL = `INSERT INTO call_stages (call_id, seq, stage, start_ms, end_ms,
	parent, agent_id, queue, detail, result)
VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
ON CONFLICT (call_id, seq) DO UPDATE SET
	stage = excluded.stage, start_ms = excluded.start_ms, end_ms = excluded.end_ms,
	parent = excluded.parent, agent_id = excluded.agent_id, queue = excluded.queue,
	detail = excluded.detail, result = excluded.result`

// StagesRecorded stores stages (new, or replacing those with the same
// CallID and Seq) in one write, waiting for the commit: closing one stage
// and opening the next land together or not at all. Each stage needs
// CallID, a positive Seq, Kind and Start; End is zero or not before Start,
// and Parent is 0 or another stage's Seq. An invalid stage fails the whole
// call with an error wrapping ErrInvalidCDR, before anything is written.
func (s *Store) StagesRecorded(ctx context.Context, stages []Stage) error {
	if len(stages) == 0 {
		return nil
	}
	for _, st := range stages {
		if err := st.validate(); err != nil {
			return fmt.Errorf("stages recorded: %w", err)
		}
	}
	if _, err := s.write(ctx, s.upsertStages(stages)); err != nil {
		return fmt.Errorf("stages recorded: %w", err)
	}
	return nil
}

// StagesRecordedAsync is StagesRecorded without waiting for the commit: a
// call's goroutine records its stages as they change and must not wait on
// the disk each time. Writes keep their order, so a later write (the
// call's end) is committed after them. A failure is logged and counted in
// FailedAsyncWrites; invalid stages are refused at once.
func (s *Store) StagesRecordedAsync(stages []Stage) error {
	for _, st := range stages {
		if err := st.validate(); err != nil {
			return fmt.Errorf("stages recorded: %w", err)
		}
	}
	if len(stages) == 0 {
		return nil
	}
	return s.enqueue("stages recorded", s.upsertStages(slices.Clone(stages)))
}

// upsertStages is the write of StagesRecorded.
func (s *Store) upsertStages(stages []Stage) func(tx *sql.Tx) (int64, error) {
	return func(tx *sql.Tx) (int64, error) {
		upsert := tx.Stmt(s.upsertStage)
		for _, st := range stages {
			if _, err := upsert.Exec(st.CallID, st.Seq, st.Kind, st.Start.UnixMilli(), nullMillis(st.End),
				st.Parent, st.AgentID, st.Queue, st.Detail, st.Result); err != nil {
				return 0, fmt.Errorf("%s/%d: %w", st.CallID, st.Seq, err)
			}
		}
		return 0, nil
	}
}

func (st Stage) validate() error {
	var problem string
	switch {
	case st.CallID == "":
		problem = "need call ID"
	case st.Seq <= 0:
		problem = "seq must be positive"
	case st.Kind == "":
		problem = "need kind"
	case st.Start.IsZero():
		problem = "need start"
	case !st.End.IsZero() && st.End.Before(st.Start):
		problem = "ends before it starts"
	case st.Parent < 0 || st.Parent == st.Seq:
		problem = "parent must be 0 or another stage's seq"
	default:
		return nil
	}
	return fmt.Errorf("stage %s/%d: %s: %w", st.CallID, st.Seq, problem, ErrInvalidCDR)
}

// Stages returns the call's stages in Seq order (none is not an error).
func (s *Store) Stages(ctx context.Context, callID string) ([]Stage, error) {
	rows, err := s.readDB.QueryContext(ctx, `SELECT call_id, seq, stage, start_ms, end_ms,
			parent, agent_id, queue, detail, result
		FROM call_stages WHERE call_id = ? ORDER BY seq`, callID)
	if err != nil {
		return nil, fmt.Errorf("stages %s: %w", callID, err)
	}
	defer rows.Close()
	var stages []Stage
	for rows.Next() {
		var (
			st    Stage
			start int64
			end   sql.NullInt64
		)
		if err := rows.Scan(&st.CallID, &st.Seq, &st.Kind, &start, &end,
			&st.Parent, &st.AgentID, &st.Queue, &st.Detail, &st.Result); err != nil {
			return nil, fmt.Errorf("stages %s: %w", callID, err)
		}
		st.Start = time.UnixMilli(start).UTC()
		st.End = millisTime(end)
		stages = append(stages, st)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("stages %s: %w", callID, err)
	}
	return stages, nil
}

// AfterCallSeq is where the numbers of stages written after the call's
// own begin: a call numbers its stages from 1 as it goes, and an agent's
// wrap-up may end while the call goes on (a transferred caller), so
// wrap-ups take numbers above AfterCallSeq, which the call never reaches.
const AfterCallSeq = 1_000_000

// WrapUpRecorded adds the agent's wrap-up after call callID to its
// timeline: a stage from start to end, nested under the last top-level
// stage the agent had in the call (the caller may still be in a survey,
// and the call's duration ends when the caller leaves, so wrap-up is
// never counted as one of the call's own stages). A call without a
// timeline gets none.
func (s *Store) WrapUpRecorded(ctx context.Context, callID, agentID string, start, end time.Time) error {
	_, err := s.write(ctx, func(tx *sql.Tx) (int64, error) {
		_, err := tx.ExecContext(ctx, `INSERT INTO call_stages
				(call_id, seq, stage, start_ms, end_ms, parent, agent_id, queue, detail, result)
			SELECT ?1, MAX(?6, MAX(seq)) + 1, ?2, ?3, ?4,
				COALESCE((SELECT MAX(seq) FROM call_stages WHERE call_id = ?1 AND parent = 0 AND agent_id = ?5 AND seq <= ?6),
					(SELECT MAX(seq) FROM call_stages WHERE call_id = ?1 AND parent = 0 AND seq <= ?6)),
				?5, '', '', ''
			FROM call_stages WHERE call_id = ?1 HAVING COUNT(*) > 0`,
			callID, StageWrapUp, start.UnixMilli(), end.UnixMilli(), agentID, AfterCallSeq)
		return 0, err
	})
	if err != nil {
		return fmt.Errorf("wrap-up of %s: %w", callID, err)
	}
	return nil
}

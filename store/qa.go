package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"
)

// SetDisposition gives the call its wrap-up code (the agent's, over DTMF
// or the API); a later one replaces it. ErrNotFound if there is no such
// call.
func (s *Store) SetDisposition(ctx context.Context, callID, disposition string) error {
	return s.updateCall(ctx, "set disposition", callID, `UPDATE calls SET disposition = ?2 WHERE call_id = ?1`, disposition)
}

// LastCallOfAgent returns the ID of the newest call agentID answered ("":
// none), the call a wrap-up code is for.
func (s *Store) LastCallOfAgent(ctx context.Context, agentID string) (string, error) {
	var id string
	err := s.readDB.QueryRowContext(ctx,
		`SELECT call_id FROM calls WHERE agent_id = ? ORDER BY start_ms DESC LIMIT 1`, agentID).Scan(&id)
	if errors.Is(err, sql.ErrNoRows) {
		return "", nil
	}
	if err != nil {
		return "", fmt.Errorf("last call of agent %s: %w", agentID, err)
	}
	return id, nil
}

// SetLegalHold puts the call's recording on legal hold (never deleted by
// retention) or takes it off. ErrNotFound if there is no such call.
func (s *Store) SetLegalHold(ctx context.Context, callID string, on bool) error {
	return s.updateCall(ctx, "set legal hold", callID, `UPDATE calls SET legal_hold = ?2 WHERE call_id = ?1`, on)
}

// RecordingAnalyzed stores what was measured in the call's recording.
func (s *Store) RecordingAnalyzed(ctx context.Context, callID string, a Analytics) error {
	return s.updateCall(ctx, "recording analyzed", callID, `UPDATE calls SET
		caller_speech_ms = ?2, agent_speech_ms = ?3, silence_ratio = ?4,
		overtalk_ms = ?5, longest_silence_ms = ?6,
		analytics = CASE ?7 WHEN '' THEN analytics ELSE ?7 END
		WHERE call_id = ?1`,
		a.CallerSpeech.Milliseconds(), a.AgentSpeech.Milliseconds(), a.SilenceRatio,
		a.Overtalk.Milliseconds(), a.LongestSilence.Milliseconds(), a.Hook)
}

// RecordingDeleted marks that retention deleted the call's recording at.
func (s *Store) RecordingDeleted(ctx context.Context, callID string, at time.Time) error {
	return s.updateCall(ctx, "recording deleted", callID, `UPDATE calls SET recording_deleted_ms = ?2 WHERE call_id = ?1`, at.UnixMilli())
}

// updateCall runs one UPDATE of a call's row (?1 is the call ID, args
// follow); ErrNotFound when no row matched.
func (s *Store) updateCall(ctx context.Context, op, callID, query string, args ...any) error {
	n, err := s.write(ctx, func(tx *sql.Tx) (int64, error) {
		res, err := tx.ExecContext(ctx, query, append([]any{callID}, args...)...)
		if err != nil {
			return 0, err
		}
		return res.RowsAffected()
	})
	if err != nil {
		return fmt.Errorf("%s %s: %w", op, callID, err)
	}
	if n == 0 {
		return fmt.Errorf("%s %s: %w", op, callID, ErrNotFound)
	}
	return nil
}

// CallExists reports whether a call has a row.
func (s *Store) CallExists(ctx context.Context, callID string) (bool, error) {
	var one int
	err := s.readDB.QueryRowContext(ctx, `SELECT 1 FROM calls WHERE call_id = ?`, callID).Scan(&one)
	if errors.Is(err, sql.ErrNoRows) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("call exists %s: %w", callID, err)
	}
	return true, nil
}

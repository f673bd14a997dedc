package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
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

	// Priority is the call's effective base priority when it was queued.
	// Unlike the other fields, 0 is a value worth writing: a write stores
	// Priority when it is non-zero or PrioritySet is true. PrioritySet only
	// instructs writes; reads leave it false.
	Priority    int
	PrioritySet bool
	SLOutcome   string        // SLMet | SLMissed | SLExcluded, "" while unknown
	WrapUp      time.Duration // the agent's wrap-up after the call
	Tags        string        // comma-separated IVR/priority tags, e.g. "vip,callback"
	Offers      int           // how many agent offers were made for the call
	CallbackID  int64         // the Callback this call dials, 0 if it is not one
	// IVRPath is the caller's way through the IVR: node names joined by ">".
	IVRPath string
	// BusinessType is the IVR's business_type variable, "" if the flow set
	// none.
	BusinessType string
	// TransferTo is where an IVR transfer node sent the call, e.g.
	// "number +861012345678", "extension 2000", "agent 1003".
	TransferTo string
	// SurveyScore is the caller's survey answer, an NPS score 0..10. Like
	// Priority, 0 is a value: a write stores SurveyScore only when SurveySet
	// is true (a score outside 0..10 is refused with ErrInvalidCDR, and the
	// database's CHECK would refuse it too). Reads set SurveySet when the
	// call has a score.
	SurveyScore int
	SurveySet   bool
	// VoicemailStart is when the caller began speaking a voicemail message;
	// the message is the end of the recording, from then to End. Zero if
	// the caller left none.
	VoicemailStart time.Time
	// Hold is how long the caller was on hold while connected; Holds how
	// many times they were put on hold.
	Hold  time.Duration
	Holds int

	// Read only: these are written by their own methods (SetDisposition,
	// SetLegalHold, RecordingAnalyzed, RecordingDeleted), never by the
	// merging writes above.
	//
	// Disposition is the agent's wrap-up code's name.
	Disposition string
	// LegalHold keeps the recording from retention.
	LegalHold bool
	// RecordingDeleted is when retention deleted the recording (zero: it
	// was not).
	RecordingDeleted time.Time
	// Analytics is what was measured in the recording when the call ended.
	Analytics Analytics
}

// Analytics are the cheap measures taken from a call's recording when it
// closes (no speech recognition), and what an analytics hook said.
type Analytics struct {
	// CallerSpeech and AgentSpeech are how long each channel carried
	// speech (left: the caller; right: what the caller heard).
	CallerSpeech, AgentSpeech time.Duration
	// SilenceRatio is the share of the recording where neither spoke.
	SilenceRatio float64
	// Overtalk is how long both spoke at once; LongestSilence the longest
	// stretch where neither did.
	Overtalk, LongestSilence time.Duration
	// Hook is the analytics hook's JSON answer ("" without a hook).
	Hook string
}

// MaxSurveyScore is the highest survey (NPS) score; the lowest is 0.
const MaxSurveyScore = 10

// Service-level outcomes (CDR.SLOutcome).
const (
	SLMet      = "met"      // answered within the queue's service-level threshold
	SLMissed   = "missed"   // answered late, or abandoned after the threshold
	SLExcluded = "excluded" // not counted, e.g. abandoned before the short-abandon limit
)

// Writes merge into the row: a field left empty (zero) keeps the value
// stored before, so an update need only carry what it knows. Fields are
// never cleared; only Priority can be set back to 0, with PrioritySet (and
// SurveyScore written as 0, with SurveySet).
const upsertSQL = `
INSERT INTO calls (call_id, caller, called, trunk, start_ms, answer_ms, end_ms,
	ivr_digits, flow_version, queue, agent_id, queue_wait_ms, talk_ms,
	result, hangup_by, hangup_cause, recording_path,
	priority, sl_outcome, wrap_up_ms, tags, offers, callback_id, ivr_path,
	business_type, transfer_to, survey_score, voicemail_start_ms, hold_ms, holds)
VALUES (?1, ?2, ?3, ?4,
	COALESCE(?5, (SELECT start_ms FROM calls WHERE call_id = ?1)),
	?6, ?7, ?8, ?9, ?10, ?11, COALESCE(?12, 0), COALESCE(?13, 0), ?14, ?15, ?16, ?17,
	COALESCE(?18, 0), ?19, COALESCE(?20, 0), ?21, COALESCE(?22, 0), COALESCE(?23, 0), ?24,
	?25, ?26, ?27, ?28, COALESCE(?29, 0), COALESCE(?30, 0))
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
	recording_path = COALESCE(NULLIF(excluded.recording_path, ''), recording_path),
	priority       = COALESCE(?18, priority),
	sl_outcome     = COALESCE(NULLIF(excluded.sl_outcome, ''), sl_outcome),
	wrap_up_ms     = COALESCE(?20, wrap_up_ms),
	tags           = COALESCE(NULLIF(excluded.tags, ''), tags),
	offers         = COALESCE(?22, offers),
	callback_id    = COALESCE(?23, callback_id),
	ivr_path       = COALESCE(NULLIF(excluded.ivr_path, ''), ivr_path),
	business_type  = COALESCE(NULLIF(excluded.business_type, ''), business_type),
	transfer_to    = COALESCE(NULLIF(excluded.transfer_to, ''), transfer_to),
	survey_score   = COALESCE(excluded.survey_score, survey_score),
	voicemail_start_ms = COALESCE(excluded.voicemail_start_ms, voicemail_start_ms),
	hold_ms        = COALESCE(?29, hold_ms),
	holds          = COALESCE(?30, holds)`

const selectColumns = `call_id, caller, called, trunk, start_ms, answer_ms, end_ms,
	ivr_digits, flow_version, queue, agent_id, queue_wait_ms, talk_ms,
	result, hangup_by, hangup_cause, recording_path,
	priority, sl_outcome, wrap_up_ms, tags, offers, callback_id, ivr_path,
	business_type, transfer_to, survey_score, voicemail_start_ms, hold_ms, holds,
	disposition, legal_hold, recording_deleted_ms, caller_speech_ms, agent_speech_ms,
	silence_ratio, overtalk_ms, longest_silence_ms, analytics`

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
	if c.SurveySet && (c.SurveyScore < 0 || c.SurveyScore > MaxSurveyScore) {
		return fmt.Errorf("%s %s: survey score %d is outside 0..%d: %w", op, c.CallID, c.SurveyScore, MaxSurveyScore, ErrInvalidCDR)
	}
	priority := sql.NullInt64{Int64: int64(c.Priority), Valid: c.Priority != 0 || c.PrioritySet}
	survey := sql.NullInt64{Int64: int64(c.SurveyScore), Valid: c.SurveySet}
	_, err := s.write(ctx, func(tx *sql.Tx) (int64, error) {
		_, err := tx.Stmt(s.upsert).Exec(
			c.CallID, c.Caller, c.Called, c.Trunk,
			nullMillis(c.Start), nullMillis(c.Answer), nullMillis(c.End),
			c.IVRDigits, c.FlowVersion, c.Queue, c.AgentID,
			nullDuration(c.QueueWait), nullDuration(c.Talk),
			c.Result, c.HangupBy, c.HangupCause, c.RecordingPath,
			priority, c.SLOutcome, nullDuration(c.WrapUp), c.Tags,
			nullInt64(int64(c.Offers)), nullInt64(c.CallbackID), c.IVRPath,
			c.BusinessType, c.TransferTo, survey, nullMillis(c.VoicemailStart),
			nullDuration(c.Hold), nullInt64(int64(c.Holds)),
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
//
// The open stages of those calls end at at too, their Result becoming
// cause unless it was already known; they are logged, not counted.
//
// In the same transaction it puts every callback left in state "dialing"
// back to "pending", since its dial died with the process: LastResult
// becomes cause and UpdatedAt at; Attempts is unchanged. Those callbacks
// are logged, not counted in the result. (There is no separate reset
// method, so the startup call that closes dangling calls cannot forget
// the callbacks.)
func (s *Store) CloseDangling(ctx context.Context, cause string, at time.Time) (int, error) {
	var stages, callbacks int64
	n, err := s.write(ctx, func(tx *sql.Tx) (int64, error) {
		// Before the calls: afterwards nothing tells which were dangling.
		res, err := tx.Exec(`UPDATE call_stages SET
				end_ms = ?1,
				result = CASE result WHEN '' THEN ?2 ELSE result END
			WHERE end_ms IS NULL
				AND call_id IN (SELECT call_id FROM calls WHERE end_ms IS NULL)`, at.UnixMilli(), cause)
		if err != nil {
			return 0, fmt.Errorf("close open stages: %w", err)
		}
		if stages, err = res.RowsAffected(); err != nil {
			return 0, fmt.Errorf("close open stages: %w", err)
		}
		res, err = tx.Exec(`UPDATE calls SET
				end_ms = ?1,
				hangup_cause = ?2,
				hangup_by = CASE hangup_by WHEN '' THEN 'system' ELSE hangup_by END
			WHERE end_ms IS NULL`, at.UnixMilli(), cause)
		if err != nil {
			return 0, err
		}
		calls, err := res.RowsAffected()
		if err != nil {
			return 0, err
		}
		res, err = tx.Exec(`UPDATE callbacks SET
				state = 'pending', last_result = ?2, updated_ms = ?1
			WHERE state = 'dialing'`, at.UnixMilli(), cause)
		if err != nil {
			return 0, fmt.Errorf("reset dialing callbacks: %w", err)
		}
		if callbacks, err = res.RowsAffected(); err != nil {
			return 0, fmt.Errorf("reset dialing callbacks: %w", err)
		}
		return calls, nil
	})
	if err != nil {
		return 0, fmt.Errorf("close dangling calls: %w", err)
	}
	if stages > 0 {
		s.log.Info("store: open stages of dangling calls closed", "count", stages, "cause", cause)
	}
	if callbacks > 0 {
		s.log.Info("store: dialing callbacks back to pending", "count", callbacks, "cause", cause)
	}
	return int(n), nil
}

// LastAgentForCaller returns the agent of caller's most recent call that an
// agent answered (AgentID set, Answer reached) and that started at or after
// since, or "" if there is none. It is an index lookup, cheap enough for
// every routed call. An empty caller (anonymous) never matches.
func (s *Store) LastAgentForCaller(ctx context.Context, caller string, since time.Time) (string, error) {
	if caller == "" {
		return "", nil
	}
	var agentID string
	err := s.readDB.QueryRowContext(ctx, lastAgentSQL, caller, since.UnixMilli()).Scan(&agentID)
	if errors.Is(err, sql.ErrNoRows) {
		return "", nil
	}
	if err != nil {
		return "", fmt.Errorf("last agent for caller %s: %w", caller, err)
	}
	return agentID, nil
}

// lastAgentSQL repeats the condition of the partial index calls_by_caller
// on agent_id word for word, so that SQLite can use it.
const lastAgentSQL = `SELECT agent_id FROM calls
	WHERE caller = ?1 AND agent_id != '' AND start_ms >= ?2 AND answer_ms IS NOT NULL
	ORDER BY start_ms DESC LIMIT 1`

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
	// AgentID, if set, returns only that agent's calls (what an agent's
	// token may see).
	AgentID string
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
	// Conditions are added only when set, so that SQLite can pick the
	// index that fits (calls_by_agent for one agent's calls).
	where := []string{"TRUE"}
	args := []any{}
	if opts.AgentID != "" {
		where = append(where, `agent_id = ?`)
		args = append(args, opts.AgentID)
	}
	switch {
	case opts.Before.IsZero():
	case opts.BeforeCallID == "":
		where = append(where, `start_ms < ?`)
		args = append(args, opts.Before.UnixMilli())
	default:
		where = append(where, `(start_ms, call_id) < (?, ?)`)
		args = append(args, opts.Before.UnixMilli(), opts.BeforeCallID)
	}
	query := `SELECT ` + selectColumns + ` FROM calls WHERE ` + strings.Join(where, " AND ") +
		` ORDER BY start_ms DESC, call_id DESC LIMIT ?`
	args = append(args, limit)

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
		wrapUp, holdMs    int64
		survey, vmStart   sql.NullInt64
		deleted           sql.NullInt64
		callerSpeech      int64
		agentSpeech       int64
		overtalk, silence int64
	)
	err := row.Scan(&c.CallID, &c.Caller, &c.Called, &c.Trunk, &start, &answer, &end,
		&c.IVRDigits, &c.FlowVersion, &c.Queue, &c.AgentID, &queueWait, &talkMs,
		&c.Result, &c.HangupBy, &c.HangupCause, &c.RecordingPath,
		&c.Priority, &c.SLOutcome, &wrapUp, &c.Tags, &c.Offers, &c.CallbackID, &c.IVRPath,
		&c.BusinessType, &c.TransferTo, &survey, &vmStart, &holdMs, &c.Holds,
		&c.Disposition, &c.LegalHold, &deleted, &callerSpeech, &agentSpeech,
		&c.Analytics.SilenceRatio, &overtalk, &silence, &c.Analytics.Hook)
	if err != nil {
		return CDR{}, err
	}
	c.RecordingDeleted = millisTime(deleted)
	c.Analytics.CallerSpeech = time.Duration(callerSpeech) * time.Millisecond
	c.Analytics.AgentSpeech = time.Duration(agentSpeech) * time.Millisecond
	c.Analytics.Overtalk = time.Duration(overtalk) * time.Millisecond
	c.Analytics.LongestSilence = time.Duration(silence) * time.Millisecond
	c.SurveyScore, c.SurveySet = int(survey.Int64), survey.Valid
	c.VoicemailStart = millisTime(vmStart)
	c.Start = time.UnixMilli(start).UTC()
	if answer.Valid {
		c.Answer = time.UnixMilli(answer.Int64).UTC()
	}
	if end.Valid {
		c.End = time.UnixMilli(end.Int64).UTC()
	}
	c.QueueWait = time.Duration(queueWait) * time.Millisecond
	c.Talk = time.Duration(talkMs) * time.Millisecond
	c.WrapUp = time.Duration(wrapUp) * time.Millisecond
	c.Hold = time.Duration(holdMs) * time.Millisecond
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

// nullInt64 is NULL for 0, so that an upsert keeps the stored value.
func nullInt64(n int64) sql.NullInt64 {
	return sql.NullInt64{Int64: n, Valid: n != 0}
}

// millisTime reads back a time stored by nullMillis or UnixMilli.
func millisTime(ms sql.NullInt64) time.Time {
	if !ms.Valid {
		return time.Time{}
	}
	return time.UnixMilli(ms.Int64).UTC()
}

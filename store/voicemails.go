package store

import (
	"context"
	"database/sql"
	"fmt"
	"strings"
	"time"
)

// ResultVoicemail is the CDR result of a call that ended with the caller
// leaving a message.
const ResultVoicemail = "voicemail"

// VoicemailQuery selects voicemails for ListVoicemails.
type VoicemailQuery struct {
	// From and To bound the calls' start times, [From, To); a zero time
	// leaves that side open.
	From, To time.Time
	// Queue, if set, keeps only the calls that ended in that queue.
	Queue string
	// Limit is the page size: 0 means DefaultListLimit, and it is capped at
	// MaxListLimit. Offset skips that many voicemails (newest first).
	Limit, Offset int
}

// Voicemail is a call that ended in a voicemail message: the message is
// the end of the call's recording, from VoicemailStart to End.
type Voicemail struct {
	CallID, Caller, Called, Queue, BusinessType string
	// Start, Answer and End are the call's; VoicemailStart is when the
	// caller began speaking the message. Any but Start may be zero: End
	// while the caller still speaks, VoicemailStart if it was not recorded.
	Start, Answer, VoicemailStart, End time.Time
	RecordingPath                      string
}

// At is when the message was left: VoicemailStart, else End, else Start.
func (v Voicemail) At() time.Time {
	switch {
	case !v.VoicemailStart.IsZero():
		return v.VoicemailStart
	case !v.End.IsZero():
		return v.End
	}
	return v.Start
}

// Duration is the message's length, End - VoicemailStart; false unless
// both are known.
func (v Voicemail) Duration() (time.Duration, bool) {
	if v.VoicemailStart.IsZero() || v.End.IsZero() {
		return 0, false
	}
	return max(v.End.Sub(v.VoicemailStart), 0), true
}

// Offset is where the message begins in the call's recording (which starts
// at Answer), VoicemailStart - Answer; false unless both are known.
func (v Voicemail) Offset() (time.Duration, bool) {
	if v.VoicemailStart.IsZero() || v.Answer.IsZero() {
		return 0, false
	}
	return max(v.VoicemailStart.Sub(v.Answer), 0), true
}

// ListVoicemails returns the calls whose result is "voicemail", newest
// (by start) first.
func (s *Store) ListVoicemails(ctx context.Context, q VoicemailQuery) ([]Voicemail, error) {
	if q.Offset < 0 || (!q.From.IsZero() && !q.To.IsZero() && !q.From.Before(q.To)) {
		return nil, fmt.Errorf("list voicemails: offset %d, from %v, to %v: %w", q.Offset, q.From, q.To, ErrInvalid)
	}
	limit := q.Limit
	if limit <= 0 {
		limit = DefaultListLimit
	}
	limit = min(limit, MaxListLimit)
	// result = 'voicemail' is spelled as in the partial index
	// calls_voicemails, so that SQLite can use it.
	where := []string{`result = 'voicemail'`}
	args := []any{}
	if !q.From.IsZero() {
		where = append(where, `start_ms >= ?`)
		args = append(args, q.From.UnixMilli())
	}
	if !q.To.IsZero() {
		where = append(where, `start_ms < ?`)
		args = append(args, q.To.UnixMilli())
	}
	if q.Queue != "" {
		where = append(where, `queue = ?`)
		args = append(args, q.Queue)
	}
	query := `SELECT call_id, caller, called, queue, business_type,
		start_ms, answer_ms, voicemail_start_ms, end_ms, recording_path
		FROM calls WHERE ` + strings.Join(where, ` AND `) + `
		ORDER BY start_ms DESC, call_id DESC LIMIT ? OFFSET ?`
	args = append(args, limit, q.Offset)

	rows, err := s.readDB.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, fmt.Errorf("list voicemails: %w", err)
	}
	defer rows.Close()
	var out []Voicemail
	for rows.Next() {
		var (
			v                       Voicemail
			start                   int64
			answer, vmStart, endsAt sql.NullInt64
		)
		if err := rows.Scan(&v.CallID, &v.Caller, &v.Called, &v.Queue, &v.BusinessType,
			&start, &answer, &vmStart, &endsAt, &v.RecordingPath); err != nil {
			return nil, fmt.Errorf("list voicemails: %w", err)
		}
		v.Start = time.UnixMilli(start).UTC()
		v.Answer, v.VoicemailStart, v.End = millisTime(answer), millisTime(vmStart), millisTime(endsAt)
		out = append(out, v)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list voicemails: %w", err)
	}
	return out, nil
}

package store

import (
	"context"
	"database/sql"
	"fmt"
)

// migrations[i] takes the schema from user_version i to i+1. Append only:
// never edit a migration that has shipped.
var migrations = []string{
	// 1: call detail records. Times are Unix milliseconds (NULL when not
	// reached), durations milliseconds.
	`CREATE TABLE calls (
		call_id        TEXT PRIMARY KEY,
		caller         TEXT NOT NULL DEFAULT '',
		called         TEXT NOT NULL DEFAULT '',
		trunk          TEXT NOT NULL DEFAULT '',
		start_ms       INTEGER NOT NULL,
		answer_ms      INTEGER,
		end_ms         INTEGER,
		ivr_digits     TEXT NOT NULL DEFAULT '',
		flow_version   TEXT NOT NULL DEFAULT '',
		queue          TEXT NOT NULL DEFAULT '',
		agent_id       TEXT NOT NULL DEFAULT '',
		queue_wait_ms  INTEGER NOT NULL DEFAULT 0,
		talk_ms        INTEGER NOT NULL DEFAULT 0,
		result         TEXT NOT NULL DEFAULT '',
		hangup_by      TEXT NOT NULL DEFAULT '',
		hangup_cause   TEXT NOT NULL DEFAULT '',
		recording_path TEXT NOT NULL DEFAULT ''
	) STRICT;
	CREATE INDEX calls_by_start ON calls (start_ms DESC, call_id DESC);
	CREATE INDEX calls_live ON calls (call_id) WHERE end_ms IS NULL;`,

	// 2: what the ACD needs. On calls: the routing outcome, and an index for
	// the sticky-agent lookup (the last agent who talked to a caller).
	// agent_events audits agent state changes; decisions logs why each offer
	// went to its agent (candidates is a JSON array); callbacks are the
	// callers waiting to be called back, which must survive a restart, and
	// callback_attempts their dials.
	`ALTER TABLE calls ADD COLUMN priority    INTEGER NOT NULL DEFAULT 0;
	ALTER TABLE calls ADD COLUMN sl_outcome  TEXT    NOT NULL DEFAULT '';
	ALTER TABLE calls ADD COLUMN wrap_up_ms  INTEGER NOT NULL DEFAULT 0;
	ALTER TABLE calls ADD COLUMN tags        TEXT    NOT NULL DEFAULT '';
	ALTER TABLE calls ADD COLUMN offers      INTEGER NOT NULL DEFAULT 0;
	ALTER TABLE calls ADD COLUMN callback_id INTEGER NOT NULL DEFAULT 0;
	CREATE INDEX calls_by_caller ON calls (caller, start_ms DESC) WHERE agent_id != '';

	CREATE TABLE agent_events (
		id         INTEGER PRIMARY KEY,
		at_ms      INTEGER NOT NULL,
		agent_id   TEXT NOT NULL,
		from_state TEXT NOT NULL DEFAULT '',
		to_state   TEXT NOT NULL DEFAULT '',
		reason     TEXT NOT NULL DEFAULT '',
		source     TEXT NOT NULL DEFAULT '',
		device     TEXT NOT NULL DEFAULT '',
		call_id    TEXT NOT NULL DEFAULT ''
	) STRICT;
	CREATE INDEX agent_events_by_agent ON agent_events (agent_id, at_ms);
	CREATE INDEX agent_events_by_at ON agent_events (at_ms);

	CREATE TABLE decisions (
		call_id            TEXT NOT NULL,
		offer_id           INTEGER NOT NULL,
		at_ms              INTEGER NOT NULL,
		queue              TEXT NOT NULL DEFAULT '',
		agent_id           TEXT NOT NULL DEFAULT '',
		rule               TEXT NOT NULL DEFAULT '',
		stage              INTEGER NOT NULL DEFAULT 0,
		tier               INTEGER NOT NULL DEFAULT 0,
		idle_ms            INTEGER NOT NULL DEFAULT 0,
		wait_ms            INTEGER NOT NULL DEFAULT 0,
		effective_priority REAL NOT NULL DEFAULT 0,
		candidates         TEXT NOT NULL DEFAULT '[]',
		PRIMARY KEY (call_id, offer_id)
	) STRICT;

	CREATE TABLE callbacks (
		id             INTEGER PRIMARY KEY,
		queue          TEXT NOT NULL,
		number         TEXT NOT NULL,
		priority       INTEGER NOT NULL DEFAULT 0,
		queued_ms      INTEGER NOT NULL,
		not_before_ms  INTEGER,
		attempts       INTEGER NOT NULL DEFAULT 0,
		max_attempts   INTEGER NOT NULL DEFAULT 0,
		state          TEXT NOT NULL,
		origin_call_id TEXT NOT NULL DEFAULT '',
		last_result    TEXT NOT NULL DEFAULT '',
		updated_ms     INTEGER NOT NULL
	) STRICT;
	CREATE INDEX callbacks_open_by_number ON callbacks (queue, number, queued_ms)
		WHERE state IN ('pending', 'dialing');
	CREATE INDEX callbacks_by_state ON callbacks (state);

	CREATE TABLE callback_attempts (
		id          INTEGER PRIMARY KEY,
		callback_id INTEGER NOT NULL,
		at_ms       INTEGER NOT NULL,
		agent_id    TEXT NOT NULL DEFAULT '',
		call_id     TEXT NOT NULL DEFAULT '',
		result      TEXT NOT NULL DEFAULT ''
	) STRICT;
	CREATE INDEX callback_attempts_by_callback ON callback_attempts (callback_id, at_ms);`,
	// 3: the caller's way through the IVR, node names joined by ">".
	`ALTER TABLE calls ADD COLUMN ivr_path TEXT NOT NULL DEFAULT '';`,
	// 4: what the IVR learned: the caller's business type (the flow's
	// business_type variable), where a transfer node sent the call, the
	// caller's survey answer (an NPS score, NULL when none) and when the
	// caller began a voicemail message (NULL when none; the message is the
	// recording from then to end_ms). The partial index serves the voicemail
	// list.
	`ALTER TABLE calls ADD COLUMN business_type      TEXT NOT NULL DEFAULT '';
	ALTER TABLE calls ADD COLUMN transfer_to        TEXT NOT NULL DEFAULT '';
	ALTER TABLE calls ADD COLUMN survey_score       INTEGER CHECK (survey_score BETWEEN 0 AND 10);
	ALTER TABLE calls ADD COLUMN voicemail_start_ms INTEGER;
	CREATE INDEX calls_by_business_type ON calls (business_type, start_ms);
	CREATE INDEX calls_voicemails ON calls (start_ms DESC, call_id DESC) WHERE result = 'voicemail';`,
	// 5: how long the caller was on hold during the talk, and how often.
	`ALTER TABLE calls ADD COLUMN hold_ms INTEGER NOT NULL DEFAULT 0;
	ALTER TABLE calls ADD COLUMN holds   INTEGER NOT NULL DEFAULT 0;`,
	// 6: each call's timeline, one row per stage (ivr, queue, ring, talk,
	// hold...), numbered per call. end_ms is NULL while the stage is open;
	// parent is the seq of the top-level stage a nested one happens within
	// (0 at top level). The primary key serves the per-call reads.
	`CREATE TABLE call_stages (
		call_id  TEXT NOT NULL,
		seq      INTEGER NOT NULL,
		stage    TEXT NOT NULL,
		start_ms INTEGER NOT NULL,
		end_ms   INTEGER,
		parent   INTEGER NOT NULL DEFAULT 0,
		agent_id TEXT NOT NULL DEFAULT '',
		queue    TEXT NOT NULL DEFAULT '',
		detail   TEXT NOT NULL DEFAULT '',
		result   TEXT NOT NULL DEFAULT '',
		PRIMARY KEY (call_id, seq)
	) STRICT;`,

	// 7: recordings as QA's record. On calls: the agent's wrap-up code
	// (disposition), legal hold (never deleted), when retention deleted
	// the recording, and the cheap analytics taken when the call closed
	// (speech per channel, silence, over-talk) with what an analytics hook
	// returned (JSON). audit_log keeps who listened to or downloaded what.
	`ALTER TABLE calls ADD COLUMN disposition          TEXT    NOT NULL DEFAULT '';
	ALTER TABLE calls ADD COLUMN legal_hold           INTEGER NOT NULL DEFAULT 0;
	ALTER TABLE calls ADD COLUMN recording_deleted_ms INTEGER;
	ALTER TABLE calls ADD COLUMN caller_speech_ms     INTEGER NOT NULL DEFAULT 0;
	ALTER TABLE calls ADD COLUMN agent_speech_ms      INTEGER NOT NULL DEFAULT 0;
	ALTER TABLE calls ADD COLUMN silence_ratio        REAL    NOT NULL DEFAULT 0;
	ALTER TABLE calls ADD COLUMN overtalk_ms          INTEGER NOT NULL DEFAULT 0;
	ALTER TABLE calls ADD COLUMN longest_silence_ms   INTEGER NOT NULL DEFAULT 0;
	ALTER TABLE calls ADD COLUMN analytics            TEXT    NOT NULL DEFAULT '';
	CREATE INDEX calls_by_agent ON calls (agent_id, start_ms DESC);

	CREATE TABLE audit_log (
		id       INTEGER PRIMARY KEY,
		at_ms    INTEGER NOT NULL,
		token    TEXT NOT NULL,
		role     TEXT NOT NULL,
		action   TEXT NOT NULL,
		call_id  TEXT NOT NULL DEFAULT '',
		detail   TEXT NOT NULL DEFAULT ''
	) STRICT;
	CREATE INDEX audit_by_call ON audit_log (call_id, at_ms);
	CREATE INDEX audit_by_time ON audit_log (at_ms);`,
}

// migrate brings the schema up to date, one transaction per migration, so a
// crash leaves the database at some whole version.
func migrate(ctx context.Context, db *sql.DB) (from, to int, err error) {
	var version int
	if err := db.QueryRowContext(ctx, "PRAGMA user_version").Scan(&version); err != nil {
		return 0, 0, fmt.Errorf("read schema version: %w", err)
	}
	if version > len(migrations) {
		return version, version, fmt.Errorf("version %d, this binary knows %d: %w", version, len(migrations), ErrSchemaTooNew)
	}
	for v := version; v < len(migrations); v++ {
		if err := applyMigration(ctx, db, v); err != nil {
			return version, v, err
		}
	}
	return version, len(migrations), nil
}

func applyMigration(ctx context.Context, db *sql.DB, v int) error {
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("migration %d: %w", v+1, err)
	}
	defer tx.Rollback() //nolint:errcheck // no-op after Commit
	if _, err := tx.ExecContext(ctx, migrations[v]); err != nil {
		return fmt.Errorf("migration %d: %w", v+1, err)
	}
	// PRAGMA takes no bound parameters; v is our own integer.
	if _, err := tx.ExecContext(ctx, fmt.Sprintf("PRAGMA user_version = %d", v+1)); err != nil {
		return fmt.Errorf("migration %d: set version: %w", v+1, err)
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("migration %d: commit: %w", v+1, err)
	}
	return nil
}

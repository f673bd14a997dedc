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

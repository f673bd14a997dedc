package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	_ "github.com/mattn/go-sqlite3" // registers "sqlite3"; cgo, bundled SQLite
)

const (
	// busyTimeout covers another process (sqlite3 CLI, a backup) holding
	// the lock; our own writes never contend, there is one writer.
	busyTimeout = 5 * time.Second
	// maxBatch bounds how many queued writes share one transaction.
	maxBatch = 256
	// writeQueue is how many writes may wait for the writer.
	writeQueue = 1024
	readConns  = 4
)

// Store is the SQLite database. It is safe for concurrent use.
type Store struct {
	log *slog.Logger
	// writeDB has exactly one connection, used only by the writer goroutine
	// (and by Open for migrations before that goroutine starts).
	writeDB *sql.DB
	readDB  *sql.DB
	upsert  *sql.Stmt

	writes     chan *writeOp
	quit       chan struct{} // closed by Close
	writerDone chan struct{} // closed when the writer goroutine returns
	closeOnce  sync.Once
	closeErr   error
}

type writeOp struct {
	ctx  context.Context
	run  func(tx *sql.Tx) (int64, error)
	done chan writeResult // buffered: the writer never blocks on it
}

type writeResult struct {
	rows int64
	err  error
}

// Open opens (creating if needed) the database at path, brings its schema up
// to date and starts the writer.
func Open(path string, log *slog.Logger) (*Store, error) {
	if dir := filepath.Dir(path); dir != "" {
		if err := os.MkdirAll(dir, 0o750); err != nil {
			return nil, fmt.Errorf("open store: %w", err)
		}
	}
	ctx := context.Background()
	busy := fmt.Sprint(busyTimeout.Milliseconds())

	// synchronous=NORMAL in WAL mode may lose the last transactions on power
	// loss but never corrupts; CDRs can afford that, not the fsync per call.
	writeDB, err := sql.Open("sqlite3", dsn(path, url.Values{
		"_journal_mode": {"WAL"},
		"_synchronous":  {"NORMAL"},
		"_busy_timeout": {busy},
		"_txlock":       {"immediate"},
	}))
	if err != nil {
		return nil, fmt.Errorf("open store %s: %w", path, err)
	}
	writeDB.SetMaxOpenConns(1)
	writeDB.SetMaxIdleConns(1)
	writeDB.SetConnMaxLifetime(0)
	writeDB.SetConnMaxIdleTime(0)

	var journalMode string
	if err := writeDB.QueryRowContext(ctx, "PRAGMA journal_mode").Scan(&journalMode); err != nil {
		writeDB.Close()
		return nil, fmt.Errorf("open store %s: %w", path, err)
	}
	if !strings.EqualFold(journalMode, "wal") {
		writeDB.Close()
		return nil, fmt.Errorf("open store %s: journal mode is %q, want wal", path, journalMode)
	}
	from, to, err := migrate(ctx, writeDB)
	if err != nil {
		writeDB.Close()
		return nil, fmt.Errorf("open store %s: %w", path, err)
	}
	if from != to {
		log.Info("store: migrated schema", "path", path, "from_version", from, "to_version", to)
	}
	upsert, err := writeDB.PrepareContext(ctx, upsertSQL)
	if err != nil {
		writeDB.Close()
		return nil, fmt.Errorf("open store %s: prepare upsert: %w", path, err)
	}

	readDB, err := sql.Open("sqlite3", dsn(path, url.Values{
		"mode":          {"ro"},
		"_busy_timeout": {busy},
	}))
	if err != nil {
		upsert.Close()
		writeDB.Close()
		return nil, fmt.Errorf("open store %s: read pool: %w", path, err)
	}
	readDB.SetMaxOpenConns(readConns)
	readDB.SetMaxIdleConns(readConns)

	s := &Store{
		log:        log,
		writeDB:    writeDB,
		readDB:     readDB,
		upsert:     upsert,
		writes:     make(chan *writeOp, writeQueue),
		quit:       make(chan struct{}),
		writerDone: make(chan struct{}),
	}
	go s.writer()
	return s, nil
}

// dsn builds a SQLite URI: the path is escaped so that '?', '#' or '%' in a
// directory name cannot be read as URI syntax.
func dsn(path string, params url.Values) string {
	u := url.URL{Path: path}
	return "file:" + u.EscapedPath() + "?" + params.Encode()
}

// Close finishes the writes already queued, then closes the database.
// Writes submitted after Close fail with ErrClosed.
func (s *Store) Close() error {
	s.closeOnce.Do(func() {
		close(s.quit)
		<-s.writerDone
		s.closeErr = errors.Join(s.upsert.Close(), s.readDB.Close(), s.writeDB.Close())
		if s.closeErr != nil {
			s.closeErr = fmt.Errorf("close store: %w", s.closeErr)
		}
	})
	return s.closeErr
}

// writer is the only goroutine that writes. It takes every write that is
// already queued (up to maxBatch) into one transaction, so concurrent calls
// cost one commit instead of one each; a savepoint per write keeps one
// write's failure from undoing the others.
func (s *Store) writer() {
	defer close(s.writerDone)
	batch := make([]*writeOp, 0, maxBatch)
	for {
		select {
		case op := <-s.writes:
			batch = s.takeQueued(append(batch[:0], op))
			s.commit(batch)
		case <-s.quit:
			// Finish what was queued before Close.
			for {
				batch = s.takeQueued(batch[:0])
				if len(batch) == 0 {
					return
				}
				s.commit(batch)
			}
		}
	}
}

// takeQueued appends the writes already waiting, without blocking.
func (s *Store) takeQueued(batch []*writeOp) []*writeOp {
	for len(batch) < maxBatch {
		select {
		case op := <-s.writes:
			batch = append(batch, op)
		default:
			return batch
		}
	}
	return batch
}

func (s *Store) commit(batch []*writeOp) {
	// The batch outlives any one caller's context: a caller who gives up
	// must not roll back the others.
	ctx := context.Background()
	results := make([]writeResult, len(batch))
	tx, err := s.writeDB.BeginTx(ctx, nil)
	if err != nil {
		s.log.Error("store: begin write transaction", "err", err, "writes", len(batch))
		for _, op := range batch {
			op.done <- writeResult{err: fmt.Errorf("begin: %w", err)}
		}
		return
	}
	for i, op := range batch {
		if err := op.ctx.Err(); err != nil {
			results[i].err = err
			continue
		}
		results[i] = runInSavepoint(ctx, tx, op.run)
	}
	if err := tx.Commit(); err != nil {
		s.log.Error("store: commit", "err", err, "writes", len(batch))
		for i := range results {
			if results[i].err == nil {
				results[i] = writeResult{err: fmt.Errorf("commit: %w", err)}
			}
		}
	}
	for i, op := range batch {
		op.done <- results[i]
	}
}

func runInSavepoint(ctx context.Context, tx *sql.Tx, run func(*sql.Tx) (int64, error)) writeResult {
	if _, err := tx.ExecContext(ctx, "SAVEPOINT write"); err != nil {
		return writeResult{err: fmt.Errorf("savepoint: %w", err)}
	}
	rows, err := run(tx)
	if err != nil {
		if _, rbErr := tx.ExecContext(ctx, "ROLLBACK TO write"); rbErr != nil {
			err = errors.Join(err, fmt.Errorf("rollback to savepoint: %w", rbErr))
		}
	}
	if _, relErr := tx.ExecContext(ctx, "RELEASE write"); relErr != nil && err == nil {
		err = fmt.Errorf("release savepoint: %w", relErr)
	}
	return writeResult{rows: rows, err: err}
}

// write hands run to the writer and waits for its result. If ctx ends while
// waiting, the write may still be committed.
func (s *Store) write(ctx context.Context, run func(tx *sql.Tx) (int64, error)) (int64, error) {
	op := &writeOp{ctx: ctx, run: run, done: make(chan writeResult, 1)}
	select {
	case <-s.quit:
		return 0, ErrClosed
	default:
	}
	select {
	case s.writes <- op:
	case <-s.quit:
		return 0, ErrClosed
	case <-ctx.Done():
		return 0, context.Cause(ctx)
	}
	select {
	case r := <-op.done:
		return r.rows, r.err
	case <-ctx.Done():
		return 0, context.Cause(ctx)
	case <-s.writerDone:
		// The writer may have answered just before it returned.
		select {
		case r := <-op.done:
			return r.rows, r.err
		default:
			return 0, ErrClosed
		}
	}
}

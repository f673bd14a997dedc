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
	"sync/atomic"
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
	// Prepared on writeDB for the hot write paths; used in the writer's
	// transactions through tx.Stmt.
	insertAgentEvent *sql.Stmt
	upsertDecision   *sql.Stmt
	upsertStage      *sql.Stmt

	writes chan *writeOp
	// sendMu orders sends on writes against Close: senders hold it shared
	// while they check closed and send, Close takes it exclusively before
	// closing quit. So every op that made it into the queue was queued
	// before the writer's final drain, and a queued write is never lost.
	sendMu sync.RWMutex
	closed bool

	// asyncFailed counts enqueued writes (no caller waiting) that failed.
	asyncFailed atomic.Int64

	quit       chan struct{} // closed by Close
	writerDone chan struct{} // closed when the writer goroutine returns
	closeOnce  sync.Once
	closeErr   error
}

type writeOp struct {
	ctx context.Context
	run func(tx *sql.Tx) (int64, error)
	// done is buffered: the writer never blocks on it. It is nil for a
	// write queued by enqueue, which no caller waits for: its failure is
	// logged under what and counted.
	done chan writeResult
	what string
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
	s := &Store{
		log:        log,
		writeDB:    writeDB,
		writes:     make(chan *writeOp, writeQueue),
		quit:       make(chan struct{}),
		writerDone: make(chan struct{}),
	}
	for _, p := range []struct {
		name  string
		stmt  **sql.Stmt
		query string
	}{
		{"upsert", &s.upsert, upsertSQL},
		{"insert agent event", &s.insertAgentEvent, insertAgentEventSQL},
		{"upsert decision", &s.upsertDecision, upsertDecisionSQL},
		{"upsert stage", &s.upsertStage, upsertStageSQL},
	} {
		if *p.stmt, err = writeDB.PrepareContext(ctx, p.query); err != nil {
			s.closeStmts()
			writeDB.Close()
			return nil, fmt.Errorf("open store %s: prepare %s: %w", path, p.name, err)
		}
	}

	readDB, err := sql.Open("sqlite3", dsn(path, url.Values{
		"mode":          {"ro"},
		"_busy_timeout": {busy},
	}))
	if err != nil {
		s.closeStmts()
		writeDB.Close()
		return nil, fmt.Errorf("open store %s: read pool: %w", path, err)
	}
	readDB.SetMaxOpenConns(readConns)
	readDB.SetMaxIdleConns(readConns)
	s.readDB = readDB

	go s.writer()
	return s, nil
}

// closeStmts closes the prepared statements that exist.
func (s *Store) closeStmts() error {
	var errs []error
	for _, st := range []*sql.Stmt{s.upsert, s.insertAgentEvent, s.upsertDecision, s.upsertStage} {
		if st != nil {
			errs = append(errs, st.Close())
		}
	}
	return errors.Join(errs...)
}

// dsn builds a SQLite URI: the path is escaped so that '?', '#' or '%' in a
// directory name cannot be read as URI syntax.
func dsn(path string, params url.Values) string {
	u := url.URL{Path: path}
	return "file:" + u.EscapedPath() + "?" + params.Encode()
}

// Close finishes the writes already queued (including those queued by the
// Async methods), then closes the database. Writes submitted after Close
// fail with ErrClosed.
func (s *Store) Close() error {
	s.closeOnce.Do(func() {
		// Wait out senders that are mid-send (the writer is still draining,
		// so they finish), then turn new ones away.
		s.sendMu.Lock()
		s.closed = true
		s.sendMu.Unlock()
		close(s.quit)
		<-s.writerDone
		s.closeErr = errors.Join(s.closeStmts(), s.readDB.Close(), s.writeDB.Close())
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
			s.finish(op, writeResult{err: fmt.Errorf("begin: %w", err)})
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
		s.finish(op, results[i])
	}
}

// finish hands a write its result, or logs and counts the failure of a
// write that no caller waits for.
func (s *Store) finish(op *writeOp, r writeResult) {
	if op.done != nil {
		op.done <- r
		return
	}
	if r.err != nil {
		s.asyncFailed.Add(1)
		s.log.Error("store: queued write failed", "write", op.what, "err", r.err)
	}
}

// FailedAsyncWrites is how many writes queued by the Async methods have
// failed since Open (each is also logged). Such a write can only fail the
// way any write can (disk full, I/O error, a constraint); it is never
// dropped for lack of queue space.
func (s *Store) FailedAsyncWrites() int64 { return s.asyncFailed.Load() }

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
	if err := s.send(ctx, op); err != nil {
		return 0, err
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

// enqueue hands run to the writer and returns without waiting for it to
// run: the write is committed (or its failure logged) later, and before
// Close returns. If the queue is full it waits for room, which the writer
// makes at the pace of its commits; it never drops the write.
func (s *Store) enqueue(what string, run func(tx *sql.Tx) (int64, error)) error {
	return s.send(context.Background(), &writeOp{ctx: context.Background(), run: run, what: what})
}

// send queues op for the writer, waiting for room, or fails with ErrClosed
// once Close has begun.
func (s *Store) send(ctx context.Context, op *writeOp) error {
	s.sendMu.RLock()
	defer s.sendMu.RUnlock()
	if s.closed {
		return ErrClosed
	}
	// Close cannot close quit while we hold sendMu, so the writer is
	// running and will take op.
	select {
	case s.writes <- op:
		return nil
	case <-ctx.Done():
		return context.Cause(ctx)
	}
}

package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"
)

var t0 = time.Date(2026, 11, 23, 9, 0, 0, 0, time.UTC)

func discard() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

func openTemp(t testing.TB) (*Store, string) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "data", "hotline.db")
	s, err := Open(path, discard())
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() {
		if err := s.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	return s, path
}

func fullCDR(id string, start time.Time) CDR {
	return CDR{
		CallID: id, Caller: "+15550100", Called: "+15550199", Trunk: "carrier-a",
		Start: start, Answer: start.Add(120 * time.Millisecond), End: start.Add(95 * time.Second),
		IVRDigits: "12#", FlowVersion: "sha256:ab12", Queue: "support", AgentID: "1001",
		QueueWait: 12345 * time.Millisecond, Talk: 80 * time.Second,
		Result: "answered", HangupBy: "caller", HangupCause: "bye",
		RecordingPath: "recordings/2026/11/23/" + id + ".wav",
	}
}

func TestCallLifecycleRoundTrip(t *testing.T) {
	ctx := context.Background()
	start := t0.Add(789 * time.Millisecond)
	want := fullCDR("c1", start)

	tests := []struct {
		name   string
		writes func(s *Store) error
		want   CDR
	}{
		{
			name: "answered then updated then ended",
			writes: func(s *Store) error {
				if err := s.CallAnswered(ctx, CDR{CallID: "c1", Caller: want.Caller, Called: want.Called, Trunk: want.Trunk, Start: want.Start, Answer: want.Answer, FlowVersion: want.FlowVersion}); err != nil {
					return err
				}
				if err := s.CallUpdated(ctx, CDR{CallID: "c1", IVRDigits: want.IVRDigits, Queue: want.Queue, RecordingPath: want.RecordingPath}); err != nil {
					return err
				}
				if err := s.CallUpdated(ctx, CDR{CallID: "c1", AgentID: want.AgentID, QueueWait: want.QueueWait}); err != nil {
					return err
				}
				return s.CallEnded(ctx, CDR{CallID: "c1", End: want.End, Talk: want.Talk, Result: want.Result, HangupBy: want.HangupBy, HangupCause: want.HangupCause})
			},
			want: want,
		},
		{
			name:   "one full write",
			writes: func(s *Store) error { return s.CallEnded(ctx, want) },
			want:   want,
		},
		{
			name: "live call has no end",
			writes: func(s *Store) error {
				return s.CallAnswered(ctx, CDR{CallID: "c1", Start: start, Answer: start})
			},
			want: CDR{CallID: "c1", Start: start, Answer: start},
		},
		{
			name: "empty fields do not erase stored ones",
			writes: func(s *Store) error {
				if err := s.CallEnded(ctx, want); err != nil {
					return err
				}
				return s.CallUpdated(ctx, CDR{CallID: "c1"})
			},
			want: want,
		},
		{
			name: "times keep millisecond precision",
			writes: func(s *Store) error {
				return s.CallAnswered(ctx, CDR{CallID: "c1", Start: start.Add(999 * time.Microsecond), QueueWait: 1500 * time.Microsecond})
			},
			want: CDR{CallID: "c1", Start: start, QueueWait: time.Millisecond},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, _ := openTemp(t)
			if err := tt.writes(s); err != nil {
				t.Fatal(err)
			}
			got, err := s.Call(ctx, "c1")
			if err != nil {
				t.Fatal(err)
			}
			if got != tt.want {
				t.Errorf("Call:\n got  %+v\n want %+v", got, tt.want)
			}
		})
	}
}

func TestInvalidWrites(t *testing.T) {
	ctx := context.Background()
	s, _ := openTemp(t)
	tests := []struct {
		name  string
		write func() error
	}{
		{"answered without start", func() error { return s.CallAnswered(ctx, CDR{CallID: "x"}) }},
		{"answered without id", func() error { return s.CallAnswered(ctx, CDR{Start: t0}) }},
		{"updated without id", func() error { return s.CallUpdated(ctx, CDR{Queue: "q"}) }},
		{"ended without end", func() error { return s.CallEnded(ctx, CDR{CallID: "x", Start: t0}) }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if err := tt.write(); !errors.Is(err, ErrInvalidCDR) {
				t.Errorf("got %v, want ErrInvalidCDR", err)
			}
		})
	}
	// A first write without Start reaches SQLite and fails there, without
	// spoiling the writes batched with it.
	if err := s.CallUpdated(ctx, CDR{CallID: "no-start", Queue: "q"}); err == nil {
		t.Error("CallUpdated creating a row without Start succeeded")
	}
	if err := s.CallAnswered(ctx, CDR{CallID: "ok", Start: t0}); err != nil {
		t.Errorf("write after a failed one: %v", err)
	}
}

func TestCallNotFound(t *testing.T) {
	s, _ := openTemp(t)
	if _, err := s.Call(context.Background(), "nope"); !errors.Is(err, ErrNotFound) {
		t.Errorf("got %v, want ErrNotFound", err)
	}
}

func TestListCallsNewestFirst(t *testing.T) {
	ctx := context.Background()
	s, _ := openTemp(t)
	// Inserted out of order; c3 and c4 start in the same millisecond.
	starts := map[string]time.Duration{"c1": 0, "c5": 4 * time.Second, "c2": time.Second, "c4": 3 * time.Second, "c3": 3 * time.Second}
	for id, off := range starts {
		if err := s.CallAnswered(ctx, CDR{CallID: id, Start: t0.Add(off)}); err != nil {
			t.Fatal(err)
		}
	}
	tests := []struct {
		name string
		opts ListOptions
		want []string
	}{
		{"all", ListOptions{}, []string{"c5", "c4", "c3", "c2", "c1"}},
		{"limit", ListOptions{Limit: 2}, []string{"c5", "c4"}},
		{"before a time", ListOptions{Before: t0.Add(3 * time.Second)}, []string{"c2", "c1"}},
		{"before a row, same millisecond", ListOptions{Before: t0.Add(3 * time.Second), BeforeCallID: "c4"}, []string{"c3", "c2", "c1"}},
		{"before the first", ListOptions{Before: t0}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			calls, err := s.ListCalls(ctx, tt.opts)
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, c := range calls {
				got = append(got, c.CallID)
			}
			if fmt.Sprint(got) != fmt.Sprint(tt.want) {
				t.Errorf("got %v, want %v", got, tt.want)
			}
		})
	}
}

func TestCloseDangling(t *testing.T) {
	ctx := context.Background()
	s, _ := openTemp(t)
	ended := fullCDR("ended", t0)
	must(t, s.CallEnded(ctx, ended))
	must(t, s.CallAnswered(ctx, CDR{CallID: "live-1", Start: t0}))
	must(t, s.CallUpdated(ctx, CDR{CallID: "live-2", Start: t0, HangupBy: "agent", Queue: "support"}))

	restart := t0.Add(time.Hour)
	n, err := s.CloseDangling(ctx, "system-restart", restart)
	if err != nil || n != 2 {
		t.Fatalf("CloseDangling = %d, %v; want 2 rows", n, err)
	}
	tests := []struct {
		id   string
		want CDR
	}{
		{"ended", ended},
		{"live-1", CDR{CallID: "live-1", Start: t0, End: restart, HangupBy: "system", HangupCause: "system-restart"}},
		{"live-2", CDR{CallID: "live-2", Start: t0, End: restart, HangupBy: "agent", HangupCause: "system-restart", Queue: "support"}},
	}
	for _, tt := range tests {
		t.Run(tt.id, func(t *testing.T) {
			got, err := s.Call(ctx, tt.id)
			if err != nil {
				t.Fatal(err)
			}
			if got != tt.want {
				t.Errorf("\n got  %+v\n want %+v", got, tt.want)
			}
		})
	}
	if n, err := s.CloseDangling(ctx, "system-restart", restart); err != nil || n != 0 {
		t.Errorf("second CloseDangling = %d, %v; want 0", n, err)
	}
}

func TestConcurrentWriters(t *testing.T) {
	ctx := context.Background()
	s, _ := openTemp(t)
	const writers, callsEach = 16, 50
	var wg sync.WaitGroup
	for w := range writers {
		wg.Go(func() {
			for i := range callsEach {
				id := fmt.Sprintf("w%d-c%d", w, i)
				start := t0.Add(time.Duration(w*callsEach+i) * time.Millisecond)
				if err := s.CallAnswered(ctx, CDR{CallID: id, Start: start}); err != nil {
					t.Error(err)
					return
				}
				if err := s.CallEnded(ctx, CDR{CallID: id, End: start.Add(time.Second), Result: "answered"}); err != nil {
					t.Error(err)
					return
				}
			}
		})
	}
	// Reads run alongside the writes on their own pool.
	wg.Go(func() {
		for range 20 {
			if _, err := s.ListCalls(ctx, ListOptions{Limit: 10}); err != nil {
				t.Error(err)
			}
		}
	})
	wg.Wait()
	calls, err := s.ListCalls(ctx, ListOptions{Limit: MaxListLimit})
	if err != nil {
		t.Fatal(err)
	}
	if len(calls) != writers*callsEach {
		t.Fatalf("%d rows, want %d", len(calls), writers*callsEach)
	}
	for _, c := range calls {
		if c.End.IsZero() || c.Result != "answered" {
			t.Fatalf("row %s not ended: %+v", c.CallID, c)
		}
	}
}

func TestReopenKeepsData(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "hotline.db")
	s, err := Open(path, discard())
	if err != nil {
		t.Fatal(err)
	}
	want := fullCDR("c1", t0)
	must(t, s.CallEnded(ctx, want))
	must(t, s.Close())
	if err := s.CallUpdated(ctx, CDR{CallID: "c1"}); !errors.Is(err, ErrClosed) {
		t.Errorf("write after Close = %v, want ErrClosed", err)
	}
	if err := s.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}

	s, err = Open(path, discard())
	if err != nil {
		t.Fatalf("reopen: %v", err)
	}
	defer s.Close()
	got, err := s.Call(ctx, "c1")
	if err != nil || got != want {
		t.Errorf("after reopen: %+v, %v; want %+v", got, err, want)
	}
}

func TestCloseFinishesQueuedWrites(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "hotline.db")
	s, err := Open(path, discard())
	if err != nil {
		t.Fatal(err)
	}
	const n = 200
	errs := make(chan error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() { errs <- s.CallAnswered(ctx, CDR{CallID: fmt.Sprint(i), Start: t0}) })
	}
	must(t, s.Close())
	wg.Wait()
	close(errs)
	succeeded := 0
	for err := range errs {
		switch {
		case err == nil:
			succeeded++
		case errors.Is(err, ErrClosed):
		default:
			t.Errorf("write racing Close: %v", err)
		}
	}
	s, err = Open(path, discard())
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	calls, err := s.ListCalls(ctx, ListOptions{Limit: MaxListLimit})
	if err != nil {
		t.Fatal(err)
	}
	// Every write reported as done is on disk.
	if len(calls) < succeeded {
		t.Errorf("%d rows on disk, but %d writes succeeded", len(calls), succeeded)
	}
}

func TestMigrations(t *testing.T) {
	tests := []struct {
		name    string
		prepare func(t *testing.T, path string)
		wantErr error
	}{
		{name: "missing file", prepare: func(*testing.T, string) {}},
		{name: "empty file", prepare: func(t *testing.T, path string) {
			must(t, os.WriteFile(path, nil, 0o600))
		}},
		{name: "newer schema", prepare: func(t *testing.T, path string) {
			db, err := sql.Open("sqlite3", path)
			must(t, err)
			_, err = db.Exec(fmt.Sprintf("PRAGMA user_version = %d", len(migrations)+1))
			must(t, err)
			must(t, db.Close())
		}, wantErr: ErrSchemaTooNew},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "hotline.db")
			tt.prepare(t, path)
			s, err := Open(path, discard())
			if tt.wantErr != nil {
				if !errors.Is(err, tt.wantErr) {
					t.Fatalf("Open = %v, want %v", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			defer s.Close()
			var version int
			var mode string
			must(t, s.readDB.QueryRow("PRAGMA user_version").Scan(&version))
			must(t, s.readDB.QueryRow("PRAGMA journal_mode").Scan(&mode))
			if version != len(migrations) || mode != "wal" {
				t.Errorf("user_version %d, journal_mode %q; want %d, wal", version, mode, len(migrations))
			}
			must(t, s.CallAnswered(context.Background(), CDR{CallID: "c", Start: t0}))
		})
	}
}

func TestReadPoolIsReadOnly(t *testing.T) {
	s, _ := openTemp(t)
	if _, err := s.readDB.Exec("DELETE FROM calls"); err == nil {
		t.Error("read pool accepted a write")
	}
}

func TestPathNeedingEscape(t *testing.T) {
	path := filepath.Join(t.TempDir(), "odd ?#% dir", "hotline.db")
	s, err := Open(path, discard())
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if _, err := os.Stat(path); err != nil {
		t.Errorf("database not at %s: %v", path, err)
	}
}

func must(t testing.TB, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// BenchmarkCallAnswered measures inserts through the single writer: one
// caller at a time (a commit each) and many at once (batched commits).
func BenchmarkCallAnswered(b *testing.B) {
	ctx := context.Background()
	b.Run("serial", func(b *testing.B) {
		s, _ := openTemp(b)
		b.ResetTimer()
		for i := range b.N {
			if err := s.CallAnswered(ctx, fullCDR(fmt.Sprint(i), t0)); err != nil {
				b.Fatal(err)
			}
		}
		b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "inserts/s")
	})
	b.Run("parallel", func(b *testing.B) {
		s, _ := openTemp(b)
		var mu sync.Mutex
		next := 0
		b.SetParallelism(16)
		b.ResetTimer()
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				mu.Lock()
				next++
				id := fmt.Sprint(next)
				mu.Unlock()
				if err := s.CallAnswered(ctx, fullCDR(id, t0)); err != nil {
					b.Error(err)
					return
				}
			}
		})
		b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "inserts/s")
	})
}

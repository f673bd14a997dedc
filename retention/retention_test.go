package retention

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/hotline-cc/hotline/clock"
	"github.com/hotline-cc/hotline/config"
	"github.com/hotline-cc/hotline/recorder"
	"github.com/hotline-cc/hotline/store"
)

// ended is when every test call ended.
var ended = time.Date(2025, 1, 10, 12, 0, 0, 0, time.UTC)

type fixture struct {
	t       *testing.T
	store   *store.Store
	dir     string
	clock   *clock.Fake
	reg     *prometheus.Registry
	sweeper *Sweeper
}

// newFixture runs a sweeper over a real store with the policy card 180
// days, complaint 1095, marketing for ever, default 365, swept hourly.
func newFixture(t *testing.T) *fixture {
	t.Helper()
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	st, err := store.Open(filepath.Join(t.TempDir(), "hotline.db"), log)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	cfg := &config.Config{Recordings: config.Recordings{
		RetentionDays:        map[string]int{"card": 180, "complaint": 1095, "marketing": 0},
		DefaultRetentionDays: 365,
		SweepEvery:           time.Hour,
	}}
	f := &fixture{t: t, store: st, dir: t.TempDir(), clock: clock.NewFake(ended), reg: prometheus.NewRegistry()}
	f.sweeper = New(Deps{Store: st, Config: func() *config.Config { return cfg }, Dir: f.dir, Clock: f.clock, Log: log, Metrics: NewMetrics(f.reg)})
	return f
}

// recorded writes an ended call of businessType with a recording file.
func (f *fixture) recorded(id, businessType string) string {
	f.t.Helper()
	path := filepath.Join(f.dir, id+".wav")
	if err := os.WriteFile(path, []byte("RIFF"), 0o600); err != nil {
		f.t.Fatal(err)
	}
	f.recordedAt(id, businessType, path)
	return path
}

func (f *fixture) recordedAt(id, businessType, path string) {
	f.t.Helper()
	ctx := context.Background()
	start := ended.Add(-time.Minute)
	if err := f.store.CallAnswered(ctx, store.CDR{CallID: id, Start: start, Answer: start}); err != nil {
		f.t.Fatal(err)
	}
	if err := f.store.CallEnded(ctx, store.CDR{CallID: id, End: ended, BusinessType: businessType, RecordingPath: path}); err != nil {
		f.t.Fatal(err)
	}
}

// sweepAt sets the clock to days after the calls ended, plus ms, and
// sweeps.
func (f *fixture) sweepAt(days, ms int) int {
	f.t.Helper()
	f.clock.Set(ended.Add(time.Duration(days)*24*time.Hour + time.Duration(ms)*time.Millisecond))
	n, err := f.sweeper.Sweep(context.Background())
	if err != nil {
		f.t.Fatal(err)
	}
	return n
}

// kept fails unless exactly the listed files exist and the others were
// deleted and marked.
func (f *fixture) kept(when string, files map[string]bool) {
	f.t.Helper()
	for id, want := range files {
		_, err := os.Stat(filepath.Join(f.dir, id+".wav"))
		c, cerr := f.store.Call(context.Background(), id)
		if cerr != nil {
			f.t.Fatal(cerr)
		}
		if exists := err == nil; exists != want || c.RecordingDeleted.IsZero() != want {
			f.t.Errorf("%s: %s file exists %v, marked deleted at %v; want kept %v", when, id, exists, c.RecordingDeleted, want)
		}
	}
}

// TestRetentionSweepDeletesAtEachBusinessTypesEdge: each business type's
// recordings go one millisecond after their retention ran out, not
// before; legal hold and "for ever" keep theirs.
func TestRetentionSweepDeletesAtEachBusinessTypesEdge(t *testing.T) {
	f := newFixture(t)
	for _, c := range [][2]string{{"card", "card"}, {"complaint", "complaint"}, {"marketing", "marketing"}, {"plain", ""}, {"held", "card"}} {
		f.recorded(c[0], c[1])
	}
	if err := f.store.SetLegalHold(context.Background(), "held", true); err != nil {
		t.Fatal(err)
	}
	all := func(deleted ...string) map[string]bool {
		m := map[string]bool{"card": true, "complaint": true, "marketing": true, "plain": true, "held": true}
		for _, id := range deleted {
			m[id] = false
		}
		return m
	}
	for _, step := range []struct {
		days, ms int
		deleted  int
		gone     []string
	}{
		{180, 0, 0, nil},
		{180, 1, 1, []string{"card"}},
		{365, 0, 0, []string{"card"}},
		{365, 1, 1, []string{"card", "plain"}},
		{1095, 0, 0, []string{"card", "plain"}},
		{1095, 1, 1, []string{"card", "plain", "complaint"}},
		{50 * 365, 0, 0, []string{"card", "plain", "complaint"}},
	} {
		when := time.Duration(step.days)*24*time.Hour + time.Duration(step.ms)*time.Millisecond
		if n := f.sweepAt(step.days, step.ms); n != step.deleted {
			t.Errorf("after %s: deleted %d, want %d", when, n, step.deleted)
		}
		f.kept("after "+when.String(), all(step.gone...))
	}
	if got := gathered(t, f.reg); got["hotline_recordings_deleted_total"] != 3 || got["hotline_recordings_retention_errors_total"] != 0 {
		t.Errorf("metrics %v, want 3 deleted and no errors", got)
	}
}

// TestRetentionRunSweepsEveryInterval: Run sweeps at start and then every
// SweepEvery of its clock.
func TestRetentionRunSweepsEveryInterval(t *testing.T) {
	f := newFixture(t)
	f.clock.Set(ended.Add(180*24*time.Hour - 30*time.Minute))
	f.recorded("card", "card")
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error)
	go func() { done <- f.sweeper.Run(ctx) }()
	defer func() {
		cancel()
		if err := <-done; err != nil {
			t.Error(err)
		}
	}()
	waitCtx, stop := context.WithTimeout(ctx, 10*time.Second)
	defer stop()
	if err := f.clock.WaitForTimers(waitCtx, 1); err != nil { // the first sweep is over
		t.Fatal(err)
	}
	f.kept("at start", map[string]bool{"card": true})
	f.clock.Advance(time.Hour) // 30 minutes past the edge
	if err := f.clock.WaitForTimers(waitCtx, 1); err != nil {
		t.Fatal(err)
	}
	f.kept("an hour later", map[string]bool{"card": false})
}

// TestRetentionSweepInBatches: a backlog larger than Batch is worked off
// in one sweep, pass after pass.
func TestRetentionSweepInBatches(t *testing.T) {
	if testing.Short() {
		t.Skip("writes over a thousand calls")
	}
	f := newFixture(t)
	n := 2*Batch + 7
	for i := range n {
		f.recordedAt(fmt.Sprintf("c%04d", i), "card", filepath.Join(f.dir, "missing.wav"))
	}
	if got := f.sweepAt(181, 0); got != n {
		t.Errorf("deleted %d, want %d (missing files count as deleted)", got, n)
	}
	if got := f.sweepAt(182, 0); got != 0 {
		t.Errorf("second sweep deleted %d", got)
	}
}

// TestRetentionGoesPastRecordingsItCannotDelete: a full batch of rows
// naming files outside the folder (all ended first, so listed first) does
// not keep the sweep from deleting the expired recordings after them.
func TestRetentionGoesPastRecordingsItCannotDelete(t *testing.T) {
	if testing.Short() {
		t.Skip("writes over five hundred calls")
	}
	f := newFixture(t)
	outside := filepath.Join(t.TempDir(), "elsewhere.wav")
	for i := range Batch {
		f.recordedAt(fmt.Sprintf("a%04d", i), "card", outside) // IDs sort before the next one's
	}
	f.recordedAt("z-deletable", "card", filepath.Join(f.dir, "missing.wav"))
	if got := f.sweepAt(181, 0); got != 1 {
		t.Errorf("deleted %d, want the one deletable recording behind %d undeletable ones", got, Batch)
	}
}

// TestRetentionRefusesPathsOutsideTheFolder: a row naming a file outside
// the recordings folder is counted as an error, and the file stays.
func TestRetentionRefusesPathsOutsideTheFolder(t *testing.T) {
	f := newFixture(t)
	outside := filepath.Join(t.TempDir(), "precious.wav")
	if err := os.WriteFile(outside, []byte("x"), 0o600); err != nil {
		t.Fatal(err)
	}
	f.recordedAt("odd", "card", outside)
	f.recordedAt("dotdot", "card", filepath.Join(f.dir, "..", "precious.wav"))
	if n := f.sweepAt(181, 0); n != 0 {
		t.Errorf("deleted %d", n)
	}
	if _, err := os.Stat(outside); err != nil {
		t.Errorf("file outside the folder: %v", err)
	}
	if got := gathered(t, f.reg)["hotline_recordings_retention_errors_total"]; got != 2 {
		t.Errorf("hotline_recordings_retention_errors_total = %v, want 2", got)
	}
	if c, _ := f.store.Call(context.Background(), "odd"); !c.RecordingDeleted.IsZero() {
		t.Error("refused recording marked deleted")
	}
}

// TestDiskCollector exports the recordings disk's free space and the
// writer's write errors.
func TestDiskCollector(t *testing.T) {
	c := NewDiskCollector(t.TempDir(), func() recorder.Stats { return recorder.Stats{WriteErrors: 2} })
	reg := prometheus.NewRegistry()
	reg.MustRegister(c)
	if got := gathered(t, reg); got["hotline_recordings_write_errors_total"] != 2 || got["hotline_recordings_disk_free_bytes"] <= 0 {
		t.Errorf("metrics %v", got)
	}
}

// gathered reads reg's metrics (each with one series) by name.
func gathered(t *testing.T, reg *prometheus.Registry) map[string]float64 {
	t.Helper()
	families, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]float64{}
	for _, mf := range families {
		m := mf.GetMetric()[0]
		got[mf.GetName()] = m.GetGauge().GetValue() + m.GetCounter().GetValue()
	}
	return got
}

// Package retention keeps the recordings' disk in order: a sweeper deletes
// recordings older than their business type's retention (never those on
// legal hold), and a collector exports the disk's free space and the
// recording writer's failures.
package retention

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/hotline-cc/hotline/clock"
	"github.com/hotline-cc/hotline/config"
	"github.com/hotline-cc/hotline/recorder"
	"github.com/hotline-cc/hotline/store"
)

// Batch is how many expired recordings one pass deletes: a large backlog
// (retention shortened, a long stop) is worked off in passes, each one
// query and Batch small writes, so other writers are never held up long.
const Batch = 500

// Deps are what a Sweeper works with.
type Deps struct {
	Store *store.Store
	// Config is the running configuration, read at each sweep so that
	// retention and the interval follow reloads.
	Config func() *config.Config
	// Dir is the recordings folder: a path outside it is never deleted
	// (a row pointing elsewhere is counted as an error). "" checks nothing.
	Dir     string
	Clock   clock.Clock // nil: the real clock
	Log     *slog.Logger
	Metrics *Metrics // nil: unregistered
}

// Sweeper deletes expired recordings.
type Sweeper struct{ d Deps }

// New returns a Sweeper; call Run to start it.
func New(d Deps) *Sweeper {
	if d.Clock == nil {
		d.Clock = clock.Real{}
	}
	if d.Log == nil {
		d.Log = slog.Default()
	}
	if d.Metrics == nil {
		d.Metrics = NewMetrics(nil)
	}
	return &Sweeper{d: d}
}

// Run sweeps at once (a restart must not put the next sweep off for
// ever), then every recordings.sweep_every, until ctx ends.
func (s *Sweeper) Run(ctx context.Context) error {
	for {
		_, _ = s.Sweep(ctx) // failures are logged and counted where they happen
		if !s.wait(ctx, s.every()) {
			return nil
		}
	}
}

func (s *Sweeper) every() time.Duration {
	if d := s.d.Config().Recordings.SweepEvery; d > 0 {
		return d
	}
	return config.DefaultSweepEvery
}

// wait sleeps d on the Sweeper's clock; false when ctx ended first.
func (s *Sweeper) wait(ctx context.Context, d time.Duration) bool {
	fired := make(chan struct{})
	t := s.d.Clock.AfterFunc(d, func() { close(fired) })
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-fired:
		return true
	}
}

// Sweep deletes every recording expired now, pass after pass of Batch,
// and returns how many it deleted. Each pass starts after the last one's
// last recording, so recordings that cannot be deleted are passed over
// (the next sweep tries them again) and never hold the others back.
func (s *Sweeper) Sweep(ctx context.Context) (int, error) {
	total := 0
	var after store.CDR
	for {
		deleted, listed, last, err := s.pass(ctx, after)
		total += deleted
		if err != nil || listed < Batch {
			return total, err
		}
		after = last
	}
}

// pass deletes one batch after after; it returns how many were deleted
// and listed, and the last listed.
func (s *Sweeper) pass(ctx context.Context, after store.CDR) (deleted, listed int, last store.CDR, err error) {
	now := s.d.Clock.Now()
	rec := s.d.Config().Recordings
	calls, err := s.d.Store.ExpiredRecordingsAfter(ctx, now, rec.RetentionFor, Batch, after)
	if err != nil {
		if ctx.Err() == nil {
			s.d.Metrics.errors.Inc()
			s.d.Log.Error("retention: listing expired recordings", "err", err)
		}
		return 0, 0, after, err
	}
	if len(calls) > 0 {
		last = calls[len(calls)-1]
	}
	for _, c := range calls {
		if err := ctx.Err(); err != nil {
			return deleted, len(calls), last, err
		}
		ok, err := s.delete(ctx, c, now)
		if err != nil {
			s.d.Metrics.errors.Inc()
			s.d.Log.Error("retention: recording not deleted", "call_id", c.CallID, "path", c.RecordingPath, "err", err)
			continue
		}
		if ok {
			deleted++
			s.d.Metrics.deleted.Inc()
			s.d.Log.Info("retention: recording deleted", "call_id", c.CallID, "business_type", c.BusinessType,
				"ended", c.End, "retention_days", rec.RetentionFor(c.BusinessType))
		}
	}
	return deleted, len(calls), last, nil
}

// delete removes c's recording, marking it deleted first (see
// store.ClaimExpiredRecording); false, nil when a legal hold came first.
// A file already gone counts as deleted.
func (s *Sweeper) delete(ctx context.Context, c store.CDR, now time.Time) (bool, error) {
	if err := s.checkInside(c.RecordingPath); err != nil {
		return false, err
	}
	claimed, err := s.d.Store.ClaimExpiredRecording(ctx, c.CallID, now)
	if err != nil || !claimed {
		if err == nil {
			s.d.Log.Info("retention: recording kept, it went on legal hold (or was deleted) meanwhile", "call_id", c.CallID)
		}
		return false, err
	}
	if err := os.Remove(c.RecordingPath); err != nil && !errors.Is(err, fs.ErrNotExist) {
		// Unmark it, so that it is not shown as deleted and is tried again.
		return false, errors.Join(err, s.d.Store.ReleaseExpiredRecording(ctx, c.CallID, now))
	}
	return true, nil
}

// checkInside refuses a path outside Dir: the sweeper deletes recordings,
// never whatever a damaged row names.
func (s *Sweeper) checkInside(path string) error {
	if s.d.Dir == "" {
		return nil
	}
	dir, derr := filepath.Abs(s.d.Dir)
	abs, perr := filepath.Abs(path)
	if derr != nil || perr != nil {
		return errors.Join(derr, perr)
	}
	rel, err := filepath.Rel(dir, abs)
	if err != nil || rel == ".." || strings.HasPrefix(rel, ".."+string(filepath.Separator)) || rel == "." {
		return fmt.Errorf("%s is not in the recordings folder %s", path, s.d.Dir)
	}
	return nil
}

// Metrics are the sweeper's counters.
type Metrics struct {
	deleted, errors prometheus.Counter
}

// NewMetrics registers the sweeper's metrics on reg (nil: unregistered).
func NewMetrics(reg prometheus.Registerer) *Metrics {
	m := &Metrics{
		deleted: prometheus.NewCounter(prometheus.CounterOpts{
			Namespace: "hotline", Subsystem: "recordings", Name: "deleted_total",
			Help: "Recordings deleted by retention.",
		}),
		errors: prometheus.NewCounter(prometheus.CounterOpts{
			Namespace: "hotline", Subsystem: "recordings", Name: "retention_errors_total",
			Help: "Retention failures: a recording that could not be deleted, or a sweep that could not list them.",
		}),
	}
	if reg != nil {
		reg.MustRegister(m.deleted, m.errors)
	}
	return m
}

// DiskCollector exports, at scrape time, the free space of the recordings'
// disk (the figure calls compare with recordings.min_free_bytes) and how
// many recordings a write error stopped.
type DiskCollector struct {
	dir         string
	stats       func() recorder.Stats
	free, write *prometheus.Desc
}

// NewDiskCollector reads dir's filesystem and the writer's stats.
func NewDiskCollector(dir string, stats func() recorder.Stats) *DiskCollector {
	return &DiskCollector{
		dir: dir, stats: stats,
		free: prometheus.NewDesc("hotline_recordings_disk_free_bytes",
			"Free space on the recordings' disk (absent when it cannot be read); below recordings.min_free_bytes calls are not recorded.", nil, nil),
		write: prometheus.NewDesc("hotline_recordings_write_errors_total",
			"Recordings stopped by a write error (disk full, I/O error); the call went on and the file keeps the audio written before.", nil, nil),
	}
}

// Describe implements prometheus.Collector.
func (c *DiskCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- c.free
	ch <- c.write
}

// Collect implements prometheus.Collector.
func (c *DiskCollector) Collect(ch chan<- prometheus.Metric) {
	if free, err := recorder.FreeBytes(c.dir); err == nil {
		ch <- prometheus.MustNewConstMetric(c.free, prometheus.GaugeValue, float64(free))
	}
	ch <- prometheus.MustNewConstMetric(c.write, prometheus.CounterValue, float64(c.stats().WriteErrors))
}

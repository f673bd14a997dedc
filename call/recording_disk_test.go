package call

import (
	"io"
	"log/slog"
	"math"
	"os"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/hotline-cc/hotline/config"
	"github.com/hotline-cc/hotline/recorder"
)

// TestDiskLowSkipsRecording: below recordings.min_free_bytes a call is not
// recorded (it goes on), counted as skipped for disk-full; with room it is.
func TestDiskLowSkipsRecording(t *testing.T) {
	cfg := &config.Config{}
	reg := prometheus.NewRegistry()
	w := recorder.NewWriter(nil)
	defer w.Close()
	m := NewManager(Deps{
		Runtime: func() *Runtime { return &Runtime{Config: cfg} }, Recorder: w, RecordingsDir: t.TempDir(), Metrics: NewMetrics(reg),
	})
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	at := time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC)

	cfg.Recordings.MinFreeBytes = math.MaxInt64 // more than any disk has free
	if rec, path := m.createRecording("low", at, log); rec != nil || path != "" {
		t.Fatalf("recorded at %q with the disk low", path)
	}
	cfg.Recordings.MinFreeBytes = 1
	rec, path := m.createRecording("room", at, log)
	if rec == nil {
		t.Fatal("not recorded with room on the disk")
	}
	if err := rec.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(path); err != nil {
		t.Error(err)
	}
	skipped := -1.0
	families, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range families {
		if mf.GetName() == "hotline_recordings_skipped_total" {
			for _, s := range mf.GetMetric() {
				if s.GetLabel()[0].GetValue() == "disk-full" {
					skipped = s.GetCounter().GetValue()
				}
			}
		}
	}
	if skipped != 1 {
		t.Errorf(`hotline_recordings_skipped_total{reason="disk-full"} = %v, want 1`, skipped)
	}
}

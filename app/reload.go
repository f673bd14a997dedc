package app

import (
	"context"
	"os"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// watchInterval is how often the configuration file is looked at. Polling
// the modification time and size is enough for a file an admin saves now
// and then, and works where inotify does not (network file systems,
// editors that replace the file).
const watchInterval = 2 * time.Second

// watch reloads when the file at path changes, until ctx ends. A change is
// only acted on once the file has been the same for one interval, so a
// reload never reads a half-written file.
func (a *App) watch(ctx context.Context, path string) error {
	type stamp struct {
		mod  time.Time
		size int64
	}
	read := func() stamp {
		fi, err := os.Stat(path)
		if err != nil {
			return stamp{}
		}
		return stamp{fi.ModTime(), fi.Size()}
	}
	loaded, seen := read(), read()
	t := time.NewTicker(watchInterval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
		now := read()
		if now != seen {
			seen = now // changed: wait for it to settle
			continue
		}
		if now == loaded || now == (stamp{}) {
			continue
		}
		loaded = now
		a.log.Info("configuration file changed, reloading", "path", path)
		_ = a.ReloadFromSource() // logged and counted there
	}
}

// reloadMetrics count reloads and say whether the last one failed, so an
// alert catches a file that was saved with errors (the old configuration
// keeps running, quietly out of step with the file).
type reloadMetrics struct {
	total      *prometheus.CounterVec
	lastFailed prometheus.Gauge
	lastOK     prometheus.Gauge
}

func newReloadMetrics(reg prometheus.Registerer) *reloadMetrics {
	m := &reloadMetrics{
		total: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: "hotline", Subsystem: "config", Name: "reloads_total",
			Help: "Configuration reloads by result (ok, error).",
		}, []string{"result"}),
		lastFailed: prometheus.NewGauge(prometheus.GaugeOpts{
			Namespace: "hotline", Subsystem: "config", Name: "last_reload_failed",
			Help: "1 when the last reload was refused (the running configuration is older than the file).",
		}),
		lastOK: prometheus.NewGauge(prometheus.GaugeOpts{
			Namespace: "hotline", Subsystem: "config", Name: "last_reload_success_timestamp_seconds",
			Help: "When the configuration was last loaded successfully (start or reload), Unix seconds.",
		}),
	}
	m.total.WithLabelValues("ok")
	m.total.WithLabelValues("error")
	m.lastOK.SetToCurrentTime()
	reg.MustRegister(m.total, m.lastFailed, m.lastOK)
	return m
}

func (m *reloadMetrics) record(err error) {
	if err != nil {
		m.total.WithLabelValues("error").Inc()
		m.lastFailed.Set(1)
		return
	}
	m.total.WithLabelValues("ok").Inc()
	m.lastFailed.Set(0)
	m.lastOK.SetToCurrentTime()
}

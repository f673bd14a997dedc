package call

import (
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// Metrics are the conductor's counters.
type Metrics struct {
	calls     *prometheus.CounterVec
	dtmfTotal prometheus.Counter
	wait      *prometheus.HistogramVec
}

// callResults are touched at start so every series exists before the first call.
var callResults = []string{"completed", "abandoned", "ivr", "failed"}

// NewMetrics registers the call metrics on reg (nil: unregistered).
func NewMetrics(reg prometheus.Registerer) *Metrics {
	m := &Metrics{
		calls: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: "hotline", Subsystem: "calls", Name: "total",
			Help: "Calls ended, by result: completed (talked to an agent), abandoned (hung up while queued), ivr (ended in the IVR), failed.",
		}, []string{"result"}),
		dtmfTotal: prometheus.NewCounter(prometheus.CounterOpts{
			Namespace: "hotline", Subsystem: "calls", Name: "dtmf_digits_total",
			Help: "RFC 4733 DTMF digits received from callers.",
		}),
		wait: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Namespace: "hotline", Subsystem: "queue", Name: "wait_seconds",
			Help:    "Time callers waited in a queue before an agent answered.",
			Buckets: []float64{1, 5, 10, 20, 30, 60, 120, 300, 600},
		}, []string{"queue"}),
	}
	for _, r := range callResults {
		m.calls.WithLabelValues(r)
	}
	if reg != nil {
		reg.MustRegister(m.calls, m.dtmfTotal, m.wait)
	}
	return m
}

func (m *Metrics) callEnded(result string) {
	if result == "" {
		result = "failed"
	}
	m.calls.WithLabelValues(result).Inc()
}

func (m *Metrics) dtmf() { m.dtmfTotal.Inc() }

func (m *Metrics) queueWait(queue string, d time.Duration) {
	m.wait.WithLabelValues(queue).Observe(d.Seconds())
}

package call

import (
	"slices"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/hotline-cc/hotline/ivr"
)

// Metrics are the conductor's counters.
type Metrics struct {
	calls      *prometheus.CounterVec
	dtmfTotal  prometheus.Counter
	wait       *prometheus.HistogramVec
	ivrVisits  *prometheus.CounterVec
	ivrChoices *prometheus.CounterVec
	dips       *prometheus.CounterVec
	dipSeconds *prometheus.HistogramVec
	transfers  *prometheus.CounterVec
	// agentTransfers are what agents do with connected calls.
	agentTransfers *prometheus.CounterVec
	surveys        *prometheus.CounterVec
	onHold         prometheus.Gauge
	holds          prometheus.Counter
	holdTime       prometheus.Histogram
	monitors       *prometheus.GaugeVec
	// analyses counts recordings analyzed when their call ended, hooks
	// the analytics hook's runs, by result.
	analyses, hooks *prometheus.CounterVec
	// recordingsSkipped counts calls not recorded, by reason.
	recordingsSkipped *prometheus.CounterVec
	// offerDelays is queue entry to the first agent INVITE.
	offerDelays prometheus.Histogram
	// healthHangups counts calls hotline ended because a leg or the call
	// itself was unhealthy, by cause (healthCauses).
	healthHangups *prometheus.CounterVec
}

// healthCauses are the hangup causes of media and dialog health: no RTP
// from the caller, the longest call, a dead dialog (RFC 4028) of the
// caller or of the agent.
var healthCauses = []string{"rtp-timeout", "max-duration", "session-timer", "agent-session-timer"}

// callResults are touched at start so every series exists before the first call.
var callResults = []string{"completed", "abandoned", "ivr", "callback", "voicemail", "routed", "transferred", "failed"}

// NewMetrics registers the call metrics on reg (nil: unregistered).
func NewMetrics(reg prometheus.Registerer) *Metrics {
	m := &Metrics{
		calls: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: "hotline", Subsystem: "calls", Name: "total",
			Help: "Calls ended, by result: completed (talked to an agent), abandoned (hung up while queued), ivr (ended in the IVR), callback, voicemail, routed (sent out of the queue), transferred (by an IVR transfer node), failed.",
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
		ivrVisits: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: "hotline", Subsystem: "ivr", Name: "node_visits_total",
			Help: "Times callers entered an IVR node, by flow and node.",
		}, []string{"flow", "node"}),
		ivrChoices: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: "hotline", Subsystem: "ivr", Name: "menu_choices_total",
			Help: "Menu keys that chose a way on, by flow, menu node and key.",
		}, []string{"flow", "node", "key"}),
		dips: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: "hotline", Subsystem: "ivr", Name: "http_requests_total",
			Help: "IVR data dips (http nodes), by flow, node and result: ok, status (not 2xx), timeout, error.",
		}, []string{"flow", "node", "result"}),
		dipSeconds: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Namespace: "hotline", Subsystem: "ivr", Name: "http_request_duration_seconds",
			Help:    "How long IVR data dips took, answered or not, by flow and node.",
			Buckets: []float64{.01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10},
		}, []string{"flow", "node"}),
		transfers: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: "hotline", Subsystem: "ivr", Name: "transfers_total",
			Help: "IVR transfer nodes, by kind (number, extension, agent) and result (connected, busy, no-answer, rejected, unavailable, no-trunk, failed).",
		}, []string{"kind", "result"}),
		agentTransfers: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: "hotline", Name: "transfers_total",
			Help: "Agents' transfers, by kind (blind, consult, attended, conference), target (queue, agent, flow, extension, number) and result: started, connected, completed (an attended transfer), canceled, returned (a failed blind transfer came back), busy, no-answer, rejected, unavailable, failed.",
		}, []string{"kind", "target", "result"}),
		surveys: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: "hotline", Subsystem: "survey", Name: "responses_total",
			Help: "Post-call surveys, by queue and answer: promoter (9-10), passive (7-8), detractor (0-6), none (no valid score).",
		}, []string{"queue", "category"}),
		onHold: prometheus.NewGauge(prometheus.GaugeOpts{
			Namespace: "hotline", Subsystem: "calls", Name: "on_hold",
			Help: "Callers on hold now (from the agent's phone or the API).",
		}),
		holds: prometheus.NewCounter(prometheus.CounterOpts{
			Namespace: "hotline", Subsystem: "calls", Name: "holds_total",
			Help: "Times callers were put on hold.",
		}),
		holdTime: prometheus.NewHistogram(prometheus.HistogramOpts{
			Namespace: "hotline", Subsystem: "calls", Name: "hold_duration_seconds",
			Help:    "How long each hold lasted.",
			Buckets: []float64{5, 15, 30, 60, 120, 300, 600},
		}),
		monitors: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Namespace: "hotline", Subsystem: "calls", Name: "monitoring_sessions",
			Help: "Supervisors monitoring agents' calls now, by mode: listen, whisper, barge.",
		}, []string{"mode"}),
		analyses: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: "hotline", Subsystem: "recordings", Name: "analyzed_total",
			Help: "Recordings analyzed when their call ended (speech, silence, over-talk), by result: ok, error.",
		}, []string{"result"}),
		offerDelays: prometheus.NewHistogram(prometheus.HistogramOpts{
			Namespace: "hotline", Subsystem: "acd", Name: "first_offer_delay_seconds",
			Help:    "From a caller entering a queue to the INVITE of its first offer to an agent being handed to the SIP stack: with an agent free, the ACD's and the conductor's own delay; otherwise it includes the wait for one.",
			Buckets: []float64{.0001, .00025, .0005, .001, .002, .005, .01, .025, .05, .1, .25, 1, 5, 30, 120},
		}),
		hooks: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: "hotline", Subsystem: "recordings", Name: "analytics_hook_runs_total",
			Help: "Runs of the speech-analytics hook, by result: ok, error, timeout, bad-answer.",
		}, []string{"result"}),
		healthHangups: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: "hotline", Subsystem: "calls", Name: "system_hangups_total",
			Help: "Calls hotline hung up because they were unhealthy, by cause: rtp-timeout (no RTP from the caller for calls.rtp_timeout), max-duration (calls.max_duration), session-timer and agent-session-timer (the caller's or the agent's dialog was not refreshed, RFC 4028).",
		}, []string{"cause"}),
		recordingsSkipped: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: "hotline", Subsystem: "recordings", Name: "skipped_total",
			Help: "Calls not recorded, by reason: disk-full (less free space than recordings.min_free_bytes).",
		}, []string{"reason"}),
	}
	for _, r := range callResults {
		m.calls.WithLabelValues(r)
	}
	m.recordingsSkipped.WithLabelValues("disk-full")
	for _, c := range healthCauses {
		m.healthHangups.WithLabelValues(c)
	}
	if reg != nil {
		reg.MustRegister(m.calls, m.dtmfTotal, m.wait, m.ivrVisits, m.ivrChoices, m.dips, m.dipSeconds, m.transfers, m.agentTransfers, m.surveys,
			m.onHold, m.holds, m.holdTime, m.monitors, m.analyses, m.hooks,
			m.recordingsSkipped, m.offerDelays, m.healthHangups)
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

// systemHangup counts a call hotline ended, when cause is one of
// healthCauses (other causes are not health, and would not bound the label).
func (m *Metrics) systemHangup(cause string) {
	if slices.Contains(healthCauses, cause) {
		m.healthHangups.WithLabelValues(cause).Inc()
	}
}

func (m *Metrics) queueWait(queue string, d time.Duration) {
	m.wait.WithLabelValues(queue).Observe(d.Seconds())
}

// ivrRun counts the nodes a finished IVR run visited and the menu keys
// that chose a way on. Labels are bounded by the configuration (flow and
// node names, the 16 DTMF keys).
func (m *Metrics) ivrRun(flow string, path []string, choices []ivr.Choice) {
	for _, n := range path {
		m.ivrVisits.WithLabelValues(flow, n).Inc()
	}
	for _, c := range choices {
		m.ivrChoices.WithLabelValues(flow, c.Node, string(c.Digit)).Inc()
	}
}

func (m *Metrics) dip(flow, node, result string, took time.Duration) {
	m.dips.WithLabelValues(flow, node, result).Inc()
	m.dipSeconds.WithLabelValues(flow, node).Observe(took.Seconds())
}

func (m *Metrics) transfer(kind, result string) { m.transfers.WithLabelValues(kind, result).Inc() }

// agentTransfer counts an agent's transfer (kind blind, consult, attended
// or conference) to a target kind.
func (m *Metrics) agentTransfer(kind, target, result string) {
	m.agentTransfers.WithLabelValues(kind, target, result).Inc()
}

// survey counts a survey's answer; an empty category is no answer.
func (m *Metrics) survey(queue, category string) {
	if category == "" {
		category = "none"
	}
	m.surveys.WithLabelValues(queue, category).Inc()
}

// hold counts a caller going on hold (held) or coming off it after d.
func (m *Metrics) hold(held bool, d time.Duration) {
	if held {
		m.onHold.Inc()
		m.holds.Inc()
		return
	}
	m.onHold.Dec()
	m.holdTime.Observe(d.Seconds())
}

// monitoring counts a supervisor session starting (on) or ending.
func (m *Metrics) monitoring(mode MonitorMode, on bool) {
	g := m.monitors.WithLabelValues(mode.String())
	if on {
		g.Inc()
		return
	}
	g.Dec()
}

// recordingSkipped counts a call that was not recorded, and why.
func (m *Metrics) recordingSkipped(reason string) { m.recordingsSkipped.WithLabelValues(reason).Inc() }

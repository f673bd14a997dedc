package api

import (
	"context"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/hotline-cc/hotline/acd"
	"github.com/hotline-cc/hotline/config"
	"github.com/hotline-cc/hotline/media"
)

// ACDCollector exports the ACD's live state at scrape time from one snapshot, so
// the queue and agent figures of a scrape agree with each other. Counters come
// from the ACD's own totals, kept since hotline started (or since a queue was
// added), so they never go backwards while the process runs.
type ACDCollector struct {
	router *acd.Router
	config func() *config.Config

	// Per queue.
	waiting, oldest                         *prometheus.Desc
	slRatio, slTarget, slThreshold, slCalls *prometheus.Desc
	slVerdicts                              *prometheus.Desc
	calls, moved, queueOffers, waitSeconds  *prometheus.Desc
	callbacks, staffed, handleTime          *prometheus.Desc
	// Over all queues and agents.
	agents, notReady, offers, queued, abandons *prometheus.Desc
	repairs, stale, unknown                    *prometheus.Desc
}

// ACDCollectorOption configures an ACDCollector.
type ACDCollectorOption func(*ACDCollector)

// WithConfig lets the collector list every configured not-ready reason in
// hotline_acd_agents_not_ready, zeros included; without it only reasons some
// agent has are listed (plus "missed").
func WithConfig(cfg func() *config.Config) ACDCollectorOption {
	return func(c *ACDCollector) { c.config = cfg }
}

// NewACDCollector returns a collector reading router.
func NewACDCollector(router *acd.Router, opts ...ACDCollectorOption) *ACDCollector {
	q := []string{"queue"}
	c := &ACDCollector{
		router: router,

		waiting:     prometheus.NewDesc("hotline_queue_callers_waiting", "Callers waiting in a queue, including those whose agent is ringing (callbacks are counted apart).", q, nil),
		oldest:      prometheus.NewDesc("hotline_queue_oldest_wait_seconds", "Wait of the longest-waiting caller in a queue (callbacks left out).", q, nil),
		slRatio:     prometheus.NewDesc("hotline_acd_service_level_ratio", "Share of a queue's calls answered within its threshold over the last 15 minutes (absent while no call counted).", q, nil),
		slTarget:    prometheus.NewDesc("hotline_acd_service_level_target_ratio", "A queue's service-level target, as a ratio.", q, nil),
		slThreshold: prometheus.NewDesc("hotline_acd_service_level_threshold_seconds", "A queue's service-level threshold.", q, nil),
		slCalls:     prometheus.NewDesc("hotline_acd_service_level_calls", "Calls counted in a queue's service level over the last 15 minutes.", q, nil),
		slVerdicts:  prometheus.NewDesc("hotline_acd_service_level_verdicts_total", "Service-level verdicts of calls that left a queue, by outcome.", []string{"queue", "outcome"}, nil),
		calls:       prometheus.NewDesc("hotline_acd_calls_total", "Calls that entered a queue (queued) and how they left it (abandoned, connected, routed, callback).", []string{"queue", "result"}, nil),
		moved:       prometheus.NewDesc("hotline_acd_calls_moved_total", "Calls moved between queues (escalation, overflow), by direction.", []string{"queue", "direction"}, nil),
		queueOffers: prometheus.NewDesc("hotline_acd_queue_offers_total", "Offers of a queue's calls to agents, by result.", []string{"queue", "result"}, nil),
		waitSeconds: prometheus.NewDesc("hotline_acd_wait_seconds_total", "Total queue wait of calls that were connected or abandoned.", []string{"queue", "result"}, nil),
		callbacks:   prometheus.NewDesc("hotline_acd_callbacks_pending", "Callbacks waiting in a queue for an agent, scheduled ones included.", q, nil),
		staffed:     prometheus.NewDesc("hotline_acd_staffed_agents", "A queue's agents who are logged in and not on a break.", q, nil),
		handleTime:  prometheus.NewDesc("hotline_acd_handle_time_seconds", "A queue's average handle time (talk plus wrap-up, moving average; absent until it has finished a call).", q, nil),

		agents:   prometheus.NewDesc("hotline_acd_agents", "Agents by state.", []string{"state"}, nil),
		notReady: prometheus.NewDesc("hotline_acd_agents_not_ready", "Not-ready agents by reason.", []string{"reason"}, nil),
		offers:   prometheus.NewDesc("hotline_acd_offers_total", "Offers made to agents, by result (all queues).", []string{"result"}, nil),
		queued:   prometheus.NewDesc("hotline_acd_calls_queued_total", "Calls that entered a queue (all queues).", nil, nil),
		abandons: prometheus.NewDesc("hotline_acd_calls_abandoned_total", "Calls that left a queue before an agent answered (all queues).", nil, nil),
		repairs:  prometheus.NewDesc("hotline_acd_repairs_total", "Corrections made by the ACD's self-healing check.", nil, nil),
		stale:    prometheus.NewDesc("hotline_acd_stale_events_total", "Events about offers or calls the ACD no longer knew (late answers, duplicates).", nil, nil),
		unknown:  prometheus.NewDesc("hotline_acd_unknown_events_total", "Events naming an unknown agent or queue, or asking what the agent's state forbids.", nil, nil),
	}
	for _, o := range opts {
		o(c)
	}
	return c
}

func (c *ACDCollector) descs() []*prometheus.Desc {
	return []*prometheus.Desc{c.waiting, c.oldest, c.slRatio, c.slTarget, c.slThreshold, c.slCalls, c.slVerdicts,
		c.calls, c.moved, c.queueOffers, c.waitSeconds, c.callbacks, c.staffed, c.handleTime,
		c.agents, c.notReady, c.offers, c.queued, c.abandons, c.repairs, c.stale, c.unknown}
}

// Describe implements prometheus.Collector.
func (c *ACDCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range c.descs() {
		ch <- d
	}
}

// Collect implements prometheus.Collector.
func (c *ACDCollector) Collect(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	snap, err := c.router.Snapshot(ctx)
	if err != nil {
		ch <- prometheus.NewInvalidMetric(c.waiting, err)
		return
	}
	gauge := func(d *prometheus.Desc, v float64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.GaugeValue, v, labels...)
	}
	counter := func(d *prometheus.Desc, v uint64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.CounterValue, float64(v), labels...)
	}

	var offers [acd.OfferResultLimit]uint64
	var queued, abandoned uint64
	for i := range snap.Queues {
		q := &snap.Queues[i]
		n, oldest := callers(q)
		gauge(c.waiting, float64(n), q.Name)
		gauge(c.oldest, oldest.Seconds(), q.Name)
		if q.SLKnown {
			gauge(c.slRatio, q.ServiceLevel, q.Name)
		}
		gauge(c.slTarget, q.SLTarget/100, q.Name)
		gauge(c.slThreshold, q.SLThreshold.Seconds(), q.Name)
		gauge(c.slCalls, float64(q.SLCalls), q.Name)
		for _, o := range slOutcomes {
			counter(c.slVerdicts, q.Counters.SL[o], q.Name, o.String())
		}
		qc := &q.Counters
		counter(c.calls, qc.CallsQueued, q.Name, "queued")
		counter(c.calls, qc.CallsAbandoned, q.Name, acd.ExitAbandoned.String())
		counter(c.calls, qc.CallsConnected, q.Name, acd.ExitConnected.String())
		counter(c.calls, qc.CallsRouted, q.Name, acd.ExitRouted.String())
		counter(c.calls, qc.Callbacks, q.Name, acd.ExitCallback.String())
		counter(c.moved, qc.CallsMovedIn, q.Name, "in")
		counter(c.moved, qc.CallsMovedOut, q.Name, "out")
		ch <- prometheus.MustNewConstMetric(c.waitSeconds, prometheus.CounterValue, qc.ConnectedWait.Seconds(), q.Name, acd.ExitConnected.String())
		ch <- prometheus.MustNewConstMetric(c.waitSeconds, prometheus.CounterValue, qc.AbandonedWait.Seconds(), q.Name, acd.ExitAbandoned.String())
		for r, n := range qc.OffersByResult {
			if acd.OfferResult(r) == acd.OfferResultUnknown {
				continue
			}
			counter(c.queueOffers, n, q.Name, acd.OfferResult(r).String())
			offers[r] += n
		}
		gauge(c.callbacks, float64(q.CallbacksReady), q.Name)
		gauge(c.staffed, float64(q.Staffed), q.Name)
		if q.HandleTime > 0 {
			gauge(c.handleTime, q.HandleTime.Seconds(), q.Name)
		}
		queued += qc.CallsQueued
		abandoned += qc.CallsAbandoned
	}

	byState := map[acd.AgentState]int{}
	notReady := map[string]int{config.ReasonMissed: 0}
	if c.config != nil {
		for _, r := range c.config().AgentStates.NotReadyReasons {
			notReady[r.Name] = 0
		}
	}
	for i := range snap.Agents {
		ag := &snap.Agents[i]
		byState[ag.State]++
		if ag.State == acd.AgentStateNotReady {
			reason := ag.Reason
			if reason == "" {
				reason = "none"
			}
			notReady[reason]++
		}
	}
	for _, st := range acd.AgentStates() {
		gauge(c.agents, float64(byState[st]), st.String())
	}
	for reason, n := range notReady {
		gauge(c.notReady, float64(n), reason)
	}
	for r, n := range offers {
		if acd.OfferResult(r) == acd.OfferResultUnknown {
			continue
		}
		counter(c.offers, n, acd.OfferResult(r).String())
	}
	counter(c.queued, queued)
	counter(c.abandons, abandoned)
	counter(c.repairs, snap.Counters.Repairs)
	counter(c.stale, snap.Counters.StaleEvents)
	counter(c.unknown, snap.Counters.UnknownEvents)
}

// NewMediaCollector exports the media engine's counters.
func NewMediaCollector(e *media.Engine) prometheus.Collector {
	return &mediaCollector{
		engine:    e,
		packets:   prometheus.NewDesc("hotline_media_rtp_packets_total", "RTP packets by direction.", []string{"direction"}, nil),
		bytes:     prometheus.NewDesc("hotline_media_rtp_bytes_total", "RTP bytes by direction.", []string{"direction"}, nil),
		invalid:   prometheus.NewDesc("hotline_media_rtp_invalid_packets_total", "Received packets that were not usable RTP for their stream: the sum of hotline_rtp_packets_dropped_total, kept for existing dashboards.", nil, nil),
		drops:     prometheus.NewDesc("hotline_rtp_packets_dropped_total", "Received RTP packets dropped, by reason: malformed, payload_type, source (not the latched source), dtmf (bad RFC 4733 payload).", []string{"reason"}, nil),
		dtmf:      prometheus.NewDesc("hotline_media_dtmf_digits_total", "RFC 4733 digits detected.", nil, nil),
		dropped:   prometheus.NewDesc("hotline_media_events_dropped_total", "Media events dropped because a call did not read them in time.", nil, nil),
		endpoints: prometheus.NewDesc("hotline_media_endpoints", "Open RTP endpoints.", nil, nil),
		playing:   prometheus.NewDesc("hotline_media_playing_streams", "Streams the pacer is playing.", nil, nil),
		ports:     prometheus.NewDesc("hotline_media_ports_free", "RTP ports left in the pool.", nil, nil),
	}
}

type mediaCollector struct {
	engine                                                                   *media.Engine
	packets, bytes, invalid, drops, dtmf, dropped, endpoints, playing, ports *prometheus.Desc
}

func (c *mediaCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{c.packets, c.bytes, c.invalid, c.drops, c.dtmf, c.dropped, c.endpoints, c.playing, c.ports} {
		ch <- d
	}
}

func (c *mediaCollector) Collect(ch chan<- prometheus.Metric) {
	s := c.engine.Stats()
	ch <- prometheus.MustNewConstMetric(c.packets, prometheus.CounterValue, float64(s.PacketsIn), "in")
	ch <- prometheus.MustNewConstMetric(c.packets, prometheus.CounterValue, float64(s.PacketsOut), "out")
	ch <- prometheus.MustNewConstMetric(c.bytes, prometheus.CounterValue, float64(s.BytesIn), "in")
	ch <- prometheus.MustNewConstMetric(c.bytes, prometheus.CounterValue, float64(s.BytesOut), "out")
	ch <- prometheus.MustNewConstMetric(c.invalid, prometheus.CounterValue, float64(s.PacketsInvalid))
	for r, n := range s.Dropped {
		ch <- prometheus.MustNewConstMetric(c.drops, prometheus.CounterValue, float64(n), media.DropReason(r).String())
	}
	ch <- prometheus.MustNewConstMetric(c.dtmf, prometheus.CounterValue, float64(s.DTMFDigits))
	ch <- prometheus.MustNewConstMetric(c.dropped, prometheus.CounterValue, float64(s.EventsDropped))
	ch <- prometheus.MustNewConstMetric(c.endpoints, prometheus.GaugeValue, float64(s.ActiveEndpoints))
	ch <- prometheus.MustNewConstMetric(c.playing, prometheus.GaugeValue, float64(s.PlayingStreams))
	ch <- prometheus.MustNewConstMetric(c.ports, prometheus.GaugeValue, float64(s.PortsFree))
}

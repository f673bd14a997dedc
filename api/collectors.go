package api

import (
	"context"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/hotline-cc/hotline/acd"
	"github.com/hotline-cc/hotline/media"
)

// ACDCollector exports the ACD's live state at scrape time from one snapshot, so
// the queue and agent figures of a scrape agree with each other.
type ACDCollector struct {
	router   *acd.Router
	waiting  *prometheus.Desc
	oldest   *prometheus.Desc
	agents   *prometheus.Desc
	offers   *prometheus.Desc
	queued   *prometheus.Desc
	abandons *prometheus.Desc
}

// NewACDCollector returns a collector reading router.
func NewACDCollector(router *acd.Router) *ACDCollector {
	return &ACDCollector{
		router:   router,
		waiting:  prometheus.NewDesc("hotline_queue_callers_waiting", "Callers waiting in a queue (including those whose agent is ringing).", []string{"queue"}, nil),
		oldest:   prometheus.NewDesc("hotline_queue_oldest_wait_seconds", "Wait of the longest-waiting caller in a queue.", []string{"queue"}, nil),
		agents:   prometheus.NewDesc("hotline_acd_agents", "Agents by state.", []string{"state"}, nil),
		offers:   prometheus.NewDesc("hotline_acd_offers_total", "Offers made to agents, by result.", []string{"result"}, nil),
		queued:   prometheus.NewDesc("hotline_acd_calls_queued_total", "Calls that entered a queue.", nil, nil),
		abandons: prometheus.NewDesc("hotline_acd_calls_abandoned_total", "Calls that left a queue before an agent answered.", nil, nil),
	}
}

// Describe implements prometheus.Collector.
func (c *ACDCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{c.waiting, c.oldest, c.agents, c.offers, c.queued, c.abandons} {
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
	for _, q := range snap.Queues {
		ch <- prometheus.MustNewConstMetric(c.waiting, prometheus.GaugeValue, float64(len(q.Waiting)), q.Name)
		ch <- prometheus.MustNewConstMetric(c.oldest, prometheus.GaugeValue, q.OldestWait.Seconds(), q.Name)
	}
	byState := map[acd.AgentState]int{acd.AgentStateLoggedOut: 0, acd.AgentStateAvailable: 0, acd.AgentStateRinging: 0, acd.AgentStateOnCall: 0}
	for _, a := range snap.Agents {
		byState[a.State]++
	}
	for st, n := range byState {
		ch <- prometheus.MustNewConstMetric(c.agents, prometheus.GaugeValue, float64(n), st.String())
	}
	var offers [acd.OfferResultLimit]uint64
	var queued, abandoned uint64
	for _, q := range snap.Queues {
		for r, n := range q.Counters.OffersByResult {
			offers[r] += n
		}
		queued += q.Counters.CallsQueued
		abandoned += q.Counters.CallsAbandoned
	}
	for r, n := range offers {
		if acd.OfferResult(r) == acd.OfferResultUnknown {
			continue
		}
		ch <- prometheus.MustNewConstMetric(c.offers, prometheus.CounterValue, float64(n), acd.OfferResult(r).String())
	}
	ch <- prometheus.MustNewConstMetric(c.queued, prometheus.CounterValue, float64(queued))
	ch <- prometheus.MustNewConstMetric(c.abandons, prometheus.CounterValue, float64(abandoned))
}

// NewMediaCollector exports the media engine's counters.
func NewMediaCollector(e *media.Engine) prometheus.Collector {
	return &mediaCollector{
		engine:    e,
		packets:   prometheus.NewDesc("hotline_media_rtp_packets_total", "RTP packets by direction.", []string{"direction"}, nil),
		bytes:     prometheus.NewDesc("hotline_media_rtp_bytes_total", "RTP bytes by direction.", []string{"direction"}, nil),
		invalid:   prometheus.NewDesc("hotline_media_rtp_invalid_packets_total", "Received packets that were not usable RTP for their stream.", nil, nil),
		dtmf:      prometheus.NewDesc("hotline_media_dtmf_digits_total", "RFC 4733 digits detected.", nil, nil),
		dropped:   prometheus.NewDesc("hotline_media_events_dropped_total", "Media events dropped because a call did not read them in time.", nil, nil),
		endpoints: prometheus.NewDesc("hotline_media_endpoints", "Open RTP endpoints.", nil, nil),
		playing:   prometheus.NewDesc("hotline_media_playing_streams", "Streams the pacer is playing.", nil, nil),
		ports:     prometheus.NewDesc("hotline_media_ports_free", "RTP ports left in the pool.", nil, nil),
	}
}

type mediaCollector struct {
	engine                                                            *media.Engine
	packets, bytes, invalid, dtmf, dropped, endpoints, playing, ports *prometheus.Desc
}

func (c *mediaCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{c.packets, c.bytes, c.invalid, c.dtmf, c.dropped, c.endpoints, c.playing, c.ports} {
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
	ch <- prometheus.MustNewConstMetric(c.dtmf, prometheus.CounterValue, float64(s.DTMFDigits))
	ch <- prometheus.MustNewConstMetric(c.dropped, prometheus.CounterValue, float64(s.EventsDropped))
	ch <- prometheus.MustNewConstMetric(c.endpoints, prometheus.GaugeValue, float64(s.ActiveEndpoints))
	ch <- prometheus.MustNewConstMetric(c.playing, prometheus.GaugeValue, float64(s.PlayingStreams))
	ch <- prometheus.MustNewConstMetric(c.ports, prometheus.GaugeValue, float64(s.PortsFree))
}

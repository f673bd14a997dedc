package main

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// metricsClient reads hotline's /metrics (Prometheus text format).
type metricsClient struct {
	url  string
	http *http.Client
}

func newMetricsClient(httpAddr string) *metricsClient {
	return &metricsClient{url: "http://" + httpAddr + "/metrics", http: &http.Client{Timeout: 5 * time.Second}}
}

// scrape returns every sample by its series, e.g.
// `hotline_media_rtp_packets_total{direction="out"}` → 12345.
func (m *metricsClient) scrape(ctx context.Context) (map[string]float64, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, m.url, nil)
	if err != nil {
		return nil, err
	}
	res, err := m.http.Do(req)
	if err != nil {
		return nil, err
	}
	defer res.Body.Close()
	if res.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("GET %s: %s", m.url, res.Status)
	}
	return parseMetrics(res.Body)
}

// parseMetrics reads the Prometheus text exposition format far enough for counters
// and gauges: "name{labels} value [timestamp]" lines; comments are skipped.
func parseMetrics(r io.Reader) (map[string]float64, error) {
	out := map[string]float64{}
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64*1024), 1024*1024)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line == "" || line[0] == '#' {
			continue
		}
		// The series ends at the closing brace when there are labels (label values
		// may hold spaces), else at the first space.
		end := strings.IndexByte(line, ' ')
		if i := strings.IndexByte(line, '{'); i >= 0 && (end < 0 || i < end) {
			j := strings.LastIndexByte(line, '}')
			if j < 0 {
				continue
			}
			end = j + 1
		}
		if end <= 0 || end >= len(line) {
			continue
		}
		fields := strings.Fields(line[end:])
		if len(fields) == 0 {
			continue
		}
		v, err := strconv.ParseFloat(fields[0], 64)
		if err != nil {
			continue
		}
		out[line[:end]] = v
	}
	return out, sc.Err()
}

// labelValue returns the value of label in a series such as `x{a="1",b="2"}`.
func labelValue(series, label string) string {
	i := strings.Index(series, label+`="`)
	if i < 0 {
		return ""
	}
	rest := series[i+len(label)+2:]
	if j := strings.IndexByte(rest, '"'); j >= 0 {
		return rest[:j]
	}
	return ""
}

// waitIdle waits until hotline has no call and no RTP endpoint left, so one step's
// tail does not load the next. It returns the calls and endpoints still open when
// deadline passed (zeros when idle).
func (m *metricsClient) waitIdle(ctx context.Context, deadline time.Duration) (calls, endpoints float64) {
	end := time.Now().Add(deadline)
	for {
		s, err := m.scrape(ctx)
		if err == nil {
			calls, endpoints = s["hotline_calls_active"], s["hotline_media_endpoints"]
			if calls == 0 && endpoints == 0 {
				return 0, 0
			}
		}
		if time.Now().After(end) || ctx.Err() != nil {
			return calls, endpoints
		}
		time.Sleep(200 * time.Millisecond)
	}
}

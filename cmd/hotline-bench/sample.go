package main

import (
	"context"
	"runtime"
	"sync"
	"time"
)

// sampleEvery is how often the sampler reads /proc during a step; scrapeEvery how
// often it reads hotline's gauges (a scrape costs hotline a little CPU).
const (
	sampleEvery = 250 * time.Millisecond
	scrapeEvery = time.Second
)

// sampler records the server's and SIPp's CPU and RSS, and hotline's load gauges,
// while a step runs.
type sampler struct {
	quit chan struct{}
	done chan struct{}
	mu   sync.Mutex
	s    samples
}

type samples struct {
	server, client []procSample
	box            []boxCPU
	peakActive     float64
	peakPlaying    float64
	peakHeap       float64 // go_memstats_heap_inuse_bytes
	peakGoroutines float64

	// The SIP sockets: largest receive queue seen, and the client's drop counter
	// last seen while SIPp was alive (its socket goes away with it).
	serverRxPeak, clientRxPeak int64
	clientDrops                int64
}

func startSampler(ctx context.Context, srv server, clientPID, clientSIPPort int) *sampler {
	sm := &sampler{quit: make(chan struct{}), done: make(chan struct{})}
	go func() {
		defer close(sm.done)
		tick := time.NewTicker(sampleEvery)
		defer tick.Stop()
		lastScrape := time.Time{}
		for {
			sv, cl := readProc(srv.pid), readProc(clientPID)
			su, cu := readUDPSocket(srv.sipPort), readUDPSocket(clientSIPPort)
			bx := readBoxCPU()
			sm.mu.Lock()
			sm.s.box = append(sm.s.box, bx)
			sm.s.server = append(sm.s.server, sv)
			sm.s.client = append(sm.s.client, cl)
			sm.s.serverRxPeak = max(sm.s.serverRxPeak, su.rxQueue)
			sm.s.clientRxPeak = max(sm.s.clientRxPeak, cu.rxQueue)
			if cu.ok {
				sm.s.clientDrops = cu.drops
			}
			sm.mu.Unlock()
			if srv.metrics != nil && time.Since(lastScrape) >= scrapeEvery {
				lastScrape = time.Now()
				if m, err := srv.metrics.scrape(ctx); err == nil {
					sm.mu.Lock()
					sm.s.peakActive = max(sm.s.peakActive, m["hotline_calls_active"])
					sm.s.peakPlaying = max(sm.s.peakPlaying, m["hotline_media_playing_streams"])
					sm.s.peakHeap = max(sm.s.peakHeap, m["go_memstats_heap_inuse_bytes"])
					sm.s.peakGoroutines = max(sm.s.peakGoroutines, m["go_goroutines"])
					sm.mu.Unlock()
				}
			}
			select {
			case <-sm.quit:
				return
			case <-ctx.Done():
				return
			case <-tick.C:
			}
		}
	}()
	return sm
}

func (sm *sampler) stop() samples {
	close(sm.quit)
	<-sm.done
	sm.mu.Lock()
	defer sm.mu.Unlock()
	return sm.s
}

// window returns the server's, the client's and the whole box's CPU in cores between
// the samples nearest to from and to, and the server's largest RSS over the step.
func (s samples) window(from, to time.Time) (serverCores, clientCores, box float64, serverRSS int64) {
	for _, p := range s.server {
		serverRSS = max(serverRSS, p.rssBytes)
	}
	var a, b boxCPU
	for _, c := range s.box {
		if !c.ok {
			continue
		}
		if !a.ok || !c.at.After(from) {
			a = c
		}
		if !c.at.After(to) || !b.ok {
			b = c
		}
	}
	return spanCores(s.server, from, to), spanCores(s.client, from, to), busyCores(a, b, runtime.NumCPU()), serverRSS
}

// spanCores uses the last live sample at or before from (or the first one) and the
// last live sample at or before to.
func spanCores(ps []procSample, from, to time.Time) float64 {
	var a, b procSample
	for _, p := range ps {
		if !p.ok {
			continue
		}
		if !a.ok || !p.at.After(from) {
			a = p
		}
		if !p.at.After(to) || !b.ok {
			b = p
		}
	}
	return cores(a, b)
}

package media

import (
	"sync"
	"sync/atomic"
	"time"
)

// pacer is the single goroutine that, every 20 ms, sends the next frame of
// every playing endpoint and hands every recording tap its frame. One
// goroutine and one ticker for the whole engine: per-call tickers cost a
// goroutine, a timer and a wake-up each, and drift apart.
type pacer struct {
	mu      sync.Mutex
	streams []*Endpoint // endpoints playing or tapped; Endpoint.pacerIndex is its index
	mixes   []*Mix      // mixes with participants (mix.go)

	// Owned by the pacer goroutine (or by whoever calls tick in tests).
	snapshot []*Endpoint
	mixSnap  []*Mix
	sendBuf  []byte
	in, out  [samplesPerFrame]int16

	ticks atomic.Uint64

	quit chan struct{}
	done chan struct{}
}

func (p *pacer) init() {
	p.sendBuf = make([]byte, rtpHeaderLen+samplesPerFrame)
}

func (p *pacer) start(e *Engine) {
	p.quit = make(chan struct{})
	p.done = make(chan struct{})
	go p.run(e)
}

func (p *pacer) stop() {
	if p.quit == nil {
		return
	}
	close(p.quit)
	<-p.done
	p.quit = nil
}

func (p *pacer) run(e *Engine) {
	defer close(p.done)
	ticker := time.NewTicker(pacerInterval)
	defer ticker.Stop()
	for {
		select {
		case <-p.quit:
			return
		case now := <-ticker.C:
			p.tick(e, now)
		}
	}
}

// tick serves every scheduled endpoint once. The stream list is copied
// under the lock so Play, Record and Close never wait for a whole tick.
func (p *pacer) tick(e *Engine, now time.Time) {
	p.mu.Lock()
	p.snapshot = append(p.snapshot[:0], p.streams...)
	p.mixSnap = append(p.mixSnap[:0], p.mixes...)
	p.mu.Unlock()
	for _, ep := range p.snapshot {
		ep.pace(p, now)
	}
	for _, m := range p.mixSnap {
		m.tick(now)
	}
	clear(p.snapshot) // do not keep closed endpoints reachable
	clear(p.mixSnap)
	p.ticks.Add(1)
}

// schedule adds or removes ep; the caller holds ep.mu.
func (p *pacer) schedule(ep *Endpoint, want bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	switch {
	case want && ep.pacerIndex < 0:
		ep.pacerIndex = len(p.streams)
		p.streams = append(p.streams, ep)
	case !want && ep.pacerIndex >= 0:
		last := len(p.streams) - 1
		moved := p.streams[last]
		p.streams[ep.pacerIndex] = moved
		moved.pacerIndex = ep.pacerIndex
		p.streams[last] = nil
		p.streams = p.streams[:last]
		ep.pacerIndex = -1
	}
}

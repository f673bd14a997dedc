package media

import (
	"runtime"
	"sync"
	"sync/atomic"
	"time"
)

// pacer is the one clock that, every 20 ms, sends the next frame of every
// playing endpoint and hands every recording tap its frame. One ticker for
// the whole engine: per-call tickers cost a goroutine, a timer and a wake-up
// each, and drift apart. A tick with many streams is shared out among a few
// long-lived workers, one per CPU at most: one goroutine sending 1,500
// streams took most of the 20 ms of a core (make bench, playback row), and
// each stream's packet left later in the tick the longer the list.
type pacer struct {
	mu      sync.Mutex
	streams []*Endpoint // endpoints playing or tapped; Endpoint.pacerIndex is its index
	mixes   []*Mix      // mixes with participants (mix.go)

	// Owned by the pacer goroutine (or by whoever calls tick in tests).
	snapshot []*Endpoint
	mixSnap  []*Mix
	frame    paceBuffers // the tick's own share of the streams

	// helpers take the other shares of a tick; none while the pacer has
	// not started (tests tick by hand) or with one CPU.
	helpers []*paceHelper
	shares  sync.WaitGroup

	ticks atomic.Uint64

	quit chan struct{}
	done chan struct{}
}

// paceBuffers are one goroutine's buffers for serving streams.
type paceBuffers struct {
	sendBuf []byte
	in, out [samplesPerFrame]int16
}

func newPaceBuffers() paceBuffers {
	return paceBuffers{sendBuf: make([]byte, rtpHeaderLen+samplesPerFrame)}
}

// paceHelper serves a share of a tick's streams on its own goroutine.
type paceHelper struct {
	buf  paceBuffers
	work chan paceShare
}

type paceShare struct {
	streams []*Endpoint
	now     time.Time
}

// streamsPerShare is the fewest streams worth handing to another goroutine:
// below it, the hand-off costs more than it saves.
const streamsPerShare = 256

func (p *pacer) init() {
	p.frame = newPaceBuffers()
}

func (p *pacer) start(e *Engine) {
	p.quit = make(chan struct{})
	p.done = make(chan struct{})
	p.startHelpers(runtime.GOMAXPROCS(0) - 1)
	go p.run(e)
}

// startHelpers starts n helpers; stopHelpers ends them.
func (p *pacer) startHelpers(n int) {
	for range n {
		h := &paceHelper{buf: newPaceBuffers(), work: make(chan paceShare, 1)}
		p.helpers = append(p.helpers, h)
		go h.run(&p.shares)
	}
}

func (p *pacer) stopHelpers() {
	for _, h := range p.helpers {
		close(h.work)
	}
	p.helpers = nil
}

func (h *paceHelper) run(done *sync.WaitGroup) {
	for share := range h.work {
		for _, ep := range share.streams {
			ep.pace(&h.buf, share.now)
		}
		done.Done()
	}
}

func (p *pacer) stop() {
	if p.quit == nil {
		return
	}
	close(p.quit)
	<-p.done
	p.stopHelpers()
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
	streams := p.snapshot
	// Shares of at least streamsPerShare for as many helpers as that
	// makes worth it; the pacer serves the last share itself.
	shares := min(len(p.helpers)+1, max(1, len(streams)/streamsPerShare))
	size := (len(streams) + shares - 1) / max(shares, 1)
	for _, h := range p.helpers[:shares-1] {
		p.shares.Add(1)
		h.work <- paceShare{streams: streams[:size], now: now}
		streams = streams[size:]
	}
	for _, ep := range streams {
		ep.pace(&p.frame, now)
	}
	p.shares.Wait()
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

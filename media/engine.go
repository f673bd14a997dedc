package media

import (
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"sync"
	"sync/atomic"
	"time"
)

// Config configures an Engine.
type Config struct {
	// BindIP is the address RTP sockets bind to; the zero Addr means
	// 0.0.0.0 (all IPv4 interfaces).
	BindIP netip.Addr
	// PortLow and PortHigh bound the RTP port pool, inclusive. RTP uses the
	// even ports of the range (RFC 3550 §11; RTCP, which we do not run yet,
	// would take the odd port above). Both zero means "let the operating
	// system pick each port", for tests and tools; PortsFree is then 0.
	PortLow, PortHigh int
	// Logger receives endpoint life-cycle messages; nil discards them.
	Logger *slog.Logger
}

// Stats are the engine's counters, cumulative since NewEngine, and gauges.
type Stats struct {
	PacketsIn      uint64 // datagrams read from RTP sockets
	PacketsOut     uint64 // RTP packets sent (played or relayed)
	PacketsInvalid uint64 // not RTP, unexpected payload type, source not latched, bad RFC 4733 payload
	BytesIn        uint64
	BytesOut       uint64
	DTMFDigits     uint64 // key presses detected
	EventsDropped  uint64 // events lost because an Events channel was full
	SendErrors     uint64 // failed RTP writes

	// Dropped is PacketsInvalid by reason (index: DropReason).
	Dropped [DropReasons]uint64

	ActiveEndpoints int
	PlayingStreams  int // endpoints currently playing a playlist
	PortsFree       int // even ports of the pool not in use
}

// pacerInterval is the packetization time of everything the pacer sends,
// and the interval of tap frames.
const pacerInterval = 20 * time.Millisecond

// Engine owns the RTP port pool, the endpoints and the pacer.
type Engine struct {
	logger    *slog.Logger
	network   string // udp4 or udp6
	bindIP    netip.Addr
	ephemeral bool

	mu        sync.Mutex
	closed    bool
	freePorts []int // FIFO: a freed port goes to the back, so ports are not reused at once
	endpoints map[*Endpoint]struct{}

	pacer pacer

	nextPlaybackID atomic.Uint64

	// now stamps received packets (latching, LastHeard); tests replace it,
	// before the first endpoint starts its reader, to cross relatchAfter
	// without waiting.
	now func() time.Time

	packetsIn, packetsOut                 atomic.Uint64
	dropped                               [DropReasons]atomic.Uint64
	bytesIn, bytesOut                     atomic.Uint64
	dtmfDigits, eventsDropped, sendErrors atomic.Uint64
	playing                               atomic.Int64
}

// NewEngine validates cfg, builds the port pool and starts the pacer.
func NewEngine(cfg Config) (*Engine, error) {
	e, err := newEngine(cfg)
	if err != nil {
		return nil, err
	}
	e.pacer.start(e)
	return e, nil
}

// newEngine builds an Engine without starting the pacer, so tests and
// benchmarks can drive pacer ticks themselves.
func newEngine(cfg Config) (*Engine, error) {
	bindIP := cfg.BindIP.Unmap()
	if !bindIP.IsValid() {
		bindIP = netip.IPv4Unspecified()
	}
	e := &Engine{
		logger:    cfg.Logger,
		network:   "udp6",
		bindIP:    bindIP,
		endpoints: make(map[*Endpoint]struct{}),
		now:       time.Now,
	}
	if e.logger == nil {
		e.logger = slog.New(slog.DiscardHandler)
	}
	if bindIP.Is4() {
		e.network = "udp4"
	}
	e.pacer.init()
	switch {
	case cfg.PortLow == 0 && cfg.PortHigh == 0:
		e.ephemeral = true
	case cfg.PortLow < 1 || cfg.PortHigh > 65535 || cfg.PortLow > cfg.PortHigh:
		return nil, fmt.Errorf("rtp port range %d-%d: want 1 <= low <= high <= 65535", cfg.PortLow, cfg.PortHigh)
	default:
		for port := cfg.PortLow + cfg.PortLow%2; port <= cfg.PortHigh; port += 2 {
			e.freePorts = append(e.freePorts, port)
		}
		if len(e.freePorts) == 0 {
			return nil, fmt.Errorf("rtp port range %d-%d has no even port", cfg.PortLow, cfg.PortHigh)
		}
	}
	return e, nil
}

// Close closes every endpoint and stops the pacer. It is idempotent.
func (e *Engine) Close() error {
	e.mu.Lock()
	if e.closed {
		e.mu.Unlock()
		return nil
	}
	e.closed = true
	endpoints := make([]*Endpoint, 0, len(e.endpoints))
	for ep := range e.endpoints {
		endpoints = append(endpoints, ep)
	}
	e.mu.Unlock()

	var errs []error
	for _, ep := range endpoints {
		errs = append(errs, ep.Close())
	}
	e.pacer.stop()
	return errors.Join(errs...)
}

// Stats returns a snapshot of the counters.
func (e *Engine) Stats() Stats {
	e.mu.Lock()
	active, free := len(e.endpoints), len(e.freePorts)
	e.mu.Unlock()
	st := Stats{
		PacketsIn:       e.packetsIn.Load(),
		PacketsOut:      e.packetsOut.Load(),
		BytesIn:         e.bytesIn.Load(),
		BytesOut:        e.bytesOut.Load(),
		DTMFDigits:      e.dtmfDigits.Load(),
		EventsDropped:   e.eventsDropped.Load(),
		SendErrors:      e.sendErrors.Load(),
		ActiveEndpoints: active,
		PlayingStreams:  int(e.playing.Load()),
		PortsFree:       free,
	}
	for r := range st.Dropped {
		st.Dropped[r] = e.dropped[r].Load()
		st.PacketsInvalid += st.Dropped[r]
	}
	return st
}

// DropReason says why a received datagram was not used.
type DropReason uint8

const (
	// DropMalformed: not RTP version 2, unparseable, a payload size no
	// negotiated codec produces, or a datagram the socket failed to read.
	DropMalformed DropReason = iota
	// DropPayloadType: a payload type the SDP did not negotiate.
	DropPayloadType
	// DropSource: from an address other than the latched one (see
	// acceptSource), or from a new one still on probation.
	DropSource
	// DropDTMF: a telephone-event payload RFC 4733 §2.3 does not allow.
	DropDTMF
	// DropReasons is the number of reasons.
	DropReasons
)

func (r DropReason) String() string {
	switch r {
	case DropMalformed:
		return "malformed"
	case DropPayloadType:
		return "payload_type"
	case DropSource:
		return "source"
	case DropDTMF:
		return "dtmf"
	}
	return "unknown"
}

func (e *Engine) drop(r DropReason) { e.dropped[r].Add(1) }

// NewEndpoint binds an RTP socket on the next free even port of the pool
// and starts its reader. Ports the operating system refuses (in use by
// another process) are skipped and stay in the pool for later. It returns an
// error wrapping ErrNoPorts when no port could be bound.
func (e *Engine) NewEndpoint(callID, leg string) (*Endpoint, error) {
	conn, port, err := e.bind()
	if err != nil {
		return nil, fmt.Errorf("new rtp endpoint for call %s leg %s: %w", callID, leg, err)
	}
	ep := newEndpoint(e, conn, port, e.logger.With("call_id", callID, "leg", leg))

	e.mu.Lock()
	if e.closed {
		e.mu.Unlock()
		conn.Close()
		e.releasePort(port)
		return nil, ErrClosed
	}
	e.endpoints[ep] = struct{}{}
	e.mu.Unlock()

	go ep.readLoop()
	ep.logger.Debug("rtp endpoint open", "local", ep.local)
	return ep, nil
}

// bind opens the socket; port is the pool port to give back (0 if ephemeral).
func (e *Engine) bind() (*net.UDPConn, int, error) {
	if e.ephemeral {
		conn, err := net.ListenUDP(e.network, net.UDPAddrFromAddrPort(netip.AddrPortFrom(e.bindIP, 0)))
		if err != nil {
			return nil, 0, fmt.Errorf("bind rtp socket: %w", err)
		}
		return conn, 0, nil
	}

	e.mu.Lock()
	defer e.mu.Unlock()
	if e.closed {
		return nil, 0, ErrClosed
	}
	var lastErr error
	for range len(e.freePorts) {
		port := e.freePorts[0]
		e.freePorts = e.freePorts[1:]
		addr := netip.AddrPortFrom(e.bindIP, uint16(port))
		conn, err := net.ListenUDP(e.network, net.UDPAddrFromAddrPort(addr))
		if err == nil {
			return conn, port, nil
		}
		lastErr = err
		e.freePorts = append(e.freePorts, port) // try it again another time
	}
	if lastErr != nil {
		return nil, 0, fmt.Errorf("%w (last bind error: %w)", ErrNoPorts, lastErr)
	}
	return nil, 0, ErrNoPorts
}

func (e *Engine) releasePort(port int) {
	if port == 0 {
		return
	}
	e.mu.Lock()
	e.freePorts = append(e.freePorts, port)
	e.mu.Unlock()
}

// forget removes a closed endpoint and returns its port to the pool.
func (e *Engine) forget(ep *Endpoint) {
	e.mu.Lock()
	delete(e.endpoints, ep)
	if ep.port != 0 {
		e.freePorts = append(e.freePorts, ep.port)
	}
	e.mu.Unlock()
}

package main

import (
	"context"
	"encoding/binary"
	"fmt"
	"math"
	"net"
	"net/netip"
	"sort"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

// rtpSink receives the RTP of every call of a media row on one UDP port of
// 127.0.0.1 and measures it the way a receiver does (RFC 3550 §6.4.1, A.3, A.8):
// per stream, packets lost from the sequence numbers and the interarrival jitter.
//
// A stream is one (source port, SSRC): hotline sends each call from its own RTP
// port, SIPp's rtp_stream each call with its own SSRC. Several sockets share the
// port with SO_REUSEPORT; the kernel hashes a source address to one of them, so a
// stream is always read by the same goroutine, which owns its table: no locks on
// the packet path and no allocation once a stream is known.
type rtpSink struct {
	port    int
	conns   []*net.UDPConn
	readers []*sinkReader
	wg      sync.WaitGroup
	gen     atomic.Uint64 // a new window drops what the readers had
	on      atomic.Bool   // inside the measuring window
}

// sinkClockRate is the RTP clock of every stream the rows send: PCMU, 8 kHz.
const sinkClockRate = 8000

// deltaBucket is the width of the histogram of |D| (RFC 3550's transit
// difference between two consecutive packets of a stream); deltaBuckets of them
// cover 0-200 ms, the last one holds everything above.
const (
	deltaBucket  = 100 * time.Microsecond
	deltaBuckets = 2001
)

type sinkReader struct {
	mu      sync.Mutex
	gen     uint64
	streams map[uint64]*rtpStream
	hist    [deltaBuckets]uint64
	bad     uint64 // datagrams that are not RTP version 2
}

// rtpStream is the receiver state of one stream (RFC 3550 A.1 and A.8).
type rtpStream struct {
	srcPort  uint16
	ssrc     uint32
	baseSeq  uint32
	maxSeq   uint16
	cycles   uint32
	received uint64
	// The previous packet's timestamp and arrival; jitter is in RTP timestamp
	// units, as a float so that arrival times keep their nanoseconds.
	lastTS      uint32
	lastArrival time.Time
	jitter      float64
	first, last time.Time
}

func newRTPSink(sockets int) (*rtpSink, error) {
	s := &rtpSink{}
	lc := net.ListenConfig{Control: func(network, address string, c syscall.RawConn) error {
		var serr error
		err := c.Control(func(fd uintptr) {
			serr = syscall.SetsockoptInt(int(fd), syscall.SOL_SOCKET, 0xf /* SO_REUSEPORT */, 1)
		})
		if err != nil {
			return err
		}
		return serr
	}}
	addr := "127.0.0.1:0"
	for i := range sockets {
		pc, err := lc.ListenPacket(context.Background(), "udp4", addr)
		if err != nil {
			s.close()
			return nil, fmt.Errorf("rtp sink socket %d: %w", i, err)
		}
		c := pc.(*net.UDPConn)
		// As much receive buffer as the kernel lets us have (net.core.rmem_max caps
		// it): the sink must not be where packets are lost.
		_ = c.SetReadBuffer(16 << 20)
		s.conns = append(s.conns, c)
		if i == 0 {
			s.port = c.LocalAddr().(*net.UDPAddr).Port
			addr = fmt.Sprintf("127.0.0.1:%d", s.port)
		}
	}
	for _, c := range s.conns {
		r := &sinkReader{streams: make(map[uint64]*rtpStream, 4096)}
		s.readers = append(s.readers, r)
		s.wg.Add(1)
		go s.read(c, r)
	}
	return s, nil
}

func (s *rtpSink) read(c *net.UDPConn, r *sinkReader) {
	defer s.wg.Done()
	buf := make([]byte, 2048)
	for {
		n, from, err := c.ReadFromUDPAddrPort(buf)
		if err != nil {
			return // closed
		}
		if !s.on.Load() {
			continue
		}
		now := time.Now()
		r.mu.Lock()
		if g := s.gen.Load(); g != r.gen {
			r.reset(g)
		}
		r.packet(buf[:n], from, now)
		r.mu.Unlock()
	}
}

func (r *sinkReader) reset(gen uint64) {
	r.gen = gen
	clear(r.streams)
	r.hist = [deltaBuckets]uint64{}
	r.bad = 0
}

// packet takes one datagram that arrived at now.
func (r *sinkReader) packet(b []byte, from netip.AddrPort, now time.Time) {
	if len(b) < 12 || b[0]>>6 != 2 {
		r.bad++
		return
	}
	seq := binary.BigEndian.Uint16(b[2:4])
	ts := binary.BigEndian.Uint32(b[4:8])
	ssrc := binary.BigEndian.Uint32(b[8:12])
	key := uint64(from.Port())<<32 | uint64(ssrc)
	st := r.streams[key]
	if st == nil {
		st = &rtpStream{srcPort: from.Port(), ssrc: ssrc}
		r.streams[key] = st
		st.start(seq, now)
	}
	st.update(seq, ts, now, &r.hist)
}

func (st *rtpStream) start(seq uint16, now time.Time) {
	st.baseSeq = uint32(seq)
	st.maxSeq = seq
	st.first = now
}

// update is RFC 3550 A.1 (sequence numbers, without the probation of a new
// source: every stream here is known good) and A.8 (jitter), with arrival times
// converted to the 8 kHz RTP clock.
func (st *rtpStream) update(seq uint16, ts uint32, now time.Time, hist *[deltaBuckets]uint64) {
	st.received++
	udelta := seq - st.maxSeq
	switch {
	case st.received == 1:
	case udelta < 0x8000: // in order, possibly with a gap
		if seq < st.maxSeq {
			st.cycles += 1 << 16
		}
		st.maxSeq = seq
	default: // late or duplicate: counted as received, changes no maximum
	}
	st.last = now
	if st.received > 1 {
		// D(i-1, i) = (R_i - R_{i-1}) - (S_i - S_{i-1}), in timestamp units; the
		// timestamp difference is taken modulo 2^32, so a wrap does not matter.
		arrived := float64(now.Sub(st.lastArrival)) * sinkClockRate / float64(time.Second)
		d := math.Abs(arrived - float64(int32(ts-st.lastTS)))
		st.jitter += (d - st.jitter) / 16
		i := int(d * float64(time.Second) / sinkClockRate / float64(deltaBucket))
		if i >= deltaBuckets || i < 0 {
			i = deltaBuckets - 1
		}
		hist[i]++
	}
	st.lastTS = ts
	st.lastArrival = now
}

// expected is RFC 3550 A.3's packets expected: extended highest sequence number
// received minus the first, plus one.
func (st *rtpStream) expected() uint64 {
	ext := uint64(st.cycles) + uint64(st.maxSeq)
	return ext - uint64(st.baseSeq) + 1
}

// jitterDur is the stream's interarrival jitter as a duration.
func (st *rtpStream) jitterDur() time.Duration {
	return time.Duration(st.jitter * float64(time.Second) / sinkClockRate)
}

// startWindow drops everything received so far and starts counting.
func (s *rtpSink) startWindow() {
	s.gen.Add(1)
	s.on.Store(true)
}

// rtpResult is what the sink measured over a window.
type rtpResult struct {
	Streams    int     // (source port, SSRC) pairs that sent at least minPackets
	Sources    int     // distinct source ports among them
	Short      int     // streams with fewer packets (started or ended inside the window)
	Received   uint64  // packets of the counted streams
	Expected   uint64  // from their sequence numbers
	Lost       int64   // Expected - Received (duplicates make it smaller)
	LossPct    float64 // 100 × Lost / Expected
	Bad        uint64  // datagrams that were not RTP
	JitterP50  time.Duration
	JitterP99  time.Duration // 99th percentile over streams of RFC 3550 jitter at the window's end
	JitterMax  time.Duration
	DeltaP99   time.Duration // 99th percentile over all packets of |D|, the transit difference of consecutive packets
	DeltaMax   time.Duration // the largest bucket with a packet (bucket upper bound; ≥ 200 ms shown as 200 ms)
	PacketRate float64       // packets per second received over the window
	Window     time.Duration
}

// realTimePct is the packets received per second as a share of what the counted
// streams send in real time (one 20 ms packet each, 50 a second). Below 100 a
// sender fell behind: its packets are not lost but late, which loss from sequence
// numbers does not see and the jitter does.
func (r rtpResult) realTimePct() float64 {
	if r.Streams == 0 {
		return 0
	}
	return 100 * r.PacketRate / (50 * float64(r.Streams))
}

// minPackets: a stream must have sent at least this many packets in the window to
// be counted (1 s of 20 ms packets); the others are calls that started or ended
// inside it.
const minPackets = 50

// stopWindow stops counting and returns the window's figures.
func (s *rtpSink) stopWindow(window time.Duration) rtpResult {
	s.on.Store(false)
	gen := s.gen.Load()
	var streams []*rtpStream
	var hist [deltaBuckets]uint64
	var res rtpResult
	res.Window = window
	for _, r := range s.readers {
		r.mu.Lock()
		if r.gen == gen {
			for _, st := range r.streams {
				cp := *st
				streams = append(streams, &cp)
			}
			for i, v := range r.hist {
				hist[i] += v
			}
			res.Bad += r.bad
		}
		r.mu.Unlock()
	}
	summarizeStreams(&res, streams, &hist)
	return res
}

func summarizeStreams(res *rtpResult, streams []*rtpStream, hist *[deltaBuckets]uint64) {
	var jit []time.Duration
	ports := map[uint16]bool{}
	for _, st := range streams {
		if st.received < minPackets {
			res.Short++
			continue
		}
		res.Streams++
		ports[st.srcPort] = true
		res.Received += st.received
		res.Expected += st.expected()
		jit = append(jit, st.jitterDur())
	}
	res.Sources = len(ports)
	res.Lost = int64(res.Expected) - int64(res.Received)
	if res.Expected > 0 {
		res.LossPct = 100 * float64(res.Lost) / float64(res.Expected)
	}
	if len(jit) > 0 {
		sort.Slice(jit, func(i, j int) bool { return jit[i] < jit[j] })
		res.JitterP50 = jit[quantileIndex(len(jit), 0.50)]
		res.JitterP99 = jit[quantileIndex(len(jit), 0.99)]
		res.JitterMax = jit[len(jit)-1]
	}
	var total uint64
	for _, v := range hist {
		total += v
	}
	if total > 0 {
		want := uint64(math.Ceil(0.99 * float64(total)))
		var acc uint64
		p99 := -1
		for i, v := range hist {
			acc += v
			if p99 < 0 && acc >= want {
				p99 = i
			}
			if v > 0 {
				res.DeltaMax = time.Duration(i+1) * deltaBucket
			}
		}
		res.DeltaP99 = time.Duration(p99+1) * deltaBucket
	}
	if res.Window > 0 {
		res.PacketRate = float64(res.Received) / res.Window.Seconds()
	}
}

// quantileIndex is the nearest-rank index of quantile q in n sorted values.
func quantileIndex(n int, q float64) int {
	i := int(math.Ceil(q*float64(n))) - 1
	return min(max(i, 0), n-1)
}

func (s *rtpSink) close() {
	for _, c := range s.conns {
		c.Close()
	}
	s.wg.Wait()
}

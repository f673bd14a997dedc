package main

import (
	"encoding/binary"
	"math"
	"net"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/hotline-cc/hotline/config"
)

// rtpPacket builds a 12-byte RTP header (PCMU) and 160 bytes of payload.
func rtpPacket(seq uint16, ts, ssrc uint32) []byte {
	b := make([]byte, 12+160)
	b[0] = 0x80
	binary.BigEndian.PutUint16(b[2:], seq)
	binary.BigEndian.PutUint32(b[4:], ts)
	binary.BigEndian.PutUint32(b[8:], ssrc)
	return b
}

// feed gives a reader one stream: packet i has sequence seq0+i and timestamp
// 160·i and arrives at t0 + 20 ms·i + delay(i); skip drops packets.
func feed(r *sinkReader, port uint16, ssrc uint32, seq0 uint16, n int, delay func(int) time.Duration, skip func(int) bool) {
	t0 := time.Unix(1000, 0)
	from := netip.AddrPortFrom(netip.MustParseAddr("127.0.0.1"), port)
	for i := range n {
		if skip != nil && skip(i) {
			continue
		}
		at := t0.Add(time.Duration(i) * 20 * time.Millisecond)
		if delay != nil {
			at = at.Add(delay(i))
		}
		r.packet(rtpPacket(seq0+uint16(i), uint32(160*i)+12345, ssrc), from, at)
	}
}

func newTestReader() *sinkReader { return &sinkReader{streams: map[uint64]*rtpStream{}} }

func streamsOf(r *sinkReader) []*rtpStream {
	var out []*rtpStream
	for _, st := range r.streams {
		out = append(out, st)
	}
	return out
}

func TestSinkCountsLossFromSequenceGaps(t *testing.T) {
	r := newTestReader()
	// 1,000 packets, every 100th lost (10), on time: no jitter.
	feed(r, 40000, 7, 0, 1000, nil, func(i int) bool { return i%100 == 50 })
	var res rtpResult
	summarizeStreams(&res, streamsOf(r), &r.hist)
	if res.Streams != 1 || res.Expected != 1000 || res.Received != 990 || res.Lost != 10 {
		t.Fatalf("got %+v, want 1 stream, 1000 expected, 990 received, 10 lost", res)
	}
	if math.Abs(res.LossPct-1.0) > 1e-9 {
		t.Errorf("loss = %v%%, want 1%%", res.LossPct)
	}
	if res.JitterP99 != 0 || res.DeltaP99 != deltaBucket {
		t.Errorf("jitter p99 %s, |D| p99 %s; want 0 and the first bucket (%s)", res.JitterP99, res.DeltaP99, deltaBucket)
	}
}

func TestSinkHandlesSequenceWrapReorderAndDuplicates(t *testing.T) {
	r := newTestReader()
	feed(r, 40002, 9, 65500, 100, nil, nil) // wraps after 36 packets
	st := r.streams[uint64(40002)<<32|9]
	if st.expected() != 100 || st.received != 100 || st.cycles != 1<<16 {
		t.Fatalf("expected %d received %d cycles %d; want 100, 100, 65536", st.expected(), st.received, st.cycles)
	}
	// A late packet and a duplicate: both received, the maximum does not move back.
	from := netip.AddrPortFrom(netip.MustParseAddr("127.0.0.1"), 40002)
	at := time.Unix(1010, 0)
	r.packet(rtpPacket(uint16(65500+50-65536), 160*50+12345, 9), from, at)
	r.packet(rtpPacket(uint16(65500+99-65536), 160*99+12345, 9), from, at)
	if st.expected() != 100 || st.received != 102 {
		t.Errorf("after a late packet and a duplicate: expected %d received %d; want 100, 102", st.expected(), st.received)
	}
	// RFC 3550: lost = expected - received, negative with duplicates.
	var res rtpResult
	summarizeStreams(&res, streamsOf(r), &r.hist)
	if res.Lost != -2 {
		t.Errorf("lost = %d, want -2", res.Lost)
	}
}

func TestSinkJitterFollowsRFC3550(t *testing.T) {
	r := newTestReader()
	// Every other packet 2 ms late: |D| is 2 ms (16 timestamp units) for every
	// packet after the first, so J converges to 2 ms.
	feed(r, 40004, 1, 0, 500, func(i int) time.Duration {
		if i%2 == 1 {
			return 2 * time.Millisecond
		}
		return 0
	}, nil)
	st := r.streams[uint64(40004)<<32|1]
	// J_n = 16·(1 - (15/16)^n) after n differences.
	want := 16 * (1 - math.Pow(15.0/16, 499))
	if math.Abs(st.jitter-want) > 1e-6 {
		t.Errorf("jitter = %v ts units, want %v", st.jitter, want)
	}
	var res rtpResult
	summarizeStreams(&res, streamsOf(r), &r.hist)
	if d := res.JitterP99 - 2*time.Millisecond; d < -time.Microsecond || d > time.Microsecond {
		t.Errorf("jitter p99 = %s, want 2ms", res.JitterP99)
	}
	// |D| = 2.0 ms falls in the bucket [2.0, 2.1) ms.
	if res.DeltaP99 != 2100*time.Microsecond || res.DeltaMax != 2100*time.Microsecond {
		t.Errorf("|D| p99 %s max %s, want 2.1ms", res.DeltaP99, res.DeltaMax)
	}
	// The first jitter step, by hand: D = 16, J = 0 + (16 - 0)/16 = 1.
	r2 := newTestReader()
	feed(r2, 40006, 1, 0, 2, func(i int) time.Duration { return time.Duration(i) * 2 * time.Millisecond }, nil)
	if j := r2.streams[uint64(40006)<<32|1].jitter; math.Abs(j-1) > 1e-9 {
		t.Errorf("J after one late packet = %v, want 1", j)
	}
}

func TestSinkQuantilesOverStreamsSkipShortOnes(t *testing.T) {
	r := newTestReader()
	// 100 streams: stream k's packets alternate k/10 ms late, so its jitter tends
	// to k/10 ms; the p99 over streams is stream 98's.
	for k := range 100 {
		late := time.Duration(k) * 100 * time.Microsecond
		feed(r, uint16(41000+2*k), uint32(k), uint16(k*7), 2000, func(i int) time.Duration {
			if i%2 == 1 {
				return late
			}
			return 0
		}, nil)
	}
	feed(r, 43000, 5, 0, minPackets-1, nil, nil) // too short to count
	var res rtpResult
	res.Window = 10 * time.Second
	summarizeStreams(&res, streamsOf(r), &r.hist)
	if res.Streams != 100 || res.Short != 1 || res.Sources != 100 {
		t.Fatalf("streams %d short %d sources %d; want 100, 1, 100", res.Streams, res.Short, res.Sources)
	}
	if d := res.JitterP99 - 9800*time.Microsecond; d < -10*time.Microsecond || d > 10*time.Microsecond {
		t.Errorf("jitter p99 = %s, want 9.8ms", res.JitterP99)
	}
	if d := res.JitterP50 - 4900*time.Microsecond; d < -10*time.Microsecond || d > 10*time.Microsecond {
		t.Errorf("jitter p50 = %s, want 4.9ms", res.JitterP50)
	}
	if res.PacketRate != 100*2000/10 {
		t.Errorf("packet rate = %v", res.PacketRate)
	}
}

func TestSinkReceivesOverUDP(t *testing.T) {
	s, err := newRTPSink(2)
	if err != nil {
		t.Fatal(err)
	}
	defer s.close()
	dst := &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1), Port: s.port}
	var conns []*net.UDPConn
	for range 4 {
		c, err := net.DialUDP("udp4", nil, dst)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		conns = append(conns, c)
	}
	// Before the window: ignored.
	conns[0].Write(rtpPacket(1, 0, 1))
	time.Sleep(20 * time.Millisecond)
	s.startWindow()
	for i := range 100 {
		for k, c := range conns {
			if k == 3 && i == 40 {
				continue // one loss
			}
			c.Write(rtpPacket(uint16(1000+i), uint32(160*i), uint32(k)))
		}
	}
	c0 := conns[0]
	c0.Write([]byte("not rtp"))
	deadline := time.Now().Add(2 * time.Second)
	var res rtpResult
	for time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
		total := uint64(0)
		for _, r := range s.readers {
			r.mu.Lock()
			for _, st := range r.streams {
				total += st.received
			}
			r.mu.Unlock()
		}
		if total == 399 {
			break
		}
	}
	res = s.stopWindow(time.Second)
	if res.Streams != 4 || res.Received != 399 || res.Expected != 400 || res.Lost != 1 || res.Bad != 1 {
		t.Errorf("got %+v; want 4 streams, 399 of 400, 1 lost, 1 bad", res)
	}
}

func TestBenchConfigIsValid(t *testing.T) {
	for _, agents := range []int{0, 3} {
		text := benchConfig("127.0.0.1:5060", "127.0.0.1:8080", "/tmp/x", "40000-59999", agents)
		cfg, err := config.Parse("bench.yaml", []byte(text))
		if err != nil {
			t.Fatalf("agents=%d: %v\n%s", agents, err, text)
		}
		want := max(agents, 1)
		if len(cfg.Agents) != want {
			t.Errorf("agents=%d: %d agents in the config", agents, len(cfg.Agents))
		}
	}
}

func TestRegisterRequestAndResponse(t *testing.T) {
	msg := registerRequest("sip:127.0.0.1:5060", "5001", 41000, 2, `Digest username="5001"`)
	for _, want := range []string{"REGISTER sip:127.0.0.1:5060 SIP/2.0\r\n", "Contact: <sip:5001@127.0.0.1:41000>\r\n", "CSeq: 2 REGISTER\r\n",
		"To: <sip:5001@hotline>\r\n", "Authorization: Digest username=\"5001\"\r\n", "\r\n\r\n"} {
		if !strings.Contains(msg, want) {
			t.Errorf("REGISTER lacks %q:\n%s", want, msg)
		}
	}
}

func TestMediaRowVerdicts(t *testing.T) {
	good := mediaRun{Created: 1500, Success: 1500, RTP: rtpResult{Streams: 1500, LossPct: 0.01, JitterP99: 2 * time.Millisecond}, RSS: 200 << 20}
	bad := good
	bad.RTP.JitterP99 = 7 * time.Millisecond
	row := mediaRow{Kind: "playback", Calls: 1500, Runs: []mediaRun{good, bad, good}}
	if v := row.verdict(); v != "meets the target" {
		t.Errorf("median of good, bad, good: %q", v)
	}
	row.Runs = []mediaRun{bad, bad, good}
	if v := row.verdict(); !strings.Contains(v, "jitter p99 7.00 ms") {
		t.Errorf("median of bad, bad, good: %q", v)
	}
	br := mediaRow{Kind: "bridged", Calls: 1000, IdleRSS: 30 << 20, Runs: []mediaRun{{Created: 1000, Success: 1000, RTP: rtpResult{Streams: 1000}, RSS: 30<<20 + 1000*150<<10}}}
	if v := br.verdict(); !strings.Contains(v, "RSS per call 150 kB > 100 kB") {
		t.Errorf("bridged at 150 kB per call: %q", v)
	}
}

func TestMediaMarkdownIsWellFormed(t *testing.T) {
	o := &options{rows: map[string]bool{"playback": true}, calibrate: true, media: mediaPlan{rate: 200, repeat: 3, plateau: 10 * time.Second, settle: 3 * time.Second}}
	run := mediaRun{Created: 10, Success: 10, RTP: rtpResult{Streams: 10, PacketRate: 400, JitterP99: time.Millisecond}, RSS: 40 << 20}
	r := &report{When: time.Unix(0, 0), Machine: machine{Cores: 2}, Opts: o, Media: []mediaRow{
		{Kind: "playback", Calls: 10, Runs: []mediaRun{run}, StartRSS: 20 << 20, IdleRSS: 30 << 20},
		{Kind: "playback", Calib: true, Calls: 10, Runs: []mediaRun{run}},
	}}
	md := r.mediaMarkdown()
	if strings.Contains(md, "%!") {
		t.Errorf("format error in:\n%s", md)
	}
	var header string
	for line := range strings.Lines(md) {
		if strings.HasPrefix(line, "| scenario |") {
			header = line
		}
	}
	cols := strings.Count(strings.ReplaceAll(header, `\|`, ""), "|") - 1
	if cols != len(mediaHeader) {
		t.Errorf("header has %d columns, want %d: %s", cols, len(mediaHeader), header)
	}
	// 400 packets/s for 10 streams is 80% of real time: a miss of its own.
	if !strings.Contains(md, "RTP at 80.0% of real time (< 99%)") {
		t.Errorf("no real-time miss in:\n%s", md)
	}
}

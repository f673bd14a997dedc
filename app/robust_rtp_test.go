package app_test

import (
	"encoding/binary"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"testing"
	"time"

	"github.com/pion/rtp"

	"github.com/hotline-cc/hotline/config"
)

// rtpPacket marshals an RTP packet; panics are impossible for these inputs.
func rtpPacket(pt uint8, seq uint16, ts, ssrc uint32, marker bool, payload []byte) []byte {
	b, _ := (&rtp.Packet{Header: rtp.Header{Version: 2, PayloadType: pt, SequenceNumber: seq, Timestamp: ts, SSRC: ssrc, Marker: marker}, Payload: payload}).Marshal()
	return b
}

// pressKey sends digit as RFC 4733 events: three end packets of one event.
func pressKey(t *testing.T, from *net.UDPConn, to *net.UDPAddr, digit byte, seq uint16, ts, ssrc uint32) {
	t.Helper()
	for i := range 3 {
		if _, err := from.WriteToUDP(rtpPacket(101, seq+uint16(i), ts, ssrc, false, []byte{digit, 0x8a, 0x03, 0x20}), to); err != nil {
			t.Fatalf("send key: %v", err)
		}
	}
}

// TestMalformedRTPIsDroppedAndCounted: during an answered call the caller's
// address sends every kind of broken RTP and a stranger sends good-looking
// audio. All of it is dropped and counted; the stream stays latched to the
// caller, whose next key press (with a new SSRC, as after a re-INVITE
// through a media gateway) still works: the IVR takes it and puts the call
// in the queue with music.
func TestMalformedRTPIsDroppedAndCounted(t *testing.T) {
	t.Parallel()
	h := startHotline(t, func(c *config.Config) {
		c.Trunks[0].ACL = []netip.Prefix{netip.MustParsePrefix("127.0.0.1/32")}
		c.Trunks[0].Numbers = []string{"8005551000"}
	})
	peer := newSIPPeer(t, netip.MustParseAddr("127.0.0.1"), 0)
	media, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	defer media.Close()
	stranger, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	defer stranger.Close()
	call, _ := placeCarrierCall(t, h.sipAddr(), peer, "rtp-1", offerSDPAt(media.LocalAddr().(*net.UDPAddr).AddrPort(), "0 101", "0 PCMU/8000", "101 telephone-event/8000"), 5*time.Second)
	if call.answer.status != 200 {
		t.Fatalf("call answered %d", call.answer.status)
	}
	call.ack(t)
	ours := net.UDPAddrFromAddrPort(call.answerMedia(t))
	send := func(from *net.UDPConn, pkt []byte) {
		if _, err := from.WriteToUDP(pkt, ours); err != nil {
			t.Fatalf("send rtp: %v", err)
		}
	}
	readRTP := func(conn *net.UDPConn, within time.Duration) int {
		buf := make([]byte, 1500)
		_ = conn.SetReadDeadline(time.Now().Add(within))
		n := 0
		for {
			if _, _, err := conn.ReadFromUDP(buf); err != nil {
				var ne net.Error
				if !errors.As(err, &ne) || !ne.Timeout() {
					t.Fatalf("read rtp: %v", err)
				}
				return n
			}
			n++
			if n == 25 {
				return n
			}
		}
	}
	// The greeting plays; the caller's audio latches the stream.
	if got := readRTP(media, 5*time.Second); got < 25 {
		t.Fatalf("%d RTP packets of the greeting, want 25", got)
	}
	silence := make([]byte, 160)
	for i := range 5 {
		send(media, rtpPacket(0, uint16(i), uint32(i*160), 0x1111, i == 0, silence))
	}

	var cc15 [12]byte
	cc15[0] = 0x8f // version 2, 15 CSRCs announced, none there
	extension := rtpPacket(0, 10, 1600, 0x1111, false, silence)
	extension[0] |= 0x10                                 // extension bit, and an extension header
	binary.BigEndian.PutUint16(extension[14:16], 0xffff) // claiming 256 kB
	padded := rtpPacket(0, 11, 1760, 0x1111, false, silence[:8])
	padded[0] |= 0x20
	padded[len(padded)-1] = 200 // more padding than the packet has
	// Each kind of broken packet, and the reason it is dropped for.
	broken := map[string]struct {
		pkt    []byte
		reason string
	}{
		"empty datagram":                     {[]byte{}, "malformed"},
		"three bytes":                        {[]byte{0x80, 0x00, 0x01}, "malformed"},
		"RTP version 1":                      {append([]byte{0x40}, rtpPacket(0, 2, 1920, 0x1111, false, silence)[1:]...), "malformed"},
		"15 CSRCs announced, none there":     {cc15[:], "malformed"},
		"extension longer than the packet":   {extension, "malformed"},
		"padding longer than the packet":     {padded, "malformed"},
		"G.729, not negotiated":              {rtpPacket(18, 13, 2080, 0x1111, false, silence[:20]), "payload_type"},
		"telephone-event of 2 bytes":         {rtpPacket(101, 14, 2240, 0x1111, true, []byte{1, 0x80}), "dtmf"},
		"a stranger's audio, after latching": {nil, "source"}, // sent from the stranger's socket below
	}
	// Kind by kind, and each counted before the next: a burst of all of
	// them would overflow the socket's receive buffer, which is the
	// kernel's loss, not ours.
	// The caller goes on talking meanwhile, one good packet per broken one,
	// as a real caller's 50 packets a second keep its latch.
	const each = 50
	talk := uint16(5)
	for what, b := range broken {
		series := `hotline_rtp_packets_dropped_total{reason="` + b.reason + `"}`
		before := metricValue(h.metrics(), series)
		for i := range each {
			send(media, rtpPacket(0, talk, uint32(talk)*160, 0x1111, false, silence))
			talk++
			if b.pkt == nil {
				send(stranger, rtpPacket(0, uint16(100+i), uint32(i*160), 0x2222, false, silence))
				continue
			}
			send(media, b.pkt)
		}
		waitFor(t, 5*time.Second, what+": dropped and counted as "+b.reason, func() (bool, string) {
			got := metricValue(h.metrics(), series) - before
			return got == each, fmt.Sprintf("%v of %d counted", got, each)
		})
	}

	// A new SSRC, then the key 1 (RFC 4733: three end packets).
	for i := range 3 {
		send(media, rtpPacket(0, uint16(500+i), uint32(90000+i*160), 0x3333, i == 0, silence))
	}
	pressKey(t, media, ours, 1, 503, 90480, 0x3333)
	waitFor(t, 5*time.Second, "the queue takes the call after the key 1", func() (bool, string) {
		q := metricValue(h.metrics(), `hotline_queue_callers_waiting{queue="sales"}`)
		return q == 1, fmt.Sprintf("sales waiting %v", q)
	})
	if got := readRTP(media, 3*time.Second); got < 25 {
		t.Errorf("%d RTP packets of the queue's music, want 25: the stream lost its latch", got)
	}
	if got := readRTP(stranger, 300*time.Millisecond); got != 0 {
		t.Errorf("the stranger received %d RTP packets: it took the stream over", got)
	}
	if bye := call.bye(t); bye != 200 {
		t.Errorf("BYE answered %d", bye)
	}
	reportRobust(t, "malformed RTP during a call", fmt.Sprintf("%d kinds × %d packets dropped and counted; latch kept; key after SSRC change taken", len(broken), each),
		"all dropped and counted, call unharmed", !t.Failed())
}

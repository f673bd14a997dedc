package media

import (
	"encoding/binary"
	"net/netip"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/pion/rtp"
)

// rtpFuzzMode is how the receiving endpoint is set up for one input.
type rtpFuzzMode uint8

const (
	modeNoRemote      rtpFuzzMode = iota // nothing negotiated: every packet is refused
	modeAnswered                         // PCMU and telephone-event 101 negotiated
	modeTapped                           // PCMA and 101, a recording tap attached
	modeBridged                          // bridged to a PCMA leg without events: transcoding, events dropped
	modeBridgedTapped                    // bridged to a PCMU leg with events on 96, taps on both
	modeMixed                            // a speaker in a Mix
	rtpFuzzModes
)

// rtpFuzzSource is where the fuzzed datagrams come from.
var rtpFuzzSource = netip.MustParseAddrPort("127.0.0.1:40002")

// readPcapUDP returns the UDP payloads of an Ethernet/IPv4 pcap file (as
// written for our SIPp scenarios), at most limit of them.
func readPcapUDP(tb testing.TB, path string, limit int) [][]byte {
	tb.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		tb.Fatal(err)
	}
	if len(data) < 24 || binary.LittleEndian.Uint32(data) != 0xa1b2c3d4 || binary.LittleEndian.Uint32(data[20:]) != 1 {
		tb.Fatalf("%s: not a little-endian Ethernet pcap", path)
	}
	var out [][]byte
	for off := 24; off+16 <= len(data) && len(out) < limit; {
		n := int(binary.LittleEndian.Uint32(data[off+8:]))
		frame := data[off+16 : min(off+16+n, len(data))]
		off += 16 + n
		const ethernet = 14
		if len(frame) < ethernet+20 || frame[12] != 0x08 || frame[13] != 0x00 || frame[ethernet+9] != 17 {
			continue // not IPv4/UDP
		}
		udp := ethernet + int(frame[ethernet]&0x0f)*4
		if len(frame) < udp+8 {
			continue
		}
		out = append(out, frame[udp+8:])
	}
	return out
}

// rtpSeeds are valid and damaged packets: our SIPp scenarios' RTP (audio,
// RFC 4733 events), then packets with CSRCs, a header extension and
// padding, and truncated ones.
func rtpSeeds(tb testing.TB) [][]byte {
	var seeds [][]byte
	files, _ := filepath.Glob(filepath.Join("..", "testdata", "sipp", "pcap", "*.pcap"))
	for _, f := range files {
		seeds = append(seeds, readPcapUDP(tb, f, 4)...)
	}
	if len(files) == 0 {
		tb.Log("no pcap files to seed from")
	}
	marshal := func(p rtp.Packet) []byte {
		b, err := p.Marshal()
		if err != nil {
			tb.Fatal(err)
		}
		return b
	}
	audio := rtp.Packet{Header: rtp.Header{Version: 2, PayloadType: 0, SequenceNumber: 7, Timestamp: 160, SSRC: 0x11223344}, Payload: make([]byte, 160)}
	withCSRC := audio
	withCSRC.CSRC = []uint32{1, 2, 3}
	withExt := audio
	withExt.Extension = true
	withExt.ExtensionProfile = 0xBEDE
	if err := withExt.SetExtension(1, []byte{0xAA, 0xBB}); err != nil {
		tb.Fatal(err)
	}
	padded := audio
	padded.Padding, padded.PaddingSize = true, 4
	event := rtp.Packet{Header: rtp.Header{Version: 2, Marker: true, PayloadType: 101, SequenceNumber: 8, Timestamp: 320, SSRC: 0x11223344},
		Payload: []byte{5, 0x0a, 0, 160}}
	for _, p := range []rtp.Packet{audio, withCSRC, withExt, padded, event} {
		b := marshal(p)
		seeds = append(seeds, b, b[:len(b)/2], b[:rtpHeaderLen-1])
	}
	return append(seeds, nil, []byte{0x80}, make([]byte, maxDatagram))
}

// FuzzHandlePacket feeds datagrams to the reader's packet handling of a
// real endpoint, set up as a mode byte says. Nothing may panic; every
// datagram is counted in PacketsIn and BytesIn; one is refused (counted
// invalid) or taken, never both, and a refused one is neither relayed nor
// a digit; at most one packet is relayed, only by a bridged endpoint,
// never longer than the datagram (its header becomes ours: 12 bytes, no
// CSRC, extension or padding).
func FuzzHandlePacket(f *testing.F) {
	for i, seed := range rtpSeeds(f) {
		f.Add(uint8(i), seed)
	}
	e := newTestEngine(f, true) // no pacer: the only packets out are relays
	ep := newTestEndpoint(f, e, "caller")
	other := newTestEndpoint(f, e, "agent")
	sink := newUDPPeer(f) // where relayed packets go; never read
	mix := e.NewMix()
	f.Cleanup(func() { mix.Close() })
	tap := &countingTap{}
	r := newReader()
	f.Fuzz(func(t *testing.T, mode uint8, datagram []byte) {
		m := rtpFuzzMode(mode % uint8(rtpFuzzModes))
		// The state of the last input goes: a new remote address drops
		// the latch, the SSRC and the DTMF detector (SetRemote).
		Unbridge(ep)
		mix.Leave(ep)
		ep.Record(nil)
		other.Record(nil)
		ep.SetRemote(Remote{})
		other.SetRemote(Remote{})
		switch m {
		case modeAnswered:
			ep.SetRemote(Remote{Addr: rtpFuzzSource, Codec: CodecPCMU, DTMFPayloadType: 101})
		case modeTapped:
			ep.SetRemote(Remote{Addr: rtpFuzzSource, Codec: CodecPCMA, DTMFPayloadType: 101})
			ep.Record(tap)
		case modeBridged:
			ep.SetRemote(Remote{Addr: rtpFuzzSource, Codec: CodecPCMU, DTMFPayloadType: 101})
			other.SetRemote(Remote{Addr: sink.addr(), Codec: CodecPCMA})
			Bridge(ep, other)
		case modeBridgedTapped:
			ep.SetRemote(Remote{Addr: rtpFuzzSource, Codec: CodecPCMA, DTMFPayloadType: 101})
			other.SetRemote(Remote{Addr: sink.addr(), Codec: CodecPCMU, DTMFPayloadType: 96})
			Bridge(ep, other)
			ep.Record(tap)
			other.Record(tap)
		case modeMixed:
			ep.SetRemote(Remote{Addr: rtpFuzzSource, Codec: CodecPCMU, DTMFPayloadType: 101})
			if err := mix.Join(ep, Speaker()); err != nil {
				t.Fatal(err)
			}
		}
		// The socket reads at most maxDatagram bytes into the reader's
		// buffer, which the packet's payload then aliases.
		n := copy(r.buf, datagram)
		before := e.Stats()
		ep.handlePacket(r, r.buf[:n], rtpFuzzSource, time.Now())
		after := e.Stats()

		in, bytesIn := after.PacketsIn-before.PacketsIn, after.BytesIn-before.BytesIn
		invalid, digits := after.PacketsInvalid-before.PacketsInvalid, after.DTMFDigits-before.DTMFDigits
		out, bytesOut := after.PacketsOut-before.PacketsOut, after.BytesOut-before.BytesOut
		sendErrors := after.SendErrors - before.SendErrors
		switch {
		case in != 1 || bytesIn != uint64(n):
			t.Fatalf("counted %d packets, %d bytes for one of %d bytes", in, bytesIn, n)
		case invalid > 1 || digits > 1 || out+sendErrors > 1:
			t.Fatalf("one datagram: %d invalid, %d digits, %d relayed, %d send errors", invalid, digits, out, sendErrors)
		case invalid == 1 && (digits != 0 || out+sendErrors != 0):
			t.Fatalf("a refused packet made %d digits and %d relays", digits, out+sendErrors)
		case m == modeNoRemote && invalid != 1:
			t.Fatal("a packet taken without a negotiated codec")
		case out+sendErrors > 0 && m != modeBridged && m != modeBridgedTapped:
			t.Fatalf("mode %d relayed a packet", m)
		case bytesOut > uint64(n):
			t.Fatalf("relayed %d bytes for a datagram of %d", bytesOut, n)
		}
	})
}

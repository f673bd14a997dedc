package sipptest

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"time"

	"github.com/pion/rtp"
	"github.com/zaf/g711"
)

// Codec is the static RTP payload type of a G.711 stream (RFC 3551 §6).
type Codec uint8

const (
	PCMU Codec = 0 // G.711 µ-law
	PCMA Codec = 8 // G.711 A-law
)

func (c Codec) String() string {
	switch c {
	case PCMU:
		return "PCMU"
	case PCMA:
		return "PCMA"
	}
	return fmt.Sprintf("Codec(%d)", uint8(c))
}

// silence is the G.711 code word for a zero sample.
func (c Codec) silence() byte {
	if c == PCMA {
		return 0xD5
	}
	return 0xFF
}

func (c Codec) encode(sample int16) byte {
	if c == PCMA {
		return g711.EncodeAlawFrame(sample)
	}
	return g711.EncodeUlawFrame(sample)
}

// G.711 at 8 kHz in 20 ms packets: 160 samples, 160 timestamp units, 160 payload bytes
// (RFC 3551 §4.5.14 and the ptime 20 our SDP offers).
const (
	packetInterval   = 20 * time.Millisecond
	samplesPerPacket = 160
	sampleRate       = 8000
)

type segmentKind uint8

const (
	segmentUnknown segmentKind = iota
	segmentTone
	segmentSilence
	segmentDTMF
)

// Segment is one part of the stream a Spec describes; build it with Tone, Silence or DTMF.
type Segment struct {
	kind        segmentKind
	freqHz      float64
	duration    time.Duration
	event       uint8
	payloadType uint8
}

// Tone is a sine wave of freqHz at -12 dBFS.
func Tone(freqHz float64, d time.Duration) Segment {
	return Segment{kind: segmentTone, freqHz: freqHz, duration: d}
}

// Silence is G.711 packets of zero samples (not a gap: the stream keeps flowing, as a
// phone without silence suppression sends it).
func Silence(d time.Duration) Segment {
	return Segment{kind: segmentSilence, duration: d}
}

// DTMF is one key press sent as RFC 4733 telephone-event packets with payloadType (take
// it from the SDP, usually 101). digit is 0-9, *, # or A-D. d is the event duration.
func DTMF(digit rune, d time.Duration, payloadType uint8) Segment {
	ev, ok := dtmfEvent(digit)
	if !ok {
		// Keep the constructor chainable in Spec literals; WriteRTPPCAP reports it.
		return Segment{kind: segmentDTMF, event: 0xFF, duration: d, payloadType: payloadType}
	}
	return Segment{kind: segmentDTMF, event: ev, duration: d, payloadType: payloadType}
}

// dtmfEvent maps a key to its RFC 4733 §3.2 event code.
func dtmfEvent(digit rune) (uint8, bool) {
	switch {
	case digit >= '0' && digit <= '9':
		return uint8(digit - '0'), true
	case digit == '*':
		return 10, true
	case digit == '#':
		return 11, true
	case digit >= 'A' && digit <= 'D':
		return uint8(12 + digit - 'A'), true
	case digit >= 'a' && digit <= 'd':
		return uint8(12 + digit - 'a'), true
	}
	return 0, false
}

// DTMFDigit maps an RFC 4733 event code back to its key; ok is false above 15.
func DTMFDigit(event uint8) (digit rune, ok bool) {
	const keys = "0123456789*#ABCD"
	if int(event) >= len(keys) {
		return 0, false
	}
	return rune(keys[event]), true
}

// Spec describes an RTP stream for WriteRTPPCAP.
type Spec struct {
	Codec    Codec
	Segments []Segment
	// SSRC, FirstSeq and FirstTimestamp place the stream. Files played one after the
	// other by one SIPp call should have different SSRCs: each play starts its own
	// sequence, and a receiver must see a new source rather than packets from the past.
	SSRC           uint32
	FirstSeq       uint16
	FirstTimestamp uint32
}

// Packet addresses written into the capture. SIPp's play_pcap_audio keeps only the UDP
// payload and the destination port's offset from the lowest one in the file, and sends
// from its -mp port to the port of the peer's SDP, so these values do not matter beyond
// being the same for every packet.
const (
	pcapPort      = 6000
	pcapEpochUnix = 1767225600 // 2026-01-01T00:00:00Z: fixed, so files are reproducible
)

// dtmfVolume is the RFC 4733 §2.3.2 volume field: power level -10 dBm0.
const dtmfVolume = 10

// dtmfEndRepeats is how often the final packet of an event goes out (RFC 4733 §2.5.1.4:
// "SHOULD be sent a total of three times").
const dtmfEndRepeats = 3

// toneAmplitude is -12 dBFS, loud enough to detect, far from clipping.
const toneAmplitude = 0.25 * math.MaxInt16

// WriteRTPPCAP writes the stream spec describes to path as a pcap file that SIPp 3.6.1's
// <exec play_pcap_audio=.../> can play: classic pcap, link type 1 (Ethernet, which
// SIPp's prepare_pcap.c accepts along with Linux SLL; raw IP it refuses), IPv4/UDP, one
// RTP packet per 20 ms with packet times that pace the playback.
func WriteRTPPCAP(path string, spec Spec) error {
	var buf bytes.Buffer
	if err := EncodeRTPPCAP(&buf, spec); err != nil {
		return err
	}
	if err := os.WriteFile(path, buf.Bytes(), 0o644); err != nil {
		return fmt.Errorf("sipptest: write pcap: %w", err)
	}
	return nil
}

// EncodeRTPPCAP is WriteRTPPCAP to a writer.
func EncodeRTPPCAP(w io.Writer, spec Spec) error {
	if spec.Codec != PCMU && spec.Codec != PCMA {
		return fmt.Errorf("sipptest: codec %v is not G.711", spec.Codec)
	}
	if len(spec.Segments) == 0 {
		return errors.New("sipptest: spec has no segments")
	}
	pw := &pcapWriter{w: w}
	pw.header()
	s := &streamWriter{spec: spec, pw: pw, seq: spec.FirstSeq, firstAudio: true}
	for i, seg := range spec.Segments {
		if seg.duration < packetInterval {
			return fmt.Errorf("sipptest: segment %d: duration %v is shorter than one %v packet", i, seg.duration, packetInterval)
		}
		packets := int(seg.duration / packetInterval)
		switch seg.kind {
		case segmentTone:
			if seg.freqHz <= 0 || seg.freqHz >= sampleRate/2 {
				return fmt.Errorf("sipptest: segment %d: tone %v Hz is outside (0, 4000)", i, seg.freqHz)
			}
			s.audio(packets, seg.freqHz)
		case segmentSilence:
			s.audio(packets, 0)
		case segmentDTMF:
			if seg.event > 15 {
				return fmt.Errorf("sipptest: segment %d: not a DTMF key", i)
			}
			if seg.payloadType < 96 || seg.payloadType > 127 {
				return fmt.Errorf("sipptest: segment %d: telephone-event payload type %d is not dynamic (96-127)", i, seg.payloadType)
			}
			s.dtmf(packets, seg.event, seg.payloadType)
		default:
			return fmt.Errorf("sipptest: segment %d: zero Segment; use Tone, Silence or DTMF", i)
		}
	}
	if pw.err != nil {
		return fmt.Errorf("sipptest: write pcap: %w", pw.err)
	}
	return nil
}

// streamWriter turns segments into RTP packets on one 20 ms clock: slot n goes out at
// n*20 ms and audio in it carries timestamp FirstTimestamp+n*160.
type streamWriter struct {
	spec       Spec
	pw         *pcapWriter
	slot       uint32
	seq        uint16
	phase      float64 // tone phase in radians, continuous across packets
	firstAudio bool
	payload    [samplesPerPacket]byte
}

func (s *streamWriter) timestamp() uint32 {
	return s.spec.FirstTimestamp + s.slot*samplesPerPacket
}

func (s *streamWriter) send(pt uint8, marker bool, ts uint32, payload []byte) {
	p := rtp.Packet{
		Header: rtp.Header{
			Version:        2,
			Marker:         marker,
			PayloadType:    pt,
			SequenceNumber: s.seq,
			Timestamp:      ts,
			SSRC:           s.spec.SSRC,
		},
		Payload: payload,
	}
	b, err := p.Marshal()
	if err != nil && s.pw.err == nil {
		s.pw.err = err
	}
	s.pw.udp(time.Duration(s.slot)*packetInterval, b)
	s.seq++
	s.slot++
}

func (s *streamWriter) audio(packets int, freqHz float64) {
	step := 2 * math.Pi * freqHz / sampleRate
	for range packets {
		for i := range s.payload {
			if freqHz == 0 {
				s.payload[i] = s.spec.Codec.silence()
				continue
			}
			s.payload[i] = s.spec.Codec.encode(int16(toneAmplitude * math.Sin(s.phase)))
			s.phase = math.Mod(s.phase+step, 2*math.Pi)
		}
		// RFC 3550 §5.1: the marker flags the start of a talkspurt.
		s.send(uint8(s.spec.Codec), s.firstAudio, s.timestamp(), s.payload[:])
		s.firstAudio = false
	}
}

// dtmf sends one event the way RFC 4733 §2.5 has a sender do it: every packet of the
// event carries the timestamp of its start and the duration so far, the first one has
// the marker bit, the last has the E bit and goes out three times.
func (s *streamWriter) dtmf(packets int, event, pt uint8) {
	start := s.timestamp()
	var payload [4]byte
	payload[0] = event
	for i := range packets {
		end := i == packets-1
		duration := uint16((i + 1) * samplesPerPacket)
		payload[1] = dtmfVolume
		if end {
			payload[1] |= 0x80
		}
		binary.BigEndian.PutUint16(payload[2:], duration)
		s.send(pt, i == 0, start, payload[:])
	}
	for range dtmfEndRepeats - 1 {
		s.send(pt, false, start, payload[:])
	}
	// The next audio packet starts a new talkspurt.
	s.firstAudio = true
}

// pcapWriter writes classic libpcap records; the first error sticks.
type pcapWriter struct {
	w   io.Writer
	err error
	id  uint16
}

func (p *pcapWriter) write(b []byte) {
	if p.err == nil {
		_, p.err = p.w.Write(b)
	}
}

const (
	linktypeEthernet = 1
	linktypeLinuxSLL = 113
)

func (p *pcapWriter) header() {
	var h [24]byte
	binary.LittleEndian.PutUint32(h[0:], 0xa1b2c3d4) // microsecond timestamps
	binary.LittleEndian.PutUint16(h[4:], 2)
	binary.LittleEndian.PutUint16(h[6:], 4)
	binary.LittleEndian.PutUint32(h[16:], 65535) // snaplen
	binary.LittleEndian.PutUint32(h[20:], linktypeEthernet)
	p.write(h[:])
}

// udp writes one Ethernet/IPv4/UDP frame from and to 127.0.0.1:pcapPort.
func (p *pcapWriter) udp(at time.Duration, payload []byte) {
	const ethLen, ipLen, udpLen = 14, 20, 8
	frame := make([]byte, ethLen+ipLen+udpLen+len(payload))

	binary.BigEndian.PutUint16(frame[12:], 0x0800) // zero MACs, EtherType IPv4

	ip := frame[ethLen : ethLen+ipLen]
	ip[0] = 0x45 // IPv4, 5 words of header
	binary.BigEndian.PutUint16(ip[2:], uint16(ipLen+udpLen+len(payload)))
	binary.BigEndian.PutUint16(ip[4:], p.id)
	p.id++
	binary.BigEndian.PutUint16(ip[6:], 0x4000) // don't fragment
	ip[8] = 64                                 // TTL
	ip[9] = 17                                 // UDP
	copy(ip[12:16], []byte{127, 0, 0, 1})
	copy(ip[16:20], []byte{127, 0, 0, 1})
	binary.BigEndian.PutUint16(ip[10:], ^onesSum(0, ip))

	u := frame[ethLen+ipLen:]
	binary.BigEndian.PutUint16(u[0:], pcapPort)
	binary.BigEndian.PutUint16(u[2:], pcapPort)
	binary.BigEndian.PutUint16(u[4:], uint16(udpLen+len(payload)))
	copy(u[udpLen:], payload)
	// RFC 768 checksum over the pseudo-header and the datagram, so tools that check it
	// (tshark) are quiet; SIPp computes its own when it rewrites the ports.
	pseudo := make([]byte, 0, 12)
	pseudo = append(pseudo, ip[12:20]...)
	pseudo = append(pseudo, 0, 17)
	pseudo = binary.BigEndian.AppendUint16(pseudo, uint16(len(u)))
	sum := ^onesSum(onesSum(0, pseudo), u)
	if sum == 0 {
		sum = 0xFFFF
	}
	binary.BigEndian.PutUint16(u[6:], sum)

	var rec [16]byte
	ts := time.Unix(pcapEpochUnix, 0).Add(at)
	binary.LittleEndian.PutUint32(rec[0:], uint32(ts.Unix()))
	binary.LittleEndian.PutUint32(rec[4:], uint32(ts.Nanosecond()/1000))
	binary.LittleEndian.PutUint32(rec[8:], uint32(len(frame)))
	binary.LittleEndian.PutUint32(rec[12:], uint32(len(frame)))
	p.write(rec[:])
	p.write(frame)
}

// onesSum adds b to sum as big-endian 16-bit words in ones' complement (RFC 1071).
func onesSum(sum uint16, b []byte) uint16 {
	s := uint32(sum)
	for i := 0; i+1 < len(b); i += 2 {
		s += uint32(binary.BigEndian.Uint16(b[i:]))
	}
	if len(b)%2 == 1 {
		s += uint32(b[len(b)-1]) << 8
	}
	for s > 0xFFFF {
		s = s>>16 + s&0xFFFF
	}
	return uint16(s)
}

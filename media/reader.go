package media

import (
	"errors"
	"net"
	"net/netip"
	"time"

	"github.com/pion/rtp"
)

// reader is the state of one endpoint's reader goroutine, reused for every
// packet so the steady state allocates nothing.
type reader struct {
	buf    []byte     // datagram as read; pkt.Payload aliases it
	out    []byte     // relayed packet being built
	pcm    []int16    // decoded payload, for taps
	pkt    rtp.Packet // reuses CSRC and extension capacity across Unmarshal
	errLog bool       // a read error was logged already
}

func newReader() *reader {
	return &reader{
		buf: make([]byte, maxDatagram),
		out: make([]byte, maxDatagram),
		pcm: make([]int16, maxDatagram),
	}
}

// packetKind classifies a received RTP packet by payload type.
type packetKind uint8

const (
	packetUnknown packetKind = iota
	packetAudio
	packetEvent
)

func (ep *Endpoint) readLoop() {
	defer close(ep.readerDone)
	r := newReader()
	for {
		n, src, err := ep.conn.ReadFromUDPAddrPort(r.buf)
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				return
			}
			if !r.errLog {
				r.errLog = true
				ep.logger.Warn("rtp read failed; further errors on this endpoint are only counted", "err", err)
			}
			ep.engine.drop(DropMalformed)
			continue
		}
		ep.handlePacket(r, r.buf[:n], src, ep.engine.now())
	}
}

// handlePacket processes one datagram received on ep: validation, latching,
// DTMF detection, tap input and relay to the bridged endpoint. ep.mu and
// the peer's mu are taken one after the other, never together, so two
// readers relaying to each other cannot deadlock.
func (ep *Endpoint) handlePacket(r *reader, datagram []byte, src netip.AddrPort, now time.Time) {
	e := ep.engine
	e.packetsIn.Add(1)
	e.bytesIn.Add(uint64(len(datagram)))
	if err := r.pkt.Unmarshal(datagram); err != nil || r.pkt.Version != 2 {
		e.drop(DropMalformed)
		return
	}
	src = netip.AddrPortFrom(src.Addr().Unmap(), src.Port())
	pkt := &r.pkt

	ep.mu.Lock()
	kind := packetUnknown
	switch {
	case ep.closed:
	case ep.remote.Codec != CodecUnknown && pkt.PayloadType == ep.remote.Codec.PayloadType():
		kind = packetAudio
	case ep.remote.DTMFPayloadType != 0 && pkt.PayloadType == ep.remote.DTMFPayloadType:
		kind = packetEvent
	}
	// Checked in this order so that nothing but plausible RTP of a
	// negotiated payload type can latch a source.
	reason := DropReasons
	switch {
	case kind == packetUnknown:
		reason = DropPayloadType
	case kind == packetAudio && !plausibleAudio(len(pkt.Payload)):
		reason = DropMalformed
	case !ep.acceptSource(src, pkt.SSRC, pkt.SequenceNumber, now):
		reason = DropSource
	}
	if reason != DropReasons {
		ep.mu.Unlock()
		e.drop(reason)
		return
	}
	if !ep.haveInSSRC || pkt.SSRC != ep.inSSRC {
		// A new source starts a new timestamp space (RFC 3550 §8).
		ep.haveInSSRC, ep.inSSRC = true, pkt.SSRC
		ep.dtmf.Reset()
	}
	srcCodec := ep.remote.Codec
	decoded := false
	switch kind {
	case packetEvent:
		before := ep.dtmf.Malformed()
		d, ok := ep.dtmf.Feed(pkt.Timestamp, pkt.Payload)
		if ep.dtmf.Malformed() != before {
			ep.mu.Unlock()
			e.drop(DropDTMF)
			return
		}
		if ok {
			// Count before telling anyone, so a reader of the event never sees
			// a counter that lags it.
			e.dtmfDigits.Add(1)
			ep.emit(Event{Kind: EventDTMF, Digit: d})
		}
	case packetAudio:
		if ep.tap != nil {
			srcCodec.decodeInto(r.pcm, pkt.Payload)
			decoded = true
			ep.tapIn.push(r.pcm[:len(pkt.Payload)])
		}
		if ep.mix != nil {
			if !decoded {
				srcCodec.decodeInto(r.pcm, pkt.Payload)
				decoded = true
			}
			ep.pushMix(r.pcm[:len(pkt.Payload)])
		}
	}
	peer := ep.peer
	ep.mu.Unlock()

	if peer == nil {
		return
	}
	if n, dst := peer.marshalRelayed(ep, r, kind, srcCodec, decoded, now); n > 0 {
		peer.send(r.out[:n], dst)
	}
}

// maxAudioPayload is the largest G.711 payload we take: 150 ms, the
// longest packetization Asterisk allows for G.711. A bigger one is no
// phone's audio, and would hand taps and mixes more than they buffer.
const maxAudioPayload = 150 * sampleRate / 1000

// plausibleAudio reports whether a G.711 payload of n bytes (one sample
// each) is audio: an empty one carries none.
func plausibleAudio(n int) bool { return n > 0 && n <= maxAudioPayload }

// relatchProbation is how many consecutive in-sequence packets (same
// source, same SSRC, each sequence number one above the last) a new source
// must send before it may take over the stream, as Asterisk's strictrtp
// "probation" does: a single spoofed or stray packet cannot steal it.
const relatchProbation = 2

// probation follows the one source currently asking to take over.
type probation struct {
	addr netip.AddrPort
	ssrc uint32
	seq  uint16
	n    int // consecutive in-sequence packets so far
}

// next counts a packet from a source that is not the latched one and
// reports whether that source has now passed probation.
func (p *probation) next(src netip.AddrPort, ssrc uint32, seq uint16) bool {
	if p.n > 0 && src == p.addr && ssrc == p.ssrc && seq == p.seq+1 {
		p.n++
	} else {
		*p = probation{addr: src, ssrc: ssrc, n: 1}
	}
	p.seq = seq
	return p.n >= relatchProbation
}

// acceptSource implements symmetric RTP (RFC 4961) with the latching rule
// of docs/security.md. Before any packet, or after a re-INVITE moved the
// far end (SetRemote), we send to the signalled address, and a packet from
// it latches at once. A packet from any other address is ignored unless
//   - nothing is latched, or the latched source has been silent for
//     relatchAfter (a NAT rebinding: a phone that moved to another Wi-Fi
//     comes back from a new address) while its SDP says it sends (a held
//     phone's silence would otherwise hand its stream to anyone), and
//   - its source has passed probation (relatchProbation packets in
//     sequence),
//
// in which case that source becomes the destination. The caller holds ep.mu.
func (ep *Endpoint) acceptSource(src netip.AddrPort, ssrc uint32, seq uint16, now time.Time) bool {
	if src == ep.sendAddr {
		// The latched source, or (not latched yet) the signalled address.
		ep.latched = true
		ep.lastHeard = now
		return true
	}
	passed := ep.probe.next(src, ssrc, seq)
	if ep.latched && (ep.remote.Quiet || now.Sub(ep.lastHeard) < relatchAfter) {
		// Another source while ours talks: stray or spoofed. Logged once;
		// a first packet on probation (a NAT's address at call start) is
		// routine and not logged at all.
		if !ep.ignoreLogged {
			ep.ignoreLogged = true
			ep.logger.Warn("rtp from an unexpected source ignored; further ones are only counted",
				"from", src, "latched", ep.sendAddr, "signalled", ep.remote.Addr)
		}
		return false
	}
	if !passed {
		return false
	}
	ep.logger.Info("rtp source latched", "signalled", ep.remote.Addr, "from", ep.sendAddr, "to", src)
	ep.sendAddr = src
	ep.latched = true
	ep.lastHeard = now
	ep.probe = probation{}
	return true
}

// marshalRelayed builds, in r.out, the packet that ep (the peer of from)
// sends for r.pkt received on from, and returns its length and destination;
// 0 when nothing is to be sent. Our SSRC replaces the source's; its sequence
// numbers and timestamps are mapped onto ours by offsets fixed at the start
// of each talkspurt, so gaps and reordering on the far leg carry through
// and RFC 4733 events keep one timestamp per event.
func (ep *Endpoint) marshalRelayed(from *Endpoint, r *reader, kind packetKind, srcCodec Codec, decoded bool, now time.Time) (int, netip.AddrPort) {
	pkt := &r.pkt
	ep.mu.Lock()
	defer ep.mu.Unlock()
	if ep.closed || ep.mode != outRelaying || ep.peer != from || !ep.sendAddr.IsValid() {
		return 0, netip.AddrPort{}
	}
	var pt uint8
	switch kind {
	case packetAudio:
		if ep.remote.Codec == CodecUnknown {
			return 0, netip.AddrPort{}
		}
		pt = ep.remote.Codec.PayloadType()
	case packetEvent:
		if ep.remote.DTMFPayloadType == 0 {
			return 0, netip.AddrPort{} // the far end cannot take events
		}
		pt = ep.remote.DTMFPayloadType
	default:
		return 0, netip.AddrPort{}
	}
	if len(pkt.Payload) > len(r.out)-rtpHeaderLen {
		return 0, netip.AddrPort{}
	}

	tx := &ep.tx
	marker := pkt.Marker
	if tx.newTalkspurt || !tx.relayMapped || pkt.SSRC != tx.relayInSSRC {
		ts := tx.talkspurtTimestamp(now)
		tx.relaySeqOff = tx.seq + 1 - pkt.SequenceNumber
		tx.relayTSOff = ts - pkt.Timestamp
		tx.relayInSSRC = pkt.SSRC
		tx.relayMapped = true
		tx.newTalkspurt = false
		marker = true
	}
	seq := pkt.SequenceNumber + tx.relaySeqOff
	ts := pkt.Timestamp + tx.relayTSOff

	n := marshalRTP(r.out, marker, pt, seq, ts, tx.ssrc)
	payload := r.out[n : n+len(pkt.Payload)]
	if kind == packetEvent {
		copy(payload, pkt.Payload)
	} else {
		ep.remote.Codec.transcodeInto(payload, pkt.Payload, srcCodec)
		if ep.tap != nil {
			if !decoded {
				srcCodec.decodeInto(r.pcm, pkt.Payload)
			}
			ep.tapOut.push(r.pcm[:len(pkt.Payload)])
		}
	}
	tx.sent(seq, ts, now)
	return n + len(payload), ep.sendAddr
}

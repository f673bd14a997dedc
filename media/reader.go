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
			ep.engine.packetsInvalid.Add(1)
			continue
		}
		ep.handlePacket(r, r.buf[:n], src, time.Now())
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
		e.packetsInvalid.Add(1)
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
	if kind == packetUnknown || !ep.acceptSource(src, now) {
		ep.mu.Unlock()
		e.packetsInvalid.Add(1)
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
			e.packetsInvalid.Add(1)
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

// acceptSource implements symmetric RTP (RFC 4961): the first valid packet
// latches its source as our destination; another source takes over only
// after the latched one has been silent for relatchAfter, so stray or
// spoofed packets cannot hijack the stream. The caller holds ep.mu.
func (ep *Endpoint) acceptSource(src netip.AddrPort, now time.Time) bool {
	if ep.latched {
		if src == ep.sendAddr {
			ep.lastHeard = now
			return true
		}
		if now.Sub(ep.lastHeard) < relatchAfter {
			return false
		}
	}
	if src != ep.sendAddr {
		ep.logger.Info("rtp source latched", "signalled", ep.remote.Addr, "from", ep.sendAddr, "to", src)
	}
	ep.sendAddr = src
	ep.latched = true
	ep.lastHeard = now
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

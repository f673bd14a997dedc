package media

import (
	"errors"
	"log/slog"
	"math/rand/v2"
	"net"
	"net/netip"
	"sync"
	"time"

	"github.com/pion/rtp"
)

const (
	// rtpHeaderLen is the fixed RTP header (RFC 3550 §5.1); what we send has
	// no CSRCs and no extensions.
	rtpHeaderLen = 12
	// maxDatagram bounds what a reader accepts; G.711 at 20 ms is 172 bytes,
	// anything near the Ethernet MTU is plenty.
	maxDatagram = 1500
	// relatchAfter is how long the latched source must stay silent before
	// packets from another address may take over (symmetric RTP, RFC 4961;
	// what Asterisk's strictrtp and FreeSWITCH's auto-adjust do).
	relatchAfter = time.Second
)

// Remote is what the SDP negotiation says about the far end of a leg.
type Remote struct {
	Addr  netip.AddrPort
	Codec Codec
	// DTMFPayloadType is the negotiated telephone-event payload type
	// (RFC 4733 §7.1.1), 0 when none was negotiated.
	DTMFPayloadType uint8
	// Quiet: the SDP says the far end sends nothing (it holds us, or only
	// listens). Its silence is then no NAT rebinding: the latched source
	// keeps the stream, however long it is silent (see acceptSource).
	Quiet bool
}

// Playlist is a sequence of prompts played back to back.
type Playlist struct {
	Prompts []*Prompt
	// Loop restarts the playlist at its end (hold music) instead of ending
	// with EventPlaybackDone.
	Loop bool
}

// Tap receives the audio of an endpoint, 20 ms at a time, from the pacer
// goroutine: in is what the remote sent in that interval (silence where
// nothing came), out is what was sent to it (prompt, relayed audio, its
// Mix's mix or silence); 160 samples each at 8 kHz. The slices are only
// valid during the call. Frame runs with the endpoint locked: it must not
// block and must not call back into media. Recordings implement it.
type Tap interface {
	Frame(in, out []int16)
}

// outMode is what feeds an endpoint's outgoing direction.
type outMode uint8

const (
	outUnknown outMode = iota
	outQuiet
	outPlaying
	outRelaying // packets received on peer
	outMixing   // the mix of the endpoint's Mix (see mix.go)
)

// playback is the position in a playlist.
type playback struct {
	id      uint64
	prompts []*Prompt
	loop    bool
	prompt  int // index into prompts
	frame   int // frame within prompts[prompt]
}

// skipEmpty moves to the next prompt with frames; false at the end.
func (pb *playback) skipEmpty() bool {
	for pb.prompt < len(pb.prompts) && pb.frame >= pb.prompts[pb.prompt].frames() {
		pb.prompt++
		pb.frame = 0
	}
	return pb.prompt < len(pb.prompts)
}

// advance moves past the frame just sent; false when a non-looping
// playlist is finished.
func (pb *playback) advance() bool {
	pb.frame++
	if pb.skipEmpty() {
		return true
	}
	if !pb.loop {
		return false
	}
	pb.prompt, pb.frame = 0, 0
	return pb.skipEmpty()
}

// txState is the one outgoing RTP stream of an endpoint (RFC 3550 §5.1).
type txState struct {
	ssrc     uint32
	seq      uint16 // last sent
	ts       uint32 // last sent
	lastSent time.Time
	sentAny  bool
	// newTalkspurt: the next packet starts a talkspurt (after silence or a
	// change of source): it carries the marker bit and its timestamp is
	// re-based on the wall clock (RFC 3551 §4.1).
	newTalkspurt bool

	// Relay mapping of the source's sequence and timestamp spaces onto
	// ours, so loss and reordering on the far leg stay visible.
	relayMapped bool
	relayInSSRC uint32
	relaySeqOff uint16
	relayTSOff  uint32
}

// talkspurtTimestamp is the timestamp of a packet starting a talkspurt
// now: the last one plus the elapsed time, at least one frame later.
func (tx *txState) talkspurtTimestamp(now time.Time) uint32 {
	if !tx.sentAny {
		return tx.ts
	}
	elapsed := max(now.Sub(tx.lastSent)/(time.Second/sampleRate), samplesPerFrame)
	return tx.ts + uint32(elapsed)
}

// sent records a packet; relayed packets may be reordered, so only newer
// sequence numbers and timestamps move the stream forward.
func (tx *txState) sent(seq uint16, ts uint32, now time.Time) {
	if !tx.sentAny || int16(seq-tx.seq) > 0 {
		tx.seq = seq
	}
	if !tx.sentAny || int32(ts-tx.ts) > 0 {
		tx.ts = ts
	}
	tx.lastSent = now
	tx.sentAny = true
}

// Endpoint is one RTP socket: one leg's media.
type Endpoint struct {
	engine     *Engine
	conn       *net.UDPConn
	port       int // pool port, 0 if ephemeral
	local      netip.AddrPort
	logger     *slog.Logger
	events     chan Event
	readerDone chan struct{}
	closeOnce  sync.Once

	mu     sync.Mutex
	closed bool
	remote Remote
	// sendAddr is where packets go: the signalled address until a packet
	// arrives, then the source it came from (latched).
	sendAddr  netip.AddrPort
	latched   bool
	lastHeard time.Time // last packet from the latched source
	// probe is a new source on probation (see acceptSource).
	probe probation
	// ignoreLogged: an ignored source was logged; later ones are only
	// counted, so a flood costs no log line per packet.
	ignoreLogged bool

	dtmf       DTMFDetector
	haveInSSRC bool
	inSSRC     uint32

	mode outMode
	peer *Endpoint // bridged endpoint: what we receive goes out of peer
	play playback
	tx   txState

	mix   *Mix          // the mix ep is in; changed only under bridgeMu
	mixIn *jitterBuffer // received audio not yet taken by the mix

	tap    Tap
	tapIn  *pcmRing // received audio not yet handed to the tap
	tapOut *pcmRing // relayed audio sent to the remote, not yet handed to the tap

	sendErrLogged bool

	pacerIndex int // guarded by engine.pacer.mu; -1 when not scheduled
}

func newEndpoint(e *Engine, conn *net.UDPConn, port int, logger *slog.Logger) *Endpoint {
	ep := &Endpoint{
		engine:     e,
		conn:       conn,
		port:       port,
		local:      conn.LocalAddr().(*net.UDPAddr).AddrPort(),
		logger:     logger,
		events:     make(chan Event, eventQueueLen),
		readerDone: make(chan struct{}),
		mode:       outQuiet,
		pacerIndex: -1,
	}
	// RFC 3550 §5.1: SSRC, first sequence number and timestamp are random.
	ep.tx.ssrc = rand.Uint32()
	ep.tx.seq = uint16(rand.Uint32())
	ep.tx.ts = rand.Uint32()
	ep.tx.newTalkspurt = true
	return ep
}

// LocalAddr is the socket's bound address (the SDP's c= and m= port when
// bound to a specific IP).
func (ep *Endpoint) LocalAddr() netip.AddrPort { return ep.local }

// Events delivers DTMF digits and playback completions. It is buffered and
// never closed; when the owner falls behind, events are dropped and counted
// in Stats.EventsDropped rather than stalling media.
func (ep *Endpoint) Events() <-chan Event { return ep.events }

// LastHeard is when the endpoint last accepted an RTP packet from its
// far end (zero: never): how a call sees its leg has gone silent.
func (ep *Endpoint) LastHeard() time.Time {
	ep.mu.Lock()
	defer ep.mu.Unlock()
	return ep.lastHeard
}

// Remote returns what SetRemote last set.
func (ep *Endpoint) Remote() Remote {
	ep.mu.Lock()
	defer ep.mu.Unlock()
	return ep.remote
}

// SetRemote sets (or, after a re-INVITE, changes) the far end. A new address
// drops the symmetric-RTP latch: we send to the signalled address until
// packets arrive. The same address keeps the latch, so a session refresh
// does not send audio into a NAT's private side.
func (ep *Endpoint) SetRemote(r Remote) {
	r.Addr = netip.AddrPortFrom(r.Addr.Addr().Unmap(), r.Addr.Port())
	ep.mu.Lock()
	defer ep.mu.Unlock()
	if r.Addr != ep.remote.Addr || !ep.latched {
		ep.sendAddr = r.Addr
		ep.latched = false
		ep.probe = probation{}
		ep.dtmf.Reset()
		ep.haveInSSRC = false
	}
	ep.remote = r
	ep.tx.newTalkspurt = true
}

// Play starts pl on the outgoing direction, replacing the current playback
// or relay, and returns its id. EventPlaybackDone with that id follows when
// a non-looping playlist ends, never when it is stopped or replaced. The
// pacer sends one 20 ms frame per tick, encoded for the remote's codec.
func (ep *Endpoint) Play(pl Playlist) uint64 {
	id := ep.engine.nextPlaybackID.Add(1)
	ep.mu.Lock()
	defer ep.mu.Unlock()
	if ep.closed {
		return id
	}
	ep.play = playback{id: id, prompts: append([]*Prompt(nil), pl.Prompts...), loop: pl.Loop}
	if !ep.play.skipEmpty() {
		// Nothing to play: a playlist of empty prompts ends at once.
		ep.setMode(outQuiet)
		if !pl.Loop {
			ep.emit(Event{Kind: EventPlaybackDone, PlaybackID: id})
		}
		return id
	}
	ep.setMode(outPlaying)
	return id
}

// StopPlayback silences the outgoing direction if it is playing (an
// endpoint in a Mix hears the mix again); a relay (Bridge) is left alone,
// Unbridge ends it.
func (ep *Endpoint) StopPlayback() {
	ep.mu.Lock()
	defer ep.mu.Unlock()
	if ep.mode == outPlaying {
		ep.setMode(outQuiet)
	}
}

// Record attaches a tap that the pacer feeds every 20 ms; nil detaches it.
// Once Record returns, the previous tap gets no more frames.
func (ep *Endpoint) Record(t Tap) {
	ep.mu.Lock()
	defer ep.mu.Unlock()
	if ep.closed {
		return
	}
	ep.tap = t
	if t != nil {
		if ep.tapIn == nil {
			ep.tapIn, ep.tapOut = newPCMRing(pcmRingFrames), newPCMRing(pcmRingFrames)
		}
		ep.tapIn.reset()
		ep.tapOut.reset()
	}
	ep.reschedule()
}

// bridgeMu serializes changes of the bridge and mix topology (Bridge,
// Unbridge, Close, Mix.Join, Mix.Leave, Mix.Close), which lock two
// endpoints, or a mix and its endpoints, one after the other.
var bridgeMu sync.Mutex

// Bridge relays packets received on a out of b, to b's remote, and those
// received on b out of a, transcoding PCMU<->PCMA when the legs' codecs
// differ. Playback on both stops. RFC 4733 events pass through with the
// payload type remapped, or are dropped when the receiving side negotiated
// none; they are still reported as digits on the endpoint that received
// them. An endpoint already bridged elsewhere is unbridged first; one in a
// Mix leaves it.
func Bridge(a, b *Endpoint) {
	if a == nil || b == nil || a == b {
		return
	}
	bridgeMu.Lock()
	defer bridgeMu.Unlock()
	unbridgeLocked(a)
	unbridgeLocked(b)
	leaveMixLocked(a)
	leaveMixLocked(b)
	if a.isClosed() || b.isClosed() {
		return
	}
	a.connectPeer(b)
	b.connectPeer(a)
}

// Unbridge ends ep's bridge: both ends stop relaying and go quiet. A
// playback started on either end after Bridge keeps playing.
func Unbridge(ep *Endpoint) {
	if ep == nil {
		return
	}
	bridgeMu.Lock()
	defer bridgeMu.Unlock()
	unbridgeLocked(ep)
}

func unbridgeLocked(ep *Endpoint) {
	peer := ep.disconnectPeer(nil)
	if peer != nil {
		peer.disconnectPeer(ep)
	}
}

func (ep *Endpoint) isClosed() bool {
	ep.mu.Lock()
	defer ep.mu.Unlock()
	return ep.closed
}

func (ep *Endpoint) connectPeer(peer *Endpoint) {
	ep.mu.Lock()
	defer ep.mu.Unlock()
	ep.peer = peer
	ep.tx.relayMapped = false
	ep.setMode(outRelaying)
}

// disconnectPeer clears ep's peer (only if it is want, when want is not nil)
// and returns the old one.
func (ep *Endpoint) disconnectPeer(want *Endpoint) *Endpoint {
	ep.mu.Lock()
	defer ep.mu.Unlock()
	peer := ep.peer
	if peer == nil || (want != nil && peer != want) {
		return nil
	}
	ep.peer = nil
	if ep.mode == outRelaying {
		ep.setMode(outQuiet)
	}
	return peer
}

// Close stops the reader, unbridges, leaves its Mix, detaches the tap and
// returns the port to the pool. It is idempotent and always returns nil (the
// error is for interface symmetry with io.Closer).
func (ep *Endpoint) Close() error {
	ep.closeOnce.Do(func() {
		bridgeMu.Lock()
		unbridgeLocked(ep)
		leaveMixLocked(ep)
		bridgeMu.Unlock()
		ep.mu.Lock()
		ep.setMode(outQuiet)
		ep.tap = nil
		ep.closed = true
		ep.reschedule()
		ep.mu.Unlock()

		ep.conn.Close()
		<-ep.readerDone
		ep.engine.forget(ep)
		ep.logger.Debug("rtp endpoint closed", "local", ep.local)
	})
	return nil
}

// setMode switches the outgoing direction; the caller holds ep.mu. An
// endpoint in a Mix is never quiet: it hears the mix instead.
func (ep *Endpoint) setMode(m outMode) {
	if m == outQuiet && ep.mix != nil {
		m = outMixing
	}
	if (ep.mode == outPlaying) != (m == outPlaying) {
		if m == outPlaying {
			ep.engine.playing.Add(1)
		} else {
			ep.engine.playing.Add(-1)
		}
	}
	ep.mode = m
	ep.tx.newTalkspurt = true
	ep.reschedule()
}

// reschedule puts ep on the pacer's list exactly when it has work there;
// the caller holds ep.mu.
func (ep *Endpoint) reschedule() {
	ep.engine.pacer.schedule(ep, !ep.closed && (ep.mode == outPlaying || ep.tap != nil))
}

// emit queues an event without ever blocking.
func (ep *Endpoint) emit(ev Event) {
	select {
	case ep.events <- ev:
	default:
		ep.engine.eventsDropped.Add(1)
	}
}

// pace is the pacer's visit: send the next playlist frame if playing, feed
// the tap. The UDP write happens after the lock is released.
func (ep *Endpoint) pace(p *paceBuffers, now time.Time) {
	ep.mu.Lock()
	if ep.closed {
		ep.mu.Unlock()
		return
	}
	var (
		n   int
		dst netip.AddrPort
	)
	tapped := ep.tap != nil
	switch ep.mode {
	case outPlaying:
		payload, pcm := ep.play.prompts[ep.play.prompt].frame(ep.remote.Codec, ep.play.frame)
		if payload != nil && ep.sendAddr.IsValid() {
			n = ep.marshalPaced(p.sendBuf, payload, now)
			dst = ep.sendAddr
		}
		if tapped {
			if n > 0 {
				copy(p.out[:], pcm)
			} else {
				clear(p.out[:])
			}
		}
		if !ep.play.advance() {
			id := ep.play.id
			ep.play = playback{}
			ep.setMode(outQuiet)
			ep.emit(Event{Kind: EventPlaybackDone, PlaybackID: id})
		}
	case outRelaying, outMixing:
		if tapped {
			ep.tapOut.pull(p.out[:])
		}
	default:
		if tapped {
			clear(p.out[:])
		}
	}
	if tapped {
		ep.tapIn.pull(p.in[:])
		ep.tap.Frame(p.in[:], p.out[:])
	}
	ep.mu.Unlock()

	if n > 0 {
		ep.send(p.sendBuf[:n], dst)
	}
}

// marshalPaced builds the next paced packet: one frame after the previous
// one, or a new talkspurt. The caller holds ep.mu.
func (ep *Endpoint) marshalPaced(buf, payload []byte, now time.Time) int {
	tx := &ep.tx
	marker := tx.newTalkspurt
	ts := tx.ts + samplesPerFrame
	if tx.newTalkspurt {
		ts = tx.talkspurtTimestamp(now)
		tx.newTalkspurt = false
		tx.relayMapped = false
	}
	seq := tx.seq + 1
	n := marshalRTP(buf, marker, ep.remote.Codec.PayloadType(), seq, ts, tx.ssrc)
	n += copy(buf[n:], payload)
	tx.sent(seq, ts, now)
	return n
}

// marshalRTP writes a 12-byte RTP header (RFC 3550 §5.1) and returns 12.
func marshalRTP(buf []byte, marker bool, pt uint8, seq uint16, ts, ssrc uint32) int {
	h := rtp.Header{
		Version:        2,
		Marker:         marker,
		PayloadType:    pt,
		SequenceNumber: seq,
		Timestamp:      ts,
		SSRC:           ssrc,
	}
	n, _ := h.MarshalTo(buf) // cannot fail: callers size buf for header and payload
	return n
}

// send writes one packet; errors are counted and logged once per endpoint.
func (ep *Endpoint) send(pkt []byte, dst netip.AddrPort) {
	if _, err := ep.conn.WriteToUDPAddrPort(pkt, dst); err != nil {
		ep.engine.sendErrors.Add(1)
		ep.mu.Lock()
		first := !ep.sendErrLogged
		ep.sendErrLogged = true
		ep.mu.Unlock()
		if first && !errors.Is(err, net.ErrClosed) {
			ep.logger.Warn("rtp send failed; further errors on this endpoint are only counted", "remote", dst, "err", err)
		}
		return
	}
	ep.engine.packetsOut.Add(1)
	ep.engine.bytesOut.Add(uint64(len(pkt)))
}

package media

import (
	"errors"
	"net/netip"
	"sync"
	"time"

	"github.com/zaf/g711"
)

// Errors of Mix.Join and Mix.SetRole.
var (
	// ErrMixClosed is returned when joining a Mix that was closed.
	ErrMixClosed = errors.New("media: mix closed")
	// ErrEndpointClosed is returned when joining a closed endpoint.
	ErrEndpointClosed = errors.New("media: endpoint closed")
	// ErrNotInMix is returned by SetRole for an endpoint that is not in the
	// mix, and by Join and SetRole for a whisper target that is not.
	ErrNotInMix = errors.New("media: endpoint not in mix")
	// ErrBadRole is returned for an invalid role: an unknown kind, a
	// whisperer without a target or whispering to itself, or an endpoint of
	// another Engine.
	ErrBadRole = errors.New("media: invalid mix role")
)

// RoleKind says who hears a mix participant and whom it hears.
type RoleKind uint8

const (
	// RoleSpeaker hears everyone else and is heard by every participant:
	// a conference party.
	RoleSpeaker RoleKind = iota + 1
	// RoleListener hears every speaker and is heard by no one: silent
	// monitoring.
	RoleListener
	// RoleWhisperer hears every speaker and is heard only by its target:
	// coaching (whisper).
	RoleWhisperer
)

// Role is a participant's part in a Mix; build it with Speaker, Listener or
// Whisperer.
type Role struct {
	Kind RoleKind
	// Target is the one endpoint that hears a RoleWhisperer; nil otherwise.
	Target *Endpoint
}

// Speaker is the role of a conference party.
func Speaker() Role { return Role{Kind: RoleSpeaker} }

// Listener is the role of a supervisor monitoring silently.
func Listener() Role { return Role{Kind: RoleListener} }

// Whisperer is the role of a supervisor coaching target (the agent): only
// target hears it; it hears the speakers like everyone else.
func Whisperer(target *Endpoint) Role { return Role{Kind: RoleWhisperer, Target: target} }

// Mix is an N-party audio mixer on the engine's pacer. Every 20 ms it takes
// one frame of what each participant's remote sent, from a jitter buffer
// that plays out only with SetJitterDepth frames in reserve (silence while
// it fills), and sends each participant, as its endpoint's own RTP stream,
// the sum of the frames its role lets it hear, never its own (mix-minus):
//
//   - a speaker hears the other speakers and the whisperers targeting it;
//   - a listener hears the speakers;
//   - a whisperer hears the speakers.
//
// An endpoint is in at most one Mix and then in no Bridge: Join unbridges
// it and leaves its previous mix, Bridge makes it leave its mix. While it
// plays a prompt (Play), the prompt replaces the mix on its outgoing
// direction, but what it says is still mixed; when the playback ends or is
// stopped it hears the mix again. Its DTMF digits are still reported on its
// Events channel, but RFC 4733 packets are not forwarded to the other
// participants. A recording tap on a participant records what its remote
// says (in) and the mix sent to it (out).
//
// A Mix's methods are safe for concurrent use; none blocks on the network.
type Mix struct {
	engine *Engine

	mu          sync.Mutex
	closed      bool
	parts       []*mixPart
	jitterDepth int // frames; every participant's jitter buffer has this depth
	// scheduled: on the pacer's mix list; guarded by engine.pacer.mu.
	scheduled bool

	// Owned by the pacer goroutine (or by whoever calls tick in tests).
	snap    []*mixPart
	speak   [samplesPerFrame]int32 // sum of the speakers' frames
	acc     [samplesPerFrame]int32
	pcm     [samplesPerFrame]int16
	payload [samplesPerFrame]byte
}

// mixPart is one participant. Its buffers are owned by the pacer.
type mixPart struct {
	ep     *Endpoint
	role   Role
	in     [samplesPerFrame]int16 // this tick's frame from the remote
	active bool                   // in holds audio (else silence)
	pkt    [rtpHeaderLen + samplesPerFrame]byte
	n      int // length of pkt to send this tick, 0 for none
	dst    netip.AddrPort
}

// NewMix returns an empty mix served by the engine's pacer.
func (e *Engine) NewMix() *Mix {
	return &Mix{engine: e, jitterDepth: DefaultJitterDepth}
}

// SetJitterDepth sets how many 20 ms frames of each participant's audio
// the mix holds in reserve before mixing it, for present and future
// participants: the mix hears each of them that much later, and a packet
// up to that much late is not a gap. 0 mixes a frame on the tick it
// arrives. What present participants have buffered is dropped, a short
// gap once. It returns ErrBadJitterDepth for a depth outside
// 0..MaxJitterDepth, and ErrMixClosed.
func (m *Mix) SetJitterDepth(frames int) error {
	if frames < 0 || frames > MaxJitterDepth {
		return ErrBadJitterDepth
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.closed {
		return ErrMixClosed
	}
	m.jitterDepth = frames
	for _, p := range m.parts {
		p.ep.mu.Lock()
		p.ep.resetMixIn(frames)
		p.ep.mu.Unlock()
	}
	return nil
}

// Join adds ep with role, or changes its role when it is in m already. ep
// leaves its bridge or other mix first. It returns ErrMixClosed,
// ErrEndpointClosed, ErrBadRole or ErrNotInMix (whisper target not in m).
func (m *Mix) Join(ep *Endpoint, role Role) error {
	if ep == nil || ep.engine != m.engine {
		return ErrBadRole
	}
	bridgeMu.Lock()
	defer bridgeMu.Unlock()
	m.mu.Lock()
	if m.closed {
		m.mu.Unlock()
		return ErrMixClosed
	}
	if err := m.checkRoleLocked(ep, role); err != nil {
		m.mu.Unlock()
		return err
	}
	if p := m.findLocked(ep); p != nil {
		p.role = role
		m.mu.Unlock()
		return nil
	}
	m.mu.Unlock()

	// Leave the old topology without holding m.mu: another mix's lock is
	// never taken while m's is held.
	unbridgeLocked(ep)
	leaveMixLocked(ep)

	m.mu.Lock()
	defer m.mu.Unlock()
	if m.closed {
		return ErrMixClosed
	}
	ep.mu.Lock()
	if ep.closed {
		ep.mu.Unlock()
		return ErrEndpointClosed
	}
	ep.mix = m
	ep.resetMixIn(m.jitterDepth)
	if ep.mode == outQuiet {
		ep.setMode(outMixing)
	}
	ep.tx.newTalkspurt = true
	ep.mu.Unlock()
	m.parts = append(m.parts, &mixPart{ep: ep, role: role})
	m.engine.pacer.scheduleMix(m, true)
	return nil
}

// SetRole changes the role of ep, which must be in m.
func (m *Mix) SetRole(ep *Endpoint, role Role) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.closed {
		return ErrMixClosed
	}
	p := m.findLocked(ep)
	if p == nil {
		return ErrNotInMix
	}
	if err := m.checkRoleLocked(ep, role); err != nil {
		return err
	}
	p.role = role
	return nil
}

// Role returns ep's role and whether it is in m.
func (m *Mix) Role(ep *Endpoint) (Role, bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if p := m.findLocked(ep); p != nil {
		return p.role, true
	}
	return Role{}, false
}

// Len returns the number of participants.
func (m *Mix) Len() int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return len(m.parts)
}

// Leave removes ep from m (a no-op when it is not in it). It goes quiet
// unless it is playing. Whisperers targeting it are heard by no one until
// it joins again or they get another role.
func (m *Mix) Leave(ep *Endpoint) {
	if ep == nil {
		return
	}
	bridgeMu.Lock()
	defer bridgeMu.Unlock()
	m.leaveLocked(ep)
}

// Close removes every participant (they go quiet unless playing) and takes
// the mix off the pacer: after Close returns, the mix sends nothing more but
// the packets of a tick already mixed. Later Joins fail with ErrMixClosed.
// It is idempotent and always returns nil.
func (m *Mix) Close() error {
	bridgeMu.Lock()
	defer bridgeMu.Unlock()
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.closed {
		return nil
	}
	m.closed = true
	for _, p := range m.parts {
		p.ep.detachMix(m)
	}
	clear(m.parts)
	m.parts = m.parts[:0]
	m.engine.pacer.scheduleMix(m, false)
	return nil
}

func (m *Mix) findLocked(ep *Endpoint) *mixPart {
	for _, p := range m.parts {
		if p.ep == ep {
			return p
		}
	}
	return nil
}

func (m *Mix) checkRoleLocked(ep *Endpoint, role Role) error {
	switch role.Kind {
	case RoleSpeaker, RoleListener:
		if role.Target != nil {
			return ErrBadRole
		}
	case RoleWhisperer:
		if role.Target == nil || role.Target == ep {
			return ErrBadRole
		}
		if m.findLocked(role.Target) == nil {
			return ErrNotInMix
		}
	default:
		return ErrBadRole
	}
	return nil
}

// leaveLocked removes ep; the caller holds bridgeMu.
func (m *Mix) leaveLocked(ep *Endpoint) {
	m.mu.Lock()
	defer m.mu.Unlock()
	for i, p := range m.parts {
		if p.ep != ep {
			continue
		}
		ep.detachMix(m)
		last := len(m.parts) - 1
		copy(m.parts[i:], m.parts[i+1:])
		m.parts[last] = nil
		m.parts = m.parts[:last]
		if len(m.parts) == 0 {
			m.engine.pacer.scheduleMix(m, false)
		}
		return
	}
}

// leaveMixLocked takes ep out of whatever mix it is in; the caller holds
// bridgeMu (which keeps ep.mix from changing under us).
func leaveMixLocked(ep *Endpoint) {
	ep.mu.Lock()
	m := ep.mix
	ep.mu.Unlock()
	if m != nil {
		m.leaveLocked(ep)
	}
}

// detachMix clears ep's membership of m; the caller holds m.mu.
func (ep *Endpoint) detachMix(m *Mix) {
	ep.mu.Lock()
	defer ep.mu.Unlock()
	if ep.mix != m {
		return
	}
	ep.mix = nil
	if ep.mode == outMixing {
		ep.setMode(outQuiet)
	}
}

// scheduleMix adds or removes m from the mixes the pacer serves.
func (p *pacer) scheduleMix(m *Mix, want bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if want == m.scheduled {
		return
	}
	m.scheduled = want
	if want {
		p.mixes = append(p.mixes, m)
		return
	}
	for i, x := range p.mixes {
		if x == m {
			last := len(p.mixes) - 1
			p.mixes[i] = p.mixes[last]
			p.mixes[last] = nil
			p.mixes = p.mixes[:last]
			return
		}
	}
}

// resetMixIn empties ep's jitter buffer and gives it depth; the caller
// holds ep.mu.
func (ep *Endpoint) resetMixIn(depth int) {
	if ep.mixIn == nil || ep.mixIn.depth != depth {
		ep.mixIn = newJitterBuffer(depth)
		return
	}
	ep.mixIn.reset()
}

// pushMix queues received audio for the mix; the caller holds ep.mu and
// ep.mix is not nil.
func (ep *Endpoint) pushMix(pcm []int16) {
	ep.mixIn.push(pcm)
}

// tick mixes one frame: take every participant's frame, build and send
// every participant's mix-minus. m.mu is held while mixing so the topology
// cannot change halfway; the packets are sent after it is released.
func (m *Mix) tick(now time.Time) {
	m.mu.Lock()
	if m.closed || len(m.parts) == 0 {
		m.mu.Unlock()
		return
	}
	m.snap = append(m.snap[:0], m.parts...)

	// 1. Take one frame from each participant.
	clear(m.speak[:])
	for _, p := range m.snap {
		p.n = 0
		p.active = p.ep.takeMixFrame(m, p.in[:])
		if p.active && p.role.Kind == RoleSpeaker {
			for i, s := range p.in {
				m.speak[i] += int32(s)
			}
		}
	}

	// 2. Build, encode and frame each participant's mix.
	for _, q := range m.snap {
		m.acc = m.speak
		if q.role.Kind == RoleSpeaker && q.active {
			for i, s := range q.in {
				m.acc[i] -= int32(s)
			}
		}
		for _, w := range m.snap {
			if w.role.Kind == RoleWhisperer && w.active && w.role.Target == q.ep {
				for i, s := range w.in {
					m.acc[i] += int32(s)
				}
			}
		}
		for i, v := range m.acc {
			m.pcm[i] = int16(min(max(v, -32768), 32767))
		}
		q.n, q.dst = q.ep.marshalMixed(m, q.pkt[:], m.pcm[:], m.payload[:], now)
	}
	m.mu.Unlock()

	// 3. Send, outside every lock.
	for _, p := range m.snap {
		if p.n > 0 {
			p.ep.send(p.pkt[:p.n], p.dst)
		}
	}
	clear(m.snap)
}

// takeMixFrame moves ep's next frame from its jitter buffer into dst
// (silence while the buffer primes or when ep is not in m) and reports
// whether it is audio.
func (ep *Endpoint) takeMixFrame(m *Mix, dst []int16) bool {
	ep.mu.Lock()
	defer ep.mu.Unlock()
	if ep.closed || ep.mix != m || ep.mixIn == nil {
		clear(dst)
		return false
	}
	return ep.mixIn.take(dst)
}

// marshalMixed encodes pcm for ep's codec and builds ep's next paced packet
// in buf, and feeds the recording tap; 0 when ep is not hearing the mix now
// (playing a prompt, closed, no codec or address yet).
func (ep *Endpoint) marshalMixed(m *Mix, buf []byte, pcm []int16, payload []byte, now time.Time) (int, netip.AddrPort) {
	ep.mu.Lock()
	defer ep.mu.Unlock()
	if ep.closed || ep.mix != m || ep.mode != outMixing || !ep.sendAddr.IsValid() {
		return 0, netip.AddrPort{}
	}
	switch ep.remote.Codec {
	case CodecPCMU:
		for i, s := range pcm {
			payload[i] = g711.EncodeUlawFrame(s)
		}
	case CodecPCMA:
		for i, s := range pcm {
			payload[i] = g711.EncodeAlawFrame(s)
		}
	default:
		return 0, netip.AddrPort{}
	}
	if ep.tap != nil {
		ep.tapOut.push(pcm)
	}
	return ep.marshalPaced(buf, payload, now), ep.sendAddr
}

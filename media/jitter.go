package media

import "errors"

const (
	// DefaultJitterDepth is the jitter prefill of a new Mix, in 20 ms
	// frames: one frame absorbs a packet up to 20 ms late, the common case
	// on a LAN or a carrier trunk, for 20 ms of added latency.
	DefaultJitterDepth = 1
	// MaxJitterDepth bounds Mix.SetJitterDepth: beyond 100 ms of added
	// latency a conversation suffers more from the delay than from gaps.
	MaxJitterDepth = 5
)

// ErrBadJitterDepth is returned by Mix.SetJitterDepth for a depth outside
// 0..MaxJitterDepth.
var ErrBadJitterDepth = errors.New("media: jitter depth out of range")

// jitterBuffer holds what a mix participant's remote sent until the pacer
// takes it, one frame per tick. It plays out only once depth frames are
// held beyond the one due (primed), so a packet up to depth frames late is
// still in time. When it runs dry (underrun) it primes again instead of
// playing each frame as it trickles in: a sender at the edge of a tick
// would otherwise alternate audio and gaps. It holds at most depth+2
// frames (the reserve, the frame due and one that came early) and drops
// the oldest beyond, so a sender whose clock runs fast, or a burst after
// a network stall, cannot build up latency. Playout is in arrival order;
// RTP sequence numbers are not looked at.
type jitterBuffer struct {
	ring   *pcmRing
	depth  int // frames held in reserve once primed
	primed bool
}

func newJitterBuffer(depth int) *jitterBuffer {
	return &jitterBuffer{ring: newPCMRing(depth + 2), depth: depth}
}

// push queues received samples, dropping the oldest when full.
func (j *jitterBuffer) push(pcm []int16) { j.ring.push(pcm) }

// take moves the next frame into dst and reports whether it is audio; it
// is silence while priming and on underrun.
func (j *jitterBuffer) take(dst []int16) bool {
	if !j.primed && j.ring.n >= (j.depth+1)*len(dst) {
		j.primed = true
	}
	if !j.primed || j.ring.n < len(dst) {
		j.primed = false
		clear(dst)
		return false
	}
	j.ring.pull(dst)
	return true
}

func (j *jitterBuffer) reset() {
	j.ring.reset()
	j.primed = false
}

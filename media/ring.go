package media

// pcmRingFrames bounds the audio a tap buffers between pacer ticks: packets
// arrive with jitter and a different clock, so a small FIFO absorbs both;
// beyond 80 ms the oldest audio is dropped to keep latency bounded.
const pcmRingFrames = 4

// pcmRing is a fixed-size FIFO of linear samples that never allocates after
// newPCMRing.
type pcmRing struct {
	buf  []int16
	head int // index of the oldest sample
	n    int // samples held
}

// newPCMRing returns an empty ring holding at most frames 20 ms frames.
func newPCMRing(frames int) *pcmRing {
	return &pcmRing{buf: make([]int16, frames*samplesPerFrame)}
}

// push appends samples, dropping the oldest ones when full.
func (r *pcmRing) push(samples []int16) {
	for _, s := range samples {
		if r.n == len(r.buf) {
			r.head = (r.head + 1) % len(r.buf)
			r.n--
		}
		r.buf[(r.head+r.n)%len(r.buf)] = s
		r.n++
	}
}

// pull fills dst with the oldest samples and silence where none are held.
func (r *pcmRing) pull(dst []int16) {
	k := min(r.n, len(dst))
	for i := range k {
		dst[i] = r.buf[(r.head+i)%len(r.buf)]
	}
	clear(dst[k:])
	r.head = (r.head + k) % len(r.buf)
	r.n -= k
}

func (r *pcmRing) reset() { r.head, r.n = 0, 0 }

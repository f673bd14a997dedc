package media

import (
	"bytes"
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/zaf/g711"
)

// silentFrame is what playout reports for a tick that sent silence.
const silentFrame = -1

// markedFrame is test frame k in PCMU: every sample is the code 0xFE-k, a
// level that grows with k. Decoding it, mixing it alone and encoding it
// again gives the same code back, so a hearer can tell which frame it got;
// PCMU silence is 0xFF.
func markedFrame(k int) []byte {
	return bytes.Repeat([]byte{byte(0xFE - k)}, samplesPerFrame)
}

// playout runs one pacer tick per element of arrivals, after talker's
// phone sent that many marked frames (numbered on from 0), then drain more
// ticks with nothing sent. It returns, per tick, the number of the frame
// hearer received, or silentFrame.
func (r *mixRig) playout(talker, hearer *mixParty, arrivals []int, drain int) []int {
	r.t.Helper()
	var got []int
	for tick := range len(arrivals) + drain {
		if tick < len(arrivals) && arrivals[tick] > 0 {
			for range arrivals[tick] {
				talker.sendFrame(markedFrame(talker.sent))
			}
			r.settle(talker)
		}
		tickN(r.e, 1)
		hearer.heard = hearer.heard[:0]
		hearer.hear(r.t)
		code := g711.EncodeUlawFrame(hearer.heard[0])
		for _, s := range hearer.heard {
			if g711.EncodeUlawFrame(s) != code {
				r.t.Fatalf("tick %d: %s heard a mixture, not one marked frame", tick, hearer.name)
			}
		}
		if code == 0xFF {
			got = append(got, silentFrame)
		} else {
			got = append(got, 0xFE-int(code))
		}
	}
	return got
}

// newPlayoutRig is a mix of a talker and a listener (both PCMU) with the
// given jitter depth.
func newPlayoutRig(t *testing.T, depth int) (r *mixRig, talker, hearer *mixParty) {
	r = newMixRig(t)
	talker = r.party("talker", 0, CodecPCMU)
	hearer = r.party("hearer", 0, CodecPCMU)
	r.join(talker, Speaker())
	r.join(hearer, Listener())
	if err := r.m.SetJitterDepth(depth); err != nil {
		t.Fatal(err)
	}
	return r, talker, hearer
}

func TestMixJitterBufferPlayout(t *testing.T) {
	const s = silentFrame
	tests := []struct {
		name     string
		depth    int
		arrivals []int // frames arriving before each tick
		drain    int   // ticks after the last arrivals
		want     []int // frame heard on each tick
	}{
		{"default depth mixes one frame behind", DefaultJitterDepth,
			[]int{1, 1, 1, 1}, 2, []int{s, 0, 1, 2, 3, s}},
		{"depth 0 mixes a frame on the tick it arrives", 0,
			[]int{1, 1, 1, 1}, 1, []int{0, 1, 2, 3, s}},
		{"depth 2 mixes two frames behind", 2,
			[]int{1, 1, 1, 1}, 3, []int{s, s, 0, 1, 2, 3, s}},
		// Dry after frame 2: a lone frame 3 waits for frame 4 instead of
		// being played between two gaps.
		{"underrun primes again", 1,
			[]int{1, 1, 1, 0, 0, 1, 0, 1, 1}, 2, []int{s, 0, 1, 2, s, s, s, 3, 4, 5, s}},
		{"without prefill the same stream alternates with gaps", 0,
			[]int{1, 1, 1, 0, 0, 1, 0, 1, 1}, 1, []int{0, 1, 2, s, s, 3, s, 4, 5, s}},
		// Frames 1..6 arrive at once: depth+2 = 3 are kept, the newest.
		{"overflow drops the oldest", 1,
			[]int{2, 5}, 3, []int{0, 4, 5, 6, s}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r, talker, hearer := newPlayoutRig(t, tt.depth)
			if got := r.playout(talker, hearer, tt.arrivals, tt.drain); !slices.Equal(got, tt.want) {
				t.Errorf("frames heard per tick %v, want %v", got, tt.want)
			}
		})
	}
}

// arrivalsPerTick turns the lateness of each packet (ms, negative when
// early, never 20 ms early or more) into the number arriving before each
// tick: packet k is due just before tick k; any lateness up to 20 ms makes
// it a tick later.
func arrivalsPerTick(lateMs []int) []int {
	const frameMs = int(pacerInterval / time.Millisecond)
	var per []int
	for k, late := range lateMs {
		tick := k
		if late > 0 {
			tick += (late + frameMs - 1) / frameMs
		}
		for len(per) <= tick {
			per = append(per, 0)
		}
		per[tick]++
	}
	return per
}

// gaps counts the silent ticks between the first and the last audio.
func gaps(heard []int) int {
	first := slices.IndexFunc(heard, func(f int) bool { return f != silentFrame })
	last := len(heard) - 1
	for last >= 0 && heard[last] == silentFrame {
		last--
	}
	if first < 0 {
		return 0
	}
	n := 0
	for _, f := range heard[first : last+1] {
		if f == silentFrame {
			n++
		}
	}
	return n
}

func TestMixPrefillBridgesJitter(t *testing.T) {
	const packets = 18
	alternating := make([]int, packets) // 10 ms early, 10 ms late, ...
	burst := make([]int, packets)       // every third packet 20 ms late, arriving with the next
	for k := range packets {
		alternating[k] = []int{-10, 10}[k%2]
		burst[k] = []int{0, 0, 20}[k%3]
	}
	for _, tc := range []struct {
		name   string
		lateMs []int
	}{
		{"alternating early and late by 10 ms", alternating},
		{"a burst of 2 after each gap", burst},
	} {
		t.Run(tc.name, func(t *testing.T) {
			arrivals := arrivalsPerTick(tc.lateMs)
			var heard [2][]int
			for i, depth := range []int{0, DefaultJitterDepth} {
				r, talker, hearer := newPlayoutRig(t, depth)
				heard[i] = r.playout(talker, hearer, arrivals, depth+2)
			}
			control, prefilled := heard[0], heard[1]
			t.Logf("arrivals per tick %v\nno prefill: %v (%d gaps)\nprefill:    %v (%d gaps)",
				arrivals, control, gaps(control), prefilled, gaps(prefilled))
			if n := gaps(prefilled); n != 0 {
				t.Errorf("with prefill the talker is heard with %d silent frames in between", n)
			}
			if gaps(control) == 0 {
				t.Errorf("without prefill there is no gap: the pattern does not test jitter")
			}
			audio := slices.DeleteFunc(slices.Clone(prefilled), func(f int) bool { return f == silentFrame })
			var sent []int
			for k := range packets {
				sent = append(sent, k)
			}
			if !slices.Equal(audio, sent) {
				t.Errorf("with prefill frames heard %v, want each of 0..%d once, in order", audio, packets-1)
			}
		})
	}
}

func TestMixSetJitterDepthRejectsBadDepths(t *testing.T) {
	m := newTestEngine(t, true).NewMix()
	for _, depth := range []int{-1, MaxJitterDepth + 1} {
		if err := m.SetJitterDepth(depth); !errors.Is(err, ErrBadJitterDepth) {
			t.Errorf("SetJitterDepth(%d) = %v, want ErrBadJitterDepth", depth, err)
		}
	}
	if err := m.SetJitterDepth(MaxJitterDepth); err != nil {
		t.Errorf("SetJitterDepth(%d) = %v", MaxJitterDepth, err)
	}
	m.Close()
	if err := m.SetJitterDepth(1); !errors.Is(err, ErrMixClosed) {
		t.Errorf("SetJitterDepth after Close = %v, want ErrMixClosed", err)
	}
}

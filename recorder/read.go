package recorder

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"time"
)

// Window is a stretch of a recording, as offsets from its start (the
// call's answer): a stage of the call.
type Window struct{ From, To time.Duration }

// ErrNotRecording: the file is not a recording this package wrote.
var ErrNotRecording = errors.New("recorder: not a hotline recording")

// openRecording opens a recording and returns it with the size of its
// audio, checked against the format Create writes.
func openRecording(path string) (*os.File, int64, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, 0, err
	}
	var h [headerSize]byte
	if _, err := io.ReadFull(f, h[:]); err != nil {
		f.Close()
		return nil, 0, fmt.Errorf("%w: %s: %v", ErrNotRecording, path, err)
	}
	want := header(0)
	if !sameFormat(h, want) {
		f.Close()
		return nil, 0, fmt.Errorf("%w: %s", ErrNotRecording, path)
	}
	st, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, 0, err
	}
	// A closed file may have chunks after its audio (markers): then the
	// data chunk's size is the truth. Otherwise the header may understate
	// a file cut by a crash before repair: the file's own length is, in
	// whole frames.
	declared := int64(binary.LittleEndian.Uint32(h[dataSizeOffset:]))
	if headerSize+declared < st.Size() && hasChunkAt(f, headerSize+declared+declared%2, st.Size()) {
		return f, declared / bytesPerFrame * bytesPerFrame, nil
	}
	data := (st.Size() - headerSize) / bytesPerFrame * bytesPerFrame
	return f, max(data, 0), nil
}

// sameFormat compares the fmt chunk (everything but the RIFF size).
func sameFormat(a, b [headerSize]byte) bool {
	return string(a[0:4]) == string(b[0:4]) && string(a[8:40]) == string(b[8:40])
}

// byteRange turns a window into byte offsets in the audio, clamped to it.
func byteRange(w Window, data int64) (from, to int64) {
	off := func(d time.Duration) int64 {
		n := int64(d) * sampleRate / int64(time.Second) * bytesPerFrame
		return min(max(n, 0), data)
	}
	from, to = off(w.From), off(w.To)
	return from, max(from, to)
}

// Slice is a WAV made of windows of a recording, one after the other (a
// call's talk stages, say), read straight from the file: a valid file of
// the same format that seeks, so it can be served with HTTP ranges.
type Slice struct {
	f    *os.File
	head [headerSize]byte
	// parts are the windows' byte ranges in the file, in order.
	parts []sliceRange
	size  int64
	off   int64
}

type sliceRange struct{ from, to int64 } // file offsets

// OpenSlice opens the slice of the recording at path made of windows.
func OpenSlice(path string, windows []Window) (*Slice, error) {
	f, data, err := openRecording(path)
	if err != nil {
		return nil, err
	}
	s := &Slice{f: f}
	var n int64
	for _, w := range windows {
		from, to := byteRange(w, data)
		if to > from {
			s.parts = append(s.parts, sliceRange{headerSize + from, headerSize + to})
			n += to - from
		}
	}
	if n > 1<<32-1-headerSize {
		f.Close()
		return nil, fmt.Errorf("recorder: slice of %s too large for a WAV", path)
	}
	s.head = header(uint32(n))
	s.size = headerSize + n
	return s, nil
}

// Size is the slice's length in bytes, header included.
func (s *Slice) Size() int64 { return s.size }

// Read reads the header, then the windows' audio.
func (s *Slice) Read(p []byte) (int, error) {
	if s.off >= s.size {
		return 0, io.EOF
	}
	if s.off < headerSize {
		n := copy(p, s.head[s.off:])
		s.off += int64(n)
		return n, nil
	}
	pos := s.off - headerSize // within the audio
	for _, r := range s.parts {
		if pos >= r.to-r.from {
			pos -= r.to - r.from
			continue
		}
		want := min(int64(len(p)), r.to-r.from-pos)
		n, err := s.f.ReadAt(p[:want], r.from+pos)
		s.off += int64(n)
		if err == io.EOF && n > 0 {
			err = nil
		}
		return n, err
	}
	return 0, io.EOF
}

// Seek moves within the slice (io.Seeker).
func (s *Slice) Seek(offset int64, whence int) (int64, error) {
	switch whence {
	case io.SeekCurrent:
		offset += s.off
	case io.SeekEnd:
		offset += s.size
	}
	if offset < 0 {
		return 0, errors.New("recorder: seek before the start of a slice")
	}
	s.off = offset
	return offset, nil
}

// Close closes the recording.
func (s *Slice) Close() error { return s.f.Close() }

// Analysis is what Analyze measures: a channel "speaks" in a 20 ms frame
// whose level is above speechLevel.
type Analysis struct {
	// Caller is the left channel's speech, Agent the right's (what the
	// caller heard: in talk stages, the agent).
	Caller, Agent time.Duration
	// Silence is the time neither spoke, Overtalk the time both did;
	// Longest the longest silence; Total the time analyzed.
	Silence, Overtalk, Longest, Total time.Duration
}

// SilenceRatio is Silence over Total (0 when nothing was analyzed).
func (a Analysis) SilenceRatio() float64 {
	if a.Total <= 0 {
		return 0
	}
	return float64(a.Silence) / float64(a.Total)
}

// speechLevel is the RMS (of 32767) above which a frame counts as speech:
// about -38 dBFS, well over line noise and G.711's idle pattern, under
// quiet speech.
const speechLevel = 400

// analysisFrame is 20 ms of stereo audio.
const analysisFrame = sampleRate / 50

// Analyze measures speech, silence and over-talk in the recording's
// windows (the call's talk stages), frame by frame. It reads the file once,
// a frame at a time.
func Analyze(path string, windows []Window) (Analysis, error) {
	f, data, err := openRecording(path)
	if err != nil {
		return Analysis{}, err
	}
	defer f.Close()
	var a Analysis
	const frameBytes = analysisFrame * bytesPerFrame
	buf := make([]byte, 64*frameBytes)
	frame := time.Duration(analysisFrame) * time.Second / sampleRate
	for _, w := range windows {
		from, to := byteRange(w, data)
		r := io.NewSectionReader(f, headerSize+from, to-from)
		var silence time.Duration // the silence running at the window's end does not join the next
		for {
			n, err := io.ReadFull(r, buf)
			for off := 0; off+frameBytes <= n; off += frameBytes {
				left, right := frameLevels(buf[off : off+frameBytes])
				a.Total += frame
				switch l, r := left > speechLevel, right > speechLevel; {
				case l && r:
					a.Caller += frame
					a.Agent += frame
					a.Overtalk += frame
					silence = 0
				case l:
					a.Caller += frame
					silence = 0
				case r:
					a.Agent += frame
					silence = 0
				default:
					a.Silence += frame
					silence += frame
					a.Longest = max(a.Longest, silence)
				}
			}
			if err == io.EOF || err == io.ErrUnexpectedEOF {
				break
			}
			if err != nil {
				return Analysis{}, err
			}
		}
	}
	return a, nil
}

// frameLevels returns the RMS of each channel of interleaved stereo PCM.
func frameLevels(b []byte) (left, right float64) {
	var sl, sr float64
	n := len(b) / bytesPerFrame
	for i := 0; i < n; i++ {
		l := float64(int16(binary.LittleEndian.Uint16(b[i*4:])))
		r := float64(int16(binary.LittleEndian.Uint16(b[i*4+2:])))
		sl += l * l
		sr += r * r
	}
	return math.Sqrt(sl / float64(n)), math.Sqrt(sr / float64(n))
}

package recorder

import (
	"bytes"
	"encoding/binary"
	"errors"
	"io"
	"math"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// writeScript writes a recording whose channels speak (a 500 Hz tone at
// about -20 dBFS) in the given stretches, for seconds in all; the header
// declares declared bytes of data (as a crash might leave it).
func writeScript(t testing.TB, seconds float64, left, right []Window, declared int64) (string, []byte) {
	t.Helper()
	n := int(seconds * sampleRate)
	data := make([]byte, n*bytesPerFrame)
	in := func(ws []Window, i int) bool {
		at := time.Duration(i) * time.Second / sampleRate
		for _, w := range ws {
			if at >= w.From && at < w.To {
				return true
			}
		}
		return false
	}
	for i := range n {
		v := int16(3000 * math.Sin(2*math.Pi*500*float64(i)/sampleRate))
		if in(left, i) {
			binary.LittleEndian.PutUint16(data[i*4:], uint16(v))
		}
		if in(right, i) {
			binary.LittleEndian.PutUint16(data[i*4+2:], uint16(v))
		}
	}
	if declared < 0 {
		declared = int64(len(data))
	}
	h := header(uint32(declared))
	path := filepath.Join(t.TempDir(), "r.wav")
	if err := os.WriteFile(path, append(h[:], data...), 0o644); err != nil {
		t.Fatal(err)
	}
	return path, data
}

func sec(f float64) time.Duration { return time.Duration(f * float64(time.Second)) }

// TestAnalyze: speech per channel, over-talk, silence and the longest
// silence, over the whole call and over chosen windows.
func TestAnalyze(t *testing.T) {
	path, _ := writeScript(t, 4,
		[]Window{{0, sec(1)}, {sec(2), sec(2.5)}},
		[]Window{{sec(1), sec(2.5)}}, -1)
	a, err := Analyze(path, []Window{{0, sec(4)}})
	if err != nil {
		t.Fatal(err)
	}
	want := Analysis{Caller: sec(1.5), Agent: sec(1.5), Overtalk: sec(0.5), Silence: sec(1.5), Longest: sec(1.5), Total: sec(4)}
	if a != want {
		t.Errorf("Analyze = %+v, want %+v", a, want)
	}
	if r := a.SilenceRatio(); r != 0.375 {
		t.Errorf("silence ratio %v, want 0.375", r)
	}
	// Two windows: a silence at the end of one does not run on into the
	// next; a window past the end is clamped.
	a, err = Analyze(path, []Window{{sec(0.5), sec(1.5)}, {sec(3), sec(9)}})
	if err != nil {
		t.Fatal(err)
	}
	want = Analysis{Caller: sec(0.5), Agent: sec(0.5), Silence: sec(1), Longest: sec(1), Total: sec(2)}
	if a != want {
		t.Errorf("Analyze windows = %+v, want %+v", a, want)
	}
}

// TestOpenSlice: the slice of two windows is a valid WAV holding exactly
// their audio; a header cut short by a crash does not hide audio the
// file has.
func TestOpenSlice(t *testing.T) {
	path, data := writeScript(t, 4, []Window{{0, sec(4)}}, nil, 1000)
	windows := []Window{{sec(1), sec(2)}, {sec(3), sec(3.5)}}
	var out bytes.Buffer
	if err := writeSlice(&out, path, windows); err != nil {
		t.Fatal(err)
	}
	sl, err := OpenSlice(path, windows)
	if err != nil || sl.Size() != int64(out.Len()) {
		t.Fatalf("OpenSlice size %d (%v), wrote %d", sl.Size(), err, out.Len())
	}
	defer sl.Close()
	// A range read across the seam of the two windows, as HTTP serves it.
	seam := int64(headerSize + 8000*bytesPerFrame - 10)
	if _, err := sl.Seek(seam, io.SeekStart); err != nil {
		t.Fatal(err)
	}
	part := make([]byte, 20)
	if _, err := io.ReadFull(sl, part); err != nil || !bytes.Equal(part, out.Bytes()[seam:seam+20]) {
		t.Errorf("read across the seam: %v, % x, want % x", err, part, out.Bytes()[seam:seam+20])
	}
	frame := func(s float64) int { return int(s*sampleRate) * bytesPerFrame }
	wantData := append(append([]byte{}, data[frame(1):frame(2)]...), data[frame(3):frame(3.5)]...)
	h := header(uint32(len(wantData)))
	if !bytes.Equal(out.Bytes(), append(h[:], wantData...)) {
		t.Errorf("slice is %d bytes, not the header and the windows' %d bytes", out.Len(), len(wantData))
	}
	if err := writeSlice(&out, filepath.Join(t.TempDir(), "nope.wav"), windows); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("missing file: %v", err)
	}
	bad := filepath.Join(t.TempDir(), "bad.wav")
	if err := os.WriteFile(bad, []byte("RIFF....WAVEjunk"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := Analyze(bad, windows); !errors.Is(err, ErrNotRecording) {
		t.Errorf("not a recording: %v", err)
	}
}

// TestCloseWithMarkers: markers become a cue chunk and labels after the
// audio, written with the close; the file stays a consistent WAV that
// Repair leaves alone, and slicing and analysis see only the audio.
func TestCloseWithMarkers(t *testing.T) {
	w := NewWriter(nil)
	defer w.Close()
	path := filepath.Join(t.TempDir(), "marked.wav")
	rec, err := w.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	for i := range 150 { // 3 s
		rec.Frame(countingFrame(i, 1), countingFrame(i, -1))
	}
	markers := []Marker{{0, "ivr"}, {sec(1.5), "talk 1003"}, {sec(9), "past the end"}}
	if err := rec.CloseWithMarkers(markers); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	le := binary.LittleEndian
	data := int(le.Uint32(b[40:]))
	if int(le.Uint32(b[4:])) != len(b)-8 || data != 3*sampleRate*bytesPerFrame {
		t.Fatalf("RIFF size %d for %d bytes, data size %d", le.Uint32(b[4:]), len(b), data)
	}
	rest := b[44+data:]
	if string(rest[0:4]) != "cue " || le.Uint32(rest[8:]) != 3 {
		t.Fatalf("no cue chunk of 3 points after the audio: % x", rest[:16])
	}
	for i, wantPos := range []uint32{0, 12000, 24000} { // the last one clamped to the end
		if got := le.Uint32(rest[12+24*i+20:]); got != wantPos {
			t.Errorf("cue point %d at frame %d, want %d", i+1, got, wantPos)
		}
	}
	list := rest[12+24*3:]
	if string(list[0:4]) != "LIST" || string(list[8:12]) != "adtl" || !bytes.Contains(list, []byte("talk 1003\x00")) {
		t.Errorf("labels: %q", list)
	}
	if changed, err := Repair(filepath.Dir(path)); err != nil || len(changed) != 0 {
		t.Errorf("Repair changed %v (%v) in a file with markers", changed, err)
	}
	if a, err := Analyze(path, []Window{{0, sec(9)}}); err != nil || a.Total != sec(3) {
		t.Errorf("analysis over %v (%v), want the 3 s of audio", a.Total, err)
	}
	var out bytes.Buffer
	if err := writeSlice(&out, path, []Window{{0, sec(9)}}); err != nil || !bytes.Equal(out.Bytes()[44:], b[44:44+data]) {
		t.Errorf("the whole slice is %d bytes of audio (%v), want the %d recorded, no markers", out.Len()-44, err, data)
	}
}

// BenchmarkAnalyze10Minutes: the analysis of a 10-minute talk, as it runs
// when a call ends (about 19 MB read).
func BenchmarkAnalyze10Minutes(b *testing.B) {
	path, _ := writeScript(b, 600, []Window{{0, sec(300)}}, []Window{{sec(200), sec(600)}}, -1)
	windows := []Window{{0, sec(600)}}
	b.SetBytes(600 * sampleRate * bytesPerFrame)
	b.ResetTimer()
	for b.Loop() {
		if _, err := Analyze(path, windows); err != nil {
			b.Fatal(err)
		}
	}
}

// writeSlice copies the slice of the recording at path made of windows.
func writeSlice(dst io.Writer, path string, windows []Window) error {
	s, err := OpenSlice(path, windows)
	if err != nil {
		return err
	}
	defer s.Close()
	_, err = io.Copy(dst, s)
	return err
}

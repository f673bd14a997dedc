package recorder

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"testing"
	"time"
)

const testTimeout = 5 * time.Second

// wavFile is a parsed canonical recording.
type wavFile struct {
	riffSize, dataSize uint32
	channels, bits     uint16
	rate               uint32
	left, right        []int16
	fileSize           int64
}

func readWAV(t testing.TB, path string) wavFile {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if len(b) < headerSize || string(b[0:4]) != "RIFF" || string(b[8:16]) != "WAVEfmt " || string(b[36:40]) != "data" {
		t.Fatalf("%s: not a canonical wav header: %q", path, b[:min(len(b), headerSize)])
	}
	le := binary.LittleEndian
	w := wavFile{
		riffSize: le.Uint32(b[4:]),
		channels: le.Uint16(b[22:]),
		rate:     le.Uint32(b[24:]),
		bits:     le.Uint16(b[34:]),
		dataSize: le.Uint32(b[40:]),
		fileSize: int64(len(b)),
	}
	data := b[headerSize:]
	for i := 0; i+4 <= len(data) && i < int(w.dataSize); i += 4 {
		w.left = append(w.left, int16(le.Uint16(data[i:])))
		w.right = append(w.right, int16(le.Uint16(data[i+2:])))
	}
	return w
}

// frames returns n 160-sample frames whose samples count up from start, so
// every sample of the file is identifiable.
func countingFrame(frame int, sign int16) []int16 {
	out := make([]int16, 160)
	for i := range out {
		out[i] = sign * int16((frame*160+i)%30000)
	}
	return out
}

func TestRecordingWritesStereoWAV(t *testing.T) {
	tests := []struct {
		name   string
		frames int
	}{
		{"empty recording is a valid file", 0},
		{"less than one block", 7},
		{"exactly one block", 50},
		{"two and a half seconds", 125},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w := NewWriter(nil)
			defer w.Close()
			path := filepath.Join(t.TempDir(), "2026", "11", "23", "call.wav")
			rec, err := w.Create(path)
			if err != nil {
				t.Fatal(err)
			}
			if got := readWAV(t, path); got.dataSize != 0 || got.riffSize != 36 {
				t.Fatalf("header not written at create: %+v", got)
			}
			for i := range tt.frames {
				rec.Frame(countingFrame(i, 1), countingFrame(i, -1))
			}
			if err := rec.Close(); err != nil {
				t.Fatal(err)
			}
			if err := rec.Close(); err != nil {
				t.Fatalf("second Close: %v", err)
			}
			if want := time.Duration(tt.frames) * 20 * time.Millisecond; rec.Duration() != want {
				t.Errorf("Duration %v, want %v", rec.Duration(), want)
			}
			got := readWAV(t, rec.Path())
			samples := tt.frames * 160
			if got.channels != 2 || got.rate != 8000 || got.bits != 16 {
				t.Errorf("format %d ch %d Hz %d bit", got.channels, got.rate, got.bits)
			}
			if int(got.dataSize) != samples*4 || got.riffSize != 36+got.dataSize || got.fileSize != int64(headerSize+samples*4) {
				t.Fatalf("sizes: riff %d data %d file %d, want data %d", got.riffSize, got.dataSize, got.fileSize, samples*4)
			}
			for i := range samples {
				if want := int16(i % 30000); got.left[i] != want || got.right[i] != -want {
					t.Fatalf("sample %d: left %d right %d, want %d/%d", i, got.left[i], got.right[i], want, -want)
				}
			}
			if s := w.Stats(); s.OpenRecordings != 0 || s.FramesDropped != 0 || s.BytesWritten != uint64(samples*4) {
				t.Errorf("stats %+v", s)
			}
		})
	}
}

func TestRecordingIsPlayableBeforeClose(t *testing.T) {
	w := NewWriter(nil)
	defer w.Close()
	path := filepath.Join(t.TempDir(), "live.wav")
	rec, err := w.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer rec.Close()
	const perBlock = blockFrames / 160
	for i := range perBlock + perBlock/2 { // one block flushed, half of one buffered
		rec.Frame(countingFrame(i, 1), countingFrame(i, 1))
	}
	// What a kill -9 now would leave: the header covers the flushed block.
	deadline := time.Now().Add(testTimeout)
	for {
		got := readWAV(t, path)
		if got.dataSize == blockBytes && got.riffSize == 36+blockBytes && got.fileSize == headerSize+blockBytes {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("header never covered the first block: %+v", got)
		}
		time.Sleep(time.Millisecond) // polling interval
	}
}

func TestCreateRefusesToOverwriteAndAfterClose(t *testing.T) {
	w := NewWriter(nil)
	path := filepath.Join(t.TempDir(), "a.wav")
	rec, err := w.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := w.Create(path); !errors.Is(err, os.ErrExist) {
		t.Fatalf("second create: %v, want ErrExist", err)
	}
	rec.Frame(make([]int16, 160), make([]int16, 160))
	if err := w.Close(); err != nil { // closes rec too
		t.Fatal(err)
	}
	if got := readWAV(t, path); got.dataSize != 640 {
		t.Fatalf("writer close did not finalize the open recording: data %d", got.dataSize)
	}
	rec.Frame(make([]int16, 160), make([]int16, 160)) // after close: ignored, no panic
	if _, err := w.Create(filepath.Join(t.TempDir(), "b.wav")); !errors.Is(err, ErrWriterClosed) {
		t.Fatalf("create after close: %v", err)
	}
}

func TestSlowDiskDropsFramesInsteadOfBlocking(t *testing.T) {
	w := newWriter(nil) // its goroutine starts late: the disk is stalled
	path := filepath.Join(t.TempDir(), "slow.wav")
	rec, err := w.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	const perBlock = blockFrames / 160
	for i := range (blocksPerRecording + 1) * perBlock {
		rec.Frame(countingFrame(i, 1), countingFrame(i, 1)) // must return at once
	}
	if got := w.Stats().FramesDropped; got != perBlock {
		t.Fatalf("FramesDropped = %d, want %d (the %d blocks are full)", got, perBlock, blocksPerRecording)
	}
	go w.run()
	defer w.Close()
	if err := rec.Close(); err != nil {
		t.Fatal(err)
	}
	if got := readWAV(t, path); got.dataSize != blocksPerRecording*blockBytes {
		t.Fatalf("data %d bytes, want the %d buffered blocks", got.dataSize, blocksPerRecording)
	}
}

func TestWriteErrorStopsOnlyThatRecording(t *testing.T) {
	full, err := os.OpenFile("/dev/full", os.O_WRONLY, 0)
	if err != nil {
		t.Skipf("no /dev/full to simulate a full disk: %v", err)
	}
	w := NewWriter(nil)
	defer w.Close()
	dir := t.TempDir()
	bad, err := w.Create(filepath.Join(dir, "bad.wav"))
	if err != nil {
		t.Fatal(err)
	}
	good, err := w.Create(filepath.Join(dir, "good.wav"))
	if err != nil {
		t.Fatal(err)
	}
	bad.file.Close()
	bad.file = full // every write now fails with ENOSPC, as on a full disk
	for i := range 120 {
		bad.Frame(countingFrame(i, 1), countingFrame(i, 1))
		good.Frame(countingFrame(i, 1), countingFrame(i, 1))
	}
	if err := bad.Close(); err == nil {
		t.Fatal("Close of the failed recording returned no error")
	}
	if err := good.Close(); err != nil {
		t.Fatalf("the other recording suffered: %v", err)
	}
	if got := readWAV(t, good.Path()); got.dataSize != 120*160*4 {
		t.Fatalf("good recording has %d bytes", got.dataSize)
	}
	if s := w.Stats(); s.WriteErrors != 1 {
		t.Fatalf("WriteErrors = %d, want 1 (logged and counted once)", s.WriteErrors)
	}
}

func TestRecordingFrameDoesNotAllocate(t *testing.T) {
	w := NewWriter(nil)
	defer w.Close()
	rec, err := w.Create(filepath.Join(t.TempDir(), "alloc.wav"))
	if err != nil {
		t.Fatal(err)
	}
	defer rec.Close()
	in, out := countingFrame(1, 1), countingFrame(2, 1)
	deadline := time.Now().Add(testTimeout)
	// Each run is one second of frames; the block goes to the writer, whose
	// work (write, header rewrite, block return) is counted too, and the run
	// ends when the block is back, as it would be before the pacer's next
	// second.
	oneBlock := func() {
		for range blockFrames / 160 {
			rec.Frame(in, out)
		}
		for len(rec.free) < rec.ownedBlocks() && time.Now().Before(deadline) {
			runtime.Gosched()
		}
	}
	if allocs := testing.AllocsPerRun(10, oneBlock); allocs != 0 {
		t.Fatalf("Frame: %.2f allocs per second of audio, want 0", allocs)
	}
	if s := w.Stats(); s.FramesDropped != 0 || s.BytesWritten != 11*blockBytes {
		t.Fatalf("stats %+v, want 11 blocks written and none dropped", s)
	}
}

func BenchmarkRecordingFrame(b *testing.B) {
	w := NewWriter(nil)
	defer w.Close()
	rec, err := w.Create(filepath.Join(b.TempDir(), "bench.wav"))
	if err != nil {
		b.Fatal(err)
	}
	defer rec.Close()
	in, out := countingFrame(1, 1), countingFrame(2, 1)
	b.ReportAllocs()
	for b.Loop() {
		rec.Frame(in, out)
	}
	b.ReportMetric(float64(w.Stats().FramesDropped)/float64(b.N), "dropped/op")
}

// BenchmarkCreateClose is a recording's whole life with one second of audio:
// the per-call cost that make bench's profile put on the call goroutine. Its
// B/op shows whether finished recordings' blocks are recycled.
func BenchmarkCreateClose(b *testing.B) {
	w := NewWriter(nil)
	defer w.Close()
	dir := b.TempDir()
	in, out := countingFrame(1, 1), countingFrame(2, 1)
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		i++
		rec, err := w.Create(filepath.Join(dir, fmt.Sprintf("%d.wav", i)))
		if err != nil {
			b.Fatal(err)
		}
		for range 50 {
			rec.Frame(in, out)
		}
		if err := rec.Close(); err != nil {
			b.Fatal(err)
		}
	}
}

// writeRaw writes a canonical header claiming dataSize and riffSize, then
// payload bytes: what a crash between a flush and its header rewrite leaves.
func writeRaw(t *testing.T, path string, riffSize, dataSize uint32, payload []byte) {
	t.Helper()
	h := header(0)
	binary.LittleEndian.PutUint32(h[4:], riffSize)
	binary.LittleEndian.PutUint32(h[40:], dataSize)
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, append(h[:], payload...), 0o644); err != nil {
		t.Fatal(err)
	}
}

func TestRepairFixesTruncatedRecordings(t *testing.T) {
	audio := bytes.Repeat([]byte{1, 2, 3, 4}, 12345)
	list := []byte("LIST\x0c\x00\x00\x00INFOISFT\x00\x00\x00\x00")
	tests := []struct {
		name         string
		riff, data   uint32
		payload      []byte
		wantRepaired bool
		wantData     uint32
	}{
		{"crash before the first header rewrite", 36, 0, audio, true, uint32(len(audio))},
		{"crash after a flush, mid sample frame", 36 + 32000, 32000, append(bytes.Clone(audio), 9, 9, 9), true, uint32(len(audio))},
		{"header claims more than the file holds", 36 + 99999, 99999, audio, true, uint32(len(audio))},
		{"streaming size 0xffffffff", 0xffffffff, 0xffffffff, audio, true, uint32(len(audio))},
		{"consistent file", 36 + uint32(len(audio)), uint32(len(audio)), audio, false, uint32(len(audio))},
		{"consistent file with LIST after data", 36 + uint32(len(audio)+len(list)), uint32(len(audio)), append(bytes.Clone(audio), list...), false, uint32(len(audio))},
		{"only the riff size is wrong", 12, uint32(len(audio)), audio, true, uint32(len(audio))},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			path := filepath.Join(dir, "q", "call.wav")
			writeRaw(t, path, tt.riff, tt.data, tt.payload)
			repaired, err := Repair(dir)
			if err != nil {
				t.Fatal(err)
			}
			if got := len(repaired) == 1; got != tt.wantRepaired {
				t.Fatalf("repaired %v, want repaired=%v", repaired, tt.wantRepaired)
			}
			got := readWAV(t, path)
			if got.dataSize != tt.wantData {
				t.Fatalf("data size %d, want %d", got.dataSize, tt.wantData)
			}
			if uint32(got.fileSize-8) != got.riffSize {
				t.Fatalf("riff size %d, file %d", got.riffSize, got.fileSize)
			}
			if again, err := Repair(dir); err != nil || len(again) != 0 {
				t.Fatalf("second repair: %v %v", again, err)
			}
		})
	}
}

func TestRepairLeavesOtherFilesAlone(t *testing.T) {
	dir := t.TempDir()
	files := map[string][]byte{
		"notes.txt":    []byte("RIFF...."),
		"fake.wav":     []byte("this is not a wav"),
		"tiny.wav":     []byte("RIF"),
		"nodata.wav":   []byte("RIFF\x04\x00\x00\x00WAVE"),
		"sub/text.WAV": []byte("hello"),
	}
	for name, b := range files {
		p := filepath.Join(dir, name)
		os.MkdirAll(filepath.Dir(p), 0o755)
		if err := os.WriteFile(p, b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	repaired, err := Repair(dir)
	if err != nil || len(repaired) != 0 {
		t.Fatalf("Repair = %v, %v", repaired, err)
	}
	for name, want := range files {
		if got, _ := os.ReadFile(filepath.Join(dir, name)); !slices.Equal(got, want) {
			t.Errorf("%s changed", name)
		}
	}
	if _, err := Repair(filepath.Join(dir, "missing")); err == nil {
		t.Error("missing dir: no error")
	}
}

// ownedBlocks is how many blocks the recording holds.
func (r *Recording) ownedBlocks() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.owned
}

// TestRecordingHoldsTwoBlocksWhileTheDiskKeepsUp: blocks are taken as
// needed, so a recording whose writer keeps up holds two (one filling,
// one on its way to the disk), not blocksPerRecording.
func TestRecordingHoldsTwoBlocksWhileTheDiskKeepsUp(t *testing.T) {
	w := NewWriter(nil)
	defer w.Close()
	rec, err := w.Create(filepath.Join(t.TempDir(), "lean.wav"))
	if err != nil {
		t.Fatal(err)
	}
	defer rec.Close()
	if n := rec.ownedBlocks(); n != 1 {
		t.Fatalf("a new recording holds %d blocks, want 1", n)
	}
	deadline := time.Now().Add(testTimeout)
	for second := range 5 {
		for i := range blockFrames / 160 {
			rec.Frame(countingFrame(second*50+i, 1), countingFrame(second*50+i, -1))
		}
		// The writer brings the block back before the next second, as a
		// disk that keeps up does.
		for len(rec.free) < rec.ownedBlocks() && time.Now().Before(deadline) {
			runtime.Gosched()
		}
	}
	if n := rec.ownedBlocks(); n > 2 {
		t.Errorf("after 5 s with the disk keeping up the recording holds %d blocks, want at most 2", n)
	}
}

package recorder

import (
	"os"
	"path/filepath"
	"testing"
)

func TestFreeBytes(t *testing.T) {
	free, err := FreeBytes(t.TempDir())
	if err != nil || free == 0 {
		t.Fatalf("FreeBytes = %d, %v; want some space", free, err)
	}
	if _, err := FreeBytes(filepath.Join(t.TempDir(), "missing")); err == nil {
		t.Error("FreeBytes of a missing folder: no error")
	}
}

// TestDiskFullMidRecordingKeepsValidWAV: when the disk fills up during a
// call, the recording stops, is counted once, and its file stays a valid
// WAV holding the audio flushed before.
func TestDiskFullMidRecordingKeepsValidWAV(t *testing.T) {
	full, err := os.OpenFile("/dev/full", os.O_WRONLY, 0)
	if err != nil {
		t.Skipf("no /dev/full to simulate a full disk: %v", err)
	}
	w := newWriter(nil) // its goroutine starts late: the test drives the writes
	path := filepath.Join(t.TempDir(), "call.wav")
	rec, err := w.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	second := func() {
		for i := range 50 { // 50 × 20 ms
			rec.Frame(countingFrame(i, 1), countingFrame(i, -1))
		}
		for len(w.jobs) > 0 {
			w.handle(<-w.jobs)
		}
	}
	second()
	second()
	good := rec.file
	rec.file = full // the disk is full from now on
	second()
	good.Close()
	go w.run()
	defer w.Close()
	if err := rec.Close(); err == nil {
		t.Error("Close after a write error returned nil")
	}
	// The header's sizes lag the audio by up to a second (sizesEvery); the
	// file is a valid WAV of what they cover, and Repair, which runs at the
	// next start, gives it back all 2 s written before the disk filled.
	if got := readWAV(t, path); got.dataSize < sampleRate*bytesPerFrame {
		t.Errorf("data %d bytes, want at least the first second", got.dataSize)
	}
	if _, err := Repair(filepath.Dir(path)); err != nil {
		t.Fatal(err)
	}
	if got := readWAV(t, path); got.dataSize != 2*sampleRate*bytesPerFrame {
		t.Errorf("after Repair: data %d bytes, want the 2 s written before the disk filled", got.dataSize)
	}
	if s := w.Stats(); s.WriteErrors != 1 {
		t.Errorf("WriteErrors = %d, want 1", s.WriteErrors)
	}
}

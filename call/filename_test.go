package call

import (
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestRecordingPathsStayInTheirFolder: a Call-ID is the caller's text, and
// the recording's file name is built from it.
func TestRecordingPathsStayInTheirFolder(t *testing.T) {
	m := &Manager{deps: Deps{RecordingsDir: "/data/recordings"}}
	at := time.Date(2026, 11, 23, 10, 0, 0, 0, time.UTC)
	for _, id := range []string{"../../etc/passwd", "..", ".", "/abs/path", "a\\..\\b", "x\x00y", "\n", strings.Repeat("é", 300), ""} {
		path := m.recordingPath(id, at)
		dir := filepath.Join("/data/recordings", "2026/11/23")
		if filepath.Dir(path) != dir || !strings.HasSuffix(path, ".wav") || strings.HasPrefix(filepath.Base(path), ".") {
			t.Errorf("Call-ID %q: recording at %q, want a plain file name in %s", id, path, dir)
		}
	}
}

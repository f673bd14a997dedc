package prompts_test

import (
	"encoding/binary"
	"fmt"
	"io/fs"
	"testing"
	"time"

	"github.com/hotline-cc/hotline/media"
	"github.com/hotline-cc/hotline/prompts"
)

func TestEmbeddedPromptsLoad(t *testing.T) {
	set, err := media.LoadPrompts(prompts.FS, ".")
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name             string
		minimum, maximum time.Duration
	}{
		{"welcome", 3 * time.Second, 9 * time.Second},
		{"invalid", 1 * time.Second, 5 * time.Second},
		{"please_hold", 3 * time.Second, 9 * time.Second},
		{"goodbye", 1 * time.Second, 5 * time.Second},
		{"error", 3 * time.Second, 9 * time.Second},
		{"moh", 15 * time.Second, 20 * time.Second},
		{"agent_logged_in", 500 * time.Millisecond, 3 * time.Second},
		{"agent_logged_out", 500 * time.Millisecond, 3 * time.Second},
		{"agent_ready", 500 * time.Millisecond, 3 * time.Second},
		{"agent_not_ready", 500 * time.Millisecond, 3 * time.Second},
		{"feature_failed", 500 * time.Millisecond, 3 * time.Second},
		{"you_are_number", 500 * time.Millisecond, 3 * time.Second},
		{"in_line", 300 * time.Millisecond, 2 * time.Second},
		{"estimated_wait", 500 * time.Millisecond, 3 * time.Second},
		{"minutes", 300 * time.Millisecond, 2 * time.Second},
		{"less_than_a_minute", 500 * time.Millisecond, 3 * time.Second},
		{"waiting_for_agent", 1 * time.Second, 5 * time.Second},
		{"callback_offer", 2 * time.Second, 7 * time.Second},
		{"callback_number", 500 * time.Millisecond, 3 * time.Second},
		{"callback_confirm", 2 * time.Second, 7 * time.Second},
		{"callback_enter", 2 * time.Second, 7 * time.Second},
		{"callback_booked", 1 * time.Second, 5 * time.Second},
		{"voicemail_greeting", 2 * time.Second, 6 * time.Second},
		{"beep", 400 * time.Millisecond, 1 * time.Second},
		{"agent_intro", 200 * time.Millisecond, 2 * time.Second},
		{"at_your_service", 500 * time.Millisecond, 3 * time.Second},
		{"whisper_queue", 200 * time.Millisecond, 2 * time.Second},
		{"whisper_vip", 200 * time.Millisecond, 2 * time.Second},
		{"whisper_callback", 200 * time.Millisecond, 2 * time.Second},
		{"queue_sales", 200 * time.Millisecond, 2 * time.Second},
		{"queue_support", 200 * time.Millisecond, 2 * time.Second},
	}
	for d := range 10 {
		tests = append(tests, struct {
			name             string
			minimum, maximum time.Duration
		}{fmt.Sprintf("digit_%d", d), 200 * time.Millisecond, 2 * time.Second})
	}
	if len(set) != len(tests) {
		t.Errorf("prompts %v, want exactly %d", set.Names(), len(tests))
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, ok := set[tt.name]
			if !ok {
				t.Fatalf("missing; have %v", set.Names())
			}
			if p.Name != tt.name || p.Duration() < tt.minimum || p.Duration() > tt.maximum {
				t.Fatalf("%q lasts %v, want %v-%v", p.Name, p.Duration(), tt.minimum, tt.maximum)
			}
			// Shipped as 8 kHz: the loaded length equals the file's sample
			// count, so no resampling happened.
			b, err := fs.ReadFile(prompts.FS, tt.name+".wav")
			if err != nil {
				t.Fatal(err)
			}
			// µ-law: one byte per sample.
			if samples := dataChunkSize(t, b); time.Duration(samples)*time.Second/8000 != p.Duration() {
				t.Errorf("file holds %d samples, prompt lasts %v: not 8 kHz µ-law mono", samples, p.Duration())
			}
		})
	}
}

func TestPromptsFolderStaysSmall(t *testing.T) {
	var total int64
	err := fs.WalkDir(prompts.FS, ".", func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		info, err := d.Info()
		total += info.Size()
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	// 37 prompts in µ-law (half of 16-bit PCM) fit in about 700 KB.
	if total > 800<<10 {
		t.Fatalf("embedded prompts are %d bytes, budget 800 KB", total)
	}
}

// dataChunkSize returns the size of a WAV file's data chunk.
func dataChunkSize(t *testing.T, b []byte) int {
	t.Helper()
	for i := 12; i+8 <= len(b); {
		size := int(binary.LittleEndian.Uint32(b[i+4 : i+8]))
		if string(b[i:i+4]) == "data" {
			return size
		}
		i += 8 + size + size%2
	}
	t.Fatal("no data chunk")
	return 0
}

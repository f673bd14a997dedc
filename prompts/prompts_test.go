package prompts_test

import (
	"encoding/binary"
	"fmt"
	"io/fs"
	"slices"
	"strings"
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
	// The say pieces, in subfolders, are TestSayPieces's.
	topLevel := slices.DeleteFunc(set.Names(), func(name string) bool { return strings.Contains(name, "/") })
	if len(topLevel) != len(tests) {
		t.Errorf("top-level prompts %v, want exactly %d", topLevel, len(tests))
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
	// 41 prompts in µ-law (half of 16-bit PCM) take 630 KB, and the 98
	// say pieces (numbers, amounts, dates, agent IDs in en and zh) 350 KB
	// more: about 980 KB. The budget is there to catch a prompt that is
	// not tight µ-law (16-bit, 44.1 kHz, long silences) before it bloats
	// the binary.
	if total > 1<<20 {
		t.Fatalf("embedded prompts are %d bytes, budget 1 MiB", total)
	}
}

// TestSayPieces checks the pieces of ivr/say (whose own tests check that
// each piece it needs is here): 8 kHz mono µ-law, a word or two long each.
func TestSayPieces(t *testing.T) {
	set, err := media.LoadPrompts(prompts.FS, ".")
	if err != nil {
		t.Fatal(err)
	}
	for _, lang := range []string{"en", "zh"} {
		files, err := fs.Glob(prompts.FS, "say/"+lang+"/*")
		if err != nil {
			t.Fatal(err)
		}
		if len(files) < 20 {
			t.Errorf("say/%s holds %d files, want the pieces of a language", lang, len(files))
		}
		for _, file := range files {
			b, err := fs.ReadFile(prompts.FS, file)
			if err != nil {
				t.Fatal(err)
			}
			name := strings.TrimSuffix(file, ".wav")
			p := set[name]
			switch {
			case p == nil:
				t.Errorf("%s: no prompt %q; have %v", file, name, set.Names())
				continue
			case !isMuLaw8kMono(t, b):
				t.Errorf("%s is not 8 kHz mono µ-law", file)
			case time.Duration(dataChunkSize(t, b))*time.Second/8000 != p.Duration():
				// Loaded without resampling: as long as the file.
				t.Errorf("%s holds %d samples, prompt lasts %v", file, dataChunkSize(t, b), p.Duration())
			}
			// A piece is a word or two ("agent number", 工号), tight: no
			// long silence around it.
			if p.Duration() < 150*time.Millisecond || p.Duration() > 1200*time.Millisecond {
				t.Errorf("%s lasts %v, want 150 ms-1.2 s", file, p.Duration())
			}
		}
	}
}

// isMuLaw8kMono says whether a WAV file's fmt chunk is G.711 µ-law
// (format 7), one channel, 8000 Hz, 8 bits.
func isMuLaw8kMono(t *testing.T, b []byte) bool {
	t.Helper()
	format := chunk(t, b, "fmt ")
	if len(format) < 16 {
		t.Fatalf("fmt chunk of %d bytes", len(format))
	}
	le := binary.LittleEndian
	return le.Uint16(format[0:]) == 7 && le.Uint16(format[2:]) == 1 &&
		le.Uint32(format[4:]) == 8000 && le.Uint16(format[14:]) == 8
}

// dataChunkSize returns the size of a WAV file's data chunk.
func dataChunkSize(t *testing.T, b []byte) int {
	t.Helper()
	return len(chunk(t, b, "data"))
}

// chunk returns the contents of a WAV file's first chunk with that id.
func chunk(t *testing.T, b []byte, id string) []byte {
	t.Helper()
	for i := 12; i+8 <= len(b); {
		size := int(binary.LittleEndian.Uint32(b[i+4 : i+8]))
		if string(b[i:i+4]) == id {
			if i+8+size > len(b) {
				t.Fatalf("%q chunk of %d bytes in a %d-byte file", id, size, len(b))
			}
			return b[i+8 : i+8+size]
		}
		i += 8 + size + size%2
	}
	t.Fatalf("no %q chunk", id)
	return nil
}

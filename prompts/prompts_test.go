package prompts_test

import (
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
			if samples := (len(b) - 44) / 2; time.Duration(samples)*time.Second/8000 != p.Duration() {
				t.Errorf("file holds %d samples, prompt lasts %v: not 8 kHz 16-bit mono", samples, p.Duration())
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
	if total > 600<<10 {
		t.Fatalf("embedded prompts are %d bytes, budget 600 KB", total)
	}
}

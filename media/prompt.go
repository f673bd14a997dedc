package media

import (
	"fmt"
	"io/fs"
	"path"
	"sort"
	"strings"
	"time"

	"github.com/zaf/g711"
)

// Prompt is an audio clip ready to play: 8 kHz linear PCM plus the same
// audio encoded once, at load, as µ-law and A-law, padded with silence to a
// whole number of 20 ms frames. Playing a prompt only slices these buffers.
// A Prompt is immutable and may be played on any number of endpoints at once.
type Prompt struct {
	Name string

	samples int     // unpadded length of the clip
	pcm     []int16 // padded to frames*samplesPerFrame
	ulaw    []byte
	alaw    []byte
}

// NewPrompt encodes 8 kHz mono samples (as returned by LoadWAV) into a
// Prompt. The samples are copied.
func NewPrompt(name string, pcm8k []int16) *Prompt {
	frames := (len(pcm8k) + samplesPerFrame - 1) / samplesPerFrame
	p := &Prompt{
		Name:    name,
		samples: len(pcm8k),
		pcm:     make([]int16, frames*samplesPerFrame),
		ulaw:    make([]byte, frames*samplesPerFrame),
		alaw:    make([]byte, frames*samplesPerFrame),
	}
	copy(p.pcm, pcm8k)
	for i, s := range p.pcm {
		p.ulaw[i] = g711.EncodeUlawFrame(s)
		p.alaw[i] = g711.EncodeAlawFrame(s)
	}
	return p
}

// Duration is the length of the clip as loaded (before padding to 20 ms).
func (p *Prompt) Duration() time.Duration {
	return time.Duration(p.samples) * time.Second / sampleRate
}

// frames returns the number of 20 ms frames; a nil prompt has none.
func (p *Prompt) frames() int {
	if p == nil {
		return 0
	}
	return len(p.pcm) / samplesPerFrame
}

// frame returns the i-th 20 ms frame encoded for codec, and its linear PCM.
// The slices alias the prompt and must not be modified.
func (p *Prompt) frame(c Codec, i int) (payload []byte, pcm []int16) {
	lo, hi := i*samplesPerFrame, (i+1)*samplesPerFrame
	pcm = p.pcm[lo:hi]
	switch c {
	case CodecPCMU:
		return p.ulaw[lo:hi], pcm
	case CodecPCMA:
		return p.alaw[lo:hi], pcm
	default:
		return nil, pcm
	}
}

// PromptSet is a set of prompts by name.
type PromptSet map[string]*Prompt

// Names returns the prompt names in sorted order.
func (s PromptSet) Names() []string {
	names := make([]string, 0, len(s))
	for name := range s {
		names = append(names, name)
	}
	sort.Strings(names)
	return names
}

// LoadPrompts loads every *.wav file (case-insensitive extension) in dir of
// fsys and its subdirectories. A prompt's name is the file's slash-separated
// path below dir without the extension: welcome.wav is "welcome",
// say/en/7.wav is "say/en/7", so a folder may hold per-language sets
// (zh/welcome.wav is "zh/welcome"). Two files with one name (a.wav and
// a.WAV) are an error. Use "." for the root of an embed.FS.
//
// Symbolic links to directories are not followed (fs.WalkDir does not):
// a prompt folder cannot loop into itself.
func LoadPrompts(fsys fs.FS, dir string) (PromptSet, error) {
	set := make(PromptSet)
	err := fs.WalkDir(fsys, dir, func(file string, entry fs.DirEntry, err error) error {
		if err != nil { // dir, or a folder in it, cannot be read
			return fmt.Errorf("load prompts from %s: %w", file, err)
		}
		if file == dir && !entry.IsDir() {
			return fmt.Errorf("load prompts from %s: not a directory", dir)
		}
		ext := path.Ext(file)
		if entry.IsDir() || !strings.EqualFold(ext, ".wav") {
			return nil
		}
		name := strings.TrimSuffix(file, ext)
		if dir != "." {
			name = strings.TrimPrefix(name, dir+"/")
		}
		if _, dup := set[name]; dup {
			return fmt.Errorf("load prompt %s: duplicate name %q", file, name)
		}
		pcm, err := loadWAVFile(fsys, file)
		if err != nil {
			return err
		}
		set[name] = NewPrompt(name, pcm)
		return nil
	})
	if err != nil {
		return nil, err
	}
	return set, nil
}

func loadWAVFile(fsys fs.FS, name string) ([]int16, error) {
	f, err := fsys.Open(name)
	if err != nil {
		return nil, fmt.Errorf("load prompt %s: %w", name, err)
	}
	defer f.Close()
	pcm, err := LoadWAV(f)
	if err != nil {
		return nil, fmt.Errorf("load prompt %s: %w", name, err)
	}
	return pcm, nil
}

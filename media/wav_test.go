package media

import (
	"bytes"
	"encoding/binary"
	"errors"
	"io/fs"
	"math"
	"slices"
	"strings"
	"testing"
	"testing/fstest"
	"time"

	"github.com/hotline-cc/hotline/prompts"
	"github.com/zaf/g711"
)

// wavSpec describes a WAV file for makeWAV.
type wavSpec struct {
	tag        uint16 // fmt tag written; wavFormatExtensible wraps subTag
	subTag     uint16
	rate       int
	bits       int
	channels   int
	extraChunk bool // a LIST chunk of odd size before data
}

// makeWAV writes seconds of a sine at freq into every channel, so the
// downmix keeps the tone at its full level.
func makeWAV(s wavSpec, seconds, freq, amp float64) []byte {
	frames := int(seconds * float64(s.rate))
	var data bytes.Buffer
	for i := range frames {
		v := amp * math.Sin(2*math.Pi*freq*float64(i)/float64(s.rate))
		for range s.channels {
			writeWAVSample(&data, s, v)
		}
	}
	blockAlign := s.channels * s.bits / 8
	var fmtChunk bytes.Buffer
	le := binary.LittleEndian
	binary.Write(&fmtChunk, le, s.tag)
	binary.Write(&fmtChunk, le, uint16(s.channels))
	binary.Write(&fmtChunk, le, uint32(s.rate))
	binary.Write(&fmtChunk, le, uint32(s.rate*blockAlign))
	binary.Write(&fmtChunk, le, uint16(blockAlign))
	binary.Write(&fmtChunk, le, uint16(s.bits))
	if s.tag == wavFormatExtensible {
		binary.Write(&fmtChunk, le, uint16(22))
		binary.Write(&fmtChunk, le, uint16(s.bits))
		binary.Write(&fmtChunk, le, uint32(3))
		binary.Write(&fmtChunk, le, s.subTag)
		fmtChunk.Write([]byte{0x00, 0x00, 0x00, 0x00, 0x10, 0x00, 0x80, 0x00, 0x00, 0xAA, 0x00, 0x38, 0x9B, 0x71})
	}
	var body bytes.Buffer
	body.WriteString("WAVE")
	writeChunk(&body, "fmt ", fmtChunk.Bytes())
	if s.extraChunk {
		writeChunk(&body, "LIST", []byte("INFOISFT\x03\x00\x00\x00ab\x00"))
	}
	writeChunk(&body, "data", data.Bytes())
	var out bytes.Buffer
	out.WriteString("RIFF")
	binary.Write(&out, le, uint32(body.Len()))
	out.Write(body.Bytes())
	return out.Bytes()
}

func writeChunk(w *bytes.Buffer, id string, b []byte) {
	w.WriteString(id)
	binary.Write(w, binary.LittleEndian, uint32(len(b)))
	w.Write(b)
	if len(b)%2 == 1 {
		w.WriteByte(0)
	}
}

func writeWAVSample(w *bytes.Buffer, s wavSpec, v float64) {
	le := binary.LittleEndian
	tag := s.tag
	if tag == wavFormatExtensible {
		tag = s.subTag
	}
	switch {
	case tag == wavFormatFloat && s.bits == 32:
		binary.Write(w, le, float32(v))
	case tag == wavFormatFloat:
		binary.Write(w, le, v)
	case tag == wavFormatALaw:
		w.WriteByte(g711.EncodeAlawFrame(int16(v * 32767)))
	case tag == wavFormatMuLaw:
		w.WriteByte(g711.EncodeUlawFrame(int16(v * 32767)))
	case s.bits == 8:
		w.WriteByte(byte(math.Round(v*127) + 128))
	case s.bits == 16:
		binary.Write(w, le, int16(math.Round(v*32767)))
	case s.bits == 24:
		x := int32(math.Round(v * 8388607))
		w.Write([]byte{byte(x), byte(x >> 8), byte(x >> 16)})
	case s.bits == 32:
		binary.Write(w, le, int32(math.Round(v*2147483647)))
	}
}

func TestLoadWAVConvertsToEightKilohertzMono(t *testing.T) {
	const seconds, freq, amp = 0.5, 1000.0, 0.5
	tests := []struct {
		name    string
		spec    wavSpec
		maxDiff float64 // tolerance on the 1 kHz amplitude (quantization)
	}{
		{"8 kHz 16-bit mono", wavSpec{tag: wavFormatPCM, rate: 8000, bits: 16, channels: 1}, 0.001},
		{"8 kHz 8-bit unsigned", wavSpec{tag: wavFormatPCM, rate: 8000, bits: 8, channels: 1}, 0.01},
		{"16 kHz 16-bit mono", wavSpec{tag: wavFormatPCM, rate: 16000, bits: 16, channels: 1}, 0.005},
		{"44.1 kHz 16-bit stereo", wavSpec{tag: wavFormatPCM, rate: 44100, bits: 16, channels: 2}, 0.005},
		{"48 kHz 24-bit mono", wavSpec{tag: wavFormatPCM, rate: 48000, bits: 24, channels: 1}, 0.005},
		{"48 kHz 32-bit int", wavSpec{tag: wavFormatPCM, rate: 48000, bits: 32, channels: 1}, 0.005},
		{"44.1 kHz float32 stereo", wavSpec{tag: wavFormatFloat, rate: 44100, bits: 32, channels: 2}, 0.005},
		{"22.05 kHz float64", wavSpec{tag: wavFormatFloat, rate: 22050, bits: 64, channels: 1}, 0.005},
		{"extensible 48 kHz 24-bit stereo", wavSpec{tag: wavFormatExtensible, subTag: wavFormatPCM, rate: 48000, bits: 24, channels: 2}, 0.005},
		{"extensible float", wavSpec{tag: wavFormatExtensible, subTag: wavFormatFloat, rate: 16000, bits: 32, channels: 1}, 0.005},
		{"6 kHz is upsampled", wavSpec{tag: wavFormatPCM, rate: 6000, bits: 16, channels: 1}, 0.005},
		{"a-law", wavSpec{tag: wavFormatALaw, rate: 8000, bits: 8, channels: 1}, 0.02},
		{"mu-law with a LIST chunk", wavSpec{tag: wavFormatMuLaw, rate: 8000, bits: 8, channels: 1, extraChunk: true}, 0.02},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			pcm, err := LoadWAV(bytes.NewReader(makeWAV(tt.spec, seconds, freq, amp)))
			if err != nil {
				t.Fatalf("LoadWAV: %v", err)
			}
			if want := int(seconds * sampleRate); abs(len(pcm)-want) > 1 {
				t.Fatalf("%d samples, want %d", len(pcm), want)
			}
			// Measure away from the edges, where the filter sees zeros.
			mid := int16sToFloats(pcm[400 : len(pcm)-400])
			if got := toneLevel(mid, freq, sampleRate); math.Abs(got-amp) > tt.maxDiff {
				t.Errorf("1 kHz amplitude %.4f, want %.4f±%.3f", got, amp, tt.maxDiff)
			}
		})
	}
}

func TestResampleFilterStopsAliasesAndPassesVoiceBand(t *testing.T) {
	tests := []struct {
		name     string
		rate     int
		freq     float64
		minLevel float64 // relative to input amplitude
		maxLevel float64
	}{
		{"300 Hz passes", 48000, 300, 0.99, 1.01},
		{"3.2 kHz passes", 44100, 3200, 0.97, 1.01},
		{"4.5 kHz would alias to 3.5 kHz: stopped", 48000, 4500, 0, 0.001},
		{"6 kHz would alias to 2 kHz: stopped", 48000, 6000, 0, 0.0003},
		{"10 kHz at 44.1 kHz: stopped", 44100, 10000, 0, 0.0003},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			in := make([]float64, tt.rate) // one second
			for i := range in {
				in[i] = 0.5 * math.Sin(2*math.Pi*tt.freq*float64(i)/float64(tt.rate))
			}
			out := resample(in, tt.rate, sampleRate)[400 : sampleRate-400]
			var level float64
			if tt.freq < sampleRate/2 {
				level = toneLevel(out, tt.freq, sampleRate) / 0.5
			} else {
				var sum float64
				for _, v := range out {
					sum += v * v
				}
				level = math.Sqrt(2*sum/float64(len(out))) / 0.5
			}
			if level < tt.minLevel || level > tt.maxLevel {
				t.Fatalf("relative level %.5f (%.1f dB), want [%g, %g]", level, 20*math.Log10(level), tt.minLevel, tt.maxLevel)
			}
		})
	}
}

func TestLoadWAVRejectsBadInput(t *testing.T) {
	good := makeWAV(wavSpec{tag: wavFormatPCM, rate: 8000, bits: 16, channels: 1}, 0.1, 440, 0.5)
	with := func(mutate func(b []byte) []byte) []byte { return mutate(bytes.Clone(good)) }
	adpcm := with(func(b []byte) []byte { binary.LittleEndian.PutUint16(b[20:], 0x0011); return b })
	mp3 := with(func(b []byte) []byte { binary.LittleEndian.PutUint16(b[20:], 0x0055); return b })
	bits12 := with(func(b []byte) []byte { binary.LittleEndian.PutUint16(b[34:], 12); return b })
	noChannels := with(func(b []byte) []byte { binary.LittleEndian.PutUint16(b[22:], 0); return b })
	badAlign := with(func(b []byte) []byte { binary.LittleEndian.PutUint16(b[32:], 3); return b })
	dataFirst := append([]byte("RIFF\x00\x00\x00\x00WAVEdata\x02\x00\x00\x00\x00\x00"), good[12:]...)
	tests := []struct {
		name  string
		input []byte
		want  error
	}{
		{"empty", nil, ErrNotWAV},
		{"garbage", []byte("this is not a wave file at all"), ErrNotWAV},
		{"RIFF but AVI", append([]byte("RIFF\x04\x00\x00\x00AVI "), good[12:]...), ErrNotWAV},
		{"truncated in riff header", good[:8], ErrNotWAV},
		{"truncated in fmt", good[:24], ErrTruncatedWAV},
		{"no data chunk", good[:36], ErrTruncatedWAV},
		{"truncated in data", good[:len(good)-10], ErrTruncatedWAV},
		{"IMA ADPCM", adpcm, ErrUnsupportedWAV},
		{"MP3", mp3, ErrUnsupportedWAV},
		{"12-bit", bits12, ErrUnsupportedWAV},
		{"zero channels", noChannels, ErrUnsupportedWAV},
		{"block align disagrees", badAlign, ErrUnsupportedWAV},
		{"data before fmt", dataFirst, ErrUnsupportedWAV},
		{"huge unknown chunk", append(bytes.Clone(good[:12]), []byte("junk\xff\xff\xff\x7f")...), ErrTruncatedWAV},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			pcm, err := LoadWAV(bytes.NewReader(tt.input))
			if !errors.Is(err, tt.want) {
				t.Fatalf("LoadWAV = %d samples, %v; want %v", len(pcm), err, tt.want)
			}
		})
	}
}

func TestLoadPromptsNamesAndEncodesOnce(t *testing.T) {
	wav := makeWAV(wavSpec{tag: wavFormatPCM, rate: 16000, bits: 16, channels: 1}, 0.25, 440, 0.5)
	fsys := fstest.MapFS{
		"sounds/welcome.wav":  {Data: wav},
		"sounds/Goodbye.WAV":  {Data: wav},
		"sounds/readme.txt":   {Data: []byte("not a prompt")},
		"sounds/sub/deep.wav": {Data: wav},
	}
	set, err := LoadPrompts(fsys, "sounds")
	if err != nil {
		t.Fatal(err)
	}
	if got := set.Names(); !slices.Equal(got, []string{"Goodbye", "sub/deep", "welcome"}) {
		t.Fatalf("names %v", got)
	}
	p := set["welcome"]
	if p.Duration() != 250*time.Millisecond || p.frames() != 13 {
		t.Fatalf("duration %v frames %d", p.Duration(), p.frames())
	}
	ulaw, pcm := p.frame(CodecPCMU, 3)
	alaw, _ := p.frame(CodecPCMA, 3)
	for i := range pcm {
		if ulaw[i] != g711.EncodeUlawFrame(pcm[i]) || alaw[i] != g711.EncodeAlawFrame(pcm[i]) {
			t.Fatalf("sample %d not pre-encoded", i)
		}
	}
	if last, _ := p.frame(CodecPCMU, 12); last[len(last)-1] != ulawSilence {
		t.Errorf("padding of the last frame is not µ-law silence")
	}

	fsys["sounds/broken.wav"] = &fstest.MapFile{Data: []byte("RIFF")}
	if _, err := LoadPrompts(fsys, "sounds"); !errors.Is(err, ErrNotWAV) {
		t.Fatalf("broken prompt: %v", err)
	}
	if _, err := LoadPrompts(fsys, "missing"); err == nil {
		t.Fatal("missing dir accepted")
	}
}

func TestLoadPromptsNamesNestedFilesByPath(t *testing.T) {
	wav := makeWAV(wavSpec{tag: wavFormatMuLaw, rate: 8000, bits: 8, channels: 1}, 0.1, 440, 0.5)
	fsys := fstest.MapFS{
		"welcome.wav":            {Data: wav},
		"zh/welcome.wav":         {Data: wav},
		"say/en/7.wav":           {Data: wav},
		"say/zh/10000.wav":       {Data: wav},
		"say/zh/notes.txt":       {Data: []byte("not a prompt")},
		"say/empty/.keep":        {Data: nil},
		"deep/er/and/deeper.Wav": {Data: wav},
	}
	tests := []struct {
		dir  string
		want []string
	}{
		{".", []string{"deep/er/and/deeper", "say/en/7", "say/zh/10000", "welcome", "zh/welcome"}},
		{"say", []string{"en/7", "zh/10000"}},
		{"say/zh", []string{"10000"}},
		{"say/empty", []string{}},
	}
	for _, tt := range tests {
		set, err := LoadPrompts(fsys, tt.dir)
		if err != nil {
			t.Fatalf("LoadPrompts(%q): %v", tt.dir, err)
		}
		if got := set.Names(); !slices.Equal(got, tt.want) {
			t.Errorf("LoadPrompts(%q) = %q, want %q", tt.dir, got, tt.want)
		}
		for name, p := range set {
			if p.Name != name {
				t.Errorf("prompt %q is named %q", name, p.Name)
			}
		}
	}

	if _, err := LoadPrompts(fsys, "welcome.wav"); err == nil {
		t.Error("a file accepted as the prompt folder")
	}
	fsys["say/en/7.WAV"] = &fstest.MapFile{Data: wav}
	if _, err := LoadPrompts(fsys, "."); err == nil || !strings.Contains(err.Error(), `duplicate name "say/en/7"`) {
		t.Errorf("duplicate in a subfolder: %v", err)
	}
	delete(fsys, "say/en/7.WAV")
	fsys["zh/broken.wav"] = &fstest.MapFile{Data: []byte("RIFF")}
	if _, err := LoadPrompts(fsys, "."); !errors.Is(err, ErrNotWAV) || !strings.Contains(err.Error(), "zh/broken.wav") {
		t.Errorf("broken prompt in a subfolder: %v", err)
	}
}

func FuzzLoadWAV(f *testing.F) {
	f.Add(makeWAV(wavSpec{tag: wavFormatPCM, rate: 8000, bits: 16, channels: 1}, 0.01, 440, 0.5))
	f.Add(makeWAV(wavSpec{tag: wavFormatPCM, rate: 44100, bits: 24, channels: 2, extraChunk: true}, 0.005, 440, 0.5))
	f.Add(makeWAV(wavSpec{tag: wavFormatExtensible, subTag: wavFormatFloat, rate: 48000, bits: 32, channels: 2}, 0.005, 440, 0.5))
	f.Add(makeWAV(wavSpec{tag: wavFormatMuLaw, rate: 8000, bits: 8, channels: 1}, 0.01, 440, 0.5))
	f.Add([]byte("RIFF\xff\xff\xff\xffWAVEfmt \x10\x00\x00\x00"))
	// The smallest of the prompts we ship (µ-law WAVs from sox): real
	// files, small enough to mutate quickly.
	var shipped []string
	if err := fs.WalkDir(prompts.FS, ".", func(path string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			shipped = append(shipped, path)
		}
		return err
	}); err != nil {
		f.Fatal(err)
	}
	sizes := map[string]int{}
	for _, path := range shipped {
		data, err := fs.ReadFile(prompts.FS, path)
		if err != nil {
			f.Fatal(err)
		}
		sizes[path] = len(data)
	}
	slices.SortFunc(shipped, func(a, b string) int { return sizes[a] - sizes[b] })
	for _, path := range shipped[:min(3, len(shipped))] {
		data, _ := fs.ReadFile(prompts.FS, path)
		f.Add(data)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		pcm, err := LoadWAV(bytes.NewReader(b))
		if err != nil {
			if !errors.Is(err, ErrNotWAV) && !errors.Is(err, ErrUnsupportedWAV) && !errors.Is(err, ErrTruncatedWAV) {
				t.Fatalf("error wraps no sentinel: %v", err)
			}
			return
		}
		// Output can never be much longer than the input at 1 kHz upsampled 8x.
		if len(pcm) > 8*len(b)+8 {
			t.Fatalf("%d samples from %d bytes", len(pcm), len(b))
		}
	})
}

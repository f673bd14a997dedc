package media

import (
	"encoding/binary"
	"fmt"
	"io"
	"math"

	"github.com/zaf/g711"
)

// WAV format tags (RFC 2361 Appendix A).
const (
	wavFormatPCM        = 0x0001
	wavFormatFloat      = 0x0003
	wavFormatALaw       = 0x0006
	wavFormatMuLaw      = 0x0007
	wavFormatExtensible = 0xfffe
)

const (
	// maxWAVDataBytes bounds what LoadWAV reads: a prompt is seconds to
	// minutes long, and a bogus size must not make us read gigabytes.
	maxWAVDataBytes = 256 << 20
	maxWAVChannels  = 16
	minWAVRate      = 1000
	maxWAVRate      = 768000
)

// wavFormat is the decoded fmt chunk.
type wavFormat struct {
	tag           uint16 // PCM, float, A-law or µ-law after resolving EXTENSIBLE
	channels      int
	rate          int
	blockAlign    int
	bitsPerSample int
}

// LoadWAV decodes a RIFF/WAVE file into 8 kHz mono linear PCM.
//
// Accepted: integer PCM of 8 (unsigned), 16, 24 or 32 bits; IEEE float of 32
// or 64 bits; G.711 A-law and µ-law; any of these inside
// WAVE_FORMAT_EXTENSIBLE; any sample rate from 1 kHz to 768 kHz; any number
// of channels up to 16, averaged to mono. Other rates are resampled to 8 kHz
// with the windowed-sinc low-pass described at resample.
//
// Errors wrap ErrNotWAV, ErrUnsupportedWAV or ErrTruncatedWAV.
func LoadWAV(r io.Reader) ([]int16, error) {
	var riff [12]byte
	if _, err := io.ReadFull(r, riff[:]); err != nil {
		return nil, fmt.Errorf("read riff header: %w", ErrNotWAV)
	}
	if string(riff[0:4]) != "RIFF" || string(riff[8:12]) != "WAVE" {
		return nil, fmt.Errorf("riff header %q: %w", riff[:], ErrNotWAV)
	}

	var (
		format  wavFormat
		haveFmt bool
	)
	for {
		var hdr [8]byte
		if _, err := io.ReadFull(r, hdr[:]); err != nil {
			if haveFmt {
				return nil, fmt.Errorf("no data chunk: %w", ErrTruncatedWAV)
			}
			return nil, fmt.Errorf("no fmt chunk: %w", ErrTruncatedWAV)
		}
		id := string(hdr[0:4])
		size := int64(binary.LittleEndian.Uint32(hdr[4:8]))
		switch id {
		case "fmt ":
			if size < 16 || size > 1024 {
				return nil, fmt.Errorf("fmt chunk of %d bytes: %w", size, ErrUnsupportedWAV)
			}
			body := make([]byte, size+size%2)
			if _, err := io.ReadFull(r, body); err != nil {
				return nil, fmt.Errorf("fmt chunk: %w", ErrTruncatedWAV)
			}
			f, err := parseWAVFormat(body[:size])
			if err != nil {
				return nil, err
			}
			format, haveFmt = f, true
		case "data":
			if !haveFmt {
				return nil, fmt.Errorf("data chunk before fmt chunk: %w", ErrUnsupportedWAV)
			}
			data, err := readWAVData(r, size)
			if err != nil {
				return nil, err
			}
			return decodeWAVData(data, format)
		default:
			// LIST, fact, cue, ... : skip, including the pad byte of an odd size.
			skip := size + size%2
			n, err := io.CopyN(io.Discard, r, skip)
			if err != nil || n != skip {
				return nil, fmt.Errorf("chunk %q: %w", id, ErrTruncatedWAV)
			}
		}
	}
}

func parseWAVFormat(b []byte) (wavFormat, error) {
	f := wavFormat{
		tag:           binary.LittleEndian.Uint16(b[0:2]),
		channels:      int(binary.LittleEndian.Uint16(b[2:4])),
		rate:          int(binary.LittleEndian.Uint32(b[4:8])),
		blockAlign:    int(binary.LittleEndian.Uint16(b[12:14])),
		bitsPerSample: int(binary.LittleEndian.Uint16(b[14:16])),
	}
	if f.tag == wavFormatExtensible {
		// WAVEFORMATEXTENSIBLE: cbSize(2) validBits(2) channelMask(4) then the
		// SubFormat GUID, whose first two bytes are the real format tag.
		if len(b) < 40 {
			return f, fmt.Errorf("extensible fmt chunk of %d bytes: %w", len(b), ErrTruncatedWAV)
		}
		f.tag = binary.LittleEndian.Uint16(b[24:26])
	}
	switch f.tag {
	case wavFormatPCM:
		switch f.bitsPerSample {
		case 8, 16, 24, 32:
		default:
			return f, fmt.Errorf("%d-bit integer pcm: %w", f.bitsPerSample, ErrUnsupportedWAV)
		}
	case wavFormatFloat:
		if f.bitsPerSample != 32 && f.bitsPerSample != 64 {
			return f, fmt.Errorf("%d-bit float: %w", f.bitsPerSample, ErrUnsupportedWAV)
		}
	case wavFormatALaw, wavFormatMuLaw:
		if f.bitsPerSample != 8 {
			return f, fmt.Errorf("%d-bit g.711: %w", f.bitsPerSample, ErrUnsupportedWAV)
		}
	default:
		return f, fmt.Errorf("format tag 0x%04x (compressed or unknown): %w", f.tag, ErrUnsupportedWAV)
	}
	if f.channels < 1 || f.channels > maxWAVChannels {
		return f, fmt.Errorf("%d channels: %w", f.channels, ErrUnsupportedWAV)
	}
	if f.rate < minWAVRate || f.rate > maxWAVRate {
		return f, fmt.Errorf("sample rate %d Hz: %w", f.rate, ErrUnsupportedWAV)
	}
	if want := f.channels * f.bitsPerSample / 8; f.blockAlign != want {
		return f, fmt.Errorf("block align %d, want %d: %w", f.blockAlign, want, ErrUnsupportedWAV)
	}
	return f, nil
}

// readWAVData reads the data chunk. A size of 0xFFFFFFFF (written by
// streaming encoders that never patched the header) means "to end of file".
func readWAVData(r io.Reader, size int64) ([]byte, error) {
	if size == math.MaxUint32 {
		data, err := io.ReadAll(io.LimitReader(r, maxWAVDataBytes+1))
		if err != nil {
			return nil, fmt.Errorf("data chunk: %w", err)
		}
		if len(data) > maxWAVDataBytes {
			return nil, fmt.Errorf("data chunk over %d bytes: %w", maxWAVDataBytes, ErrUnsupportedWAV)
		}
		return data, nil
	}
	if size > maxWAVDataBytes {
		return nil, fmt.Errorf("data chunk of %d bytes (max %d): %w", size, maxWAVDataBytes, ErrUnsupportedWAV)
	}
	// ReadAll grows with what actually arrives, so a lying size cannot make
	// us allocate it up front.
	data, err := io.ReadAll(io.LimitReader(r, size))
	if err != nil {
		return nil, fmt.Errorf("data chunk: %w", err)
	}
	if int64(len(data)) < size {
		return nil, fmt.Errorf("data chunk has %d of %d bytes: %w", len(data), size, ErrTruncatedWAV)
	}
	return data, nil
}

// decodeWAVData downmixes to mono float in [-1, 1], then resamples to 8 kHz.
func decodeWAVData(data []byte, f wavFormat) ([]int16, error) {
	frames := len(data) / f.blockAlign
	bytesPerSample := f.bitsPerSample / 8
	mono := make([]float64, frames)
	scale := 1 / float64(f.channels)
	for i := range frames {
		frame := data[i*f.blockAlign : (i+1)*f.blockAlign]
		var sum float64
		for c := range f.channels {
			sum += decodeWAVSample(frame[c*bytesPerSample:(c+1)*bytesPerSample], f)
		}
		mono[i] = sum * scale
	}
	if f.rate != sampleRate {
		mono = resample(mono, f.rate, sampleRate)
	}
	out := make([]int16, len(mono))
	for i, v := range mono {
		out[i] = floatToPCM16(v)
	}
	return out, nil
}

func decodeWAVSample(b []byte, f wavFormat) float64 {
	switch f.tag {
	case wavFormatFloat:
		var v float64
		if f.bitsPerSample == 32 {
			v = float64(math.Float32frombits(binary.LittleEndian.Uint32(b)))
		} else {
			v = math.Float64frombits(binary.LittleEndian.Uint64(b))
		}
		if math.IsNaN(v) {
			return 0
		}
		return max(-1, min(1, v))
	case wavFormatALaw:
		return float64(g711.DecodeAlawFrame(b[0])) / 32768
	case wavFormatMuLaw:
		return float64(g711.DecodeUlawFrame(b[0])) / 32768
	}
	switch f.bitsPerSample {
	case 8: // unsigned, 128 is zero
		return (float64(b[0]) - 128) / 128
	case 16:
		return float64(int16(binary.LittleEndian.Uint16(b))) / (1 << 15)
	case 24:
		v := int32(uint32(b[0])<<8|uint32(b[1])<<16|uint32(b[2])<<24) >> 8
		return float64(v) / (1 << 23)
	default: // 32
		return float64(int32(binary.LittleEndian.Uint32(b))) / (1 << 31)
	}
}

func floatToPCM16(v float64) int16 {
	s := math.Round(v * 32768)
	return int16(max(math.MinInt16, min(math.MaxInt16, s)))
}

// Resampling filter.
//
// resample evaluates, for every output sample, a Blackman-windowed sinc
// low-pass centred on the output instant. The cutoff (the −6 dB point) is
// 0.45 × the lower of the two rates: 3.6 kHz when converting to 8 kHz. The
// kernel spans resampleZeroCrossings zero crossings of that sinc on each
// side, which gives a transition band of about 5.5·fc/32 ≈ 620 Hz: flat (±0.1
// dB) to about 3.3 kHz, at least 74 dB down (the Blackman window's stopband)
// from about 3.9 kHz, so nothing folds back into the 0–4 kHz telephone band.
// The kernel is tabulated once per call at resampleTableDensity points per
// input sample and linearly interpolated; each output is normalised by the
// sum of its taps so DC passes with gain exactly 1.
const (
	resampleZeroCrossings = 32
	resampleTableDensity  = 64
)

func resample(in []float64, fromRate, toRate int) []float64 {
	if len(in) == 0 {
		return nil
	}
	step := float64(fromRate) / float64(toRate)                         // input samples per output sample
	cutoff := 0.45 * float64(min(fromRate, toRate)) / float64(fromRate) // cycles per input sample
	halfWidth := float64(resampleZeroCrossings) / (2 * cutoff)          // in input samples

	tableLen := int(math.Ceil(halfWidth*resampleTableDensity)) + 2
	table := make([]float64, tableLen)
	for i := range table {
		x := float64(i) / resampleTableDensity
		if x >= halfWidth {
			break
		}
		sinc := 1.0
		if x != 0 {
			arg := math.Pi * 2 * cutoff * x
			sinc = math.Sin(arg) / arg
		}
		// Blackman window over [-halfWidth, halfWidth].
		phase := math.Pi * (x/halfWidth + 1)
		window := 0.42 - 0.5*math.Cos(phase) + 0.08*math.Cos(2*phase)
		table[i] = sinc * window
	}

	outLen := int(float64(len(in)) / step)
	out := make([]float64, outLen)
	for n := range out {
		center := float64(n) * step
		lo := max(0, int(math.Ceil(center-halfWidth)))
		hi := min(len(in)-1, int(math.Floor(center+halfWidth)))
		var acc, weights float64
		for k := lo; k <= hi; k++ {
			pos := math.Abs(float64(k)-center) * resampleTableDensity
			i := int(pos)
			if i+1 >= tableLen {
				continue
			}
			frac := pos - float64(i)
			w := table[i] + (table[i+1]-table[i])*frac
			acc += in[k] * w
			weights += w
		}
		if weights != 0 {
			out[n] = acc / weights
		}
	}
	return out
}

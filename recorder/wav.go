package recorder

import (
	"encoding/binary"
	"time"
)

// The files are canonical 44-byte-header RIFF/WAVE PCM: stereo, 8 kHz,
// 16-bit little-endian, left = what the caller said, right = what the caller
// heard.
const (
	sampleRate     = 8000
	channels       = 2
	bitsPerSample  = 16
	bytesPerFrame  = channels * bitsPerSample / 8 // one stereo sample frame
	headerSize     = 44
	riffSizeOffset = 4
	dataSizeOffset = 40
)

// header returns a WAV header for dataBytes of audio.
func header(dataBytes uint32) [headerSize]byte {
	var h [headerSize]byte
	le := binary.LittleEndian
	copy(h[0:], "RIFF")
	le.PutUint32(h[4:], 36+dataBytes)
	copy(h[8:], "WAVEfmt ")
	le.PutUint32(h[16:], 16)
	le.PutUint16(h[20:], 1) // PCM
	le.PutUint16(h[22:], channels)
	le.PutUint32(h[24:], sampleRate)
	le.PutUint32(h[28:], sampleRate*bytesPerFrame)
	le.PutUint16(h[32:], bytesPerFrame)
	le.PutUint16(h[34:], bitsPerSample)
	copy(h[36:], "data")
	le.PutUint32(h[40:], dataBytes)
	return h
}

func framesToDuration(frames int64) time.Duration {
	return time.Duration(frames) * time.Second / sampleRate
}

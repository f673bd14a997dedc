package media

import "errors"

var (
	// ErrNoPorts is returned by Engine.NewEndpoint when every port of the
	// configured RTP range is in use (or refused by the operating system).
	ErrNoPorts = errors.New("media: no free rtp ports")

	// ErrClosed is returned when the Engine has been closed.
	ErrClosed = errors.New("media: engine closed")

	// ErrNotWAV is returned by LoadWAV for input that is not RIFF/WAVE.
	ErrNotWAV = errors.New("media: not a riff/wave file")

	// ErrUnsupportedWAV is returned by LoadWAV for WAV encodings it cannot
	// decode (compressed formats such as ADPCM, GSM or MP3, odd sample sizes).
	ErrUnsupportedWAV = errors.New("media: unsupported wav encoding")

	// ErrTruncatedWAV is returned by LoadWAV when the file ends inside a
	// chunk it needs, or has no fmt or data chunk.
	ErrTruncatedWAV = errors.New("media: truncated wav file")
)

package media

import "github.com/zaf/g711"

// Codec is an RTP audio codec media can send and receive.
type Codec uint8

const (
	CodecUnknown Codec = iota
	// CodecPCMU is G.711 µ-law, static payload type 0 (RFC 3551 §6).
	CodecPCMU
	// CodecPCMA is G.711 A-law, static payload type 8 (RFC 3551 §6).
	CodecPCMA
)

const (
	// payloadTypeInvalid is not a valid 7-bit RTP payload type.
	payloadTypeInvalid = 0xff

	// samplesPerFrame is 20 ms at 8 kHz: the packetization of every stream
	// the pacer sends and of every tap frame.
	samplesPerFrame = 160

	// sampleRate is the clock rate of both G.711 codecs.
	sampleRate = 8000

	ulawSilence = 0xff
	alawSilence = 0xd5
)

// CodecFromPayloadType maps a static RTP payload type to a Codec;
// CodecUnknown for everything but 0 and 8.
func CodecFromPayloadType(pt uint8) Codec {
	switch pt {
	case 0:
		return CodecPCMU
	case 8:
		return CodecPCMA
	default:
		return CodecUnknown
	}
}

// String returns the SDP encoding name ("PCMU", "PCMA") or "Unknown".
func (c Codec) String() string {
	switch c {
	case CodecPCMU:
		return "PCMU"
	case CodecPCMA:
		return "PCMA"
	default:
		return "Unknown"
	}
}

// PayloadType returns the static RTP payload type, or 255 (not a valid 7-bit
// payload type) for CodecUnknown.
func (c Codec) PayloadType() uint8 {
	switch c {
	case CodecPCMU:
		return 0
	case CodecPCMA:
		return 8
	default:
		return payloadTypeInvalid
	}
}

// ClockRate returns the RTP clock rate in Hz (0 for CodecUnknown).
func (c Codec) ClockRate() uint32 {
	switch c {
	case CodecPCMU, CodecPCMA:
		return sampleRate
	default:
		return 0
	}
}

// decodeInto decodes G.711 bytes into linear samples; dst must be at least
// len(src) long. Unknown codecs decode to silence.
func (c Codec) decodeInto(dst []int16, src []byte) {
	switch c {
	case CodecPCMU:
		for i, b := range src {
			dst[i] = g711.DecodeUlawFrame(b)
		}
	case CodecPCMA:
		for i, b := range src {
			dst[i] = g711.DecodeAlawFrame(b)
		}
	default:
		clear(dst[:len(src)])
	}
}

// transcodeInto converts G.711 bytes from codec `from` to codec c; dst must
// be at least len(src) long. The µ-law<->A-law tables map directly without a
// linear round trip (ITU-T G.711 Tables 3 and 4).
func (c Codec) transcodeInto(dst, src []byte, from Codec) {
	switch {
	case c == from:
		copy(dst, src)
	case from == CodecPCMU && c == CodecPCMA:
		for i, b := range src {
			dst[i] = g711.Ulaw2AlawFrame(b)
		}
	case from == CodecPCMA && c == CodecPCMU:
		for i, b := range src {
			dst[i] = g711.Alaw2UlawFrame(b)
		}
	default:
		for i := range src {
			dst[i] = c.silence()
		}
	}
}

func (c Codec) silence() byte {
	if c == CodecPCMA {
		return alawSilence
	}
	return ulawSilence
}

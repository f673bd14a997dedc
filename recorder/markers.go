package recorder

import (
	"encoding/binary"
	"time"
)

// Marker is a labeled point in a recording, as an offset from its start:
// where a stage of the call begins ("talk 1003", "hold", "survey").
type Marker struct {
	At    time.Duration
	Label string
}

// maxMarkerLabel bounds a label (bytes); longer ones are cut.
const maxMarkerLabel = 200

// markerChunks builds "cue " (one point per marker, in sample frames,
// clamped to the audio's frames) and "LIST"/"adtl" with a "labl" per
// marker.
func markerChunks(markers []Marker, frames int64) []byte {
	le := binary.LittleEndian
	cue := make([]byte, 12+24*len(markers))
	copy(cue, "cue ")
	le.PutUint32(cue[4:], uint32(4+24*len(markers)))
	le.PutUint32(cue[8:], uint32(len(markers)))
	list := []byte("LIST\x00\x00\x00\x00adtl")
	for i, m := range markers {
		id := uint32(i + 1)
		pos := min(max(int64(m.At)*sampleRate/int64(time.Second), 0), frames)
		p := cue[12+24*i:]
		le.PutUint32(p[0:], id)
		le.PutUint32(p[4:], uint32(pos))
		copy(p[8:], "data")
		le.PutUint32(p[20:], uint32(pos))
		label := m.Label
		if len(label) > maxMarkerLabel {
			label = label[:maxMarkerLabel]
		}
		size := 4 + len(label) + 1 // the cue point's ID, the text, its NUL
		sub := make([]byte, 8+size+size%2)
		copy(sub, "labl")
		le.PutUint32(sub[4:], uint32(size))
		le.PutUint32(sub[8:], id)
		copy(sub[12:], label)
		list = append(list, sub...)
	}
	le.PutUint32(list[4:], uint32(len(list)-8))
	return append(cue, list...)
}

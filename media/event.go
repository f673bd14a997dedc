package media

// EventKind says what an Event reports.
type EventKind uint8

const (
	EventUnknown EventKind = iota
	// EventDTMF is a key press received as an RFC 4733 telephone event.
	EventDTMF
	// EventPlaybackDone says a non-looping playlist played to its end.
	EventPlaybackDone
)

// String returns the kind's name without the "Event" prefix.
func (k EventKind) String() string {
	switch k {
	case EventDTMF:
		return "DTMF"
	case EventPlaybackDone:
		return "PlaybackDone"
	default:
		return "Unknown"
	}
}

// Event is something an endpoint reports to its owner on Endpoint.Events.
type Event struct {
	Kind EventKind
	// Digit is the key of an EventDTMF: '0'-'9', '*', '#' or 'A'-'D'.
	Digit byte
	// PlaybackID is the id Endpoint.Play returned, for EventPlaybackDone.
	PlaybackID uint64
}

// eventQueueLen is the buffer of each endpoint's Events channel: generous for
// a burst of digits, and a full queue only drops (and counts) events.
const eventQueueLen = 64

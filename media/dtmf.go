package media

// dtmfDigits maps RFC 4733 §3.2 event codes 0-15 to their key.
const dtmfDigits = "0123456789*#ABCD"

// DTMFDetector turns RFC 4733 telephone-event payloads into key presses.
//
// One key press is a series of packets that share one RTP timestamp (the
// event's start, RFC 4733 §2.5.1.1): updates while the key is held, then the
// end packet, usually sent three times (§2.5.1.4). The detector therefore
// reports a digit on the first packet with a new timestamp and ignores every
// later packet with that timestamp. It does not rely on the marker bit, which
// is lost with the first packet. Consequences:
//   - a lost end packet neither loses nor duplicates the digit;
//   - two presses of the same key have different timestamps and both count;
//   - a repeat that arrives after a newer event (reordering) is older in RTP
//     timestamp order (serial arithmetic, as RFC 3550 does for sequence
//     numbers) and is ignored;
//   - a long event split into segments (§2.5.1.3: a new timestamp equal to the
//     previous one plus its duration, no end bit seen) is one press.
//
// The zero value is ready. A DTMFDetector is not safe for concurrent use.
// Reset it when the RTP source changes (new SSRC, re-INVITE), since a new
// source starts a new timestamp space.
type DTMFDetector struct {
	haveLast     bool
	lastTS       uint32
	lastEvent    uint8
	lastEnded    bool
	lastDuration uint16
	malformed    uint64
}

// Feed processes one telephone-event payload carried by an RTP packet with
// the given timestamp. It returns the key ('0'-'9', '*', '#', 'A'-'D') and
// true when the packet starts a new key press.
func (d *DTMFDetector) Feed(timestamp uint32, payload []byte) (digit byte, ok bool) {
	// RFC 4733 §2.3: event (8 bits), E, R, volume (6 bits), duration (16 bits).
	// Events above 15 (flash hook, tones) are not keys.
	if len(payload) < 4 || payload[0] > 15 {
		d.malformed++
		return 0, false
	}
	event := payload[0]
	ended := payload[1]&0x80 != 0
	duration := uint16(payload[2])<<8 | uint16(payload[3])

	if d.haveLast {
		delta := int32(timestamp - d.lastTS)
		if delta == 0 {
			d.update(event, ended, duration)
			return 0, false
		}
		if delta < 0 {
			return 0, false // a late repeat of an older event
		}
		if !d.lastEnded && event == d.lastEvent && timestamp == d.lastTS+uint32(d.lastDuration) {
			// Continuation segment of a long event (RFC 4733 §2.5.1.3).
			d.lastTS = timestamp
			d.lastEnded = ended
			d.lastDuration = duration
			return 0, false
		}
	}
	d.haveLast = true
	d.lastTS = timestamp
	d.lastEvent = event
	d.lastEnded = ended
	d.lastDuration = duration
	return dtmfDigits[event], true
}

// update records the state of the current event from a repeat packet.
func (d *DTMFDetector) update(event uint8, ended bool, duration uint16) {
	if event != d.lastEvent {
		return // a different event reusing the timestamp is bogus; keep the first
	}
	if ended {
		d.lastEnded = true
	}
	if duration > d.lastDuration {
		d.lastDuration = duration
	}
}

// Malformed returns how many payloads were ignored because they were shorter
// than 4 bytes or carried an event above 15.
func (d *DTMFDetector) Malformed() uint64 { return d.malformed }

// Reset forgets the current event, for a new RTP source.
func (d *DTMFDetector) Reset() {
	malformed := d.malformed
	*d = DTMFDetector{malformed: malformed}
}

package media

import (
	"path/filepath"
	"testing"

	"github.com/pion/rtp"
)

func TestDTMFDetectorFeed(t *testing.T) {
	type feed struct {
		ts      uint32
		payload []byte
	}
	tests := []struct {
		name          string
		feeds         []feed
		want          string
		wantMalformed uint64
	}{
		{"start, updates and triple end are one digit", []feed{
			{100, dtmfPayload(1, false, 160)}, {100, dtmfPayload(1, false, 320)},
			{100, dtmfPayload(1, true, 480)}, {100, dtmfPayload(1, true, 480)}, {100, dtmfPayload(1, true, 480)},
		}, "1", 0},
		{"same digit twice", []feed{{100, dtmfPayload(2, true, 400)}, {900, dtmfPayload(2, true, 400)}}, "22", 0},
		{"lost end then next digit", []feed{{100, dtmfPayload(3, false, 160)}, {900, dtmfPayload(4, false, 160)}}, "34", 0},
		{"late repeat of an older event", []feed{{900, dtmfPayload(4, false, 160)}, {100, dtmfPayload(3, true, 400)}}, "4", 0},
		{"different event reusing a timestamp is ignored", []feed{{100, dtmfPayload(3, false, 160)}, {100, dtmfPayload(9, false, 320)}}, "3", 0},
		{"short payload", []feed{{100, []byte{1, 2, 3}}}, "", 1},
		{"event 16 (flash) is not a key", []feed{{100, dtmfPayload(16, false, 160)}}, "", 1},
		{"empty payload", []feed{{100, nil}}, "", 1},
		{"long event continued in a new segment", []feed{
			{100, dtmfPayload(0, false, 0xffff)}, {100 + 0xffff, dtmfPayload(0, false, 160)},
		}, "0", 0},
		{"new segment timestamp that does not continue is a new press", []feed{
			{100, dtmfPayload(0, false, 800)}, {100 + 5000, dtmfPayload(0, false, 160)},
		}, "00", 0},
		{"wraparound", []feed{{0xfffffff0, dtmfPayload(5, true, 160)}, {0x10, dtmfPayload(6, true, 160)}}, "56", 0},
		{"key mapping", []feed{
			{1, dtmfPayload(10, true, 1)}, {2, dtmfPayload(11, true, 1)}, {3, dtmfPayload(12, true, 1)},
			{4, dtmfPayload(13, true, 1)}, {5, dtmfPayload(14, true, 1)}, {6, dtmfPayload(15, true, 1)},
		}, "*#ABCD", 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var d DTMFDetector
			var got []byte
			for _, f := range tt.feeds {
				if digit, ok := d.Feed(f.ts, f.payload); ok {
					got = append(got, digit)
				}
			}
			if string(got) != tt.want || d.Malformed() != tt.wantMalformed {
				t.Fatalf("digits %q malformed %d, want %q %d", got, d.Malformed(), tt.want, tt.wantMalformed)
			}
		})
	}
}

func TestDTMFDetectorResetForgetsEventButKeepsCount(t *testing.T) {
	var d DTMFDetector
	d.Feed(100, []byte{1})
	d.Feed(100, dtmfPayload(1, false, 160))
	d.Reset()
	if _, ok := d.Feed(100, dtmfPayload(1, false, 320)); !ok {
		t.Fatal("after Reset the same timestamp must count as a new event")
	}
	if d.Malformed() != 1 {
		t.Fatalf("Malformed = %d after Reset, want 1", d.Malformed())
	}
}

func FuzzDTMFDetectorFeed(f *testing.F) {
	f.Add(uint32(100), []byte{1, 0x0a, 0, 160}, uint32(100), []byte{1, 0x8a, 1, 64})
	f.Add(uint32(0xffffffff), []byte{15, 0, 0xff, 0xff}, uint32(0xffff), []byte{15, 0, 0, 1})
	f.Add(uint32(5), []byte{}, uint32(6), []byte{200, 1, 2, 3, 4})
	// Each key press of our SIPp scenarios (RFC 4733 packets in pcap):
	// its first packet and its last (an end packet, sent three times).
	files, _ := filepath.Glob(filepath.Join("..", "testdata", "sipp", "pcap", "dtmf_*.pcap"))
	for _, file := range files {
		var pkts []rtp.Packet
		for _, datagram := range readPcapUDP(f, file, 64) {
			var p rtp.Packet
			if p.Unmarshal(datagram) == nil {
				pkts = append(pkts, p)
			}
		}
		if len(pkts) > 0 {
			first, last := pkts[0], pkts[len(pkts)-1]
			f.Add(first.Timestamp, first.Payload, last.Timestamp, last.Payload)
		}
	}
	f.Fuzz(func(t *testing.T, ts1 uint32, p1 []byte, ts2 uint32, p2 []byte) {
		var d DTMFDetector
		digits := 0
		for _, f := range []struct {
			ts uint32
			p  []byte
		}{{ts1, p1}, {ts2, p2}, {ts1, p1}} {
			digit, ok := d.Feed(f.ts, f.p)
			if ok {
				digits++
				if !(digit >= '0' && digit <= '9' || digit == '*' || digit == '#' || digit >= 'A' && digit <= 'D') {
					t.Fatalf("digit %q", digit)
				}
			}
		}
		// Feeding the first packet again is a repeat or older: never a third digit.
		if digits > 2 {
			t.Fatalf("%d digits from two distinct packets", digits)
		}
	})
}

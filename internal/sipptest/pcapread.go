package sipptest

import (
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"time"

	"github.com/pion/rtp"
)

// CapturedRTP is one UDP datagram of a capture, parsed as RTP.
type CapturedRTP struct {
	At      time.Duration // since the first packet of the file
	SrcPort uint16
	DstPort uint16
	Packet  rtp.Packet
}

// ReadRTPPCAP reads a classic pcap file (as WriteRTPPCAP or `tcpdump -i lo -w` writes
// it: link type Ethernet or Linux SLL, IPv4) and parses every UDP payload as RTP.
// Non-UDP frames are skipped; a UDP payload that is not RTP is an error.
func ReadRTPPCAP(path string) ([]CapturedRTP, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("sipptest: read pcap: %w", err)
	}
	return ParseRTPPCAP(b)
}

// ParseRTPPCAP is ReadRTPPCAP on the bytes of a file.
func ParseRTPPCAP(b []byte) ([]CapturedRTP, error) {
	if len(b) < 24 {
		return nil, errors.New("sipptest: pcap: short global header")
	}
	var order binary.ByteOrder
	nano := false
	switch binary.LittleEndian.Uint32(b) {
	case 0xa1b2c3d4:
		order = binary.LittleEndian
	case 0xa1b23c4d:
		order, nano = binary.LittleEndian, true
	case 0xd4c3b2a1:
		order = binary.BigEndian
	case 0x4d3cb2a1:
		order, nano = binary.BigEndian, true
	default:
		return nil, errors.New("sipptest: pcap: bad magic (pcapng is not supported)")
	}
	var etherTypeOffset int
	switch lt := order.Uint32(b[20:]); lt {
	case linktypeEthernet:
		etherTypeOffset = 12
	case linktypeLinuxSLL:
		etherTypeOffset = 14
	default:
		return nil, fmt.Errorf("sipptest: pcap: link type %d is not Ethernet or Linux SLL", lt)
	}
	var out []CapturedRTP
	var first time.Time
	for off := 24; off < len(b); {
		if len(b)-off < 16 {
			return nil, fmt.Errorf("sipptest: pcap: short record header at %d", off)
		}
		sec, frac := order.Uint32(b[off:]), order.Uint32(b[off+4:])
		incl := int(order.Uint32(b[off+8:]))
		off += 16
		if incl > len(b)-off {
			return nil, fmt.Errorf("sipptest: pcap: record at %d runs past the end", off)
		}
		frame := b[off : off+incl]
		off += incl

		nsec := int64(frac) * 1000
		if nano {
			nsec = int64(frac)
		}
		at := time.Unix(int64(sec), nsec)
		if first.IsZero() {
			first = at
		}
		src, dst, payload, ok := udpPayload(frame, etherTypeOffset)
		if !ok {
			continue
		}
		var p rtp.Packet
		if err := p.Unmarshal(payload); err != nil {
			return nil, fmt.Errorf("sipptest: pcap: record at %d: %w", off-incl, err)
		}
		// Unmarshal points into b; copy so callers own their packets.
		p.Payload = append([]byte(nil), p.Payload...)
		out = append(out, CapturedRTP{At: at.Sub(first), SrcPort: src, DstPort: dst, Packet: p})
	}
	return out, nil
}

func udpPayload(frame []byte, etherTypeOffset int) (src, dst uint16, payload []byte, ok bool) {
	if len(frame) < etherTypeOffset+2 || binary.BigEndian.Uint16(frame[etherTypeOffset:]) != 0x0800 {
		return 0, 0, nil, false
	}
	ip := frame[etherTypeOffset+2:]
	if len(ip) < 20 || ip[0]>>4 != 4 || ip[9] != 17 {
		return 0, 0, nil, false
	}
	ihl := int(ip[0]&0x0F) * 4
	if len(ip) < ihl+8 {
		return 0, 0, nil, false
	}
	u := ip[ihl:]
	n := int(binary.BigEndian.Uint16(u[4:]))
	if n < 8 || n > len(u) {
		return 0, 0, nil, false
	}
	return binary.BigEndian.Uint16(u[0:]), binary.BigEndian.Uint16(u[2:]), u[8:n], true
}

// TelephoneEvent is the payload of an RFC 4733 §2.3 telephone-event packet.
type TelephoneEvent struct {
	Event    uint8
	End      bool
	Volume   uint8  // -dBm0
	Duration uint16 // in timestamp units (1/8000 s for 8 kHz audio)
}

// ParseTelephoneEvent decodes the 4-byte RFC 4733 payload.
func ParseTelephoneEvent(payload []byte) (TelephoneEvent, error) {
	if len(payload) < 4 {
		return TelephoneEvent{}, fmt.Errorf("sipptest: telephone-event payload of %d bytes, want 4", len(payload))
	}
	return TelephoneEvent{
		Event:    payload[0],
		End:      payload[1]&0x80 != 0,
		Volume:   payload[1] & 0x3F,
		Duration: binary.BigEndian.Uint16(payload[2:]),
	}, nil
}

package sip

import (
	"errors"
	"fmt"
	"net/netip"
	"slices"
	"strconv"
	"strings"

	"github.com/pion/sdp/v3"
)

// Payload types of the static G.711 codecs (RFC 3551 table 4).
const (
	PayloadPCMU uint8 = 0
	PayloadPCMA uint8 = 8
)

// Direction is an SDP media direction attribute (RFC 4566 §6, RFC 3264 §5.1).
type Direction uint8

const (
	DirectionUnknown Direction = iota
	DirectionSendRecv
	DirectionSendOnly
	DirectionRecvOnly
	DirectionInactive
)

func (d Direction) String() string {
	switch d {
	case DirectionSendRecv:
		return "sendrecv"
	case DirectionSendOnly:
		return "sendonly"
	case DirectionRecvOnly:
		return "recvonly"
	case DirectionInactive:
		return "inactive"
	}
	return "unknown"
}

// MediaOffer is what we need from a remote SDP: where to send audio, which payload
// types the peer accepts in its order of preference, and its RFC 4733 payload type.
type MediaOffer struct {
	Addr            netip.AddrPort
	PayloadTypes    []uint8 // audio formats of the first audio m-line, in offer order
	DTMFPayloadType uint8   // 0 when the peer offers no telephone-event/8000
	Direction       Direction
	// PayloadType is the codec negotiated with this SDP: the one our answer (or the
	// peer's answer to our offer) names. ParseSDP leaves it 0; the legs fill it in
	// (InboundCall.Offer, OutboundCall.Answer, and every offer given to OnReoffer).
	PayloadType uint8
	// Streams are all the offer's m= lines and AudioStream the index of the one
	// above: an answer has a line for each (RFC 3264 §6), see SessionSpec.
	Streams     []OfferedStream
	AudioStream int
}

// OfferedStream is an m= line of an offer, as much of it as an answer that
// refuses it repeats.
type OfferedStream struct {
	Media, Proto, Format string
}

// Held reports whether the peer stops listening to us: a=sendonly or a=inactive
// (RFC 3264 §8.4), or the RFC 2543 hold, an unspecified connection address
// (c=IN IP4 0.0.0.0, or :: for IPv6).
func (o MediaOffer) Held() bool {
	return o.Direction == DirectionSendOnly || o.Direction == DirectionInactive || o.Addr.Addr().IsUnspecified()
}

// ErrNoAudio is returned for an SDP without a usable audio stream.
var ErrNoAudio = errors.New("sdp: no audio stream")

// ParseSDP reads the first active audio stream of an offer or answer.
func ParseSDP(body []byte) (MediaOffer, error) {
	var sd sdp.SessionDescription
	if err := sd.Unmarshal(body); err != nil {
		return MediaOffer{}, fmt.Errorf("sdp: %w", err)
	}
	sessionAddr, sessionHasAddr := connectionAddr(sd.ConnectionInformation)
	sessionDir := directionOf(sd.Attributes)
	streams := make([]OfferedStream, len(sd.MediaDescriptions))
	for i, md := range sd.MediaDescriptions {
		streams[i] = OfferedStream{Media: md.MediaName.Media, Proto: strings.Join(md.MediaName.Protos, "/")}
		if len(md.MediaName.Formats) > 0 {
			streams[i].Format = md.MediaName.Formats[0]
		}
	}
	for i, md := range sd.MediaDescriptions {
		if md.MediaName.Media != "audio" || md.MediaName.Port.Value == 0 {
			continue // a rejected or non-audio stream (RFC 3264 §6)
		}
		if streams[i].Proto != "RTP/AVP" {
			continue // RTP/SAVP (SRTP) is not supported yet: such an offer gets 488
		}
		addr, hasAddr := connectionAddr(md.ConnectionInformation)
		if !hasAddr {
			addr, hasAddr = sessionAddr, sessionHasAddr
		}
		if !hasAddr {
			return MediaOffer{}, fmt.Errorf("sdp: audio stream without a connection address")
		}
		if !usableUnicast(addr) {
			// A host name (we do not resolve names from a peer's SDP), a multicast
			// or broadcast group: nothing we send audio to. Without another audio
			// stream the offer gets 488.
			continue
		}
		port := md.MediaName.Port.Value
		if port <= 0 || port > 65535 {
			return MediaOffer{}, fmt.Errorf("sdp: audio port %d out of range", port)
		}
		offer := MediaOffer{Addr: netip.AddrPortFrom(addr, uint16(port)), Direction: directionOf(md.Attributes),
			Streams: streams, AudioStream: i}
		if offer.Direction == DirectionUnknown {
			offer.Direction = sessionDir
		}
		if offer.Direction == DirectionUnknown {
			offer.Direction = DirectionSendRecv
		}
		rtpmaps := rtpmapsOf(md.Attributes)
		for _, f := range md.MediaName.Formats {
			pt, err := strconv.ParseUint(f, 10, 8)
			if err != nil || pt > 127 {
				continue
			}
			p := uint8(pt)
			name, known := rtpmaps[p]
			switch {
			case known && strings.EqualFold(name, "telephone-event/8000"):
				if offer.DTMFPayloadType == 0 {
					offer.DTMFPayloadType = p
				}
				continue
			case known:
				// A dynamic name overrides the static table only when it agrees.
				if strings.EqualFold(name, "PCMU/8000") {
					p = PayloadPCMU
				} else if strings.EqualFold(name, "PCMA/8000") {
					p = PayloadPCMA
				} else {
					offer.PayloadTypes = append(offer.PayloadTypes, p)
					continue
				}
			}
			offer.PayloadTypes = append(offer.PayloadTypes, p)
		}
		return offer, nil
	}
	return MediaOffer{}, ErrNoAudio
}

// Negotiate picks the first payload type of the offer that we support (RFC 3264 §6.1:
// the answerer should keep the offerer's preference order).
func Negotiate(offer MediaOffer, supported ...uint8) (uint8, bool) {
	for _, pt := range offer.PayloadTypes {
		for _, s := range supported {
			if pt == s {
				return pt, true
			}
		}
	}
	return 0, false
}

// SessionSpec describes our side of a session for BuildSDP.
type SessionSpec struct {
	Addr            netip.AddrPort // our RTP address
	SessionID       uint64
	SessionVersion  uint64
	PayloadTypes    []uint8 // audio codecs, in our order of preference
	DTMFPayloadType uint8   // 0 = no telephone-event
	Direction       Direction
	// Streams, in an answer, are the offer's m= lines: the answer repeats each
	// one (RFC 3264 §6), ours at AudioStream and the others refused with port
	// 0. Empty (an offer of ours) means our audio line alone.
	Streams     []OfferedStream
	AudioStream int
}

// BuildSDP renders an offer or answer with pion/sdp.
func BuildSDP(spec SessionSpec) ([]byte, error) {
	if !spec.Addr.IsValid() {
		return nil, fmt.Errorf("sdp: invalid local address %v", spec.Addr)
	}
	netType, addrType := "IN", "IP4"
	if spec.Addr.Addr().Is6() && !spec.Addr.Addr().Is4In6() {
		addrType = "IP6"
	}
	ip := spec.Addr.Addr().Unmap().String()
	dir := spec.Direction
	if dir == DirectionUnknown {
		dir = DirectionSendRecv
	}
	formats := make([]string, 0, len(spec.PayloadTypes)+1)
	attrs := make([]sdp.Attribute, 0, len(spec.PayloadTypes)+4)
	for _, pt := range spec.PayloadTypes {
		formats = append(formats, strconv.Itoa(int(pt)))
		switch pt {
		case PayloadPCMU:
			attrs = append(attrs, sdp.NewAttribute("rtpmap", "0 PCMU/8000"))
		case PayloadPCMA:
			attrs = append(attrs, sdp.NewAttribute("rtpmap", "8 PCMA/8000"))
		}
	}
	// A peer's telephone-event on a number we use for audio (an offer can map PCMA
	// to a dynamic type and telephone-event to 8) would make our SDP ambiguous.
	if spec.DTMFPayloadType != 0 && !slices.Contains(spec.PayloadTypes, spec.DTMFPayloadType) {
		pt := strconv.Itoa(int(spec.DTMFPayloadType))
		formats = append(formats, pt)
		attrs = append(attrs,
			sdp.NewAttribute("rtpmap", pt+" telephone-event/8000"),
			sdp.NewAttribute("fmtp", pt+" 0-16"))
	}
	attrs = append(attrs, sdp.NewAttribute("ptime", "20"), sdp.NewPropertyAttribute(dir.String()))
	sd := sdp.SessionDescription{
		Version: 0,
		Origin: sdp.Origin{
			Username:       "hotline",
			SessionID:      spec.SessionID,
			SessionVersion: spec.SessionVersion,
			NetworkType:    netType,
			AddressType:    addrType,
			UnicastAddress: ip,
		},
		SessionName: "hotline",
		ConnectionInformation: &sdp.ConnectionInformation{
			NetworkType: netType,
			AddressType: addrType,
			Address:     &sdp.Address{Address: ip},
		},
		// pion/sdp does not validate: without this there is no t= line (RFC 4566 requires one).
		TimeDescriptions: []sdp.TimeDescription{{}},
	}
	audio := &sdp.MediaDescription{
		MediaName: sdp.MediaName{
			Media:   "audio",
			Port:    sdp.RangedPort{Value: int(spec.Addr.Port())},
			Protos:  []string{"RTP", "AVP"},
			Formats: formats,
		},
		Attributes: attrs,
	}
	sd.MediaDescriptions = []*sdp.MediaDescription{audio}
	if len(spec.Streams) > 1 && spec.AudioStream >= 0 && spec.AudioStream < len(spec.Streams) {
		sd.MediaDescriptions = make([]*sdp.MediaDescription, len(spec.Streams))
		for i, st := range spec.Streams {
			if i == spec.AudioStream {
				sd.MediaDescriptions[i] = audio
				continue
			}
			sd.MediaDescriptions[i] = refusedStream(st)
		}
	}
	return sd.Marshal()
}

// refusedStream is the answer's line for an offered stream we do not take:
// its media, protocol and a format of the offer's, port 0 (RFC 3264 §6).
func refusedStream(st OfferedStream) *sdp.MediaDescription {
	media, proto, format := safeToken(st.Media, "audio"), st.Proto, safeToken(st.Format, "0")
	var protos []string
	for _, p := range strings.Split(proto, "/") {
		protos = append(protos, safeToken(p, "RTP"))
	}
	return &sdp.MediaDescription{MediaName: sdp.MediaName{
		Media: media, Port: sdp.RangedPort{Value: 0}, Protos: protos, Formats: []string{format},
	}}
}

// safeToken is s when it is a plain token of the offer (letters, digits and
// a few marks), else fallback: nothing from a peer's SDP reaches ours that
// could end a line or break its syntax.
func safeToken(s, fallback string) string {
	if s == "" || len(s) > 32 {
		return fallback
	}
	for _, r := range s {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || strings.ContainsRune("-_.+!", r)) {
			return fallback
		}
	}
	return s
}

// connectionAddr is the address of a c= line; present tells a line that is
// there but names no IP address (a host name) from no line at all.
func connectionAddr(ci *sdp.ConnectionInformation) (addr netip.Addr, present bool) {
	if ci == nil || ci.Address == nil {
		return netip.Addr{}, false
	}
	// c=IN IP4 224.2.1.1/127 carries a TTL after a slash.
	host, _, _ := strings.Cut(ci.Address.Address, "/")
	addr, err := netip.ParseAddr(host)
	if err != nil {
		return netip.Addr{}, true
	}
	return addr.Unmap(), true
}

// usableUnicast reports whether audio may be sent to addr: an IP address that
// is not a multicast group or the broadcast address, so an offer cannot turn
// a call into a stream to a whole network. The unspecified address is the
// RFC 2543 hold (nothing is sent to it while held).
func usableUnicast(addr netip.Addr) bool {
	return addr.IsValid() && !addr.IsMulticast() && addr != netip.AddrFrom4([4]byte{255, 255, 255, 255})
}

func directionOf(attrs []sdp.Attribute) Direction {
	for _, a := range attrs {
		switch a.Key {
		case "sendrecv":
			return DirectionSendRecv
		case "sendonly":
			return DirectionSendOnly
		case "recvonly":
			return DirectionRecvOnly
		case "inactive":
			return DirectionInactive
		}
	}
	return DirectionUnknown
}

func rtpmapsOf(attrs []sdp.Attribute) map[uint8]string {
	m := make(map[uint8]string, 4)
	for _, a := range attrs {
		if a.Key != "rtpmap" {
			continue
		}
		ptStr, name, ok := strings.Cut(a.Value, " ")
		if !ok {
			continue
		}
		pt, err := strconv.ParseUint(ptStr, 10, 8)
		if err != nil {
			continue
		}
		// Keep "PCMU/8000" of "PCMU/8000/1": channels do not matter for G.711.
		parts := strings.SplitN(strings.TrimSpace(name), "/", 3)
		if len(parts) >= 2 {
			name = parts[0] + "/" + parts[1]
		}
		m[uint8(pt)] = name
	}
	return m
}

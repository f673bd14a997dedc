package sip

import (
	"errors"
	"net/netip"
	"slices"
	"strings"
	"testing"

	"github.com/emiago/sipgo/sip"
)

func sdpOffer(lines ...string) []byte {
	return []byte(strings.Join(lines, "\r\n") + "\r\n")
}

func TestParseSDPAndNegotiate(t *testing.T) {
	base := []string{"v=0", "o=- 1 1 IN IP4 10.0.0.1", "s=-", "c=IN IP4 192.0.2.10", "t=0 0"}
	tests := []struct {
		name     string
		body     []byte
		wantErr  bool
		wantAddr string
		wantPTs  []uint8
		wantDTMF uint8
		wantPick uint8
		wantOK   bool
		wantDir  Direction
	}{
		{
			name:     "pcmu first keeps offerer order",
			body:     sdpOffer(append(base, "m=audio 4000 RTP/AVP 0 8 101", "a=rtpmap:101 telephone-event/8000", "a=fmtp:101 0-16")...),
			wantAddr: "192.0.2.10:4000", wantPTs: []uint8{0, 8}, wantDTMF: 101, wantPick: 0, wantOK: true, wantDir: DirectionSendRecv,
		},
		{
			name:     "pcma first is chosen over pcmu",
			body:     sdpOffer(append(base, "m=audio 4000 RTP/AVP 8 0 96", "a=rtpmap:96 telephone-event/8000")...),
			wantAddr: "192.0.2.10:4000", wantPTs: []uint8{8, 0}, wantDTMF: 96, wantPick: 8, wantOK: true, wantDir: DirectionSendRecv,
		},
		{
			name:     "unsupported codecs first are skipped",
			body:     sdpOffer(append(base, "m=audio 4000 RTP/AVP 9 18 8", "a=rtpmap:9 G722/8000", "a=rtpmap:18 G729/8000")...),
			wantAddr: "192.0.2.10:4000", wantPTs: []uint8{9, 18, 8}, wantPick: 8, wantOK: true, wantDir: DirectionSendRecv,
		},
		{
			name:     "no common codec",
			body:     sdpOffer(append(base, "m=audio 4000 RTP/AVP 9 18")...),
			wantAddr: "192.0.2.10:4000", wantPTs: []uint8{9, 18}, wantOK: false, wantDir: DirectionSendRecv,
		},
		{
			name:     "media-level connection wins and direction is read",
			body:     sdpOffer(append(base, "m=audio 5000 RTP/AVP 0", "c=IN IP4 198.51.100.7", "a=sendonly")...),
			wantAddr: "198.51.100.7:5000", wantPTs: []uint8{0}, wantPick: 0, wantOK: true, wantDir: DirectionSendOnly,
		},
		{
			name:     "dynamic payload named PCMA maps to the static type",
			body:     sdpOffer(append(base, "m=audio 4000 RTP/AVP 97", "a=rtpmap:97 PCMA/8000")...),
			wantAddr: "192.0.2.10:4000", wantPTs: []uint8{8}, wantPick: 8, wantOK: true, wantDir: DirectionSendRecv,
		},
		{
			name:     "rejected audio stream then a live one",
			body:     sdpOffer(append(base, "m=audio 0 RTP/AVP 0", "m=audio 6000 RTP/AVP 8")...),
			wantAddr: "192.0.2.10:6000", wantPTs: []uint8{8}, wantPick: 8, wantOK: true, wantDir: DirectionSendRecv,
		},
		{name: "only video", body: sdpOffer(append(base, "m=video 4000 RTP/AVP 96")...), wantErr: true},
		{name: "srtp only", body: sdpOffer(append(base, "m=audio 4000 RTP/SAVP 0")...), wantErr: true},
		{name: "garbage", body: []byte("hello world"), wantErr: true},
		{name: "no connection address", body: sdpOffer("v=0", "o=- 1 1 IN IP4 10.0.0.1", "s=-", "t=0 0", "m=audio 4000 RTP/AVP 0"), wantErr: true},
		{name: "hostname connection address", body: sdpOffer(append(base[:3], "c=IN IP4 example.com", "t=0 0", "m=audio 4000 RTP/AVP 0")...), wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			offer, err := ParseSDP(tt.body)
			if tt.wantErr {
				if err == nil {
					t.Fatalf("ParseSDP = %+v, want an error", offer)
				}
				return
			}
			if err != nil {
				t.Fatalf("ParseSDP: %v", err)
			}
			if offer.Addr.String() != tt.wantAddr {
				t.Errorf("addr = %s, want %s", offer.Addr, tt.wantAddr)
			}
			if !slices.Equal(offer.PayloadTypes, tt.wantPTs) {
				t.Errorf("payload types = %v, want %v", offer.PayloadTypes, tt.wantPTs)
			}
			if offer.DTMFPayloadType != tt.wantDTMF {
				t.Errorf("dtmf pt = %d, want %d", offer.DTMFPayloadType, tt.wantDTMF)
			}
			if offer.Direction != tt.wantDir {
				t.Errorf("direction = %s, want %s", offer.Direction, tt.wantDir)
			}
			pt, ok := Negotiate(offer, PayloadPCMU, PayloadPCMA)
			if ok != tt.wantOK || (ok && pt != tt.wantPick) {
				t.Errorf("Negotiate = %d,%v want %d,%v", pt, ok, tt.wantPick, tt.wantOK)
			}
		})
	}
}

func TestBuildSDPRoundTrips(t *testing.T) {
	addr := netip.MustParseAddrPort("127.0.0.1:20000")
	body, err := BuildSDP(SessionSpec{Addr: addr, SessionID: 7, SessionVersion: 7, PayloadTypes: []uint8{8}, DTMFPayloadType: 101})
	if err != nil {
		t.Fatal(err)
	}
	s := string(body)
	for _, want := range []string{"t=0 0\r\n", "m=audio 20000 RTP/AVP 8 101\r\n", "a=rtpmap:8 PCMA/8000", "a=rtpmap:101 telephone-event/8000", "a=fmtp:101 0-16", "a=sendrecv", "c=IN IP4 127.0.0.1"} {
		if !strings.Contains(s, want) {
			t.Errorf("answer lacks %q:\n%s", want, s)
		}
	}
	back, err := ParseSDP(body)
	if err != nil {
		t.Fatal(err)
	}
	if back.Addr != addr || !slices.Equal(back.PayloadTypes, []uint8{8}) || back.DTMFPayloadType != 101 {
		t.Errorf("round trip = %+v", back)
	}
}

// sdpBodies returns the bodies of the SIP messages that carry an SDP.
func sdpBodies(messages [][]byte) [][]byte {
	var out [][]byte
	for _, m := range messages {
		msg, err := sip.ParseMessage(m)
		if err != nil {
			continue
		}
		if ct := msg.GetHeaders("Content-Type"); len(ct) == 1 && isSDP(ct[0].Value()) && len(msg.Body()) > 0 {
			out = append(out, msg.Body())
		}
	}
	return out
}

// FuzzParseSDP: any SDP is read or refused without panicking; one we read
// has an address, and the answers we build to it (the initial codec choice
// and a re-INVITE's answer) parse back with our parser, name one codec we
// support that the offer has, mirror its direction and keep its
// telephone-event.
func FuzzParseSDP(f *testing.F) {
	f.Add(sdpOffer("v=0", "o=- 1 1 IN IP4 10.0.0.1", "s=-", "c=IN IP4 192.0.2.10", "t=0 0", "m=audio 4000 RTP/AVP 0 8 101", "a=rtpmap:101 telephone-event/8000"))
	f.Add([]byte("v=0\r\nm=audio 99999 RTP/AVP 0\r\n"))
	f.Add(sdpOffer("v=0", "o=- 1 2 IN IP4 10.0.0.1", "s=-", "c=IN IP4 0.0.0.0", "t=0 0", "m=audio 4000 RTP/AVP 18 8", "a=sendonly"))
	f.Add(sdpOffer("v=0", "o=- 1 2 IN IP6 ::1", "s=-", "c=IN IP6 ::", "t=0 0", "m=audio 4000 RTP/AVP 97 0", "a=rtpmap:97 PCMA/8000", "a=inactive"))
	f.Add(sdpOffer("v=0", "o=- 1 2 IN IP4 10.0.0.1", "s=-", "c=IN IP4 10.0.0.1", "t=0 0", "m=audio 4000 RTP/AVP 97 8", "a=rtpmap:97 PCMA/8000", "a=rtpmap:8 telephone-event/8000"))
	// The offers and answers of our SIPp scenarios and, where a checkout
	// has them, of the SIP torture messages (RFC 4475 §3.3.15, RFC 5118
	// §4.6, §4.8).
	for _, seed := range sdpBodies(seedMessages(f)) {
		f.Add(seed)
	}
	// The re-INVITE answer is built from whatever ParseSDP accepts.
	spec := SessionSpec{Addr: netip.MustParseAddrPort("127.0.0.1:20000"), SessionID: 7, SessionVersion: 7, PayloadTypes: []uint8{PayloadPCMU}}
	ours, err := BuildSDP(spec)
	if err != nil {
		f.Fatal(err)
	}
	cur := mediaState{spec: spec, sdp: ours, pt: PayloadPCMU}
	f.Fuzz(func(t *testing.T, b []byte) {
		offer, err := ParseSDP(b)
		if err != nil {
			return
		}
		if !offer.Addr.IsValid() {
			t.Fatalf("accepted an offer without an address: %+v", offer)
		}
		// The codec of an initial answer (InboundCall): one of ours, of the
		// offer's.
		pt, ok := Negotiate(offer, supportedPayloads...)
		if ok && (!slices.Contains(supportedPayloads, pt) || !slices.Contains(offer.PayloadTypes, pt)) {
			t.Fatalf("negotiated %d from %v", pt, offer.PayloadTypes)
		}
		next, err := reanswer(cur, offer)
		if err != nil {
			if ok {
				t.Fatalf("reanswer: %v for an offer with a codec of ours: %+v", err, offer)
			}
			return
		}
		if !slices.Contains(supportedPayloads, next.pt) || !slices.Contains(offer.PayloadTypes, next.pt) {
			t.Fatalf("answered with codec %d to an offer of %v", next.pt, offer.PayloadTypes)
		}
		answer, err := ParseSDP(next.sdp)
		if err != nil {
			t.Fatalf("our answer does not parse: %v\n%s", err, next.sdp)
		}
		if answer.Addr != spec.Addr || len(answer.PayloadTypes) != 1 || answer.PayloadTypes[0] != next.pt ||
			answer.Direction != answerDirection(offer) || (answer.DTMFPayloadType != offer.DTMFPayloadType && offer.DTMFPayloadType != next.pt) {
			t.Fatalf("answer %+v to offer %+v", answer, offer)
		}
		if next.spec.SessionVersion-spec.SessionVersion > 1 {
			t.Fatalf("version went from %d to %d", spec.SessionVersion, next.spec.SessionVersion)
		}
	})
}

func TestOffersWithoutAUnicastAudioAddressAreNotAudio(t *testing.T) {
	for _, c := range []string{"c=IN IP4 224.2.1.1/127", "c=IN IP4 255.255.255.255", "c=IN IP6 ff02::1", "c=IN IP4 media.example.com"} {
		_, err := ParseSDP(sdpOffer("v=0", "o=- 1 1 IN IP4 10.0.0.1", "s=-", c, "t=0 0", "m=audio 4000 RTP/AVP 0"))
		if !errors.Is(err, ErrNoAudio) {
			t.Errorf("%s: err %v, want ErrNoAudio (488)", c, err)
		}
	}
	// A stream with a usable address after one without is taken.
	offer, err := ParseSDP(sdpOffer("v=0", "o=- 1 1 IN IP4 10.0.0.1", "s=-", "t=0 0",
		"m=audio 4000 RTP/AVP 0", "c=IN IP4 224.2.1.1/127", "m=audio 4002 RTP/AVP 8", "c=IN IP4 192.0.2.7"))
	if err != nil || offer.Addr.String() != "192.0.2.7:4002" || offer.AudioStream != 1 {
		t.Errorf("got %+v, %v; want the second stream", offer, err)
	}
	// The hold address stays usable: it is the RFC 2543 hold.
	if _, err := ParseSDP(sdpOffer("v=0", "o=- 1 1 IN IP4 10.0.0.1", "s=-", "c=IN IP4 0.0.0.0", "t=0 0", "m=audio 4000 RTP/AVP 0")); err != nil {
		t.Errorf("c=0.0.0.0: %v", err)
	}
}

func TestAnswerHasALineForEveryOfferedStream(t *testing.T) {
	offer, err := ParseSDP(sdpOffer("v=0", "o=- 1 1 IN IP4 10.0.0.1", "s=-", "c=IN IP4 192.0.2.10", "t=0 0",
		"m=video 5000 RTP/AVP 96", "a=rtpmap:96 H264/90000",
		"m=audio 4000 RTP/AVP 8", "m=text 6000 RTP/AVP 98"))
	if err != nil {
		t.Fatal(err)
	}
	// Whatever a parser lets through, no text of the offer can break our lines.
	offer.Streams = append(offer.Streams, OfferedStream{Media: "x\r\ninjected", Proto: "RTP/AVP\r\na=x", Format: "0 1"})
	body, err := BuildSDP(SessionSpec{Addr: netip.MustParseAddrPort("127.0.0.1:30000"), PayloadTypes: []uint8{PayloadPCMA},
		Streams: offer.Streams, AudioStream: offer.AudioStream})
	if err != nil {
		t.Fatal(err)
	}
	var mLines []string
	for _, line := range strings.Split(string(body), "\r\n") {
		if strings.HasPrefix(line, "m=") {
			mLines = append(mLines, line)
		}
	}
	want := []string{"m=video 0 RTP/AVP 96", "m=audio 30000 RTP/AVP 8", "m=text 0 RTP/AVP 98", "m=audio 0 RTP/RTP 0"}
	if !slices.Equal(mLines, want) {
		t.Fatalf("m= lines %q, want %q\n%s", mLines, want, body)
	}
	if strings.Contains(string(body), "injected") {
		t.Errorf("the answer repeats text of the offer's broken line:\n%s", body)
	}
	back, err := ParseSDP(body)
	if err != nil || back.Addr.Port() != 30000 || !slices.Equal(back.PayloadTypes, []uint8{PayloadPCMA}) {
		t.Errorf("answer parses as %+v, %v", back, err)
	}
}

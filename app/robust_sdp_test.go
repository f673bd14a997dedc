package app_test

import (
	"fmt"
	"net"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/hotline-cc/hotline/config"
)

// TestHostileSDPOffers: offers a carrier, a broken gateway or an attacker
// may send. Each gets the answer pinned here (488 for what we cannot serve,
// 400 for what is not SDP, 200 when one audio stream is usable); none costs
// a 5xx, an answered one is a real call we hang up, and none leaves a call
// or an RTP port behind.
func TestHostileSDPOffers(t *testing.T) {
	t.Parallel()
	h := startHotline(t, func(c *config.Config) {
		c.Trunks[0].ACL = []netip.Prefix{netip.MustParsePrefix("127.0.0.1/32")}
		c.Trunks[0].Numbers = []string{"8005551000"}
	})
	// {ip} and {port} are the test's own RTP socket, so an answered call
	// sends its audio there and nowhere else.
	const head = "v=0\r\no=x 1 1 IN IP4 {ip}\r\ns=-\r\nc=IN IP4 {ip}\r\nt=0 0\r\n"
	cases := []struct {
		name, sdp string
		want      int
		// mLines, for a 200: the m= lines the answer must have (RFC 3264
		// §6: one per offered stream, the refused ones with port 0).
		mLines int
	}{
		{"plain PCMU", head + "m=audio {port} RTP/AVP 0\r\n", 200, 1},
		{"video before audio", head + "m=video 50000 RTP/AVP 96\r\na=rtpmap:96 H264/90000\r\nm=audio {port} RTP/AVP 8 0\r\n", 200, 2},
		{"two audio streams", head + "m=audio {port} RTP/AVP 0\r\nm=audio 50002 RTP/AVP 0\r\n", 200, 2},
		{"PCMU on a dynamic payload type", head + "m=audio {port} RTP/AVP 96\r\na=rtpmap:96 PCMU/8000\r\n", 200, 1},
		{"a thousand formats", head + "m=audio {port} RTP/AVP " + strings.Repeat("18 ", 1000) + "0\r\n", 200, 1},
		{"a 30 kB attribute", head + "m=audio {port} RTP/AVP 0\r\na=x-junk:" + strings.Repeat("A", 30000) + "\r\n", 200, 1},
		{"only video", head + "m=video {port} RTP/AVP 96\r\n", 488, 0},
		{"audio refused (port 0)", head + "m=audio 0 RTP/AVP 0\r\n", 488, 0},
		{"SRTP only", head + "m=audio {port} RTP/SAVP 0\r\n", 488, 0},
		{"only telephone-event", head + "m=audio {port} RTP/AVP 101\r\na=rtpmap:101 telephone-event/8000\r\n", 488, 0},
		{"no formats", head + "m=audio {port} RTP/AVP\r\n", 488, 0},
		{"G.729 only", head + "m=audio {port} RTP/AVP 18\r\n", 488, 0},
		{"multicast address", "v=0\r\no=x 1 1 IN IP4 {ip}\r\ns=-\r\nc=IN IP4 224.2.1.1/127\r\nt=0 0\r\nm=audio {port} RTP/AVP 0\r\n", 488, 0},
		{"broadcast address", "v=0\r\no=x 1 1 IN IP4 {ip}\r\ns=-\r\nc=IN IP4 255.255.255.255\r\nt=0 0\r\nm=audio {port} RTP/AVP 0\r\n", 488, 0},
		{"host name, not an address", "v=0\r\no=x 1 1 IN IP4 {ip}\r\ns=-\r\nc=IN IP4 media.example.com\r\nt=0 0\r\nm=audio {port} RTP/AVP 0\r\n", 488, 0},
		{"no connection line", "v=0\r\no=x 1 1 IN IP4 {ip}\r\ns=-\r\nt=0 0\r\nm=audio {port} RTP/AVP 0\r\n", 400, 0},
		{"port out of range", head + "m=audio 70000 RTP/AVP 0\r\n", 400, 0},
		// A delayed offer (RFC 3261 §13.2.1, our offer in the 200, the answer
		// in the ACK) is not supported yet.
		{"no offer at all", "", 488, 0},
		{"not SDP at all", "hello\x00\xff\r\n", 400, 0},
		{"truncated", head + "m=aud", 400, 0},
	}
	mismatches := 0
	for i, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			peer := newSIPPeer(t, netip.MustParseAddr("127.0.0.1"), 0)
			rtp, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
			if err != nil {
				t.Fatal(err)
			}
			defer rtp.Close()
			offer := strings.NewReplacer("{ip}", "127.0.0.1", "{port}", fmt.Sprint(rtp.LocalAddr().(*net.UDPAddr).Port)).Replace(tc.sdp)
			call, _ := placeCarrierCall(t, h.sipAddr(), peer, fmt.Sprintf("sdp-%d", i), offer, 5*time.Second)
			got := call.answer.status
			if got != tc.want {
				mismatches++
				t.Errorf("answer %d, want %d\n%s", got, tc.want, call.answer.raw)
			}
			if got == 200 {
				if n := strings.Count(call.answer.raw, "\r\nm="); n != tc.mLines {
					t.Errorf("answer has %d m= lines, want %d\n%s", n, tc.mLines, call.answer.raw)
				}
				if bye := call.ackAndBye(t); bye != 200 {
					t.Errorf("BYE answered %d", bye)
				}
			}
		})
	}
	waitFor(t, 10*time.Second, "no call active, every RTP port back", func() (bool, string) {
		m := h.metrics()
		active := metricValue(m, "hotline_calls_active")
		return active == 0, fmt.Sprintf("hotline_calls_active %v", active)
	})
	reportRobust(t, "hostile SDP offers", fmt.Sprintf("%d offers, %d answered as pinned", len(cases), len(cases)-mismatches),
		"200/488/400 as pinned, no 5xx, nothing left behind", mismatches == 0)
}

package call

import (
	"net/netip"
	"testing"

	hsip "github.com/hotline-cc/hotline/sip"
)

// TestSendsNoRTP: the RTP timeout waits while the caller's SDP says it
// sends nothing: on hold, inactive, or listening only.
func TestSendsNoRTP(t *testing.T) {
	live := netip.MustParseAddrPort("192.0.2.1:4000")
	for _, tt := range []struct {
		addr netip.AddrPort
		dir  hsip.Direction
		want bool
	}{
		{live, hsip.DirectionSendRecv, false},
		{live, hsip.DirectionUnknown, false},
		{live, hsip.DirectionSendOnly, true},
		{live, hsip.DirectionInactive, true},
		{live, hsip.DirectionRecvOnly, true},
		{netip.MustParseAddrPort("0.0.0.0:4000"), hsip.DirectionSendRecv, true},
	} {
		if got := sendsNoRTP(hsip.MediaOffer{Addr: tt.addr, Direction: tt.dir}); got != tt.want {
			t.Errorf("%s %s: sendsNoRTP = %v, want %v", tt.addr, tt.dir, got, tt.want)
		}
	}
}

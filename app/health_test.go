package app_test

import (
	"context"
	"testing"
	"time"

	"github.com/emiago/sipgo/sip"

	"github.com/hotline-cc/hotline/config"
)

// TestSessionTimerEndsDeadCall: a carrier that asked to refresh the
// session (RFC 4028, refresher=uac) and never does is hung up at the
// interval minus a third; the CDR says session-timer, hung up by system,
// and the metric counts it. The intervals are below RFC 4028's 90 s,
// which config refuses, so that the test takes a second and a half.
func TestSessionTimerEndsDeadCall(t *testing.T) {
	t.Parallel()
	h := startHotline(t, func(c *config.Config) {
		c.Calls.SessionExpires, c.Calls.MinSE = 2*time.Second, time.Second
	})
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	p := newFeaturePhone(t)
	sess, req, status := p.invite(t, ctx, h, "carrier", "", "100",
		sip.NewHeader("Session-Expires", "2;refresher=uac"), sip.NewHeader("Supported", "timer"))
	if status != 200 {
		t.Fatalf("INVITE answered %d", status)
	}
	defer sess.Close()
	if se := sess.InviteResponse.GetHeader("Session-Expires"); se == nil || se.Value() != "2;refresher=uac" {
		t.Fatalf("200 Session-Expires %v, want 2;refresher=uac", se)
	}
	select {
	case id := <-p.byes:
		if id != req.CallID().Value() {
			t.Fatalf("BYE for %s", id)
		}
	case <-ctx.Done():
		t.Fatal("no BYE after the session expired")
	}
	cdr := h.waitEndedCall()
	if cdr.HangupBy != "system" || cdr.HangupCause != "session-timer" {
		t.Fatalf("CDR hung up by %q for %q; want system, session-timer", cdr.HangupBy, cdr.HangupCause)
	}
	if secs := cdr.End.Sub(*cdr.Answer).Seconds(); secs < 1.2 || secs > 5 {
		t.Errorf("ended %.2f s after the answer; want about 1.33 s (2 s minus a third)", secs)
	}
	if got := metricValue(h.metrics(), `hotline_calls_system_hangups_total{cause="session-timer"}`); got != 1 {
		t.Errorf("system hangups for session-timer = %v, want 1", got)
	}
}

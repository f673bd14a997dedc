package sip

import (
	"context"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/emiago/sipgo"
	"github.com/emiago/sipgo/sip"
	"github.com/hotline-cc/hotline/clock"
)

func TestNegotiateSessionTimer(t *testing.T) {
	cfg := SessionTimers{Expires: 1800 * time.Second, MinSE: 90 * time.Second}
	tests := []struct {
		name      string
		headers   map[string]string
		off       bool
		wantSmall bool
		want      sessionTerms
	}{
		{"uac refreshes", map[string]string{"Session-Expires": "90;refresher=uac", "Supported": "100rel, timer"}, false, false,
			sessionTerms{90 * time.Second, false, true}},
		{"compact forms", map[string]string{"x": "120;refresher=uac", "k": "timer"}, false, false,
			sessionTerms{120 * time.Second, false, true}},
		{"refresher unnamed: we refresh", map[string]string{"Session-Expires": "600", "Supported": "timer"}, false, false,
			sessionTerms{600 * time.Second, true, true}},
		{"too small from a uac with timer", map[string]string{"Session-Expires": "60", "Supported": "timer"}, false, true, sessionTerms{}},
		{"too small from a uac without timer is raised", map[string]string{"Session-Expires": "60;refresher=uac"}, false, false,
			sessionTerms{90 * time.Second, true, false}},
		{"long interval shortened to ours", map[string]string{"Session-Expires": "7200;refresher=uac", "Supported": "timer"}, false, false,
			sessionTerms{1800 * time.Second, false, true}},
		{"their Min-SE above ours", map[string]string{"Session-Expires": "7200", "Min-SE": "3600", "Supported": "timer"}, false, false,
			sessionTerms{3600 * time.Second, true, true}},
		{"no Session-Expires, timer supported: ours", map[string]string{"Supported": "timer"}, false, false,
			sessionTerms{1800 * time.Second, true, true}},
		{"no Session-Expires, no timer: none", map[string]string{}, false, false, sessionTerms{}},
		{"garbage Session-Expires, no timer: none", map[string]string{"Session-Expires": "soon"}, false, false, sessionTerms{}},
		{"session timers off", map[string]string{"Session-Expires": "90;refresher=uac", "Supported": "timer"}, true, false, sessionTerms{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req := sip.NewRequest(sip.INVITE, sip.Uri{Scheme: "sip", Host: "127.0.0.1"})
			for k, v := range tt.headers {
				req.AppendHeader(sip.NewHeader(k, v))
			}
			c := cfg
			if tt.off {
				c.Expires = 0
			}
			got, small := c.negotiate(req)
			if small != tt.wantSmall || (!small && got != tt.want) {
				t.Fatalf("negotiate = %+v, %v; want %+v, %v", got, small, tt.want, tt.wantSmall)
			}
		})
	}
}

func TestExpiryAfter(t *testing.T) {
	for _, tt := range []struct{ interval, want time.Duration }{
		{90 * time.Second, 60 * time.Second},     // a third is less than 32 s
		{1800 * time.Second, 1768 * time.Second}, // 32 s
	} {
		if got := expiryAfter(tt.interval); got != tt.want {
			t.Errorf("expiryAfter(%s) = %s, want %s", tt.interval, got, tt.want)
		}
	}
}

// fakeClock adapts a clock.Fake to the sip package's Clock.
type fakeClock struct{ *clock.Fake }

func (c fakeClock) AfterFunc(d time.Duration, f func()) func() bool {
	return c.Fake.AfterFunc(d, f).Stop
}

// timerRig is a server with session timers on a fake clock and a carrier
// whose in-dialog requests from us land on channels.
type timerRig struct {
	ts      *testServer
	clk     *clock.Fake
	carrier *phone
	byes    chan *sip.Request
	invites chan *sip.Request
	acks    chan *sip.Request
	// answer is how the carrier answers our re-INVITEs.
	answer chan int
}

func newTimerRig(t *testing.T) *timerRig {
	r := &timerRig{
		clk:     clock.NewFake(time.Date(2026, 11, 23, 9, 0, 0, 0, time.UTC)),
		carrier: newPhone(t),
		byes:    make(chan *sip.Request, 4),
		invites: make(chan *sip.Request, 4),
		acks:    make(chan *sip.Request, 4),
		answer:  make(chan int, 4),
	}
	r.ts = startServer(t, func(c *Config) {
		c.SessionTimers = SessionTimers{Expires: 1800 * time.Second, MinSE: 90 * time.Second}
		c.Clock = fakeClock{r.clk}
	})
	r.carrier.srv.OnInvite(func(req *sip.Request, tx sip.ServerTransaction) {
		r.invites <- req
		code := <-r.answer
		res := sip.NewResponseFromRequest(req, code, "", nil)
		if code == 200 {
			res = sip.NewSDPResponseFromRequest(req, carrierOffer)
			// We sent the refresh: uac is us, and we go on refreshing.
			res.AppendHeader(sip.NewHeader("Session-Expires", "90;refresher=uac"))
			res.AppendHeader(sip.NewHeader("Require", "timer"))
		}
		_ = tx.Respond(res)
	})
	r.carrier.srv.OnAck(func(req *sip.Request, tx sip.ServerTransaction) { r.acks <- req })
	// Handlers are set before any traffic: sipgo's handler map is not
	// safe to change while it serves.
	r.carrier.srv.OnBye(func(req *sip.Request, tx sip.ServerTransaction) {
		_ = tx.Respond(sip.NewResponseFromRequest(req, 200, "OK", nil))
		r.byes <- req
	})
	return r
}

// call places a carrier call whose INVITE carries headers, and returns
// its dialog and our leg.
func (r *timerRig) call(ctx context.Context, t *testing.T, headers ...sip.Header) (*sipgo.DialogClientSession, *InboundCall) {
	t.Helper()
	dua := sipgo.DialogUA{Client: r.carrier.client, ContactHDR: sip.ContactHeader{Address: sip.Uri{Scheme: "sip", Host: "127.0.0.1", Port: int(r.carrier.addr.Port())}}}
	req := inviteRequest(r.ts.Addr(), "100", carrierOffer)
	for _, h := range headers {
		req.AppendHeader(h)
	}
	sess, err := dua.WriteInvite(ctx, req)
	if err != nil {
		t.Fatal(err)
	}
	if err := sess.WaitAnswer(ctx, sipgo.AnswerOptions{}); err != nil {
		t.Fatal(err)
	}
	if err := sess.Ack(ctx); err != nil {
		t.Fatal(err)
	}
	call := r.ts.takeCall(ctx, t)
	t.Cleanup(func() {
		hctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = call.Hangup(hctx, "test-end")
	})
	return sess, call
}

// settle waits until the session timer has armed its next deadline.
func (r *timerRig) settle(ctx context.Context, t *testing.T) {
	t.Helper()
	if err := r.clk.WaitForTimers(ctx, 1); err != nil {
		t.Fatal("the session timer armed no deadline")
	}
}

func waitRequest(ctx context.Context, t *testing.T, ch <-chan *sip.Request, what string) *sip.Request {
	t.Helper()
	select {
	case req := <-ch:
		return req
	case <-ctx.Done():
		t.Fatalf("no %s", what)
		return nil
	}
}

func header(msg headerReader, name string) string {
	v, _ := headerValue(msg, name)
	return v
}

func uacTimer(seconds, refresher string) []sip.Header {
	return []sip.Header{sip.NewHeader("Session-Expires", seconds+";refresher="+refresher), sip.NewHeader("Supported", "timer")}
}

func TestSessionTimerUACRefresher(t *testing.T) {
	t.Run("no refresh: we send BYE", func(t *testing.T) {
		r := newTimerRig(t)
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		sess, call := r.call(ctx, t, uacTimer("90", "uac")...)
		res := sess.InviteResponse
		if got := header(res, "Session-Expires"); got != "90;refresher=uac" {
			t.Errorf("Session-Expires %q, want 90;refresher=uac", got)
		}
		if got := header(res, "Require"); got != "timer" {
			t.Errorf("Require %q, want timer", got)
		}
		if !supportsTimer(res) {
			t.Errorf("our 200 lacks Supported: timer")
		}
		r.settle(ctx, t)
		r.clk.Advance(expiryAfter(90*time.Second) - time.Second)
		r.settle(ctx, t) // still armed: a second before the deadline nothing happens
		select {
		case <-call.Done():
			t.Fatal("leg ended before the deadline")
		default:
		}
		r.clk.Advance(time.Second)
		waitRequest(ctx, t, r.byes, "BYE after the session expired")
		select {
		case <-call.Done():
		case <-ctx.Done():
			t.Fatal("leg not ended")
		}
		if side, cause := call.Ended(); side != HangupLocal || cause != "session-timer" {
			t.Fatalf("Ended = %s %s, want local session-timer", side, cause)
		}
	})
	t.Run("a refresh keeps the call", func(t *testing.T) {
		r := newTimerRig(t)
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		sess, call := r.call(ctx, t, uacTimer("90", "uac")...)
		r.settle(ctx, t)
		r.clk.Advance(45 * time.Second)
		target := sess.InviteResponse.Contact().Address
		req := sip.NewRequest(sip.INVITE, target)
		req.SetBody(carrierOffer)
		req.AppendHeader(sip.NewHeader("Content-Type", "application/sdp"))
		for _, h := range uacTimer("120", "uac") {
			req.AppendHeader(h)
		}
		res, err := sess.Do(ctx, req)
		if err != nil {
			t.Fatal(err)
		}
		if res.StatusCode != 200 || header(res, "Session-Expires") != "120;refresher=uac" {
			t.Fatalf("refresh answered %d Session-Expires %q", res.StatusCode, header(res, "Session-Expires"))
		}
		if err := sess.WriteRequest(sip.NewRequest(sip.ACK, target)); err != nil {
			t.Fatal(err)
		}
		// Past the first deadline (60 s after the answer), not yet the new
		// one (88 s after the refresh).
		r.clk.Advance(60 * time.Second)
		r.settle(ctx, t)
		select {
		case <-call.Done():
			t.Fatal("refreshed leg ended at the old deadline")
		default:
		}
		r.clk.Advance(expiryAfter(120*time.Second) - 60*time.Second)
		waitRequest(ctx, t, r.byes, "BYE after the refreshed session expired")
	})
	t.Run("below our Min-SE: 422", func(t *testing.T) {
		r := newTimerRig(t)
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		req := inviteRequest(r.ts.Addr(), "100", carrierOffer)
		for _, h := range uacTimer("60", "uac") {
			req.AppendHeader(h)
		}
		res, err := r.carrier.client.Do(ctx, req)
		if err != nil {
			t.Fatal(err)
		}
		if res.StatusCode != 422 || header(res, "Min-SE") != "90" {
			t.Fatalf("answer %d Min-SE %q, want 422 with Min-SE 90", res.StatusCode, header(res, "Min-SE"))
		}
	})
	t.Run("a uac without timer gets none", func(t *testing.T) {
		r := newTimerRig(t)
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		sess, _ := r.call(ctx, t)
		if got := header(sess.InviteResponse, "Session-Expires"); got != "" {
			t.Fatalf("Session-Expires %q for a UAC that asked for none", got)
		}
		if !supportsTimer(sess.InviteResponse) {
			t.Errorf("our 200 lacks Supported: timer")
		}
		if n := r.clk.Pending(); n != 0 {
			t.Fatalf("%d timers armed for a call without session timer", n)
		}
	})
}

func TestSessionTimerWeRefresh(t *testing.T) {
	r := newTimerRig(t)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	sess, call := r.call(ctx, t, uacTimer("90", "uas")...)
	if got := header(sess.InviteResponse, "Session-Expires"); got != "90;refresher=uas" {
		t.Fatalf("Session-Expires %q, want 90;refresher=uas", got)
	}
	r.settle(ctx, t)

	// Half the interval: our refresh, with our last SDP and the timer.
	r.answer <- 200
	r.clk.Advance(45 * time.Second)
	inv := waitRequest(ctx, t, r.invites, "refresh re-INVITE")
	if got := header(inv, "Session-Expires"); got != "90;refresher=uac" {
		t.Errorf("refresh Session-Expires %q, want 90;refresher=uac (we send it, we refresh)", got)
	}
	if !supportsTimer(inv) || string(inv.Body()) != string(sess.InviteResponse.Body()) {
		t.Errorf("refresh lacks Supported: timer or changes the SDP:\n%s", inv.Body())
	}
	if to, _ := inv.To().Params.Get("tag"); to == "" || inv.CallID().Value() != sess.InviteRequest.CallID().Value() {
		t.Errorf("refresh outside the dialog: To %s Call-ID %s", inv.To().Value(), inv.CallID().Value())
	}
	ack := waitRequest(ctx, t, r.acks, "ACK of the refresh")
	if ack.CSeq().SeqNo != inv.CSeq().SeqNo {
		t.Errorf("ACK CSeq %d, refresh %d", ack.CSeq().SeqNo, inv.CSeq().SeqNo)
	}

	// The next refresh finds the dialog gone: BYE, cause session-timer.
	r.settle(ctx, t)
	r.answer <- 481
	r.clk.Advance(45 * time.Second)
	waitRequest(ctx, t, r.invites, "second refresh")
	waitRequest(ctx, t, r.byes, "BYE after 481")
	<-call.Done()
	if side, cause := call.Ended(); side != HangupLocal || cause != "session-timer" {
		t.Fatalf("Ended = %s %s", side, cause)
	}
	if !strings.Contains(header(inv, "Allow"), "INVITE") {
		t.Errorf("refresh Allow %q", header(inv, "Allow"))
	}
}

// TestAnswered: the 2xx to an INVITE we sent names the refresher from our
// side of that transaction: uac is us.
func TestAnswered(t *testing.T) {
	cur := sessionTerms{interval: 1800 * time.Second, weRefresh: true}
	for _, tt := range []struct {
		se   string
		want sessionTerms
	}{
		{"", cur},
		{"garbage", cur},
		{"90;refresher=uac", sessionTerms{90 * time.Second, true, true}},
		{"120;refresher=uas", sessionTerms{120 * time.Second, false, true}},
		{"600", sessionTerms{600 * time.Second, true, true}},
		{"1;refresher=uac", sessionTerms{90 * time.Second, true, true}}, // raised to our Min-SE
	} {
		res := sip.NewResponse(200, "OK")
		if tt.se != "" {
			res.AppendHeader(sip.NewHeader("Session-Expires", tt.se))
		}
		if got := (SessionTimers{Expires: time.Hour, MinSE: 90 * time.Second}).answered(res, cur); got != tt.want {
			t.Errorf("Session-Expires %q: %+v, want %+v", tt.se, got, tt.want)
		}
	}
}

// TestSessionTimerAgentLeg: we offer Supported: timer to the agent's
// phone; its 2xx makes us the refresher, so we re-INVITE at half the
// interval; its answer hands the refreshing to the phone, which then
// never refreshes: we hang the agent leg up, cause session-timer.
func TestSessionTimerAgentLeg(t *testing.T) {
	clk := clock.NewFake(time.Date(2026, 11, 23, 9, 0, 0, 0, time.UTC))
	ts := startServer(t, func(c *Config) {
		c.SessionTimers = SessionTimers{Expires: 1800 * time.Second, MinSE: 90 * time.Second}
		c.Clock = fakeClock{clk}
	})
	agentSDP := sdpOffer("v=0", "o=- 1 1 IN IP4 127.0.0.1", "s=-", "c=IN IP4 127.0.0.1", "t=0 0", "m=audio 31000 RTP/AVP 0 101", "a=rtpmap:101 telephone-event/8000")
	invites := make(chan *sip.Request, 4)
	var phonePort int
	agentPhone(t, ts, func(req *sip.Request, tx sip.ServerTransaction) {
		invites <- req
		res := sip.NewSDPResponseFromRequest(req, agentSDP)
		res.AppendHeader(&sip.ContactHeader{Address: sip.Uri{Scheme: "sip", Host: "127.0.0.1", Port: phonePort}})
		if to, _ := req.To().Params.Get("tag"); to == "" {
			// The initial INVITE: we (its UAC) refresh.
			res.AppendHeader(sip.NewHeader("Session-Expires", "90;refresher=uac"))
		} else {
			// Our refresh: the phone (its UAS) takes the refreshing over.
			res.AppendHeader(sip.NewHeader("Session-Expires", "90;refresher=uas"))
		}
		res.AppendHeader(sip.NewHeader("Require", "timer"))
		_ = tx.Respond(res)
	}, func(p *phone) { phonePort = int(p.addr.Port()) })
	b, _ := ts.Registrar().Lookup("1003")
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	leg, err := ts.Dial(ctx, DialRequest{Target: b, CallerID: "5551234", LocalRTP: netip.MustParseAddrPort("127.0.0.1:40002")})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = leg.Hangup(context.Background(), "test-end") })
	if inv := waitRequest(ctx, t, invites, "INVITE"); !supportsTimer(inv) {
		t.Errorf("our INVITE lacks Supported: timer")
	}
	if err := clk.WaitForTimers(ctx, 1); err != nil {
		t.Fatal("no session timer armed")
	}
	clk.Advance(45 * time.Second)
	refresh := waitRequest(ctx, t, invites, "refresh re-INVITE")
	if got := header(refresh, "Session-Expires"); got != "90;refresher=uac" {
		t.Errorf("refresh Session-Expires %q", got)
	}
	if err := clk.WaitForTimers(ctx, 1); err != nil {
		t.Fatal("no session timer armed after the refresh")
	}
	clk.Advance(expiryAfter(90 * time.Second))
	select {
	case <-leg.Done():
	case <-ctx.Done():
		t.Fatal("agent leg not ended")
	}
	if side, cause := leg.Ended(); side != HangupLocal || cause != "session-timer" {
		t.Fatalf("Ended = %s %s", side, cause)
	}
}

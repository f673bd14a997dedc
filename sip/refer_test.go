package sip

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"sync/atomic"
	"testing"
	"time"

	"github.com/emiago/sipgo"
	"github.com/emiago/sipgo/sip"
)

// referAgent is an agent phone in a call we placed, able to send in-dialog
// requests and collecting the NOTIFYs we send it.
type referAgent struct {
	p       *phone
	leg     *OutboundCall
	inv     *sip.Request  // our INVITE as the phone saw it
	ok200   *sip.Response // the phone's 200
	cseq    uint32
	notifys chan *sip.Request
	// notifyStatus is what the phone answers to NOTIFY.
	notifyStatus atomic.Int32
}

func dialReferAgent(ctx context.Context, t *testing.T, ts *testServer, notifyStatus int) *referAgent {
	t.Helper()
	agentSDP := sdpOffer("v=0", "o=- 1 1 IN IP4 127.0.0.1", "s=-", "c=IN IP4 127.0.0.1", "t=0 0", "m=audio 31000 RTP/AVP 0 101", "a=rtpmap:101 telephone-event/8000")
	a := &referAgent{notifys: make(chan *sip.Request, 8)}
	a.notifyStatus.Store(int32(notifyStatus))
	invites := make(chan *sip.Request, 1)
	a.p = agentPhone(t, ts, func(req *sip.Request, tx sip.ServerTransaction) {
		res := sip.NewSDPResponseFromRequest(req, agentSDP)
		res.AppendHeader(&sip.ContactHeader{Address: sip.Uri{Scheme: "sip", Host: "127.0.0.1", Port: req.Recipient.Port}})
		a.ok200 = res
		invites <- req
		_ = tx.Respond(res)
	}, func(p *phone) {
		p.srv.OnNotify(func(req *sip.Request, tx sip.ServerTransaction) {
			a.notifys <- req
			_ = tx.Respond(sip.NewResponseFromRequest(req, int(a.notifyStatus.Load()), "X", nil))
		})
	})
	b, _ := ts.Registrar().Lookup("1003")
	leg, err := ts.Dial(ctx, DialRequest{Target: b, CallerID: "5551234", LocalRTP: netip.MustParseAddrPort("127.0.0.1:40002")})
	if err != nil {
		t.Fatal(err)
	}
	a.leg, a.inv = leg, <-invites
	t.Cleanup(func() {
		hctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = leg.Hangup(hctx, "test-end")
	})
	return a
}

// refer sends an in-dialog REFER with the given Refer-To values (one header each).
func (a *referAgent) refer(ctx context.Context, t *testing.T, referTo ...string) *sip.Response {
	t.Helper()
	a.cseq++
	req := sip.NewRequest(sip.REFER, a.inv.Contact().Address)
	req.AppendHeader(&sip.FromHeader{Address: a.ok200.To().Address, Params: a.ok200.To().Params.Clone()})
	req.AppendHeader(&sip.ToHeader{Address: a.inv.From().Address, Params: a.inv.From().Params.Clone()})
	req.AppendHeader(sip.HeaderClone(a.inv.CallID()))
	req.AppendHeader(&sip.CSeqHeader{SeqNo: a.cseq, MethodName: sip.REFER})
	req.AppendHeader(&sip.ContactHeader{Address: sip.Uri{Scheme: "sip", Host: "127.0.0.1", Port: int(a.p.addr.Port())}})
	for _, v := range referTo {
		req.AppendHeader(sip.NewHeader("Refer-To", v))
	}
	req.AppendHeader(sip.NewHeader("Referred-By", "<sip:1003@127.0.0.1>"))
	res, err := a.p.client.Do(ctx, req)
	if err != nil {
		t.Fatal(err)
	}
	return res
}

func (a *referAgent) waitNotify(t *testing.T) *sip.Request {
	t.Helper()
	select {
	case n := <-a.notifys:
		return n
	case <-time.After(5 * time.Second):
		t.Fatal("no NOTIFY")
	}
	return nil
}

func checkNotify(t *testing.T, n *sip.Request, event, state, body string) {
	t.Helper()
	get := func(name string) string {
		if h := n.GetHeader(name); h != nil {
			return h.Value()
		}
		return ""
	}
	if got := get("Event"); got != event {
		t.Errorf("NOTIFY Event %q, want %q", got, event)
	}
	if got := get("Subscription-State"); got != state {
		t.Errorf("NOTIFY Subscription-State %q, want %q", got, state)
	}
	if got := get("Content-Type"); got != "message/sipfrag;version=2.0" {
		t.Errorf("NOTIFY Content-Type %q", got)
	}
	if got := string(n.Body()); got != body {
		t.Errorf("NOTIFY body %q, want %q", got, body)
	}
	if n.Contact() == nil {
		t.Error("NOTIFY without Contact")
	}
}

// TestOutboundRefer: the agent's phone blind-transfers with REFER; we answer 202,
// send NOTIFY 100 Trying on our own, and the owner's final NOTIFY ends the
// subscription (RFC 3515 §2.4).
func TestOutboundRefer(t *testing.T) {
	ts := startServer(t)
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	a := dialReferAgent(ctx, t, ts, 200)

	if err := a.leg.NotifyRefer(ctx, 200, "OK"); !errors.Is(err, ErrNoReferSubscription) {
		t.Errorf("NotifyRefer with no REFER: %v, want ErrNoReferSubscription", err)
	}
	// No callback yet: 501.
	if res := a.refer(ctx, t, "<sip:sales@127.0.0.1>"); res.StatusCode != 501 {
		t.Fatalf("REFER without callback: %d, want 501", res.StatusCode)
	}

	got := make(chan ReferRequest, 4)
	var decline atomic.Bool
	a.leg.OnRefer(func(r ReferRequest) bool {
		got <- r
		return !decline.Load()
	})
	res := a.refer(ctx, t, "<sip:sales@127.0.0.1:5060;transport=udp>")
	if res.StatusCode != 202 {
		t.Fatalf("REFER: %d, want 202", res.StatusCode)
	}
	r := <-got
	if r.Target != "sales" || r.ReferredBy != "<sip:1003@127.0.0.1>" || r.URI == "" {
		t.Errorf("callback got %+v", r)
	}
	event := "refer;id=" + itoa(int(a.cseq))
	checkNotify(t, a.waitNotify(t), event, "active;expires=60", "SIP/2.0 100 Trying\r\n")

	// Another REFER while the first is in progress.
	if res := a.refer(ctx, t, "<sip:support@127.0.0.1>"); res.StatusCode != 491 {
		t.Errorf("second REFER during a transfer: %d, want 491", res.StatusCode)
	}
	if err := a.leg.NotifyRefer(ctx, 180, "Ringing"); err != nil {
		t.Fatal(err)
	}
	checkNotify(t, a.waitNotify(t), event, "active;expires=60", "SIP/2.0 180 Ringing\r\n")
	if err := a.leg.NotifyRefer(ctx, 200, "OK"); err != nil {
		t.Fatal(err)
	}
	n := a.waitNotify(t)
	checkNotify(t, n, event, "terminated;reason=noresource", "SIP/2.0 200 OK\r\n")
	if n.CallID() == nil || string(*n.CallID()) != a.leg.ID || n.From().Params.String() != a.inv.From().Params.String() {
		t.Errorf("NOTIFY not in the leg's dialog: %s", n.String())
	}
	if err := a.leg.NotifyRefer(ctx, 200, "OK"); !errors.Is(err, ErrNoReferSubscription) {
		t.Errorf("NotifyRefer after the final one: %v", err)
	}

	// Declined by the owner.
	decline.Store(true)
	if res := a.refer(ctx, t, "<sip:support@127.0.0.1>"); res.StatusCode != 603 {
		t.Errorf("declined REFER: %d, want 603", res.StatusCode)
	}
	<-got

	decline.Store(false)
	for _, tt := range []struct {
		name    string
		referTo []string
		want    int
	}{
		{"two Refer-To", []string{"<sip:a@127.0.0.1>", "<sip:b@127.0.0.1>"}, 400},
		{"two in one header", []string{"<sip:a@127.0.0.1>, <sip:b@127.0.0.1>"}, 400},
		{"none", nil, 400},
		{"tel URI", []string{"<tel:+15551234>"}, 400},
		{"bad user", []string{"<sip:sa%22les@127.0.0.1>"}, 400},
		{"no user", []string{"<sip:127.0.0.1>"}, 400},
		{"too long", []string{"<sip:12345678901234567890123456789012345678901234567890123456789012345@127.0.0.1>"}, 400},
		{"Replaces without tags", []string{"<sip:1004@127.0.0.1?Replaces=abc%40host>"}, 400},
		{"Replaces badly escaped", []string{"<sip:1004@127.0.0.1?Replaces=abc%4%3Bto-tag%3D1%3Bfrom-tag%3D2>"}, 400},
	} {
		if res := a.refer(ctx, t, tt.referTo...); res.StatusCode != tt.want {
			t.Errorf("%s: %d, want %d", tt.name, res.StatusCode, tt.want)
		}
	}
	select {
	case r := <-got:
		t.Errorf("refused REFER reached the callback: %+v", r)
	default:
	}

	// An attended transfer: Replaces is unescaped and parsed, and names the
	// dialog with its tags in either order.
	if res := a.refer(ctx, t, "<sip:1004@127.0.0.1?Replaces=abc%40host%3Bto-tag%3D1%3Bfrom-tag%3D2%3Bearly-only>"); res.StatusCode != 202 {
		t.Fatalf("attended REFER: %d, want 202", res.StatusCode)
	}
	if r := <-got; r.Target != "1004" || r.Replaces == nil ||
		*r.Replaces != (Replaces{CallID: "abc@host", ToTag: "1", FromTag: "2", EarlyOnly: true}) {
		t.Errorf("attended REFER reached the owner as %+v (replaces %+v)", r, r.Replaces)
	} else if !r.Replaces.matchesDialog(sip.DialogIDMake("abc@host", "2", "1")) || r.Replaces.matchesDialog(sip.DialogIDMake("abc@host", "2", "3")) {
		t.Error("Replaces matching is wrong")
	}
	a.waitNotify(t)
	if err := a.leg.NotifyRefer(ctx, 200, "OK"); err != nil {
		t.Fatal(err)
	}
	a.waitNotify(t)

	// An escaped user part is unescaped; the phone answering 481 to a NOTIFY is
	// an error for the owner, and the subscription ends with the final one.
	a.notifyStatus.Store(481)
	if res := a.refer(ctx, t, "sip:%2B4930%2A1@127.0.0.1"); res.StatusCode != 202 {
		t.Fatalf("escaped REFER: %d", res.StatusCode)
	}
	if r := <-got; r.Target != "+4930*1" {
		t.Errorf("escaped target %q", r.Target)
	}
	a.waitNotify(t)
	if err := a.leg.NotifyRefer(ctx, 503, "Service Unavailable"); err == nil {
		t.Error("NotifyRefer answered 481: no error")
	}
	checkNotify(t, a.waitNotify(t), "refer;id="+itoa(int(a.cseq)), "terminated;reason=noresource", "SIP/2.0 503 Service Unavailable\r\n")
	a.notifyStatus.Store(200)
	if res := a.refer(ctx, t, "<sip:sales@127.0.0.1>"); res.StatusCode != 202 {
		t.Errorf("REFER after a failed transfer: %d, want 202", res.StatusCode)
	}
	<-got
	a.waitNotify(t)

	// After the leg ends, NotifyRefer fails cleanly.
	if err := a.leg.Hangup(ctx, "test"); err != nil {
		t.Fatal(err)
	}
	if err := a.leg.NotifyRefer(ctx, 200, "OK"); !errors.Is(err, ErrLegEnded) {
		t.Errorf("NotifyRefer after hangup: %v, want ErrLegEnded", err)
	}
}

// TestReferUnknownDialog: a REFER matching no leg gets 481.
func TestReferUnknownDialog(t *testing.T) {
	ts := startServer(t)
	p := newPhone(t)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	req := sip.NewRequest(sip.REFER, sip.Uri{Scheme: "sip", Host: "127.0.0.1", Port: int(ts.Addr().Port())})
	from := &sip.FromHeader{Address: sip.Uri{Scheme: "sip", Host: "127.0.0.1"}, Params: sip.NewParams()}
	from.Params.Add("tag", "x")
	req.AppendHeader(from)
	to := &sip.ToHeader{Address: sip.Uri{Scheme: "sip", Host: "127.0.0.1"}, Params: sip.NewParams()}
	to.Params.Add("tag", "y")
	req.AppendHeader(to)
	req.AppendHeader(sip.NewHeader("Refer-To", "<sip:sales@127.0.0.1>"))
	res, err := p.client.Do(ctx, req)
	if err != nil {
		t.Fatal(err)
	}
	if res.StatusCode != 481 {
		t.Fatalf("REFER for unknown dialog: %d, want 481", res.StatusCode)
	}
}

func TestParseReferTarget(t *testing.T) {
	for s, want := range map[string]bool{"sales": true, "+4930*1#": true, "a.b_c-d": true, "": false, "a b": false, "a;b": false, "ä": false} {
		if got := validReferTarget(s); got != want {
			t.Errorf("validReferTarget(%q) = %v, want %v", s, got, want)
		}
	}
}

// TestInboundRefer: the caller's leg takes REFER the same way once answered.
func TestInboundRefer(t *testing.T) {
	ts := startServer(t)
	carrier := newPhone(t)
	notifys := make(chan *sip.Request, 4)
	carrier.srv.OnNotify(func(req *sip.Request, tx sip.ServerTransaction) {
		notifys <- req
		_ = tx.Respond(sip.NewResponseFromRequest(req, 200, "OK", nil))
	})
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	sess := carrier.invite(ctx, t, ts.Addr(), "100")
	if err := sess.WaitAnswer(ctx, sipgo.AnswerOptions{}); err != nil {
		t.Fatal(err)
	}
	if err := sess.Ack(ctx); err != nil {
		t.Fatal(err)
	}
	call := takeCall(ctx, t, ts, carrier)
	targets := make(chan string, 1)
	call.OnRefer(func(r ReferRequest) bool { targets <- r.Target; return true })
	req := sip.NewRequest(sip.REFER, sess.InviteResponse.Contact().Address)
	req.AppendHeader(sip.NewHeader("Refer-To", "<sip:1004@127.0.0.1>"))
	res, err := sess.Do(ctx, req)
	if err != nil {
		t.Fatal(err)
	}
	if res.StatusCode != 202 {
		t.Fatalf("REFER: %d, want 202", res.StatusCode)
	}
	if got := <-targets; got != "1004" {
		t.Errorf("target %q", got)
	}
	wait := func() *sip.Request {
		select {
		case n := <-notifys:
			return n
		case <-ctx.Done():
			t.Fatal("no NOTIFY")
		}
		return nil
	}
	event := "refer;id=" + itoa(int(req.CSeq().SeqNo))
	checkNotify(t, wait(), event, "active;expires=60", "SIP/2.0 100 Trying\r\n")
	if err := call.NotifyRefer(ctx, 486, "Busy Here"); err != nil {
		t.Fatal(err)
	}
	checkNotify(t, wait(), event, "terminated;reason=noresource", "SIP/2.0 486 Busy Here\r\n")
}

// TestReferFinishedAtOnce: an owner that completes the transfer as soon as
// it hears of it (a blind transfer to a queue: hotline takes the call over
// at once) still sends its final NOTIFY after the 202 and the 100 Trying,
// never before them and never to no subscription; the BYE it sends next
// must not overtake them.
func TestReferFinishedAtOnce(t *testing.T) {
	ts := startServer(t)
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	a := dialReferAgent(ctx, t, ts, 200)
	notified := make(chan error, 1)
	var early error
	a.leg.OnRefer(func(ReferRequest) bool {
		go func() { notified <- a.leg.NotifyRefer(ctx, 200, "OK") }()
		// Give the owner's NOTIFY every chance to go first: it must wait for
		// the subscription's first NOTIFY instead of returning now.
		select {
		case err := <-notified:
			early = fmt.Errorf("NotifyRefer returned before the 202 went out: %v", err)
		case <-time.After(100 * time.Millisecond):
		}
		return true
	})
	if res := a.refer(ctx, t, "<sip:sales@127.0.0.1>"); res.StatusCode != 202 {
		t.Fatalf("REFER: %d, want 202", res.StatusCode)
	}
	event := "refer;id=" + itoa(int(a.cseq))
	checkNotify(t, a.waitNotify(t), event, "active;expires=60", "SIP/2.0 100 Trying\r\n")
	checkNotify(t, a.waitNotify(t), event, "terminated;reason=noresource", "SIP/2.0 200 OK\r\n")
	if early != nil {
		t.Fatal(early)
	}
	if err := <-notified; err != nil {
		t.Fatalf("the owner's final NotifyRefer: %v", err)
	}
}

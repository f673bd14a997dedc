package sip

import (
	"context"
	"errors"
	"net/netip"
	"slices"
	"testing"
	"time"

	"github.com/emiago/sipgo"
	"github.com/emiago/sipgo/sip"
	"github.com/pion/sdp/v3"
)

func TestAnswerDirection(t *testing.T) {
	live := netip.MustParseAddrPort("192.0.2.1:4000")
	hold4 := netip.MustParseAddrPort("0.0.0.0:4000")
	hold6 := netip.MustParseAddrPort("[::]:4000")
	tests := []struct {
		addr netip.AddrPort
		dir  Direction
		want Direction
		held bool
	}{
		{live, DirectionSendRecv, DirectionSendRecv, false},
		{live, DirectionUnknown, DirectionSendRecv, false},
		{live, DirectionSendOnly, DirectionRecvOnly, true},
		{live, DirectionRecvOnly, DirectionSendOnly, false},
		{live, DirectionInactive, DirectionInactive, true},
		{hold4, DirectionSendRecv, DirectionRecvOnly, true},
		{hold6, DirectionSendRecv, DirectionRecvOnly, true},
		{hold4, DirectionSendOnly, DirectionRecvOnly, true},
		{hold4, DirectionRecvOnly, DirectionInactive, true},
		{hold4, DirectionInactive, DirectionInactive, true},
	}
	for _, tt := range tests {
		o := MediaOffer{Addr: tt.addr, Direction: tt.dir}
		if got := answerDirection(o); got != tt.want {
			t.Errorf("%s %s: answer %s, want %s", tt.addr, tt.dir, got, tt.want)
		}
		if o.Held() != tt.held {
			t.Errorf("%s %s: Held = %v, want %v", tt.addr, tt.dir, o.Held(), tt.held)
		}
	}
	if (MediaOffer{}).Held() {
		t.Error("the zero MediaOffer counts as held")
	}
}

func TestReanswer(t *testing.T) {
	spec := SessionSpec{Addr: netip.MustParseAddrPort("127.0.0.1:20000"), SessionID: 5, SessionVersion: 5,
		PayloadTypes: []uint8{PayloadPCMU}, DTMFPayloadType: 101}
	body, err := BuildSDP(spec)
	if err != nil {
		t.Fatal(err)
	}
	start := mediaState{spec: spec, sdp: body, pt: PayloadPCMU}
	offer := func(dir Direction, pts ...uint8) MediaOffer {
		return MediaOffer{Addr: netip.MustParseAddrPort("192.0.2.1:4000"), PayloadTypes: pts, DTMFPayloadType: 101, Direction: dir}
	}

	same, err := reanswer(start, offer(DirectionSendRecv, PayloadPCMA, PayloadPCMU))
	if err != nil {
		t.Fatal(err)
	}
	if same.pt != PayloadPCMU || same.spec.SessionVersion != 5 || string(same.sdp) != string(body) {
		t.Errorf("refresh: pt %d version %d; want the codec in use and the same SDP", same.pt, same.spec.SessionVersion)
	}
	held, err := reanswer(start, offer(DirectionSendOnly, PayloadPCMU))
	if err != nil {
		t.Fatal(err)
	}
	if held.spec.SessionVersion != 6 || held.spec.Direction != DirectionRecvOnly {
		t.Errorf("hold: version %d direction %s, want 6 recvonly", held.spec.SessionVersion, held.spec.Direction)
	}
	switched, err := reanswer(held, offer(DirectionSendRecv, 18, PayloadPCMA))
	if err != nil {
		t.Fatal(err)
	}
	if switched.pt != PayloadPCMA || switched.spec.SessionVersion != 7 || !slices.Equal(switched.spec.PayloadTypes, []uint8{PayloadPCMA}) {
		t.Errorf("switch: %+v", switched.spec)
	}
	if _, err := reanswer(switched, offer(DirectionSendRecv, 18, 9)); !errors.Is(err, errNoCommonCodec) {
		t.Errorf("G.729 and G.722 only: err %v, want errNoCommonCodec", err)
	}
}

// reinviteResult is what a test reads from our 200 to a re-INVITE.
type reinviteResult struct {
	status  int
	answer  MediaOffer
	version uint64
	contact *sip.ContactHeader
	res     *sip.Response
}

func readAnswer(t *testing.T, res *sip.Response) reinviteResult {
	t.Helper()
	r := reinviteResult{status: res.StatusCode, contact: res.Contact(), res: res}
	if res.StatusCode != 200 {
		return r
	}
	var err error
	if r.answer, err = ParseSDP(res.Body()); err != nil {
		t.Fatalf("answer to re-INVITE: %v\n%s", err, res.Body())
	}
	var sd sdp.SessionDescription
	if err := sd.Unmarshal(res.Body()); err != nil {
		t.Fatal(err)
	}
	r.version = sd.Origin.SessionVersion
	return r
}

func reofferSDP(conn string, dir string, formats string, extra ...string) []byte {
	lines := []string{"v=0", "o=- 1 2 IN IP4 127.0.0.1", "s=-", "c=IN IP4 " + conn, "t=0 0", "m=audio 30000 RTP/AVP " + formats}
	lines = append(lines, extra...)
	if dir != "" {
		lines = append(lines, "a="+dir)
	}
	return sdpOffer(lines...)
}

// carrierReinvite sends a re-INVITE in the carrier's dialog and ACKs a 2xx.
func carrierReinvite(ctx context.Context, t *testing.T, sess *sipgo.DialogClientSession, body []byte) reinviteResult {
	t.Helper()
	target := sess.InviteResponse.Contact().Address
	req := sip.NewRequest(sip.INVITE, target)
	if body != nil {
		req.SetBody(body)
		req.AppendHeader(sip.NewHeader("Content-Type", "application/sdp"))
	}
	res, err := sess.Do(ctx, req)
	if err != nil {
		t.Fatal(err)
	}
	if res.IsSuccess() {
		if err := sess.WriteRequest(sip.NewRequest(sip.ACK, target)); err != nil {
			t.Fatal(err)
		}
	}
	return readAnswer(t, res)
}

// takeCall waits for the answered call and makes sure it ends with the test: the
// server's Run waits for its handler, which waits for the call to end.
func takeCall(ctx context.Context, t *testing.T, ts *testServer, carrier *phone) *InboundCall {
	t.Helper()
	carrier.srv.OnBye(func(req *sip.Request, tx sip.ServerTransaction) {
		_ = tx.Respond(sip.NewResponseFromRequest(req, 200, "OK", nil))
	})
	call := ts.takeCall(ctx, t)
	t.Cleanup(func() {
		hctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = call.Hangup(hctx, "test-end")
	})
	return call
}

func waitReoffer(t *testing.T, ch <-chan MediaOffer) MediaOffer {
	t.Helper()
	select {
	case o := <-ch:
		return o
	case <-time.After(5 * time.Second):
		t.Fatal("OnReoffer not called")
	}
	return MediaOffer{}
}

// TestInboundReinvite: the carrier holds, resumes, refreshes, changes codec and
// offers what we cannot take; each answer follows RFC 3264 §8.
func TestInboundReinvite(t *testing.T) {
	ts := startServer(t)
	carrier := newPhone(t)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	dua := sipgo.DialogUA{Client: carrier.client, ContactHDR: sip.ContactHeader{Address: sip.Uri{Scheme: "sip", Host: "127.0.0.1", Port: int(carrier.addr.Port())}}}
	pcmu := "0 101"
	dtmf := "a=rtpmap:101 telephone-event/8000"
	sess, err := dua.WriteInvite(ctx, inviteRequest(ts.Addr(), "100", reofferSDP("127.0.0.1", "", pcmu, dtmf)))
	if err != nil {
		t.Fatal(err)
	}
	if err := sess.WaitAnswer(ctx, sipgo.AnswerOptions{}); err != nil {
		t.Fatal(err)
	}
	if err := sess.Ack(ctx); err != nil {
		t.Fatal(err)
	}
	first := readAnswer(t, sess.InviteResponse)
	call := takeCall(ctx, t, ts, carrier)
	if call.PayloadType != PayloadPCMU || call.CurrentPayloadType() != PayloadPCMU || call.Offer.PayloadType != PayloadPCMU {
		t.Fatalf("call codec %d/%d, want PCMU", call.PayloadType, call.CurrentPayloadType())
	}
	offers := make(chan MediaOffer, 1)
	call.OnReoffer(func(o MediaOffer) { offers <- o })

	// check asserts one 200 answer: direction, version, a single codec, our
	// unchanged RTP address, the offer's DTMF and a Contact.
	check := func(name string, r reinviteResult, dir Direction, version uint64, pt uint8) {
		t.Helper()
		if r.status != 200 {
			t.Fatalf("%s: status %d, want 200", name, r.status)
		}
		if r.answer.Direction != dir || r.version != version {
			t.Errorf("%s: %s version %d, want %s version %d", name, r.answer.Direction, r.version, dir, version)
		}
		if !slices.Equal(r.answer.PayloadTypes, []uint8{pt}) || r.answer.DTMFPayloadType != 101 {
			t.Errorf("%s: codecs %v dtmf %d, want [%d] and 101", name, r.answer.PayloadTypes, r.answer.DTMFPayloadType, pt)
		}
		if r.answer.Addr != first.answer.Addr {
			t.Errorf("%s: our RTP address moved from %s to %s", name, first.answer.Addr, r.answer.Addr)
		}
		if r.contact == nil || r.contact.Address.Port != int(ts.Addr().Port()) {
			t.Errorf("%s: Contact %v, want ours", name, r.contact)
		}
	}

	v := first.version
	r := carrierReinvite(ctx, t, sess, reofferSDP("127.0.0.1", "sendonly", pcmu, dtmf))
	check("hold", r, DirectionRecvOnly, v+1, PayloadPCMU)
	if o := waitReoffer(t, offers); !o.Held() || o.PayloadType != PayloadPCMU {
		t.Errorf("hold: callback saw held %v codec %d", o.Held(), o.PayloadType)
	}

	r = carrierReinvite(ctx, t, sess, reofferSDP("127.0.0.1", "sendrecv", pcmu, dtmf))
	check("resume", r, DirectionSendRecv, v+2, PayloadPCMU)
	if o := waitReoffer(t, offers); o.Held() {
		t.Error("resume: callback saw a hold")
	}

	r = carrierReinvite(ctx, t, sess, reofferSDP("127.0.0.1", "sendrecv", pcmu, dtmf))
	check("session refresh", r, DirectionSendRecv, v+2, PayloadPCMU)
	waitReoffer(t, offers)

	r = carrierReinvite(ctx, t, sess, reofferSDP("127.0.0.1", "inactive", pcmu, dtmf))
	check("inactive", r, DirectionInactive, v+3, PayloadPCMU)
	if o := waitReoffer(t, offers); !o.Held() {
		t.Error("inactive: callback saw no hold")
	}

	r = carrierReinvite(ctx, t, sess, reofferSDP("0.0.0.0", "", pcmu, dtmf))
	check("c=0.0.0.0", r, DirectionRecvOnly, v+4, PayloadPCMU)
	if o := waitReoffer(t, offers); !o.Held() {
		t.Error("c=0.0.0.0: callback saw no hold")
	}

	r = carrierReinvite(ctx, t, sess, reofferSDP("127.0.0.1", "", "8 101", dtmf))
	check("PCMA only", r, DirectionSendRecv, v+5, PayloadPCMA)
	if o := waitReoffer(t, offers); o.PayloadType != PayloadPCMA || o.Held() {
		t.Errorf("PCMA only: callback saw codec %d held %v", o.PayloadType, o.Held())
	}
	if call.CurrentPayloadType() != PayloadPCMA || call.PayloadType != PayloadPCMU {
		t.Errorf("after the switch: current %d, initial %d; want 8 and 0", call.CurrentPayloadType(), call.PayloadType)
	}

	r = carrierReinvite(ctx, t, sess, reofferSDP("127.0.0.1", "", "18", "a=rtpmap:18 G729/8000"))
	if r.status != 488 {
		t.Fatalf("G.729 only: status %d, want 488", r.status)
	}
	select {
	case o := <-offers:
		t.Errorf("a refused offer reached the callback: %+v", o)
	default:
	}
	if call.CurrentPayloadType() != PayloadPCMA {
		t.Errorf("a refused offer changed the codec to %d", call.CurrentPayloadType())
	}

	// Still up after the 488; PCMA is kept while the offer has it, even second.
	r = carrierReinvite(ctx, t, sess, reofferSDP("127.0.0.1", "", "0 8 101", dtmf))
	check("after 488", r, DirectionSendRecv, v+5, PayloadPCMA)
	waitReoffer(t, offers)

	// No offer: the 200 carries the SDP we last sent (RFC 3261 §14.2).
	r = carrierReinvite(ctx, t, sess, nil)
	check("no sdp", r, DirectionSendRecv, v+5, PayloadPCMA)

	r = carrierReinvite(ctx, t, sess, []byte("not sdp at all"))
	if r.status != 488 {
		t.Errorf("garbage sdp: status %d, want 488", r.status)
	}

	select {
	case <-call.Done():
		t.Fatal("the leg ended")
	default:
	}
}

// TestReinviteWhileAnotherIsPending: a second re-INVITE before our final answer
// to the first gets 500 with Retry-After (RFC 3261 §14.2).
func TestReinviteWhileAnotherIsPending(t *testing.T) {
	ts := startServer(t)
	carrier := newPhone(t)
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
	entered, release := make(chan struct{}), make(chan struct{})
	call.OnReoffer(func(MediaOffer) {
		close(entered)
		<-release
	})
	target := sess.InviteResponse.Contact().Address
	done := make(chan int, 1)
	go func() {
		req := sip.NewRequest(sip.INVITE, target)
		req.SetBody(carrierOffer)
		req.AppendHeader(sip.NewHeader("Content-Type", "application/sdp"))
		res, err := sess.Do(ctx, req)
		if err != nil {
			done <- 0
			return
		}
		_ = sess.WriteRequest(sip.NewRequest(sip.ACK, target))
		done <- res.StatusCode
	}()
	select {
	case <-entered:
	case <-ctx.Done():
		t.Fatal("first re-INVITE not reported")
	}
	r := carrierReinvite(ctx, t, sess, carrierOffer)
	close(release)
	if r.status != 500 || r.res.GetHeader("Retry-After") == nil {
		t.Errorf("overlapping re-INVITE: %d (Retry-After %v), want 500 with Retry-After", r.status, r.res.GetHeader("Retry-After"))
	}
	if status := <-done; status != 200 {
		t.Errorf("first re-INVITE: %d, want 200", status)
	}
}

// TestOutboundReinvite: the agent's phone holds and resumes and changes codec on
// the leg we placed; our answers name one codec and carry our INVITE's Contact.
func TestOutboundReinvite(t *testing.T) {
	ts := startServer(t)
	agentSDP := sdpOffer("v=0", "o=- 1 1 IN IP4 127.0.0.1", "s=-", "c=IN IP4 127.0.0.1", "t=0 0", "m=audio 31000 RTP/AVP 0 101", "a=rtpmap:101 telephone-event/8000")
	invites := make(chan *sip.Request, 1)
	var ok200 *sip.Response
	p := agentPhone(t, ts, func(req *sip.Request, tx sip.ServerTransaction) {
		res := sip.NewSDPResponseFromRequest(req, agentSDP)
		res.AppendHeader(&sip.ContactHeader{Address: sip.Uri{Scheme: "sip", Host: "127.0.0.1", Port: req.Recipient.Port}})
		ok200 = res
		invites <- req
		_ = tx.Respond(res)
	})
	b, _ := ts.Registrar().Lookup("1003")
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	leg, err := ts.Dial(ctx, DialRequest{Target: b, CallerID: "5551234", LocalRTP: netip.MustParseAddrPort("127.0.0.1:40002")})
	if err != nil {
		t.Fatal(err)
	}
	inv := <-invites
	var ourOffer sdp.SessionDescription
	if err := ourOffer.Unmarshal(inv.Body()); err != nil {
		t.Fatal(err)
	}
	offerVersion := ourOffer.Origin.SessionVersion
	if leg.Answer.PayloadType != PayloadPCMU || leg.CurrentPayloadType() != PayloadPCMU {
		t.Fatalf("leg codec %d/%d, want PCMU", leg.Answer.PayloadType, leg.CurrentPayloadType())
	}
	offers := make(chan MediaOffer, 1)
	leg.OnReoffer(func(o MediaOffer) { offers <- o })

	cseq := uint32(0)
	send := func(body []byte) reinviteResult {
		t.Helper()
		cseq++
		target := inv.Contact().Address
		req := sip.NewRequest(sip.INVITE, target)
		from := &sip.FromHeader{Address: ok200.To().Address, Params: ok200.To().Params.Clone()}
		to := &sip.ToHeader{Address: inv.From().Address, Params: inv.From().Params.Clone()}
		req.AppendHeader(from)
		req.AppendHeader(to)
		req.AppendHeader(sip.HeaderClone(inv.CallID()))
		req.AppendHeader(&sip.CSeqHeader{SeqNo: cseq, MethodName: sip.INVITE})
		req.AppendHeader(&sip.ContactHeader{Address: sip.Uri{Scheme: "sip", Host: "127.0.0.1", Port: int(p.addr.Port())}})
		req.AppendHeader(sip.NewHeader("Content-Type", "application/sdp"))
		req.SetBody(body)
		res, err := p.client.Do(ctx, req)
		if err != nil {
			t.Fatal(err)
		}
		return readAnswer(t, res)
	}

	r := send(reofferSDP("127.0.0.1", "sendonly", "0 101", "a=rtpmap:101 telephone-event/8000"))
	if r.status != 200 || r.answer.Direction != DirectionRecvOnly || !slices.Equal(r.answer.PayloadTypes, []uint8{PayloadPCMU}) {
		t.Fatalf("hold: %d %s %v, want 200 recvonly [0]", r.status, r.answer.Direction, r.answer.PayloadTypes)
	}
	// Our last SDP was the offer with PCMU and PCMA: the answer differs.
	if r.version != offerVersion+1 || r.answer.Addr.Port() != 40002 {
		t.Errorf("hold: version %d port %d, want %d and 40002", r.version, r.answer.Addr.Port(), offerVersion+1)
	}
	if r.contact == nil || r.contact.Address.String() != inv.Contact().Address.String() {
		t.Errorf("hold: Contact %v, want our INVITE's %v", r.contact, inv.Contact())
	}
	if o := waitReoffer(t, offers); !o.Held() {
		t.Error("hold: callback saw no hold")
	}

	r = send(reofferSDP("127.0.0.1", "sendrecv", "8 0"))
	// PCMU is still offered, so it stays; the offer has no telephone-event now.
	if r.status != 200 || r.answer.Direction != DirectionSendRecv || !slices.Equal(r.answer.PayloadTypes, []uint8{PayloadPCMU}) || r.answer.DTMFPayloadType != 0 || r.version != offerVersion+2 {
		t.Fatalf("resume: %d %s %v dtmf %d version %d", r.status, r.answer.Direction, r.answer.PayloadTypes, r.answer.DTMFPayloadType, r.version)
	}
	if o := waitReoffer(t, offers); o.Held() || o.PayloadType != PayloadPCMU {
		t.Errorf("resume: callback saw held %v codec %d", o.Held(), o.PayloadType)
	}

	r = send(reofferSDP("127.0.0.1", "", "8"))
	if r.status != 200 || !slices.Equal(r.answer.PayloadTypes, []uint8{PayloadPCMA}) {
		t.Fatalf("PCMA only: %d %v", r.status, r.answer.PayloadTypes)
	}
	if o := waitReoffer(t, offers); o.PayloadType != PayloadPCMA || leg.CurrentPayloadType() != PayloadPCMA {
		t.Errorf("PCMA only: callback codec %d, current %d", o.PayloadType, leg.CurrentPayloadType())
	}

	if r := send(reofferSDP("127.0.0.1", "", "18")); r.status != 488 {
		t.Errorf("G.729 only: %d, want 488", r.status)
	}
	if r := send(reofferSDP("127.0.0.1", "", "8")); r.status != 200 {
		t.Errorf("after 488: %d, want 200", r.status)
	}

	hctx, hcancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer hcancel()
	if err := leg.Hangup(hctx, "test"); err != nil {
		t.Fatalf("Hangup: %v", err)
	}
}

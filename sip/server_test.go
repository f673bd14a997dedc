package sip

import (
	"context"
	"errors"
	"net"
	"net/netip"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/emiago/sipgo"
	"github.com/emiago/sipgo/sip"
	"github.com/icholy/digest"
)

// testServer starts our user agent on a free loopback port with hooks that
// admit 127.0.0.1 only and answer every admitted call on a fixed RTP address.
type testServer struct {
	*Server
	changes chan RegistrationChange
	calls   chan *InboundCall
}

func startServer(t *testing.T, opts ...func(*Config)) *testServer {
	t.Helper()
	ts := &testServer{changes: make(chan RegistrationChange, 16), calls: make(chan *InboundCall, 4)}
	cfg := Config{Listen: "127.0.0.1:0", RegisterMin: time.Minute}
	for _, o := range opts {
		o(&cfg)
	}
	srv, err := NewServer(cfg, Hooks{
		Admit: func(src netip.Addr, called string) Admission {
			if src != netip.MustParseAddr("127.0.0.1") {
				return Admission{Status: 403}
			}
			if called == "404" {
				return Admission{Status: 404}
			}
			if called == "full" {
				return Admission{Trunk: "test", Status: 503, Reason: "Service Unavailable", RetryAfter: 30 * time.Second, Blocked: BlockCallLimit}
			}
			return Admission{Trunk: "test"}
		},
		Password:       passwords,
		OnRegistration: func(c RegistrationChange) { ts.changes <- c },
		HandleCall: func(c *InboundCall) {
			if c.Called == "ring" {
				// Ring without answering until the caller gives up.
				_ = c.Ringing()
				ts.calls <- c
				<-c.Done()
				return
			}
			if err := c.Answer(netip.MustParseAddrPort("127.0.0.1:40000")); err != nil {
				return
			}
			ts.calls <- c
			<-c.Done()
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	ts.Server = srv
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = srv.Run(ctx)
	}()
	t.Cleanup(func() {
		cancel()
		<-done
	})
	return ts
}

// phone is a sipgo user agent playing a softphone or a carrier.
type phone struct {
	ua     *sipgo.UserAgent
	client *sipgo.Client
	srv    *sipgo.Server
	addr   netip.AddrPort
}

func newPhone(t *testing.T) *phone {
	t.Helper()
	return newPhoneAt(t, "127.0.0.1")
}

// newPhoneAt is a phone sending from ip (any of 127/8 on Linux).
func newPhoneAt(t *testing.T, ip string) *phone {
	t.Helper()
	ua, err := sipgo.NewUA(sipgo.WithUserAgent("test-phone"))
	if err != nil {
		t.Fatal(err)
	}
	conn, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.ParseIP(ip)})
	if err != nil {
		t.Fatal(err)
	}
	p := &phone{ua: ua, addr: conn.LocalAddr().(*net.UDPAddr).AddrPort()}
	p.srv, _ = sipgo.NewServer(ua)
	p.srv.OnOptions(func(req *sip.Request, tx sip.ServerTransaction) {})
	registerUDPListener(ua, conn)
	go func() { _ = p.srv.ServeUDP(conn) }()
	p.client, err = sipgo.NewClient(ua, sipgo.WithClientConnectionAddr(p.addr.String()), sipgo.WithClientHostname(ip))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ua.Close() })
	return p
}

func (p *phone) register(t *testing.T, srv netip.AddrPort, user, password string, expires int) *sip.Response {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	req := p.registerRequest(srv, user, expires)
	res, err := p.client.Do(ctx, req)
	if err != nil {
		t.Fatal(err)
	}
	if res.StatusCode != 401 || password == "" {
		return res
	}
	res, err = p.client.DoDigestAuth(ctx, req, res, sipgo.DigestAuth{Username: user, Password: password})
	if err != nil {
		t.Fatal(err)
	}
	return res
}

func (p *phone) registerRequest(srv netip.AddrPort, user string, expires int) *sip.Request {
	req := sip.NewRequest(sip.REGISTER, sip.Uri{Scheme: "sip", Host: srv.Addr().String(), Port: int(srv.Port())})
	aor := sip.Uri{Scheme: "sip", User: user, Host: srv.Addr().String()}
	req.AppendHeader(&sip.ToHeader{Address: aor})
	from := &sip.FromHeader{Address: aor, Params: sip.NewParams()}
	from.Params.Add("tag", sip.GenerateTagN(8))
	req.AppendHeader(from)
	req.AppendHeader(&sip.ContactHeader{Address: sip.Uri{Scheme: "sip", User: user, Host: p.addr.Addr().String(), Port: int(p.addr.Port())}})
	req.AppendHeader(sip.NewHeader("Expires", itoa(expires)))
	return req
}

func itoa(n int) string {
	b := []byte{}
	if n == 0 {
		return "0"
	}
	for n > 0 {
		b = append([]byte{byte('0' + n%10)}, b...)
		n /= 10
	}
	return string(b)
}

func waitChange(t *testing.T, ch <-chan RegistrationChange) RegistrationChange {
	t.Helper()
	select {
	case c := <-ch:
		return c
	case <-time.After(5 * time.Second):
		t.Fatal("no registration change")
	}
	return RegistrationChange{}
}

func TestRegisterWithDigest(t *testing.T) {
	ts := startServer(t)
	p := newPhone(t)

	res := p.register(t, ts.Addr(), "1003", "", 300)
	if res.StatusCode != 401 {
		t.Fatalf("unauthenticated REGISTER: %d, want 401", res.StatusCode)
	}
	var algs []string
	for _, h := range res.GetHeaders("WWW-Authenticate") {
		c, err := digest.ParseChallenge(h.Value())
		if err != nil {
			t.Fatal(err)
		}
		if !c.SupportsQOP("auth") {
			t.Errorf("challenge without qop=auth: %s", h.Value())
		}
		algs = append(algs, c.Algorithm)
	}
	if strings.Join(algs, ",") != "MD5,SHA-256" {
		t.Errorf("algorithms offered = %v", algs)
	}

	if res := p.register(t, ts.Addr(), "1003", "wrong", 300); res.StatusCode != 403 {
		t.Fatalf("wrong password: %d, want 403", res.StatusCode)
	}
	if res := p.register(t, ts.Addr(), "1003", "demo1003", 300); res.StatusCode != 200 {
		t.Fatalf("REGISTER: %d, want 200", res.StatusCode)
	}
	if c := waitChange(t, ts.changes); c.User != "1003" || !c.Registered {
		t.Fatalf("change = %+v", c)
	}
	b, ok := ts.Registrar().Lookup("1003")
	if !ok || b.Source != p.addr.String() || b.Contact.Port != int(p.addr.Port()) {
		t.Fatalf("binding = %+v, %v", b, ok)
	}
	if d := time.Until(b.Expires); d < 290*time.Second || d > 301*time.Second {
		t.Errorf("binding expires in %s, want about 300s", d)
	}
	if res := p.register(t, ts.Addr(), "1003", "demo1003", 0); res.StatusCode != 200 {
		t.Fatalf("unREGISTER: %d", res.StatusCode)
	}
	if c := waitChange(t, ts.changes); c.Registered {
		t.Fatalf("change after unregister = %+v", c)
	}
}

func TestRegisterSHA256(t *testing.T) {
	ts := startServer(t)
	p := newPhone(t)
	req := p.registerRequest(ts.Addr(), "1003", 120)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	res, err := p.client.Do(ctx, req)
	if err != nil {
		t.Fatal(err)
	}
	var sha string
	for _, h := range res.GetHeaders("WWW-Authenticate") {
		if strings.Contains(h.Value(), "SHA-256") {
			sha = h.Value()
		}
	}
	if sha == "" {
		t.Fatal("no SHA-256 challenge")
	}
	req = req.Clone()
	req.RemoveHeader("Via")
	req.CSeq().SeqNo++
	req.AppendHeader(sip.NewHeader("Authorization", authorize(t, sha, "1003", "demo1003", req.Recipient.String(), 1)))
	res, err = p.client.Do(ctx, req)
	if err != nil {
		t.Fatal(err)
	}
	if res.StatusCode != 200 {
		t.Fatalf("SHA-256 REGISTER: %d %s", res.StatusCode, res.Reason)
	}
}

func TestRegisterForAnotherUserForbidden(t *testing.T) {
	ts := startServer(t)
	p := newPhone(t)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	req := p.registerRequest(ts.Addr(), "1004", 60)
	res, err := p.client.Do(ctx, req)
	if err != nil {
		t.Fatal(err)
	}
	res, err = p.client.DoDigestAuth(ctx, req, res, sipgo.DigestAuth{Username: "1003", Password: "demo1003"})
	if err != nil {
		t.Fatal(err)
	}
	if res.StatusCode != 403 {
		t.Fatalf("1003 registering 1004: %d, want 403", res.StatusCode)
	}
}

func TestRegisterIntervalTooBrief(t *testing.T) {
	ts := startServer(t)
	p := newPhone(t)
	res := p.register(t, ts.Addr(), "1003", "demo1003", 30)
	if res.StatusCode != 423 {
		t.Fatalf("REGISTER for 30 s: %d, want 423", res.StatusCode)
	}
	if h := res.GetHeader("Min-Expires"); h == nil || h.Value() != "60" {
		t.Fatalf("Min-Expires = %v, want 60", h)
	}
}

func inviteRequest(srv netip.AddrPort, called string, body []byte) *sip.Request {
	req := sip.NewRequest(sip.INVITE, sip.Uri{Scheme: "sip", User: called, Host: srv.Addr().String(), Port: int(srv.Port())})
	if body != nil {
		req.SetBody(body)
		req.AppendHeader(sip.NewHeader("Content-Type", "application/sdp"))
	}
	return req
}

var carrierOffer = sdpOffer("v=0", "o=- 1 1 IN IP4 127.0.0.1", "s=-", "c=IN IP4 127.0.0.1", "t=0 0",
	"m=audio 30000 RTP/AVP 8 0 101", "a=rtpmap:101 telephone-event/8000")

func TestInviteAnswers(t *testing.T) {
	ts := startServer(t)
	carrier := newPhone(t)
	tests := []struct {
		name   string
		called string
		body   []byte
		want   int
	}{
		{"unknown number", "404", carrierOffer, 404},
		{"no common codec", "100", sdpOffer("v=0", "o=- 1 1 IN IP4 127.0.0.1", "s=-", "c=IN IP4 127.0.0.1", "t=0 0", "m=audio 30000 RTP/AVP 9 18"), 488},
		{"malformed sdp", "100", []byte("this is not sdp"), 400},
		{"no sdp at all", "100", nil, 488},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			res, err := carrier.client.Do(ctx, inviteRequest(ts.Addr(), tt.called, tt.body))
			if err != nil {
				t.Fatal(err)
			}
			if res.StatusCode != tt.want {
				t.Fatalf("status %d %s, want %d", res.StatusCode, res.Reason, tt.want)
			}
		})
	}
}

func TestInboundCallAnswerAndRemoteBye(t *testing.T) {
	ts := startServer(t)
	carrier := newPhone(t)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	sess := carrier.invite(ctx, t, ts.Addr(), "100")
	if err := sess.WaitAnswer(ctx, sipgo.AnswerOptions{}); err != nil {
		t.Fatal(err)
	}
	answer, err := ParseSDP(sess.InviteResponse.Body())
	if err != nil {
		t.Fatal(err)
	}
	if answer.PayloadTypes[0] != PayloadPCMA || answer.DTMFPayloadType != 101 || answer.Addr.Port() != 40000 {
		t.Fatalf("answer = %+v; want PCMA (offer order), DTMF 101 and our RTP port", answer)
	}
	if err := sess.Ack(ctx); err != nil {
		t.Fatal(err)
	}
	call := ts.takeCall(ctx, t)
	if call.Caller == "" || call.Called != "100" || call.Trunk != "test" || call.PayloadType != PayloadPCMA {
		t.Fatalf("call = %+v", call)
	}
	// sipgo's UAC routes in-dialog requests to the 200's Contact; our BYE handler
	// must find the dialog.
	carrier.srv.OnBye(func(req *sip.Request, tx sip.ServerTransaction) {})
	if err := sess.Bye(ctx); err != nil {
		t.Fatal(err)
	}
	select {
	case <-call.Done():
	case <-ctx.Done():
		t.Fatal("leg not ended by BYE")
	}
	if side, cause := call.Ended(); side != HangupRemote || cause != "bye" {
		t.Fatalf("Ended = %s %s", side, cause)
	}
}

func TestByeForUnknownDialog(t *testing.T) {
	ts := startServer(t)
	carrier := newPhone(t)
	req := sip.NewRequest(sip.BYE, sip.Uri{Scheme: "sip", Host: "127.0.0.1", Port: int(ts.Addr().Port())})
	to := &sip.ToHeader{Address: sip.Uri{Scheme: "sip", Host: "127.0.0.1"}, Params: sip.NewParams()}
	to.Params.Add("tag", "nosuch")
	req.AppendHeader(to)
	from := &sip.FromHeader{Address: sip.Uri{Scheme: "sip", Host: "127.0.0.1"}, Params: sip.NewParams()}
	from.Params.Add("tag", "x")
	req.AppendHeader(from)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	res, err := carrier.client.Do(ctx, req)
	if err != nil {
		t.Fatal(err)
	}
	if res.StatusCode != 481 {
		t.Fatalf("BYE for unknown dialog: %d, want 481", res.StatusCode)
	}
	res, err = carrier.client.Do(ctx, sip.NewRequest(sip.OPTIONS, sip.Uri{Scheme: "sip", Host: "127.0.0.1", Port: int(ts.Addr().Port())}))
	if err != nil || res.StatusCode != 200 {
		t.Fatalf("OPTIONS: %v %v", res, err)
	}
}

// agentPhone registers and answers INVITEs as told.
// Each setup runs first, to register more handlers before the phone is used.
func agentPhone(t *testing.T, ts *testServer, answer func(req *sip.Request, tx sip.ServerTransaction), setup ...func(*phone)) *phone {
	t.Helper()
	p := newPhone(t)
	for _, f := range setup {
		f(p)
	}
	p.srv.OnInvite(answer)
	p.srv.OnAck(func(req *sip.Request, tx sip.ServerTransaction) {})
	p.srv.OnBye(func(req *sip.Request, tx sip.ServerTransaction) {
		_ = tx.Respond(sip.NewResponseFromRequest(req, 200, "OK", nil))
	})
	p.srv.OnCancel(func(req *sip.Request, tx sip.ServerTransaction) {})
	if res := p.register(t, ts.Addr(), "1003", "demo1003", 300); res.StatusCode != 200 {
		t.Fatalf("agent register: %d", res.StatusCode)
	}
	waitChange(t, ts.changes)
	return p
}

func TestDialOutcomes(t *testing.T) {
	agentSDP := sdpOffer("v=0", "o=- 1 1 IN IP4 127.0.0.1", "s=-", "c=IN IP4 127.0.0.1", "t=0 0", "m=audio 31000 RTP/AVP 0 101", "a=rtpmap:101 telephone-event/8000")
	tests := []struct {
		name     string
		answer   func(req *sip.Request, tx sip.ServerTransaction)
		timeout  time.Duration
		wantKind DialFailure
		// A 180 followed at once by a 200 may never reach WaitAnswer (sipgo
		// hands each message to its own goroutine), so ringing is only
		// asserted where the phone rings alone.
		wantRinging bool
	}{
		{
			name: "answered",
			answer: func(req *sip.Request, tx sip.ServerTransaction) {
				_ = tx.Respond(sip.NewResponseFromRequest(req, 180, "Ringing", nil))
				res := sip.NewSDPResponseFromRequest(req, agentSDP)
				res.AppendHeader(&sip.ContactHeader{Address: sip.Uri{Scheme: "sip", Host: "127.0.0.1", Port: req.Recipient.Port}})
				_ = tx.Respond(res)
			},
			timeout: 5 * time.Second,
		},
		{
			name: "busy",
			answer: func(req *sip.Request, tx sip.ServerTransaction) {
				_ = tx.Respond(sip.NewResponseFromRequest(req, 486, "Busy Here", nil))
			},
			timeout: 5 * time.Second, wantKind: DialFailureBusy,
		},
		{
			name: "declined",
			answer: func(req *sip.Request, tx sip.ServerTransaction) {
				_ = tx.Respond(sip.NewResponseFromRequest(req, 603, "Decline", nil))
			},
			timeout: 5 * time.Second, wantKind: DialFailureRejected,
		},
		{
			name: "rings until canceled",
			answer: func(req *sip.Request, tx sip.ServerTransaction) {
				_ = tx.Respond(sip.NewResponseFromRequest(req, 180, "Ringing", nil))
				<-tx.Done()
			},
			timeout: 300 * time.Millisecond, wantKind: DialFailureCanceled, wantRinging: true,
		},
		{
			name:    "silent phone is force-canceled on time",
			answer:  func(req *sip.Request, tx sip.ServerTransaction) { <-tx.Done() },
			timeout: 300 * time.Millisecond, wantKind: DialFailureCanceled,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ts := startServer(t)
			agentPhone(t, ts, tt.answer)
			b, _ := ts.Registrar().Lookup("1003")
			var rang sync.Once
			ringing := make(chan struct{})
			ctx, cancel := context.WithTimeout(context.Background(), tt.timeout)
			defer cancel()
			start := time.Now()
			leg, err := ts.Dial(ctx, DialRequest{Target: b, CallerID: "5551234", CallerName: "Bad\"Name\r\nX: y",
				LocalRTP: netip.MustParseAddrPort("127.0.0.1:40002"), OnRinging: func() { rang.Do(func() { close(ringing) }) }})
			if took := time.Since(start); took > tt.timeout+2*time.Second {
				t.Errorf("Dial took %s with a %s deadline", took, tt.timeout)
			}
			if tt.wantRinging {
				select {
				case <-ringing:
				default:
					t.Error("180 was not reported")
				}
			}
			if tt.wantKind != DialFailureUnknown {
				var de *DialError
				if !errors.As(err, &de) || de.Kind != tt.wantKind {
					t.Fatalf("Dial error = %v, want kind %s", err, tt.wantKind)
				}
				return
			}
			if err != nil {
				t.Fatalf("Dial: %v", err)
			}
			if leg.PayloadType != PayloadPCMU || leg.Answer.Addr.Port() != 31000 {
				t.Fatalf("leg = %+v", leg)
			}
			hctx, hcancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer hcancel()
			if err := leg.Hangup(hctx, "test"); err != nil {
				t.Fatalf("Hangup: %v", err)
			}
		})
	}
}

// TestTCPCallAndRegister: the same port serves TCP; a phone registered over TCP is
// called back on its connection.
func TestTCPCallAndRegister(t *testing.T) {
	ts := startServer(t)
	ua, err := sipgo.NewUA(sipgo.WithUserAgent("tcp-phone"))
	if err != nil {
		t.Fatal(err)
	}
	defer ua.Close()
	phoneSrv, _ := sipgo.NewServer(ua)
	invited := make(chan struct{}, 1)
	phoneSrv.OnInvite(func(req *sip.Request, tx sip.ServerTransaction) {
		invited <- struct{}{}
		_ = tx.Respond(sip.NewResponseFromRequest(req, 486, "Busy Here", nil))
	})
	client, err := sipgo.NewClient(ua, sipgo.WithClientHostname("127.0.0.1"))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()

	target := sip.Uri{Scheme: "sip", Host: "127.0.0.1", Port: int(ts.Addr().Port()), UriParams: sip.NewParams()}
	target.UriParams.Add("transport", "tcp")
	// Port 5999 in the Contact listens nowhere: the INVITE must reuse the
	// registration's connection (RFC 5626's reason for connection reuse).
	contact := sip.Uri{Scheme: "sip", User: "1003", Host: "127.0.0.1", Port: 5999, UriParams: sip.NewParams()}
	contact.UriParams.Add("transport", "tcp")
	registerAndCallBack(ctx, t, ts, client, target, contact, "TCP")
	select {
	case <-invited:
	default:
		t.Fatal("phone got no INVITE")
	}
}

// TestCancelBeforeAnswer: a caller's CANCEL while we ring ends the leg at once with
// 487 for the INVITE (RFC 3261 §9.2), and the leg says the caller canceled.
func TestCancelBeforeAnswer(t *testing.T) {
	ts := startServer(t)
	carrier := newPhone(t)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	sess := carrier.invite(ctx, t, ts.Addr(), "ring")
	call := ts.takeCall(ctx, t)
	ringing := make(chan struct{})
	var once sync.Once
	waitCtx, giveUp := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() {
		done <- sess.WaitAnswer(waitCtx, sipgo.AnswerOptions{OnResponse: func(r *sip.Response) error {
			if r.StatusCode == 180 {
				once.Do(func() { close(ringing) })
			}
			return nil
		}})
	}()
	select {
	case <-ringing:
	case <-ctx.Done():
		t.Fatal("no 180")
	}
	giveUp() // sipgo sends CANCEL now that a provisional has arrived
	if err := <-done; err == nil {
		t.Fatal("WaitAnswer succeeded after CANCEL")
	}
	if res := sess.InviteResponse; res == nil || res.StatusCode != 487 {
		t.Fatalf("final response %v, want 487", res)
	}
	select {
	case <-call.Done():
	case <-ctx.Done():
		t.Fatal("leg not ended by CANCEL")
	}
	if side, cause := call.Ended(); side != HangupRemote || cause != "cancel" {
		t.Fatalf("Ended = %s %s, want remote cancel", side, cause)
	}
	if call.Answered() {
		t.Fatal("a canceled call counts as answered")
	}
}

// invite sends the carrier's offer to called at srv as a dialog.
func (p *phone) invite(ctx context.Context, t *testing.T, srv netip.AddrPort, called string) *sipgo.DialogClientSession {
	t.Helper()
	dua := sipgo.DialogUA{Client: p.client, ContactHDR: sip.ContactHeader{Address: sip.Uri{Scheme: "sip", Host: "127.0.0.1", Port: int(p.addr.Port())}}}
	sess, err := dua.WriteInvite(ctx, inviteRequest(srv, called, carrierOffer))
	if err != nil {
		t.Fatal(err)
	}
	return sess
}

// TestFeatureCodeInviteIsAuthenticated: a phone dialing *21 gets no trunk;
// it must prove who it is with its digest credentials, and the call carries
// the authenticated user.
func TestFeatureCodeInviteIsAuthenticated(t *testing.T) {
	ts := startServer(t)
	phone := newPhone(t)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()

	t.Run("no credentials", func(t *testing.T) {
		res, err := phone.client.Do(ctx, inviteRequest(ts.Addr(), "*21", carrierOffer))
		if err != nil {
			t.Fatal(err)
		}
		if res.StatusCode != 401 || res.GetHeader("WWW-Authenticate") == nil {
			t.Fatalf("got %d %s, want 401 with a challenge", res.StatusCode, res.Reason)
		}
	})
	t.Run("wrong password", func(t *testing.T) {
		sess := phone.invite(ctx, t, ts.Addr(), "*21")
		err := sess.WaitAnswer(ctx, sipgo.AnswerOptions{Username: "1003", Password: "wrong"})
		var de *sipgo.ErrDialogResponse
		if !errors.As(err, &de) || de.Res.StatusCode != 403 {
			t.Fatalf("WaitAnswer = %v, want 403", err)
		}
	})
	t.Run("right password", func(t *testing.T) {
		sess := phone.invite(ctx, t, ts.Addr(), "*21")
		if err := sess.WaitAnswer(ctx, sipgo.AnswerOptions{Username: "1003", Password: "demo1003"}); err != nil {
			t.Fatal(err)
		}
		if err := sess.Ack(ctx); err != nil {
			t.Fatal(err)
		}
		call := ts.takeCall(ctx, t)
		if call.AuthUser != "1003" || call.Trunk != "" || call.Called != "*21" {
			t.Fatalf("call = auth %q trunk %q called %q, want 1003, no trunk, *21", call.AuthUser, call.Trunk, call.Called)
		}
		if err := sess.Bye(ctx); err != nil {
			t.Fatal(err)
		}
	})
}

func TestIsFeatureCode(t *testing.T) {
	for code, want := range map[string]bool{
		"*21": true, "*221": true, "*201003*4321": true, "*": false, "21": false, "*2a": false, "**": true, "": false, "*21#": false,
	} {
		if got := IsFeatureCode(code); got != want {
			t.Errorf("IsFeatureCode(%q) = %v, want %v", code, got, want)
		}
	}
}

// TestNoNameIsResolved: the resolver sipgo gets answers every lookup at
// once, without a packet, so no SIP message can make hotline query DNS.
func TestNoNameIsResolved(t *testing.T) {
	_, err := noDNS.LookupIPAddr(context.Background(), "host5.example.net")
	if err == nil || !strings.Contains(err.Error(), errNoDNS.Error()) {
		t.Fatalf("lookup: %v, want %v", err, errNoDNS)
	}
	if _, _, err := noDNS.LookupSRV(context.Background(), "sip", "tcp", "example.net"); err == nil {
		t.Fatal("SRV lookup succeeded")
	}
}

// registerAndCallBack registers phone 1003 through client at target over a
// stream transport (TCP or TLS) with digest authentication, checks that the
// binding records that transport, and has hotline call the phone back; the
// phone's INVITE handler answers 486, which Dial must report as busy.
func registerAndCallBack(ctx context.Context, t *testing.T, ts *testServer, client *sipgo.Client, target, contact sip.Uri, transport string) {
	t.Helper()
	req := sip.NewRequest(sip.REGISTER, target)
	req.SetTransport(transport)
	aor := sip.Uri{Scheme: "sip", User: "1003", Host: "127.0.0.1"}
	req.AppendHeader(&sip.ToHeader{Address: aor})
	from := &sip.FromHeader{Address: aor, Params: sip.NewParams()}
	from.Params.Add("tag", sip.GenerateTagN(8))
	req.AppendHeader(from)
	req.AppendHeader(&sip.ContactHeader{Address: contact})
	res, err := client.Do(ctx, req)
	if err != nil {
		t.Fatal(err)
	}
	if res.StatusCode != 401 {
		t.Fatalf("REGISTER without credentials: %d, want 401", res.StatusCode)
	}
	if res, err = client.DoDigestAuth(ctx, req, res, sipgo.DigestAuth{Username: "1003", Password: "demo1003"}); err != nil {
		t.Fatal(err)
	}
	if res.StatusCode != 200 {
		t.Fatalf("REGISTER over %s: %d", transport, res.StatusCode)
	}
	waitChange(t, ts.changes)
	b, _ := ts.Registrar().Lookup("1003")
	if b.Transport != transport {
		t.Fatalf("binding transport %q, want %s", b.Transport, transport)
	}
	_, err = ts.Dial(ctx, DialRequest{Target: b, CallerID: "5551234", LocalRTP: netip.MustParseAddrPort("127.0.0.1:40004")})
	var de *DialError
	if !errors.As(err, &de) || de.Kind != DialFailureBusy {
		t.Fatalf("Dial over %s = %v, want the phone's 486", transport, err)
	}
}

// takeCall waits for the next call hotline hands to HandleCall.
func (ts *testServer) takeCall(ctx context.Context, t *testing.T) *InboundCall {
	t.Helper()
	select {
	case call := <-ts.calls:
		return call
	case <-ctx.Done():
		t.Fatal("call not handed over")
		return nil
	}
}

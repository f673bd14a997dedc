package sip

import (
	"context"
	"crypto/tls"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/emiago/sipgo"
	"github.com/emiago/sipgo/sip"
	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"

	"github.com/hotline-cc/hotline/guard"
	"github.com/hotline-cc/hotline/internal/tlsserver"
	"github.com/hotline-cc/hotline/internal/tlstest"
)

// startTLSServer is startServer with SIP over TLS on another free port,
// serving a certificate of ca.
func startTLSServer(t *testing.T, ca *tlstest.CA, opts ...func(*Config)) *testServer {
	t.Helper()
	pair := ca.Issue(t, "hotline")
	cert, err := tlsserver.LoadCertificate(pair.CertFile, pair.KeyFile, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	return startServer(t, append([]func(*Config){func(c *Config) {
		c.TLSListen = "127.0.0.1:0"
		c.TLS = tlsserver.ServerConfig(tlsserver.Options{Certificate: cert})
		c.Registry = prometheus.NewRegistry()
	}}, opts...)...)
}

// TestBannedSourceClosedBeforeTLSHandshake: a source the guard has banned
// gets its TLS connections closed unanswered, counted as banned, not as a
// failed handshake.
func TestBannedSourceClosedBeforeTLSHandshake(t *testing.T) {
	ca := tlstest.NewCA(t)
	g := guard.New(guard.Policy{Allow: []netip.Prefix{netip.MustParsePrefix("127.0.0.1/32")}, Ban: time.Hour, LogInterval: time.Minute}, nil)
	ts := startTLSServer(t, ca, func(c *Config) { c.Guard = g })
	attacker := netip.MustParseAddr("127.0.0.2")
	g.Ban(attacker)
	dialer := &net.Dialer{Timeout: 5 * time.Second, LocalAddr: &net.TCPAddr{IP: attacker.AsSlice()}}
	if c, err := tls.DialWithDialer(dialer, "tcp", ts.TLSAddr().String(), ca.ClientConfig(nil)); err == nil {
		c.Close()
		t.Fatal("a banned source completed a TLS handshake")
	}
	ts.waitBlocked(t, BlockBanned, 1)
	if n := ts.tlsFailures(tlsserver.FailureClosed) + ts.tlsFailures(tlsserver.FailureNotTLS); n != 0 {
		t.Errorf("refused connection counted as %v failed handshakes", n)
	}
	// The allowed source is served.
	dialer.LocalAddr = nil
	c, err := tls.DialWithDialer(dialer, "tcp", ts.TLSAddr().String(), ca.ClientConfig(nil))
	if err != nil {
		t.Fatalf("allowed source: %v", err)
	}
	c.Close()
}

// tlsPhone is a sipgo user agent that trusts ca and reaches hotline over
// TLS only: it has no listener, so everything hotline sends it must come
// over the connection the phone opened.
type tlsPhone struct {
	ua     *sipgo.UserAgent
	client *sipgo.Client
	srv    *sipgo.Server
}

func newTLSPhone(t *testing.T, ca *tlstest.CA) *tlsPhone {
	t.Helper()
	ua, err := sipgo.NewUA(sipgo.WithUserAgent("tls-phone"), sipgo.WithUserAgenTLSConfig(ca.ClientConfig(nil)))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ua.Close() })
	p := &tlsPhone{ua: ua}
	if p.srv, err = sipgo.NewServer(ua); err != nil {
		t.Fatal(err)
	}
	if p.client, err = sipgo.NewClient(ua, sipgo.WithClientHostname("127.0.0.1")); err != nil {
		t.Fatal(err)
	}
	return p
}

// tlsURI is user at hotline's TLS listener.
func tlsURI(srv netip.AddrPort, user string) sip.Uri {
	u := sip.Uri{Scheme: "sip", User: user, Host: srv.Addr().String(), Port: int(srv.Port()), UriParams: sip.NewParams()}
	u.UriParams.Add("transport", "tls")
	return u
}

func TestTLSOptionsAnswered(t *testing.T) {
	ca := tlstest.NewCA(t)
	ts := startTLSServer(t, ca)
	if !ts.TLSAddr().IsValid() || ts.TLSAddr().Port() == ts.Addr().Port() {
		t.Fatalf("TLSAddr %s, Addr %s: want a port of its own", ts.TLSAddr(), ts.Addr())
	}
	p := newTLSPhone(t, ca)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	req := sip.NewRequest(sip.OPTIONS, tlsURI(ts.TLSAddr(), ""))
	res, err := p.client.Do(ctx, req)
	if err != nil {
		t.Fatal(err)
	}
	if res.StatusCode != 200 {
		t.Fatalf("OPTIONS over TLS: %d %s", res.StatusCode, res.Reason)
	}
	if via := res.Via(); via == nil || via.Transport != "TLS" {
		t.Fatalf("response Via %v, want SIP/2.0/TLS", via)
	}
}

// TestPlainTCPToTLSPortIsNotAnswered: SIP in clear text on the TLS port
// gets no SIP answer; the failed handshake is counted as not-tls.
func TestPlainTCPToTLSPortIsNotAnswered(t *testing.T) {
	ca := tlstest.NewCA(t)
	ts := startTLSServer(t, ca)
	conn, err := net.Dial("tcp", ts.TLSAddr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	_, _ = conn.Write([]byte("OPTIONS sip:hotline@127.0.0.1 SIP/2.0\r\nVia: SIP/2.0/TCP 127.0.0.1:5999;branch=z9hG4bK1\r\n" +
		"From: <sip:probe@127.0.0.1>;tag=1\r\nTo: <sip:hotline@127.0.0.1>\r\nCall-ID: plain-1\r\nCSeq: 1 OPTIONS\r\nContent-Length: 0\r\n\r\n"))
	_ = conn.SetReadDeadline(time.Now().Add(5 * time.Second))
	got, err := io.ReadAll(conn)
	if strings.Contains(string(got), "SIP/2.0") {
		t.Fatalf("plain SIP on the TLS port was answered: %q", got)
	}
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		t.Fatal("the TLS port kept a plain-text connection open")
	}
	deadline := time.Now().Add(5 * time.Second)
	for ts.tlsFailures(tlsserver.FailureNotTLS) != 1 {
		if time.Now().After(deadline) {
			t.Fatalf("hotline_sip_tls_handshake_failures_total{reason=not-tls} = %v, want 1", ts.tlsFailures(tlsserver.FailureNotTLS))
		}
		time.Sleep(5 * time.Millisecond) // polling a counter the handshake goroutine sets
	}
}

func (ts *testServer) tlsFailures(reason string) float64 {
	var m dto.Metric
	_ = ts.metrics.tlsFailures.WithLabelValues(reason).Write(&m)
	return m.GetCounter().GetValue()
}

// TestTLSRegisterAndCallBack: a phone registers over TLS with digest
// authentication, its binding says TLS, and hotline's INVITE to it comes
// over the phone's own connection (the phone listens nowhere), with our
// Via and Contact naming TLS.
func TestTLSRegisterAndCallBack(t *testing.T) {
	ca := tlstest.NewCA(t)
	ts := startTLSServer(t, ca)
	p := newTLSPhone(t, ca)
	invites := make(chan *sip.Request, 1)
	p.srv.OnInvite(func(req *sip.Request, tx sip.ServerTransaction) {
		invites <- req
		_ = tx.Respond(sip.NewResponseFromRequest(req, 486, "Busy Here", nil))
	})
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()

	// Port 5999 listens nowhere: only the registration's connection reaches the phone.
	registerAndCallBack(ctx, t, ts, p.client, tlsURI(ts.TLSAddr(), ""), tlsURI(netip.MustParseAddrPort("127.0.0.1:5999"), "1003"), "TLS")
	var inv *sip.Request
	select {
	case inv = <-invites:
	default:
		t.Fatal("phone got no INVITE")
	}
	if inv.Transport() != "TLS" || inv.Source() != ts.TLSAddr().String() {
		t.Errorf("INVITE came over %s from %s, want TLS from hotline's listener %s", inv.Transport(), inv.Source(), ts.TLSAddr())
	}
	if via := inv.Via(); via == nil || via.Transport != "TLS" {
		t.Errorf("INVITE Via %v, want SIP/2.0/TLS", via)
	}
	want := "sip:hotline@127.0.0.1:" + itoa(int(ts.TLSAddr().Port())) + ";transport=tls"
	if c := inv.Contact(); c == nil || c.Address.String() != want {
		t.Errorf("INVITE Contact %v, want <%s>", c, want)
	}
}

// TestTLSCarrierCall: a carrier's INVITE over TLS is answered, and its BYE
// over the same connection ends the call.
func TestTLSCarrierCall(t *testing.T) {
	ca := tlstest.NewCA(t)
	ts := startTLSServer(t, ca)
	carrier := newTLSPhone(t, ca)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	req := sip.NewRequest(sip.INVITE, tlsURI(ts.TLSAddr(), "100"))
	req.SetBody(carrierOffer)
	req.AppendHeader(sip.NewHeader("Content-Type", "application/sdp"))
	dua := sipgo.DialogUA{Client: carrier.client, ContactHDR: sip.ContactHeader{Address: tlsURI(netip.MustParseAddrPort("127.0.0.1:5999"), "carrier")}}
	sess, err := dua.WriteInvite(ctx, req)
	if err != nil {
		t.Fatal(err)
	}
	if err := sess.WaitAnswer(ctx, sipgo.AnswerOptions{}); err != nil {
		t.Fatalf("carrier INVITE over TLS: %v", err)
	}
	if err := sess.Ack(ctx); err != nil {
		t.Fatal(err)
	}
	call := ts.takeCall(ctx, t)
	if call.Transport != "TLS" {
		t.Errorf("call transport %q, want TLS", call.Transport)
	}
	if err := sess.Bye(ctx); err != nil {
		t.Fatalf("BYE over TLS: %v", err)
	}
	select {
	case <-call.Done():
	case <-ctx.Done():
		t.Fatal("BYE did not end the call")
	}
}

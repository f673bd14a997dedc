package app_test

import (
	"context"
	"crypto/tls"
	"fmt"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/emiago/sipgo"
	"github.com/emiago/sipgo/sip"

	"github.com/hotline-cc/hotline/config"
	"github.com/hotline-cc/hotline/internal/tlstest"
	hsip "github.com/hotline-cc/hotline/sip"
)

// TestHTTPSServesTheAPI: with http.tls the API listener speaks HTTPS with
// the configured certificate; plain HTTP on that port gets nothing and is
// counted as a failed handshake.
func TestHTTPSServesTheAPI(t *testing.T) {
	t.Parallel()
	ca := tlstest.NewCA(t)
	pair := ca.Issue(t, "hotline")
	h := startHotline(t, func(c *config.Config) {
		c.HTTP.TLS = &config.CertFiles{Cert: pair.CertFile, Key: pair.KeyFile}
	})
	h.client = &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{TLSClientConfig: ca.ClientConfig(nil)}}
	if !strings.HasPrefix(h.url("/"), "https://") {
		t.Fatalf("harness URL %s, want https", h.url("/"))
	}
	res, err := h.client.Get(h.url("/healthz"))
	if err != nil {
		t.Fatalf("GET /healthz over HTTPS: %v", err)
	}
	res.Body.Close()
	if res.StatusCode != 200 || res.TLS == nil || res.TLS.Version < 0x0303 {
		t.Fatalf("GET /healthz over HTTPS: %d, TLS %+v", res.StatusCode, res.TLS)
	}
	if res.TLS.PeerCertificates[0].Subject.CommonName != "hotline" {
		t.Errorf("served certificate %q, want the configured one", res.TLS.PeerCertificates[0].Subject.CommonName)
	}

	plain := &http.Client{Timeout: 5 * time.Second}
	if res, err := plain.Get("http://" + h.app.HTTPAddr.String() + "/healthz"); err == nil {
		res.Body.Close()
		t.Fatalf("plain HTTP to the HTTPS port answered %d", res.StatusCode)
	}
	untrusting := &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{}}
	if res, err := untrusting.Get(h.url("/healthz")); err == nil {
		res.Body.Close()
		t.Fatal("a client without the test CA accepted hotline's certificate")
	}
	waitFor(t, 5*time.Second, "failed handshakes counted", func() (bool, string) {
		m := h.metrics()
		notTLS := metricValue(m, `hotline_http_tls_handshake_failures_total{reason="not-tls"}`)
		refused := metricValue(m, `hotline_http_tls_handshake_failures_total{reason="server-cert"}`)
		return notTLS == 1 && refused == 1, fmt.Sprintf("not-tls %v, server-cert %v", notTLS, refused)
	})

	// A reload without http.tls cannot turn the listener plain: the TLS
	// settings wait for a restart, the rest of the file applies.
	next := *h.cfg
	next.HTTP.TLS = nil
	if err := h.app.Reload(&next); err != nil {
		t.Fatal(err)
	}
	res, err = h.client.Get(h.url("/healthz"))
	if err != nil {
		t.Fatalf("GET /healthz over HTTPS after a reload without http.tls: %v", err)
	}
	res.Body.Close()
	if res.StatusCode != 200 {
		t.Fatalf("GET /healthz over HTTPS after a reload without http.tls: %d", res.StatusCode)
	}
}

// TestCallOverTLS: a carrier calls over TLS, straight into the support
// queue; agent 1003's phone, registered over TLS from a connection of its
// own (it listens nowhere), gets the agent leg over that connection and
// answers; caller and agent hear each other over RTP, and the caller's BYE
// ends both legs.
func TestCallOverTLS(t *testing.T) {
	t.Parallel()
	ca := tlstest.NewCA(t)
	pair := ca.Issue(t, "hotline")
	// Number 200 goes straight to the support queue.
	demo := strings.Replace(string(config.DemoYAML), "    flow: main\n", "    flow: main\n    routes: { \"200\": direct }\n", 1)
	demo = strings.Replace(demo, "flows:\n", "flows:\n  - name: direct\n    start: support\n    nodes:\n      support: { queue: { name: support } }\n", 1)
	parsed, err := config.Parse("tls.yaml", []byte(demo))
	if err != nil {
		t.Fatal(err)
	}
	h := startHotline(t, func(c *config.Config) {
		c.Flows, c.Trunks = parsed.Flows, parsed.Trunks
		c.SIP.TLS = &config.SIPTLS{Listen: "127.0.0.1:0", CertFiles: config.CertFiles{Cert: pair.CertFile, Key: pair.KeyFile}}
	})
	if !h.app.SIPTLSAddr.IsValid() {
		t.Fatal("no SIP TLS listener")
	}
	phone := newTLSAgentPhone(t, h, "1003", ca)
	h.waitAgent("1003", "available")

	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	caller := dialOverTLS(t, ctx, h, ca, "200")

	a := phone.pickUp(15 * time.Second)
	inv := a.in.InviteRequest
	if inv.Transport() != "TLS" || inv.Source() != h.app.SIPTLSAddr.String() {
		t.Errorf("agent leg INVITE came over %s from %s, want TLS from hotline's listener %s", inv.Transport(), inv.Source(), h.app.SIPTLSAddr)
	}
	if via := inv.Via(); via == nil || via.Transport != "TLS" {
		t.Errorf("agent leg Via %v, want SIP/2.0/TLS", via)
	}
	if c := inv.Contact(); c == nil || !strings.HasSuffix(c.Address.String(), fmt.Sprintf(":%d;transport=tls", h.app.SIPTLSAddr.Port())) {
		t.Errorf("agent leg Contact %v, want hotline's TLS port with transport=tls", c)
	}
	h.waitAgent("1003", "on-call")
	a.hearsFor(t, 440, 25)
	if !caller.voice.hears(agentTone, 3*time.Second) {
		t.Fatal("the caller does not hear the agent")
	}

	if err := caller.sess.Bye(ctx); err != nil {
		t.Fatalf("caller's BYE over TLS: %v", err)
	}
	a.waitEnded(t, "the agent leg after the caller's BYE")
	if cdr := h.waitEndedCall(); cdr.AgentID != "1003" {
		t.Errorf("CDR %+v, want a call answered by 1003", cdr)
	}
}

// tlsCaller is a carrier's call placed over TLS, speaking 440 Hz.
type tlsCaller struct {
	sess  *sipgo.DialogClientSession
	voice *supervisorSession
}

// dialOverTLS calls number at hotline's TLS listener as a carrier trusting
// ca, waits for the answer and starts talking.
func dialOverTLS(t *testing.T, ctx context.Context, h *hotline, ca *tlstest.CA, number string) *tlsCaller {
	t.Helper()
	ua, err := sipgo.NewUA(sipgo.WithUserAgent("tls-carrier"), sipgo.WithUserAgenTLSConfig(ca.ClientConfig(nil)))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ua.Close() })
	srv, err := sipgo.NewServer(ua)
	if err != nil {
		t.Fatal(err)
	}
	srv.OnBye(func(req *sip.Request, tx sip.ServerTransaction) {
		_ = tx.Respond(sip.NewResponseFromRequest(req, 200, "OK", nil))
	})
	client, err := sipgo.NewClient(ua, sipgo.WithClientHostname("127.0.0.1"))
	if err != nil {
		t.Fatal(err)
	}
	rtp, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { rtp.Close() })
	overTLS := func(u sip.Uri) sip.Uri {
		u.UriParams = sip.NewParams()
		u.UriParams.Add("transport", "tls")
		return u
	}
	target := overTLS(sip.Uri{Scheme: "sip", User: number, Host: h.app.SIPTLSAddr.Addr().String(), Port: int(h.app.SIPTLSAddr.Port())})
	dua := sipgo.DialogUA{Client: client, ContactHDR: sip.ContactHeader{Address: overTLS(sip.Uri{Scheme: "sip", User: "carrier", Host: "127.0.0.1", Port: 5999})}}
	req := sip.NewRequest(sip.INVITE, target)
	req.AppendHeader(sip.NewHeader("Content-Type", "application/sdp"))
	req.SetBody([]byte(fmt.Sprintf("v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\n"+
		"m=audio %d RTP/AVP 0 101\r\na=rtpmap:0 PCMU/8000\r\na=rtpmap:101 telephone-event/8000\r\na=sendrecv\r\n",
		rtp.LocalAddr().(*net.UDPAddr).Port)))
	sess, err := dua.WriteInvite(ctx, req)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { sess.Close() })
	if err := sess.WaitAnswer(ctx, sipgo.AnswerOptions{}); err != nil {
		t.Fatalf("carrier INVITE over TLS: %v", err)
	}
	if err := sess.Ack(ctx); err != nil {
		t.Fatal(err)
	}
	answer, err := hsip.ParseSDP(sess.InviteResponse.Body())
	if err != nil {
		t.Fatal(err)
	}
	c := &tlsCaller{sess: sess, voice: &supervisorSession{heard: make(chan []int16, 500), tone: 440}}
	go c.voice.receive(rtp)
	go c.voice.speak(ctx, rtp, answer.Addr)
	return c
}

// TestSIPTLSVerifiesClientCertificates: with client_ca and verify_clients,
// only clients holding a certificate of that CA get through the handshake.
func TestSIPTLSVerifiesClientCertificates(t *testing.T) {
	t.Parallel()
	ca := tlstest.NewCA(t)
	pair := ca.Issue(t, "hotline")
	h := startHotline(t, func(c *config.Config) {
		c.SIP.TLS = &config.SIPTLS{Listen: "127.0.0.1:0", CertFiles: config.CertFiles{Cert: pair.CertFile, Key: pair.KeyFile},
			ClientCA: ca.File, VerifyClients: true}
	})
	// With TLS 1.3 a refused client learns it at its first read.
	handshake := func(cfg *tls.Config) error {
		c, err := tls.DialWithDialer(&net.Dialer{Timeout: 5 * time.Second}, "tcp", h.app.SIPTLSAddr.String(), cfg)
		if err != nil {
			return err
		}
		defer c.Close()
		_ = c.SetDeadline(time.Now().Add(5 * time.Second))
		if _, err := c.Write([]byte("\r\n\r\n")); err != nil { // RFC 5626 keep-alive: hotline answers CRLF
			return err
		}
		_, err = c.Read(make([]byte, 2))
		return err
	}
	if err := handshake(ca.ClientConfig(nil)); err == nil {
		t.Fatal("a phone without a client certificate got through")
	}
	phone := ca.Issue(t, "phone")
	if err := handshake(ca.ClientConfig(&phone)); err != nil {
		t.Fatalf("a phone with a certificate of client_ca: %v", err)
	}
	waitFor(t, 5*time.Second, "the refused handshake counted", func() (bool, string) {
		v := metricValue(h.metrics(), `hotline_sip_tls_handshake_failures_total{reason="client-cert"}`)
		return v == 1, fmt.Sprint(v)
	})
}

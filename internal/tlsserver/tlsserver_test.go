package tlsserver_test

import (
	"crypto/tls"
	"io"
	"log/slog"
	"net"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/hotline-cc/hotline/internal/tlsserver"
	"github.com/hotline-cc/hotline/internal/tlstest"
)

// server is a Listener on a loopback port that echoes one line per
// connection and records failure reasons.
type server struct {
	ln       *tlsserver.Listener
	mu       sync.Mutex
	failures []string
	failed   chan string
}

func startServer(t *testing.T, cfg *tls.Config, opts ...func(*tlsserver.ListenerOptions)) *server {
	t.Helper()
	tcp, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := &server{failed: make(chan string, 8)}
	lo := tlsserver.ListenerOptions{Name: "test", Log: quiet, Failed: func(r string) { s.failed <- r }}
	for _, o := range opts {
		o(&lo)
	}
	s.ln = tlsserver.NewListener(tcp, cfg, lo)
	go func() {
		for {
			c, err := s.ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				_, _ = io.Copy(c, io.LimitReader(c, 5))
			}()
		}
	}()
	t.Cleanup(func() { s.ln.Close() })
	return s
}

// echo dials with cfg, sends "hello" and reads it back; it returns the
// certificate the server presented.
func (s *server) echo(t *testing.T, cfg *tls.Config) (*tls.Conn, error) {
	t.Helper()
	c, err := tls.DialWithDialer(&net.Dialer{Timeout: 5 * time.Second}, "tcp", s.ln.Addr().String(), cfg)
	if err != nil {
		return nil, err
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(5 * time.Second))
	if _, err := c.Write([]byte("hello")); err != nil {
		return nil, err
	}
	buf := make([]byte, 5)
	if _, err := io.ReadFull(c, buf); err != nil {
		return nil, err
	}
	return c, nil
}

func (s *server) wantFailure(t *testing.T, reason string) {
	t.Helper()
	select {
	case got := <-s.failed:
		if got != reason {
			t.Fatalf("handshake failure reason %q, want %q", got, reason)
		}
	case <-time.After(5 * time.Second):
		t.Fatalf("no handshake failure counted, want %q", reason)
	}
}

var quiet = slog.New(slog.DiscardHandler)

func load(t *testing.T, kp tlstest.KeyPair) *tlsserver.Certificate {
	t.Helper()
	c, err := tlsserver.LoadCertificate(kp.CertFile, kp.KeyFile, quiet)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func TestListenerServesTLSAndCountsFailures(t *testing.T) {
	ca := tlstest.NewCA(t)
	srv := startServer(t, tlsserver.ServerConfig(tlsserver.Options{Certificate: load(t, ca.Issue(t, "server"))}))

	if _, err := srv.echo(t, ca.ClientConfig(nil)); err != nil {
		t.Fatalf("TLS client trusting the CA: %v", err)
	}

	// Plain text on the TLS port: no answer, counted as not-tls.
	plain, err := net.Dial("tcp", srv.ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	_, _ = plain.Write([]byte("OPTIONS sip:hotline@127.0.0.1 SIP/2.0\r\n\r\n"))
	_ = plain.SetReadDeadline(time.Now().Add(5 * time.Second))
	if b, _ := io.ReadAll(plain); len(b) > 0 && string(b[:3]) == "SIP" {
		t.Fatalf("plain text got a SIP answer: %q", b)
	}
	plain.Close()
	srv.wantFailure(t, tlsserver.FailureNotTLS)

	// A client that does not trust our CA hangs up with an alert.
	if _, err := srv.echo(t, &tls.Config{MinVersion: tls.VersionTLS12}); err == nil {
		t.Fatal("a client without the test CA accepted the certificate")
	}
	srv.wantFailure(t, tlsserver.FailureServerCert)

	// TLS 1.1 is refused.
	if _, err := srv.echo(t, &tls.Config{RootCAs: ca.Pool, MinVersion: tls.VersionTLS10, MaxVersion: tls.VersionTLS11}); err == nil {
		t.Fatal("TLS 1.1 accepted")
	}
	srv.wantFailure(t, tlsserver.FailureNegotiation)

	// The listener still serves after the failures.
	if _, err := srv.echo(t, ca.ClientConfig(nil)); err != nil {
		t.Fatalf("after failures: %v", err)
	}
}

// TestStalledHandshakeTimesOutWithoutBlockingOthers: a client that
// connects and sends nothing is cut at the handshake timeout, and others
// are served meanwhile.
func TestStalledHandshakeTimesOutWithoutBlockingOthers(t *testing.T) {
	ca := tlstest.NewCA(t)
	srv := startServer(t, tlsserver.ServerConfig(tlsserver.Options{Certificate: load(t, ca.Issue(t, "server"))}),
		func(o *tlsserver.ListenerOptions) { o.HandshakeTimeout = 300 * time.Millisecond })
	silent, err := net.Dial("tcp", srv.ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer silent.Close()
	if _, err := srv.echo(t, ca.ClientConfig(nil)); err != nil {
		t.Fatalf("a client behind a stalled one: %v", err)
	}
	srv.wantFailure(t, tlsserver.FailureTimeout)
	_ = silent.SetReadDeadline(time.Now().Add(5 * time.Second))
	if _, err := silent.Read(make([]byte, 1)); err == nil {
		t.Fatal("the stalled connection got data")
	} else if ne, ok := err.(net.Error); ok && ne.Timeout() {
		t.Fatal("the stalled connection was not closed")
	}
}

func TestRequiredClientCertificate(t *testing.T) {
	ca := tlstest.NewCA(t)
	other := tlstest.NewCA(t)
	srv := startServer(t, tlsserver.ServerConfig(tlsserver.Options{
		Certificate: load(t, ca.Issue(t, "server")), ClientCAs: ca.Pool, RequireClientCert: true,
	}))
	phone := ca.Issue(t, "phone")
	if _, err := srv.echo(t, ca.ClientConfig(&phone)); err != nil {
		t.Fatalf("client with a certificate of the CA: %v", err)
	}
	// With TLS 1.3 the client learns of the refusal on its first read.
	if _, err := srv.echo(t, ca.ClientConfig(nil)); err == nil {
		t.Fatal("client without a certificate served")
	}
	srv.wantFailure(t, tlsserver.FailureClientCert)
	stranger := other.Issue(t, "stranger")
	if _, err := srv.echo(t, ca.ClientConfig(&stranger)); err == nil {
		t.Fatal("client with a certificate of another CA served")
	}
	srv.wantFailure(t, tlsserver.FailureClientCert)
}

// TestRenewedCertificateServedWithoutRestart: files renamed over the old
// ones (how certbot and most renewals replace them) are served from the
// next handshake on; a renewal that does not load keeps the old pair.
func TestRenewedCertificateServedWithoutRestart(t *testing.T) {
	ca := tlstest.NewCA(t)
	first := ca.Issue(t, "first")
	srv := startServer(t, tlsserver.ServerConfig(tlsserver.Options{Certificate: load(t, first)}))
	served := func() string {
		t.Helper()
		c, err := srv.echo(t, ca.ClientConfig(nil))
		if err != nil {
			t.Fatal(err)
		}
		return c.ConnectionState().PeerCertificates[0].Subject.CommonName
	}
	if got := served(); got != "first" {
		t.Fatalf("served %q, want first", got)
	}
	replace := func(dst, src string) {
		t.Helper()
		b, err := os.ReadFile(src)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(dst+".new", b, 0o600); err != nil {
			t.Fatal(err)
		}
		if err := os.Rename(dst+".new", dst); err != nil {
			t.Fatal(err)
		}
	}
	second := ca.Issue(t, "second")
	replace(first.CertFile, second.CertFile)
	replace(first.KeyFile, second.KeyFile)
	if got := served(); got != "second" {
		t.Fatalf("after renewal served %q, want second", got)
	}
	// Half a renewal: the third certificate with the second's key.
	third := ca.Issue(t, "third")
	replace(first.CertFile, third.CertFile)
	if got := served(); got != "second" {
		t.Fatalf("after a broken renewal served %q, want the last good one (second)", got)
	}
	replace(first.KeyFile, third.KeyFile)
	if got := served(); got != "third" {
		t.Fatalf("after the renewal completed served %q, want third", got)
	}
}

func TestLoadCertificateRefusesMismatchedKey(t *testing.T) {
	ca := tlstest.NewCA(t)
	a, b := ca.Issue(t, "a"), ca.Issue(t, "b")
	if _, err := tlsserver.LoadCertificate(a.CertFile, b.KeyFile, nil); err == nil {
		t.Fatal("a certificate with another's key loaded")
	}
	if _, err := tlsserver.LoadCertificate(a.CertFile, a.KeyFile+".missing", nil); err == nil {
		t.Fatal("a missing key file loaded")
	}
}

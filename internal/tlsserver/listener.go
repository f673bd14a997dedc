package tlsserver

import (
	"context"
	"crypto/tls"
	"errors"
	"io"
	"log/slog"
	"net"
	"sync"
	"time"
)

// DefaultHandshakeTimeout bounds a client's handshake: a connection that
// sends nothing must not hold a goroutine and a socket for long.
const DefaultHandshakeTimeout = 10 * time.Second

// Why a handshake failed, the reason label of the failure counters: a
// bounded set.
const (
	FailureNotTLS      = "not-tls"     // the client spoke something else first (plain SIP, plain HTTP)
	FailureTimeout     = "timeout"     // no complete handshake within the handshake timeout
	FailureClientCert  = "client-cert" // no client certificate, or one ClientCAs do not verify
	FailureServerCert  = "server-cert" // the client refused our certificate (unknown CA, expired, wrong name)
	FailureClosed      = "closed"      // the client hung up during the handshake (a port scan)
	FailureNegotiation = "negotiation" // no common version or cipher suite, or another protocol error
)

// FailureReasons lists every reason, for exporting counters from zero.
var FailureReasons = []string{FailureNotTLS, FailureTimeout, FailureClientCert, FailureServerCert, FailureClosed, FailureNegotiation}

// ListenerOptions configure NewListener.
type ListenerOptions struct {
	// Name says which listener a log line is about ("sip", "http").
	Name string
	Log  *slog.Logger
	// Failed is told the reason of each failed handshake (for a counter).
	Failed func(reason string)
	// HandshakeTimeout is DefaultHandshakeTimeout when zero.
	HandshakeTimeout time.Duration
}

// Listener accepts TCP connections and hands out TLS connections whose
// handshake has completed. Each handshake runs on its own goroutine: one
// slow client does not hold up the others, and the server behind (sipgo,
// net/http) never sees a failed one. Left to them, sipgo would log it as
// an error (a read error) and net/http as a warning; here it is logged
// once, at debug level, because a scanner's probe is no news, and counted.
type Listener struct {
	tcp    net.Listener
	config *tls.Config
	opts   ListenerOptions

	ready     chan *tls.Conn
	done      chan struct{}
	closeOnce sync.Once
	acceptErr error // set before done closes when Accept of tcp failed
	wg        sync.WaitGroup
}

// NewListener serves TLS with config on tcp, which it owns from now on.
func NewListener(tcp net.Listener, config *tls.Config, opts ListenerOptions) *Listener {
	if opts.Log == nil {
		opts.Log = slog.Default()
	}
	if opts.HandshakeTimeout <= 0 {
		opts.HandshakeTimeout = DefaultHandshakeTimeout
	}
	l := &Listener{tcp: tcp, config: config, opts: opts, ready: make(chan *tls.Conn), done: make(chan struct{})}
	l.wg.Add(1)
	go l.acceptLoop()
	return l
}

func (l *Listener) acceptLoop() {
	defer l.wg.Done()
	for {
		conn, err := l.tcp.Accept()
		if err != nil {
			l.closeOnce.Do(func() {
				l.acceptErr = err
				close(l.done)
			})
			return
		}
		l.wg.Add(1)
		go func() {
			defer l.wg.Done()
			l.handshake(conn)
		}()
	}
}

func (l *Listener) handshake(conn net.Conn) {
	tc := tls.Server(conn, l.config)
	ctx, cancel := context.WithTimeout(context.Background(), l.opts.HandshakeTimeout)
	defer cancel()
	go func() {
		// Closing the listener ends handshakes still in progress.
		select {
		case <-l.done:
			cancel()
		case <-ctx.Done():
		}
	}()
	if err := tc.HandshakeContext(ctx); err != nil {
		_ = tc.Close()
		select {
		case <-l.done:
			return // shutting down: not the client's failure
		default:
		}
		reason := classify(err)
		// The error names the protocol problem (a bad record, an unknown CA);
		// it never carries key material.
		l.opts.Log.Debug("tls handshake failed", "listener", l.opts.Name, "src", conn.RemoteAddr().String(), "reason", reason, "err", err)
		if l.opts.Failed != nil {
			l.opts.Failed(reason)
		}
		return
	}
	select {
	case l.ready <- tc:
	case <-l.done:
		_ = tc.Close()
	}
}

// classify sorts a handshake error into one of the Failure reasons.
func classify(err error) string {
	var recordErr tls.RecordHeaderError
	var verifyErr *tls.CertificateVerificationError
	var remote *net.OpError
	switch {
	case errors.As(err, &recordErr):
		return FailureNotTLS
	case errors.Is(err, context.DeadlineExceeded):
		return FailureTimeout
	case errors.As(err, &verifyErr), err.Error() == errNoClientCert:
		return FailureClientCert
	case errors.As(err, &remote) && remote.Op == "remote error" && refusedCertificate[remote.Err.Error()]:
		return FailureServerCert
	case errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF), errors.Is(err, net.ErrClosed):
		return FailureClosed
	}
	return FailureNegotiation
}

// errNoClientCert is what crypto/tls returns, as a plain error, when
// RequireAndVerifyClientCert meets a client without a certificate.
const errNoClientCert = "tls: client didn't provide a certificate"

// refusedCertificate are the alerts a client sends when it does not accept
// our certificate (RFC 8446 §6.2), as crypto/tls spells them in the
// "remote error" it returns (their type is not exported).
var refusedCertificate = map[string]bool{
	"tls: bad certificate": true, "tls: unsupported certificate": true, "tls: revoked certificate": true,
	"tls: expired certificate": true, "tls: unknown certificate": true, "tls: unknown certificate authority": true,
}

// Accept returns the next connection whose handshake completed.
func (l *Listener) Accept() (net.Conn, error) {
	select {
	case c := <-l.ready:
		return c, nil
	case <-l.done:
		if l.acceptErr != nil {
			return nil, l.acceptErr
		}
		return nil, net.ErrClosed
	}
}

// Close stops accepting, ends handshakes in progress and waits for them.
// Connections already handed out stay open: their owner closes them.
func (l *Listener) Close() error {
	err := l.tcp.Close()
	l.closeOnce.Do(func() { close(l.done) })
	l.wg.Wait()
	return err
}

// Addr is the TCP address listened on.
func (l *Listener) Addr() net.Addr { return l.tcp.Addr() }

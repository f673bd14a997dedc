// Package tlsserver is the server side of hotline's TLS listeners, SIP over
// TLS (RFC 3261 §26.2) and HTTPS: it serves the certificate files and picks
// up renewed ones without a restart, builds the tls.Config (TLS 1.2 at
// least, optional client verification), and hands out only connections
// whose handshake has completed, so that a failed handshake is logged once,
// at debug level and without secrets, and counted. It imports only the
// standard library: sip and app both use it.
package tlsserver

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"sync"
	"time"
)

// Certificate serves a key pair read from two PEM files. Each handshake
// checks whether either file changed (a renewal by certbot or an operator)
// and loads the new pair; a pair that fails to load (a renewal half
// written: the new certificate, the old key) is logged and the last good
// one stays in use.
type Certificate struct {
	certFile, keyFile string
	log               *slog.Logger

	mu      sync.Mutex
	current *tls.Certificate
	loaded  [2]os.FileInfo // of certFile and keyFile when current was read
	failed  [2]os.FileInfo // the files that last failed, to log a failure once
}

// LoadCertificate reads the pair; it fails when the files do not hold a
// certificate and its matching private key.
func LoadCertificate(certFile, keyFile string, log *slog.Logger) (*Certificate, error) {
	if log == nil {
		log = slog.Default()
	}
	c := &Certificate{certFile: certFile, keyFile: keyFile, log: log}
	stats, err := c.stat()
	if err != nil {
		return nil, err
	}
	pair, err := tls.LoadX509KeyPair(certFile, keyFile)
	if err != nil {
		return nil, fmt.Errorf("tls key pair %s, %s: %w", certFile, keyFile, err)
	}
	c.current, c.loaded = &pair, stats
	c.logLoaded("tls certificate loaded")
	return c, nil
}

func (c *Certificate) stat() ([2]os.FileInfo, error) {
	var stats [2]os.FileInfo
	for i, name := range []string{c.certFile, c.keyFile} {
		fi, err := os.Stat(name)
		if err != nil {
			return stats, fmt.Errorf("tls key pair: %w", err)
		}
		stats[i] = fi
	}
	return stats, nil
}

// sameFiles reports whether a and b describe the same unchanged files: a
// rename over the old file (how renewals replace it) or a rewrite in place
// both differ.
func sameFiles(a, b [2]os.FileInfo) bool {
	for i := range a {
		if a[i] == nil || b[i] == nil || !os.SameFile(a[i], b[i]) ||
			!a[i].ModTime().Equal(b[i].ModTime()) || a[i].Size() != b[i].Size() {
			return false
		}
	}
	return true
}

// GetCertificate is tls.Config.GetCertificate: the current pair, reloaded
// first if its files changed. Two stat calls per handshake cost little
// next to the handshake's own public-key operations.
func (c *Certificate) GetCertificate(*tls.ClientHelloInfo) (*tls.Certificate, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	stats, err := c.stat()
	if err != nil || sameFiles(stats, c.loaded) || sameFiles(stats, c.failed) {
		// A file missing for a moment (being replaced) keeps the pair in use.
		return c.current, nil
	}
	pair, err := tls.LoadX509KeyPair(c.certFile, c.keyFile)
	if err != nil {
		c.failed = stats
		c.log.Warn("tls certificate files changed but do not load: keeping the previous certificate",
			"cert", c.certFile, "key", c.keyFile, "err", err)
		return c.current, nil
	}
	c.current, c.loaded = &pair, stats
	c.logLoaded("tls certificate reloaded")
	return c.current, nil
}

// logLoaded says which certificate is in use and warns when it is close to
// expiry (or past it): clients will refuse it.
func (c *Certificate) logLoaded(msg string) {
	leaf := c.current.Leaf
	if leaf == nil {
		return
	}
	left := time.Until(leaf.NotAfter)
	c.log.Info(msg, "cert", c.certFile, "subject", leaf.Subject.String(), "not_after", leaf.NotAfter.UTC())
	if left < 14*24*time.Hour {
		c.log.Warn("tls certificate expires soon", "cert", c.certFile, "not_after", leaf.NotAfter.UTC())
	}
}

// Options build a server tls.Config.
type Options struct {
	Certificate *Certificate
	// ClientCAs verify client certificates; nil asks for none.
	ClientCAs *x509.CertPool
	// RequireClientCert refuses clients without a certificate ClientCAs
	// verify; otherwise a client certificate, when sent, must verify.
	RequireClientCert bool
}

// ServerConfig is the tls.Config of a listener: TLS 1.2 at least (RFC 8996
// retired 1.0 and 1.1), the certificate served by o.Certificate.
func ServerConfig(o Options) *tls.Config {
	cfg := &tls.Config{
		MinVersion:     tls.VersionTLS12,
		GetCertificate: o.Certificate.GetCertificate,
	}
	if o.ClientCAs != nil {
		cfg.ClientCAs = o.ClientCAs
		cfg.ClientAuth = tls.VerifyClientCertIfGiven
		if o.RequireClientCert {
			cfg.ClientAuth = tls.RequireAndVerifyClientCert
		}
	}
	return cfg
}

// LoadCertPool reads PEM CA certificates from file.
func LoadCertPool(file string) (*x509.CertPool, error) {
	b, err := os.ReadFile(file)
	if err != nil {
		return nil, err
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(b) {
		return nil, errors.New("no PEM certificate in " + file)
	}
	return pool, nil
}

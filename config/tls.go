package config

import (
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"fmt"
	"io"
	"net/netip"
	"os"

	"gopkg.in/yaml.v3"
)

// maxPEMFile bounds what Parse reads of a certificate or key file: real
// chains are a few kB, and a path such as /dev/zero must not hang a reload.
const maxPEMFile = 1 << 20

// sipTLS decodes sip.tls; it also returns the node of its listen key, nil
// when absent.
func (d *decoder) sipTLS(n *yaml.Node) (*SIPTLS, *yaml.Node) {
	var t SIPTLS
	var listenNode, clientCANode, verifyNode *yaml.Node
	cert := d.certFiles(n, "sip.tls", map[string]field{
		"listen": func(v *yaml.Node) {
			if addr, ok := d.addrPort(v, "sip.tls.listen"); ok {
				t.Listen, listenNode = addr, d.resolve(v)
			}
		},
		"client_ca": func(v *yaml.Node) {
			clientCANode = d.resolve(v)
			d.nonEmpty(&t.ClientCA, "sip.tls.client_ca")(v)
		},
		"verify_clients": func(v *yaml.Node) {
			verifyNode = d.resolve(v)
			d.boolean(&t.VerifyClients, "sip.tls.verify_clients")(v)
		},
	})
	if cert == nil {
		return nil, nil
	}
	t.CertFiles = *cert
	if listenNode == nil {
		d.errorf(n, "sip.tls: listen is required (e.g. 0.0.0.0:5061)")
	}
	if t.ClientCA != "" {
		if _, err := readCertPool(t.ClientCA); err != nil {
			d.errorf(clientCANode, "sip.tls.client_ca: %v", err)
		}
	} else if t.VerifyClients && verifyNode != nil {
		d.errorf(verifyNode, "sip.tls.verify_clients: needs client_ca, the CAs that verify the phones' certificates")
	}
	return &t, listenNode
}

// checkSIPTLSListen refuses a TLS listener on the port where sip.listen
// has SIP over TCP.
func (d *decoder) checkSIPTLSListen(s *SIP, listenNode *yaml.Node) {
	plain, err1 := netip.ParseAddrPort(s.Listen)
	secure, err2 := netip.ParseAddrPort(s.TLS.Listen)
	if err1 != nil || err2 != nil || plain.Port() != secure.Port() {
		return
	}
	if plain.Addr() == secure.Addr() || plain.Addr().IsUnspecified() || secure.Addr().IsUnspecified() {
		d.errorf(listenNode, "sip.tls.listen: %s clashes with sip.listen %s, where SIP over TCP listens", s.TLS.Listen, s.Listen)
	}
}

// certFiles decodes a mapping with cert and key (and the keys of extra)
// and loads the pair, reporting problems at the key that names the faulty
// file. It returns nil when the section is absent or empty.
func (d *decoder) certFiles(n *yaml.Node, ctx string, extra map[string]field) *CertFiles {
	if isEmpty(d.resolve(n)) {
		return nil
	}
	var c CertFiles
	var certNode, keyNode *yaml.Node
	known := map[string]field{
		"cert": func(v *yaml.Node) { certNode = d.resolve(v); d.nonEmpty(&c.Cert, ctx+".cert")(v) },
		"key":  func(v *yaml.Node) { keyNode = d.resolve(v); d.nonEmpty(&c.Key, ctx+".key")(v) },
	}
	for k, f := range extra {
		known[k] = f
	}
	d.fields(n, ctx, known)
	if n = d.resolve(n); n == nil || n.Kind != yaml.MappingNode {
		return nil // reported by fields
	}
	if certNode == nil {
		d.errorf(n, "%s: cert is required (a PEM certificate chain file)", ctx)
	}
	if keyNode == nil {
		d.errorf(n, "%s: key is required (a PEM private key file)", ctx)
	}
	if c.Cert == "" || c.Key == "" {
		return &c
	}
	certPEM, err := readPEMFile(c.Cert)
	if err != nil {
		d.errorf(certNode, "%s.cert: %v", ctx, err)
	} else if err := checkCertificatePEM(certPEM); err != nil {
		d.errorf(certNode, "%s.cert: %s: %v", ctx, c.Cert, err)
		certPEM = nil
	}
	keyPEM, err := readPEMFile(c.Key)
	if err != nil {
		d.errorf(keyNode, "%s.key: %v", ctx, err)
	}
	if certPEM != nil && keyPEM != nil {
		if _, err := tls.X509KeyPair(certPEM, keyPEM); err != nil {
			d.errorf(keyNode, "%s.key: %s does not go with %s: %v", ctx, c.Key, c.Cert, err)
		}
	}
	return &c
}

// readPEMFile reads a regular file of at most maxPEMFile bytes.
func readPEMFile(name string) ([]byte, error) {
	f, err := os.Open(name)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, err
	}
	if !fi.Mode().IsRegular() {
		return nil, fmt.Errorf("%s is not a regular file", name)
	}
	if fi.Size() > maxPEMFile {
		return nil, fmt.Errorf("%s is %d bytes; a PEM file is a few kB", name, fi.Size())
	}
	return io.ReadAll(io.LimitReader(f, maxPEMFile))
}

// checkCertificatePEM reports whether b starts with a parseable PEM
// certificate, so that a problem with it is reported at cert, not key.
func checkCertificatePEM(b []byte) error {
	for {
		var block *pem.Block
		block, b = pem.Decode(b)
		switch {
		case block == nil:
			return fmt.Errorf("no PEM CERTIFICATE block")
		case block.Type != "CERTIFICATE":
			continue
		}
		_, err := x509.ParseCertificate(block.Bytes)
		return err
	}
}

// readCertPool reads PEM CA certificates.
func readCertPool(name string) (*x509.CertPool, error) {
	b, err := readPEMFile(name)
	if err != nil {
		return nil, err
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(b) {
		return nil, fmt.Errorf("%s holds no PEM certificate", name)
	}
	return pool, nil
}

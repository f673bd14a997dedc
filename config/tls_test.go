package config

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/hotline-cc/hotline/internal/tlstest"
)

// TestTLSSections: sip.tls and http.tls load their files at parse time;
// every problem points at the key that names the faulty file.
func TestTLSSections(t *testing.T) {
	ca := tlstest.NewCA(t)
	good, other := ca.Issue(t, "hotline"), ca.Issue(t, "other")
	dir := t.TempDir()
	garbage := filepath.Join(dir, "garbage.pem")
	if err := os.WriteFile(garbage, []byte("not PEM\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	missing := filepath.Join(dir, "missing.pem")
	expand := strings.NewReplacer("{cert}", good.CertFile, "{key}", good.KeyFile, "{otherkey}", other.KeyFile,
		"{ca}", ca.File, "{garbage}", garbage, "{missing}", missing)

	c, err := Parse("t.yaml", []byte(expand.Replace(`
sip:
  listen: 127.0.0.1:5060
  tls: {listen: "127.0.0.1:5061", cert: {cert}, key: {key}, client_ca: {ca}, verify_clients: true}
http:
  tls: {cert: {cert}, key: {key}}
`)))
	if err != nil {
		t.Fatal(err)
	}
	want := SIPTLS{Listen: "127.0.0.1:5061", CertFiles: CertFiles{Cert: good.CertFile, Key: good.KeyFile}, ClientCA: ca.File, VerifyClients: true}
	if c.SIP.TLS == nil || *c.SIP.TLS != want {
		t.Errorf("sip.tls = %+v, want %+v", c.SIP.TLS, want)
	}
	if c.HTTP.TLS == nil || *c.HTTP.TLS != want.CertFiles {
		t.Errorf("http.tls = %+v", c.HTTP.TLS)
	}
	if c, err := Parse("t.yaml", []byte("sip:\n  tls:\nhttp: {}\n")); err != nil || c.SIP.TLS != nil || c.HTTP.TLS != nil {
		t.Errorf("absent tls sections: %+v, %+v, %v; want nil (plain text)", c.SIP.TLS, c.HTTP.TLS, err)
	}

	cases := []errorCase{
		{name: "missing cert file", yaml: `
sip:
  tls:
    listen: 127.0.0.1:5061
    cert: {missing}
    key: {key}
`, want: []string{`5:11: sip.tls.cert: open {missing}: no such file or directory`}},
		{name: "key of another certificate", yaml: `
http:
  tls:
    cert: {cert}
    key: {otherkey}
`, want: []string{`5:10: http.tls.key: {otherkey} does not go with {cert}: tls: private key does not match public key`}},
		{name: "not a certificate", yaml: `
http:
  tls: {cert: {garbage}, key: {key}}
`, want: []string{`3:15: http.tls.cert: {garbage}: no PEM CERTIFICATE block`}},
		{name: "required keys", yaml: `
sip:
  tls:
    cert: {cert}
`, want: []string{`4:5: sip.tls: key is required (a PEM private key file)`, `4:5: sip.tls: listen is required (e.g. 0.0.0.0:5061)`}},
		{name: "verify without a CA", yaml: `
sip:
  tls:
    verify_clients: true
    listen: 127.0.0.1:5061
    cert: {cert}
    key: {key}
`, want: []string{`4:21: sip.tls.verify_clients: needs client_ca, the CAs that verify the phones' certificates`}},
		{name: "bad client CA", yaml: `
sip:
  tls:
    client_ca: {garbage}
    listen: 127.0.0.1:5061
    cert: {cert}
    key: {key}
`, want: []string{`4:16: sip.tls.client_ca: {garbage} holds no PEM certificate`}},
		{name: "TLS on the TCP port", yaml: `
sip:
  listen: 0.0.0.0:5060
  advertise: 192.0.2.1
  tls: {listen: "192.0.2.1:5060", cert: {cert}, key: {key}}
`, want: []string{`5:17: sip.tls.listen: 192.0.2.1:5060 clashes with sip.listen 0.0.0.0:5060, where SIP over TCP listens`}},
	}
	for i := range cases {
		// Columns in want are those of the file with the paths in place.
		cases[i].yaml = expand.Replace(cases[i].yaml)
		for j, w := range cases[i].want {
			cases[i].want[j] = expand.Replace(w)
		}
	}
	runErrorCases(t, cases)
}

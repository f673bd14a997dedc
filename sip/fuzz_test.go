package sip

import (
	"strings"
	"testing"
	"time"

	"github.com/emiago/sipgo/sip"
)

// FuzzDigestVerify: any Authorization header is refused or accepted
// without panicking, and only the right credentials are accepted.
func FuzzDigestVerify(f *testing.F) {
	a, err := NewAuthenticator("hotline", 5*time.Minute, nil, func(user string) (string, bool) {
		return "secret", user == "1001"
	})
	if err != nil {
		f.Fatal(err)
	}
	now := time.Unix(1_800_000_000, 0)
	for _, seed := range []string{
		``, `Digest`, `Basic abc`,
		`Digest username="1001", realm="hotline", nonce="x", uri="sip:h", response="00", qop=auth, nc=00000001, cnonce="c"`,
		`Digest username="1001",,,realm=,nonce="`, `Digest username="` + strings.Repeat("a", 300) + `"`,
		`Digest algorithm=SHA-256, username="1001", realm="hotline", nonce="` + a.newNonce(now) + `", uri="sip:h", response="zz"`,
	} {
		f.Add(seed)
	}
	// Credentials of the torture messages (RFC 4475 §3.3.7 and others).
	for _, name := range []string{"Authorization", "Proxy-Authorization"} {
		for _, seed := range headerValues(seedMessages(f), name) {
			f.Add(seed)
		}
	}
	f.Fuzz(func(t *testing.T, authorization string) {
		if user, err := a.Verify(authorization, "REGISTER", now); err == nil && user != "1001" {
			t.Fatalf("accepted %q as %q", authorization, user)
		}
	})
}

// FuzzParseReferTo: any Refer-To value (blind or attended) is taken or
// refused with a status, and a taken one is within the documented
// bounds.
func FuzzParseReferTo(f *testing.F) {
	for _, seed := range []string{
		`<sip:1004@127.0.0.1>`, `sip:%2B4930%2A1@h`, `<sip:1004@h?Replaces=abc%40host%3Bto-tag%3D1%3Bfrom-tag%3D2>`,
		`<sip:@h?Replaces=x%3Bto-tag%3D%3Bfrom-tag%3D>`, `<tel:+1>`, `<sip:a@b>, <sip:c@d>`, `<sip:a@b?Replaces=%ZZ>`,
	} {
		f.Add(seed)
	}
	// The transfers of our SIPp scenarios (agent_refer.xml).
	for _, seed := range headerValues(seedMessages(f), "Refer-To") {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, referTo string) {
		if strings.ContainsAny(referTo, "\r\n") {
			return // a header value never holds a line break
		}
		req := sip.NewRequest(sip.REFER, sip.Uri{Scheme: "sip", Host: "127.0.0.1"})
		req.AppendHeader(sip.NewHeader("Refer-To", referTo))
		rr, status, _ := parseReferTo(req)
		if status != 0 {
			if status != 400 {
				t.Fatalf("status %d for %q", status, referTo)
			}
			return
		}
		if rr.Replaces == nil && !validReferTarget(rr.Target) || len(rr.Target) > referTargetMax {
			t.Fatalf("took target %q from %q", rr.Target, referTo)
		}
		if r := rr.Replaces; r != nil && (r.CallID == "" || r.ToTag == "" || r.FromTag == "") {
			t.Fatalf("took Replaces %+v from %q", r, referTo)
		}
	})
}

package sip

import (
	"errors"
	"testing"
	"time"

	"github.com/icholy/digest"
)

func passwords(user string) (string, bool) {
	if user == "1003" {
		return "demo1003", true
	}
	return "", false
}

// authorize answers a challenge like a phone would, using an independent digest
// implementation (icholy/digest's client side).
func authorize(t *testing.T, challenge, user, password, uri string, nc int) string {
	t.Helper()
	chal, err := digest.ParseChallenge(challenge)
	if err != nil {
		t.Fatal(err)
	}
	cred, err := digest.Digest(chal, digest.Options{Method: "REGISTER", URI: uri, Username: user, Password: password, Count: nc, Cnonce: "0a4f113b"})
	if err != nil {
		t.Fatal(err)
	}
	return cred.String()
}

func TestDigestVerify(t *testing.T) {
	now := time.Date(2026, 11, 23, 9, 0, 0, 0, time.UTC)
	a, err := NewAuthenticator("hotline", 5*time.Minute, nil, passwords)
	if err != nil {
		t.Fatal(err)
	}
	chals := a.Challenges(now, false)
	if len(chals) != 2 {
		t.Fatalf("want an MD5 and a SHA-256 challenge, got %v", chals)
	}
	other, _ := NewAuthenticator("hotline", 5*time.Minute, nil, passwords)
	forged := other.Challenges(now, false)[0]

	tests := []struct {
		name    string
		authz   string
		at      time.Time
		wantErr error
	}{
		{"md5 ok", authorize(t, chals[0], "1003", "demo1003", "sip:127.0.0.1", 1), now, nil},
		{"sha-256 ok", authorize(t, chals[1], "1003", "demo1003", "sip:127.0.0.1", 5), now, nil},
		{"wrong password", authorize(t, chals[0], "1003", "nope", "sip:127.0.0.1", 2), now, ErrAuthMismatch},
		{"unknown user", authorize(t, chals[0], "9999", "x", "sip:127.0.0.1", 3), now, ErrAuthUnknown},
		{"nonce from another server", authorize(t, forged, "1003", "demo1003", "sip:127.0.0.1", 1), now, ErrAuthForged},
		{"expired nonce", authorize(t, chals[0], "1003", "demo1003", "sip:127.0.0.1", 4), now.Add(6 * time.Minute), ErrAuthStale},
		{"empty", "", now, ErrAuthMissing},
		{"not digest", "Basic dXNlcjpwYXNz", now, ErrAuthMalformed},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := a.Verify(tt.authz, "REGISTER", tt.at)
			if !errors.Is(err, tt.wantErr) {
				t.Fatalf("Verify = %v, want %v", err, tt.wantErr)
			}
		})
	}
}

func TestDigestReplayRefused(t *testing.T) {
	now := time.Now()
	a, _ := NewAuthenticator("hotline", time.Minute, nil, passwords)
	chal := a.Challenges(now, false)[0]
	authz := authorize(t, chal, "1003", "demo1003", "sip:127.0.0.1", 1)
	if _, err := a.Verify(authz, "REGISTER", now); err != nil {
		t.Fatalf("first use: %v", err)
	}
	if _, err := a.Verify(authz, "REGISTER", now); !errors.Is(err, ErrAuthReplay) {
		t.Fatalf("replay: %v, want ErrAuthReplay", err)
	}
	next := authorize(t, chal, "1003", "demo1003", "sip:127.0.0.1", 2)
	if _, err := a.Verify(next, "REGISTER", now); err != nil {
		t.Fatalf("next nonce count: %v", err)
	}
	a.Sweep(now.Add(2 * time.Minute))
	if len(a.counters) != 0 {
		t.Fatalf("sweep kept %d expired nonces", len(a.counters))
	}
}

func TestDigestWrongMethodFails(t *testing.T) {
	now := time.Now()
	a, _ := NewAuthenticator("hotline", time.Minute, nil, passwords)
	authz := authorize(t, a.Challenges(now, false)[0], "1003", "demo1003", "sip:127.0.0.1", 1)
	if _, err := a.Verify(authz, "INVITE", now); !errors.Is(err, ErrAuthMismatch) {
		t.Fatalf("Verify for another method = %v, want mismatch", err)
	}
}

// TestDigestUnknownUserDoesEqualWork: an unknown user's response is
// checked against a secret of the authenticator's like any other, and
// fails whatever password it was computed with, even the dummy itself:
// Verify never succeeds for a user the password hook does not know.
func TestDigestUnknownUserDoesEqualWork(t *testing.T) {
	now := time.Date(2026, 11, 23, 9, 0, 0, 0, time.UTC)
	a, err := NewAuthenticator("hotline", 5*time.Minute, nil, passwords)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := NewAuthenticator("hotline", 5*time.Minute, nil, passwords)
	if len(a.dummy) != 32 || a.dummy == b.dummy {
		t.Fatalf("dummy secrets %q, %q: want 16 random bytes each", a.dummy, b.dummy)
	}
	chal := a.Challenges(now, false)[0]
	for i, pw := range []string{"", "x", a.dummy} {
		if _, err := a.Verify(authorize(t, chal, "9999", pw, "sip:127.0.0.1", i+1), "REGISTER", now); !errors.Is(err, ErrAuthUnknown) {
			t.Fatalf("unknown user with password %q: %v, want ErrAuthUnknown", pw, err)
		}
	}
}

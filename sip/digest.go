package sip

import (
	"crypto/hmac"
	"crypto/md5"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"strings"
	"sync"
	"time"

	"github.com/icholy/digest"
)

// Digest algorithms we accept (RFC 8760 adds SHA-256 to SIP's MD5).
const (
	AlgorithmMD5    = "MD5"
	AlgorithmSHA256 = "SHA-256"
)

// Errors of digest verification; each maps to a SIP answer in the registrar.
var (
	ErrAuthMissing   = errors.New("digest: no credentials")
	ErrAuthMalformed = errors.New("digest: malformed credentials")
	ErrAuthStale     = errors.New("digest: nonce expired")
	ErrAuthForged    = errors.New("digest: nonce not issued by this server")
	ErrAuthReplay    = errors.New("digest: nonce count replayed")
	ErrAuthMismatch  = errors.New("digest: wrong response")
	ErrAuthUnknown   = errors.New("digest: unknown user")
)

// nonceLen is 8 bytes of issue time, 8 random bytes and a 16-byte truncated HMAC.
const nonceLen = 32

// Authenticator issues self-verifying nonces and checks digest responses
// (RFC 3261 §22.4, RFC 7616 for qop=auth and SHA-256, RFC 8760 for SIP).
//
// A nonce carries its issue time and an HMAC under a secret that never leaves the
// process, so only this server can have issued it and its age needs no table. The
// table below only tracks the highest nonce count seen per nonce, to refuse replays.
type Authenticator struct {
	realm      string
	ttl        time.Duration
	algorithms []string
	secret     [32]byte
	dummy      string // the password checked for unknown users
	password   func(user string) (string, bool)

	mu       sync.Mutex
	counters map[string]nonceUse
}

type nonceUse struct {
	highestNC int
	expires   time.Time
}

// NewAuthenticator returns an authenticator for realm. password looks up a user's
// secret; algorithms are offered in the given order (default MD5, then SHA-256, since
// many deployed phones take the first challenge only).
func NewAuthenticator(realm string, ttl time.Duration, algorithms []string, password func(user string) (string, bool)) (*Authenticator, error) {
	if len(algorithms) == 0 {
		algorithms = []string{AlgorithmMD5, AlgorithmSHA256}
	}
	for _, a := range algorithms {
		if a != AlgorithmMD5 && a != AlgorithmSHA256 {
			return nil, fmt.Errorf("digest: unsupported algorithm %q", a)
		}
	}
	a := &Authenticator{realm: realm, ttl: ttl, algorithms: algorithms, password: password, counters: make(map[string]nonceUse)}
	if _, err := rand.Read(a.secret[:]); err != nil {
		return nil, fmt.Errorf("digest secret: %w", err)
	}
	var dummy [16]byte
	if _, err := rand.Read(dummy[:]); err != nil {
		return nil, fmt.Errorf("digest secret: %w", err)
	}
	a.dummy = hex.EncodeToString(dummy[:])
	return a, nil
}

// Challenges returns one WWW-Authenticate value per algorithm, all on a fresh nonce.
func (a *Authenticator) Challenges(now time.Time, stale bool) []string {
	nonce := a.newNonce(now)
	out := make([]string, 0, len(a.algorithms))
	for _, alg := range a.algorithms {
		c := digest.Challenge{Realm: a.realm, Nonce: nonce, Algorithm: alg, QOP: []string{"auth"}, Stale: stale}
		out = append(out, c.String())
	}
	return out
}

// Verify checks an Authorization header value for method and returns the user.
func (a *Authenticator) Verify(authorization, method string, now time.Time) (string, error) {
	if authorization == "" {
		return "", ErrAuthMissing
	}
	cred, err := digest.ParseCredentials(authorization)
	if err != nil {
		return "", fmt.Errorf("%w: %v", ErrAuthMalformed, err)
	}
	if cred.Username == "" || cred.URI == "" || cred.Response == "" {
		return "", ErrAuthMalformed
	}
	if cred.Realm != a.realm {
		return cred.Username, fmt.Errorf("%w: realm %q", ErrAuthMalformed, cred.Realm)
	}
	alg := cred.Algorithm
	if alg == "" {
		alg = AlgorithmMD5 // RFC 2617 §3.2.2: absent means MD5
	}
	if !a.offers(alg) {
		return cred.Username, fmt.Errorf("%w: algorithm %q", ErrAuthMalformed, alg)
	}
	if cred.QOP != "auth" {
		// We always challenge with qop=auth; answering without it is the RFC 2069
		// scheme, which has no client nonce and invites replay.
		return cred.Username, fmt.Errorf("%w: qop %q", ErrAuthMalformed, cred.QOP)
	}
	if cred.Cnonce == "" || cred.Nc <= 0 {
		return cred.Username, fmt.Errorf("%w: missing cnonce or nc", ErrAuthMalformed)
	}
	issued, err := a.checkNonce(cred.Nonce)
	if err != nil {
		return cred.Username, err
	}
	password, known := a.password(cred.Username)
	if !known {
		// An unknown user costs the same work as a wrong password, against
		// a secret no one knows, so that timing does not tell which
		// accounts exist (the caller answers both alike).
		password = a.dummy
	}
	want := response(alg, cred.Username, a.realm, password, method, cred.URI, cred.Nonce, cred.Nc, cred.Cnonce)
	match := subtle.ConstantTimeCompare([]byte(want), []byte(strings.ToLower(cred.Response))) == 1
	if !known {
		return cred.Username, ErrAuthUnknown
	}
	if !match {
		return cred.Username, ErrAuthMismatch
	}
	// Only a correct response may advance the counter, so garbage cannot burn nonces.
	if now.Sub(issued) > a.ttl {
		return cred.Username, ErrAuthStale
	}
	if err := a.useNonce(cred.Nonce, cred.Nc, issued.Add(a.ttl)); err != nil {
		return cred.Username, err
	}
	return cred.Username, nil
}

// Sweep forgets counters of expired nonces; call it periodically.
func (a *Authenticator) Sweep(now time.Time) {
	a.mu.Lock()
	defer a.mu.Unlock()
	for n, u := range a.counters {
		if now.After(u.expires) {
			delete(a.counters, n)
		}
	}
}

func (a *Authenticator) offers(alg string) bool {
	for _, x := range a.algorithms {
		if strings.EqualFold(x, alg) {
			return true
		}
	}
	return false
}

func (a *Authenticator) newNonce(now time.Time) string {
	var b [nonceLen]byte
	binary.BigEndian.PutUint64(b[:8], uint64(now.UnixNano()))
	_, _ = rand.Read(b[8:16])
	mac := hmac.New(sha256.New, a.secret[:])
	mac.Write(b[:16])
	copy(b[16:], mac.Sum(nil))
	return base64.RawURLEncoding.EncodeToString(b[:])
}

func (a *Authenticator) checkNonce(nonce string) (time.Time, error) {
	b, err := base64.RawURLEncoding.DecodeString(nonce)
	if err != nil || len(b) != nonceLen {
		return time.Time{}, ErrAuthForged
	}
	mac := hmac.New(sha256.New, a.secret[:])
	mac.Write(b[:16])
	if !hmac.Equal(mac.Sum(nil)[:16], b[16:]) {
		return time.Time{}, ErrAuthForged
	}
	return time.Unix(0, int64(binary.BigEndian.Uint64(b[:8]))), nil
}

func (a *Authenticator) useNonce(nonce string, nc int, expires time.Time) error {
	a.mu.Lock()
	defer a.mu.Unlock()
	u := a.counters[nonce]
	if nc <= u.highestNC {
		return ErrAuthReplay
	}
	a.counters[nonce] = nonceUse{highestNC: nc, expires: expires}
	return nil
}

// response computes the RFC 7616 §3.4.1 request-digest for qop=auth.
func response(alg, user, realm, password, method, uri, nonce string, nc int, cnonce string) string {
	var h func() hash.Hash = md5.New
	if strings.EqualFold(alg, AlgorithmSHA256) {
		h = sha256.New
	}
	ha1 := hashHex(h, user+":"+realm+":"+password)
	ha2 := hashHex(h, method+":"+uri)
	return hashHex(h, fmt.Sprintf("%s:%s:%08x:%s:auth:%s", ha1, nonce, nc, cnonce, ha2))
}

func hashHex(h func() hash.Hash, s string) string {
	x := h()
	x.Write([]byte(s))
	return hex.EncodeToString(x.Sum(nil))
}

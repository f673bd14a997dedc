package app_test

import (
	"fmt"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/hotline-cc/hotline/config"
)

// registerWith sends a REGISTER for user from peer, answers its challenge
// with password, and returns the final answer and how long hotline took to
// give it (the credentials' round trip only). A request that gets no answer
// within a second returns status 0.
func registerWith(t *testing.T, h *hotline, peer *sipPeer, user, password, callID string, cseq int) (sipAnswer, time.Duration) {
	t.Helper()
	ruri := "sip:" + h.sipAddr()
	aor := "sip:" + user + "@" + h.sipAddr()
	send := func(cseq int, extra ...string) (sipAnswer, time.Duration) {
		req := sipRequest(peer, "REGISTER", ruri, callID, cseq, append([]string{"Expires: 60"}, extra...), "")
		req = strings.Replace(req, "To: <"+ruri+">", "To: <"+aor+">", 1)
		req = strings.Replace(req, "From: <sip:+15550100@"+peer.addr().String()+">", "From: <"+aor+">", 1)
		req = strings.Replace(req, "Contact: <sip:+15550100@", "Contact: <sip:"+user+"@", 1)
		start := time.Now()
		peer.send(t, h.sipAddr(), []byte(req))
		answers := peer.read(t, start.Add(time.Second), true)
		took := time.Since(start)
		if !hasFinal(answers) {
			return sipAnswer{}, took
		}
		return answers[len(answers)-1], took
	}
	challenge, took := send(cseq)
	if challenge.status != 401 {
		return challenge, took
	}
	realm, nonce := md5Challenge(t, challenge.raw)
	return send(cseq+1, authorization(user, password, realm, nonce, ruri, 1))
}

// TestRegisterBruteForceIsLockedOut: a source guessing an agent's password
// is locked out after a few failures (then the right password is refused
// too), banned when it keeps going, and never learns which accounts exist:
// an unknown user gets the answer of a wrong password, in the same time.
func TestRegisterBruteForceIsLockedOut(t *testing.T) {
	t.Parallel()
	h := startHotline(t, func(c *config.Config) {
		c.Security.Allow = []netip.Prefix{netip.MustParsePrefix("127.0.0.1/32")}
		c.Security.AllowTrunks = false
	})
	attacker := newSIPPeer(t, randomLoopback(t), 0)
	guesses := robustScale(40, 200)
	var accepted, refused, silent, firstSilent int
	for i := range guesses {
		password := fmt.Sprintf("guess-%d", i)
		if i == config.DefaultAccountFailures+1 {
			password = "demo1001" // the right one, once locked out
		}
		ans, _ := registerWith(t, h, attacker, "1001", password, fmt.Sprintf("brute-%d", i), 2*i+1)
		switch {
		case ans.status == 200:
			accepted++
		case ans.status == 403:
			refused++
		case ans.status == 0:
			silent++
			if firstSilent == 0 {
				firstSilent = i + 1
			}
		default:
			t.Errorf("guess %d: answered %d\n%s", i, ans.status, ans.raw)
		}
		if silent > 3 {
			break // banned: the rest would only wait for answers that never come
		}
	}
	lockouts := metricValue(h.metrics(), `hotline_sip_blocked_total{reason="lockout"}`)
	reportRobust(t, "REGISTER brute force from one source",
		fmt.Sprintf("%d guesses: %d accepted (the right password among them); locked out after %.0f failures; silence (banned) from guess %d",
			refused+accepted+silent, accepted, float64(refused)-lockouts, firstSilent),
		fmt.Sprintf("0 accepted; locked out after %d; banned", config.DefaultAccountFailures),
		accepted == 0 && float64(refused)-lockouts == config.DefaultAccountFailures && firstSilent > 0)

	// Timing: the allow-listed office (never locked out) asks for a real
	// user with a wrong password and for a user that does not exist,
	// interleaved; the medians must not tell them apart.
	office := newSIPPeer(t, netip.MustParseAddr("127.0.0.1"), 0)
	samples := robustScale(30, 200)
	var known, unknown []time.Duration
	for i := range samples {
		a, took := registerWith(t, h, office, "1002", "wrong", fmt.Sprintf("known-%d", i), 1)
		b, took2 := registerWith(t, h, office, fmt.Sprintf("nobody%d", i), "wrong", fmt.Sprintf("unknown-%d", i), 1)
		if a.status != 403 || b.status != 403 || a.raw[:strings.Index(a.raw, "\r\n")] != b.raw[:strings.Index(b.raw, "\r\n")] {
			t.Fatalf("wrong password %d / unknown user %d: want the same 403", a.status, b.status)
		}
		known, unknown = append(known, took), append(unknown, took2)
	}
	mk, mu := percentile(known, 50), percentile(unknown, 50)
	diff := mk - mu
	if diff < 0 {
		diff = -diff
	}
	reportRobust(t, "REGISTER timing: wrong password vs unknown user",
		fmt.Sprintf("median %s vs %s over %d each", mk.Round(time.Microsecond), mu.Round(time.Microsecond), samples),
		"same 403, medians within 1 ms", diff < time.Millisecond)
}

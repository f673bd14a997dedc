// Package pinguard checks agents' PINs and slows down guessing: after
// MaxFailures wrong PINs in a row for an agent, every login of that agent is
// refused for Lockout, whichever way it comes (API or a phone's feature
// code), so one guard is shared by all of them.
package pinguard

import (
	"crypto/sha256"
	"crypto/subtle"
	"sync"
	"time"
)

const (
	// MaxFailures wrong PINs in a row lock an agent's logins.
	MaxFailures = 5
	// Lockout is how long a locked agent's logins are refused.
	Lockout = time.Minute
)

// Guard counts wrong PINs per agent. It is safe for concurrent use.
type Guard struct {
	mu    sync.Mutex
	fails map[string]failures
	now   func() time.Time
}

type failures struct {
	n     int
	until time.Time
}

// New returns a guard reading time from now (time.Now when nil).
func New(now func() time.Time) *Guard {
	if now == nil {
		now = time.Now
	}
	return &Guard{fails: map[string]failures{}, now: now}
}

// Check compares the PIN given for agentID with the agent's PIN in constant
// time. While the agent is locked it does not compare at all and returns
// how long the lockout still lasts.
func (g *Guard) Check(agentID, given, want string) (ok bool, locked time.Duration) {
	if left := g.Locked(agentID); left > 0 {
		return false, left
	}
	// Digests first: ConstantTimeCompare leaks length, hashes have one.
	a, b := sha256.Sum256([]byte(given)), sha256.Sum256([]byte(want))
	if want == "" || subtle.ConstantTimeCompare(a[:], b[:]) != 1 {
		g.failed(agentID)
		return false, 0
	}
	g.mu.Lock()
	delete(g.fails, agentID)
	g.mu.Unlock()
	return true, 0
}

// Locked returns how long agentID's logins are still refused.
func (g *Guard) Locked(agentID string) time.Duration {
	g.mu.Lock()
	defer g.mu.Unlock()
	f, ok := g.fails[agentID]
	if !ok || f.until.IsZero() {
		return 0
	}
	left := f.until.Sub(g.now())
	if left <= 0 {
		delete(g.fails, agentID)
		return 0
	}
	return left
}

func (g *Guard) failed(agentID string) {
	g.mu.Lock()
	defer g.mu.Unlock()
	f := g.fails[agentID]
	f.n++
	if f.n >= MaxFailures {
		f.until = g.now().Add(Lockout)
	}
	g.fails[agentID] = f
}

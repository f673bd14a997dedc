// Package guard keeps abusive SIP sources out: per-source token buckets
// that ban a flooding address for a while (like Kamailio's pike), the
// User-Agents of known scanners, and lockouts after repeated digest
// failures for an account or from a source (like fail2ban, in process).
//
// It only decides; the SIP server drops, answers, counts and logs. It is
// safe for concurrent use, reads time from an injectable clock, and its
// tables are bounded: see MaxEntries.
package guard

import (
	"net/netip"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// Kind is the class of an out-of-dialog request, each with its own bucket.
type Kind uint8

// Request kinds. Options also covers every other out-of-dialog request
// (MESSAGE, SUBSCRIBE, a stray CANCEL...), which hotline refuses anyway.
const (
	Invite Kind = iota
	Register
	Options
	numKinds
)

func (k Kind) String() string {
	switch k {
	case Invite:
		return "invite"
	case Register:
		return "register"
	case Options:
		return "options"
	}
	return "unknown"
}

// Rate is a token bucket: PerSecond requests a second on average, with
// bursts of up to Burst. A zero PerSecond never limits.
type Rate struct {
	PerSecond float64
	Burst     int
}

// Policy is what the guard enforces; a zero Policy enforces nothing.
type Policy struct {
	// Allow lists the networks that are never rate limited, banned or
	// locked out (scanner User-Agents are dropped from anywhere).
	Allow []netip.Prefix
	// Invite, Register and Options are the per-source rates of
	// out-of-dialog requests.
	Invite, Register, Options Rate
	// Ban is how long a source over a rate (or a scanner) is dropped
	// entirely; 0 drops only the requests over the rate.
	Ban time.Duration
	// Scanners are User-Agent substrings (any case) of known scanners.
	Scanners []string
	// AccountFailures failed digest attempts for one account within
	// AuthWindow lock that account for AuthLockout; 0 never locks.
	AccountFailures int
	// SourceFailures failed digest attempts from one address within
	// AuthWindow lock that address for AuthLockout; 0 never locks.
	SourceFailures int
	AuthWindow     time.Duration
	AuthLockout    time.Duration
	// LogInterval is how often one source's (or one key's) blocks are
	// logged; the rest are only counted.
	LogInterval time.Duration
	// TCPConnections bounds the open TCP (and TLS) connections in all, and
	// TCPPerSource those from one address (allow-listed sources count
	// toward the total only). 0 is no limit. Each connection costs a file
	// descriptor, a goroutine and a read buffer, so a peer that opens
	// thousands and sends nothing must not exhaust them.
	TCPConnections, TCPPerSource int
}

// TCPVerdict is the guard's answer for a new TCP connection.
type TCPVerdict uint8

const (
	TCPAccept TCPVerdict = iota
	// TCPBanned: the source is serving a ban.
	TCPBanned
	// TCPOverLimit: the connection would go over a TCP limit.
	TCPOverLimit
)

// Verdict is the guard's answer for a request.
type Verdict uint8

const (
	Pass Verdict = iota
	// RateExceeded: this request went over the source's rate; the source
	// is banned from now on (when Policy.Ban > 0).
	RateExceeded
	// Banned: the source is serving a ban.
	Banned
)

// Lock says which lockout refuses an authentication.
type Lock uint8

const (
	Unlocked Lock = iota
	SourceLocked
	AccountLocked
)

func (l Lock) String() string {
	switch l {
	case SourceLocked:
		return "source"
	case AccountLocked:
		return "account"
	}
	return "none"
}

// MaxEntries bounds each table (sources, accounts, log keys). When one is
// full even after dropping what has expired, new keys are not tracked
// (fail open) rather than growing memory under a spoofed flood.
const MaxEntries = 100_000

// Guard holds the per-source and per-account state.
type Guard struct {
	now    func() time.Time
	policy atomic.Pointer[compiled]

	mu       sync.Mutex
	sources  map[netip.Addr]*source
	accounts map[string]*failures
	logged   map[string]time.Time
	tcpOpen  map[netip.Addr]int // open TCP connections by source
	tcpTotal int
	max      int
	swept    time.Time // last sweep forced by a full table
}

type compiled struct {
	Policy
	rates    [numKinds]Rate
	scanners []string // lower case
}

type source struct {
	tokens      [numKinds]float64
	filled      [numKinds]time.Time // when tokens was last brought up to date
	bannedUntil time.Time
	fails       failures
	seen        time.Time
}

type failures struct {
	n           int
	first       time.Time
	lockedUntil time.Time
}

// New returns a guard enforcing p, reading time from now (time.Now if nil).
func New(p Policy, now func() time.Time) *Guard {
	if now == nil {
		now = time.Now
	}
	g := &Guard{now: now, sources: map[netip.Addr]*source{}, accounts: map[string]*failures{}, logged: map[string]time.Time{}, tcpOpen: map[netip.Addr]int{}, max: MaxEntries}
	g.SetPolicy(p)
	return g
}

// SetPolicy replaces the policy (on a configuration reload). Bans and
// lockouts in force keep their end; buckets keep their tokens.
func (g *Guard) SetPolicy(p Policy) {
	c := &compiled{Policy: p, rates: [numKinds]Rate{p.Invite, p.Register, p.Options}}
	for i, r := range c.rates {
		if r.PerSecond > 0 && r.Burst < 1 {
			c.rates[i].Burst = 1
		}
	}
	for _, s := range p.Scanners {
		if s = strings.ToLower(strings.TrimSpace(s)); s != "" {
			c.scanners = append(c.scanners, s)
		}
	}
	c.Allow = append([]netip.Prefix(nil), p.Allow...)
	g.policy.Store(c)
}

// Policy returns the policy in force.
func (g *Guard) Policy() Policy { return g.policy.Load().Policy }

// Allowed reports whether src is on the allow list.
func (g *Guard) Allowed(src netip.Addr) bool {
	return g.policy.Load().allowed(src)
}

func (c *compiled) allowed(src netip.Addr) bool {
	src = src.Unmap()
	for _, p := range c.Allow {
		if p.Contains(src) {
			return true
		}
	}
	return false
}

// Scanner reports whether userAgent is a known scanner's.
func (g *Guard) Scanner(userAgent string) bool {
	c := g.policy.Load()
	if userAgent == "" || len(c.scanners) == 0 {
		return false
	}
	ua := strings.ToLower(userAgent)
	for _, s := range c.scanners {
		if strings.Contains(ua, s) {
			return true
		}
	}
	return false
}

// Banned reports whether src is serving a ban; cheap enough to run on
// every datagram before it is parsed.
func (g *Guard) Banned(src netip.Addr) bool {
	c := g.policy.Load()
	src = src.Unmap()
	if c.allowed(src) {
		return false
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	s, ok := g.sources[src]
	return ok && g.now().Before(s.bannedUntil)
}

// Ban bans src for the policy's ban time (a scanner, say); an
// allow-listed source is never banned. It reports whether it did.
func (g *Guard) Ban(src netip.Addr) bool {
	c := g.policy.Load()
	src = src.Unmap()
	if c.allowed(src) || c.Ban <= 0 {
		return false
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	now := g.now()
	s := g.source(src, now)
	if s == nil {
		return false
	}
	if until := now.Add(c.Ban); until.After(s.bannedUntil) {
		s.bannedUntil = until
	}
	return true
}

// OpenTCP admits a new TCP connection from src, or says why not. An
// admitted connection must be given back with CloseTCP when it closes.
func (g *Guard) OpenTCP(src netip.Addr) TCPVerdict {
	c := g.policy.Load()
	src = src.Unmap()
	if g.Banned(src) {
		return TCPBanned
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	if c.TCPConnections > 0 && g.tcpTotal >= c.TCPConnections {
		return TCPOverLimit
	}
	if c.TCPPerSource > 0 && !c.allowed(src) && g.tcpOpen[src] >= c.TCPPerSource {
		return TCPOverLimit
	}
	g.tcpTotal++
	g.tcpOpen[src]++ // bounded by TCPConnections and the kernel's descriptors
	return TCPAccept
}

// CloseTCP gives back a connection OpenTCP admitted.
func (g *Guard) CloseTCP(src netip.Addr) {
	src = src.Unmap()
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.tcpOpen[src] <= 1 {
		delete(g.tcpOpen, src)
	} else {
		g.tcpOpen[src]--
	}
	if g.tcpTotal > 0 {
		g.tcpTotal--
	}
}

// OpenTCPConnections is how many TCP connections are open.
func (g *Guard) OpenTCPConnections() int {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.tcpTotal
}

// Request takes a token from src's bucket for kind.
func (g *Guard) Request(src netip.Addr, kind Kind) Verdict {
	c := g.policy.Load()
	src = src.Unmap()
	if kind >= numKinds || c.allowed(src) {
		return Pass
	}
	rate := c.rates[kind]
	g.mu.Lock()
	defer g.mu.Unlock()
	now := g.now()
	s, ok := g.sources[src]
	if ok && now.Before(s.bannedUntil) {
		s.seen = now
		return Banned
	}
	if rate.PerSecond <= 0 {
		return Pass
	}
	if !ok {
		if s = g.source(src, now); s == nil {
			return Pass
		}
	}
	s.seen = now
	burst := float64(rate.Burst)
	if s.filled[kind].IsZero() {
		s.tokens[kind] = burst
	} else if dt := now.Sub(s.filled[kind]); dt > 0 {
		s.tokens[kind] = min(burst, s.tokens[kind]+dt.Seconds()*rate.PerSecond)
	}
	s.filled[kind] = now
	if s.tokens[kind] >= 1 {
		s.tokens[kind]--
		return Pass
	}
	if c.Ban > 0 {
		s.bannedUntil = now.Add(c.Ban)
	}
	return RateExceeded
}

// AuthLocked reports whether an authentication from src for account
// (which may be "" when the request carries no credentials) is refused
// without being checked. A source on the allow list is never locked out,
// and neither is one that proves it is the account's own phone
// (ownSource: it holds a live registration of that account), so that an
// attacker guessing an agent's password does not take the agent's phone
// off the air.
func (g *Guard) AuthLocked(src netip.Addr, account string, ownSource bool) Lock {
	c := g.policy.Load()
	src = src.Unmap()
	if c.allowed(src) {
		return Unlocked
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	now := g.now()
	if s, ok := g.sources[src]; ok && now.Before(s.fails.lockedUntil) {
		return SourceLocked
	}
	if account == "" || ownSource {
		return Unlocked
	}
	if f, ok := g.accounts[account]; ok && now.Before(f.lockedUntil) {
		return AccountLocked
	}
	return Unlocked
}

// AuthFailed records a failed digest attempt from src for account (known
// or not: both count alike, so a lockout tells nothing about which
// accounts exist). It returns the lock this failure started, if any.
func (g *Guard) AuthFailed(src netip.Addr, account string) Lock {
	c := g.policy.Load()
	src = src.Unmap()
	g.mu.Lock()
	defer g.mu.Unlock()
	now := g.now()
	started := Unlocked
	if account != "" && c.AccountFailures > 0 {
		f, ok := g.accounts[account]
		if !ok && g.room(func() int { return len(g.accounts) }) {
			f = &failures{}
			g.accounts[account] = f
		}
		if f != nil && f.fail(now, c.AccountFailures, c.AuthWindow, c.AuthLockout) {
			started = AccountLocked
		}
	}
	if c.SourceFailures > 0 && !c.allowed(src) {
		if s := g.source(src, now); s != nil {
			s.seen = now
			if s.fails.fail(now, c.SourceFailures, c.AuthWindow, c.AuthLockout) {
				started = SourceLocked
			}
		}
	}
	return started
}

// AuthSucceeded clears account's failures. The source's are kept: one
// valid account must not reset a source that is guessing others.
func (g *Guard) AuthSucceeded(account string) {
	g.mu.Lock()
	defer g.mu.Unlock()
	delete(g.accounts, account)
}

// fail counts one failure and reports whether it starts a lockout.
func (f *failures) fail(now time.Time, limit int, window, lockout time.Duration) bool {
	if now.Before(f.lockedUntil) {
		return false
	}
	if f.n == 0 || now.Sub(f.first) > window {
		f.n, f.first = 0, now
	}
	f.n++
	if f.n < limit {
		return false
	}
	f.n = 0
	f.lockedUntil = now.Add(lockout)
	return true
}

// ShouldLog reports whether a block under key (say "rate 192.0.2.7") is
// to be logged: once per key per LogInterval.
func (g *Guard) ShouldLog(key string) bool {
	interval := g.policy.Load().LogInterval
	g.mu.Lock()
	defer g.mu.Unlock()
	now := g.now()
	if last, ok := g.logged[key]; ok && now.Sub(last) < interval {
		return false
	}
	if _, ok := g.logged[key]; !ok && !g.room(func() int { return len(g.logged) }) {
		return false
	}
	g.logged[key] = now
	return true
}

// Sweep forgets what has expired: idle sources with full buckets and no
// ban or lockout, failures out of their window, stale log keys. Run it
// every few seconds.
func (g *Guard) Sweep() {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.sweep(g.now())
}

func (g *Guard) sweep(now time.Time) {
	c := g.policy.Load()
	idle := c.AuthWindow
	for _, r := range c.rates {
		if r.PerSecond > 0 {
			idle = max(idle, time.Duration(float64(r.Burst)/r.PerSecond*float64(time.Second)))
		}
	}
	for ip, s := range g.sources {
		if now.Before(s.bannedUntil) || now.Before(s.fails.lockedUntil) || now.Sub(s.seen) <= idle {
			continue
		}
		delete(g.sources, ip)
	}
	for a, f := range g.accounts {
		if now.Before(f.lockedUntil) || now.Sub(f.first) <= c.AuthWindow {
			continue
		}
		delete(g.accounts, a)
	}
	for k, t := range g.logged {
		if now.Sub(t) >= c.LogInterval {
			delete(g.logged, k)
		}
	}
}

// Sizes returns how many sources and accounts are tracked.
func (g *Guard) Sizes() (sources, accounts int) {
	g.mu.Lock()
	defer g.mu.Unlock()
	return len(g.sources), len(g.accounts)
}

// source returns src's entry, creating it if there is room; g.mu is held.
func (g *Guard) source(src netip.Addr, now time.Time) *source {
	if s, ok := g.sources[src]; ok {
		return s
	}
	if !g.room(func() int { return len(g.sources) }) {
		return nil
	}
	s := &source{seen: now}
	g.sources[src] = s
	return s
}

// room reports whether a table (of size entries) may take one more. A
// full table is swept first, at most once a second so that a flood of
// new keys cannot make every request walk the tables; g.mu is held.
func (g *Guard) room(size func() int) bool {
	if size() < g.max {
		return true
	}
	if now := g.now(); now.Sub(g.swept) >= time.Second {
		g.swept = now
		g.sweep(now)
	}
	return size() < g.max
}

package guard

import (
	"fmt"
	"net/netip"
	"testing"
	"time"
)

type fakeClock struct{ t time.Time }

func (c *fakeClock) now() time.Time          { return c.t }
func (c *fakeClock) advance(d time.Duration) { c.t = c.t.Add(d) }

func newFake() *fakeClock { return &fakeClock{t: time.Date(2026, 11, 23, 9, 0, 0, 0, time.UTC)} }

var (
	local    = netip.MustParseAddr("127.0.0.1")
	attacker = netip.MustParseAddr("192.0.2.7")
	other    = netip.MustParseAddr("198.51.100.9")
)

func policy() Policy {
	return Policy{
		Allow:           []netip.Prefix{netip.MustParsePrefix("127.0.0.1/32")},
		Invite:          Rate{PerSecond: 2, Burst: 4},
		Register:        Rate{PerSecond: 1, Burst: 2},
		Options:         Rate{PerSecond: 1, Burst: 1},
		Ban:             time.Minute,
		Scanners:        []string{"friendly-scanner", "SIPVicious"},
		AccountFailures: 3, SourceFailures: 5,
		AuthWindow: time.Minute, AuthLockout: 10 * time.Minute,
		LogInterval: time.Minute,
	}
}

func TestBucketBansAFloodForTheBanTime(t *testing.T) {
	clk := newFake()
	g := New(policy(), clk.now)
	for i := range 4 {
		if v := g.Request(attacker, Invite); v != Pass {
			t.Fatalf("invite %d within the burst: %v", i, v)
		}
	}
	if v := g.Request(attacker, Invite); v != RateExceeded {
		t.Fatalf("invite over the burst: %v, want RateExceeded", v)
	}
	if !g.Banned(attacker) || g.Banned(other) {
		t.Fatal("only the flooding source is banned")
	}
	// Banned for everything, including kinds it never flooded.
	if v := g.Request(attacker, Options); v != Banned {
		t.Fatalf("options while banned: %v", v)
	}
	clk.advance(59 * time.Second)
	if v := g.Request(attacker, Invite); v != Banned {
		t.Fatalf("still banned after 59s: %v", v)
	}
	clk.advance(time.Second)
	if g.Banned(attacker) {
		t.Fatal("ban lasts one minute")
	}
	if v := g.Request(attacker, Invite); v != Pass {
		t.Fatalf("after the ban (a minute refilled the bucket): %v", v)
	}
}

func TestBucketRefillsAtItsRate(t *testing.T) {
	clk := newFake()
	g := New(policy(), clk.now)
	// 2 INVITEs a second forever never trips a 2/s bucket.
	for i := range 100 {
		if v := g.Request(attacker, Invite); v != Pass {
			t.Fatalf("invite %d at the rate: %v", i, v)
		}
		clk.advance(500 * time.Millisecond)
	}
	// Buckets are per kind: REGISTER has its own.
	for range 2 {
		if v := g.Request(attacker, Register); v != Pass {
			t.Fatal(v)
		}
	}
	if v := g.Request(attacker, Register); v != RateExceeded {
		t.Fatalf("third register at once: %v", v)
	}
}

func TestAllowListedSourceIsNeverLimited(t *testing.T) {
	clk := newFake()
	g := New(policy(), clk.now)
	mapped := netip.AddrFrom16(local.As16()) // ::ffff:127.0.0.1 from a dual-stack socket
	for i := range 10_000 {
		src := local
		if i%2 == 1 {
			src = mapped
		}
		if v := g.Request(src, Invite); v != Pass {
			t.Fatalf("allow-listed request %d: %v", i, v)
		}
	}
	if g.Ban(local) || g.Banned(local) {
		t.Fatal("an allow-listed source is never banned")
	}
	for range 100 {
		g.AuthFailed(local, "")
	}
	if l := g.AuthLocked(local, "1001", false); l != Unlocked {
		t.Fatalf("allow-listed source locked: %v", l)
	}
	if n, _ := g.Sizes(); n != 0 {
		t.Fatalf("allow-listed sources are not tracked, got %d", n)
	}
}

func TestZeroRateAndZeroBan(t *testing.T) {
	clk := newFake()
	p := policy()
	p.Invite = Rate{}
	p.Ban = 0
	g := New(p, clk.now)
	for range 1000 {
		if v := g.Request(attacker, Invite); v != Pass {
			t.Fatal("rate 0 is no limit")
		}
	}
	g.Request(attacker, Options)
	if v := g.Request(attacker, Options); v != RateExceeded {
		t.Fatalf("over the options rate: %v", v)
	}
	if g.Banned(attacker) {
		t.Fatal("ban 0 drops only what is over the rate")
	}
	clk.advance(time.Second)
	if v := g.Request(attacker, Options); v != Pass {
		t.Fatalf("a second later: %v", v)
	}
}

func TestScanner(t *testing.T) {
	g := New(policy(), nil)
	for ua, want := range map[string]bool{
		"friendly-scanner":            true,
		"Friendly-Scanner 1.0":        true,
		"sipvicious/0.3.4":            true,
		"Yealink SIP-T46S 66.86.0.15": false,
		"":                            false,
	} {
		if got := g.Scanner(ua); got != want {
			t.Errorf("Scanner(%q) = %v, want %v", ua, got, want)
		}
	}
	if New(Policy{}, nil).Scanner("friendly-scanner") {
		t.Error("an empty list matches nothing")
	}
}

func TestAccountLockout(t *testing.T) {
	clk := newFake()
	g := New(policy(), clk.now)
	// Two failures, a minute and more apart: the window restarts.
	g.AuthFailed(attacker, "1001")
	g.AuthFailed(attacker, "1001")
	clk.advance(61 * time.Second)
	if l := g.AuthFailed(attacker, "1001"); l != Unlocked {
		t.Fatalf("first failure of a new window locked: %v", l)
	}
	g.AuthFailed(other, "1001")
	if l := g.AuthFailed(other, "1001"); l != AccountLocked {
		t.Fatalf("third failure within the window from anywhere: %v, want AccountLocked", l)
	}
	for _, src := range []netip.Addr{attacker, other} {
		if l := g.AuthLocked(src, "1001", false); l != AccountLocked {
			t.Fatalf("%v: %v, want AccountLocked", src, l)
		}
	}
	if l := g.AuthLocked(other, "1001", true); l != Unlocked {
		t.Fatalf("the account's own registered phone is not locked out: %v", l)
	}
	if l := g.AuthLocked(other, "1002", false); l != Unlocked {
		t.Fatalf("another account: %v", l)
	}
	// Unknown accounts lock alike: the lockout tells nothing of which exist.
	third := netip.MustParseAddr("203.0.113.5")
	for range 3 {
		g.AuthFailed(third, "nobody")
	}
	if l := g.AuthLocked(third, "nobody", false); l != AccountLocked {
		t.Fatalf("unknown account: %v", l)
	}
	clk.advance(10 * time.Minute)
	if l := g.AuthLocked(attacker, "1001", false); l != Unlocked {
		t.Fatalf("after the lockout: %v", l)
	}
}

func TestSuccessClearsTheAccountNotTheSource(t *testing.T) {
	clk := newFake()
	g := New(policy(), clk.now)
	g.AuthFailed(attacker, "1001")
	g.AuthFailed(attacker, "1001")
	g.AuthSucceeded("1001")
	if l := g.AuthFailed(attacker, "1001"); l != Unlocked {
		t.Fatalf("success reset the account: %v", l)
	}
	// 3 failures so far from attacker; two more lock the source.
	g.AuthFailed(attacker, "x1")
	g.AuthSucceeded("x1")
	if l := g.AuthFailed(attacker, "x2"); l != SourceLocked {
		t.Fatalf("fifth failure from the source: %v, want SourceLocked", l)
	}
	if l := g.AuthLocked(attacker, "", false); l != SourceLocked {
		t.Fatalf("source lock without an account: %v", l)
	}
	if l := g.AuthLocked(attacker, "1001", true); l != SourceLocked {
		t.Fatalf("a locked source is locked for every account: %v", l)
	}
}

func TestShouldLogOncePerInterval(t *testing.T) {
	clk := newFake()
	g := New(policy(), clk.now)
	if !g.ShouldLog("rate 192.0.2.7") {
		t.Fatal("first block is logged")
	}
	for range 100 {
		if g.ShouldLog("rate 192.0.2.7") {
			t.Fatal("logged twice within the interval")
		}
	}
	if !g.ShouldLog("rate 198.51.100.9") {
		t.Fatal("another source is logged")
	}
	clk.advance(time.Minute)
	if !g.ShouldLog("rate 192.0.2.7") {
		t.Fatal("logged again after the interval")
	}
}

func TestSweepForgetsIdleSourcesAndKeepsBans(t *testing.T) {
	clk := newFake()
	g := New(policy(), clk.now)
	g.Request(other, Invite)
	for range 5 {
		g.Request(attacker, Invite)
	}
	g.AuthFailed(netip.MustParseAddr("203.0.113.1"), "1001")
	clk.advance(2 * time.Minute)
	g.Ban(attacker) // banned again: still banned after the sweep
	g.Sweep()
	if !g.Banned(attacker) {
		t.Fatal("a ban survives a sweep")
	}
	if s, a := g.Sizes(); s != 1 || a != 0 {
		t.Fatalf("after the sweep: %d sources, %d accounts; want 1, 0", s, a)
	}
}

func TestTablesAreBounded(t *testing.T) {
	clk := newFake()
	g := New(policy(), clk.now)
	g.max = 50
	for i := range 200 {
		src := netip.AddrFrom4([4]byte{10, 0, byte(i >> 8), byte(i)})
		g.Request(src, Invite)
		g.AuthFailed(src, fmt.Sprint("user", i))
		g.ShouldLog(fmt.Sprint("rate ", i))
	}
	if s, a := g.Sizes(); s > 50 || a > 50 || len(g.logged) > 50 {
		t.Fatalf("tables grew past their bound: %d sources, %d accounts, %d log keys", s, a, len(g.logged))
	}
	// Once what is in them expires, new keys are tracked again.
	clk.advance(time.Hour)
	src := netip.MustParseAddr("10.9.9.9")
	for range 4 {
		g.Request(src, Invite)
	}
	if v := g.Request(src, Invite); v != RateExceeded {
		t.Fatalf("a new source after expiry is tracked: %v", v)
	}
}

func TestSetPolicyKeepsBans(t *testing.T) {
	clk := newFake()
	g := New(policy(), clk.now)
	for range 5 {
		g.Request(attacker, Invite)
	}
	p := policy()
	p.Allow = append(p.Allow, netip.MustParsePrefix("198.51.100.0/24"))
	g.SetPolicy(p)
	if !g.Banned(attacker) {
		t.Fatal("a reload keeps bans")
	}
	if g.Policy().Allow[1] != netip.MustParsePrefix("198.51.100.0/24") {
		t.Fatal("policy not replaced")
	}
	p.Allow = append(p.Allow, netip.MustParsePrefix("192.0.2.0/24"))
	g.SetPolicy(p)
	if g.Banned(attacker) {
		t.Fatal("a source the new policy allows is not banned")
	}
}

func TestConcurrentUse(t *testing.T) {
	g := New(policy(), nil)
	done := make(chan struct{})
	for w := range 8 {
		go func() {
			defer func() { done <- struct{}{} }()
			for i := range 500 {
				src := netip.AddrFrom4([4]byte{10, 1, byte(w), byte(i)})
				g.Request(src, Kind(i%3))
				g.AuthFailed(src, "1001")
				g.AuthLocked(src, "1001", false)
				g.ShouldLog(src.String())
				if i%100 == 0 {
					g.Sweep()
					g.SetPolicy(policy())
				}
			}
		}()
	}
	for range 8 {
		<-done
	}
}

func TestTCPConnectionLimits(t *testing.T) {
	office := netip.MustParseAddr("10.0.0.1")
	g := New(Policy{Allow: []netip.Prefix{netip.PrefixFrom(office, 32)}, TCPConnections: 4, TCPPerSource: 2, Ban: time.Minute}, nil)
	a, b := netip.MustParseAddr("192.0.2.1"), netip.MustParseAddr("192.0.2.2")
	for i, want := range []TCPVerdict{TCPAccept, TCPAccept, TCPOverLimit} {
		if got := g.OpenTCP(a); got != want {
			t.Fatalf("connection %d from a: %v, want %v", i, got, want)
		}
	}
	// The office is not held to the per-source limit, only to the total.
	for i, want := range []TCPVerdict{TCPAccept, TCPAccept, TCPOverLimit} {
		if got := g.OpenTCP(office); got != want {
			t.Fatalf("connection %d from the office: %v, want %v", i, got, want)
		}
	}
	if got := g.OpenTCP(b); got != TCPOverLimit {
		t.Fatalf("fifth connection in all: %v", got)
	}
	g.CloseTCP(a)
	if got := g.OpenTCP(b); got != TCPAccept {
		t.Fatalf("after a closed one: %v", got)
	}
	if g.OpenTCPConnections() != 4 {
		t.Fatalf("open %d, want 4", g.OpenTCPConnections())
	}
	g.Ban(b)
	g.CloseTCP(a)
	if got := g.OpenTCP(b); got != TCPBanned {
		t.Fatalf("banned source: %v", got)
	}
}

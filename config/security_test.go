package config

import (
	"net/netip"
	"reflect"
	"testing"
	"time"
)

const securityBase = `
trunks:
  - { name: carrier, acl: [192.0.2.0/24], numbers: ["*"], flow: main }
  - { name: backup, acl: ["2001:db8::/32"], numbers: ["*"], flow: main }
agents: [{ id: "1001", password: pw }]
queues: [{ name: sales, agents: ["1001"] }]
flows: [{ name: main, start: q, nodes: { q: { queue: sales } } }]
`

// TestSecurityDefaults: a file without a security section gets limits
// that never touch loopback or the trunks, and no call limit.
func TestSecurityDefaults(t *testing.T) {
	c, err := Parse("none.yaml", []byte(securityBase))
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(c.Security, DefaultSecurity()) {
		t.Errorf("security = %+v, want the defaults %+v", c.Security, DefaultSecurity())
	}
	want := []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8"), netip.MustParsePrefix("::1/128"),
		netip.MustParsePrefix("192.0.2.0/24"), netip.MustParsePrefix("2001:db8::/32")}
	if got := c.AllowList(); !reflect.DeepEqual(got, want) {
		t.Errorf("AllowList() = %v, want %v", got, want)
	}
	if c.Security.Calls.Max != 0 || len(c.Security.Calls.PerTrunk) != 0 {
		t.Errorf("call limits by default: %+v, want none", c.Security.Calls)
	}
	// The demo runs everything from 127.0.0.1: nothing limits it.
	demo, err := Parse("demo.yaml", DemoYAML)
	if err != nil {
		t.Fatal(err)
	}
	if al := demo.AllowList(); len(al) == 0 || !al[0].Contains(netip.MustParseAddr("127.0.0.1")) {
		t.Errorf("demo allow list %v does not hold loopback", al)
	}
}

func TestSecuritySection(t *testing.T) {
	c, err := Parse("s.yaml", []byte(securityBase+`
security:
  allow: [10.0.0.0/8, 203.0.113.9]
  allow_trunks: false
  rate_limits:
    invite: { rate: 5, burst: 10 }
    register: { rate: 0.5, burst: 3 }
    options: { rate: 0 }
  ban: 0s
  scanners: [friendly-scanner, " evil-ua "]
  auth: { account_failures: 0, source_failures: 7, window: 1m, lockout: 1h }
  calls:
    max: 100
    per_trunk: { carrier: 30, backup: 0 }
    retry_after: 2m
  tcp: { max: 500, per_source: 0 }
  log_interval: 10s
`))
	if err != nil {
		t.Fatal(err)
	}
	s := c.Security
	want := Security{
		Allow:       []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8"), netip.MustParsePrefix("203.0.113.9/32")},
		AllowTrunks: false,
		Invite:      RateLimit{Rate: 5, Burst: 10},
		Register:    RateLimit{Rate: 0.5, Burst: 3},
		Options:     RateLimit{Rate: 0, Burst: DefaultOptionsRate.Burst},
		Ban:         0,
		Scanners:    []string{"friendly-scanner", "evil-ua"},
		Auth:        AuthLockout{AccountFailures: 0, SourceFailures: 7, Window: time.Minute, Lockout: time.Hour},
		Calls:       CallLimits{Max: 100, PerTrunk: map[string]int{"carrier": 30, "backup": 0}, RetryAfter: 2 * time.Minute},
		TCP:         TCPLimits{Max: 500, PerSource: 0},
		LogInterval: 10 * time.Second,
	}
	if !reflect.DeepEqual(s, want) {
		t.Errorf("security =\n%+v\nwant\n%+v", s, want)
	}
	if got := c.AllowList(); len(got) != 2 {
		t.Errorf("allow_trunks false: AllowList() = %v, want only security.allow", got)
	}
	// An empty allow list and an empty scanner list are allowed: nothing.
	c, err = Parse("s.yaml", []byte(securityBase+"security: { allow: [], scanners: [], allow_trunks: false }\n"))
	if err != nil {
		t.Fatal(err)
	}
	if len(c.AllowList()) != 0 || len(c.Security.Scanners) != 0 {
		t.Errorf("empty lists: allow %v, scanners %v", c.AllowList(), c.Security.Scanners)
	}
}

package config

import (
	"net/netip"
	"strings"
	"time"

	"gopkg.in/yaml.v3"
)

// Security keeps abusive SIP traffic out (docs/security.md): per-source
// rate limits with bans, known scanners, digest brute-force lockouts and
// limits on concurrent carrier calls.
type Security struct {
	// Allow lists the networks never rate limited, banned or locked out.
	Allow []netip.Prefix
	// AllowTrunks adds every trunk's ACL to Allow: a carrier's burst of
	// calls must never get its own addresses banned.
	AllowTrunks bool
	// Invite, Register and Options are the per-source rates of
	// out-of-dialog requests; Options also covers every other
	// out-of-dialog method but ACK.
	Invite, Register, Options RateLimit
	// Ban is how long a source over a rate, or a scanner, is dropped
	// entirely; 0 drops only the requests over the rate.
	Ban Duration
	// Scanners are User-Agent substrings (any case) whose requests are
	// dropped without an answer.
	Scanners []string
	// Auth locks out digest guessing.
	Auth AuthLockout
	// Calls limits concurrent carrier calls.
	Calls CallLimits
	// TCP limits open SIP connections over TCP (and TLS).
	TCP TCPLimits
	// LogInterval: blocks of one source (or one trunk's call limit) are
	// logged once per interval, and otherwise only counted.
	LogInterval Duration
}

// RateLimit is a token bucket: Rate requests a second on average, in
// bursts of up to Burst. Rate 0 means no limit.
type RateLimit struct {
	Rate  float64
	Burst int
}

// AuthLockout: AccountFailures failed digest attempts for one account,
// or SourceFailures from one address, within Window lock it out for
// Lockout (0 failures: never).
type AuthLockout struct {
	AccountFailures int
	SourceFailures  int
	Window          Duration
	Lockout         Duration
}

// CallLimits bound the carrier calls in progress: Max in all and PerTrunk
// by trunk name (0 or absent: no limit). A call over a limit gets 503
// with Retry-After.
type CallLimits struct {
	Max        int
	PerTrunk   map[string]int
	RetryAfter Duration
}

// TCPLimits bound open TCP connections: Max in all, PerSource from one
// address (allow-listed addresses count toward Max only). 0: no limit.
type TCPLimits struct {
	Max, PerSource int
}

// Defaults of the security section. The rates are far above what a phone
// or a small office sends (a REGISTER and its challenged retry every few
// minutes, an INVITE per call) and far below a scanner's or a flood's;
// loopback and the trunks are allow-listed, so that the demo, the tests and
// the benchmark (thousands of calls a second from 127.0.0.1) are never
// limited.
var (
	DefaultSecurityAllow = []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8"), netip.MustParsePrefix("::1/128")}
	DefaultInviteRate    = RateLimit{Rate: 20, Burst: 50}
	DefaultRegisterRate  = RateLimit{Rate: 10, Burst: 40}
	DefaultOptionsRate   = RateLimit{Rate: 10, Burst: 40}
	// DefaultScanners are the User-Agents of SIPVicious (friendly-scanner,
	// sipvicious), sipcli, sip-scan, VaxSIPUserAgent, iWar, sundayddr and
	// pplsip, as Kamailio and fail2ban setups commonly list them.
	DefaultScanners = []string{"friendly-scanner", "sipvicious", "sipcli", "sip-scan", "sipscan",
		"vaxsipuseragent", "iwar", "sundayddr", "pplsip", "siparmyknife"}
)

const (
	DefaultBan             = 5 * time.Minute
	DefaultAccountFailures = 5
	DefaultSourceFailures  = 20
	DefaultAuthWindow      = 5 * time.Minute
	DefaultAuthLockout     = 10 * time.Minute
	DefaultCallRetryAfter  = 30 * time.Second
	DefaultLogInterval     = time.Minute
	// A phone keeps one connection; an office of phones behind one NAT
	// address keeps one each, hence the room per source.
	DefaultTCPConnections = 4096
	DefaultTCPPerSource   = 256
)

// DefaultSecurity is the security section a file leaves out.
func DefaultSecurity() Security {
	return Security{
		Allow:       append([]netip.Prefix(nil), DefaultSecurityAllow...),
		AllowTrunks: true,
		Invite:      DefaultInviteRate, Register: DefaultRegisterRate, Options: DefaultOptionsRate,
		Ban:      DefaultBan,
		Scanners: append([]string(nil), DefaultScanners...),
		Auth: AuthLockout{AccountFailures: DefaultAccountFailures, SourceFailures: DefaultSourceFailures,
			Window: DefaultAuthWindow, Lockout: DefaultAuthLockout},
		Calls:       CallLimits{RetryAfter: DefaultCallRetryAfter},
		TCP:         TCPLimits{Max: DefaultTCPConnections, PerSource: DefaultTCPPerSource},
		LogInterval: DefaultLogInterval,
	}
}

// AllowList is Allow plus, with AllowTrunks, every trunk's ACL.
func (c *Config) AllowList() []netip.Prefix {
	out := append([]netip.Prefix(nil), c.Security.Allow...)
	if c.Security.AllowTrunks {
		for _, t := range c.Trunks {
			out = append(out, t.ACL...)
		}
	}
	return out
}

// maxRate bounds a rate: more than this per source is no limit at all.
const maxRate = 1e6

// security decodes the security section. root is the whole file: the
// call limits name trunks, which may come later in it.
func (d *decoder) security(n *yaml.Node, root *yaml.Node, s *Security) {
	rate := func(dst *RateLimit, ctx string) field {
		return func(v *yaml.Node) {
			d.fields(v, ctx, map[string]field{
				"rate":  d.number(&dst.Rate, ctx+".rate", 0, maxRate, false),
				"burst": d.integer(&dst.Burst, ctx+".burst", 1, 1_000_000),
			})
		}
	}
	d.fields(n, "security", map[string]field{
		"allow": func(v *yaml.Node) {
			s.Allow = []netip.Prefix{}
			for _, ref := range d.refs(v, "security.allow") {
				p, err := parsePrefix(ref.Name)
				if err != nil {
					d.errs.Add(ref.Pos, "security.allow: %v", err)
					continue
				}
				s.Allow = append(s.Allow, p)
			}
		},
		"allow_trunks": d.boolean(&s.AllowTrunks, "security.allow_trunks"),
		"rate_limits": func(v *yaml.Node) {
			d.fields(v, "security.rate_limits", map[string]field{
				"invite":   rate(&s.Invite, "security.rate_limits.invite"),
				"register": rate(&s.Register, "security.rate_limits.register"),
				"options":  rate(&s.Options, "security.rate_limits.options"),
			})
		},
		"ban": d.durationIn(&s.Ban, "security.ban", time.Second, 7*24*time.Hour, "no ban, only drop what is over the rate"),
		"scanners": func(v *yaml.Node) {
			s.Scanners = []string{}
			for _, item := range d.items(v, "security.scanners") {
				str, ok := d.scalar(item, "security.scanners")
				if !ok {
					continue
				}
				if len(strings.TrimSpace(str)) < 3 {
					d.errorf(item, "security.scanners: %q is too short to tell a scanner from a phone (3 characters at least)", str)
					continue
				}
				s.Scanners = append(s.Scanners, strings.TrimSpace(str))
			}
		},
		"auth": func(v *yaml.Node) {
			a := &s.Auth
			d.fields(v, "security.auth", map[string]field{
				"account_failures": d.integer(&a.AccountFailures, "security.auth.account_failures", 0, 1000),
				"source_failures":  d.integer(&a.SourceFailures, "security.auth.source_failures", 0, 100000),
				"window":           d.durationIn(&a.Window, "security.auth.window", time.Second, 24*time.Hour, ""),
				"lockout":          d.durationIn(&a.Lockout, "security.auth.lockout", time.Second, 7*24*time.Hour, ""),
			})
		},
		"calls": func(v *yaml.Node) {
			cl := &s.Calls
			d.fields(v, "security.calls", map[string]field{
				"max": d.integer(&cl.Max, "security.calls.max", 0, 1_000_000),
				"per_trunk": func(v *yaml.Node) {
					trunks := trunkNames(d, root)
					cl.PerTrunk = map[string]int{}
					for key, value := range d.pairs(v, "security.calls.per_trunk") {
						ctx := "security.calls.per_trunk." + printable(key.Value)
						if !trunks[key.Value] {
							names := make([]string, 0, len(trunks))
							for name := range trunks {
								names = append(names, name)
							}
							d.errorf(key, "security.calls.per_trunk: no trunk is called %q%s", key.Value, hint(key.Value, names, false))
							continue
						}
						limit := 0
						d.integer(&limit, ctx, 0, 1_000_000)(value)
						cl.PerTrunk[key.Value] = limit
					}
				},
				"retry_after": func(v *yaml.Node) {
					var dur Duration
					d.durationIn(&dur, "security.calls.retry_after", time.Second, 24*time.Hour, "no Retry-After header")(v)
					if dur%time.Second != 0 {
						// Retry-After counts whole seconds (RFC 3261 §20.33).
						d.errorf(d.resolve(v), "security.calls.retry_after: must be a whole number of seconds, got %s", dur)
						return
					}
					cl.RetryAfter = dur
				},
			})
		},
		"tcp": func(v *yaml.Node) {
			d.fields(v, "security.tcp", map[string]field{
				"max":        d.integer(&s.TCP.Max, "security.tcp.max", 0, 1_000_000),
				"per_source": d.integer(&s.TCP.PerSource, "security.tcp.per_source", 0, 1_000_000),
			})
		},
		"log_interval": d.durationIn(&s.LogInterval, "security.log_interval", time.Second, 24*time.Hour, "log every block"),
	})
}

// trunkNames reads the names of the trunks in the file without reporting
// anything: the trunks section reports its own problems.
func trunkNames(d *decoder, root *yaml.Node) map[string]bool {
	names := map[string]bool{}
	root = d.resolve(root)
	if root == nil || root.Kind != yaml.MappingNode {
		return names
	}
	for i := 0; i+1 < len(root.Content); i += 2 {
		if root.Content[i].Value != "trunks" {
			continue
		}
		list := d.resolve(root.Content[i+1])
		if list == nil || list.Kind != yaml.SequenceNode {
			continue
		}
		for _, item := range list.Content {
			if name := d.lookup(d.resolve(item), "name"); name != nil {
				names[name.Value] = true
			}
		}
	}
	return names
}

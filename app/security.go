package app

import (
	"github.com/hotline-cc/hotline/config"
	"github.com/hotline-cc/hotline/guard"
)

// guardPolicy is the SIP abuse guard's policy from the security section,
// with the trunks' ACLs on the allow list when security.allow_trunks is
// set (docs/security.md).
func guardPolicy(c *config.Config) guard.Policy {
	s := c.Security
	rate := func(r config.RateLimit) guard.Rate { return guard.Rate{PerSecond: r.Rate, Burst: r.Burst} }
	return guard.Policy{
		Allow:           c.AllowList(),
		Invite:          rate(s.Invite),
		Register:        rate(s.Register),
		Options:         rate(s.Options),
		Ban:             s.Ban,
		Scanners:        s.Scanners,
		AccountFailures: s.Auth.AccountFailures,
		SourceFailures:  s.Auth.SourceFailures,
		AuthWindow:      s.Auth.Window,
		AuthLockout:     s.Auth.Lockout,
		LogInterval:     s.LogInterval,
		TCPConnections:  s.TCP.Max,
		TCPPerSource:    s.TCP.PerSource,
	}
}

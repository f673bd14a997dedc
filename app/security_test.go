package app

import (
	"net/netip"
	"testing"

	"github.com/hotline-cc/hotline/config"
	"github.com/hotline-cc/hotline/guard"
)

// TestGuardPolicyFromConfig: the demo's defaults never limit loopback
// (the demo, the tests and the benchmark run from 127.0.0.1) and follow
// the configuration's defaults.
func TestGuardPolicyFromConfig(t *testing.T) {
	c, err := config.Parse("demo.yaml", config.DemoYAML)
	if err != nil {
		t.Fatal(err)
	}
	p := guardPolicy(c)
	g := guard.New(p, nil)
	for _, ip := range []string{"127.0.0.1", "127.0.0.2", "::1"} {
		if !g.Allowed(netip.MustParseAddr(ip)) {
			t.Errorf("%s not allow-listed by default", ip)
		}
	}
	if g.Allowed(netip.MustParseAddr("192.0.2.1")) {
		t.Error("a stranger is allow-listed")
	}
	if !g.Scanner("friendly-scanner") || p.Ban != config.DefaultBan || p.Invite.PerSecond != config.DefaultInviteRate.Rate ||
		p.Register.Burst != config.DefaultRegisterRate.Burst || p.AccountFailures != config.DefaultAccountFailures ||
		p.AuthLockout != config.DefaultAuthLockout || p.LogInterval != config.DefaultLogInterval {
		t.Errorf("policy %+v does not follow the configuration's defaults", p)
	}
}

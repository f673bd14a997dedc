package call

import (
	"sync/atomic"

	"github.com/hotline-cc/hotline/config"
	hsip "github.com/hotline-cc/hotline/sip"
)

// callLimits admits a carrier call on trunk unless the calls in progress
// are at security.calls' limit, in all or for the trunk: then 503 with
// Retry-After (RFC 3261 §21.5.4), so that the carrier tries elsewhere or
// later. The count is of calls already running: a burst admitted in the
// same instant may pass a limit by the few calls still being set up.
func (m *Manager) callLimits(cfg *config.Config, trunk string) hsip.Admission {
	lim := cfg.Security.Calls
	over := lim.Max > 0 && m.Active() >= lim.Max
	if n := lim.PerTrunk[trunk]; !over && n > 0 && m.TrunkActive(trunk) >= n {
		over = true
	}
	if !over {
		return hsip.Admission{Trunk: trunk}
	}
	return hsip.Admission{Trunk: trunk, Status: 503, Reason: "Service Unavailable", RetryAfter: lim.RetryAfter,
		Blocked: hsip.BlockCallLimit}
}

// TrunkActive is the number of carrier calls in progress from trunk.
func (m *Manager) TrunkActive(trunk string) int {
	if v, ok := m.trunkCalls.Load(trunk); ok {
		return int(v.(*atomic.Int64).Load())
	}
	return 0
}

// countTrunkCall counts a call of trunk in progress; call the function it
// returns when the call ends.
func (m *Manager) countTrunkCall(trunk string) func() {
	v, ok := m.trunkCalls.Load(trunk)
	if !ok {
		v, _ = m.trunkCalls.LoadOrStore(trunk, new(atomic.Int64))
	}
	n := v.(*atomic.Int64)
	n.Add(1)
	return func() { n.Add(-1) }
}

package call

import (
	"net/netip"
	"testing"
	"time"

	"github.com/hotline-cc/hotline/config"
	hsip "github.com/hotline-cc/hotline/sip"
)

// TestAdmitCallLimits: over security.calls' total or per-trunk limit a
// carrier call gets 503 with Retry-After; below them, and for a trunk
// without a limit, it is admitted.
func TestAdmitCallLimits(t *testing.T) {
	cfg, err := config.Parse("limits.yaml", []byte(`
trunks:
  - { name: carrier, acl: [192.0.2.0/24], numbers: ["*"], flow: main }
  - { name: backup, acl: [198.51.100.0/24], numbers: ["*"], flow: main }
agents: [{ id: "1001", password: pw }]
queues: [{ name: sales, agents: ["1001"] }]
flows: [{ name: main, start: q, nodes: { q: { queue: sales } } }]
security:
  calls: { max: 3, per_trunk: { carrier: 2 }, retry_after: 45s }
`))
	if err != nil {
		t.Fatal(err)
	}
	m := NewManager(Deps{Runtime: func() *Runtime { return &Runtime{Config: cfg} }})
	carrier, backup := netip.MustParseAddr("192.0.2.1"), netip.MustParseAddr("198.51.100.1")
	admitted := func(src netip.Addr, trunk string) {
		t.Helper()
		if adm := m.Admit(src, "100"); adm.Status != 0 || adm.Trunk != trunk {
			t.Fatalf("Admit from %v = %+v, want admitted on %s", src, adm, trunk)
		}
	}
	refused := func(src netip.Addr) {
		t.Helper()
		adm := m.Admit(src, "100")
		if adm.Status != 503 || adm.RetryAfter != 45*time.Second || adm.Blocked != hsip.BlockCallLimit {
			t.Fatalf("Admit from %v = %+v, want 503 with Retry-After 45s", src, adm)
		}
	}
	// start plays HandleCall's counting of a live call of trunk.
	start := func(trunk string) func() {
		m.active.Add(1)
		end := m.countTrunkCall(trunk)
		return func() { end(); m.active.Add(-1) }
	}
	admitted(carrier, "carrier")
	end1 := start("carrier")
	end2 := start("carrier")
	refused(carrier) // carrier's own limit
	admitted(backup, "backup")
	end3 := start("backup")
	refused(backup) // the total
	if got := m.TrunkActive("carrier"); got != 2 {
		t.Fatalf("TrunkActive(carrier) = %d", got)
	}
	end3()
	admitted(backup, "backup")
	end1()
	admitted(carrier, "carrier")
	end2()
	if m.TrunkActive("carrier") != 0 || m.Active() != 0 {
		t.Fatal("counts not back to zero")
	}
	// The ACL and number checks come first: a stranger is still 403.
	if adm := m.Admit(netip.MustParseAddr("203.0.113.1"), "100"); adm.Status != 403 {
		t.Fatalf("stranger: %+v", adm)
	}
}

// TestAdmitWithoutLimits: the default (and a Config built in code) limits
// nothing.
func TestAdmitWithoutLimits(t *testing.T) {
	cfg := &config.Config{Trunks: []config.Trunk{{Name: "t", ACL: []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")}}}}
	m := NewManager(Deps{Runtime: func() *Runtime { return &Runtime{Config: cfg} }})
	for range 100 {
		m.active.Add(1)
		m.countTrunkCall("t")
	}
	if adm := m.Admit(netip.MustParseAddr("127.0.0.1"), "1"); adm.Status != 0 {
		t.Fatalf("no limits: %+v", adm)
	}
}

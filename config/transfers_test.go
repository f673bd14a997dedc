package config

import (
	"strings"
	"testing"
	"time"
)

// TestTransfersSection: the allow list matches exact numbers and
// prefixes, the trunk is the named one, failed_return defaults to agent.
func TestTransfersSection(t *testing.T) {
	base := `
trunks:
  - { name: carrier, acl: [127.0.0.0/8], numbers: ["*"], flow: main }
  - { name: out, acl: [127.0.0.0/8], numbers: ["9"], flow: main, outbound: "127.0.0.1:5090" }
agents: [{ id: "1001", password: pw }]
queues: [{ name: sales, agents: ["1001"] }]
flows: [{ name: main, start: q, nodes: { q: { queue: sales } } }]
`
	c, err := Parse("none.yaml", []byte(base))
	if err != nil {
		t.Fatal(err)
	}
	if c.Transfers.FailedReturn != FailedReturnAgent || c.Transfers.ExternalAllowed("5550123") || c.TransferTrunk().Name != "out" {
		t.Errorf("defaults: %+v, trunk %s; want failed_return agent, no number allowed, the first outbound trunk", c.Transfers, c.TransferTrunk().Name)
	}
	c, err = Parse("t.yaml", []byte(base+`
transfers:
  external: ["+4930*", "08001234"]
  trunk: out
  failed_return: queue
`))
	if err != nil {
		t.Fatal(err)
	}
	for number, want := range map[string]bool{"+493012345": true, "+4930": true, "08001234": true, "080012345": false, "+4931": false, "": false} {
		if got := c.Transfers.ExternalAllowed(number); got != want {
			t.Errorf("ExternalAllowed(%q) = %v, want %v", number, got, want)
		}
	}
	if c.Transfers.FailedReturn != FailedReturnQueue || c.TransferTrunk().Name != "out" {
		t.Errorf("transfers %+v", c.Transfers)
	}
	if _, err := Parse("t.yaml", []byte(base+"transfers: { trunk: carrier }\n")); err == nil || !strings.Contains(err.Error(), "t.yaml:") {
		t.Errorf("a trunk without outbound: %v, want a positioned error", err)
	}
}

// TestRecordingsReportsDispositions: retention by business type with a
// default, the FCR window, wrap-up codes by code and name.
func TestRecordingsReportsDispositions(t *testing.T) {
	c, err := Parse("r.yaml", []byte(`
recordings:
  retention_days: { default: 180, complaint: 1095, legal: 0 }
  analytics_hook: { url: "http://127.0.0.1:9/hook", timeout: 30s }
reports: { fcr_window: 72h }
dispositions:
  - { code: "1", name: resolved }
  - { code: "2", name: escalated }
`))
	if err != nil {
		t.Fatal(err)
	}
	r := c.Recordings
	if r.RetentionFor("complaint") != 1095 || r.RetentionFor("card") != 180 || r.RetentionFor("legal") != 0 || r.RetentionFor("") != 180 {
		t.Errorf("retention %+v", r)
	}
	if !r.AnalyticsHook.Enabled() || r.AnalyticsHook.Timeout != 30*time.Second || r.SweepEvery != DefaultSweepEvery {
		t.Errorf("hook %+v, sweep %v", r.AnalyticsHook, r.SweepEvery)
	}
	if c.Reports.FCRWindow != 72*time.Hour {
		t.Errorf("fcr window %v", c.Reports.FCRWindow)
	}
	if d, ok := c.DispositionByCode("2"); !ok || d.Name != "escalated" {
		t.Errorf("code 2: %+v %v", d, ok)
	}
	if _, ok := c.DispositionByName("nope"); ok {
		t.Error("unknown disposition found")
	}
	if c := Demo(); c.Reports.FCRWindow != DefaultFCRWindow || c.Recordings.AnalyticsHook.Enabled() {
		t.Errorf("demo defaults: %+v %+v", c.Reports, c.Recordings.AnalyticsHook)
	}
}

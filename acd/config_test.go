package acd

import (
	"slices"
	"testing"
	"time"

	"github.com/hotline-cc/hotline/config"
)

func TestTopologyFromConfig(t *testing.T) {
	cfg := &config.Config{
		Agents: []config.Agent{{ID: "1001", Name: "Ann", Password: "secret"}, {ID: "1002", Name: "Bob"}},
		Queues: []config.Queue{
			{Name: "support", Agents: []string{"1001", "1002"}, RingTimeout: 15 * time.Second},
			{Name: "sales", Agents: []string{"1002"}},
		},
	}
	top := TopologyFromConfig(cfg)
	want := Topology{
		Agents: []AgentSpec{{ID: "1001", Name: "Ann"}, {ID: "1002", Name: "Bob"}},
		Queues: []QueueSpec{
			{Name: "support", Agents: []string{"1001", "1002"}, RingTimeout: 15 * time.Second},
			{Name: "sales", Agents: []string{"1002"}},
		},
	}
	if !slices.EqualFunc(top.Agents, want.Agents, func(a, b AgentSpec) bool { return a.ID == b.ID && a.Name == b.Name }) || len(top.Queues) != len(want.Queues) {
		t.Fatalf("got %+v, want %+v", top, want)
	}
	for i, q := range top.Queues {
		w := want.Queues[i]
		if q.Name != w.Name || q.RingTimeout != w.RingTimeout || !slices.Equal(q.Agents, w.Agents) {
			t.Errorf("queue %d = %+v, want %+v", i, q, w)
		}
	}
	// The topology must not alias the config: a later edit of one config
	// must not change a running ACD.
	cfg.Queues[0].Agents[0] = "changed"
	if top.Queues[0].Agents[0] != "1001" {
		t.Error("topology shares the queue's agent slice with the config")
	}
}

func TestTopologyFromDemoConfigRoutes(t *testing.T) {
	cfg := config.Demo()
	st := NewState(TopologyFromConfig(cfg))
	if len(cfg.Queues) == 0 || len(cfg.Queues[0].Agents) == 0 {
		t.Skip("demo configuration has no queue with agents")
	}
	q := cfg.Queues[0]
	Step(st, AgentLoggedIn{AgentID: q.Agents[0]}, t0)
	cmds := routing(Step(st, CallQueued{CallID: "c1", Queue: q.Name}, t0))
	if len(cmds) != 1 {
		t.Fatalf("demo queue %s: got %v, want one offer", q.Name, fmtCommands(cmds))
	}
	if cmds[0].Kind != CommandOffer || cmds[0].Offer.AgentID != q.Agents[0] {
		t.Errorf("got %s, want an offer to %s", fmtCommands(cmds), q.Agents[0])
	}
}

package acd

import "github.com/hotline-cc/hotline/config"

// TopologyFromConfig extracts the ACD's view of a configuration. The config
// package has already checked that queue members name known agents.
func TopologyFromConfig(c *config.Config) Topology {
	top := Topology{
		Queues: make([]QueueSpec, 0, len(c.Queues)),
		Agents: make([]AgentSpec, 0, len(c.Agents)),
	}
	for _, a := range c.Agents {
		top.Agents = append(top.Agents, AgentSpec{ID: a.ID, Name: a.Name})
	}
	for _, q := range c.Queues {
		top.Queues = append(top.Queues, QueueSpec{
			Name:        q.Name,
			Agents:      append([]string(nil), q.Agents...),
			RingTimeout: q.RingTimeout,
		})
	}
	return top
}

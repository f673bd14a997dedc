package acd

import "github.com/hotline-cc/hotline/config"

// TopologyFromConfig extracts the ACD's view of a configuration. The config
// package has already checked names, levels and references.
func TopologyFromConfig(c *config.Config) Topology {
	top := Topology{
		Queues:               make([]QueueSpec, 0, len(c.Queues)),
		Agents:               make([]AgentSpec, 0, len(c.Agents)),
		MissedBeforeNotReady: c.AgentStates.MissedBeforeNotReady,
	}
	for _, a := range c.Agents {
		top.Agents = append(top.Agents, AgentSpec{ID: a.ID, Name: a.Name, Skills: skillLevels(a.Skills)})
	}
	for i := range c.Queues {
		q := &c.Queues[i]
		spec := QueueSpec{
			Name:                q.Name,
			Agents:              append([]string(nil), q.Agents...),
			Skills:              skillLevels(q.Skills),
			Strategy:            q.Strategy,
			RingTimeout:         q.RingTimeout,
			WrapUp:              q.WrapUp,
			AgingPerMinute:      q.AgingPerMinute,
			ServiceLevel:        q.ServiceLevel,
			MaxWait:             q.MaxWait,
			MaxWaitDest:         q.MaxWaitDest,
			MaxWaiting:          q.MaxWaiting,
			FullDest:            q.FullDest,
			ClosedDest:          q.ClosedDest,
			PositionEvery:       q.PositionEvery,
			CallbackRetry:       q.CallbackRetry,
			CallbackMaxAttempts: q.CallbackMaxAttempts,
		}
		if q.Hours != "" {
			spec.Hours = c.Calendar(q.Hours)
		}
		for _, s := range q.Escalation {
			spec.Escalation = append(spec.Escalation, EscalationStep{After: s.After, Skills: skillLevels(s.Skills), Queue: s.Queue})
		}
		top.Queues = append(top.Queues, spec)
	}
	return top
}

func skillLevels(in []config.SkillLevel) []SkillLevel {
	if len(in) == 0 {
		return nil
	}
	out := make([]SkillLevel, len(in))
	for i, s := range in {
		out[i] = SkillLevel{Skill: s.Skill, Level: s.Level}
	}
	return out
}

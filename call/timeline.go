package call

import (
	"time"

	"github.com/hotline-cc/hotline/store"
)

// The call's timeline (GET /api/v1/calls/{id}/timeline): top-level stages
// follow one another from answer to hangup, so their durations add up to
// the call's; a ring (an agent's phone ringing for an offer) is nested in
// the stage the caller waits in. Each change is written as it happens, so
// a crash leaves the stages up to it (start-up closes the open one); the
// writes are queued, not waited for, so the call never waits on the disk
// at a leg change.

// enterStage ends the current top-level stage and begins kind, with who
// and where from s. Entering the stage the call is already in (same kind,
// agent and detail) changes nothing.
func (c *Call) enterStage(kind string, s store.Stage) {
	now := c.now()
	var changed []store.Stage
	if cur := c.topStage; cur != nil {
		if cur.Kind == kind && cur.AgentID == s.AgentID && cur.Detail == s.Detail && cur.Queue == s.Queue {
			return
		}
		cur.End = now
		changed = append(changed, *cur)
	}
	s.CallID, s.Kind, s.Start, s.Parent = c.id, kind, now, 0
	c.topStage = c.addStage(s)
	changed = append(changed, *c.topStage)
	c.saveStages(changed...)
}

// beginNested opens a stage within the current top-level one and returns
// it, for endNested.
func (c *Call) beginNested(kind string, s store.Stage) *store.Stage {
	s.CallID, s.Kind, s.Start = c.id, kind, c.now()
	if c.topStage != nil {
		s.Parent = c.topStage.Seq
	}
	st := c.addStage(s)
	c.saveStages(*st)
	return st
}

// endNested closes a nested stage with its result (nil or closed: no-op).
func (c *Call) endNested(st *store.Stage, result string) {
	if st == nil || !st.End.IsZero() {
		return
	}
	st.End, st.Result = c.now(), result
	c.saveStages(*st)
}

// addStage numbers s and keeps it. Stages are kept by pointer: nested
// ones are closed through the pointer their starter holds.
func (c *Call) addStage(s store.Stage) *store.Stage {
	s.Seq = len(c.stages) + 1
	st := &s
	c.stages = append(c.stages, st)
	return st
}

// closeStages ends every open stage at end, the top-level one with result.
func (c *Call) closeStages(end time.Time, result string) {
	var changed []store.Stage
	for _, st := range c.stages {
		if !st.End.IsZero() {
			continue
		}
		st.End = end
		if st.Result == "" {
			st.Result = result
			if st.Parent != 0 {
				st.Result = "call-ended"
			}
		}
		changed = append(changed, *st)
	}
	c.topStage = nil
	c.saveStages(changed...)
}

// enterTalk enters the stage of a caller connected to their agent: talk,
// or hold while the agent holds them.
func (c *Call) enterTalk() {
	if c.onHold() {
		c.enterStage(store.StageHold, store.Stage{AgentID: c.agentID, Queue: c.queueName})
		return
	}
	c.enterStage(store.StageTalk, store.Stage{AgentID: c.agentID, Queue: c.queueName})
}

func (c *Call) saveStages(stages ...store.Stage) {
	if len(stages) == 0 {
		return
	}
	if err := c.m.deps.Store.StagesRecordedAsync(stages); err != nil {
		c.log.Error("timeline write", "err", err)
	}
}

package acd

import "time"

// callbackRequested turns a waiting caller into a callback that keeps the
// caller's place: same enqueue time, same priority, same queue. A second
// request from the same number in the same queue merges into the first,
// which takes the earlier place and the higher priority.
func (st *State) callbackRequested(ev CallbackRequested, now time.Time) {
	c := st.calls[ev.CallID]
	if c == nil || c.callback || c.state == callConnected || c.state == callUnknown || ev.Number == "" {
		st.counters.StaleEvents++
		return
	}
	q := c.queue
	st.leaveQueue(c, now)
	q.counters.Callbacks++
	st.exit(c, q, ExitCallback, q.slOutcome(ExitCallback, now.Sub(c.queuedAt)), "", now)

	delete(st.calls, c.id)
	c.id = CallbackCallID(ev.CallbackID)
	c.callback, c.callbackID, c.number = true, ev.CallbackID, ev.Number
	c.attempts, c.maxAttempts = 0, q.spec.CallbackMaxAttempts
	// No announcements and no max wait: nobody is holding on the line.
	c.preferred, c.dedicatedUntil, c.announceAt, c.maxWaitAt = nil, time.Time{}, time.Time{}, time.Time{}
	if st.mergeCallback(c, now) {
		return
	}
	st.calls[c.id] = c
	q.callers++
	st.callbacks[callbackKey{q.name, c.number}] = c
	st.enqueue(c)
	st.armCallTimer(c, now)
	st.callbackChanged(c, "pending", now)
}

// mergeCallback folds c into an earlier pending callback for the same
// number and queue, if there is one, and drops c.
func (st *State) mergeCallback(c *call, now time.Time) bool {
	first := st.callbacks[callbackKey{c.queue.name, c.number}]
	if first == nil || first == c {
		return false
	}
	if first.state == callWaiting {
		first.queue.waiting[first.stage].remove(first.heapIdx)
	}
	if c.queuedAt.Before(first.queuedAt) || (c.queuedAt.Equal(first.queuedAt) && c.seq < first.seq) {
		first.queuedAt, first.seq = c.queuedAt, c.seq
	}
	first.priority = max(first.priority, c.priority)
	first.setOrderKey()
	if first.state == callWaiting {
		st.enqueue(first)
	}
	st.emit(CommandCallback).Callback = CallbackChanged{
		CallbackID: c.callbackID, CallID: c.id, Queue: c.queue.name, State: "merged",
		MergedInto: first.callbackID, QueuedAt: first.queuedAt, Priority: first.priority,
	}
	c.callback = false // not in st.callbacks: dropCall must not unlink first
	st.dropCall(c)
	return true
}

// callbackScheduled enters a callback asked for through the API, or one
// reloaded from the database after a restart.
func (st *State) callbackScheduled(ev CallbackScheduled, now time.Time) {
	q := st.queues[ev.Queue]
	if q == nil || q.retired || ev.Number == "" {
		st.counters.UnknownEvents++
		return
	}
	id := CallbackCallID(ev.CallbackID)
	if _, dup := st.calls[id]; dup {
		st.counters.StaleEvents++
		return
	}
	c := st.newCall()
	st.lastCallSeq++
	queuedAt := ev.QueuedAt
	if queuedAt.IsZero() {
		queuedAt = now
	}
	*c = call{
		id: id, priority: ev.Priority, queuedAt: queuedAt, seq: st.lastCallSeq, heapIdx: -1,
		callback: true, callbackID: ev.CallbackID, number: ev.Number,
		attempts: ev.Attempts, maxAttempts: ev.MaxAttempts,
		queue: q, enteredAt: now,
	}
	c.timer = timer{call: c, index: -1}
	if c.maxAttempts <= 0 {
		c.maxAttempts = q.spec.CallbackMaxAttempts
	}
	c.setOrderKey()
	if ev.NotBefore.After(now) {
		c.state, c.notBefore = callScheduled, ev.NotBefore
	} else if st.mergeCallback(c, now) {
		return
	} else {
		st.enqueue(c)
	}
	st.calls[id] = c
	q.callers++
	q.counters.CallsQueued++
	if _, taken := st.callbacks[callbackKey{q.name, c.number}]; !taken {
		st.callbacks[callbackKey{q.name, c.number}] = c
	}
	st.armCallTimer(c, now)
}

// callbackFailed: the customer did not answer a callback the agent took.
// The agent is freed; the callback goes back to its place after the retry
// pause, or gives up once its attempts are spent.
func (st *State) callbackFailed(ev CallbackFailed, now time.Time) {
	c := st.calls[ev.CallID]
	if c == nil || !c.callback || c.state != callConnected {
		st.counters.StaleEvents++
		return
	}
	q := c.queue
	st.endAgentCall(c.agent, now)
	c.agent = nil
	// A reload may have removed the queue while the callback was being
	// dialed, and the queue is deleted once no caller waits in it: the
	// callback cannot go back to a deleted queue (whose heaps nobody keeps
	// up to date any more), so it has failed too.
	if c.attempts >= c.maxAttempts || st.queues[q.name] != q {
		st.callbackChanged(c, "failed", now)
		st.dropCall(c)
		return
	}
	q.callers++
	c.setOrderKey() // a reload during the call may have changed the queue's aging
	c.state, c.notBefore = callScheduled, now.Add(q.spec.CallbackRetry)
	st.armCallTimer(c, now)
	st.callbackChanged(c, "pending", now)
}

func (st *State) callbackChanged(c *call, state string, now time.Time) {
	st.emit(CommandCallback).Callback = CallbackChanged{
		CallbackID: c.callbackID, CallID: c.id, Queue: c.queue.name, State: state,
		Attempts: c.attempts, QueuedAt: c.queuedAt, Priority: c.priority,
	}
}

package acd

import "time"

// slWindowMinutes is how far back the live service level looks.
const slWindowMinutes = 15

// slWindow counts service-level verdicts in one-minute buckets over the
// last slWindowMinutes, so the live figure follows the last quarter hour
// without keeping every call.
type slWindow struct {
	minute [slWindowMinutes]int64 // the Unix minute each bucket holds
	met    [slWindowMinutes]uint32
	total  [slWindowMinutes]uint32 // met + missed; excluded calls do not count
}

func (w *slWindow) add(now time.Time, o SLOutcome) {
	if o != SLMet && o != SLMissed {
		return
	}
	m := now.Unix() / 60
	i := m % slWindowMinutes
	if w.minute[i] != m {
		w.minute[i], w.met[i], w.total[i] = m, 0, 0
	}
	w.total[i]++
	if o == SLMet {
		w.met[i]++
	}
}

// ratio returns met/(met+missed) over the window, and how many calls it
// covers; ok is false when no call counted.
func (w *slWindow) ratio(now time.Time) (ratio float64, calls int, ok bool) {
	m := now.Unix() / 60
	var met, total uint32
	for i := range w.minute {
		if w.minute[i] > m-slWindowMinutes && w.minute[i] <= m {
			met += w.met[i]
			total += w.total[i]
		}
	}
	if total == 0 {
		return 0, 0, false
	}
	return float64(met) / float64(total), int(total), true
}

// position is the caller's place in their queue, counting from 1: the
// calls that would be served before them, wherever they wait. It walks
// the queue's heaps, so it is only for announcements and snapshots.
func (st *State) position(c *call, now time.Time) int {
	q := c.queue
	pos := 1
	for k := range q.stages {
		for _, o := range q.waiting[k].items {
			if o != c && o.servedBefore(c, now) {
				pos++
			}
		}
	}
	return pos
}

// ewt estimates the wait of the caller at position pos: that many average
// calls, shared among the agents working the queue. The queue must have a
// handle time.
func (q *queue) ewt(pos int) time.Duration {
	return time.Duration(pos) * q.handleTime / time.Duration(max(q.staffed, 1))
}

func (st *State) announce(c *call, now time.Time) {
	a := Announce{CallID: c.id, Queue: c.queue.name}
	if c.state == callDedicated {
		a.WaitingFor = c.preferred.id
		a.Position = 1
		for _, o := range c.preferred.dedicated.items {
			if o.before(c) {
				a.Position++
			}
		}
	} else {
		a.Position = st.position(c, now)
		if c.queue.staffed > 0 && c.queue.handleTime > 0 {
			// Only once the queue has served calls: an estimate made up
			// from a default handle time would promise callers a wait
			// nobody measured (EWT zero means unknown).
			a.EWT = c.queue.ewt(a.Position)
		}
	}
	st.emit(CommandAnnounce).Announce = a
}

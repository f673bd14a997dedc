package clock

import (
	"context"
	"slices"
	"sync"
	"time"
)

// Fake is a Clock that moves only when told to. Timers fire on the goroutine
// that calls Advance or Set, in deadline order, so a test knows that every
// due callback has run when Advance returns. It is safe for concurrent use.
type Fake struct {
	mu      sync.Mutex
	now     time.Time
	nextSeq uint64
	timers  []*fakeTimer
	// changed is closed and replaced whenever the set of pending timers
	// changes, so WaitForTimers can block without polling.
	changed chan struct{}
}

var _ Clock = (*Fake)(nil)

// NewFake returns a Fake clock that reads start.
func NewFake(start time.Time) *Fake {
	return &Fake{now: start, changed: make(chan struct{})}
}

type fakeTimer struct {
	clock *Fake
	at    time.Time
	seq   uint64 // orders timers with the same deadline by creation
	f     func()
}

// Now returns the fake time.
func (c *Fake) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

// AfterFunc registers f to run when the clock reaches Now()+d. A timer with
// d <= 0 is due at once and, like time.AfterFunc, runs on its own goroutine.
func (c *Fake) AfterFunc(d time.Duration, f func()) Timer {
	if d <= 0 {
		t := &fakeTimer{clock: c, f: f}
		go f()
		return t
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	c.nextSeq++
	t := &fakeTimer{clock: c, at: c.now.Add(d), seq: c.nextSeq, f: f}
	c.timers = append(c.timers, t)
	c.notifyLocked()
	return t
}

// Stop removes the timer if it is still pending.
func (t *fakeTimer) Stop() bool {
	c := t.clock
	c.mu.Lock()
	defer c.mu.Unlock()
	i := slices.Index(c.timers, t)
	if i < 0 {
		return false
	}
	c.timers = slices.Delete(c.timers, i, i+1)
	c.notifyLocked()
	return true
}

// Advance moves the clock forward by d and runs every timer that falls due,
// earliest first; while a callback runs, Now reads that timer's deadline.
func (c *Fake) Advance(d time.Duration) {
	c.mu.Lock()
	target := c.now.Add(d)
	c.mu.Unlock()
	c.Set(target)
}

// Set moves the clock to t (never backwards) and runs every timer due by t.
func (c *Fake) Set(t time.Time) {
	for {
		c.mu.Lock()
		next := c.popDueLocked(t)
		if next == nil {
			if t.After(c.now) {
				c.now = t
			}
			c.mu.Unlock()
			return
		}
		if next.at.After(c.now) {
			c.now = next.at
		}
		c.mu.Unlock()
		// Run outside the lock: callbacks may read the clock or arm timers.
		next.f()
	}
}

// popDueLocked removes and returns the earliest timer due by t, or nil.
func (c *Fake) popDueLocked(t time.Time) *fakeTimer {
	best := -1
	for i, tm := range c.timers {
		if tm.at.After(t) {
			continue
		}
		if best < 0 || tm.at.Before(c.timers[best].at) ||
			(tm.at.Equal(c.timers[best].at) && tm.seq < c.timers[best].seq) {
			best = i
		}
	}
	if best < 0 {
		return nil
	}
	tm := c.timers[best]
	c.timers = slices.Delete(c.timers, best, best+1)
	c.notifyLocked()
	return tm
}

// Pending returns the number of timers waiting to fire.
func (c *Fake) Pending() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.timers)
}

// NextDeadline returns when the earliest pending timer fires and whether
// there is one.
func (c *Fake) NextDeadline() (time.Time, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	var next time.Time
	for _, tm := range c.timers {
		if next.IsZero() || tm.at.Before(next) {
			next = tm.at
		}
	}
	return next, !next.IsZero()
}

// WaitForTimers blocks until at least n timers are pending or ctx ends. Tests
// use it to know that the code under test has armed its timer before they
// advance the clock.
func (c *Fake) WaitForTimers(ctx context.Context, n int) error {
	for {
		c.mu.Lock()
		pending, changed := len(c.timers), c.changed
		c.mu.Unlock()
		if pending >= n {
			return nil
		}
		select {
		case <-changed:
		case <-ctx.Done():
			return context.Cause(ctx)
		}
	}
}

func (c *Fake) notifyLocked() {
	close(c.changed)
	c.changed = make(chan struct{})
}

package acd

import (
	"context"
	"log/slog"
	"sync/atomic"
	"time"

	"github.com/hotline-cc/hotline/clock"
)

// Clock is what the Router needs of time; clock.Real and *clock.Fake
// implement it.
type Clock interface {
	Now() time.Time
	AfterFunc(d time.Duration, f func()) clock.Timer
}

// eventBuffer is how many posted events may wait for the loop. Step takes
// microseconds, so the buffer only fills if the loop is stuck.
const eventBuffer = 4096

// Router is the ACD loop: one goroutine (Run) owns the State, applies posted
// events in order, delivers Tick at each deadline and hands commands to
// emit.
type Router struct {
	clk  Clock
	log  *slog.Logger
	emit func(Command)
	st   *State

	// events carries posted events and snapshot requests, so a snapshot
	// sees every event posted before it.
	events  chan Event
	stopped chan struct{} // closed when Run returns
	running atomic.Bool
}

// NewRouter returns a Router with every agent logged out. emit is called on
// the loop goroutine for every command, in order; it must not block and
// must not call Post (hand the command to another goroutine instead).
func NewRouter(top Topology, clk Clock, log *slog.Logger, emit func(Command)) *Router {
	return &Router{
		clk:     clk,
		log:     log,
		emit:    emit,
		st:      NewState(top),
		events:  make(chan Event, eventBuffer),
		stopped: make(chan struct{}),
	}
}

// Run is the loop. It returns nil when ctx ends, and ErrAlreadyRunning if
// called again; a Router runs once.
func (r *Router) Run(ctx context.Context) error {
	if !r.running.CompareAndSwap(false, true) {
		return ErrAlreadyRunning
	}
	defer close(r.stopped)

	// wake has room for one pending Tick; more would say nothing new.
	wake := make(chan struct{}, 1)
	var (
		timer      clock.Timer
		timerArmed time.Time // the deadline timer fires for; zero if none
	)
	defer func() {
		if timer != nil {
			timer.Stop()
		}
	}()
	for {
		if next := r.st.NextDeadline(); !next.Equal(timerArmed) {
			if timer != nil {
				timer.Stop()
				timer = nil
			}
			timerArmed = next
			if !next.IsZero() {
				timer = r.clk.AfterFunc(next.Sub(r.clk.Now()), func() {
					select {
					case wake <- struct{}{}:
					default:
					}
				})
			}
		}

		select {
		case <-ctx.Done():
			return nil
		case ev := <-r.events:
			if req, ok := ev.(snapshotRequest); ok {
				req.reply <- r.st.Snapshot(r.clk.Now())
				continue
			}
			r.step(ev)
		case <-wake:
			// The timer is spent; arm a new one for whatever is next.
			timer, timerArmed = nil, time.Time{}
			r.step(Tick{})
		}
	}
}

func (r *Router) step(ev Event) {
	before := r.st.counters
	for _, cmd := range Step(r.st, ev, r.clk.Now()) {
		r.logCommand(cmd)
		r.emit(cmd)
	}
	if after := r.st.counters; after != before {
		r.log.Debug("acd: ignored event", "event", ev,
			"stale_total", after.StaleEvents, "unknown_total", after.UnknownEvents)
	}
}

func (r *Router) logCommand(cmd Command) {
	switch cmd := cmd.(type) {
	case OfferCall:
		r.log.Info("acd: offer", "offer_id", cmd.OfferID, "call_id", cmd.CallID,
			"agent_id", cmd.AgentID, "queue", cmd.Queue)
	case CancelOffer:
		r.log.Info("acd: cancel offer", "offer_id", cmd.OfferID, "call_id", cmd.CallID,
			"agent_id", cmd.AgentID, "reason", cmd.Reason.String())
	}
}

// Post hands an event to the loop; it is safe from any goroutine. Events are
// applied in the order they were posted. Post never drops an event while the
// loop runs: if the buffer (4096 events) is full it blocks until the loop
// makes room, which takes microseconds. Before Run starts, events wait in the
// buffer; after Run has returned they are discarded.
func (r *Router) Post(ev Event) {
	select {
	case r.events <- ev:
		return
	default:
	}
	select {
	case r.events <- ev:
	case <-r.stopped:
		r.log.Warn("acd: event discarded, router stopped", "event", ev)
	}
}

// Reload applies a new topology in the loop, after every event posted before
// it. Agents and queues that disappear finish the calls they have.
func (r *Router) Reload(top Topology) {
	r.Post(TopologyChanged{Topology: top})
}

// Snapshot returns a copy of the loop's state after every event posted
// before the call. It waits for the loop, so it fails with ctx's error when
// Run has not started and ctx ends, and with ErrStopped once Run has
// returned.
func (r *Router) Snapshot(ctx context.Context) (Snapshot, error) {
	reply := make(chan Snapshot, 1)
	select {
	case r.events <- snapshotRequest{reply: reply}:
	case <-ctx.Done():
		return Snapshot{}, context.Cause(ctx)
	case <-r.stopped:
		return Snapshot{}, ErrStopped
	}
	select {
	case snap := <-reply:
		return snap, nil
	case <-ctx.Done():
		return Snapshot{}, context.Cause(ctx)
	case <-r.stopped:
		return Snapshot{}, ErrStopped
	}
}

// snapshotRequest travels with the events so that it is answered in order.
type snapshotRequest struct{ reply chan Snapshot }

func (snapshotRequest) isEvent() {}

package acd

import (
	"context"
	"fmt"
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

// CheckInterval is how often the Router verifies the State's consistency
// (State.Check) and repairs it if a bug ever broke it.
const CheckInterval = 30 * time.Second

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
	// checkTimer is owned by Run's goroutine.
	checkTimer clock.Timer
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
	checkDue := make(chan struct{}, 1)
	var armCheck func()
	armCheck = func() {
		r.checkTimer = r.clk.AfterFunc(CheckInterval, func() {
			select {
			case checkDue <- struct{}{}:
			default:
			}
		})
	}
	armCheck()
	defer func() { r.checkTimer.Stop() }()
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
		case <-checkDue:
			r.selfCheck()
			armCheck()
		}
	}
}

func (r *Router) step(ev Event) {
	before := r.st.counters
	r.emitAll(Step(r.st, ev, r.clk.Now()))
	if after := r.st.counters; after.StaleEvents != before.StaleEvents || after.UnknownEvents != before.UnknownEvents {
		r.log.Debug("acd: ignored event", "event", fmt.Sprintf("%T", ev),
			"stale_total", after.StaleEvents, "unknown_total", after.UnknownEvents)
	}
}

// selfCheck verifies the State and, if a bug broke an invariant, logs it
// and rebuilds the indexes so that routing goes on.
func (r *Router) selfCheck() {
	err := r.st.Check()
	if err == nil {
		return
	}
	r.log.Error("acd: state inconsistent, repairing", "err", err)
	r.emitAll(Repair(r.st, err, r.clk.Now()))
	if err := r.st.Check(); err != nil {
		r.log.Error("acd: state still inconsistent after repair", "err", err)
	}
}

func (r *Router) emitAll(cmds []Command) {
	for i := range cmds {
		r.logCommand(&cmds[i])
		r.emit(cmds[i])
	}
}

func (r *Router) logCommand(cmd *Command) {
	switch cmd.Kind {
	case CommandOffer:
		o := &cmd.Offer
		r.log.Info("acd: offer", "offer_id", o.OfferID, "call_id", o.CallID,
			"agent_id", o.AgentID, "queue", o.Queue, "rule", o.Decision.Rule.String(),
			"tier", o.Decision.Tier, "stage", o.Decision.Stage)
	case CommandCancelOffer:
		c := &cmd.Cancel
		r.log.Info("acd: cancel offer", "offer_id", c.OfferID, "call_id", c.CallID,
			"agent_id", c.AgentID, "reason", c.Reason.String())
	case CommandRoute:
		rt := &cmd.Route
		r.log.Info("acd: call leaves queue", "call_id", rt.CallID, "queue", rt.Queue,
			"destination", rt.Destination.String(), "reason", rt.Reason)
	case CommandMove:
		m := &cmd.Move
		r.log.Info("acd: call moved", "call_id", m.CallID, "from", m.From, "to", m.To, "reason", m.Reason)
	case CommandRepair:
		rp := &cmd.Repair
		r.log.Warn("acd: repaired", "call_id", rp.CallID, "agent_id", rp.AgentID, "what", rp.What)
	case CommandAgentState:
		as := &cmd.AgentState
		r.log.Debug("acd: agent state", "agent_id", as.AgentID, "from", as.From.String(), "to", as.To.String(),
			"reason", as.Reason, "source", as.Source, "call_id", as.CallID)
	case CommandUnknown, CommandCallExit, CommandAnnounce, CommandCallback:
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

package acd

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"sync"
	"testing"
	"time"

	"github.com/hotline-cc/hotline/clock"
)

// waitTimeout bounds how long a test waits for the loop; it is never slept.
const waitTimeout = 5 * time.Second

type routerHarness struct {
	r    *Router
	clk  *clock.Fake
	cmds chan Command
	done chan error
	stop context.CancelFunc
}

func startRouter(t *testing.T, top Topology) *routerHarness {
	t.Helper()
	h := &routerHarness{
		clk:  clock.NewFake(t0),
		cmds: make(chan Command, 64),
		done: make(chan error, 1),
	}
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	h.r = NewRouter(top, h.clk, log, func(c Command) {
		r := routing([]Command{c})
		if len(r) == 0 {
			return
		}
		select {
		case h.cmds <- r[0]:
		default:
			t.Errorf("command channel full, dropped %#v", c)
		}
	})
	ctx, cancel := context.WithCancel(context.Background())
	h.stop = cancel
	go func() { h.done <- h.r.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		select {
		case <-h.done:
		case <-time.After(waitTimeout):
			t.Error("Run did not return after cancel")
		}
	})
	return h
}

func (h *routerHarness) next(t *testing.T) Command {
	t.Helper()
	select {
	case c := <-h.cmds:
		return c
	case <-time.After(waitTimeout):
		t.Fatal("no command from the router")
		return Command{}
	}
}

// expectNone proves that no command is pending once every posted event has
// been applied (Snapshot is ordered behind them).
func (h *routerHarness) expectNone(t *testing.T) {
	t.Helper()
	h.snapshot(t)
	select {
	case c := <-h.cmds:
		t.Fatalf("unexpected command %#v", c)
	default:
	}
}

func (h *routerHarness) snapshot(t *testing.T) Snapshot {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), waitTimeout)
	defer cancel()
	snap, err := h.r.Snapshot(ctx)
	if err != nil {
		t.Fatalf("Snapshot: %v", err)
	}
	return snap
}

func TestRouterRingTimeoutWithFakeClock(t *testing.T) {
	h := startRouter(t, twoQueueTopology())
	h.r.Post(AgentLoggedIn{AgentID: "a2"})
	h.clk.Advance(time.Second)
	h.r.Post(AgentLoggedIn{AgentID: "a3"})
	h.r.Post(CallQueued{CallID: "c1", Queue: "support"})
	if got, want := h.next(t), Command(offerCall(1, "c1", "a2", "support")); got != want {
		t.Fatalf("got %#v, want %#v", got, want)
	}
	h.expectNone(t) // also orders us after the timer was armed

	h.clk.Advance(19 * time.Second)
	h.expectNone(t)
	h.clk.Advance(time.Second)
	if got, want := h.next(t), Command(cancel(1, "c1", "a2", CancelRingTimeout)); got != want {
		t.Fatalf("got %#v, want %#v", got, want)
	}
	if got, want := h.next(t), Command(offerCall(2, "c1", "a3", "support")); got != want {
		t.Fatalf("got %#v, want %#v", got, want)
	}

	h.r.Post(OfferAnswered{OfferID: 2})
	snap := h.snapshot(t)
	if a3 := snap.Agents[2]; a3.ID != "a3" || a3.State != AgentStateOnCall || a3.CallID != "c1" {
		t.Errorf("a3 = %+v, want on call with c1", a3)
	}
	if a2 := snap.Agents[1]; a2.State != AgentStateAvailable || !a2.CooldownUntil.Equal(t0.Add(sec(26))) {
		t.Errorf("a2 = %+v, want available, cooling down until +26s", a2)
	}
}

func TestRouterCooldownTimerRearms(t *testing.T) {
	h := startRouter(t, twoQueueTopology())
	h.r.Post(AgentLoggedIn{AgentID: "a4"})
	h.r.Post(CallQueued{CallID: "c1", Queue: "sales"})
	h.next(t)
	h.r.Post(OfferFailed{OfferID: 1, Reason: OfferRejected})
	h.expectNone(t)

	// The ring timer was replaced by the cool-down timer (5 s).
	if next, ok := h.clk.NextDeadline(); !ok || !next.Equal(t0.Add(DefaultOfferCooldown)) {
		t.Fatalf("pending timer at %v (%v), want end of cool-down", next, ok)
	}
	h.clk.Advance(DefaultOfferCooldown)
	if got, want := h.next(t), Command(offerCall(2, "c1", "a4", "sales")); got != want {
		t.Fatalf("got %#v, want %#v", got, want)
	}
}

func TestRouterReload(t *testing.T) {
	h := startRouter(t, twoQueueTopology())
	h.r.Post(CallQueued{CallID: "c1", Queue: "billing"})
	top := twoQueueTopology()
	top.Agents = append(top.Agents, AgentSpec{ID: "a5", Name: "Eve"})
	top.Queues = append(top.Queues, QueueSpec{Name: "billing", Agents: []string{"a5"}})
	h.r.Reload(top)
	h.r.Post(CallQueued{CallID: "c2", Queue: "billing"})
	h.r.Post(AgentLoggedIn{AgentID: "a5"})
	if got, want := h.next(t), (Command{Kind: CommandOffer, Offer: OfferCall{OfferID: 1, CallID: "c2", AgentID: "a5", Queue: "billing", RingTimeout: DefaultRingTimeout, Attempt: 1}}); got != want {
		t.Fatalf("got %#v, want %#v", got, want)
	}
	snap := h.snapshot(t)
	if len(snap.Queues) != 3 || snap.Counters.UnknownEvents != 1 {
		t.Errorf("after reload: %d queues, counters %+v; want 3 queues and c1 counted unknown", len(snap.Queues), snap.Counters)
	}
}

func TestRouterConcurrentPosts(t *testing.T) {
	h := startRouter(t, twoQueueTopology())
	const posters, callsEach = 8, 200
	var wg sync.WaitGroup
	for p := range posters {
		wg.Go(func() {
			for i := range callsEach {
				id := string(rune('A'+p)) + "-" + time.Duration(i).String()
				h.r.Post(CallQueued{CallID: id, Queue: "support"})
				if i%2 == 1 {
					h.r.Post(CallAbandoned{CallID: id})
				}
			}
		})
	}
	wg.Go(func() {
		for range 50 {
			if _, err := h.r.Snapshot(context.Background()); err != nil {
				t.Errorf("Snapshot: %v", err)
			}
		}
	})
	wg.Wait()
	snap := h.snapshot(t)
	q := snap.Queues[1]
	if q.Counters.CallsQueued != posters*callsEach || q.Counters.CallsAbandoned != posters*callsEach/2 || len(q.Waiting) != posters*callsEach/2 {
		t.Errorf("support: queued %d abandoned %d waiting %d", q.Counters.CallsQueued, q.Counters.CallsAbandoned, len(q.Waiting))
	}
}

func TestRouterStop(t *testing.T) {
	h := startRouter(t, twoQueueTopology())
	h.snapshot(t) // Run is looping
	ctx := context.Background()
	if err := h.r.Run(ctx); !errors.Is(err, ErrAlreadyRunning) {
		t.Errorf("second Run = %v, want ErrAlreadyRunning", err)
	}
	h.stop()
	select {
	case err := <-h.done:
		if err != nil {
			t.Errorf("Run = %v, want nil after cancel", err)
		}
	case <-time.After(waitTimeout):
		t.Fatal("Run did not return")
	}
	h.done <- nil // for the cleanup
	if _, err := h.r.Snapshot(ctx); !errors.Is(err, ErrStopped) {
		t.Errorf("Snapshot after stop = %v, want ErrStopped", err)
	}
	h.r.Post(AgentLoggedIn{AgentID: "a1"}) // must not block
}

func TestRouterSnapshotBeforeRun(t *testing.T) {
	r := NewRouter(twoQueueTopology(), clock.NewFake(t0), slog.New(slog.NewTextHandler(io.Discard, nil)), func(Command) {})
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := r.Snapshot(ctx); !errors.Is(err, context.Canceled) {
		t.Errorf("Snapshot with no loop = %v, want context.Canceled", err)
	}
}

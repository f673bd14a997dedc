package clock

import (
	"context"
	"slices"
	"sync"
	"testing"
	"time"
)

var start = time.Date(2026, 11, 23, 9, 0, 0, 0, time.UTC)

func TestFakeAdvanceFiresDueTimersInOrder(t *testing.T) {
	tests := []struct {
		name    string
		timers  []time.Duration
		stop    []int // indexes of timers stopped before advancing
		advance time.Duration
		want    []int
	}{
		{name: "nothing due", timers: []time.Duration{2 * time.Second}, advance: time.Second, want: nil},
		{name: "due at exactly now", timers: []time.Duration{time.Second}, advance: time.Second, want: []int{0}},
		{name: "earliest first", timers: []time.Duration{3 * time.Second, time.Second, 2 * time.Second}, advance: 5 * time.Second, want: []int{1, 2, 0}},
		{name: "equal deadlines in creation order", timers: []time.Duration{time.Second, time.Second}, advance: time.Second, want: []int{0, 1}},
		{name: "stopped timer does not fire", timers: []time.Duration{time.Second, time.Second}, stop: []int{0}, advance: time.Second, want: []int{1}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := NewFake(start)
			var fired []int
			var timers []Timer
			for i, d := range tt.timers {
				timers = append(timers, c.AfterFunc(d, func() {
					if got, want := c.Now(), start.Add(d); !got.Equal(want) {
						t.Errorf("timer %d: Now() = %v in callback, want %v", i, got, want)
					}
					fired = append(fired, i)
				}))
			}
			for _, i := range tt.stop {
				if !timers[i].Stop() {
					t.Errorf("Stop of pending timer %d = false", i)
				}
			}
			c.Advance(tt.advance)
			if !slices.Equal(fired, tt.want) {
				t.Errorf("fired %v, want %v", fired, tt.want)
			}
			if got, want := c.Now(), start.Add(tt.advance); !got.Equal(want) {
				t.Errorf("Now() = %v, want %v", got, want)
			}
		})
	}
}

func TestFakeCallbackMayArmTimers(t *testing.T) {
	c := NewFake(start)
	var fired []time.Duration
	var tick func()
	tick = func() {
		fired = append(fired, c.Now().Sub(start))
		c.AfterFunc(time.Second, tick)
	}
	c.AfterFunc(time.Second, tick)
	c.Advance(3500 * time.Millisecond)
	if want := []time.Duration{time.Second, 2 * time.Second, 3 * time.Second}; !slices.Equal(fired, want) {
		t.Errorf("fired at %v, want %v", fired, want)
	}
	if c.Pending() != 1 {
		t.Errorf("Pending() = %d, want 1", c.Pending())
	}
}

func TestFakeWaitForTimers(t *testing.T) {
	c := NewFake(start)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	var wg sync.WaitGroup
	wg.Go(func() {
		if err := c.WaitForTimers(ctx, 2); err != nil {
			t.Errorf("WaitForTimers: %v", err)
		}
	})
	c.AfterFunc(time.Second, func() {})
	c.AfterFunc(time.Second, func() {})
	wg.Wait()

	short, cancelShort := context.WithCancel(context.Background())
	cancelShort()
	if err := c.WaitForTimers(short, 3); err == nil {
		t.Error("WaitForTimers(3) with 2 timers and a cancelled ctx returned nil")
	}
}

func TestFakeNonPositiveDelayFiresAtOnce(t *testing.T) {
	c := NewFake(start)
	fired := make(chan struct{})
	tm := c.AfterFunc(0, func() { close(fired) })
	select {
	case <-fired:
	case <-time.After(5 * time.Second):
		t.Fatal("AfterFunc(0) never fired")
	}
	if tm.Stop() {
		t.Error("Stop after firing = true")
	}
}

func TestRealAfterFunc(t *testing.T) {
	fired := make(chan struct{})
	var clk Real
	clk.AfterFunc(time.Millisecond, func() { close(fired) })
	select {
	case <-fired:
	case <-time.After(5 * time.Second):
		t.Fatal("Real.AfterFunc never fired")
	}
	if clk.Now().IsZero() {
		t.Error("Real.Now() is zero")
	}
}

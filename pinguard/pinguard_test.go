package pinguard

import (
	"testing"
	"time"
)

func TestGuardLocksAfterFailuresAndForgetsAfterLockout(t *testing.T) {
	now := time.Date(2026, 11, 23, 9, 0, 0, 0, time.UTC)
	g := New(func() time.Time { return now })
	if ok, _ := g.Check("1003", "6543", "6543"); !ok {
		t.Fatal("the right PIN was refused")
	}
	for i := range MaxFailures {
		if ok, locked := g.Check("1003", "0000", "6543"); ok || locked != 0 {
			t.Fatalf("wrong PIN #%d: ok %v locked %v", i+1, ok, locked)
		}
	}
	if ok, locked := g.Check("1003", "6543", "6543"); ok || locked != Lockout {
		t.Fatalf("locked agent: ok %v, locked %v; want refused for %v even with the right PIN", ok, locked, Lockout)
	}
	if ok, _ := g.Check("1004", "7654", "7654"); !ok {
		t.Fatal("another agent is locked too")
	}
	now = now.Add(Lockout)
	if ok, _ := g.Check("1003", "6543", "6543"); !ok {
		t.Fatal("still locked after the lockout")
	}
	if ok, _ := g.Check("1005", "", ""); ok {
		t.Fatal("an agent without a PIN logged in with an empty one")
	}
}

// Package clock owns the notion of time for hotline's event loops: a Clock
// interface, the real clock, and a Fake that tests advance by hand.
//
// Loops read "now" and arm timers only through a Clock, so their tests run
// without sleeping. This package imports only the standard library and must
// not import any other hotline package.
package clock

import "time"

// Clock tells the time and runs functions later.
type Clock interface {
	Now() time.Time
	// AfterFunc calls f on its own goroutine once d has elapsed.
	AfterFunc(d time.Duration, f func()) Timer
}

// Timer is a pending AfterFunc call.
type Timer interface {
	// Stop prevents the call if it has not started yet and reports whether it
	// did so, like time.Timer.Stop.
	Stop() bool
}

// Real is the wall clock. Its zero value is ready to use.
type Real struct{}

var _ Clock = Real{}

// Now returns time.Now().
func (Real) Now() time.Time { return time.Now() }

// AfterFunc wraps time.AfterFunc.
func (Real) AfterFunc(d time.Duration, f func()) Timer { return time.AfterFunc(d, f) }

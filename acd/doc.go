// Package acd owns queues and agents: the pure routing step function (Step)
// that hands each queued call to the longest-idle available agent, and the
// single-goroutine loop (Router) that feeds it events, reads the clock and
// arms its timers.
//
// Step does no I/O, never reads the clock and starts no goroutines: given
// the same events and times it produces the same commands, so tests are
// tables and traces replay. docs/acd.md states the routing rules.
//
// acd imports only the standard library, config and clock. It must not import
// sip, media, ivr, store, call or api: the conductor (package call) turns
// our commands into SIP dialogs and reports their outcome back as events.
package acd

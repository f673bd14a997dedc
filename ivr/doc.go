// Package ivr compiles IVR flows from the configuration into immutable
// graphs and runs calls through them with a pure interpreter.
//
// Compile checks a config.Flow once per configuration version (references,
// prompts, unreachable nodes, loops that never wait for the caller) and
// resolves node names to NodeIDs. A call holds a Run: Step takes an event
// (playback finished, a DTMF digit, a timeout) and the current time and
// returns the actions the call's owner must carry out (play, stop playback,
// enqueue, hang up). Step does no I/O, reads no clock and starts no
// goroutines, so tests drive it with tables of events and a fake time.
//
// ivr imports only the standard library and config; it must not import
// media, sip, acd or call; those are its owner's business.
package ivr

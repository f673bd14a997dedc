// Package recorder turns call audio into crash-safe stereo WAV files: one
// writer goroutine does the file I/O of every recording, fed with 1 s blocks
// that the media pacer fills without blocking or allocating; Repair fixes
// the headers of files left behind by a crash.
//
// It must not import any other hotline package; a *Recording satisfies
// media.Tap structurally (Frame(in, out []int16)).
package recorder

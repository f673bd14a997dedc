// Package prompts owns the demo's audio prompts and hold music, embedded in
// the binary as 8 kHz, 16-bit mono PCM WAV files.
//
// It holds data only and must not import any package (ours or third-party):
// media loads these files with media.LoadPrompts(prompts.FS, "."). The files
// are produced by generate.sh (espeak-ng and sox), which the build does not
// run; regenerate and commit them by hand.
package prompts

import "embed"

// FS holds welcome.wav, invalid.wav, please_hold.wav, goodbye.wav, error.wav
// and moh.wav (loopable hold music) at its root.
//
//go:embed *.wav
var FS embed.FS

// Package prompts owns the demo's audio prompts and hold music, and the
// pieces the IVR's say node speaks values with, embedded in the binary as
// 8 kHz mono G.711 µ-law WAV files.
//
// It holds data only and must not import any package (ours or third-party):
// media loads these files with media.LoadPrompts(prompts.FS, "."). The files
// are produced by generate.sh (espeak-ng and sox), which the build does not
// run; regenerate and commit them by hand.
package prompts

import "embed"

// FS holds, at its root: the demo IVR's welcome, invalid, please_hold,
// goodbye and error; moh (loopable hold music); the agents' feature-code
// answers (agent_logged_in, agent_logged_out, agent_ready, agent_not_ready,
// feature_failed); and the pieces of position, estimated-wait, callback,
// agent-ID and whisper announcements (digit_0 to digit_9, you_are_number,
// in_line, estimated_wait, minutes, less_than_a_minute, waiting_for_agent,
// callback_*, voicemail_greeting, beep, agent_intro, at_your_service, whisper_*, queue_sales,
// queue_support).
//
// In say/en and say/zh, it holds the words package ivr/say strings together
// to speak numbers, digit strings, amounts, dates and agents' IDs in
// American English and Mandarin (say/en/7, say/en/hundred, say/zh/10000 for
// 万, say/zh/yuan for 元…; ivr/say's Required lists them). Loaded by
// media.LoadPrompts, they are the prompts "say/en/7" and so on.
//
// generate.sh has every file's text.
//
//go:embed *.wav say/*/*.wav
var FS embed.FS

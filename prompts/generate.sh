#!/bin/sh
# generate.sh regenerates the demo prompts embedded by package prompts.
#
# It is not run by the build: the WAVs are committed. Run it by hand after
# changing a text or the hold music, from any directory (sox dithers, so
# every file comes out a little different: commit only the ones you meant
# to change):
#
#   apt-get install -y espeak-ng sox
#   sh prompts/generate.sh
#
# Output: 8 kHz mono G.711 µ-law WAV: the telephone's own format (so
# nothing is lost that a PCMU call would keep) at half the size of 16-bit
# PCM; media.LoadWAV decodes it without resampling. Speech is espeak-ng's en-us voice; moh.wav is hold music
# synthesized by sox (plucked arpeggios over a soft pad, I-vi-IV-V in C).
# Keep the folder under 800 KB: it is embedded in the binary.
set -eu

cd "$(dirname "$0")"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

# speak NAME TEXT: synthesize TEXT to NAME.wav, band-limited to the telephone
# band (300-3400 Hz) and normalized to -3 dBFS so every prompt sounds alike.
speak() {
	say "$1" "$2" 0.15 0.25
}

# piece NAME TEXT: a fragment of a spoken sentence (digits, "agent", "in
# line"): little silence around it, so that pieces played one after another
# sound like one sentence.
piece() {
	say "$1" "$2" 0.02 0.06
}

say() {
	espeak-ng -v en-us -s 165 -w "$tmp/$1.raw.wav" "$2"
	sox "$tmp/$1.raw.wav" -r 8000 -b 8 -c 1 -e u-law "$1.wav" \
		silence 1 0.02 0.3% reverse silence 1 0.02 0.3% reverse \
		highpass 300 lowpass 3400 norm -3 pad "$3" "$4"
}

speak welcome "Welcome to hotline. For sales, press 1. For support, press 2."
speak invalid "Sorry, that is not a valid choice."
speak please_hold "All our agents are busy. Please hold, your call is important to us."
speak goodbye "Thank you for calling. Goodbye."
speak error "We are sorry, we cannot take your call right now. Please try again later."

# Agents' feature codes (*20 log in, *21 ready, *22 not ready, *23 log out).
speak agent_logged_in "You are logged in."
speak agent_logged_out "You are logged out."
speak agent_ready "You are ready for calls."
speak agent_not_ready "You are not ready."
speak feature_failed "Sorry, that did not work."

# Waiting callers: position, estimated wait, callbacks; agents: whisper.
for d in 0 1 2 3 4 5 6 7 8 9; do
	piece "digit_$d" "$(echo zero one two three four five six seven eight nine | cut -d' ' -f$((d + 1)))"
done
piece you_are_number "You are number"
piece in_line "in line."
piece estimated_wait "Your estimated wait is"
piece minutes "minutes."
piece less_than_a_minute "less than a minute."
speak waiting_for_agent "Your personal advisor will be with you shortly."
speak callback_offer "To be called back instead, without losing your place, press 1."
piece callback_number "We will call you back at"
speak callback_confirm "To confirm, press 1. To enter another number, press 2."
speak callback_enter "Please enter your phone number, then press the hash key."
speak callback_booked "Thank you. We will call you back. Goodbye."
speak voicemail_greeting "Please leave your message after the tone, then hang up."
# The tone: 400 ms of 1 kHz, the usual voicemail beep.
sox -n -r 8000 -b 8 -c 1 -e u-law beep.wav synth 0.4 sine 1000 vol 0.5 fade 0.01 0.4 0.01 pad 0.1 0.1
piece agent_intro "Agent"
piece at_your_service "at your service."
piece whisper_queue "Call from"
piece whisper_vip "V I P."
piece whisper_callback "Callback."
piece queue_sales "sales."
piece queue_support "support."

# Hold music: four bars of 1.875 s each, played twice (15 s). Each bar is
# a pad (three sine voices, slow attack and release) under a plucked
# arpeggio in eighth notes. Both ends fade to near silence so the loop point
# (media plays moh.wav with Loop) is seamless.
bar() { # bar N ROOT THIRD FIFTH OCTAVE
	n=$1
	sox -n -r 8000 -c 1 "$tmp/pad$n.wav" synth 1.875 sine "$2" sine "$3" sine "$4" \
		remix - vol 0.25 fade q 0.4 1.875 0.6
	i=0
	for note in "$2" "$3" "$4" "$5" "$4" "$3" "$4" "$5"; do
		sox -n -r 8000 -c 1 "$tmp/n$n-$i.wav" synth 0.234375 pluck "$note" vol 0.5 fade 0 0.234375 0.1
		i=$((i + 1))
	done
	sox "$tmp"/n"$n"-?.wav "$tmp/arp$n.wav"
	sox -m "$tmp/pad$n.wav" "$tmp/arp$n.wav" "$tmp/bar$n.wav"
}
bar 1 C3 E3 G3 C4 # C major
bar 2 A2 C3 E3 A3 # A minor
bar 3 F2 A2 C3 F3 # F major
bar 4 G2 B2 D3 G3 # G major
sox "$tmp/bar1.wav" "$tmp/bar2.wav" "$tmp/bar3.wav" "$tmp/bar4.wav" \
	"$tmp/bar1.wav" "$tmp/bar2.wav" "$tmp/bar3.wav" "$tmp/bar4.wav" "$tmp/moh.raw.wav"
sox "$tmp/moh.raw.wav" -r 8000 -b 8 -c 1 -e u-law moh.wav \
	reverb 30 gain -n -4 fade t 0.5 15 0.8

ls -l ./*.wav

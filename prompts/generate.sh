#!/bin/sh
# generate.sh regenerates the prompts embedded by package prompts.
#
# It is not run by the build: the WAVs are committed. Run it by hand after
# changing a text or the hold music, from any directory (sox dithers, so
# every file comes out a little different: regenerate only the section you
# changed, and commit only the files you meant to change):
#
#   apt-get install -y espeak-ng sox
#   sh prompts/generate.sh        # everything
#   sh prompts/generate.sh demo   # the top-level prompts and the hold music
#   sh prompts/generate.sh say    # only say/en and say/zh (ivr/say's pieces)
#
# Output: 8 kHz mono G.711 µ-law WAV: the telephone's own format (so
# nothing is lost that a PCMU call would keep) at half the size of 16-bit
# PCM; media.LoadWAV decodes it without resampling. Speech is espeak-ng's
# en-us voice (and its Mandarin voice for say/zh); moh.wav is hold music
# synthesized by sox (plucked arpeggios over a soft pad, I-vi-IV-V in C).
# Keep the folder under 1 MiB: it is embedded in the binary.
set -eu

case ${1:-all} in
all | demo | say) ;;
*)
	echo "usage: $0 [all|demo|say]" >&2
	exit 2
	;;
esac

cd "$(dirname "$0")"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

# synth OUT VOICE SPEED TEXT PAD_BEFORE PAD_AFTER: synthesize TEXT to OUT,
# trimmed of espeak-ng's own silence, band-limited to the telephone band
# (300-3400 Hz), normalized to -3 dBFS so every prompt sounds alike, then
# padded with the silence asked for.
synth() {
	espeak-ng -v "$2" -s "$3" -w "$tmp/raw.wav" "$4"
	sox "$tmp/raw.wav" -r 8000 -b 8 -c 1 -e u-law "$1" \
		silence 1 0.02 0.3% reverse silence 1 0.02 0.3% reverse \
		highpass 300 lowpass 3400 norm -3 pad "$5" "$6"
}

# speak NAME TEXT: a whole sentence, NAME.wav.
speak() {
	synth "$1.wav" en-us 165 "$2" 0.15 0.25
}

# piece NAME TEXT: a fragment of a spoken sentence (digits, "agent", "in
# line"): little silence around it, so that pieces played one after another
# sound like one sentence.
piece() {
	synth "$1.wav" en-us 165 "$2" 0.02 0.06
}

# demo_prompts writes every top-level prompt but moh.wav.
demo_prompts() {
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

}

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
# hold_music writes moh.wav.
hold_music() {
	bar 1 C3 E3 G3 C4 # C major
	bar 2 A2 C3 E3 A3 # A minor
	bar 3 F2 A2 C3 F3 # F major
	bar 4 G2 B2 D3 G3 # G major
	sox "$tmp/bar1.wav" "$tmp/bar2.wav" "$tmp/bar3.wav" "$tmp/bar4.wav" \
		"$tmp/bar1.wav" "$tmp/bar2.wav" "$tmp/bar3.wav" "$tmp/bar4.wav" "$tmp/moh.raw.wav"
	sox "$tmp/moh.raw.wav" -r 8000 -b 8 -c 1 -e u-law moh.wav \
		reverb 30 gain -n -4 fade t 0.5 15 0.8

}

# say_pieces writes say/LANG/NAME.wav: the words package ivr/say strings
# together to speak numbers, digit strings, amounts, dates and agent IDs.
# NAME is ASCII whatever the language (a file name every file system, zip
# and URL keeps as is); ivr/say's Required lists every name each language
# uses, and ivr/say's tests check that each is here and nothing else is.
#
# Pieces are even tighter than piece's (no silence before, 20 ms after;
# media pads each prompt to whole 20 ms frames, which adds 10 ms on average)
# and spoken a little faster (175 words a minute): they are played many in a
# row, and there are about a hundred of them in the binary (350 KB).
say_pieces() {
	rm -rf say
	mkdir -p say/en say/zh

	# en: American English, read the way a US bank's IVR does:
	# 0-19, 20-90: numbers ("one hundred twenty three": no "and").
	i=0
	for w in zero one two three four five six seven eight nine ten eleven \
		twelve thirteen fourteen fifteen sixteen seventeen eighteen nineteen; do
		say_en "$i" "$w"
		i=$((i + 1))
	done
	i=2
	for w in twenty thirty forty fifty sixty seventy eighty ninety; do
		say_en "${i}0" "$w"
		i=$((i + 1))
	done
	for w in hundred thousand million billion minus dollar dollars cent cents and; do
		say_en "$w" "$w"
	done
	# oh: the zero of years like 1905, "nineteen oh five".
	say_en oh "oh"
	for w in january february march april may june july august september \
		october november december; do
		say_en "$w" "$w"
	done
	# 1st-19th, 20th and 30th: day ordinals; the 21st is "twenty" "first".
	i=1
	for w in first second third fourth fifth sixth seventh eighth ninth tenth \
		eleventh twelfth thirteenth fourteenth fifteenth sixteenth seventeenth \
		eighteenth nineteenth; do
		case $i in
		1) suffix=st ;;
		2) suffix=nd ;;
		3) suffix=rd ;;
		*) suffix=th ;;
		esac
		say_en "$i$suffix" "$w"
		i=$((i + 1))
	done
	say_en 20th twentieth
	say_en 30th thirtieth
	say_en agent_number "agent number"

	# zh: Mandarin, read the way a Chinese call centre does. The file names
	# stand for these characters:
	#   0-9   零 一 二 三 四 五 六 七 八 九 (0 is also the 零 inside numbers)
	#   yao   幺, the 1 of phone numbers, IDs and agent numbers
	#   10 100 1000 10000 100000000   十 百 千 万 亿
	#   liang 两, the 2 that counts (两百, 两万, 两元)
	#   fu 负 (minus); yuan jiao fen 元 角 分; nian yue ri 年 月 日
	#   gonghao 工号 (agent number)
	i=0
	for w in 零 一 二 三 四 五 六 七 八 九; do
		say_zh "$i" "$w"
		i=$((i + 1))
	done
	say_zh yao 幺
	say_zh 10 十
	say_zh 100 百
	say_zh 1000 千
	say_zh 10000 万
	say_zh 100000000 亿
	say_zh liang 两
	say_zh fu 负
	say_zh yuan 元
	say_zh jiao 角
	say_zh fen 分
	say_zh nian 年
	say_zh yue 月
	say_zh ri 日
	say_zh gonghao 工号

	ls -l say/*/*.wav
	echo "say: $(cat say/*/*.wav | wc -c) bytes"
}

# say_en NAME TEXT: say/en/NAME.wav.
say_en() {
	synth "say/en/$1.wav" en-us 175 "$2" 0 0.02
}

# say_zh NAME TEXT: say/zh/NAME.wav, TEXT in Chinese characters. The voice is
# cmn-latn-pinyin, not cmn: espeak-ng 1.51 turns characters into pinyin with
# tone numbers, which its cmn voice then reads as English ("百" comes out as
# "bai three", espeak-ng issue #1236); cmn-latn-pinyin is the same Mandarin
# voice reading that pinyin as Mandarin.
say_zh() {
	synth "say/zh/$1.wav" cmn-latn-pinyin 175 "$2" 0 0.02
}

case ${1:-all} in
all)
	demo_prompts
	hold_music
	ls -l ./*.wav
	say_pieces
	;;
demo)
	demo_prompts
	hold_music
	ls -l ./*.wav
	;;
say)
	say_pieces
	;;
esac

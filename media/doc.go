// Package media carries the RTP audio of every call leg: the RTP port pool
// and endpoints, G.711 (PCMU/PCMA), the shared 20 ms pacer that plays
// prompts and hold music and feeds recording taps, RFC 4733 DTMF detection,
// packet relay (with PCMU<->PCMA transcoding) between bridged endpoints,
// N-party mixing (Mix: conferences, silent monitoring and whisper) and WAV
// prompt loading.
//
// It knows nothing of SIP, queues or IVR and must not import any other
// hotline package (sip, call, acd, ivr, config, recorder, ...). Callers talk
// to it through Engine and Endpoint methods that never block on the network
// and through each endpoint's Events channel, which media never blocks on.
//
// Goroutines: one pacer per Engine (every playing stream, every recording
// tap and every Mix is served by it every 20 ms, on one ticker; a tick of
// many streams is shared out among a helper per CPU beyond the first) and
// one reader per Endpoint, reading into one reused buffer. The steady state allocates nothing; the
// tests prove it with testing.AllocsPerRun.
//
// Mixing: an endpoint's outgoing direction is fed by exactly one of silence,
// a playing prompt, relay from its Bridge peer, or the mix of its Mix. The
// reader of a participant decodes its audio into a jitter buffer on the
// endpoint, a FIFO with a fixed prefill (Mix.SetJitterDepth, 20 ms by
// default; not adaptive): a participant is mixed only once that much is held
// beyond the frame due, it primes again when it runs dry, and it keeps at
// most the prefill plus 40 ms, dropping the oldest. Each pacer tick takes one
// frame per participant (silence if none), sums the speakers once in int32,
// and for each participant subtracts its own frame, adds the whisperers
// targeting it, clamps to int16 and sends it G.711-encoded for its codec, as
// the endpoint's own paced stream. Speaker is heard by all and hears all
// others; Listener hears the speakers and is heard by none; Whisperer(target)
// hears the speakers and is heard by target only. Join unbridges, Bridge
// leaves the mix, Play overrides the mix until the playback ends or stops.
// There is no gain control: sums that overflow are clamped.
package media

// Package media carries the RTP audio of every call leg: the RTP port pool
// and endpoints, G.711 (PCMU/PCMA), the shared 20 ms pacer that plays
// prompts and hold music and feeds recording taps, RFC 4733 DTMF detection,
// packet relay (with PCMU<->PCMA transcoding) between bridged endpoints, and
// WAV prompt loading.
//
// It knows nothing of SIP, queues or IVR and must not import any other
// hotline package (sip, call, acd, ivr, config, recorder, ...). Callers talk
// to it through Engine and Endpoint methods that never block on the network
// and through each endpoint's Events channel, which media never blocks on.
//
// Goroutines: one pacer per Engine (every playing stream and every recording
// tap is served by it every 20 ms) and one reader per Endpoint, reading into
// one reused buffer. The steady state allocates nothing; the tests prove it
// with testing.AllocsPerRun.
package media

package config

import (
	"time"

	"gopkg.in/yaml.v3"
)

// Calls bounds the life of a call.
type Calls struct {
	// RTPTimeout ends a call whose caller has sent no RTP for this long
	// (a dead carrier leg, a phone gone from Wi-Fi); 0 never. A caller who
	// put us on hold is exempt while held.
	RTPTimeout Duration
	// MaxDuration ends any call this long after its answer; 0 never.
	MaxDuration Duration
	// SessionExpires is the RFC 4028 session interval callers' legs use
	// when the carrier supports session timers without naming one, and
	// the longest we accept; 0 turns session timers off.
	SessionExpires Duration
	// MinSE is the shortest session interval we accept: a carrier asking
	// for less gets 422 with this Min-SE.
	MinSE Duration
	// Drain is how long a stopping hotline (SIGTERM) lets the calls in
	// progress finish, refusing new ones, before it hangs up the rest;
	// 0 hangs up at once.
	Drain Duration
}

// Defaults of the calls section: a minute of silence from a carrier is a
// dead leg (carriers send comfort noise or RTP all along); four hours is
// longer than any contact-center call and shorter than a leaked one's
// cost.
const (
	DefaultRTPTimeout  = time.Minute
	DefaultMaxDuration = 4 * time.Hour
	// DefaultDrain fits within systemd's default stop timeout (90 s).
	DefaultDrain = time.Minute
	// DefaultSessionExpires is RFC 4028 §4's recommended interval; a
	// carrier that wants a shorter one names it.
	DefaultSessionExpires = 30 * time.Minute
	// MinSessionExpires is RFC 4028's floor for Min-SE and every interval.
	MinSessionExpires = 90 * time.Second
)

func (d *decoder) calls(n *yaml.Node, c *Calls) {
	d.fields(n, "calls", map[string]field{
		"rtp_timeout":  d.durationIn(&c.RTPTimeout, "calls.rtp_timeout", 5*time.Second, 0, "never"),
		"max_duration": d.durationIn(&c.MaxDuration, "calls.max_duration", time.Minute, 0, "never"),
		"drain":        d.durationIn(&c.Drain, "calls.drain", time.Second, time.Hour, "at once"),
		"session_expires": d.durationIn(&c.SessionExpires, "calls.session_expires", MinSessionExpires, 24*time.Hour,
			"no session timers"),
		"min_se": d.durationIn(&c.MinSE, "calls.min_se", MinSessionExpires, time.Hour, ""),
	})
}

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
)

func (d *decoder) calls(n *yaml.Node, c *Calls) {
	d.fields(n, "calls", map[string]field{
		"rtp_timeout":  d.durationIn(&c.RTPTimeout, "calls.rtp_timeout", 5*time.Second, 0, "never"),
		"max_duration": d.durationIn(&c.MaxDuration, "calls.max_duration", time.Minute, 0, "never"),
		"drain":        d.durationIn(&c.Drain, "calls.drain", time.Second, time.Hour, "at once"),
	})
}

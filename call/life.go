package call

import (
	"time"

	hsip "github.com/hotline-cc/hotline/sip"
)

// checkLife ends a call that has lasted calls.max_duration, or whose
// caller has sent no RTP for calls.rtp_timeout (not while the caller holds
// us), and otherwise arms lifeTimer for the next check.
func (c *Call) checkLife() {
	now := c.now()
	limits := c.rt.Config.Calls
	var next time.Duration
	if limits.MaxDuration > 0 {
		left := limits.MaxDuration - now.Sub(c.cdr.Answer)
		if left <= 0 {
			c.log.Warn("call ends: longest call reached", "max_duration", limits.MaxDuration.String())
			c.endBySystem("max-duration")
			return
		}
		next = left
	}
	if limits.RTPTimeout > 0 {
		wait := limits.RTPTimeout // a held caller is looked at again then
		if !c.callerHeld.Load() {
			heard := latest(c.caller.LastHeard(), c.cdr.Answer, time.Unix(0, c.callerResumed.Load()))
			silent := now.Sub(heard)
			if silent >= limits.RTPTimeout {
				c.log.Warn("call ends: no RTP from the caller", "silent", silent.Round(time.Second).String())
				c.endBySystem("rtp-timeout")
				return
			}
			wait = limits.RTPTimeout - silent
		}
		if next == 0 || wait < next {
			next = wait
		}
	}
	if next > 0 {
		c.lifeTimer.Reset(next)
	}
}

// endBySystem ends the call from hotline's side for cause (shutdown, a
// dead leg, a call too long), with the result its stage gives.
func (c *Call) endBySystem(cause string) {
	if c.hangupBy == "" {
		c.hangupBy, c.cause = "system", cause
	}
	c.setResult(map[Stage]string{StageIVR: "ivr", StageQueued: "abandoned", StageTalking: "completed",
		StageVoicemail: "voicemail", StageCallbackMenu: c.callbackMenuResult(), StageTransferred: "transferred"}[c.stage])
	c.endCaller("system-" + cause)
}

// sendsNoRTP reports whether a caller's SDP says it will send us no RTP:
// it holds us (sendonly, inactive, c=0.0.0.0) or only listens (recvonly).
// The RTP timeout does not apply then, as Asterisk's rtpholdtimeout is
// apart from its rtptimeout.
func sendsNoRTP(o hsip.MediaOffer) bool {
	return o.Held() || o.Direction == hsip.DirectionRecvOnly
}

func latest(ts ...time.Time) time.Time {
	var out time.Time
	for _, t := range ts {
		if t.After(out) {
			out = t
		}
	}
	return out
}

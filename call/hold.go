package call

import (
	"context"
	"errors"
	"time"

	"github.com/hotline-cc/hotline/acd"
	"github.com/hotline-cc/hotline/media"
	hsip "github.com/hotline-cc/hotline/sip"
)

// control asks a connected call, on its goroutine, to do what an agent
// asked: put the caller on hold or take them off it (from the agent's
// phone: a re-INVITE with sendonly, inactive or 0.0.0.0; or the API), or
// send the call on (transfer, when set). reply, when set, gets the outcome.
type control struct {
	held     bool
	transfer *Target
	// monitor and unmonitor start and end a supervisor's session.
	monitor, unmonitor *monitor
	// conference adds a third party.
	conference *Target
	// consult starts a consultation (phone: placed by the agent's phone);
	// completeConsult and cancelConsult end it, the first by connecting
	// the caller to the consultee (replaces: as a REFER named the dialog
	// to replace).
	consult                        *Target
	phone                          *phoneConsult
	completeConsult, cancelConsult bool
	mergeConsult                   bool
	replaces                       *hsip.Replaces
	source                         string // "phone", "refer" or "api"
	// leg is the agent leg a phone's request came on; a request from a
	// leg that is no longer the call's (a late answer dropped, an agent
	// transferred away) is ignored.
	leg *hsip.OutboundCall
	// referrer is the leg a REFER came on: it gets the final NOTIFY.
	referrer referNotifier
	// monitorMode switches or ends a supervisor's session; query runs on
	// the call's goroutine and answers for it.
	monitorMode *monitorModeChange
	query       func() error
	reply       chan error
}

// Errors of Manager.Hold (the API answers 404 and 409).
var (
	ErrNoSuchCall = errors.New("no such call")
	ErrNotTalking = errors.New("the call is not connected to an agent")
)

// Hold puts the caller of a connected call on hold (held) or takes them
// off it, as the agent's desktop asks through the API. The caller hears
// the queue's music meanwhile; the agent hears silence.
func (m *Manager) Hold(ctx context.Context, callID string, held bool) error {
	return m.controlCall(ctx, callID, control{held: held, source: "api"})
}

// controlCall hands req to the live call callID and waits for the outcome.
func (m *Manager) controlCall(ctx context.Context, callID string, req control) error {
	v, ok := m.calls.Load(callID)
	if !ok {
		return ErrNoSuchCall
	}
	req.reply = make(chan error, 1)
	return v.(*Call).control(ctx, req)
}

// control hands req to the call's goroutine and waits for the outcome.
func (c *Call) control(ctx context.Context, req control) error {
	select {
	case c.controls <- req:
	case <-c.done:
		return ErrNoSuchCall
	case <-ctx.Done():
		return ctx.Err()
	}
	select {
	case err := <-req.reply:
		return err
	case <-c.done:
		return ErrNoSuchCall
	case <-ctx.Done():
		return ctx.Err()
	}
}

// requestHold hands a hold change from a SIP goroutine to the call's
// goroutine; it gives up when the call has ended.
func (c *Call) requestHold(leg *hsip.OutboundCall, held bool) {
	select {
	case c.controls <- control{held: held, source: "phone", leg: leg}:
	case <-c.done:
	}
}

// setHold carries out a hold change on the call's goroutine: on hold, the
// caller leaves the bridge for the queue's music and the hold clock runs;
// off hold, the bridge comes back. The ACD learns of both (agent state
// on-hold).
func (c *Call) setHold(req control) error {
	if c.stage != StageTalking || c.agentLeg == nil || (req.leg != nil && req.leg != c.agentLeg) {
		return ErrNotTalking
	}
	if req.held == c.onHold() {
		return nil // a repeat: a phone re-sends its hold as a session refresh
	}
	if k := c.consult; k != nil && k.phone == nil && !req.held && req.source != "consult" {
		// The agent talks to the consultee on the agent leg: complete or
		// cancel first.
		return ErrConsultBusy
	}
	now := c.now()
	if req.held {
		if c.mix != nil {
			c.mix.Leave(c.caller) // the others go on talking
		} else {
			media.Unbridge(c.caller)
		}
		// The agent's ID to the caller is given up: the music replaces it,
		// and no end of it will come to bridge the two.
		c.introID = 0
		c.holdStart = now
		c.cdr.Holds++
		if music := c.holdMusic(); music != nil {
			c.caller.Play(media.Playlist{Prompts: []*media.Prompt{music}, Loop: true})
		}
		c.m.deps.Metrics.hold(true, 0)
		if req.source != "consult" { // a consultation is its own stage
			c.enterTalk()
		}
	} else {
		c.caller.StopPlayback()
		held := c.endHold(now)
		if c.mix != nil {
			if err := c.mix.Join(c.caller, media.Speaker()); err != nil {
				c.log.Error("caller back into the mix", "err", err)
			}
		}
		c.bridgeWhenIntroduced()
		c.m.deps.Metrics.hold(false, held)
		if req.source != "consult" { // a consultation's end names the next stage
			c.enterTalk()
		}
	}
	c.m.deps.ACD.Post(acd.CallHeld{CallID: c.agentCallID(), Held: req.held})
	c.log.Info("call hold", "held", req.held, "source", req.source, "agent_id", c.agentID)
	return nil
}

func (c *Call) onHold() bool { return !c.holdStart.IsZero() }

// endHold stops the hold clock and adds the time to the CDR.
func (c *Call) endHold(now time.Time) time.Duration {
	if !c.onHold() {
		return 0
	}
	d := now.Sub(c.holdStart)
	c.cdr.Hold += d
	c.holdStart = time.Time{}
	return d
}

// holdMusic is what a caller on hold hears: their queue's music, else the
// built-in hold music.
func (c *Call) holdMusic() *media.Prompt {
	if q := c.rt.Config.Queue(c.queueName); q != nil && c.rt.Prompts[q.Music] != nil {
		return c.rt.Prompts[q.Music]
	}
	return c.rt.Prompts["moh"]
}

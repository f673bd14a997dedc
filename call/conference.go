package call

import (
	"context"
	"errors"
	"fmt"
	"github.com/hotline-cc/hotline/acd"

	"github.com/hotline-cc/hotline/ivr"
	"github.com/hotline-cc/hotline/media"
	hsip "github.com/hotline-cc/hotline/sip"
	"github.com/hotline-cc/hotline/store"
)

// ErrConferenceBusy refuses a second conference (or a transfer) while one
// is in progress or being dialed.
var ErrConferenceBusy = errors.New("a conference is already in progress")

// Conference adds a third party to a connected call, as an agent desktop
// asks through the API: the extension (a phone registered here, an
// agent's own phone) is dialed while caller and agent go on talking; when
// it answers, the three hear each other through a mix. Any of them may
// leave; the two left go on.
func (m *Manager) Conference(ctx context.Context, callID string, to Target) error {
	return m.controlCall(ctx, callID, control{conference: &to, source: "api"})
}

// startConference dials the third party in the background; conferenced
// picks the outcome up in the call's loop.
func (c *Call) startConference(t Target) error {
	if c.stage != StageTalking || c.agentLeg == nil {
		return ErrNotTalking
	}
	if t.Kind != "extension" && t.Kind != "agent" && t.Kind != "number" {
		return fmt.Errorf("%w: a conference adds an extension, an agent's phone or a number", ErrBadTarget)
	}
	if c.thirdLeg != nil || c.conferenceCancel != nil {
		return ErrConferenceBusy
	}
	if c.consult != nil {
		return ErrConsultBusy
	}
	if t.Kind == "agent" {
		// An agent comes through the ACD, which keeps them busy for as
		// long as they are in the conference.
		if err := c.checkPersonTarget(t); err != nil {
			return err
		}
		return c.startConsult(t, nil, "conference")
	}
	tr := ivr.Transfer{Extension: t.Name}
	if t.Kind == "number" {
		if err := c.checkPersonTarget(t); err != nil {
			return err
		}
		tr = ivr.Transfer{Number: t.Name, Trunk: c.rt.Config.Transfers.Trunk}
	}
	binding, callerID, result := c.transferTarget(tr)
	if result != "" || t.Name == c.agentID {
		return fmt.Errorf("%w: %s cannot be reached (%s)", ErrBadTarget, t, nonEmpty(result, "the call's own agent"))
	}
	ep, err := c.m.deps.Media.NewEndpoint(c.id, "third")
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(c.ctx, blindTransferRing)
	c.conferenceCancel, c.conferenceKind, c.conferenceTarget = cancel, t.Kind, t.String()
	c.m.deps.Metrics.agentTransfer("conference", t.Kind, "started")
	c.log.Info("conference: dialing", "to", t.String(), "contact", binding.Contact.String())
	req := hsip.DialRequest{
		Target: binding, CallerID: callerID, CallerName: c.in.CallerName,
		LocalRTP: c.sdpAddr(ep), Log: c.log.With("conference", t.String()),
	}
	go c.dialInto(ctx, cancel, req, ep, func(o transferOutcome) { c.conferenced <- o })
	return nil
}

// conferenceDone takes the third party's answer: into the mix with caller
// and agent, or, if they did not answer, nothing changes.
func (c *Call) conferenceDone(o transferOutcome) {
	c.conferenceCancel = nil
	if o.result != "" || c.stage != StageTalking || c.agentLeg == nil {
		if o.leg != nil {
			c.goHangup(o.leg, "conference-over")
		}
		o.ep.Close()
		c.log.Info("conference: third party not added", "result", o.result)
		c.m.deps.Metrics.agentTransfer("conference", c.conferenceKind, nonEmpty(o.result, "call-gone"))
		return
	}
	o.ep.SetRemote(media.Remote{Addr: o.leg.Answer.Addr, Codec: codecOf(o.leg.PayloadType), DTMFPayloadType: o.leg.Answer.DTMFPayloadType})
	ep := o.ep
	o.leg.OnReoffer(func(mo hsip.MediaOffer) { reoffered(ep, mo) })
	err := c.ensureMix()
	if err == nil {
		err = c.mix.Join(o.ep, media.Speaker())
	}
	if err != nil {
		// The three cannot be mixed: caller and agent stay as they were.
		c.log.Error("conference: mix", "err", err)
		c.goHangup(o.leg, "conference-failed")
		o.ep.Close()
		if len(c.monitors) == 0 {
			c.closeMix(true)
		}
		c.m.deps.Metrics.agentTransfer("conference", c.conferenceKind, "failed")
		return
	}
	c.thirdLeg, c.thirdEP = o.leg, o.ep
	c.enterStage(store.StageConference, store.Stage{AgentID: c.agentID, Queue: c.queueName, Detail: c.conferenceTarget})
	c.m.deps.Metrics.agentTransfer("conference", c.conferenceKind, "connected")
	c.log.Info("conference: three-way")
}

// thirdGone: the third party hung up; caller and agent go on.
func (c *Call) thirdGone() {
	if c.mix != nil {
		c.mix.Leave(c.thirdEP)
	}
	c.thirdEP.Close()
	c.thirdLeg, c.thirdEP = nil, nil
	c.releaseThirdAgent()
	c.log.Info("conference: the third party left")
	c.enterTalk()
	if len(c.monitors) == 0 {
		c.closeMix(true)
	}
}

// agentLeftConference: the agent hung up a three-way call; caller and
// third party go on, bridged, as after a transfer. A third party the ACD
// found (an agent) takes the call over, as after an attended transfer.
func (c *Call) agentLeftConference() {
	third, ep := c.thirdLeg, c.thirdEP
	thirdACDID, thirdAgent := c.thirdACDID, c.thirdAgent
	c.thirdLeg, c.thirdEP, c.thirdACDID, c.thirdAgent = nil, nil, "", ""
	c.endTalk(c.now()) // the agent is released; the mix is closed
	if thirdACDID != "" {
		c.caller.StopPlayback()
		c.takeAgentLeg(third, ep, thirdAgent)
		c.agentACDID, c.cdr.AgentID = thirdACDID, thirdAgent
		c.stage = StageTalking
		c.talkStart = c.now()
		c.whisperID, c.introID = 0, 0
		c.bridgeWhenIntroduced()
		c.enterStage(store.StageTalk, store.Stage{AgentID: thirdAgent, Queue: c.queueName, Detail: "conference"})
		c.log.Info("conference: the agent left; the third party takes the call over", "agent_id", thirdAgent)
		return
	}
	c.targetLeg, c.targetEP = third, ep
	c.stage = StageTransferred
	c.talkStart = c.now()
	c.enterStage(store.StageTalk, store.Stage{Detail: c.conferenceTarget})
	c.caller.StopPlayback() // hold music, if the agent left with the caller on hold
	media.Bridge(c.caller, ep)
	c.log.Info("conference: the agent left; caller and third party go on")
}

// endConference hangs up a third party still in the call (the call is
// ending) and closes its endpoint.
func (c *Call) endConference(cause string) {
	if c.thirdLeg == nil {
		return
	}
	c.goHangup(c.thirdLeg, cause)
	c.thirdEP.Close()
	c.thirdLeg, c.thirdEP = nil, nil
	c.releaseThirdAgent()
}

// releaseThirdAgent tells the ACD a third party it found has left.
func (c *Call) releaseThirdAgent() {
	if c.thirdACDID != "" {
		c.m.deps.ACD.Post(acd.CallEnded{CallID: c.thirdACDID})
	}
	c.thirdACDID, c.thirdAgent = "", ""
}

func nonEmpty(s, otherwise string) string {
	if s == "" {
		return otherwise
	}
	return s
}

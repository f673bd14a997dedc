package call

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/hotline-cc/hotline/acd"
	"github.com/hotline-cc/hotline/config"
	"github.com/hotline-cc/hotline/ivr"
	"github.com/hotline-cc/hotline/media"
	hsip "github.com/hotline-cc/hotline/sip"
	"github.com/hotline-cc/hotline/store"
)

// Errors of consultations (the API answers 409 and 403).
var (
	ErrConsultBusy = errors.New("a consultation is already in progress")
	ErrNoConsult   = errors.New("no consultation with an answered consultee")
	// ErrNotAllowed: a number outside transfers.external.
	ErrNotAllowed = errors.New("number not allowed for transfers")
)

// consult is an agent's consultation, the first half of an attended
// transfer (RFC 5589 §7): with the caller on hold, the agent talks to a
// colleague, an expert the ACD picks from a queue, an extension or an
// allowed number (the consultee); then completes (caller and consultee are
// connected, the agent leaves) or cancels (the consultee leaves; the agent
// takes the caller back).
type consult struct {
	target Target
	// acdID is the ACD's ID for the consultation when the ACD picks the
	// consultee (a queue, or one agent), else "": dialed directly.
	acdID string
	// routed: the ACD has let go of acdID (no agent could come).
	routed bool
	// merge: a conference's third party called through the ACD (an
	// agent): once they answer they join caller and agent in a mix; the
	// caller is never on hold.
	merge bool
	// phone is the agent's second call when their phone placed the
	// consultation; nil when the API asked for it: the agent then talks to
	// the consultee on the call's agent leg.
	phone *phoneConsult
	// offer is the ACD offer being dialed (0: none), to offerAgent;
	// cancel stops that dial or the direct one (nil: none in flight).
	offer      uint64
	offerAgent string
	cancel     context.CancelFunc
	dial       uint64       // the dial in flight (Call.consultDialSeq)
	ring       *store.Stage // the consultee's phone ringing, in the timeline
	// leg and ep are the consultee's once they answered; answeredOffer is
	// the ACD offer they answered (0: dialed directly).
	leg           *hsip.OutboundCall
	ep            *media.Endpoint
	consultee     string
	answeredOffer uint64
}

// phoneConsult is the agent's second call, placed from their phone while
// the caller is on hold. Its handler keeps the dialog and the endpoint
// until over is closed: the call is done with them.
type phoneConsult struct {
	in   *hsip.InboundCall
	ep   *media.Endpoint
	over chan struct{}
}

// Consult starts a consultation on a connected call, as an agent desktop
// asks through the API: the caller goes on hold and hears music, the
// target is called (a queue or an agent through the ACD, an extension, an
// allowed number) and bridged to the agent once they answer.
func (m *Manager) Consult(ctx context.Context, callID string, to Target) error {
	return m.controlCall(ctx, callID, control{consult: &to, source: "api"})
}

// MergeConsult turns the call's consultation into a three-way conference:
// the caller comes off hold and hears agent and consultee, who hear each
// other and the caller.
func (m *Manager) MergeConsult(ctx context.Context, callID string) error {
	return m.controlCall(ctx, callID, control{mergeConsult: true, source: "api"})
}

// kind names the consultation for metrics: a conference's third party
// being called, or a consultation.
func (k *consult) kind() string {
	if k.merge {
		return "conference"
	}
	return "consult"
}

// EndConsult completes the call's consultation (complete: the caller and
// the consultee are connected and the agent leaves) or cancels it (the
// consultee is hung up and the caller taken off hold).
func (m *Manager) EndConsult(ctx context.Context, callID string, complete bool) error {
	if complete {
		return m.controlCall(ctx, callID, control{completeConsult: true, source: "api"})
	}
	return m.controlCall(ctx, callID, control{cancelConsult: true, source: "api"})
}

// phoneCall serves a registered phone calling a number that is not a
// feature code: an agent on a call with a caller, whom their phone has put
// on hold, calls a colleague, a queue or a number to consult. The phone's
// REFER with Replaces then completes the transfer; hanging this call up
// cancels it. A phone whose agent has no caller gets 403: hotline is not
// a PBX for internal calls.
func (m *Manager) phoneCall(in *hsip.InboundCall) {
	cfg := m.deps.Runtime().Config
	log := in.Log().With("device", in.AuthUser, "dialed", in.Called)
	agentID := m.agentOnDevice(in.AuthUser)
	c := m.callOfAgent(agentID)
	if c == nil {
		log.Info("phone call refused: no caller to consult about", "agent_id", agentID, "sip_status", 403)
		_ = in.Reject(403, "Forbidden (no call to consult about)")
		return
	}
	target := m.dialedTarget(cfg, in.Called)
	ep := m.answerFeature(in, log, "consult")
	if ep == nil {
		return
	}
	defer ep.Close()
	pc := &phoneConsult{in: in, ep: ep, over: make(chan struct{})}
	in.OnRefer(func(req hsip.ReferRequest) bool { return c.referredOnConsult(in, req) })
	ctx, cancel := bgTimeout(5 * time.Second)
	err := c.control(ctx, control{consult: &target, phone: pc, source: "phone", reply: make(chan error, 1)})
	cancel()
	if err != nil {
		log.Info("consultation refused", "agent_id", agentID, "target", target.String(), "err", err)
		m.hangupFeature(in, log)
		return
	}
	select {
	case <-pc.over:
	case <-c.done:
	}
	select {
	case <-in.Done():
	default:
		m.hangupFeature(in, log)
	}
}

// agentOnDevice is the agent logged in on device, else the agent whose own
// phone it is ("" for neither).
func (m *Manager) agentOnDevice(device string) string {
	ctx, cancel := bgTimeout(5 * time.Second)
	defer cancel()
	if snap, err := m.deps.ACD.Snapshot(ctx); err == nil {
		for _, a := range snap.Agents {
			if a.Device == device {
				return a.ID
			}
		}
	}
	if m.deps.Runtime().Config.Agent(device) != nil {
		return device
	}
	return ""
}

// dialedTarget reads what a phone dialed: an agent's ID, a queue's name, a
// registered phone, else a number.
func (m *Manager) dialedTarget(cfg *config.Config, dialed string) Target {
	switch {
	case cfg.Agent(dialed) != nil:
		return Target{Kind: "agent", Name: dialed}
	case cfg.Queue(dialed) != nil:
		return Target{Kind: "queue", Name: dialed}
	}
	if _, ok := m.deps.SIP.Registrar().Lookup(dialed); ok {
		return Target{Kind: "extension", Name: dialed}
	}
	return Target{Kind: "number", Name: dialed}
}

// referredOnConsult takes a REFER on the phone's consultation call (on a
// SIP goroutine): phones that send the attended transfer there name the
// caller's dialog in Replaces.
func (c *Call) referredOnConsult(in *hsip.InboundCall, req hsip.ReferRequest) bool {
	if req.Replaces == nil {
		return false // a blind transfer of the consultee: not ours to make
	}
	select {
	case c.controls <- control{completeConsult: true, replaces: req.Replaces, referrer: in, source: "refer"}:
		return true
	case <-c.done:
		return false
	}
}

// startConsult puts the caller on hold and calls the consultee.
func (c *Call) startConsult(t Target, phone *phoneConsult, source string) error {
	switch {
	case c.stage != StageTalking || c.agentLeg == nil:
		return ErrNotTalking
	case c.consult != nil:
		return ErrConsultBusy
	case c.thirdLeg != nil || c.conferenceCancel != nil:
		return ErrConferenceBusy
	}
	if err := c.checkPersonTarget(t); err != nil {
		return err
	}
	k := &consult{target: t, phone: phone, merge: source == "conference"}
	if t.Kind == "queue" || t.Kind == "agent" {
		c.consults++
		k.acdID = acd.ConsultCallID(c.id, c.consults)
	}
	if !k.merge {
		if !c.onHold() {
			_ = c.setHold(control{held: true, source: "consult"})
		}
		c.enterStage(store.StageConsult, store.Stage{AgentID: c.agentID, Queue: c.queueName, Detail: t.String()})
		c.consultWaits(k)
	}
	c.consult = k
	c.m.deps.Metrics.agentTransfer(k.kind(), t.Kind, "started")
	c.log.Info("consultation", "agent_id", c.agentID, "to", t.String(), "source", source)
	switch t.Kind {
	case "queue":
		c.queueConsult(k, acd.CallQueued{CallID: k.acdID, Queue: t.Name, Priority: c.cdr.Priority, Transferred: true})
	case "agent":
		queue, result := c.agentQueue(t.Name)
		if result != "" {
			c.consultFailed(result)
			return nil
		}
		c.queueConsult(k, acd.CallQueued{CallID: k.acdID, Queue: queue, PreferredAgent: t.Name,
			PreferredWait: blindTransferRing, Exclusive: true})
	default:
		c.dialConsultee(k)
	}
	return nil
}

// checkPersonTarget checks a target a consultation or a conference can
// reach: a queue, an agent other than the call's, a registered extension,
// or a number in transfers.external.
func (c *Call) checkPersonTarget(t Target) error {
	cfg := c.rt.Config
	switch t.Kind {
	case "queue":
		if cfg.Queue(t.Name) == nil {
			return fmt.Errorf("%w: no %s", ErrBadTarget, t)
		}
	case "agent":
		if cfg.Agent(t.Name) == nil || t.Name == c.agentID {
			return fmt.Errorf("%w: no other agent %s", ErrBadTarget, t.Name)
		}
	case "extension":
		if _, ok := c.m.deps.SIP.Registrar().Lookup(t.Name); !ok {
			return fmt.Errorf("%w: %s is not registered here", ErrBadTarget, t)
		}
	case "number":
		if !cfg.Transfers.ExternalAllowed(t.Name) {
			return fmt.Errorf("%w: %s is not in transfers.external", ErrNotAllowed, t.Name)
		}
		if tr := cfg.TransferTrunk(); tr == nil || tr.Outbound == "" {
			return fmt.Errorf("%w: no outbound trunk for %s", ErrBadTarget, t)
		}
	default:
		return fmt.Errorf("%w: a consultation is with a person (queue, agent, extension or number)", ErrBadTarget)
	}
	return nil
}

// queueConsult asks the ACD for the consultee.
func (c *Call) queueConsult(k *consult, ev acd.CallQueued) {
	c.m.consults.Store(k.acdID, c)
	c.consultIDs = append(c.consultIDs, k.acdID)
	c.m.deps.ACD.Post(ev)
}

// dialConsultee calls an extension or a number directly.
func (c *Call) dialConsultee(k *consult) {
	tr := ivr.Transfer{Extension: k.target.Name, Timeout: blindTransferRing}
	if k.target.Kind == "number" {
		tr = ivr.Transfer{Number: k.target.Name, Trunk: c.rt.Config.Transfers.Trunk, Timeout: blindTransferRing}
	}
	binding, callerID, result := c.transferTarget(tr)
	if result != "" {
		c.consultFailed(result)
		return
	}
	if k.target.Kind == "extension" {
		callerID = c.agentID // a colleague sees who consults them
	}
	if !c.dialForConsult(k, binding, callerID, 0, blindTransferRing) {
		c.consultFailed("failed")
	}
}

// dialForConsult rings the consultee at binding; consultDialed takes the
// outcome.
func (c *Call) dialForConsult(k *consult, binding hsip.Binding, callerID string, offerID uint64, ring time.Duration) bool {
	ep, err := c.m.deps.Media.NewEndpoint(c.id, "consultee")
	if err != nil {
		c.log.Error("no media endpoint for a consultation", "err", err)
		return false
	}
	ctx, cancel := context.WithTimeout(c.ctx, ring)
	c.consultDialSeq++
	dial := c.consultDialSeq
	k.cancel, k.offer, k.dial = cancel, offerID, dial
	c.consultDials++
	req := hsip.DialRequest{
		Target: binding, CallerID: callerID, CallerName: "Consult " + c.in.Caller,
		LocalRTP: c.sdpAddr(ep), Log: c.log.With("consult", k.target.String()),
	}
	go c.dialInto(ctx, cancel, req, ep, func(o transferOutcome) {
		o.offerID, o.dial = offerID, dial
		c.consulted <- o
	})
	return true
}

// consultCommand takes an ACD command for a consultation of this call.
func (c *Call) consultCommand(cmd acd.Command) {
	k := c.consult
	mine := k != nil && cmd.CallID() == k.acdID
	switch cmd.Kind {
	case acd.CommandOffer:
		o := cmd.Offer
		binding, registered := c.m.deps.SIP.Registrar().Lookup(o.Device)
		if !mine || k.leg != nil || k.cancel != nil || !registered ||
			!c.dialForConsult(k, binding, c.agentID, o.OfferID, o.RingTimeout+10*time.Second) {
			c.m.deps.ACD.Post(acd.OfferFailed{OfferID: o.OfferID, Reason: acd.OfferUnreachable})
			return
		}
		k.offerAgent = o.AgentID
		k.ring = c.beginNested(store.StageRing, store.Stage{AgentID: o.AgentID, Queue: o.Queue, Detail: "consult"})
		c.log.Info("consultation offered", "consultee", o.AgentID, "offer_id", o.OfferID)
	case acd.CommandCancelOffer:
		switch {
		case !mine:
		case cmd.Cancel.OfferID == k.offer && k.cancel != nil:
			// The ACD moves on; the canceled dial reports as stale.
			c.endNested(k.ring, cmd.Cancel.Reason.String())
			k.cancel()
			k.cancel, k.offer = nil, 0
		case cmd.Cancel.OfferID == k.answeredOffer && k.leg != nil:
			// An answer the ACD had withdrawn (ring timeout): the
			// consultation waits on.
			c.log.Warn("consultee answered too late, leg dropped", "consultee", k.consultee)
			c.dropConsultee(k, "late-answer")
			c.consultWaits(k)
		}
	case acd.CommandRoute:
		if mine {
			k.routed = true // the ACD has forgotten it
			c.consultFailed(cmd.Route.Reason)
		}
	case acd.CommandUnknown, acd.CommandMove, acd.CommandAnnounce, acd.CommandAgentState,
		acd.CommandCallExit, acd.CommandCallback, acd.CommandRepair:
	}
}

// consultDialed takes the outcome of a consultee's dial.
func (c *Call) consultDialed(o transferOutcome) {
	c.consultDials--
	k := c.consult
	if k == nil || k.leg != nil || k.cancel == nil || o.dial != k.dial {
		// A dial the consultation (or the ACD) gave up on.
		if o.leg != nil {
			c.goHangup(o.leg, "consult-over")
		}
		o.ep.Close()
		return
	}
	k.cancel, k.offer = nil, 0
	c.endNested(k.ring, nonEmpty(o.result, "answered"))
	if o.result != "" {
		o.ep.Close()
		if k.acdID != "" {
			// The ACD offers the next agent, or routes the consultation.
			c.m.deps.ACD.Post(acd.OfferFailed{OfferID: o.offerID, Reason: failureOf(o.err)})
			return
		}
		c.consultFailed(o.result)
		return
	}
	k.leg, k.ep, k.consultee, k.answeredOffer = o.leg, o.ep, k.offerAgent, o.offerID
	ep := o.ep
	ep.SetRemote(media.Remote{Addr: o.leg.Answer.Addr, Codec: codecOf(o.leg.PayloadType), DTMFPayloadType: o.leg.Answer.DTMFPayloadType})
	o.leg.OnReoffer(func(mo hsip.MediaOffer) { reoffered(ep, mo) })
	if k.acdID != "" {
		c.m.deps.ACD.Post(acd.OfferAnswered{OfferID: o.offerID, CallID: k.acdID, AgentID: k.consultee})
	}
	if k.merge {
		if err := c.mergeConsult(); err != nil {
			c.log.Error("conference: third party not added", "err", err)
		}
		return
	}
	side := c.consultSide(k)
	side.StopPlayback()
	c.joinConsultee(k)
	c.m.deps.Metrics.agentTransfer("consult", k.target.Kind, "connected")
	c.log.Info("consultation connected", "to", k.target.String(), "consultee", k.consultee)
}

// mergeConsult makes the answered consultee (of an API consultation, or a
// conference's third party the ACD found) the third party of a three-way
// conference: the caller comes off hold into a mix with agent and
// consultee. The ACD keeps the consultee on the call until they leave.
func (c *Call) mergeConsult() error {
	k := c.consult
	if k == nil || k.leg == nil || k.phone != nil {
		return ErrNoConsult
	}
	if c.thirdLeg != nil || c.conferenceCancel != nil {
		return ErrConferenceBusy
	}
	c.consult = nil
	c.leaveConsultee(k)
	c.agentEP.StopPlayback()
	if c.onHold() {
		_ = c.setHold(control{held: false, source: "consult"})
	}
	err := c.ensureMix()
	if err == nil {
		err = c.mix.Join(k.ep, media.Speaker())
	}
	if err != nil {
		c.consult = k
		c.endConsult("conference-failed", false)
		if len(c.monitors) == 0 {
			c.closeMix(true)
		}
		c.m.deps.Metrics.agentTransfer("conference", k.target.Kind, "failed")
		return err
	}
	c.thirdLeg, c.thirdEP, c.thirdACDID, c.thirdAgent = k.leg, k.ep, k.acdID, k.consultee
	c.conferenceKind, c.conferenceTarget = k.target.Kind, k.target.String()
	c.enterStage(store.StageConference, store.Stage{AgentID: c.agentID, Queue: c.queueName, Detail: c.conferenceTarget})
	c.m.deps.Metrics.agentTransfer("conference", k.target.Kind, "connected")
	c.log.Info("conference: three-way", "third", k.target.String(), "consultee", k.consultee)
	return nil
}

// consultSide is the agent's end of a consultation: the phone's second
// call, or the agent leg itself.
func (c *Call) consultSide(k *consult) *media.Endpoint {
	if k.phone != nil {
		return k.phone.ep
	}
	return c.agentEP
}

// joinConsultee connects the agent's side to the answered consultee: a
// bridge, or, when supervisors monitor the agent leg through a mix, the
// consultee joins the mix (they hear the consultation too).
func (c *Call) joinConsultee(k *consult) {
	side := c.consultSide(k)
	if c.mix != nil && side == c.agentEP {
		if err := c.mix.Join(k.ep, media.Speaker()); err != nil {
			c.log.Error("consultee into the mix", "err", err)
		}
		return
	}
	media.Bridge(side, k.ep)
}

// leaveConsultee undoes joinConsultee.
func (c *Call) leaveConsultee(k *consult) {
	if c.mix != nil && k.phone == nil {
		c.mix.Leave(k.ep)
		return
	}
	media.Unbridge(k.ep)
}

// consultWaits has the agent's side hear music while the consultee is
// found or rings.
func (c *Call) consultWaits(k *consult) {
	if music := c.holdMusic(); music != nil {
		c.consultSide(k).Play(media.Playlist{Prompts: []*media.Prompt{music}, Loop: true})
	}
}

// dropConsultee hangs up an answered consultee.
func (c *Call) dropConsultee(k *consult, cause string) {
	c.leaveConsultee(k)
	c.goHangup(k.leg, cause)
	k.ep.Close()
	k.leg, k.ep, k.answeredOffer = nil, nil, 0
}

// consultFailed ends a consultation nobody answered. An API consultation
// takes the caller back (the agent asked from a desktop, which shows the
// call); a phone's consultation call is hung up and the phone, which put
// the caller on hold, takes them back when the agent says so.
func (c *Call) consultFailed(result string) {
	k := c.consult
	if k == nil {
		return
	}
	c.m.deps.Metrics.agentTransfer(k.kind(), k.target.Kind, result)
	c.log.Info("consultation failed", "to", k.target.String(), "result", result)
	c.endConsult("consult-failed", k.phone == nil && !k.merge)
}

// consulteeGone: the consultee hung up; the caller stays on hold.
func (c *Call) consulteeGone() {
	k := c.consult
	c.log.Info("consultee hung up", "to", k.target.String())
	c.endConsult("consultee-hangup", false)
}

// endConsult ends the consultation without a transfer, hanging up the
// consultee (or stopping their dial) and the phone's second call;
// resume takes the caller off hold.
func (c *Call) endConsult(cause string, resume bool) {
	k := c.consult
	if k == nil {
		return
	}
	c.consult = nil
	if k.cancel != nil {
		k.cancel() // the dial reports; consultDialed hangs up a late answer
	}
	if k.acdID != "" && !k.routed {
		if k.leg != nil {
			c.m.deps.ACD.Post(acd.CallEnded{CallID: k.acdID})
		} else {
			c.m.deps.ACD.Post(acd.CallAbandoned{CallID: k.acdID})
		}
	}
	if k.leg != nil {
		c.dropConsultee(k, cause)
	}
	if side := c.consultSide(k); side != nil {
		side.StopPlayback()
	}
	if k.phone != nil {
		close(k.phone.over)
	}
	c.endNested(k.ring, cause)
	c.log.Info("consultation over", "to", k.target.String(), "cause", cause)
	if resume && c.onHold() && c.agentLeg != nil {
		_ = c.setHold(control{held: false, source: "consult"})
	}
	if c.agentLeg != nil && c.stage == StageTalking {
		c.enterTalk() // hold, or talk again
	}
}

// cancelConsult serves the agent canceling: back to the caller.
func (c *Call) cancelConsult() error {
	if c.consult == nil {
		return ErrNoConsult
	}
	c.m.deps.Metrics.agentTransfer("consult", c.consult.target.Kind, "canceled")
	c.endConsult("consult-canceled", true)
	return nil
}

// completeConsult connects the caller to the consultee and lets the agent
// go: an attended transfer. An agent the ACD picked takes the call over
// (hold, transfers and the survey are theirs now); an extension or a
// number is bridged as a transfer target.
func (c *Call) completeConsult(req control) error {
	k := c.consult
	if k == nil || k.leg == nil || !c.replacesConsult(k, req) {
		return ErrNoConsult
	}
	c.consult = nil
	now := c.now()
	c.leaveConsultee(k)
	c.consultSide(k).StopPlayback()
	from, fromLeg := c.agentID, c.agentLeg
	c.endTalk(now)
	c.m.wg.Add(1)
	go func() {
		defer c.m.wg.Done()
		notifyReferOutcome(req.referrer, 200, "OK")
		hangupLeg(fromLeg, "transferred")
		if k.phone != nil {
			close(k.phone.over)
		}
	}()
	c.caller.StopPlayback()
	c.talkStart = now
	c.whisperID, c.introID = 0, 0 // the first agent's; the new one gets none
	if k.acdID != "" {
		c.takeAgentLeg(k.leg, k.ep, k.consultee)
		c.agentACDID, c.connectedOffer = k.acdID, k.answeredOffer
		c.cdr.AgentID = k.consultee // as a blind transfer's answering agent is
		c.stage = StageTalking
		c.bridgeWhenIntroduced()
		c.enterStage(store.StageTalk, store.Stage{AgentID: k.consultee, Queue: c.queueName, Detail: "attended transfer from " + from})
	} else {
		c.targetLeg, c.targetEP = k.leg, k.ep
		c.stage = StageTransferred
		media.Bridge(c.caller, k.ep)
		c.enterStage(store.StageTalk, store.Stage{Detail: k.target.String()})
	}
	c.cdr.TransferTo = k.target.String()
	c.m.deps.Metrics.agentTransfer("attended", k.target.Kind, "completed")
	c.log.Info("attended transfer", "from_agent", from, "to", k.target.String(), "consultee", k.consultee, "source", req.source)
	if err := c.m.deps.Store.CallUpdated(context.Background(), c.cdr); err != nil {
		c.log.Error("cdr update", "err", err)
	}
	return nil
}

// replacesConsult checks a REFER's Replaces against the consultation: a
// REFER on the caller's agent leg names the phone's consultation call, one
// on the consultation call names the agent leg. Other completions (the
// API, the agent hanging up) name nothing.
func (c *Call) replacesConsult(k *consult, req control) bool {
	switch {
	case req.replaces == nil:
		return req.source != "refer"
	case k.phone == nil:
		return false
	case req.referrer == k.phone.in:
		return c.agentLeg != nil && c.agentLeg.IsDialog(req.replaces)
	}
	return k.phone.in.IsDialog(req.replaces)
}

// referNotifier is a leg a REFER came on (either kind).
type referNotifier interface {
	NotifyRefer(ctx context.Context, status int, reason string) error
	Log() *slog.Logger
}

// notifyReferOutcome sends the final NOTIFY of a REFER (none when r is nil).
func notifyReferOutcome(r referNotifier, status int, reason string) {
	if r == nil {
		return
	}
	ctx, cancel := bgTimeout(2 * time.Second)
	defer cancel()
	if err := r.NotifyRefer(ctx, status, reason); err != nil {
		r.Log().Info("refer notify", "err", err)
	}
}

// abandonConsultDials waits, in the background, for the consultation
// dials still running when the call ends, and hangs up any that answered.
func (c *Call) abandonConsultDials() {
	n := c.consultDials
	if n == 0 {
		return
	}
	c.consultDials = 0
	c.m.wg.Add(1)
	go func() {
		defer c.m.wg.Done()
		for range n {
			o := <-c.consulted
			if o.leg != nil {
				hangupLeg(o.leg, "caller-gone")
			}
			o.ep.Close()
		}
	}()
}

package call

import (
	"context"
	"errors"
	"log/slog"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/hotline-cc/hotline/acd"
	"github.com/hotline-cc/hotline/config"
	"github.com/hotline-cc/hotline/ivr"
	"github.com/hotline-cc/hotline/media"
	"github.com/hotline-cc/hotline/recorder"
	hsip "github.com/hotline-cc/hotline/sip"
	"github.com/hotline-cc/hotline/store"
)

// Stage is where a call is in its life.
type Stage uint8

const (
	StageUnknown Stage = iota
	StageIVR
	StageQueued // waiting, possibly while an agent's phone rings
	StageTalking
	StageEnded
	// StageCallbackMenu: out of the queue, choosing or confirming a callback.
	StageCallbackMenu
	// StageVoicemail: out of the queue, leaving a message.
	StageVoicemail
	// StageTransferred: an IVR transfer node connected the caller to a
	// number, an extension or an agent, outside the ACD.
	StageTransferred
)

func (s Stage) String() string {
	switch s {
	case StageIVR:
		return "ivr"
	case StageQueued:
		return "queued"
	case StageTalking:
		return "talking"
	case StageEnded:
		return "ended"
	case StageCallbackMenu:
		return "callback-menu"
	case StageVoicemail:
		return "voicemail"
	case StageTransferred:
		return "transferred"
	}
	return "unknown"
}

// offer is an agent leg being placed for an ACD offer.
type offer struct {
	acd      acd.OfferCall
	cancel   context.CancelFunc
	endpoint *media.Endpoint
	ring     *store.Stage // its ring in the timeline
}

// dialResult comes back from an offer's dialer goroutine.
type dialResult struct {
	offerID uint64
	leg     *hsip.OutboundCall
	err     error
}

// Call is one carrier call. Everything below is owned by the call's goroutine
// (run), except acdCommands, ringing and dialResults, which are its inboxes.
type Call struct {
	m  *Manager
	in *hsip.InboundCall
	// id names the call in the CDR, the ACD, the recording and the API:
	// the carrier's Call-ID, made unique if a call before had it (see
	// Manager.recordID).
	id  string
	rt  *Runtime
	log *slog.Logger

	// acdCommands holds pointers: an acd.Command is over a kilobyte, and an
	// inbox of eight by value cost every call 9 kB (make bench, memory).
	acdCommands chan *acd.Command
	dialResults chan dialResult
	ringing     chan uint64

	stage     Stage
	caller    *media.Endpoint
	recording *recorder.Recording
	ivrRun    *ivr.Run
	flow      *ivr.Graph
	playback  uint64 // id of the IVR playback whose end we wait for
	ivrTimer  *time.Timer
	queueName string
	queuedAt  time.Time
	musicID   uint64 // the announcement playback before the hold music loop
	// ivrRecorded is the IVR run ivrDone has recorded.
	ivrRecorded *ivr.Run
	// ivrQueue is what the IVR's queue node said of the call.
	ivrQueue ivr.Enqueue
	cbMenu   callbackMenu
	cbDigits string // the number keyed in the callback menu
	// cbNumber and cbMaxAttempts are the booked callback's, should it need
	// to be scheduled again (see routed).
	cbNumber      string
	cbMaxAttempts int
	// whisperID and introID are the playbacks that precede the bridge: the
	// whisper to the agent and the agent's ID to the caller (0: none left).
	whisperID, introID uint64

	// offers holds every offer whose dialer is still running; current is the one
	// the ACD still waits on (0: none). A canceled offer stays in offers until its
	// dialer reports, so its endpoint is closed and a late answer hung up.
	offers    map[uint64]*offer
	current   uint64
	agentLeg  *hsip.OutboundCall
	agentEP   *media.Endpoint
	agentID   string
	cdr       store.CDR
	hangupBy  string
	cause     string
	result    string
	talkStart time.Time
	// connectedOffer is the offer whose agent leg is bridged.
	connectedOffer uint64

	// ctx ends when the call does: it bounds the goroutines the call
	// starts (data dips, transfers).
	ctx       context.Context
	cancelCtx context.CancelFunc
	// fetched and transferred are inboxes: data dip answers, and the
	// outcome of the transfer being dialed (one at a time).
	fetched     chan fetchAnswer
	transferred chan transferOutcome
	transfer    ivr.Transfer
	// transferCancel stops the transfer being dialed; nil when none is.
	transferCancel context.CancelFunc
	// targetLeg and targetEP are a connected transfer's.
	targetLeg *hsip.OutboundCall
	targetEP  *media.Endpoint
	// surveyFlow is the post-call survey a survey node armed; surveyRun
	// the run of it, once the agent hung up first.
	surveyFlow string
	surveyRun  *ivr.Run
	// agentTransfer is set while an IVR transfer to an agent waits in
	// the ACD for that agent alone, and after it connected.
	agentTransfer bool
	// controls is an inbox: hold changes and transfers from the agent's
	// phone and the API. holdStart is when the caller went on hold (zero:
	// not).
	controls  chan control
	holdStart time.Time
	// transferFallback is the queue a blind transfer's caller goes back to
	// if its target cannot take them ("": none).
	transferFallback string
	// waitStart is when the caller's current wait for an agent began: the
	// first enqueue, or a blind transfer's. queuedAt (the first enqueue)
	// keeps the caller's place; the CDR's queue wait adds up the waits.
	waitStart time.Time
	// firstOfferOf is the waitStart of the wait whose first offer was
	// made (the first offer's delay is measured once per wait).
	firstOfferOf time.Time
	// done is closed when the call's goroutine has finished with it.
	done chan struct{}
	// mix replaces the caller-agent bridge while supervisors monitor the
	// call; monitors are their sessions.
	mix      *media.Mix
	monitors []*monitor
	// thirdLeg and thirdEP are a conference's third party; conferenced is
	// the inbox of its dialer, conferenceCancel stops it (nil: none).
	thirdLeg         *hsip.OutboundCall
	thirdEP          *media.Endpoint
	conferenced      chan transferOutcome
	conferenceCancel context.CancelFunc
	conferenceKind   string // the third party's target kind, for metrics
	conferenceTarget string
	// thirdACDID and thirdAgent are a third party's the ACD found (an
	// agent, on the call under a consultation ID); "" otherwise.
	thirdACDID, thirdAgent string
	// consult is the agent's consultation in progress (nil: none);
	// consulted is the inbox of its dials, consultDials how many run.
	// consults numbers the ACD's consultation IDs, consultIDs lists those
	// the manager routes to this call.
	consult      *consult
	consulted    chan transferOutcome
	consultDials int
	// consultDialSeq numbers consultation dials (consult.dial).
	consultDialSeq uint64
	consults       int
	consultIDs     []string
	// blind follows an agent's blind transfer until its target answers.
	blind *blindState
	// stages is the call's timeline, topStage its open top-level stage.
	stages   []*store.Stage
	topStage *store.Stage
	// lifeTimer wakes the call to check calls.rtp_timeout and
	// calls.max_duration. callerHeld (the caller's phone holds us) and
	// callerResumed (when it stopped, Unix ns) are set by the caller leg's
	// re-INVITEs, on a SIP goroutine.
	lifeTimer     *time.Timer
	callerHeld    atomic.Bool
	callerResumed atomic.Int64
	// agentACDID is the ACD's ID of the connected agent's call when it is
	// not the caller's: an agent who took the call over from a
	// consultation ("": the call's ID).
	agentACDID string
}

// agentCallID is the ID under which the ACD has the connected agent on
// this call.
func (c *Call) agentCallID() string { return nonEmpty(c.agentACDID, c.id) }

// callLog is the call's logger: call_id is the SIP Call-ID, and a call
// recorded under another ID says which.
func callLog(in *hsip.InboundCall, id string) *slog.Logger {
	if id != in.ID {
		return in.Log().With("record_id", id)
	}
	return in.Log()
}

func newCall(m *Manager, in *hsip.InboundCall, id string) *Call {
	ivrTimer := time.NewTimer(time.Hour)
	ivrTimer.Stop()
	return &Call{
		id:          id,
		ivrTimer:    ivrTimer,
		m:           m,
		in:          in,
		rt:          m.deps.Runtime(),
		log:         callLog(in, id),
		acdCommands: make(chan *acd.Command, 8),
		offers:      make(map[uint64]*offer),
		dialResults: make(chan dialResult, 4),
		ringing:     make(chan uint64, 4),
		fetched:     make(chan fetchAnswer, 4),
		transferred: make(chan transferOutcome, 1),
		controls:    make(chan control, 4),
		conferenced: make(chan transferOutcome, 1),
		consulted:   make(chan transferOutcome, 8),
		done:        make(chan struct{}),
	}
}

func (c *Call) now() time.Time { return c.m.deps.Clock.Now() }

// run answers the call and drives it to its end.
func (c *Call) run() {
	defer close(c.done)
	c.ctx, c.cancelCtx = context.WithCancel(context.Background())
	defer c.cancelCtx()
	start := c.now()
	c.cdr = store.CDR{CallID: c.id, Caller: c.in.Caller, Called: c.in.Called, Trunk: c.in.Trunk, Start: start}
	trunk := c.rt.Config.Trunk(c.in.Trunk)
	if trunk == nil || c.rt.Flows[trunk.FlowFor(c.in.Called)] == nil {
		c.log.Error("trunk has no flow", "sip_status", 503)
		_ = c.in.Reject(503, "Service Unavailable")
		c.m.deps.Metrics.callEnded("failed")
		return
	}
	c.flow = c.rt.Flows[trunk.FlowFor(c.in.Called)]
	lostACK := false
	ep, err := c.m.deps.Media.NewEndpoint(c.id, "caller")
	if err != nil {
		c.log.Error("no media endpoint for caller", "err", err, "sip_status", 503)
		_ = c.in.Reject(503, "Service Unavailable")
		c.m.deps.Metrics.callEnded("failed")
		return
	}
	c.caller = ep
	defer c.caller.Close()
	c.caller.SetRemote(media.Remote{Addr: c.in.Offer.Addr, Codec: codecOf(c.in.PayloadType), DTMFPayloadType: c.in.Offer.DTMFPayloadType,
		Quiet: sendsNoRTP(c.in.Offer)})
	// A caller who holds us may stop sending: the RTP timeout waits. So
	// does it for a call that starts on hold.
	c.callerHeld.Store(sendsNoRTP(c.in.Offer))
	c.in.OnReoffer(func(o hsip.MediaOffer) {
		reoffered(ep, o)
		if held := sendsNoRTP(o); held != c.callerHeld.Swap(held) && !held {
			c.callerResumed.Store(c.now().UnixNano())
		}
	})
	if err := c.in.Answer(c.sdpAddr(c.caller)); err != nil {
		if !c.in.Answered() {
			c.log.Warn("answer failed", "err", err)
			c.m.deps.Metrics.callEnded("failed")
			return
		}
		// Our 200 went out but its ACK was lost and the caller's BYE (or the end
		// of the dialog) came first: the call was answered, so it gets its CDR;
		// the loop below sees the leg already ended.
		c.log.Info("answered call got no ACK", "err", err)
		lostACK = true
	}
	answered := c.now()
	c.cdr.Answer = answered
	c.cdr.FlowVersion = c.flow.Version()
	c.startRecording(answered)
	if err := c.m.deps.Store.CallAnswered(context.Background(), c.cdr); err != nil {
		c.log.Error("cdr insert", "err", err)
	}
	c.log.Info("call answered", "caller", c.in.Caller, "called", c.in.Called, "codec", codecOf(c.in.PayloadType).String())

	c.stage = StageIVR
	c.enterStage(store.StageIVR, store.Stage{Detail: c.flow.Name()})
	c.lifeTimer = time.NewTimer(time.Hour)
	c.checkLife()
	if lostACK {
		select {
		case <-c.in.Done():
			// The caller's BYE came before the ACK: the loop records it.
		default:
			// No ACK and no BYE: RFC 3261 §13.3.1.4 ends the session with a BYE.
			c.hangupBy, c.cause, c.result = "system", "no-ack", "failed"
			c.endCaller("no-ack")
		}
	}
	run, actions := ivr.StartWith(c.flow, answered, c.callVars())
	c.ivrRun = run
	if c.stage == StageIVR {
		c.apply(actions)
	}
	c.loop()
	c.finish()
}

func (c *Call) startRecording(at time.Time) {
	rec, path := c.m.createRecording(c.id, at, c.log)
	if rec == nil {
		return
	}
	c.recording = rec
	c.cdr.RecordingPath = path
	c.caller.Record(rec)
}

func (c *Call) loop() {
	defer c.ivrTimer.Stop()
	defer c.lifeTimer.Stop()
	var agentDone, targetDone <-chan struct{}
	var agentEvents <-chan media.Event
	stopping := c.m.stopping
	for c.stage != StageEnded {
		if c.agentLeg != nil {
			agentDone, agentEvents = c.agentLeg.Done(), c.agentEP.Events()
		} else {
			agentDone, agentEvents = nil, nil
		}
		targetDone = nil
		if c.targetLeg != nil {
			targetDone = c.targetLeg.Done()
		}
		var thirdDone, consulteeDone, consultPhoneDone <-chan struct{}
		if c.thirdLeg != nil {
			thirdDone = c.thirdLeg.Done()
		}
		if k := c.consult; k != nil && k.leg != nil {
			consulteeDone = k.leg.Done()
		}
		if k := c.consult; k != nil && k.phone != nil {
			consultPhoneDone = k.phone.in.Done()
		}
		select {
		case <-c.lifeTimer.C:
			c.checkLife()
		case <-consulteeDone:
			c.consulteeGone()
		case <-consultPhoneDone:
			// The agent hung up their consultation call: canceled; their
			// phone takes the caller off hold.
			c.m.deps.Metrics.agentTransfer("consult", c.consult.target.Kind, "canceled")
			c.endConsult("consult-canceled", false)
		case o := <-c.consulted:
			c.consultDialed(o)
		case <-thirdDone:
			c.thirdGone()
		case o := <-c.conferenced:
			c.conferenceDone(o)
		case <-targetDone:
			c.targetGone()
		case a := <-c.fetched:
			if c.stage == StageIVR && a.run == c.ivrRun {
				c.apply(c.ivrRun.Step(a.ev, c.now()))
			}
		case o := <-c.transferred:
			c.transferDone(o)
		case req := <-c.controls:
			err := c.carryOut(req)
			if req.reply != nil {
				req.reply <- err
			}
		case <-c.in.Done():
			side, cause := c.in.Ended()
			c.callerGone(side, cause)
		case <-agentDone:
			c.agentGone()
		case ev := <-c.caller.Events():
			c.mediaEvent(ev)
		case ev := <-agentEvents:
			if ev.Kind == media.EventPlaybackDone && ev.PlaybackID == c.whisperID {
				c.whisperID = 0
				c.bridgeWhenIntroduced()
			}
		case <-c.ivrTimer.C:
			switch {
			case c.stage == StageIVR && c.ivrRun != nil:
				c.apply(c.ivrRun.Step(ivr.EventTimeout{}, c.now()))
			case c.cbMenu != callbackMenuOff:
				c.callbackMenuTimedOut()
			case c.stage == StageVoicemail:
				c.endVoicemail("voicemail-max-length")
			}
		case cmd := <-c.acdCommands:
			c.acdCommand(*cmd)
		case id := <-c.ringing:
			if o := c.offers[id]; o != nil && id == c.current {
				c.log.Info("agent ringing", "agent_id", o.acd.AgentID)
			}
		case r := <-c.dialResults:
			c.dialed(r)
		case <-stopping:
			stopping = nil
			c.endBySystem("shutdown")
		}
	}
}

// apply carries out IVR actions.
func (c *Call) apply(actions []ivr.Action) {
	for _, a := range actions {
		switch a := a.(type) {
		case ivr.Play:
			c.playback = c.caller.Play(media.Playlist{Prompts: c.prompts(a.Prompts)})
		case ivr.StopPlayback:
			c.playback = 0
			c.caller.StopPlayback()
		case ivr.Enqueue:
			c.ivrDone()
			c.enqueue(a)
		case ivr.Voicemail:
			c.ivrDone()
			c.startVoicemail()
		case ivr.OfferCallback:
			c.ivrDone()
			// The callback will wait in that queue; the caller never did.
			c.queueName, c.cdr.Queue = a.Queue, a.Queue
			c.queuedAt, c.waitStart = c.now(), c.now()
			c.offerCallback()
		case ivr.Hangup:
			c.ivrDone()
			if c.hangupBy == "" { // a survey's end keeps who ended the talk
				c.hangupBy, c.cause = "system", "ivr-hangup"
			}
			c.setResult("ivr")
			c.endCaller("ivr: " + a.Reason)
		case ivr.Note:
			c.log.Info("ivr: "+a.Text, "node", c.ivrRun.Node())
		case ivr.Fetch:
			c.startFetch(a)
		case ivr.Transfer:
			c.startTransfer(a)
		}
	}
	if c.stage == StageIVR && c.ivrRun != nil {
		c.armIVRTimer(c.ivrRun.Deadline())
	}
}

func (c *Call) armIVRTimer(deadline time.Time) {
	c.ivrTimer.Stop()
	if deadline.IsZero() {
		return
	}
	c.ivrTimer.Reset(max(deadline.Sub(c.now()), 0))
}

func (c *Call) prompts(names []string) []*media.Prompt {
	out := make([]*media.Prompt, 0, len(names))
	// A caller who chose a language hears its recording of a prompt
	// (zh/welcome) where there is one, like Asterisk's sounds/<lang>/.
	lang := ""
	if c.ivrRun != nil {
		lang = c.ivrRun.Var("language")
	}
	for _, n := range names {
		if p := c.rt.Prompts[lang+"/"+n]; lang != "" && p != nil {
			out = append(out, p)
		} else if p := c.rt.Prompts[n]; p != nil {
			out = append(out, p)
		} else {
			c.log.Warn("prompt missing", "prompt", n)
		}
	}
	return out
}

func (c *Call) mediaEvent(ev media.Event) {
	switch ev.Kind {
	case media.EventDTMF:
		c.m.deps.Metrics.dtmf()
		switch c.stage {
		case StageIVR:
			c.apply(c.ivrRun.Step(ivr.EventDigit{Digit: ev.Digit}, c.now()))
		case StageQueued, StageCallbackMenu:
			c.queuedDigit(ev.Digit)
		}
	case media.EventPlaybackDone:
		switch {
		case c.stage == StageTalking && ev.PlaybackID == c.introID:
			c.introID = 0
			c.bridgeWhenIntroduced()
		case c.stage == StageIVR && ev.PlaybackID == c.playback:
			c.playback = 0
			c.apply(c.ivrRun.Step(ivr.EventPlaybackDone{}, c.now()))
		case c.cbMenu != callbackMenuOff && ev.PlaybackID == c.playback:
			c.callbackMenuPlayed()
		case c.stage == StageVoicemail && ev.PlaybackID == c.playback:
			c.voicemailGreeted()
		case c.stage == StageQueued && ev.PlaybackID == c.musicID:
			c.playHoldMusic(false)
		}
	}
}

func (c *Call) enqueue(how ivr.Enqueue) {
	name := how.Queue
	c.ivrQueue = how
	c.ivrTimer.Stop() // the IVR's last deadline must not fire in the queue
	q := c.rt.Config.Queue(name)
	if q == nil {
		c.log.Error("ivr queued to unknown queue", "queue", name)
		c.hangupBy, c.cause, c.result = "system", "unknown-queue", "failed"
		c.endCaller("unknown queue")
		return
	}
	c.stage = StageQueued
	c.queueName = name
	c.enterStage(store.StageQueue, store.Stage{Queue: name})
	c.queuedAt, c.waitStart = c.now(), c.now()
	c.cdr.Queue = name
	c.log = c.log.With("queue", name)
	c.log.Info("call queued", "ivr_digits", c.cdr.IVRDigits)
	c.playHoldMusic(true)
	c.m.deps.ACD.Post(c.queuedEvent(q))
	if err := c.m.deps.Store.CallUpdated(context.Background(), c.cdr); err != nil {
		c.log.Error("cdr update", "err", err)
	}
}

// callVars are the variables a flow starts with.
func (c *Call) callVars() map[string]string {
	return map[string]string{"caller": c.in.Caller, "called": c.in.Called, "trunk": c.in.Trunk}
}

// ivrDone records the IVR run that just ended, once: its path goes into
// the CDR (after any earlier run's: a caller sent back to a flow) and its
// visits and choices into the metrics.
func (c *Call) ivrDone() {
	if c.ivrRun == nil || c.ivrRun == c.ivrRecorded {
		return
	}
	c.ivrRecorded = c.ivrRun
	if c.ivrRun == c.surveyRun {
		// The survey comes after the call: its path is not why they
		// called, and its answer has a column of its own.
		c.m.deps.Metrics.ivrRun(c.ivrRun.Graph().Name(), c.ivrRun.Path(), c.ivrRun.Choices())
		return
	}
	path := strings.Join(c.ivrRun.Path(), ">")
	if c.cdr.IVRPath != "" {
		path = c.cdr.IVRPath + ">" + path
	}
	c.cdr.IVRPath = path
	// Digits too: the first flow's, then those of a flow the queue sent
	// the caller to.
	c.cdr.IVRDigits += c.ivrRun.Digits()
	if bt := c.ivrRun.Var("business_type"); bt != "" {
		c.cdr.BusinessType = bt
	}
	if s := c.ivrRun.Survey(); s != "" {
		c.surveyFlow = s
	}
	c.m.deps.Metrics.ivrRun(c.ivrRun.Graph().Name(), c.ivrRun.Path(), c.ivrRun.Choices())
}

// queuedEvent tells the ACD who is waiting: the call's priority (the
// highest of the queue's, the trunk's and every matching priority rule) and
// the agent it should go to first: the caller's dedicated agent, else with
// a sticky queue the agent who served them last.
func (c *Call) queuedEvent(q *config.Queue) acd.CallQueued {
	cfg := c.rt.Config
	how := c.ivrQueue
	ev := acd.CallQueued{CallID: c.id, Queue: q.Name, Priority: q.Priority}
	prio, rules := cfg.CallPriority(c.in.Trunk, c.in.Caller, c.in.Called)
	ev.Priority = max(ev.Priority, prio)
	if how.HasPriority {
		ev.Priority = max(ev.Priority, how.Priority)
	}
	tags := append(slices.Clone(rules), how.Tags...)
	// What set nodes said of the caller (config checked the values).
	vars := c.ivrRun.Vars()
	if p, err := strconv.Atoi(vars["priority"]); err == nil {
		ev.Priority = max(ev.Priority, p)
	}
	if vars["vip"] == "true" {
		tags = append(tags, "vip")
	}
	if bt := vars["business_type"]; bt != "" {
		tags = append(tags, bt)
	}
	if a := vars["dedicated_agent"]; a != "" && how.Agent == "" {
		how.Agent, how.AgentWait = a, config.DefaultDedicatedWait
	}
	c.cdr.Priority, c.cdr.PrioritySet = ev.Priority, true
	c.cdr.Tags = strings.Join(tags, ",")
	if d, ok := cfg.DedicatedFor(c.in.Caller); how.Agent != "" {
		// The IVR (a CRM lookup, a menu choice) knows best.
		ev.PreferredAgent, ev.PreferredWait = how.Agent, how.AgentWait
	} else if ok {
		ev.PreferredAgent, ev.PreferredWait = d.Agent, d.Wait
	} else if q.Sticky.Days > 0 && c.in.Caller != "" {
		since := c.now().AddDate(0, 0, -q.Sticky.Days)
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		agent, err := c.m.deps.Store.LastAgentForCaller(ctx, c.in.Caller, since)
		cancel()
		if err != nil {
			c.log.Warn("sticky agent lookup", "err", err)
		}
		ev.PreferredAgent, ev.PreferredWait = agent, q.Sticky.Wait
	}
	c.log.Info("call priority", "priority", ev.Priority, "tags", tags, "preferred_agent", ev.PreferredAgent)
	return ev
}

// playHoldMusic plays the queue's announcement once (on entry), then loops music.
func (c *Call) playHoldMusic(entering bool) {
	q := c.rt.Config.Queue(c.queueName)
	if q == nil {
		return
	}
	if entering && q.Announce != "" {
		if p := c.rt.Prompts[q.Announce]; p != nil {
			c.musicID = c.caller.Play(media.Playlist{Prompts: []*media.Prompt{p}})
			return
		}
	}
	c.musicID = 0
	if p := c.rt.Prompts[q.Music]; p != nil {
		c.caller.Play(media.Playlist{Prompts: []*media.Prompt{p}, Loop: true})
	} else {
		c.caller.StopPlayback()
	}
}

func (c *Call) acdCommand(command acd.Command) {
	if id := command.CallID(); id != c.id && id != c.agentACDID {
		c.consultCommand(command)
		return
	}
	switch command.Kind {
	case acd.CommandOffer:
		c.startOffer(command.Offer)
	case acd.CommandCancelOffer:
		cmd := command.Cancel
		if cmd.OfferID == c.connectedOffer && c.stage == StageTalking {
			c.dropLateAgent(cmd)
			return
		}
		if o := c.offers[cmd.OfferID]; o != nil {
			c.log.Info("offer canceled", "agent_id", cmd.AgentID, "reason", cmd.Reason.String())
			c.endNested(o.ring, cmd.Reason.String())
			o.cancel()
			// The ACD has already moved on (it may offer the next agent in the
			// same breath); the dialer's report is cleaned up in dialed.
			if c.current == cmd.OfferID {
				c.current = 0
			}
		}
	case acd.CommandMove:
		c.moved(command.Move)
	case acd.CommandAnnounce:
		c.announce(command.Announce)
	case acd.CommandRoute:
		c.routed(command.Route)
	case acd.CommandUnknown, acd.CommandAgentState, acd.CommandCallExit,
		acd.CommandCallback, acd.CommandRepair:
	}
}

// moved follows the ACD moving the caller to another queue (escalation,
// overflow): the caller hears the new queue's announcement and music, and the
// CDR names the queue the call ends in.
func (c *Call) moved(m acd.CallMoved) {
	if c.stage != StageQueued {
		return
	}
	c.log.Info("call moved", "from", m.From, "to", m.To, "reason", m.Reason)
	c.queueName, c.cdr.Queue = m.To, m.To
	c.enterStage(store.StageQueue, store.Stage{Queue: m.To, Detail: m.Reason})
	c.log = c.log.With("queue", m.To)
	if c.cbMenu == callbackMenuOff {
		// (The callback menu's prompt keeps playing; the music follows it.)
		c.playHoldMusic(true)
	}
	if err := c.m.deps.Store.CallUpdated(context.Background(), store.CDR{CallID: c.id, Queue: m.To}); err != nil {
		c.log.Error("cdr update", "err", err)
	}
}

// routed carries out the ACD sending the caller out of its queues: closed,
// full, waited too long. The ACD has already forgotten the call.
func (c *Call) routed(r acd.RouteCall) {
	if c.cbMenu == callbackMenuBooked && c.cdr.CallbackID != 0 {
		// The caller booked a callback as the ACD let the call go: the ACD
		// refused that CallbackRequested (the call was gone), so the
		// callback enters the queue again, in the caller's place.
		c.m.deps.ACD.Post(acd.CallbackScheduled{CallbackID: c.cdr.CallbackID, Queue: c.queueName,
			Number: c.cbNumber, Priority: c.cdr.Priority, QueuedAt: c.queuedAt, MaxAttempts: c.cbMaxAttempts})
		return
	}
	if c.stage != StageQueued {
		return
	}
	if c.agentTransfer {
		c.agentTransferFailed(r)
		return
	}
	c.cbMenu, c.cbDigits = callbackMenuOff, ""
	c.ivrTimer.Stop()
	c.cancelOffers()
	c.waitOver(c.now())
	c.blind = nil // a blind transfer's queue let the caller go: over
	c.log.Info("call leaves the queue", "destination", r.Destination.String(), "reason", r.Reason)
	c.stage = StageIVR // out of the ACD: ending now must not report an abandon
	switch r.Destination.Kind {
	case config.DestCallback:
		c.offerCallback()
		return
	case config.DestVoicemail:
		c.startVoicemail()
		return
	}
	if r.Destination.Kind == config.DestFlow {
		if g := c.rt.Flows[r.Destination.Target]; g != nil {
			c.flow = g
			c.enterStage(store.StageIVR, store.Stage{Detail: g.Name()})
			run, actions := ivr.StartWith(g, c.now(), c.callVars())
			c.ivrRun = run
			c.apply(actions)
			return
		}
		c.log.Error("route to unknown flow", "flow", r.Destination.Target)
	}
	c.hangupBy, c.cause, c.result = "system", r.Reason, "routed"
	c.endCaller(r.Reason)
}

// dropLateAgent undoes a bridge the ACD refused: the agent answered an offer it
// had already withdrawn (ring timeout) and the call is back in its queue.
func (c *Call) dropLateAgent(cmd acd.CancelOffer) {
	c.log.Warn("agent answered too late, leg dropped", "reason", cmd.Reason.String())
	if c.onHold() {
		c.m.deps.Metrics.hold(false, c.endHold(c.now()))
	}
	c.endMonitors()
	media.Unbridge(c.caller)
	leg, ep := c.agentLeg, c.agentEP
	c.agentLeg, c.agentEP, c.agentID, c.connectedOffer = nil, nil, "", 0
	c.whisperID, c.introID = 0, 0
	c.cdr.AgentID = ""
	c.m.wg.Add(1)
	go func() {
		defer c.m.wg.Done()
		hangupLeg(leg, "late-answer")
		ep.Close()
	}()
	if c.agentACDID != "" {
		// The agent had taken the call over from a consultation whose
		// answer the ACD withdrew: the ACD holds the caller nowhere, so
		// they queue again, in their first place.
		c.agentACDID = ""
		c.requeue(c.queueName)
		return
	}
	c.stage = StageQueued
	c.enterStage(store.StageQueue, store.Stage{Queue: c.queueName, Detail: "late answer dropped"})
	c.playHoldMusic(false)
}

func (c *Call) startOffer(o acd.OfferCall) {
	fail := func(reason acd.OfferFailure, err error) {
		c.log.Warn("offer failed before dialing", "agent_id", o.AgentID, "err", err)
		c.m.deps.ACD.Post(acd.OfferFailed{OfferID: o.OfferID, Reason: reason})
	}
	if c.stage != StageQueued || c.current != 0 {
		fail(acd.OfferUnreachable, errors.New("call not waiting"))
		return
	}
	binding, ok := c.m.deps.SIP.Registrar().Lookup(o.Device)
	if !ok {
		fail(acd.OfferUnreachable, errNoBinding)
		return
	}
	ep, err := c.m.deps.Media.NewEndpoint(c.id, "agent")
	if err != nil {
		fail(acd.OfferUnreachable, err)
		return
	}
	// The ACD owns the ring timeout and sends CancelOffer; this deadline only
	// bounds a dialer the ACD has forgotten.
	ctx, cancel := context.WithTimeout(context.Background(), o.RingTimeout+10*time.Second)
	c.offers[o.OfferID] = &offer{acd: o, cancel: cancel, endpoint: ep,
		ring: c.beginNested(store.StageRing, store.Stage{AgentID: o.AgentID, Queue: o.Queue})}
	c.current = o.OfferID
	c.log.Info("offering call", "agent_id", o.AgentID, "offer_id", o.OfferID, "contact", binding.Contact.String())
	req := hsip.DialRequest{
		Target:     binding,
		CallerID:   c.in.Caller,
		CallerName: c.in.CallerName,
		LocalRTP:   c.sdpAddr(ep),
		Log:        c.log.With("agent_id", o.AgentID),
		OnRinging: func() {
			select {
			case c.ringing <- o.OfferID:
			default:
			}
		},
	}
	// The first offer of a wait is the caller's delay to an agent's phone.
	first := !c.waitStart.IsZero() && !c.waitStart.Equal(c.firstOfferOf)
	queuedAt, clk, metrics := c.waitStart, c.m.deps.Clock, c.m.deps.Metrics
	c.firstOfferOf = c.waitStart
	go func() {
		if first {
			metrics.offerDelays.Observe(clk.Now().Sub(queuedAt).Seconds())
		}
		leg, err := c.m.deps.SIP.Dial(ctx, req)
		c.dialResults <- dialResult{offerID: o.OfferID, leg: leg, err: err}
	}()
}

func (c *Call) dialed(r dialResult) {
	cur := c.offers[r.offerID]
	if cur == nil {
		return
	}
	delete(c.offers, r.offerID)
	cur.cancel()
	if r.offerID != c.current {
		// An offer the ACD canceled: it must not leave a leg or a port behind.
		cur.endpoint.Close()
		if r.leg != nil {
			c.goHangup(r.leg, "offer-canceled")
		}
		return
	}
	c.current = 0
	if r.err != nil {
		cur.endpoint.Close()
		reason := failureOf(r.err)
		c.endNested(cur.ring, reason.String())
		c.log.Info("offer not answered", "agent_id", cur.acd.AgentID, "reason", reason.String(), "err", r.err)
		c.m.deps.ACD.Post(acd.OfferFailed{OfferID: r.offerID, Reason: reason})
		return
	}
	if c.stage != StageQueued {
		c.endNested(cur.ring, "caller-gone")
		cur.endpoint.Close()
		c.goHangup(r.leg, "caller-gone")
		return
	}
	c.endNested(cur.ring, "answered")
	c.takeAgentLeg(r.leg, cur.endpoint, cur.acd.AgentID)
	c.stage = StageTalking
	c.enterTalk()
	c.cbMenu, c.playback = callbackMenuOff, 0
	c.ivrTimer.Stop()
	c.introduce()
	c.talkStart = c.now()
	c.cdr.AgentID = c.agentID
	wait := c.waitOver(c.talkStart)
	c.log.Info("call connected", "agent_id", c.agentID, "queue_wait", wait.Round(time.Millisecond).String())
	c.m.deps.Metrics.queueWait(c.queueName, wait)
	c.connectedOffer = r.offerID
	c.m.deps.ACD.Post(acd.OfferAnswered{OfferID: r.offerID, CallID: c.id, AgentID: c.agentID})
	if c.agentTransfer {
		c.agentTransferConnected()
	} else if c.blind != nil {
		c.countTransfer("", "connected") // a blind transfer to a queue
	}
	// The agent goes into the row when the call ends, or from the journal
	// once the ACD accepted the answer: the store cannot take a name back
	// if the ACD refuses it (a late answer).
	update := c.cdr
	update.AgentID = ""
	if err := c.m.deps.Store.CallUpdated(context.Background(), update); err != nil {
		c.log.Error("cdr update", "err", err)
	}
}

// takeAgentLeg makes leg, answered by agentID, the call's agent leg: the
// phone's re-INVITEs put the caller on hold and take them off it, its
// REFERs transfer the call.
func (c *Call) takeAgentLeg(leg *hsip.OutboundCall, ep *media.Endpoint, agentID string) {
	c.agentLeg, c.agentEP, c.agentID = leg, ep, agentID
	ep.SetRemote(media.Remote{Addr: leg.Answer.Addr, Codec: codecOf(leg.PayloadType), DTMFPayloadType: leg.Answer.DTMFPayloadType})
	call := c
	phoneHeld := false // only this callback's goroutine (sipgo serializes a dialog's re-INVITEs) touches it
	leg.OnReoffer(func(o hsip.MediaOffer) {
		reoffered(ep, o)
		// The agent's phone puts the caller on hold with sendonly,
		// inactive or c=0.0.0.0 (RFC 3264 §8.4) and takes them off with
		// sendrecv. Only a change counts: a session refresh or a codec
		// change must not undo a hold the desktop (API) asked for.
		if o.Held() != phoneHeld {
			phoneHeld = o.Held()
			call.requestHold(leg, phoneHeld)
		}
	})
	leg.OnRefer(func(req hsip.ReferRequest) bool { return call.referred(leg, req) })
}

// reoffered applies a re-INVITE's accepted offer to the leg's endpoint
// (from a SIP goroutine: SetRemote is synchronized): the codec the answer
// chose and where to send. A hold with c=0.0.0.0 names no address: the
// endpoint keeps sending to where it did, so that resuming needs nothing.
func reoffered(ep *media.Endpoint, o hsip.MediaOffer) {
	addr := o.Addr
	if addr.Addr().IsUnspecified() {
		addr = ep.Remote().Addr
	}
	ep.SetRemote(media.Remote{Addr: addr, Codec: codecOf(o.PayloadType), DTMFPayloadType: o.DTMFPayloadType, Quiet: sendsNoRTP(o)})
}

func failureOf(err error) acd.OfferFailure {
	var de *hsip.DialError
	if errors.As(err, &de) {
		switch de.Kind {
		case hsip.DialFailureCanceled:
			return acd.OfferNoAnswer
		case hsip.DialFailureBusy:
			return acd.OfferBusy
		case hsip.DialFailureRejected:
			return acd.OfferRejected
		}
	}
	return acd.OfferUnreachable
}

// callerGone handles the caller's leg ending, in any stage.
func (c *Call) callerGone(side hsip.HangupSide, cause string) {
	if c.hangupBy == "" {
		c.hangupBy, c.cause = "caller", cause
		if side != hsip.HangupRemote {
			c.hangupBy = "system"
		}
	}
	if c.cdr.AgentID != "" {
		// The caller talked to an agent who sent them on (a blind
		// transfer): that call was served, whatever happened after.
		c.setResult("completed")
	}
	switch c.stage {
	case StageIVR:
		c.setResult("ivr")
		if c.transferCancel != nil {
			c.transferCancel() // finish hangs up a leg that answers anyway
		}
	case StageTransferred:
		c.setResult("transferred")
		c.goHangup(c.targetLeg, "caller-hangup")
	case StageQueued:
		c.setResult("abandoned")
		c.waitOver(c.now())
		c.cancelOffers()
		c.m.deps.ACD.Post(acd.CallAbandoned{CallID: c.id})
	case StageTalking:
		c.setResult("completed")
		c.goHangup(c.agentLeg, "caller-hangup")
	case StageCallbackMenu:
		c.setResult(c.callbackMenuResult())
	case StageVoicemail:
		c.setResult("voicemail")
	}
	c.stage = StageEnded
}

// agentGone handles the agent hanging up a connected call.
func (c *Call) agentGone() {
	if k := c.consult; k != nil {
		if k.leg != nil {
			// Hanging up with the consultee on the line completes the
			// transfer, as Asterisk's and FreeSWITCH's attended transfers do.
			if c.completeConsult(control{source: "agent-hangup"}) == nil {
				return
			}
		}
		c.endConsult("agent-hangup", false)
	}
	if c.thirdLeg != nil {
		c.agentLeftConference()
		return
	}
	if c.hangupBy == "" {
		c.hangupBy, c.cause = "agent", "bye"
		if side, cause := c.agentLeg.Ended(); side != hsip.HangupRemote {
			c.hangupBy, c.cause = "system", "agent-"+cause
		}
	}
	c.setResult("completed")
	if c.surveyFlow != "" && c.hangupBy == "agent" {
		if g := c.rt.Flows[c.surveyFlow]; g != nil {
			c.startSurvey(g)
			return
		}
		c.log.Warn("survey flow missing", "flow", c.surveyFlow)
	}
	c.endCaller("agent-hangup")
}

// startSurvey sends the caller, whose agent hung up first, to the survey
// flow: the talk ends (agent released, talk time counted) and the call
// goes on in the IVR, which collects survey_score.
func (c *Call) startSurvey(g *ivr.Graph) {
	c.endTalk(c.now())
	c.stage = StageIVR
	vars := c.callVars()
	vars["agent_id"], vars["queue"] = c.agentID, c.queueName
	run, actions := ivr.StartWith(g, c.now(), vars)
	c.ivrRun, c.surveyRun = run, run
	c.enterStage(store.StageSurvey, store.Stage{AgentID: c.agentID, Queue: c.queueName, Detail: g.Name()})
	c.log.Info("post-call survey", "flow", g.Name(), "agent_id", c.agentID)
	c.apply(actions)
}

// endTalk unbridges a connected agent and tells the ACD the call is over.
func (c *Call) endTalk(end time.Time) {
	if c.agentLeg == nil {
		return
	}
	if c.onHold() {
		c.m.deps.Metrics.hold(false, c.endHold(end))
	}
	c.endConference("call-over")
	c.endMonitors()
	media.Unbridge(c.caller)
	c.agentEP.Close()
	c.cdr.Talk += end.Sub(c.talkStart)
	c.m.deps.ACD.Post(acd.CallEnded{CallID: c.agentCallID()})
	c.agentLeg, c.agentEP, c.agentACDID = nil, nil, ""
}

// abort finishes a call whose goroutine panicked, as far as it safely can: the
// ACD must learn the call is gone, the agent leg must go, and an answered call
// still gets its CDR.
func (c *Call) abort() {
	defer func() {
		if r := recover(); r != nil {
			c.log.Error("call cleanup panicked too", "panic", r)
		}
	}()
	c.hangupBy, c.cause, c.result = "system", "internal-error", "failed"
	switch c.stage {
	case StageQueued:
		c.cancelOffers()
		c.m.deps.ACD.Post(acd.CallAbandoned{CallID: c.id})
	case StageTalking:
		c.endMonitors()
		if c.agentLeg != nil {
			c.goHangup(c.agentLeg, "internal-error")
		}
	case StageTransferred:
		c.goHangup(c.targetLeg, "internal-error")
	}
	c.stage = StageEnded
	if c.caller != nil && !c.cdr.Answer.IsZero() {
		c.finish()
		return
	}
	c.m.deps.Metrics.callEnded("failed")
}

// cancelOffers stops every dialer still running.
func (c *Call) cancelOffers() {
	for _, o := range c.offers {
		o.cancel()
	}
	c.current = 0
}

func (c *Call) setResult(r string) {
	if c.result == "" {
		c.result = r
	}
}

// endCaller hangs up the caller from our side and ends the call.
func (c *Call) endCaller(cause string) {
	if c.stage == StageQueued {
		c.cancelOffers()
		c.m.deps.ACD.Post(acd.CallAbandoned{CallID: c.id})
	}
	for _, leg := range []*hsip.OutboundCall{c.agentLeg, c.targetLeg} {
		if leg == nil {
			continue
		}
		select {
		case <-leg.Done():
		default:
			c.goHangup(leg, cause)
		}
	}
	ctx, cancel := bgTimeout(5 * time.Second)
	defer cancel()
	if err := c.in.Hangup(ctx, cause); err != nil {
		c.log.Info("caller hangup", "err", err)
	}
	c.stage = StageEnded
}

// finish runs once the call has ended: it releases media, tells the ACD, closes
// the recording and completes the CDR.
func (c *Call) finish() {
	end := c.now()
	if pending := c.offers; len(pending) > 0 {
		c.cancelOffers()
		c.offers = nil
		// Dialers may need a while (a CANCEL waits for its 487); clean up after
		// them without holding the CDR back, and never leave a leg up.
		c.m.wg.Add(1)
		go func() {
			defer c.m.wg.Done()
			for range pending {
				r := <-c.dialResults
				if r.leg != nil {
					hangupLeg(r.leg, "caller-gone")
				}
				if o := pending[r.offerID]; o != nil {
					o.endpoint.Close()
				}
			}
		}()
	}
	c.endConsult("call-over", false)
	c.abandonConsultDials()
	c.endTalk(end)
	// A transfer or a conference's third party still ringing: the dialer
	// reports once canceled, and a leg that answered meanwhile must not
	// stay up.
	c.abandonDial(c.conferenceCancel, c.conferenced)
	c.abandonDial(c.transferCancel, c.transferred)
	if c.targetLeg != nil {
		media.Unbridge(c.caller)
		c.targetEP.Close()
		c.cdr.Talk += end.Sub(c.talkStart)
	}
	c.surveyScore()
	c.caller.Record(nil)
	// The caller's RTP port goes back to the pool now, not after the
	// recording's close (its fsync waits behind every other recording
	// ending) and the CDR write: short calls ending by the hundred would
	// otherwise hold the pool empty (make robust's flood row saw 503s).
	c.caller.Close()
	if c.recording != nil {
		if err := c.recording.CloseWithMarkers(c.stageMarkers()); err != nil {
			c.log.Error("recording close", "err", err)
		}
	}
	c.ivrDone() // a caller who hung up in the IVR
	c.closeStages(end, c.result)
	c.cdr.End = end
	c.cdr.Result = c.result
	c.cdr.HangupBy = c.hangupBy
	c.cdr.HangupCause = c.cause
	if err := c.m.deps.Store.CallEnded(context.Background(), c.cdr); err != nil {
		c.log.Error("cdr final write", "err", err)
	}
	if c.recording != nil {
		c.analyzeRecording(c.cdr.RecordingPath)
	}
	c.m.deps.Metrics.callEnded(c.result)
	if c.hangupBy == "system" {
		c.m.deps.Metrics.systemHangup(c.cause)
	}
	c.log.Info("call ended", "agent_id", c.cdr.AgentID, "result", c.result, "hangup_by", c.hangupBy, "cause", c.cause,
		"duration", end.Sub(c.cdr.Answer).Round(time.Millisecond).String(), "talk", c.cdr.Talk.Round(time.Millisecond).String())
}

// goHangup hangs an agent leg up in the background; shutdown waits for it.
func (c *Call) goHangup(leg *hsip.OutboundCall, cause string) {
	c.m.wg.Add(1)
	go func() {
		defer c.m.wg.Done()
		hangupLeg(leg, cause)
	}()
}

func hangupLeg(leg *hsip.OutboundCall, cause string) {
	ctx, cancel := bgTimeout(5 * time.Second)
	defer cancel()
	if err := leg.Hangup(ctx, cause); err != nil {
		leg.Log().Info("agent leg hangup", "err", err)
	}
}

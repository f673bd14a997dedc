package sip

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net/netip"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/emiago/sipgo"
	"github.com/emiago/sipgo/sip"
)

// HangupSide says who ended a leg.
type HangupSide uint8

const (
	HangupUnknown HangupSide = iota
	HangupRemote             // the far end sent BYE or CANCEL
	HangupLocal              // we sent BYE
	HangupFailure            // the transaction or transport failed
)

func (h HangupSide) String() string {
	switch h {
	case HangupRemote:
		return "remote"
	case HangupLocal:
		return "local"
	case HangupFailure:
		return "failure"
	}
	return "unknown"
}

// InboundCall is a call to us, we are its UAS: a carrier's call through a
// trunk, or a registered phone's call (a feature code, or an agent calling
// a colleague, a queue or a number: a consultation).
type InboundCall struct {
	ID         string // Call-ID
	Caller     string // From user part
	CallerName string
	Called     string // Request-URI user part, else To user
	Trunk      string // the trunk of a carrier call; "" for a feature code
	// AuthUser is the phone (SIP user) that authenticated a call from a
	// registered phone; "" for a carrier call.
	AuthUser  string
	Source    netip.AddrPort
	Transport string
	// Offer is the INVITE's offer, with the codec chosen from it in PayloadType.
	// Neither changes after a re-INVITE: see OnReoffer and CurrentPayloadType.
	Offer MediaOffer
	// PayloadType is the codec chosen from the offer (PCMU or PCMA).
	PayloadType uint8

	srv     *Server
	session *sipgo.DialogServerSession
	log     *slog.Logger
	sdpID   uint64
	media   mediaSession
	refer   referSession
	// ctx ends with the dialog, or earlier when the session timer gives up
	// on it (expire): Done is its channel.
	ctx    context.Context
	cancel context.CancelFunc
	// timer is the RFC 4028 session timer; nil when off for this leg.
	timer  *sessionTimer
	timers SessionTimers // the settings the call started with
	terms  sessionTerms  // what the INVITE negotiated

	wg sync.WaitGroup // the session timer's goroutine

	mu       sync.Mutex
	answered bool
	hangup   HangupSide
	cause    string
}

// IsFeatureCode reports whether a dialed number is a feature code: a star
// and then digits and stars (*21, *22 1, *20 1003*4321).
func IsFeatureCode(called string) bool {
	if len(called) < 2 || called[0] != '*' {
		return false
	}
	for _, r := range called[1:] {
		if (r < '0' || r > '9') && r != '*' {
			return false
		}
	}
	return true
}

func (s *Server) onInvite(req *sip.Request, tx sip.ServerTransaction) {
	if why := malformed(req); why != "" {
		s.rejectMalformed(req, tx, why)
		return
	}
	if _, hasTag := req.To().Params.Get("tag"); hasTag {
		s.onReinvite(req, tx)
		return
	}
	log := s.log.With("call_id", callID(req))
	src, ok := sourceAddr(req.Source())
	if !ok {
		s.reply(req, tx, sip.StatusBadRequest, "Bad Request")
		return
	}
	called := req.Recipient.User
	if called == "" {
		called = req.To().Address.User
	}
	var adm Admission
	authUser := ""
	if IsFeatureCode(called) || s.registrar.HasSource(req.From().Address.User, req.Source()) {
		// An agent's phone dialing a feature code (*21 ready, ...) or a
		// colleague: no trunk takes it, the phone proves who it is with
		// its digest credentials. A phone is known by the address it
		// registered from, which no carrier shares; only then is the
		// call challenged rather than admitted as a trunk's.
		user, ok := s.authenticate(req, tx, time.Now())
		if !ok {
			return
		}
		authUser = user
		log = log.With("device", user)
	} else {
		adm = s.hooks.Admit(src, called)
	}
	if adm.Status != 0 {
		reason := adm.Reason
		if reason == "" {
			reason = statusText(adm.Status)
		}
		var headers []sip.Header
		if secs := int(adm.RetryAfter / time.Second); secs > 0 {
			headers = append(headers, sip.NewHeader("Retry-After", strconv.Itoa(secs)))
		}
		if adm.Blocked == "" {
			log.Warn("invite refused", "src", req.Source(), "called", called, "sip_status", adm.Status, "reason", reason)
		} else {
			s.metrics.blocked(adm.Blocked)
			if s.shouldLog(adm.Blocked + " trunk " + adm.Trunk) {
				log.Warn("invite refused", "src", req.Source(), "called", called, "sip_status", adm.Status, "reason", reason,
					"blocked", adm.Blocked, "trunk", adm.Trunk)
			}
		}
		s.reply(req, tx, adm.Status, reason, headers...)
		return
	}
	if authUser == "" {
		log = log.With("trunk", adm.Trunk)
	}
	if ct := req.ContentType(); len(req.Body()) == 0 || ct == nil || !isSDP(ct.Value()) {
		// Late offer (an INVITE without SDP) is not supported yet: RFC 3261 §13.2.1
		// lets us refuse the session description we cannot answer.
		log.Warn("invite without sdp offer", "sip_status", 488)
		s.reply(req, tx, sip.StatusNotAcceptableHere, "Not Acceptable Here (no SDP offer)")
		return
	}
	offer, err := ParseSDP(req.Body())
	if err != nil && !errors.Is(err, ErrNoAudio) {
		log.Warn("invite with malformed sdp", "sip_status", 400, "err", err)
		s.reply(req, tx, sip.StatusBadRequest, "Bad Request (malformed SDP)")
		return
	}
	pt, ok := Negotiate(offer, supportedPayloads...)
	if err != nil || !ok {
		log.Warn("invite with no common codec", "sip_status", 488, "offered", payloadList(offer.PayloadTypes))
		res := sip.NewResponseFromRequest(req, sip.StatusNotAcceptableHere, "Not Acceptable Here", nil)
		res.AppendHeader(sip.NewHeader("Warning", `304 hotline "Media type not available"`))
		s.send(tx, res)
		return
	}
	timers := s.sessionTimers()
	terms, tooSmall := timers.negotiate(req)
	if tooSmall {
		// RFC 4028 §6: the UAC retries with our Min-SE.
		log.Info("invite session interval too small", "sip_status", 422, "min_se", timers.MinSE.String())
		s.reply(req, tx, 422, "Session Interval Too Small", minSEHeader(timers.MinSE))
		return
	}
	session, err := s.dialogUA(req.Transport()).ReadInvite(req, tx)
	if err != nil {
		log.Warn("invite dialog", "err", err, "sip_status", 400)
		s.reply(req, tx, sip.StatusBadRequest, "Bad Request")
		return
	}
	srcAP, _ := netip.ParseAddrPort(req.Source())
	call := &InboundCall{
		ID:          callID(req),
		Caller:      req.From().Address.User,
		CallerName:  req.From().DisplayName,
		Called:      called,
		Trunk:       adm.Trunk,
		AuthUser:    authUser,
		Source:      srcAP,
		Transport:   req.Transport(),
		Offer:       offer,
		PayloadType: pt,
		srv:         s,
		session:     session,
		log:         log,
		sdpID:       rand.Uint64() >> 1,
	}
	call.Offer.PayloadType = pt
	call.ctx, call.cancel = context.WithCancel(session.Context())
	call.timers, call.terms = timers, terms
	if terms.interval > 0 {
		call.timer = newSessionTimer(timers, s.clock(), call, log)
	}
	// Our 200 carries this Contact (sipgo adds the dialog UA's); so do our 2xx to
	// re-INVITEs.
	call.media.log, call.media.contact = log, s.dialogUA(req.Transport()).ContactHDR
	call.media.state.pt = pt
	call.refer.init(log, session.Context().Done(), s.metrics.request, session.Do, call.remoteTarget)
	s.inbound.Store(session.ID, call)
	s.wg.Add(1)
	defer func() {
		s.inbound.Delete(session.ID)
		s.wg.Done()
	}()
	// Answer 100 at once rather than after sipgo's 200 ms timer, so carriers stop
	// retransmitting (RFC 3261 §17.2.1).
	_ = call.respond(100, "Trying", nil)
	s.hooks.HandleCall(call)
	call.finish()
}

// Log is the call's logger, with call_id and trunk.
func (c *InboundCall) Log() *slog.Logger { return c.log }

// Done is closed when the leg ends for any reason.
func (c *InboundCall) Done() <-chan struct{} { return c.ctx.Done() }

// Ended reports who ended the leg and why, once Done is closed.
func (c *InboundCall) Ended() (HangupSide, string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.hangup != HangupUnknown {
		return c.hangup, c.cause
	}
	if errors.Is(context.Cause(c.session.Context()), sip.ErrTransactionCanceled) {
		return HangupRemote, "cancel"
	}
	return HangupFailure, "transaction"
}

// OnReoffer registers f for the re-INVITE offers this leg accepts (called on a SIP
// goroutine before the 200 goes out). The offer's PayloadType is the codec of our
// answer, from then on the leg's; Held tells a hold from a resume. Offers we
// refuse (488) are not reported: the session stays as it was.
func (c *InboundCall) OnReoffer(f func(MediaOffer)) { c.media.setOnReoffer(f) }

// CurrentPayloadType is the codec in use: PayloadType until a re-INVITE changes it.
func (c *InboundCall) CurrentPayloadType() uint8 { return c.media.payloadType() }

// Answered reports whether our 200 went out (even if its ACK never came).
func (c *InboundCall) Answered() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.answered
}

// Ringing sends 180 Ringing.
func (c *InboundCall) Ringing() error { return c.respond(180, "Ringing", nil) }

// Answer sends 200 with our SDP for rtp and waits for the ACK (RFC 3261 §13.3.1.4).
func (c *InboundCall) Answer(rtp netip.AddrPort) error {
	spec := SessionSpec{
		Addr: rtp, SessionID: c.sdpID, SessionVersion: c.sdpID,
		PayloadTypes: []uint8{c.PayloadType}, DTMFPayloadType: c.Offer.DTMFPayloadType,
		// An offer may start the call on hold; the answer mirrors it (RFC 3264 §6.1).
		Direction: answerDirection(c.Offer),
		Streams:   c.Offer.Streams, AudioStream: c.Offer.AudioStream,
	}
	body, err := BuildSDP(spec)
	if err != nil {
		return err
	}
	c.media.set(mediaState{spec: spec, sdp: body, pt: c.PayloadType})
	res := sip.NewSDPResponseFromRequest(c.session.InviteRequest, body)
	for _, h := range c.timers.responseHeaders(c.terms) {
		res.AppendHeader(h)
	}
	c.srv.metrics.response(res)
	if err := c.session.WriteResponse(res); err != nil {
		if c.session.LoadState() >= sip.DialogStateEstablished {
			// The 200 went out but no ACK came (RFC 3261 §13.3.1.4): the dialog
			// exists and must be ended with a BYE, not a final response.
			c.mu.Lock()
			c.answered = true
			c.mu.Unlock()
		}
		return fmt.Errorf("answer %s: %w", c.ID, err)
	}
	c.mu.Lock()
	c.answered = true
	c.mu.Unlock()
	if c.timer != nil {
		c.wg.Add(1)
		go func() {
			defer c.wg.Done()
			c.timer.run(c.terms)
		}()
	}
	return nil
}

// expire ends the leg from our side because its dialog is dead (the
// session timer): Done closes at once, so the owner need not wait for a
// BYE that the far end may never answer; the BYE is sent all the same.
func (c *InboundCall) expire(cause string) {
	if !c.setEnded(HangupLocal, cause) {
		return
	}
	c.cancel()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	c.srv.metrics.request(sip.BYE)
	if err := c.session.Bye(ctx); err != nil {
		c.log.Info("bye after session expiry", "err", err)
	}
}

// remoteTarget is where in-dialog requests go: the caller's Contact.
func (c *InboundCall) remoteTarget() sip.Uri {
	if h := c.session.InviteRequest.Contact(); h != nil {
		return *h.Address.Clone()
	}
	return *c.session.InviteRequest.From().Address.Clone()
}

// refreshSession sends a session refresh (see Server.sendRefresh).
func (c *InboundCall) refreshSession(terms sessionTerms) (sessionTerms, error) {
	return c.srv.sendRefresh(c.ctx, c.timers, &c.media, terms, c.remoteTarget(), c.Transport, c.session.Do)
}

// Reject ends an unanswered call with a final status.
func (c *InboundCall) Reject(code int, reason string) error {
	c.setEnded(HangupLocal, fmt.Sprintf("rejected %d", code))
	return c.respond(code, reason, nil)
}

// Hangup ends the leg: BYE when answered, else 480.
func (c *InboundCall) Hangup(ctx context.Context, cause string) error {
	c.mu.Lock()
	answered := c.answered
	c.mu.Unlock()
	if !answered {
		return c.Reject(sip.StatusTemporarilyUnavailable, "Temporarily Unavailable")
	}
	if !c.setEnded(HangupLocal, cause) {
		return nil
	}
	c.srv.metrics.request(sip.BYE)
	if err := c.session.Bye(ctx); err != nil {
		return fmt.Errorf("bye %s: %w", c.ID, err)
	}
	return nil
}

func (c *InboundCall) respond(code int, reason string, body []byte) error {
	res := sip.NewResponseFromRequest(c.session.InviteRequest, code, reason, body)
	c.srv.metrics.response(res)
	return c.session.WriteResponse(res)
}

// setEnded records the first reason the leg ended; it reports whether this was it.
func (c *InboundCall) setEnded(side HangupSide, cause string) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.hangup != HangupUnknown {
		return false
	}
	c.hangup, c.cause = side, cause
	return true
}

func (c *InboundCall) readAck(req *sip.Request, tx sip.ServerTransaction) {
	// ACKs of re-INVITE answers have a higher CSeq than the INVITE's; only the
	// ACK of our 200 confirms the dialog.
	if err := c.session.ReadAck(req, tx); err != nil && !errors.Is(err, sipgo.ErrDialogInvalidCseq) {
		c.log.Debug("ack", "err", err)
	}
}

func (c *InboundCall) readBye(req *sip.Request, tx sip.ServerTransaction) {
	c.setEnded(HangupRemote, "bye")
	c.srv.metrics.responseCode(sip.BYE, 200)
	if err := c.session.ReadBye(req, tx); err != nil {
		c.log.Info("bye", "err", err)
		c.srv.reply(req, tx, sip.StatusCallTransactionDoesNotExists, "Call/Transaction Does Not Exist")
	}
}

// finish makes sure nothing of the leg outlives its handler.
func (c *InboundCall) finish() {
	defer c.wg.Wait() // the session timer, which ends with the leg
	defer c.cancel()
	select {
	case <-c.Done():
		return
	default:
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := c.Hangup(ctx, "handler-exit"); err != nil {
		c.log.Debug("hangup at handler exit", "err", err)
	}
	c.session.Close()
}

// payloadList formats payload types for logs (slog would print a []uint8 as text).
func payloadList(pts []uint8) []int {
	out := make([]int, len(pts))
	for i, pt := range pts {
		out[i] = int(pt)
	}
	return out
}

// isSDP accepts "application/sdp" with any case and parameters (RFC 3261 §20.15).
func isSDP(contentType string) bool {
	mediaType, _, _ := strings.Cut(contentType, ";")
	return strings.EqualFold(strings.TrimSpace(mediaType), "application/sdp")
}

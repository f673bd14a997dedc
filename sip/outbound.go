package sip

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net/netip"
	"sync"
	"sync/atomic"
	"time"

	"github.com/emiago/sipgo"
	"github.com/emiago/sipgo/sip"
)

// DialFailure classifies why an agent leg was not answered; the ACD treats each
// kind differently (a busy phone is not a missed offer).
type DialFailure uint8

const (
	DialFailureUnknown     DialFailure = iota
	DialFailureCanceled                // we gave up (ring timeout, caller hung up)
	DialFailureBusy                    // 486, 600
	DialFailureRejected                // 603 and other 4xx-6xx
	DialFailureUnreachable             // 408, 480, 503, transport error, no answer at all
	DialFailureMedia                   // the answer's SDP had no codec we can use
)

func (f DialFailure) String() string {
	switch f {
	case DialFailureCanceled:
		return "canceled"
	case DialFailureBusy:
		return "busy"
	case DialFailureRejected:
		return "rejected"
	case DialFailureUnreachable:
		return "unreachable"
	case DialFailureMedia:
		return "media"
	}
	return "unknown"
}

// DialError is returned by Dial when the agent leg did not come up.
type DialError struct {
	Kind   DialFailure
	Status int // the final SIP status, 0 if none
	Err    error
}

func (e *DialError) Error() string {
	if e.Status != 0 {
		return fmt.Sprintf("dial: %s (%d)", e.Kind, e.Status)
	}
	return fmt.Sprintf("dial: %s: %v", e.Kind, e.Err)
}

func (e *DialError) Unwrap() error { return e.Err }

// DialRequest describes an agent leg to place.
type DialRequest struct {
	Target     Binding        // where the phone is registered
	CallerID   string         // shown on the phone: the caller's number
	CallerName string         // display name (sanitized here)
	CallID     string         // empty = a fresh one; the agent leg has its own Call-ID
	LocalRTP   netip.AddrPort // our media endpoint for this leg
	OnRinging  func()         // 180/183 received (called on a SIP goroutine)
	Log        *slog.Logger
}

// OutboundCall is a call we placed to an agent's phone: we are its UAC.
type OutboundCall struct {
	ID string
	// Answer is the phone's answer to our INVITE, with the codec taken from it in
	// PayloadType. Neither changes after a re-INVITE: see OnReoffer and
	// CurrentPayloadType.
	Answer      MediaOffer
	PayloadType uint8

	srv       *Server
	session   *sipgo.DialogClientSession
	log       *slog.Logger
	media     mediaSession
	refer     referSession
	transport string
	// ctx ends with the dialog, or when we hang up or the session timer
	// gives up on it: Done is its channel.
	ctx    context.Context
	cancel context.CancelFunc
	// timer is the RFC 4028 session timer the phone's 2xx asked for; nil
	// when none.
	timer *sessionTimer

	mu     sync.Mutex
	hangup HangupSide
	cause  string
}

// Dial sends an INVITE to the target and waits until it is answered, fails, or
// ctx ends (then CANCEL is sent, RFC 3261 §9.1). On success the ACK has been sent.
func (s *Server) Dial(ctx context.Context, r DialRequest) (*OutboundCall, error) {
	log := r.Log
	if log == nil {
		log = s.log
	}
	sdpID := rand.Uint64() >> 1
	spec := SessionSpec{Addr: r.LocalRTP, SessionID: sdpID, SessionVersion: sdpID,
		PayloadTypes: supportedPayloads, DTMFPayloadType: ourDTMFPayloadType}
	offer, err := BuildSDP(spec)
	if err != nil {
		return nil, err
	}
	req := sip.NewRequest(sip.INVITE, r.Target.Contact)
	req.SetTransport(r.Target.Transport)
	req.SetDestination(r.Target.Source)
	from := sip.FromHeader{
		DisplayName: sanitizeDisplayName(r.CallerName),
		Address:     sip.Uri{Scheme: "sip", User: sanitizeUser(r.CallerID), Host: s.contact.Addr().String()},
		Params:      sip.NewParams(),
	}
	from.Params.Add("tag", sip.GenerateTagN(16))
	req.AppendHeader(&from)
	to := sip.ToHeader{Address: sip.Uri{Scheme: "sip", User: r.Target.User, Host: r.Target.Contact.Host, Port: r.Target.Contact.Port}}
	req.AppendHeader(&to)
	if r.CallID != "" {
		cid := sip.CallIDHeader(r.CallID)
		req.AppendHeader(&cid)
	}
	req.AppendHeader(sip.NewHeader("Allow", allowHeader))
	timers := s.sessionTimers()
	if sup := timers.supported(); sup != "" {
		// The phone may then ask for a session timer in its 2xx (RFC 4028
		// §7.1); we name no interval, so it never answers 422.
		req.AppendHeader(sip.NewHeader("Supported", sup))
	}
	req.AppendHeader(sip.NewHeader("Content-Type", "application/sdp"))
	req.SetBody(offer)

	ua := s.dialogUA(r.Target.Transport)
	s.metrics.request(sip.INVITE)
	session, err := ua.WriteInvite(context.Background(), req)
	if err != nil {
		return nil, &DialError{Kind: DialFailureUnreachable, Err: err}
	}
	call := &OutboundCall{srv: s, session: session, log: log, transport: r.Target.Transport}
	call.ctx, call.cancel = context.WithCancel(session.Context())
	// WriteInvite put the dialog UA's Contact in the INVITE; our 2xx to the
	// phone's re-INVITEs carry the same (RFC 3261 §12.1.1).
	call.media.log, call.media.contact = log, ua.ContactHDR
	if h := session.InviteRequest.CallID(); h != nil {
		call.ID = string(*h)
	}

	// sipgo only sends CANCEL after a provisional response; with none at all it
	// would wait for Timer B (32 s). Force-cancel then (see shared notes).
	var heardBack atomic.Bool
	waitCtx, cancel := context.WithCancelCause(context.Background())
	defer cancel(nil)
	stop := make(chan struct{})
	defer close(stop)
	go func() {
		select {
		case <-ctx.Done():
			if heardBack.Load() {
				cancel(ctx.Err())
			} else {
				cancel(sipgo.WaitAnswerForceCancelErr)
			}
		case <-stop:
		}
	}()
	err = session.WaitAnswer(waitCtx, sipgo.AnswerOptions{OnResponse: func(res *sip.Response) error {
		heardBack.Store(true)
		if (res.StatusCode == 180 || res.StatusCode == 183) && r.OnRinging != nil {
			r.OnRinging()
		}
		return nil
	}})
	if err != nil {
		// A 200 may cross our CANCEL (RFC 3261 §9.1): acknowledge and end that dialog.
		if res := session.InviteResponse; res != nil && res.IsSuccess() {
			call.confirmAndDrop()
		}
		session.Close()
		return nil, classifyDialError(ctx, err)
	}
	// The answer is read before the leg is published, so that a re-INVITE right
	// behind the ACK finds the codec in use.
	answer, perr := ParseSDP(session.InviteResponse.Body())
	pt, ok := Negotiate(answer, supportedPayloads...)
	answer.PayloadType = pt
	call.Answer, call.PayloadType = answer, pt
	call.media.set(mediaState{spec: spec, sdp: offer, pt: pt})
	call.refer.init(log, session.Context().Done(), s.metrics.request, session.Do, call.remoteTarget)
	// The phone's 2xx may ask for a session timer (RFC 4028 §7.2); set
	// before the leg is published, for its re-INVITEs to find.
	terms := timers.answered(session.InviteResponse, sessionTerms{})
	if terms.interval > 0 && timers.Expires > 0 {
		call.timer = newSessionTimer(timers, s.clock(), call, log)
	}
	// Known before the ACK leaves, so a BYE or re-INVITE right behind it matches.
	s.outbound.Store(session.ID, call)
	if err := session.Ack(context.Background()); err != nil {
		s.outbound.Delete(session.ID)
		session.Close()
		return nil, &DialError{Kind: DialFailureUnreachable, Err: fmt.Errorf("ack: %w", err)}
	}
	if perr != nil || !ok {
		log.Warn("agent answered with unusable sdp", "err", perr, "answer", answer.PayloadTypes)
		byeCtx, byeCancel := context.WithTimeout(context.Background(), 5*time.Second)
		_ = call.Hangup(byeCtx, "bad-sdp")
		byeCancel()
		return nil, &DialError{Kind: DialFailureMedia, Status: 200, Err: errors.New("no usable codec in answer")}
	}
	// Forgotten when the dialog ends; AfterFunc holds no goroutine (and its
	// stack) for the life of the call as a waiting goroutine would.
	context.AfterFunc(session.Context(), func() { s.outbound.Delete(session.ID) })
	if call.timer != nil {
		go call.timer.run(terms) // ends with the leg (Done)
	}
	return call, nil
}

// remoteTarget is where in-dialog requests go: the 2xx's Contact (RFC
// 3261 §12.1.2).
func (c *OutboundCall) remoteTarget() sip.Uri {
	if h := c.session.InviteResponse.Contact(); h != nil {
		return *h.Address.Clone()
	}
	return *c.session.InviteRequest.Recipient.Clone()
}

// refreshSession sends a session refresh (see Server.sendRefresh).
func (c *OutboundCall) refreshSession(terms sessionTerms) (sessionTerms, error) {
	return c.srv.sendRefresh(c.ctx, c.timer.cfg, &c.media, terms, c.remoteTarget(), c.transport, c.session.Do)
}

// expire ends the leg because its dialog is dead (the session timer):
// Done closes at once, the BYE follows.
func (c *OutboundCall) expire(cause string) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := c.sendBye(ctx, cause, true); err != nil {
		c.log.Info("bye after session expiry", "err", err)
	}
}

func classifyDialError(ctx context.Context, err error) error {
	var resErr *sipgo.ErrDialogResponse
	if errors.As(err, &resErr) {
		code := resErr.Res.StatusCode
		kind := DialFailureRejected
		switch code {
		case 486, 600:
			kind = DialFailureBusy
		case 408, 480, 503, 504:
			kind = DialFailureUnreachable
		}
		return &DialError{Kind: kind, Status: code, Err: err}
	}
	if ctx.Err() != nil {
		return &DialError{Kind: DialFailureCanceled, Err: err}
	}
	return &DialError{Kind: DialFailureUnreachable, Err: err}
}

func (c *OutboundCall) confirmAndDrop() {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := c.session.Ack(ctx); err == nil {
		_ = c.session.Bye(ctx)
	}
}

// Log is the leg's logger.
func (c *OutboundCall) Log() *slog.Logger { return c.log }

// Done is closed when the leg ends.
func (c *OutboundCall) Done() <-chan struct{} { return c.ctx.Done() }

// Ended reports who ended the leg, once Done is closed.
func (c *OutboundCall) Ended() (HangupSide, string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.hangup == HangupUnknown {
		return HangupFailure, "transaction"
	}
	return c.hangup, c.cause
}

// OnReoffer registers f for the re-INVITE offers from the agent's phone that the
// leg accepts (called on a SIP goroutine before the 200 goes out). The offer's
// PayloadType is the codec of our answer, from then on the leg's; Held tells a
// hold from a resume. Offers we refuse (488) are not reported.
func (c *OutboundCall) OnReoffer(f func(MediaOffer)) { c.media.setOnReoffer(f) }

// CurrentPayloadType is the codec in use: PayloadType until a re-INVITE changes it.
func (c *OutboundCall) CurrentPayloadType() uint8 { return c.media.payloadType() }

// Hangup sends BYE.
func (c *OutboundCall) Hangup(ctx context.Context, cause string) error {
	return c.sendBye(ctx, cause, false)
}

// sendBye sends BYE unless the leg has ended already; early closes Done
// before the BYE rather than after it.
func (c *OutboundCall) sendBye(ctx context.Context, cause string, early bool) error {
	c.mu.Lock()
	if c.hangup != HangupUnknown {
		c.mu.Unlock()
		return nil
	}
	c.hangup, c.cause = HangupLocal, cause
	c.mu.Unlock()
	if early {
		c.cancel()
	}
	// Done closes even when the BYE gets no answer, so nothing of the leg
	// (its session timer) outlives it.
	defer c.cancel()
	c.srv.metrics.request(sip.BYE)
	defer c.srv.outbound.Delete(c.session.ID)
	if err := c.session.Bye(ctx); err != nil {
		return fmt.Errorf("bye %s: %w", c.ID, err)
	}
	return nil
}

func (c *OutboundCall) readBye(req *sip.Request, tx sip.ServerTransaction) {
	c.mu.Lock()
	if c.hangup == HangupUnknown {
		c.hangup, c.cause = HangupRemote, "bye"
	}
	c.mu.Unlock()
	c.srv.metrics.responseCode(sip.BYE, 200)
	if err := c.session.ReadBye(req, tx); err != nil {
		c.log.Info("agent bye", "err", err)
	}
}

// sanitizeDisplayName keeps a caller-supplied name from breaking or injecting
// headers: sipgo quotes display names but escapes nothing (see shared notes).
func sanitizeDisplayName(s string) string {
	out := make([]rune, 0, len(s))
	for _, r := range s {
		if r < 0x20 || r == 0x7f || r == '"' || r == '\\' {
			continue
		}
		out = append(out, r)
		if len(out) == 64 {
			break
		}
	}
	return string(out)
}

// sanitizeUser keeps only characters allowed unescaped in a SIP user part that
// phone numbers use (RFC 3261 §25.1 user-unreserved subset).
func sanitizeUser(s string) string {
	out := make([]byte, 0, len(s))
	for i := 0; i < len(s) && len(out) < 32; i++ {
		c := s[i]
		if c >= '0' && c <= '9' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c == '+' || c == '*' || c == '#' || c == '-' || c == '.' || c == '_' {
			out = append(out, c)
		}
	}
	if len(out) == 0 {
		return "anonymous"
	}
	return string(out)
}

func statusText(code int) string {
	switch code {
	case 400:
		return "Bad Request"
	case 403:
		return "Forbidden"
	case 404:
		return "Not Found"
	case 480:
		return "Temporarily Unavailable"
	case 486:
		return "Busy Here"
	case 488:
		return "Not Acceptable Here"
	case 503:
		return "Service Unavailable"
	}
	return "Error"
}

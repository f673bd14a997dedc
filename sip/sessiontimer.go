package sip

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/emiago/sipgo/sip"
)

// SessionTimers configures RFC 4028 session timers on callers' legs: a
// dialog whose far end has vanished (a carrier that lost the call, a NAT
// that forgot it) is found and ended instead of holding an agent for hours.
type SessionTimers struct {
	// Expires is the interval we ask for when the INVITE names none, and
	// the longest we accept; 0 turns session timers off ("timer" is then
	// not in our Supported header).
	Expires time.Duration
	// MinSE is the shortest interval we accept (RFC 4028 §5): a shorter
	// Session-Expires is answered 422 with this Min-SE. RFC 4028 forbids
	// less than 90 s; config enforces it, tests use less.
	MinSE time.Duration
}

const (
	refresherUAC = "uac"
	refresherUAS = "uas"
	// causeSessionTimer ends a leg whose session was not refreshed in time,
	// or whose refresh the far end said it does not know (408, 481).
	causeSessionTimer = "session-timer"
)

// sessionTerms is what one INVITE's offer/answer agreed on: the session
// interval (0: no session timer) and who refreshes it. The refresher
// parameter names a side by its role in the transaction that carries it
// ("uac" in a phone's re-INVITE is the phone, in ours it is us), so terms
// keep "us or them" instead.
type sessionTerms struct {
	interval  time.Duration
	weRefresh bool
	// peerTimer: the far end said Supported: timer, so our answer may
	// Require it (RFC 4028 §9).
	peerTimer bool
}

// refresherParam is the refresher parameter naming the refresher of t in a
// message of a transaction where we are the UAC (weAreUAC) or the UAS.
func (t sessionTerms) refresherParam(weAreUAC bool) string {
	if t.weRefresh == weAreUAC {
		return refresherUAC
	}
	return refresherUAS
}

// headerReader is a request or a response.
type headerReader interface {
	GetHeader(name string) sip.Header
	GetHeaders(name string) []sip.Header
}

// headerValue is the first of names (full and compact form) present in msg.
func headerValue(msg headerReader, names ...string) (string, bool) {
	for _, n := range names {
		if h := msg.GetHeader(n); h != nil {
			return h.Value(), true
		}
	}
	return "", false
}

// supportsTimer reports whether msg lists "timer" in Supported (compact k).
func supportsTimer(msg headerReader) bool {
	for _, name := range []string{"Supported", "k"} {
		for _, h := range msg.GetHeaders(name) {
			for _, opt := range strings.Split(h.Value(), ",") {
				if strings.EqualFold(strings.TrimSpace(opt), "timer") {
					return true
				}
			}
		}
	}
	return false
}

// parseDeltaSeconds reads the delta-seconds before any ";param" of a
// Session-Expires or Min-SE value, and the refresher parameter.
func parseDeltaSeconds(v string) (time.Duration, string, bool) {
	secs, params, _ := strings.Cut(v, ";")
	n, err := strconv.ParseUint(strings.TrimSpace(secs), 10, 32)
	if err != nil || n == 0 {
		return 0, "", false
	}
	refresher := ""
	for _, p := range strings.Split(params, ";") {
		if k, val, ok := strings.Cut(strings.TrimSpace(p), "="); ok && strings.EqualFold(strings.TrimSpace(k), "refresher") {
			refresher = strings.ToLower(strings.TrimSpace(val))
		}
	}
	return time.Duration(n) * time.Second, refresher, true
}

// negotiate decides the session timer of an INVITE we answer, initial or
// re-INVITE (RFC 4028 §9). tooSmall reports a Session-Expires below our
// Min-SE from a UAC that supports timers: it gets 422 and retries with
// ours (§7.3). A UAC that does not support timers cannot, so its interval
// is raised to our Min-SE instead, and we refresh. Without Session-Expires
// a UAC that supports timers gets ours; one that does not gets none, and
// only the RTP timeout watches its dialog.
func (cfg SessionTimers) negotiate(req *sip.Request) (terms sessionTerms, tooSmall bool) {
	if cfg.Expires <= 0 {
		return sessionTerms{}, false
	}
	terms.peerTimer = supportsTimer(req)
	floor := cfg.MinSE
	if v, ok := headerValue(req, "Min-SE"); ok {
		if minSE, _, ok := parseDeltaSeconds(v); ok && minSE > floor {
			floor = minSE
		}
	}
	v, ok := headerValue(req, "Session-Expires", "x")
	interval, refresher, valid := parseDeltaSeconds(v)
	switch {
	case ok && valid && interval < cfg.MinSE && terms.peerTimer:
		return terms, true
	case ok && valid:
		// We may shorten a long interval, never below anyone's Min-SE.
		interval = max(min(interval, cfg.Expires), floor)
	case terms.peerTimer:
		interval, refresher = max(cfg.Expires, floor), ""
	default:
		return sessionTerms{}, false
	}
	// Unnamed, we refresh, so a dead far end is found by our own re-INVITE
	// failing; a UAC that does not support timers cannot refresh (§9).
	terms.interval = interval
	terms.weRefresh = refresher != refresherUAC || !terms.peerTimer
	return terms, false
}

// headers are what our 2xx to a request of the far end carries for terms
// (RFC 4028 §9).
func (t sessionTerms) headers() []sip.Header {
	if t.interval == 0 {
		return nil
	}
	hs := []sip.Header{sip.NewHeader("Session-Expires", strconv.Itoa(int(t.interval/time.Second))+";refresher="+t.refresherParam(false))}
	if t.peerTimer {
		hs = append(hs, sip.NewHeader("Require", "timer"))
	}
	return hs
}

// answered reads the terms of a 2xx to an INVITE we sent (RFC 4028 §7.2):
// the answerer may set the interval (never below our Min-SE, so that a
// phone cannot make us refresh every second) and who refreshes; a 2xx
// without Session-Expires keeps cur.
func (cfg SessionTimers) answered(res *sip.Response, cur sessionTerms) sessionTerms {
	v, ok := headerValue(res, "Session-Expires", "x")
	if !ok {
		return cur
	}
	interval, refresher, ok := parseDeltaSeconds(v)
	if !ok {
		return cur
	}
	cur.interval = max(interval, cfg.MinSE)
	// We sent the INVITE: "uas" is the far end. A 2xx must name the
	// refresher (§9); without one we refresh, to be safe.
	cur.weRefresh = refresher != refresherUAS
	cur.peerTimer = true
	return cur
}

// minSEHeader is our Min-SE (RFC 4028 §5), for 422s and our refreshes.
func minSEHeader(d time.Duration) sip.Header {
	return sip.NewHeader("Min-SE", strconv.Itoa(int(d/time.Second)))
}

// Clock is what runs session timers: the wall clock, or a fake one in
// tests. It is not clock.Clock, so that sip imports nothing of ours but
// the guard; an adapter of a few lines makes a clock.Fake one.
type Clock interface {
	Now() time.Time
	// AfterFunc calls f on a goroutine of its own once d has elapsed;
	// stop cancels the call if it has not started.
	AfterFunc(d time.Duration, f func()) (stop func() bool)
}

// wallClock is the real Clock.
type wallClock struct{}

func (wallClock) Now() time.Time { return time.Now() }

func (wallClock) AfterFunc(d time.Duration, f func()) func() bool { return time.AfterFunc(d, f).Stop }

// sessionTimers are the settings for a new dialog.
func (s *Server) sessionTimers() SessionTimers {
	if s.hooks.SessionTimers != nil {
		return s.hooks.SessionTimers()
	}
	return s.cfg.SessionTimers
}

func (s *Server) clock() Clock {
	if s.cfg.Clock != nil {
		return s.cfg.Clock
	}
	return wallClock{}
}

// supported is our Supported header's value (RFC 3261 §20.37).
func (cfg SessionTimers) supported() string {
	if cfg.Expires > 0 {
		return "timer"
	}
	return ""
}

// responseHeaders are what our 2xx to an INVITE carries for session
// timers: Supported: timer whenever they are on, and terms' headers.
func (cfg SessionTimers) responseHeaders(terms sessionTerms) []sip.Header {
	if cfg.Expires <= 0 {
		return nil
	}
	return append([]sip.Header{sip.NewHeader("Supported", cfg.supported())}, terms.headers()...)
}

// expiryAfter is how long after a refresh the side that does not refresh
// gives up: the interval minus min(32 s, a third of it) (RFC 4028 §10).
func expiryAfter(interval time.Duration) time.Duration {
	return interval - min(32*time.Second, interval/3)
}

// sessionLeg is a leg with a session timer: a caller's (we are UAS) or an
// agent's (we are UAC).
type sessionLeg interface {
	Done() <-chan struct{}
	// expire ends the leg from our side with a BYE, closing Done at once.
	expire(cause string)
	// refreshSession sends a refresh and returns the terms of its 2xx.
	refreshSession(terms sessionTerms) (sessionTerms, error)
}

// sessionTimer runs the session timer of one leg. Its goroutine (run)
// owns the schedule; re-INVITEs answered on SIP goroutines hand it their
// new terms through refreshed.
type sessionTimer struct {
	cfg  SessionTimers // the settings the dialog started with
	clk  Clock
	leg  sessionLeg
	log  *slog.Logger
	wake chan struct{} // cap 1: a refresh arrived or a timer fired

	mu      sync.Mutex
	pending *refresh // the newest refresh, not yet taken by run
}

// refresh is an INVITE of the dialog that succeeded, and when.
type refresh struct {
	terms sessionTerms
	at    time.Time
}

func newSessionTimer(cfg SessionTimers, clk Clock, leg sessionLeg, log *slog.Logger) *sessionTimer {
	return &sessionTimer{cfg: cfg, clk: clk, leg: leg, log: log, wake: make(chan struct{}, 1)}
}

func (st *sessionTimer) poke() {
	select {
	case st.wake <- struct{}{}:
	default:
	}
}

// refreshed tells run that an INVITE of the dialog succeeded with terms.
func (st *sessionTimer) refreshed(terms sessionTerms) {
	st.mu.Lock()
	st.pending = &refresh{terms: terms, at: st.clk.Now()}
	st.mu.Unlock()
	st.poke()
}

func (st *sessionTimer) hasPending() bool {
	st.mu.Lock()
	defer st.mu.Unlock()
	return st.pending != nil
}

func (st *sessionTimer) take() (refresh, bool) {
	st.mu.Lock()
	defer st.mu.Unlock()
	if st.pending == nil {
		return refresh{}, false
	}
	r := *st.pending
	st.pending = nil
	return r, true
}

// run drives the session from the answer to the end of the leg: when we
// refresh, a re-INVITE at half the interval (RFC 4028 §10); when the far
// end does, the leg ends if no refresh comes before expiryAfter.
func (st *sessionTimer) run(terms sessionTerms) {
	log := st.log
	last := st.clk.Now() // last successful refresh (the answer counts)
	var retryAt time.Time
	for {
		if r, ok := st.take(); ok {
			terms, last, retryAt = r.terms, r.at, time.Time{}
		}
		if terms.interval == 0 {
			// A re-INVITE turned the timer off; a later one may turn it on.
			select {
			case <-st.wake:
				continue
			case <-st.leg.Done():
				return
			}
		}
		due, ours := last.Add(expiryAfter(terms.interval)), false
		if terms.weRefresh {
			due, ours = last.Add(terms.interval/2), true
			if !retryAt.IsZero() {
				due = retryAt
			}
			if expiry := last.Add(terms.interval); !due.Before(expiry) {
				due, ours = expiry, false
			}
		}
		stop := st.clk.AfterFunc(max(due.Sub(st.clk.Now()), 0), st.poke)
		select {
		case <-st.leg.Done():
			stop()
			return
		case <-st.wake:
			stop()
		}
		if st.hasPending() || st.clk.Now().Before(due) {
			continue // new terms, or a stale wake-up
		}
		if !ours {
			log.Warn("session expired: no refresh in time; ending the leg", "session_expires", terms.interval.String())
			st.leg.expire(causeSessionTimer)
			return
		}
		next, err := st.leg.refreshSession(terms)
		switch {
		case err != nil && isDone(st.leg.Done()):
			return // the leg ended while the refresh was out
		case err == nil:
			terms, last, retryAt = next, st.clk.Now(), time.Time{}
		case errors.Is(err, errDialogGone):
			log.Warn("session refresh failed: the far end lost the dialog; ending the leg", "err", err)
			st.leg.expire(causeSessionTimer)
			return
		default:
			// RFC 4028 §10: the session lives on until it expires; try
			// again halfway to the expiry.
			now := st.clk.Now()
			retryAt = now.Add(last.Add(terms.interval).Sub(now) / 2)
			log.Info("session refresh failed; will retry", "err", err, "retry_in", retryAt.Sub(now).Round(time.Second).String())
		}
	}
}

func isDone(ch <-chan struct{}) bool {
	select {
	case <-ch:
		return true
	default:
		return false
	}
}

// errDialogGone: the far end answered a refresh 408 or 481, or never
// answered: the dialog is dead (RFC 4028 §10, RFC 3261 §12.2.1.2).
var errDialogGone = errors.New("dialog gone")

// refreshTimeout bounds a refresh re-INVITE: Timer B (64·T1).
const refreshTimeout = 32 * time.Second

// sendRefresh sends a session refresh on a leg (RFC 4028 §10): a re-INVITE
// repeating our last SDP unchanged, so the session stays as it is (RFC
// 3264 §8 keeps the o= version), through do (the leg's dialog). It
// returns the terms of the answer, or errDialogGone when the far end no
// longer has the dialog. ctx is the leg's.
func (s *Server) sendRefresh(ctx context.Context, cfg SessionTimers, m *mediaSession, terms sessionTerms, target sip.Uri, transport string,
	do func(context.Context, *sip.Request) (*sip.Response, error)) (sessionTerms, error) {
	m.mu.Lock()
	if m.busy {
		m.mu.Unlock()
		// An INVITE of theirs is being answered: it refreshes the session
		// itself, and ours would cross it (RFC 3261 §14.1).
		return terms, errors.New("a re-INVITE is in progress")
	}
	m.busy, m.sending = true, true
	body := m.state.sdp
	m.mu.Unlock()
	defer func() {
		m.mu.Lock()
		m.busy, m.sending = false, false
		m.mu.Unlock()
	}()

	req := sip.NewRequest(sip.INVITE, target)
	req.AppendHeader(sip.NewHeader("Content-Type", "application/sdp"))
	// We send it and mean to go on refreshing: refresher=uac (§7.4).
	req.AppendHeader(sip.NewHeader("Session-Expires", strconv.Itoa(int(terms.interval/time.Second))+";refresher="+refresherUAC))
	req.AppendHeader(minSEHeader(cfg.MinSE))
	req.AppendHeader(sip.NewHeader("Supported", "timer"))
	req.AppendHeader(sip.NewHeader("Allow", allowHeader))
	req.SetBody(body)
	tctx, cancel := context.WithTimeout(ctx, refreshTimeout)
	defer cancel()
	s.metrics.request(sip.INVITE)
	res, err := do(tctx, req)
	switch {
	case err != nil && ctx.Err() != nil:
		return terms, err // the leg ended meanwhile
	case err != nil:
		return terms, fmt.Errorf("%w: refresh got no answer: %w", errDialogGone, err)
	case res.StatusCode == sip.StatusRequestTimeout || res.StatusCode == sip.StatusCallTransactionDoesNotExists:
		return terms, fmt.Errorf("%w: refresh answered %d", errDialogGone, res.StatusCode)
	case !res.IsSuccess():
		return terms, fmt.Errorf("refresh answered %d", res.StatusCode)
	}
	s.ackRefresh(req, transport)
	return cfg.answered(res, terms), nil
}

// ackRefresh acknowledges the 2xx to our refresh. It is built from the
// request rather than by the dialog, whose CSeq may have moved on since.
func (s *Server) ackRefresh(inv *sip.Request, transport string) {
	ack := sip.NewRequest(sip.ACK, inv.Recipient)
	for _, h := range []sip.Header{inv.From(), inv.To(), inv.CallID()} {
		ack.AppendHeader(sip.HeaderClone(h))
	}
	ack.AppendHeader(&sip.CSeqHeader{SeqNo: inv.CSeq().SeqNo, MethodName: sip.ACK})
	for _, h := range inv.GetHeaders("Route") {
		ack.AppendHeader(sip.HeaderClone(h))
	}
	maxFwd := sip.MaxForwardsHeader(70)
	ack.AppendHeader(&maxFwd)
	ack.SetDestination(inv.Destination())
	ack.SetTransport(inv.Transport())
	s.metrics.request(sip.ACK)
	if err := s.dialogUA(transport).Client.WriteRequest(ack); err != nil {
		s.log.Info("ack of session refresh", "call_id", callID(inv), "err", err)
	}
}

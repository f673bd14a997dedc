package sip

import (
	"errors"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/emiago/sipgo/sip"
	"github.com/hotline-cc/hotline/clock"
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
// interval (0: no session timer) and who refreshes it.
type sessionTerms struct {
	interval  time.Duration
	refresher string // refresherUAC (the far end) or refresherUAS (us)
	// uacTimer: the far end said Supported: timer, so our answer may
	// Require it (RFC 4028 §9).
	uacTimer bool
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
	terms.uacTimer = supportsTimer(req)
	floor := cfg.MinSE
	if v, ok := headerValue(req, "Min-SE"); ok {
		if minSE, _, ok := parseDeltaSeconds(v); ok && minSE > floor {
			floor = minSE
		}
	}
	v, ok := headerValue(req, "Session-Expires", "x")
	interval, refresher, valid := parseDeltaSeconds(v)
	switch {
	case ok && valid && interval < cfg.MinSE && terms.uacTimer:
		return terms, true
	case ok && valid:
		// We may shorten a long interval, never below anyone's Min-SE.
		interval = max(min(interval, cfg.Expires), floor)
	case terms.uacTimer:
		interval, refresher = max(cfg.Expires, floor), ""
	default:
		return sessionTerms{}, false
	}
	if refresher != refresherUAC || !terms.uacTimer {
		// Unnamed: we refresh, so a dead far end is found by our own
		// re-INVITE failing. A UAC that does not support timers cannot be
		// the refresher (§9).
		refresher = refresherUAS
	}
	terms.interval, terms.refresher = interval, refresher
	return terms, false
}

// headers are what our 2xx carries for terms (RFC 4028 §9).
func (t sessionTerms) headers() []sip.Header {
	if t.interval == 0 {
		return nil
	}
	hs := []sip.Header{sip.NewHeader("Session-Expires", strconv.Itoa(int(t.interval/time.Second))+";refresher="+t.refresher)}
	if t.uacTimer {
		hs = append(hs, sip.NewHeader("Require", "timer"))
	}
	return hs
}

// minSEHeader is our Min-SE (RFC 4028 §5), for 422s and our refreshes.
func minSEHeader(d time.Duration) sip.Header {
	return sip.NewHeader("Min-SE", strconv.Itoa(int(d/time.Second)))
}

// supported is our Supported header's value (RFC 3261 §20.37).
func (s *Server) supported() string {
	if s.cfg.SessionTimers.Expires > 0 {
		return "timer"
	}
	return ""
}

// supportedHeaders are what our 2xx to an INVITE carries for session
// timers: Supported: timer whenever they are on, and terms' headers.
func (s *Server) supportedHeaders(terms sessionTerms) []sip.Header {
	if s.cfg.SessionTimers.Expires <= 0 {
		return nil
	}
	return append([]sip.Header{sip.NewHeader("Supported", s.supported())}, terms.headers()...)
}

// expiryAfter is how long after a refresh the side that does not refresh
// gives up: the interval minus min(32 s, a third of it) (RFC 4028 §10).
func expiryAfter(interval time.Duration) time.Duration {
	return interval - min(32*time.Second, interval/3)
}

// sessionTimer runs the session timer of one caller's leg. Its goroutine
// (run) owns the schedule; re-INVITEs answered on SIP goroutines hand it
// their new terms through refreshed.
type sessionTimer struct {
	clk  clock.Clock
	leg  *InboundCall
	wake chan struct{} // cap 1: a refresh arrived or a timer fired

	mu      sync.Mutex
	pending *refresh // the newest refresh, not yet taken by run
}

// refresh is an INVITE of the dialog that succeeded, and when.
type refresh struct {
	terms sessionTerms
	at    time.Time
}

func newSessionTimer(clk clock.Clock, leg *InboundCall) *sessionTimer {
	return &sessionTimer{clk: clk, leg: leg, wake: make(chan struct{}, 1)}
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
	log := st.leg.log
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
		if terms.refresher == refresherUAS {
			due, ours = last.Add(terms.interval/2), true
			if !retryAt.IsZero() {
				due = retryAt
			}
			if expiry := last.Add(terms.interval); !due.Before(expiry) {
				due, ours = expiry, false
			}
		}
		timer := st.clk.AfterFunc(max(due.Sub(st.clk.Now()), 0), st.poke)
		select {
		case <-st.leg.Done():
			timer.Stop()
			return
		case <-st.wake:
			timer.Stop()
		}
		if st.hasPending() || st.clk.Now().Before(due) {
			continue // new terms, or a stale wake-up
		}
		if !ours {
			log.Warn("session expired: no refresh in time; ending the leg", "session_expires", terms.interval.String(), "refresher", terms.refresher)
			st.leg.expire(causeSessionTimer)
			return
		}
		next, err := st.leg.refreshSession(terms)
		switch {
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

// errDialogGone: the far end answered a refresh 408 or 481, or never
// answered: the dialog is dead (RFC 4028 §10, RFC 3261 §12.2.1.2).
var errDialogGone = errors.New("dialog gone")

// refreshTimeout bounds a refresh re-INVITE: Timer B (64·T1).
const refreshTimeout = 32 * time.Second

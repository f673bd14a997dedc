package sip

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/emiago/sipgo/sip"
)

// ReferRequest is a transfer asked for with an in-dialog REFER (RFC 3515):
// blind, or attended when Replaces is set.
type ReferRequest struct {
	// Target is the Refer-To URI's user part, unescaped; only
	// [0-9A-Za-z+*#._-], at most 64. It may be empty for an attended
	// transfer: the dialog Replaces names says who the target is.
	Target     string
	URI        string // the full Refer-To URI, for logs
	ReferredBy string // the Referred-By header's value, if any (RFC 3892)
	// Replaces, for an attended transfer (RFC 5589 §7), names the dialog
	// the transferor has with the transfer target: the transferee's
	// session is to replace it (RFC 3891).
	Replaces *Replaces
}

// Replaces identifies a dialog (RFC 3891 §6.1): its Call-ID and the tags of
// its two ends. The RFC has to-tag be the local tag of the UA that matches
// it; phones get this wrong both ways, so matching accepts either order.
type Replaces struct {
	CallID, ToTag, FromTag string
	// EarlyOnly: replace the dialog only while it is not confirmed.
	EarlyOnly bool
}

// parseReplaces reads a Replaces header value (escaped, as in a Refer-To
// URI's headers): callid;to-tag=X;from-tag=Y[;early-only].
func parseReplaces(escaped string) (*Replaces, bool) {
	v, err := url.PathUnescape(escaped)
	if err != nil {
		return nil, false
	}
	parts := strings.Split(v, ";")
	r := &Replaces{CallID: strings.TrimSpace(parts[0])}
	for _, p := range parts[1:] {
		name, value, _ := strings.Cut(strings.TrimSpace(p), "=")
		switch strings.ToLower(name) {
		case "to-tag":
			r.ToTag = value
		case "from-tag":
			r.FromTag = value
		case "early-only":
			r.EarlyOnly = true
		}
	}
	if r.CallID == "" || r.ToTag == "" || r.FromTag == "" || len(v) > 512 {
		return nil, false
	}
	return r, true
}

// matchesDialog reports whether r names the dialog whose sipgo ID is id
// (Call-ID, local tag, remote tag), with the tags in either order.
func (r *Replaces) matchesDialog(id string) bool {
	return r != nil && (id == sip.DialogIDMake(r.CallID, r.ToTag, r.FromTag) || id == sip.DialogIDMake(r.CallID, r.FromTag, r.ToTag))
}

// IsDialog reports whether r names this leg's dialog.
func (c *InboundCall) IsDialog(r *Replaces) bool { return r.matchesDialog(c.session.ID) }

// IsDialog reports whether r names this leg's dialog.
func (c *OutboundCall) IsDialog(r *Replaces) bool { return r.matchesDialog(c.session.ID) }

// Errors of NotifyRefer.
var (
	// ErrNoReferSubscription: no accepted REFER waits for a NOTIFY (none was
	// accepted, or its final NOTIFY was already sent).
	ErrNoReferSubscription = errors.New("sip: no active refer subscription")
	// ErrLegEnded: the leg's dialog is over.
	ErrLegEnded = errors.New("sip: leg ended")
)

// referSubscriptionExpires is what our provisional NOTIFYs announce (RFC 3515
// §2.4.4 lets the notifier pick it).
const referSubscriptionExpires = 60

// referTargetMax bounds ReferRequest.Target.
const referTargetMax = 64

// referSession is the REFER state of one leg (either type). A leg has at most
// one implicit subscription (RFC 3515 §2.4.4) at a time: a REFER while one is
// active gets 491.
type referSession struct {
	log *slog.Logger
	// do sends an in-dialog request; target is the peer's remote target.
	do     func(ctx context.Context, req *sip.Request) (*sip.Response, error)
	target func() sip.Uri
	done   <-chan struct{} // closed when the dialog ends
	count  func(method sip.RequestMethod)

	// send serializes NOTIFYs so they leave in order (the automatic 100 Trying
	// first); it is a one-slot semaphore so that waiting honours ctx.
	send chan struct{}

	mu      sync.Mutex
	onRefer func(ReferRequest) bool
	id      uint32 // CSeq of the accepted REFER whose subscription is active; 0 none
}

func (r *referSession) init(log *slog.Logger, done <-chan struct{}, count func(sip.RequestMethod),
	do func(context.Context, *sip.Request) (*sip.Response, error), target func() sip.Uri) {
	r.log, r.done, r.count, r.do, r.target = log, done, count, do, target
	r.send = make(chan struct{}, 1)
}

func (r *referSession) setOnRefer(f func(ReferRequest) bool) {
	r.mu.Lock()
	r.onRefer = f
	r.mu.Unlock()
}

// parseReferTo validates a REFER's Refer-To (RFC 3515 §2.1, §2.4.1): status 0
// and the request when it is a blind transfer we can take; else the status to
// answer and why.
func parseReferTo(req *sip.Request) (ReferRequest, int, string) {
	var values []string
	for _, name := range []string{"Refer-To", "r"} {
		for _, h := range req.GetHeaders(name) {
			values = append(values, h.Value())
		}
	}
	if len(values) != 1 {
		return ReferRequest{}, 400, fmt.Sprintf("%d Refer-To headers", len(values))
	}
	var uri sip.Uri
	params := sip.NewParams()
	if _, err := sip.ParseAddressValue(values[0], &uri, &params); err != nil {
		return ReferRequest{}, 400, "unparsable Refer-To"
	}
	rr := ReferRequest{URI: uri.String()}
	if s := strings.ToLower(uri.Scheme); s != "sip" && s != "sips" {
		return rr, 400, "Refer-To is not a SIP URI"
	}
	if uri.Headers != nil {
		if v, ok := uri.Headers.Get("Replaces"); ok {
			r, ok := parseReplaces(v)
			if !ok {
				return rr, 400, "bad Replaces in Refer-To"
			}
			rr.Replaces = r
		}
	}
	user, err := url.PathUnescape(uri.User)
	switch {
	case err == nil && validReferTarget(user):
		rr.Target = user
	case rr.Replaces == nil || user != "":
		return rr, 400, "bad Refer-To user part"
	}
	if h := req.GetHeader("Referred-By"); h != nil {
		rr.ReferredBy = h.Value()
	} else if h := req.GetHeader("b"); h != nil {
		rr.ReferredBy = h.Value()
	}
	return rr, 0, ""
}

func validReferTarget(s string) bool {
	if s == "" || len(s) > referTargetMax {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c == '+' || c == '*' || c == '#' || c == '-' || c == '.' || c == '_') {
			return false
		}
	}
	return true
}

// onRefer answers an in-dialog REFER on either leg.
func (s *Server) onRefer(req *sip.Request, tx sip.ServerTransaction) {
	if why := malformed(req); why != "" {
		s.rejectMalformed(req, tx, why)
		return
	}
	in, out := s.legOf(req)
	switch {
	case in != nil && !in.Answered():
		// No confirmed dialog yet to send our NOTIFYs in.
		s.reply(req, tx, sip.StatusForbidden, "Forbidden (call not answered)")
		return
	case in != nil:
		if err := in.session.ReadRequest(req, tx); err != nil {
			s.reply(req, tx, sip.StatusInternalServerError, "Server Internal Error")
			return
		}
		s.answerRefer(&in.refer, req, tx)
		return
	case out != nil:
		s.answerRefer(&out.refer, req, tx)
		return
	}
	s.log.Info("refer outside a known dialog", "call_id", callID(req), "src", req.Source())
	s.reply(req, tx, sip.StatusCallTransactionDoesNotExists, "Call/Transaction Does Not Exist")
}

func (s *Server) answerRefer(r *referSession, req *sip.Request, tx sip.ServerTransaction) {
	rr, status, why := parseReferTo(req)
	if status != 0 {
		r.log.Info("refer refused", "sip_status", status, "reason", why, "refer_to", rr.URI)
		s.reply(req, tx, 400, "Bad Request ("+why+")")
		return
	}
	r.mu.Lock()
	f, active := r.onRefer, r.id != 0
	r.mu.Unlock()
	switch {
	case f == nil:
		r.log.Info("refer refused: leg takes no transfers", "sip_status", 501, "refer_to", rr.URI)
		s.reply(req, tx, 501, "Not Implemented")
		return
	case active:
		// One transfer at a time: the earlier one has not had its final NOTIFY.
		r.log.Info("refer refused: a transfer is in progress", "sip_status", 491, "refer_to", rr.URI)
		s.reply(req, tx, 491, "Request Pending")
		return
	}
	// Hold the NOTIFY slot, and make the subscription visible to NotifyRefer,
	// before the owner hears of the transfer: the owner may finish it at
	// once, and its final NOTIFY (and the BYE it sends after) must wait for
	// our 202 and the automatic 100 Trying (RFC 3515 §2.4.4), not find no
	// subscription and go first.
	r.send <- struct{}{}
	defer func() { <-r.send }()
	r.mu.Lock()
	if r.id != 0 {
		// A concurrent REFER was accepted first.
		r.mu.Unlock()
		s.reply(req, tx, 491, "Request Pending")
		return
	}
	id := req.CSeq().SeqNo
	if id == 0 {
		id = 1
	}
	r.id = id
	r.mu.Unlock()
	if !f(rr) {
		r.mu.Lock()
		r.id = 0
		r.mu.Unlock()
		r.log.Info("refer declined", "sip_status", 603, "target", rr.Target, "refer_to", rr.URI)
		s.reply(req, tx, 603, "Decline")
		return
	}
	r.log.Info("refer accepted", "target", rr.Target, "refer_to", rr.URI, "referred_by", rr.ReferredBy)
	s.reply(req, tx, 202, "Accepted")

	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := r.notify(ctx, id, 100, "Trying"); err != nil {
		r.log.Info("refer: initial notify failed", "err", err)
	}
}

// NotifyRefer reports the progress of the transfer accepted by the leg's OnRefer
// callback to the phone that asked for it, with an in-dialog NOTIFY (RFC 3515
// §2.4.4, §2.4.5): status and reason become the message/sipfrag body
// "SIP/2.0 <status> <reason>". A status below 200 keeps the subscription active;
// 200 and above end it (Subscription-State: terminated;reason=noresource), and a
// later REFER may then be accepted. The initial "100 Trying" is sent
// automatically right after the 202. A non-2xx answer (481 included) or a
// timeout is returned as an error; a final NOTIFY ends the subscription even
// then. ErrNoReferSubscription if no accepted REFER awaits a NOTIFY. Do not
// call it from within the OnRefer callback (the REFER is not accepted yet).
func (c *OutboundCall) NotifyRefer(ctx context.Context, status int, reason string) error {
	return c.refer.notifyOwner(ctx, status, reason)
}

// OnRefer registers f for the phone's blind transfer requests (in-dialog REFER,
// RFC 3515). f is called on a SIP goroutine before the REFER is answered and
// must not block: true accepts (202 Accepted, then a NOTIFY "100 Trying"),
// false declines (603). Without a callback REFER gets 501. The owner must then
// report the outcome with NotifyRefer.
func (c *OutboundCall) OnRefer(f func(ReferRequest) bool) { c.refer.setOnRefer(f) }

// OnRefer is OutboundCall.OnRefer for the caller's leg.
func (c *InboundCall) OnRefer(f func(ReferRequest) bool) { c.refer.setOnRefer(f) }

// NotifyRefer is OutboundCall.NotifyRefer for the caller's leg.
func (c *InboundCall) NotifyRefer(ctx context.Context, status int, reason string) error {
	return c.refer.notifyOwner(ctx, status, reason)
}

func (r *referSession) notifyOwner(ctx context.Context, status int, reason string) error {
	if status < 100 || status > 699 {
		return fmt.Errorf("sip: refer notify status %d out of range", status)
	}
	reason = strings.Map(func(c rune) rune {
		if c < 0x20 || c == 0x7f {
			return -1
		}
		return c
	}, reason)
	if r.send == nil {
		return ErrNoReferSubscription
	}
	select {
	case r.send <- struct{}{}:
	case <-ctx.Done():
		return ctx.Err()
	}
	defer func() { <-r.send }()
	r.mu.Lock()
	id := r.id
	if status >= 200 {
		r.id = 0
	}
	r.mu.Unlock()
	if id == 0 {
		return ErrNoReferSubscription
	}
	return r.notify(ctx, id, status, reason)
}

// notify sends one NOTIFY of the refer subscription id; the caller holds r.send.
func (r *referSession) notify(ctx context.Context, id uint32, status int, reason string) error {
	select {
	case <-r.done:
		return ErrLegEnded
	default:
	}
	req := sip.NewRequest(sip.NOTIFY, r.target())
	req.AppendHeader(sip.NewHeader("Event", "refer;id="+strconv.FormatUint(uint64(id), 10)))
	if status < 200 {
		req.AppendHeader(sip.NewHeader("Subscription-State", "active;expires="+strconv.Itoa(referSubscriptionExpires)))
	} else {
		req.AppendHeader(sip.NewHeader("Subscription-State", "terminated;reason=noresource"))
	}
	req.AppendHeader(sip.NewHeader("Content-Type", "message/sipfrag;version=2.0"))
	req.SetBody([]byte("SIP/2.0 " + strconv.Itoa(status) + " " + reason + "\r\n"))
	if r.count != nil {
		r.count(sip.NOTIFY)
	}
	res, err := r.do(ctx, req)
	if err != nil {
		return fmt.Errorf("refer notify %d: %w", status, err)
	}
	if !res.IsSuccess() {
		return fmt.Errorf("refer notify %d: answered %d %s", status, res.StatusCode, res.Reason)
	}
	return nil
}

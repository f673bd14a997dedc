package sip

import (
	"bytes"
	"errors"
	"log/slog"
	"math/rand/v2"
	"slices"
	"strconv"
	"sync"

	"github.com/emiago/sipgo/sip"
)

// errNoCommonCodec: an offer names no codec we support.
var errNoCommonCodec = errors.New("sdp: no common codec")

// mediaState is our side of a leg's SDP offer/answer exchanges (RFC 3264): what
// the last SDP we sent said, and the codec in use.
type mediaState struct {
	spec SessionSpec // what our last SDP said; spec.SessionVersion is its o= version
	sdp  []byte      // our last SDP; nil until we sent one
	pt   uint8       // the codec in use
}

// mediaSession is the mediaState of one leg with what answering its re-INVITEs
// needs. Both leg types have one; re-INVITEs come on SIP goroutines while the
// leg's owner reads the codec from its own, hence the mutex.
type mediaSession struct {
	log     *slog.Logger
	contact sip.ContactHeader // our Contact in this dialog (RFC 3261 §12.1.1)

	mu        sync.Mutex
	state     mediaState
	busy      bool // a re-INVITE is being answered or sent
	sending   bool // ours is being sent (a session refresh)
	onReoffer func(MediaOffer)
}

func (m *mediaSession) set(st mediaState) {
	m.mu.Lock()
	m.state = st
	m.mu.Unlock()
}

func (m *mediaSession) payloadType() uint8 {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.state.pt
}

func (m *mediaSession) setOnReoffer(f func(MediaOffer)) {
	m.mu.Lock()
	m.onReoffer = f
	m.mu.Unlock()
}

// answerDirection is our direction for an offer's (RFC 3264 §6.1): the mirror of
// it, since our endpoint always can send and receive. An unspecified connection
// address (the RFC 2543 hold, RFC 3264 §8.4) means the offerer will not receive,
// whatever its attribute says.
func answerDirection(o MediaOffer) Direction {
	dir := o.Direction
	if o.Addr.Addr().IsUnspecified() {
		switch dir {
		case DirectionRecvOnly:
			dir = DirectionInactive
		case DirectionSendRecv, DirectionUnknown:
			dir = DirectionSendOnly
		}
	}
	switch dir {
	case DirectionSendOnly:
		return DirectionRecvOnly
	case DirectionRecvOnly:
		return DirectionSendOnly
	case DirectionInactive:
		return DirectionInactive
	}
	return DirectionSendRecv
}

// reanswer builds our answer to an offer made inside an established session
// (RFC 3264 §8) and the state it leaves. The answer names one codec: the one in
// use if the offer still has it (no needless codec change mid-call), else the
// first of the offer's that we support; errNoCommonCodec if none. Our address
// and port never change: the leg keeps its RTP endpoint. The o= version goes up
// by one exactly when the SDP differs from the last one we sent (RFC 3264 §8),
// so a session refresh gets the same SDP back.
func reanswer(cur mediaState, offer MediaOffer) (mediaState, error) {
	pt := cur.pt
	if !slices.Contains(offer.PayloadTypes, pt) || !slices.Contains(supportedPayloads, pt) {
		var ok bool
		if pt, ok = Negotiate(offer, supportedPayloads...); !ok {
			return cur, errNoCommonCodec
		}
	}
	next := cur
	next.pt = pt
	next.spec.PayloadTypes = []uint8{pt}
	next.spec.DTMFPayloadType = offer.DTMFPayloadType
	next.spec.Direction = answerDirection(offer)
	next.spec.Streams, next.spec.AudioStream = offer.Streams, offer.AudioStream
	body, err := BuildSDP(next.spec)
	if err != nil {
		return cur, err
	}
	if !bytes.Equal(body, cur.sdp) {
		next.spec.SessionVersion++
		if body, err = BuildSDP(next.spec); err != nil {
			return cur, err
		}
	}
	next.sdp = body
	return next, nil
}

// onReinvite answers an in-dialog INVITE (hold, resume, codec or address change,
// session refresh) on either leg and tells the leg's owner about the new offer.
func (s *Server) onReinvite(req *sip.Request, tx sip.ServerTransaction) {
	switch in, out := s.legOf(req); {
	case in != nil:
		if err := in.session.ReadRequest(req, tx); err != nil {
			// A CSeq lower than the last one (RFC 3261 §12.2.2).
			s.reply(req, tx, sip.StatusInternalServerError, "Server Internal Error")
			return
		}
		s.answerTimedReinvite(&in.media, in.timer, req, tx)
	case out != nil:
		// No CSeq check here: the agent's requests have their own CSeq space,
		// which sipgo's client dialog seeds with ours.
		s.answerTimedReinvite(&out.media, out.timer, req, tx)
	default:
		s.reply(req, tx, sip.StatusCallTransactionDoesNotExists, "Call/Transaction Does Not Exist")
	}
}

// answerTimedReinvite answers a re-INVITE on a leg whose session timer is
// st (nil: none). Any accepted INVITE of the dialog refreshes its session
// (RFC 4028 §10), and may change its interval or refresher.
func (s *Server) answerTimedReinvite(m *mediaSession, st *sessionTimer, req *sip.Request, tx sip.ServerTransaction) {
	if st == nil {
		s.answerReinvite(m, req, tx, nil, nil)
		return
	}
	terms, tooSmall := st.cfg.negotiate(req)
	if tooSmall {
		s.reply(req, tx, 422, "Session Interval Too Small", minSEHeader(st.cfg.MinSE))
		return
	}
	s.answerReinvite(m, req, tx, st.cfg.responseHeaders(terms), func() { st.refreshed(terms) })
}

// legOf finds the leg an in-dialog request belongs to: a caller's leg (we
// are its UAS) or an agent leg (we are its UAC); both nil for neither.
func (s *Server) legOf(req *sip.Request) (*InboundCall, *OutboundCall) {
	if id, err := sip.DialogIDFromRequestUAS(req); err == nil {
		if v, ok := s.inbound.Load(id); ok {
			return v.(*InboundCall), nil
		}
	}
	if id, err := sip.DialogIDFromRequestUAC(req); err == nil {
		if v, ok := s.outbound.Load(id); ok {
			return nil, v.(*OutboundCall)
		}
	}
	return nil, nil
}

// answerReinvite answers a re-INVITE; an accepted one gets headers added
// to its 2xx, and accepted (if not nil) is called before the 2xx leaves,
// so that whatever the far end does next finds it done.
func (s *Server) answerReinvite(m *mediaSession, req *sip.Request, tx sip.ServerTransaction, headers []sip.Header, accepted func()) {
	m.mu.Lock()
	if m.sending {
		m.mu.Unlock()
		// Our session refresh crosses theirs (RFC 3261 §14.2): glare.
		s.reply(req, tx, sip.StatusRequestPending, "Request Pending")
		return
	}
	if m.busy || m.state.sdp == nil {
		m.mu.Unlock()
		// RFC 3261 §14.2: an INVITE while another one of the dialog has no final
		// response yet (a re-INVITE, or the initial INVITE we have not answered)
		// gets 500 with a Retry-After of 0 to 10 seconds.
		s.reply(req, tx, sip.StatusInternalServerError, "Server Internal Error",
			sip.NewHeader("Retry-After", strconv.Itoa(rand.IntN(11))))
		return
	}
	m.busy = true
	cur, notify := m.state, m.onReoffer
	m.mu.Unlock()
	// done ends the re-INVITE before its final response leaves: the peer may send
	// the next one as soon as it has our response.
	done := func() {
		m.mu.Lock()
		m.busy = false
		m.mu.Unlock()
	}

	body := cur.sdp
	if len(req.Body()) > 0 {
		offer, err := ParseSDP(req.Body())
		if err != nil {
			// RFC 3261 §14.2: a refused offer leaves the session as it was.
			m.log.Warn("re-invite with unusable sdp", "err", err, "sip_status", 488)
			done()
			s.reply(req, tx, sip.StatusNotAcceptableHere, "Not Acceptable Here")
			return
		}
		next, err := reanswer(cur, offer)
		if err != nil {
			m.log.Warn("re-invite with no common codec", "err", err, "sip_status", 488, "offered", payloadList(offer.PayloadTypes))
			done()
			s.reply(req, tx, sip.StatusNotAcceptableHere, "Not Acceptable Here",
				sip.NewHeader("Warning", `304 hotline "Media type not available"`))
			return
		}
		m.set(next)
		body = next.sdp
		offer.PayloadType = next.pt
		m.log.Debug("re-invite answered", "codec", int(next.pt), "direction", next.spec.Direction.String(), "held", offer.Held(), "remote", offer.Addr.String())
		if notify != nil {
			notify(offer)
		}
	}
	// Without an offer (RFC 3261 §14.2) the 200 carries ours: the SDP we last sent,
	// which describes the session as it is. The answer in the ACK is not read.
	res := sip.NewSDPResponseFromRequest(req, body)
	// A 2xx to a target refresh request carries our Contact (RFC 3261 §12.1.1, §14.2).
	res.AppendHeader(m.contact.Clone())
	for _, h := range headers {
		res.AppendHeader(h)
	}
	if accepted != nil {
		accepted()
	}
	done()
	s.send(tx, res)
}

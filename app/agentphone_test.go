package app_test

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"math"
	"net"
	"net/url"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/emiago/sipgo"
	"github.com/emiago/sipgo/sip"

	"github.com/hotline-cc/hotline/internal/sipptest"
	"github.com/hotline-cc/hotline/internal/tlstest"
	hsip "github.com/hotline-cc/hotline/sip"
)

// agentPhone is an agent's softphone that can hold two dialogs at once (SIPp
// cannot): a sipgo user agent that registers from one fixed UDP socket and
// sends every later request from it too. That matters: hotline knows a
// registered phone's own calls (a consultation) by the address it registered
// from. Hotline's requests to the phone arrive on that same socket; sipgo
// hands them to the server handlers registered on the UA, no listener needed.
//
// Each call it answers or places sends a tone (the agent speaking: 2 kHz
// unless made with newAgentPhoneTone) and keeps what it hears.
type agentPhone struct {
	t      *testing.T
	h      *hotline
	user   string
	port   int // the one local UDP port, 127.0.0.1
	client *sipgo.Client
	dua    sipgo.DialogUA
	// reject, when not 0, is the status the phone answers calls with
	// instead of picking up (486: busy).
	reject int
	// tone is the frequency (Hz) the phone's agent speaks in every call.
	tone float64
	// overTLS: the phone speaks SIP over TLS to hotline's TLS listener
	// from a connection of its own (no listener: hotline reaches it only
	// over that connection); otherwise UDP from port.
	overTLS bool

	answered chan *phoneCall  // calls from hotline, once picked up and acknowledged
	rejected chan string      // Call-IDs of the calls it refused
	notifies chan phoneNotify // NOTIFYs received (refer progress)
	mu       sync.Mutex
	calls    map[string]*phoneCall // by Call-ID, both directions
}

// phoneCall is one dialog of the phone: hotline called it (in) or it called
// hotline (out).
type phoneCall struct {
	in    *sipgo.DialogServerSession
	out   *sipgo.DialogClientSession
	voice *supervisorSession // speaks the phone's tone, keeps what it hears
	rtp   *net.UDPConn
	ended chan struct{} // closed when hotline hangs the dialog up
}

// phoneNotify is a NOTIFY the phone received.
type phoneNotify struct {
	callID, event, state, body string
}

// agentTone is what the Go phone's agent says: 2 kHz, told apart from the
// SIPp agents' 1 kHz and the carrier caller's 440 Hz.
const agentTone = 2000

// newAgentPhone makes user's phone (password demoUSER) and registers it;
// its agent speaks agentTone.
func newAgentPhone(t *testing.T, h *hotline, user string, reject int) *agentPhone {
	t.Helper()
	return newAgentPhoneTone(t, h, user, reject, agentTone)
}

// newAgentPhoneTone is newAgentPhone with an agent who speaks tone Hz
// (choose one exact at 8 kHz, such as 1000 or 2000, and apart from the
// other parties' tones).
func newAgentPhoneTone(t *testing.T, h *hotline, user string, reject int, tone float64) *agentPhone {
	t.Helper()
	return newAgentPhoneOver(t, h, user, reject, tone, nil)
}

// newTLSAgentPhone is newAgentPhone over TLS, trusting ca.
func newTLSAgentPhone(t *testing.T, h *hotline, user string, ca *tlstest.CA) *agentPhone {
	t.Helper()
	return newAgentPhoneOver(t, h, user, 0, agentTone, ca.ClientConfig(nil))
}

// newAgentPhoneOver makes the phone; a non-nil clientTLS makes it speak
// TLS with that configuration.
func newAgentPhoneOver(t *testing.T, h *hotline, user string, reject int, tone float64, clientTLS *tls.Config) *agentPhone {
	t.Helper()
	p := &agentPhone{
		t: t, h: h, user: user, reject: reject, tone: tone, port: sipptest.FreeUDPPort(t), overTLS: clientTLS != nil,
		answered: make(chan *phoneCall, 4), rejected: make(chan string, 4), notifies: make(chan phoneNotify, 8),
		calls: map[string]*phoneCall{},
	}
	ua, err := sipgo.NewUA(sipgo.WithUserAgent("agent-phone-"+user), sipgo.WithUserAgenTLSConfig(clientTLS))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ua.Close() })
	srv, err := sipgo.NewServer(ua)
	if err != nil {
		t.Fatal(err)
	}
	srv.OnInvite(p.onInvite)
	srv.OnAck(p.onAck)
	srv.OnBye(p.onBye)
	srv.OnNotify(p.onNotify)
	srv.OnOptions(func(req *sip.Request, tx sip.ServerTransaction) {
		_ = tx.Respond(sip.NewResponseFromRequest(req, 200, "OK", nil))
	})
	clientOpts := []sipgo.ClientOption{sipgo.WithClientHostname("127.0.0.1")}
	contact := sip.Uri{Scheme: "sip", User: user, Host: "127.0.0.1", Port: p.port}
	if p.overTLS {
		// The Contact's port listens nowhere on TCP: a phone behind NAT.
		contact.UriParams = sip.NewParams()
		contact.UriParams.Add("transport", "tls")
	} else {
		clientOpts = append(clientOpts, sipgo.WithClientConnectionAddr(fmt.Sprintf("127.0.0.1:%d", p.port)))
	}
	if p.client, err = sipgo.NewClient(ua, clientOpts...); err != nil {
		t.Fatal(err)
	}
	p.dua = sipgo.DialogUA{Client: p.client, ContactHDR: sip.ContactHeader{Address: contact}}
	p.register()
	return p
}

// hotlineURI is user at hotline, over the phone's transport.
func (p *agentPhone) hotlineURI(user string) sip.Uri {
	if p.overTLS {
		u := sip.Uri{Scheme: "sip", User: user, Host: p.h.app.SIPTLSAddr.Addr().String(), Port: int(p.h.app.SIPTLSAddr.Port()), UriParams: sip.NewParams()}
		u.UriParams.Add("transport", "tls")
		return u
	}
	return sip.Uri{Scheme: "sip", User: user, Host: p.h.app.SIPAddr.Addr().String(), Port: int(p.h.app.SIPAddr.Port())}
}

// aor is user's address of record at hotline, for From and To: no port,
// no parameters.
func (p *agentPhone) aor(user string) sip.Uri {
	return sip.Uri{Scheme: "sip", User: user, Host: p.h.app.SIPAddr.Addr().String()}
}

// local pins a request to the phone's socket (sipgo's dialog requests do
// not apply the client's connection address themselves). Over TLS the
// phone's one connection is found by hotline's address.
func (p *agentPhone) local(req *sip.Request) *sip.Request {
	if !p.overTLS {
		req.Laddr = sip.Addr{IP: net.IPv4(127, 0, 0, 1), Port: p.port}
	}
	return req
}

// register binds the phone's contact, answering hotline's digest challenge.
func (p *agentPhone) register() {
	p.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	aor := p.aor(p.user)
	req := p.local(sip.NewRequest(sip.REGISTER, p.hotlineURI("")))
	from := &sip.FromHeader{Address: aor, Params: sip.NewParams()}
	from.Params.Add("tag", sip.GenerateTagN(8))
	req.AppendHeader(from)
	req.AppendHeader(&sip.ToHeader{Address: aor, Params: sip.NewParams()})
	req.AppendHeader(sip.HeaderClone(&p.dua.ContactHDR))
	req.AppendHeader(sip.NewHeader("Expires", "600"))
	res, err := p.client.Do(ctx, req)
	if err == nil && res.StatusCode == 401 {
		res, err = p.client.DoDigestAuth(ctx, req, res, sipgo.DigestAuth{Username: p.user, Password: "demo" + p.user})
	}
	if err != nil || res.StatusCode != 200 {
		p.t.Fatalf("phone %s REGISTER: %v %v", p.user, res, err)
	}
}

// newCall opens the call's RTP socket and starts talking to and listening
// on it once the remote address is known.
func (p *agentPhone) newCall() *phoneCall {
	rtp, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		p.t.Error(err)
		return nil
	}
	p.t.Cleanup(func() { rtp.Close() })
	return &phoneCall{rtp: rtp, ended: make(chan struct{}), voice: &supervisorSession{heard: make(chan []int16, 500), tone: p.tone}}
}

// sdp is the phone's offer or answer for c with direction (sendrecv,
// sendonly: holding the other side).
func (c *phoneCall) sdp(direction string) []byte {
	port := c.rtp.LocalAddr().(*net.UDPAddr).Port
	return []byte(fmt.Sprintf("v=0\r\no=- 1 %d IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\n"+
		"m=audio %d RTP/AVP 0 101\r\na=rtpmap:0 PCMU/8000\r\na=rtpmap:101 telephone-event/8000\r\na=%s\r\n",
		time.Now().UnixNano(), port, direction))
}

// talk starts the call's media towards hotline's SDP; it runs until the
// socket closes (the test's end) or ten seconds of tone have gone.
func (c *phoneCall) talk(t *testing.T, hotlineSDP []byte) {
	answer, err := hsip.ParseSDP(hotlineSDP)
	if err != nil {
		t.Errorf("hotline's SDP: %v", err)
		return
	}
	go c.voice.receive(c.rtp)
	go c.voice.speak(context.Background(), c.rtp, answer.Addr)
}

func (p *agentPhone) track(callID string, c *phoneCall) {
	p.mu.Lock()
	p.calls[callID] = c
	p.mu.Unlock()
}

func (p *agentPhone) call(callID string) *phoneCall {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.calls[callID]
}

// onInvite picks up hotline's calls (180, 200, waits for the ACK), or
// refuses them with p.reject. A re-INVITE gets the call's SDP back.
func (p *agentPhone) onInvite(req *sip.Request, tx sip.ServerTransaction) {
	if _, hasTag := req.To().Params.Get("tag"); hasTag {
		if c := p.call(req.CallID().Value()); c != nil {
			_ = tx.Respond(sip.NewSDPResponseFromRequest(req, c.sdp("sendrecv")))
			return
		}
		_ = tx.Respond(sip.NewResponseFromRequest(req, 481, "Call/Transaction Does Not Exist", nil))
		return
	}
	if p.reject != 0 {
		_ = tx.Respond(sip.NewResponseFromRequest(req, p.reject, "Busy Here", nil))
		p.rejected <- req.CallID().Value()
		return
	}
	c := p.newCall()
	if c == nil {
		return
	}
	sess, err := p.dua.ReadInvite(req, tx)
	if err != nil {
		p.t.Errorf("phone %s: INVITE: %v", p.user, err)
		return
	}
	c.in = sess
	p.track(req.CallID().Value(), c)
	_ = sess.Respond(180, "Ringing", nil)
	if err := sess.RespondSDP(c.sdp("sendrecv")); err != nil {
		p.t.Errorf("phone %s: answer: %v", p.user, err)
		return
	}
	c.talk(p.t, req.Body())
	p.answered <- c
}

func (p *agentPhone) onAck(req *sip.Request, tx sip.ServerTransaction) {
	if c := p.call(req.CallID().Value()); c != nil && c.in != nil {
		_ = c.in.ReadAck(req, tx)
	}
}

func (p *agentPhone) onBye(req *sip.Request, tx sip.ServerTransaction) {
	c := p.call(req.CallID().Value())
	var err error
	switch {
	case c == nil:
		err = errors.New("unknown dialog")
	case c.in != nil:
		err = c.in.ReadBye(req, tx)
	default:
		err = c.out.ReadBye(req, tx)
	}
	if err != nil {
		_ = tx.Respond(sip.NewResponseFromRequest(req, 481, "Call/Transaction Does Not Exist", nil))
		return
	}
	close(c.ended)
}

// onNotify records a NOTIFY before answering it: hotline sends the next
// NOTIFY of a subscription only once this one is answered, and sipgo runs
// each request on its own goroutine, so recording after the answer could
// put the next one first.
func (p *agentPhone) onNotify(req *sip.Request, tx sip.ServerTransaction) {
	n := phoneNotify{callID: req.CallID().Value(), body: strings.TrimSpace(string(req.Body()))}
	if h := req.GetHeader("Event"); h != nil {
		n.event = h.Value()
	}
	if h := req.GetHeader("Subscription-State"); h != nil {
		n.state = h.Value()
	}
	p.notifies <- n
	_ = tx.Respond(sip.NewResponseFromRequest(req, 200, "OK", nil))
}

// pickUp waits for the next call hotline offers the phone, picked up.
func (p *agentPhone) pickUp(within time.Duration) *phoneCall {
	p.t.Helper()
	select {
	case c := <-p.answered:
		return c
	case <-time.After(within):
		p.t.Fatalf("phone %s: no call within %s", p.user, within)
		return nil
	}
}

// dial calls user at hotline from the phone (digest as the phone's user),
// offering SDP; it fails the test unless hotline answers.
func (p *agentPhone) dial(user string) *phoneCall {
	p.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	c := p.newCall()
	req := p.local(sip.NewRequest(sip.INVITE, p.hotlineURI(user)))
	from := &sip.FromHeader{Address: p.aor(p.user), Params: sip.NewParams()}
	from.Params.Add("tag", sip.GenerateTagN(8))
	req.AppendHeader(from)
	req.AppendHeader(sip.NewHeader("Content-Type", "application/sdp"))
	req.SetBody(c.sdp("sendrecv"))
	sess, err := p.dua.WriteInvite(ctx, req)
	if err != nil {
		p.t.Fatal(err)
	}
	c.out = sess
	p.track(req.CallID().Value(), c)
	if err := sess.WaitAnswer(ctx, sipgo.AnswerOptions{Username: p.user, Password: "demo" + p.user}); err != nil {
		p.t.Fatalf("phone %s dials %s: %v", p.user, user, err)
	}
	if err := sess.Ack(ctx); err != nil {
		p.t.Fatal(err)
	}
	c.talk(p.t, sess.InviteResponse.Body())
	return c
}

// request sends an in-dialog request on c and returns the final status.
func (p *agentPhone) request(c *phoneCall, method sip.RequestMethod, body []byte, headers ...sip.Header) int {
	p.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	req := p.local(sip.NewRequest(method, c.remoteTarget()))
	for _, h := range headers {
		req.AppendHeader(h)
	}
	if body != nil {
		req.AppendHeader(sip.NewHeader("Content-Type", "application/sdp"))
		req.SetBody(body)
	}
	var res *sip.Response
	var err error
	if c.in != nil {
		res, err = c.in.Do(ctx, req)
	} else {
		res, err = c.out.Do(ctx, req)
	}
	if err != nil {
		p.t.Fatalf("phone %s %s: %v", p.user, method, err)
	}
	if method == sip.INVITE && res.IsSuccess() {
		ack := p.local(sip.NewRequest(sip.ACK, c.remoteTarget()))
		if c.in != nil {
			err = c.in.WriteRequest(ack)
		} else {
			err = c.out.WriteRequest(ack)
		}
		if err != nil {
			p.t.Fatal(err)
		}
	}
	return res.StatusCode
}

// hold re-INVITEs c with sendonly (true) or sendrecv (false).
func (p *agentPhone) hold(c *phoneCall, held bool) {
	p.t.Helper()
	dir := "sendrecv"
	if held {
		dir = "sendonly"
	}
	if status := p.request(c, sip.INVITE, c.sdp(dir)); status != 200 {
		p.t.Fatalf("phone %s: re-INVITE %s answered %d", p.user, dir, status)
	}
}

// refer sends REFER on c asking hotline to replace the dialog replaces
// names (RFC 5589 §7) with c's far end; it returns the REFER's status.
func (p *agentPhone) refer(c *phoneCall, target, replaces string) int {
	p.t.Helper()
	u := p.hotlineURI(target)
	referTo := fmt.Sprintf("<sip:%s@%s:%d?Replaces=%s>", target, u.Host, u.Port, url.QueryEscape(replaces))
	return p.request(c, sip.REFER, nil, sip.NewHeader("Refer-To", referTo),
		sip.NewHeader("Referred-By", fmt.Sprintf("<sip:%s@%s>", p.user, u.Host)))
}

// hangUp sends BYE on c.
func (p *agentPhone) hangUp(c *phoneCall) {
	p.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	bye := p.local(sip.NewRequest(sip.BYE, c.remoteTarget()))
	var err error
	if c.in != nil {
		err = c.in.WriteBye(ctx, bye)
	} else {
		err = c.out.WriteBye(ctx, bye)
	}
	if err != nil {
		p.t.Fatalf("phone %s BYE: %v", p.user, err)
	}
}

// waitNotify waits for a refer NOTIFY on callID and returns its sipfrag.
func (p *agentPhone) waitNotify(callID string) phoneNotify {
	p.t.Helper()
	deadline := time.After(5 * time.Second)
	for range 10 {
		select {
		case n := <-p.notifies:
			if n.callID != callID || !strings.HasPrefix(n.event, "refer") {
				p.t.Errorf("phone %s: NOTIFY %+v, want a refer NOTIFY on %s", p.user, n, callID)
				continue
			}
			return n
		case <-deadline:
			p.t.Fatalf("phone %s: no refer NOTIFY on %s", p.user, callID)
		}
	}
	p.t.Fatalf("phone %s: too many stray NOTIFYs", p.user)
	return phoneNotify{}
}

// waitEnded waits for hotline's BYE on c.
func (c *phoneCall) waitEnded(t *testing.T, what string) {
	t.Helper()
	select {
	case <-c.ended:
	case <-time.After(5 * time.Second):
		t.Fatalf("hotline did not hang up %s", what)
	}
}

// callID, remoteTarget and replaces read the dialog: its Call-ID, hotline's
// Contact, and the Replaces value naming it (to-tag hotline's, from-tag the
// phone's; hotline takes either order).
func (c *phoneCall) callID() string {
	if c.in != nil {
		return c.in.InviteRequest.CallID().Value()
	}
	return c.out.InviteRequest.CallID().Value()
}

func (c *phoneCall) remoteTarget() sip.Uri {
	if c.in != nil {
		return *c.in.InviteRequest.Contact().Address.Clone()
	}
	return *c.out.InviteResponse.Contact().Address.Clone()
}

func (c *phoneCall) replaces() string {
	var hotlineTag, phoneTag string
	if c.in != nil {
		hotlineTag, _ = c.in.InviteRequest.From().Params.Get("tag")
		phoneTag, _ = c.in.InviteResponse.To().Params.Get("tag")
	} else {
		phoneTag, _ = c.out.InviteRequest.From().Params.Get("tag")
		hotlineTag, _ = c.out.InviteResponse.To().Params.Get("tag")
	}
	return c.callID() + ";to-tag=" + hotlineTag + ";from-tag=" + phoneTag
}

// hearsFor waits until the call has heard freq in n frames (20 ms each):
// the agent talks with the caller for a while, without a sleep.
func (c *phoneCall) hearsFor(t *testing.T, freq float64, n int) {
	t.Helper()
	for i := range n {
		if !c.voice.hears(freq, 3*time.Second) {
			t.Fatalf("the phone heard %.0f Hz in %d frames, want %d", freq, i, n)
		}
	}
}

// heardParties sorts what the caller heard in 100 ms frames by whose tone
// the frame carries (parties maps a name to its frequency) or "music"
// (sound with none of them); quiet frames and those that straddle a
// change are left out, runs of one kind merged.
func heardParties(samples []int16, parties map[string]float64) []string {
	const frame = 800
	var seq []string
	for i := 0; i+frame <= len(samples); i += frame {
		f := samples[i : i+frame]
		r := rms(f)
		if r < 200 {
			continue
		}
		kind, mixed := "music", false
		for name, freq := range parties {
			switch lv := toneLevel(f, freq); {
			case lv > 0.5 && r > 300:
				kind = name
			case lv >= 0.2:
				mixed = true
			}
		}
		if (mixed && kind == "music") || (len(seq) > 0 && seq[len(seq)-1] == kind) {
			continue
		}
		seq = append(seq, kind)
	}
	return seq
}

// toneAmplitude estimates the amplitude of freq's sine in samples, whatever
// else is mixed in (the Goertzel power of freq, not relative to the rest):
// about A for A·sin(2π·freq·t) plus other tones, near 0 when freq is absent.
func toneAmplitude(samples []int16, freq float64) float64 {
	return math.Sqrt(2*toneLevel(samples, freq)) * rms(samples)
}

// Tone amplitudes in a mix: every party speaks at about 8000 (-12 dBFS);
// a tone counts as heard above toneHeard and as absent below toneAbsent.
const (
	toneHeard  = 2000
	toneAbsent = 500
)

// hearsTones waits until the call has heard n frames (20 ms each, not
// necessarily consecutive) that carry every tone of present and none of
// absent: a party's mix, told apart by each speaker's frequency.
func (c *phoneCall) hearsTones(t *testing.T, n int, present, absent []float64) {
	t.Helper()
	deadline := time.After(time.Duration(n)*20*time.Millisecond + 5*time.Second)
	got, frames := 0, 0
	var last []int
	for got < n {
		select {
		case f := <-c.voice.heard:
			frames++
			if frameHas(f, present, absent) {
				got++
			}
			last = last[:0]
			for _, freq := range append(slices.Clone(present), absent...) {
				last = append(last, int(toneAmplitude(f, freq)))
			}
		case <-deadline:
			t.Fatalf("the phone heard %d of %d frames with %v Hz and without %v Hz (of %d frames; the last one's amplitudes %v)",
				got, n, present, absent, frames, last)
		}
	}
}

// frameHas reports whether frame carries every tone of present (amplitude
// above toneHeard) and none of absent (below toneAbsent).
func frameHas(frame []int16, present, absent []float64) bool {
	for _, freq := range present {
		if toneAmplitude(frame, freq) < toneHeard {
			return false
		}
	}
	for _, freq := range absent {
		if toneAmplitude(frame, freq) > toneAbsent {
			return false
		}
	}
	return true
}

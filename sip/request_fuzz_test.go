package sip

import (
	"bytes"
	"errors"
	"io/fs"
	"log/slog"
	"net/netip"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/emiago/sipgo/sip"
)

// recordingTx is a sip.ServerTransaction that keeps the responses our
// handlers send instead of putting them on a wire: a test double for
// sipgo's ServerTx, so that one request is handled in process, in order,
// without a socket or a timer. A final response ends it (as a reliable
// transport's transaction would), so that a handler waiting for the ACK of
// a failure response goes on at once.
type recordingTx struct {
	sent chan *sip.Response // every response, as the handler sends it
	acks chan *sip.Request  // never fed: ACKs come to onAck, as they do from sipgo
	done chan struct{}

	mu          sync.Mutex
	responses   []*sip.Response
	ended       bool
	onTerminate []sip.FnTxTerminate
}

func newRecordingTx() *recordingTx {
	return &recordingTx{sent: make(chan *sip.Response, 64), acks: make(chan *sip.Request), done: make(chan struct{})}
}

func (tx *recordingTx) Respond(res *sip.Response) error {
	tx.mu.Lock()
	if tx.ended {
		tx.mu.Unlock()
		return sip.ErrTransactionTerminated
	}
	tx.responses = append(tx.responses, res)
	tx.mu.Unlock()
	select {
	case tx.sent <- res:
	default: // nobody watches this many; they are in responses
	}
	if res.StatusCode >= 300 {
		tx.Terminate()
	}
	return nil
}

func (tx *recordingTx) Terminate() {
	tx.mu.Lock()
	if tx.ended {
		tx.mu.Unlock()
		return
	}
	tx.ended = true
	callbacks := tx.onTerminate
	tx.mu.Unlock()
	close(tx.done)
	// Outside the lock: sipgo's callbacks may look at the transaction.
	for _, f := range callbacks {
		f("fuzz", nil)
	}
}

func (tx *recordingTx) OnTerminate(f sip.FnTxTerminate) bool {
	tx.mu.Lock()
	defer tx.mu.Unlock()
	if tx.ended {
		return false
	}
	tx.onTerminate = append(tx.onTerminate, f)
	return true
}

func (tx *recordingTx) OnCancel(f sip.FnTxCancel) bool { return !tx.isEnded() } // no CANCEL comes in process
func (tx *recordingTx) Done() <-chan struct{}          { return tx.done }
func (tx *recordingTx) Err() error                     { return nil }
func (tx *recordingTx) Acks() <-chan *sip.Request      { return tx.acks }

func (tx *recordingTx) isEnded() bool {
	tx.mu.Lock()
	defer tx.mu.Unlock()
	return tx.ended
}

func (tx *recordingTx) recorded() []*sip.Response {
	tx.mu.Lock()
	defer tx.mu.Unlock()
	return slices.Clone(tx.responses)
}

// Fixed parts of the fuzzed traffic. Seeds name the dialog that the fuzzer
// sets up for them (fuzzCallID, fuzzFromTag) and write fuzzToTag where our
// To tag goes: it is random, so each input gets the live one put in.
const (
	fuzzSource  = "127.0.0.1:5099"
	fuzzCallID  = "fuzz-dialog@127.0.0.1"
	fuzzFromTag = "1SIPpTag001"
	fuzzToTag   = "TOTAG"
	// fuzzAuthz stands for valid credentials of phone 1003 (passwords)
	// with a fresh nonce, so that inputs get past the digest check.
	fuzzAuthz = "AUTHZ"
	// handlerDeadline bounds one request's handling; our handlers answer
	// in microseconds, so reaching it means a handler hangs.
	handlerDeadline = 10 * time.Second
)

// fuzzSDP is an offer like a carrier's: PCMU, PCMA and RFC 4733 events.
const fuzzSDP = "v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\n" +
	"m=audio 40002 RTP/AVP 0 8 101\r\na=rtpmap:101 telephone-event/8000\r\na=fmtp:101 0-16\r\n"

// fuzzRequest builds a request of the fuzzer's dialog; toTag "" for an
// initial request, sdp "" for none.
func fuzzRequest(method, ruri string, cseq int, toTag, sdp string, extra ...string) []byte {
	to := "To: <sip:5551000@127.0.0.1>"
	if toTag != "" {
		to += ";tag=" + toTag
	}
	lines := append([]string{
		method + " " + ruri + " SIP/2.0",
		"Via: SIP/2.0/UDP 127.0.0.1:5099;branch=z9hG4bK-fuzz-" + method + ";rport",
		`From: "Carrier" <sip:+15550100@127.0.0.1:5099>;tag=` + fuzzFromTag,
		to,
		"Call-ID: " + fuzzCallID,
		"CSeq: " + itoa(cseq) + " " + method,
		"Contact: <sip:+15550100@127.0.0.1:5099>",
		"Max-Forwards: 70",
	}, extra...)
	if sdp != "" {
		lines = append(lines, "Content-Type: application/sdp")
	}
	lines = append(lines, "Content-Length: "+itoa(len(sdp)))
	return []byte(strings.Join(lines, "\r\n") + "\r\n\r\n" + sdp)
}

// registerRequest builds a REGISTER of user's phone.
func registerRequest(user string, extra ...string) []byte {
	lines := append([]string{
		"REGISTER sip:127.0.0.1 SIP/2.0",
		"Via: SIP/2.0/UDP 127.0.0.1:5099;branch=z9hG4bK-fuzz-reg;rport",
		"From: <sip:" + user + "@127.0.0.1>;tag=reg",
		"To: <sip:" + user + "@127.0.0.1>",
		"Call-ID: fuzz-register@127.0.0.1",
		"CSeq: 2 REGISTER",
		"Max-Forwards: 70",
	}, extra...)
	return []byte(strings.Join(append(lines, "Content-Length: 0"), "\r\n") + "\r\n\r\n")
}

// requestFuzzer is our Server with hooks that answer every admitted call,
// and the harness that plays the far end of its dialogs.
type requestFuzzer struct {
	srv    *Server
	parser *sip.Parser
	up     chan struct{} // a call is answered: Answer has returned
}

func newRequestFuzzer(tb testing.TB) *requestFuzzer {
	up := make(chan struct{}, 1)
	srv, err := NewServer(Config{Listen: "127.0.0.1:0", Logger: slog.New(slog.DiscardHandler)}, Hooks{
		Admit: func(src netip.Addr, called string) Admission {
			switch called {
			case "404":
				return Admission{Status: 404}
			case "full":
				return Admission{Trunk: "fuzz", Status: 503, RetryAfter: 30 * time.Second, Blocked: BlockCallLimit}
			}
			return Admission{Trunk: "fuzz"}
		},
		Password: passwords,
		HandleCall: func(c *InboundCall) {
			// Transfers are declined: an accepted one sends NOTIFYs over the
			// network to whatever Contact the input names.
			c.OnRefer(func(ReferRequest) bool { return false })
			c.OnReoffer(func(MediaOffer) {})
			if err := c.Answer(netip.MustParseAddrPort("127.0.0.1:40000")); err != nil {
				return
			}
			up <- struct{}{}
			// The harness ends the call with a BYE: a Hangup of ours would
			// send one to the input's Contact.
			<-c.Done()
		},
	})
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(srv.Close)
	return &requestFuzzer{srv: srv, parser: sip.NewParser(), up: up}
}

// authorize puts valid credentials in place of fuzzAuthz: a digest
// response (RFC 2617 §3.2.2) of user 1003 for the request's method, with a
// nonce of ours never used before.
func (fz *requestFuzzer) authorize(data []byte) []byte {
	req := fz.parse(data)
	if req == nil {
		return data
	}
	nonce := fz.srv.auth.newNonce(time.Now())
	const uri, cnonce = "sip:127.0.0.1", "fuzz"
	password, _ := passwords("1003")
	resp := response(AlgorithmMD5, "1003", fz.srv.cfg.Realm, password, string(req.Method), uri, nonce, 1, cnonce)
	authz := `Digest username="1003", realm="` + fz.srv.cfg.Realm + `", nonce="` + nonce + `", uri="` + uri +
		`", response="` + resp + `", qop=auth, nc=00000001, cnonce="` + cnonce + `", algorithm=MD5`
	return bytes.ReplaceAll(data, []byte(fuzzAuthz), []byte(authz))
}

// parse reads data as sipgo's UDP transport does; nil for what the
// transaction layer never hands to a handler (responses, and requests
// without Via or CSeq, which sipgo answers itself).
func (fz *requestFuzzer) parse(data []byte) *sip.Request {
	msg, err := fz.parser.ParseSIP(data)
	if err != nil {
		return nil
	}
	req, ok := msg.(*sip.Request)
	if !ok || req.Via() == nil || req.CSeq() == nil {
		return nil
	}
	req.SetTransport("UDP")
	req.SetSource(fuzzSource)
	return req
}

// call is one dispatched request: its transaction and whether its handler
// has returned.
type call struct {
	req      *sip.Request
	tx       *recordingTx
	returned chan struct{}
	answered *sip.Response // our 2xx to an initial INVITE, once ACKed
}

// dispatch runs req's handler as sipgo would, on a goroutine of its own,
// until the handler returns or, for a new call, our 2xx has been ACKed:
// the call then lasts until end.
func (fz *requestFuzzer) dispatch(t *testing.T, req *sip.Request) *call {
	t.Helper()
	c := &call{req: req, tx: newRecordingTx(), returned: make(chan struct{})}
	h := fz.srv.handlerFor(req.Method)
	go func() {
		defer close(c.returned)
		h(req, c.tx)
	}()
	initialInvite := req.Method == sip.INVITE && !hasToTag(req)
	deadline := time.NewTimer(handlerDeadline)
	defer deadline.Stop()
	for {
		select {
		case <-c.returned:
			// A call that was up and is over already left its token.
			select {
			case <-fz.up:
			default:
			}
			return c
		case res := <-c.tx.sent:
			if initialInvite && res.IsSuccess() && c.answered == nil {
				// The ACK confirms the dialog (RFC 3261 §13.2.2.4); Answer
				// returns, and the call is up.
				fz.srv.handlerFor(sip.ACK)(fz.inDialog(req, res, sip.ACK), newRecordingTx())
				c.answered = res
			}
		case <-fz.up:
			// The leg is answered (InboundCall.Answered) when Answer returns,
			// a moment after the ACK: only then is the call up.
			return c
		case <-deadline.C:
			t.Fatalf("%s handler neither returned nor answered within %v", req.Method, handlerDeadline)
		}
	}
}

// end hangs up a call dispatch left up (the far end's BYE) and waits for its
// handler to return.
func (fz *requestFuzzer) end(t *testing.T, c *call) {
	t.Helper()
	if c.answered != nil {
		bye := fz.inDialog(c.req, c.answered, sip.BYE)
		// Over already when the input itself was a BYE of this dialog.
		fz.srv.handlerFor(sip.BYE)(bye, newRecordingTx())
	}
	select {
	case <-c.returned:
	case <-time.After(handlerDeadline):
		t.Fatalf("%s handler did not return within %v of the call's end", c.req.Method, handlerDeadline)
	}
}

// inDialog builds the far end's ACK or BYE in the dialog that res to invite
// made; the CSeq number stays the INVITE's, which both accept (RFC 3261
// §13.2.2.4, and sipgo takes a BYE with any number not lower).
func (fz *requestFuzzer) inDialog(invite *sip.Request, res *sip.Response, method sip.RequestMethod) *sip.Request {
	r := invite.Clone()
	r.Method = method
	r.ReplaceHeader(&sip.CSeqHeader{SeqNo: invite.CSeq().SeqNo, MethodName: method})
	tag, _ := res.To().Params.Get("tag")
	to := r.To()
	to.Params = to.Params.Clone()
	to.Params.Add("tag", tag)
	r.SetBody(nil)
	return r
}

// roundTrips reports whether req, as sipgo writes it, reads back with as
// many headers.
func roundTrips(req *sip.Request) bool {
	back, err := sip.ParseMessage([]byte(req.String()))
	if err != nil {
		return false
	}
	b, ok := back.(*sip.Request)
	return ok && len(b.Headers()) == len(req.Headers())
}

func hasToTag(req *sip.Request) bool {
	if to := req.To(); to != nil {
		_, ok := to.Params.Get("tag")
		return ok
	}
	return false
}

// checkResponses asserts what every answer to req must be.
func checkResponses(t *testing.T, req *sip.Request, responses []*sip.Response) {
	t.Helper()
	finals := 0
	var lastFinal *sip.Response
	for _, res := range responses {
		if res.StatusCode < 100 || res.StatusCode > 699 {
			t.Fatalf("status %d to %s", res.StatusCode, req.Method)
		}
		if res.SipVersion != "SIP/2.0" {
			t.Fatalf("%d to %s says %q", res.StatusCode, req.Method, res.SipVersion)
		}
		if strings.ContainsAny(res.Reason, "\r\n") {
			t.Fatalf("reason phrase %q holds a line break", res.Reason)
		}
		for _, h := range res.Headers() {
			// A line break in a header we send would let the request write
			// headers of its own into our response.
			if v := h.Value(); strings.ContainsAny(h.Name()+v, "\r\n") {
				t.Fatalf("%d to %s: header %s: %q holds a line break", res.StatusCode, req.Method, h.Name(), v)
			}
		}
		if callID(req) != "" && callID(res) != callID(req) {
			t.Fatalf("%d has Call-ID %q, the request %q", res.StatusCode, callID(res), callID(req))
		}
		if got, want := res.CSeq(), req.CSeq(); got == nil || got.SeqNo != want.SeqNo || got.MethodName != want.MethodName {
			t.Fatalf("%d has CSeq %v, the request %v", res.StatusCode, got, want)
		}
		// What we send reads back as what we meant: the same status and as
		// many headers. sipgo reads some garbage it cannot write back (a
		// Via without a host, a URI with an empty port), and an answer
		// echoes Via, From, To: only a request that reads back as itself
		// tells whether our own headers broke the answer.
		if roundTrips(req) {
			back, err := sip.ParseMessage([]byte(res.String()))
			if err != nil {
				t.Fatalf("our %d to %s does not parse: %v\n%s", res.StatusCode, req.Method, err, res)
			}
			if b, ok := back.(*sip.Response); !ok || b.StatusCode != res.StatusCode || len(b.Headers()) != len(res.Headers()) {
				t.Fatalf("our %d to %s reads back as another message:\n%s", res.StatusCode, req.Method, res)
			}
		}
		// A 2xx is sent again until its ACK comes: the same response.
		if res.StatusCode >= 200 && res != lastFinal {
			finals++
			lastFinal = res
		}
		if res.IsSuccess() && req.Method == sip.INVITE {
			checkAnswer(t, req, res)
		}
	}
	switch {
	case lineBreakIn(req) && len(responses) > 0:
		t.Fatalf("a request with a line break in a header was answered %d", responses[0].StatusCode)
	case req.Method == sip.ACK && len(responses) > 0:
		t.Fatalf("an ACK was answered %d", responses[0].StatusCode)
	case req.Method != sip.ACK && !lineBreakIn(req) && finals != 1:
		t.Fatalf("%d final responses to %s, want 1", finals, req.Method)
	}
}

// checkAnswer asserts that our 2xx to an INVITE carries an SDP answer
// (RFC 3264 §6) that our own parser reads, naming one codec we support,
// the one negotiation picks from the offer, and the offer's telephone-event.
func checkAnswer(t *testing.T, req *sip.Request, res *sip.Response) {
	t.Helper()
	answer, err := ParseSDP(res.Body())
	if err != nil {
		t.Fatalf("our SDP does not parse: %v\n%s", err, res.Body())
	}
	if len(answer.PayloadTypes) != 1 || !slices.Contains(supportedPayloads, answer.PayloadTypes[0]) {
		t.Fatalf("our SDP names codecs %v\n%s", answer.PayloadTypes, res.Body())
	}
	if len(req.Body()) == 0 {
		return // a re-INVITE without an offer gets our last SDP
	}
	offer, err := ParseSDP(req.Body())
	if err != nil {
		t.Fatalf("2xx to an offer we cannot read: %v", err)
	}
	if !slices.Contains(offer.PayloadTypes, answer.PayloadTypes[0]) {
		t.Fatalf("answer codec %d not in the offer %v", answer.PayloadTypes[0], offer.PayloadTypes)
	}
	if answer.Direction != answerDirection(offer) {
		t.Fatalf("answer %s to an offer %s (held %v)", answer.Direction, offer.Direction, offer.Held())
	}
	if offer.DTMFPayloadType != answer.DTMFPayloadType && offer.DTMFPayloadType != answer.PayloadTypes[0] {
		t.Fatalf("answer telephone-event %d, offer %d", answer.DTMFPayloadType, offer.DTMFPayloadType)
	}
}

// FuzzServerRequest feeds datagrams to the handlers our server registers
// with sipgo, parsed as sipgo's UDP transport parses them. An input that
// writes the To tag TOTAG is played inside a call set up for it (our
// tag goes in its place), so re-INVITEs, REFERs, BYEs and ACKs reach a
// live dialog; one that writes AUTHZ gets valid credentials of phone 1003
// there, so REGISTERs and a phone's INVITEs get past the digest check. Nothing may panic or hang; every request but an ACK (and
// one with a line break in a header, which is dropped) gets exactly one
// final response: SIP/2.0, a status of 100-699, no line break in any
// header, the request's Call-ID and CSeq; a 2xx to an INVITE carries an
// SDP answer we can read, with one codec of ours.
func FuzzServerRequest(f *testing.F) {
	for _, seed := range [][]byte{
		fuzzRequest("INVITE", "sip:5551000@127.0.0.1", 1, "", fuzzSDP),
		fuzzRequest("INVITE", "sip:404@127.0.0.1", 1, "", fuzzSDP),
		fuzzRequest("INVITE", "sip:*21@127.0.0.1", 1, "", fuzzSDP),
		fuzzRequest("OPTIONS", "sip:127.0.0.1", 1, "", ""),
		fuzzRequest("REGISTER", "sip:127.0.0.1", 1, "", "", "Expires: 300"),
		fuzzRequest("MESSAGE", "sip:5551000@127.0.0.1", 1, "", ""),
		// Answered SIP/2.0 whatever it says (it got "SIP/3.0 405").
		bytes.Replace(fuzzRequest("MESSAGE", "sip:5551000@127.0.0.1", 1, "", ""), []byte("SIP/2.0"), []byte("SIP/3.0"), 1),
		fuzzRequest("CANCEL", "sip:5551000@127.0.0.1", 1, "", ""),
		fuzzRequest("BYE", "sip:5551000@127.0.0.1", 2, fuzzToTag, ""),
		fuzzRequest("ACK", "sip:5551000@127.0.0.1", 1, fuzzToTag, ""),
		fuzzRequest("INVITE", "sip:5551000@127.0.0.1", 2, fuzzToTag, fuzzSDP),
		fuzzRequest("REFER", "sip:5551000@127.0.0.1", 2, fuzzToTag, "", "Refer-To: <sip:sales@127.0.0.1>", "Referred-By: <sip:1003@127.0.0.1>"),
		fuzzRequest("INVITE", "sip:5551000@127.0.0.1", 3, fuzzToTag, fuzzSDP+"a=sendonly\r\n"),
		fuzzRequest("INVITE", "sip:5551000@127.0.0.1", 3, fuzzToTag, ""),
		// A phone registers, queries, unregisters, dials a feature code.
		registerRequest("1003", "Authorization: "+fuzzAuthz, "Contact: <sip:1003@127.0.0.1:5099>;expires=300", "User-Agent: fuzz-phone"),
		registerRequest("1003", "Authorization: "+fuzzAuthz),
		registerRequest("1003", "Authorization: "+fuzzAuthz, "Contact: *", "Expires: 0"),
		registerRequest("1003", "Authorization: "+fuzzAuthz, "Contact: <sip:1003@127.0.0.1:5099>", "Expires: 10"),
		registerRequest("1004", "Authorization: "+fuzzAuthz, "Contact: <sip:1004@127.0.0.1:5099>"),
		fuzzRequest("INVITE", "sip:*21@127.0.0.1", 1, "", fuzzSDP, "Authorization: "+fuzzAuthz),
	} {
		f.Add(seed)
	}
	// Our SIPp scenarios' requests, and the RFC 4475/5118 torture messages
	// where a checkout has them beside the repository (they are not ours
	// to copy in).
	for _, seed := range seedMessages(f) {
		f.Add(seed)
	}
	fz := newRequestFuzzer(f)
	// The setup INVITE is parsed once: it is the same for every input.
	setup := fz.parse(fuzzRequest("INVITE", "sip:5551000@127.0.0.1", 1, "", fuzzSDP))
	f.Fuzz(func(t *testing.T, data []byte) {
		var live *call
		if bytes.Contains(data, []byte(fuzzToTag)) {
			live = fz.dispatch(t, setup.Clone())
			if live.answered == nil {
				t.Fatalf("setup call not answered: %v", live.tx.recorded())
			}
			tag, _ := live.answered.To().Params.Get("tag")
			data = bytes.ReplaceAll(data, []byte(fuzzToTag), []byte(tag))
		}
		if bytes.Contains(data, []byte(fuzzAuthz)) {
			data = fz.authorize(data)
		}
		if req := fz.parse(data); req != nil {
			c := fz.dispatch(t, req)
			fz.end(t, c)
			checkResponses(t, req, c.tx.recorded())
		}
		if live != nil {
			fz.end(t, live)
		}
		// The next input finds no registration (a phone's INVITE would be
		// challenged, not admitted).
		fz.srv.registrar.RemoveAll("1003")
	})
}

// sippVars are what our SIPp scenarios' keywords stand for in seeds: the
// fuzzer's dialog, so that their in-dialog requests reach it.
var sippVars = map[string]string{
	"service": "5551000", "remote_ip": "127.0.0.1", "remote_port": "5060", "transport": "UDP",
	"local_ip": "127.0.0.1", "local_port": "5099", "media_ip": "127.0.0.1", "media_port": "40002",
	"rtpstream_audio_port": "40002", "local_ip_type": "4", "media_ip_type": "4",
	"branch": "z9hG4bK-sipp", "pid": "1", "call_number": "1", "call_id": fuzzCallID,
	"peer_tag_param": ";tag=" + fuzzToTag, "next_url": "sip:hotline@127.0.0.1:5060",
	"routes": "", "authentication": "",
	"last_Via:":          "Via: SIP/2.0/UDP 127.0.0.1:5099;branch=z9hG4bK-last",
	"last_From:":         `From: <sip:+15550100@127.0.0.1>;tag=` + fuzzFromTag,
	"last_To:":           "To: <sip:5551000@127.0.0.1>;tag=" + fuzzToTag,
	"last_Call-ID:":      "Call-ID: " + fuzzCallID,
	"last_CSeq:":         "CSeq: 1 INVITE",
	"last_Record-Route:": "",
	"$refer_to":          "sales",
	"$frag":              "SIP/2.0 200 OK",
	"$sub_state":         "active",
	"$rtp_ip":            "127.0.0.1",
	"$rtp_port":          "40002",
	"$invite_cseq":       "1",
	"$expires":           "300",
	"$caller":            "5550100",
	"$callee":            "1003",
	"$digit":             "1",
	"$keys":              "1",
	"$key":               "1",
	"$hangup":            "caller",
	"$rest":              "",
	"$whole":             "",
	"refer_to":           "sales",
}

var (
	sippSend    = regexp.MustCompile(`(?s)<send[^>]*>\s*<!\[CDATA\[(.*?)\]\]>`)
	sippKeyword = regexp.MustCompile(`\[(\$?[A-Za-z_][A-Za-z0-9_-]*:?)\]`)
)

// sippRequests extracts the requests that our SIPp scenarios send, with
// their keywords filled in as SIPp would (CRLF line ends, [len] the
// body's length).
func sippRequests(tb testing.TB, dir string) [][]byte {
	files, _ := filepath.Glob(filepath.Join(dir, "*.xml"))
	var out [][]byte
	for _, file := range files {
		data, err := os.ReadFile(file)
		if err != nil {
			tb.Fatal(err)
		}
		for _, m := range sippSend.FindAllSubmatch(data, -1) {
			if msg := sippMessage(string(m[1])); msg != nil {
				out = append(out, msg)
			}
		}
	}
	if len(out) == 0 {
		tb.Logf("no SIPp requests under %s to seed from", dir)
	}
	return out
}

func sippMessage(cdata string) []byte {
	var lines []string
	for _, line := range strings.Split(cdata, "\n") {
		line = strings.TrimSpace(line)
		filled := sippKeyword.ReplaceAllStringFunc(line, func(k string) string {
			if v, ok := sippVars[k[1:len(k)-1]]; ok {
				return v
			}
			return k
		})
		if line != "" && filled == "" {
			continue // a keyword that stands for no header at all
		}
		lines = append(lines, filled)
	}
	for len(lines) > 0 && lines[0] == "" {
		lines = lines[1:]
	}
	for len(lines) > 0 && lines[len(lines)-1] == "" {
		lines = lines[:len(lines)-1]
	}
	if len(lines) == 0 || strings.HasPrefix(lines[0], "SIP/2.0") {
		return nil // a response: never handed to a request handler
	}
	head, body := lines, []string(nil)
	if i := slices.Index(lines, ""); i >= 0 {
		head, body = lines[:i], lines[i+1:]
	}
	bodyText := ""
	if len(body) > 0 {
		bodyText = strings.Join(body, "\r\n") + "\r\n"
	}
	headText := strings.ReplaceAll(strings.Join(head, "\r\n"), "[len]", itoa(len(bodyText)))
	return []byte(headText + "\r\n\r\n" + bodyText)
}

// tortureMessages reads every file under dir (RFC 4475 and RFC 5118
// messages); none when dir is missing.
func tortureMessages(tb testing.TB, dir string) [][]byte {
	var out [][]byte
	err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || strings.HasSuffix(path, ".md") || strings.HasSuffix(path, ".py") {
			return err
		}
		data, err := os.ReadFile(path)
		out = append(out, data)
		return err
	})
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		tb.Fatal(err)
	}
	return out
}

// headerValues returns the values of the named header in those of messages
// that sipgo parses.
func headerValues(messages [][]byte, name string) []string {
	var out []string
	for _, m := range messages {
		msg, err := sip.ParseMessage(m)
		if err != nil {
			continue
		}
		for _, h := range msg.GetHeaders(name) {
			out = append(out, h.Value())
		}
	}
	return out
}

// seedMessages are the SIP messages of testdata (our SIPp scenarios) and,
// when a checkout has them beside it, the torture messages.
func seedMessages(tb testing.TB) [][]byte {
	return append(sippRequests(tb, filepath.Join("..", "testdata", "sipp")),
		tortureMessages(tb, filepath.Join("..", "..", "shared", "sip-torture-rfc"))...)
}

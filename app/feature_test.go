package app_test

import (
	"context"
	"errors"
	"fmt"
	"net"
	"testing"
	"time"

	"github.com/emiago/sipgo"
	"github.com/emiago/sipgo/sip"

	"github.com/hotline-cc/hotline/pinguard"
)

// featurePhone is a softphone that dials feature codes: a sipgo user agent
// whose requests leave from an ephemeral port, where hotline's BYE comes back
// too (hotline answers requests on their source address).
type featurePhone struct {
	ua     *sipgo.UserAgent
	client *sipgo.Client
	byes   chan string // Call-IDs of the BYEs received
	rtp    *net.UDPConn
}

func newFeaturePhone(t *testing.T) *featurePhone {
	t.Helper()
	ua, err := sipgo.NewUA(sipgo.WithUserAgent("feature-phone"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ua.Close() })
	p := &featurePhone{ua: ua, byes: make(chan string, 8)}
	srv, err := sipgo.NewServer(ua)
	if err != nil {
		t.Fatal(err)
	}
	srv.OnBye(func(req *sip.Request, tx sip.ServerTransaction) {
		_ = tx.Respond(sip.NewResponseFromRequest(req, 200, "OK", nil))
		p.byes <- req.CallID().Value()
	})
	if p.client, err = sipgo.NewClient(ua, sipgo.WithClientHostname("127.0.0.1")); err != nil {
		t.Fatal(err)
	}
	// Somewhere for the confirmation prompt's RTP to go.
	if p.rtp, err = net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.rtp.Close() })
	return p
}

// dial calls code at hotline as user and returns the final status; when
// hotline answers, it waits for hotline's BYE after the confirmation.
func (p *featurePhone) dial(t *testing.T, h *hotline, user, password, code string) int {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	sess, req, status := p.invite(t, ctx, h, user, password, code)
	if status != 200 {
		return status
	}
	defer sess.Close()
	select {
	case id := <-p.byes:
		if id != req.CallID().Value() {
			t.Fatalf("BYE for %s, want %s", id, req.CallID().Value())
		}
	case <-ctx.Done():
		t.Fatalf("dial %s: hotline never hung up after the confirmation", code)
	}
	return 200
}

// invite calls code at hotline as user (digest password), offering the
// phone's RTP socket; it returns the final status and, when answered (and
// acknowledged), the session and its INVITE. extra headers go in the INVITE.
func (p *featurePhone) invite(t *testing.T, ctx context.Context, h *hotline, user, password, code string, extra ...sip.Header) (*sipgo.DialogClientSession, *sip.Request, int) {
	t.Helper()
	port := p.rtp.LocalAddr().(*net.UDPAddr).Port
	sdp := fmt.Sprintf("v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\nm=audio %d RTP/AVP 0 101\r\na=rtpmap:0 PCMU/8000\r\na=rtpmap:101 telephone-event/8000\r\na=sendrecv\r\n", port)
	target := sip.Uri{Scheme: "sip", User: code, Host: h.app.SIPAddr.Addr().String(), Port: int(h.app.SIPAddr.Port())}
	dua := sipgo.DialogUA{Client: p.client, ContactHDR: sip.ContactHeader{Address: sip.Uri{Scheme: "sip", User: user, Host: "127.0.0.1"}}}
	req := sip.NewRequest(sip.INVITE, target)
	from := &sip.FromHeader{Address: sip.Uri{Scheme: "sip", User: user, Host: target.Host}, Params: sip.NewParams()}
	from.Params.Add("tag", sip.GenerateTagN(8))
	req.AppendHeader(from)
	req.AppendHeader(sip.NewHeader("Content-Type", "application/sdp"))
	req.SetBody([]byte(sdp))
	for _, hd := range extra {
		req.AppendHeader(hd)
	}
	sess, err := dua.WriteInvite(ctx, req)
	if err != nil {
		t.Fatal(err)
	}
	err = sess.WaitAnswer(ctx, sipgo.AnswerOptions{Username: user, Password: password})
	var de *sipgo.ErrDialogResponse
	if errors.As(err, &de) {
		sess.Close()
		return nil, req, de.Res.StatusCode
	}
	if err != nil {
		t.Fatalf("dial %s: %v", code, err)
	}
	if err := sess.Ack(ctx); err != nil {
		t.Fatal(err)
	}
	return sess, req, 200
}

// TestFeatureCodes: agents change state from their phones. Carol (1003)
// goes not ready for a break (*22 with reason code 1), back to ready (*21)
// and logs out (*23); Dave (1004) logs in on Carol's phone with his PIN
// (*20), which takes the phone over. Mistakes are heard, not applied.
func TestFeatureCodes(t *testing.T) {
	t.Parallel()
	h := startHotline(t, nil)
	p := newFeaturePhone(t)
	reasonOf := func(id string) string {
		var a struct {
			State, Reason, Device string
		}
		h.get("/api/v1/agents/"+id, &a)
		return a.State + "/" + a.Reason + "@" + a.Device
	}

	if got := p.dial(t, h, "1003", "demo1003", "*221"); got != 200 {
		t.Fatalf("*221 answered %d", got)
	}
	if got := reasonOf("1003"); got != "not-ready/break@1003" {
		t.Fatalf("after *221 agent 1003 is %s, want not-ready/break@1003", got)
	}
	if got := p.dial(t, h, "1003", "demo1003", "*21"); got != 200 {
		t.Fatalf("*21 answered %d", got)
	}
	h.waitAgent("1003", "available")

	// Dave takes Carol's phone over with his PIN; a wrong PIN changes nothing.
	if got := p.dial(t, h, "1003", "demo1003", "*201004*0000"); got != 200 {
		t.Fatalf("login with a wrong PIN answered %d", got)
	}
	if got := h.agentState("1004"); got != "logged-out" {
		t.Fatalf("a wrong PIN logged 1004 in: %s", got)
	}
	if got := p.dial(t, h, "1003", "demo1003", "*201004*7654"); got != 200 {
		t.Fatalf("login answered %d", got)
	}
	if got := reasonOf("1004"); got != "available/@1003" {
		t.Fatalf("after *20 agent 1004 is %s, want available on phone 1003", got)
	}
	if got := reasonOf("1003"); got != "logged-out/taken-over@" {
		t.Fatalf("agent 1003 is %s, want logged-out/taken-over", got)
	}
	// *23 from that phone logs out whoever is on it: Dave.
	if got := p.dial(t, h, "1003", "demo1003", "*23"); got != 200 {
		t.Fatalf("*23 answered %d", got)
	}
	h.waitAgent("1004", "logged-out")

	if got := p.dial(t, h, "1003", "demo1003", "*99"); got != 404 {
		t.Errorf("unknown code answered %d, want 404", got)
	}
	if got := p.dial(t, h, "1003", "wrong", "*21"); got != 403 {
		t.Errorf("wrong password answered %d, want 403", got)
	}
	var audit struct {
		Events []struct{ From, To, Reason, Source string }
	}
	h.get("/api/v1/agents/1003/events", &audit)
	found := false
	for _, e := range audit.Events {
		if e.To == "not-ready" && e.Reason == "break" && e.Source == "feature-code" {
			found = true
		}
	}
	if !found {
		t.Errorf("audit trail of 1003 has no not-ready/break by feature code: %+v", audit.Events)
	}
}

// TestPINGuessingFromPhonesLocksTheAPI: wrong PINs dialed from a phone and
// tried through the API count together; after pinguard.MaxFailures of them
// the agent's logins are refused everywhere, even with the right PIN.
func TestPINGuessingFromPhonesLocksTheAPI(t *testing.T) {
	t.Parallel()
	h := startHotline(t, nil)
	p := newFeaturePhone(t)
	for i := range pinguard.MaxFailures {
		if got := p.dial(t, h, "1003", "demo1003", fmt.Sprintf("*201004*000%d", i)); got != 200 {
			t.Fatalf("guess %d answered %d", i, got)
		}
	}
	res := h.do("POST", "/api/v1/agents/1004/login", h.token, map[string]string{"device": "1003", "pin": "7654"})
	if res.status != 429 || res.header.Get("Retry-After") == "" {
		t.Fatalf("API login after %d wrong PINs by phone: %d %s; want 429 with Retry-After", pinguard.MaxFailures, res.status, res.body)
	}
	if got := p.dial(t, h, "1003", "demo1003", "*201004*7654"); got != 200 || h.agentState("1004") != "logged-out" {
		t.Fatalf("the right PIN by phone during the lockout: %d, agent %s; want refused", got, h.agentState("1004"))
	}
}

package sip

import (
	"context"
	"fmt"
	"math/rand/v2"
	"net"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/emiago/sipgo/sip"
	"github.com/hotline-cc/hotline/guard"
	dto "github.com/prometheus/client_model/go"
)

// guarded starts a server whose guard allow-lists 127.0.0.1 only, so that
// tests can play attackers from 127.0.0.2 and up.
func guarded(t *testing.T, p guard.Policy) *testServer {
	t.Helper()
	if p.Allow == nil {
		p.Allow = []netip.Prefix{netip.MustParsePrefix("127.0.0.1/32")}
	}
	if p.LogInterval == 0 {
		p.LogInterval = time.Minute
	}
	g := guard.New(p, nil)
	return startServer(t, func(c *Config) { c.Guard = g })
}

func (ts *testServer) blocked(reason string) float64 {
	var m dto.Metric
	if err := ts.metrics.blockedReqs.WithLabelValues(reason).Write(&m); err != nil {
		panic(err)
	}
	return m.GetCounter().GetValue()
}

// waitBlocked polls the block counter until it reaches want.
func (ts *testServer) waitBlocked(t *testing.T, reason string, want float64) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for ts.blocked(reason) < want {
		if time.Now().After(deadline) {
			t.Fatalf("hotline_sip_blocked_total{reason=%q} = %v, want %v", reason, ts.blocked(reason), want)
		}
		time.Sleep(5 * time.Millisecond)
	}
	if got := ts.blocked(reason); got != want {
		t.Fatalf("hotline_sip_blocked_total{reason=%q} = %v, want %v", reason, got, want)
	}
}

// rawPeer sends hand-written SIP over UDP from a chosen loopback address
// and reads what comes back.
type rawPeer struct {
	t    *testing.T
	conn *net.UDPConn
	srv  netip.AddrPort
}

func newRawPeer(t *testing.T, ip string, srv netip.AddrPort) *rawPeer {
	t.Helper()
	conn, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.ParseIP(ip)})
	if err != nil {
		t.Fatalf("bind %s: %v", ip, err)
	}
	t.Cleanup(func() { conn.Close() })
	return &rawPeer{t: t, conn: conn, srv: srv}
}

// send sends a request of method and returns its Call-ID. toTag puts it in
// a dialog; ua is its User-Agent ("" for none).
func (p *rawPeer) send(method, ua, toTag string) string {
	p.t.Helper()
	local := p.conn.LocalAddr().(*net.UDPAddr).AddrPort()
	id := fmt.Sprintf("%x@test", rand.Uint64())
	to := fmt.Sprintf("<sip:hotline@%s>", p.srv.Addr())
	if toTag != "" {
		to += ";tag=" + toTag
	}
	var b strings.Builder
	fmt.Fprintf(&b, "%s sip:hotline@%s SIP/2.0\r\n", method, p.srv)
	fmt.Fprintf(&b, "Via: SIP/2.0/UDP %s;branch=z9hG4bK%x;rport\r\n", local, rand.Uint64())
	fmt.Fprintf(&b, "Max-Forwards: 70\r\nFrom: <sip:probe@%s>;tag=%x\r\nTo: %s\r\n", local.Addr(), rand.Uint32(), to)
	fmt.Fprintf(&b, "Call-ID: %s\r\nCSeq: 1 %s\r\n", id, method)
	if method == "REGISTER" {
		fmt.Fprintf(&b, "Contact: <sip:probe@%s>\r\n", local)
	}
	if ua != "" {
		fmt.Fprintf(&b, "User-Agent: %s\r\n", ua)
	}
	b.WriteString("Content-Length: 0\r\n\r\n")
	if _, err := p.conn.WriteToUDPAddrPort([]byte(b.String()), p.srv); err != nil {
		p.t.Fatal(err)
	}
	return id
}

// recv returns the status line and Call-ID of the next response within d,
// or ok false.
func (p *rawPeer) recv(d time.Duration) (status, callID string, ok bool) {
	p.t.Helper()
	buf := make([]byte, 65536)
	_ = p.conn.SetReadDeadline(time.Now().Add(d))
	n, _, err := p.conn.ReadFromUDPAddrPort(buf)
	if err != nil {
		return "", "", false
	}
	msg := string(buf[:n])
	status, _, _ = strings.Cut(msg, "\r\n")
	for _, line := range strings.Split(msg, "\r\n") {
		if v, found := strings.CutPrefix(line, "Call-ID: "); found {
			callID = v
		}
	}
	return status, callID, true
}

// expect sends a request and wants a final answer with the given code.
func (p *rawPeer) expect(method, ua, toTag string, code int) {
	p.t.Helper()
	id := p.send(method, ua, toTag)
	deadline := time.Now().Add(5 * time.Second)
	for time.Now().Before(deadline) {
		status, got, ok := p.recv(time.Until(deadline))
		if !ok {
			break
		}
		if got != id || strings.HasPrefix(status, "SIP/2.0 1") {
			continue // a provisional answer, or a late one to an earlier request
		}
		if want := fmt.Sprintf("SIP/2.0 %d ", code); !strings.HasPrefix(status, want) {
			p.t.Fatalf("%s from %s: %q, want %d", method, p.conn.LocalAddr(), status, code)
		}
		return
	}
	p.t.Fatalf("%s from %s: no answer, want %d", method, p.conn.LocalAddr(), code)
}

// silent asserts that nothing arrives for a short while: the requests
// before were dropped, not answered late.
func (p *rawPeer) silent() {
	p.t.Helper()
	if status, id, ok := p.recv(200 * time.Millisecond); ok {
		p.t.Fatalf("unexpected answer %q (Call-ID %s) to a dropped request", status, id)
	}
}

func TestScannerGetsNoReply(t *testing.T) {
	ts := guarded(t, guard.Policy{Scanners: []string{"friendly-scanner", "sipvicious"}, Ban: time.Minute})
	// Even from the allow list: a scanner's User-Agent is never answered.
	p := newRawPeer(t, "127.0.0.1", ts.Addr())
	p.send("OPTIONS", "friendly-scanner", "")
	p.send("REGISTER", "SIPVicious/0.3", "")
	ts.waitBlocked(t, BlockScanner, 2)
	p.expect("OPTIONS", "Yealink SIP-T46S", "", 200)
	p.silent()

	// From elsewhere the scanner's address is banned as well: its next
	// request is dropped whatever its User-Agent.
	q := newRawPeer(t, "127.0.0.2", ts.Addr())
	q.send("OPTIONS", "friendly-scanner", "")
	ts.waitBlocked(t, BlockScanner, 3)
	q.send("OPTIONS", "innocent", "")
	ts.waitBlocked(t, BlockBanned, 1)
	q.silent()
}

func TestFloodIsBanned(t *testing.T) {
	ts := guarded(t, guard.Policy{
		Options: guard.Rate{PerSecond: 0.001, Burst: 3},
		Invite:  guard.Rate{PerSecond: 0.001, Burst: 3},
		Ban:     time.Minute,
	})
	attacker := newRawPeer(t, "127.0.0.2", ts.Addr())
	for range 3 {
		attacker.expect("OPTIONS", "", "", 200)
	}
	attacker.send("OPTIONS", "", "")
	ts.waitBlocked(t, BlockRate, 1)
	// Banned: every request is dropped, any method, in a dialog or not.
	attacker.send("REGISTER", "", "")
	attacker.send("BYE", "", "abc")
	ts.waitBlocked(t, BlockBanned, 2)
	attacker.silent()

	// The allow-listed source floods freely.
	local := newRawPeer(t, "127.0.0.1", ts.Addr())
	for range 20 {
		local.expect("OPTIONS", "", "", 200)
	}
	// Another source has its own bucket, and requests within a dialog
	// are never limited.
	other := newRawPeer(t, "127.0.0.3", ts.Addr())
	for range 10 {
		other.expect("BYE", "", "abc", 481)
	}
	for range 3 {
		other.expect("OPTIONS", "", "", 200)
	}
	if got := ts.blocked(BlockRate); got != 1 {
		t.Fatalf("rate blocks = %v, want 1", got)
	}
}

func TestRegisterBruteForceLocksOut(t *testing.T) {
	ts := guarded(t, guard.Policy{AccountFailures: 3, SourceFailures: 5, AuthWindow: time.Minute, AuthLockout: time.Minute})
	attacker := newPhoneAt(t, "127.0.0.2")
	srv := ts.Addr()
	for i := range 3 {
		if res := attacker.register(t, srv, "1003", fmt.Sprint("guess", i), 600); res.StatusCode != 403 {
			t.Fatalf("wrong password %d: %d %s", i, res.StatusCode, res.Reason)
		}
	}
	// Account 1003 is locked: the right password is refused, looking
	// exactly like a wrong one.
	res := attacker.register(t, srv, "1003", "demo1003", 600)
	if res.StatusCode != 403 || res.Reason != "Forbidden" {
		t.Fatalf("right password while locked: %d %s, want 403 Forbidden", res.StatusCode, res.Reason)
	}
	ts.waitBlocked(t, BlockLockout, 1)
	other := newPhoneAt(t, "127.0.0.3")
	if res := other.register(t, srv, "1003", "demo1003", 600); res.StatusCode != 403 {
		t.Fatalf("locked account from another source: %d", res.StatusCode)
	}
	// An unknown user is answered like a wrong password.
	unknown := attacker.register(t, srv, "nobody", "x", 600)
	if unknown.StatusCode != 403 || unknown.Reason != "Forbidden" {
		t.Fatalf("unknown user: %d %s, want 403 Forbidden like a wrong password", unknown.StatusCode, unknown.Reason)
	}
	// The allow-listed network (the office) is never locked out, and its
	// success clears the account's failures.
	if res := newPhone(t).register(t, srv, "1003", "demo1003", 600); res.StatusCode != 200 {
		t.Fatalf("allow-listed phone: %d %s", res.StatusCode, res.Reason)
	}
	waitChange(t, ts.changes)
	if res := other.register(t, srv, "1003", "demo1003", 600); res.StatusCode != 200 {
		t.Fatalf("after the owner's success: %d %s", res.StatusCode, res.Reason)
	}
	// The attacker's fifth failure locks its source: nothing it sends
	// authenticates any more.
	if res := attacker.register(t, srv, "nobody", "y", 600); res.StatusCode != 403 {
		t.Fatal(res.StatusCode)
	}
	blocked := ts.blocked(BlockLockout)
	if res := attacker.register(t, srv, "1003", "demo1003", 600); res.StatusCode != 403 {
		t.Fatalf("locked source with the right password: %d", res.StatusCode)
	}
	ts.waitBlocked(t, BlockLockout, blocked+1)
	if got := ts.metricsAuthFailures(); got != 5 {
		t.Fatalf("auth failures = %v, want the 5 wrong credentials only", got)
	}
}

func (ts *testServer) metricsAuthFailures() float64 {
	var m dto.Metric
	_ = ts.metrics.authFailures.Write(&m)
	return m.GetCounter().GetValue()
}

func TestCallLimitAnswers503WithRetryAfter(t *testing.T) {
	ts := startServer(t)
	carrier := newPhone(t)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	res, err := carrier.client.Do(ctx, inviteRequest(ts.Addr(), "full", carrierOffer))
	if err != nil {
		t.Fatal(err)
	}
	if res.StatusCode != 503 {
		t.Fatalf("status %d %s, want 503", res.StatusCode, res.Reason)
	}
	if h := res.GetHeader("Retry-After"); h == nil || h.Value() != "30" {
		t.Fatalf("Retry-After = %v, want 30", h)
	}
	if got := ts.blocked(BlockCallLimit); got != 1 {
		t.Fatalf("call-limit blocks = %v, want 1", got)
	}
}

// TestNoGuardScreensNothing: without a guard (sip's tests, tools) a
// scanner is answered like anyone.
func TestNoGuardScreensNothing(t *testing.T) {
	ts := startServer(t)
	p := newRawPeer(t, "127.0.0.2", ts.Addr())
	for range 50 {
		p.expect("OPTIONS", "friendly-scanner", "", 200)
	}
}

func TestRequestKind(t *testing.T) {
	for _, tt := range []struct {
		method sip.RequestMethod
		toTag  bool
		kind   guard.Kind
		ok     bool
	}{
		{sip.INVITE, false, guard.Invite, true},
		{sip.INVITE, true, 0, false},
		{sip.REGISTER, false, guard.Register, true},
		{sip.OPTIONS, false, guard.Options, true},
		{sip.OPTIONS, true, 0, false},
		{sip.MESSAGE, false, guard.Options, true},
		{sip.BYE, true, 0, false},
		{sip.ACK, false, 0, false},
	} {
		req := sip.NewRequest(tt.method, sip.Uri{Scheme: "sip", Host: "127.0.0.1"})
		to := &sip.ToHeader{Address: sip.Uri{Scheme: "sip", Host: "127.0.0.1"}, Params: sip.NewParams()}
		if tt.toTag {
			to.Params.Add("tag", "x")
		}
		req.AppendHeader(to)
		kind, ok := requestKind(req)
		if kind != tt.kind || ok != tt.ok {
			t.Errorf("%s (to tag %v) = %v %v, want %v %v", tt.method, tt.toTag, kind, ok, tt.kind, tt.ok)
		}
	}
}

package app_test

import (
	"fmt"
	"net"
	"net/netip"
	"os"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"
)

// The robustness checks of docs/security.md. Each records a row of what held;
// `make robust` runs them at full scale (HOTLINE_ROBUST=1) and prints the
// table, `make test` runs them at a scale that fits a unit test run.

// robustFull is set by `make robust`: bigger floods, more calls.
var robustFull = os.Getenv("HOTLINE_ROBUST") != ""

// robustScale picks the make test or the make robust size of a load.
func robustScale[T any](test, full T) T {
	if robustFull {
		return full
	}
	return test
}

type robustRow struct {
	check, measured, target string
	held                    bool
}

var robustTable struct {
	sync.Mutex
	rows []robustRow
}

// reportRobust adds a row to the table and fails t when the row did not hold.
func reportRobust(t *testing.T, check, measured, target string, held bool) {
	t.Helper()
	robustTable.Lock()
	robustTable.rows = append(robustTable.rows, robustRow{check, measured, target, held})
	robustTable.Unlock()
	if !held {
		t.Errorf("%s: %s; target %s", check, measured, target)
	}
}

// TestMain prints the robustness table after a verbose run (make robust
// greps its lines by the "robust|" prefix).
func TestMain(m *testing.M) {
	code := m.Run()
	robustTable.Lock()
	rows := robustTable.rows
	robustTable.Unlock()
	if len(rows) > 0 && testing.Verbose() {
		sort.SliceStable(rows, func(i, j int) bool { return rows[i].check < rows[j].check })
		fmt.Println("robust| check | measured | target | held |")
		fmt.Println("robust|---|---|---|---|")
		for _, r := range rows {
			held := "yes"
			if !r.held {
				held = "**NO**"
			}
			fmt.Printf("robust| %s | %s | %s | %s |\n", r.check, r.measured, r.target, held)
		}
	}
	os.Exit(code)
}

// headerValue is the value of the first header called name (any case) in a
// raw SIP message.
func headerValue(raw, name string) string {
	head, _, _ := strings.Cut(raw, "\r\n\r\n")
	for _, line := range strings.Split(head, "\r\n")[1:] {
		n, v, ok := strings.Cut(line, ":")
		if ok && strings.EqualFold(strings.TrimSpace(n), name) {
			return strings.TrimSpace(v)
		}
	}
	return ""
}

// carrierCall is one call placed over raw UDP from its own socket: INVITE,
// the answer, ACK and BYE, as a carrier sends them.
type carrierCall struct {
	peer   *sipPeer
	server string // hotline's SIP address
	callID string
	ruri   string
	answer sipAnswer // the final answer to the INVITE
}

// carrierOffer is a PCMU offer for a fresh RTP socket on peer's address, so
// hotline's audio for the call lands there and nowhere else on loopback.
func carrierOffer(t *testing.T, peer *sipPeer) string {
	t.Helper()
	rtp, err := net.ListenUDP("udp4", net.UDPAddrFromAddrPort(netip.AddrPortFrom(peer.addr().Addr(), 0)))
	if err != nil {
		t.Fatalf("rtp socket: %v", err)
	}
	t.Cleanup(func() { rtp.Close() })
	return offerSDPAt(rtp.LocalAddr().(*net.UDPAddr).AddrPort(), "0 101", "0 PCMU/8000", "101 telephone-event/8000")
}

// placeCarrierCall sends an INVITE with offer (none when empty) and waits
// for its final answer. The time to it is the call's setup time.
func placeCarrierCall(t *testing.T, server string, peer *sipPeer, callID, offer string, within time.Duration) (*carrierCall, time.Duration) {
	t.Helper()
	c := &carrierCall{peer: peer, server: server, callID: callID, ruri: "sip:8005551000@" + server}
	start := time.Now()
	peer.send(t, server, []byte(sipRequest(peer, "INVITE", c.ruri, callID, 1, nil, offer)))
	answers := peer.read(t, start.Add(within), true)
	setup := time.Since(start)
	if !hasFinal(answers) {
		return c, setup
	}
	c.answer = answers[len(answers)-1]
	return c, setup
}

// ack acknowledges the 2xx to the INVITE.
func (c *carrierCall) ack(t *testing.T) {
	t.Helper()
	ack := strings.Replace(c.inDialog("ACK", 1), "-1;rport", "-ack;rport", 1)
	c.peer.send(t, c.server, []byte(ack))
}

// inDialog is a request of the call's dialog, with the To tag of the answer.
func (c *carrierCall) inDialog(method string, cseq int) string {
	req := sipRequest(c.peer, method, c.ruri, c.callID, cseq, nil, "")
	return strings.Replace(req, "To: <"+c.ruri+">\r\n", "To: "+headerValue(c.answer.raw, "To")+"\r\n", 1)
}

// bye hangs up and returns the BYE's final status, 0 for none.
func (c *carrierCall) bye(t *testing.T) int {
	t.Helper()
	c.peer.send(t, c.server, []byte(c.inDialog("BYE", 2)))
	deadline := time.Now().Add(5 * time.Second)
	for time.Now().Before(deadline) {
		// Until the BYE's answer: retransmissions of the 200 to the INVITE
		// may come first.
		for _, a := range c.peer.read(t, deadline, true) {
			if strings.Contains(headerValue(a.raw, "CSeq"), "BYE") && a.status >= 200 {
				return a.status
			}
		}
	}
	return 0
}

// ackAndBye acknowledges a 2xx and hangs up; it returns the BYE's final status.
func (c *carrierCall) ackAndBye(t *testing.T) int {
	t.Helper()
	c.ack(t)
	return c.bye(t)
}

// answerMedia is where the answer's SDP says hotline takes the call's RTP.
func (c *carrierCall) answerMedia(t *testing.T) netip.AddrPort {
	t.Helper()
	_, body, _ := strings.Cut(c.answer.raw, "\r\n\r\n")
	var ip, port string
	for _, line := range strings.Split(body, "\r\n") {
		if v, ok := strings.CutPrefix(line, "c=IN IP4 "); ok {
			ip = v
		}
		if v, ok := strings.CutPrefix(line, "m=audio "); ok {
			port, _, _ = strings.Cut(v, " ")
		}
	}
	ap, err := netip.ParseAddrPort(ip + ":" + port)
	if err != nil {
		t.Fatalf("answer without a usable audio address (%v):\n%s", err, c.answer.raw)
	}
	return ap
}

// percentile is the p-th percentile (0..100) of ds, nearest rank.
func percentile(ds []time.Duration, p float64) time.Duration {
	if len(ds) == 0 {
		return 0
	}
	s := append([]time.Duration(nil), ds...)
	sort.Slice(s, func(i, j int) bool { return s[i] < s[j] })
	i := int(p/100*float64(len(s))+0.5) - 1
	return s[max(0, min(i, len(s)-1))]
}

// flooder sends INVITEs from one socket, each with its own Call-ID.
type flooder struct {
	h    *hotline
	peer *sipPeer
	dst  *net.UDPAddr
	sent int
}

func newFlooder(t *testing.T, h *hotline, src netip.Addr) *flooder {
	conn, err := net.ListenUDP("udp4", net.UDPAddrFromAddrPort(netip.AddrPortFrom(src, 0)))
	if err != nil {
		t.Errorf("flood socket: %v", err)
		return nil
	}
	return &flooder{h: h, peer: &sipPeer{conn: conn}, dst: net.UDPAddrFromAddrPort(netip.MustParseAddrPort(h.sipAddr()))}
}

// invites sends n more INVITEs; a full socket buffer ends the burst early.
func (f *flooder) invites(n int) {
	for range n {
		msg := sipRequest(f.peer, "INVITE", "sip:8005551000@"+f.h.sipAddr(), fmt.Sprintf("flood-%d", f.sent), 1, nil, offerSDP(f.peer, "0", "0 PCMU/8000"))
		if _, err := f.peer.conn.WriteToUDP([]byte(msg), f.dst); err != nil {
			return
		}
		f.sent++
	}
}

func (f *flooder) close() { f.peer.conn.Close() }

package app_test

import (
	"crypto/md5"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"math/big"
	"net"
	"net/http"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/emiago/sipgo/sip"

	"github.com/hotline-cc/hotline/config"
)

// The torture messages of RFC 4475 and RFC 5118 (the wire forms with CRLF line ends),
// kept outside the module in the team's shared folder; see its README.md.

// tortureClass is what the RFC says a server must do with a message.
type tortureClass int

const (
	// tortureValid: a well-formed request (RFC 4475 §3.1.1, §3.2, §3.3, §3.4;
	// RFC 5118 §4 except 4.2). It may be refused for what it asks (404, 401,
	// 405, ...) but must never cost a 5xx.
	tortureValid tortureClass = iota + 1
	// tortureReject: a malformed request (RFC 4475 §3.1.2, test.dat; RFC 5118 §4.2).
	// A 4xx (typically 400) or no answer at all; never a 2xx, never a 5xx.
	tortureReject
	// tortureResponse: a response that matches no transaction of ours. A UA drops
	// it (RFC 3261 §18.1.2); answering a response is impossible.
	tortureResponse
)

func (c tortureClass) String() string {
	switch c {
	case tortureValid:
		return "valid"
	case tortureReject:
		return "reject"
	case tortureResponse:
		return "response"
	}
	return "unknown"
}

// tortureCases pins what hotline answers to each message. want is the list of
// status codes that reach the sender, in order; "" means no answer at all. A change
// in hotline's (or sipgo's) behaviour fails the test and has to be looked at.
//
// Every INVITE that gets as far as admission is answered 404: the trunk of the
// torture run only takes 8005551000, so no torture INVITE is answered 200 and
// hotline never sends RTP or a BYE to the TEST-NET and example.com addresses the
// messages carry (tests send to loopback only).
//
// Rows marked KNOWN BUG hold the answer hotline owes and fail until it is fixed;
// rows marked deviation pin a tolerated answer that differs from the RFC's.
var tortureCases = []struct {
	file  string
	class tortureClass
	want  string
	why   string
}{
	// RFC 4475 §3.1.1: valid messages.
	{"rfc4475/wsinv.dat", tortureValid, "400", "3.1.1.1 short-form and folded headers, odd whitespace; sipgo reads no tag in `;\r\n tag = x` and answers 400 itself (deviation: valid message refused)"},
	{"rfc4475/intmeth.dat", tortureValid, "405", "3.1.1.2 extension method with wide token characters"},
	{"rfc4475/esc01.dat", tortureValid, "404", "3.1.1.3 escaped characters in URIs"},
	{"rfc4475/escnull.dat", tortureValid, "401", "3.1.1.4 escaped NUL in a user part"},
	{"rfc4475/esc02.dat", tortureValid, "405", "3.1.1.5 escaped method name: a different method"},
	{"rfc4475/lwsdisp.dat", tortureValid, "200", "3.1.1.6 display name without LWS before <"},
	{"rfc4475/longreq.dat", tortureValid, "404", "3.1.1.7 long header values: the 404 is over 1300 bytes, sent since hsip raises sipgo's UDPMTUSize"},
	{"rfc4475/dblreq.dat", tortureValid, "401", "3.1.1.8 a REGISTER followed by an extra INVITE in one datagram (ignored)"},
	{"rfc4475/semiuri.dat", tortureValid, "200", "3.1.1.9 semicolon in a user part"},
	{"rfc4475/transports.dat", tortureValid, "200", "3.1.1.10 Via with unknown transports"},
	{"rfc4475/mpart01.dat", tortureValid, "405", "3.1.1.11 multipart MIME MESSAGE"},
	{"rfc4475/unreason.dat", tortureResponse, "", "3.1.1.12 response with an unusual reason phrase"},
	{"rfc4475/noreason.dat", tortureResponse, "", "3.1.1.13 response without a reason phrase"},

	// RFC 4475 §3.1.2: invalid messages.
	{"rfc4475/badinv01.dat", tortureReject, "", "3.1.2.1 empty Via and Contact parameters"},
	{"rfc4475/clerr.dat", tortureReject, "", "3.1.2.2 Content-Length larger than the datagram"},
	{"rfc4475/ncl.dat", tortureReject, "", "3.1.2.3 negative Content-Length"},
	{"rfc4475/scalar02.dat", tortureReject, "", "3.1.2.4 overlarge CSeq and Expires"},
	{"rfc4475/scalarlg.dat", tortureResponse, "", "3.1.2.5 response with overlarge scalars"},
	{"rfc4475/quotbal.dat", tortureReject, "", "3.1.2.6 unterminated quoted string"},
	{"rfc4475/ltgtruri.dat", tortureReject, "", "3.1.2.7 <> around the Request-URI"},
	{"rfc4475/lwsruri.dat", tortureReject, "", "3.1.2.8 whitespace inside the Request-URI"},
	{"rfc4475/lwsstart.dat", tortureReject, "", "3.1.2.9 several spaces in the request line"},
	{"rfc4475/trws.dat", tortureReject, "", "3.1.2.10 trailing whitespace after the version"},
	{"rfc4475/escruri.dat", tortureReject, "404", "3.1.2.11 escaped headers in the Request-URI"},
	{"rfc4475/baddate.dat", tortureReject, "404", "3.1.2.12 Date in a zone other than GMT"},
	{"rfc4475/regbadct.dat", tortureReject, "401", "3.1.2.13 unbracketed Contact with a ? header"},
	{"rfc4475/badaspec.dat", tortureReject, "", "3.1.2.14 whitespace inside <> of an addr-spec"},
	{"rfc4475/baddn.dat", tortureReject, "", "3.1.2.15 unquoted display name with a comma; no end of headers"},
	{"rfc4475/badvers.dat", tortureReject, "505", "3.1.2.16 SIP/7.0: 505 Version Not Supported (RFC 3261 §21.5.7), in SIP/2.0"},
	{"rfc4475/mismatch01.dat", tortureReject, "400", "3.1.2.17 CSeq method differs from the request method"},
	{"rfc4475/mismatch02.dat", tortureReject, "405", "3.1.2.18 unknown method, CSeq INVITE"},
	{"rfc4475/bigcode.dat", tortureResponse, "", "3.1.2.19 response code beyond three digits"},
	{"rfc4475/test.dat", tortureReject, "", "archive only: no version, header without a colon"},

	// RFC 4475 §3.2 to §3.4: well-formed, with semantics a server must cope with.
	{"rfc4475/badbranch.dat", tortureValid, "200", "3.2.1 branch is only the magic cookie"},
	{"rfc4475/insuf.dat", tortureValid, "400", "3.3.1 missing To, From, Call-ID, Max-Forwards"},
	{"rfc4475/unkscm.dat", tortureValid, "200", "3.3.2 unknown Request-URI scheme (deviation: RFC 3261 §8.2.2.1 wants 416)"},
	{"rfc4475/novelsc.dat", tortureValid, "", "3.3.3 known but atypical Request-URI scheme; sipgo cannot parse soap.beep: and drops it (416 would be better)"},
	{"rfc4475/unksm2.dat", tortureValid, "401", "3.3.4 unknown schemes in To, From, Contact"},
	{"rfc4475/bext01.dat", tortureValid, "200", "3.3.5 Require with unknown extensions (deviation: RFC 3261 §8.2.2.3 wants 420 + Unsupported)"},
	{"rfc4475/invut.dat", tortureValid, "404", "3.3.6 INVITE with an unknown body type"},
	{"rfc4475/regaut01.dat", tortureValid, "403", "3.3.7 Authorization with an unknown scheme (deviation: RFC 4475 wants a 401 challenge)"},
	{"rfc4475/multi01.dat", tortureValid, "404", "3.3.8 several values in single-value headers"},
	{"rfc4475/mcl01.dat", tortureValid, "200", "3.3.9 two Content-Length headers (deviation: RFC 4475 wants 400)"},
	{"rfc4475/bcast.dat", tortureResponse, "", "3.3.10 200 with a broadcast Via"},
	{"rfc4475/zeromf.dat", tortureValid, "200", "3.3.11 Max-Forwards: 0"},
	{"rfc4475/cparam01.dat", tortureValid, "401", "3.3.12 Contact parameter without <>"},
	{"rfc4475/cparam02.dat", tortureValid, "401", "3.3.13 Contact URI parameter inside <>"},
	{"rfc4475/regescrt.dat", tortureValid, "401", "3.3.14 escaped Route header in a Contact"},
	{"rfc4475/sdp01.dat", tortureValid, "404", "3.3.15 Accept that excludes SDP"},
	{"rfc4475/inv2543.dat", tortureValid, "400", "3.4.1 RFC 2543 style INVITE without From tag; sipgo answers 400 itself (deviation: RFC 4475 wants it accepted)"},

	// RFC 5118 §4, with CRLF line ends and a right Content-Length.
	{"rfc5118-wire/ipv6-good.sip", tortureValid, "401", "4.1 IPv6 reference in a Request-URI"},
	{"rfc5118-wire/ipv6-bad.sip", tortureReject, "", "4.2 IPv6 address without brackets"},
	{"rfc5118-wire/port-ambiguous.sip", tortureValid, "401", "4.3 IPv6 reference ending in what looks like a port"},
	{"rfc5118-wire/port-unambiguous.sip", tortureValid, "401", "4.4 IPv6 reference and a port"},
	{"rfc5118-wire/via-received-param-with-delim.sip", tortureValid, "481", "4.5 received= IPv6 in brackets"},
	{"rfc5118-wire/via-received-param-no-delim.sip", tortureValid, "200", "4.5 received= IPv6 without brackets"},
	{"rfc5118-wire/ipv6-in-sdp.sip", tortureValid, "404", "4.6 IPv6 in SDP"},
	{"rfc5118-wire/mult-ip-in-header.sip", tortureValid, "481", "4.7 IPv4 and IPv6 in headers"},
	{"rfc5118-wire/mult-ip-in-sdp.sip", tortureValid, "404", "4.8 IPv4 and IPv6 in SDP"},
	{"rfc5118-wire/ipv4-mapped-ipv6.sip", tortureValid, "404", "4.9 IPv4-mapped IPv6 addresses"},
	// RFC 3261's ABNF allows the three-colon form by mistake (RFC 5118 §4.10); a
	// parser may take either, so only the "no 5xx" rule applies.
	{"rfc5118-wire/ipv6-bug-abnf-3-colons.sip", tortureValid, "200", "4.10 three colons before an embedded IPv4"},
	{"rfc5118-wire/ipv6-correct-abnf-2-colons.sip", tortureValid, "200", "4.10 two colons before an embedded IPv4"},
}

// tortureDir is the shared folder of torture messages next to the module.
func tortureDir(t *testing.T) string {
	t.Helper()
	out, err := exec.Command("go", "env", "GOMOD").Output()
	if err != nil {
		t.Fatalf("go env GOMOD: %v", err)
	}
	root := filepath.Dir(strings.TrimSpace(string(out)))
	dir := filepath.Join(root, "..", "shared", "sip-torture-rfc")
	if _, err := os.Stat(filepath.Join(dir, "rfc4475")); err != nil {
		t.Skipf("SIP torture messages not found (%v): the test needs ../shared/sip-torture-rfc next to the module", err)
	}
	return dir
}

// tortureEdit restricts the demo trunk to one number so that no torture INVITE
// becomes a call (see tortureCases).
func tortureEdit(c *config.Config) {
	c.Trunks[0].Numbers = []string{"8005551000"}
}

// sipPeer is a UDP socket on its own loopback address. Each peer gets a fresh
// 127.x.y.z, so no answer meant for an earlier message (retransmissions of a final
// answer to an INVITE go on for 32 s, RFC 3261 §17.2.1) can reach it, and nothing
// else on 127.0.0.1 (a hotline on 5060, say) is in the way.
type sipPeer struct {
	conn *net.UDPConn
}

// newSIPPeer binds a UDP socket to port on ip, or on a random loopback address
// when ip is invalid. Over UDP, hotline answers to the request's source address and
// the port of its top Via (RFC 3261 §18.2.2), or the source port with rport
// (RFC 3581), so a peer binds the port its message's Via names.
func newSIPPeer(t *testing.T, ip netip.Addr, port int) *sipPeer {
	t.Helper()
	for range 50 {
		addr := ip
		if !addr.IsValid() {
			addr = randomLoopback(t)
		}
		conn, err := net.ListenUDP("udp4", net.UDPAddrFromAddrPort(netip.AddrPortFrom(addr, uint16(port))))
		if errors.Is(err, syscall.EADDRINUSE) && !ip.IsValid() {
			continue
		}
		if err != nil {
			t.Fatalf("bind %s:%d: %v", addr, port, err)
		}
		t.Cleanup(func() { conn.Close() })
		return &sipPeer{conn: conn}
	}
	t.Fatalf("no free loopback address with port %d", port)
	return nil
}

// randomLoopback is 127.a.b.c, away from 127.0.0.0/24 where people run things.
func randomLoopback(t *testing.T) netip.Addr {
	t.Helper()
	var b [3]byte
	for i := range b {
		n, err := rand.Int(rand.Reader, big.NewInt(254))
		if err != nil {
			t.Fatal(err)
		}
		b[i] = byte(n.Int64() + 1)
	}
	return netip.AddrFrom4([4]byte{127, b[0], b[1], b[2]})
}

func (p *sipPeer) addr() netip.AddrPort { return p.conn.LocalAddr().(*net.UDPAddr).AddrPort() }

func (p *sipPeer) send(t *testing.T, to string, msg []byte) {
	t.Helper()
	dst, err := net.ResolveUDPAddr("udp4", to)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := p.conn.WriteToUDP(msg, dst); err != nil {
		t.Fatalf("send to %s: %v", to, err)
	}
}

// sipAnswer is one response read from the socket.
type sipAnswer struct {
	status int
	raw    string
}

// Any version: a server that echoes a request's bad version (SIP/7.0) must still be seen.
var statusLine = regexp.MustCompile(`^SIP/\d+\.\d+ (\d{3}) `)

// read collects responses until the deadline passes; with untilFinal it returns at
// the first final response instead. Waiting is the socket's read deadline.
func (p *sipPeer) read(t *testing.T, deadline time.Time, untilFinal bool) []sipAnswer {
	t.Helper()
	var got []sipAnswer
	buf := make([]byte, 65536)
	for {
		if err := p.conn.SetReadDeadline(deadline); err != nil {
			t.Fatal(err)
		}
		n, _, err := p.conn.ReadFromUDP(buf)
		if err != nil {
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				return got
			}
			t.Fatalf("read: %v", err)
		}
		raw := string(buf[:n])
		m := statusLine.FindStringSubmatch(raw)
		if m == nil {
			t.Errorf("hotline sent something that is not a response:\n%s", raw)
			continue
		}
		code, _ := strconv.Atoi(m[1])
		got = append(got, sipAnswer{status: code, raw: raw})
		if untilFinal && code >= 200 {
			return got
		}
	}
}

// codes is the answers' status codes, a retransmitted final answer counted once.
func codes(answers []sipAnswer) string {
	var out []string
	for i, a := range answers {
		if i > 0 && a.status == answers[i-1].status && a.status >= 200 {
			continue
		}
		out = append(out, strconv.Itoa(a.status))
	}
	return strings.Join(out, " ")
}

func hasFinal(answers []sipAnswer) bool {
	for _, a := range answers {
		if a.status >= 200 {
			return true
		}
	}
	return false
}

// tortureTarget is where a torture message's answer goes: the port of its top Via
// as sipgo reads it, 5060 when it has none or sipgo cannot parse the message
// (then any answer is sipgo's stateless 400 to the source address).
func tortureTarget(msg []byte) int {
	m, err := sip.ParseMessage(msg)
	if err != nil {
		return 5060
	}
	req, ok := m.(*sip.Request)
	if !ok || req.Via() == nil || req.Via().Port == 0 {
		return 5060
	}
	return req.Via().Port
}

// sipCounters sums hotline's SIP request and response counters from /metrics.
func sipCounters(h *hotline) (requests float64, responses map[string]float64) {
	responses = map[string]float64{}
	for _, line := range strings.Split(h.metrics(), "\n") {
		name, value, ok := strings.Cut(line, " ")
		if !ok {
			continue
		}
		v, err := strconv.ParseFloat(value, 64)
		if err != nil {
			continue
		}
		switch {
		case strings.HasPrefix(name, "hotline_sip_requests_total{"):
			requests += v
		case strings.HasPrefix(name, "hotline_sip_responses_total{") && v > 0:
			code := regexp.MustCompile(`code="(\d+)"`).FindStringSubmatch(name)
			if code != nil {
				responses[code[1]] += v
			}
		}
	}
	return requests, responses
}

type tortureResult struct {
	file, transport, class, want, got string
	handled                           bool
}

// TestTortureMessages sends every RFC 4475 and RFC 5118 torture message, each as
// one datagram to its own fresh hotline (several messages share a Call-ID, branch
// and CSeq, so on one server a later one would be taken for a retransmission of an
// earlier one and get its answer), and checks the answer against the table and
// the RFC's class.
func TestTortureMessages(t *testing.T) {
	t.Parallel()
	dir := tortureDir(t)
	var (
		mu      sync.Mutex
		results []tortureResult
	)
	seen := map[string]bool{}
	for _, tc := range tortureCases {
		seen[tc.file] = true
	}
	for _, pattern := range []string{"rfc4475/*.dat", "rfc5118-wire/*"} {
		files, _ := filepath.Glob(filepath.Join(dir, pattern))
		for _, f := range files {
			rel, _ := filepath.Rel(dir, f)
			if !seen[rel] {
				t.Errorf("%s is not in tortureCases: classify it", rel)
			}
		}
	}
	for _, transport := range []string{"udp", "tcp"} {
		t.Run(transport, func(t *testing.T) {
			for _, tc := range tortureCases {
				t.Run(strings.TrimSuffix(filepath.Base(tc.file), filepath.Ext(tc.file)), func(t *testing.T) {
					t.Parallel()
					msg, err := os.ReadFile(filepath.Join(dir, tc.file))
					if err != nil {
						t.Fatalf("%s: %v", tc.file, err)
					}
					want, racesClose := tc.want, false
					if tcp, ok := tortureOverTCP[tc.file]; ok && transport == "tcp" {
						want, racesClose = tcp.want, tcp.racesClose
					}
					h := startHotline(t, tortureEdit)
					reqBefore, _ := sipCounters(h)
					answers, sent := tortureExchange(t, h, transport, msg, want != "")
					reqAfter, _ := sipCounters(h)
					got := codes(answers)
					if racesClose {
						// Whatever the race left (nothing, the first message's
						// answer, or the next message's too) is right, as long as
						// every answer keeps the class rules below.
						want = got
					}
					for code := range sent {
						if !racesClose && !strings.Contains(" "+got+" ", " "+code+" ") {
							t.Errorf("hotline counted a %s as sent but it never reached the sender", code)
						}
					}
					mu.Lock()
					results = append(results, tortureResult{file: tc.file, transport: transport, class: tc.class.String(), want: want, got: got, handled: reqAfter > reqBefore})
					mu.Unlock()

					for _, a := range answers {
						switch {
						case a.status >= 500 && !strings.Contains(" "+want+" ", " "+strconv.Itoa(a.status)+" "):
							t.Errorf("%s (%s): answered %d: a torture message must never cost a server error\n%s", tc.file, tc.why, a.status, a.raw)
						case tc.class == tortureReject && a.status >= 200 && a.status < 300:
							t.Errorf("%s (%s): malformed, yet answered %d\n%s", tc.file, tc.why, a.status, a.raw)
						case tc.class == tortureReject && a.status >= 300 && (a.status < 400 || a.status >= 500) && a.status != 505:
							t.Errorf("%s (%s): malformed, want a 4xx or no answer, got %d", tc.file, tc.why, a.status)
						case tc.class == tortureResponse:
							t.Errorf("%s (%s): a stray response was answered with %d", tc.file, tc.why, a.status)
						}
					}
					if got != want {
						t.Errorf("%s over %s (%s): answers %q, table says %q", tc.file, transport, tc.why, got, want)
					}
					if active := metricValue(h.metrics(), "hotline_calls_active"); active != 0 {
						t.Errorf("%s: %v calls active after a torture message", tc.file, active)
					}
				})
			}
		})
	}

	sort.Slice(results, func(i, j int) bool { return results[i].file < results[j].file })
	var table strings.Builder
	fmt.Fprintf(&table, "%-50s %-4s %-9s %-10s %-10s %s\n", "file", "over", "class", "answers", "table", "reached a handler")
	var silent []string
	matched := 0
	for _, r := range results {
		if r.got == r.want {
			matched++
		}
		got, want := r.got, r.want
		if got == "" {
			got = "-"
			silent = append(silent, r.transport+":"+r.file)
		}
		if want == "" {
			want = "-"
		}
		fmt.Fprintf(&table, "%-50s %-4s %-9s %-10s %-10s %v\n", r.file, r.transport, r.class, got, want, r.handled)
	}
	t.Logf("torture messages:\n%s\nno answer: %s", table.String(), strings.Join(silent, ", "))
	reportRobust(t, "RFC 4475/5118 torture messages over UDP and TCP",
		fmt.Sprintf("%d of %d exchanges answered as the table says, no 5xx, no call left", matched, len(results)),
		"all as the table says", matched == len(results) && len(results) == 2*len(tortureCases))
}

// tortureOverTCP are the messages whose answer over TCP differs from the
// one over UDP, and why.
var tortureOverTCP = map[string]struct {
	want, why string
	// racesClose: the first message is whole and gets its answer as over UDP,
	// but what follows it in the stream makes sipgo close the connection
	// (or, read as a message of its own, gets an answer too), and the close
	// races the answers' writes: any of those outcomes is right.
	racesClose bool
}{
	// Over a stream, a message whose framing cannot be trusted ends the
	// connection: sipgo's TCP reader closes it at the parse error, and an
	// answer has no connection to go back on (hotline does not open one to a
	// Via host, see hsip's noDNS).
	"rfc4475/dblreq.dat":  {"", "the INVITE after the REGISTER has no Content-Length: the stream cannot be framed", true},
	"rfc4475/mcl01.dat":   {"", "two Content-Length headers: the stream cannot be framed", true},
	"rfc4475/inv2543.dat": {"", "sipgo's TCP reader closes the connection on the parse error instead of answering 400", false},
}

// tortureExchange sends msg to a fresh hotline over transport and returns
// the answers that reached the sender and the status codes hotline counted
// as sent. With wantFinal it waits (up to 3 s) for a final answer.
func tortureExchange(t *testing.T, h *hotline, transport string, msg []byte, wantFinal bool) ([]sipAnswer, map[string]float64) {
	t.Helper()
	var read func(deadline time.Time, untilFinal bool) []sipAnswer
	switch transport {
	case "udp":
		peer := newSIPPeer(t, netip.Addr{}, tortureTarget(msg))
		peer.send(t, h.sipAddr(), msg)
		read = func(deadline time.Time, untilFinal bool) []sipAnswer { return peer.read(t, deadline, untilFinal) }
	case "tcp":
		conn := dialTCPFrom(t, h.sipAddr())
		if _, err := conn.Write(msg); err != nil {
			t.Fatalf("tcp write: %v", err)
		}
		stream := &tcpAnswers{t: t, conn: conn}
		read = stream.read
	}
	// A final answer the table expects ends the wait; else 300 ms show that
	// none comes. Then what hotline counted as sent must have arrived too; a
	// loaded (race-detector) run may need longer.
	var answers []sipAnswer
	if wantFinal {
		answers = read(time.Now().Add(3*time.Second), true)
	} else {
		answers = read(time.Now().Add(300*time.Millisecond), false)
	}
	_, sent := sipCounters(h)
	missing := wantFinal && !hasFinal(answers)
	for code := range sent {
		missing = missing || !strings.Contains(" "+codes(answers)+" ", " "+code+" ")
	}
	if missing {
		answers = append(answers, read(time.Now().Add(3*time.Second), true)...)
	}
	return answers, sent
}

// dialTCPFrom connects to addr from a fresh loopback address, so nothing
// meant for another test's connection can be confused with it.
func dialTCPFrom(t *testing.T, addr string) *net.TCPConn {
	t.Helper()
	raddr, err := net.ResolveTCPAddr("tcp4", addr)
	if err != nil {
		t.Fatal(err)
	}
	for range 20 {
		laddr := &net.TCPAddr{IP: randomLoopback(t).AsSlice()}
		conn, err := net.DialTCP("tcp4", laddr, raddr)
		if errors.Is(err, syscall.EADDRINUSE) {
			continue
		}
		if err != nil {
			t.Fatalf("dial %s: %v", addr, err)
		}
		t.Cleanup(func() { conn.Close() })
		return conn
	}
	t.Fatal("no loopback address to dial from")
	return nil
}

// tcpAnswers reads the responses on a SIP-over-TCP connection: a stream of
// messages, each framed by its Content-Length (RFC 3261 §18.3).
type tcpAnswers struct {
	t    *testing.T
	conn *net.TCPConn
	buf  []byte
}

func (s *tcpAnswers) read(deadline time.Time, untilFinal bool) []sipAnswer {
	var got []sipAnswer
	chunk := make([]byte, 65536)
	for {
		for {
			msg, rest, ok := nextStreamMessage(s.buf)
			if !ok {
				break
			}
			s.buf = rest
			m := statusLine.FindStringSubmatch(msg)
			if m == nil {
				s.t.Errorf("hotline sent something that is not a response:\n%s", msg)
				continue
			}
			code, _ := strconv.Atoi(m[1])
			got = append(got, sipAnswer{status: code, raw: msg})
			if untilFinal && code >= 200 {
				return got
			}
		}
		_ = s.conn.SetReadDeadline(deadline)
		n, err := s.conn.Read(chunk)
		s.buf = append(s.buf, chunk[:n]...)
		if err != nil {
			return got // deadline, or hotline closed the connection
		}
	}
}

// nextStreamMessage cuts the first whole message off a stream.
func nextStreamMessage(b []byte) (msg string, rest []byte, ok bool) {
	s := string(b)
	s = strings.TrimLeft(s, "\r\n") // keep-alive CRLFs (RFC 5626 §3.5.1)
	head, _, found := strings.Cut(s, "\r\n\r\n")
	if !found {
		return "", b, false
	}
	length := 0
	for _, line := range strings.Split(head, "\r\n")[1:] {
		name, value, _ := strings.Cut(line, ":")
		if n := strings.ToLower(strings.TrimSpace(name)); n == "content-length" || n == "l" {
			length, _ = strconv.Atoi(strings.TrimSpace(value))
		}
	}
	end := len(head) + 4 + length
	if len(s) < end {
		return "", b, false
	}
	return s[:end], []byte(s[end:]), true
}

// TestTortureBlastLeavesServerHealthy sends every torture message to one hotline
// back to back, then checks it still serves SIP and HTTP and holds no call.
func TestTortureBlastLeavesServerHealthy(t *testing.T) {
	t.Parallel()
	dir := tortureDir(t)
	h := startHotline(t, tortureEdit)
	for _, tc := range tortureCases {
		msg, err := os.ReadFile(filepath.Join(dir, tc.file))
		if err != nil {
			t.Fatalf("%s: %v", tc.file, err)
		}
		peer := newSIPPeer(t, netip.Addr{}, tortureTarget(msg))
		peer.send(t, h.sipAddr(), msg)
		peer.read(t, time.Now().Add(50*time.Millisecond), true) // drain what comes at once
	}

	peer := newSIPPeer(t, netip.Addr{}, 0)
	peer.send(t, h.sipAddr(), []byte(sipRequest(peer, "OPTIONS", "sip:hotline@"+h.sipAddr(), "alive-1", 1, nil, "")))
	if got := codes(peer.read(t, time.Now().Add(5*time.Second), true)); got != "200" {
		t.Errorf("OPTIONS after the torture messages: %q, want 200", got)
	}
	res, err := http.Get(h.url("/healthz"))
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusOK {
		t.Errorf("/healthz after the torture messages: %d", res.StatusCode)
	}
	waitFor(t, 10*time.Second, "no call active", func() (bool, string) {
		v := metricValue(h.metrics(), "hotline_calls_active")
		return v == 0, fmt.Sprintf("hotline_calls_active %v", v)
	})
}

// sipRequest writes a request from peer to hotline. headers come after the
// mandatory ones; a body gets Content-Type application/sdp.
func sipRequest(peer *sipPeer, method, ruri, callID string, cseq int, headers []string, body string) string {
	from := peer.addr()
	var b strings.Builder
	fmt.Fprintf(&b, "%s %s SIP/2.0\r\n", method, ruri)
	fmt.Fprintf(&b, "Via: SIP/2.0/UDP %s;branch=z9hG4bK-%s-%d;rport\r\n", from, callID, cseq)
	fmt.Fprintf(&b, "Max-Forwards: 70\r\n")
	fmt.Fprintf(&b, "From: <sip:+15550100@%s>;tag=t-%s\r\n", from, callID)
	fmt.Fprintf(&b, "To: <%s>\r\n", ruri)
	fmt.Fprintf(&b, "Call-ID: %s\r\n", callID)
	fmt.Fprintf(&b, "CSeq: %d %s\r\n", cseq, method)
	fmt.Fprintf(&b, "Contact: <sip:+15550100@%s>\r\n", from)
	for _, hdr := range headers {
		b.WriteString(hdr + "\r\n")
	}
	if body != "" {
		b.WriteString("Content-Type: application/sdp\r\n")
	}
	fmt.Fprintf(&b, "Content-Length: %d\r\n\r\n%s", len(body), body)
	return b.String()
}

// offerSDP is an audio offer from peer's address, port 40000, with the given
// m= formats: for offers that are refused, so no RTP ever goes to that port.
func offerSDP(peer *sipPeer, formats string, rtpmaps ...string) string {
	return offerSDPAt(netip.AddrPortFrom(peer.addr().Addr(), 40000), formats, rtpmaps...)
}

// offerSDPAt is an audio offer for RTP at media with the given m= formats.
func offerSDPAt(media netip.AddrPort, formats string, rtpmaps ...string) string {
	ip := media.Addr()
	s := "v=0\r\no=carrier 1 1 IN IP4 " + ip.String() + "\r\ns=-\r\nc=IN IP4 " + ip.String() +
		"\r\nt=0 0\r\nm=audio " + strconv.Itoa(int(media.Port())) + " RTP/AVP " + formats + "\r\n"
	for _, m := range rtpmaps {
		s += "a=rtpmap:" + m + "\r\n"
	}
	return s + "a=sendrecv\r\n"
}

// TestHostileRequestsGetTheirAnswers: the answers hotline owes the requests it must
// refuse, each built by hand.
func TestHostileRequestsGetTheirAnswers(t *testing.T) {
	t.Parallel()
	h := startHotline(t, func(c *config.Config) {
		c.Trunks[0].ACL = []netip.Prefix{netip.MustParsePrefix("127.0.0.1/32")}
		c.Trunks[0].Numbers = []string{"8005551000"}
	})
	called := "sip:8005551000@" + h.sipAddr()
	exchange := func(t *testing.T, peer *sipPeer, req string) []sipAnswer {
		t.Helper()
		peer.send(t, h.sipAddr(), []byte(req))
		return peer.read(t, time.Now().Add(5*time.Second), true)
	}
	final := func(answers []sipAnswer) sipAnswer {
		if len(answers) == 0 {
			return sipAnswer{}
		}
		return answers[len(answers)-1]
	}

	t.Run("INVITE from outside the trunk ACL is 403", func(t *testing.T) {
		peer := newSIPPeer(t, netip.MustParseAddr("127.0.0.2"), 0)
		got := final(exchange(t, peer, sipRequest(peer, "INVITE", called, "acl-1", 1, nil, offerSDP(peer, "0", "0 PCMU/8000"))))
		if got.status != 403 {
			t.Errorf("answer %d, want 403\n%s", got.status, got.raw)
		}
	})
	t.Run("INVITE offering only G.729 is 488", func(t *testing.T) {
		peer := newSIPPeer(t, netip.MustParseAddr("127.0.0.1"), 0)
		got := final(exchange(t, peer, sipRequest(peer, "INVITE", called, "g729-1", 1, nil, offerSDP(peer, "18", "18 G729/8000"))))
		if got.status != 488 {
			t.Errorf("answer %d, want 488\n%s", got.status, got.raw)
		}
	})
	t.Run("INVITE with garbage SDP is 400", func(t *testing.T) {
		peer := newSIPPeer(t, netip.MustParseAddr("127.0.0.1"), 0)
		got := final(exchange(t, peer, sipRequest(peer, "INVITE", called, "garbage-1", 1, nil, "this is not\r\nan SDP = body\r\n\x00\x01\x02\r\n")))
		// The reason names the SDP: the 400 is hotline's offer check, not a parse
		// failure of the SIP message around it.
		if got.status != 400 || !strings.Contains(strings.SplitN(got.raw, "\r\n", 2)[0], "SDP") {
			t.Errorf("answer %d, want 400 for the SDP\n%s", got.status, got.raw)
		}
	})
	t.Run("a line break inside a header is dropped, never echoed", func(t *testing.T) {
		for i, inject := range []struct{ from, to string }{
			{"From: <sip:+15550100@", "From: \"Bob\nX-Injected: 1\" <sip:+15550100@"},
			{"From: <sip:+15550100@", "From: <sip:+15550100\nX-Injected:1@"},
			{"Call-ID: ", "Call-ID: x\nX-Injected: 1"},
		} {
			peer := newSIPPeer(t, netip.MustParseAddr("127.0.0.1"), 0)
			before := metricValue(h.metrics(), `hotline_sip_blocked_total{reason="malformed"}`)
			req := sipRequest(peer, "INVITE", called, fmt.Sprintf("inject-%d", i), 1, nil, offerSDP(peer, "0", "0 PCMU/8000"))
			req = strings.Replace(req, inject.from, inject.to, 1)
			peer.send(t, h.sipAddr(), []byte(req))
			waitFor(t, 5*time.Second, "the request counted as malformed", func() (bool, string) {
				v := metricValue(h.metrics(), `hotline_sip_blocked_total{reason="malformed"}`)
				return v == before+1, fmt.Sprintf("blocked malformed %v", v)
			})
			if got := peer.read(t, time.Now().Add(500*time.Millisecond), false); len(got) != 0 { // past sipgo's 200 ms 100 Trying timer
				t.Errorf("%q: answered %s, want no answer\n%s", inject.to, codes(got), got[0].raw)
			}
		}
	})
	t.Run("BYE for an unknown dialog is 481", func(t *testing.T) {
		peer := newSIPPeer(t, netip.MustParseAddr("127.0.0.1"), 0)
		req := sipRequest(peer, "BYE", called, "nodialog-1", 2, nil, "")
		req = strings.Replace(req, "To: <"+called+">", "To: <"+called+">;tag=no-such-tag", 1)
		got := final(exchange(t, peer, req))
		if got.status != 481 {
			t.Errorf("answer %d, want 481\n%s", got.status, got.raw)
		}
	})
	t.Run("REGISTER with a wrong password is 401 then 403", func(t *testing.T) {
		peer := newSIPPeer(t, netip.MustParseAddr("127.0.0.1"), 0)
		ruri := "sip:" + h.sipAddr()
		aor := "sip:1001@" + h.sipAddr()
		register := func(callID string, cseq int, extra ...string) sipAnswer {
			t.Helper()
			req := sipRequest(peer, "REGISTER", ruri, callID, cseq, append([]string{"Expires: 60"}, extra...), "")
			req = strings.Replace(req, "To: <"+ruri+">", "To: <"+aor+">", 1)
			req = strings.Replace(req, "From: <sip:+15550100@"+peer.addr().String()+">", "From: <"+aor+">", 1)
			req = strings.Replace(req, "Contact: <sip:+15550100@", "Contact: <sip:1001@", 1)
			return final(exchange(t, peer, req))
		}
		challenge := register("reg-1", 1)
		if challenge.status != 401 {
			t.Fatalf("REGISTER without credentials: %d, want 401\n%s", challenge.status, challenge.raw)
		}
		realm, nonce := md5Challenge(t, challenge.raw)
		wrong := register("reg-1", 2, authorization("1001", "not-the-password", realm, nonce, ruri, 1))
		if wrong.status != 403 {
			t.Errorf("REGISTER with a wrong password: %d, want 403\n%s", wrong.status, wrong.raw)
		}
		// The same computation with the right password succeeds, so the 403 above is
		// about the password and not about our digest.
		challenge = register("reg-1", 3)
		realm, nonce = md5Challenge(t, challenge.raw)
		right := register("reg-1", 4, authorization("1001", "demo1001", realm, nonce, ruri, 1))
		if right.status != 200 {
			t.Fatalf("REGISTER with the right password: %d, want 200\n%s", right.status, right.raw)
		}
		challenge = register("reg-1", 5)
		realm, nonce = md5Challenge(t, challenge.raw)
		gone := register("reg-1", 6, "Expires: 0", authorization("1001", "demo1001", realm, nonce, ruri, 1))
		if gone.status != 200 {
			t.Errorf("unREGISTER: %d, want 200\n%s", gone.status, gone.raw)
		}
	})
	if active := metricValue(h.metrics(), "hotline_calls_active"); active != 0 {
		t.Errorf("%v calls active after refused INVITEs", active)
	}
}

var digestParam = regexp.MustCompile(`(\w+)=(?:"([^"]*)"|([^,\s]+))`)

// md5Challenge finds the MD5 WWW-Authenticate challenge of a 401.
func md5Challenge(t *testing.T, raw string) (realm, nonce string) {
	t.Helper()
	for _, line := range strings.Split(raw, "\r\n") {
		name, value, ok := strings.Cut(line, ":")
		if !ok || !strings.EqualFold(strings.TrimSpace(name), "WWW-Authenticate") {
			continue
		}
		params := map[string]string{}
		for _, m := range digestParam.FindAllStringSubmatch(value, -1) {
			params[strings.ToLower(m[1])] = m[2] + m[3]
		}
		if alg := params["algorithm"]; alg != "" && !strings.EqualFold(alg, "MD5") {
			continue
		}
		if !strings.Contains(params["qop"], "auth") {
			t.Fatalf("challenge without qop=auth: %s", line)
		}
		return params["realm"], params["nonce"]
	}
	t.Fatalf("no MD5 challenge in:\n%s", raw)
	return "", ""
}

// authorization is an RFC 2617 digest with qop=auth, computed here from scratch.
func authorization(user, password, realm, nonce, uri string, nc int) string {
	hexMD5 := func(s string) string {
		sum := md5.Sum([]byte(s))
		return hex.EncodeToString(sum[:])
	}
	cnonce := "0a4f113b"
	ha1 := hexMD5(user + ":" + realm + ":" + password)
	ha2 := hexMD5("REGISTER:" + uri)
	response := hexMD5(fmt.Sprintf("%s:%s:%08x:%s:auth:%s", ha1, nonce, nc, cnonce, ha2))
	return fmt.Sprintf(`Authorization: Digest username="%s", realm="%s", nonce="%s", uri="%s", response="%s", algorithm=MD5, qop=auth, nc=%08x, cnonce="%s"`,
		user, realm, nonce, uri, response, nc, cnonce)
}

// TestOversizedMessages: the size limits of docs/security.md. Over UDP a
// request up to the size hotline answers (a few kB) is answered and one past
// sipgo's 32 kB read buffer is dropped; over TCP a Content-Length past the
// 65,535-byte message limit closes the connection before the body is read.
// The server answers normally afterwards.
func TestOversizedMessages(t *testing.T) {
	t.Parallel()
	h := startHotline(t, nil)
	ruri := "sip:hotline@" + h.sipAddr()
	padded := func(peer *sipPeer, callID string, size int) []byte {
		return []byte(sipRequest(peer, "OPTIONS", ruri, callID, 1, []string{"X-Padding: " + strings.Repeat("a", size)}, ""))
	}

	peer := newSIPPeer(t, netip.Addr{}, 0)
	peer.send(t, h.sipAddr(), padded(peer, "big-6k", 6000))
	if got := codes(peer.read(t, time.Now().Add(5*time.Second), true)); got != "200" {
		t.Errorf("6 kB OPTIONS over UDP: %q, want 200", got)
	}
	peer.send(t, h.sipAddr(), padded(peer, "big-40k", 40000))
	if got := peer.read(t, time.Now().Add(500*time.Millisecond), false); len(got) != 0 {
		t.Errorf("40 kB OPTIONS over UDP: answered %s, want dropped", codes(got))
	}

	conn := dialTCPFrom(t, h.sipAddr())
	head := fmt.Sprintf("INVITE sip:8005551000@%s SIP/2.0\r\nVia: SIP/2.0/TCP %s;branch=z9hG4bK-huge\r\nMax-Forwards: 70\r\n"+
		"From: <sip:caller@127.0.0.1>;tag=huge\r\nTo: <sip:8005551000@127.0.0.1>\r\nCall-ID: huge-body\r\nCSeq: 1 INVITE\r\n"+
		"Content-Type: application/sdp\r\nContent-Length: 10000000\r\n\r\n", h.sipAddr(), conn.LocalAddr())
	if _, err := conn.Write([]byte(head + strings.Repeat("v", 1000))); err != nil {
		t.Fatal(err)
	}
	_ = conn.SetReadDeadline(time.Now().Add(5 * time.Second))
	buf := make([]byte, 4096)
	n, err := conn.Read(buf)
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		t.Errorf("a 10 MB Content-Length over TCP: the connection stayed open (read %q)", buf[:n])
	}

	after := newSIPPeer(t, netip.Addr{}, 0)
	after.send(t, h.sipAddr(), padded(after, "after", 10))
	if got := codes(after.read(t, time.Now().Add(5*time.Second), true)); got != "200" {
		t.Errorf("OPTIONS after the oversized messages: %q, want 200", got)
	}
}

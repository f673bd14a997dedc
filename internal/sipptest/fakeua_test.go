package sipptest

import (
	"crypto/md5"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"strconv"
	"strings"
	"testing"
	"time"
)

// A minimal SIP peer over plain UDP with hand-written messages: enough to check that
// the scenarios send what they claim, without hotline and without a SIP stack.

type sipMsg struct {
	start string
	hdr   map[string][]string // lower-case names, compact forms not used by SIPp
	order []string            // "Name: value" lines as received
	body  string
	from  *net.UDPAddr
}

func parseSIP(b []byte) (*sipMsg, error) {
	head, body, ok := strings.Cut(string(b), "\r\n\r\n")
	if !ok {
		return nil, errors.New("no blank line after the headers")
	}
	lines := strings.Split(head, "\r\n")
	m := &sipMsg{start: lines[0], hdr: map[string][]string{}, body: body}
	for _, l := range lines[1:] {
		name, value, ok := strings.Cut(l, ":")
		if !ok {
			return nil, fmt.Errorf("bad header line %q", l)
		}
		k := strings.ToLower(strings.TrimSpace(name))
		m.hdr[k] = append(m.hdr[k], strings.TrimSpace(value))
		m.order = append(m.order, l)
	}
	return m, nil
}

func (m *sipMsg) get(name string) string {
	v := m.hdr[strings.ToLower(name)]
	if len(v) == 0 {
		return ""
	}
	return v[0]
}

// method is the request method, or "" for a response.
func (m *sipMsg) method() string {
	if strings.HasPrefix(m.start, "SIP/2.0 ") {
		return ""
	}
	method, _, _ := strings.Cut(m.start, " ")
	return method
}

func (m *sipMsg) status() int {
	if !strings.HasPrefix(m.start, "SIP/2.0 ") {
		return 0
	}
	code, _ := strconv.Atoi(strings.Fields(m.start)[1])
	return code
}

type fakeUA struct {
	t    testing.TB
	conn *net.UDPConn
	seen map[string]bool // start line + CSeq + Via of messages already taken: retransmissions
}

func newFakeUA(t testing.TB) *fakeUA {
	t.Helper()
	c, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return &fakeUA{t: t, conn: c, seen: map[string]bool{}}
}

func (u *fakeUA) addr() string { return u.conn.LocalAddr().String() }

// expect reads until a new message arrives (skipping retransmissions of ones already
// taken) and fails the test unless it is want: a method, or a status code as text.
func (u *fakeUA) expect(want string, timeout time.Duration) *sipMsg {
	u.t.Helper()
	deadline := time.Now().Add(timeout)
	buf := make([]byte, 65535)
	for {
		if err := u.conn.SetReadDeadline(deadline); err != nil {
			u.t.Fatal(err)
		}
		n, from, err := u.conn.ReadFromUDP(buf)
		if err != nil {
			u.t.Fatalf("waiting for %s: %v", want, err)
		}
		m, err := parseSIP(buf[:n])
		if err != nil {
			u.t.Fatalf("waiting for %s: %v in\n%s", want, err, buf[:n])
		}
		m.from = from
		key := m.start + "|" + m.get("CSeq") + "|" + m.get("Via")
		if u.seen[key] {
			continue
		}
		u.seen[key] = true
		if got := m.method(); got == want || (got == "" && strconv.Itoa(m.status()) == want) {
			return m
		}
		u.t.Fatalf("got %q, want %s:\n%s", m.start, want, buf[:n])
	}
}

func (u *fakeUA) send(to *net.UDPAddr, msg string) {
	u.t.Helper()
	if _, err := u.conn.WriteToUDP([]byte(msg), to); err != nil {
		u.t.Fatal(err)
	}
}

// respond answers req; toTag is added to To when it has none (a dialog-forming or
// final response), extra are more header lines.
func (u *fakeUA) respond(req *sipMsg, status int, reason, toTag string, extra []string, body string) {
	u.t.Helper()
	var b strings.Builder
	fmt.Fprintf(&b, "SIP/2.0 %d %s\r\n", status, reason)
	for _, v := range req.hdr["via"] {
		fmt.Fprintf(&b, "Via: %s\r\n", v)
	}
	to := req.get("To")
	if toTag != "" && !strings.Contains(to, ";tag=") {
		to += ";tag=" + toTag
	}
	fmt.Fprintf(&b, "From: %s\r\nTo: %s\r\nCall-ID: %s\r\nCSeq: %s\r\n", req.get("From"), to, req.get("Call-ID"), req.get("CSeq"))
	for _, h := range extra {
		b.WriteString(h + "\r\n")
	}
	fmt.Fprintf(&b, "Content-Length: %d\r\n\r\n%s", len(body), body)
	u.send(req.from, b.String())
}

// digestParams parses the parameters of a Digest Authorization header.
func digestParams(h string) map[string]string {
	p := map[string]string{}
	h = strings.TrimSpace(strings.TrimPrefix(strings.TrimSpace(h), "Digest"))
	for _, part := range strings.Split(h, ",") {
		k, v, ok := strings.Cut(strings.TrimSpace(part), "=")
		if ok {
			p[strings.ToLower(k)] = strings.Trim(v, `"`)
		}
	}
	return p
}

func md5hex(s string) string {
	sum := md5.Sum([]byte(s))
	return hex.EncodeToString(sum[:])
}

// checkDigest verifies an RFC 2617/7616 MD5 response with qop=auth.
func checkDigest(t testing.TB, req *sipMsg, user, pass, realm, nonce string) {
	t.Helper()
	auth := req.get("Authorization")
	if auth == "" {
		t.Fatalf("%s without Authorization", req.method())
	}
	p := digestParams(auth)
	if p["username"] != user || p["realm"] != realm || p["nonce"] != nonce || p["qop"] != "auth" {
		t.Fatalf("Authorization %q: want username %s realm %s nonce %s qop auth", auth, user, realm, nonce)
	}
	ha1 := md5hex(user + ":" + realm + ":" + pass)
	ha2 := md5hex(req.method() + ":" + p["uri"])
	want := md5hex(strings.Join([]string{ha1, nonce, p["nc"], p["cnonce"], "auth", ha2}, ":"))
	if p["response"] != want {
		t.Fatalf("digest response %s, want %s (Authorization %q)", p["response"], want, auth)
	}
}

// challenge answers req with 401 and an MD5 qop=auth challenge in realm hotline.
func (u *fakeUA) challenge(req *sipMsg, nonce string) {
	u.t.Helper()
	u.respond(req, 401, "Unauthorized", "reg1", []string{
		fmt.Sprintf(`WWW-Authenticate: Digest realm="hotline", nonce="%s", qop="auth", algorithm=MD5`, nonce),
	}, "")
}

// sdpMediaPort is the port of the m=audio line.
func sdpMediaPort(t testing.TB, body string) int {
	t.Helper()
	for _, l := range strings.Split(body, "\r\n") {
		if strings.HasPrefix(l, "m=audio ") {
			port, err := strconv.Atoi(strings.Fields(l)[1])
			if err != nil {
				t.Fatal(err)
			}
			return port
		}
	}
	t.Fatalf("no m=audio in SDP:\n%s", body)
	return 0
}

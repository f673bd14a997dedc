// Package sip is hotline's SIP user agent, built on sipgo: UDP, TCP and TLS transports,
// the registrar with digest authentication for agents' phones, trunk admission of
// carrier INVITEs, SDP offer/answer, caller legs (we are the UAS) and agent legs (we
// are the UAC). It speaks in legs and registrations; it knows nothing of queues,
// IVR or media processing, and imports nothing of ours but the guard that
// screens its requests (docs/security.md) and the TLS listener that completes
// handshakes (internal/tlsserver). Import it as hsip, so that
// sip.X always means sipgo's package.
package sip

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/emiago/sipgo"
	"github.com/emiago/sipgo/sip"
	"github.com/hotline-cc/hotline/guard"
	"github.com/hotline-cc/hotline/internal/tlsserver"
	"github.com/prometheus/client_golang/prometheus"
)

// Config holds the user agent's settings.
type Config struct {
	Listen           string     // host:port for UDP and TCP; port 0 picks one
	Advertise        netip.Addr // IP put in Contact headers; zero = the listen IP
	Realm            string
	UserAgent        string
	NonceTTL         time.Duration
	RegisterMin      time.Duration
	RegisterMax      time.Duration
	RegisterDefault  time.Duration
	DigestAlgorithms []string
	Logger           *slog.Logger
	Registry         prometheus.Registerer // nil = no metrics
	// SessionTimers are the RFC 4028 session timers of new dialogs when
	// Hooks.SessionTimers is nil; the zero value turns them off.
	SessionTimers SessionTimers
	// Clock runs the session timers; nil is the wall clock.
	Clock Clock
	// Guard screens requests: scanners, per-source rates and bans, digest
	// lockouts (docs/security.md). nil screens nothing.
	Guard *guard.Guard
	// TLSListen is the host:port of SIP over TLS (RFC 3261 §26.2), a port of
	// its own; empty means no TLS. TLS is its server configuration
	// (certificate, client verification), required with TLSListen.
	TLSListen string
	TLS       *tls.Config
}

// Admission is the trunk decision for a carrier INVITE.
type Admission struct {
	Trunk  string
	Status int // 0 admits the call; else the SIP status to answer (403, 404, ...)
	Reason string
	// RetryAfter, when set, goes out in a Retry-After header (a 503 for a
	// call limit, RFC 3261 §21.5.4).
	RetryAfter time.Duration
	// Blocked names the refusal in hotline_sip_blocked_total (such as
	// "call-limit"); its log lines are then limited to one per trunk and
	// log interval. "" for an ordinary refusal.
	Blocked string
}

// Hooks connect the user agent to the rest of hotline.
type Hooks struct {
	// Admit decides whether a call from src to the called number is accepted.
	Admit func(src netip.Addr, called string) Admission
	// Password returns the digest secret of an agent phone's user.
	Password func(user string) (string, bool)
	// OnRegistration is told when a phone's first binding appears or its last goes.
	OnRegistration func(RegistrationChange)
	// HandleCall runs an admitted call. It is called on the INVITE's own goroutine
	// and must not return before the call ends: sipgo ends the INVITE transaction
	// when the handler returns (see shared notes on sipgo).
	HandleCall func(*InboundCall)
	// SessionTimers, when set, gives the session-timer settings of each new
	// dialog (so that a reload applies to the next call); nil uses
	// Config.SessionTimers.
	SessionTimers func() SessionTimers
}

// Server is the SIP user agent.
type Server struct {
	cfg       Config
	hooks     Hooks
	log       *slog.Logger
	ua        *sipgo.UserAgent
	srv       *sipgo.Server
	udpUA     sipgo.DialogUA
	tcpUA     sipgo.DialogUA
	tlsUA     sipgo.DialogUA
	auth      *Authenticator
	registrar *Registrar
	metrics   *metrics

	udpConn net.PacketConn
	tcpLn   net.Listener
	tlsLn   *tlsserver.Listener // nil without TLS
	addr    netip.AddrPort      // bound address (UDP and TCP)
	tlsAddr netip.AddrPort      // bound TLS address; zero without TLS
	contact netip.AddrPort      // advertised address (UDP and TCP)

	inbound  sync.Map // dialog ID → *InboundCall
	outbound sync.Map // dialog ID → *OutboundCall

	wg        sync.WaitGroup
	closeOnce sync.Once
}

// setSipgoGlobals guards sipgo's process-wide settings: set once, before any
// transport runs.
var setSipgoGlobals sync.Once

// Supported audio payload types, in our order of preference for offers.
var supportedPayloads = []uint8{PayloadPCMU, PayloadPCMA}

// ourDTMFPayloadType is what we offer for RFC 4733 events on agent legs.
const ourDTMFPayloadType uint8 = 101

// NewServer binds UDP and TCP on cfg.Listen (the same port for both), TLS on
// cfg.TLSListen when set, and prepares the user agent. Call Run to serve.
func NewServer(cfg Config, hooks Hooks) (*Server, error) {
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.Realm == "" {
		cfg.Realm = "hotline"
	}
	if cfg.UserAgent == "" {
		cfg.UserAgent = "hotline"
	}
	if cfg.NonceTTL <= 0 {
		cfg.NonceTTL = 5 * time.Minute
	}
	if cfg.RegisterMin <= 0 {
		cfg.RegisterMin = 60 * time.Second
	}
	if cfg.RegisterMax <= 0 {
		cfg.RegisterMax = time.Hour
	}
	if cfg.RegisterDefault <= 0 {
		cfg.RegisterDefault = 10 * time.Minute
	}
	if hooks.Admit == nil || hooks.Password == nil || hooks.HandleCall == nil {
		return nil, errors.New("sip: Admit, Password and HandleCall hooks are required")
	}
	if cfg.TLSListen != "" && cfg.TLS == nil {
		return nil, errors.New("sip: TLSListen needs a TLS configuration")
	}
	setSipgoGlobals.Do(func() {
		// sipgo refuses to send any UDP message over UDPMTUSize-200 bytes, even a
		// response, which must go back over UDP (RFC 3261 §18.2.2): a long but
		// valid request (RFC 4475 §3.1.1.7) would never be answered.
		sip.UDPMTUSize = 9000
	})
	s := &Server{cfg: cfg, hooks: hooks, log: cfg.Logger}
	var err error
	if s.auth, err = NewAuthenticator(cfg.Realm, cfg.NonceTTL, cfg.DigestAlgorithms, hooks.Password); err != nil {
		return nil, err
	}
	s.registrar = NewRegistrar(hooks.OnRegistration)
	if s.metrics, err = newMetrics(cfg.Registry, s.registrar); err != nil {
		return nil, err
	}
	if err := s.bind(cfg.Listen); err != nil {
		return nil, err
	}
	if cfg.TLSListen != "" {
		if err := s.bindTLS(cfg.TLSListen, cfg.TLS); err != nil {
			s.closeListeners()
			return nil, err
		}
	}
	s.contact = s.addr
	if cfg.Advertise.IsValid() {
		s.contact = netip.AddrPortFrom(cfg.Advertise, s.addr.Port())
	}
	uaOpts := []sipgo.UserAgentOption{sipgo.WithUserAgent(cfg.UserAgent), sipgo.WithUserAgentHostname(s.contact.Addr().String()),
		sipgo.WithUserAgentDNSResolver(noDNS)}
	if cfg.Guard != nil {
		uaOpts = append(uaOpts, sipgo.WithUserAgentTransportLayerOptions(sip.WithTransportLayerReadFilter(s.dropBanned)))
	}
	s.ua, err = sipgo.NewUA(uaOpts...)
	if err != nil {
		s.closeListeners()
		return nil, fmt.Errorf("sip user agent: %w", err)
	}
	if s.srv, err = sipgo.NewServer(s.ua, sipgo.WithServerLogger(s.log)); err != nil {
		s.closeListeners()
		return nil, fmt.Errorf("sip server: %w", err)
	}
	// UDP requests leave from the listening socket, so phones behind NAT see the
	// address they registered to and symmetric-response peers (RFC 3581) answer us.
	registerUDPListener(s.ua, s.udpConn)
	udpClient, err := s.newClient(sipgo.WithClientConnectionAddr(s.addr.String()))
	if err != nil {
		s.closeListeners()
		return nil, fmt.Errorf("sip udp client: %w", err)
	}
	// TCP and TLS requests go over the connection the peer opened to us when
	// it has one (sipgo's pool is keyed by remote address), which is the only
	// way to reach a phone behind NAT (RFC 5626 §3.1); the request's
	// transport picks the pool, so one client serves both.
	streamClient, err := s.newClient()
	if err != nil {
		s.closeListeners()
		return nil, fmt.Errorf("sip tcp/tls client: %w", err)
	}
	s.udpUA = sipgo.DialogUA{Client: udpClient, ContactHDR: s.contactHeader("UDP"), RewriteContact: true}
	s.tcpUA = sipgo.DialogUA{Client: streamClient, ContactHDR: s.contactHeader("TCP"), RewriteContact: true}
	s.tlsUA = sipgo.DialogUA{Client: streamClient, ContactHDR: s.contactHeader("TLS"), RewriteContact: true}
	s.routes()
	return s, nil
}

// noDNS is the resolver sipgo gets: hotline never looks up a name it read in
// a SIP message. sipgo resolves a Via's host when it cannot answer on the
// request's own connection (a TCP peer that sent a request and hung up), so a
// stranger's message could make us query DNS for, and connect to, any host it
// names. Every address hotline sends to is an IP: trunks' outbound
// addresses, registered sources, received/rport. /etc/hosts still applies.
var noDNS = &net.Resolver{PreferGo: true, Dial: func(context.Context, string, string) (net.Conn, error) {
	return nil, errNoDNS
}}

var errNoDNS = errors.New("hotline does not resolve host names from SIP messages")

// newClient is a sipgo client of our user agent: Via carries the advertised
// host; the transport layer fills in the port of the connection used.
func (s *Server) newClient(opts ...sipgo.ClientOption) (*sipgo.Client, error) {
	return sipgo.NewClient(s.ua, append([]sipgo.ClientOption{
		sipgo.WithClientHostname(s.contact.Addr().String()), sipgo.WithClientLogger(s.log),
	}, opts...)...)
}

// registerUDPListener puts the listening socket in sipgo's connection pool at
// once. sipgo adds it only when ServeUDP's goroutine starts, and a client bound
// to that address (WithClientConnectionAddr) that sends before then tries to
// bind the port a second time and fails with "address already in use".
func registerUDPListener(ua *sipgo.UserAgent, conn net.PacketConn) {
	addr := conn.LocalAddr().String()
	ua.TransportLayer().Pool("udp").Add(addr, &sip.UDPConnection{PacketConn: conn, PacketAddr: addr, Listener: true})
}

// bind opens UDP and TCP on the same port. With port 0 the kernel picks the UDP
// port and TCP may find it taken, so a few ports are tried.
func (s *Server) bind(listen string) error {
	ap, err := netip.ParseAddrPort(listen)
	if err != nil {
		return fmt.Errorf("sip listen address %q: %w", listen, err)
	}
	for attempt := 0; attempt < 20; attempt++ {
		udp, err := net.ListenUDP("udp", net.UDPAddrFromAddrPort(ap))
		if err != nil {
			return fmt.Errorf("sip listen udp %s: %w", ap, err)
		}
		bound := udp.LocalAddr().(*net.UDPAddr).AddrPort()
		tcp, err := net.ListenTCP("tcp", net.TCPAddrFromAddrPort(bound))
		if err != nil {
			udp.Close()
			if ap.Port() == 0 {
				continue
			}
			return fmt.Errorf("sip listen tcp %s: %w", bound, err)
		}
		// A burst of INVITEs must not overflow the kernel's default 208 kB (make
		// bench saw drops from 800 calls/s); the kernel caps this at rmem_max.
		_ = udp.SetReadBuffer(4 << 20)
		_ = udp.SetWriteBuffer(4 << 20)
		s.udpConn, s.tcpLn = udp, net.Listener(tcp)
		if s.cfg.Guard != nil {
			s.tcpLn = guardedListener{Listener: tcp, s: s}
		}
		s.addr = netip.AddrPortFrom(bound.Addr().Unmap(), bound.Port())
		return nil
	}
	return fmt.Errorf("sip listen %s: no port free for both udp and tcp", listen)
}

// bindTLS listens for SIP over TLS. Handshakes complete before sipgo sees
// a connection: failed ones are logged at debug level and counted by
// reason, and a client that stalls its handshake holds up no one else.
func (s *Server) bindTLS(listen string, config *tls.Config) error {
	ap, err := netip.ParseAddrPort(listen)
	if err != nil {
		return fmt.Errorf("sip tls listen address %q: %w", listen, err)
	}
	tcp, err := net.ListenTCP("tcp", net.TCPAddrFromAddrPort(ap))
	if err != nil {
		return fmt.Errorf("sip listen tls %s: %w", ap, err)
	}
	bound := tcp.Addr().(*net.TCPAddr).AddrPort()
	s.tlsAddr = netip.AddrPortFrom(bound.Addr().Unmap(), bound.Port())
	// The guard admits connections before their handshake: a banned source
	// or one over the TCP limits costs no TLS work.
	var raw net.Listener = tcp
	if s.cfg.Guard != nil {
		raw = guardedListener{Listener: tcp, s: s}
	}
	s.tlsLn = tlsserver.NewListener(raw, config, tlsserver.ListenerOptions{
		Name: "sip", Log: s.log, Failed: s.metrics.tlsHandshakeFailed,
	})
	return nil
}

func (s *Server) closeListeners() {
	if s.udpConn != nil {
		s.udpConn.Close()
	}
	if s.tcpLn != nil {
		s.tcpLn.Close()
	}
	if s.tlsLn != nil {
		s.tlsLn.Close()
	}
}

// Close releases the listeners and the user agent; Run calls it when it ends, and
// an owner that never ran the server must call it. It is idempotent.
func (s *Server) Close() {
	s.closeOnce.Do(func() {
		s.closeListeners()
		s.ua.Close()
	})
}

// Addr is the bound UDP/TCP address.
func (s *Server) Addr() netip.AddrPort { return s.addr }

// TLSAddr is the bound SIP over TLS address; zero (not IsValid) without TLS.
func (s *Server) TLSAddr() netip.AddrPort { return s.tlsAddr }

// Registrar gives access to agents' bindings.
func (s *Server) Registrar() *Registrar { return s.registrar }

// Run serves until ctx ends, then closes the transports.
func (s *Server) Run(ctx context.Context) error {
	errc := make(chan error, 3)
	go func() { errc <- s.srv.ServeUDP(s.udpConn) }()
	go func() { errc <- s.srv.ServeTCP(s.tcpLn) }()
	if s.tlsLn != nil {
		go func() { errc <- s.srv.ServeTLS(s.tlsLn) }()
	}
	sweep := time.NewTicker(time.Second)
	defer sweep.Stop()
	var guardSwept time.Time
	for {
		select {
		case <-ctx.Done():
			s.Close()
			s.wg.Wait()
			return nil
		case err := <-errc:
			if ctx.Err() == nil {
				s.Close()
				return fmt.Errorf("sip transport: %w", err)
			}
		case now := <-sweep.C:
			s.registrar.Sweep(now)
			s.auth.Sweep(now)
			if s.cfg.Guard != nil && now.Sub(guardSwept) >= guardSweepEvery {
				s.cfg.Guard.Sweep()
				guardSwept = now
			}
		}
	}
}

// contactHeader is our Contact on legs of transport: the advertised IP with
// the port that transport listens on, and a transport parameter for the
// stream transports (RFC 3261 §19.1.1), so that the peer's in-dialog
// requests come back the same way.
func (s *Server) contactHeader(transport string) sip.ContactHeader {
	uri := sip.Uri{Scheme: "sip", User: "hotline", Host: s.contact.Addr().String(), Port: int(s.contact.Port())}
	switch transport {
	case "TCP":
		uri.UriParams = sip.NewParams()
		uri.UriParams.Add("transport", "tcp")
	case "TLS":
		uri.Port = int(s.tlsAddr.Port())
		uri.UriParams = sip.NewParams()
		uri.UriParams.Add("transport", "tls")
	}
	return sip.ContactHeader{Address: uri}
}

// dialogUA is the dialog user agent for legs over transport ("UDP", "TCP",
// "TLS", any case): its Contact names that transport.
func (s *Server) dialogUA(transport string) *sipgo.DialogUA {
	switch strings.ToUpper(transport) {
	case "TCP":
		return &s.tcpUA
	case "TLS":
		return &s.tlsUA
	}
	return &s.udpUA
}

// allowed methods, for 405 and the Allow header (RFC 3261 §20.5).
const allowHeader = "INVITE, ACK, BYE, CANCEL, OPTIONS, REGISTER, REFER"

// routedMethods are the methods with a handler of their own; any other gets
// 405 (handlerFor).
var routedMethods = []sip.RequestMethod{sip.INVITE, sip.ACK, sip.BYE, sip.CANCEL, sip.REGISTER, sip.OPTIONS, sip.REFER}

func (s *Server) routes() {
	for _, m := range routedMethods {
		s.srv.OnRequest(m, s.handlerFor(m))
	}
	s.srv.OnNoRoute(s.handlerFor(""))
}

// handlerFor is the handler sipgo runs for a request of method m: the one
// place that maps methods to handlers, so that the request fuzzer
// (sip/request_fuzz_test.go) dispatches exactly as sipgo does.
func (s *Server) handlerFor(m sip.RequestMethod) sipgo.RequestHandler {
	switch m {
	case sip.INVITE:
		return s.counted(s.onInvite)
	case sip.ACK:
		return s.counted(s.onAck)
	case sip.BYE:
		return s.counted(s.onBye)
	case sip.CANCEL:
		return s.counted(s.onStrayCancel)
	case sip.REGISTER:
		return s.counted(s.onRegister)
	case sip.OPTIONS:
		return s.counted(s.onOptions)
	case sip.REFER:
		return s.counted(s.onRefer)
	}
	return s.counted(s.onNoRoute)
}

func (s *Server) onNoRoute(req *sip.Request, tx sip.ServerTransaction) {
	res := sip.NewResponseFromRequest(req, sip.StatusMethodNotAllowed, "Method Not Allowed", nil)
	res.AppendHeader(sip.NewHeader("Allow", allowHeader))
	s.send(tx, res)
}

func (s *Server) counted(h sipgo.RequestHandler) sipgo.RequestHandler {
	return func(req *sip.Request, tx sip.ServerTransaction) {
		s.metrics.request(req.Method)
		if lineBreakIn(req) {
			// sipgo ends lines at CRLF only, so a bare CR or LF stays inside
			// a value; every answer would copy it from Via, From, To, Call-ID
			// or CSeq into ours and let the request write our headers. No
			// valid request has one (RFC 3261 §7.3.1 folds lines with CRLF,
			// which sipgo unfolds): it is dropped, as sipgo drops what it
			// cannot parse, and counted.
			s.metrics.blocked(BlockMalformed)
			if src, ok := sourceAddr(req.Source()); ok {
				s.logBlock(BlockMalformed, src, "sip request with a line break inside a header dropped", "call_id", callID(req))
			}
			return
		}
		if !s.screen(req) {
			return // dropped without an answer: sipgo ends the transaction
		}
		h(req, tx)
	}
}

// lineBreakIn reports whether a CR or LF is inside req's start line or one
// of its headers.
func lineBreakIn(req *sip.Request) bool {
	if strings.ContainsAny(string(req.Method), "\r\n") || strings.ContainsAny(req.Recipient.String(), "\r\n") ||
		strings.ContainsAny(req.SipVersion, "\r\n") {
		return true
	}
	for _, h := range req.Headers() {
		if strings.ContainsAny(h.Name(), "\r\n") || strings.ContainsAny(h.Value(), "\r\n") {
			return true
		}
	}
	return false
}

// send answers a request outside any dialog and counts the response.
func (s *Server) send(tx sip.ServerTransaction, res *sip.Response) {
	// sipgo copies the request's version; we only speak SIP/2.0.
	res.SipVersion = "SIP/2.0"
	s.metrics.response(res)
	if err := tx.Respond(res); err != nil {
		s.log.Debug("sip respond", "call_id", callID(res), "sip_status", res.StatusCode, "err", err)
	}
}

func (s *Server) reply(req *sip.Request, tx sip.ServerTransaction, code int, reason string, headers ...sip.Header) {
	res := sip.NewResponseFromRequest(req, code, reason, nil)
	for _, h := range headers {
		res.AppendHeader(h)
	}
	s.send(tx, res)
}

// malformed reports what a request lacks for us to process it (RFC 3261 §8.1.1 lists
// the mandatory headers); sipgo answers requests without Via or CSeq itself.
func malformed(req *sip.Request) string {
	switch {
	case req.SipVersion != "SIP/2.0":
		return "version"
	case req.From() == nil:
		return "missing From"
	case req.To() == nil:
		return "missing To"
	case req.CallID() == nil || string(*req.CallID()) == "":
		return "missing Call-ID"
	case req.CSeq() == nil:
		return "missing CSeq"
	case req.CSeq().MethodName != req.Method:
		return "CSeq method does not match the request"
	case req.Via() == nil:
		return "missing Via"
	}
	if _, ok := req.From().Params.Get("tag"); !ok && req.Method != sip.REGISTER && req.Method != sip.OPTIONS {
		return "missing From tag"
	}
	return ""
}

// rejectMalformed answers 505 for a version other than SIP/2.0 (RFC 3261 §8.2.2)
// and 400 naming what is missing otherwise.
func (s *Server) rejectMalformed(req *sip.Request, tx sip.ServerTransaction, why string) {
	s.log.Info("malformed request", "call_id", callID(req), "src", req.Source(), "method", string(req.Method), "reason", why)
	if why == "version" {
		s.reply(req, tx, 505, "Version Not Supported")
		return
	}
	s.reply(req, tx, sip.StatusBadRequest, "Bad Request ("+why+")")
}

func (s *Server) onOptions(req *sip.Request, tx sip.ServerTransaction) {
	if why := malformed(req); why != "" {
		s.rejectMalformed(req, tx, why)
		return
	}
	s.reply(req, tx, sip.StatusOK, "OK",
		sip.NewHeader("Allow", allowHeader),
		sip.NewHeader("Accept", "application/sdp"),
		sip.NewHeader("Supported", s.sessionTimers().supported()))
}

func (s *Server) onStrayCancel(req *sip.Request, tx sip.ServerTransaction) {
	// A CANCEL that matched a pending INVITE was handled by the transaction layer;
	// this one matches nothing (RFC 3261 §9.2).
	s.reply(req, tx, sip.StatusCallTransactionDoesNotExists, "Call/Transaction Does Not Exist")
}

func (s *Server) onAck(req *sip.Request, tx sip.ServerTransaction) {
	id, err := sip.DialogIDFromRequestUAS(req)
	if err != nil {
		return // an ACK is never answered
	}
	if v, ok := s.inbound.Load(id); ok {
		v.(*InboundCall).readAck(req, tx)
	}
}

func (s *Server) onBye(req *sip.Request, tx sip.ServerTransaction) {
	if why := malformed(req); why != "" {
		s.rejectMalformed(req, tx, why)
		return
	}
	if id, err := sip.DialogIDFromRequestUAS(req); err == nil {
		if v, ok := s.inbound.Load(id); ok {
			v.(*InboundCall).readBye(req, tx)
			return
		}
	}
	if id, err := sip.DialogIDFromRequestUAC(req); err == nil {
		if v, ok := s.outbound.Load(id); ok {
			v.(*OutboundCall).readBye(req, tx)
			return
		}
	}
	s.log.Info("bye for unknown dialog", "call_id", callID(req), "src", req.Source())
	s.reply(req, tx, sip.StatusCallTransactionDoesNotExists, "Call/Transaction Does Not Exist")
}

func (s *Server) onRegister(req *sip.Request, tx sip.ServerTransaction) {
	if why := malformed(req); why != "" {
		s.rejectMalformed(req, tx, why)
		return
	}
	now := time.Now()
	user := req.To().Address.User
	authUser, ok := s.authenticate(req, tx, now)
	if !ok {
		return
	}
	if authUser != user {
		// RFC 3261 §10.3 step 6: the authenticated user must own the address of record.
		s.log.Warn("register for another user", "call_id", callID(req), "auth_user", authUser, "aor", user, "src", req.Source())
		s.reply(req, tx, sip.StatusForbidden, "Forbidden")
		return
	}

	contacts := req.GetHeaders("Contact")
	if len(contacts) == 0 {
		// A query for current bindings (RFC 3261 §10.2.3).
		s.registerOK(req, tx, user, now)
		return
	}
	base := Binding{User: user, Source: req.Source(), Transport: strings.ToUpper(req.Transport()), CallID: callID(req), Updated: now}
	if h := req.GetHeader("User-Agent"); h != nil {
		base.UserAgent = h.Value()
	}
	for _, h := range contacts {
		if strings.TrimSpace(h.Value()) == "*" {
			if requestedExpiry(req, nil, -1) != 0 {
				s.reply(req, tx, sip.StatusBadRequest, "Bad Request (Contact * needs Expires: 0)")
				return
			}
			s.registrar.RemoveAll(user)
			s.registerOK(req, tx, user, now)
			return
		}
	}
	var updates []Binding
	var removes []Binding
	for _, h := range contacts {
		var ch sip.ContactHeader
		if _, err := sip.ParseAddressValue(h.Value(), &ch.Address, &ch.Params); err != nil {
			s.reply(req, tx, sip.StatusBadRequest, "Bad Request (bad Contact)")
			return
		}
		exp := requestedExpiry(req, &ch, s.cfg.RegisterDefault)
		b := base
		b.Contact = ch.Address
		if exp == 0 {
			removes = append(removes, b)
			continue
		}
		if exp < s.cfg.RegisterMin {
			// RFC 3261 §10.3 step 7.
			s.reply(req, tx, sip.StatusIntervalToBrief, "Interval Too Brief",
				sip.NewHeader("Min-Expires", strconv.Itoa(int(s.cfg.RegisterMin/time.Second))))
			return
		}
		b.Expires = now.Add(min(exp, s.cfg.RegisterMax))
		updates = append(updates, b)
	}
	for _, b := range removes {
		s.registrar.Update(b, true)
	}
	for _, b := range updates {
		s.registrar.Update(b, false)
	}
	s.log.Info("register", "call_id", callID(req), "user", user, "src", base.Source, "bindings", len(updates), "removed", len(removes))
	s.registerOK(req, tx, user, now)
}

// authenticate checks the request's digest credentials (RFC 3261 §22.4) and
// returns the authenticated user. Otherwise it has answered: 401 with a fresh
// challenge when credentials are missing, stale, forged or replayed, 403 when
// they are wrong.
func (s *Server) authenticate(req *sip.Request, tx sip.ServerTransaction, now time.Time) (string, bool) {
	authz := ""
	if h := req.GetHeader("Authorization"); h != nil {
		authz = h.Value()
	}
	authUser, err := s.auth.Verify(authz, string(req.Method), now)
	switch {
	case errors.Is(err, ErrAuthMissing), errors.Is(err, ErrAuthForged), errors.Is(err, ErrAuthReplay):
		s.challenge(req, tx, now, false)
		return "", false
	case errors.Is(err, ErrAuthStale):
		s.challenge(req, tx, now, true)
		return "", false
	}
	// Credentials were checked: right or wrong, a locked-out source or
	// account gets the same 403 as a wrong password, so that a guesser
	// learns nothing more while locked out.
	if s.lockedOut(req, authUser) {
		s.reply(req, tx, sip.StatusForbidden, "Forbidden")
		return "", false
	}
	if err == nil {
		if g := s.cfg.Guard; g != nil {
			g.AuthSucceeded(authUser)
		}
		return authUser, true
	}
	// A wrong password, an unknown user (alike to the caller: same answer,
	// same work, see Verify) or malformed credentials.
	// Logged once per source and log interval: a guesser must not flood
	// the log (the metric counts them all).
	if src, _ := sourceAddr(req.Source()); s.shouldLog("auth-failure " + src.String()) {
		s.log.Warn("authentication refused", "call_id", callID(req), "method", string(req.Method),
			"user", req.From().Address.User, "src", req.Source(), "err", err)
	}
	s.metrics.authFailure()
	s.authFailed(req, authUser)
	s.reply(req, tx, sip.StatusForbidden, "Forbidden")
	return "", false
}

func (s *Server) challenge(req *sip.Request, tx sip.ServerTransaction, now time.Time, stale bool) {
	res := sip.NewResponseFromRequest(req, sip.StatusUnauthorized, "Unauthorized", nil)
	for _, c := range s.auth.Challenges(now, stale) {
		res.AppendHeader(sip.NewHeader("WWW-Authenticate", c))
	}
	s.send(tx, res)
}

func (s *Server) registerOK(req *sip.Request, tx sip.ServerTransaction, user string, now time.Time) {
	res := sip.NewResponseFromRequest(req, sip.StatusOK, "OK", nil)
	for _, b := range s.registrar.Bindings() {
		if b.User != user {
			continue
		}
		secs := int(b.Expires.Sub(now).Round(time.Second) / time.Second)
		res.AppendHeader(sip.NewHeader("Contact", "<"+b.Contact.String()+">;expires="+strconv.Itoa(max(secs, 0))))
	}
	res.AppendHeader(sip.NewHeader("Date", now.UTC().Format(time.RFC1123)))
	s.send(tx, res)
}

func callID(m sip.Message) string {
	if h := m.CallID(); h != nil {
		return string(*h)
	}
	return ""
}

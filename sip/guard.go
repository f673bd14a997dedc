package sip

import (
	"net"
	"net/netip"
	"time"

	"github.com/emiago/sipgo/sip"
	"github.com/hotline-cc/hotline/guard"
)

// guardSweepEvery is how often the guard forgets expired sources.
const guardSweepEvery = 10 * time.Second

// dropBanned is the transport read filter: a datagram from a banned source
// is dropped before it is even parsed. Over TCP the handlers drop (see
// screen), since a filter that drops part of a stream breaks its framing.
func (s *Server) dropBanned(props sip.TransportReadProps, data []byte) ([]byte, error) {
	ua, ok := props.RemoteAddr.(*net.UDPAddr)
	if !ok {
		return data, nil
	}
	src := ua.AddrPort().Addr().Unmap()
	if s.cfg.Guard.Banned(src) {
		s.metrics.blocked(BlockBanned)
		s.logBlock(BlockBanned, src, "sip traffic from a banned source dropped")
		return data[:0], nil
	}
	return data, nil
}

// refuseBannedConn tells the TLS listener to close a connection from a
// banned source before its handshake: a flood from it costs no public-key
// operation (a TCP connection is dropped only when its request is parsed,
// see screen).
func (s *Server) refuseBannedConn(remote net.Addr) bool {
	ta, ok := remote.(*net.TCPAddr)
	if !ok || s.cfg.Guard == nil {
		return false
	}
	src := ta.AddrPort().Addr().Unmap()
	if !s.cfg.Guard.Banned(src) {
		return false
	}
	s.metrics.blocked(BlockBanned)
	s.logBlock(BlockBanned, src, "sip over tls connection from a banned source closed")
	return true
}

// screen applies the guard to a request before its handler; false means
// the request is dropped without an answer (Kamailio's way with floods and
// scanners: an answer would tell a scanner that someone is there, and cost
// us a response per packet of a flood).
func (s *Server) screen(req *sip.Request) bool {
	g := s.cfg.Guard
	if g == nil {
		return true
	}
	src, ok := sourceAddr(req.Source())
	if !ok {
		return true
	}
	if h := req.GetHeader("User-Agent"); h != nil && g.Scanner(h.Value()) {
		g.Ban(src)
		s.metrics.blocked(BlockScanner)
		s.logBlock(BlockScanner, src, "scanner dropped", "method", string(req.Method), "user_agent", h.Value())
		return false
	}
	kind, outOfDialog := requestKind(req)
	if !outOfDialog {
		// ACK, BYE, re-INVITEs and the like belong to dialogs we accepted:
		// never rate limited, only dropped with the rest of a banned source.
		if g.Banned(src) {
			s.metrics.blocked(BlockBanned)
			s.logBlock(BlockBanned, src, "sip traffic from a banned source dropped", "method", string(req.Method))
			return false
		}
		return true
	}
	switch g.Request(src, kind) {
	case guard.RateExceeded:
		s.metrics.blocked(BlockRate)
		s.logBlock(BlockRate, src, "source over its request rate: banned", "method", string(req.Method), "ban", g.Policy().Ban.String())
		return false
	case guard.Banned:
		s.metrics.blocked(BlockBanned)
		s.logBlock(BlockBanned, src, "sip traffic from a banned source dropped", "method", string(req.Method))
		return false
	}
	return true
}

// requestKind is the rate bucket of an out-of-dialog request; ok is false
// for a request within a dialog (a To tag) and for ACK.
func requestKind(req *sip.Request) (kind guard.Kind, ok bool) {
	switch req.Method {
	case sip.ACK:
		return 0, false
	case sip.REGISTER:
		return guard.Register, true
	}
	if to := req.To(); to != nil {
		if _, hasTag := to.Params.Get("tag"); hasTag {
			return 0, false
		}
	}
	if req.Method == sip.INVITE {
		return guard.Invite, true
	}
	return guard.Options, true
}

// lockedOut reports (and counts, and logs) whether credentials from req's
// source for account are refused by a digest lockout.
func (s *Server) lockedOut(req *sip.Request, account string) bool {
	g := s.cfg.Guard
	if g == nil {
		return false
	}
	src, ok := sourceAddr(req.Source())
	if !ok {
		return false
	}
	lock := g.AuthLocked(src, account, account != "" && s.registrar.HasSource(account, req.Source()))
	if lock == guard.Unlocked {
		return false
	}
	s.metrics.blocked(BlockLockout)
	s.logBlock(BlockLockout, src, "credentials refused: locked out after failed attempts",
		"method", string(req.Method), "lock", lock.String(), "user", account)
	return true
}

// authFailed records a failed digest attempt; a lockout it starts is
// logged at once.
func (s *Server) authFailed(req *sip.Request, account string) {
	g := s.cfg.Guard
	if g == nil {
		return
	}
	src, ok := sourceAddr(req.Source())
	if !ok {
		return
	}
	if lock := g.AuthFailed(src, account); lock != guard.Unlocked {
		p := g.Policy()
		s.log.Warn("digest lockout", "lock", lock.String(), "src", src.String(), "user", account,
			"lockout", p.AuthLockout.String(), "window", p.AuthWindow.String())
	}
}

// logBlock logs a block once per reason, source and log interval; the
// others are only counted.
func (s *Server) logBlock(reason string, src netip.Addr, msg string, attrs ...any) {
	if !s.shouldLog(reason + " " + src.String()) {
		return
	}
	s.log.Warn(msg, append([]any{"reason", reason, "src", src.String()}, attrs...)...)
}

func (s *Server) shouldLog(key string) bool {
	return s.cfg.Guard == nil || s.cfg.Guard.ShouldLog(key)
}

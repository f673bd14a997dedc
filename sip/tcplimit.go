package sip

import (
	"net"
	"net/netip"
	"sync"

	"github.com/hotline-cc/hotline/guard"
)

// guardedListener admits TCP connections through the guard: a banned
// source, or one over the connection limits, is closed as it is accepted,
// before sipgo gives it a goroutine and a read buffer. Accept never fails
// for a refused connection: sipgo's Serve ends at the first Accept error.
type guardedListener struct {
	net.Listener
	s *Server
}

func (l guardedListener) Accept() (net.Conn, error) {
	for {
		conn, err := l.Listener.Accept()
		if err != nil {
			return nil, err
		}
		src, _ := netip.ParseAddrPort(conn.RemoteAddr().String())
		addr := src.Addr().Unmap()
		switch l.s.cfg.Guard.OpenTCP(addr) {
		case guard.TCPAccept:
			return &guardedConn{Conn: conn, release: func() { l.s.cfg.Guard.CloseTCP(addr) }}, nil
		case guard.TCPBanned:
			l.s.metrics.blocked(BlockBanned)
			l.s.logBlock(BlockBanned, addr, "tcp connection from a banned source closed")
		default:
			l.s.metrics.blocked(BlockTCPLimit)
			l.s.logBlock(BlockTCPLimit, addr, "tcp connection over the connection limits closed")
		}
		conn.Close()
	}
}

// guardedConn gives its place back to the guard when it closes.
type guardedConn struct {
	net.Conn
	once    sync.Once
	release func()
}

func (c *guardedConn) Close() error {
	c.once.Do(c.release)
	return c.Conn.Close()
}

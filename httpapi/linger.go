package httpapi

import (
	"io"
	"net"
	"sync/atomic"
	"time"
)

// A connection refused mid-request (headers over the limit, a body too
// large, a malformed request) is closed with bytes from the client still
// unread. Closing a TCP socket with unread bytes makes the kernel send a
// reset, and a client still writing, or not yet reading, then gets
// "connection reset by peer" instead of the 431 or 413 written just before
// it. So such a connection first shuts its sending side (the client reads
// the error and end of stream) and drains what the client still sends for a
// moment before it closes, as net/http does.
const (
	lingerFor      = 500 * time.Millisecond
	lingerMaxBytes = 256 << 10
	// maxLingering bounds the connections draining at once, so a flood of
	// bad requests cannot pile up goroutines; beyond it they close at once.
	maxLingering = 256
)

// lingerListener hands out connections that can be told to linger.
type lingerListener struct {
	net.Listener
	lingering *atomic.Int32
}

func (l lingerListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	return &lingerConn{Conn: c, lingering: l.lingering}, nil
}

type lingerConn struct {
	net.Conn
	lingering *atomic.Int32
	linger    atomic.Bool
}

// lingerOnClose marks c, if it came from a lingerListener, to drain before
// it closes.
func lingerOnClose(c net.Conn) {
	if lc, ok := c.(*lingerConn); ok {
		lc.linger.Store(true)
	}
}

func (c *lingerConn) Close() error {
	tc, ok := c.Conn.(*net.TCPConn)
	if !c.linger.Load() || !ok {
		return c.Conn.Close()
	}
	if c.lingering.Add(1) > maxLingering {
		c.lingering.Add(-1)
		return c.Conn.Close()
	}
	if err := tc.CloseWrite(); err != nil {
		c.lingering.Add(-1)
		return tc.Close()
	}
	go func() {
		defer c.lingering.Add(-1)
		_ = tc.SetReadDeadline(time.Now().Add(lingerFor))
		_, _ = io.CopyN(io.Discard, tc, lingerMaxBytes)
		_ = tc.Close()
	}()
	return nil
}

//go:build linux && (amd64 || arm64 || riscv64 || loong64 || ppc64 || ppc64le || s390x || mips64 || mips64le)

package loadtest

import (
	"context"
	"net/netip"
	"slices"
	"syscall"
	"time"
	"unsafe"
)

// The event loop is the transport on 64-bit Linux. On this 2-core machine
// every time a thread sleeps and wakes up costs about 26 µs of CPU, taken
// from the server under test, and every syscall 2-3 µs; the workers wake
// up at least twice per request (when it is due, and when its answer
// arrives) and spent 100-200 µs of CPU per request. The loop wakes up once
// per request, when it is due: one goroutine sends every request and, at
// each wake-up, takes the answers that arrived since from sockets that
// Go's network poller does not watch, so that an answer wakes no thread.
// An answer's time is the kernel's receive timestamp of its last bytes
// (SO_TIMESTAMPNS), not the time the loop got to it, so latencies end when
// the answer arrived, as with the workers (minus their wake-up delay).
//
// The loop sleeps in the network poller, on a timerfd: precise, and not a
// blocking syscall. Its other syscalls are raw and do not block, which
// keeps the runtime's monitor thread asleep (a syscall that tells the
// runtime wakes it when the process was idle, and it then polls every
// 20 µs for a millisecond or more). When a due request finds every
// connection busy, while a connection is being opened, and at the end,
// the loop waits in epoll_pwait2 instead, which also returns when a
// connection is ready, so that a connection is used as soon as it is
// free.

// Connection states.
const (
	connIdle       = iota // open, no request
	connConnecting        // connect in progress; the request is in pending
	connWriting           // part of the request is in pending
	connReading           // the request is sent, the answer not yet complete
)

// loopConn is a keep-alive connection of the event loop.
type loopConn struct {
	fd    int
	state uint8
	// gen counts the requests sent on the connection, so that a timeout
	// applies to the request it was set for only.
	gen      uint32
	j        job
	lag      time.Duration // from when j was due to when it was sent
	idleAt   time.Duration // when the last answer arrived
	lastData time.Duration // when the last bytes of the answer arrived
	pending  []byte        // request bytes not yet written
	resp     responseReader
	out      bool // the epoll interest includes EPOLLOUT
}

// timeoutAt is when the request gen of c times out.
type timeoutAt struct {
	c   *loopConn
	gen uint32
	at  time.Duration
}

type eventLoop struct {
	r       *runner
	s       *schedule
	epfd    int
	sleeper *sleeper
	sa      [syscall.SizeofSockaddrInet6]byte // the server's address
	saLen   uintptr
	family  int
	byFD    []*loopConn
	open    int             // connections open
	busy    int             // connections carrying a request
	outs    int             // connections waiting to be writable
	idle    []*loopConn     // idle connections, the most recently used last
	backlog fifo[job]       // due requests that found no connection free
	expiry  fifo[timeoutAt] // requests in flight by deadline
	events  []syscall.EpollEvent
	// The buffers of the answer being read: data, and the control
	// message that carries its receive timestamp.
	rbuf []byte
	cbuf []byte
	iov  syscall.Iovec
	msg  syscall.Msghdr
	req  []byte // the request being sent
	body []byte
	// now is the time of the last clock reading, from the start; wallOff
	// is the wall clock minus now at that reading, to convert the
	// kernel's receive timestamps (wall clock) to the run's clock.
	now     time.Duration
	wallNow time.Time
	wallOff int64
}

const (
	sysEpollPwait2 = 441 // the same number on every Linux architecture
	loopEvents     = 256
	loopReadBuffer = 64 << 10
	maxLoopWait    = 50 * time.Millisecond // how often the loop looks at ctx
	// epollInterest is what a connection is watched for, level-triggered;
	// EPOLLOUT is added while a connect or a write is in progress.
	epollInterest = syscall.EPOLLIN | syscall.EPOLLRDHUP
)

// runEventLoop sends the requests of s with the event loop; false, before
// anything is sent, when the kernel lacks what the loop needs.
func (r *runner) runEventLoop(ctx context.Context, s *schedule) bool {
	l, ok := newEventLoop(r, s)
	if !ok {
		return false
	}
	defer l.close()
	l.run(ctx)
	return true
}

func newEventLoop(r *runner, s *schedule) (*eventLoop, bool) {
	ap, err := netip.ParseAddrPort(r.dial)
	if err != nil {
		return nil, false
	}
	epfd, err := syscall.EpollCreate1(syscall.EPOLL_CLOEXEC)
	if err != nil {
		return nil, false
	}
	l := &eventLoop{
		r: r, s: s, epfd: epfd, sleeper: newSleeper(),
		events: make([]syscall.EpollEvent, loopEvents),
		rbuf:   make([]byte, loopReadBuffer),
		cbuf:   make([]byte, syscall.CmsgSpace(int(unsafe.Sizeof(syscall.Timespec{})))*2),
	}
	// epoll_pwait2 came with Linux 5.11; older kernels use the workers.
	if _, errno := l.epollWait(0); errno == syscall.ENOSYS {
		l.close()
		return nil, false
	}
	if ap.Addr().Is4() {
		sa := (*syscall.RawSockaddrInet4)(unsafe.Pointer(&l.sa[0]))
		sa.Family, sa.Addr = syscall.AF_INET, ap.Addr().As4()
		port := (*[2]byte)(unsafe.Pointer(&sa.Port))
		port[0], port[1] = byte(ap.Port()>>8), byte(ap.Port())
		l.family, l.saLen = syscall.AF_INET, syscall.SizeofSockaddrInet4
	} else {
		sa := (*syscall.RawSockaddrInet6)(unsafe.Pointer(&l.sa[0]))
		sa.Family, sa.Addr = syscall.AF_INET6, ap.Addr().As16()
		port := (*[2]byte)(unsafe.Pointer(&sa.Port))
		port[0], port[1] = byte(ap.Port()>>8), byte(ap.Port())
		l.family, l.saLen = syscall.AF_INET6, syscall.SizeofSockaddrInet6
	}
	l.iov.Base = &l.rbuf[0]
	l.iov.SetLen(len(l.rbuf))
	l.msg.Iov = &l.iov
	l.msg.Iovlen = 1
	l.msg.Control = &l.cbuf[0]
	return l, true
}

func (l *eventLoop) close() {
	for _, c := range l.byFD {
		if c != nil {
			l.closeConn(c)
		}
	}
	syscall.Close(l.epfd)
	l.sleeper.close()
}

// clock reads the time since the start of the run.
func (l *eventLoop) clock() time.Duration {
	t := time.Now()
	l.now, l.wallNow = t.Sub(l.r.start), t
	l.wallOff = t.UnixNano() - int64(l.now)
	return l.now
}

func (l *eventLoop) run(ctx context.Context) {
	var j job
	for {
		l.collect()
		if ctx.Err() != nil {
			l.backlog.clear() // interrupted: send nothing more
			break
		}
		for l.s.next(l.clock(), &j) {
			l.dispatch(&j)
		}
		at, ok := l.s.nextAt()
		if !ok {
			break
		}
		l.wait(at, false)
	}
	// The answers still due, within their timeouts.
	for l.busy > 0 || l.backlog.len() > 0 {
		l.wait(l.clock()+maxLoopWait, true)
		l.collect()
	}
}

// collect takes the answers that arrived, fails the requests that timed
// out and sends the queued requests that a connection is free for.
func (l *eventLoop) collect() {
	now := l.clock()
	l.poll()
	l.expire(now)
	l.takeBacklog()
}

// wait returns at the run's time at, or earlier when a request times
// out. When eager, when requests wait for a connection or a connection
// to be writable, it also returns when a connection is ready.
func (l *eventLoop) wait(at time.Duration, eager bool) {
	if t, ok := l.nextTimeout(); ok {
		at = min(at, t)
	}
	if j, ok := l.backlog.peek(); ok {
		at = min(at, j.at+l.r.cfg.Timeout)
	}
	d := min(at-l.clock(), maxLoopWait)
	if d <= 0 {
		return
	}
	if !eager && l.backlog.len() == 0 && l.outs == 0 {
		l.sleeper.sleep(d)
		return
	}
	l.epollWait(d) // the events are read again by poll
}

// epollWait returns the number of ready connections in l.events, after
// waiting up to d for one. A wait is a blocking syscall that the runtime
// knows of, so that another thread can run the process's other goroutines
// meanwhile; without a wait the syscall is raw.
func (l *eventLoop) epollWait(d time.Duration) (int, syscall.Errno) {
	ts := syscall.NsecToTimespec(int64(d))
	call := syscall.RawSyscall6
	if d > 0 {
		call = syscall.Syscall6
	}
	n, _, errno := call(sysEpollPwait2, uintptr(l.epfd), uintptr(unsafe.Pointer(&l.events[0])),
		uintptr(len(l.events)), uintptr(unsafe.Pointer(&ts)), 0, 0)
	return int(n), errno
}

// nextTimeout returns when the earliest request in flight times out;
// false if none is in flight. It forgets the timeouts of requests already
// answered, which would otherwise wake the loop for nothing.
func (l *eventLoop) nextTimeout() (time.Duration, bool) {
	for {
		e, ok := l.expiry.peek()
		if !ok {
			return 0, false
		}
		if c := e.c; c.fd >= 0 && c.gen == e.gen && c.state != connIdle {
			return e.at, true
		}
		l.expiry.pop()
	}
}

// poll handles the connections that became ready.
func (l *eventLoop) poll() {
	for {
		n, errno := l.epollWait(0)
		if errno == syscall.EINTR {
			continue
		}
		for i := range max(n, 0) {
			ev := &l.events[i]
			if c := l.byFD[ev.Fd]; c != nil {
				l.ready(c, ev.Events)
			}
		}
		if n < len(l.events) {
			return
		}
	}
}

func (l *eventLoop) ready(c *loopConn, ev uint32) {
	switch c.state {
	case connIdle:
		// The server closed it, or sent what was not asked for: either
		// way it cannot carry a request.
		l.closeConn(c)
	case connConnecting:
		if ev&(syscall.EPOLLOUT|syscall.EPOLLERR|syscall.EPOLLHUP) == 0 {
			return
		}
		v, err := getsockoptInt(c.fd, syscall.SOL_SOCKET, syscall.SO_ERROR)
		if err != 0 || v != 0 {
			l.fail(c, ErrKindConnection, l.now)
			return
		}
		c.state = connWriting
		l.flush(c)
	case connWriting:
		if ev&(syscall.EPOLLOUT|syscall.EPOLLERR|syscall.EPOLLHUP) != 0 {
			l.flush(c)
		}
	case connReading:
		l.read(c, ev&(syscall.EPOLLRDHUP|syscall.EPOLLHUP) != 0)
	}
}

// dispatch sends j, or queues it if no connection is free.
func (l *eventLoop) dispatch(j *job) {
	l.takeBacklog()
	if l.backlog.len() == 0 {
		if c := l.freeConn(); c != nil {
			l.send(c, j)
			return
		}
	}
	// Every connection is busy: the request waits, and its wait is
	// part of its latency.
	j.late = true
	if l.backlog.len() >= l.r.cfg.Backlog {
		l.r.drop(j, l.r.cfg.Timeout) // the generator cannot keep up
		return
	}
	l.backlog.push(*j)
}

// takeBacklog sends the queued requests that a connection is free for.
func (l *eventLoop) takeBacklog() {
	for l.backlog.len() > 0 {
		j, _ := l.backlog.peek()
		if lag := l.clock() - j.at; lag >= l.r.cfg.Timeout {
			l.backlog.pop()
			l.r.drop(&j, lag)
			continue
		}
		c := l.freeConn()
		if c == nil {
			return
		}
		l.backlog.pop()
		l.send(c, &j)
	}
}

// freeConn returns the most recently used idle connection, or a new one
// if fewer than MaxInFlight are open; nil if none.
func (l *eventLoop) freeConn() *loopConn {
	if n := len(l.idle); n > 0 {
		c := l.idle[n-1]
		l.idle = l.idle[:n-1]
		return c
	}
	if l.open >= l.r.cfg.MaxInFlight {
		return nil
	}
	return l.dial()
}

// dial opens a connection; its connect may still be in progress.
func (l *eventLoop) dial() *loopConn {
	fd, _, errno := syscall.RawSyscall(syscall.SYS_SOCKET, uintptr(l.family),
		syscall.SOCK_STREAM|syscall.SOCK_NONBLOCK|syscall.SOCK_CLOEXEC, 0)
	c := &loopConn{fd: int(fd), state: connConnecting}
	if errno != 0 {
		c.fd = -1 // send fails it as a connection error
		return c
	}
	setsockoptInt(c.fd, syscall.IPPROTO_TCP, syscall.TCP_NODELAY, 1)
	setsockoptInt(c.fd, syscall.SOL_SOCKET, syscall.SO_TIMESTAMPNS, 1) // receive timestamps
	if c.fd >= len(l.byFD) {
		l.byFD = slices.Grow(l.byFD, c.fd+1-len(l.byFD))[:c.fd+1]
	}
	l.byFD[c.fd] = c
	l.open++
	_, _, errno = syscall.RawSyscall(syscall.SYS_CONNECT, uintptr(c.fd), uintptr(unsafe.Pointer(&l.sa[0])), l.saLen)
	switch errno {
	case 0:
		c.state = connWriting
	case syscall.EINPROGRESS:
		c.out = true
		l.outs++
	default:
		l.closeConn(c)
		c.fd = -1
		return c
	}
	ev := syscall.EpollEvent{Events: epollInterest, Fd: int32(c.fd)}
	if c.out {
		ev.Events |= syscall.EPOLLOUT
	}
	syscall.RawSyscall6(syscall.SYS_EPOLL_CTL, uintptr(l.epfd), syscall.EPOLL_CTL_ADD, uintptr(c.fd),
		uintptr(unsafe.Pointer(&ev)), 0, 0)
	return c
}

// send writes j on c, which is idle or was just dialled.
func (l *eventLoop) send(c *loopConn, j *job) {
	r := l.r
	now := l.clock()
	c.j, c.lag = *j, now-j.at
	c.gen++
	l.busy++
	e := r.eps[j.ep]
	l.req, l.body = r.rend.appendRequest(l.req[:0], l.body, e, j, r.host, l.wallNow)
	r.sent.Add(1)
	l.expiry.push(timeoutAt{c: c, gen: c.gen, at: now + r.cfg.Timeout})
	switch {
	case c.fd < 0: // the dial failed
		l.fail(c, ErrKindConnection, now)
	case c.state == connConnecting:
		c.pending = append(c.pending[:0], l.req...)
	default:
		c.state = connWriting
		l.write(c, l.req)
	}
}

// flush writes what is pending on c.
func (l *eventLoop) flush(c *loopConn) { l.write(c, c.pending) }

// write writes b on c, and keeps in c.pending what the socket did not
// take yet.
func (l *eventLoop) write(c *loopConn, b []byte) {
	for len(b) > 0 {
		n, _, errno := syscall.RawSyscall(syscall.SYS_WRITE, uintptr(c.fd), uintptr(unsafe.Pointer(&b[0])), uintptr(len(b)))
		switch errno {
		case 0:
			b = b[n:]
		case syscall.EINTR:
		case syscall.EAGAIN:
			c.pending = append(c.pending[:0], b...) // b may be c.pending: copy overlaps forward only
			l.watchOut(c, true)
			return
		default:
			l.fail(c, ErrKindConnection, l.now)
			return
		}
	}
	c.pending = c.pending[:0]
	l.watchOut(c, false)
	c.state = connReading
}

// watchOut adds or removes EPOLLOUT from c's interest.
func (l *eventLoop) watchOut(c *loopConn, out bool) {
	if c.out == out {
		return
	}
	c.out = out
	if out {
		l.outs++
	} else {
		l.outs--
	}
	ev := syscall.EpollEvent{Events: epollInterest, Fd: int32(c.fd)}
	if out {
		ev.Events |= syscall.EPOLLOUT
	}
	syscall.RawSyscall6(syscall.SYS_EPOLL_CTL, uintptr(l.epfd), syscall.EPOLL_CTL_MOD, uintptr(c.fd),
		uintptr(unsafe.Pointer(&ev)), 0, 0)
}

// read takes what has arrived of c's answer; hangup says the server has
// closed the connection, so that it cannot carry the next request.
func (l *eventLoop) read(c *loopConn, hangup bool) {
	for {
		l.msg.SetControllen(len(l.cbuf))
		n, _, errno := syscall.RawSyscall(syscall.SYS_RECVMSG, uintptr(c.fd), uintptr(unsafe.Pointer(&l.msg)), 0)
		switch {
		case errno == syscall.EAGAIN:
			return
		case errno == syscall.EINTR:
			continue
		case errno != 0:
			l.fail(c, ErrKindConnection, l.now)
			return
		case n == 0: // the server closed the connection
			if c.resp.eof() {
				l.finish(c, c.lastData, true)
			} else {
				l.fail(c, ErrKindConnection, l.now)
			}
			return
		}
		c.lastData = max(l.received(), c.j.at+c.lag) // not before it was sent
		used, done, err := c.resp.feed(l.rbuf[:n])
		switch {
		case err != nil:
			l.fail(c, ErrKindOther, c.lastData)
			return
		case done:
			// Bytes beyond the answer were not asked for: do not reuse.
			l.finish(c, c.lastData, c.resp.close || hangup || used < int(n))
			return
		case int(n) < len(l.rbuf):
			return // the rest is still on its way
		}
	}
}

// received returns when the data of the last recvmsg arrived, by its
// receive timestamp, on the run's clock and not after now; now if the
// kernel gave no timestamp.
func (l *eventLoop) received() time.Duration {
	cl := int(l.msg.Controllen)
	hl := syscall.CmsgLen(0)
	for off := 0; off+hl <= cl; {
		h := (*syscall.Cmsghdr)(unsafe.Pointer(&l.cbuf[off]))
		if int(h.Len) < hl || off+int(h.Len) > cl {
			break
		}
		// SCM_TIMESTAMPNS is SO_TIMESTAMPNS.
		if h.Level == syscall.SOL_SOCKET && h.Type == syscall.SO_TIMESTAMPNS &&
			int(h.Len) >= syscall.CmsgLen(int(unsafe.Sizeof(syscall.Timespec{}))) {
			ts := (*syscall.Timespec)(unsafe.Pointer(&l.cbuf[off+hl]))
			at := time.Duration(ts.Nano() - l.wallOff)
			if at > l.now { // it arrived after the loop read the clock
				l.clock()
			}
			return min(at, l.now)
		}
		off += syscall.CmsgSpace(int(h.Len) - hl)
	}
	return l.now
}

// finish records the answer of c, complete at done, and frees c.
func (l *eventLoop) finish(c *loopConn, done time.Duration, closeConn bool) {
	l.r.record(&c.j, c.lag, done, c.resp.status, "")
	l.release(c, done, closeConn)
}

// fail records the request on c as failed at done with kind, and closes c.
func (l *eventLoop) fail(c *loopConn, kind string, done time.Duration) {
	l.r.record(&c.j, c.lag, done, 0, kind)
	l.release(c, done, true)
}

// release ends the request on c; the loop sends the next in collect.
func (l *eventLoop) release(c *loopConn, at time.Duration, closeConn bool) {
	l.busy--
	c.resp.reset()
	c.pending = c.pending[:0]
	if closeConn || c.fd < 0 {
		l.closeConn(c)
	} else {
		c.state, c.idleAt = connIdle, at
		l.idle = append(l.idle, c)
	}
}

func (l *eventLoop) closeConn(c *loopConn) {
	if c.fd < 0 {
		return
	}
	if c.state == connIdle {
		if i := slices.Index(l.idle, c); i >= 0 {
			l.idle = slices.Delete(l.idle, i, i+1)
		}
	}
	if c.out {
		c.out = false
		l.outs--
	}
	l.byFD[c.fd] = nil
	syscall.RawSyscall(syscall.SYS_CLOSE, uintptr(c.fd), 0, 0)
	c.fd = -1
	l.open--
}

// expire fails the requests past their timeout, drops the queued ones
// that waited as long, and closes connections idle for maxIdleConn.
func (l *eventLoop) expire(now time.Duration) {
	for {
		at, ok := l.nextTimeout()
		if !ok || at > now {
			break
		}
		e, _ := l.expiry.peek()
		l.expiry.pop()
		l.fail(e.c, ErrKindTimeout, at)
	}
	for len(l.idle) > 0 && now-l.idle[0].idleAt >= maxIdleConn {
		l.closeConn(l.idle[0])
	}
}

func setsockoptInt(fd, level, opt, v int) {
	v32 := int32(v)
	syscall.RawSyscall6(syscall.SYS_SETSOCKOPT, uintptr(fd), uintptr(level), uintptr(opt),
		uintptr(unsafe.Pointer(&v32)), 4, 0)
}

func getsockoptInt(fd, level, opt int) (int, syscall.Errno) {
	var v int32
	size := uint32(4)
	_, _, errno := syscall.RawSyscall6(syscall.SYS_GETSOCKOPT, uintptr(fd), uintptr(level), uintptr(opt),
		uintptr(unsafe.Pointer(&v)), uintptr(unsafe.Pointer(&size)), 0)
	return int(v), errno
}

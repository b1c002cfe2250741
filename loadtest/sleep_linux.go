package loadtest

import (
	"os"
	"syscall"
	"time"
	"unsafe"
)

// sleeper waits for short durations, under a few milliseconds, to within
// about 0.1 ms. Go's timers wake up to 1 ms late on Linux (the network
// poller waits in whole milliseconds), which would show as latency of
// every request. nanosleep is precise but blocks a thread in a syscall,
// and the runtime's monitor thread, woken by every syscall, then polls
// every 20 µs and hands the thread's P to another thread: that cost the
// generator more CPU than sending the requests. A timerfd is precise and
// waits in the network poller like a socket; it is set with a raw
// syscall, which does not wake the monitor.
type sleeper struct {
	f    *os.File // nil: timerfd unavailable, nanosleep
	conn syscall.RawConn
	d    time.Duration // of the sleep in progress
	set  bool          // the timer is set for it
	// wait is called by conn.Read until it returns true: it sets the
	// timer, and returns once the poller says that it expired.
	wait func(fd uintptr) bool
}

// clockMonotonic is CLOCK_MONOTONIC, which time.Since measures with.
const clockMonotonic = 1

func newSleeper() *sleeper {
	s := &sleeper{}
	fd, _, errno := syscall.RawSyscall(syscall.SYS_TIMERFD_CREATE, clockMonotonic, syscall.O_NONBLOCK|syscall.O_CLOEXEC, 0)
	if errno != 0 {
		return s
	}
	f := os.NewFile(fd, "timerfd") // non-blocking: a File in the poller
	conn, err := f.SyscallConn()
	if err != nil {
		f.Close()
		return s
	}
	s.f, s.conn = f, conn
	s.wait = func(fd uintptr) bool {
		if s.set {
			// The poller saw the expiry. Its count is left unread: a
			// syscall saved per sleep, and setting the timer again
			// clears it.
			return true
		}
		// Set only now, after Read prepared the wait: an expiry before
		// would be forgotten.
		spec := [2]syscall.Timespec{1: syscall.NsecToTimespec(int64(s.d))} // one expiry after d, no interval
		_, _, errno := syscall.RawSyscall6(syscall.SYS_TIMERFD_SETTIME, fd, 0, uintptr(unsafe.Pointer(&spec)), 0, 0, 0)
		s.set = errno == 0
		return errno != 0 // failed: do not wait
	}
	return s
}

// sleep returns after d.
func (s *sleeper) sleep(d time.Duration) {
	if d <= 0 {
		return
	}
	if s.f == nil {
		ts := syscall.NsecToTimespec(int64(d))
		_ = syscall.Nanosleep(&ts, nil)
		return
	}
	s.d, s.set = d, false
	if err := s.conn.Read(s.wait); err != nil || !s.set {
		time.Sleep(d)
	}
}

func (s *sleeper) close() {
	if s.f != nil {
		s.f.Close()
	}
}

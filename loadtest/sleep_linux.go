package loadtest

import (
	"syscall"
	"time"
)

// shortSleep sleeps for d, which is under a few milliseconds, with
// nanosleep: Go's timers wake up to 1 ms late on Linux, which would show
// as latency of every request; nanosleep is about 0.1 ms late.
func shortSleep(d time.Duration) {
	ts := syscall.NsecToTimespec(int64(d))
	_ = syscall.Nanosleep(&ts, nil)
}

//go:build !linux

package loadtest

import "time"

// shortSleep sleeps for d, which is under a few milliseconds.
func shortSleep(d time.Duration) { time.Sleep(d) }

//go:build !linux

package loadtest

import "time"

// sleeper waits for short durations, under a few milliseconds.
type sleeper struct{}

func newSleeper() *sleeper { return &sleeper{} }

func (*sleeper) sleep(d time.Duration) { time.Sleep(d) }

func (*sleeper) close() {}

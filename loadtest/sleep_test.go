package loadtest

import (
	"testing"
	"time"
)

// The timerfd is set anew for every sleep; each must last its own
// duration, however short or long the one before.
func TestSleeperSleepsAtLeastTheDurationEachTime(t *testing.T) {
	t.Parallel()
	s := newSleeper()
	defer s.close()
	for _, d := range []time.Duration{0, 50 * time.Microsecond, 3 * time.Millisecond, 300 * time.Microsecond, time.Microsecond, 20 * time.Millisecond} {
		start := time.Now()
		s.sleep(d)
		if took := time.Since(start); took < d {
			t.Errorf("sleep(%s) took %s", d, took)
		}
	}
}

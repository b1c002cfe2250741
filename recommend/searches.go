package recommend

import (
	"context"
	"errors"
	"time"

	"github.com/VictoriaMetrics/metrics"
)

// errSearchesBusy is a nearest-vector search not started because every
// slot stayed taken for a source budget.
var errSearchesBusy = errors.New("nearest-vector searches: all slots busy")

// searchSlots bounds the nearest-vector searches the request path runs in
// the store at once. Each is an HNSW search costing the store a CPU for
// 1.5 ms (3,000 items) to 20 ms and more (1,000,000 items, an index
// larger than shared_buffers); unbounded, a cold start sent one per
// uncached product page, the store's backends took every core, and every
// request waited for CPU, the cheap ones too. A search that cannot start
// within the wait is skipped: the page goes on without that source (its
// budget is as long), nothing is cached, and the item's next request
// tries again.
type searchSlots struct {
	slots   chan struct{}
	wait    time.Duration
	busy    *metrics.Counter
	started *metrics.Counter
}

func newSearchSlots(n int, wait time.Duration, set *metrics.Set) *searchSlots {
	s := &searchSlots{
		slots:   make(chan struct{}, n),
		wait:    wait,
		busy:    set.GetOrCreateCounter(`recs_vector_searches_total{result="busy"}`),
		started: set.GetOrCreateCounter(`recs_vector_searches_total{result="started"}`),
	}
	set.GetOrCreateGauge(`recs_vector_searches_running`, func() float64 { return float64(s.running()) })
	set.GetOrCreateGauge(`recs_vector_searches_max`, func() float64 { return float64(cap(s.slots)) })
	return s
}

// acquire takes a slot, waiting at most the slots' wait; release gives it
// back.
func (s *searchSlots) acquire(ctx context.Context) error {
	select {
	case s.slots <- struct{}{}:
		s.started.Inc()
		return nil
	default:
	}
	t := time.NewTimer(s.wait)
	defer t.Stop()
	select {
	case s.slots <- struct{}{}:
		s.started.Inc()
		return nil
	case <-t.C:
		s.busy.Inc()
		return errSearchesBusy
	case <-ctx.Done():
		return ctx.Err()
	}
}

func (s *searchSlots) release() { <-s.slots }

// hold takes a slot for a batch of the warm-up's searches, waiting as
// long as it takes: the warm-up has no budget, but its searches run on
// the store's search connections too, and a request's search that got a
// slot must find a connection free rather than queue behind a batch.
// Not counted in started: that is the request path's.
func (s *searchSlots) hold(ctx context.Context) error {
	select {
	case s.slots <- struct{}{}:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// running is how many searches hold a slot, the warm-up's included.
func (s *searchSlots) running() int { return len(s.slots) }

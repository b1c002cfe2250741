package dataimport

import (
	"context"
	"fmt"
	"testing"

	"github.com/recs-server/recs/catalog"
)

// testSink keeps what it is given, drops events whose id it has, and
// checks the promises the importers make about batches.
type testSink struct {
	t         testing.TB
	batchSize int // if set, a longer batch fails the test
	items     map[string]catalog.Item
	itemOrder []string
	events    []catalog.Event
	eventIDs  map[string]bool
	// checkRefs makes an event that names an item not yet upserted fail
	// the test.
	checkRefs bool
	// failAt makes the nth sink call (1-based) fail with errSink.
	failAt int
	calls  []string // "items:2", "events:3", in call order
}

var errSink = fmt.Errorf("sink is down")

func newTestSink(t testing.TB) *testSink {
	return &testSink{t: t, items: map[string]catalog.Item{}, eventIDs: map[string]bool{}}
}

func (s *testSink) call(kind string, n int) error {
	s.t.Helper()
	s.calls = append(s.calls, fmt.Sprintf("%s:%d", kind, n))
	if n == 0 {
		s.t.Errorf("empty %s batch", kind)
	}
	if s.batchSize > 0 && n > s.batchSize {
		s.t.Errorf("%s batch of %d, the batch size is %d", kind, n, s.batchSize)
	}
	if s.failAt == len(s.calls) {
		return errSink
	}
	return nil
}

func (s *testSink) UpsertItems(ctx context.Context, items []catalog.Item) error {
	if err := s.call("items", len(items)); err != nil {
		return err
	}
	for _, it := range items {
		if _, ok := s.items[it.ID]; !ok {
			s.itemOrder = append(s.itemOrder, it.ID)
		}
		s.items[it.ID] = it
	}
	return nil
}

func (s *testSink) AppendEvents(ctx context.Context, events []catalog.Event) (int, error) {
	if err := s.call("events", len(events)); err != nil {
		return 0, err
	}
	n := 0
	for _, e := range events {
		if s.checkRefs {
			for _, li := range e.Items {
				if _, ok := s.items[li.ItemID]; !ok {
					s.t.Errorf("event %s names item %s before it was upserted", e.ID, li.ItemID)
				}
			}
		}
		if s.eventIDs[e.ID] {
			continue
		}
		s.eventIDs[e.ID] = true
		s.events = append(s.events, e)
		n++
	}
	return n, nil
}

func (s *testSink) event(id string) (catalog.Event, bool) {
	for _, e := range s.events {
		if e.ID == id {
			return e, true
		}
	}
	return catalog.Event{}, false
}

// checkReconciles fails unless every line read is used or skipped once.
func checkReconciles(t testing.TB, r *Report) {
	t.Helper()
	if r.LinesRead != r.LinesUsed+r.SkippedTotal() {
		t.Errorf("report does not reconcile: %d lines read, %d used + %d skipped %v",
			r.LinesRead, r.LinesUsed, r.SkippedTotal(), r.Skipped)
	}
}

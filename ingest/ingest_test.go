package ingest

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/VictoriaMetrics/metrics"

	"github.com/recs-server/recs/catalog"
	"github.com/recs-server/recs/memstore"
)

// slowStore delays every write, so requests pile up behind it as they do
// behind a real database.
type slowStore struct {
	*memstore.Store
	mu     sync.Mutex
	writes int
	fail   error
}

func (s *slowStore) AppendEvents(ctx context.Context, evs []catalog.Event) (int, error) {
	time.Sleep(5 * time.Millisecond)
	s.mu.Lock()
	s.writes++
	fail := s.fail
	s.mu.Unlock()
	if fail != nil {
		return 0, fail
	}
	return s.Store.AppendEvents(ctx, evs)
}

func event(i int) catalog.Event {
	return catalog.Event{ID: fmt.Sprint("e", i), Type: catalog.EventViewItem, Time: time.Unix(int64(1e9+i), 0).UTC(),
		SessionID: "s", Items: []catalog.EventItem{{ItemID: "a", Quantity: 1}}}
}

func TestConcurrentSubmitsShareWritesAndAllLand(t *testing.T) {
	st := &slowStore{Store: memstore.New()}
	b := New(st, 1000, metrics.NewSet())
	var wg sync.WaitGroup
	for i := range 200 {
		wg.Go(func() {
			if err := b.Submit(t.Context(), []catalog.Event{event(i)}); err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	b.Close()
	n := 0
	st.ScanEvents(t.Context(), time.Time{}, time.Now(), func(*catalog.Event) error { n++; return nil })
	if n != 200 {
		t.Fatalf("%d events stored, want 200", n)
	}
	if st.writes >= 100 {
		t.Fatalf("%d writes for 200 concurrent requests: no grouping", st.writes)
	}
	t.Logf("200 concurrent single-event requests took %d writes", st.writes)
}

func TestFailedWriteFailsEveryRequestInIt(t *testing.T) {
	st := &slowStore{Store: memstore.New(), fail: errors.New("database down")}
	b := New(st, 1000, metrics.NewSet())
	defer b.Close()
	if err := b.Submit(t.Context(), []catalog.Event{event(1)}); err == nil {
		t.Fatal("a failed write was acknowledged")
	}
}

func TestCloseFlushesAndRefusesNewEvents(t *testing.T) {
	st := &slowStore{Store: memstore.New()}
	b := New(st, 1000, metrics.NewSet())
	errs := make(chan error, 10)
	for i := range 10 {
		go func() { errs <- b.Submit(context.Background(), []catalog.Event{event(i)}) }()
	}
	time.Sleep(20 * time.Millisecond)
	b.Close()
	if err := b.Submit(t.Context(), []catalog.Event{event(99)}); !errors.Is(err, ErrClosed) {
		t.Fatalf("submit after close: %v", err)
	}
	for range 10 {
		if err := <-errs; err != nil && !errors.Is(err, ErrClosed) {
			t.Fatal(err)
		}
	}
}

// stuckStore holds every write whose first event is "stuck" until release
// is closed.
type stuckStore struct {
	*memstore.Store
	release chan struct{}
}

func (s *stuckStore) AppendEvents(ctx context.Context, evs []catalog.Event) (int, error) {
	if evs[0].ID == "stuck" {
		<-s.release
	}
	return s.Store.AppendEvents(ctx, evs)
}

func TestEventsLandWhileAnotherWriteIsStuck(t *testing.T) {
	st := &stuckStore{Store: memstore.New(), release: make(chan struct{})}
	b := New(st, 1000, metrics.NewSet())
	stuck := catalog.Event{ID: "stuck", Type: catalog.EventViewItem, Time: time.Unix(1e9, 0).UTC(), SessionID: "s",
		Items: []catalog.EventItem{{ItemID: "a", Quantity: 1}}}
	stuckDone := make(chan error, 1)
	go func() { stuckDone <- b.Submit(context.Background(), []catalog.Event{stuck}) }()
	time.Sleep(20 * time.Millisecond) // let a writer take the stuck write
	ctx, cancel := context.WithTimeout(t.Context(), 5*time.Second)
	defer cancel()
	for i := range Writers - 1 {
		if err := b.Submit(ctx, []catalog.Event{event(i)}); err != nil {
			t.Fatalf("event %d behind a stuck write: %v", i, err)
		}
	}
	close(st.release)
	if err := <-stuckDone; err != nil {
		t.Fatal(err)
	}
	b.Close()
}

package ingest

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/VictoriaMetrics/metrics"

	"github.com/recs-server/recs/catalog"
	"github.com/recs-server/recs/memstore"
)

// slowStockStore delays every stock write, as a busy database does.
type slowStockStore struct {
	*memstore.Store
	mu     sync.Mutex
	writes int
	fail   error
	// hold, if set, keeps every write waiting until it is closed.
	hold chan struct{}
}

func (s *slowStockStore) UpdateStock(ctx context.Context, ups []catalog.StockUpdate) ([]string, error) {
	time.Sleep(5 * time.Millisecond)
	if s.hold != nil {
		<-s.hold
	}
	s.mu.Lock()
	s.writes++
	fail := s.fail
	s.mu.Unlock()
	if fail != nil {
		return nil, fail
	}
	return s.Store.UpdateStock(ctx, ups)
}

// levels records what the writer told the cache, in order.
type levels struct {
	mu      sync.Mutex
	stock   map[string]int
	dropped []string
}

func (l *levels) StockChanged(ups []catalog.StockUpdate) {
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, u := range ups {
		l.stock[u.ItemID] = u.Stock
	}
}

func (l *levels) ItemsChanged(ids ...string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.dropped = append(l.dropped, ids...)
}

func stockFixture(t *testing.T, items int) (*slowStockStore, *levels) {
	t.Helper()
	st := &slowStockStore{Store: memstore.New()}
	its := make([]catalog.Item, items)
	for i := range its {
		its[i] = catalog.Item{ID: fmt.Sprint("i", i), Title: "x", Price: 1, Currency: "EUR", Stock: 100, Active: true}
	}
	if err := st.UpsertItems(t.Context(), its); err != nil {
		t.Fatal(err)
	}
	return st, &levels{stock: map[string]int{}}
}

func TestConcurrentStockPostsShareWritesAndAllLand(t *testing.T) {
	st, cache := stockFixture(t, 200)
	var audited []StockWrite
	w := NewStockWriter(st, cache, 10_000, func(_ context.Context, a StockWrite) { audited = append(audited, a) }, metrics.NewSet())
	var wg sync.WaitGroup
	for i := range 200 {
		wg.Go(func() {
			actor := []string{"key:feed", "key:admin"}[i%2]
			unknown, err := w.Submit(t.Context(), actor, []catalog.StockUpdate{{ItemID: fmt.Sprint("i", i), Stock: i % 7}, {ItemID: "nope", Stock: 1}})
			if err != nil || unknown != 1 {
				t.Errorf("post %d: unknown %d, err %v; want 1, nil", i, unknown, err)
			}
		})
	}
	wg.Wait()
	w.Close()
	ids := make([]string, 200)
	for i := range ids {
		ids[i] = fmt.Sprint("i", i)
	}
	got, err := st.Items(t.Context(), ids)
	if err != nil {
		t.Fatal(err)
	}
	for i, it := range got {
		if it.Stock != i%7 || cache.stock[it.ID] != i%7 {
			t.Fatalf("%s: stored %d, cached %d, want %d", it.ID, it.Stock, cache.stock[it.ID], i%7)
		}
	}
	if st.writes >= 100 {
		t.Fatalf("%d writes for 200 concurrent posts: no grouping", st.writes)
	}
	var requests, updates, unknown int
	for _, a := range audited {
		requests += a.Requests
		updates += a.Updates
		unknown += a.Unknown
	}
	if requests != 200 || updates != 400 || unknown != 200 || len(audited) > 2*st.writes {
		t.Fatalf("audit: %d entries for %d writes, %d requests, %d updates, %d unknown; want at most one per actor and write, 200, 400, 200",
			len(audited), st.writes, requests, updates, unknown)
	}
	t.Logf("200 concurrent stock posts took %d writes, %d audit entries", st.writes, len(audited))
}

func TestStockPostsApplyInArrivalOrder(t *testing.T) {
	st, cache := stockFixture(t, 1)
	w := NewStockWriter(st, cache, 10_000, nil, metrics.NewSet())
	defer w.Close()
	// Each post waits for the one before: the last level must win in the
	// store and in the cache, whether the posts shared a write or not.
	for level := range 20 {
		if _, err := w.Submit(t.Context(), "a", []catalog.StockUpdate{{ItemID: "i0", Stock: level}, {ItemID: "i0", Stock: level + 1}}); err != nil {
			t.Fatal(err)
		}
	}
	got, err := st.Items(t.Context(), []string{"i0"})
	if err != nil {
		t.Fatal(err)
	}
	if got[0].Stock != 20 || cache.stock["i0"] != 20 {
		t.Fatalf("stored %d, cached %d, want the last level 20", got[0].Stock, cache.stock["i0"])
	}
}

func TestFailedStockWriteFailsItsPostsAndDropsTheItems(t *testing.T) {
	st, cache := stockFixture(t, 2)
	st.fail = errors.New("database down")
	w := NewStockWriter(st, cache, 10_000, func(context.Context, StockWrite) { t.Error("a failed write was audited") }, metrics.NewSet())
	defer w.Close()
	if _, err := w.Submit(t.Context(), "a", []catalog.StockUpdate{{ItemID: "i1", Stock: 0}}); err == nil {
		t.Fatal("a failed write was acknowledged")
	}
	if !slices.Equal(cache.dropped, []string{"i1"}) || len(cache.stock) != 0 {
		t.Fatalf("cache after a failed write: dropped %q, levels %v; want i1 dropped and no level applied", cache.dropped, cache.stock)
	}
}

func TestStockWriterCloseFlushesAndRefusesNewPosts(t *testing.T) {
	st, cache := stockFixture(t, 10)
	w := NewStockWriter(st, cache, 10_000, nil, metrics.NewSet())
	errs := make(chan error, 10)
	for i := range 10 {
		go func() {
			_, err := w.Submit(context.Background(), "a", []catalog.StockUpdate{{ItemID: fmt.Sprint("i", i), Stock: 0}})
			errs <- err
		}()
	}
	time.Sleep(2 * time.Millisecond) // let some posts queue
	w.Close()
	acked := 0
	for range 10 {
		err := <-errs
		if err != nil && !errors.Is(err, ErrClosed) {
			t.Fatal(err)
		}
		if err == nil {
			acked++
		}
	}
	// Every acknowledged post was written before Close returned.
	stored, err := st.Items(t.Context(), []string{"i0", "i1", "i2", "i3", "i4", "i5", "i6", "i7", "i8", "i9"})
	if err != nil {
		t.Fatal(err)
	}
	out := 0
	for _, it := range stored {
		if it.Stock == 0 {
			out++
		}
	}
	if out != acked {
		t.Fatalf("%d posts acknowledged, %d levels stored", acked, out)
	}
	if _, err := w.Submit(t.Context(), "a", []catalog.StockUpdate{{ItemID: "i0", Stock: 1}}); !errors.Is(err, ErrClosed) {
		t.Fatalf("post after Close: %v, want ErrClosed", err)
	}
}

func TestStockPostTimesOutWhileTheWriteIsSlow(t *testing.T) {
	st, cache := stockFixture(t, 1)
	st.hold = make(chan struct{})
	w := NewStockWriter(st, cache, 10_000, nil, metrics.NewSet())
	defer w.Close()
	defer close(st.hold) // runs before Close: the write ends, then the writer
	ctx, cancel := context.WithTimeout(t.Context(), time.Millisecond)
	defer cancel()
	if _, err := w.Submit(ctx, "a", []catalog.StockUpdate{{ItemID: "i0", Stock: 3}}); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("post with a 1 ms budget behind a write held open: %v, want a deadline error", err)
	}
}

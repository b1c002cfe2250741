package cache

import (
	"context"
	"fmt"
	"sync"
	"testing"

	"github.com/VictoriaMetrics/metrics"

	"github.com/recs-server/recs/catalog"
)

func TestTableStaysWithinItsBoundAndCountsEvictions(t *testing.T) {
	for _, max := range []int64{1, 10, 100, 3000, 100_000} {
		ev := metrics.NewSet().GetOrCreateCounter("ev")
		tb := newTable[*catalog.Item](max, ev)
		always := func() bool { return true }
		// Filled to its size: nothing is evicted, however unevenly the
		// ids fall into shards.
		for i := range max {
			id := fmt.Sprint("item-", i)
			tb.setIf(tb.key(id), &catalog.Item{ID: id}, always)
		}
		if tb.len() != int(max) || ev.Get() != 0 {
			t.Fatalf("max %d: %d entries, %d evicted after %d sets; want all kept", max, tb.len(), ev.Get(), max)
		}
		n := 3 * int(max)
		for i := int(max); i < n; i++ {
			id := fmt.Sprint("item-", i)
			it := &catalog.Item{ID: id}
			tb.setIf(tb.key(id), it, always)
			// The value just set is there, whatever was evicted for it.
			if got, ok := tb.get(tb.key(id)); !ok || got != it {
				t.Fatalf("max %d: %s not cached right after its set", max, id)
			}
		}
		entries := 0
		for i := range tb.shards {
			entries += len(tb.shards[i].m)
		}
		if entries != tb.len() {
			t.Fatalf("max %d: %d entries in the shards, %d counted", max, entries, tb.len())
		}
		if l := tb.len(); int64(l) > max+int64(len(tb.shards)) || int64(l) < max {
			t.Fatalf("max %d: %d entries after %d sets, want %d to %d", max, l, n, max, max+int64(len(tb.shards)))
		}
		if got, want := int(ev.Get()), n-tb.len(); got != want {
			t.Fatalf("max %d: %d evictions counted, want %d", max, got, want)
		}
		// Deletes free room: the next sets evict nothing.
		for i := range 10 {
			id := fmt.Sprint("item-", n-1-i)
			tb.del(tb.key(id))
		}
		before := ev.Get()
		for i := range min(10, tb.max-int64(tb.len())) {
			id := fmt.Sprint("new-", i)
			tb.setIf(tb.key(id), &catalog.Item{ID: id}, always)
		}
		if ev.Get() != before {
			t.Fatalf("max %d: sets after deletes evicted %d", max, ev.Get()-before)
		}
	}
}

func TestTableSetStockReplacesOnlyCachedItems(t *testing.T) {
	tb := newTable[*catalog.Item](100, metrics.NewSet().GetOrCreateCounter("ev"))
	always := func() bool { return true }
	orig := &catalog.Item{ID: "a", Title: "A", Stock: 5}
	tb.setIf(tb.key("a"), orig, always)
	tb.setIf(tb.key("ghost"), nil, always)
	setStock(tb, tb.key("a"), 0)
	setStock(tb, tb.key("ghost"), 3)
	setStock(tb, tb.key("b"), 3)
	if it, _ := tb.get(tb.key("a")); it.Stock != 0 || it.Title != "A" || orig.Stock != 5 {
		t.Fatalf("a: %+v (the snapshot handed out before: %+v); want a new snapshot at stock 0", it, orig)
	}
	if _, ok := tb.get(tb.key("ghost")); ok {
		t.Fatal("an id cached as unknown stayed cached after a stock update")
	}
	if _, ok := tb.get(tb.key("b")); ok {
		t.Fatal("a stock update cached an item that was not cached")
	}
	if tb.setIf(tb.key("c"), &catalog.Item{ID: "c"}, func() bool { return false }) {
		t.Fatal("setIf set a value that was no longer fresh")
	}
}

// TestItemsConcurrentReadsAndWrites runs under the race detector in CI:
// lookups, loads, stock updates, invalidations and evictions at once.
func TestItemsConcurrentReadsAndWrites(t *testing.T) {
	stored := map[string]catalog.Item{}
	ids := make([]string, 500)
	for i := range ids {
		ids[i] = fmt.Sprint("item-", i)
		stored[ids[i]] = catalog.Item{ID: ids[i], Stock: 1, Active: true}
	}
	var mu sync.Mutex
	l := &countingLoader{items: stored}
	c, err := NewItems(100, func(ctx context.Context, ids []string) ([]catalog.Item, error) {
		mu.Lock()
		defer mu.Unlock()
		return l.load(ctx, ids)
	}, metrics.NewSet())
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	for w := range 4 {
		wg.Go(func() {
			dst := map[string]*catalog.Item{}
			for i := range 2000 {
				id := ids[(i*7+w*13)%len(ids)]
				switch i % 10 {
				case 0:
					c.SetStock([]catalog.StockUpdate{{ItemID: id, Stock: i}})
				case 1:
					c.Invalidate(id)
				default:
					clear(dst)
					if err := c.Get(t.Context(), []string{id, ids[i%len(ids)]}, dst); err != nil {
						t.Error(err)
						return
					}
					if dst[id] == nil || dst[id].ID != id {
						t.Errorf("Get(%s) = %+v", id, dst[id])
						return
					}
				}
			}
		})
	}
	wg.Wait()
	entries := 0
	for i := range c.t.shards {
		entries += len(c.t.shards[i].m)
	}
	if n := c.t.len(); n != entries || int64(n) > c.t.max+int64(len(c.t.shards)) {
		t.Fatalf("%d cached, %d counted, bound %d", entries, n, c.t.max)
	}
	// Every id is known, so all went to the slots: as many occupied as
	// counted, within the bound once the writers are done.
	occupied := 0
	for _, k := range Numbers(ids) {
		if it, ok := c.slots.get(k); ok {
			occupied++
			if it == nil || it.ID != IDOf(k) {
				t.Fatalf("slot %d (%s) holds %+v", k, IDOf(k), it)
			}
		}
	}
	if n := c.slots.len(); n != occupied || int64(n) > c.slots.max {
		t.Fatalf("%d slots occupied, %d counted, bound %d", occupied, n, c.slots.max)
	}
}

// TestTableTellsIDsSharingAHashApart: two ids whose first hashes collide
// never read each other's item; the later one replaces the other, which
// reloads.
func TestTableTellsIDsSharingAHashApart(t *testing.T) {
	tb := newTable[*catalog.Item](100, metrics.NewSet().GetOrCreateCounter("ev"))
	a, b := tableKey{h: 7, check: 1}, tableKey{h: 7, check: 2}
	itA := &catalog.Item{ID: "a", Stock: 1}
	tb.setIf(a, itA, func() bool { return true })
	if it, ok := tb.get(b); ok {
		t.Fatalf("b read a's entry: %+v", it)
	}
	setStock(tb, b, 0)
	if _, ok := tb.get(a); ok {
		t.Fatal("a stock update of b left a's entry, which shares its slot, in place")
	}
	if it, ok := tb.get(b); ok {
		t.Fatalf("a stock update of an uncached id cached it: %+v", it)
	}
}

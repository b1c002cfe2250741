package cache

import (
	"fmt"
	"testing"
	"unsafe"

	"github.com/VictoriaMetrics/metrics"

	"github.com/recs-server/recs/catalog"
)

// Known items are cached in slots by item number, numbered when loaded;
// ids the store does not know stay unnumbered, in the table.
func TestItemsKeepKnownItemsBySlotAndUnknownIDsInTheTable(t *testing.T) {
	known, ghost := "slot-known-1", "slot-ghost-1"
	l := &countingLoader{items: map[string]catalog.Item{known: {ID: known, Stock: 2}}}
	c, set := newItems(t, l)
	dst := make([]*catalog.Item, 2)
	if err := c.Fetch(t.Context(), []string{known, ghost}, dst); err != nil {
		t.Fatal(err)
	}
	if dst[0] == nil || dst[0].ID != known || dst[1] != nil {
		t.Fatalf("Fetch = %v, %v; want %s and nil", dst[0], dst[1], known)
	}
	k, ok := NumberOf(known)
	if !ok {
		t.Fatalf("%s was not numbered when loaded", known)
	}
	if _, ok := NumberOf(ghost); ok {
		t.Fatalf("an id the store does not know (%s) was numbered", ghost)
	}
	if it, ok := c.slots.get(k); !ok || it != dst[0] {
		t.Fatalf("slot %d holds %v, %v; want the loaded item", k, it, ok)
	}
	if unsafe.StringData(dst[0].ID) != unsafe.StringData(IDOf(k)) {
		t.Error("the cached item holds its own copy of its id, not the numbering's")
	}
	if it, ok := c.t.get(c.t.key(ghost)); !ok || it != nil {
		t.Fatalf("table holds %v, %v for the unknown id; want cached as unknown", it, ok)
	}
	if c.slots.len() != 1 || c.t.len() != 1 {
		t.Fatalf("%d slots and %d table entries, want 1 and 1", c.slots.len(), c.t.len())
	}
	if got := set.GetOrCreateGauge(`recs_cache_entries{cache="items"}`, nil).Get(); got != 2 {
		t.Fatalf("entries gauge %v, want 2", got)
	}
	// By number, and without the number (the caller looked before the id
	// was numbered): found either way.
	for _, num := range []uint32{k, NoNumber} {
		got := make([]*catalog.Item, 1)
		if err := c.FetchNumbered(t.Context(), []string{known}, []uint32{num}, got); err != nil {
			t.Fatal(err)
		}
		if got[0] == nil || got[0].ID != known {
			t.Fatalf("FetchNumbered(number %d) = %v, want %s", num, got[0], known)
		}
	}
	if l.calls != 2 {
		// The second call: NoNumber reads the table, which has nothing
		// for a known id, so it loads (and caches in the slot again).
		t.Fatalf("%d loads, want 2", l.calls)
	}
}

// A numbered id the store no longer knows (a build names a deleted
// item) is cached as unknown in its slot; a stock update or an
// invalidation empties the slot, and the next read loads.
func TestSlotsCacheNumberedUnknownIDs(t *testing.T) {
	id := "slot-deleted-1"
	k := Numbers([]string{id})[0]
	l := &countingLoader{items: map[string]catalog.Item{}}
	c, _ := newItems(t, l)
	got := make([]*catalog.Item, 1)
	for range 2 {
		if err := c.FetchNumbered(t.Context(), []string{id}, []uint32{k}, got); err != nil {
			t.Fatal(err)
		}
		if got[0] != nil {
			t.Fatalf("Fetch(%s) = %v, want nil", id, got[0])
		}
	}
	if l.calls != 1 {
		t.Fatalf("%d loads of an unknown numbered id, want 1 (cached as unknown)", l.calls)
	}
	c.SetStock([]catalog.StockUpdate{{ItemID: id, Stock: 4}})
	if _, ok := c.slots.get(k); ok {
		t.Fatal("a stock update left an id cached as unknown")
	}
	l.items[id] = catalog.Item{ID: id, Stock: 4}
	if err := c.Fetch(t.Context(), []string{id}, got); err != nil {
		t.Fatal(err)
	}
	if got[0] == nil || got[0].Stock != 4 {
		t.Fatalf("after the update: %v, want the stored item", got[0])
	}
	c.Invalidate(id)
	if _, ok := c.slots.get(k); ok || c.slots.len() != 0 {
		t.Fatalf("Invalidate left slot %d cached (%d slots)", k, c.slots.len())
	}
}

// The slots stay within their bound, counting evictions, and a value
// set is readable right after its set, whatever was evicted for it.
func TestSlotsStayWithinTheirBound(t *testing.T) {
	for _, max := range []int64{1, 10, 1000} {
		ev := metrics.NewSet().GetOrCreateCounter("ev")
		s := newItemSlots(max, ev)
		ids := make([]string, 3*max)
		for i := range ids {
			ids[i] = fmt.Sprint("slot-bound-", max, "-", i)
		}
		nums := Numbers(ids)
		always := func() bool { return true }
		for i, k := range nums {
			it := &catalog.Item{ID: ids[i]}
			s.setIf(k, it, always)
			if got, ok := s.get(k); !ok || got != it {
				t.Fatalf("max %d: %s not cached right after its set", max, ids[i])
			}
			if want := min(int64(i+1), max); int64(s.len()) != want {
				t.Fatalf("max %d: %d slots after %d sets, want %d", max, s.len(), i+1, want)
			}
		}
		occupied := 0
		for _, k := range nums {
			if _, ok := s.get(k); ok {
				occupied++
			}
		}
		if int64(occupied) != max || ev.Get() != uint64(2*max) {
			t.Fatalf("max %d: %d occupied, %d evictions; want %d and %d", max, occupied, ev.Get(), max, 2*max)
		}
		if s.setIf(nums[0], &catalog.Item{}, func() bool { return false }) {
			t.Fatal("setIf set a value that was no longer fresh")
		}
	}
}

package cache

import (
	"fmt"
	"slices"
	"testing"
	"unsafe"

	"github.com/VictoriaMetrics/metrics"

	"github.com/recs-server/recs/catalog"
	"github.com/recs-server/recs/embeddings"
)

func TestItemsFillServesWithoutLoadsButSkipsItemsInvalidatedAfterTheMark(t *testing.T) {
	stored := map[string]catalog.Item{"a": {ID: "a", Stock: 1}, "b": {ID: "b", Stock: 1}, "c": {ID: "c", Title: "C", Stock: 1}}
	l := &countingLoader{items: stored}
	c, _ := newItems(t, l)
	m := c.Mark()
	read := []catalog.Item{stored["a"], stored["b"], stored["c"]}
	// While the warm-up read was under way, b's stock changed and c was
	// upserted.
	stored["b"] = catalog.Item{ID: "b", Stock: 0}
	c.SetStock([]catalog.StockUpdate{{ItemID: "b", Stock: 0}})
	stored["c"] = catalog.Item{ID: "c", Title: "C2", Stock: 1}
	c.Invalidate("c")
	n := c.Fill(m, read)
	c.Release(m)
	// No read of the cache has begun since: no level need be kept.
	if len(c.levels.recent) != 0 || len(c.levels.active) != 0 {
		t.Fatalf("stock levels kept after every load ended: %d levels, %d loads", len(c.levels.recent), len(c.levels.active))
	}
	if n != 2 {
		t.Fatalf("Fill cached %d items, want 2 (a, and b with its new level; not c, upserted after the mark)", n)
	}
	dst := map[string]*catalog.Item{}
	if err := c.Get(t.Context(), []string{"a", "b"}, dst); err != nil || l.calls != 0 || len(dst) != 2 || dst["b"].Stock != 0 {
		t.Fatalf("a and b after Fill: %v, %d store calls, %v; want both from the cache, b with stock 0", dst, l.calls, err)
	}
	if k, ok := NumberOf("a"); !ok || unsafe.StringData(dst["a"].ID) != unsafe.StringData(IDOf(k)) {
		t.Errorf("a filled: numbered %v, holding the numbering's copy of its id %v; want both",
			ok, ok && unsafe.StringData(dst["a"].ID) == unsafe.StringData(IDOf(k)))
	}
	if err := c.Get(t.Context(), []string{"c"}, dst); err != nil || l.calls != 1 || dst["c"].Title != "C2" {
		t.Fatalf("c after Fill: %+v, %d store calls, %v; want the stored C2, loaded", dst["c"], l.calls, err)
	}
}

func TestDerivedFillCachesManyAndNothingAfterAClear(t *testing.T) {
	c, err := NewLists(200_000, metrics.NewSet())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	// More than ristretto's set buffer (32k): none may be dropped.
	const n = 50_000
	keys := make([]string, n)
	vals := make([]List, n)
	for i := range keys {
		keys[i] = fmt.Sprint("k", i)
		vals[i] = NewList([]catalog.Scored{{ItemID: keys[i]}})
	}
	if got := c.Fill(c.Gen(), keys, vals); got != n {
		t.Fatalf("Fill cached %d of %d", got, n)
	}
	for _, k := range keys {
		if v, ok := c.Peek(k); !ok || v.ID(0) != k {
			t.Fatalf("%s after Fill: %v, %v", k, v, ok)
		}
	}
	gen := c.Gen()
	c.Clear() // a new build while the warm-up read the old one
	if got := c.Fill(gen, []string{"late"}, []List{NewList(nil)}); got != 0 {
		t.Fatalf("Fill after Clear cached %d, want 0", got)
	}
	if _, ok := c.Peek("late"); ok {
		t.Fatal("a value read before Clear was cached after it")
	}
}

// Vectors keep their values in the item table: the same Fill, Lookup and
// Clear behaviour as the lists, within the size bound.
func TestVectorsFillLookupClearAndBound(t *testing.T) {
	set := metrics.NewSet()
	c, err := NewVectors(1000, set)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	keys := make([]string, 1500)
	vals := make([]embeddings.Int8, len(keys))
	for i := range keys {
		keys[i] = fmt.Sprint("v", i)
		vals[i] = embeddings.QuantizeInt8([]float32{float32(i)})
	}
	if got := c.Fill(c.Gen(), keys[:1000], vals[:1000]); got != 1000 {
		t.Fatalf("Fill cached %d of 1000", got)
	}
	dst := make([]embeddings.Int8, 3)
	missing := c.Lookup([]string{"v7", "nope", "v999"}, dst)
	if !slices.Equal(missing, []int{1}) || dst[0].Float32()[0] != 7 || dst[2].Float32()[0] != 999 {
		t.Fatalf("Lookup = %v missing, %v; want [1] missing, 7 and 999", missing, dst)
	}
	// Over the bound: old values make room, the count stays near it.
	c.Fill(c.Gen(), keys[1000:], vals[1000:])
	entries := set.GetOrCreateGauge(`recs_cache_entries{cache="vectors"}`, nil).Get()
	if entries < 1000 || entries > 1000+maxShards {
		t.Fatalf("%v vectors cached after 1,500 filled, want about 1,000", entries)
	}
	if v, ok := c.Peek("v1499"); !ok || v.Float32()[0] != 1499 {
		t.Fatalf("the newest value after eviction: %v, %v", v, ok)
	}
	gen := c.Gen()
	c.Clear()
	if _, ok := c.Peek("v1499"); ok {
		t.Fatal("a value survived Clear")
	}
	if n := set.GetOrCreateGauge(`recs_cache_entries{cache="vectors"}`, nil).Get(); n != 0 {
		t.Fatalf("%v entries after Clear", n)
	}
	if got := c.Fill(gen, []string{"late"}, []embeddings.Int8{embeddings.QuantizeInt8([]float32{1})}); got != 0 {
		t.Fatalf("Fill of values read before Clear cached %d, want 0", got)
	}
}

// Vectors of numbered items are kept by number and read by number; an id
// cached before it was numbered is still found, and dropped, by either.
func TestVectorsKeepNumberedItemsBySlot(t *testing.T) {
	set := metrics.NewSet()
	c, err := NewVectors(100, set)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	values := c.c.(numberedValues[embeddings.Int8, int8])
	vec := func(x float32) embeddings.Int8 { return embeddings.QuantizeInt8([]float32{x}) }

	late := "vectors-by-number-late"
	if got := c.Fill(c.Gen(), []string{late}, []embeddings.Int8{vec(-1)}); got != 1 {
		t.Fatalf("Fill cached %d of 1", got)
	}
	ids := make([]string, 150)
	vals := make([]embeddings.Int8, len(ids))
	for i := range ids {
		ids[i] = fmt.Sprint("vectors-by-number-", i)
		vals[i] = vec(float32(i))
	}
	nums := Numbers(append(ids, late))
	lateNum := nums[len(ids)]
	if got := c.Fill(c.Gen(), ids[:50], vals[:50]); got != 50 {
		t.Fatalf("Fill cached %d of 50", got)
	}
	if values.s.len() != 50 || values.other.(tableValues[embeddings.Int8]).t.len() != 1 {
		t.Fatalf("%d by number and %d by id, want 50 and 1 (the id numbered after its fill)", values.s.len(), values.other.(tableValues[embeddings.Int8]).t.len())
	}
	dst := make([]embeddings.Int8, 4)
	missing := c.LookupNumbered([]uint32{nums[7], nums[60], lateNum, nums[49]}, dst)
	if !slices.Equal(missing, []int{1}) || dst[0].Float32()[0] != 7 || dst[2].Float32()[0] != -1 || dst[3].Float32()[0] != 49 {
		t.Fatalf("LookupNumbered = %v missing, %v; want [1] missing, 7, -1 and 49", missing, dst)
	}
	if v, ok := c.Peek(ids[7]); !ok || v.Float32()[0] != 7 {
		t.Fatalf("Peek by id of a numbered item: %v, %v", v, ok)
	}
	c.Del(late)
	if missing := c.LookupNumbered([]uint32{lateNum}, dst); len(missing) != 1 {
		t.Fatal("Del left the value cached before its id was numbered")
	}
	// Over the bound: the slots stay within it.
	c.Fill(c.Gen(), ids[50:], vals[50:])
	if n := values.s.len(); n != 100 {
		t.Fatalf("%d vectors by number after 150 filled, bound 100", n)
	}
	if v, ok := c.Peek(ids[149]); !ok || v.Float32()[0] != 149 {
		t.Fatalf("the newest value after eviction: %v, %v", v, ok)
	}
	c.Clear()
	if n := set.GetOrCreateGauge(`recs_cache_entries{cache="vectors"}`, nil).Get(); n != 0 {
		t.Fatalf("%v entries after Clear", n)
	}
	if missing := c.LookupNumbered(nums[:150], make([]embeddings.Int8, 150)); len(missing) != 150 {
		t.Fatalf("%d of 150 values survived Clear", 150-len(missing))
	}
}

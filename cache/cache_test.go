package cache

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
	"unsafe"

	"github.com/VictoriaMetrics/metrics"

	"github.com/recs-server/recs/catalog"
)

// countingLoader serves items from a map and counts store calls.
type countingLoader struct {
	items  map[string]catalog.Item
	calls  int
	during func() // runs inside a load, to race it
	fail   bool
}

func (l *countingLoader) load(_ context.Context, ids []string) ([]catalog.Item, error) {
	l.calls++
	if l.fail {
		return nil, errors.New("database down")
	}
	if l.during != nil {
		l.during()
	}
	var out []catalog.Item
	for _, id := range ids {
		if it, ok := l.items[id]; ok {
			out = append(out, it)
		}
	}
	return out, nil
}

func newItems(t *testing.T, l *countingLoader) (*Items, *metrics.Set) {
	set := metrics.NewSet()
	c, err := NewItems(100, l.load, set)
	if err != nil {
		t.Fatal(err)
	}
	return c, set
}

func TestItemsLoadMissesOnceAndCacheUnknownIDs(t *testing.T) {
	l := &countingLoader{items: map[string]catalog.Item{"a": {ID: "a", Stock: 3}}}
	c, set := newItems(t, l)
	for range 3 {
		dst := map[string]*catalog.Item{}
		if err := c.Get(t.Context(), []string{"a", "ghost"}, dst); err != nil {
			t.Fatal(err)
		}
		if len(dst) != 1 || dst["a"].Stock != 3 {
			t.Fatalf("got %v", dst)
		}
	}
	if l.calls != 1 {
		t.Fatalf("store called %d times, want 1", l.calls)
	}
	if h := set.GetOrCreateCounter(`recs_cache_requests_total{cache="items",result="hit"}`).Get(); h != 4 {
		t.Fatalf("hits = %d, want 4", h)
	}
}

func TestInvalidateDuringLoadDoesNotCacheOldValue(t *testing.T) {
	l := &countingLoader{items: map[string]catalog.Item{"a": {ID: "a", Stock: 3}}}
	c, _ := newItems(t, l)
	l.during = func() { c.Invalidate("a") } // the stock changed while we read
	if err := c.Get(t.Context(), []string{"a"}, map[string]*catalog.Item{}); err != nil {
		t.Fatal(err)
	}
	l.during = nil
	l.items["a"] = catalog.Item{ID: "a", Stock: 0}
	dst := map[string]*catalog.Item{}
	if err := c.Get(t.Context(), []string{"a"}, dst); err != nil {
		t.Fatal(err)
	}
	if dst["a"].Stock != 0 {
		t.Fatalf("stale stock %d served after invalidation", dst["a"].Stock)
	}
}

// TestInvalidatingOtherItemsDoesNotSpoilALoad: a stream of stock updates
// must not keep the cache from filling with the items it does not touch.
func TestInvalidatingOtherItemsDoesNotSpoilALoad(t *testing.T) {
	l := &countingLoader{items: map[string]catalog.Item{"a": {ID: "a"}, "b": {ID: "b"}}}
	c, _ := newItems(t, l)
	var others []string
	for i := range 50 {
		if id := fmt.Sprint("other-", i); c.stripe(c.t.key(id)) != c.stripe(c.t.key("a")) && c.stripe(c.t.key(id)) != c.stripe(c.t.key("b")) {
			others = append(others, id)
		}
	}
	l.during = func() { c.Invalidate(others...) }
	if err := c.Get(t.Context(), []string{"a", "b"}, map[string]*catalog.Item{}); err != nil {
		t.Fatal(err)
	}
	l.during = nil
	if err := c.Get(t.Context(), []string{"a", "b"}, map[string]*catalog.Item{}); err != nil {
		t.Fatal(err)
	}
	if l.calls != 1 {
		t.Fatalf("%d loads: invalidating other items dropped a and b's load", l.calls)
	}
}

// TestSetStockUpdatesCachedItemsWithoutALoad: a stock update keeps hot
// items cached with the new level, and a load in flight does not put the
// old level back.
func TestSetStockUpdatesCachedItemsWithoutALoad(t *testing.T) {
	l := &countingLoader{items: map[string]catalog.Item{"a": {ID: "a", Title: "A", Stock: 5}, "b": {ID: "b", Stock: 5}}}
	c, _ := newItems(t, l)
	if err := c.Get(t.Context(), []string{"a"}, map[string]*catalog.Item{}); err != nil {
		t.Fatal(err)
	}
	l.items["a"] = catalog.Item{ID: "a", Title: "A", Stock: 0} // stored first, then applied
	c.SetStock([]catalog.StockUpdate{{ItemID: "a", Stock: 0}})
	dst := map[string]*catalog.Item{}
	if err := c.Get(t.Context(), []string{"a"}, dst); err != nil {
		t.Fatal(err)
	}
	if dst["a"].Stock != 0 || dst["a"].Title != "A" || l.calls != 1 {
		t.Fatalf("after SetStock: %+v, %d loads; want stock 0 from the cache, 1 load", dst["a"], l.calls)
	}
	// b's stock changes while a load reads it, after the load read the
	// old level (the loader's map still says 5): the load must answer and
	// cache the new level, not 5, and not drop b (under a stock feed every
	// item changes while some load reads it).
	l.during = func() { c.SetStock([]catalog.StockUpdate{{ItemID: "b", Stock: 1}}) }
	dst = map[string]*catalog.Item{}
	if err := c.Get(t.Context(), []string{"b"}, dst); err != nil {
		t.Fatal(err)
	}
	if dst["b"].Stock != 1 {
		t.Fatalf("load that raced the update answered stock %d, want 1", dst["b"].Stock)
	}
	l.during = nil
	dst = map[string]*catalog.Item{}
	if err := c.Get(t.Context(), []string{"b"}, dst); err != nil {
		t.Fatal(err)
	}
	if dst["b"].Stock != 1 || l.calls != 2 {
		t.Fatalf("b after the raced load: stock %d, %d loads; want 1 from the cache, 2 loads", dst["b"].Stock, l.calls)
	}
}

// TestStockLevelsKeepOnlyWhatLoadsInFlightNeed: under a stock feed with
// loads always in flight, the levels kept stay bounded by what changed
// since the oldest load began.
func TestStockLevelsKeepOnlyWhatLoadsInFlightNeed(t *testing.T) {
	l := newStockLevels()
	old := l.begin()
	for i := range 3000 {
		l.record([]catalog.StockUpdate{{ItemID: fmt.Sprint("i", i), Stock: i}})
	}
	items := []catalog.Item{{ID: "i7", Stock: 100}, {ID: "x"}}
	l.patch(old, items)
	if items[0].Stock != 7 || items[1].Stock != 0 {
		t.Fatalf("patched %+v, want i7 at its recorded level 7, x untouched", items)
	}
	// A later load begins; the old one ends: levels before the later
	// one's start are dropped at the next sweep.
	young := l.begin()
	l.end(old)
	for i := range 2000 {
		l.record([]catalog.StockUpdate{{ItemID: fmt.Sprint("j", i), Stock: i}})
	}
	for i := range 3000 {
		if _, ok := l.recent[fmt.Sprint("i", i)]; ok {
			t.Fatalf("level of i%d, set before every load in flight began, still kept (%d levels)", i, len(l.recent))
		}
	}
	if len(l.recent) > 2000 {
		t.Fatalf("%d levels kept with one load in flight that saw 2000 ids change, want at most 2000", len(l.recent))
	}
	l.end(young)
	if len(l.recent) != 0 || len(l.active) != 0 {
		t.Fatalf("%d levels, %d loads kept with no load in flight", len(l.recent), len(l.active))
	}
}

func TestItemsServeCachedEntriesWhenStoreFails(t *testing.T) {
	l := &countingLoader{items: map[string]catalog.Item{"a": {ID: "a"}, "b": {ID: "b"}}}
	c, _ := newItems(t, l)
	c.Get(t.Context(), []string{"a"}, map[string]*catalog.Item{})
	l.fail = true
	dst := map[string]*catalog.Item{}
	err := c.Get(t.Context(), []string{"a", "b"}, dst)
	if err == nil || dst["a"] == nil || dst["b"] != nil {
		t.Fatalf("want the cached a and an error for b: %v, %v", dst, err)
	}
}

func TestListsClearOnNewBuild(t *testing.T) {
	c, err := NewLists(100, metrics.NewSet())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	var loads atomic.Int32
	load := func(context.Context) (List, error) {
		loads.Add(1)
		return NewList([]catalog.Scored{{ItemID: "x"}}), nil
	}
	if _, ok := c.Peek(PopularKey("all:7d")); ok {
		t.Fatal("peek found a list never loaded")
	}
	c.Get(t.Context(), PopularKey("all:7d"), load)
	c.Get(t.Context(), PopularKey("all:7d"), load)
	if l, ok := c.Peek(PopularKey("all:7d")); !ok || l.Len() != 1 {
		t.Fatalf("peek after a load: %v %v", l, ok)
	}
	c.Clear()
	if _, ok := c.Peek(PopularKey("all:7d")); ok {
		t.Fatal("peek found a list after Clear")
	}
	c.Get(t.Context(), PopularKey("all:7d"), load)
	if n := loads.Load(); n != 2 {
		t.Fatalf("loads = %d, want 2 (one before and one after Clear)", n)
	}
}

func TestConcurrentMissesShareOneLoadThatOutlivesTheRequest(t *testing.T) {
	c, err := NewLists(100, metrics.NewSet())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	var loads atomic.Int32
	release := make(chan struct{})
	load := func(ctx context.Context) (List, error) {
		loads.Add(1)
		<-release // a slow database
		return NewList([]catalog.Scored{{ItemID: "x"}}), ctx.Err()
	}
	var wg sync.WaitGroup
	for range 20 {
		wg.Go(func() {
			ctx, cancel := context.WithTimeout(t.Context(), 10*time.Millisecond)
			defer cancel()
			if _, err := c.Get(ctx, "k", load); !errors.Is(err, context.DeadlineExceeded) {
				t.Errorf("a request past its deadline got %v", err)
			}
		})
	}
	wg.Wait()
	close(release)
	deadline := time.Now().Add(5 * time.Second)
	for {
		if l, err := c.Get(t.Context(), "k", load); err == nil && l.Len() == 1 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the load never filled the cache")
		}
		time.Sleep(time.Millisecond)
	}
	if n := loads.Load(); n != 1 {
		t.Fatalf("%d loads for 21 requests of one key, want 1", n)
	}
}

// Fetch answers by position: duplicates and unknown ids included, hits
// and misses (one store call) alike.
func TestItemsFetchByPosition(t *testing.T) {
	l := &countingLoader{items: map[string]catalog.Item{"a": {ID: "a", Stock: 1}, "b": {ID: "b", Stock: 2}}}
	c, _ := newItems(t, l)
	if err := c.Get(t.Context(), []string{"a"}, map[string]*catalog.Item{}); err != nil {
		t.Fatal(err)
	}
	ids := []string{"b", "ghost", "a", "b"}
	dst := []*catalog.Item{{ID: "stale"}, {ID: "stale"}, nil, nil}
	if err := c.Fetch(t.Context(), ids, dst); err != nil {
		t.Fatal(err)
	}
	stock := func() []int {
		var out []int
		for _, it := range dst {
			if it == nil {
				out = append(out, -1)
			} else {
				out = append(out, it.Stock)
			}
		}
		return out
	}
	if got, want := stock(), []int{2, -1, 1, 2}; !slices.Equal(got, want) {
		t.Fatalf("stock by position %v, want %v", got, want)
	}
	if l.calls != 2 {
		t.Fatalf("store called %d times, want 2 (a, then the misses of one Fetch)", l.calls)
	}
	// From the cache now, unknown id included.
	clear(dst)
	if err := c.Fetch(t.Context(), ids, dst); err != nil || l.calls != 2 {
		t.Fatalf("err %v, %d store calls", err, l.calls)
	}
	if got, want := stock(), []int{2, -1, 1, 2}; !slices.Equal(got, want) {
		t.Fatalf("cached: stock by position %v, want %v", got, want)
	}
	// A failed load leaves the misses nil and says so.
	l.fail = true
	dst = make([]*catalog.Item, 2)
	if err := c.Fetch(t.Context(), []string{"a", "new"}, dst); err == nil || dst[0] == nil || dst[1] != nil {
		t.Fatalf("err %v, got %v; want the error, a from the cache, new nil", err, dst)
	}
}

// The cache keeps what requests read of an item and drops the rest,
// whether the item was loaded on a miss or filled in bulk.
func TestCachedItemsKeepTheServedFieldsOnly(t *testing.T) {
	full := catalog.Item{ID: "a", Title: "Mug", Description: "A mug.", Category: []string{"Home", "Kitchen"}, Brand: "B",
		Price: 9.5, Cost: 4, Currency: "EUR", Stock: 3, Attributes: map[string]string{"colour": "red"},
		IncompatibleWith: []string{"x"}, Consumable: true, URL: "/a", ImageURL: "/a.jpg", Active: true,
		Synthetic: []string{"cost"}, CreatedAt: time.Unix(100, 0).UTC()}
	want := full
	want.Description, want.Attributes, want.Synthetic = "", nil, nil
	check := func(how string, got *catalog.Item) {
		t.Helper()
		if got == nil || got.ID != want.ID || got.Title != want.Title || got.Description != "" || got.Attributes != nil ||
			got.Synthetic != nil || !slices.Equal(got.Category, want.Category) || got.Brand != want.Brand ||
			got.Price != want.Price || got.Cost != want.Cost || got.Currency != want.Currency || got.Stock != want.Stock ||
			!got.DeclaresIncompatible("x") || got.DeclaresIncompatible("y") || !got.Consumable || got.URL != want.URL ||
			got.ImageURL != want.ImageURL || !got.Active || !got.CreatedAt.Equal(want.CreatedAt) {
			t.Fatalf("%s: cached %+v, want %+v", how, got, want)
		}
	}
	l := &countingLoader{items: map[string]catalog.Item{"a": full}}
	c, _ := newItems(t, l)
	dst := make([]*catalog.Item, 1)
	if err := c.Fetch(t.Context(), []string{"a"}, dst); err != nil {
		t.Fatal(err)
	}
	check("loaded on a miss", dst[0])

	c, _ = newItems(t, &countingLoader{})
	m := c.Mark()
	c.Fill(m, []catalog.Item{full})
	c.Release(m)
	dst[0] = nil
	if err := c.Fetch(t.Context(), []string{"a"}, dst); err != nil {
		t.Fatal(err)
	}
	check("filled in bulk", dst[0])
}

// Cached items of one category share one copy of its path, which no
// append can write through; other paths, and a path that only joins to
// the same key, keep their own.
func TestCachedItemsShareCategoryPaths(t *testing.T) {
	items := map[string]catalog.Item{
		"a": {ID: "a", Category: []string{"Home", "Kitchen"}, Active: true, Stock: 1},
		"b": {ID: "b", Category: []string{"Home", "Kitchen"}, Active: true, Stock: 1},
		"c": {ID: "c", Category: []string{"Home", "Garden"}, Active: true, Stock: 1},
		"d": {ID: "d", Category: []string{"Home\x00Kitchen"}, Active: true, Stock: 1},
	}
	c, _ := newItems(t, &countingLoader{items: items})
	ids := []string{"a", "b", "c", "d"}
	dst := make([]*catalog.Item, len(ids))
	if err := c.Fetch(t.Context(), ids, dst); err != nil {
		t.Fatal(err)
	}
	for i, it := range dst {
		if it == nil || !slices.Equal(it.Category, items[ids[i]].Category) {
			t.Fatalf("item %s cached with category %v, want %v", ids[i], it, items[ids[i]].Category)
		}
	}
	a, b, cc, d := dst[0].Category, dst[1].Category, dst[2].Category, dst[3].Category
	if &a[0] != &b[0] {
		t.Error("two items of one category hold two copies of its path")
	}
	if &a[0] == &cc[0] || &a[0] == &d[0] {
		t.Error("items of other categories share a path they do not have")
	}
	if cap(a) != len(a) {
		t.Errorf("a shared path has room to append into (cap %d, len %d)", cap(a), len(a))
	}
	if unsafe.StringData(a[0]) != unsafe.StringData(cc[0]) {
		t.Error("the name both paths start with is not shared")
	}
	// Names stay shared across garbage collections: an item read later
	// gets the same copies.
	runtime.GC()
	runtime.GC()
	items["e"] = catalog.Item{ID: "e", Category: []string{strings.Clone("Home"), "Bath"}, Brand: strings.Clone("Acme"), Active: true, Stock: 1}
	items["f"] = catalog.Item{ID: "f", Category: []string{"Home", "Kitchen"}, Brand: "Acme", Active: true, Stock: 1}
	late := make([]*catalog.Item, 1)
	if err := c.Fetch(t.Context(), []string{"e"}, late); err != nil {
		t.Fatal(err)
	}
	e := late[0]
	runtime.GC()
	if err := c.Fetch(t.Context(), []string{"f"}, late); err != nil {
		t.Fatal(err)
	}
	f := late[0]
	if unsafe.StringData(e.Category[0]) != unsafe.StringData(a[0]) {
		t.Error("an item read after a garbage collection holds its own copy of a category name")
	}
	if unsafe.StringData(e.Brand) != unsafe.StringData(f.Brand) {
		t.Error("two items of one brand, read with a garbage collection between, hold two copies of its name")
	}
}

// Cached lists hold their entries as made, and share one copy of each
// item id; the lists handed in are left as they were.
func TestListsShareItemIDs(t *testing.T) {
	c, err := NewLists(100, metrics.NewSet())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	fresh := func() []catalog.Scored {
		return []catalog.Scored{{ItemID: string([]byte("item-1")), Score: 2}, {ItemID: string([]byte("item-2")), Score: 0.25}}
	}
	a, b := fresh(), fresh()
	aID := unsafe.StringData(a[0].ItemID)
	c.Fill(c.Gen(), []string{"a", "b", "empty"}, []List{NewList(a), NewList(b), NewList(nil)})
	ca, _ := c.Peek("a")
	cb, _ := c.Peek("b")
	if got := scoredOf(ca); !slices.Equal(got, []catalog.Scored{{ItemID: "item-1", Score: 2}, {ItemID: "item-2", Score: 0.25}}) {
		t.Fatalf("cached %v, want the list as filled", got)
	}
	for i := range ca.Len() {
		if unsafe.StringData(ca.ID(i)) != unsafe.StringData(cb.ID(i)) {
			t.Fatalf("entry %d: the two lists hold two copies of %q", i, ca.ID(i))
		}
	}
	if unsafe.StringData(a[0].ItemID) == unsafe.StringData(ca.ID(0)) || unsafe.StringData(a[0].ItemID) != aID {
		t.Fatal("the cache kept or modified the list handed in")
	}
	if e, ok := c.Peek("empty"); !ok || e.Len() != 0 {
		t.Fatalf("the empty list: %v %v, want cached and empty", e, ok)
	}
}

// Lists are made while others are read: the numbering is safe for
// concurrent use (run with -race), and every list reads back its ids.
func TestListsMadeConcurrently(t *testing.T) {
	var wg sync.WaitGroup
	for g := range 4 {
		wg.Go(func() {
			for i := range 200 {
				l := []catalog.Scored{{ItemID: fmt.Sprintf("conc-%d-%d", g, i), Score: 1}, {ItemID: fmt.Sprintf("conc-shared-%d", i), Score: 0.5}}
				if got := scoredOf(NewList(l)); !slices.Equal(got, l) {
					t.Errorf("list %v read back as %v", l, got)
					return
				}
			}
		})
	}
	wg.Wait()
}

// A transient list reads back as made and numbers none of its ids: they
// come from clients.
func TestTransientListsNumberNothing(t *testing.T) {
	l := []catalog.Scored{{ItemID: "transient-1", Score: 0.5}, {ItemID: "transient-2", Score: 0.25}}
	if got := scoredOf(TransientList(l, nil)); !slices.Equal(got, l) {
		t.Fatalf("read back %v, want %v", got, l)
	}
	_, numbered := NumberOf("transient-1")
	if numbered {
		t.Fatal("a transient list numbered its ids")
	}
	if _, ok := TransientList(l, nil).Number(0); ok {
		t.Fatal("a transient list made without numbers has one")
	}
	if n := TransientList(nil, nil).Len(); n != 0 {
		t.Fatalf("an empty transient list has %d entries", n)
	}
	// With the numbers its ids had, it hands them out, and none for the
	// ids that had none.
	withNums := TransientList(l, []uint32{7, NoNumber})
	if k, ok := withNums.Number(0); !ok || k != 7 {
		t.Fatalf("entry 0: number %d, %v; want 7", k, ok)
	}
	if _, ok := withNums.Number(1); ok {
		t.Fatal("entry 1, made without a number, has one")
	}
}

// scoredOf is l as a new []catalog.Scored.
func scoredOf(l List) []catalog.Scored {
	out := make([]catalog.Scored, l.Len())
	for i := range out {
		out[i] = catalog.Scored{ItemID: l.ID(i), Score: l.Score(i)}
	}
	return out
}

// The lists of numbered items are kept by item and kind and read by
// number; other lists (and items without a number) go by key; Del and
// Clear reach both.
func TestListsKeepItemListsByNumber(t *testing.T) {
	c, err := NewLists(8, metrics.NewSet())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	values := c.c.(numberedValues[List, listEntry])
	list := func(n int) List { return NewList(make([]catalog.Scored, n)) }
	ids := []string{"lists-by-number:a", "lists-by-number:b:with:colons"}
	nums := Numbers(ids)
	unnumbered := "lists-by-number-never-numbered"
	keys := []string{NeighborsKey(catalog.CoView, ids[0]), NeighborsKey(catalog.Content, ids[0]),
		NeighborsKey(catalog.CoPurchase, ids[1]), PopularKey("all"), NeighborsKey(catalog.CoView, unnumbered)}
	vals := []List{list(1), list(2), list(3), list(4), list(5)}
	if got := c.Fill(c.Gen(), keys, vals); got != len(keys) {
		t.Fatalf("Fill cached %d of %d", got, len(keys))
	}
	if n := values.s.len(); n != 3 {
		t.Fatalf("%d lists by number, want the 3 of numbered items", n)
	}
	for i, want := range []struct {
		kind catalog.NeighborKind
		k    uint32
		len  int
	}{{catalog.CoView, nums[0], 1}, {catalog.Content, nums[0], 2}, {catalog.CoPurchase, nums[1], 3}} {
		n, ok := ItemListNumber(want.kind, want.k)
		if !ok {
			t.Fatalf("%d: no number for a kind kept per item", i)
		}
		if l, ok := c.PeekNumbered(n); !ok || l.Len() != want.len {
			t.Fatalf("%d: PeekNumbered = %d entries, %v; want %d", i, l.Len(), ok, want.len)
		}
		if l, ok := c.Peek(keys[i]); !ok || l.Len() != want.len {
			t.Fatalf("%d: Peek by key = %d entries, %v; want %d", i, l.Len(), ok, want.len)
		}
	}
	if n, _ := ItemListNumber(catalog.CoPurchase, nums[0]); func() bool { _, ok := c.PeekNumbered(n); return ok }() {
		t.Fatal("a kind never cached for an item was found")
	}
	for _, i := range []int{3, 4} {
		if l, ok := c.Peek(keys[i]); !ok || l.Len() != vals[i].Len() {
			t.Fatalf("%s: %d entries, %v", keys[i], l.Len(), ok)
		}
	}
	if _, ok := ItemListNumber("popular", nums[0]); ok {
		t.Fatal("a number for a kind not kept per item")
	}
	if _, ok := ItemListNumber(catalog.CoView, NoNumber); ok {
		t.Fatal("a number for an item without one")
	}
	c.Del(keys[1])
	if _, ok := c.Peek(keys[1]); ok {
		t.Fatal("Del left the list")
	}
	// Beyond the bound of 8, by number.
	more := make([]string, 20)
	for i := range more {
		more[i] = fmt.Sprint("lists-by-number-more-", i)
	}
	Numbers(more)
	for i, id := range more {
		c.Fill(c.Gen(), []string{NeighborsKey(catalog.CoView, id)}, []List{list(i)})
	}
	if n := values.s.len(); n != 8 {
		t.Fatalf("%d lists by number, bound 8", n)
	}
	c.Clear()
	for _, key := range keys {
		if _, ok := c.Peek(key); ok {
			t.Fatalf("%s survived Clear", key)
		}
	}
	if values.s.len() != 0 {
		t.Fatalf("%d lists by number after Clear", values.s.len())
	}
}

// A cached item's displayed strings sit in one allocation, in order, with
// their values unchanged; its currency code is shared.
func TestCachedItemsKeepDisplayStringsTogether(t *testing.T) {
	items := map[string]catalog.Item{
		"a": {ID: "a", Title: "Mug", URL: "https://shop.example/p/a", ImageURL: "https://cdn.example/a.jpg", Currency: strings.Clone("EUR"), Active: true, Stock: 1},
		"b": {ID: "b", Title: "Plate", ImageURL: "https://cdn.example/b.jpg", Currency: strings.Clone("EUR"), Active: true, Stock: 1},
	}
	c, _ := newItems(t, &countingLoader{items: items})
	dst := make([]*catalog.Item, 2)
	if err := c.Fetch(t.Context(), []string{"a", "b"}, dst); err != nil {
		t.Fatal(err)
	}
	for i, it := range dst {
		want := items[[]string{"a", "b"}[i]]
		if it.Title != want.Title || it.URL != want.URL || it.ImageURL != want.ImageURL || it.Currency != want.Currency {
			t.Fatalf("item %s: %q %q %q %q, want %q %q %q %q", want.ID, it.Title, it.URL, it.ImageURL, it.Currency,
				want.Title, want.URL, want.ImageURL, want.Currency)
		}
		title := unsafe.StringData(it.Title)
		if unsafe.StringData(it.ImageURL) != (*byte)(unsafe.Add(unsafe.Pointer(title), len(it.Title)+len(it.URL))) {
			t.Errorf("item %s: the image URL does not follow the title and URL", want.ID)
		}
	}
	if unsafe.StringData(dst[0].Currency) != unsafe.StringData(dst[1].Currency) {
		t.Error("two items hold two copies of one currency code")
	}
}

// A cached list is held as its block alone and read back whole, of any
// length; a list that has no block (made for one request) set under a
// numbered key is kept by key and read back as it was.
func TestListsHeldAsBlocks(t *testing.T) {
	c, err := NewLists(64, metrics.NewSet())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	ids := Numbers([]string{"blocks:a", "blocks:b", "blocks:c", "blocks:d"})
	for n := range 5 {
		l := make([]catalog.Scored, n)
		for i := range l {
			l[i] = catalog.Scored{ItemID: IDOf(ids[(i+n)%len(ids)]), Score: float64(10*n + i)}
		}
		key := NeighborsKey(catalog.CoView, IDOf(ids[n%len(ids)]))
		if n == 4 {
			key = NeighborsKey(catalog.CoPurchase, IDOf(ids[0]))
		}
		c.Fill(c.Gen(), []string{key}, []List{NewList(l)})
		got, ok := c.Peek(key)
		if !ok || !slices.Equal(scoredOf(got), l) {
			t.Fatalf("a list of %d read back as %v (cached %v), want %v", n, scoredOf(got), ok, l)
		}
	}
	key := NeighborsKey(catalog.Content, IDOf(ids[1]))
	tl := []catalog.Scored{{ItemID: "blocks:from-traffic", Score: 1}}
	c.Fill(c.Gen(), []string{key}, []List{TransientList(tl, nil)})
	c.Wait()
	if got, ok := c.Peek(key); !ok || !slices.Equal(scoredOf(got), tl) {
		t.Fatalf("a transient list under a numbered key read back as %v (cached %v), want %v", scoredOf(got), ok, tl)
	}
}

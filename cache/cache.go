// Package cache holds the serving caches: item data (stock, price, margin,
// category, brand, display fields) in an array by item number (ids the
// store does not know in a sharded table), item vectors in a sharded
// table, candidate lists in ristretto; all fill from the store on a miss
// and count hits and misses.
package cache

import (
	"context"
	"fmt"
	"math"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/VictoriaMetrics/metrics"
	"github.com/dgraph-io/ristretto/v2"

	"github.com/recs-server/recs/catalog"
	"github.com/recs-server/recs/embeddings"
)

// ItemLoader reads items from the store; ids it does not return are
// unknown.
type ItemLoader func(ctx context.Context, ids []string) ([]catalog.Item, error)

// Items caches catalogue items by id. A cached value is an immutable
// snapshot: callers must not modify it. Unknown ids are cached too (as
// nil), so a flood of requests for a missing id does not reach the store.
//
// The cache keeps pointers into the slice a store read returned, not a
// copy of each item. A pointer keeps the whole slice, so once a stock
// update has replaced an item by a new snapshot (SetStock), the old one
// stays in memory as long as any other item of its read is cached.
// Copying each item was measured and not kept: at 1,000,000 items cached,
// after 180 s at 500 req/s, each garbage-collector mark took 2.2-2.5 s
// (2.8 s of CPU) instead of 0.48-0.50 s (0.6 s), p99 36.3 ms against 31.9,
// to save slices that held 153 MB once half the items' stock had been
// updated (live heap 869 MB, against 716 before the updates).
type Items struct {
	// slots hold the items the store knows, by item number; t the ids it
	// does not (cached as unknown, nil), which traffic may name and which
	// are never numbered.
	slots *slots[catalog.Item]
	t     *table[*catalog.Item]
	load  ItemLoader
	// gens count invalidations, per stripe of ids. A load that started
	// before an invalidation of an id must not cache what it read for that
	// id: it may be the old value. Striped, so a stream of stock updates
	// spoils only the loads of the ids it touches, not every load.
	gens [genStripes]atomic.Uint64
	// levels lets a load that raced a stock update cache the new level.
	levels         stockLevels
	hits, misses   *metrics.Counter
	loads, loadErr *metrics.Counter
}

// NewItems returns a cache of about maxItems items at most (over by at
// most its number of lock stripes, 256, for a moment), and as many ids
// unknown to the store.
func NewItems(maxItems int64, load ItemLoader, set *metrics.Set) (*Items, error) {
	if maxItems <= 0 {
		return nil, fmt.Errorf("item cache: size %d, want > 0", maxItems)
	}
	evictions := set.GetOrCreateCounter(`recs_cache_evictions_total{cache="items"}`)
	c := &Items{
		slots: newItemSlots(maxItems, evictions),
		t:     newTable[*catalog.Item](maxItems, evictions),
		load:  load, levels: newStockLevels(),
		hits:    set.GetOrCreateCounter(`recs_cache_requests_total{cache="items",result="hit"}`),
		misses:  set.GetOrCreateCounter(`recs_cache_requests_total{cache="items",result="miss"}`),
		loads:   set.GetOrCreateCounter(`recs_cache_loads_total{cache="items"}`),
		loadErr: set.GetOrCreateCounter(`recs_cache_load_errors_total{cache="items"}`),
	}
	set.GetOrCreateGauge(`recs_cache_entries{cache="items"}`, func() float64 { return float64(c.slots.len() + c.t.len()) })
	return c, nil
}

// Get adds to dst the items among ids that exist and dst lacks (unknown
// ids are left out), as Fetch reads them.
func (c *Items) Get(ctx context.Context, ids []string, dst map[string]*catalog.Item) error {
	want := make([]string, 0, len(ids))
	for _, id := range ids {
		if _, done := dst[id]; !done {
			want = append(want, id)
		}
	}
	got := make([]*catalog.Item, len(want))
	err := c.Fetch(ctx, want, got)
	for i, it := range got {
		if it != nil {
			dst[want[i]] = it
		}
	}
	return err
}

// Fetch sets dst[i] to the item ids[i] names, nil for an unknown id,
// loading all misses with one store call. On a store error the misses are
// nil and it returns the error with what the cache had. dst must be as
// long as ids. It is Get without a map: ranking reads some hundred and
// fifty items per request, and a map insert and lookup per item cost more
// than the cache lookup itself.
func (c *Items) Fetch(ctx context.Context, ids []string, dst []*catalog.Item) error {
	nums := make([]uint32, len(ids))
	knownNumbers(ids, nums)
	return c.FetchNumbered(ctx, ids, nums, dst)
}

// FetchNumbered is Fetch for ids whose item numbers the caller looked up:
// nums[i] is ids[i]'s number, NoNumber if it had none then (List.Number,
// NumberOf). An id numbered since is found all the same, by a load.
// ids[i] may be "" where nums[i] is a number: the id is then read from
// the numbering if the item must be loaded.
func (c *Items) FetchNumbered(ctx context.Context, ids []string, nums []uint32, dst []*catalog.Item) error {
	dst = dst[:len(ids)]
	var missing []string
	var missingNums []uint32
	var at []int
	hits := 0
	for i, id := range ids {
		var it *catalog.Item
		var ok bool
		if k := nums[i]; k != NoNumber {
			it, ok = c.slots.get(k)
		} else {
			it, ok = c.t.get(c.t.key(id))
		}
		dst[i] = it // nil if unknown, or not cached yet
		if !ok {
			if id == "" {
				id = IDOf(nums[i])
			}
			missing = append(missing, id)
			missingNums = append(missingNums, nums[i])
			at = append(at, i)
			continue
		}
		hits++
	}
	// One atomic add per call, not per item: the counter is shared by
	// every request.
	c.hits.Add(hits)
	if len(missing) == 0 {
		return nil
	}
	c.misses.Add(len(missing))
	// The load runs detached from the request: if the request's deadline
	// passes first, the load still finishes and fills the cache, so a cold
	// cache warms under load instead of timing out forever.
	done := make(chan loaded, 1)
	gens := make([]uint64, len(missing))
	for i, id := range missing {
		gens[i] = c.stripe(c.t.key(id)).Load()
	}
	start := c.levels.begin()
	go func() {
		defer c.levels.end(start)
		c.loads.Inc()
		lctx, cancel := context.WithTimeout(context.Background(), LoadTimeout)
		items, err := c.load(lctx, missing)
		cancel()
		if err != nil {
			c.loadErr.Inc()
			done <- loaded{err: err}
			return
		}
		at := c.levels.patch(start, items)
		// The cached items point into the slice read (see Items).
		byID := make(map[string]*catalog.Item, len(items))
		for i := range items {
			forServing(&items[i])
			byID[items[i].ID] = &items[i]
		}
		numberKnown(missing, byID, missingNums)
		for i, id := range missing {
			g := c.stripe(c.t.key(id))
			// nil: unknown, cached too
			c.set(id, missingNums[i], byID[id], func() bool { return g.Load() == gens[i] })
		}
		c.levels.changedSince(at, missing, c.del)
		done <- loaded{byID: byID}
	}()
	select {
	case r := <-done:
		if r.err != nil {
			return fmt.Errorf("load items: %w", r.err)
		}
		for j, i := range at {
			dst[i] = r.byID[missing[j]]
		}
		return nil
	case <-ctx.Done():
		return fmt.Errorf("load items: %w", ctx.Err())
	}
}

// numberKnown sets nums[i] to the item number of each of ids the store
// knows (found in byID), numbering those new to the table, and makes
// their items share the numbering's copy of the id (shareNumberedID); the
// others' numbers stay as they are.
func numberKnown(ids []string, byID map[string]*catalog.Item, nums []uint32) {
	known := make([]int, 0, len(ids))
	for i, id := range ids {
		if byID[id] != nil {
			known = append(known, i)
		}
	}
	numbers.number(len(known), func(j int) string { return ids[known[j]] }, func(j int, k uint32) { nums[known[j]] = k })
	for _, i := range known {
		shareNumberedID(byID[ids[i]], nums[i])
	}
}

// shareNumberedID makes a cached item hold the numbering's copy of its
// id (number k) instead of its own. Ranking reads every candidate's id
// (the page's exclusions, the visitor's history): the numbering's copies
// were made in numbering order, most active items first (Stats.NumberBy),
// so the ids most pages read share cache lines, where each item's own
// copy sat wherever its row was read. It also saves the copy.
func shareNumberedID(it *catalog.Item, k uint32) {
	if id := IDOf(k); id == it.ID {
		it.ID = id
	}
}

// set caches it (nil: unknown) as id's item, in its slot if it has a
// number (k), else in the table, if fresh holds under the lock.
func (c *Items) set(id string, k uint32, it *catalog.Item, fresh func() bool) bool {
	if k != NoNumber {
		return c.slots.setIf(k, it, fresh)
	}
	return c.t.setIf(c.t.key(id), it, fresh)
}

type loaded struct {
	byID map[string]*catalog.Item // read-only once sent
	err  error
}

// LoadTimeout bounds a cache fill from the store, which may outlive the
// request that started it.
const LoadTimeout = 2 * time.Second

// genStripes is the number of invalidation counters: a stock update of n
// ids spoils in-flight loads of about n/genStripes of all ids.
const genStripes = 4096

// stripe is the invalidation counter of the id of key k.
func (c *Items) stripe(k tableKey) *atomic.Uint64 { return &c.gens[k.h%genStripes] }

// del drops id from the slots and the table: it may be in the table,
// cached as unknown, from before it was numbered.
func (c *Items) del(id string) {
	c.t.del(c.t.key(id))
	if k, ok := NumberOf(id); ok {
		c.slots.del(k)
	}
}

// Invalidate drops ids so the next Get reads them from the store; loads
// in flight when it is called do not cache their (maybe older) result for
// these ids (or the few others sharing their stripes).
func (c *Items) Invalidate(ids ...string) {
	nums := make([]uint32, len(ids))
	knownNumbers(ids, nums)
	for i, id := range ids {
		k := c.t.key(id)
		c.stripe(k).Add(1)
		c.t.del(k)
		if nums[i] != NoNumber {
			c.slots.del(nums[i])
		}
	}
}

// SetStock applies stored stock levels to the cached items, as new
// snapshots, instead of dropping them: a stream of stock updates would
// otherwise turn the hottest items into misses, and every miss into a
// store read, just when the store is busiest. Items not cached are left to
// the next load, which reads the new level; loads in flight cache what
// they read with the new level (stockLevels). Callers apply updates of one
// id in the order the store did, after the store has them.
func (c *Items) SetStock(updates []catalog.StockUpdate) {
	c.levels.record(updates)
	nums := make([]uint32, len(updates))
	numbers.known(len(updates), func(i int) string { return updates[i].ItemID }, nums)
	for i, u := range updates {
		// The table too: the id may be cached there as unknown from
		// before it was numbered.
		setStock(c.t, c.t.key(u.ItemID), u.Stock)
		if nums[i] != NoNumber {
			setSlotStock(c.slots, nums[i], u.Stock)
		}
	}
}

// Derived caches values derived from the current build (candidate lists,
// item vectors). They change only when a build is published, so Clear on
// a new build is the whole invalidation policy, with Del for single items
// that change between builds.
type Derived[V any] struct {
	c            values[V]
	gen          atomic.Uint64
	hits, misses *metrics.Counter
	// flights are the loads in progress: concurrent misses of one key
	// (every request wants the popular list) share one store query.
	mu      sync.Mutex
	flights map[string]*flight[V]
}

type flight[V any] struct {
	done chan struct{}
	v    V
	err  error
}

// values is where a Derived keeps its values: ristretto for lists, which
// compete for room (three lists an item, more than the cache holds at a
// million items) and gain from its admission policy; the item table for
// vectors, one per item like the items, and looked up by the hundred for
// a session vector, where ristretto's counting per lookup cost more than
// the lookups (see table).
type values[V any] interface {
	Get(key string) (V, bool)
	// Set may drop the value (ristretto, when its buffer is full).
	Set(key string, v V) bool
	Del(key string)
	Clear()
	// Wait returns once the values set before are visible.
	Wait()
	Close()
}

// Lists caches candidate lists (neighbour tables, popularity scopes).
type Lists = Derived[List]

// Vectors caches item vectors, as int8 (embeddings.Int8).
type Vectors = Derived[embeddings.Int8]

// NewLists returns a cache of candidate lists: at most max lists of
// items (NeighborsKey) held by item number, and at most max/4 others
// (popularity scopes, session vectors), which churn with the visitors.
func NewLists(max int64, set *metrics.Set) (*Lists, error) {
	if max <= 0 {
		return nil, fmt.Errorf("lists cache: size %d, want > 0", max)
	}
	others := max / 4
	if others < 1 {
		others = 1
	}
	c, err := ristretto.NewCache(&ristretto.Config[string, List]{
		NumCounters:        others * 10,
		MaxCost:            others,
		BufferItems:        64,
		IgnoreInternalCost: true,
	})
	if err != nil {
		return nil, fmt.Errorf("lists cache: %w", err)
	}
	evictions := set.GetOrCreateCounter(`recs_cache_evictions_total{cache="lists"}`)
	v := numberedValues[List, listEntry]{s: newSlots[listEntry](max, evictions, nil), other: ristrettoValues[List]{c}, numberOf: itemListNumber,
		pack: listBlock, unpack: listOfBlock}
	return newDerived[List]("lists", v, set), nil
}

// NewVectors returns a cache of at most max item vectors (and as many
// more of ids without an item number).
func NewVectors(max int64, set *metrics.Set) (*Vectors, error) {
	if max <= 0 {
		return nil, fmt.Errorf("vectors cache: size %d, want > 0", max)
	}
	evictions := set.GetOrCreateCounter(`recs_cache_evictions_total{cache="vectors"}`)
	t := newTable[embeddings.Int8](max, evictions)
	v := numberedValues[embeddings.Int8, int8]{s: newSlots[int8](max, evictions, nil), other: tableValues[embeddings.Int8]{t}, numberOf: NumberOf,
		pack: embeddings.Int8.Block, unpack: embeddings.Int8OfBlock}
	set.GetOrCreateGauge(`recs_cache_entries{cache="vectors"}`, func() float64 { return float64(v.s.len() + t.len()) })
	return newDerived[embeddings.Int8]("vectors", v, set), nil
}

func newDerived[V any](name string, c values[V], set *metrics.Set) *Derived[V] {
	return &Derived[V]{
		c:       c,
		flights: make(map[string]*flight[V]),
		hits:    set.GetOrCreateCounter(`recs_cache_requests_total{cache="` + name + `",result="hit"}`),
		misses:  set.GetOrCreateCounter(`recs_cache_requests_total{cache="` + name + `",result="miss"}`),
	}
}

type ristrettoValues[V any] struct{ c *ristretto.Cache[string, V] }

func (r ristrettoValues[V]) Get(key string) (V, bool) { return r.c.Get(key) }
func (r ristrettoValues[V]) Set(key string, v V) bool { return r.c.Set(key, v, 1) }
func (r ristrettoValues[V]) Del(key string)           { r.c.Del(key) }
func (r ristrettoValues[V]) Clear()                   { r.c.Clear() }
func (r ristrettoValues[V]) Wait()                    { r.c.Wait() }
func (r ristrettoValues[V]) Close()                   { r.c.Close() }

// numberedValues keeps the values of numbered keys in slots, by number,
// and the others in other. numberOf gives a key's number: an item's
// (vectors), or one per item and kind of list (itemListNumber).
//
// Why: a session vector reads the vectors of a few hundred listed items
// by their numbers (Derived.LookupNumbered): by id that was a hash and a
// probe of the table each, a third of the session vector's CPU. And every
// page reads its anchors' neighbour lists: in ristretto, whose maps also
// held every visitor's session vector, that was 5 % of the server's CPU
// at 3,000 items (hashing, a probe that missed the CPU cache, counting).
//
// A slot holds a pointer to E, the form pack makes of a value and unpack
// reads back: a list's block (listBlock) or a vector's
// (embeddings.Int8.Block), so each is one object without pointers. A
// value pack makes nil of is kept in other.
type numberedValues[V, E any] struct {
	s        *slots[E]
	other    values[V]
	numberOf func(key string) (uint32, bool)
	pack     func(V) *E
	unpack   func(*E) V
}

func (n numberedValues[V, E]) Get(key string) (V, bool) {
	if k, ok := n.numberOf(key); ok {
		if v, ok := n.getNumbered(k); ok {
			return v, true
		}
	}
	return n.other.Get(key)
}

func (n numberedValues[V, E]) getNumbered(k uint32) (V, bool) {
	v, ok := n.s.get(k)
	if !ok || v == nil {
		var zero V
		return zero, false
	}
	return n.unpack(v), true
}

func (n numberedValues[V, E]) Set(key string, v V) bool {
	if k, ok := n.numberOf(key); ok {
		if p := n.pack(v); p != nil {
			return n.s.setIf(k, p, func() bool { return true })
		}
	}
	return n.other.Set(key, v)
}

// Del drops key from both: it may have been set in other before it was
// numbered.
func (n numberedValues[V, E]) Del(key string) {
	n.other.Del(key)
	if k, ok := n.numberOf(key); ok {
		n.s.del(k)
	}
}

func (n numberedValues[V, E]) Clear() {
	n.other.Clear()
	n.s.clear()
}

func (n numberedValues[V, E]) Wait()  { n.other.Wait() }
func (n numberedValues[V, E]) Close() { n.other.Close() }

// itemListKinds are the kinds of list kept per item (NeighborsKey).
var itemListKinds = [...]catalog.NeighborKind{catalog.CoPurchase, catalog.CoView, catalog.Content}

// ItemListNumber is the number under which the list of kind of item
// number k is cached (Lists.PeekNumbered); false for a kind not kept per
// item.
func ItemListNumber(kind catalog.NeighborKind, k uint32) (uint32, bool) {
	for i, x := range itemListKinds {
		if x == kind && k < math.MaxUint32/uint32(len(itemListKinds)) {
			return k*uint32(len(itemListKinds)) + uint32(i), true
		}
	}
	return 0, false
}

// itemListNumber is the ItemListNumber of a NeighborsKey whose item has
// a number.
func itemListNumber(key string) (uint32, bool) {
	rest, ok := strings.CutPrefix(key, "n:")
	if !ok {
		return 0, false
	}
	kind, id, ok := strings.Cut(rest, ":")
	if !ok {
		return 0, false
	}
	k, ok := NumberOf(id)
	if !ok {
		return 0, false
	}
	return ItemListNumber(catalog.NeighborKind(kind), k)
}

type tableValues[V any] struct{ t *table[V] }

func (t tableValues[V]) Get(key string) (V, bool) { return t.t.get(t.t.key(key)) }
func (t tableValues[V]) Set(key string, v V) bool {
	return t.t.setIf(t.t.key(key), v, func() bool { return true })
}
func (t tableValues[V]) Del(key string) { t.t.del(t.t.key(key)) }
func (t tableValues[V]) Clear()         { t.t.clear() }
func (t tableValues[V]) Wait()          {} // a set is visible at once
func (t tableValues[V]) Close()         {}

// NeighborsKey and PopularKey name cached lists.
func NeighborsKey(kind catalog.NeighborKind, itemID string) string {
	return "n:" + string(kind) + ":" + itemID
}

func PopularKey(scope string) string { return "p:" + scope }

// Get returns the cached value for key, or loads it with load and caches
// it. The load runs detached from ctx (bounded by LoadTimeout) and is
// shared by concurrent callers; a caller whose ctx ends stops waiting, but
// the load still fills the cache. Values are shared: callers must not
// modify them.
func (c *Derived[V]) Get(ctx context.Context, key string, load func(context.Context) (V, error)) (V, error) {
	if v, ok := c.c.Get(key); ok {
		c.hits.Inc()
		return v, nil
	}
	c.misses.Inc()
	c.mu.Lock()
	f := c.flights[key]
	if f == nil {
		f = &flight[V]{done: make(chan struct{})}
		c.flights[key] = f
		gen := c.gen.Load()
		go func() {
			lctx, cancel := context.WithTimeout(context.Background(), LoadTimeout)
			f.v, f.err = load(lctx)
			cancel()
			if f.err == nil && c.gen.Load() == gen {
				c.c.Set(key, f.v)
				// Set is asynchronous: keep the flight until the value is
				// visible, so no caller misses in between.
				c.c.Wait()
			}
			c.mu.Lock()
			delete(c.flights, key)
			c.mu.Unlock()
			close(f.done)
		}()
	}
	c.mu.Unlock()
	select {
	case <-f.done:
		return f.v, f.err
	case <-ctx.Done():
		var zero V
		return zero, ctx.Err()
	}
}

// Peek returns the cached value for key without loading it: the request
// path answers cache hits inline and starts a goroutine only for misses.
func (c *Derived[V]) Peek(key string) (V, bool) {
	v, ok := c.c.Get(key)
	if ok {
		c.hits.Inc()
	}
	return v, ok
}

// Lookup reads the cached values of keys into dst (as long as keys) and
// returns the indexes of the keys not cached, for the caller to read in
// one batch and Fill.
func (c *Derived[V]) Lookup(keys []string, dst []V) (missing []int) {
	return c.lookup(dst[:len(keys)], func(i int) (V, bool) { return c.c.Get(keys[i]) })
}

// PeekNumbered is Peek by number, for a cache that holds values by
// number (ItemListNumber for lists, the item number for vectors): no
// hash, no key.
func (c *Derived[V]) PeekNumbered(k uint32) (V, bool) {
	v, ok := c.getNumbered(k)
	if ok {
		c.hits.Inc()
	}
	return v, ok
}

// getNumbered reads number k where the values are held by number.
func (c *Derived[V]) getNumbered(k uint32) (V, bool) {
	if n, ok := c.c.(interface{ getNumbered(uint32) (V, bool) }); ok {
		return n.getNumbered(k)
	}
	var zero V
	return zero, false
}

// LookupNumbered is Lookup for the items numbered nums (List.Number),
// which a cache holding values by number (the vectors) reads without
// hashing their ids.
func (c *Derived[V]) LookupNumbered(nums []uint32, dst []V) (missing []int) {
	return c.lookup(dst[:len(nums)], func(i int) (V, bool) {
		if v, hit := c.getNumbered(nums[i]); hit {
			return v, true
		}
		// Set by id before the id was numbered, or not held by number.
		return c.c.Get(IDOf(nums[i]))
	})
}

// lookup reads each entry of dst with get and returns the indexes of the
// entries not cached.
func (c *Derived[V]) lookup(dst []V, get func(int) (V, bool)) (missing []int) {
	for i := range dst {
		if v, ok := get(i); ok {
			dst[i] = v
			continue
		}
		missing = append(missing, i)
	}
	c.hits.Add(len(dst) - len(missing))
	c.misses.Add(len(missing))
	return missing
}

// Del drops one value, e.g. of an item whose vector changed.
func (c *Derived[V]) Del(key string) {
	c.gen.Add(1)
	c.c.Del(key)
}

// Clear drops every value (a new build was published).
func (c *Derived[V]) Clear() {
	c.gen.Add(1)
	c.c.Clear()
}

// Wait blocks until buffered writes are applied (for tests).
func (c *Derived[V]) Wait() { c.c.Wait() }

// Close stops the cache's goroutines.
func (c *Derived[V]) Close() { c.c.Close() }

// forServing prepares an item read from the store for the cache.
//
// It drops the fields no request reads (the description, attributes and
// the names of synthetic fields: content vectors are computed from the
// upserted items themselves, and GET /v1/items reads the store): in a
// heap profile at 1,000,000 demo items they were about 40 % of the 970
// bytes a cached item held (the attributes map alone about 270), and a
// cache sized to the catalogue holds them all. The declared
// incompatibilities it keeps in a compact form (CompactIncompatible).
//
// It makes the item share one copy of each category name and brand with
// every other cached item. Ranking compares every candidate's category
// and brand with the page's and looks them up in the visitor's
// affinities: with a copy per item, each comparison read bytes no other
// item shares, a cache miss per candidate; interned, the few hundred
// names stay in the CPU cache, and equal names compare by pointer. The
// category path itself is shared by the items of one category (see
// categoryPaths).
func forServing(it *catalog.Item) {
	it.Description, it.Attributes, it.Synthetic = "", nil, nil
	it.CompactIncompatible()
	it.Category = categoryPaths.of(it.Category)
	if it.Brand != "" {
		it.Brand = categoryPaths.name(it.Brand)
	}
	if it.Currency != "" {
		it.Currency = categoryPaths.name(it.Currency)
	}
	packDisplay(it)
}

// packDisplay puts the strings a response shows of the item (its title,
// page and image URLs) in one allocation, one after another: read from
// rows, each had its own, in a different size class and so a different
// page of memory, and writing a response took a cache miss on each (the
// string encoder was 6 % of the server's CPU at 2,000 req/s, most of it
// the first load of each string).
func packDisplay(it *catalog.Item) {
	all := it.Title + it.URL + it.ImageURL
	a, b := len(it.Title), len(it.Title)+len(it.URL)
	it.Title, it.URL, it.ImageURL = all[:a], all[a:b], all[b:]
}

// categoryPaths holds one copy of each category path cached items have,
// shared by them: every candidate's top and leaf category are read from
// the path's backing array, which was a cache miss per candidate with an
// array per item (4 % of the server's CPU at 100,000 items). Shared paths
// are never modified. It also holds one copy of each category and brand
// name, and currency code. It grows with the catalogue's categories and
// brands.
//
// Not unique.Make for the names: it keeps a name only while a Handle
// holds it, and the items hold the string, not a Handle, so after a
// garbage collection the next item read got a new copy.
var categoryPaths = &pathTable{m: make(map[string][]string), names: make(map[string]string)}

type pathTable struct {
	mu    sync.RWMutex
	m     map[string][]string
	names map[string]string
}

// of returns the shared copy of path, its names interned; path when the
// table holds another path under the same key (names with NUL bytes).
func (t *pathTable) of(path []string) []string {
	if len(path) == 0 {
		return path
	}
	key := strings.Join(path, "\x00")
	t.mu.RLock()
	p, ok := t.m[key]
	t.mu.RUnlock()
	if !ok {
		t.mu.Lock()
		if p, ok = t.m[key]; !ok {
			p = make([]string, len(path))
			for i, c := range path {
				p[i] = t.internLocked(c)
			}
			t.m[key] = p
		}
		t.mu.Unlock()
	}
	if !slices.Equal(p, path) {
		return path
	}
	return p[:len(p):len(p)]
}

// name returns the shared copy of a name.
func (t *pathTable) name(s string) string {
	t.mu.RLock()
	n, ok := t.names[s]
	t.mu.RUnlock()
	if ok {
		return n
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.internLocked(s)
}

func (t *pathTable) internLocked(s string) string {
	if n, ok := t.names[s]; ok {
		return n
	}
	// A copy: s may share memory with a larger string (a row buffer).
	n := strings.Clone(s)
	t.names[n] = n
	return n
}

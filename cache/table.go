package cache

import (
	"hash/maphash"
	"sync"
	"sync/atomic"

	"github.com/VictoriaMetrics/metrics"

	"github.com/recs-server/recs/catalog"
)

// table holds the values of the vector cache, and the item cache's ids
// unknown to the store (known items are in itemSlots), by id: plain maps
// in shards, each under its own lock; when the table is full, a new entry
// replaces a random one of its shard.
//
// Not ristretto, unlike the list cache. Every request looks
// up a few hundred candidates, and ristretto counts each lookup for its
// admission policy (a ring buffer, then a count-min sketch and a bloom
// filter sized at ten counters per item the cache may hold, tens of
// megabytes at the default size, so nearly every count misses the CPU
// cache): profiled at 2,000 req/s, that bookkeeping took 11-14 % of the
// server's CPU, about as much as the lookups themselves.
// An admission policy pays when the values compete for room; a shop's
// catalogue nearly always fits in the item cache (a million items by
// default). When it does not, the random eviction hits 2-4 points less
// often than ristretto did (BenchmarkHitRatioCatalogueLargerThanCache).
type table[V any] struct {
	seed, checkSeed maphash.Seed
	shards          []tableShard[V]
	mask            uint64
	// max bounds the entries of all shards together, counted in n: a
	// bound per shard would evict early, as ids do not spread evenly (a
	// cache sized to the catalogue lost a few per cent of it that way).
	max       int64
	n         atomic.Int64
	evictions *metrics.Counter
}

type tableShard[V any] struct {
	mu sync.RWMutex
	// By the id's hash, not the id, as in ristretto: a second, independent
	// hash tells ids apart. In a profile, comparing string keys' bytes was
	// most of a lookup by id (memory apart from the map's); by end-to-end
	// server CPU per request the two are within the noise at 3,000 items.
	m map[uint64]tableEntry[V]
	// Keeps each shard's lock on its own cache line: the two cores would
	// otherwise invalidate each other's line on every read lock.
	_ [32]byte
}

type tableEntry[V any] struct {
	check uint64
	v     V
}

// tableKey is an id's two hashes: h finds the entry, check confirms it is
// the id's. Two ids share both with a probability of 2^-128.
type tableKey struct{ h, check uint64 }

// maxShards bounds the lock striping; minPerShard keeps small tables from
// being cut into shards of a few entries, where a full table's new entry
// would find nothing to evict in its shard.
const (
	maxShards   = 256
	minPerShard = 64
)

func newTable[V any](max int64, evictions *metrics.Counter) *table[V] {
	n := 1
	for n < maxShards && int64(n)*minPerShard < max {
		n *= 2
	}
	t := &table[V]{
		seed: maphash.MakeSeed(), checkSeed: maphash.MakeSeed(), shards: make([]tableShard[V], n), mask: uint64(n - 1),
		max: max, evictions: evictions,
	}
	for i := range t.shards {
		t.shards[i].m = make(map[uint64]tableEntry[V])
	}
	return t
}

func (t *table[V]) key(id string) tableKey {
	return tableKey{maphash.String(t.seed, id), maphash.String(t.checkSeed, id)}
}

func (t *table[V]) shard(k tableKey) *tableShard[V] { return &t.shards[k.h&t.mask] }

// get returns the cached value of the id of key k (for items, nil:
// cached as unknown).
func (t *table[V]) get(k tableKey) (V, bool) {
	s := t.shard(k)
	s.mu.RLock()
	e, ok := s.m[k.h]
	s.mu.RUnlock()
	if !ok || e.check != k.check {
		var zero V
		return zero, false
	}
	return e.v, true
}

// setIf caches v as id's value if fresh still holds under the shard's
// lock: an invalidation that takes the lock after the check drops the
// value; one before makes fresh false.
func (t *table[V]) setIf(k tableKey, v V, fresh func() bool) bool {
	s := t.shard(k)
	s.mu.Lock()
	defer s.mu.Unlock()
	if !fresh() {
		return false
	}
	if _, ok := s.m[k.h]; !ok {
		// When full, the new entry replaces a random one of its shard
		// (map iteration starts at a random entry); if the shard has none,
		// the table goes over by one until a delete: the bound is exceeded
		// by at most the number of shards.
		if t.n.Load() >= t.max && len(s.m) > 0 {
			for old := range s.m {
				delete(s.m, old)
				break
			}
			t.evictions.Inc()
		} else {
			t.n.Add(1)
		}
	}
	s.m[k.h] = tableEntry[V]{check: k.check, v: v}
	return true
}

// del drops the id of key k (and, if one shares its first hash, the
// other id: it reloads).
func (t *table[V]) del(k tableKey) {
	s := t.shard(k)
	s.mu.Lock()
	t.drop(s, k.h)
	s.mu.Unlock()
}

// drop deletes an entry of s, which the caller has locked.
func (t *table[V]) drop(s *tableShard[V], h uint64) {
	if _, ok := s.m[h]; ok {
		delete(s.m, h)
		t.n.Add(-1)
	}
}

// setStock replaces a cached item with a copy at the new stock level, and
// drops an id cached as unknown (a stock update does not create an item,
// but nothing stale should stay). An id not cached stays so.
func setStock(t *table[*catalog.Item], k tableKey, stock int) {
	s := t.shard(k)
	s.mu.Lock()
	defer s.mu.Unlock()
	e, ok := s.m[k.h]
	switch {
	case !ok:
	case e.v == nil || e.check != k.check:
		t.drop(s, k.h)
	default:
		cp := *e.v
		cp.Stock = stock
		s.m[k.h] = tableEntry[*catalog.Item]{check: k.check, v: &cp}
	}
}

// clear drops every entry.
func (t *table[V]) clear() {
	for i := range t.shards {
		s := &t.shards[i]
		s.mu.Lock()
		t.n.Add(-int64(len(s.m)))
		clear(s.m)
		s.mu.Unlock()
	}
}

// len is the number of cached ids.
func (t *table[V]) len() int { return int(t.n.Load()) }

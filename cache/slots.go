package cache

import (
	"math/rand/v2"
	"sync"
	"sync/atomic"

	"github.com/VictoriaMetrics/metrics"

	"github.com/recs-server/recs/catalog"
)

// slots holds cached values of numbered ids (see itemNumbers) in an
// array indexed by item number: a read is one atomic load, with no hash,
// lock or map probe. The item cache keeps every item the store knows
// here, numbering it when it is loaded; the table keeps only ids the
// store does not know (from traffic: never numbered). The vector cache
// keeps the vectors of numbered items here too (numberedValues).
//
// Why: at 100,000 items the table's lookup was 12.5 % of the server's
// CPU at 2,000 req/s, most of it the cache miss of the map probe (and a
// read lock's atomic add on a line the other core also writes), once per
// candidate. The pages already carry their candidates' numbers, and the
// most active items have the lowest numbers (Stats.NumberBy), so the
// slots of the items most requests read share cache lines.
//
// Writers of a slot (fills, stock updates, invalidations) take one of
// slotLocks locks by number, so a check-then-set (setIf) cannot
// interleave with an invalidation of the same id; readers take none.
type slots[V any] struct {
	// chunks grow (under grow) and are never freed or moved: a reader
	// loads the slice, then the slot.
	chunks atomic.Pointer[[]*slotChunk[V]]
	grow   sync.Mutex
	locks  [slotLocks]slotLock
	// max bounds the occupied slots, counted in n: a fill beyond it
	// empties a random occupied slot.
	max       int64
	n         atomic.Int64
	evictions *metrics.Counter
	// unknown, if not nil, is what a slot holds for an id cached as
	// unknown to the store (a build may name an item deleted since).
	unknown *V
}

const (
	slotChunkBits = 14 // 16,384 slots (128 KiB) a chunk
	slotChunkLen  = 1 << slotChunkBits
	slotLocks     = 256
)

type slotChunk[V any] [slotChunkLen]atomic.Pointer[V]

// slotLock keeps each lock on its own cache line.
type slotLock struct {
	sync.Mutex
	_ [56]byte
}

// unknownItem in a slot caches its id as unknown to the store.
var unknownItem = new(catalog.Item)

func newItemSlots(max int64, evictions *metrics.Counter) *slots[catalog.Item] {
	return newSlots(max, evictions, unknownItem)
}

func newSlots[V any](max int64, evictions *metrics.Counter, unknown *V) *slots[V] {
	s := &slots[V]{max: max, evictions: evictions, unknown: unknown}
	s.chunks.Store(&[]*slotChunk[V]{})
	return s
}

// slot is number k's slot, nil if its chunk was never written.
func (s *slots[V]) slot(k uint32) *atomic.Pointer[V] {
	chunks := *s.chunks.Load()
	if c := int(k >> slotChunkBits); c < len(chunks) && chunks[c] != nil {
		return &chunks[c][k&(slotChunkLen-1)]
	}
	return nil
}

// slotFor is number k's slot, allocating its chunk.
func (s *slots[V]) slotFor(k uint32) *atomic.Pointer[V] {
	if p := s.slot(k); p != nil {
		return p
	}
	s.grow.Lock()
	defer s.grow.Unlock()
	chunks := *s.chunks.Load()
	c := int(k >> slotChunkBits)
	if c >= len(chunks) || chunks[c] == nil {
		grown := make([]*slotChunk[V], max(len(chunks), c+1))
		copy(grown, chunks)
		grown[c] = new(slotChunk[V])
		s.chunks.Store(&grown)
		chunks = grown
	}
	return &chunks[c][k&(slotChunkLen-1)]
}

func (s *slots[V]) lock(k uint32) *slotLock { return &s.locks[k%slotLocks] }

// get is the value cached for number k: (nil, true) when cached as
// unknown, (nil, false) when not cached.
func (s *slots[V]) get(k uint32) (*V, bool) {
	p := s.slot(k)
	if p == nil {
		return nil, false
	}
	switch v := p.Load(); v {
	case nil:
		return nil, false
	case s.unknown:
		return nil, true
	default:
		return v, true
	}
}

// setIf caches it (nil: unknown) for number k if fresh still holds under
// k's lock, as table.setIf does.
func (s *slots[V]) setIf(k uint32, it *V, fresh func() bool) bool {
	if it == nil {
		it = s.unknown
	}
	p := s.slotFor(k)
	l := s.lock(k)
	l.Lock()
	if !fresh() {
		l.Unlock()
		return false
	}
	added := p.Swap(it) == nil
	l.Unlock()
	if added && s.n.Add(1) > s.max {
		s.evict(k)
	}
	return true
}

// evict empties the first occupied slot from a random number on, other
// than keep's (just filled). With the cache full, occupied slots are at
// least max in number, so the walk is short unless max is a small share
// of the numbered ids.
func (s *slots[V]) evict(keep uint32) {
	chunks := *s.chunks.Load()
	total := uint32(len(chunks) * slotChunkLen)
	start := rand.Uint32N(total)
	for i := range total {
		k := (start + i) % total
		if k == keep || chunks[k>>slotChunkBits] == nil {
			continue
		}
		if s.del(k) {
			s.evictions.Inc()
			return
		}
	}
}

// del empties number k's slot, reporting whether it held a value.
func (s *slots[V]) del(k uint32) bool {
	p := s.slot(k)
	if p == nil || p.Load() == nil {
		return false
	}
	l := s.lock(k)
	l.Lock()
	emptied := p.Swap(nil) != nil
	l.Unlock()
	if emptied {
		s.n.Add(-1)
	}
	return emptied
}

// setSlotStock replaces a cached item with a copy at the new stock level
// and empties a slot cached as unknown, as the table's setStock does.
func setSlotStock(s *slots[catalog.Item], k uint32, stock int) {
	p := s.slot(k)
	if p == nil || p.Load() == nil {
		return
	}
	l := s.lock(k)
	l.Lock()
	switch it := p.Load(); it {
	case nil:
	case unknownItem:
		p.Store(nil)
		s.n.Add(-1)
	default:
		cp := *it
		cp.Stock = stock
		p.Store(&cp)
	}
	l.Unlock()
}

// len is the number of occupied slots.
func (s *slots[V]) len() int { return int(s.n.Load()) }

// clear empties every slot.
func (s *slots[V]) clear() {
	chunks := *s.chunks.Load()
	for c, chunk := range chunks {
		if chunk == nil {
			continue
		}
		for i := range chunk {
			if chunk[i].Load() != nil {
				s.del(uint32(c<<slotChunkBits | i))
			}
		}
	}
}

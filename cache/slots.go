package cache

import (
	"math/rand/v2"
	"sync"
	"sync/atomic"

	"github.com/VictoriaMetrics/metrics"

	"github.com/recs-server/recs/catalog"
)

// itemSlots holds the cached items of numbered ids (see itemNumbers) in
// an array indexed by item number: a read is one atomic load, with no
// hash, lock or map probe. The item cache keeps every item the store
// knows here, numbering it when it is loaded; the table keeps only ids
// the store does not know (from traffic: never numbered).
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
type itemSlots struct {
	// chunks grow (under grow) and are never freed or moved: a reader
	// loads the slice, then the slot.
	chunks atomic.Pointer[[]*slotChunk]
	grow   sync.Mutex
	locks  [slotLocks]slotLock
	// max bounds the occupied slots, counted in n: a fill beyond it
	// empties a random occupied slot.
	max       int64
	n         atomic.Int64
	evictions *metrics.Counter
}

const (
	slotChunkBits = 14 // 16,384 slots (128 KiB) a chunk
	slotChunkLen  = 1 << slotChunkBits
	slotLocks     = 256
)

type slotChunk [slotChunkLen]atomic.Pointer[catalog.Item]

// slotLock keeps each lock on its own cache line.
type slotLock struct {
	sync.Mutex
	_ [56]byte
}

// unknownItem in a slot caches its id as unknown to the store (a build
// may name an item deleted since).
var unknownItem = new(catalog.Item)

func newItemSlots(max int64, evictions *metrics.Counter) *itemSlots {
	s := &itemSlots{max: max, evictions: evictions}
	s.chunks.Store(&[]*slotChunk{})
	return s
}

// slot is number k's slot, nil if its chunk was never written.
func (s *itemSlots) slot(k uint32) *atomic.Pointer[catalog.Item] {
	chunks := *s.chunks.Load()
	if c := int(k >> slotChunkBits); c < len(chunks) && chunks[c] != nil {
		return &chunks[c][k&(slotChunkLen-1)]
	}
	return nil
}

// slotFor is number k's slot, allocating its chunk.
func (s *itemSlots) slotFor(k uint32) *atomic.Pointer[catalog.Item] {
	if p := s.slot(k); p != nil {
		return p
	}
	s.grow.Lock()
	defer s.grow.Unlock()
	chunks := *s.chunks.Load()
	c := int(k >> slotChunkBits)
	if c >= len(chunks) || chunks[c] == nil {
		grown := make([]*slotChunk, max(len(chunks), c+1))
		copy(grown, chunks)
		grown[c] = new(slotChunk)
		s.chunks.Store(&grown)
		chunks = grown
	}
	return &chunks[c][k&(slotChunkLen-1)]
}

func (s *itemSlots) lock(k uint32) *slotLock { return &s.locks[k%slotLocks] }

// get is the item cached for number k: (nil, true) when cached as
// unknown, (nil, false) when not cached.
func (s *itemSlots) get(k uint32) (*catalog.Item, bool) {
	p := s.slot(k)
	if p == nil {
		return nil, false
	}
	switch it := p.Load(); it {
	case nil:
		return nil, false
	case unknownItem:
		return nil, true
	default:
		return it, true
	}
}

// setIf caches it (nil: unknown) for number k if fresh still holds under
// k's lock, as table.setIf does.
func (s *itemSlots) setIf(k uint32, it *catalog.Item, fresh func() bool) bool {
	if it == nil {
		it = unknownItem
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
func (s *itemSlots) evict(keep uint32) {
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
func (s *itemSlots) del(k uint32) bool {
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

// setStock replaces a cached item with a copy at the new stock level and
// empties a slot cached as unknown, as the table's setStock does.
func (s *itemSlots) setStock(k uint32, stock int) {
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
func (s *itemSlots) len() int { return int(s.n.Load()) }

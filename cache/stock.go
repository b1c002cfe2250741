package cache

import (
	"sync"

	"github.com/recs-server/recs/catalog"
)

// stockLevels remembers the stock levels set while item loads are in
// flight, so a load that read an item before its stock changed caches it
// with the new level instead of not at all. Dropping such loads (as an
// invalidation does) kept the cache from ever filling under a stock feed
// of thousands of updates a second: every item was updated while some
// load read it, so a cold or restarted server sent nearly every read to
// the store, and its warm-up cached almost nothing.
//
// Only levels set after the oldest load in flight began are kept, so it
// holds at most the ids updated during one load (loads are bounded by
// LoadTimeout; a warm-up's by its batch).
type stockLevels struct {
	mu sync.Mutex
	// seq numbers the stock updates; a load remembers the seq it began at.
	seq uint64
	// active counts the loads in flight by the seq they began at.
	active map[uint64]int
	recent map[string]level
	// sweepAt is the size of recent at which levels no load needs are
	// dropped (amortised: each sweep at least halves what is left over).
	sweepAt int
}

type level struct {
	stock int
	seq   uint64
}

const minSweep = 1024

func newStockLevels() stockLevels {
	return stockLevels{active: map[uint64]int{}, recent: map[string]level{}, sweepAt: minSweep}
}

// begin registers a load about to read the store; pass what it returns to
// patch and end.
func (l *stockLevels) begin() uint64 {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.active[l.seq]++
	return l.seq
}

// record notes levels the store now has, if a load in flight may have
// read older ones: a load that begins later reads these.
func (l *stockLevels) record(updates []catalog.StockUpdate) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.seq++
	if len(l.active) == 0 {
		return
	}
	for _, u := range updates {
		l.recent[u.ItemID] = level{stock: u.Stock, seq: l.seq}
	}
	if len(l.recent) >= l.sweepAt {
		l.sweep()
	}
}

// patch sets, in items read by the load begun at start, the stock levels
// recorded since. It returns the seq it patched at, for changedSince.
func (l *stockLevels) patch(start uint64, items []catalog.Item) uint64 {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.seq == start {
		return start
	}
	for i := range items {
		if lv, ok := l.recent[items[i].ID]; ok && lv.seq > start {
			items[i].Stock = lv.stock
		}
	}
	return l.seq
}

// changedSince reports the ids whose stock changed after at (a patch):
// their cached value may hold the older level (a stock update that runs
// between patch and a buffered cache set does not see the set).
func (l *stockLevels) changedSince(at uint64, ids []string, fn func(id string)) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.seq == at {
		return
	}
	for _, id := range ids {
		if lv, ok := l.recent[id]; ok && lv.seq > at {
			fn(id)
		}
	}
}

// end unregisters a load begun at start.
func (l *stockLevels) end(start uint64) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.active[start]--; l.active[start] == 0 {
		delete(l.active, start)
	}
	if len(l.active) == 0 {
		clear(l.recent)
		l.sweepAt = minSweep
	}
}

// sweep drops the levels recorded before every load in flight began.
func (l *stockLevels) sweep() {
	oldest := l.seq
	for s := range l.active {
		oldest = min(oldest, s)
	}
	for id, lv := range l.recent {
		if lv.seq <= oldest {
			delete(l.recent, id)
		}
	}
	l.sweepAt = max(minSweep, 2*len(l.recent))
}

package cache

import (
	"math"
	"sync"
	"unsafe"

	"github.com/recs-server/recs/catalog"
)

// List is a cached candidate list: each entry an item number (see
// itemNumbers) and a float32 score, 8 bytes and no pointer. Held as
// []catalog.Scored, an entry was 24 bytes with a pointer to its id, and
// at 2,000 requests a second on 3,000 items the list cache was 36 of the
// heap's 60 MB live, all of it scanned by every garbage-collector cycle
// (every 1.5 s, 29-56 ms of marking that took one of the two cores);
// the worst seconds of those runs held the longest marks. Memory without
// pointers is not scanned at all. Scores are float32 as the ranker reads
// them (ranker.Hit).
//
// A List is immutable once made; the zero List is empty.
type List struct {
	// block is the entries after a header whose item is their count, in
	// one array: the list cache holds a pointer to its first element
	// (listBlock), with no List around it, so a cached list is one object
	// without pointers to the garbage collector. A List header per list
	// was 80 bytes with three pointers to scan, per cached list, at every
	// cycle.
	block []listEntry
	// transient is a list made for one request (TransientList), held as
	// it is, with the numbers its ids had (nil: none); block is then nil.
	transient     []catalog.Scored
	transientNums []uint32
}

type listEntry struct {
	item  uint32
	score float32
}

// emptyBlock is the block of every empty List (never written).
var emptyBlock = []listEntry{{}}

// NewList makes a List of l (not kept).
func NewList(l []catalog.Scored) List {
	if len(l) == 0 {
		return List{block: emptyBlock}
	}
	block := make([]listEntry, len(l)+1)
	block[0].item = uint32(len(l))
	numbers.lookup(l, block[1:])
	return List{block: block}
}

// listBlock is what the list cache holds of a List made by NewList: the
// first element of its block; nil for another (transient, zero).
func listBlock(l List) *listEntry {
	if l.block == nil {
		return nil
	}
	return &l.block[0]
}

// listOfBlock is the List whose listBlock b is.
func listOfBlock(b *listEntry) List {
	return List{block: unsafe.Slice(b, int(b.item)+1)}
}

// TransientList is a List of l as it is (kept, not copied), its ids not
// numbered: for a list made for one request and never cached, such as
// a visitor's own recent items, whose ids come from events and may be
// in no catalogue. Numbering them would grow the table with every id a
// client ever sent. nums, if not nil, are the numbers the ids already
// had (NumberOf; NoNumber for none), as long as l; kept too.
func TransientList(l []catalog.Scored, nums []uint32) List {
	if l == nil {
		l = []catalog.Scored{}
	}
	return List{transient: l, transientNums: nums}
}

// Len is the number of entries.
func (l List) Len() int {
	if l.transient != nil {
		return len(l.transient)
	}
	return max(0, len(l.block)-1)
}

// ID is the i-th entry's item id.
func (l List) ID(i int) string {
	if l.transient != nil {
		return l.transient[i].ItemID
	}
	return numbers.id(l.block[i+1].item)
}

// Score is the i-th entry's score.
func (l List) Score(i int) float64 {
	if l.transient != nil {
		return l.transient[i].Score
	}
	return float64(l.block[i+1].score)
}

// itemNumbers numbers every item id a cached list has named, from 0, for
// as long as the process runs: a number stands for its id in every List,
// so the one copy of each id is here. It grows with the ids the cached
// lists name (an id's bytes, 12 bytes of place and 21-43 of index):
// the items of the builds and the catalogue, never ids from traffic
// (TransientList).
type itemNumbers struct {
	// mu guards the table's index; reading an id (IDOf) needs no lock.
	mu sync.RWMutex
	t  *idTable
}

var numbers = newItemNumbers()

func newItemNumbers() *itemNumbers { return &itemNumbers{t: newIDTable()} }

func (n *itemNumbers) id(k uint32) string { return n.t.id(k) }

// lookup writes the numbers of l's ids and their scores into dst (as long
// as l), numbering the ids new to it.
func (n *itemNumbers) lookup(l []catalog.Scored, dst []listEntry) {
	n.number(len(l), func(i int) string { return l[i].ItemID }, func(i int, k uint32) {
		dst[i] = listEntry{item: k, score: float32(l[i].Score)}
	})
}

// number hands put the number of each of count ids (idAt), numbering
// the ids new to it. Most calls name numbered ids only, and take the
// lock for reading.
func (n *itemNumbers) number(count int, idAt func(int) string, put func(int, uint32)) {
	n.mu.RLock()
	missing := false
	for i := range count {
		k, ok := n.t.lookup(idAt(i))
		missing = missing || !ok
		put(i, k)
	}
	n.mu.RUnlock()
	if !missing {
		return
	}
	n.mu.Lock()
	defer n.mu.Unlock()
	for i := range count {
		id := idAt(i)
		k, ok := n.t.lookup(id)
		if !ok {
			k = n.t.add(id) // a copy of the id's bytes, in the table's chunks
		}
		put(i, k)
	}
	n.t.publish()
}

// Numbers are the item numbers of ids, numbering those new to the table:
// a number stands for its id in every List (List.Number) for as long as
// the process runs, so data by item (a build's statistics) can be held in
// a slice indexed by it. Number only ids of the catalogue or the builds.
func Numbers(ids []string) []uint32 {
	out := make([]uint32, len(ids))
	numbers.number(len(ids), func(i int) string { return ids[i] }, func(i int, k uint32) { out[i] = k })
	return out
}

// known writes the numbers of count ids (idAt) into dst, NoNumber for
// the ids without one, under one read lock; it numbers nothing.
func (n *itemNumbers) known(count int, idAt func(int) string, dst []uint32) {
	n.mu.RLock()
	defer n.mu.RUnlock()
	for i := range count {
		k, ok := n.t.lookup(idAt(i))
		if !ok {
			k = NoNumber
		}
		dst[i] = k
	}
}

func knownNumbers(ids []string, dst []uint32) {
	numbers.known(len(ids), func(i int) string { return ids[i] }, dst)
}

// NoNumber stands for the number of an id that has none. Item numbers
// stay below it: a catalogue would need four billion ids to reach it.
const NoNumber = math.MaxUint32

// NumberOf is id's item number, if it has one; it numbers nothing.
func NumberOf(id string) (uint32, bool) {
	numbers.mu.RLock()
	k, ok := numbers.t.lookup(id)
	numbers.mu.RUnlock()
	return k, ok
}

// IDOf is the id of item number k (one Numbers, NumberOf or List.Number
// gave).
func IDOf(k uint32) string { return numbers.id(k) }

// Number is the i-th entry's item number; false for an entry of a
// TransientList made without its number (NumberOf may know it).
func (l List) Number(i int) (uint32, bool) {
	if l.transient != nil {
		if l.transientNums == nil || l.transientNums[i] == NoNumber {
			return 0, false
		}
		return l.transientNums[i], true
	}
	return l.block[i+1].item, true
}

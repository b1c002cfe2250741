package cache

import (
	"hash/maphash"
	"sync/atomic"
	"unsafe"
)

// idTable maps item ids to their numbers (0, 1, 2, ... in the order they
// were added) and back, holding no pointer per id: the ids' bytes in
// large chunks, their places in an array of offsets, and an
// open-addressing index of numbers.
//
// Why: the garbage collector follows every pointer of the live heap at
// each cycle. As a map of strings and a slice of strings, each numbered id
// was a string object and two pointers to it: 100,000 ids cost 2.7 ms of
// one P's marking in a look-alike program, at every cycle, and a
// 1,000,000-item server holds ten times as many. Chunks and offsets are a
// few dozen objects whatever the count.
//
// lookup and add need the caller's lock (itemNumbers.mu: add and publish
// under the write lock, lookup under either); id reads without one what
// publish last made visible.
type idTable struct {
	seed maphash.Seed
	// testHash, if set, replaces the seeded hash (tests make ids collide).
	testHash func(string) uint64
	// index is open-addressed by the ids' hashes; its length is a power
	// of two, at most three quarters full.
	index []idSlot
	// w is the writer's view, ahead of the published one by the ids
	// added since publish; cur is its chunk with room (-1: none yet),
	// used how much of it is written.
	w         idChunks
	cur, used int
	published atomic.Pointer[idChunks]
}

// idChunks holds the ids: their bytes in chunks, each id's place in refs
// by number. A chunk is allocated at its full length, and no byte where
// an added id lies is written again; refs only grows. So a published
// idChunks, which shares the writer's arrays, reads the same ids while
// the writer adds more past its lengths.
type idChunks struct {
	chunks [][]byte
	refs   []idRef
}

// idRef is an id's place: chunk, offset and length.
type idRef struct{ chunk, off, n uint32 }

// idSlot is an index entry: the number plus one (0: empty), the top 32
// bits of the id's hash, so most probes that miss compare no bytes, and
// the id's place (chunk<<16 | offset, length), so a probe that hits reads
// the id's bytes without a second lookup in refs, as a map of strings
// has the key beside its slot (BenchmarkIDLookup: as fast as the map).
type idSlot struct{ k1, tag, loc, n uint32 }

// idChunkLen is a chunk's size: ids are short (catalog.MaxIDLen); a
// longer one gets a chunk of its own.
const idChunkLen = 64 << 10

// maxIDChunks bounds the chunks an idSlot can name: 4 GiB of ids.
const maxIDChunks = 1 << 16

func newIDTable() *idTable {
	t := &idTable{seed: maphash.MakeSeed(), index: make([]idSlot, 1024), cur: -1}
	t.publish()
	return t
}

func (t *idTable) hash(s string) uint64 {
	if t.testHash != nil {
		return t.testHash(s)
	}
	return maphash.String(t.seed, s)
}

func (c *idChunks) at(k uint32) string {
	r := c.refs[k]
	if r.n == 0 {
		return ""
	}
	return unsafe.String(&c.chunks[r.chunk][r.off], int(r.n))
}

// id is the id of number k, which lookup or add gave and publish made
// visible; it takes no lock.
func (t *idTable) id(k uint32) string { return t.published.Load().at(k) }

// lookup is id's number, if it has one.
func (t *idTable) lookup(id string) (uint32, bool) {
	h := t.hash(id)
	mask := uint64(len(t.index) - 1)
	for i := h & mask; ; i = (i + 1) & mask {
		e := &t.index[i]
		if e.k1 == 0 {
			return 0, false
		}
		if e.tag == uint32(h>>32) && int(e.n) == len(id) && t.bytesAt(e.loc, e.n) == id {
			return e.k1 - 1, true
		}
	}
}

// add numbers id, which lookup does not know, and returns its number;
// id(number) reads it once publish has run.
func (t *idTable) add(id string) uint32 {
	ref := idRef{n: uint32(len(id))}
	switch {
	case len(id) > idChunkLen:
		ref.chunk = uint32(len(t.w.chunks))
		t.w.chunks = append(t.w.chunks, []byte(id))
	case len(id) > 0:
		if t.cur < 0 || t.used+len(id) > idChunkLen {
			t.w.chunks = append(t.w.chunks, make([]byte, idChunkLen))
			t.cur, t.used = len(t.w.chunks)-1, 0
		}
		ref.chunk, ref.off = uint32(t.cur), uint32(t.used)
		copy(t.w.chunks[t.cur][t.used:], id)
		t.used += len(id)
	}
	if len(t.w.chunks) > maxIDChunks {
		panic("cache: more than 4 GiB of item ids")
	}
	k := uint32(len(t.w.refs))
	t.w.refs = append(t.w.refs, ref)
	if len(t.w.refs)*4 > len(t.index)*3 {
		t.grow()
	} else {
		t.insert(t.hash(id), k, ref)
	}
	return k
}

// bytesAt is the id at loc (chunk<<16 | offset), n bytes long, in the
// writer's view.
func (t *idTable) bytesAt(loc, n uint32) string {
	if n == 0 {
		return ""
	}
	return unsafe.String(&t.w.chunks[loc>>16][loc&(1<<16-1)], int(n))
}

// publish makes the ids added so far readable by id.
func (t *idTable) publish() {
	c := t.w
	t.published.Store(&c)
}

func (t *idTable) insert(h uint64, k uint32, r idRef) {
	mask := uint64(len(t.index) - 1)
	i := h & mask
	for t.index[i].k1 != 0 {
		i = (i + 1) & mask
	}
	t.index[i] = idSlot{k1: k + 1, tag: uint32(h >> 32), loc: r.chunk<<16 | r.off, n: r.n}
}

// grow doubles the index and indexes every id again.
func (t *idTable) grow() {
	t.index = make([]idSlot, 2*len(t.index))
	for k, r := range t.w.refs {
		t.insert(t.hash(t.w.at(uint32(k))), uint32(k), r)
	}
}

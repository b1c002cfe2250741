package cache

import (
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
)

func TestIDTableNumbersAndReadsBack(t *testing.T) {
	n := newItemNumbers()
	// Enough ids to grow the index many times and fill several chunks,
	// of every length up to catalog.MaxIDLen, one longer than a chunk, and
	// the empty id.
	var ids []string
	for i := range 200_000 {
		ids = append(ids, fmt.Sprintf("item-%d-%s", i, strings.Repeat("x", i%120)))
	}
	ids = append(ids, strings.Repeat("long", idChunkLen/2), "", "after-the-long-one")
	got := make([]uint32, len(ids))
	// In batches, as lists and warm-ups number them.
	for lo := 0; lo < len(ids); lo += 7_001 {
		hi := min(lo+7_001, len(ids))
		n.number(hi-lo, func(i int) string { return ids[lo+i] }, func(i int, k uint32) { got[lo+i] = k })
	}
	for i, id := range ids {
		if got[i] != uint32(i) {
			t.Fatalf("id %d (%.20q) got number %d, want %d: numbers go in the order ids arrive", i, id, got[i], i)
		}
		if back := n.id(got[i]); back != id {
			t.Fatalf("number %d reads back %.20q, want %.20q", got[i], back, id)
		}
	}
	// Numbering again changes nothing; unknown ids have no number.
	dst := make([]uint32, len(ids)+2)
	probe := append(append([]string{}, ids...), "item-200000-", "unknown")
	n.known(len(probe), func(i int) string { return probe[i] }, dst)
	for i := range ids {
		if dst[i] != uint32(i) {
			t.Fatalf("known(%.20q) = %d, want %d", ids[i], dst[i], i)
		}
	}
	if dst[len(ids)] != NoNumber || dst[len(ids)+1] != NoNumber {
		t.Fatalf("ids never numbered got %d and %d, want NoNumber", dst[len(ids)], dst[len(ids)+1])
	}
	if len(n.t.w.chunks) < 2 || len(n.t.index) < 2*len(ids) {
		t.Fatalf("%d chunks and an index of %d for %d ids: the test did not reach a second chunk or the index's growth", len(n.t.w.chunks), len(n.t.index), len(ids))
	}
}

// Readers read ids and look numbers up while a writer numbers new ones
// (run with -race).
func TestIDTableReadsWhileNumbering(t *testing.T) {
	n := newItemNumbers()
	const total = 50_000
	ids := make([]string, total)
	for i := range ids {
		ids[i] = fmt.Sprintf("sku-%07d", i)
	}
	var published atomic.Int64 // ids numbered so far
	var wg sync.WaitGroup
	wg.Go(func() {
		for lo := 0; lo < total; lo += 500 {
			n.number(500, func(i int) string { return ids[lo+i] }, func(int, uint32) {})
			published.Store(int64(lo + 500))
		}
	})
	errs := make(chan string, 4)
	for r := range 4 {
		wg.Go(func() {
			dst := make([]uint32, 1)
			for i := r; published.Load() < total; i += 97 {
				p := int(published.Load())
				if p == 0 {
					continue
				}
				k := uint32(i % p)
				if got := n.id(k); got != ids[k] {
					errs <- fmt.Sprintf("id(%d) = %q, want %q", k, got, ids[k])
					return
				}
				n.known(1, func(int) string { return ids[k] }, dst)
				if dst[0] != k {
					errs <- fmt.Sprintf("known(%q) = %d, want %d", ids[k], dst[0], k)
					return
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for e := range errs {
		t.Fatal(e)
	}
}

// Ids whose hashes collide, wholly or in the bits the index keeps, are
// told apart by their bytes.
func TestIDTableCollidingHashes(t *testing.T) {
	for _, hash := range []func(string) uint64{
		func(string) uint64 { return 42 },                                    // every id the same
		func(s string) uint64 { return uint64(len(s))<<32 | uint64(len(s)) }, // same length, same hash
	} {
		n := newItemNumbers()
		n.t.testHash = hash
		ids := []string{"a1", "b2", "c3", "d44", "e55", "", "f666"}
		got := numbersOn(n, ids)
		for i, id := range ids {
			if got[i] != uint32(i) || n.id(got[i]) != id {
				t.Fatalf("%q numbered %d reading back %q, want %d", id, got[i], n.id(got[i]), i)
			}
		}
		dst := make([]uint32, 2)
		probe := []string{"zz", "x"}
		n.known(len(probe), func(i int) string { return probe[i] }, dst)
		if dst[0] != NoNumber || dst[1] != NoNumber {
			t.Fatalf("ids never numbered, with colliding hashes, got %v", dst)
		}
	}
}

// numbersOn is Numbers on table n.
func numbersOn(n *itemNumbers, ids []string) []uint32 {
	out := make([]uint32, len(ids))
	n.number(len(ids), func(i int) string { return ids[i] }, func(i int, k uint32) { out[i] = k })
	return out
}

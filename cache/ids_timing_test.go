package cache

import (
	"fmt"
	"runtime"
	"strings"
	"testing"
)

// BenchmarkIDLookup looks up numbered ids of a 100,000-id table, in a
// scattered order, against a map of the same ids (the table it replaced):
// compare the two in one run.
func BenchmarkIDLookup(b *testing.B) {
	const size = 100_000
	ids := make([]string, size)
	for i := range ids {
		ids[i] = fmt.Sprintf("D-%06d", i)
	}
	n := newItemNumbers()
	numbersOn(n, ids)
	m := make(map[string]uint32, size)
	for i, id := range ids {
		m[id] = uint32(i)
	}
	// Copies, as a request's ids are: a map compares equal pointers
	// without reading the bytes.
	order := make([]string, 4096)
	for i := range order {
		order[i] = strings.Clone(ids[(i*7919)%size])
	}
	b.Run("table", func(b *testing.B) {
		var sum uint32
		for i := 0; b.Loop(); i++ {
			k, _ := n.t.lookup(order[i%len(order)])
			sum += k
		}
		_ = sum
	})
	b.Run("map", func(b *testing.B) {
		var sum uint32
		for i := 0; b.Loop(); i++ {
			sum += m[order[i%len(order)]]
		}
		_ = sum
	})
}

var heldForGC any

// BenchmarkGCWithIDs times a garbage collection of a heap holding
// 1,000,000 numbered ids in the table, against one holding them as the
// map and slice of strings it replaced: what the ids add to every
// collection's mark.
func BenchmarkGCWithIDs(b *testing.B) {
	const size = 1_000_000
	ids := func() []string {
		out := make([]string, size)
		for i := range out {
			out[i] = fmt.Sprintf("D-%07d", i)
		}
		return out
	}
	b.Run("table", func(b *testing.B) {
		n := newItemNumbers()
		numbersOn(n, ids())
		heldForGC = n
		runtime.GC()
		for b.Loop() {
			runtime.GC()
		}
		heldForGC = nil
	})
	b.Run("map", func(b *testing.B) {
		all := ids()
		m := make(map[string]uint32, size)
		for i, id := range all {
			m[id] = uint32(i)
		}
		heldForGC = []any{m, all}
		runtime.GC()
		for b.Loop() {
			runtime.GC()
		}
		heldForGC = nil
	})
}

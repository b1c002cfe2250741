package embeddings

import (
	"math/rand/v2"
	"runtime"
	"slices"
	"testing"
)

// A vector read back from its block is the vector: its components,
// scale and length, for any dimension, the all-zero vector and no vector.
func TestInt8BlockReadsBack(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	for _, dims := range []int{1, 3, 4, 5, 128, 1000} {
		v := randomUnit(r, dims)
		for _, q := range []Int8{QuantizeInt8(v), QuantizeInt8(make([]float32, dims))} {
			got := Int8OfBlock(q.Block())
			if !slices.Equal(got.q, q.q) || got.scale != q.scale || got.invLen != q.invLen {
				t.Fatalf("%d dimensions: read back %+v, want %+v", dims, got, q)
			}
		}
	}
	if got := Int8OfBlock(Int8{}.Block()); got.Len() != 0 || got.q != nil {
		t.Fatalf("no vector read back as %+v", got)
	}
}

var heldForGC any

// BenchmarkGCWithVectors times a garbage collection of a heap holding
// 200,000 128-dimension vectors by pointer, as blocks against as Int8s
// on the heap (the vector cache's slots before): what they add to every
// collection's mark.
func BenchmarkGCWithVectors(b *testing.B) {
	const size = 200_000
	v := make([]float32, 128)
	for i := range v {
		v[i] = float32(i%7) - 3
	}
	q := QuantizeInt8(v)
	b.Run("blocks", func(b *testing.B) {
		held := make([]*int8, size)
		for i := range held {
			held[i] = q.Block()
		}
		heldForGC = held
		runtime.GC()
		for b.Loop() {
			runtime.GC()
		}
		heldForGC = nil
	})
	b.Run("heap", func(b *testing.B) {
		held := make([]*Int8, size)
		for i := range held {
			c := Int8{q: slices.Clone(q.q), scale: q.scale, invLen: q.invLen}
			held[i] = &c
		}
		heldForGC = held
		runtime.GC()
		for b.Loop() {
			runtime.GC()
		}
		heldForGC = nil
	})
}

package recommend

import (
	"math"
	"math/rand/v2"
	"slices"
	"testing"
)

// The slot table answers as a map would, through growth and reuse, for
// numbers in sequence (as the numbering gives them) and at random, up to
// the largest a number can be.
func TestSlotTableAnswersAsAMap(t *testing.T) {
	var tb slotTable
	r := rand.New(rand.NewPCG(1, 2))
	for round, n := range []int{0, 1, 50, 700, 5000} {
		tb.reset(n / 3) // too small on purpose: it must grow
		want := map[uint32]int32{}
		for i := range n {
			k := uint32(i)
			if round%2 == 1 {
				k = r.Uint32N(math.MaxUint32) // below cache.NoNumber
			}
			if _, dup := want[k]; dup {
				continue
			}
			j := int32(len(want))
			tb.put(k, j)
			want[k] = j
		}
		for k, j := range want {
			if got, ok := tb.get(k); !ok || got != j {
				t.Fatalf("round %d: get(%d) = %d, %v; want %d", round, k, got, ok, j)
			}
		}
		for range 1000 {
			k := r.Uint32N(math.MaxUint32)
			if _, in := want[k]; in {
				continue
			}
			if got, ok := tb.get(k); ok {
				t.Fatalf("round %d: get(%d) = %d for a number never put", round, k, got)
			}
		}
		if tb.n != len(want) || 2*tb.n > len(tb.e) {
			t.Fatalf("round %d: %d entries counted for %d put, table of %d", round, tb.n, len(want), len(tb.e))
		}
	}
	// Reset empties it.
	tb.reset(10)
	if _, ok := tb.get(0); ok || tb.n != 0 {
		t.Fatal("a reset table still holds entries")
	}
}

// BenchmarkPageSlots indexes a page's worth of list entries (600, a third
// of them repeats) from a 100,000-item numbering: the slot table against
// the map of numbers the page used before.
func BenchmarkPageSlots(b *testing.B) {
	r := rand.New(rand.NewPCG(3, 4))
	nums := make([]uint32, 600)
	for i := range nums {
		if i%3 == 2 {
			nums[i] = nums[r.IntN(i)]
		} else {
			nums[i] = r.Uint32N(100_000)
		}
	}
	b.Run("map", func(b *testing.B) {
		m := map[uint32]int32{}
		for b.Loop() {
			clear(m)
			for _, k := range nums {
				if _, ok := m[k]; !ok {
					m[k] = int32(len(m))
				}
			}
		}
	})
	b.Run("table", func(b *testing.B) {
		var tb slotTable
		for b.Loop() {
			tb.reset(len(nums))
			for _, k := range nums {
				if _, ok := tb.get(k); !ok {
					tb.put(k, int32(tb.n))
				}
			}
		}
	})
}

// A page's buffers are reused: what a longer page left past their length
// must read as zero when they grow again, in place or reallocated.
func TestGrownZeroesWhatAnEarlierPageLeft(t *testing.T) {
	item := []*int{new(int), new(int), new(int)}
	read := []bool{true, true, true}
	item, read = grown(item[:1], 3), grown(read[:1], 3)
	if item[0] == nil || !read[0] {
		t.Fatalf("grown lost the kept element: %v %v", item, read)
	}
	for i := 1; i < 3; i++ {
		if item[i] != nil || read[i] {
			t.Fatalf("element %d kept a value of the earlier page: %v %v", i, item, read)
		}
	}
	read = grown(read, 40)
	if len(read) != 40 || read[0] != true || slices.Contains(read[1:], true) {
		t.Fatalf("reallocated: %v", read)
	}
	if got := grown(read, 5); len(got) != 40 {
		t.Fatalf("grown shortened a slice to %d", len(got))
	}
}

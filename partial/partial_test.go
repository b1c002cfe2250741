package partial

import (
	"cmp"
	"math/rand/v2"
	"slices"
	"testing"
)

type entry struct {
	score float64
	id    int
}

// byScore is a total order: best score first, ties by id.
func byScore(a, b entry) int {
	if c := cmp.Compare(b.score, a.score); c != 0 {
		return c
	}
	return cmp.Compare(a.id, b.id)
}

// TestSortPrefixMatchesAFullSort: for every prefix length, on inputs
// with many ties, few or none, sorted or reversed, the prefix is the full
// sort's and the rest holds the other elements.
func TestSortPrefixMatchesAFullSort(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for _, n := range []int{0, 1, 2, 5, 17, 40, 300, 1000} {
		for _, distinct := range []int{1, 3, 50, 1 << 30} {
			for _, shape := range []string{"random", "sorted", "reversed"} {
				s := make([]entry, n)
				for i := range s {
					s[i] = entry{score: float64(rng.IntN(distinct)), id: i}
				}
				want := slices.Clone(s)
				slices.SortFunc(want, byScore)
				switch shape {
				case "random":
					rng.Shuffle(n, func(i, j int) { s[i], s[j] = s[j], s[i] })
				case "sorted":
					copy(s, want)
				case "reversed":
					copy(s, want)
					slices.Reverse(s)
				}
				for _, k := range []int{-1, 0, 1, 2, n / 3, n / 2, n - 1, n, n + 5} {
					got := slices.Clone(s)
					SortPrefix(got, k, byScore)
					m := max(0, min(k, n))
					if !slices.Equal(got[:m], want[:m]) {
						t.Fatalf("n=%d, %d distinct, %s, k=%d: prefix %v, want %v", n, distinct, shape, k, got[:m], want[:m])
					}
					checkRest(t, got, want, m)
					// Select: the same first k, in any order.
					got = slices.Clone(s)
					Select(got, k, byScore)
					head := slices.Clone(got[:m])
					slices.SortFunc(head, byScore)
					if !slices.Equal(head, want[:m]) {
						t.Fatalf("Select: n=%d, %d distinct, %s, k=%d: first %d are %v, want %v", n, distinct, shape, k, m, head, want[:m])
					}
					checkRest(t, got, want, m)
				}
			}
		}
	}
}

// checkRest fails unless got[m:] holds the elements of want[m:].
func checkRest(t *testing.T, got, want []entry, m int) {
	t.Helper()
	rest := slices.Clone(got[m:])
	slices.SortFunc(rest, byScore)
	if !slices.Equal(rest, want[m:]) {
		t.Fatalf("n=%d, k=%d: the rest is not the other elements", len(got), m)
	}
}

// BenchmarkSortPrefix: the best 100 of 400 candidates, against a full sort.
func BenchmarkSortPrefix(b *testing.B) {
	rng := rand.New(rand.NewPCG(3, 4))
	in := make([]entry, 400)
	for i := range in {
		in[i] = entry{score: rng.Float64(), id: i}
	}
	s := make([]entry, len(in))
	b.Run("prefix100", func(b *testing.B) {
		for b.Loop() {
			copy(s, in)
			SortPrefix(s, 100, byScore)
		}
	})
	b.Run("full", func(b *testing.B) {
		for b.Loop() {
			copy(s, in)
			slices.SortFunc(s, byScore)
		}
	})
}

package recommend

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"
)

// TestBestFirstOrdersThePrefixAsAFullSort: for every prefix length, on
// lists with and without tied scores, the first k candidates are the
// full sort's first k, in its order.
func TestBestFirstOrdersThePrefixAsAFullSort(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for _, n := range []int{0, 1, 2, 5, 17, 40, 300, 1000} {
		for _, distinct := range []int{1, 3, 50, 1 << 30} {
			c := make([]candidate, n)
			for i := range c {
				c[i] = candidate{id: fmt.Sprint(i), slot: int32(i), score: float64(rng.IntN(distinct))}
			}
			rng.Shuffle(n, func(i, j int) { c[i], c[j] = c[j], c[i] })
			want := slices.Clone(c)
			slices.SortFunc(want, byScore)
			for _, k := range []int{0, 1, 2, n / 3, n / 2, n - 1, n, n + 5} {
				if k < 0 {
					continue
				}
				got := slices.Clone(c)
				bestFirst(got, k)
				m := min(k, n)
				if !slices.Equal(got[:m], want[:m]) {
					t.Fatalf("n=%d, %d distinct scores, k=%d: prefix %v, want %v", n, distinct, k, got[:m], want[:m])
				}
				rest := slices.Clone(got[m:])
				slices.SortFunc(rest, byScore)
				if !slices.Equal(rest, want[m:]) {
					t.Fatalf("n=%d, k=%d: the rest is not the other candidates", n, k)
				}
			}
		}
	}
}

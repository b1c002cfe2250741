package eval

import (
	"math"
	"testing"
)

func TestScoreMatchesHandComputedValues(t *testing.T) {
	// hits is the list as 'x' (a target) and '.' (not).
	f := func(hits string, nTargets, k int, want Scores) {
		t.Helper()
		h := make([]bool, len(hits))
		for i, c := range hits {
			h[i] = c == 'x'
		}
		got := score(h, nTargets, k)
		for _, m := range []struct {
			name      string
			got, want float64
		}{
			{"recall", got.Recall, want.Recall}, {"ndcg", got.NDCG, want.NDCG}, {"ap", got.AP, want.AP},
			{"hit", got.Hit, want.Hit}, {"rr", got.RR, want.RR},
		} {
			if math.Abs(m.got-m.want) > 1e-12 {
				t.Errorf("score(%q, %d targets, k=%d) %s = %.6f, want %.6f", hits, nTargets, k, m.name, m.got, m.want)
			}
		}
	}
	log2 := math.Log2
	// Two targets found at ranks 1 and 3.
	f("x.x", 2, 3, Scores{Recall: 1, NDCG: (1 + 1/log2(4)) / (1 + 1/log2(3)), AP: (1.0/1 + 2.0/3) / 2, Hit: 1, RR: 1})
	// Nothing found.
	f("...", 2, 3, Scores{})
	// One target at rank 2.
	f(".x..", 1, 4, Scores{Recall: 1, NDCG: 1 / log2(3), AP: 0.5, Hit: 1, RR: 0.5})
	// ... which a cut-off of 1 does not see.
	f(".x..", 1, 1, Scores{})
	// More targets than K: the ideal is K hits, recall stays per target.
	f("xx", 5, 2, Scores{Recall: 0.4, NDCG: 1, AP: 1, Hit: 1, RR: 1})
	f("x.x.x", 10, 5, Scores{
		Recall: 0.3,
		NDCG:   (1 + 1/log2(4) + 1/log2(6)) / (1 + 1/log2(3) + 1/log2(4) + 1/log2(5) + 1/log2(6)),
		AP:     (1.0 + 2.0/3 + 3.0/5) / 5,
		Hit:    1, RR: 1,
	})
	// A list shorter than K.
	f("..x", 1, 20, Scores{Recall: 1, NDCG: 0.5, AP: 1.0 / 3, Hit: 1, RR: 1.0 / 3})
	// Degenerate inputs score nothing.
	f("", 3, 10, Scores{})
	f("x", 0, 10, Scores{})
	f("x", 1, 0, Scores{})
}

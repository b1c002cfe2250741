package eval

import "math"

// Scores are the ranking metrics of one recommendation list against the
// items the shopper actually went for (the targets), at one cut-off K.
type Scores struct {
	// Recall is the share of the targets found in the first K.
	Recall float64 `json:"recall"`
	// NDCG is the discounted gain of the hits (1/log2(rank+1)) over the
	// best possible gain, min(targets, K) hits at the top.
	NDCG float64 `json:"ndcg"`
	// AP is the average precision: the mean, over the hits, of precision at
	// each hit's rank, divided by min(targets, K) (averaged: MAP).
	AP float64 `json:"map"`
	// Hit is 1 when any target is in the first K (averaged: HitRate).
	Hit float64 `json:"hit_rate"`
	// RR is 1/rank of the first hit, 0 when none (averaged: MRR).
	RR float64 `json:"mrr"`
}

func (s *Scores) add(o Scores) {
	s.Recall += o.Recall
	s.NDCG += o.NDCG
	s.AP += o.AP
	s.Hit += o.Hit
	s.RR += o.RR
}

func (s Scores) scale(f float64) Scores {
	return Scores{Recall: s.Recall * f, NDCG: s.NDCG * f, AP: s.AP * f, Hit: s.Hit * f, RR: s.RR * f}
}

// score computes the metrics at k of a list whose positions hit[i] say
// whether the item at rank i+1 is a target, for a query with nTargets
// distinct targets. The list must hold distinct items.
func score(hit []bool, nTargets, k int) Scores {
	if nTargets <= 0 || k <= 0 {
		return Scores{}
	}
	var s Scores
	hits := 0
	for i, h := range hit[:min(k, len(hit))] {
		if !h {
			continue
		}
		hits++
		if hits == 1 {
			s.RR = 1 / float64(i+1)
		}
		s.NDCG += discount(i)
		s.AP += float64(hits) / float64(i+1)
	}
	if hits == 0 {
		return Scores{}
	}
	best := min(nTargets, k)
	ideal := 0.0
	for i := range best {
		ideal += discount(i)
	}
	s.Recall = float64(hits) / float64(nTargets)
	s.NDCG /= ideal
	s.AP /= float64(best)
	s.Hit = 1
	return s
}

// discount is the DCG weight of rank i+1.
func discount(i int) float64 { return 1 / math.Log2(float64(i)+2) }

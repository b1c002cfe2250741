package eval

import (
	"context"
	"fmt"
	"math/bits"
	"runtime"
	"slices"
	"sync"
	"sync/atomic"
	"time"
)

// Case is one evaluation query with the items the shopper went for next.
type Case struct {
	Query Query
	// Targets are distinct item ids.
	Targets []string
}

// Result is one strategy's figures over all cases.
type Result struct {
	Strategy string `json:"strategy"`
	// At holds the ranking metrics averaged over the cases, one entry per
	// K in increasing order.
	At []AtK `json:"at"`
	// The rest is measured on the lists of the largest K.
	//
	// Coverage is the share of active catalogue items recommended at least
	// once.
	Coverage float64 `json:"coverage"`
	// OutOfStock is the share of recommended items with stock 0 in the
	// catalogue at the cut-off. No strategy filters stock yet.
	OutOfStock float64 `json:"out_of_stock"`
	// AvgMargin is the mean unit margin (price-cost)/price of recommended
	// items; 0 when the catalogue has no costs.
	AvgMargin float64 `json:"avg_margin"`
	// Own is the share of recommended slots the strategy filled from its
	// own source; the rest came from the popularity fill.
	Own float64 `json:"own"`
	// OwnHits is the share of hits that came from the own part of the
	// lists (0 when there were no hits).
	OwnHits float64 `json:"own_hits"`
	// ShortLists counts lists that had fewer than K items even after the
	// fill.
	ShortLists int `json:"short_lists"`
	// LatencyMicros is the mean time of one Recommend call; it depends on
	// the machine and the load, unlike every other field.
	LatencyMicros float64 `json:"mean_latency_us"`
}

// AtK is the averaged metrics at one K.
type AtK struct {
	K int `json:"k"`
	Scores
}

// Get returns the metrics at k and whether k was measured.
func (r *Result) Get(k int) (Scores, bool) {
	for _, a := range r.At {
		if a.K == k {
			return a.Scores, true
		}
	}
	return Scores{}, false
}

// acc sums one strategy's figures over a chunk of cases.
type acc struct {
	at                                          []Scores
	slots, oos, ownSlots, hits, ownHits, margin int
	short                                       int
	marginSum                                   float64
	lat                                         time.Duration
}

// evalChunk is how many cases one worker takes at a time. Sums are kept
// per chunk and added up in chunk order, so the floating-point result does
// not depend on how many workers ran or how they interleaved.
const evalChunk = 64

// Evaluate asks every strategy for a list of the largest K for every case
// and scores it. ks must be positive; workers <= 0 means GOMAXPROCS.
// Results are in the order of strategies and depend only on the inputs
// (LatencyMicros aside).
func Evaluate(ctx context.Context, env *Env, strategies []Strategy, cases []Case, ks []int, workers int) ([]Result, error) {
	ks = slices.Clone(ks)
	slices.Sort(ks)
	ks = slices.Compact(ks)
	if len(ks) == 0 || ks[0] <= 0 {
		return nil, fmt.Errorf("eval: K must be positive, got %v", ks)
	}
	kmax := ks[len(ks)-1]
	if workers <= 0 {
		workers = runtime.GOMAXPROCS(0)
	}
	nChunks := (len(cases) + evalChunk - 1) / evalChunk
	workers = max(1, min(workers, nChunks))
	sums := make([][]acc, nChunks)
	words := (len(env.ids) + 63) / 64
	covered := make([][][]uint64, workers) // [worker][strategy] bitset over env.ids

	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	var next atomic.Int64
	var wg sync.WaitGroup
	for w := range workers {
		cov := make([][]uint64, len(strategies))
		for i := range cov {
			cov[i] = make([]uint64, words)
		}
		covered[w] = cov
		wg.Go(func() {
			var list []string
			var hit []bool
			var targets map[string]struct{}
			for {
				c := int(next.Add(1)) - 1
				if c >= nChunks || ctx.Err() != nil {
					return
				}
				chunk := make([]acc, len(strategies))
				for i := range chunk {
					chunk[i].at = make([]Scores, len(ks))
				}
				for ci := c * evalChunk; ci < min((c+1)*evalChunk, len(cases)); ci++ {
					cs := &cases[ci]
					if len(cs.Targets) > 16 {
						targets = make(map[string]struct{}, len(cs.Targets))
						for _, t := range cs.Targets {
							targets[t] = struct{}{}
						}
					}
					isTarget := func(id string) bool {
						if len(cs.Targets) > 16 {
							_, ok := targets[id]
							return ok
						}
						return slices.Contains(cs.Targets, id)
					}
					for si, s := range strategies {
						start := time.Now()
						var own int
						var err error
						list, own, err = s.Recommend(ctx, &cs.Query, kmax, list[:0])
						if err != nil {
							cancel(fmt.Errorf("eval: strategy %s: %w", s.Name(), err))
							return
						}
						a := &chunk[si]
						a.lat += time.Since(start)
						if len(list) > kmax {
							list = list[:kmax]
						}
						own = max(0, min(own, len(list)))
						if len(list) < kmax {
							a.short++
						}
						hit = hit[:0]
						for i, id := range list {
							h := isTarget(id)
							hit = append(hit, h)
							if h {
								a.hits++
								if i < own {
									a.ownHits++
								}
							}
							a.slots++
							if it := env.Items[id]; it != nil {
								if it.Stock <= 0 {
									a.oos++
								}
								a.marginSum += it.Margin()
								a.margin++
							}
							if j, ok := env.index[id]; ok {
								cov[si][j/64] |= 1 << (j % 64)
							}
						}
						a.ownSlots += own
						for ki, k := range ks {
							a.at[ki].add(score(hit, len(cs.Targets), k))
						}
					}
				}
				sums[c] = chunk
			}
		})
	}
	wg.Wait()
	if err := context.Cause(ctx); err != nil {
		return nil, err
	}

	out := make([]Result, len(strategies))
	n := float64(max(len(cases), 1))
	active := make([]uint64, words)
	for _, j := range env.active {
		active[j/64] |= 1 << (j % 64)
	}
	for si, s := range strategies {
		var t acc
		t.at = make([]Scores, len(ks))
		for _, chunk := range sums {
			a := &chunk[si]
			for ki := range ks {
				t.at[ki].add(a.at[ki])
			}
			t.slots += a.slots
			t.oos += a.oos
			t.ownSlots += a.ownSlots
			t.hits += a.hits
			t.ownHits += a.ownHits
			t.margin += a.margin
			t.marginSum += a.marginSum
			t.short += a.short
			t.lat += a.lat
		}
		r := Result{Strategy: s.Name(), ShortLists: t.short}
		for ki, k := range ks {
			r.At = append(r.At, AtK{K: k, Scores: t.at[ki].scale(1 / n)})
		}
		nCovered := 0
		for wi := range words {
			var u uint64
			for w := range covered {
				u |= covered[w][si][wi]
			}
			nCovered += bits.OnesCount64(u & active[wi])
		}
		r.Coverage = ratio(nCovered, len(env.active))
		r.OutOfStock = ratio(t.oos, t.slots)
		r.Own = ratio(t.ownSlots, t.slots)
		r.OwnHits = ratio(t.ownHits, t.hits)
		if t.margin > 0 && env.hasCost {
			r.AvgMargin = t.marginSum / float64(t.margin)
		}
		if len(cases) > 0 {
			r.LatencyMicros = float64(t.lat.Microseconds()) / n
		}
		out[si] = r
	}
	return out, nil
}

func ratio(a, b int) float64 {
	if b == 0 {
		return 0
	}
	return float64(a) / float64(b)
}

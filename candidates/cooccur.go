package candidates

import (
	"math"
	"runtime"
	"sync"
	"sync/atomic"
	"time"

	"github.com/recs-server/recs/catalog"
)

// CoOptions tunes the co-purchase and co-view tables. Zero values take the
// defaults.
type CoOptions struct {
	// TopN is the neighbours kept per item; default 50.
	TopN int
	// HalfLife decays a basket's or visit's weight by its age at the end of
	// the window; default 30 days, negative disables decay.
	HalfLife time.Duration
	// Shrink is added to the denominator of the cosine,
	// c_ab / (sqrt(n_a·n_b) + Shrink), so pairs seen once or twice do not
	// outrank well-supported ones; default 5 (in decayed baskets/visits).
	Shrink float64
	// MaxBasket caps the items of one order that pair with each other
	// (co-purchase); larger orders are sampled; default 50.
	MaxBasket int
	// Window and WindowTime bound co-view pairs: two views pair when at
	// most Window steps and WindowTime apart within a visit; defaults 5
	// and 30 minutes.
	Window     int
	WindowTime time.Duration
	// Workers computing lists in parallel; default GOMAXPROCS. The result
	// does not depend on it.
	Workers int
}

func (o CoOptions) withDefaults() CoOptions {
	if o.TopN <= 0 {
		o.TopN = 50
	}
	if o.HalfLife == 0 {
		o.HalfLife = 30 * 24 * time.Hour
	}
	if o.Shrink <= 0 {
		o.Shrink = 5
	}
	if o.MaxBasket <= 0 {
		o.MaxBasket = 50
	}
	if o.Window <= 0 {
		o.Window = 5
	}
	if o.WindowTime <= 0 {
		o.WindowTime = 30 * time.Minute
	}
	if o.Workers <= 0 {
		o.Workers = runtime.GOMAXPROCS(0)
	}
	return o
}

// groups is a list of item groups (baskets or visits), flattened.
type groups struct {
	start  []int32   // group g is members start[g]:start[g+1]
	items  []int32   // member items
	times  []int64   // member times (unix seconds), for windowed groups
	weight []float64 // per group, > 0
}

func newGroups() *groups { return &groups{start: []int32{0}} }

func (g *groups) close(w float64) {
	if w <= 0 || int(g.start[len(g.start)-1]) == len(g.items) {
		g.items = g.items[:g.start[len(g.start)-1]]
		if g.times != nil {
			g.times = g.times[:len(g.items)]
		}
		return
	}
	g.start = append(g.start, int32(len(g.items)))
	g.weight = append(g.weight, w)
}

// CoPurchase computes, for every item bought in some order, the items most
// often bought in the same order, scored by shrunk cosine similarity of
// their decayed order sets. Refunded lines do not count (Finish removed
// them). Neighbours are active catalogue items only. Lists are in item
// index order, neighbours best first.
func (h *History) CoPurchase(opt CoOptions) []catalog.NeighborList {
	h.mustBeFinished()
	opt = opt.withDefaults()
	g := newGroups()
	for bi := range h.baskets {
		g.items = h.basketItems(bi, opt.MaxBasket, g.items)
		g.close(h.decay(h.baskets[bi].t, opt.HalfLife))
	}
	return h.cooccur(g, 0, 0, opt)
}

// CoView computes, for every viewed item, the items viewed near it in the
// same visit (within Window steps and WindowTime), scored like
// CoPurchase over visits. Immediate repeat views are collapsed.
func (h *History) CoView(opt CoOptions) []catalog.NeighborList {
	h.mustBeFinished()
	opt = opt.withDefaults()
	g := newGroups()
	g.times = []int64{}
	for v := range len(h.visitStart) - 1 {
		var last int64
		for _, l := range h.visitLines[h.visitStart[v]:h.visitStart[v+1]] {
			if l.typ != catalog.EventViewItem {
				continue
			}
			last = l.t
			if n := len(g.items); n > int(g.start[len(g.start)-1]) && g.items[n-1] == l.item {
				g.times[n-1] = l.t
				continue
			}
			g.items = append(g.items, l.item)
			g.times = append(g.times, l.t)
		}
		g.close(h.decay(last, opt.HalfLife))
	}
	return h.cooccur(g, opt.Window, int64(opt.WindowTime/time.Second), opt)
}

type occ struct{ g, p int32 }

// cooccur scores item pairs of the groups. With window > 0 two members
// pair only when at most window positions and windowSec seconds apart;
// otherwise every two members of a group pair. A pair counts once per
// group however often it occurs there.
func (h *History) cooccur(g *groups, window int, windowSec int64, opt CoOptions) []catalog.NeighborList {
	n := len(h.ids)
	nGroups := len(g.weight)
	// Inverted index: the occurrences of each item, in group order.
	occStart := make([]int32, n+1)
	for _, it := range g.items {
		occStart[it+1]++
	}
	for i := range n {
		occStart[i+1] += occStart[i]
	}
	occs := make([]occ, len(g.items))
	fill := make([]int32, n)
	copy(fill, occStart[:n])
	for gi := range nGroups {
		for p := g.start[gi]; p < g.start[gi+1]; p++ {
			it := g.items[p]
			occs[fill[it]] = occ{g: int32(gi), p: p}
			fill[it]++
		}
	}
	// n_a: the decayed number of groups an item occurs in.
	norm := make([]float64, n)
	for a := range n {
		prev := int32(-1)
		for _, o := range occs[occStart[a]:occStart[a+1]] {
			if o.g != prev {
				norm[a] += g.weight[o.g]
				prev = o.g
			}
		}
	}

	lists := make([][]catalog.Scored, n)
	var next atomic.Int64
	const chunk = 64
	var wg sync.WaitGroup
	for range opt.Workers {
		wg.Go(func() {
			acc := make([]float64, n)
			stamp := make([]uint32, n)
			var gen uint32
			var touched []int32
			top := newTopN(opt.TopN)
			for {
				lo := int(next.Add(chunk)) - chunk
				if lo >= n {
					return
				}
				for a := lo; a < min(lo+chunk, n); a++ {
					touched = touched[:0]
					prev := int32(-1)
					for _, o := range occs[occStart[a]:occStart[a+1]] {
						if o.g != prev {
							gen++
							if gen == 0 { // wrapped: old stamps could match
								clear(stamp)
								gen = 1
							}
							prev = o.g
						}
						gs, ge := g.start[o.g], g.start[o.g+1]
						if window > 0 {
							gs, ge = max(gs, o.p-int32(window)), min(ge, o.p+int32(window)+1)
						}
						w := g.weight[o.g]
						for q := gs; q < ge; q++ {
							b := g.items[q]
							if b == int32(a) || stamp[b] == gen {
								continue
							}
							if window > 0 && absDiff(g.times[q], g.times[o.p]) > windowSec {
								continue
							}
							stamp[b] = gen
							if acc[b] == 0 {
								touched = append(touched, b)
							}
							acc[b] += w
						}
					}
					top.reset()
					for _, b := range touched {
						if h.active[b] {
							top.push(b, acc[b]/(math.Sqrt(norm[a]*norm[b])+opt.Shrink))
						}
						acc[b] = 0
					}
					lists[a] = top.sorted(h.ids, nil)
				}
			}
		})
	}
	wg.Wait()

	var out []catalog.NeighborList
	for a, l := range lists {
		if len(l) > 0 {
			out = append(out, catalog.NeighborList{ItemID: h.ids[a], Neighbors: l})
		}
	}
	return out
}

func absDiff(a, b int64) int64 {
	if a > b {
		return a - b
	}
	return b - a
}

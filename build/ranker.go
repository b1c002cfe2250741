package build

import (
	"context"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"slices"
	"time"

	"github.com/recs-server/recs/candidates"
	"github.com/recs-server/recs/catalog"
	"github.com/recs-server/recs/embeddings"
	"github.com/recs-server/recs/ranker"
	"github.com/recs-server/recs/session"
)

// RankerOptions tune how the purchase-probability model learns.
//
// It learns from the end of the build's window: candidate tables and item
// statistics are rebuilt on the events before a cut-off (DataTo -
// LabelWindow), and each visitor interaction after it is a page view (a
// context) whose candidates come from those tables. A candidate is
// positive when the visitor added it to a cart or bought it within
// Horizon of the context. The oldest contexts train, the newest
// ValidShare validate, so the reported calibration is out of time.
type RankerOptions struct {
	Skip bool
	// LabelWindow defaults to 21 days, at most a third of the window.
	LabelWindow time.Duration
	// Horizon defaults to 7 days.
	Horizon time.Duration
	// MaxContexts sampled (seeded); default 30,000.
	MaxContexts int
	// Negatives sampled per context; default 20.
	Negatives int
	// ValidShare of the contexts, the newest, held out; default 0.25.
	ValidShare float64
	// MaxContentItems: above this catalogue size the content source is
	// left out of training (exact search per anchor would be too slow);
	// default 50,000.
	MaxContentItems int
	L2              float64
}

func (o RankerOptions) withDefaults(window time.Duration) RankerOptions {
	if o.LabelWindow <= 0 {
		o.LabelWindow = min(21*24*time.Hour, window/3)
	}
	if o.Horizon <= 0 {
		o.Horizon = 7 * 24 * time.Hour
	}
	if o.MaxContexts <= 0 {
		o.MaxContexts = 30_000
	}
	if o.Negatives <= 0 {
		o.Negatives = 20
	}
	if o.ValidShare <= 0 || o.ValidShare >= 1 {
		o.ValidShare = 0.25
	}
	if o.MaxContentItems <= 0 {
		o.MaxContentItems = 50_000
	}
	return o
}

// RankerReport says what the ranker learned from.
type RankerReport struct {
	Cutoff             time.Time
	Contexts           int // with at least one positive candidate
	Train, Validation  ranker.Calibration
	SkippedWhy         string
	CandidatesPerQuery float64
}

// Training list lengths: as the server reads them (recommend's fusion
// keeps the heads of lists; the tails rarely matter).
const (
	trainListLen    = 50
	trainSessionLen = 20
	trainPopularLen = 20
	trainContentLen = 20
	trainRecentSeed = 3 // recent items whose neighbours are session candidates
)

type visitorEvent struct {
	item string
	typ  catalog.EventType
	t    time.Time
}

// trainRanker learns the purchase-probability model; see RankerOptions.
// It returns nil and a reason when the data cannot support it.
func trainRanker(ctx context.Context, src Source, items []catalog.Item, content []float32, opt Options, log *slog.Logger) (*ranker.Model, RankerReport, error) {
	ro := opt.Ranker.withDefaults(opt.DataTo.Sub(opt.DataFrom))
	cutoff := opt.DataTo.Add(-ro.LabelWindow)
	rep := RankerReport{Cutoff: cutoff}
	if !cutoff.After(opt.DataFrom) {
		rep.SkippedWhy = "window too short"
		return nil, rep, nil
	}
	hist := candidates.NewHistory(items, opt.DataFrom, cutoff)
	stats := ranker.NewStatsBuilder(cutoff)
	// Visitors' interactions from a month before the cut-off: their recent
	// history at each context, and the labels after it.
	keepFrom := cutoff.Add(-30 * 24 * time.Hour)
	visitors := map[string][]visitorEvent{}
	err := src.ScanEvents(ctx, opt.DataFrom, opt.DataTo, func(e *catalog.Event) error {
		if e.Time.Before(cutoff) {
			hist.Add(e)
			stats.Add(e)
		}
		if e.Time.Before(keepFrom) {
			return nil
		}
		switch e.Type {
		case catalog.EventViewItem, catalog.EventAddToCart, catalog.EventBeginCheckout, catalog.EventPurchase:
		default:
			return nil
		}
		key := "s:" + e.SessionID
		if e.UserID != "" {
			key = "u:" + e.UserID
		}
		for _, li := range e.Items {
			visitors[key] = append(visitors[key], visitorEvent{li.ItemID, e.Type, e.Time})
		}
		return nil
	})
	if err != nil {
		return nil, rep, fmt.Errorf("ranker: read events: %w", err)
	}
	hist.Finish()
	st := stats.Stats()
	tables := newTrainTables(hist, items, content, opt, ro)

	type ctxRef struct {
		visitor string
		j       int
	}
	var refs []ctxRef
	keys := make([]string, 0, len(visitors))
	for k, evs := range visitors {
		slices.SortStableFunc(evs, func(a, b visitorEvent) int { return a.t.Compare(b.t) })
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		for j, ev := range visitors[k] {
			if !ev.t.Before(cutoff) && ev.typ != catalog.EventBeginCheckout {
				refs = append(refs, ctxRef{k, j})
			}
		}
	}
	rng := rand.New(rand.NewPCG(opt.Seed, 0x52414e4b)) // "RANK"
	if len(refs) > ro.MaxContexts {
		rng.Shuffle(len(refs), func(i, j int) { refs[i], refs[j] = refs[j], refs[i] })
		refs = refs[:ro.MaxContexts]
	}
	slices.SortStableFunc(refs, func(a, b ctxRef) int {
		return visitors[a.visitor][a.j].t.Compare(visitors[b.visitor][b.j].t)
	})

	type example struct {
		x ranker.Vector
		y bool
	}
	var train, valid []example
	nValidFrom := int(float64(len(refs)) * (1 - ro.ValidShare))
	cands := map[string]*ranker.Candidate{}
	var pool []ranker.Candidate
	var ids []string
	nCands := 0
	for n, ref := range refs {
		if n%1024 == 0 {
			if err := ctx.Err(); err != nil {
				return nil, rep, err
			}
		}
		evs := visitors[ref.visitor]
		anchorEv := evs[ref.j]
		anchor := tables.item(anchorEv.item)
		if anchor == nil {
			continue
		}
		// Positives: carted or bought within the horizon, the anchor aside.
		positive := map[string]bool{}
		for _, ev := range evs {
			if ev.t.Before(anchorEv.t) || ev.t.Sub(anchorEv.t) > ro.Horizon || ev.item == anchor.ID {
				continue
			}
			if ev.typ == catalog.EventAddToCart || ev.typ == catalog.EventPurchase {
				positive[ev.item] = true
			}
		}
		if len(positive) == 0 {
			continue
		}
		recent := recentBefore(evs, anchorEv.t, tables)
		clear(cands)
		pool = tables.candidates(anchor, recent, cands, pool[:0])
		hasPos := false
		ids = ids[:0]
		for id := range cands {
			ids = append(ids, id)
			hasPos = hasPos || positive[id]
		}
		if !hasPos {
			continue
		}
		slices.Sort(ids) // map order is random; the sample must not be
		nCands += len(ids)
		rep.Contexts++
		rc := ranker.Context{Now: anchorEv.t, Anchors: []*catalog.Item{anchor}, Recent: recent,
			Exclude: map[string]bool{anchor.ID: true}}
		rc.Prepare()
		var negs []string
		for _, id := range ids {
			c := cands[id]
			if c.Item == nil || id == anchor.ID {
				continue
			}
			if !positive[id] {
				negs = append(negs, id)
				continue
			}
			var ex example
			ranker.Extract(&ex.x, &rc, c, st.Features(id))
			ex.y = true
			if n < nValidFrom {
				train = append(train, ex)
			} else {
				valid = append(valid, ex)
			}
		}
		rng.Shuffle(len(negs), func(i, j int) { negs[i], negs[j] = negs[j], negs[i] })
		for _, id := range negs[:min(len(negs), ro.Negatives)] {
			var ex example
			ranker.Extract(&ex.x, &rc, cands[id], st.Features(id))
			if n < nValidFrom {
				train = append(train, ex)
			} else {
				valid = append(valid, ex)
			}
		}
	}
	if rep.Contexts > 0 {
		rep.CandidatesPerQuery = float64(nCands) / float64(rep.Contexts)
	}
	split := func(exs []example) ([]ranker.Vector, []bool) {
		x := make([]ranker.Vector, len(exs))
		y := make([]bool, len(exs))
		for i := range exs {
			x[i], y[i] = exs[i].x, exs[i].y
		}
		return x, y
	}
	tx, ty := split(train)
	vx, vy := split(valid)
	if rep.Contexts < 50 || len(vx) == 0 {
		rep.SkippedWhy = fmt.Sprintf("too few contexts with a positive candidate (%d)", rep.Contexts)
		return nil, rep, nil
	}
	m, err := ranker.Train(tx, ty, ranker.TrainOptions{L2: ro.L2})
	if err != nil {
		rep.SkippedWhy = err.Error()
		return nil, rep, nil
	}
	rep.Train = m.Calibrate(tx, ty)
	rep.Validation = m.Calibrate(vx, vy)
	m.Validation = rep.Validation
	log.Info("build ranker", "contexts", rep.Contexts, "train", rep.Train.String(), "validation", rep.Validation.String())
	if why := unfit(rep.Validation); why != "" {
		rep.SkippedWhy = why
		return nil, rep, nil
	}
	return m, rep, nil
}

// unfit says why a model may not be served, "" if it may: one that
// predicts the held-out contexts no better than their base rate learned
// nothing that holds later. Trained on Online Retail's December 2010
// alone (validation log loss 0.7140 against 0.6886), the model ranked
// basket completion worse than the candidates' own order (NDCG@20 0.1313
// against 0.1435 over the following ten months).
func unfit(valid ranker.Calibration) string {
	if valid.LogLoss < valid.BaseLogLoss {
		return ""
	}
	return fmt.Sprintf("the model predicts the held-out contexts no better than their base rate (log loss %.4f against %.4f)",
		valid.LogLoss, valid.BaseLogLoss)
}

// recentBefore is the visitor's interactions strictly before t, newest
// first without repeats, at most session.MaxRecent: what the server's
// session state would hold.
func recentBefore(evs []visitorEvent, t time.Time, tables *trainTables) []ranker.Interaction {
	var out []ranker.Interaction
	end, _ := slices.BinarySearchFunc(evs, t, func(e visitorEvent, t time.Time) int { return e.t.Compare(t) })
	for i := end - 1; i >= 0 && len(out) < session.MaxRecent; i-- {
		ev := evs[i]
		if slices.ContainsFunc(out, func(x ranker.Interaction) bool { return x.ItemID == ev.item }) {
			continue
		}
		x := ranker.Interaction{ItemID: ev.item, Type: ev.typ, Time: ev.t}
		if it := tables.item(ev.item); it != nil {
			x.Brand = it.Brand
			if len(it.Category) > 0 {
				x.Category = it.Category[0]
			}
		}
		out = append(out, x)
	}
	return out
}

// trainTables are the candidate lists as of the ranker's cut-off.
type trainTables struct {
	items      map[string]*catalog.Item
	index      map[string]int
	coPurchase map[string][]catalog.Scored
	coView     map[string][]catalog.Scored
	popular    map[string][]catalog.Scored
	content    []float32 // per item in items order, or nil: not used
	order      []catalog.Item
	nearest    map[string][]catalog.Scored
}

func newTrainTables(h *candidates.History, items []catalog.Item, content []float32, opt Options, ro RankerOptions) *trainTables {
	t := &trainTables{
		items:      make(map[string]*catalog.Item, len(items)),
		index:      make(map[string]int, len(items)),
		coPurchase: map[string][]catalog.Scored{},
		coView:     map[string][]catalog.Scored{},
		popular:    map[string][]catalog.Scored{},
		order:      items,
		nearest:    map[string][]catalog.Scored{},
	}
	for i := range items {
		t.items[items[i].ID] = &items[i]
		t.index[items[i].ID] = i
	}
	for _, l := range h.CoPurchase(opt.CoOccurrence) {
		t.coPurchase[l.ItemID] = l.Neighbors
	}
	for _, l := range h.CoView(opt.CoOccurrence) {
		t.coView[l.ItemID] = l.Neighbors
	}
	for _, l := range h.Popularity(opt.Popularity) {
		t.popular[l.Scope] = l.Items
	}
	if len(items) <= ro.MaxContentItems {
		t.content = content
	}
	return t
}

func (t *trainTables) item(id string) *catalog.Item { return t.items[id] }

// nearestContent is the anchor's nearest items by content vector, exact,
// memoised per anchor.
func (t *trainTables) nearestContent(id string) []catalog.Scored {
	if t.content == nil {
		return nil
	}
	if l, ok := t.nearest[id]; ok {
		return l
	}
	const dims = catalog.EmbeddingDims
	i := t.index[id]
	q := t.content[i*dims : (i+1)*dims]
	top := embeddings.NewTopK(trainContentLen + 1)
	for j := range t.order {
		if j != i && t.order[j].Active {
			top.Push(t.order[j].ID, float64(embeddings.Dot(q, t.content[j*dims:(j+1)*dims])))
		}
	}
	l := top.Sorted()
	t.nearest[id] = l
	return l
}

// candidates proposes what the server's page would: the anchor's
// neighbours, its nearest content, neighbours of recent items, popular
// lists and the recently viewed.
func (t *trainTables) candidates(anchor *catalog.Item, recent []ranker.Interaction, out map[string]*ranker.Candidate, pool []ranker.Candidate) []ranker.Candidate {
	if cap(pool) < 512 {
		pool = make([]ranker.Candidate, 0, 512)
	}
	// Reasons are left empty: features never read them.
	add := func(src ranker.Source, l []catalog.Scored, n int) {
		for r, sc := range l[:min(n, len(l))] {
			c := out[sc.ItemID]
			if c == nil {
				if len(pool) == cap(pool) {
					pool = make([]ranker.Candidate, 0, 512) // old ones stay referenced by out
				}
				pool = append(pool, ranker.Candidate{ID: sc.ItemID, Item: t.items[sc.ItemID], Hits: ranker.NoHits})
				c = &pool[len(pool)-1]
				out[sc.ItemID] = c
			}
			if h := &c.Hits[src]; h.Rank < 0 || int32(r) < h.Rank {
				h.Rank, h.Score = int32(r), float32(sc.Score)
			}
		}
	}
	add(ranker.SrcCoPurchase, t.coPurchase[anchor.ID], trainListLen)
	add(ranker.SrcCoView, t.coView[anchor.ID], trainListLen)
	add(ranker.SrcContent, t.nearestContent(anchor.ID), trainContentLen)
	var rv []catalog.Scored
	for i, x := range recent {
		if i < trainRecentSeed {
			add(ranker.SrcSession, t.coView[x.ItemID], trainSessionLen)
			add(ranker.SrcSession, t.coPurchase[x.ItemID], trainSessionLen)
		}
		if x.Type == catalog.EventViewItem {
			rv = append(rv, catalog.Scored{ItemID: x.ItemID, Score: 1 / float64(len(rv)+1)})
		}
	}
	add(ranker.SrcRecent, rv, len(rv))
	if len(anchor.Category) > 0 {
		add(ranker.SrcPopular, t.popular[candidates.CategoryScope(anchor.Category[0])], trainPopularLen)
	}
	add(ranker.SrcPopular, t.popular[candidates.ScopeTrending], trainPopularLen)
	add(ranker.SrcPopular, t.popular[candidates.ScopeAll7d], trainPopularLen)
	return pool
}

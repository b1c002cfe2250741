package recommend

import (
	"encoding/json"
	"math/rand/v2"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/VictoriaMetrics/metrics"

	"github.com/recs-server/recs/build"
	"github.com/recs-server/recs/catalog"
	"github.com/recs-server/recs/demo"
	"github.com/recs-server/recs/memstore"
	"github.com/recs-server/recs/ranker"
)

func TestRecentPurchaseSuppressed(t *testing.T) {
	f := newFixture(t, nil)
	ctx := t.Context()
	mods, _ := f.engine.PDP(ctx, Request{ItemID: "a1", SessionID: "s1", Limit: 10})
	if !slices.Contains(ids(mods[1].Items), "b1") {
		t.Fatal("b1 missing before the purchase")
	}
	f.engine.Record(&catalog.Event{Type: catalog.EventPurchase, Time: time.Now().Add(-time.Hour), SessionID: "s1",
		Items: []catalog.EventItem{{ItemID: "b1", Quantity: 1}}})
	mods, _ = f.engine.PDP(ctx, Request{ItemID: "a1", SessionID: "s1", Limit: 10})
	if slices.Contains(ids(mods[1].Items), "b1") {
		t.Fatalf("bought_together %v recommends b1, bought an hour ago", ids(mods[1].Items))
	}
	// Another visitor still gets it.
	mods, _ = f.engine.PDP(ctx, Request{ItemID: "a1", SessionID: "s2", Limit: 10})
	if !slices.Contains(ids(mods[1].Items), "b1") {
		t.Fatal("b1 hidden from a visitor who never bought it")
	}
}

// servedDemoShop generates a demo shop, builds it for real (ranker
// included) into an embedded store and serves it with a fresh engine.
func servedDemoShop(tb testing.TB, opt demo.Options) (*demo.Shop, *memstore.Store, *Engine) {
	tb.Helper()
	shop := demo.Generate(opt)
	st := memstore.New()
	if err := st.UpsertItems(tb.Context(), shop.Items); err != nil {
		tb.Fatal(err)
	}
	if _, err := st.AppendEvents(tb.Context(), shop.Events); err != nil {
		tb.Fatal(err)
	}
	publishBuild(tb, st, "v1")
	e, _ := servedEngine(tb, st, Config{SourceBudget: time.Second})
	return shop, st, e
}

// servedEngine is a new engine over st serving its latest build, with
// its metrics; closed when the test ends.
func servedEngine(tb testing.TB, st Store, cfg Config) (*Engine, *metrics.Set) {
	tb.Helper()
	set := metrics.NewSet()
	e, err := New(cfg, st, set)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(e.Close)
	if _, err := e.Refresh(tb.Context()); err != nil {
		tb.Fatal(err)
	}
	return e, set
}

func publishBuild(tb testing.TB, st *memstore.Store, version string) {
	tb.Helper()
	b, rep, err := build.Run(tb.Context(), st, build.Options{Seed: 1, Version: version, SkipItem2Vec: true}, nil)
	if err != nil {
		tb.Fatal(err)
	}
	if rep.Ranker.SkippedWhy != "" {
		tb.Fatalf("ranker not trained: %s", rep.Ranker.SkippedWhy)
	}
	if err := st.PublishBuild(tb.Context(), b); err != nil {
		tb.Fatal(err)
	}
}

// TestServedBuildIsRankedByItsModel builds a small demo shop for real,
// serves it, and checks the model is loaded, explains itself, and is
// swapped by the next build.
func TestServedBuildIsRankedByItsModel(t *testing.T) {
	ctx := t.Context()
	shop, st, e := servedDemoShop(t, demo.Options{Items: 400, Days: 30, Visitors: 1200})
	first := e.Ranker()
	if first.Model() == nil || first.Stats().Len() == 0 {
		t.Fatal("the build's model or item stats were not loaded")
	}
	var anchor string
	for _, it := range shop.Items {
		if it.Active && it.Stock > 0 {
			anchor = it.ID
			break
		}
	}
	mods, err := e.PDP(ctx, Request{ItemID: anchor, Limit: 8})
	if err != nil {
		t.Fatal(err)
	}
	explained := 0
	for _, m := range mods {
		if len(m.Items) == 0 {
			t.Fatalf("module %s is empty", m.ID)
		}
		filling := false
		for i, it := range m.Items {
			own := slices.ContainsFunc(it.Reasons, func(r string) bool { return r == "co_view" || r == "co_purchase" || r == "similar_content" })
			if own && filling {
				t.Fatalf("module %s: %s proposed by the module's sources comes after popular top-ups: %v", m.ID, it.ItemID, m.Items)
			}
			filling = filling || !own
			if i > 0 && own && it.Score > m.Items[i-1].Score {
				t.Fatalf("module %s is not in score order: %v after %v", m.ID, it.Score, m.Items[i-1].Score)
			}
			if slices.ContainsFunc(it.Reasons, func(r string) bool { return strings.HasPrefix(r, "feature:") }) {
				explained++
			}
		}
	}
	if explained == 0 {
		t.Fatal("no item names the features that ranked it")
	}
	// Items' reasons share arrays: appending to one must leave the others
	// as they were.
	for _, m := range mods {
		before := make([][]string, len(m.Items))
		for i, it := range m.Items {
			before[i] = slices.Clone(it.Reasons)
		}
		for i := range m.Items {
			m.Items[i].Reasons = append(m.Items[i].Reasons, "appended")
		}
		for i, it := range m.Items {
			if got := it.Reasons[:len(it.Reasons)-1]; !slices.Equal(got, before[i]) {
				t.Fatalf("module %s: %s's reasons %v became %v when the others were appended to", m.ID, it.ItemID, before[i], got)
			}
		}
	}
	publishBuild(t, st, "v2")
	if changed, err := e.Refresh(ctx); err != nil || !changed {
		t.Fatalf("refresh to v2: changed %v, %v", changed, err)
	}
	if e.Ranker() == first || e.Ranker().Model() == nil {
		t.Fatal("the new build's ranker was not swapped in")
	}
}

// Modules made after others were recycled (their items and reasons
// arrays reused) are those the same requests got the first time, and a
// recycled module no longer shows its items; so are category re-ranks.
func TestRecycledModulesAnswerAsNewOnes(t *testing.T) {
	shop, _, e := servedDemoShop(t, demo.Options{})
	at := time.Date(2026, 11, 2, 15, 0, 0, 0, time.UTC)
	ids := activeIDs(shop.Items[:60])
	recordViews(e, "s1", ids[:20], at)
	ctx := t.Context()
	pages := func(i int) ([]Module, error) {
		switch i % 3 {
		case 0:
			return e.PDP(ctx, Request{ItemID: ids[i%len(ids)], SessionID: "s1", Limit: 8, Now: at})
		case 1:
			return e.Cart(ctx, Request{ItemIDs: []string{ids[i%len(ids)], ids[(i+5)%len(ids)]}, SessionID: "s1", Limit: 12, Now: at})
		default:
			return e.Home(ctx, Request{SessionID: "s1", Limit: 10, Now: at})
		}
	}
	var first []string
	for i := range 30 {
		mods, err := pages(i)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := json.Marshal(mods)
		first = append(first, string(b)) // not recycled: fresh arrays
	}
	for round := range 3 {
		for i := range 30 {
			mods, err := pages(i)
			if err != nil {
				t.Fatal(err)
			}
			b, _ := json.Marshal(mods)
			if string(b) != first[i] {
				t.Fatalf("round %d, page %d after recycling:\n%s\nthe first time:\n%s", round, i, b, first[i])
			}
			e.Recycle(mods)
			for _, m := range mods {
				if m.Items != nil {
					t.Fatalf("a recycled module still shows %d items", len(m.Items))
				}
			}
		}
	}
	// The category re-rank, its items recycled after each answer.
	rank := func(i int, recycle bool) string {
		items, err := e.Rank(ctx, Request{ItemIDs: ids[i%7 : i%7+30], SessionID: "s1", Now: at})
		if err != nil {
			t.Fatal(err)
		}
		b, _ := json.Marshal(items)
		if recycle {
			e.RecycleRanked(items)
		}
		return string(b)
	}
	var firstRanks []string
	for i := range 7 {
		firstRanks = append(firstRanks, rank(i, false))
	}
	for round := range 3 {
		for i := range 7 {
			if got := rank(i, true); got != firstRanks[i] {
				t.Fatalf("round %d, re-rank %d after recycling:\n%s\nthe first time:\n%s", round, i, got, firstRanks[i])
			}
		}
	}
}

// A page's arrays (sources, lists, recent interactions, the recently
// viewed list, the re-rank's items) are recycled from request to request:
// each answer must be the one a fresh page gives, whatever larger or
// smaller page used the arrays before.
func TestRecycledPagesAnswerAsFreshOnes(t *testing.T) {
	shop, _, e := servedDemoShop(t, demo.Options{})
	at := time.Date(2026, 11, 2, 15, 0, 0, 0, time.UTC)
	ids := activeIDs(shop.Items[:80])
	// Visitors with long, short and no histories, one with a purchase.
	recordViews(e, "long", ids[:25], at)
	recordViews(e, "short", ids[30:33], at)
	e.Record(&catalog.Event{Type: catalog.EventPurchase, Time: at.Add(-time.Hour), SessionID: "short", Items: []catalog.EventItem{{ItemID: ids[40], Quantity: 1}}})
	visitors := []string{"long", "short", "nobody"}
	ctx := t.Context()
	answer := func(i int) string {
		v := visitors[i%len(visitors)]
		var got any
		var err error
		switch (i / len(visitors)) % 4 {
		case 0:
			got, err = e.PDP(ctx, Request{ItemID: ids[i%len(ids)], SessionID: v, Limit: 8, Now: at})
		case 1:
			cart := ids[i%20 : i%20+1+i%9] // 1 to 9 items
			got, err = e.Cart(ctx, Request{ItemIDs: cart, SessionID: v, Limit: 12, Now: at})
		case 2:
			got, err = e.Home(ctx, Request{SessionID: v, Limit: 10, Now: at})
		default:
			got, err = e.Rank(ctx, Request{ItemIDs: ids[i%11 : i%11+5+i%30], SessionID: v, Now: at})
		}
		if err != nil {
			t.Fatal(err)
		}
		b, _ := json.Marshal(got)
		return string(b)
	}
	const n = 48
	want := make([]string, n)
	for i := range n {
		e.pages = sync.Pool{New: newPageBuffers} // a fresh page
		want[i] = answer(i)
	}
	// Recycled pages, in three orders: each request follows others.
	for _, order := range [][]int{perm(n, 1), perm(n, 2), perm(n, 3)} {
		for _, i := range order {
			if got := answer(i); got != want[i] {
				t.Fatalf("request %d on a recycled page:\n%s\non a fresh one:\n%s", i, got, want[i])
			}
		}
	}
}

// perm is a permutation of 0..n-1, the same for a seed.
func perm(n int, seed uint64) []int {
	return rand.New(rand.NewPCG(seed, 0)).Perm(n)
}

func activeIDs(items []catalog.Item) []string {
	var ids []string
	for _, it := range items {
		if it.Active {
			ids = append(ids, it.ID)
		}
	}
	return ids
}

// recordViews records a session's views of ids, a minute apart, the
// first at at and newest.
func recordViews(e *Engine, sessionID string, ids []string, at time.Time) {
	for i, id := range ids {
		e.Record(&catalog.Event{Type: catalog.EventViewItem, Time: at.Add(-time.Duration(i) * time.Minute), SessionID: sessionID, Items: []catalog.EventItem{{ItemID: id}}})
	}
}

// TestRulesDepthsBoundTheCandidatesRanked: a module given a depth in the
// ranking rules reads and ranks about that many candidates (more only
// when the filters leave it short), the other modules the engine's
// RankDepth, and recs_module_ranked_candidates_total counts them.
func TestRulesDepthsBoundTheCandidatesRanked(t *testing.T) {
	shop, st, _ := servedDemoShop(t, demo.Options{})
	full, fullSet := servedEngine(t, st, Config{SourceBudget: time.Second})
	shallow, shallowSet := servedEngine(t, st, Config{SourceBudget: time.Second,
		Ranker: ranker.Config{Depths: map[string]int{"similar": ranker.MinDepth}}})
	items := activeItems(shop, 60)
	pages := len(items)
	for _, id := range items {
		for _, e := range []*Engine{full, shallow} {
			mods, err := e.PDP(t.Context(), Request{ItemID: id, Limit: 10})
			if err != nil {
				t.Fatal(err)
			}
			if len(mods[0].Items) == 0 {
				t.Fatalf("item %s: no similar items", id)
			}
			e.Recycle(mods)
		}
	}
	ranked := func(set *metrics.Set, module string) uint64 {
		return set.GetOrCreateCounter(`recs_module_ranked_candidates_total{module="` + module + `"}`).Get()
	}
	fs, ss := ranked(fullSet, "similar"), ranked(shallowSet, "similar")
	t.Logf("similar: %d candidates ranked at the default depth, %d at depth %d, over %d pages", fs, ss, ranker.MinDepth, pages)
	if ss < uint64(pages*ranker.MinDepth/2) || ss*3 > fs {
		t.Fatalf("similar ranked %d candidates at depth %d against %d at the default, over %d pages: want at least %d and under a third", ss, ranker.MinDepth, fs, pages, pages*ranker.MinDepth/2)
	}
	if fb, sb := ranked(fullSet, "bought_together"), ranked(shallowSet, "bought_together"); fb != sb || fb == 0 {
		t.Fatalf("bought_together, at the default depth in both, ranked %d and %d candidates", fb, sb)
	}
}

// TestFillRanksAFewCandidatesPerEmptySlot: a module its own candidates
// leave short ranks fillPerSlot best sellers for each empty slot, not
// its whole depth of them, and is still filled. Most of the demo shop's
// items have few co-purchases, so its bought_together is mostly fill.
func TestFillRanksAFewCandidatesPerEmptySlot(t *testing.T) {
	shop, st, _ := servedDemoShop(t, demo.Options{})
	e, set := servedEngine(t, st, Config{SourceBudget: time.Second})
	const limit = 10
	items := activeItems(shop, 60)
	pages, filled := len(items), 0
	for _, id := range items {
		mods, err := e.PDP(t.Context(), Request{ItemID: id, Limit: limit})
		if err != nil {
			t.Fatal(err)
		}
		bt := mods[1]
		if bt.ID != "bought_together" {
			t.Fatalf("second module is %q", bt.ID)
		}
		if len(bt.Items) != limit {
			t.Fatalf("item %s: bought_together has %d items, want %d", id, len(bt.Items), limit)
		}
		for _, x := range bt.Items {
			if !slices.Contains(x.Reasons, "co_purchase") {
				filled++
			}
		}
		e.Recycle(mods)
	}
	ranked := set.GetOrCreateCounter(`recs_module_ranked_candidates_total{module="bought_together"}`).Get()
	t.Logf("bought_together: %d of %d items were fill, %d candidates ranked over %d pages", filled, pages*limit, ranked, pages)
	if filled < pages*limit/2 {
		t.Fatalf("only %d of %d bought_together items were fill: the demo shop no longer tests the fill", filled, pages*limit)
	}
	// Own candidates (a few a page) plus fillPerSlot a slot, with room
	// for the filters; the whole depth (100) a page before.
	if max := uint64(pages * (fillPerSlot*limit + 20)); ranked > max {
		t.Fatalf("bought_together ranked %d candidates over %d pages, want at most %d", ranked, pages, max)
	}
}

// activeItems are the ids of the shop's first n active items: the
// product pages the depth tests load.
func activeItems(shop *demo.Shop, n int) []string {
	var ids []string
	for _, it := range shop.Items {
		if it.Active && len(ids) < n {
			ids = append(ids, it.ID)
		}
	}
	return ids
}

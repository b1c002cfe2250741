package recommend

import (
	"context"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/VictoriaMetrics/metrics"

	"github.com/recs-server/recs/build"
	"github.com/recs-server/recs/catalog"
	"github.com/recs-server/recs/memstore"
)

// gatedSearches holds every nearest-vector search of a real store until
// the gate opens, and counts them.
type gatedSearches struct {
	*memstore.Store
	gate     chan struct{}
	started  chan struct{}
	searches atomic.Int32
}

func (s *gatedSearches) NearestItems(ctx context.Context, vec []float32, k int) ([]catalog.Scored, error) {
	s.searches.Add(1)
	s.started <- struct{}{}
	<-s.gate
	return s.Store.NearestItems(ctx, vec, k)
}

// With every search slot taken, a product page's content search is
// skipped within the source budget and counted, not queued behind the
// others; once a slot is free the item's next page searches.
func TestVectorSearchesBeyondTheLimitAreSkipped(t *testing.T) {
	ms := newFixture(t, nil).st
	st := &gatedSearches{Store: ms, gate: make(chan struct{}), started: make(chan struct{}, 10)}
	f := newFixtureConfig(t, st, Config{SourceBudget: 50 * time.Millisecond, VectorSearches: 1, ItemCache: 100, ListCache: 100, MaxVisitors: 1000})
	ctx := t.Context()
	err := ms.PutItemVectors(ctx, []catalog.ItemVector{
		{ItemID: "c1", Vector: axis(0, 0)}, {ItemID: "b1", Vector: axis(0, 0.2)}, {ItemID: "a2", Vector: axis(5, 0)},
	})
	if err != nil {
		t.Fatal(err)
	}
	pdp := func(id string) []Item {
		t.Helper()
		mods, err := f.engine.PDP(ctx, Request{ItemID: id, Limit: 5})
		if err != nil {
			t.Fatal(err)
		}
		return mods[0].Items
	}
	busy := f.set.GetOrCreateCounter(`recs_vector_searches_total{result="busy"}`)

	pdp("c1") // its search holds the only slot: the page goes on without it
	<-st.started
	if got := pdp("b1"); slices.ContainsFunc(got, func(it Item) bool { return slices.Contains(it.Reasons, "similar_content") }) {
		t.Fatalf("b1's page = %+v with every slot taken, want nothing by content", got)
	}
	// The page stops waiting when its budget ends; the search's load
	// gives up on its slot at about the same time, in the background.
	waitFor(t, "the skipped search to be counted", func() bool { return busy.Get() == 1 })
	if n := st.searches.Load(); n != 1 {
		t.Fatalf("%d searches started with one slot, want 1", n)
	}

	close(st.gate)
	waitFor(t, "the slot to be free", func() bool { return f.engine.searches.running() == 0 })
	got := pdp("b1")
	if !slices.ContainsFunc(got, func(it Item) bool { return it.ItemID == "c1" && slices.Contains(it.Reasons, "similar_content") }) {
		t.Fatalf("b1's page once the slot is free = %+v, want c1 by content", got)
	}
	if n := st.searches.Load(); n != 2 {
		t.Fatalf("%d searches, want 2: the skipped one runs on the next page", n)
	}
}

// waitFor polls cond for up to 5 s.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(5 * time.Second); !cond(); time.Sleep(time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
	}
}

// gatedWarmSearches holds the warm-up's content searches of a real store
// until the gate opens, and counts the request path's searches.
type gatedWarmSearches struct {
	shopStore
	gate            chan struct{}
	warmStarted     chan struct{}
	requestSearches atomic.Int32
}

func (s *gatedWarmSearches) NearestToItems(ctx context.Context, ids []string, k int) ([]catalog.NeighborList, error) {
	select {
	case s.warmStarted <- struct{}{}:
	default:
	}
	<-s.gate
	return s.shopStore.NearestToItems(ctx, ids, k)
}

func (s *gatedWarmSearches) NearestItems(ctx context.Context, vec []float32, k int) ([]catalog.Scored, error) {
	s.requestSearches.Add(1)
	return s.shopStore.NearestItems(ctx, vec, k)
}

// A warm-up's batch of content searches holds a search slot: with the
// only slot taken by it, a product page's search is skipped at its
// budget instead of queueing for a store connection behind the batch.
func TestWarmSearchesHoldASlot(t *testing.T) {
	ms := memstore.New()
	// No content lists from the build: every content neighbour is a search.
	publishShopWith(t, ms, build.Options{Seed: 1, SkipItem2Vec: true, ContentLists: -1})
	st := &gatedWarmSearches{shopStore: ms, gate: make(chan struct{}), warmStarted: make(chan struct{}, 1)}
	set := metrics.NewSet()
	e, err := New(Config{SourceBudget: 50 * time.Millisecond, VectorSearches: 1, ItemCache: 10_000, ListCache: 10_000,
		Warm: WarmConfig{Items: 240}}, st, set)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(e.Close)
	openGate := sync.OnceFunc(func() { close(st.gate) })
	t.Cleanup(openGate) // before Close, which waits for the warm-up
	if _, err := e.Refresh(t.Context()); err != nil {
		t.Fatal(err)
	}
	<-st.warmStarted
	order := popularFirst(e.Ranker().Stats(), nil)
	if _, err := e.PDP(t.Context(), Request{ItemID: order[0], Limit: 8}); err != nil {
		t.Fatal(err)
	}
	busy := set.GetOrCreateCounter(`recs_vector_searches_total{result="busy"}`)
	waitFor(t, "the skipped search to be counted", func() bool { return busy.Get() == 1 })
	if n := st.requestSearches.Load(); n != 0 {
		t.Fatalf("%d request searches ran beside the warm-up's batch with one slot, want 0", n)
	}
	openGate()
	waitWarm(t, set, 1)
	if got := e.searches.running(); got != 0 {
		t.Fatalf("%d slots still held after the warm-up, want 0", got)
	}
}

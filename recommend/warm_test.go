package recommend

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/VictoriaMetrics/metrics"

	"github.com/recs-server/recs/build"
	"github.com/recs-server/recs/catalog"
	"github.com/recs-server/recs/demo"
	"github.com/recs-server/recs/memstore"
	"github.com/recs-server/recs/postgres/pgtest"
)

// shopStore is a real store the warm-up tests fill and serve from.
type shopStore interface {
	Store
	WarmStore
	build.Source
	UpsertItems(ctx context.Context, items []catalog.Item) error
	AppendEvents(ctx context.Context, events []catalog.Event) (int, error)
	PublishBuild(ctx context.Context, b *catalog.Build) error
}

// countingStore counts the reads the request path makes of a real store
// (not a mock: every call goes through). The warm-up's bulk reads pass
// through uncounted.
type countingStore struct {
	shopStore
	mu    sync.Mutex
	calls map[string]int
}

func (s *countingStore) count(method string) {
	s.mu.Lock()
	s.calls[method]++
	s.mu.Unlock()
}

// reads returns the calls counted so far and starts counting afresh.
func (s *countingStore) reads() map[string]int {
	s.mu.Lock()
	defer s.mu.Unlock()
	c := s.calls
	s.calls = map[string]int{}
	return c
}

func (s *countingStore) Items(ctx context.Context, ids []string) ([]catalog.Item, error) {
	s.count("Items")
	return s.shopStore.Items(ctx, ids)
}

func (s *countingStore) Neighbors(ctx context.Context, kind catalog.NeighborKind, id string, k int) ([]catalog.Scored, error) {
	s.count("Neighbors")
	return s.shopStore.Neighbors(ctx, kind, id, k)
}

func (s *countingStore) Popular(ctx context.Context, scope string, k int) ([]catalog.Scored, error) {
	s.count("Popular")
	return s.shopStore.Popular(ctx, scope, k)
}

func (s *countingStore) ItemVector(ctx context.Context, id string) ([]float32, error) {
	s.count("ItemVector")
	return s.shopStore.ItemVector(ctx, id)
}

func (s *countingStore) NearestItems(ctx context.Context, vec []float32, k int) ([]catalog.Scored, error) {
	s.count("NearestItems")
	return s.shopStore.NearestItems(ctx, vec, k)
}

func (s *countingStore) UserEvents(ctx context.Context, userID string, limit int) ([]catalog.Event, error) {
	s.count("UserEvents")
	return s.shopStore.UserEvents(ctx, userID, limit)
}

// connWarmingStore is a countingStore that warms the connections of the
// store it counts, as that store would.
type connWarmingStore struct {
	*countingStore
	w connWarmer
}

func (s connWarmingStore) WarmConns(ctx context.Context, searches int) (int, error) {
	return s.w.WarmConns(ctx, searches)
}

// publishShop loads a small generated shop into st and publishes its
// build: real neighbour tables, vectors, popularity and item statistics.
func publishShop(t *testing.T, st shopStore, seed uint64) {
	t.Helper()
	publishShopWith(t, st, build.Options{Seed: seed, SkipItem2Vec: true})
}

// publishShopWith is publishShop with the build's options.
func publishShopWith(t *testing.T, st shopStore, opt build.Options) {
	t.Helper()
	shop := demo.Generate(demo.Options{Items: 240, Visitors: 500, Days: 45})
	if err := st.UpsertItems(t.Context(), shop.Items); err != nil {
		t.Fatal(err)
	}
	if _, err := st.AppendEvents(t.Context(), shop.Events); err != nil {
		t.Fatal(err)
	}
	b, _, err := build.Run(t.Context(), st, opt, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := st.PublishBuild(t.Context(), b); err != nil {
		t.Fatal(err)
	}
}

// waitWarm waits until n warm-ups have ended.
func waitWarm(t *testing.T, set *metrics.Set, n int) {
	t.Helper()
	done := set.GetOrCreateCounter(`recs_warm_runs_total{result="done"}`)
	failed := set.GetOrCreateCounter(`recs_warm_runs_total{result="failed"}`)
	for deadline := time.Now().Add(time.Minute); done.Get() < uint64(n); time.Sleep(5 * time.Millisecond) {
		if failed.Get() > 0 {
			t.Fatal("the warm-up failed")
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d warm-ups done after a minute, want %d", done.Get(), n)
		}
	}
}

func newWarmEngine(t *testing.T, st Store, warm WarmConfig) (*Engine, *metrics.Set) {
	t.Helper()
	return servedEngine(t, st, Config{SourceBudget: 10 * time.Second, ItemCache: 10_000, ListCache: 10_000, Warm: warm})
}

func moduleIDs(mods []Module) [][]string {
	out := make([][]string, len(mods))
	for i, m := range mods {
		out[i] = ids(m.Items)
	}
	return out
}

// testWarmServesPagesWithoutStoreReads: after the warm-up, a product page
// for a popular item and a new visitor's home page read nothing from the
// store, and show what an engine without warm-up shows.
// afterWarm, if not nil, checks the store once the warm-up has ended.
func testWarmServesPagesWithoutStoreReads(t *testing.T, st shopStore, afterWarm func()) {
	publishShop(t, st, 1)
	cs := &countingStore{shopStore: st, calls: map[string]int{}}
	var es Store = cs
	if w, ok := st.(connWarmer); ok {
		es = connWarmingStore{cs, w} // as the server's store would
	}
	warm, set := newWarmEngine(t, es, WarmConfig{Items: 10_000, ReadyWait: time.Minute})
	waitWarm(t, set, 1)
	if afterWarm != nil {
		afterWarm()
	}
	if warm.Warming() {
		t.Fatal("Warming after the warm-up ended")
	}
	if got := set.GetOrCreateCounter(`recs_warm_loaded_total{what="items"}`).Get(); got != 240 {
		t.Fatalf("warm-up cached %d items, want the whole catalogue of 240", got)
	}
	cs.reads() // Refresh's reads

	top := popularFirst(warm.Ranker().Stats(), nil)
	if len(top) < 10 {
		t.Fatalf("%d items with statistics, want a shop with history", len(top))
	}
	cold, _ := newWarmEngine(t, st, WarmConfig{})
	for _, id := range top[:3] {
		r := Request{ItemID: id, SessionID: "s-" + id, Limit: 8}
		got, err := warm.PDP(t.Context(), r)
		if err != nil {
			t.Fatal(err)
		}
		if reads := cs.reads(); len(reads) != 0 {
			t.Fatalf("PDP of popular item %s after the warm-up read the store: %v", id, reads)
		}
		cold.PDP(t.Context(), r) // fills its caches: the second answer does not depend on load times
		want, err := cold.PDP(t.Context(), r)
		if err != nil {
			t.Fatal(err)
		}
		if g, w := moduleIDs(got), moduleIDs(want); !slices.EqualFunc(g, w, slices.Equal) || len(g[0]) == 0 {
			t.Fatalf("PDP of %s: warmed %v, loaded on demand %v", id, g, w)
		}
	}
	r := Request{SessionID: "s-new", Limit: 8}
	got, err := warm.Home(t.Context(), r)
	if err != nil {
		t.Fatal(err)
	}
	if reads := cs.reads(); len(reads) != 0 {
		t.Fatalf("home page of a new visitor after the warm-up read the store: %v", reads)
	}
	cold.Home(t.Context(), r)
	want, err := cold.Home(t.Context(), r)
	if err != nil {
		t.Fatal(err)
	}
	if g, w := moduleIDs(got), moduleIDs(want); !slices.EqualFunc(g, w, slices.Equal) || len(g[1]) == 0 {
		t.Fatalf("home: warmed %v, loaded on demand %v", g, w)
	}
}

func TestWarmServesPagesWithoutStoreReadsMemstore(t *testing.T) {
	testWarmServesPagesWithoutStoreReads(t, memstore.New(), nil)
}

func TestWarmServesPagesWithoutStoreReadsPostgres(t *testing.T) {
	st := pgtest.Open(t)
	// The warm-up opened the whole read pool, so the first burst of
	// requests does not wait for connects. Checked as it ends: the reads
	// after it open connections of their own, which hid that this test's
	// wrapper once kept WarmConns from the warm-up, until a CI run's reads
	// opened only 2 of the 4.
	testWarmServesPagesWithoutStoreReads(t, st, func() {
		if total, most := st.Stat().TotalConns(), st.Stat().MaxConns(); total != most {
			t.Fatalf("%d of %d pool connections open after the warm-up", total, most)
		}
	})
}

func TestNewBuildIsWarmedAgainButItemsAreNotReloaded(t *testing.T) {
	st := memstore.New()
	publishShop(t, st, 1)
	cs := &countingStore{shopStore: st, calls: map[string]int{}}
	e, set := newWarmEngine(t, cs, WarmConfig{Items: 50})
	waitWarm(t, set, 1)
	items := set.GetOrCreateCounter(`recs_warm_loaded_total{what="items"}`)
	lists := set.GetOrCreateCounter(`recs_warm_loaded_total{what="lists"}`)
	firstItems, firstLists := items.Get(), lists.Get()

	b, _, err := build.Run(t.Context(), st, build.Options{Seed: 2, SkipItem2Vec: true, Version: "second"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := st.PublishBuild(t.Context(), b); err != nil {
		t.Fatal(err)
	}
	if changed, err := e.Refresh(t.Context()); err != nil || !changed {
		t.Fatalf("Refresh = %v, %v; want the new build", changed, err)
	}
	waitWarm(t, set, 2)
	if items.Get() != firstItems {
		t.Fatalf("a new build reloaded items: %d, then %d", firstItems, items.Get())
	}
	if lists.Get() != 2*firstLists {
		t.Fatalf("lists warmed: %d for the first build, %d in all after the second; want as many again", firstLists, lists.Get())
	}
	cs.reads()
	id := popularFirst(e.Ranker().Stats(), nil)[0]
	if _, err := e.PDP(t.Context(), Request{ItemID: id, Limit: 5}); err != nil {
		t.Fatal(err)
	}
	if reads := cs.reads(); len(reads) != 0 {
		t.Fatalf("PDP of %s after the new build's warm-up read the store: %v", id, reads)
	}
}

// Beyond --warm-items, the warm-up still caches an item's co-view and
// co-purchase lists and vector, and the content list the build published
// for it (cheap indexed reads), so a product page of a less popular item
// reads nothing from the store; for a build that published no content
// lists, it reads the store for its content neighbours: that (empty) read
// and a vector search.
func TestWarmCachesListsAndVectorsBeyondTheContentSearches(t *testing.T) {
	for _, tc := range []struct {
		contentLists int
		want         map[string]int
	}{
		{0, map[string]int{}},
		{-1, map[string]int{"Neighbors": 1, "NearestItems": 1}},
	} {
		st := memstore.New()
		publishShopWith(t, st, build.Options{Seed: 1, SkipItem2Vec: true, ContentLists: tc.contentLists})
		cs := &countingStore{shopStore: st, calls: map[string]int{}}
		e, set := newWarmEngine(t, cs, WarmConfig{Items: 5, ReadyWait: time.Minute})
		waitWarm(t, set, 1)
		if got := set.GetOrCreateCounter(`recs_warm_loaded_total{what="vectors"}`).Get(); got != 240 {
			t.Fatalf("warm-up cached %d vectors, want one for each of the 240 items", got)
		}
		cs.reads()
		order := popularFirst(e.Ranker().Stats(), nil)
		for _, id := range []string{order[5], order[len(order)-1]} {
			if _, err := e.PDP(t.Context(), Request{ItemID: id, Limit: 8}); err != nil {
				t.Fatal(err)
			}
			if reads := cs.reads(); !maps.Equal(reads, tc.want) {
				t.Fatalf("content lists %d: PDP of %s, outside the 5 items with content warmed, read the store: %v; want %v", tc.contentLists, id, reads, tc.want)
			}
		}
	}
}

// connRecorder records the searches a warm-up asks each connection for.
type connRecorder struct {
	shopStore
	mu       sync.Mutex
	searches []int
}

func (s *connRecorder) WarmConns(ctx context.Context, searches int) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.searches = append(s.searches, searches)
	return 1, nil
}

// The connections get their many searches only while readiness waits:
// a server already serving would wait for the connections meanwhile.
func TestWarmSearchesOnConnectionsOnlyWhileReadinessWaits(t *testing.T) {
	st := memstore.New()
	publishShop(t, st, 1)
	f := func(readyWait time.Duration, want int) {
		t.Helper()
		rec := &connRecorder{shopStore: st}
		_, set := newWarmEngine(t, rec, WarmConfig{Items: 10, ReadyWait: readyWait})
		waitWarm(t, set, 1)
		rec.mu.Lock()
		defer rec.mu.Unlock()
		if !slices.Equal(rec.searches, []int{want}) {
			t.Fatalf("ready wait %s: WarmConns asked for %v searches, want [%d]", readyWait, rec.searches, want)
		}
	}
	f(time.Minute, warmConnSearches)
	f(0, 1)
}

func TestWarmCounts(t *testing.T) {
	f := func(have, items int, listCache, itemCache int64, wantContent, wantLists int) {
		t.Helper()
		content, lists := warmCounts(have, items, listCache, itemCache)
		if content != wantContent || lists != wantLists {
			t.Fatalf("warmCounts(%d, %d, %d, %d) = %d, %d; want %d, %d", have, items, listCache, itemCache, content, lists, wantContent, wantLists)
		}
	}
	f(100_000, 10_000, 200_000, 1_000_000, 10_000, 50_000) // lists: a quarter of the list cache
	f(3_000, 10_000, 200_000, 1_000_000, 3_000, 3_000)     // a small shop whole
	f(100_000, 10_000, 12_000, 1_000_000, 2_000, 3_000)    // a small list cache
	f(2_000_000, 10_000, 2_000_000, 1_000_000, 10_000, warmItemsMax)
	f(100_000, 10_000, 200_000, 8_000, 4_000, 8_000) // a small item (and vector) cache
}

// stalledStore holds the warm-up's first bulk read until released.
type stalledStore struct {
	shopStore
	release chan struct{}
}

func (s *stalledStore) PopularLists(ctx context.Context, k int) ([]catalog.PopularityList, error) {
	select {
	case <-s.release:
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	return s.shopStore.PopularLists(ctx, k)
}

func TestReadinessWaitsForTheFirstWarmUpWithinItsLimit(t *testing.T) {
	st := memstore.New()
	publishShop(t, st, 1)

	stalled := &stalledStore{shopStore: st, release: make(chan struct{})}
	e, set := newWarmEngine(t, stalled, WarmConfig{Items: 10, ReadyWait: time.Minute})
	if !e.Warming() {
		t.Fatal("not Warming while the first warm-up runs")
	}
	close(stalled.release)
	waitWarm(t, set, 1)
	if e.Warming() {
		t.Fatal("Warming after the warm-up ended")
	}

	stuck := &stalledStore{shopStore: st, release: make(chan struct{})}
	const limit = time.Second // long enough for the first check on a busy machine
	e, _ = newWarmEngine(t, stuck, WarmConfig{Items: 10, ReadyWait: limit})
	if !e.Warming() {
		t.Fatal("not Warming while the first warm-up runs")
	}
	time.Sleep(limit)
	if e.Warming() {
		t.Fatal("Warming past its limit: readiness must not wait for a stuck warm-up")
	}
	// Close stops the stuck warm-up (the test's cleanup would hang otherwise).
}

// The warm-up's extra workers run while readiness waits and stop once
// the server is ready: from then on its store serves requests too.
func TestWarmWorkersBeyondOneStopOnceReady(t *testing.T) {
	e := &Engine{warm: &warmer{cfg: WarmConfig{Items: 1, ReadyWait: time.Minute}, firstStart: time.Now()}}
	ids := make([]string, 40)
	for i := range ids {
		ids[i] = fmt.Sprint("i", i)
	}
	var mu sync.Mutex
	running, ready, afterReady, maxAfterReady := 0, false, 0, 0
	allBusy, release := make(chan struct{}), make(chan struct{})
	load := func(chunk []string) (int, error) {
		mu.Lock()
		running++
		if running == warmStartWorkers && !ready {
			close(allBusy)
		}
		late := ready
		if late {
			afterReady++
			maxAfterReady = max(maxAfterReady, afterReady)
		}
		mu.Unlock()
		if !late {
			<-release
		} else {
			time.Sleep(time.Millisecond)
		}
		mu.Lock()
		running--
		if late {
			afterReady--
		}
		mu.Unlock()
		return len(chunk), nil
	}
	done := make(chan struct{})
	var queries, cached int
	var err error
	go func() {
		defer close(done)
		queries, cached, err = e.inBatches(ids, 1, warmStartWorkers, func() error { return nil }, load)
	}()
	<-allBusy // every worker at work while readiness waits
	e.warm.mu.Lock()
	e.warm.settled = true
	e.warm.mu.Unlock()
	mu.Lock()
	ready = true
	mu.Unlock()
	close(release)
	<-done
	if err != nil || queries != len(ids) || cached != len(ids) {
		t.Fatalf("inBatches = %d queries, %d cached, %v; want %d, %d, nil", queries, cached, err, len(ids), len(ids))
	}
	if maxAfterReady != 1 {
		t.Fatalf("%d loads at once after readiness, want 1", maxAfterReady)
	}
}

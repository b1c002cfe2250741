package recommend

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync/atomic"
	"testing"
	"time"

	"github.com/VictoriaMetrics/metrics"

	"github.com/recs-server/recs/cache"
	"github.com/recs-server/recs/candidates"
	"github.com/recs-server/recs/catalog"
	"github.com/recs-server/recs/memstore"
	"github.com/recs-server/recs/ranker"
)

type fixture struct {
	st     *memstore.Store
	engine *Engine
	set    *metrics.Set
}

func item(id, top string, stock int) catalog.Item {
	return catalog.Item{ID: id, Title: "Item " + id, Category: []string{top}, Price: 10, Cost: 5, Stock: stock, Active: true}
}

func scored(ids ...string) []catalog.Scored {
	out := make([]catalog.Scored, len(ids))
	for i, id := range ids {
		out[i] = catalog.Scored{ItemID: id, Score: float64(len(ids) - i)}
	}
	return out
}

// newFixture publishes a small shop: a1's co-views and co-purchases, and
// popularity lists, with some items out of stock or inactive.
func newFixture(t *testing.T, st Store) *fixture {
	t.Helper()
	return newFixtureConfig(t, st, Config{SourceBudget: time.Second, MaxMove: 2, ItemCache: 100, ListCache: 100, MaxVisitors: 1000})
}

func newFixtureConfig(t *testing.T, st Store, cfg Config) *fixture {
	t.Helper()
	ms := memstore.New()
	items := []catalog.Item{
		item("a1", "Home", 5), item("a2", "Home", 5), item("a3", "Home", 0), item("a4", "Home", 5),
		item("b1", "Garden", 5), item("b2", "Garden", 5), item("c1", "Toys", 5),
	}
	items[0].IncompatibleWith = []string{"a4"}
	items[5].Active = false
	if err := ms.UpsertItems(t.Context(), items); err != nil {
		t.Fatal(err)
	}
	b := &catalog.Build{Version: "v1", CreatedAt: time.Now(),
		Neighbors: map[catalog.NeighborKind][]catalog.NeighborList{
			catalog.CoView:     {{ItemID: "a1", Neighbors: scored("a3", "a4", "a2", "b2")}, {ItemID: "b1", Neighbors: scored("b2", "c1")}},
			catalog.CoPurchase: {{ItemID: "a1", Neighbors: scored("b1", "a3")}, {ItemID: "b1", Neighbors: scored("a1", "c1", "a2")}},
		},
		Popularity: []catalog.PopularityList{
			{Scope: candidates.CategoryScope("Home"), Items: scored("a1", "a2", "a3", "a4")},
			{Scope: candidates.ScopeAll7d, Items: scored("c1", "a1", "b1", "a2", "a3")},
			{Scope: candidates.ScopeTrending, Items: scored("b1", "c1")},
		},
	}
	if err := ms.PublishBuild(t.Context(), b); err != nil {
		t.Fatal(err)
	}
	if st == nil {
		st = ms
	}
	set := metrics.NewSet()
	e, err := New(cfg, st, set)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(e.Close)
	if _, err := e.Refresh(t.Context()); err != nil {
		t.Fatal(err)
	}
	return &fixture{st: ms, engine: e, set: set}
}

func ids(items []Item) []string {
	out := make([]string, len(items))
	for i, it := range items {
		out[i] = it.ItemID
	}
	return out
}

func TestOutOfStockNeverReturned(t *testing.T) {
	f := newFixture(t, nil)
	ctx := t.Context()
	check := func(mods []Module, err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range mods {
			for _, it := range m.Items {
				if it.ItemID == "a3" || it.ItemID == "b2" {
					t.Fatalf("module %s returned unsellable %s", m.ID, it.ItemID)
				}
			}
		}
	}
	check(f.engine.PDP(ctx, Request{ItemID: "a1", Limit: 10}))
	check(f.engine.Cart(ctx, Request{ItemIDs: []string{"b1"}, Limit: 10}))
	check(f.engine.Home(ctx, Request{Limit: 10}))
}

// A page's lists of its anchor are cached by the anchor's number and
// read so on the next page (cache.ItemListNumber), each kind its own.
func TestPDPListsAreCachedByItemNumber(t *testing.T) {
	f := newFixture(t, nil)
	if _, err := f.engine.PDP(t.Context(), Request{ItemID: "a1", Limit: 3}); err != nil {
		t.Fatal(err)
	}
	k, ok := cache.NumberOf("a1")
	if !ok {
		t.Fatal("the anchor has no number")
	}
	for _, kind := range []catalog.NeighborKind{catalog.CoView, catalog.CoPurchase, catalog.Content} {
		n, _ := cache.ItemListNumber(kind, k)
		byNumber, ok := f.engine.lists.PeekNumbered(n)
		if !ok {
			t.Fatalf("%s list of a1 not cached by number", kind)
		}
		byKey, _ := f.engine.lists.Peek(cache.NeighborsKey(kind, "a1"))
		if byNumber.Len() != byKey.Len() || (byNumber.Len() > 0 && byNumber.ID(0) != byKey.ID(0)) {
			t.Fatalf("%s list of a1 by number differs from by key", kind)
		}
	}
	src := f.engine.neighbors(catalog.CoView, "a1", k, "co_view", ranker.SrcCoView, 1)
	if want, _ := cache.ItemListNumber(catalog.CoView, k); !src.numbered || src.listNum != want {
		t.Fatalf("source of a1's co-view list: numbered %v, %d; want %d", src.numbered, src.listNum, want)
	}
}

func TestPDPExcludesAnchorAndIncompatibleAndExplains(t *testing.T) {
	f := newFixture(t, nil)
	mods, err := f.engine.PDP(t.Context(), Request{ItemID: "a1", Limit: 3})
	if err != nil {
		t.Fatal(err)
	}
	if got := ids(mods[0].Items); fmt.Sprint(got) != "[a2 c1 b1]" {
		t.Fatalf("similar = %v, want co-viewed a2, then the overall top-up", got)
	}
	if r := mods[0].Items[0].Reasons; fmt.Sprint(r) != "[co_view popular_in_category popular]" {
		t.Fatalf("reasons of a2 = %v", r)
	}
	if got := ids(mods[1].Items); got[0] != "b1" || slices.Contains(got, "a1") || slices.Contains(got, "a4") {
		t.Fatalf("bought_together = %v", got)
	}
	if _, err := f.engine.PDP(t.Context(), Request{ItemID: "nope", Limit: 3}); !errors.Is(err, ErrUnknownItem) {
		t.Fatalf("unknown anchor: %v", err)
	}
}

func TestCartExcludesItemsAlreadyInCart(t *testing.T) {
	f := newFixture(t, nil)
	mods, err := f.engine.Cart(t.Context(), Request{ItemIDs: []string{"a1", "b1", "ghost"}, Limit: 10})
	if err != nil {
		t.Fatal(err)
	}
	got := ids(mods[0].Items)
	for _, x := range []string{"a1", "b1", "a4", "a3", "b2"} {
		if slices.Contains(got, x) {
			t.Fatalf("cross_sell %v contains %s", got, x)
		}
	}
	if len(got) == 0 || got[0] != "c1" {
		t.Fatalf("cross_sell = %v, want c1 (bought with b1) first", got)
	}
}

// Every item of a large cart keeps its incompatible items out, not only
// the newest, which seed the candidates.
func TestCartHidesWhatAnyItemDeclaresIncompatible(t *testing.T) {
	f := newFixture(t, nil)
	cart := []string{"a1"} // the oldest; it declares a4 incompatible
	var more []catalog.Item
	for i := range maxCartAnchors {
		more = append(more, item(fmt.Sprint("f", i), "Home", 5))
		cart = append(cart, more[i].ID)
	}
	if err := f.st.UpsertItems(t.Context(), more); err != nil {
		t.Fatal(err)
	}
	mods, err := f.engine.Cart(t.Context(), Request{ItemIDs: cart, Limit: 10})
	if err != nil {
		t.Fatal(err)
	}
	got := ids(mods[0].Items)
	if slices.Contains(got, "a4") || !slices.Contains(got, "a2") {
		t.Fatalf("cross_sell = %v, want a2 (popular in Home) but not a4", got)
	}
}

func TestStockChangeShowsAtOnce(t *testing.T) {
	f := newFixture(t, nil)
	ctx := t.Context()
	mods, _ := f.engine.PDP(ctx, Request{ItemID: "a1", Limit: 10})
	if !slices.Contains(ids(mods[1].Items), "b1") {
		t.Fatal("b1 missing before the stock change")
	}
	if _, err := f.st.UpdateStock(ctx, []catalog.StockUpdate{{ItemID: "b1", Stock: 0}}); err != nil {
		t.Fatal(err)
	}
	f.engine.ItemsChanged("b1")
	mods, _ = f.engine.PDP(ctx, Request{ItemID: "a1", Limit: 10})
	if slices.Contains(ids(mods[1].Items), "b1") {
		t.Fatal("b1 still recommended after it sold out")
	}
}

func TestHomeFollowsTheSession(t *testing.T) {
	f := newFixture(t, nil)
	ctx := t.Context()
	mods, _ := f.engine.Home(ctx, Request{SessionID: "s1", Limit: 2})
	if got := ids(mods[0].Items); fmt.Sprint(got) != "[b1 c1]" {
		t.Fatalf("for_you of a new visitor = %v, want trending", got)
	}
	f.engine.Record(&catalog.Event{Type: catalog.EventViewItem, Time: time.Now(), SessionID: "s1", Items: []catalog.EventItem{{ItemID: "a1"}}})
	mods, _ = f.engine.Home(ctx, Request{SessionID: "s1", Limit: 2})
	if got := ids(mods[0].Items); fmt.Sprint(got) != "[a4 a2]" {
		t.Fatalf("for_you after viewing a1 = %v, want a1's co-views, not a1", got)
	}
	if got := ids(mods[2].Items); fmt.Sprint(got) != "[a1]" {
		t.Fatalf("recently_viewed = %v", got)
	}
}

func TestRankMovesNoItemMoreThanMaxMove(t *testing.T) {
	f := func(scores []float64, maxMove int, want string) {
		t.Helper()
		in := make([]Item, len(scores))
		for i, s := range scores {
			in[i] = Item{ItemID: fmt.Sprint(i), Score: s}
		}
		out := limitedReorder(in, maxMove, nil, make([]bool, len(in)))
		if got := fmt.Sprint(ids(out)); got != want {
			t.Fatalf("reorder %v (max %d) = %s, want %s", scores, maxMove, got, want)
		}
		for p, it := range out {
			var orig int
			fmt.Sscan(it.ItemID, &orig)
			if d := p - orig; d > maxMove || -d > maxMove {
				t.Fatalf("item %d moved %d positions", orig, d)
			}
		}
	}
	f([]float64{0, 0, 0, 0, 9}, 2, "[0 1 4 2 3]")
	f([]float64{9, 0, 0, 0, 0}, 2, "[0 1 2 3 4]")
	f([]float64{-1, 1, 2, 3, 4}, 2, "[2 3 0 1 4]")
	f([]float64{1, 2, 3, 4, 5, 6}, 1, "[1 0 3 2 5 4]")
	f([]float64{5, 4, 3}, 10, "[0 1 2]")
}

func TestRankReturnsEveryIDOncePersonalised(t *testing.T) {
	f := newFixture(t, nil)
	f.engine.Record(&catalog.Event{Type: catalog.EventViewItem, Time: time.Now(), SessionID: "s1", Items: []catalog.EventItem{{ItemID: "b1"}}})
	in := []string{"a3", "a2", "a4", "c1", "ghost", "b2"}
	out, err := f.engine.Rank(t.Context(), Request{ItemIDs: in, SessionID: "s1"})
	if err != nil {
		t.Fatal(err)
	}
	got := ids(out)
	if !slices.Equal(slices.Sorted(slices.Values(got)), slices.Sorted(slices.Values(in))) {
		t.Fatalf("rank lost or duplicated ids: %v", got)
	}
	if got[0] != "a2" && got[0] != "c1" || got[len(got)-1] == "c1" {
		t.Fatalf("rank = %v: c1 (co-viewed with b1) should rise, unsellable items sink", got)
	}
}

// failingStore fails every neighbour lookup, as a database outage would.
type failingStore struct{ *memstore.Store }

func (failingStore) Neighbors(context.Context, catalog.NeighborKind, string, int) ([]catalog.Scored, error) {
	return nil, errors.New("connection refused")
}

func TestFailingSourceIsSkippedAndCounted(t *testing.T) {
	ms := newFixture(t, nil).st
	f := newFixture(t, failingStore{ms})
	mods, err := f.engine.PDP(t.Context(), Request{ItemID: "a1", Limit: 3})
	if err != nil {
		t.Fatal(err)
	}
	if len(mods[0].Items) == 0 {
		t.Fatal("similar is empty: the fallbacks should fill it")
	}
	if n := f.set.GetOrCreateCounter(`recs_source_errors_total{source="co_view"}`).Get(); n != 1 {
		t.Fatalf("co_view errors counted %d, want 1", n)
	}
}

func axis(i int, tilt float32) []float32 {
	v := make([]float32, catalog.EmbeddingDims)
	v[i] = 1
	v[(i+1)%catalog.EmbeddingDims] = tilt
	return v
}

func TestSessionVectorAndContentFindNearItems(t *testing.T) {
	f := newFixture(t, nil)
	ctx := t.Context()
	err := f.st.PutItemVectors(ctx, []catalog.ItemVector{
		{ItemID: "c1", Vector: axis(0, 0)}, {ItemID: "b1", Vector: axis(0, 0.2)}, {ItemID: "a2", Vector: axis(5, 0)},
	})
	if err != nil {
		t.Fatal(err)
	}
	mods, err := f.engine.PDP(ctx, Request{ItemID: "c1", Limit: 3})
	if err != nil {
		t.Fatal(err)
	}
	if it := mods[0].Items[0]; it.ItemID != "b1" || !slices.Contains(it.Reasons, "similar_content") {
		t.Fatalf("similar of c1 = %+v, want b1 by content", mods[0].Items)
	}
	f.engine.Record(&catalog.Event{Type: catalog.EventViewItem, Time: time.Now(), SessionID: "s9", Items: []catalog.EventItem{{ItemID: "c1"}}})
	mods, err = f.engine.Home(ctx, Request{SessionID: "s9", Limit: 5})
	if err != nil {
		t.Fatal(err)
	}
	for _, it := range mods[0].Items {
		if it.ItemID == "b1" && slices.Contains(it.Reasons, "session_vector") {
			return
		}
	}
	t.Fatalf("for_you after viewing c1 = %+v, want b1 from the session vector", mods[0].Items)
}

func TestSignedInUserHistoryIsLoadedFromTheStore(t *testing.T) {
	f := newFixture(t, nil)
	ctx := t.Context()
	// Bought before this server started: only the store knows.
	_, err := f.st.AppendEvents(ctx, []catalog.Event{{ID: "p1", Type: catalog.EventPurchase, Time: time.Now().Add(-time.Hour),
		UserID: "u1", OrderID: "o1", Items: []catalog.EventItem{{ItemID: "b1", Quantity: 1}}}})
	if err != nil {
		t.Fatal(err)
	}
	mods, err := f.engine.Home(ctx, Request{UserID: "u1", SessionID: "new", Limit: 3})
	if err != nil {
		t.Fatal(err)
	}
	got := mods[0].Items
	if len(got) < 2 || got[1].ItemID != "a1" || !slices.Contains(got[1].Reasons, "session_co_purchase") {
		t.Fatalf("for_you of u1 = %+v, want a1 (bought with b1) from the user's history", got)
	}
}

// nearestCounter counts nearest-neighbour searches of a real store.
type nearestCounter struct {
	*memstore.Store
	searches atomic.Int32
}

func (s *nearestCounter) NearestItems(ctx context.Context, vec []float32, k int) ([]catalog.Scored, error) {
	s.searches.Add(1)
	return s.Store.NearestItems(ctx, vec, k)
}

// A session vector searches the content neighbourhoods of its items,
// each once for all visitors: a visitor whose items were searched before
// costs no search, whatever their order.
func TestSessionVectorSearchesEachItemOnce(t *testing.T) {
	ms := newFixture(t, nil).st
	st := &nearestCounter{Store: ms}
	f := newFixture(t, st)
	ctx := t.Context()
	err := ms.PutItemVectors(ctx, []catalog.ItemVector{
		{ItemID: "c1", Vector: axis(0, 0)}, {ItemID: "b1", Vector: axis(0, 0.2)}, {ItemID: "a2", Vector: axis(5, 0)},
	})
	if err != nil {
		t.Fatal(err)
	}
	view := func(session, id string) {
		f.engine.Record(&catalog.Event{Type: catalog.EventViewItem, Time: time.Now(), SessionID: session, Items: []catalog.EventItem{{ItemID: id}}})
	}
	home := func(session string) []Item {
		t.Helper()
		mods, err := f.engine.Home(ctx, Request{SessionID: session, Limit: 5})
		if err != nil {
			t.Fatal(err)
		}
		return mods[0].Items
	}
	view("s1", "c1")
	first := home("s1")
	if n := st.searches.Load(); n != 1 {
		t.Fatalf("%d searches for the first home page, want 1", n)
	}
	// Again, and another visitor with the same recent items: no search,
	// the same modules.
	if again := home("s1"); !slices.Equal(ids(again), ids(first)) {
		t.Fatalf("home again = %v, want %v", ids(again), ids(first))
	}
	view("s2", "c1")
	home("s2")
	if n := st.searches.Load(); n != 1 {
		t.Fatalf("%d searches after two more home pages with the same recent items, want 1", n)
	}
	// A new item: its neighbourhood is searched.
	view("s1", "a2")
	home("s1")
	if n := st.searches.Load(); n != 2 {
		t.Fatalf("%d searches after a new view, want 2", n)
	}
	// The same items the other way round: a new session vector, no search.
	view("s3", "a2")
	view("s3", "c1")
	got := home("s3")
	if n := st.searches.Load(); n != 2 {
		t.Fatalf("%d searches for a new session of searched items, want 2", n)
	}
	if !slices.ContainsFunc(got, func(it Item) bool { return it.ItemID == "b1" && slices.Contains(it.Reasons, "session_vector") }) {
		t.Fatalf("for_you of s3 = %+v, want b1 from the session vector", got)
	}
}

// Pinned items come first in their configured order, whether or not a
// list of the page proposes them, and still pass the filters.
func TestPinsComeFirstAndAreFiltered(t *testing.T) {
	f := newFixtureConfig(t, nil, Config{SourceBudget: time.Second, ItemCache: 100, ListCache: 100, MaxVisitors: 1000,
		// b2 is inactive; p1 is in no list of the page; a2 is a1's co-view.
		Ranker: ranker.Config{Pins: map[string][]string{"similar": {"b2", "p1", "a2"}}}})
	if err := f.st.UpsertItems(t.Context(), []catalog.Item{item("p1", "Toys", 5)}); err != nil {
		t.Fatal(err)
	}
	for range 2 { // the second from warm caches
		mods, err := f.engine.PDP(t.Context(), Request{ItemID: "a1", SessionID: "s1", Limit: 4})
		if err != nil {
			t.Fatal(err)
		}
		got := ids(mods[0].Items)
		if len(got) < 2 || got[0] != "p1" || got[1] != "a2" || slices.Contains(got, "b2") {
			t.Fatalf("similar = %v, want p1, a2 first and no b2", got)
		}
		if r := mods[0].Items[0].Reasons; !slices.Contains(r, "pinned") {
			t.Fatalf("p1's reasons %v lack pinned", r)
		}
		if slices.Contains(ids(mods[1].Items), "p1") {
			t.Fatalf("bought_together %v has p1, pinned only in similar", ids(mods[1].Items))
		}
	}
}

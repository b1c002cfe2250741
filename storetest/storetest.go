// Package storetest is the contract every recs store must honour. The
// embedded store and the PostgreSQL store run the same suite, so code above
// them can rely on one behaviour.
package storetest

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"slices"
	"testing"
	"time"

	"github.com/recs-server/recs/catalog"
)

// Store is the full surface both stores implement.
type Store interface {
	Ping(ctx context.Context) error
	UpsertItems(ctx context.Context, items []catalog.Item) error
	Items(ctx context.Context, ids []string) ([]catalog.Item, error)
	ScanItems(ctx context.Context, fn func(*catalog.Item) error) error
	UpdateStock(ctx context.Context, updates []catalog.StockUpdate) ([]string, error)
	AppendEvents(ctx context.Context, events []catalog.Event) (int, error)
	ScanEvents(ctx context.Context, from, to time.Time, fn func(*catalog.Event) error) error
	LatestEventTime(ctx context.Context) (time.Time, error)
	UserEvents(ctx context.Context, userID string, limit int) ([]catalog.Event, error)
	UpsertUser(ctx context.Context, u catalog.User) error
	User(ctx context.Context, id string) (catalog.User, error)
	PutItemVectors(ctx context.Context, vecs []catalog.ItemVector) error
	NearestItems(ctx context.Context, vec []float32, k int) ([]catalog.Scored, error)
	ItemVector(ctx context.Context, itemID string) ([]float32, error)
	PublishBuild(ctx context.Context, b *catalog.Build) error
	LatestBuild(ctx context.Context) (catalog.BuildInfo, error)
	Neighbors(ctx context.Context, kind catalog.NeighborKind, itemID string, k int) ([]catalog.Scored, error)
	Popular(ctx context.Context, scope string, k int) ([]catalog.Scored, error)
	Model(ctx context.Context, kind string) ([]byte, catalog.BuildInfo, error)
	EraseUser(ctx context.Context, userID string, at time.Time) (catalog.Erasure, error)
	EraseSession(ctx context.Context, sessionID string, at time.Time) (catalog.Erasure, error)
	AppendAudit(ctx context.Context, e catalog.AuditEntry) error
	AuditLog(ctx context.Context, limit int) ([]catalog.AuditEntry, error)
}

// Run runs the contract against stores made by newStore; each call must
// return an empty store that the test may use until it ends.
func Run(t *testing.T, newStore func(t *testing.T) Store) {
	tests := []struct {
		name string
		fn   func(t *testing.T, s Store)
	}{
		{"UpsertedItemsReadBackUnchanged", testItemsRoundTrip},
		{"UpsertReplacesButKeepsCreatedAt", testUpsertReplaces},
		{"ScanItemsVisitsAllInIDOrder", testScanItems},
		{"UpdateStockChangesOnlyStock", testUpdateStock},
		{"EventsRoundTripInTimeOrder", testEventsRoundTrip},
		{"DuplicateEventIDsAreDropped", testEventDedup},
		{"EventRequestIDRoundTrips", testEventRequestID},
		{"ScanEventsHonoursWindow", testScanWindow},
		{"LateEventsAreScannedInTimeOrder", testLateEvents},
		{"UserEventsAreNewestFirst", testUserEvents},
		{"LatestEventTimeIsNewestEvent", testLatestEventTime},
		{"UsersRoundTrip", testUsers},
		{"NearestItemsByCosine", testNearest},
		{"VectorsOfWrongLengthRejected", testVectorDims},
		{"PublishedBuildIsServed", testPublishBuild},
		{"BuildPartsLeftNilAreKept", testBuildKeepsNilParts},
		{"RepublishingAVersionFails", testBuildVersionUnique},
		{"EraseUserRemovesEventsProfileAndLinkedSessions", testEraseUser},
		{"ErasedVisitorsOldEventsAreRefusedNewOnesAccepted", testErasureTombstones},
		{"TombstoneCoversEventsStampedInTheFuture", testErasureFutureEvents},
		{"ErasureRacingAppendsLeavesNothingBehind", testErasureRace},
		{"EraseSessionRemovesOnlyItsAnonymousEvents", testEraseSession},
		{"AuditLogIsNewestFirst", testAuditLog},
		{"BulkReadsMatchSingleReads", testBulkReadsMatchSingleReads},
		{"ContentNeighborsArePublishedWithTheBuild", testContentNeighborsPublished},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tc.fn(t, newStore(t))
		})
	}
}

var t0 = time.Date(2026, 10, 1, 12, 0, 0, 0, time.UTC)

func item(id string, price float64, stock int) catalog.Item {
	return catalog.Item{
		ID: id, Title: "Item " + id, Description: "A thing called " + id,
		Category: []string{"Home", "Kitchen"}, Brand: "Acme",
		Price: price, Cost: price / 2, Currency: "EUR", Stock: stock,
		Attributes:       map[string]string{"colour": "blue"},
		IncompatibleWith: []string{"X-" + id}, URL: "/i/" + id,
		Active: true, CreatedAt: t0, UpdatedAt: t0,
	}
}

func event(id string, typ catalog.EventType, at time.Time, items ...string) catalog.Event {
	e := catalog.Event{ID: id, Type: typ, Time: at, SessionID: "s1", UserID: "u1", Channel: "web", Device: "mobile"}
	for i, it := range items {
		e.Items = append(e.Items, catalog.EventItem{ItemID: it, Quantity: i + 1, Price: 9.5})
	}
	if typ == catalog.EventPurchase {
		e.OrderID = "o-" + id
	}
	if typ == catalog.EventSearch {
		e.Query = "blue mug"
	}
	return e
}

func ctx(t *testing.T) context.Context { return t.Context() }

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

func testItemsRoundTrip(t *testing.T, s Store) {
	in := []catalog.Item{item("a", 10, 5), item("b", 20.25, 0)}
	in[1].Active = false
	in[1].Consumable = true
	in[1].Synthetic = []string{"cost", "stock"}
	in[1].Attributes = nil
	in[1].IncompatibleWith = nil
	must(t, s.UpsertItems(ctx(t), in))
	got, err := s.Items(ctx(t), []string{"b", "missing", "a"})
	must(t, err)
	want := []catalog.Item{in[1], in[0]}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("Items:\n got %+v\nwant %+v", got, want)
	}
}

func testUpsertReplaces(t *testing.T, s Store) {
	must(t, s.UpsertItems(ctx(t), []catalog.Item{item("a", 10, 5)}))
	upd := item("a", 12, 7)
	upd.Title = "New title"
	upd.CreatedAt = t0.Add(time.Hour)
	upd.UpdatedAt = t0.Add(2 * time.Hour)
	must(t, s.UpsertItems(ctx(t), []catalog.Item{upd}))
	got, err := s.Items(ctx(t), []string{"a"})
	must(t, err)
	if len(got) != 1 || got[0].Title != "New title" || got[0].Price != 12 || got[0].Stock != 7 {
		t.Fatalf("item not replaced: %+v", got)
	}
	if !got[0].CreatedAt.Equal(t0) || !got[0].UpdatedAt.Equal(t0.Add(2*time.Hour)) {
		t.Fatalf("created/updated = %v/%v, want %v/%v", got[0].CreatedAt, got[0].UpdatedAt, t0, t0.Add(2*time.Hour))
	}
}

func testScanItems(t *testing.T, s Store) {
	must(t, s.UpsertItems(ctx(t), []catalog.Item{item("c", 1, 1), item("a", 1, 1), item("b", 1, 1)}))
	var ids []string
	must(t, s.ScanItems(ctx(t), func(it *catalog.Item) error { ids = append(ids, it.ID); return nil }))
	if !reflect.DeepEqual(ids, []string{"a", "b", "c"}) {
		t.Fatalf("scan order %v", ids)
	}
	stop := errors.New("stop")
	n := 0
	err := s.ScanItems(ctx(t), func(*catalog.Item) error { n++; return stop })
	if !errors.Is(err, stop) || n != 1 {
		t.Fatalf("callback error not returned at once: err=%v after %d calls", err, n)
	}
}

func testUpdateStock(t *testing.T, s Store) {
	must(t, s.UpsertItems(ctx(t), []catalog.Item{item("a", 10, 5), item("b", 10, 5)}))
	unknown, err := s.UpdateStock(ctx(t), []catalog.StockUpdate{
		{ItemID: "a", Stock: 7}, {ItemID: "nope", Stock: 3}, {ItemID: "a", Stock: 0}, {ItemID: "nope", Stock: 1}})
	must(t, err)
	if !slices.Equal(unknown, []string{"nope"}) {
		t.Fatalf("unknown ids %q, want [nope] (each once)", unknown)
	}
	got, err := s.Items(ctx(t), []string{"a", "b"})
	must(t, err)
	if got[0].Stock != 0 || got[1].Stock != 5 || got[0].Price != 10 || got[0].Title != "Item a" {
		t.Fatalf("after stock update: %+v", got)
	}
}

func scanAll(t *testing.T, s Store, from, to time.Time) []catalog.Event {
	t.Helper()
	var out []catalog.Event
	must(t, s.ScanEvents(ctx(t), from, to, func(e *catalog.Event) error {
		c := *e
		c.Items = append([]catalog.EventItem(nil), e.Items...)
		out = append(out, c)
		return nil
	}))
	return out
}

var (
	allFrom = time.Date(2000, 1, 1, 0, 0, 0, 0, time.UTC)
	allTo   = time.Date(2100, 1, 1, 0, 0, 0, 0, time.UTC)
)

func testEventsRoundTrip(t *testing.T, s Store) {
	in := []catalog.Event{
		event("e3", catalog.EventPurchase, t0.Add(3*time.Minute), "a", "b", "c"),
		event("e1", catalog.EventViewItem, t0.Add(time.Minute), "a"),
		event("e2", catalog.EventSearch, t0.Add(2*time.Minute)),
		event("e0", catalog.EventAddToCart, t0.Add(2*time.Minute), "b"),
	}
	in[1].UserID = ""
	in[1].Time = in[1].Time.Add(123456 * time.Nanosecond).Truncate(time.Microsecond)
	n, err := s.AppendEvents(ctx(t), in)
	must(t, err)
	if n != 4 {
		t.Fatalf("inserted %d, want 4", n)
	}
	got := scanAll(t, s, allFrom, allTo)
	want := []catalog.Event{in[1], in[3], in[2], in[0]} // time, then id
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("events:\n got %+v\nwant %+v", got, want)
	}
}

// The request_id a widget sends with a click on a recommendation is kept
// on every line of the event, so purchases can be attributed later; events
// without one come back without one.
func testEventRequestID(t *testing.T, s Store) {
	clicked := event("e1", catalog.EventViewItem, t0, "a")
	clicked.RequestID = "9f86d081884c7d65"
	bought := event("e2", catalog.EventPurchase, t0.Add(time.Minute), "a", "b")
	bought.RequestID = "2c26b46b68ffc68f"
	plain := event("e3", catalog.EventAddToCart, t0.Add(2*time.Minute), "b")
	in := []catalog.Event{clicked, bought, plain}
	_, err := s.AppendEvents(ctx(t), in)
	must(t, err)
	if got := scanAll(t, s, allFrom, allTo); !reflect.DeepEqual(got, in) {
		t.Fatalf("ScanEvents:\n got %+v\nwant %+v", got, in)
	}
	got, err := s.UserEvents(ctx(t), "u1", 10)
	must(t, err)
	if want := []catalog.Event{plain, bought, clicked}; !reflect.DeepEqual(got, want) {
		t.Fatalf("UserEvents:\n got %+v\nwant %+v", got, want)
	}
}

func testEventDedup(t *testing.T, s Store) {
	a := event("e1", catalog.EventViewItem, t0, "a")
	b := event("e2", catalog.EventViewItem, t0.Add(time.Second), "b")
	n, err := s.AppendEvents(ctx(t), []catalog.Event{a, b, a})
	must(t, err)
	if n != 2 {
		t.Fatalf("first batch inserted %d, want 2", n)
	}
	changed := event("e1", catalog.EventPurchase, t0.Add(time.Hour), "x", "y")
	c := event("e3", catalog.EventViewItem, t0.Add(2*time.Second), "c")
	n, err = s.AppendEvents(ctx(t), []catalog.Event{changed, c, b})
	must(t, err)
	if n != 1 {
		t.Fatalf("second batch inserted %d, want 1 (only e3 is new)", n)
	}
	got := scanAll(t, s, allFrom, allTo)
	if len(got) != 3 || !reflect.DeepEqual(got[0], a) {
		t.Fatalf("a resent id must not change the stored event: %+v", got)
	}
}

func testScanWindow(t *testing.T, s Store) {
	var in []catalog.Event
	for i := range 10 {
		in = append(in, event(fmt.Sprintf("e%02d", i), catalog.EventViewItem, t0.Add(time.Duration(i)*time.Hour), "a"))
	}
	_, err := s.AppendEvents(ctx(t), in)
	must(t, err)
	got := scanAll(t, s, t0.Add(2*time.Hour), t0.Add(5*time.Hour))
	if len(got) != 3 || got[0].ID != "e02" || got[2].ID != "e04" {
		t.Fatalf("window [2h,5h) gave %d events: %+v", len(got), got)
	}
	if got := scanAll(t, s, t0.Add(20*time.Hour), t0.Add(30*time.Hour)); len(got) != 0 {
		t.Fatalf("empty window gave %d events", len(got))
	}
}

func testUsers(t *testing.T, s Store) {
	if _, err := s.User(ctx(t), "u1"); !errors.Is(err, catalog.ErrNotFound) {
		t.Fatalf("missing user: err = %v, want ErrNotFound", err)
	}
	u := catalog.User{ID: "u1", AnonymousIDs: []string{"s1", "s2"}, Personalization: true, UpdatedAt: t0}
	must(t, s.UpsertUser(ctx(t), u))
	got, err := s.User(ctx(t), "u1")
	must(t, err)
	if !reflect.DeepEqual(got, u) {
		t.Fatalf("user: got %+v want %+v", got, u)
	}
	u.Personalization = false
	must(t, s.UpsertUser(ctx(t), u))
	got, err = s.User(ctx(t), "u1")
	must(t, err)
	if got.Personalization {
		t.Fatal("consent withdrawal not stored")
	}
}

// axis returns a unit vector along dimension i, tilted towards dimension j.
func axis(i, j int, tilt float32) []float32 {
	v := make([]float32, catalog.EmbeddingDims)
	v[i] = 1
	v[j] = tilt
	return v
}

func testNearest(t *testing.T, s Store) {
	must(t, s.PutItemVectors(ctx(t), []catalog.ItemVector{
		{ItemID: "x0", Vector: axis(0, 1, 0)},
		{ItemID: "x1", Vector: axis(0, 1, 0.5)},
		{ItemID: "x2", Vector: axis(0, 1, 2)},
		{ItemID: "y", Vector: axis(5, 6, 0)},
	}))
	got, err := s.NearestItems(ctx(t), axis(0, 1, 0.1), 3)
	must(t, err)
	if len(got) != 3 || got[0].ItemID != "x0" || got[1].ItemID != "x1" || got[2].ItemID != "x2" {
		t.Fatalf("nearest = %+v, want x0, x1, x2", got)
	}
	if got[0].Score < 0.99 || got[0].Score > 1.0001 || got[2].Score > got[1].Score {
		t.Fatalf("scores must be cosine similarities, best first: %+v", got)
	}
	v, err := s.ItemVector(ctx(t), "x1")
	must(t, err)
	if len(v) != catalog.EmbeddingDims || v[0] < 0.89 || v[0] > 0.9 || v[1] < 0.44 || v[1] > 0.45 {
		t.Fatalf("vector of x1 = %v..., want the unit vector (0.894, 0.447, 0...)", v[:2])
	}
	if _, err := s.ItemVector(ctx(t), "nope"); !errors.Is(err, catalog.ErrNotFound) {
		t.Fatalf("vector of unknown item: %v", err)
	}
	// Replacing a vector moves the item.
	must(t, s.PutItemVectors(ctx(t), []catalog.ItemVector{{ItemID: "y", Vector: axis(0, 1, 0.05)}}))
	got, err = s.NearestItems(ctx(t), axis(0, 1, 0.05), 1)
	must(t, err)
	if len(got) != 1 || got[0].ItemID != "y" {
		t.Fatalf("after update nearest = %+v, want y", got)
	}
}

func testVectorDims(t *testing.T, s Store) {
	if err := s.PutItemVectors(ctx(t), []catalog.ItemVector{{ItemID: "a", Vector: []float32{1, 2}}}); err == nil {
		t.Fatal("a 2-dimensional vector was accepted")
	}
	if _, err := s.NearestItems(ctx(t), []float32{1}, 5); err == nil {
		t.Fatal("a 1-dimensional query was accepted")
	}
}

func sampleBuild(version string, shift float64) *catalog.Build {
	return &catalog.Build{
		Version: version, CreatedAt: t0.Add(48 * time.Hour),
		DataFrom: t0.Add(-30 * 24 * time.Hour), DataTo: t0,
		Vectors: []catalog.ItemVector{{ItemID: "a", Vector: axis(1, 2, 0)}, {ItemID: "b", Vector: axis(1, 2, 1)}},
		Neighbors: map[catalog.NeighborKind][]catalog.NeighborList{
			catalog.CoPurchase: {{ItemID: "a", Neighbors: []catalog.Scored{{ItemID: "b", Score: 0.75 + shift}, {ItemID: "c", Score: 0.5}}}},
			catalog.CoView:     {{ItemID: "b", Neighbors: []catalog.Scored{{ItemID: "a", Score: 0.25}}}},
		},
		Popularity: []catalog.PopularityList{
			{Scope: "all:7d", Items: []catalog.Scored{{ItemID: "c", Score: 10 + shift}, {ItemID: "a", Score: 4}, {ItemID: "b", Score: 1}}},
		},
		Models: []catalog.Model{{Kind: "ranker", Blob: []byte("model-" + version)}},
	}
}

func testPublishBuild(t *testing.T, s Store) {
	if _, err := s.LatestBuild(ctx(t)); !errors.Is(err, catalog.ErrNotFound) {
		t.Fatalf("no build yet: err = %v, want ErrNotFound", err)
	}
	must(t, s.PublishBuild(ctx(t), sampleBuild("v1", 0)))
	must(t, s.PublishBuild(ctx(t), sampleBuild("v2", 0.125)))
	info, err := s.LatestBuild(ctx(t))
	must(t, err)
	want := catalog.BuildInfo{Version: "v2", CreatedAt: t0.Add(48 * time.Hour), DataFrom: t0.Add(-30 * 24 * time.Hour), DataTo: t0}
	if !reflect.DeepEqual(info, want) {
		t.Fatalf("latest build %+v, want %+v", info, want)
	}
	nb, err := s.Neighbors(ctx(t), catalog.CoPurchase, "a", 1)
	must(t, err)
	if len(nb) != 1 || nb[0].ItemID != "b" || nb[0].Score != 0.875 {
		t.Fatalf("co-purchase of a = %+v", nb)
	}
	if nb, err = s.Neighbors(ctx(t), catalog.CoView, "a", 5); err != nil || len(nb) != 0 {
		t.Fatalf("co-view of a = %+v, %v; want none", nb, err)
	}
	pop, err := s.Popular(ctx(t), "all:7d", 10)
	must(t, err)
	if len(pop) != 3 || pop[0].ItemID != "c" || pop[0].Score != 10.125 {
		t.Fatalf("popular = %+v", pop)
	}
	if pop, err = s.Popular(ctx(t), "nope", 10); err != nil || len(pop) != 0 {
		t.Fatalf("unknown scope = %+v, %v", pop, err)
	}
	blob, mi, err := s.Model(ctx(t), "ranker")
	must(t, err)
	if string(blob) != "model-v2" || mi.Version != "v2" {
		t.Fatalf("model = %q from %q", blob, mi.Version)
	}
	if _, _, err := s.Model(ctx(t), "nope"); !errors.Is(err, catalog.ErrNotFound) {
		t.Fatalf("unknown model: err = %v", err)
	}
	near, err := s.NearestItems(ctx(t), axis(1, 2, 0), 1)
	must(t, err)
	if len(near) != 1 || near[0].ItemID != "a" {
		t.Fatalf("nearest after build = %+v", near)
	}
}

func testBuildKeepsNilParts(t *testing.T, s Store) {
	must(t, s.PublishBuild(ctx(t), sampleBuild("v1", 0)))
	must(t, s.PublishBuild(ctx(t), &catalog.Build{Version: "v2", CreatedAt: t0, DataFrom: t0, DataTo: t0}))
	nb, err := s.Neighbors(ctx(t), catalog.CoPurchase, "a", 5)
	must(t, err)
	pop, err := s.Popular(ctx(t), "all:7d", 5)
	must(t, err)
	near, err := s.NearestItems(ctx(t), axis(1, 2, 0), 5)
	must(t, err)
	if len(nb) != 2 || len(pop) != 3 || len(near) != 2 {
		t.Fatalf("nil parts were not kept: %d neighbours, %d popular, %d vectors", len(nb), len(pop), len(near))
	}
	// An empty, non-nil part replaces.
	b := &catalog.Build{Version: "v3", CreatedAt: t0, DataFrom: t0, DataTo: t0, Popularity: []catalog.PopularityList{}}
	must(t, s.PublishBuild(ctx(t), b))
	if pop, err = s.Popular(ctx(t), "all:7d", 5); err != nil || len(pop) != 0 {
		t.Fatalf("empty popularity did not replace: %+v, %v", pop, err)
	}
}

func testBuildVersionUnique(t *testing.T, s Store) {
	must(t, s.PublishBuild(ctx(t), sampleBuild("v1", 0)))
	if err := s.PublishBuild(ctx(t), sampleBuild("v1", 0.5)); err == nil {
		t.Fatal("publishing v1 twice succeeded")
	}
	nb, err := s.Neighbors(ctx(t), catalog.CoPurchase, "a", 1)
	must(t, err)
	if len(nb) != 1 || nb[0].Score != 0.75 {
		t.Fatalf("a failed publish changed served data: %+v", nb)
	}
}

func testLatestEventTime(t *testing.T, s Store) {
	got, err := s.LatestEventTime(ctx(t))
	must(t, err)
	if !got.IsZero() {
		t.Fatalf("empty store: latest event time %v, want zero", got)
	}
	_, err = s.AppendEvents(ctx(t), []catalog.Event{
		event("e1", catalog.EventViewItem, t0.Add(time.Hour), "a"),
		event("e2", catalog.EventViewItem, t0, "a"),
	})
	must(t, err)
	got, err = s.LatestEventTime(ctx(t))
	must(t, err)
	if !got.Equal(t0.Add(time.Hour)) {
		t.Fatalf("latest event time %v, want %v", got, t0.Add(time.Hour))
	}
}

func testLateEvents(t *testing.T, s Store) {
	var first, late []catalog.Event
	for i := range 10 {
		first = append(first, event(fmt.Sprintf("a%d", i), catalog.EventViewItem, t0.Add(time.Duration(i)*time.Minute), "a"))
	}
	late = append(late,
		event("b1", catalog.EventViewItem, t0.Add(7*time.Minute+30*time.Second), "a"),
		event("b0", catalog.EventViewItem, t0.Add(2*time.Minute+30*time.Second), "a"),
		event("b2", catalog.EventViewItem, t0.Add(20*time.Minute), "a"))
	for _, batch := range [][]catalog.Event{first, late} {
		_, err := s.AppendEvents(ctx(t), batch)
		must(t, err)
	}
	got := scanAll(t, s, allFrom, allTo)
	var ids []string
	for i, e := range got {
		ids = append(ids, e.ID)
		if i > 0 && e.Time.Before(got[i-1].Time) {
			t.Fatalf("events out of time order: %v", ids)
		}
	}
	if len(got) != 13 || got[3].ID != "b0" || got[9].ID != "b1" || got[12].ID != "b2" {
		t.Fatalf("order = %v", ids)
	}
}

func testUserEvents(t *testing.T, s Store) {
	var evs []catalog.Event
	for i := range 6 {
		e := event(fmt.Sprintf("u%d", i), catalog.EventPurchase, t0.Add(time.Duration(i)*time.Hour), "a", "b")
		if i%2 == 1 {
			e.UserID = "someone-else"
		}
		evs = append(evs, e)
	}
	_, err := s.AppendEvents(ctx(t), evs)
	must(t, err)
	got, err := s.UserEvents(ctx(t), "u1", 2)
	must(t, err)
	if len(got) != 2 || got[0].ID != "u4" || got[1].ID != "u2" || !reflect.DeepEqual(got[0], evs[4]) {
		t.Fatalf("user events = %+v", got)
	}
	if got, err := s.UserEvents(ctx(t), "nobody", 5); err != nil || len(got) != 0 {
		t.Fatalf("unknown user: %v, %v", got, err)
	}
}

package build

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/recs-server/recs/candidates"
	"github.com/recs-server/recs/catalog"
	"github.com/recs-server/recs/embeddings"
	"github.com/recs-server/recs/memstore"
	"github.com/recs-server/recs/ranker"
)

var end = time.Date(2026, 10, 1, 0, 0, 0, 0, time.UTC)

const day = 24 * time.Hour

func item(id, title string, cat ...string) catalog.Item {
	return catalog.Item{ID: id, Title: title, Category: cat, Price: 10, Stock: 5, Active: true}
}

func shopItems() []catalog.Item {
	return []catalog.Item{
		item("tent", "Two person dome tent", "Outdoor", "Tents"),
		item("pegs", "Aluminium tent pegs", "Outdoor", "Tents"),
		item("stove", "Camping gas stove", "Outdoor", "Cooking"),
		item("mug", "Enamel camping mug", "Outdoor", "Cooking"),
		item("kettle", "Electric kettle", "Home", "Kitchen"),
		item("teapot", "Ceramic teapot", "Home", "Kitchen"),
		item("old", "Discontinued lamp", "Home", "Lighting"),
	}
}

type events struct {
	list []catalog.Event
	n    int
}

func (es *events) add(typ catalog.EventType, at time.Time, session, order string, ids ...string) {
	es.n++
	e := catalog.Event{ID: fmt.Sprintf("e%05d", es.n), Type: typ, Time: at, SessionID: session, OrderID: order}
	for _, id := range ids {
		e.Items = append(e.Items, catalog.EventItem{ItemID: id, Quantity: 1})
	}
	es.list = append(es.list, e)
}

// shopEvents is a month of a small shop: campers buy tents with pegs, tea
// drinkers kettles with teapots.
func shopEvents() *events {
	es := &events{}
	for d := range 30 {
		at := end.Add(-time.Duration(d+1)*day + time.Hour)
		s := fmt.Sprintf("s%d", d)
		for k, id := range []string{"tent", "pegs", "stove", "mug"} {
			es.add(catalog.EventViewItem, at.Add(time.Duration(k)*time.Minute), s+"a", "", id)
		}
		for k, id := range []string{"kettle", "teapot"} {
			es.add(catalog.EventViewItem, at.Add(time.Duration(k)*time.Minute), s+"b", "", id)
		}
		es.add(catalog.EventPurchase, at.Add(10*time.Minute), s+"a", fmt.Sprintf("o%da", d), "tent", "pegs")
		es.add(catalog.EventPurchase, at.Add(10*time.Minute), s+"b", fmt.Sprintf("o%db", d), "kettle", "teapot")
		if d%3 == 0 {
			es.add(catalog.EventPurchase, at.Add(11*time.Minute), s+"c", fmt.Sprintf("o%dc", d), "stove", "mug")
		}
	}
	return es
}

func store(t testing.TB, items []catalog.Item, evs []catalog.Event) *memstore.Store {
	t.Helper()
	s := memstore.New()
	if err := s.UpsertItems(context.Background(), items); err != nil {
		t.Fatal(err)
	}
	if _, err := s.AppendEvents(context.Background(), evs); err != nil {
		t.Fatal(err)
	}
	return s
}

// fixed are options that make a build fully reproducible.
func fixed() Options {
	return Options{DataTo: end, CreatedAt: end.Add(time.Hour), Seed: 42}
}

func run(t *testing.T, src Source, opt Options) (*catalog.Build, *Report) {
	t.Helper()
	b, rep, err := Run(t.Context(), src, opt, nil)
	if err != nil {
		t.Fatal(err)
	}
	return b, rep
}

func neighbours(b *catalog.Build, kind catalog.NeighborKind, id string) []string {
	for _, l := range b.Neighbors[kind] {
		if l.ItemID == id {
			var out []string
			for _, n := range l.Neighbors {
				out = append(out, n.ItemID)
			}
			return out
		}
	}
	return nil
}

func TestBuildDerivesTablesVectorsAndModel(t *testing.T) {
	items := shopItems()
	items[6].Active = false
	b, rep := run(t, store(t, items, shopEvents().list), fixed())

	if got := neighbours(b, catalog.CoPurchase, "tent"); len(got) == 0 || got[0] != "pegs" {
		t.Errorf("co-purchase of tent: %v", got)
	}
	if got := neighbours(b, catalog.CoView, "kettle"); len(got) != 1 || got[0] != "teapot" {
		t.Errorf("co-view of kettle: %v", got)
	}
	if len(b.Vectors) != 6 {
		t.Errorf("%d vectors, want one per active item (6)", len(b.Vectors))
	}
	scopes := map[string]int{}
	for _, p := range b.Popularity {
		scopes[p.Scope] = len(p.Items)
	}
	for _, s := range []string{candidates.ScopeAll24h, candidates.ScopeAll7d, candidates.ScopeAll30d,
		candidates.CategoryScope("Outdoor"), candidates.CategoryScope("Home")} {
		if scopes[s] == 0 {
			t.Errorf("scope %s is empty or missing (scopes: %v)", s, scopes)
		}
	}
	if len(b.Models) < 2 || b.Models[0].Kind != embeddings.ContentModelKind || b.Models[1].Kind != ranker.StatsModelKind {
		t.Fatalf("%d models; want the content model, the item stats, then the ranker if trained", len(b.Models))
	}
	var m embeddings.ContentModel
	if err := m.UnmarshalBinary(b.Models[0].Blob); err != nil {
		t.Fatal(err)
	}
	if rep.History.Orders != 70 || rep.BehaviourVectors == 0 || rep.Vectors != 6 {
		t.Errorf("report %+v", rep)
	}
	if b.Version != rep.Version || !strings.HasPrefix(b.Version, "b-20261001T000000Z-") {
		t.Errorf("version %q, report %q", b.Version, rep.Version)
	}
	for _, stage := range []string{"read", "content", "item2vec", "cooccurrence", "popularity", "total"} {
		if !strings.Contains(rep.String(), stage) {
			t.Errorf("report lacks %s:\n%s", stage, rep)
		}
	}
}

func TestBuildIgnoresEventsOutsideWindow(t *testing.T) {
	es := shopEvents()
	opt := fixed()
	opt.DataFrom = end.Add(-60 * day)
	want, _ := run(t, store(t, shopItems(), es.list), opt)

	// Events at and after DataTo, and before DataFrom, that would change
	// every table and vector if they were read.
	for k := range 50 {
		for _, at := range []time.Time{end, end.Add(time.Duration(k) * time.Hour), opt.DataFrom.Add(-time.Minute)} {
			s := fmt.Sprintf("leak%d", k)
			es.add(catalog.EventViewItem, at, s, "", "old")
			es.add(catalog.EventViewItem, at.Add(time.Second), s, "", "tent")
			es.add(catalog.EventPurchase, at.Add(2*time.Second), s, "leak-"+s+at.String(), "tent", "old", "teapot")
		}
	}
	got, rep := run(t, store(t, shopItems(), es.list), opt)
	if !reflect.DeepEqual(got, want) {
		t.Fatal("events outside [DataFrom, DataTo) changed the build")
	}
	if rep.History.OutsideWindow != 0 {
		t.Fatalf("the source passed %d events outside the window: they were read", rep.History.OutsideWindow)
	}
}

func TestBuildIsReproducible(t *testing.T) {
	s := store(t, shopItems(), shopEvents().list)
	a, _ := run(t, s, fixed())
	b, _ := run(t, s, fixed())
	if !reflect.DeepEqual(a, b) {
		t.Fatal("two builds with equal options differ")
	}
	opt := fixed()
	opt.Seed++
	c, _ := run(t, s, opt)
	if c.Version == a.Version {
		t.Fatal("another seed gave the same version name")
	}
}

func TestBuildDefaultsWindowToNewestEvent(t *testing.T) {
	es := shopEvents()
	newest := end.Add(-90 * time.Minute).Add(123 * time.Millisecond)
	es.add(catalog.EventViewItem, newest, "late", "", "mug")
	b, rep := run(t, store(t, shopItems(), es.list), Options{Seed: 1})
	wantTo := newest.Truncate(time.Second).Add(time.Second)
	if !b.DataTo.Equal(wantTo) || !b.DataFrom.Equal(wantTo.Add(-DefaultWindow)) {
		t.Fatalf("window [%s, %s), want [%s, %s)", b.DataFrom, b.DataTo, wantTo.Add(-DefaultWindow), wantTo)
	}
	if rep.History.Events != len(es.list) {
		t.Fatalf("read %d of %d events", rep.History.Events, len(es.list))
	}
	if !strings.HasPrefix(b.Version, "b-"+wantTo.Format("20060102T150405Z")) || b.CreatedAt.IsZero() {
		t.Fatalf("version %q created %s", b.Version, b.CreatedAt)
	}
}

func TestBuildWithoutItem2VecUsesContentVectors(t *testing.T) {
	items := shopItems()
	opt := fixed()
	opt.SkipItem2Vec = true
	b, rep := run(t, store(t, items, shopEvents().list), opt)
	if rep.BehaviourVectors != 0 || rep.Sequences != 0 {
		t.Fatalf("item2vec ran: %+v", rep)
	}
	m := embeddings.NewContentModel(items, opt.Seed)
	for _, v := range b.Vectors {
		i := slices.IndexFunc(items, func(it catalog.Item) bool { return it.ID == v.ItemID })
		if c := embeddings.Cosine(v.Vector, m.Embed(&items[i], nil)); c < 0.99999 {
			t.Fatalf("%s: without item2vec the vector should be the content vector: cos %v", v.ItemID, c)
		}
	}
}

func TestBuildPublishedToStoreServesNewItemsFromModel(t *testing.T) {
	s := store(t, shopItems(), shopEvents().list)
	b, _ := run(t, s, fixed())
	ctx := t.Context()
	if err := s.PublishBuild(ctx, b); err != nil {
		t.Fatal(err)
	}
	if nb, err := s.Neighbors(ctx, catalog.CoPurchase, "kettle", 1); err != nil || len(nb) != 1 || nb[0].ItemID != "teapot" {
		t.Fatalf("served co-purchase of kettle: %+v, %v", nb, err)
	}
	if pop, err := s.Popular(ctx, candidates.ScopeAll30d, 3); err != nil || len(pop) != 3 {
		t.Fatalf("served all:30d: %+v, %v", pop, err)
	}
	// Cold start: the server embeds a new item with the build's model and
	// finds its kind among the build's vectors.
	blob, _, err := s.Model(ctx, embeddings.ContentModelKind)
	if err != nil {
		t.Fatal(err)
	}
	var m embeddings.ContentModel
	if err := m.UnmarshalBinary(blob); err != nil {
		t.Fatal(err)
	}
	fresh := item("new", "Electric gooseneck kettle", "Home", "Kitchen")
	near, err := s.NearestItems(ctx, m.Embed(&fresh, nil), 1)
	if err != nil || len(near) != 1 || near[0].ItemID != "kettle" {
		t.Fatalf("nearest to a new kettle: %+v, %v", near, err)
	}
}

func TestBuildRejectsBadInput(t *testing.T) {
	ctx := t.Context()
	if _, _, err := Run(ctx, memstore.New(), fixed(), nil); !errors.Is(err, ErrNoItems) {
		t.Errorf("empty catalogue: %v", err)
	}
	s := store(t, shopItems(), nil)
	opt := fixed()
	opt.DataFrom = opt.DataTo
	if _, _, err := Run(ctx, s, opt, nil); err == nil || !strings.Contains(err.Error(), "DataFrom") {
		t.Errorf("empty window: %v", err)
	}
	opt = fixed()
	opt.Version = "bad\nversion"
	if _, _, err := Run(ctx, s, opt, nil); err == nil {
		t.Error("a version with a control character was accepted")
	}
	// No events at all is a valid (content-only) build.
	b, _, err := Run(ctx, s, fixed(), nil)
	if err != nil || len(b.Vectors) != len(shopItems()) || b.Neighbors[catalog.CoPurchase] == nil {
		t.Errorf("build without events: %v", err)
	}
}

type failingSource struct {
	*memstore.Store
	err error
}

func (f failingSource) ScanEvents(context.Context, time.Time, time.Time, func(*catalog.Event) error) error {
	return f.err
}

func TestBuildReportsSourceErrors(t *testing.T) {
	boom := errors.New("connection reset")
	src := failingSource{Store: store(t, shopItems(), nil), err: boom}
	if _, _, err := Run(t.Context(), src, fixed(), nil); !errors.Is(err, boom) || !strings.Contains(err.Error(), "read events") {
		t.Fatalf("err = %v", err)
	}
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	if _, _, err := Run(ctx, store(t, shopItems(), shopEvents().list), fixed(), nil); !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled: err = %v", err)
	}
}

type timedSource struct {
	*memstore.Store
	latest time.Time
}

func (s timedSource) LatestEventTime(context.Context) (time.Time, error) { return s.latest, nil }

func TestBuildAsksSourceForNewestEventTime(t *testing.T) {
	latest := end.Add(-10 * day)
	src := timedSource{Store: store(t, shopItems(), shopEvents().list), latest: latest}
	b, rep := run(t, src, Options{Seed: 1})
	if !b.DataTo.Equal(latest.Add(time.Second)) {
		t.Fatalf("DataTo %s, want %s", b.DataTo, latest.Add(time.Second))
	}
	if want := 20; rep.History.Orders >= 70 || rep.History.Orders < want {
		t.Fatalf("read %d orders; only those before the source's newest event time belong", rep.History.Orders)
	}
}

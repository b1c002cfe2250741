package storetest

import (
	"context"
	"fmt"
	"math"
	"math/rand/v2"
	"reflect"
	"testing"
	"time"

	"github.com/recs-server/recs/catalog"
)

// WarmStore is the bulk reads of the server's cache warm-up: each must
// return what the one-at-a-time reads return, for many ids at once.
type WarmStore interface {
	CountItems(ctx context.Context) (int, error)
	NeighborLists(ctx context.Context, kind catalog.NeighborKind, ids []string, k int) ([]catalog.NeighborList, error)
	PopularLists(ctx context.Context, k int) ([]catalog.PopularityList, error)
	ItemVectors(ctx context.Context, ids []string) ([]catalog.ItemVector, error)
	NearestToItems(ctx context.Context, ids []string, k int) ([]catalog.NeighborList, error)
}

// warmBuild is a build of n items "w000".. with neighbours for the even
// ones, a vector for all but every fifth, and three popularity scopes.
func warmBuild(n int) *catalog.Build {
	r := rand.New(rand.NewPCG(7, 11))
	b := &catalog.Build{Version: "warm", CreatedAt: t0, DataFrom: t0.Add(-30 * 24 * time.Hour), DataTo: t0,
		Neighbors: map[catalog.NeighborKind][]catalog.NeighborList{}}
	id := func(i int) string { return fmt.Sprintf("w%03d", i) }
	var all []catalog.Scored
	for i := range n {
		all = append(all, catalog.Scored{ItemID: id(i), Score: float64(n - i)})
		if i%5 != 0 {
			v := make([]float32, catalog.EmbeddingDims)
			for d := range v {
				v[d] = float32(r.NormFloat64())
			}
			b.Vectors = append(b.Vectors, catalog.ItemVector{ItemID: id(i), Vector: v})
		}
		if i%2 != 0 {
			continue
		}
		for _, kind := range []catalog.NeighborKind{catalog.CoView, catalog.CoPurchase} {
			l := catalog.NeighborList{ItemID: id(i)}
			for j := 1; j <= 1+i%7; j++ {
				l.Neighbors = append(l.Neighbors, catalog.Scored{ItemID: id((i + j) % n), Score: 1 / float64(j)})
			}
			b.Neighbors[kind] = append(b.Neighbors[kind], l)
		}
	}
	b.Popularity = []catalog.PopularityList{
		{Scope: "trending", Items: all[:3]},
		{Scope: "all:7d", Items: all},
		{Scope: "category:Home:30d", Items: all[5:9]},
	}
	return b
}

func testBulkReadsMatchSingleReads(t *testing.T, s Store) {
	ws, ok := s.(WarmStore)
	if !ok {
		t.Fatalf("%T has no bulk reads for the cache warm-up", s)
	}
	const n = 40
	items := make([]catalog.Item, n)
	for i := range items {
		items[i] = item(fmt.Sprintf("w%03d", i), 1, 1)
	}
	must(t, s.UpsertItems(ctx(t), items))
	must(t, s.PublishBuild(ctx(t), warmBuild(n)))

	count, err := ws.CountItems(ctx(t))
	if err != nil || count != n {
		t.Fatalf("CountItems = %d, %v; want %d", count, err, n)
	}
	ids := []string{"w007", "missing", "w004", "w000", "w015", "w004", "w038"}
	const k = 3
	for _, kind := range []catalog.NeighborKind{catalog.CoView, catalog.CoPurchase} {
		got, err := ws.NeighborLists(ctx(t), kind, ids, k)
		must(t, err)
		var want []catalog.NeighborList
		seen := map[string]bool{}
		for _, id := range ids {
			l, err := s.Neighbors(ctx(t), kind, id, k)
			must(t, err)
			if len(l) > 0 && !seen[id] {
				seen[id] = true
				want = append(want, catalog.NeighborList{ItemID: id, Neighbors: l})
			}
		}
		if len(want) != 3 || !reflect.DeepEqual(got, want) {
			t.Fatalf("%s NeighborLists(%v, %d):\n got %+v\nwant %+v (3 lists)", kind, ids, k, got, want)
		}
	}

	pop, err := ws.PopularLists(ctx(t), 5)
	must(t, err)
	var scopes []string
	for _, l := range pop {
		scopes = append(scopes, l.Scope)
		single, err := s.Popular(ctx(t), l.Scope, 5)
		must(t, err)
		if !reflect.DeepEqual(l.Items, single) {
			t.Fatalf("PopularLists scope %s = %+v, Popular = %+v", l.Scope, l.Items, single)
		}
	}
	if want := []string{"all:7d", "category:Home:30d", "trending"}; !reflect.DeepEqual(scopes, want) {
		t.Fatalf("PopularLists scopes %v, want %v", scopes, want)
	}

	vecs, err := ws.ItemVectors(ctx(t), ids)
	must(t, err)
	var vecIDs []string
	for _, v := range vecs {
		vecIDs = append(vecIDs, v.ItemID)
		single, err := s.ItemVector(ctx(t), v.ItemID)
		must(t, err)
		if !reflect.DeepEqual(v.Vector, single) {
			t.Fatalf("ItemVectors of %s differs from ItemVector", v.ItemID)
		}
	}
	// w000 and w015 have no vector; w004 is asked twice.
	if want := []string{"w007", "w004", "w038"}; !reflect.DeepEqual(vecIDs, want) {
		t.Fatalf("ItemVectors(%v) has %v, want %v", ids, vecIDs, want)
	}

	const near = 10
	lists, err := ws.NearestToItems(ctx(t), ids, near)
	must(t, err)
	var nearIDs []string
	for _, l := range lists {
		nearIDs = append(nearIDs, l.ItemID)
		v, err := s.ItemVector(ctx(t), l.ItemID)
		must(t, err)
		single, err := s.NearestItems(ctx(t), v, near)
		must(t, err)
		if len(l.Neighbors) != near || len(single) != near || l.Neighbors[0].ItemID != l.ItemID {
			t.Fatalf("NearestToItems of %s = %+v; want %d items, itself first", l.ItemID, l.Neighbors, near)
		}
		for i := range single {
			// The same query; only the last bits of the scores may differ
			// (NearestItems normalises its query vector again).
			if l.Neighbors[i].ItemID != single[i].ItemID || math.Abs(l.Neighbors[i].Score-single[i].Score) > 1e-5 {
				t.Fatalf("NearestToItems of %s:\n got %+v\nwant %+v (NearestItems)", l.ItemID, l.Neighbors, single)
			}
		}
	}
	if want := []string{"w007", "w004", "w038"}; !reflect.DeepEqual(nearIDs, want) {
		t.Fatalf("NearestToItems(%v) has %v, want %v", ids, nearIDs, want)
	}
}

// A build's content neighbours (Build.ContentNeighborsOf) are published
// with it as Content lists: what NearestToItems returns once it is
// served, for the items asked that have a vector.
func testContentNeighborsPublished(t *testing.T, s Store) {
	ws, ok := s.(WarmStore)
	if !ok {
		t.Fatalf("%T has no bulk reads for the cache warm-up", s)
	}
	const n, k = 40, 6
	b := warmBuild(n)
	b.ContentNeighborsOf = []string{"w007", "w004", "w000", "missing", "w004", "w038"}
	b.ContentListLen = k
	// A Content list the build carries itself is replaced.
	b.Neighbors[catalog.Content] = []catalog.NeighborList{{ItemID: "w007", Neighbors: []catalog.Scored{{ItemID: "w001", Score: 1}}}}
	for _, bad := range []func(b catalog.Build) *catalog.Build{
		func(b catalog.Build) *catalog.Build { b.Vectors = nil; return &b },
		func(b catalog.Build) *catalog.Build { b.Neighbors = nil; return &b },
		func(b catalog.Build) *catalog.Build { b.ContentListLen = 0; return &b },
		func(b catalog.Build) *catalog.Build { b.ContentListLen = catalog.MaxContentListLen + 1; return &b },
	} {
		if err := s.PublishBuild(ctx(t), bad(*b)); err == nil {
			t.Fatal("a build asking for content neighbours it cannot have was published")
		}
	}
	must(t, s.PublishBuild(ctx(t), b))

	// w000 has no vector (every fifth item), so no list.
	ids := []string{"w007", "w004", "w000", "w038", "w010"}
	got, err := ws.NeighborLists(ctx(t), catalog.Content, ids, k)
	must(t, err)
	want, err := ws.NearestToItems(ctx(t), []string{"w007", "w004", "w038"}, k)
	must(t, err)
	if len(got) != 3 || len(want) != 3 {
		t.Fatalf("content lists %+v, want those of w007, w004 and w038 (%+v)", got, want)
	}
	for i := range want {
		g, w := got[i], want[i]
		if g.ItemID != w.ItemID || len(g.Neighbors) != k || len(w.Neighbors) != k {
			t.Fatalf("content list %d: %+v, want %+v", i, g, w)
		}
		for j := range w.Neighbors {
			if g.Neighbors[j].ItemID != w.Neighbors[j].ItemID || math.Abs(g.Neighbors[j].Score-w.Neighbors[j].Score) > 1e-5 {
				t.Fatalf("content list of %s:\n got %+v\nwant %+v (NearestToItems)", g.ItemID, g.Neighbors, w.Neighbors)
			}
		}
	}
	// A new vector drops the item's list (it was computed from the old
	// one), and no other.
	v := make([]float32, catalog.EmbeddingDims)
	v[0] = 1
	must(t, s.PutItemVectors(ctx(t), []catalog.ItemVector{{ItemID: "w007", Vector: v}}))
	if l, err := s.Neighbors(ctx(t), catalog.Content, "w007", k); err != nil || len(l) != 0 {
		t.Fatalf("content list of w007 after its new vector: %+v, %v; want none", l, err)
	}
	if l, err := s.Neighbors(ctx(t), catalog.Content, "w004", k); err != nil || len(l) != k {
		t.Fatalf("content list of w004 after w007's new vector: %+v, %v; want it kept", l, err)
	}
	// The next build without content neighbours drops them, as it does
	// every list it does not carry.
	next := warmBuild(n)
	next.Version = "warm2"
	must(t, s.PublishBuild(ctx(t), next))
	if l, err := s.Neighbors(ctx(t), catalog.Content, "w007", k); err != nil || len(l) != 0 {
		t.Fatalf("content list after a build without them: %+v, %v", l, err)
	}
}

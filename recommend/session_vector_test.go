package recommend

import (
	"context"
	"maps"
	"slices"
	"testing"
	"time"

	"github.com/VictoriaMetrics/metrics"

	"github.com/recs-server/recs/catalog"
	"github.com/recs-server/recs/demo"
	"github.com/recs-server/recs/embeddings"
	"github.com/recs-server/recs/memstore"
	"github.com/recs-server/recs/session"
)

// The session vector searches the neighbourhoods of the session's items,
// not the whole catalogue: measured on the demo shop's sessions against
// the exact search of every vector, it must find nearly all the same
// items.
func TestSessionVectorFindsWhatAFullSearchFinds(t *testing.T) {
	ctx := t.Context()
	ms, e, sessions := demoSessions(t)
	found, total := 0, 0
	for _, recent := range sessions {
		got, err := e.nearestToSession(ctx, recent)
		if err != nil {
			t.Fatal(err)
		}
		want, err := ms.NearestItems(ctx, recencySum(t, ms, recent), e.cfg.ListLen)
		if err != nil {
			t.Fatal(err)
		}
		in := map[string]bool{}
		for _, sc := range got {
			in[sc.ItemID] = true
		}
		for _, sc := range want {
			if in[sc.ItemID] {
				found++
			}
		}
		total += len(want)
	}
	recall := float64(found) / float64(total)
	t.Logf("%d sessions: recall@%d against the full search %.4f", len(sessions), e.cfg.ListLen, recall)
	if recall < 0.95 {
		t.Fatalf("recall@%d %.4f against the full search, want >= 0.95", e.cfg.ListLen, recall)
	}
}

// demoSessions serves the content vectors of a demo shop of 3,000 items
// and returns 300 of its visitors' sessions of two views or more, each
// its items newest first, as the home page passes them.
func demoSessions(tb testing.TB) (*memstore.Store, *Engine, [][]session.Interaction) {
	tb.Helper()
	shop := demo.Generate(demo.Options{Items: 3000, Days: 2, Visitors: 3000})
	ctx := tb.Context()
	ms := memstore.New()
	if err := ms.UpsertItems(ctx, shop.Items); err != nil {
		tb.Fatal(err)
	}
	model := embeddings.NewContentModel(shop.Items, 1)
	vecs := make([]catalog.ItemVector, len(shop.Items))
	for i := range shop.Items {
		vecs[i] = catalog.ItemVector{ItemID: shop.Items[i].ID, Vector: model.Embed(&shop.Items[i], nil)}
	}
	if err := ms.PutItemVectors(ctx, vecs); err != nil {
		tb.Fatal(err)
	}
	// A budget long enough that no search is skipped for want of a slot
	// on a busy machine: the tests here measure what is found.
	e, err := New(Config{SourceBudget: time.Minute, ItemCache: 10_000, ListCache: 10_000, MaxVisitors: 1000}, ms, metrics.NewSet())
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(e.Close)
	views := map[string][]session.Interaction{}
	for _, ev := range shop.Events {
		if ev.Type == catalog.EventViewItem && len(ev.Items) > 0 {
			views[ev.SessionID] = append(views[ev.SessionID], session.Interaction{ItemID: ev.Items[0].ItemID, Type: ev.Type, Time: ev.Time})
		}
	}
	var sessions [][]session.Interaction
	for _, id := range slices.Sorted(maps.Keys(views)) {
		if recent := views[id]; len(recent) >= 2 {
			slices.Reverse(recent)
			if sessions = append(sessions, recent[:min(len(recent), sessionAnchors)]); len(sessions) == 300 {
				return ms, e, sessions
			}
		}
	}
	tb.Fatalf("only %d demo sessions with two views or more", len(sessions))
	return nil, nil, nil
}

// recencySum is the session vector the full search is asked for.
func recencySum(t testing.TB, ms *memstore.Store, recent []session.Interaction) []float32 {
	t.Helper()
	var sum []float32
	for i, x := range recent {
		v, err := ms.ItemVector(t.Context(), x.ItemID)
		if err != nil {
			t.Fatal(err)
		}
		if sum == nil {
			sum = make([]float32, len(v))
		}
		for j := range sum {
			sum[j] += v[j] / float32(i+1)
		}
	}
	return sum
}

// BenchmarkSessionVector is a new session vector's cost once the
// neighbourhoods and vectors of its items are cached.
func BenchmarkSessionVector(b *testing.B) {
	_, e, sessions := demoSessions(b)
	for _, recent := range sessions { // fill the caches
		if _, err := e.nearestToSession(b.Context(), recent); err != nil {
			b.Fatal(err)
		}
	}
	e.lists.Wait()
	e.vectors.Wait()
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		if _, err := e.nearestToSession(b.Context(), sessions[i%len(sessions)]); err != nil {
			b.Fatal(err)
		}
		i++
	}
}

// vectorReads counts the store's batch reads of vectors.
type vectorReads struct {
	*memstore.Store
	calls, ids int
}

func (s *vectorReads) ItemVectors(ctx context.Context, ids []string) ([]catalog.ItemVector, error) {
	s.calls++
	s.ids += len(ids)
	return s.Store.ItemVectors(ctx, ids)
}

// The vectors a session vector scores that are not cached are read in one
// store call, and cached for the next.
func TestSessionVectorReadsMissingVectorsOnce(t *testing.T) {
	ms, _, sessions := demoSessions(t)
	st := &vectorReads{Store: ms}
	e, err := New(Config{SourceBudget: time.Minute, ItemCache: 10_000, ListCache: 10_000, MaxVisitors: 1000}, st, metrics.NewSet())
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close()
	recent := sessions[0]
	first, err := e.nearestToSession(t.Context(), recent)
	if err != nil {
		t.Fatal(err)
	}
	if st.calls != 1 || st.ids < len(first) {
		t.Fatalf("%d reads of %d vectors for %d results, want one read of them all", st.calls, st.ids, len(first))
	}
	again, err := e.nearestToSession(t.Context(), recent)
	if err != nil {
		t.Fatal(err)
	}
	if st.calls != 1 {
		t.Fatalf("%d reads after a second session vector of the same items, want still 1", st.calls)
	}
	if !slices.Equal(again, first) {
		t.Fatalf("from cached vectors %v, want %v", again, first)
	}
}

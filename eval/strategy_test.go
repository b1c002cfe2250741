package eval

import (
	"context"
	"slices"
	"strings"
	"testing"

	"github.com/recs-server/recs/candidates"
	"github.com/recs-server/recs/catalog"
)

// fakeStore serves fixed tables.
type fakeStore struct {
	neighbors map[catalog.NeighborKind]map[string][]string
	popular   map[string][]string
	nearest   []string // the answer to every NearestItems call
}

func scored(ids []string) []catalog.Scored {
	out := make([]catalog.Scored, len(ids))
	for i, id := range ids {
		out[i] = catalog.Scored{ItemID: id, Score: float64(len(ids) - i)}
	}
	return out
}

func (s *fakeStore) Neighbors(_ context.Context, kind catalog.NeighborKind, id string, k int) ([]catalog.Scored, error) {
	l := s.neighbors[kind][id]
	return scored(l[:min(k, len(l))]), nil
}

func (s *fakeStore) Popular(_ context.Context, scope string, k int) ([]catalog.Scored, error) {
	l := s.popular[scope]
	return scored(l[:min(k, len(l))]), nil
}

func (s *fakeStore) NearestItems(_ context.Context, vec []float32, k int) ([]catalog.Scored, error) {
	l := s.nearest
	return scored(l[:min(k, len(l))]), nil
}

func fakeItem(id string, stock int, cat ...string) catalog.Item {
	return catalog.Item{ID: id, Title: "item " + id, Category: cat, Price: 10, Cost: 6, Stock: stock, Active: true}
}

func unitVector(i int) []float32 {
	v := make([]float32, catalog.EmbeddingDims)
	v[i] = 1
	return v
}

// fakeEnv is a small shop: tents and tea things, popularity "p1".."p6".
func fakeEnv() *Env {
	items := []catalog.Item{
		fakeItem("tent", 5, "Outdoor"), fakeItem("pegs", 5, "Outdoor"), fakeItem("stove", 0, "Outdoor"),
		fakeItem("kettle", 5, "Home"), fakeItem("teapot", 5, "Home"), fakeItem("mug", 5),
		fakeItem("p1", 5), fakeItem("p2", 5), fakeItem("p3", 5), fakeItem("p4", 5), fakeItem("p5", 5), fakeItem("p6", 5),
	}
	st := &fakeStore{
		neighbors: map[catalog.NeighborKind]map[string][]string{
			catalog.CoPurchase: {"tent": {"pegs", "stove"}, "kettle": {"teapot", "mug"}},
			catalog.CoView:     {"tent": {"stove", "mug"}, "kettle": {"mug"}, "teapot": {"kettle", "tent"}},
		},
		popular: map[string][]string{
			candidates.ScopeAll30d:              {"p1", "tent", "p2", "p3", "p4", "p5", "p6"},
			candidates.ScopeAll7d:               {"p6", "p5", "p4", "p3", "p2", "p1"},
			candidates.CategoryScope("Outdoor"): {"stove", "tent", "pegs"},
		},
		nearest: []string{"tent", "kettle", "teapot"},
	}
	b := &catalog.Build{Vectors: []catalog.ItemVector{
		{ItemID: "tent", Vector: unitVector(0)}, {ItemID: "kettle", Vector: unitVector(1)}, {ItemID: "teapot", Vector: unitVector(2)},
	}}
	return NewEnv(st, items, b, 7)
}

func recommendWith(t *testing.T, env *Env, name string, q Query, k int) ([]string, int) {
	t.Helper()
	s, err := NewStrategy(name, env)
	if err != nil {
		t.Fatal(err)
	}
	got, own, err := s.Recommend(t.Context(), &q, k, nil)
	if err != nil {
		t.Fatal(err)
	}
	return got, own
}

func TestStrategiesAnswerTheirSourceThenFillFromPopularity(t *testing.T) {
	env := fakeEnv()
	f := func(name string, q Query, k int, want string, wantOwn int) {
		t.Helper()
		got, own := recommendWith(t, env, name, q, k)
		if strings.Join(got, " ") != want || own != wantOwn {
			t.Errorf("%s(%+v, k=%d) = %v own %d, want [%s] own %d", name, q, k, got, own, want, wantOwn)
		}
	}
	tent := Query{Anchors: []string{"tent"}, Exclude: []string{"tent"}}
	f(StrategyPopularity, tent, 4, "p1 p2 p3 p4", 4)
	f(StrategyPopularity7d, tent, 3, "p6 p5 p4", 3)
	f(StrategyPopularityInCategory, tent, 4, "stove pegs p1 p2", 2)
	f(StrategyPopularityInCategory, Query{Anchors: []string{"mug"}}, 2, "p1 tent", 0) // no category: all fill
	f(StrategyCoPurchase, tent, 4, "pegs stove p1 p2", 2)
	f(StrategyCoView, tent, 3, "stove mug p1", 2)
	f(StrategyCoPurchase, Query{Anchors: []string{"mug"}}, 2, "p1 tent", 0) // no neighbours
	// Several anchors: lists summed (kettle and tent both reach nothing in
	// common, so each list's order interleaves by score).
	f(StrategyCoPurchase, Query{Anchors: []string{"tent", "kettle"}}, 4, "pegs teapot stove mug", 4)
	// Embedding never returns its anchor.
	f(StrategyEmbedding, tent, 3, "kettle teapot p1", 2)
	f(StrategyEmbedding, Query{Anchors: []string{"mug"}}, 2, "p1 tent", 0) // no vector
	f(StrategyRecentlyViewed, Query{Session: []string{"kettle", "tent", "kettle"}}, 3, "kettle tent p1", 2)
	// Exclusions apply to the fill too.
	f(StrategyPopularity, Query{Exclude: []string{"p1", "tent"}}, 2, "p2 p3", 2)
}

func TestSessionWeighsRecentItemsAndNeverReturnsTheCurrentOne(t *testing.T) {
	env := fakeEnv()
	s := &session{env: env, opt: DefaultSessionOptions()}
	s.opt.Embedding = 0
	q := Query{Anchors: []string{"teapot"}, Session: []string{"tent", "kettle", "teapot"}}
	got, own, err := s.Recommend(t.Context(), &q, 5, nil)
	if err != nil {
		t.Fatal(err)
	}
	// teapot (newest, weight 1): co-view kettle 1, tent 0.5.
	// kettle (0.5): co-view mug 0.5; co-purchase teapot (skipped), mug 0.25.
	// tent (0.25): co-purchase pegs 0.25, stove 0.125; co-view stove 0.25, mug 0.125.
	// kettle 1, mug 0.875, tent 0.5, stove 0.375, pegs 0.25.
	if want := "kettle mug tent stove pegs"; strings.Join(got, " ") != want || own != 5 {
		t.Errorf("session = %v own %d, want [%s] own 5", got, own, want)
	}
	if slices.Contains(got, "teapot") {
		t.Error("the current item was recommended")
	}
}

func TestRandomDependsOnlyOnSeedAndQuery(t *testing.T) {
	env := fakeEnv()
	q := Query{Anchors: []string{"tent"}, Exclude: []string{"tent"}}
	a, _ := recommendWith(t, env, StrategyRandom, q, 6)
	b, _ := recommendWith(t, env, StrategyRandom, q, 6)
	if !slices.Equal(a, b) || len(a) != 6 || slices.Contains(a, "tent") {
		t.Fatalf("random lists %v and %v: want equal, 6 long, without the anchor", a, b)
	}
	other := fakeEnv()
	other.Seed = 8
	c, _ := recommendWith(t, other, StrategyRandom, q, 6)
	if slices.Equal(a, c) {
		t.Errorf("seeds 7 and 8 gave the same list %v", a)
	}
}

func TestUnknownStrategyNamesTheValidOnes(t *testing.T) {
	_, err := NewStrategy("ranker", fakeEnv())
	if err == nil || !strings.Contains(err.Error(), StrategyCoPurchase) {
		t.Fatalf("err = %v", err)
	}
}

// fixedStrategy always answers the same list.
type fixedStrategy struct {
	list []string
	own  int
}

func (s fixedStrategy) Name() string { return "fixed" }

func (s fixedStrategy) Recommend(_ context.Context, _ *Query, k int, dst []string) ([]string, int, error) {
	return append(dst, s.list[:min(k, len(s.list))]...), s.own, nil
}

func TestEvaluateAveragesOverCases(t *testing.T) {
	env := fakeEnv()
	strat := fixedStrategy{list: []string{"tent", "pegs", "stove"}, own: 2}
	cases := []Case{
		{Targets: []string{"tent"}},            // hit at 1
		{Targets: []string{"mug"}},             // miss
		{Targets: []string{"stove", "kettle"}}, // hit at 3 (fill part)
	}
	res, err := Evaluate(t.Context(), env, []Strategy{strat}, cases, []int{3, 1}, 2)
	if err != nil {
		t.Fatal(err)
	}
	r := res[0]
	at1, _ := r.Get(1)
	at3, _ := r.Get(3)
	near := func(name string, got, want float64) {
		t.Helper()
		if d := got - want; d > 1e-12 || d < -1e-12 {
			t.Errorf("%s = %.6f, want %.6f", name, got, want)
		}
	}
	near("HR@1", at1.Hit, 1.0/3)
	near("HR@3", at3.Hit, 2.0/3)
	near("Recall@3", at3.Recall, (1+0+0.5)/3)
	near("MRR@3", at3.RR, (1+0+1.0/3)/3)
	near("coverage", r.Coverage, 3.0/12)
	near("out of stock", r.OutOfStock, 1.0/3) // the stove
	near("own", r.Own, 2.0/3)
	near("own hits", r.OwnHits, 1.0/2)
	near("margin", r.AvgMargin, 0.4)
	if r.ShortLists != 0 || len(r.At) != 2 || r.At[0].K != 1 {
		t.Errorf("result %+v", r)
	}
}

func TestEvaluateDoesNotDependOnWorkers(t *testing.T) {
	env := fakeEnv()
	var strats []Strategy
	for _, n := range StrategyNames() {
		if n == StrategyEngine || n == StrategyEngineUnranked {
			continue // they need a full store; the real-data tests run them
		}
		s, err := NewStrategy(n, env)
		if err != nil {
			t.Fatal(err)
		}
		strats = append(strats, s)
	}
	var cases []Case
	ids := []string{"tent", "pegs", "stove", "kettle", "teapot", "mug", "p1", "p3"}
	for i := range 500 {
		a, b, c := ids[i%len(ids)], ids[(i*3+1)%len(ids)], ids[(i*5+2)%len(ids)]
		cases = append(cases, Case{Query: Query{Anchors: []string{a}, Session: []string{c, a}, Exclude: []string{a}}, Targets: []string{b, c}})
	}
	one, err := Evaluate(t.Context(), env, strats, cases, []int{5, 10}, 1)
	if err != nil {
		t.Fatal(err)
	}
	four, err := Evaluate(t.Context(), env, strats, cases, []int{5, 10}, 4)
	if err != nil {
		t.Fatal(err)
	}
	for i := range one {
		one[i].LatencyMicros, four[i].LatencyMicros = 0, 0
		if !slices.EqualFunc(one[i].At, four[i].At, func(a, b AtK) bool { return a == b }) || one[i].Coverage != four[i].Coverage ||
			one[i].Own != four[i].Own || one[i].OutOfStock != four[i].OutOfStock {
			t.Errorf("%s: 1 worker %+v, 4 workers %+v", one[i].Strategy, one[i], four[i])
		}
	}
}

package build

import (
	"testing"

	"github.com/recs-server/recs/candidates"
	"github.com/recs-server/recs/catalog"
	"github.com/recs-server/recs/demo"
	"github.com/recs-server/recs/embeddings"
	"github.com/recs-server/recs/ranker"
)

func TestBuildOnDemoShop(t *testing.T) {
	shop := demo.Generate(demo.Options{Items: 600, Days: 30, Visitors: 1500})
	b, rep := run(t, store(t, shop.Items, shop.Events), Options{Seed: 1, CreatedAt: end})
	t.Logf("\n%s", rep)

	// The ranker learns something real: out of time, it must beat the
	// base rate and rank positives above negatives far more often than not.
	v := rep.Ranker.Validation
	if rep.Ranker.SkippedWhy != "" || v.Examples == 0 || v.LogLoss >= v.BaseLogLoss || v.AUC < 0.65 {
		t.Errorf("ranker %q: validation %v; want log loss below the base rate and AUC >= 0.65", rep.Ranker.SkippedWhy, v)
	}
	kinds := map[string]bool{}
	for _, m := range b.Models {
		kinds[m.Kind] = true
	}
	if !kinds[ranker.ModelKind] || !kinds[ranker.StatsModelKind] {
		t.Errorf("models %v: want the ranker and its item stats", kinds)
	}

	vecs := make(map[string][]float32, len(b.Vectors))
	for _, v := range b.Vectors {
		vecs[v.ItemID] = v.Vector
	}
	top := make(map[string]string)
	for _, it := range shop.Items {
		if it.Active && vecs[it.ID] == nil {
			t.Fatalf("active item %s has no vector", it.ID)
		}
		if !it.Active && vecs[it.ID] != nil {
			t.Fatalf("inactive item %s has a vector", it.ID)
		}
		if len(it.Category) > 0 {
			top[it.ID] = it.Category[0]
		}
	}

	bought := map[string]bool{}
	for _, e := range shop.Events {
		if e.Type == catalog.EventPurchase && !e.Time.Before(b.DataFrom) {
			for _, li := range e.Items {
				bought[li.ItemID] = true
			}
		}
	}
	withList := 0
	for _, l := range b.Neighbors[catalog.CoPurchase] {
		if bought[l.ItemID] {
			withList++
		}
	}
	if share := float64(withList) / float64(len(bought)); share < 0.5 {
		t.Errorf("only %d of %d purchased items have co-purchase neighbours", withList, len(bought))
	}
	if len(b.Neighbors[catalog.CoView]) < rep.ActiveItems/2 {
		t.Errorf("only %d co-view lists for %d active items", len(b.Neighbors[catalog.CoView]), rep.ActiveItems)
	}

	scopes := map[string]int{}
	for _, p := range b.Popularity {
		scopes[p.Scope] = len(p.Items)
	}
	want := []string{candidates.ScopeAll24h, candidates.ScopeAll7d, candidates.ScopeAll30d}
	for _, c := range top {
		want = append(want, candidates.CategoryScope(c))
	}
	for _, s := range want {
		if scopes[s] == 0 {
			t.Errorf("scope %s is empty", s)
		}
	}
	t.Logf("scopes: %v", scopes)

	// Vectors: an item's nearest other item mostly shares its top-level
	// category.
	same, n := 0, 0
	for i, v := range b.Vectors {
		if i%5 != 0 {
			continue
		}
		best, bestCos := "", -2.0
		for _, w := range b.Vectors {
			if w.ItemID == v.ItemID {
				continue
			}
			if c := embeddings.Cosine(v.Vector, w.Vector); c > bestCos {
				best, bestCos = w.ItemID, c
			}
		}
		n++
		if top[best] == top[v.ItemID] {
			same++
		}
	}
	if float64(same) < 0.8*float64(n) {
		t.Errorf("the nearest vector shares the top-level category for %d of %d items", same, n)
	}
}

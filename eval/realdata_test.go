package eval

import (
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/recs-server/recs/build"
	"github.com/recs-server/recs/embeddings"
)

// needData skips a test when the shared data set is missing, unless
// RECS_TEST_REQUIRE_DATA=1 (CI) makes that a failure.
func needData(t *testing.T, path string) {
	t.Helper()
	if _, err := os.Stat(path); err != nil {
		if os.Getenv("RECS_TEST_REQUIRE_DATA") == "1" {
			t.Fatalf("data set missing: %v", err)
		}
		t.Skipf("data set missing (set RECS_TEST_REQUIRE_DATA=1 to fail instead): %v", err)
	}
}

// ciOnlineRetail is the fast evaluation of Online Retail that CI runs: 30
// days of training, one item2vec epoch, 1000 sampled (order, anchor)
// pairs.
func ciOnlineRetail() Options {
	return Options{
		TrainWindow: 30 * 24 * time.Hour,
		MaxQueries:  1000,
		Build:       build.Options{Item2Vec: embeddings.Item2VecOptions{Epochs: 1}},
	}
}

// ciRetailRocket is the fast evaluation of RetailRocket that CI runs: the
// last 15000 training sessions, 1000 sampled test pairs, no item2vec (on
// so few sessions it learns next to nothing, and without metadata the
// embedding is then noise: it gets no floor here). The engine strategies
// are left out: the benchmark has views only, so no ranker is learned and
// the engine's page costs 25 ms a query of exact nearest-neighbour search
// here, too slow under the race detector; Online Retail covers them.
func ciRetailRocket() Options {
	return Options{
		MaxTrainSessions: 15000,
		MaxQueries:       1000,
		Build:            build.Options{SkipItem2Vec: true},
		Strategies:       slices.DeleteFunc(slices.Clone(sessionStrategies), func(s string) bool { return strings.HasPrefix(s, "engine") }),
	}
}

// metric reads one averaged metric by its table name.
func metric(t *testing.T, rep *Report, strategy, name string, k int) float64 {
	t.Helper()
	r := rep.Result(strategy)
	if r == nil {
		t.Fatalf("no result for %s", strategy)
	}
	s, ok := r.Get(k)
	if !ok {
		t.Fatalf("%s: no metrics at K=%d", strategy, k)
	}
	switch name {
	case "recall":
		return s.Recall
	case "ndcg":
		return s.NDCG
	case "map":
		return s.AP
	case "hit":
		return s.Hit
	case "mrr":
		return s.RR
	}
	t.Fatalf("unknown metric %q", name)
	return 0
}

// floor is one regression guard: a metric that must not drop below min.
type floor struct {
	strategy, metric string
	k                int
	min              float64
}

// checkFloors fails on any metric below its floor. The floors are about
// half of the figures the CI configuration measured when they were set
// (the runs are deterministic, so only a code change moves them): a real
// regression trips them, a small reshuffle does not.
func checkFloors(t *testing.T, rep *Report, floors []floor) {
	t.Helper()
	for _, f := range floors {
		if got := metric(t, rep, f.strategy, f.metric, f.k); got < f.min {
			t.Errorf("%s %s@%d = %.4f, below the floor %.4f", f.strategy, f.metric, f.k, got, f.min)
		}
	}
}

// beats fails unless strategy a is better than b on the metric.
func beats(t *testing.T, rep *Report, a, b, name string, k int) {
	t.Helper()
	if x, y := metric(t, rep, a, name, k), metric(t, rep, b, name, k); x <= y {
		t.Errorf("%s %s@%d = %.4f does not beat %s (%.4f)", a, name, k, x, b, y)
	}
}

func TestOnlineRetailSubsetBeatsPopularity(t *testing.T) {
	t.Parallel()
	needData(t, onlineRetailPath)
	rep, err := RunOnlineRetail(t.Context(), onlineRetailPath, ciOnlineRetail())
	if err != nil {
		t.Fatal(err)
	}
	t.Log("\n" + rep.Table())
	// Measured when set (seed 1): popularity R@20 0.054; co_purchase R@20
	// 0.066, NDCG@20 0.169, MAP@20 0.075, HR@20 0.789; session R@20 0.068;
	// embedding R@20 0.052; popularity_in_category R@20 0.053.
	checkFloors(t, rep, []floor{
		{StrategyPopularity, "recall", 20, 0.027},
		{StrategyCoPurchase, "recall", 10, 0.023},
		{StrategyCoPurchase, "recall", 20, 0.033},
		{StrategyCoPurchase, "ndcg", 20, 0.085},
		{StrategyCoPurchase, "map", 20, 0.037},
		{StrategyCoPurchase, "hit", 20, 0.40},
		{StrategySession, "recall", 20, 0.034},
		{StrategyEmbedding, "recall", 20, 0.026},
		{StrategyPopularityInCategory, "recall", 20, 0.026},
	})
	// The server's path (measured when set: engine R@20 0.071, NDCG@20
	// 0.190, MAP@20 0.088; engine_unranked R@20 0.064, NDCG@20 0.164): the
	// learned ranker must beat the unranked candidate order, and nothing
	// out of stock may be recommended.
	checkFloors(t, rep, []floor{
		{StrategyEngine, "recall", 20, 0.035},
		{StrategyEngine, "ndcg", 20, 0.095},
		{StrategyEngine, "map", 20, 0.044},
		{StrategyEngineUnranked, "recall", 20, 0.032},
	})
	for _, m := range []string{"recall", "ndcg", "map"} {
		beats(t, rep, StrategyEngine, StrategyEngineUnranked, m, 20)
	}
	for _, s := range []string{StrategyEngine, StrategyEngineUnranked} {
		if r := rep.Result(s); r.OutOfStock != 0 {
			t.Errorf("%s recommended out-of-stock items: share %.4f", s, r.OutOfStock)
		}
	}
	beats(t, rep, StrategyCoPurchase, StrategyPopularity, "recall", 20)
	beats(t, rep, StrategySession, StrategyPopularity, "recall", 20)
	beats(t, rep, StrategyPopularity, StrategyRandom, "recall", 20)
	if r := rep.Result(StrategyCoPurchase); r.Coverage < 0.4 || r.Own < 0.9 {
		t.Errorf("co_purchase coverage %.3f, own share %.3f: want >= 0.4 and >= 0.9", r.Coverage, r.Own)
	}
}

func TestRetailRocketSubsetBeatsPopularity(t *testing.T) {
	t.Parallel()
	needData(t, retailRocketDir)
	rep, err := RunRetailRocket(t.Context(), retailRocketDir, ciRetailRocket())
	if err != nil {
		t.Fatal(err)
	}
	t.Log("\n" + rep.Table())
	// Measured when set (seed 1): popularity HR@20 0.020; co_view HR@20
	// 0.176, MRR@20 0.066; session HR@10 0.188, HR@20 0.252, MRR@20
	// 0.082; recently_viewed HR@20 0.386. The embedding has no floor here
	// (no item2vec in this configuration; HR@20 0.09 on the full run).
	checkFloors(t, rep, []floor{
		{StrategyCoView, "hit", 20, 0.088},
		{StrategyCoView, "mrr", 20, 0.033},
		{StrategySession, "hit", 10, 0.094},
		{StrategySession, "hit", 20, 0.126},
		{StrategySession, "mrr", 20, 0.041},
		{StrategyRecentlyViewed, "hit", 20, 0.19},
	})
	beats(t, rep, StrategyCoView, StrategyPopularity, "hit", 20)
	beats(t, rep, StrategySession, StrategyCoView, "hit", 20)
}

// TestOnlineRetailForYouSubset: the home page's for_you for returning
// customers, through the server's path. Measured when set (seed 1, this
// configuration: 30 days of training): engine R@20 0.054, NDCG@20 0.107;
// engine_unranked R@20 0.054, NDCG@20 0.104; popularity R@20 0.068. On so
// short a window the ranker only ties the unranked order here (the full run
// is in the README), so this guards floors, not the ranker's lead.
func TestOnlineRetailForYouSubset(t *testing.T) {
	t.Parallel()
	needData(t, onlineRetailPath)
	opt := ciOnlineRetail()
	opt.Task = TaskForYou
	opt.MaxQueries = 300
	rep, err := RunOnlineRetail(t.Context(), onlineRetailPath, opt)
	if err != nil {
		t.Fatal(err)
	}
	t.Log("\n" + rep.Table())
	checkFloors(t, rep, []floor{
		{StrategyEngine, "recall", 20, 0.027},
		{StrategyEngine, "ndcg", 20, 0.053},
		{StrategyEngineUnranked, "recall", 20, 0.027},
		{StrategyPopularity, "recall", 20, 0.034},
	})
	beats(t, rep, StrategyEngine, StrategyRandom, "recall", 20)
	if r := rep.Result(StrategyEngine); r.OutOfStock != 0 {
		t.Errorf("engine recommended out-of-stock items: share %.4f", r.OutOfStock)
	}
}

// TestOnlineRetailOneMonthServesNoUnfitModel: trained on December 2010
// alone, the model predicts the later contexts it is validated on worse
// than their base rate; the build must not serve it, so the engine ranks
// no worse than the candidates' own order. Served, it was 8 % worse
// there (NDCG@20 0.1313 against 0.1435, 20,000 queries).
func TestOnlineRetailOneMonthServesNoUnfitModel(t *testing.T) {
	t.Parallel()
	needData(t, onlineRetailPath)
	opt := ciOnlineRetail()
	opt.Cutoff, opt.TrainWindow = time.Date(2011, 1, 1, 0, 0, 0, 0, time.UTC), 0
	opt.Strategies = []string{StrategyEngineUnranked, StrategyEngine}
	rep, err := RunOnlineRetail(t.Context(), onlineRetailPath, opt)
	if err != nil {
		t.Fatal(err)
	}
	t.Log("\n" + rep.Table())
	if !slices.ContainsFunc(rep.Notes, func(n string) bool { return strings.Contains(n, "serves no ranker model") }) {
		t.Errorf("the report does not say the build served no model: %q", rep.Notes)
	}
	for _, m := range []string{"recall", "ndcg", "map"} {
		if x, y := metric(t, rep, StrategyEngine, m, 20), metric(t, rep, StrategyEngineUnranked, m, 20); x < 0.98*y {
			t.Errorf("engine %s@20 = %.4f, below the unranked order's %.4f", m, x, y)
		}
	}
}

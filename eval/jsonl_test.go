package eval

import (
	"bufio"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/recs-server/recs/build"
	"github.com/recs-server/recs/catalog"
	"github.com/recs-server/recs/demo"
	"github.com/recs-server/recs/memstore"
	"github.com/recs-server/recs/ranker"
)

// writeJSONL exports a generated demo shop in the interchange format.
func writeJSONL(t *testing.T, shop *demo.Shop) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "shop.jsonl")
	f, err := os.Create(p)
	if err != nil {
		t.Fatal(err)
	}
	w := bufio.NewWriter(f)
	enc := json.NewEncoder(w)
	type item struct {
		Kind string `json:"kind"`
		catalog.Item
	}
	type event struct {
		Kind string `json:"kind"`
		catalog.Event
	}
	for _, it := range shop.Items {
		it.Synthetic = nil
		if err := enc.Encode(item{"item", it}); err != nil {
			t.Fatal(err)
		}
	}
	for _, e := range shop.Events {
		if err := enc.Encode(event{"event", e}); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Flush(); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestJSONLShopIsEvaluatedThroughTheEngine(t *testing.T) {
	t.Parallel()
	shop := demo.Generate(demo.Options{Items: 300, Days: 45, Visitors: 1500})
	path := writeJSONL(t, shop)
	for _, task := range []string{TaskBasket, TaskForYou} {
		rep, err := RunJSONL(t.Context(), path, Options{Task: task, MaxQueries: 200, Build: build.Options{SkipItem2Vec: true}})
		if err != nil {
			t.Fatal(err)
		}
		t.Logf("%s\n%s", task, rep.Table())
		if rep.Task != task || rep.Dataset != "jsonl" || !rep.Cutoff.After(rep.TrainFrom) {
			t.Fatalf("report header %+v", rep)
		}
		if task == TaskBasket { // for_you has too few customers here to compare
			beats(t, rep, StrategyEngine, StrategyRandom, "recall", 20)
		}
		if rep.Cases == 0 {
			t.Fatalf("%s: no test cases", task)
		}
		for _, s := range []string{StrategyEngine, StrategyEngineUnranked} {
			if r := rep.Result(s); r.OutOfStock != 0 {
				t.Errorf("%s %s: out-of-stock share %.4f", task, s, r.OutOfStock)
			}
		}
	}
}

func TestJSONLRejectsACutoffOutsideTheData(t *testing.T) {
	shop := demo.Generate(demo.Options{Items: 100, Days: 10, Visitors: 100})
	path := writeJSONL(t, shop)
	if _, err := RunJSONL(t.Context(), path, Options{Cutoff: time.Date(1999, 1, 1, 0, 0, 0, 0, time.UTC)}); err == nil {
		t.Fatal("want an error for a cut-off before every event")
	}
}

func TestSplitStoreKeepsTheTestPeriodFromTraining(t *testing.T) {
	shop := demo.Generate(demo.Options{Items: 100, Days: 10, Visitors: 200})
	all := memstore.New()
	if err := all.UpsertItems(t.Context(), shop.Items); err != nil {
		t.Fatal(err)
	}
	if _, err := all.AppendEvents(t.Context(), shop.Events); err != nil {
		t.Fatal(err)
	}
	cutoff := shop.Events[len(shop.Events)/2].Time
	train, test, err := splitStore(t.Context(), all, time.Time{}, cutoff)
	if err != nil {
		t.Fatal(err)
	}
	far := time.Date(9999, 1, 1, 0, 0, 0, 0, time.UTC)
	n := 0
	_ = train.ScanEvents(t.Context(), time.Time{}, far, func(e *catalog.Event) error {
		if !e.Time.Before(cutoff) {
			t.Fatalf("training store has event %s at %s, after the cut-off", e.ID, e.Time)
		}
		n++
		return nil
	})
	_ = test.ScanEvents(t.Context(), time.Time{}, far, func(e *catalog.Event) error {
		if e.Time.Before(cutoff) {
			t.Fatalf("test store has event %s before the cut-off", e.ID)
		}
		n++
		return nil
	})
	if n != len(shop.Events) {
		t.Fatalf("%d events after the split, want %d", n, len(shop.Events))
	}
}

// TestReportSaysWhichRankingRules: a run with other ranking rules or depth
// than the server's defaults says so in its notes, so its figures are
// not read as the defaults'.
func TestReportSaysWhichRankingRules(t *testing.T) {
	t.Parallel()
	path := writeJSONL(t, demo.Generate(demo.Options{Items: 300, Days: 45, Visitors: 1500}))
	rep, err := RunJSONL(t.Context(), path, Options{MaxQueries: 50, RankDepth: 50,
		Ranker: ranker.Config{Depths: map[string]int{"bought_together": 10}}, Build: build.Options{SkipItem2Vec: true}})
	if err != nil {
		t.Fatal(err)
	}
	notes := strings.Join(rep.Notes, "\n")
	for _, want := range []string{"rank 50 candidates a module", `{"depths":{"bought_together":10}}`} {
		if !strings.Contains(notes, want) {
			t.Errorf("notes %q do not say %q", notes, want)
		}
	}
	rep, err = RunJSONL(t.Context(), path, Options{MaxQueries: 50, Build: build.Options{SkipItem2Vec: true}})
	if err != nil {
		t.Fatal(err)
	}
	if notes := strings.Join(rep.Notes, "\n"); strings.Contains(notes, "ranking rules") || strings.Contains(notes, "candidates a module") {
		t.Errorf("a run with the defaults notes %q", notes)
	}
}

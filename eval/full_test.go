package eval

import (
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// TestFullRuns evaluates the whole data sets and prints the tables (and
// writes Markdown and JSON reports to RECS_EVAL_OUT when set). It takes
// minutes, so it runs only with RECS_EVAL_FULL=1:
//
//	RECS_EVAL_FULL=1 go test -run TestFullRuns -v -timeout 1h ./eval/
//
// RECS_EVAL_DATASET=online-retail or retailrocket runs one of them;
// RECS_EVAL_MAX_QUERIES and RECS_EVAL_MAX_SESSIONS subsample;
// RECS_EVAL_STRATEGIES (comma-separated) picks strategies;
// RECS_EVAL_BLEND_K, RECS_EVAL_MAX_BEHAVIOUR and RECS_EVAL_EPOCHS tune the
// build's vectors.
func TestFullRuns(t *testing.T) {
	if os.Getenv("RECS_EVAL_FULL") != "1" {
		t.Skip("set RECS_EVAL_FULL=1 to evaluate the full data sets")
	}
	opt := Options{Log: slog.New(slog.NewTextHandler(os.Stderr, nil))}
	opt.MaxQueries, _ = strconv.Atoi(os.Getenv("RECS_EVAL_MAX_QUERIES"))
	opt.MaxTrainSessions, _ = strconv.Atoi(os.Getenv("RECS_EVAL_MAX_SESSIONS"))
	if v := os.Getenv("RECS_EVAL_STRATEGIES"); v != "" {
		opt.Strategies = strings.Split(v, ",")
	}
	opt.Build.BlendK, _ = strconv.ParseFloat(os.Getenv("RECS_EVAL_BLEND_K"), 64)
	opt.Build.MaxBehaviourWeight, _ = strconv.ParseFloat(os.Getenv("RECS_EVAL_MAX_BEHAVIOUR"), 64)
	opt.Build.Item2Vec.Epochs, _ = strconv.Atoi(os.Getenv("RECS_EVAL_EPOCHS"))
	which := os.Getenv("RECS_EVAL_DATASET")
	out := os.Getenv("RECS_EVAL_OUT")
	save := func(name string, rep *Report) {
		t.Log("\n" + rep.Table())
		if out == "" {
			return
		}
		md, err := os.Create(filepath.Join(out, name+".md"))
		if err != nil {
			t.Fatal(err)
		}
		defer md.Close()
		if err := rep.WriteMarkdown(md); err != nil {
			t.Fatal(err)
		}
		js, err := os.Create(filepath.Join(out, name+".json"))
		if err != nil {
			t.Fatal(err)
		}
		defer js.Close()
		if err := rep.WriteJSON(js); err != nil {
			t.Fatal(err)
		}
	}
	if which == "" || which == "online-retail" {
		rep, err := RunOnlineRetail(t.Context(), onlineRetailPath, opt)
		if err != nil {
			t.Fatal(err)
		}
		save("online-retail", rep)
	}
	if which == "" || which == "retailrocket" {
		rep, err := RunRetailRocket(t.Context(), retailRocketDir, opt)
		if err != nil {
			t.Fatal(err)
		}
		save("retailrocket", rep)
	}
}

package main

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"strconv"

	"github.com/recs-server/recs/eval"
	"github.com/recs-server/recs/ranker"
)

func evalCmd(ctx context.Context, args []string, log *slog.Logger) error {
	fs := newFlagSet("eval")
	dataset := fs.String("dataset", "online-retail", "online-retail (basket completion or for_you), retailrocket (next item in a session), or jsonl (a shop's own export in the recs import format: basket completion or for_you)")
	data := fs.String("data", "", "the data: the Online Retail CSV(.gz) or the RetailRocket directory; default the copy in ../shared/data")
	task := fs.String("task", "basket_completion", "online-retail and jsonl: basket_completion (PDP bought_together) or for_you (home page of returning customers)")
	cutoff := fs.String("cutoff", "", "train before, test from this time (RFC 3339); default 2011-09-01T00:00:00Z for Online Retail, 80 % of the events' time span for jsonl")
	ks := fs.String("k", "10,20", "list lengths to score, comma-separated")
	seed := fs.Int("seed", 1, "seed of every random choice")
	maxQueries := fs.Int("max-queries", 0, "evaluate a seeded sample of this many queries (0: all)")
	maxTrain := fs.Int("max-train-sessions", 0, "RetailRocket: train on the most recent N sessions only (0: all)")
	rankDepth := fs.Int("rank-depth", 0, "candidates per module the engine strategies rank, as recs serve --rank-depth (0: the server's default)")
	rankerConfig := fs.String("ranker-config", "", "JSON file of ranking rules for the engine strategies, as recs serve --ranker-config (blends, filters, depths); empty: the defaults")
	jsonOut := fs.String("json", "", "also write the report as JSON to this file")
	mdOut := fs.String("markdown", "", "also write the report as Markdown to this file")
	if err := fs.parse(args); err != nil {
		return err
	}
	if *rankDepth != 0 && (*rankDepth < ranker.MinDepth || *rankDepth > ranker.MaxDepth) {
		return usageError{fmt.Sprintf("--rank-depth %d: want %d to %d candidates per module, or 0 for the server's default", *rankDepth, ranker.MinDepth, ranker.MaxDepth)}
	}
	rules, err := loadRankerConfig(*rankerConfig)
	if err != nil {
		return err
	}
	opt := eval.Options{Seed: uint64(*seed), MaxQueries: *maxQueries, MaxTrainSessions: *maxTrain, Task: *task, RankDepth: *rankDepth, Ranker: rules, Log: log}
	for _, k := range splitList(*ks) {
		n, err := strconv.Atoi(k)
		if err != nil || n < 1 || n > 1000 {
			return usageError{fmt.Sprintf("--k %q: want integers from 1 to 1000, e.g. 10,20", *ks)}
		}
		opt.K = append(opt.K, n)
	}
	if opt.Cutoff, err = parseTimeFlag("cutoff", *cutoff); err != nil {
		return err
	}
	var rep *eval.Report
	switch *dataset {
	case "online-retail":
		path := *data
		if path == "" {
			path = "../shared/data/online-retail/online_retail_2010-12_to_2011-10.csv.gz"
		}
		rep, err = eval.RunOnlineRetail(ctx, path, opt)
	case "retailrocket":
		dir := *data
		if dir == "" {
			dir = "../shared/data/retailrocket-sessions"
		}
		rep, err = eval.RunRetailRocket(ctx, dir, opt)
	case "jsonl":
		if *data == "" {
			return usageError{"--dataset jsonl needs --data, the JSON Lines file (the format of recs import)"}
		}
		rep, err = eval.RunJSONL(ctx, *data, opt)
	default:
		return usageError{fmt.Sprintf("unknown --dataset %q: want online-retail, retailrocket or jsonl", *dataset)}
	}
	if err != nil {
		return err
	}
	fmt.Print(rep.Table())
	write := func(path string, fn func(*os.File) error) error {
		if path == "" {
			return nil
		}
		f, err := os.Create(path)
		if err != nil {
			return err
		}
		if err := fn(f); err != nil {
			f.Close()
			return err
		}
		return f.Close()
	}
	if err := write(*jsonOut, func(f *os.File) error { return rep.WriteJSON(f) }); err != nil {
		return err
	}
	return write(*mdOut, func(f *os.File) error { return rep.WriteMarkdown(f) })
}

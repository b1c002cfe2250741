// Package eval is the offline evaluation harness: it splits a data set by
// time, runs the production batch build on the part before the cut-off,
// publishes it to an embedded store and replays the part after the cut-off
// as queries through the same store calls the server makes. Every strategy
// (each candidate source alone, the baselines, later the ranker) answers
// the same queries, so each figure has its comparison beside it.
//
// Two data sets are wired: the UCI Online Retail CSV (basket completion:
// given one item of a later order, find the others) and the RetailRocket
// session benchmark (next viewed item from a session prefix, the standard
// protocol). Runs are deterministic for a fixed seed.
package eval

import (
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"hash/fnv"
	"io"
	"log/slog"
	"math"
	"math/rand/v2"
	"slices"
	"strings"
	"time"

	"github.com/recs-server/recs/build"
	"github.com/recs-server/recs/catalog"
	"github.com/recs-server/recs/memstore"
	"github.com/recs-server/recs/ranker"
)

// Options configures a run. Zero values take the defaults.
type Options struct {
	// Cutoff splits Online Retail by time: the build sees only events
	// before it, the test orders are those from it on. Default
	// DefaultOnlineRetailCutoff. RetailRocket's split is fixed by the
	// benchmark (its cut-off is the first test event); it ignores this.
	Cutoff time.Time
	// TrainWindow, when positive, trains Online Retail on
	// [Cutoff-TrainWindow, Cutoff) only; default all events before the
	// cut-off. RetailRocket subsamples with MaxTrainSessions instead.
	TrainWindow time.Duration
	// K are the list lengths metrics are computed at; default 10 and 20.
	// Every strategy is asked for the largest.
	K []int
	// Seed fixes every random choice (build, random strategy,
	// subsampling); 0 means 1.
	Seed uint64
	// MaxQueries, when positive, evaluates a seeded random sample of that
	// many test cases (a fast CI run).
	MaxQueries int
	// MaxTrainSessions, when positive, keeps only the most recent
	// training sessions of RetailRocket.
	MaxTrainSessions int
	// Strategies are the built-in strategies to run, in report order;
	// default the data set's (see StrategyNames).
	Strategies []string
	// Extra strategies (e.g. the ranker) run after the built-in ones.
	Extra []NewStrategyFunc
	// Build tunes the batch build (e.g. SkipItem2Vec, Item2Vec.Epochs).
	// DataFrom, DataTo and Seed are set by the harness.
	Build build.Options
	// Task on Online Retail: TaskBasket (default) or TaskForYou.
	Task string
	// RankDepth is the engine's recommend.Config.RankDepth; 0: its
	// default.
	RankDepth int
	// Ranker is the engine's ranking rules (recs serve --ranker-config):
	// blends, filters, depths. The zero value: the defaults.
	Ranker ranker.Config
	// Workers evaluating queries in parallel; default GOMAXPROCS. Results
	// do not depend on it.
	Workers int
	Log     *slog.Logger
}

// DefaultOnlineRetailCutoff leaves September and October 2011 (the last two
// months of the file) for testing.
var DefaultOnlineRetailCutoff = time.Date(2011, 9, 1, 0, 0, 0, 0, time.UTC)

func (o Options) withDefaults() Options {
	if len(o.K) == 0 {
		o.K = []int{10, 20}
	}
	o.K = slices.Clone(o.K)
	slices.Sort(o.K)
	o.K = slices.Compact(o.K)
	if o.Seed == 0 {
		o.Seed = 1
	}
	if o.Log == nil {
		o.Log = slog.New(slog.DiscardHandler)
	}
	return o
}

func (o *Options) validate() error {
	for _, k := range o.K {
		if k <= 0 || k > 1000 {
			return fmt.Errorf("eval: K %d is out of range 1..1000", k)
		}
	}
	if o.MaxQueries < 0 || o.MaxTrainSessions < 0 || o.TrainWindow < 0 {
		return errors.New("eval: MaxQueries, MaxTrainSessions and TrainWindow must not be negative")
	}
	if o.Task != "" && o.Task != TaskBasket && o.Task != TaskForYou {
		return fmt.Errorf("eval: unknown task %q (want %s or %s)", o.Task, TaskBasket, TaskForYou)
	}
	for _, s := range o.Strategies {
		if !slices.Contains(StrategyNames(), s) {
			return fmt.Errorf("eval: unknown strategy %q (want one of %s)", s, strings.Join(StrategyNames(), ", "))
		}
	}
	return nil
}

// cutoffSource is the build's view of the training store: events at or
// after the cut-off do not exist for it, whatever window the build asks
// for. build.Options.DataTo is the first guard; this is the second.
type cutoffSource struct {
	src    build.Source
	cutoff time.Time
}

func (c cutoffSource) ScanItems(ctx context.Context, fn func(*catalog.Item) error) error {
	return c.src.ScanItems(ctx, fn)
}

func (c cutoffSource) ScanEvents(ctx context.Context, from, to time.Time, fn func(*catalog.Event) error) error {
	if to.After(c.cutoff) {
		to = c.cutoff
	}
	if !from.Before(to) {
		return nil
	}
	return c.src.ScanEvents(ctx, from, to, func(e *catalog.Event) error {
		if !e.Time.Before(c.cutoff) {
			return fmt.Errorf("eval: the store returned an event at %s, after the cut-off %s", e.Time, c.cutoff)
		}
		return fn(e)
	})
}

// trained is a published build over the training data, ready to query.
type trained struct {
	env    *Env
	build  *catalog.Build
	report *build.Report
	took   time.Duration
}

// train builds on the events of st in [from, cutoff), publishes the build
// to st and indexes the catalogue for the strategies.
func train(ctx context.Context, st *memstore.Store, from, cutoff time.Time, opt Options) (*trained, error) {
	start := time.Now()
	bopt := opt.Build
	bopt.DataFrom, bopt.DataTo, bopt.Seed = from, cutoff, opt.Seed
	b, rep, err := build.Run(ctx, cutoffSource{src: st, cutoff: cutoff}, bopt, opt.Log)
	if err != nil {
		return nil, fmt.Errorf("eval: build: %w", err)
	}
	if err := st.PublishBuild(ctx, b); err != nil {
		return nil, fmt.Errorf("eval: publish build: %w", err)
	}
	var items []catalog.Item
	err = st.ScanItems(ctx, func(it *catalog.Item) error {
		items = append(items, *it)
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("eval: read catalogue: %w", err)
	}
	store := indexedStore{Store: st, index: newExactIndex(b.Vectors)}
	env := NewEnv(store, items, b, opt.Seed)
	env.RankDepth = opt.RankDepth
	env.Ranker = opt.Ranker
	return &trained{env: env, build: b, report: rep, took: time.Since(start)}, nil
}

// strategies makes the run's strategies: opt.Strategies or the data set's
// defaults, then the extra ones.
func strategies(env *Env, opt *Options, defaults []string) ([]Strategy, error) {
	names := opt.Strategies
	if len(names) == 0 {
		names = defaults
	}
	var out []Strategy
	for _, n := range names {
		s, err := NewStrategy(n, env)
		if err != nil {
			return nil, fmt.Errorf("eval: %w", err)
		}
		out = append(out, s)
	}
	for _, f := range opt.Extra {
		s, err := f(env)
		if err != nil {
			return nil, fmt.Errorf("eval: extra strategy: %w", err)
		}
		out = append(out, s)
	}
	return out, nil
}

// sample returns a seeded random subset of n cases, in their original
// order; all of them when n <= 0 or there are no more than n.
func sample(cases []Case, n int, seed uint64) []Case {
	if n <= 0 || len(cases) <= n {
		return cases
	}
	r := rand.New(rand.NewPCG(seed, 0x5a4d504c45)) // "SAMPLE": its own stream
	idx := r.Perm(len(cases))[:n]
	slices.Sort(idx)
	out := make([]Case, n)
	for i, j := range idx {
		out[i] = cases[j]
	}
	return out
}

// digest hashes what a build serves (vectors, neighbour tables,
// popularity), not its name or creation time: equal digests mean equal
// models.
func digest(b *catalog.Build) string {
	h := fnv.New64a()
	var buf [8]byte
	str := func(s string) {
		h.Write([]byte(s))
		h.Write([]byte{0})
	}
	num := func(u uint64) {
		binary.LittleEndian.PutUint64(buf[:], u)
		h.Write(buf[:])
	}
	for _, v := range b.Vectors {
		str(v.ItemID)
		for _, x := range v.Vector {
			num(uint64(math.Float32bits(x)))
		}
	}
	kinds := make([]string, 0, len(b.Neighbors))
	for k := range b.Neighbors {
		kinds = append(kinds, string(k))
	}
	slices.Sort(kinds)
	for _, k := range kinds {
		str(k)
		for _, l := range b.Neighbors[catalog.NeighborKind(k)] {
			str(l.ItemID)
			for _, n := range l.Neighbors {
				str(n.ItemID)
				num(math.Float64bits(n.Score))
			}
		}
	}
	for _, l := range b.Popularity {
		str(l.Scope)
		for _, n := range l.Items {
			str(n.ItemID)
			num(math.Float64bits(n.Score))
		}
	}
	return fmt.Sprintf("%016x", h.Sum64())
}

// newReport fills the fields every data set shares.
func newReport(dataset, source, task string, from, cutoff time.Time, tr *trained, opt *Options) *Report {
	var notes []string
	if opt.RankDepth != 0 {
		notes = append(notes, fmt.Sprintf("engine strategies rank %d candidates a module (--rank-depth)", opt.RankDepth))
	}
	if rules, err := json.Marshal(opt.Ranker); err == nil && string(rules) != "{}" {
		notes = append(notes, "engine strategies' ranking rules (--ranker-config): "+string(rules))
	}
	if why := tr.report.Ranker.SkippedWhy; why != "" {
		notes = append(notes, "the build serves no ranker model, so engine ranks by the candidates' fused order: "+why)
	}
	return &Report{
		Notes:          notes,
		Dataset:        dataset,
		Source:         source,
		Task:           task,
		Cutoff:         cutoff.UTC(),
		TrainFrom:      from.UTC(),
		BuildVersion:   tr.build.Version,
		BuildDigest:    digest(tr.build),
		BuildCreatedAt: tr.build.CreatedAt,
		Seed:           opt.Seed,
		K:              opt.K,
		CatalogItems:   tr.env.ActiveItems(),
		TrainEvents:    tr.report.History.Events,
	}
}

// evaluateInto runs the strategies on the cases and completes the report.
func evaluateInto(ctx context.Context, rep *Report, tr *trained, cases []Case, opt *Options, defaults []string) error {
	strats, err := strategies(tr.env, opt, defaults)
	if err != nil {
		return err
	}
	rep.CasesTotal = len(cases)
	cases = sample(cases, opt.MaxQueries, opt.Seed)
	rep.Cases = len(cases)
	if len(cases) == 0 {
		return errors.New("eval: no test cases")
	}
	defer func() {
		for _, s := range strats {
			if c, ok := s.(io.Closer); ok {
				c.Close()
			}
		}
	}()
	start := time.Now()
	res, err := Evaluate(ctx, tr.env, strats, cases, opt.K, opt.Workers)
	if err != nil {
		return err
	}
	rep.Results = res
	rep.Timings.Eval = time.Since(start).Seconds()
	rep.Timings.Build = tr.took.Seconds()
	opt.Log.Info("eval done", "dataset", rep.Dataset, "cases", len(cases), "strategies", len(strats), "took", time.Since(start))
	return nil
}

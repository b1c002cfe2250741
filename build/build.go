// Package build is the batch job behind `recs build`: it reads the catalogue
// and the events of a window once, and derives everything the server serves
// from precomputed data: item vectors (content blended with item2vec),
// co-purchase and co-view neighbour tables, popularity lists and the
// content model that embeds new items between builds. It does no writing:
// the caller publishes the result with the store's atomic PublishBuild.
package build

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"hash/fnv"
	"log/slog"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/recs-server/recs/candidates"
	"github.com/recs-server/recs/catalog"
	"github.com/recs-server/recs/embeddings"
	"github.com/recs-server/recs/ranker"
)

// Source is what the build reads: the catalogue and a window of events,
// each scanned once in order (items by id, events by time). The build keeps
// nothing passed to fn after it returns (it copies), so a source may reuse
// its structs.
type Source interface {
	ScanItems(ctx context.Context, fn func(*catalog.Item) error) error
	ScanEvents(ctx context.Context, from, to time.Time, fn func(*catalog.Event) error) error
}

// LatestEventTimer is an optional extension of Source: the time of the
// newest stored event, used to default Options.DataTo without a scan.
// Sources without it get a scan that only looks at event times.
type LatestEventTimer interface {
	LatestEventTime(ctx context.Context) (time.Time, error)
}

// DefaultWindow is the length of the event window when DataFrom is unset.
const DefaultWindow = 180 * 24 * time.Hour

// Options configures a build. Zero values take the defaults; with the same
// options and data a build gives the same result (Item2Vec.Workers > 1
// aside).
type Options struct {
	// DataFrom and DataTo bound the events read: [DataFrom, DataTo).
	// DataTo is also "now" for every decay. Defaults: DataTo the newest
	// event's time + 1s, DataFrom DataTo - DefaultWindow.
	DataFrom, DataTo time.Time
	// Version names the build; default "b-" + DataTo (UTC, to the second)
	// + "-" + a short hash of the options, e.g. "b-20111031T173501Z-4f1c9a2e".
	Version string
	// CreatedAt is recorded in the build; default time.Now().
	CreatedAt time.Time
	// Seed fixes every random choice (projection, item2vec).
	Seed uint64
	// TopN neighbours per item in both tables; default 50.
	TopN int
	// HalfLife of co-occurrence decay; default 30 days, negative disables.
	HalfLife time.Duration
	// SkipItem2Vec builds content vectors only.
	SkipItem2Vec bool
	// Item2Vec tunes the behavioural embeddings; its Seed defaults to
	// Seed. One worker by default (deterministic).
	Item2Vec embeddings.Item2VecOptions
	// An item with n behavioural events gets behaviour weight
	// n/(n+BlendK), at most MaxBehaviourWeight; defaults
	// embeddings.DefaultBlendK and embeddings.DefaultMaxBehaviourWeight
	// (set 1 for no cap).
	BlendK, MaxBehaviourWeight float64
	// CoOccurrence and Popularity tune those stages; TopN and HalfLife
	// above override the fields of the same name when set.
	CoOccurrence candidates.CoOptions
	Popularity   candidates.PopularityOptions
	// Ranker tunes the purchase-probability model.
	Ranker RankerOptions
	// ContentLists is how many items get their content neighbours (the
	// nearest items by vector) computed when the build is published, most
	// viewed first, so that serving reads them as a list instead of
	// running a vector search per item; default DefaultContentLists,
	// negative for none. ContentListLen is each list's length; default
	// DefaultContentListLen (the server's --list-len default).
	ContentLists, ContentListLen int
}

// Defaults of Options.ContentLists and ContentListLen. Publishing 100,000
// lists costs about as many HNSW searches on PostgreSQL, once per build.
const (
	DefaultContentLists   = 100_000
	DefaultContentListLen = 100
)

// Report says what a build read and made, and how long each stage took.
type Report struct {
	Version          string
	DataFrom, DataTo time.Time

	Items, ActiveItems int
	History            candidates.Stats
	Sequences          int // item2vec training sequences
	ContentTokens      int // tokens with a learned IDF
	Vectors            int // items with a vector (active items)
	BehaviourVectors   int // of those, with an item2vec part
	CoPurchaseLists    int
	CoViewLists        int
	PopularityScopes   int
	StatsItems         int // items with ranker statistics
	Ranker             RankerReport

	Read, Content, Item2Vec, Cooccurrence, Popularity, RankerTime, Total time.Duration
}

// String is a multi-line summary for progress output.
func (r *Report) String() string {
	var b strings.Builder
	h := &r.History
	fmt.Fprintf(&b, "build %s: events [%s, %s)\n", r.Version, r.DataFrom.UTC().Format(time.RFC3339), r.DataTo.UTC().Format(time.RFC3339))
	fmt.Fprintf(&b, "  read         %8s  %d items (%d active), %d events (%d outside window, %d ignored), %d lines, %d unknown-item lines\n",
		round(r.Read), r.Items, r.ActiveItems, h.Events, h.OutsideWindow, h.Ignored, h.Lines, h.UnknownItemLines)
	fmt.Fprintf(&b, "                         %d sessions, %d visits, %d orders, %d refunded lines, %d unmatched refund lines\n",
		h.Sessions, h.Visits, h.Orders, h.RefundedLines, h.UnmatchedRefunds)
	fmt.Fprintf(&b, "  content      %8s  %d vectors, %d tokens with IDF\n", round(r.Content), r.Vectors, r.ContentTokens)
	fmt.Fprintf(&b, "  item2vec     %8s  %d sequences, %d items with behaviour\n", round(r.Item2Vec), r.Sequences, r.BehaviourVectors)
	fmt.Fprintf(&b, "  cooccurrence %8s  %d co-purchase lists, %d co-view lists\n", round(r.Cooccurrence), r.CoPurchaseLists, r.CoViewLists)
	fmt.Fprintf(&b, "  popularity   %8s  %d scopes\n", round(r.Popularity), r.PopularityScopes)
	if r.Ranker.SkippedWhy != "" {
		fmt.Fprintf(&b, "  ranker       %8s  no model: %s\n", round(r.RankerTime), r.Ranker.SkippedWhy)
	} else {
		fmt.Fprintf(&b, "  ranker       %8s  %d contexts (%.0f candidates each) after %s; validation %s\n", round(r.RankerTime),
			r.Ranker.Contexts, r.Ranker.CandidatesPerQuery, r.Ranker.Cutoff.UTC().Format(time.DateOnly), r.Ranker.Validation)
	}
	fmt.Fprintf(&b, "  total        %8s", round(r.Total))
	return b.String()
}

func round(d time.Duration) time.Duration {
	if d >= time.Second {
		return d.Round(time.Millisecond)
	}
	return d.Round(time.Microsecond)
}

// ErrNoItems is returned when the catalogue is empty: there is nothing to
// build for.
var ErrNoItems = errors.New("the catalogue has no items")

// Run reads the catalogue and the events of the window from src and
// computes a build. Events outside [DataFrom, DataTo) are never read.
func Run(ctx context.Context, src Source, opt Options, log *slog.Logger) (*catalog.Build, *Report, error) {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	start := time.Now()
	opt, err := resolve(ctx, src, opt)
	if err != nil {
		return nil, nil, err
	}
	rep := &Report{Version: opt.Version, DataFrom: opt.DataFrom, DataTo: opt.DataTo}
	log.Info("build started", "version", opt.Version, "from", opt.DataFrom, "to", opt.DataTo)

	// Read: items, then the window's events, once.
	stage := time.Now()
	var items []catalog.Item
	err = src.ScanItems(ctx, func(it *catalog.Item) error {
		c := *it
		c.Category = slices.Clone(it.Category)
		c.Attributes = maps.Clone(it.Attributes)
		c.IncompatibleWith, c.Synthetic = nil, nil // not used here
		items = append(items, c)
		return nil
	})
	if err != nil {
		return nil, nil, fmt.Errorf("read items: %w", err)
	}
	if len(items) == 0 {
		return nil, nil, ErrNoItems
	}
	slices.SortFunc(items, func(a, b catalog.Item) int { return cmp.Compare(a.ID, b.ID) })
	items = slices.CompactFunc(items, func(a, b catalog.Item) bool { return a.ID == b.ID })
	rep.Items = len(items)
	for i := range items {
		if items[i].Active {
			rep.ActiveItems++
		}
	}
	hist := candidates.NewHistory(items, opt.DataFrom, opt.DataTo)
	stats := ranker.NewStatsBuilder(opt.DataTo)
	err = src.ScanEvents(ctx, opt.DataFrom, opt.DataTo, func(e *catalog.Event) error {
		hist.Add(e)
		stats.Add(e)
		return nil
	})
	if err != nil {
		return nil, nil, fmt.Errorf("read events: %w", err)
	}
	hist.Finish()
	rep.History = hist.Stats()
	rep.Read = time.Since(stage)
	log.Info("build read", "items", rep.Items, "events", rep.History.Events, "orders", rep.History.Orders, "visits", rep.History.Visits, "took", rep.Read)

	// Content vectors for every item (inactive ones too: they may come back
	// and the blend needs them), and the model that embeds new items.
	stage = time.Now()
	model := embeddings.NewContentModel(items, opt.Seed)
	blob, err := model.MarshalBinary()
	if err != nil {
		return nil, nil, fmt.Errorf("serialise content model: %w", err)
	}
	const dims = catalog.EmbeddingDims
	content := make([]float32, 0, len(items)*dims)
	for i := range items {
		content = model.Embed(&items[i], content)
	}
	rep.ContentTokens = model.Tokens()
	rep.Content = time.Since(stage)
	log.Info("build content vectors", "items", len(items), "tokens", rep.ContentTokens, "took", rep.Content)
	if err := ctx.Err(); err != nil {
		return nil, nil, err
	}

	// Behavioural vectors, blended in by how much history each item has.
	stage = time.Now()
	var behaviour [][]float32
	var counts []int
	if !opt.SkipItem2Vec {
		seqs := hist.Sequences(opt.CoOccurrence.MaxBasket)
		rep.Sequences = len(seqs)
		counts = embeddings.Item2VecCounts(seqs, len(items))
		behaviour = embeddings.TrainItem2Vec(seqs, len(items), opt.Item2Vec)
	}
	vectors := make([]catalog.ItemVector, 0, rep.ActiveItems)
	blended := make([]float32, 0, rep.ActiveItems*dims)
	for i := range items {
		if !items[i].Active {
			continue
		}
		c := content[i*dims : (i+1)*dims]
		var b []float32
		n := 0
		if behaviour != nil && behaviour[i] != nil {
			b, n = behaviour[i], counts[i]
			rep.BehaviourVectors++
		}
		k := len(blended)
		w := min(embeddings.BehaviourWeight(n, opt.BlendK), opt.MaxBehaviourWeight)
		blended = embeddings.BlendWeighted(c, b, w, blended)
		vectors = append(vectors, catalog.ItemVector{ItemID: items[i].ID, Vector: blended[k : k+dims : k+dims]})
	}
	rep.Vectors = len(vectors)
	rep.Item2Vec = time.Since(stage)
	log.Info("build item2vec", "skipped", opt.SkipItem2Vec, "sequences", rep.Sequences, "with_behaviour", rep.BehaviourVectors, "took", rep.Item2Vec)
	if err := ctx.Err(); err != nil {
		return nil, nil, err
	}

	stage = time.Now()
	coPurchase := hist.CoPurchase(opt.CoOccurrence)
	coView := hist.CoView(opt.CoOccurrence)
	rep.CoPurchaseLists, rep.CoViewLists = len(coPurchase), len(coView)
	rep.Cooccurrence = time.Since(stage)
	log.Info("build co-occurrence", "co_purchase_lists", rep.CoPurchaseLists, "co_view_lists", rep.CoViewLists, "took", rep.Cooccurrence)
	if err := ctx.Err(); err != nil {
		return nil, nil, err
	}

	stage = time.Now()
	pop := hist.Popularity(opt.Popularity)
	rep.PopularityScopes = len(pop)
	rep.Popularity = time.Since(stage)
	log.Info("build popularity", "scopes", rep.PopularityScopes, "took", rep.Popularity)

	// The ranker: item statistics for serving, and the model learned on
	// the end of the window.
	stage = time.Now()
	st := stats.Stats()
	rep.StatsItems = st.Len()
	statsBlob, err := st.MarshalBinary()
	if err != nil {
		return nil, nil, fmt.Errorf("serialise item stats: %w", err)
	}
	models := []catalog.Model{{Kind: embeddings.ContentModelKind, Blob: blob}, {Kind: ranker.StatsModelKind, Blob: statsBlob}}
	if !opt.Ranker.Skip {
		m, rr, err := trainRanker(ctx, src, items, content, opt, log)
		if err != nil {
			return nil, nil, err
		}
		rep.Ranker = rr
		if m != nil {
			mb, err := m.MarshalBinary()
			if err != nil {
				return nil, nil, fmt.Errorf("serialise ranker: %w", err)
			}
			models = append(models, catalog.Model{Kind: ranker.ModelKind, Blob: mb})
		} else {
			log.Warn("build serves no ranker model; the server ranks by candidate order", "why", rr.SkippedWhy)
		}
	} else {
		rep.Ranker.SkippedWhy = "skipped by option"
	}
	rep.RankerTime = time.Since(stage)

	// Every part non-nil, so publishing replaces the previous build's.
	if coPurchase == nil {
		coPurchase = []catalog.NeighborList{}
	}
	if coView == nil {
		coView = []catalog.NeighborList{}
	}
	b := &catalog.Build{
		Version:   opt.Version,
		CreatedAt: opt.CreatedAt,
		DataFrom:  opt.DataFrom,
		DataTo:    opt.DataTo,
		Vectors:   vectors,
		Neighbors: map[catalog.NeighborKind][]catalog.NeighborList{
			catalog.CoPurchase: coPurchase,
			catalog.CoView:     coView,
		},
		Popularity:         pop,
		Models:             models,
		ContentNeighborsOf: contentListItems(vectors, st, opt.ContentLists),
		ContentListLen:     opt.ContentListLen,
	}
	rep.Total = time.Since(start)
	log.Info("build done", "version", opt.Version, "took", rep.Total)
	return b, rep, nil
}

// CheckContentListLen says what is wrong with n as a content list's
// length (Options.ContentListLen once its default is applied).
func CheckContentListLen(n int) error {
	if n < 1 || n > catalog.MaxContentListLen {
		return fmt.Errorf("content list length must be 1 to %d, got %d", catalog.MaxContentListLen, n)
	}
	return nil
}

// resolve fills the defaults of opt, reading the newest event time from src
// when DataTo is unset.
func resolve(ctx context.Context, src Source, opt Options) (Options, error) {
	if opt.DataTo.IsZero() {
		latest, err := latestEventTime(ctx, src, opt.DataFrom)
		if err != nil {
			return opt, fmt.Errorf("find the newest event: %w", err)
		}
		if latest.IsZero() {
			latest = time.Now()
		}
		opt.DataTo = latest.Truncate(time.Second).Add(time.Second)
	}
	opt.DataTo = opt.DataTo.UTC()
	if opt.DataFrom.IsZero() {
		opt.DataFrom = opt.DataTo.Add(-DefaultWindow)
	}
	opt.DataFrom = opt.DataFrom.UTC()
	if !opt.DataFrom.Before(opt.DataTo) {
		return opt, fmt.Errorf("empty event window [%s, %s): DataFrom must be before DataTo", opt.DataFrom.Format(time.RFC3339), opt.DataTo.Format(time.RFC3339))
	}
	if opt.TopN > 0 {
		opt.CoOccurrence.TopN = opt.TopN
	}
	if opt.HalfLife != 0 {
		opt.CoOccurrence.HalfLife = opt.HalfLife
	}
	if opt.Item2Vec.Seed == 0 {
		opt.Item2Vec.Seed = opt.Seed
	}
	if opt.BlendK <= 0 {
		opt.BlendK = embeddings.DefaultBlendK
	}
	if opt.MaxBehaviourWeight <= 0 {
		opt.MaxBehaviourWeight = embeddings.DefaultMaxBehaviourWeight
	}
	if opt.ContentLists == 0 {
		opt.ContentLists = DefaultContentLists
	}
	if opt.ContentListLen == 0 {
		opt.ContentListLen = DefaultContentListLen
	}
	if err := CheckContentListLen(opt.ContentListLen); err != nil {
		return opt, err
	}
	if opt.Version == "" {
		opt.Version = defaultVersion(opt)
	}
	if err := catalog.CheckID("build version", opt.Version); err != nil {
		return opt, err
	}
	if opt.CreatedAt.IsZero() {
		opt.CreatedAt = time.Now()
	}
	opt.CreatedAt = opt.CreatedAt.UTC()
	return opt, nil
}

// defaultVersion derives the version from the window and the options
// that change the output, so equal inputs give equal names.
func defaultVersion(opt Options) string {
	h := fnv.New32a()
	co := opt.CoOccurrence
	co.Workers = 0 // does not change the result
	fmt.Fprintf(h, "%d|%d|%d|%t|%+v|%g|%g|%+v|%+v", opt.DataFrom.UnixNano(), opt.DataTo.UnixNano(), opt.Seed,
		opt.SkipItem2Vec, opt.Item2Vec, opt.BlendK, opt.MaxBehaviourWeight, co, opt.Popularity)
	return fmt.Sprintf("b-%s-%08x", opt.DataTo.UTC().Format("20060102T150405Z"), h.Sum32())
}

// latestEventTime asks src for its newest event time, or scans for it
// (from DataFrom when set) when src cannot say.
func latestEventTime(ctx context.Context, src Source, from time.Time) (time.Time, error) {
	if l, ok := src.(LatestEventTimer); ok {
		return l.LatestEventTime(ctx)
	}
	if from.IsZero() {
		from = time.Unix(0, 0)
	}
	var latest time.Time
	err := src.ScanEvents(ctx, from, time.Date(9999, 1, 1, 0, 0, 0, 0, time.UTC), func(e *catalog.Event) error {
		if e.Time.After(latest) {
			latest = e.Time
		}
		return nil
	})
	return latest, err
}

// contentListItems is the items of vectors that get content neighbours
// at publication: the n most viewed in the window (then purchased, then
// by id), the items a visitor's product pages and session vectors ask
// for most.
func contentListItems(vectors []catalog.ItemVector, st *ranker.Stats, n int) []string {
	if n <= 0 {
		return nil
	}
	ids := make([]string, len(vectors))
	for i, v := range vectors {
		ids[i] = v.ItemID
	}
	if len(ids) > n {
		slices.SortStableFunc(ids, func(a, b string) int {
			sa, sb := st.Get(a), st.Get(b)
			return cmp.Or(cmp.Compare(sb.Views, sa.Views), cmp.Compare(sb.Purchases, sa.Purchases), cmp.Compare(a, b))
		})
		ids = ids[:n]
	}
	return ids
}

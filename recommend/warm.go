package recommend

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"slices"
	"sync"
	"time"

	"github.com/VictoriaMetrics/metrics"

	"github.com/recs-server/recs/cache"
	"github.com/recs-server/recs/candidates"
	"github.com/recs-server/recs/catalog"
	"github.com/recs-server/recs/ranker"
)

// The warm-up. A freshly started server (or one that has just picked up
// a new build, which empties the list cache) would send every first
// request's reads to the store: at 500 req/s that queued hundreds of
// point queries and HNSW searches on PostgreSQL and took the first
// seconds' p99 past a second. Instead, when the engine starts serving a
// build it loads, in a few bulk queries on one connection at a time, what
// the first minute will read: the catalogue into the item cache, every
// popularity list the engine reads, and the neighbour lists, content
// neighbours and vectors of the most popular items.

// WarmStore is the bulk reads of the warm-up; both stores have them. A
// store without them is served with cold caches.
type WarmStore interface {
	CountItems(ctx context.Context) (int, error)
	ScanItems(ctx context.Context, fn func(*catalog.Item) error) error
	Items(ctx context.Context, ids []string) ([]catalog.Item, error)
	NeighborLists(ctx context.Context, kind catalog.NeighborKind, ids []string, k int) ([]catalog.NeighborList, error)
	PopularLists(ctx context.Context, k int) ([]catalog.PopularityList, error)
	ItemVectors(ctx context.Context, ids []string) ([]catalog.ItemVector, error)
	NearestToItems(ctx context.Context, ids []string, k int) ([]catalog.NeighborList, error)
}

// connWarmer is a store that can open and prepare its connections ahead
// of load, with that many nearest-vector searches on each.
type connWarmer interface {
	WarmConns(ctx context.Context, searches int) (int, error)
}

// WarmConfig turns the warm-up on and tunes it.
type WarmConfig struct {
	// Items is how many of the most popular items (by the build's item
	// statistics) get their content neighbours loaded (a vector search
	// each); 0 turns the warm-up off. Their co-view and co-purchase lists
	// and vectors are loaded for more items: as many as a quarter of the
	// list cache holds (see warmCounts).
	Items int
	// ReadyWait is how long Warming reports the first warm-up as under
	// way, so readiness waits for it; 0: readiness does not wait. Later
	// warm-ups (new builds) never hold readiness: every replica picks up
	// a build at about the same time.
	ReadyWait time.Duration
	// Log gets one line per warm-up: what it loaded and how long it took.
	Log *slog.Logger
}

// Bulk query sizes: large enough for few round trips, small enough that
// one query holds a connection briefly and a superseded warm-up stops
// soon. Content neighbours are one index search per item, so fewer.
const (
	warmItemBatch = 5000
	warmListBatch = 2000
	// At 1,000,000 items (an index 2x larger than shared_buffers) 200
	// searches took over the store's 5 s bound on a query.
	warmNearestBatch = 50
	// warmStartWorkers is how many content-neighbour queries the warm-up
	// at start runs at once, at most (each holds a search slot, and there
	// are Config.VectorSearches): the server takes no traffic until it
	// ends.
	warmStartWorkers = 4
	// warmConnSearches is how many vector searches the warm-up at start
	// runs on each of the store's search connections while readiness
	// waits (else one: the connections are held meanwhile). At 100,000
	// items, cold start at 500 req/s, when every read connection searched:
	// 12 a connection, p99 of the first 10 s 193 ms; 32, 12-14 ms. At
	// 1,000,000 items a connection's searches took 14 ms at first and
	// about 3 ms after 100.
	warmConnSearches = 300
)

// WarmReport says what one warm-up loaded.
type WarmReport struct {
	Build string
	Conns int // store connections open, when the store has a pool
	// ConnsTook is how long opening and preparing them took.
	ConnsTook time.Duration
	Items     int // items cached
	Lists     int // candidate lists cached (popularity, neighbours, content)
	Vectors   int // item vectors cached (an item without one counts too)
	Queries   int // bulk store queries
	Took      time.Duration
}

// errSuperseded ends a warm-up whose build is no longer served.
var errSuperseded = errors.New("a newer build is served")

// warmer runs one warm-up at a time, in the background.
type warmer struct {
	cfg  WarmConfig
	log  *slog.Logger
	runs func(result string) *metrics.Counter
	// loaded counts what warm-ups cached, by what.
	items, lists, vectors, queries *metrics.Counter
	duration, running              *metrics.Gauge

	mu      sync.Mutex
	version string             // the build warmed or being warmed
	cancel  context.CancelFunc // of the running warm-up
	done    chan struct{}      // closed when the running warm-up ends
	closed  bool
	// itemsWarm: the item cache was filled; it survives builds.
	itemsWarm bool
	// firstStart is when the first warm-up began; settled is set when a
	// warm-up has ended (done or failed), after which readiness never
	// waits again.
	firstStart time.Time
	settled    bool
	// categories are the catalogue's top-level categories, seen when
	// the items were loaded.
	categories []string
	// catalogue is every item id, when the warm-up at start read the
	// catalogue whole: a later build's warm-up covers the items without
	// statistics too.
	catalogue []string
}

func newWarmer(cfg WarmConfig, set *metrics.Set) *warmer {
	log := cfg.Log
	if log == nil {
		log = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	return &warmer{
		cfg: cfg, log: log,
		runs: func(result string) *metrics.Counter {
			return set.GetOrCreateCounter(`recs_warm_runs_total{result="` + result + `"}`)
		},
		items:    set.GetOrCreateCounter(`recs_warm_loaded_total{what="items"}`),
		lists:    set.GetOrCreateCounter(`recs_warm_loaded_total{what="lists"}`),
		vectors:  set.GetOrCreateCounter(`recs_warm_loaded_total{what="vectors"}`),
		queries:  set.GetOrCreateCounter(`recs_warm_queries_total`),
		duration: set.GetOrCreateGauge(`recs_warm_duration_seconds`, nil),
		running:  set.GetOrCreateGauge(`recs_warm_running`, nil),
	}
}

// Warming reports whether readiness should wait: the first warm-up since
// start is under way and has run for less than WarmConfig.ReadyWait.
func (e *Engine) Warming() bool {
	w := e.warm
	if w.cfg.Items <= 0 || w.cfg.ReadyWait <= 0 {
		return false
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	return !w.firstStart.IsZero() && !w.settled && time.Since(w.firstStart) < w.cfg.ReadyWait
}

// startWarm starts warming the caches for a build the engine now serves,
// in the background, stopping a warm-up of an older build first. ctx
// passes its values only: the warm-up outlives the call that found the
// build, and stops when a newer build supersedes it or the engine closes.
func (e *Engine) startWarm(ctx context.Context, version string) {
	w := e.warm
	if w.cfg.Items <= 0 {
		return
	}
	if _, ok := e.store.(WarmStore); !ok {
		w.log.Warn("the store has no bulk reads: serving with cold caches", "store", fmt.Sprintf("%T", e.store))
		return
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.closed || w.version == version {
		return
	}
	if w.cancel != nil {
		w.cancel()
	}
	prev := w.done
	wctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	done := make(chan struct{})
	w.version, w.cancel, w.done = version, cancel, done
	if w.firstStart.IsZero() {
		w.firstStart = time.Now()
	}
	go func() {
		defer close(done)
		defer cancel()
		if prev != nil {
			<-prev // one at a time: the old one stops at its next query
		}
		w.running.Set(1)
		defer w.running.Set(0)
		rep, err := e.warmBuild(wctx, version)
		w.report(rep, err)
	}()
}

func (w *warmer) report(rep WarmReport, err error) {
	superseded := errors.Is(err, errSuperseded) || errors.Is(err, context.Canceled)
	if !superseded {
		// First: whoever sees the run counted must see readiness free.
		w.mu.Lock()
		w.settled = true
		w.mu.Unlock()
	}
	w.items.Add(rep.Items)
	w.lists.Add(rep.Lists)
	w.vectors.Add(rep.Vectors)
	w.queries.Add(rep.Queries)
	attrs := []any{"build", rep.Build, "conns", rep.Conns, "conns_took", rep.ConnsTook.Round(time.Millisecond), "items", rep.Items, "lists", rep.Lists, "vectors", rep.Vectors,
		"queries", rep.Queries, "took", rep.Took.Round(time.Millisecond)}
	switch {
	case superseded:
		w.runs("superseded").Inc()
		w.log.Info("cache warm-up stopped: a newer build is served, or the server stops", attrs...)
	case err != nil:
		w.runs("failed").Inc()
		w.log.Warn("cache warm-up failed; the caches fill on demand", append(attrs, "err", err)...)
	default:
		w.runs("done").Inc()
		w.duration.Set(rep.Took.Seconds())
		w.log.Info("warmed caches", attrs...)
	}
}

// stopWarm stops a running warm-up and waits for it: the caches it fills
// close next.
func (e *Engine) stopWarm() {
	w := e.warm
	w.mu.Lock()
	w.closed = true
	if w.cancel != nil {
		w.cancel()
	}
	done := w.done
	w.mu.Unlock()
	if done != nil {
		<-done
	}
}

// warmBuild loads the caches for one build, most used first: the
// popularity lists (every request reads some), the items, then the
// neighbour lists, vectors and content neighbours of the most popular
// items. It stops with errSuperseded when the engine moves on to
// another build.
func (e *Engine) warmBuild(ctx context.Context, version string) (WarmReport, error) {
	start := time.Now()
	rep := WarmReport{Build: version}
	ws, ok := e.store.(WarmStore)
	if !ok {
		return rep, fmt.Errorf("%T has no bulk reads", e.store)
	}
	w := e.warm
	current := func() error {
		if err := ctx.Err(); err != nil {
			return err
		}
		if e.ModelVersion() != version {
			return errSuperseded
		}
		return nil
	}
	err := func() error {
		pop, popGen, err := e.warmPopular(ctx, ws, &rep)
		if err != nil {
			return err
		}
		w.mu.Lock()
		itemsWarm, catalogue := w.itemsWarm, w.catalogue
		w.mu.Unlock()
		order := appendMissing(popularFirst(e.rank.Load().Stats(), pop), catalogue)
		if !itemsWarm {
			if cw, ok := e.store.(connWarmer); ok {
				start := time.Now()
				searches := 1
				if w.cfg.ReadyWait > 0 {
					searches = warmConnSearches
				}
				rep.Conns, err = cw.WarmConns(ctx, searches)
				rep.ConnsTook = time.Since(start)
				if err != nil {
					return err
				}
			}
			if order, err = e.warmItems(ctx, ws, order, &rep); err != nil {
				return err
			}
			w.mu.Lock()
			w.itemsWarm = true
			w.mu.Unlock()
		}
		if err := current(); err != nil {
			return err
		}
		e.warmCategoryScopes(pop, popGen, &rep)
		content, lists := warmCounts(len(order), w.cfg.Items, e.cfg.ListCache, e.cfg.ItemCache)
		workers := 1 // a new build: the server serves meanwhile, from the same database
		if !itemsWarm && w.cfg.ReadyWait > 0 {
			workers = min(warmStartWorkers, e.cfg.VectorSearches) // at start, before the server is ready
		}
		return e.warmNeighbors(ctx, ws, order[:lists], content, workers, &rep, current)
	}()
	rep.Took = time.Since(start)
	return rep, err
}

// warmPopular caches every popularity list, and an empty list for each
// scope the engine reads that the build has none of (as a read would).
// It returns the lists and the list cache's state before they were read.
func (e *Engine) warmPopular(ctx context.Context, ws WarmStore, rep *WarmReport) ([]catalog.PopularityList, uint64, error) {
	gen := e.lists.Gen()
	pop, err := ws.PopularLists(ctx, e.cfg.ListLen)
	rep.Queries++
	if err != nil {
		return nil, gen, err
	}
	have := map[string]bool{}
	var keys []string
	var vals []cache.List
	for _, l := range pop {
		have[l.Scope] = true
		keys, vals = append(keys, cache.PopularKey(l.Scope)), append(vals, cache.NewList(l.Items))
	}
	for _, scope := range []string{candidates.ScopeAll7d, candidates.ScopeAll24h, candidates.ScopeTrending} {
		if !have[scope] {
			keys, vals = append(keys, cache.PopularKey(scope)), append(vals, cache.NewList(nil))
		}
	}
	rep.Lists += e.lists.Fill(gen, keys, vals)
	return pop, gen, nil
}

// warmCategoryScopes caches an empty popularity list for each top-level
// category of the catalogue without one (no recent activity), so its
// items' pages do not ask the store for it. pop was read at state gen of
// the list cache.
func (e *Engine) warmCategoryScopes(pop []catalog.PopularityList, gen uint64, rep *WarmReport) {
	have := map[string]bool{}
	for _, l := range pop {
		have[l.Scope] = true
	}
	e.warm.mu.Lock()
	cats := e.warm.categories
	e.warm.mu.Unlock()
	var keys []string
	for _, c := range cats {
		if scope := candidates.CategoryScope(c); !have[scope] {
			keys = append(keys, cache.PopularKey(scope))
		}
	}
	vals := make([]cache.List, len(keys))
	for i := range vals {
		vals[i] = cache.NewList(nil)
	}
	rep.Lists += e.lists.Fill(gen, keys, vals)
}

// popularFirst orders the items with statistics by the build's weighting
// of popularity (views 1, carts 3, purchases 5, over 30 days), then those
// only the popularity lists name.
func popularFirst(stats *ranker.Stats, pop []catalog.PopularityList) []string {
	type scored struct {
		id    string
		score float32
	}
	var all []scored
	seen := map[string]bool{}
	for id, st := range stats.All() {
		all = append(all, scored{id, st.Views + 3*st.Carts + 5*st.Purchases})
		seen[id] = true
	}
	slices.SortFunc(all, func(a, b scored) int {
		return cmp.Or(cmp.Compare(b.score, a.score), cmp.Compare(a.id, b.id))
	})
	out := make([]string, len(all))
	for i, s := range all {
		out[i] = s.id
	}
	for _, l := range pop {
		for _, s := range l.Items {
			if !seen[s.ItemID] {
				seen[s.ItemID] = true
				out = append(out, s.ItemID)
			}
		}
	}
	return out
}

// warmCounts returns, of the popular items (have of them), how many get
// their content neighbours warmed (one vector search each: items, the
// --warm-items setting, at most a sixth of the list cache) and how many
// their co-view and co-purchase lists and vectors (indexed reads, cheap
// in bulk: every item up to a quarter of the list cache each, and at
// most warmItemsMax). At 100,000 demo items the first 10 s of load missed
// the list and vector caches about 650 times a second with only the
// first 10,000 warmed, every miss a query on a PostgreSQL already past a
// core; with 50,000, about 300 (traffic not following the history) or
// 150 (following it).
func warmCounts(have, items int, listCache, itemCache int64) (content, lists int) {
	content = min(have, items, int(listCache/6), int(itemCache/2))
	lists = max(content, min(have, warmItemsMax, int(listCache/4), int(itemCache)))
	return content, lists
}

// warmItemsMax bounds the items a warm-up loads: a 1M-item catalogue
// held whole took about 1.3 GB of heap at start (against the 2 GiB
// memory target), while the popular head is what the first minute reads;
// the rest loads on demand.
const warmItemsMax = 200_000

// warmItems fills the item cache: the whole catalogue in one streamed
// query if it fits (in the cache and under warmItemsMax), else the most
// popular items up to that size.
// It returns order extended by the catalogue's other items (when they
// were read), so the neighbour warm-up can cover a small catalogue whole.
func (e *Engine) warmItems(ctx context.Context, ws WarmStore, order []string, rep *WarmReport) ([]string, error) {
	count, err := ws.CountItems(ctx)
	rep.Queries++
	if err != nil {
		return order, err
	}
	cats := map[string]bool{}
	fill := func(m *cache.ItemsMark, items []catalog.Item) {
		for i := range items {
			if c := topCategory(&items[i]); c != "" {
				cats[c] = true
			}
		}
		rep.Items += e.items.Fill(m, items)
	}
	limit := min(e.cfg.ItemCache, warmItemsMax)
	var catalogue []string
	if int64(count) <= limit {
		catalogue = make([]string, 0, count)
		m := e.items.Mark()
		batch := make([]catalog.Item, 0, warmItemBatch)
		err = ws.ScanItems(ctx, func(it *catalog.Item) error {
			catalogue = append(catalogue, it.ID)
			batch = append(batch, *it)
			if len(batch) == warmItemBatch {
				fill(m, batch)
				batch = make([]catalog.Item, 0, warmItemBatch) // the cache keeps pointers into the last
			}
			return nil
		})
		rep.Queries++
		fill(m, batch)
		e.items.Release(m)
	} else {
		top := order[:min(len(order), int(limit))]
		for ids := range slices.Chunk(top, warmItemBatch) {
			m := e.items.Mark()
			var items []catalog.Item
			items, err = ws.Items(ctx, ids)
			rep.Queries++
			if err != nil {
				e.items.Release(m)
				break
			}
			fill(m, items)
			e.items.Release(m)
		}
	}
	order = appendMissing(order, catalogue)
	e.warm.mu.Lock()
	e.warm.catalogue = catalogue
	e.warm.categories = slices.Sorted(func(yield func(string) bool) {
		for c := range cats {
			if !yield(c) {
				return
			}
		}
	})
	e.warm.mu.Unlock()
	return order, err
}

// appendMissing appends to order the ids it lacks, in their order.
func appendMissing(order, ids []string) []string {
	if len(ids) == 0 {
		return order
	}
	have := make(map[string]bool, len(order))
	for _, id := range order {
		have[id] = true
	}
	for _, id := range ids {
		if !have[id] {
			order = append(order, id)
		}
	}
	return order
}

// warmNeighbors caches, for the given items, their co-view and
// co-purchase lists and their vectors, and for the first content of them
// their content neighbours, each as the request path would cache it (an
// empty list or a nil vector when the item has none). Content neighbours
// come last: those the build did not publish are one index search per
// item, the most costly part, and run on workers connections at once.
func (e *Engine) warmNeighbors(ctx context.Context, ws WarmStore, ids []string, content, workers int, rep *WarmReport, current func() error) error {
	for _, kind := range []catalog.NeighborKind{catalog.CoView, catalog.CoPurchase} {
		err := e.warmLists(ids, warmListBatch, 1, current, rep, func(id string) string { return cache.NeighborsKey(kind, id) }, false,
			func(ids []string) ([]catalog.NeighborList, error) {
				return ws.NeighborLists(ctx, kind, ids, e.cfg.ListLen)
			})
		if err != nil {
			return err
		}
	}
	queries, vectors, err := e.inBatches(ids, warmListBatch, 1, current, func(chunk []string) (int, error) {
		_, n, err := e.readVectors(ctx, ws, chunk)
		return n, err
	})
	rep.Queries += queries
	rep.Vectors += vectors
	if err != nil {
		return err
	}
	// Beyond the first content items, the lists the build published (cheap
	// indexed reads in bulk, as the co-view lists); an item without one is
	// left to the request path, which searches.
	err = e.warmLists(ids[content:], warmListBatch, 1, current, rep, contentKey, true,
		func(ids []string) ([]catalog.NeighborList, error) {
			return ws.NeighborLists(ctx, catalog.Content, ids, e.cfg.ListLen)
		})
	if err != nil {
		return err
	}
	// As contentNeighbors: the build's list where it has one, else a search.
	return e.warmLists(ids[:content], warmNearestBatch, workers, current, rep, contentKey, false,
		func(ids []string) ([]catalog.NeighborList, error) {
			stored, err := ws.NeighborLists(ctx, catalog.Content, ids, e.cfg.ListLen)
			if err != nil {
				return nil, err
			}
			have := make(map[string]bool, len(stored))
			for _, l := range stored {
				have[l.ItemID] = true
			}
			var missing []string
			for _, id := range ids {
				if !have[id] {
					missing = append(missing, id)
				}
			}
			if len(missing) == 0 {
				return stored, nil
			}
			if err := e.searches.hold(ctx); err != nil {
				return nil, err
			}
			defer e.searches.release()
			searched, err := ws.NearestToItems(ctx, missing, e.cfg.ListLen)
			return append(stored, searched...), err
		})
}

// warmLists caches one kind of list for ids, read in batches by read;
// an id read returns nothing for gets an empty list, unless onlyRead.
func (e *Engine) warmLists(ids []string, batch, workers int, current func() error, rep *WarmReport,
	key func(string) string, onlyRead bool, read func([]string) ([]catalog.NeighborList, error)) error {
	queries, lists, err := e.inBatches(ids, batch, workers, current, func(chunk []string) (int, error) {
		gen := e.lists.Gen()
		got, err := read(chunk)
		if err != nil {
			return 0, err
		}
		byID := make(map[string][]catalog.Scored, len(got))
		for _, l := range got {
			byID[l.ItemID] = l.Neighbors
		}
		keys := make([]string, 0, len(chunk))
		vals := make([]cache.List, 0, len(chunk))
		for _, id := range chunk {
			l, ok := byID[id]
			if ok || !onlyRead {
				keys = append(keys, key(id))
				vals = append(vals, cache.NewList(l)) // none: cached as empty
			}
		}
		return e.lists.Fill(gen, keys, vals), nil
	})
	rep.Queries += queries
	rep.Lists += lists
	return err
}

// inBatches calls load (one store query) for each batch of ids, on
// workers goroutines, until one fails or current says the warm-up is
// over. It returns the queries made and the sum of what load cached.
// Workers beyond the first stop once the server is ready (Warming says
// so): from then on the store serves requests too, and at 1,000,000
// items four workers' vector searches kept it busy for a minute after
// readiness.
func (e *Engine) inBatches(ids []string, batch, workers int, current func() error, load func([]string) (int, error)) (queries, cached int, err error) {
	chunks := make(chan []string)
	var mu sync.Mutex
	var wg sync.WaitGroup
	for w := range workers {
		wg.Go(func() {
			for chunk := range chunks {
				n, lerr := load(chunk)
				mu.Lock()
				queries++
				cached += n
				if lerr != nil && err == nil {
					err = lerr
				}
				mu.Unlock()
				if w > 0 && !e.Warming() {
					return
				}
			}
		})
	}
	for chunk := range slices.Chunk(ids, batch) {
		mu.Lock()
		failed := err != nil
		mu.Unlock()
		if cerr := current(); failed || cerr != nil {
			mu.Lock()
			if err == nil {
				err = cerr
			}
			mu.Unlock()
			break
		}
		chunks <- chunk
	}
	close(chunks)
	wg.Wait()
	return queries, cached, err
}

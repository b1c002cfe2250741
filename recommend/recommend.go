// Package recommend is the request path of recs: gather candidates from
// several sources in parallel, each within its time budget; drop what may
// not be shown; score; and assemble the modules of a page. It is shared by
// the HTTP API and the offline evaluation, so both measure the same thing.
package recommend

import (
	"cmp"
	"context"
	"encoding"
	"errors"
	"fmt"
	"maps"
	"math/bits"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/VictoriaMetrics/metrics"

	"github.com/recs-server/recs/cache"
	"github.com/recs-server/recs/candidates"
	"github.com/recs-server/recs/catalog"
	"github.com/recs-server/recs/embeddings"
	"github.com/recs-server/recs/partial"
	"github.com/recs-server/recs/ranker"
	"github.com/recs-server/recs/session"
)

// Store is what the engine reads besides its caches.
type Store interface {
	Items(ctx context.Context, ids []string) ([]catalog.Item, error)
	Neighbors(ctx context.Context, kind catalog.NeighborKind, itemID string, k int) ([]catalog.Scored, error)
	Popular(ctx context.Context, scope string, k int) ([]catalog.Scored, error)
	LatestBuild(ctx context.Context) (catalog.BuildInfo, error)
	Model(ctx context.Context, kind string) ([]byte, catalog.BuildInfo, error)
	ItemVector(ctx context.Context, itemID string) ([]float32, error)
	NearestItems(ctx context.Context, vec []float32, k int) ([]catalog.Scored, error)
	ItemVectors(ctx context.Context, ids []string) ([]catalog.ItemVector, error)
	PutItemVectors(ctx context.Context, vecs []catalog.ItemVector) error
	UserEvents(ctx context.Context, userID string, limit int) ([]catalog.Event, error)
}

// Config tunes the engine. Zero values take the defaults.
type Config struct {
	// SourceBudget is the most one candidate source may take; a slower or
	// failing source is skipped and counted. Default 30 ms.
	SourceBudget time.Duration
	// ListLen is how many entries of each candidate list are read and
	// cached. Default 100.
	ListLen int
	// MaxMove is how many positions /v1/rank may move an item. Default 10.
	MaxMove int
	// ItemCache, ListCache and MaxVisitors bound the in-memory state: items
	// and candidate lists cached, visitors whose recent interactions are
	// kept. Defaults 1,000,000, 200,000 and 1,000,000.
	ItemCache, ListCache int64
	MaxVisitors          int
	// Ranker holds the business rules and per-placement blends.
	Ranker ranker.Config
	// VectorSearches is how many nearest-vector searches the request
	// path runs in the store at once; one more waits up to SourceBudget
	// for a slot, then is skipped (see searchSlots). Default 2.
	VectorSearches int
	// RankDepth is how many fused candidates per module the ranker
	// scores (more only when filters leave the module short). Default 100:
	// 200 cost twice the CPU for no gain in the offline evaluation.
	RankDepth int
	// Unranked serves the fused candidate order with the hard filters
	// only: no model, no margin blend, no soft rules. The baseline the
	// evaluation compares the ranker with.
	Unranked bool
	// Warm loads the caches in bulk whenever a build starts being served
	// (see warm.go); its zero value leaves them to fill on demand.
	Warm WarmConfig
}

func (c Config) withDefaults() Config {
	if c.SourceBudget <= 0 {
		c.SourceBudget = 30 * time.Millisecond
	}
	if c.ListLen <= 0 {
		c.ListLen = 100
	}
	if c.MaxMove <= 0 {
		c.MaxMove = 10
	}
	if c.ItemCache <= 0 {
		c.ItemCache = 1_000_000
	}
	if c.ListCache <= 0 {
		c.ListCache = 200_000
	}
	if c.MaxVisitors <= 0 {
		c.MaxVisitors = 1_000_000
	}
	if c.RankDepth <= 0 {
		c.RankDepth = 100
	}
	if c.VectorSearches <= 0 {
		c.VectorSearches = 2
	}
	if c.Unranked {
		c.Ranker = ranker.Config{Blends: map[string]ranker.Blend{"default": {Prob: 1}}, RecentPurchaseWindow: c.Ranker.RecentPurchaseWindow,
			MaxPerBrand: -1, MaxPerCategory: -1, RefundFactor: 1, LowStockFactor: 1, Depths: c.Ranker.Depths}
	}
	return c
}

// Engine answers recommendation requests.
type Engine struct {
	cfg      Config
	store    Store
	items    *cache.Items
	lists    *cache.Lists
	vectors  *cache.Vectors
	sessions *session.Store
	metrics  *metrics.Set
	version  atomic.Pointer[string]
	// content embeds items upserted between builds (cold start); nil
	// until a build with a content model is served.
	content atomic.Pointer[embeddings.ContentModel]
	// rank orders candidates: the model and item statistics of the served
	// build, swapped whole on a new build.
	rank atomic.Pointer[ranker.Ranker]
	// pages recycles the per-request buffers (page indexes, candidates,
	// item batches, ranking scratch): a request allocates little beyond
	// its response.
	pages sync.Pool // *page
	// contexts recycles the ranker's page contexts with their maps.
	contexts sync.Pool // *ranker.Context
	// modules recycles modules' items and reasons (Recycle), ranked
	// the category re-ranks' items (RecycleRanked).
	modules sync.Pool // *moduleBuf
	ranked  sync.Pool // *[]Item
	// sessionScratch recycles the session vector's working arrays.
	sessionScratch sync.Pool // *sessionScratch
	// categoryScopes holds each top-level category's best-seller scope
	// and cache key (popularIn).
	categoryScopes sync.Map // string -> scopeKey
	// assembly holds each module's metrics by module id, found without
	// making their names per request.
	assembly sync.Map // string -> *moduleMetric
	// warm fills the caches when a build starts being served.
	warm *warmer
	// searches bounds the request path's nearest-vector searches.
	searches *searchSlots
}

// New returns an engine over a store, with its caches and session state.
// Close releases them.
func New(cfg Config, st Store, set *metrics.Set) (*Engine, error) {
	cfg = cfg.withDefaults()
	if err := cfg.Ranker.Validate(); err != nil {
		return nil, err
	}
	items, err := cache.NewItems(cfg.ItemCache, st.Items, set)
	if err != nil {
		return nil, err
	}
	lists, err := cache.NewLists(cfg.ListCache, set)
	if err != nil {
		return nil, err
	}
	vectors, err := cache.NewVectors(cfg.ItemCache, set)
	if err != nil {
		lists.Close()
		return nil, err
	}
	sessions, err := session.New(cfg.MaxVisitors)
	if err != nil {
		lists.Close()
		vectors.Close()
		return nil, err
	}
	sessions.NumberItems(cache.NumberOf)
	e := &Engine{cfg: cfg, store: st, items: items, lists: lists, vectors: vectors, sessions: sessions, metrics: set}
	e.warm = newWarmer(cfg.Warm, set)
	e.searches = newSearchSlots(cfg.VectorSearches, cfg.SourceBudget, set)
	e.pages.New = newPageBuffers
	e.contexts.New = func() any { return new(ranker.Context) }
	e.modules.New = func() any { return new(moduleBuf) }
	e.ranked.New = func() any { return new([]Item) }
	e.sessionScratch.New = func() any { return new(sessionScratch) }
	none := "none"
	e.version.Store(&none)
	e.rank.Store(ranker.New(cfg.Ranker, nil, nil))
	return e, nil
}

// Close stops the caches' goroutines.
func (e *Engine) Close() {
	e.stopWarm()
	e.lists.Close()
	e.vectors.Close()
}

// ModelVersion is the version of the build being served, "none" before
// the first.
func (e *Engine) ModelVersion() string { return *e.version.Load() }

// Refresh checks for a newer build and, when there is one, drops the
// cached lists of the old one. The server calls it at start and then
// periodically; it returns whether the build changed.
func (e *Engine) Refresh(ctx context.Context) (bool, error) {
	bi, err := e.store.LatestBuild(ctx)
	if errors.Is(err, catalog.ErrNotFound) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	if bi.Version == e.ModelVersion() {
		return false, nil
	}
	var content embeddings.ContentModel
	if ok, err := e.loadModel(ctx, embeddings.ContentModelKind, bi, &content); err != nil {
		return false, err
	} else if ok {
		e.content.Store(&content)
	}
	rk, err := e.loadRanker(ctx, bi)
	if err != nil {
		return false, err
	}
	e.rank.Store(rk)
	e.lists.Clear()
	e.vectors.Clear()
	v := bi.Version
	e.version.Store(&v)
	e.startWarm(ctx, v)
	return true, nil
}

// loadRanker reads the build's purchase model and item statistics. A
// build without them (older, or too little data to learn from) is ranked
// by candidate order with the same rules.
func (e *Engine) loadRanker(ctx context.Context, bi catalog.BuildInfo) (*ranker.Ranker, error) {
	stats := new(ranker.Stats)
	if ok, err := e.loadModel(ctx, ranker.StatsModelKind, bi, stats); err != nil {
		return nil, err
	} else if !ok {
		stats = nil
	}
	var model *ranker.Model
	if !e.cfg.Unranked {
		model = new(ranker.Model)
		if ok, err := e.loadModel(ctx, ranker.ModelKind, bi, model); err != nil {
			return nil, err
		} else if !ok {
			model = nil
		}
	}
	// Candidates carry the item numbers of the page's lists.
	stats.NumberBy(cache.Numbers)
	return ranker.New(e.cfg.Ranker, model, stats), nil
}

// loadModel reads the served build's model of a kind into m; false if
// the build has none.
func (e *Engine) loadModel(ctx context.Context, kind string, bi catalog.BuildInfo, m encoding.BinaryUnmarshaler) (bool, error) {
	blob, _, err := e.store.Model(ctx, kind)
	if errors.Is(err, catalog.ErrNotFound) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	if err := m.UnmarshalBinary(blob); err != nil {
		return false, fmt.Errorf("%s model of build %s: %w", kind, bi.Version, err)
	}
	return true, nil
}

// Ranker is the ranker being served.
func (e *Engine) Ranker() *ranker.Ranker { return e.rank.Load() }

// ErrUnknownItem is returned when a request's anchor item is not in the
// catalogue.
var ErrUnknownItem = errors.New("unknown item")

// Request is one page's context.
type Request struct {
	ItemID    string   // the product on screen (PDP)
	ItemIDs   []string // the cart, or the list to re-rank
	SessionID string
	UserID    string
	Limit     int
	// Now is the time the page is shown; zero means time.Now(). The
	// offline evaluation replays the past through it.
	Now time.Time
}

// Item is one recommended item with what a widget needs to show it.
type Item struct {
	ItemID   string   `json:"item_id"`
	Score    float64  `json:"score"`
	Reasons  []string `json:"reasons"`
	Title    string   `json:"title"`
	Price    float64  `json:"price"`
	Currency string   `json:"currency,omitempty"`
	URL      string   `json:"url,omitempty"`
	ImageURL string   `json:"image_url,omitempty"`
}

// Module is one block of recommendations on a page.
type Module struct {
	ID    string `json:"id"`
	Items []Item `json:"items"`
	// buf backs Items and their reasons until Engine.Recycle; nil if
	// the module has no recyclable buffers.
	buf *moduleBuf
}

// moduleBuf holds a ranked module's items and the reasons they cite:
// a page's modules were a fifth of what a request allocated, and they
// are garbage once the response is written.
type moduleBuf struct {
	items   []Item
	reasons []string
}

// Bounds on a recycled module's buffers, so one huge page does not pin
// its arrays for good.
const (
	maxPooledItems   = 256
	maxPooledReasons = 4096
)

// Recycle takes back the buffers of modules once their response is
// written: their items and reasons must not be read after it.
func (e *Engine) Recycle(mods []Module) {
	for i := range mods {
		if b := mods[i].buf; b != nil {
			e.recycle(b)
		}
		mods[i].Items, mods[i].buf = nil, nil
	}
}

// RecycleRanked takes back the items Rank returned once their response
// is written: they must not be read after it.
func (e *Engine) RecycleRanked(items []Item) {
	if cap(items) > maxPooledItems {
		return
	}
	clear(items[:cap(items)])
	items = items[:0]
	e.ranked.Put(&items)
}

func (e *Engine) recycle(b *moduleBuf) {
	if cap(b.items) > maxPooledItems || cap(b.reasons) > maxPooledReasons {
		return
	}
	clear(b.items[:cap(b.items)])
	clear(b.reasons[:cap(b.reasons)])
	b.items, b.reasons = b.items[:0], b.reasons[:0]
	e.modules.Put(b)
}

// source is one candidate list to gather: a reason shown to the client,
// the family it belongs to (a ranker feature), a weight in the fusion, and
// how to load it.
type source struct {
	reason string
	slot   ranker.Source
	weight float64
	// fallback sources only top up a module its own sources leave short.
	fallback bool
	// What the list is, and so how a miss loads it (Engine.load): the
	// list of kind of item arg (loadNeighbors, loadContent), the best
	// sellers of scope arg (loadPopular), the session vector of recent
	// (loadSessionVector). Data, not a closure: a closure and a cache key
	// per source were a third of what a page allocated.
	loader loader
	kind   catalog.NeighborKind
	arg    string
	recent []session.Interaction
	// key names the list in the list cache if its key is not made from
	// kind and arg (cacheKey): a hit is read inline, without a
	// goroutine. A list of an item with a number is read by listNum first
	// (cache.ItemListNumber), without a key or a hash.
	key      string
	listNum  uint32
	numbered bool
	// inMemory sources have their list already (the visitor's own
	// items): no load, no goroutine.
	inMemory bool
	list     cache.List
}

type loader uint8

const (
	loadNothing loader = iota
	loadNeighbors
	loadContent
	loadPopular
	loadSessionVector
)

// cacheKey names the source's list in the list cache, "" if not cached.
func (s *source) cacheKey() string {
	switch s.loader {
	case loadNeighbors:
		return cache.NeighborsKey(s.kind, s.arg)
	case loadContent:
		return contentKey(s.arg)
	}
	return s.key
}

// sameList reports whether a and b read the same cached list.
func sameList(a, b *source) bool {
	return (a.loader != loadNothing || a.key != "") &&
		a.loader == b.loader && a.kind == b.kind && a.arg == b.arg && a.key == b.key
}

// load reads a source's list through the list cache.
func (e *Engine) load(ctx context.Context, s *source) (cache.List, error) {
	switch s.loader {
	case loadNeighbors:
		kind, id := s.kind, s.arg
		return e.lists.Get(ctx, s.cacheKey(), func(ctx context.Context) (cache.List, error) {
			return listOf(e.store.Neighbors(ctx, kind, id, e.cfg.ListLen))
		})
	case loadContent:
		return e.contentNeighbors(ctx, s.arg)
	case loadPopular:
		scope := s.arg
		return e.lists.Get(ctx, s.key, func(ctx context.Context) (cache.List, error) {
			return listOf(e.store.Popular(ctx, scope, e.cfg.ListLen))
		})
	case loadSessionVector:
		// A copy: recent is the page's array, recycled when the request
		// ends, and the search may outlive it (cache.Derived.Get).
		recent := slices.Clone(s.recent)
		return e.lists.Get(ctx, s.key, func(ctx context.Context) (cache.List, error) {
			return listOf(e.nearestToSession(ctx, recent))
		})
	}
	return cache.List{}, fmt.Errorf("source %s: nothing to load", s.reason)
}

// Fusion weights. Primary sources decide the order; fallbacks only fill a
// module that would otherwise be short, so their weights are far lower.
const (
	weightPrimary   = 1.0
	weightSecondary = 0.3
	weightContent   = 0.5
	weightCategory  = 0.01
	weightOverall   = 0.001
	// rrfK damps reciprocal-rank fusion so the head of one list does not
	// drown the others.
	rrfK = 10.0
)

// neighbors is the list of kind of item id, whose item number is k
// (cache.NoNumber if it has none).
func (e *Engine) neighbors(kind catalog.NeighborKind, id string, k uint32, reason string, slot ranker.Source, w float64) source {
	return withListNumber(source{reason: reason, slot: slot, weight: w, loader: loadNeighbors, kind: kind, arg: id}, kind, k)
}

// withListNumber gives src the cache number of the list of kind of item
// number k, if it has one.
func withListNumber(src source, kind catalog.NeighborKind, k uint32) source {
	if k != cache.NoNumber {
		src.listNum, src.numbered = cache.ItemListNumber(kind, k)
	}
	return src
}

// numberOfID is id's item number, cache.NoNumber if it has none.
func numberOfID(id string) uint32 {
	if k, ok := cache.NumberOf(id); ok {
		return k
	}
	return cache.NoNumber
}

// listOf is a store read's list as the list cache holds it.
func listOf(l []catalog.Scored, err error) (cache.List, error) { return cache.NewList(l), err }

// popular is the best sellers of one of the shop-wide scopes
// (candidates.ScopeAll7d, ...).
func popular(scope, reason string, w float64) source {
	return popularSource(scope, popularKey(scope), reason, w)
}

func popularSource(scope, key, reason string, w float64) source {
	return source{reason: reason, slot: ranker.SrcPopular, weight: w, fallback: w < weightSecondary, loader: loadPopular, arg: scope, key: key}
}

// The cache keys of the shop-wide best sellers, made once.
var (
	keyAll24h   = cache.PopularKey(candidates.ScopeAll24h)
	keyAll7d    = cache.PopularKey(candidates.ScopeAll7d)
	keyTrending = cache.PopularKey(candidates.ScopeTrending)
)

func popularKey(scope string) string {
	switch scope {
	case candidates.ScopeAll24h:
		return keyAll24h
	case candidates.ScopeAll7d:
		return keyAll7d
	case candidates.ScopeTrending:
		return keyTrending
	}
	return cache.PopularKey(scope)
}

// scopeKey is a category's best-seller scope and its cache key.
type scopeKey struct{ scope, key string }

// popularIn is the best sellers of top-level category c, its scope and
// key made once per category (the catalogue's top-level categories).
func (e *Engine) popularIn(c string, w float64) source {
	v, ok := e.categoryScopes.Load(c)
	if !ok {
		scope := candidates.CategoryScope(c)
		v, _ = e.categoryScopes.LoadOrStore(c, scopeKey{scope, cache.PopularKey(scope)})
	}
	sk := v.(scopeKey)
	return popularSource(sk.scope, sk.key, "popular_in_category", w)
}

// contentKey names the cached embedding neighbours of an item.
func contentKey(id string) string { return cache.NeighborsKey(catalog.Content, id) }

// itemVector returns an item's served vector through the cache; nil when
// it has none.
func (e *Engine) itemVector(ctx context.Context, id string) (embeddings.Int8, error) {
	return e.vectors.Get(ctx, id, func(ctx context.Context) (embeddings.Int8, error) {
		v, err := e.store.ItemVector(ctx, id)
		if errors.Is(err, catalog.ErrNotFound) {
			return embeddings.Int8{}, nil
		}
		return embeddings.QuantizeInt8(v), err
	})
}

// similarContent finds the items whose vectors are nearest the item's:
// content for new items, blended with behaviour for items with history.
// An item without a vector has none.
func (e *Engine) similarContent(id string, k uint32, w float64) source {
	return withListNumber(source{reason: "similar_content", slot: ranker.SrcContent, weight: w, loader: loadContent, arg: id}, catalog.Content, k)
}

// contentNeighbors is the item's nearest items by vector, the item itself
// included, cached per item: a PDP's similar_content and the session
// vectors of every visitor who viewed the item share it. The build
// publishes them for the most viewed items (catalog.Content lists, one
// indexed read); for the others, and items whose vector changed since,
// it is a vector search (pgvector HNSW in PostgreSQL), a few milliseconds
// of the database's CPU each.
func (e *Engine) contentNeighbors(ctx context.Context, id string) (cache.List, error) {
	return e.lists.Get(ctx, contentKey(id), func(ctx context.Context) (cache.List, error) {
		v, err := e.itemVector(ctx, id)
		if err != nil || v.Len() == 0 {
			return cache.NewList(nil), err
		}
		stored, err := e.store.Neighbors(ctx, catalog.Content, id, e.cfg.ListLen)
		if err != nil || len(stored) > 0 {
			return cache.NewList(stored), err
		}
		if err := e.searches.acquire(ctx); err != nil {
			return cache.List{}, err
		}
		defer e.searches.release()
		return listOf(e.store.NearestItems(ctx, v.Float32(), e.cfg.ListLen))
	})
}

// vectorsOf returns the vectors of ids in their order, nil for an item
// without one: the cached ones, and the others read in one store call and
// cached.
func (e *Engine) vectorsOf(ctx context.Context, ids []string) ([]embeddings.Int8, error) {
	out := make([]embeddings.Int8, len(ids))
	return e.readMissingVectors(ctx, out, e.vectors.Lookup(ids, out), func(i int) string { return ids[i] })
}

// vectorsOfNumbers is vectorsOf for the items numbered nums, written
// into out, which is as long as nums (a recycled array: see
// sessionScratch).
func (e *Engine) vectorsOfNumbers(ctx context.Context, nums []uint32, out []embeddings.Int8) ([]embeddings.Int8, error) {
	return e.readMissingVectors(ctx, out, e.vectors.LookupNumbered(nums, out), func(i int) string { return cache.IDOf(nums[i]) })
}

// readMissingVectors reads the vectors of out's missing entries (idOf
// names them) with one store call, caches them and sets them in out.
func (e *Engine) readMissingVectors(ctx context.Context, out []embeddings.Int8, missing []int, idOf func(int) string) ([]embeddings.Int8, error) {
	if len(missing) == 0 {
		return out, nil
	}
	keys := make([]string, len(missing))
	for k, i := range missing {
		keys[k] = idOf(i)
	}
	vals, _, err := e.readVectors(ctx, e.store, keys)
	if err != nil {
		return nil, err
	}
	for k, i := range missing {
		out[i] = vals[k]
	}
	return out, nil
}

// vectorReader reads item vectors in bulk: the store, or the warm-up's.
type vectorReader interface {
	ItemVectors(ctx context.Context, ids []string) ([]catalog.ItemVector, error)
}

// readVectors reads the vectors of ids with one call of r and caches
// them, nil for an item without one (cached as such). It returns them in
// the order of ids, and how many it cached.
func (e *Engine) readVectors(ctx context.Context, r vectorReader, ids []string) ([]embeddings.Int8, int, error) {
	gen := e.vectors.Gen()
	got, err := r.ItemVectors(ctx, ids)
	if err != nil {
		return nil, 0, err
	}
	byID := make(map[string]embeddings.Int8, len(got))
	for _, v := range got {
		byID[v.ItemID] = embeddings.QuantizeInt8(v.Vector)
	}
	vals := make([]embeddings.Int8, len(ids))
	for i, id := range ids {
		vals[i] = byID[id]
	}
	return vals, e.vectors.Fill(gen, ids, vals), nil
}

// sessionVectorKey names the cached result of a session vector: the
// recent items, newest first, determine it.
func sessionVectorKey(recent []session.Interaction) string {
	n := 3
	for _, x := range recent {
		n += len(x.ItemID) + 1
	}
	b := make([]byte, 0, n)
	b = append(b, "sv:"...)
	for _, x := range recent {
		b = append(b, x.ItemID...)
		b = append(b, 0)
	}
	return string(b)
}

// sessionVector finds the items nearest the recency-weighted mean of the
// visitor's recent items' vectors: what the session is about, beyond the
// neighbours of any one item (nearestToSession). The result is cached by
// the recent items: a visitor back on the home page without a new view,
// or another with the same recent items, costs nothing more. A vector an
// item gets between builds (ItemsUpserted) reaches the cached sessions
// that include it with the next build.
func (e *Engine) sessionVector(recent []session.Interaction, w float64) source {
	return source{reason: "session_vector", slot: ranker.SrcSession, weight: w, loader: loadSessionVector, recent: recent, key: sessionVectorKey(recent)}
}

// nearestToSession ranks by cosine to the recency-weighted sum of the
// recent items' vectors the items in those items' content neighbourhoods
// (contentNeighbors), not the whole catalogue. The nearest items to a
// blend of a few items are nearly all near one of them, and the
// neighbourhoods are cached per item (the visitor's recent items are
// mostly the pages they just viewed, whose similar_content read them): a
// new session vector costs a few hundred dot products here instead of a
// vector search in PostgreSQL per visitor and per new recent item, which
// at 2,000 mixed requests a second were two thirds of PostgreSQL's CPU.
func (e *Engine) nearestToSession(ctx context.Context, recent []session.Interaction) ([]catalog.Scored, error) {
	s := e.sessionScratch.Get().(*sessionScratch)
	defer e.releaseSessionScratch(s) // after wg.Wait: no goroutine writes to it then
	s.vecs, s.hoods, s.errs = grown(s.vecs[:0], len(recent)), grown(s.hoods[:0], len(recent)), grown(s.errs[:0], len(recent))
	vecs, hoods, errs := s.vecs, s.hoods, s.errs
	var wg sync.WaitGroup
	for i, x := range recent {
		// Inline when both are cached, as they mostly are (the visitor
		// viewed these pages): a goroutine each cost more than the reads.
		// Vectors are cached by item number.
		if v, ok := peek(e.vectors, x.Number, x.Numbered, func() string { return x.ItemID }); ok {
			if v.Len() == 0 {
				continue
			}
			if l, ok := e.peekContent(x); ok {
				vecs[i], hoods[i] = v, l
				continue
			}
		}
		// In parallel: a neighbourhood not cached is a vector search.
		wg.Go(func() {
			vecs[i], errs[i] = e.itemVector(ctx, x.ItemID)
			if errs[i] == nil && vecs[i].Len() > 0 {
				hoods[i], errs[i] = e.contentNeighbors(ctx, x.ItemID)
			}
		})
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	var sum []float32
	for i, v := range vecs {
		if v.Len() == 0 || (sum != nil && v.Len() != len(sum)) {
			continue
		}
		if sum == nil {
			s.sum = grown(s.sum[:0], v.Len())
			sum = s.sum
		}
		v.AddScaled(sum, float32(1/float64(i+1)))
	}
	if sum == nil {
		return []catalog.Scored{}, nil
	}
	// The neighbourhoods' items, each once, by item number: hashing their
	// ids (a map of ids, the vector cache by id) was half of this
	// function's CPU. Content lists name numbered items only; an entry
	// without a number would be read by id.
	entries := 0
	for _, l := range hoods {
		entries += l.Len()
	}
	seen := &s.seen
	seen.reset(entries)
	nums := slices.Grow(s.nums[:0], entries)
	var ids []string
	var seenID map[string]bool
	for _, l := range hoods {
		for k := range l.Len() {
			n, ok := l.Number(k)
			if !ok {
				if id := l.ID(k); !seenID[id] {
					if seenID == nil {
						seenID = map[string]bool{}
					}
					seenID[id] = true
					ids = append(ids, id)
				}
				continue
			}
			if _, dup := seen.get(n); !dup {
				seen.put(n, 0)
				nums = append(nums, n)
			}
		}
	}
	s.nums = nums
	s.byNumber = grown(s.byNumber[:0], len(nums))
	byNumber, err := e.vectorsOfNumbers(ctx, nums, s.byNumber)
	if err != nil {
		return nil, err
	}
	byID, err := e.vectorsOf(ctx, ids)
	if err != nil {
		return nil, err
	}
	embeddings.Normalize(sum)
	top := embeddings.NewTopK(e.cfg.ListLen)
	for i, v := range byNumber {
		// The id only for an item that may get in.
		if c, ok := v.CosineToUnit(sum); ok && top.Admits(c) {
			top.Push(cache.IDOf(nums[i]), c)
		}
	}
	for i, v := range byID {
		if c, ok := v.CosineToUnit(sum); ok {
			top.Push(ids[i], c)
		}
	}
	return top.Sorted(), nil
}

// sessionScratch holds nearestToSession's working arrays, recycled:
// the session vector was a sixth of what a request allocated, most of
// it these arrays.
type sessionScratch struct {
	vecs     []embeddings.Int8
	hoods    []cache.List
	errs     []error
	sum      []float32
	seen     slotTable
	nums     []uint32
	byNumber []embeddings.Int8
}

// maxPooledNeighbourhood bounds the items a recycled sessionScratch
// keeps room for.
const maxPooledNeighbourhood = 1 << 12

func (e *Engine) releaseSessionScratch(s *sessionScratch) {
	if cap(s.nums) > maxPooledNeighbourhood || cap(s.vecs) > maxPooledNeighbourhood {
		return
	}
	// Drop what points into the caches and the errors, so a pooled
	// scratch keeps nothing alive.
	clear(s.vecs[:cap(s.vecs)])
	clear(s.hoods[:cap(s.hoods)])
	clear(s.errs[:cap(s.errs)])
	clear(s.byNumber[:cap(s.byNumber)])
	e.sessionScratch.Put(s)
}

// peekContent is the cached content neighbours of an interaction's item.
func (e *Engine) peekContent(x session.Interaction) (cache.List, bool) {
	k, numbered := uint32(cache.NoNumber), false
	if x.Numbered {
		k, numbered = cache.ItemListNumber(catalog.Content, x.Number)
	}
	return peek(e.lists, k, numbered, func() string { return contentKey(x.ItemID) })
}

// peek reads a cached value by its number in c when numbered, else, or
// when not found so (cached by key before its item had a number), by
// its key ("": none), which is made only then.
func peek[V any](c *cache.Derived[V], k uint32, numbered bool, key func() string) (V, bool) {
	if numbered {
		if v, ok := c.PeekNumbered(k); ok {
			return v, true
		}
	}
	if key := key(); key != "" {
		return c.Peek(key)
	}
	var zero V
	return zero, false
}

// gather loads every source in parallel, each within its budget, into
// the page's array. A source that fails or runs late yields nothing and is
// counted; the request goes on with the rest.
func (e *Engine) gather(ctx context.Context, srcs []source, p *page) []cache.List {
	p.listBuf = grown(p.listBuf[:0], len(srcs))
	out := p.listBuf
	var wg sync.WaitGroup
	for i := range srcs {
		if srcs[i].inMemory {
			out[i] = srcs[i].list
			continue
		}
		if l, ok := peek(e.lists, srcs[i].listNum, srcs[i].numbered, srcs[i].cacheKey); ok {
			out[i] = l
			continue
		}
		wg.Go(func() {
			start := time.Now()
			c, cancel := context.WithTimeout(ctx, e.cfg.SourceBudget)
			defer cancel()
			l, err := e.load(c, &srcs[i])
			e.metrics.GetOrCreateHistogram(`recs_source_duration_seconds{source="` + srcs[i].reason + `"}`).UpdateDuration(start)
			if err != nil {
				e.metrics.GetOrCreateCounter(`recs_source_errors_total{source="` + srcs[i].reason + `"}`).Inc()
				return
			}
			out[i] = l
		})
	}
	wg.Wait()
	return out
}

// page is every candidate list gathered for a page, indexed once: each
// item seen gets a slot holding its best place in each source family (a
// ranker feature: a `similar` candidate also knows it is bought with the
// anchor). Modules fuse their own range of the lists.
type page struct {
	srcs  []source
	lists []cache.List
	// slot is the slots by item number (cache.List.Number), in a table
	// cheaper than a map of ids or of numbers; slotByID holds the ids
	// without a number (from transient lists, pins). ids and num are each
	// slot's id and number (cache.NoNumber if none); a numbered slot's id
	// may be "", read when needed (idOf).
	slot     slotTable
	slotByID map[string]int32
	ids      []string
	num      []uint32
	hits     [][ranker.NumSources]ranker.Hit
	// at is the slot of every entry of every list, list after list, so
	// fusing a module does not hash its ids again; starts is where each
	// list's entries begin in it.
	at     []int32
	starts []int32

	// Buffers of the modules, reused one module after another.
	idx       []int32
	own, fill []candidate
	// item and read are the page's items by slot, and whether the slot's
	// item was read: modules share candidates, and each is read from the
	// item cache once per page. batch, batchNum and batchAt are a read's
	// ids, their numbers and their slots, got what it returns.
	item       []*catalog.Item
	read       []bool
	batch      []string
	batchNum   []uint32
	batchAt    []int32
	got        []*catalog.Item
	candidates []ranker.Candidate
	rank       ranker.Scratch
	// The category re-rank's candidates by slot, its items in the
	// page's order, and which of them limitedReorder took.
	bySlot []*candidate
	scored []Item
	used   []bool
	// The re-ranked items, their slots and numbers, by position.
	rankItems []*catalog.Item
	rankAt    []int32
	rankNums  []uint32

	// The request's own arrays, taken before its lists are gathered: its
	// sources and their lists, the visitor's recent interactions and the
	// recently viewed list made of them. Made per request, they were a
	// third of what a request allocated at 100,000 items, and every
	// allocation brings the next garbage collection closer.
	srcBuf     []source
	listBuf    []cache.List
	recentBuf  []session.Interaction
	viewed     []catalog.Scored
	viewedNums []uint32
	// exclude is the page's exclusions (exclusions); rcAll a second
	// ranking context (Home's modules that exclude nothing).
	exclude map[string]bool
	rcAll   ranker.Context
}

func newPageBuffers() any { return &page{slotByID: map[string]int32{}} }

// maxPooledSlots bounds what a page keeps for the next request, so one
// huge request does not pin its buffers for good.
const maxPooledSlots = 1 << 14

// newPage is a recycled page for a request; index fills it with the
// request's lists, release gives it back.
func (e *Engine) newPage() *page { return e.pages.Get().(*page) }

// index indexes the lists of a page.
func (p *page) index(srcs []source, lists []cache.List) {
	p.srcs, p.lists = srcs, lists
	entries := 0
	for _, l := range lists {
		entries += l.Len()
	}
	p.slot.reset(entries)
	clear(p.slotByID)
	p.ids, p.num, p.hits, p.at = p.ids[:0], p.num[:0], p.hits[:0], p.at[:0]
	p.item, p.read = p.item[:0], p.read[:0]
	p.starts = p.starts[:0]
lists:
	for i, l := range lists {
		fam := srcs[i].slot
		p.starts = append(p.starts, int32(len(p.at)))
		// Modules of a page share lists (a PDP's two modules have the
		// same fallbacks): a list seen before has its slots already.
		for j := range i {
			if sameList(&srcs[i], &srcs[j]) && srcs[j].slot == fam && lists[j].Len() == l.Len() {
				p.at = append(p.at, p.at[p.starts[j]:p.starts[j]+int32(l.Len())]...)
				continue lists
			}
		}
		for r := range l.Len() {
			var j int32
			if k, ok := l.Number(r); ok {
				j = p.slotOfNumber(k)
			} else {
				j = p.slotFor(l.ID(r))
			}
			p.at = append(p.at, j)
			if h := &p.hits[j][fam]; h.Rank < 0 || int32(r) < h.Rank {
				h.Rank, h.Score = int32(r), float32(l.Score(r))
			}
		}
	}
}

func (e *Engine) release(p *page) {
	if len(p.ids) > maxPooledSlots {
		return
	}
	p.srcs, p.lists = nil, nil
	// Drop item pointers, so a pooled page keeps no item alive.
	clear(p.candidates[:cap(p.candidates)])
	clear(p.item[:cap(p.item)])
	clear(p.got[:cap(p.got)])
	clear(p.bySlot[:cap(p.bySlot)])
	clear(p.scored[:cap(p.scored)])
	clear(p.rankItems[:cap(p.rankItems)])
	// And the lists read from the caches, the sources' ids and the
	// visitor's history.
	clear(p.srcBuf[:cap(p.srcBuf)])
	clear(p.listBuf[:cap(p.listBuf)])
	clear(p.recentBuf[:cap(p.recentBuf)])
	clear(p.viewed[:cap(p.viewed)])
	clear(p.exclude)
	p.rcAll = ranker.Context{}
	e.pages.Put(p)
}

// slotOf is an item's slot, -1 if no list of the page has it.
func (p *page) slotOf(id string) int32 {
	j, _, _ := p.lookup(id)
	return j
}

// lookup is an item's slot (-1 if no list of the page has it) and its
// item number, if it has one: one read of the shared numbering.
func (p *page) lookup(id string) (j int32, k uint32, numbered bool) {
	k, numbered = cache.NumberOf(id)
	if numbered {
		if j, ok := p.slot.get(k); ok {
			return j, k, true
		}
	}
	// Also for an id numbered since the page put it here.
	if j, ok := p.slotByID[id]; ok {
		return j, k, numbered
	}
	return -1, k, numbered
}

// slotFor is an item's slot, a new one without hits if no list of the
// page has it (a pinned item), so every ranked candidate has one.
func (p *page) slotFor(id string) int32 {
	j, k, numbered := p.lookup(id)
	switch {
	case j >= 0:
	case numbered:
		j = p.newSlot(id, k)
		p.slot.put(k, j)
	default:
		j = p.newSlot(id, cache.NoNumber)
		p.slotByID[id] = j
	}
	return j
}

// slotOfNumber is the slot of item number k, a new one if the page has
// none.
func (p *page) slotOfNumber(k uint32) int32 {
	if j, ok := p.slot.get(k); ok {
		return j
	}
	// No slot by id (slotByID) can be this item's: the page's lists were
	// all made, their ids numbered, before the page began, so an id it
	// found without a number (transient lists) is in no list by number.
	// The id itself is left to idOf: reading it is a cache miss, and most
	// slots are never read from the item cache nor ranked.
	j := p.newSlot("", k)
	p.slot.put(k, j)
	return j
}

// idOf is slot j's id.
func (p *page) idOf(j int32) string {
	if id := p.ids[j]; id != "" || p.num[j] == cache.NoNumber {
		return id
	}
	return cache.IDOf(p.num[j])
}

func (p *page) newSlot(id string, k uint32) int32 {
	j := int32(len(p.ids))
	p.ids = append(p.ids, id)
	p.num = append(p.num, k)
	p.hits = append(p.hits, ranker.NoHits)
	return j
}

func (p *page) hitsAt(j int32) [ranker.NumSources]ranker.Hit {
	if j < 0 {
		return ranker.NoHits
	}
	return p.hits[j]
}

// candidate is one item proposed for a module.
type candidate struct {
	score float64
	// from has bit i set when the module's i-th source proposed it (the
	// reasons, spelt out only for the items returned).
	from uint64
	// slot is the candidate's slot in the page, which holds its id and
	// number: 24 bytes in all (the id was 16 more), as ordering the
	// candidates moves them.
	slot int32
	// fallback: only fallback sources proposed it.
	fallback bool
}

// fuse merges the page's lists [lo, hi) by weighted reciprocal rank into
// the module's own candidates and those only fallbacks proposed, in no
// particular order: rankTier orders as many as it reads, a fraction of
// them. Both alias the page's buffers until the next fuse.
func (p *page) fuse(lo, hi int) (own, fill []candidate) {
	if cap(p.idx) < len(p.ids) {
		p.idx = make([]int32, len(p.ids))
	}
	idx := p.idx[:len(p.ids)] // slot -> 1 + index in out
	clear(idx)
	out := p.own[:0]
	for i := lo; i < hi; i++ {
		at := p.at[p.starts[i]:]
		src := &p.srcs[i]
		bit := uint64(1) << min(i-lo, 63)
		for r := range p.lists[i].Len() {
			s := src.weight / (rrfK + float64(r))
			j := at[r]
			if idx[j] == 0 {
				out = append(out, candidate{slot: j, score: s, from: bit, fallback: src.fallback})
				idx[j] = int32(len(out))
				continue
			}
			c := &out[idx[j]-1]
			c.score += s
			c.from |= bit
			c.fallback = c.fallback && src.fallback
		}
	}
	fill = p.fill[:0]
	own = out[:0]
	for _, c := range out {
		if c.fallback {
			fill = append(fill, c)
		} else {
			own = append(own, c)
		}
	}
	p.own, p.fill = out, fill
	return own, fill
}

// byScore orders candidates best first. Ties go by slot, the order in
// which the page's lists first name the items: a total order (slots are
// unique), so deterministic without the cost of a stable sort.
//
// Scores are sums of positive weights over ranks, never NaN, so plain
// comparisons do: cmp.Compare's NaN checks were most of a comparison,
// and ordering the fused candidates was a tenth of a page's CPU.
func byScore(a, b candidate) int {
	switch {
	case a.score > b.score:
		return -1
	case a.score < b.score:
		return 1
	}
	return cmp.Compare(a.slot, b.slot)
}

// reasons names the sources of the range [lo, hi) that proposed a
// candidate, each once, followed by extra.
func (p *page) reasons(lo int, from uint64, extra []string) []string {
	return p.appendReasons(make([]string, 0, 4+len(extra)), lo, from, extra)
}

// appendReasons appends reasons' result to out.
func (p *page) appendReasons(out []string, lo int, from uint64, extra []string) []string {
	start := len(out)
	for from != 0 {
		i := bits.TrailingZeros64(from)
		from &^= 1 << i
		if r := p.srcs[lo+i].reason; !slices.Contains(out[start:], r) {
			out = append(out, r)
		}
	}
	return append(out, extra...)
}

// module ranks the fused candidates of one module. The candidates of the
// module's own sources are ranked first; those only the fallbacks
// (popularity) proposed fill what the filters leave short, so a module is
// never empty while anything is in stock, and never filled with popular
// items when relevant ones exist.
func (e *Engine) module(ctx context.Context, id string, limit int, p *page, lo, hi int, rc *ranker.Context) Module {
	mm := e.moduleMetrics(id)
	defer mm.assembly.UpdateDuration(time.Now())
	rk := e.rank.Load()
	own, fill := p.fuse(lo, hi)
	pins := rk.Pins(id)
	if len(pins) > 0 {
		// Pinned items rank only if they are candidates.
		withPins := make([]candidate, 0, len(pins)+len(own))
		for _, pin := range pins {
			withPins = append(withPins, candidate{slot: p.slotFor(pin)})
		}
		own = append(withPins, own...)
	}
	buf := e.modules.Get().(*moduleBuf)
	if cap(buf.items) < limit {
		buf.items = make([]Item, 0, limit)
	}
	m := Module{ID: id, Items: buf.items[:0], buf: buf}
	depth := rk.Depth(id, e.cfg.RankDepth)
	var ranked int
	m.Items, ranked = e.rankTier(ctx, rk, id, limit, depth, own, len(pins), p, lo, rc, m.Items, buf)
	if need := limit - len(m.Items); need > 0 && len(fill) > 0 {
		var more int
		m.Items, more = e.rankTier(ctx, rk, id, need, fillDepth(need, depth), fill, 0, p, lo, rc, m.Items, buf)
		ranked += more
	}
	mm.candidates.Add(ranked)
	return m
}

// fillPerSlot is how many fallback candidates a module ranks for each
// slot its own candidates left empty. The fallbacks are best sellers: a
// product page's bought_together with few co-purchases ranked a hundred
// of them to fill nine slots, half of the demo shop's ranking work.
const fillPerSlot = 4

// fillDepth is how many fallback candidates a module ranks first to fill
// need slots: fillPerSlot a slot, at least ranker.MinDepth, at most the
// module's depth (rankTier reads deeper if the filters leave it short).
func fillDepth(need, depth int) int {
	return min(depth, max(ranker.MinDepth, fillPerSlot*need))
}

// rankTier reads the best start candidates from the item cache and
// ranks them; when the filters leave fewer than limit, it reads deeper.
// The first ordered candidates (pins) come first as they are; then the
// best by fused score, selected but not sorted: the ranker orders them
// itself, and sorting each module's hundred was a tenth of a product
// page's CPU. It appends the result to dst, and the items' reasons to
// buf's, and says how many candidates it ranked.
func (e *Engine) rankTier(ctx context.Context, rk *ranker.Ranker, id string, limit, start int, cands []candidate, ordered int, p *page, lo int, rc *ranker.Context, dst []Item, buf *moduleBuf) ([]Item, int) {
	p.item, p.read = grown(p.item, len(p.ids)), grown(p.read, len(p.ids))
	rcs := p.candidates[:0]
	var ranked []ranker.Ranked
	for depth := min(len(cands), start); ; depth = min(len(cands), 2*depth) {
		if depth > ordered {
			partial.Select(cands[ordered:], depth-ordered, byScore)
			ordered = depth
		}
		p.batch, p.batchNum, p.batchAt = p.batch[:0], p.batchNum[:0], p.batchAt[:0]
		for _, c := range cands[len(rcs):depth] {
			if !p.read[c.slot] {
				// Marked now so a slot is asked for once per read: a pin
				// the lists also propose is in cands twice.
				p.read[c.slot] = true
				p.batch = append(p.batch, p.ids[c.slot])
				p.batchNum = append(p.batchNum, p.num[c.slot])
				p.batchAt = append(p.batchAt, c.slot)
			}
		}
		p.got = slices.Grow(p.got[:0], len(p.batch))[:len(p.batch)]
		err := e.items.FetchNumbered(ctx, p.batch, p.batchNum, p.got)
		if err != nil {
			// Go on with the cached items: a degraded module beats none.
			e.metrics.GetOrCreateCounter(`recs_degraded_total{what="items"}`).Inc()
		}
		for i, j := range p.batchAt {
			p.item[j] = p.got[i]
			// What a failed read left out, a later module tries again.
			p.read[j] = err == nil || p.got[i] != nil
		}
		for _, c := range cands[len(rcs):depth] {
			k, it, id := p.num[c.slot], p.item[c.slot], p.ids[c.slot]
			if id == "" {
				// The item holds the id, on the line the ranker reads
				// first; the numbering's copy would be one more miss.
				if it != nil {
					id = it.ID
				} else {
					id = p.idOf(c.slot)
				}
			}
			rcs = append(rcs, ranker.Candidate{ID: id, Item: it, Number: k, Numbered: k != cache.NoNumber,
				Hits: p.hitsAt(c.slot), Prior: c.score})
		}
		ranked = rk.Rank(rc, id, rcs, limit, &p.rank)
		if len(ranked) >= limit || depth == len(cands) {
			break
		}
	}
	// One array backs the reasons of the module's items (they leave
	// with the response, so not a page buffer). An item's reasons stay
	// where they are if the array grows: only later ones move.
	reasons := buf.reasons
	for _, r := range ranked {
		start := len(reasons)
		reasons = p.appendReasons(reasons, lo, cands[r.Index].from, r.Reasons)
		dst = append(dst, display(rcs[r.Index].Item, r.Score, reasons[start:len(reasons):len(reasons)]))
	}
	buf.reasons = reasons
	p.candidates = rcs
	return dst, len(rcs)
}

// moduleMetric are one module's metrics: its assembly time, and the
// candidates it read and ranked (recs_module_ranked_candidates_total:
// --rank-depth and the rules' depths set how many, unless the filters
// leave a module short).
type moduleMetric struct {
	assembly   *metrics.Histogram
	candidates *metrics.Counter
}

// moduleMetrics are the metrics of a module. Module ids are a fixed set,
// so the map stays small.
func (e *Engine) moduleMetrics(id string) *moduleMetric {
	if m, ok := e.assembly.Load(id); ok {
		return m.(*moduleMetric)
	}
	m := &moduleMetric{
		assembly:   e.metrics.GetOrCreateHistogram(`recs_module_assembly_seconds{module="` + id + `"}`),
		candidates: e.metrics.GetOrCreateCounter(`recs_module_ranked_candidates_total{module="` + id + `"}`),
	}
	e.assembly.Store(id, m)
	return m
}

// grown is s lengthened to n, its new elements zero: a recycled buffer
// sized for this page. A page adds its slots by the hundred, and one
// append at a time was 3 % of the server's CPU at 2,000 req/s.
func grown[T any](s []T, n int) []T {
	old := len(s)
	if n <= old {
		return s
	}
	s = slices.Grow(s, n-old)[:n]
	clear(s[old:])
	return s
}

// recentlyViewed is the visitor's recently viewed items (the page's
// recentViews) in their order, without what may not be shown. It reads
// them into the page's read arrays, free once its ranked modules are made.
func (e *Engine) recentlyViewed(ctx context.Context, p *page, limit int, rc *ranker.Context) Module {
	const id = "recently_viewed"
	buf := e.modules.Get().(*moduleBuf)
	if cap(buf.items) < limit || buf.items == nil {
		buf.items = make([]Item, 0, limit) // never nil: an empty module has "items": []
	}
	// One reasons array for every item: they all cite the same.
	at := len(buf.reasons)
	buf.reasons = append(buf.reasons, id)
	reasons := buf.reasons[at : at+1 : at+1]
	m := Module{ID: id, Items: buf.items[:0], buf: buf}
	n := len(p.viewed)
	p.batch, p.got = grown(p.batch[:0], n), grown(p.got[:0], n)
	ids, items := p.batch, p.got
	for i, x := range p.viewed {
		ids[i] = x.ItemID
	}
	if err := e.items.FetchNumbered(ctx, ids, p.viewedNums, items); err != nil {
		e.metrics.GetOrCreateCounter(`recs_degraded_total{what="items"}`).Inc()
	}
	rk := e.rank.Load()
	for i, x := range ids {
		if len(m.Items) == limit {
			break
		}
		cand := ranker.Candidate{ID: x, Item: items[i]}
		if rk.Drop(rc, &cand) == "" {
			m.Items = append(m.Items, display(cand.Item, 1/float64(i+1), reasons))
		}
	}
	buf.items = m.Items
	return m
}

func display(it *catalog.Item, score float64, reasons []string) Item {
	return Item{ItemID: it.ID, Score: score, Reasons: reasons, Title: it.Title, Price: it.Price,
		Currency: it.Currency, URL: it.URL, ImageURL: it.ImageURL}
}

// anchors loads the request's anchor items. On a store failure it returns
// the cached ones with the error.
func (e *Engine) anchors(ctx context.Context, ids []string) (map[string]*catalog.Item, error) {
	m := make(map[string]*catalog.Item, len(ids))
	err := e.items.Get(ctx, ids, m)
	return m, err
}

func topCategory(it *catalog.Item) string {
	if it == nil || len(it.Category) == 0 {
		return ""
	}
	return it.Category[0]
}

// appendFallbacks appends the sources that top up a module: the best
// sellers of each of categories (once each), then of the whole shop.
func (e *Engine) appendFallbacks(dst []source, categories ...string) []source {
	for i, c := range categories {
		if c != "" && !slices.Contains(categories[:i], c) {
			dst = append(dst, e.popularIn(c, weightCategory))
		}
	}
	return append(dst, popular(candidates.ScopeAll7d, "popular", weightOverall))
}

// exclusions is the page's map of ids not to show, empty: the anchors'
// ids, the cart's, what the visitor just saw. What the anchors declare
// incompatible the ranker hides (ranker.Context.Declaring).
func (p *page) exclusions() map[string]bool {
	if p.exclude == nil || len(p.exclude) > maxPooledExclusions {
		p.exclude = make(map[string]bool)
	} else {
		clear(p.exclude)
	}
	return p.exclude
}

// maxPooledExclusions bounds the exclusions a page keeps room for.
const maxPooledExclusions = 1024

// anchorExclusions is the page's exclusions with the anchors' ids.
func (p *page) anchorExclusions(anchors map[string]*catalog.Item) map[string]bool {
	ex := p.exclusions()
	for id := range anchors {
		ex[id] = true
	}
	return ex
}

// rankContext is the ranker's view of the page: the anchors, the
// visitor's recent interactions with their items' category and brand, and
// what must not be shown (exclude, and what declaring, the anchors when
// nil, declare incompatible).
// The recent items are read into the page's read arrays (batch, batchNum,
// got), free until its modules are made.
func (e *Engine) rankContext(ctx context.Context, p *page, r *Request, anchors, declaring []*catalog.Item, recent []session.Interaction, exclude map[string]bool) *ranker.Context {
	now := r.Now
	if now.IsZero() {
		now = time.Now()
	}
	rc := e.contexts.Get().(*ranker.Context)
	rc.Now, rc.Anchors, rc.Declaring, rc.Exclude, rc.NumberOf = now, anchors, declaring, exclude, cache.NumberOf
	if len(recent) > 0 {
		p.batch, p.batchNum, p.got = grown(p.batch[:0], len(recent)), grown(p.batchNum[:0], len(recent)), grown(p.got[:0], len(recent))
		ids, nums, items := p.batch, p.batchNum, p.got
		for i, x := range recent {
			ids[i], nums[i] = x.ItemID, numberOf(x)
		}
		_ = e.items.FetchNumbered(ctx, ids, nums, items) // affinities from what is cached; a miss only weakens them
		rc.Recent = grown(rc.Recent, len(recent))
		for i, x := range recent {
			rc.Recent[i] = ranker.Interaction{ItemID: x.ItemID, Type: x.Type, Time: x.Time, Number: x.Number, Numbered: x.Numbered}
			if it := items[i]; it != nil {
				rc.Recent[i].Category, rc.Recent[i].Brand = topCategory(it), it.Brand
			}
		}
	}
	rc.Prepare()
	return rc
}

// releaseContext recycles a context from rankContext once the page's
// modules are made.
func (e *Engine) releaseContext(rc *ranker.Context) {
	rc.Reset()
	e.contexts.Put(rc)
}

// PDP answers a product page: `similar` (viewed in the same sessions,
// nearest by content) and `bought_together` (bought in the same orders),
// each topped up from the item's department and then the whole shop, and
// ranked for the visitor.
func (e *Engine) PDP(ctx context.Context, r Request) ([]Module, error) {
	anchors, err := e.anchors(ctx, []string{r.ItemID})
	if err != nil {
		// The store is down and the item is not cached: the page still
		// gets the item's neighbours if cached, else popular items.
		e.metrics.GetOrCreateCounter(`recs_degraded_total{what="anchor"}`).Inc()
		anchors = map[string]*catalog.Item{r.ItemID: {ID: r.ItemID}}
	}
	a := anchors[r.ItemID]
	if a == nil {
		return nil, fmt.Errorf("item %q: %w", r.ItemID, ErrUnknownItem)
	}
	p := e.newPage()
	defer e.release(p)
	recent := e.recent(ctx, r, p)
	k := numberOfID(a.ID)
	// One array holds every module's sources, the modules' in a row:
	// `similar` then `bought_together`, each with the fallbacks.
	all := append(p.srcBuf[:0],
		e.neighbors(catalog.CoView, a.ID, k, "co_view", ranker.SrcCoView, weightPrimary),
		e.similarContent(a.ID, k, weightContent))
	fb := len(all)
	all = e.appendFallbacks(all, topCategory(a))
	similar := len(all)
	all = append(all, e.neighbors(catalog.CoPurchase, a.ID, k, "co_purchase", ranker.SrcCoPurchase, weightPrimary))
	all = append(all, all[fb:similar]...)
	together := len(all)
	all = append(all, p.recentViews(recent))
	p.srcBuf = all
	p.index(all, e.gather(ctx, all, p))
	rc := e.rankContext(ctx, p, &r, []*catalog.Item{a}, nil, recent, p.anchorExclusions(anchors))
	defer e.releaseContext(rc)
	return []Module{
		e.module(ctx, "similar", r.Limit, p, 0, similar, rc),
		e.module(ctx, "bought_together", r.Limit, p, similar, together, rc),
	}, nil
}

// recentViews is the visitor's recently viewed items as a source, in the
// page's arrays: its ranks are a feature (have they looked at it before?).
func (p *page) recentViews(recent []session.Interaction) source {
	l, nums := p.viewed[:0], p.viewedNums[:0]
	for _, x := range recent {
		if x.Type == catalog.EventViewItem {
			l = append(l, catalog.Scored{ItemID: x.ItemID, Score: 1 / float64(len(l)+1)})
			nums = append(nums, numberOf(x))
		}
	}
	p.viewed, p.viewedNums = l, nums
	return source{reason: "recently_viewed", slot: ranker.SrcRecent, weight: 0, inMemory: true, list: cache.TransientList(l, nums)}
}

// numberOf is the item number of an interaction's item, cache.NoNumber if
// it had none when recorded.
func numberOf(x session.Interaction) uint32 {
	if !x.Numbered {
		return cache.NoNumber
	}
	return x.Number
}

// maxCartAnchors bounds the work of a large cart: the newest items carry
// the intent.
const maxCartAnchors = 10

// Cart answers a cart page: `cross_sell`, bought with the cart's items,
// never an item already in the cart or declared incompatible with one.
// Cart ids not in the catalogue are ignored.
func (e *Engine) Cart(ctx context.Context, r Request) ([]Module, error) {
	anchors, err := e.anchors(ctx, r.ItemIDs)
	if err != nil {
		// Degrade: the cart's cached items still count, the rest is popular.
		e.metrics.GetOrCreateCounter(`recs_degraded_total{what="anchor"}`).Inc()
	}
	p := e.newPage()
	defer e.release(p)
	srcs := p.srcBuf[:0]
	var cats []string
	var cart []*catalog.Item
	for i := len(r.ItemIDs) - 1; i >= 0 && len(cart) < maxCartAnchors; i-- {
		a := anchors[r.ItemIDs[i]]
		if a == nil || slices.Contains(cart, a) {
			continue
		}
		cart = append(cart, a)
		k := numberOfID(a.ID)
		srcs = append(srcs,
			e.neighbors(catalog.CoPurchase, a.ID, k, "co_purchase", ranker.SrcCoPurchase, weightPrimary),
			e.neighbors(catalog.CoView, a.ID, k, "co_view", ranker.SrcCoView, weightSecondary))
		cats = append(cats, topCategory(a))
	}
	srcs = e.appendFallbacks(srcs, cats...)
	recent := e.recent(ctx, r, p)
	cross := len(srcs)
	all := append(srcs, p.recentViews(recent))
	p.srcBuf = all
	p.index(all, e.gather(ctx, all, p))
	ex := p.anchorExclusions(anchors)
	for _, id := range r.ItemIDs {
		ex[id] = true
	}
	// Every item in the cart declares, not only the newest anchors.
	rc := e.rankContext(ctx, p, &r, cart, slices.Collect(maps.Values(anchors)), recent, ex)
	defer e.releaseContext(rc)
	return []Module{e.module(ctx, "cross_sell", r.Limit, p, 0, cross, rc)}, nil
}

// recent returns the visitor's recent interactions, newest first, in the
// page's array. A signed-in user not in memory (a restart, or evicted)
// has their history loaded from the store once, within a source budget.
func (e *Engine) recent(ctx context.Context, r Request, p *page) []session.Interaction {
	recent, userKnown := e.sessions.RecentAndUser(r.SessionID, r.UserID, p.recentBuf[:0])
	p.recentBuf = recent
	if r.UserID == "" || userKnown {
		return recent
	}
	c, cancel := context.WithTimeout(ctx, e.cfg.SourceBudget)
	evs, err := e.store.UserEvents(c, r.UserID, session.MaxRecent)
	cancel()
	if err != nil {
		// Not seeded: the next request tries again.
		e.metrics.GetOrCreateCounter(`recs_source_errors_total{source="user_history"}`).Inc()
		return recent
	}
	var hist []session.Interaction
	for _, ev := range evs {
		switch ev.Type {
		case catalog.EventViewItem, catalog.EventAddToCart, catalog.EventBeginCheckout, catalog.EventPurchase:
			for _, li := range ev.Items {
				hist = append(hist, session.Interaction{ItemID: li.ItemID, Type: ev.Type, Time: ev.Time})
			}
		}
	}
	e.sessions.SeedUser(r.UserID, hist)
	p.recentBuf = e.sessions.Recent(r.SessionID, r.UserID, p.recentBuf[:0])
	return p.recentBuf
}

// sessionAnchors is how many of the visitor's recent items seed `for_you`.
const sessionAnchors = 5

// appendSessionSources appends the neighbours of the visitor's newest
// items, the newest counting most.
func (e *Engine) appendSessionSources(out []source, recent []session.Interaction) []source {
	for i, x := range recent[:min(len(recent), sessionAnchors)] {
		w := 1 / float64(i+1) // recency: the newest interaction counts most
		out = append(out,
			e.neighbors(catalog.CoView, x.ItemID, numberOf(x), "session_co_view", ranker.SrcSession, w*weightPrimary),
			e.neighbors(catalog.CoPurchase, x.ItemID, numberOf(x), "session_co_purchase", ranker.SrcSession, w*weightSecondary))
	}
	return out
}

// Home answers the home page: `for_you` (neighbours of what the visitor
// did lately; trending for a new visitor), `trending`, and
// `recently_viewed`.
func (e *Engine) Home(ctx context.Context, r Request) ([]Module, error) {
	p := e.newPage()
	defer e.release(p)
	recent := e.recent(ctx, r, p)
	personal := e.appendSessionSources(p.srcBuf[:0], recent)
	if len(recent) > 0 {
		personal = append(personal, e.sessionVector(recent[:min(len(recent), sessionAnchors)], weightContent))
	}
	// One array holds every module's sources, the modules' in a row:
	// `for_you`, then `trending`.
	all := append(personal,
		popular(candidates.ScopeTrending, "trending", weightCategory),
		popular(candidates.ScopeAll7d, "popular", weightOverall))
	forYou := len(all)
	all = append(all,
		popular(candidates.ScopeTrending, "trending", weightPrimary),
		popular(candidates.ScopeAll24h, "popular_today", weightCategory),
		popular(candidates.ScopeAll7d, "popular", weightOverall))
	trending := len(all)
	all = append(all, p.recentViews(recent))
	p.srcBuf = all
	p.index(all, e.gather(ctx, all, p))
	// Items the visitor just interacted with are not news to them.
	seen := p.exclusions()
	for _, x := range recent {
		seen[x.ItemID] = true
	}
	rc := e.rankContext(ctx, p, &r, nil, nil, recent, seen)
	defer e.releaseContext(rc)
	// The same context without the exclusions, in the page: a copy on
	// the heap per request otherwise.
	p.rcAll = *rc
	p.rcAll.Exclude = nil
	return []Module{
		e.module(ctx, "for_you", r.Limit, p, 0, forYou, rc),
		e.module(ctx, "trending", r.Limit, p, forYou, trending, &p.rcAll),
		e.recentlyViewed(ctx, p, r.Limit, &p.rcAll),
	}, nil
}

// Rank re-orders a category or search page's items for the visitor by the
// ranker's score for the "rank" placement (purchase probability and
// margin), but no item moves more than MaxMove positions, so the page
// stays recognisable. Items that cannot be sold (unknown, inactive, out of
// stock, recently bought) score lowest. Every id comes back exactly once.
func (e *Engine) Rank(ctx context.Context, r Request) ([]Item, error) {
	p := e.newPage()
	defer e.release(p)
	recent := e.recent(ctx, r, p)
	srcs := append(e.appendSessionSources(p.srcBuf[:0], recent), popular(candidates.ScopeAll7d, "popular", weightCategory), p.recentViews(recent))
	p.srcBuf = srcs
	p.index(srcs, e.gather(ctx, srcs, p))
	own, fill := p.fuse(0, len(srcs))
	cands := append(own, fill...)
	p.bySlot = grown(p.bySlot[:0], len(p.ids))
	bySlot := p.bySlot
	for i := range cands {
		bySlot[cands[i].slot] = &cands[i]
	}
	// The items, their slots and numbers in the page's arrays, by
	// position: a map of the ids was a third of what a re-rank allocated.
	n := len(r.ItemIDs)
	p.rankItems, p.rankAt, p.rankNums = grown(p.rankItems[:0], n), grown(p.rankAt[:0], n), grown(p.rankNums[:0], n)
	items, at, nums := p.rankItems, p.rankAt, p.rankNums
	for i, id := range r.ItemIDs {
		var numbered bool
		at[i], nums[i], numbered = p.lookup(id)
		if !numbered {
			nums[i] = cache.NoNumber
		}
	}
	if err := e.items.FetchNumbered(ctx, r.ItemIDs, nums, items); err != nil {
		// Items not cached score as unsellable, and may sink only MaxMove
		// places: the page stays close to the shop's order.
		e.metrics.GetOrCreateCounter(`recs_degraded_total{what="rank"}`).Inc()
	}
	rk := e.rank.Load()
	rc := e.rankContext(ctx, p, &r, nil, nil, recent, nil)
	defer e.releaseContext(rc)
	p.scored = grown(p.scored[:0], n)
	scored := p.scored
	var x ranker.Vector
	for i, id := range r.ItemIDs {
		it, j, k := items[i], at[i], nums[i]
		rcand := ranker.Candidate{ID: id, Item: it, Number: k, Numbered: k != cache.NoNumber, Hits: p.hitsAt(j)}
		reasons := []string{}
		if c := candidateAt(bySlot, j); c != nil {
			rcand.Prior, reasons = c.score, p.reasons(0, c.from, nil)
		}
		s := Item{ItemID: id, Reasons: reasons}
		if it != nil {
			s = display(it, 0, reasons)
		}
		if why := rk.Drop(rc, &rcand); why != "" {
			s.Score, s.Reasons = -1, notSellable(why)
		} else {
			s.Score, _ = rk.Score(rc, "rank", &rcand, &x)
		}
		scored[i] = s
	}
	// The result leaves with the response: a recycled array
	// (RecycleRanked), not the page's.
	out := *e.ranked.Get().(*[]Item)
	p.used = grown(p.used[:0], len(scored))
	return limitedReorder(scored, e.cfg.MaxMove, out[:0], p.used), nil
}

// notSellable is the reasons of an item Rank sinks for why, made once
// per why (the ranker has a handful) and shared: read-only.
func notSellable(why string) []string {
	if r, ok := notSellableReasons.Load(why); ok {
		return r.([]string)
	}
	r, _ := notSellableReasons.LoadOrStore(why, []string{"not_sellable:" + why})
	return r.([]string)
}

var notSellableReasons sync.Map // string -> []string

func candidateAt(bySlot []*candidate, j int32) *candidate {
	if j < 0 || int(j) >= len(bySlot) {
		return nil // a slot the page gave after fusing, or none
	}
	return bySlot[j]
}

// limitedReorder sorts items by score, best first, moving none more than
// maxMove positions from where it was. At each position it takes an item
// that would otherwise end up too far down, if any; else the best-scored
// item close enough to move up.
// It appends to out, and marks what it took in used, all false and as
// long as in.
func limitedReorder(in []Item, maxMove int, out []Item, used []bool) []Item {
	for p := range in {
		pick := -1
		if j := p - maxMove; j >= 0 && !used[j] {
			pick = j
		} else {
			for j := max(0, p-maxMove); j < len(in) && j <= p+maxMove; j++ {
				if !used[j] && (pick < 0 || in[j].Score > in[pick].Score) {
					pick = j
				}
			}
		}
		used[pick] = true
		out = append(out, in[pick])
	}
	return out
}

// Record updates the visitor's session state with a stored event.
func (e *Engine) Record(ev *catalog.Event) { e.sessions.Record(ev) }

// ItemsChanged drops changed items from the cache.
func (e *Engine) ItemsChanged(ids ...string) { e.items.Invalidate(ids...) }

// StockChanged applies stored stock levels to the cached items.
func (e *Engine) StockChanged(updates []catalog.StockUpdate) { e.items.SetStock(updates) }

// ItemsUpserted refreshes the caches for upserted items and gives each a
// content vector at once, so a new item can be recommended before the
// next build (cold start). Without a served content model it only
// invalidates.
func (e *Engine) ItemsUpserted(ctx context.Context, items []catalog.Item) error {
	ids := make([]string, len(items))
	for i := range items {
		ids[i] = items[i].ID
	}
	e.items.Invalidate(ids...)
	m := e.content.Load()
	if m == nil {
		return nil
	}
	vecs := make([]catalog.ItemVector, len(items))
	for i := range items {
		vecs[i] = catalog.ItemVector{ItemID: items[i].ID, Vector: m.Embed(&items[i], make([]float32, 0, catalog.EmbeddingDims))}
	}
	if err := e.store.PutItemVectors(ctx, vecs); err != nil {
		return fmt.Errorf("store content vectors: %w", err)
	}
	for _, id := range ids {
		e.lists.Del(contentKey(id))
		e.vectors.Del(id)
	}
	return nil
}

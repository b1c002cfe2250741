// Package recommend is the request path of recs: gather candidates from
// several sources in parallel, each within its time budget; drop what may
// not be shown; score; and assemble the modules of a page. It is shared by
// the HTTP API and the offline evaluation, so both measure the same thing.
package recommend

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/VictoriaMetrics/metrics"

	"github.com/recs-server/recs/cache"
	"github.com/recs-server/recs/candidates"
	"github.com/recs-server/recs/catalog"
	"github.com/recs-server/recs/embeddings"
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
}

// New returns an engine over a store, with its caches and session state.
// Close releases them.
func New(cfg Config, st Store, set *metrics.Set) (*Engine, error) {
	cfg = cfg.withDefaults()
	items, err := cache.NewItems(cfg.ItemCache, st.Items, set)
	if err != nil {
		return nil, err
	}
	lists, err := cache.NewLists(cfg.ListCache, set)
	if err != nil {
		items.Close()
		return nil, err
	}
	vectors, err := cache.NewVectors(cfg.ItemCache, set)
	if err != nil {
		items.Close()
		lists.Close()
		return nil, err
	}
	sessions, err := session.New(cfg.MaxVisitors)
	if err != nil {
		items.Close()
		lists.Close()
		vectors.Close()
		return nil, err
	}
	e := &Engine{cfg: cfg, store: st, items: items, lists: lists, vectors: vectors, sessions: sessions, metrics: set}
	none := "none"
	e.version.Store(&none)
	return e, nil
}

// Close stops the caches' goroutines.
func (e *Engine) Close() {
	e.items.Close()
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
	blob, _, err := e.store.Model(ctx, embeddings.ContentModelKind)
	switch {
	case errors.Is(err, catalog.ErrNotFound):
	case err != nil:
		return false, err
	default:
		var m embeddings.ContentModel
		if err := m.UnmarshalBinary(blob); err != nil {
			return false, fmt.Errorf("content model of build %s: %w", bi.Version, err)
		}
		e.content.Store(&m)
	}
	e.lists.Clear()
	e.vectors.Clear()
	v := bi.Version
	e.version.Store(&v)
	return true, nil
}

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
}

// source is one candidate list to gather: a reason shown to the client, a
// weight in the fusion, and how to load it.
type source struct {
	reason string
	weight float64
	load   func(ctx context.Context) ([]catalog.Scored, error)
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

func (e *Engine) neighbors(kind catalog.NeighborKind, id, reason string, w float64) source {
	return source{reason: reason, weight: w, load: func(ctx context.Context) ([]catalog.Scored, error) {
		return e.lists.Get(ctx, cache.NeighborsKey(kind, id), func(ctx context.Context) ([]catalog.Scored, error) {
			return e.store.Neighbors(ctx, kind, id, e.cfg.ListLen)
		})
	}}
}

func (e *Engine) popular(scope, reason string, w float64) source {
	return source{reason: reason, weight: w, load: func(ctx context.Context) ([]catalog.Scored, error) {
		return e.lists.Get(ctx, cache.PopularKey(scope), func(ctx context.Context) ([]catalog.Scored, error) {
			return e.store.Popular(ctx, scope, e.cfg.ListLen)
		})
	}}
}

// contentKey names the cached embedding neighbours of an item.
func contentKey(id string) string { return "e:" + id }

// itemVector returns an item's served vector through the cache; nil when
// it has none.
func (e *Engine) itemVector(ctx context.Context, id string) ([]float32, error) {
	return e.vectors.Get(ctx, id, func(ctx context.Context) ([]float32, error) {
		v, err := e.store.ItemVector(ctx, id)
		if errors.Is(err, catalog.ErrNotFound) {
			return nil, nil
		}
		return v, err
	})
}

// similarContent finds the items whose vectors are nearest the item's
// (pgvector HNSW in PostgreSQL): content for new items, blended with
// behaviour for items with history. An item without a vector has none.
func (e *Engine) similarContent(id string, w float64) source {
	return source{reason: "similar_content", weight: w, load: func(ctx context.Context) ([]catalog.Scored, error) {
		return e.lists.Get(ctx, contentKey(id), func(ctx context.Context) ([]catalog.Scored, error) {
			v, err := e.itemVector(ctx, id)
			if err != nil || v == nil {
				return []catalog.Scored{}, err
			}
			return e.store.NearestItems(ctx, v, e.cfg.ListLen)
		})
	}}
}

// sessionVector finds the items nearest the recency-weighted mean of the
// visitor's recent items' vectors: what the session is about, beyond the
// neighbours of any one item. Not cached: every session differs.
func (e *Engine) sessionVector(recent []session.Interaction, w float64) source {
	return source{reason: "session_vector", weight: w, load: func(ctx context.Context) ([]catalog.Scored, error) {
		var sum []float32
		for i, x := range recent {
			v, err := e.itemVector(ctx, x.ItemID)
			if err != nil {
				return nil, err
			}
			if v == nil {
				continue
			}
			if sum == nil {
				sum = make([]float32, len(v))
			}
			rw := float32(1 / float64(i+1))
			for j := range sum {
				sum[j] += rw * v[j]
			}
		}
		if sum == nil {
			return nil, nil
		}
		return e.store.NearestItems(ctx, sum, e.cfg.ListLen)
	}}
}

// gather loads every source in parallel, each within its budget. A source
// that fails or runs late yields nothing and is counted; the request goes
// on with the rest.
func (e *Engine) gather(ctx context.Context, srcs []source) [][]catalog.Scored {
	out := make([][]catalog.Scored, len(srcs))
	var wg sync.WaitGroup
	for i := range srcs {
		wg.Go(func() {
			start := time.Now()
			c, cancel := context.WithTimeout(ctx, e.cfg.SourceBudget)
			defer cancel()
			l, err := srcs[i].load(c)
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

type candidate struct {
	id      string
	score   float64
	reasons []string
}

// fuse merges lists by weighted reciprocal rank, best first.
func fuse(srcs []source, lists [][]catalog.Scored) []candidate {
	n := 0
	for _, l := range lists {
		n += len(l)
	}
	idx := make(map[string]int, n)
	out := make([]candidate, 0, n)
	for i, l := range lists {
		for r, sc := range l {
			s := srcs[i].weight / (rrfK + float64(r))
			j, ok := idx[sc.ItemID]
			if !ok {
				idx[sc.ItemID] = len(out)
				out = append(out, candidate{id: sc.ItemID, score: s, reasons: []string{srcs[i].reason}})
				continue
			}
			out[j].score += s
			if !slices.Contains(out[j].reasons, srcs[i].reason) {
				out[j].reasons = append(out[j].reasons, srcs[i].reason)
			}
		}
	}
	slices.SortStableFunc(out, func(a, b candidate) int { return cmp.Compare(b.score, a.score) })
	return out
}

// sellable reports whether an item may be recommended at all.
func sellable(it *catalog.Item) bool { return it != nil && it.Active && it.Stock > 0 }

// module keeps the first limit candidates that are sellable and not
// excluded. It reads item data in chunks as it goes: most modules fill
// from the head of the candidate list, so most candidates are never read.
func (e *Engine) module(ctx context.Context, id string, limit int, cands []candidate, exclude map[string]bool) Module {
	defer e.metrics.GetOrCreateHistogram(`recs_module_assembly_seconds{module="` + id + `"}`).UpdateDuration(time.Now())
	m := Module{ID: id, Items: make([]Item, 0, limit)}
	items := make(map[string]*catalog.Item, 2*limit)
	ids := make([]string, 0, 2*limit)
	for start := 0; start < len(cands) && len(m.Items) < limit; {
		end := min(len(cands), start+2*(limit-len(m.Items))+2)
		ids = ids[:0]
		for _, c := range cands[start:end] {
			ids = append(ids, c.id)
		}
		if err := e.items.Get(ctx, ids, items); err != nil {
			// Go on with the cached items: a degraded module beats none.
			e.metrics.GetOrCreateCounter(`recs_degraded_total{what="items"}`).Inc()
		}
		for _, c := range cands[start:end] {
			if len(m.Items) == limit {
				break
			}
			if it := items[c.id]; sellable(it) && !exclude[c.id] {
				m.Items = append(m.Items, display(it, c.score, c.reasons))
			}
		}
		start = end
	}
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

func (e *Engine) fallbacks(categories ...string) []source {
	var out []source
	seen := map[string]bool{}
	for _, c := range categories {
		if c != "" && !seen[c] {
			seen[c] = true
			out = append(out, e.popular(candidates.CategoryScope(c), "popular_in_category", weightCategory))
		}
	}
	return append(out, e.popular(candidates.ScopeAll7d, "popular", weightOverall))
}

func exclusions(anchors map[string]*catalog.Item) map[string]bool {
	ex := make(map[string]bool, len(anchors))
	for id, it := range anchors {
		ex[id] = true
		for _, x := range it.IncompatibleWith {
			ex[x] = true
		}
	}
	return ex
}

// PDP answers a product page: `similar` (viewed in the same sessions) and
// `bought_together` (bought in the same orders), each topped up from the
// item's department and then the whole shop.
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
	fb := e.fallbacks(topCategory(a))
	similar := append([]source{
		e.neighbors(catalog.CoView, a.ID, "co_view", weightPrimary),
		e.similarContent(a.ID, weightContent),
	}, fb...)
	together := append([]source{e.neighbors(catalog.CoPurchase, a.ID, "co_purchase", weightPrimary)}, fb...)
	lists := e.gather(ctx, append(slices.Clone(similar), together...))
	simC := fuse(similar, lists[:len(similar)])
	togC := fuse(together, lists[len(similar):])
	ex := exclusions(anchors)
	return []Module{
		e.module(ctx, "similar", r.Limit, simC, ex),
		e.module(ctx, "bought_together", r.Limit, togC, ex),
	}, nil
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
	var srcs []source
	var cats []string
	n := 0
	for i := len(r.ItemIDs) - 1; i >= 0 && n < maxCartAnchors; i-- {
		a := anchors[r.ItemIDs[i]]
		if a == nil {
			continue
		}
		n++
		srcs = append(srcs,
			e.neighbors(catalog.CoPurchase, a.ID, "co_purchase", weightPrimary),
			e.neighbors(catalog.CoView, a.ID, "co_view", weightSecondary))
		cats = append(cats, topCategory(a))
	}
	srcs = append(srcs, e.fallbacks(cats...)...)
	cands := fuse(srcs, e.gather(ctx, srcs))
	ex := exclusions(anchors)
	for _, id := range r.ItemIDs {
		ex[id] = true
	}
	return []Module{e.module(ctx, "cross_sell", r.Limit, cands, ex)}, nil
}

// recent returns the visitor's recent interactions, newest first. A
// signed-in user not in memory (a restart, or evicted) has their history
// loaded from the store once, within a source budget.
func (e *Engine) recent(ctx context.Context, r Request) []session.Interaction {
	if r.UserID != "" && !e.sessions.HasUser(r.UserID) {
		c, cancel := context.WithTimeout(ctx, e.cfg.SourceBudget)
		evs, err := e.store.UserEvents(c, r.UserID, session.MaxRecent)
		cancel()
		if err != nil {
			// Not seeded: the next request tries again.
			e.metrics.GetOrCreateCounter(`recs_source_errors_total{source="user_history"}`).Inc()
		} else {
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
		}
	}
	return e.sessions.Recent(r.SessionID, r.UserID, nil)
}

// sessionAnchors is how many of the visitor's recent items seed `for_you`.
const sessionAnchors = 5

// Home answers the home page: `for_you` (neighbours of what the visitor
// did lately; trending for a new visitor), `trending`, and
// `recently_viewed`.
func (e *Engine) Home(ctx context.Context, r Request) ([]Module, error) {
	recent := e.recent(ctx, r)
	var personal []source
	for i, x := range recent[:min(len(recent), sessionAnchors)] {
		w := 1 / float64(i+1) // recency: the newest interaction counts most
		personal = append(personal,
			e.neighbors(catalog.CoView, x.ItemID, "session_co_view", w*weightPrimary),
			e.neighbors(catalog.CoPurchase, x.ItemID, "session_co_purchase", w*weightSecondary))
	}
	if len(recent) > 0 {
		personal = append(personal, e.sessionVector(recent[:min(len(recent), sessionAnchors)], weightContent))
	}
	forYou := append(personal,
		e.popular(candidates.ScopeTrending, "trending", weightCategory),
		e.popular(candidates.ScopeAll7d, "popular", weightOverall))
	trending := []source{
		e.popular(candidates.ScopeTrending, "trending", weightPrimary),
		e.popular(candidates.ScopeAll24h, "popular_today", weightCategory),
		e.popular(candidates.ScopeAll7d, "popular", weightOverall),
	}
	lists := e.gather(ctx, append(slices.Clone(forYou), trending...))
	fyC := fuse(forYou, lists[:len(forYou)])
	trC := fuse(trending, lists[len(forYou):])
	var rvC []candidate
	for _, x := range recent {
		if x.Type == catalog.EventViewItem {
			rvC = append(rvC, candidate{id: x.ItemID, score: 1 / float64(len(rvC)+1), reasons: []string{"recently_viewed"}})
		}
	}
	// Items the visitor just interacted with are not news to them.
	seen := map[string]bool{}
	for _, x := range recent {
		seen[x.ItemID] = true
	}
	return []Module{
		e.module(ctx, "for_you", r.Limit, fyC, seen),
		e.module(ctx, "trending", r.Limit, trC, nil),
		e.module(ctx, "recently_viewed", r.Limit, rvC, nil),
	}, nil
}

// Rank re-orders a category or search page's items for the visitor: items
// near what they did lately rise, then popular ones, but no item moves more
// than MaxMove positions, so the page stays recognisable. Items that cannot
// be sold (unknown, inactive, out of stock) score lowest. Every id comes
// back exactly once.
func (e *Engine) Rank(ctx context.Context, r Request) ([]Item, error) {
	recent := e.recent(ctx, r)
	var srcs []source
	for i, x := range recent[:min(len(recent), sessionAnchors)] {
		w := 1 / float64(i+1)
		srcs = append(srcs,
			e.neighbors(catalog.CoView, x.ItemID, "session_co_view", w*weightPrimary),
			e.neighbors(catalog.CoPurchase, x.ItemID, "session_co_purchase", w*weightSecondary))
	}
	srcs = append(srcs, e.popular(candidates.ScopeAll7d, "popular", weightCategory))
	cands := fuse(srcs, e.gather(ctx, srcs))
	byID := make(map[string]*candidate, len(cands))
	for i := range cands {
		byID[cands[i].id] = &cands[i]
	}
	items, err := e.anchors(ctx, r.ItemIDs)
	if err != nil {
		// Items not cached score as unsellable, and may sink only MaxMove
		// places: the page stays close to the shop's order.
		e.metrics.GetOrCreateCounter(`recs_degraded_total{what="rank"}`).Inc()
	}
	scored := make([]Item, len(r.ItemIDs))
	for i, id := range r.ItemIDs {
		it := items[id]
		s := Item{ItemID: id, Score: 0, Reasons: []string{}}
		if c := byID[id]; c != nil {
			s.Score, s.Reasons = c.score, c.reasons
		}
		if it != nil {
			s = display(it, s.Score, s.Reasons)
		}
		if !sellable(it) {
			s.Score = -1
			s.Reasons = []string{"not_sellable"}
		}
		scored[i] = s
	}
	return limitedReorder(scored, e.cfg.MaxMove), nil
}

// limitedReorder sorts items by score, best first, moving none more than
// maxMove positions from where it was. At each position it takes an item
// that would otherwise end up too far down, if any; else the best-scored
// item close enough to move up.
func limitedReorder(in []Item, maxMove int) []Item {
	out := make([]Item, 0, len(in))
	used := make([]bool, len(in))
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

// ItemsChanged drops changed items from the cache (stock updates).
func (e *Engine) ItemsChanged(ids ...string) { e.items.Invalidate(ids...) }

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

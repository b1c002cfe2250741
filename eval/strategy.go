package eval

import (
	"cmp"
	"context"
	"fmt"
	"hash/fnv"
	"math"
	"math/rand/v2"
	"slices"
	"strings"
	"time"

	"github.com/recs-server/recs/candidates"
	"github.com/recs-server/recs/catalog"
	"github.com/recs-server/recs/ranker"
)

// Query is what a strategy knows when it recommends: the page, the
// visitor's recent items, who and when.
type Query struct {
	// Anchors are the items the page is about: the product of a product
	// page, or the cart. Item-to-item strategies start from them (several
	// anchors: their lists summed).
	Anchors []string
	// Session is the visitor's recent item ids, oldest first; empty for a
	// visitor without history.
	Session []string
	UserID  string
	Time    time.Time
	// Exclude are items never to recommend (e.g. what is in the cart).
	Exclude []string
}

// Strategy recommends items for a query: a candidate source alone, a
// baseline, or (later) the full ranker. A strategy must be safe for
// concurrent use: queries are evaluated in parallel.
type Strategy interface {
	Name() string
	// Recommend appends up to k distinct item ids to dst, best first, none
	// of them in q.Exclude. own says how many of the first items came from
	// the strategy's own source; the rest fill the list from popularity.
	Recommend(ctx context.Context, q *Query, k int, dst []string) (items []string, own int, err error)
}

// Store is what the built-in strategies read: the tables of a published
// build, through the same calls the server makes. Both stores satisfy it.
type Store interface {
	Neighbors(ctx context.Context, kind catalog.NeighborKind, itemID string, k int) ([]catalog.Scored, error)
	Popular(ctx context.Context, scope string, k int) ([]catalog.Scored, error)
	NearestItems(ctx context.Context, vec []float32, k int) ([]catalog.Scored, error)
}

// Env is what strategies are made from: a store with a published build,
// the catalogue as it was at the cut-off and the build itself.
type Env struct {
	Store Store
	// Items is the catalogue at the cut-off, by id.
	Items map[string]*catalog.Item
	// Vectors are the build's item vectors by id. The store has no "get
	// vector" call; the harness has the build in hand.
	Vectors map[string][]float32
	Build   *catalog.Build
	Seed    uint64
	// Module is the module of the server's page the engine strategies
	// read: "bought_together" for basket completion, "similar" for the
	// next item of a session.
	Module string
	// RankDepth is how many candidates per module the engine strategies
	// rank (recommend.Config.RankDepth); 0: the engine's default.
	RankDepth int
	// Ranker is the engine strategies' ranking rules; the zero value: the
	// defaults.
	Ranker ranker.Config

	ids   []string         // every catalogue item, sorted
	index map[string]int32 // id -> position in ids
	// active lists the indices of the active items (random's universe).
	active []int32
	// hasCost: some item has a cost, so margins mean something.
	hasCost bool
}

// NewEnv indexes the catalogue and the build's vectors for the strategies.
func NewEnv(store Store, items []catalog.Item, b *catalog.Build, seed uint64) *Env {
	env := &Env{
		Store:   store,
		Items:   make(map[string]*catalog.Item, len(items)),
		Vectors: make(map[string][]float32),
		Build:   b,
		Seed:    seed,
	}
	for i := range items {
		it := &items[i]
		env.Items[it.ID] = it
		if it.Cost > 0 {
			env.hasCost = true
		}
	}
	env.ids = make([]string, 0, len(env.Items))
	for id := range env.Items {
		env.ids = append(env.ids, id)
	}
	slices.Sort(env.ids)
	env.index = make(map[string]int32, len(env.ids))
	for i, id := range env.ids {
		env.index[id] = int32(i)
		if env.Items[id].Active {
			env.active = append(env.active, int32(i))
		}
	}
	if b != nil {
		for _, v := range b.Vectors {
			env.Vectors[v.ItemID] = v.Vector
		}
	}
	return env
}

// ActiveItems is the number of active catalogue items: the denominator of
// catalogue coverage.
func (env *Env) ActiveItems() int { return len(env.active) }

// Built-in strategy names.
const (
	StrategyPopularity           = "popularity"    // all:30d
	StrategyPopularity7d         = "popularity_7d" // all:7d
	StrategyPopularityInCategory = "popularity_in_category"
	StrategyRandom               = "random"
	StrategyCoPurchase           = "co_purchase"
	StrategyCoView               = "co_view"
	StrategyEmbedding            = "embedding"
	StrategySession              = "session"
	StrategyRecentlyViewed       = "recently_viewed"
)

// StrategyNames lists the built-in strategies in report order.
func StrategyNames() []string {
	return []string{
		StrategyPopularity, StrategyPopularity7d, StrategyPopularityInCategory, StrategyRandom,
		StrategyCoPurchase, StrategyCoView, StrategyEmbedding, StrategySession, StrategyRecentlyViewed,
		StrategyEngineUnranked, StrategyEngine,
	}
}

// NewStrategyFunc makes a strategy over an environment; Options.Extra
// takes them, so strategies from other packages (the ranker) join a run.
type NewStrategyFunc func(env *Env) (Strategy, error)

// NewStrategy makes the built-in strategy of that name.
func NewStrategy(name string, env *Env) (Strategy, error) {
	switch name {
	case StrategyPopularity:
		return &popularity{name: name, env: env, scope: candidates.ScopeAll30d}, nil
	case StrategyPopularity7d:
		return &popularity{name: name, env: env, scope: candidates.ScopeAll7d}, nil
	case StrategyPopularityInCategory:
		return &popularInCategory{env: env}, nil
	case StrategyRandom:
		return &random{env: env}, nil
	case StrategyCoPurchase:
		return &neighbours{name: name, env: env, kind: catalog.CoPurchase}, nil
	case StrategyCoView:
		return &neighbours{name: name, env: env, kind: catalog.CoView}, nil
	case StrategyEmbedding:
		return &embedding{env: env}, nil
	case StrategySession:
		return &session{env: env, opt: DefaultSessionOptions()}, nil
	case StrategyRecentlyViewed:
		return &recentlyViewed{env: env}, nil
	case StrategyEngine, StrategyEngineUnranked:
		return newEngineStrategy(name, env, name == StrategyEngineUnranked)
	}
	return nil, fmt.Errorf("unknown strategy %q (want one of %s)", name, strings.Join(StrategyNames(), ", "))
}

// fillScope is the popularity every strategy falls back on.
const fillScope = candidates.ScopeAll30d

// picker collects up to k distinct ids that are not excluded.
type picker struct {
	out  []string
	k    int
	seen map[string]struct{}
}

func newPicker(q *Query, k int, dst []string) *picker {
	p := &picker{out: dst, k: k, seen: make(map[string]struct{}, k+len(q.Exclude))}
	for _, id := range q.Exclude {
		p.seen[id] = struct{}{}
	}
	return p
}

func (p *picker) full() bool { return len(p.out) >= p.k }

// add takes id unless it is excluded or taken; it reports whether it did.
func (p *picker) add(id string) bool {
	if p.full() {
		return false
	}
	if _, ok := p.seen[id]; ok {
		return false
	}
	p.seen[id] = struct{}{}
	p.out = append(p.out, id)
	return true
}

// skip marks id as not to be taken (an anchor of an item-to-item list).
func (p *picker) skip(id string) { p.seen[id] = struct{}{} }

// fill completes the list from popularity and returns it with the count of
// own items.
func (p *picker) fill(ctx context.Context, env *Env, own int) ([]string, int, error) {
	if p.full() {
		return p.out, own, nil
	}
	l, err := env.Store.Popular(ctx, fillScope, p.k+len(p.seen))
	if err != nil {
		return p.out, own, fmt.Errorf("popularity fill: %w", err)
	}
	for _, s := range l {
		if p.full() {
			break
		}
		p.add(s.ItemID)
	}
	return p.out, own, nil
}

// popularity is one popularity scope for everyone.
type popularity struct {
	name  string
	env   *Env
	scope string
}

func (s *popularity) Name() string { return s.name }

func (s *popularity) Recommend(ctx context.Context, q *Query, k int, dst []string) ([]string, int, error) {
	p := newPicker(q, k, dst)
	l, err := s.env.Store.Popular(ctx, s.scope, k+len(q.Exclude))
	if err != nil {
		return dst, 0, fmt.Errorf("popularity %s: %w", s.scope, err)
	}
	for _, sc := range l {
		p.add(sc.ItemID)
	}
	return p.fill(ctx, s.env, len(p.out)-len(dst))
}

// popularInCategory is the 30-day popularity of the last anchor's
// top-level category.
type popularInCategory struct{ env *Env }

func (s *popularInCategory) Name() string { return StrategyPopularityInCategory }

func (s *popularInCategory) Recommend(ctx context.Context, q *Query, k int, dst []string) ([]string, int, error) {
	p := newPicker(q, k, dst)
	if n := len(q.Anchors); n > 0 {
		if it := s.env.Items[q.Anchors[n-1]]; it != nil && len(it.Category) > 0 && it.Category[0] != "" {
			l, err := s.env.Store.Popular(ctx, candidates.CategoryScope(it.Category[0]), k+len(q.Exclude))
			if err != nil {
				return dst, 0, fmt.Errorf("category popularity: %w", err)
			}
			for _, sc := range l {
				p.add(sc.ItemID)
			}
		}
	}
	return p.fill(ctx, s.env, len(p.out)-len(dst))
}

// random picks active items uniformly, seeded by the run's seed and the
// query, so a run is reproducible whatever order queries are asked in.
type random struct{ env *Env }

func (s *random) Name() string { return StrategyRandom }

func (s *random) Recommend(ctx context.Context, q *Query, k int, dst []string) ([]string, int, error) {
	p := newPicker(q, k, dst)
	n := len(s.env.active)
	r := rand.New(rand.NewPCG(s.env.Seed, queryHash(q)))
	// Rejection sampling; bounded so a tiny catalogue cannot loop forever.
	for tries := 0; !p.full() && tries < 20*k+100; tries++ {
		if n == 0 {
			break
		}
		p.add(s.env.ids[s.env.active[r.IntN(n)]])
	}
	return p.fill(ctx, s.env, len(p.out)-len(dst))
}

func queryHash(q *Query) uint64 {
	h := fnv.New64a()
	for _, id := range q.Anchors {
		h.Write([]byte(id))
		h.Write([]byte{0})
	}
	h.Write([]byte{1})
	for _, id := range q.Session {
		h.Write([]byte(id))
		h.Write([]byte{0})
	}
	h.Write([]byte(q.UserID))
	var t [8]byte
	u := uint64(q.Time.UnixNano())
	for i := range t {
		t[i] = byte(u >> (8 * i))
	}
	h.Write(t[:])
	return h.Sum64()
}

// neighbours is one item-to-item table (co-purchase or co-view) from the
// anchors.
type neighbours struct {
	name string
	env  *Env
	kind catalog.NeighborKind
}

func (s *neighbours) Name() string { return s.name }

func (s *neighbours) Recommend(ctx context.Context, q *Query, k int, dst []string) ([]string, int, error) {
	p := newPicker(q, k, dst)
	fetch := k + len(q.Exclude) + len(q.Anchors)
	var sb scoreboard
	for _, a := range q.Anchors {
		p.skip(a)
		l, err := s.env.Store.Neighbors(ctx, s.kind, a, fetch)
		if err != nil {
			return dst, 0, fmt.Errorf("%s neighbours: %w", s.kind, err)
		}
		if len(q.Anchors) == 1 {
			for _, sc := range l {
				p.add(sc.ItemID)
			}
			return p.fill(ctx, s.env, len(p.out)-len(dst))
		}
		for _, sc := range l {
			sb.add(sc.ItemID, sc.Score)
		}
	}
	for _, id := range sb.sorted() {
		p.add(id)
	}
	return p.fill(ctx, s.env, len(p.out)-len(dst))
}

// embedding is the store's nearest items to the anchors' (summed) vector.
type embedding struct{ env *Env }

func (s *embedding) Name() string { return StrategyEmbedding }

func (s *embedding) Recommend(ctx context.Context, q *Query, k int, dst []string) ([]string, int, error) {
	p := newPicker(q, k, dst)
	var vec []float32
	for _, a := range q.Anchors {
		p.skip(a)
		if v := s.env.Vectors[a]; v != nil {
			vec = addScaled(vec, v, 1)
		}
	}
	if vec != nil {
		l, err := s.env.Store.NearestItems(ctx, vec, k+len(q.Exclude)+len(q.Anchors))
		if err != nil {
			return dst, 0, fmt.Errorf("nearest items: %w", err)
		}
		for _, sc := range l {
			p.add(sc.ItemID)
		}
	}
	return p.fill(ctx, s.env, len(p.out)-len(dst))
}

// addScaled returns acc + w·v, allocating acc on first use.
func addScaled(acc, v []float32, w float32) []float32 {
	if acc == nil {
		acc = make([]float32, len(v))
	}
	for i, x := range v {
		acc[i] += w * x
	}
	return acc
}

// SessionOptions tunes the session strategy.
type SessionOptions struct {
	// Items is how many of the most recent distinct items count.
	Items int
	// Decay is the weight ratio of one item to the next more recent one:
	// the newest counts 1, the one before Decay, then Decay², ...
	Decay float64
	// Fetch is how many neighbours (per item and table) and nearest items
	// are gathered.
	Fetch int
	// CoView, CoPurchase and Embedding weigh the three sources. Each
	// neighbour list is scaled so its best item scores 1; the nearest
	// items to the session vector are scaled from 0 (the last fetched) to
	// 1 (the best).
	CoView, CoPurchase, Embedding float64
}

// DefaultSessionOptions are the weights the session strategy uses. They
// were set by reasoning, not tuned on any test set.
func DefaultSessionOptions() SessionOptions {
	return SessionOptions{Items: 5, Decay: 0.5, Fetch: 50, CoView: 1, CoPurchase: 1, Embedding: 0.5}
}

// session merges the co-view and co-purchase neighbours of the visitor's
// last few items, weighted by recency, with the nearest items to the
// recency-weighted session vector. Without a session it starts from the
// anchors. The current item (the last) is never recommended; earlier ones
// may come back.
type session struct {
	env *Env
	opt SessionOptions
}

func (s *session) Name() string { return StrategySession }

// recent returns the last n distinct items of seq, newest first.
func recent(seq []string, n int) []string {
	out := make([]string, 0, min(n, len(seq)))
	for i := len(seq) - 1; i >= 0 && len(out) < n; i-- {
		if !slices.Contains(out, seq[i]) {
			out = append(out, seq[i])
		}
	}
	return out
}

func (s *session) Recommend(ctx context.Context, q *Query, k int, dst []string) ([]string, int, error) {
	p := newPicker(q, k, dst)
	seq := q.Session
	if len(seq) == 0 {
		seq = q.Anchors
	}
	items := recent(seq, s.opt.Items)
	if len(items) > 0 {
		p.skip(items[0])
	}
	for _, a := range q.Anchors {
		p.skip(a)
	}
	var sb scoreboard
	var vec []float32
	w := 1.0
	for _, id := range items {
		for _, src := range [...]struct {
			kind   catalog.NeighborKind
			weight float64
		}{{catalog.CoView, s.opt.CoView}, {catalog.CoPurchase, s.opt.CoPurchase}} {
			if src.weight <= 0 {
				continue
			}
			l, err := s.env.Store.Neighbors(ctx, src.kind, id, s.opt.Fetch)
			if err != nil {
				return dst, 0, fmt.Errorf("%s neighbours: %w", src.kind, err)
			}
			if len(l) == 0 || l[0].Score <= 0 {
				continue
			}
			top := l[0].Score
			for _, sc := range l {
				sb.add(sc.ItemID, w*src.weight*sc.Score/top)
			}
		}
		if v := s.env.Vectors[id]; v != nil && s.opt.Embedding > 0 {
			vec = addScaled(vec, v, float32(w))
		}
		w *= s.opt.Decay
	}
	if vec != nil {
		l, err := s.env.Store.NearestItems(ctx, vec, s.opt.Fetch+1)
		if err != nil {
			return dst, 0, fmt.Errorf("nearest items: %w", err)
		}
		if n := len(l); n > 1 {
			hi, lo := l[0].Score, l[n-1].Score
			for _, sc := range l {
				x := 1.0
				if hi > lo {
					x = (sc.Score - lo) / (hi - lo)
				}
				sb.add(sc.ItemID, s.opt.Embedding*x)
			}
		}
	}
	for _, id := range sb.sorted() {
		p.add(id)
	}
	return p.fill(ctx, s.env, len(p.out)-len(dst))
}

// recentlyViewed is the session itself, newest first, current item
// included: the "recently viewed" module, and the baseline that shows how
// often the next view is a return to an earlier item.
type recentlyViewed struct{ env *Env }

func (s *recentlyViewed) Name() string { return StrategyRecentlyViewed }

func (s *recentlyViewed) Recommend(ctx context.Context, q *Query, k int, dst []string) ([]string, int, error) {
	p := newPicker(q, k, dst)
	for i := len(q.Session) - 1; i >= 0; i-- {
		p.add(q.Session[i])
	}
	return p.fill(ctx, s.env, len(p.out)-len(dst))
}

// scoreboard sums scores per item and orders them: highest score first,
// ties to the item added first.
type scoreboard struct {
	index map[string]int
	ents  []scoreEntry
}

type scoreEntry struct {
	id    string
	score float64
}

func (sb *scoreboard) add(id string, s float64) {
	if math.IsNaN(s) {
		return
	}
	if sb.index == nil {
		sb.index = make(map[string]int)
	}
	if i, ok := sb.index[id]; ok {
		sb.ents[i].score += s
		return
	}
	sb.index[id] = len(sb.ents)
	sb.ents = append(sb.ents, scoreEntry{id: id, score: s})
}

func (sb *scoreboard) sorted() []string {
	order := make([]int, len(sb.ents))
	for i := range order {
		order[i] = i
	}
	slices.SortStableFunc(order, func(a, b int) int { return cmp.Compare(sb.ents[b].score, sb.ents[a].score) })
	out := make([]string, len(order))
	for i, j := range order {
		out[i] = sb.ents[j].id
	}
	return out
}

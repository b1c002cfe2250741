// Package ranker is the second stage of a recommendation: it orders the
// candidates of a module by the shop's expected gain, purchase probability
// blended with margin, after dropping what may not be shown (hard filters)
// and demoting what should rarely be (soft rules). It does no I/O: the
// caller supplies the items, the visitor's context and slices to write
// into, so the same code serves requests and scores training data.
//
// Features are defined once, here, and used by the batch training in
// build and by the request path in recommend: there is no second
// definition to drift.
package ranker

import (
	"math"
	"time"

	"github.com/recs-server/recs/catalog"
)

// Source is a family of candidate lists; a candidate's rank in each is a
// feature.
type Source uint8

const (
	SrcCoPurchase Source = iota // bought in the same orders as an anchor
	SrcCoView                   // viewed in the same sessions as an anchor
	SrcContent                  // nearest embedding (pgvector)
	SrcSession                  // neighbours of the visitor's recent items, session vector
	SrcPopular                  // popularity, trending, department best-sellers
	SrcRecent                   // the visitor's own recently viewed items
	NumSources
)

var sourceNames = [NumSources]string{"co_purchase", "co_view", "content", "session", "popular", "recent"}

func (s Source) String() string { return sourceNames[s] }

// Hit is a candidate's place in one source's lists: the best rank
// (0-based) over the lists of that family, and the list's score there.
// Rank < 0 means the source did not propose it.
type Hit struct {
	Rank  int32
	Score float32
}

// NoHits is the value of Candidate.Hits for a candidate no source
// proposed; start from it and set what was found.
var NoHits = func() (h [NumSources]Hit) {
	for i := range h {
		h[i].Rank = -1
	}
	return h
}()

// Candidate is one item proposed for a module.
type Candidate struct {
	ID string
	// Item is the catalogue record; nil when unknown (always filtered).
	Item *catalog.Item
	// Number is the item's number when Numbered: the numbering the
	// ranker's Stats were indexed by (Stats.NumberBy).
	Number   uint32
	Numbered bool
	Hits     [NumSources]Hit
	// Prior is the candidate's score before ranking (the fused order);
	// without a model it is the ranking score.
	Prior float64
	// Reasons are the names of the lists that proposed it, shown to
	// clients ("co_view", "trending", ...).
	Reasons []string
}

// Interaction is one thing the visitor did with an item, with the item's
// category and brand for affinities.
type Interaction struct {
	ItemID   string
	Type     catalog.EventType
	Time     time.Time
	Category string // top-level category
	Brand    string
	// Number is the item's number when Numbered, in the numbering of
	// Context.NumberOf, if the caller has it (the session store looks it
	// up when the event arrives); Prepare looks up the others.
	Number   uint32
	Numbered bool
}

// Context is what the ranker knows about the page and the visitor.
// Prepare must be called after filling it and before scoring.
type Context struct {
	Now time.Time
	// Anchors are the items the page is about: the product, the cart.
	Anchors []*catalog.Item
	// Recent are the visitor's recent interactions, newest first.
	Recent []Interaction
	// Exclude are ids never to return on this page (anchors, the cart,
	// items the page already shows).
	Exclude map[string]bool
	// NumberOf, if set, is the item numbering of Candidate.Number: the
	// page's exclusions and the visitor's history are then matched with
	// numbered candidates by number. By id, each of the hundred-odd
	// candidates' ids was hashed twice, a few per cent of the server's
	// CPU.
	NumberOf func(id string) (uint32, bool)
	// Declaring are the items whose declared incompatibilities hide a
	// candidate, either way round (the item names the candidate, or the
	// candidate names the item); the Anchors when nil. A cart's are all
	// its items, while only the newest are Anchors.
	Declaring []*catalog.Item

	// Derived by Prepare.
	anchorPrice float64
	anchorCats  []string // top-level categories of the anchors
	anchorLeafs []string
	anchorBrand []string
	// declaringIDs are the ids of Declaring; declarers those of them that
	// name incompatible items.
	declaringIDs []string
	declarers    []*catalog.Item
	hourSin      float32
	hourCos      float32
	catShare     map[string]float32
	brandShare   map[string]float32
	lastSeen     map[string]time.Time
	purchased    map[string]time.Time
	// By number (NumberOf), for numbered candidates: the Exclude ids and
	// those of lastSeen that had a number at Prepare, and the rest by id.
	// Numbers are for good, so a candidate whose id had a number then
	// has that number; an id that had none is matched by id.
	excludeNums  map[uint32]struct{}
	excludeRest  map[string]bool
	lastSeenNums map[uint32]time.Time
	lastSeenRest map[string]time.Time

	// spare holds the maps of earlier pages, so a Context reused with
	// Reset prepares the next page without making them again: they were
	// a tenth of what the server allocated a request, and every
	// allocation brings the next garbage collection closer.
	spare contextMaps
}

type contextMaps struct {
	catShare, brandShare              map[string]float32
	lastSeen, purchased, lastSeenRest map[string]time.Time
	lastSeenNums                      map[uint32]time.Time
	excludeNums                       map[uint32]struct{}
	excludeRest                       map[string]bool
}

// maxSpareEntries bounds a map kept for reuse: one huge page should not
// pin its maps for good.
const maxSpareEntries = 1024

// take returns the spare map emptied, or a new one if there is none or
// it grew too large to keep; it stays the spare.
func take[K comparable, V any](spare *map[K]V, hint int) map[K]V {
	if *spare == nil || len(*spare) > maxSpareEntries {
		*spare = make(map[K]V, hint)
	} else {
		clear(*spare)
	}
	return *spare
}

// Reset empties c for another page, keeping its maps and buffers (Recent's
// array included) for the next Prepare.
func (c *Context) Reset() {
	// Up to the capacity: a larger page before this one left items there
	// that would otherwise stay alive.
	clear(c.Recent[:cap(c.Recent)])
	clear(c.declarers[:cap(c.declarers)])
	*c = Context{
		Recent:       c.Recent[:0],
		anchorCats:   c.anchorCats[:0],
		anchorLeafs:  c.anchorLeafs[:0],
		anchorBrand:  c.anchorBrand[:0],
		declaringIDs: c.declaringIDs[:0],
		declarers:    c.declarers[:0],
		spare:        c.spare,
	}
}

// Prepare derives the per-page values every candidate's features read.
func (c *Context) Prepare() {
	c.anchorPrice, c.anchorCats, c.anchorLeafs, c.anchorBrand = 0, c.anchorCats[:0], c.anchorLeafs[:0], c.anchorBrand[:0]
	c.declaringIDs, c.declarers = c.declaringIDs[:0], c.declarers[:0]
	declaring := c.Declaring
	if declaring == nil {
		declaring = c.Anchors
	}
	for _, d := range declaring {
		if d == nil {
			continue
		}
		c.declaringIDs = append(c.declaringIDs, d.ID)
		if d.DeclaresAnyIncompatible() {
			c.declarers = append(c.declarers, d)
		}
	}
	n := 0
	for _, a := range c.Anchors {
		if a == nil {
			continue
		}
		if a.Price > 0 {
			c.anchorPrice += a.Price
			n++
		}
		if len(a.Category) > 0 {
			c.anchorCats = append(c.anchorCats, a.Category[0])
			c.anchorLeafs = append(c.anchorLeafs, a.Category[len(a.Category)-1])
		}
		if a.Brand != "" {
			c.anchorBrand = append(c.anchorBrand, a.Brand)
		}
	}
	if n > 0 {
		c.anchorPrice /= float64(n)
	}
	h := float64(c.Now.UTC().Hour()) * (2 * math.Pi / 24)
	c.hourSin, c.hourCos = float32(math.Sin(h)), float32(math.Cos(h))
	c.excludeNums, c.excludeRest = nil, nil
	if c.NumberOf != nil && len(c.Exclude) > 0 {
		c.excludeNums = take(&c.spare.excludeNums, len(c.Exclude))
		for id, ex := range c.Exclude {
			if !ex {
				continue
			}
			if k, ok := c.NumberOf(id); ok {
				c.excludeNums[k] = struct{}{}
			} else {
				if c.excludeRest == nil {
					c.excludeRest = take(&c.spare.excludeRest, 0)
				}
				c.excludeRest[id] = true
			}
		}
	}
	c.lastSeenNums, c.lastSeenRest = nil, nil
	if len(c.Recent) == 0 {
		c.catShare, c.brandShare, c.lastSeen, c.purchased = nil, nil, nil, nil
		return
	}
	c.catShare = take(&c.spare.catShare, len(c.Recent))
	c.brandShare = take(&c.spare.brandShare, len(c.Recent))
	c.lastSeen = take(&c.spare.lastSeen, len(c.Recent))
	c.purchased = nil
	w := 1 / float32(len(c.Recent))
	for _, x := range c.Recent {
		if x.Category != "" {
			c.catShare[x.Category] += w
		}
		if x.Brand != "" {
			c.brandShare[x.Brand] += w
		}
		if t, ok := c.lastSeen[x.ItemID]; !ok || x.Time.After(t) {
			c.lastSeen[x.ItemID] = x.Time
		}
		if x.Type == catalog.EventPurchase {
			if c.purchased == nil {
				c.purchased = take(&c.spare.purchased, 0)
			}
			if t, ok := c.purchased[x.ItemID]; !ok || x.Time.After(t) {
				c.purchased[x.ItemID] = x.Time
			}
		}
	}
	if c.NumberOf != nil {
		c.lastSeenNums = take(&c.spare.lastSeenNums, len(c.lastSeen))
		for _, x := range c.Recent {
			t := c.lastSeen[x.ItemID] // the newest of the item's
			k, ok := x.Number, x.Numbered
			if !ok {
				k, ok = c.NumberOf(x.ItemID)
			}
			if ok {
				c.lastSeenNums[k] = t
			} else {
				if c.lastSeenRest == nil {
					c.lastSeenRest = take(&c.spare.lastSeenRest, 0)
				}
				c.lastSeenRest[x.ItemID] = t
			}
		}
	}
}

// excluded reports whether the page excludes cand (Exclude).
func (c *Context) excluded(cand *Candidate) bool {
	if len(c.Exclude) == 0 {
		return false
	}
	if !cand.Numbered || c.excludeNums == nil {
		return c.Exclude[cand.ID]
	}
	if _, ok := c.excludeNums[cand.Number]; ok {
		return true
	}
	return c.excludeRest != nil && c.excludeRest[cand.ID]
}

// seen is when the visitor last interacted with cand, if they did among
// their recent interactions.
func (c *Context) seen(cand *Candidate) (time.Time, bool) {
	if c.lastSeen == nil {
		return time.Time{}, false
	}
	if !cand.Numbered || c.lastSeenNums == nil {
		t, ok := c.lastSeen[cand.ID]
		return t, ok
	}
	if t, ok := c.lastSeenNums[cand.Number]; ok {
		return t, true
	}
	t, ok := c.lastSeenRest[cand.ID]
	return t, ok
}

// LastPurchase is when the visitor last bought the item, if they did
// among their recent interactions.
func (c *Context) LastPurchase(id string) (time.Time, bool) {
	t, ok := c.purchased[id]
	return t, ok
}

// Feature indexes. The order is part of the model file format: a model
// trained on other features is refused (see Model.UnmarshalBinary).
const (
	FCoPurchaseRank = iota
	FCoViewRank
	FContentRank
	FSessionRank
	FPopularRank
	FRecentRank
	FCoPurchaseScore
	FCoViewScore
	FContentScore
	FSourcesHit
	FPopularity
	FViews
	FTrend
	FConversion
	FRefundRate
	FItemAge
	FLogPrice
	FPriceRatio
	FSameCategory
	FSameLeaf
	FSameBrand
	FCategoryAffinity
	FBrandAffinity
	FInteracted
	FHourSin
	FHourCos
	NumFeatures
)

// FeatureNames name the features in reasons and in the model file.
var FeatureNames = [NumFeatures]string{
	"co_purchase_rank", "co_view_rank", "content_rank", "session_rank", "popular_rank", "recent_rank",
	"co_purchase_score", "co_view_score", "content_score", "sources_hit",
	"popularity", "views", "trend", "conversion", "refund_rate", "item_age",
	"log_price", "price_ratio", "same_category", "same_leaf", "same_brand",
	"category_affinity", "brand_affinity", "interacted", "hour_sin", "hour_cos",
}

// Vector is one candidate's features.
type Vector [NumFeatures]float32

// Extract computes a candidate's features in its context. st is the
// item's statistical features from the build (Stats.Features).
func Extract(x *Vector, c *Context, cand *Candidate, st ItemFeatures) {
	hits := 0
	for s := range NumSources {
		h := cand.Hits[s]
		if h.Rank < 0 {
			x[FCoPurchaseRank+s] = 0
			continue
		}
		hits++
		// Reciprocal rank: the head of a list matters, its tail hardly.
		x[FCoPurchaseRank+s] = 1 / float32(1+h.Rank)
	}
	x[FCoPurchaseScore] = score(cand.Hits[SrcCoPurchase])
	x[FCoViewScore] = score(cand.Hits[SrcCoView])
	x[FContentScore] = score(cand.Hits[SrcContent])
	x[FSourcesHit] = float32(hits)

	x[FPopularity], x[FViews], x[FTrend], x[FConversion], x[FRefundRate] = st.Popularity, st.Views, st.Trend, st.Conversion, st.RefundRate
	x[FItemAge] = 0
	x[FLogPrice], x[FPriceRatio] = 0, 0
	x[FSameCategory], x[FSameLeaf], x[FSameBrand] = 0, 0, 0
	x[FCategoryAffinity], x[FBrandAffinity], x[FInteracted] = 0, 0, 0
	if it := cand.Item; it != nil {
		first := st.FirstSeen
		if !it.CreatedAt.IsZero() && (first == 0 || it.CreatedAt.Unix() < first) {
			first = it.CreatedAt.Unix()
		}
		if first > 0 {
			x[FItemAge] = log1p(float32(max(0, c.Now.Unix()-first)) / 86400)
		}
		if it.Price > 0 {
			x[FLogPrice] = log1p(float32(it.Price))
			if c.anchorPrice > 0 {
				x[FPriceRatio] = float32(math.Log(it.Price / c.anchorPrice))
			}
		}
		if len(it.Category) > 0 {
			top, leaf := it.Category[0], it.Category[len(it.Category)-1]
			x[FSameCategory] = flag(contains(c.anchorCats, top))
			x[FSameLeaf] = flag(contains(c.anchorLeafs, leaf))
			x[FCategoryAffinity] = c.catShare[top]
		}
		if it.Brand != "" {
			x[FSameBrand] = flag(contains(c.anchorBrand, it.Brand))
			x[FBrandAffinity] = c.brandShare[it.Brand]
		}
	}
	if t, ok := c.seen(cand); ok {
		// 1 for just now, halving every 3 days.
		x[FInteracted] = float32(math.Exp2(-c.Now.Sub(t).Hours() / 72))
	}
	x[FHourSin], x[FHourCos] = c.hourSin, c.hourCos
}

func score(h Hit) float32 {
	if h.Rank < 0 {
		return 0
	}
	return h.Score
}

func log1p(v float32) float32 { return float32(math.Log1p(float64(max(0, v)))) }

func flag(b bool) float32 {
	if b {
		return 1
	}
	return 0
}

func contains(l []string, s string) bool {
	for _, x := range l {
		if x == s {
			return true
		}
	}
	return false
}

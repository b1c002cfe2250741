package candidates

import (
	"math"
	"slices"
	"strings"
	"time"

	"github.com/recs-server/recs/catalog"
)

// Popularity scopes a build publishes (catalog.PopularityList.Scope). The
// server asks the store for them by these names.
const (
	ScopeAll24h = "all:24h" // decayed interest over the last day
	ScopeAll7d  = "all:7d"  // ... the last 7 days
	ScopeAll30d = "all:30d" // ... the last 30 days
	// ScopeTrending ranks items whose recent rate rose most above their own
	// baseline.
	ScopeTrending = "trending"
)

const categoryScopePrefix = "category:"

// CategoryScope names the 30-day popularity of one top-level category, as
// given in catalog.Item.Category[0] (case and spaces kept), e.g.
// CategoryScope("Home") == "category:Home:30d".
func CategoryScope(topLevel string) string {
	return categoryScopePrefix + topLevel + ":30d"
}

// ParseCategoryScope returns the top-level category of a scope made by
// CategoryScope.
func ParseCategoryScope(scope string) (string, bool) {
	rest, ok := strings.CutPrefix(scope, categoryScopePrefix)
	if !ok {
		return "", false
	}
	return strings.CutSuffix(rest, ":30d")
}

// PopularityOptions tunes Popularity. Zero values take the defaults.
type PopularityOptions struct {
	// TopN is the items kept per scope; default 500.
	TopN int
	// Weights of one event line by type, so purchases count more than
	// carts and carts more than views; defaults 1, 3, 2 and 5. A purchase
	// counts once per order line, whatever the quantity, so wholesale
	// orders do not dominate.
	ViewWeight, CartWeight, CheckoutWeight, PurchaseWeight float64
	// TrendRecent is the recent window of the trending scope and
	// TrendBaseline the window before it that sets each item's usual rate;
	// defaults 24 hours and 30 days.
	TrendRecent, TrendBaseline time.Duration
	// TrendPrior (weighted events per day) is added to both rates before
	// taking their ratio, so thin evidence does not look like a spike;
	// default the mean baseline rate of an active item (at least 0.1).
	TrendPrior float64
	// TrendMinRecent is the least weighted activity in the recent window
	// for an item to trend; default 3.
	TrendMinRecent float64
}

func (o PopularityOptions) withDefaults() PopularityOptions {
	if o.TopN <= 0 {
		o.TopN = 500
	}
	if o.ViewWeight <= 0 {
		o.ViewWeight = 1
	}
	if o.CartWeight <= 0 {
		o.CartWeight = 3
	}
	if o.CheckoutWeight <= 0 {
		o.CheckoutWeight = 2
	}
	if o.PurchaseWeight <= 0 {
		o.PurchaseWeight = 5
	}
	if o.TrendRecent <= 0 {
		o.TrendRecent = 24 * time.Hour
	}
	if o.TrendBaseline <= 0 {
		o.TrendBaseline = 30 * 24 * time.Hour
	}
	if o.TrendMinRecent <= 0 {
		o.TrendMinRecent = 3
	}
	return o
}

// popWindow is one decayed-count scope: events of the last span, each
// weighted by half-life span/2 (the oldest count a quarter).
type popWindow struct {
	scope string
	span  int64 // seconds
	score []float64
}

// Popularity computes the popularity scopes:
//
//   - ScopeAll24h, ScopeAll7d, ScopeAll30d: the type-weighted event lines of
//     the last day, week or month, each decayed by its age with a half-life
//     of half the span (the oldest line in the window counts a quarter);
//   - ScopeTrending: items whose recent daily rate beats their baseline
//     rate, scored (recent + prior) / (baseline + prior) (> 1), with at
//     least TrendMinRecent weighted activity in the recent window;
//   - CategoryScope(c) for every top-level category c with activity, from
//     the 30-day scores.
//
// Purchases count per order line after refunds. Only active items are
// listed, only with a positive score, best first, at most TopN per scope.
func (h *History) Popularity(opt PopularityOptions) []catalog.PopularityList {
	h.mustBeFinished()
	opt = opt.withDefaults()
	n := len(h.ids)
	const day = 24 * 3600
	windows := []popWindow{
		{scope: ScopeAll24h, span: day},
		{scope: ScopeAll7d, span: 7 * day},
		{scope: ScopeAll30d, span: 30 * day},
	}
	for i := range windows {
		windows[i].score = make([]float64, n)
	}
	recentSpan := int64(opt.TrendRecent / time.Second)
	baseSpan := int64(opt.TrendBaseline / time.Second)
	recent := make([]float64, n)
	base := make([]float64, n)
	to := h.to.Unix()

	add := func(item int32, t int64, w float64) {
		age := to - t
		for i := range windows {
			wi := &windows[i]
			if age < wi.span {
				wi.score[item] += w * exp2(-2*float64(age)/float64(wi.span))
			}
		}
		switch {
		case age < recentSpan:
			recent[item] += w
		case age < recentSpan+baseSpan:
			base[item] += w
		}
	}
	for _, l := range h.visitLines {
		var w float64
		switch l.typ {
		case catalog.EventViewItem:
			w = opt.ViewWeight
		case catalog.EventAddToCart:
			w = opt.CartWeight
		case catalog.EventBeginCheckout:
			w = opt.CheckoutWeight
		default:
			continue
		}
		add(l.item, l.t, w)
	}
	for _, b := range h.baskets {
		for _, l := range b.lines {
			add(l.item, b.t, opt.PurchaseWeight)
		}
	}

	out := make([]catalog.PopularityList, 0, len(windows)+1+len(h.cats))
	top := newTopN(opt.TopN)
	emit := func(scope string) {
		if items := top.sorted(h.ids, nil); len(items) > 0 {
			out = append(out, catalog.PopularityList{Scope: scope, Items: items})
		}
	}
	list := func(scope string, score []float64) {
		top.reset()
		for i, s := range score {
			if s > 0 && h.active[i] {
				top.push(int32(i), s)
			}
		}
		emit(scope)
	}
	for _, wi := range windows {
		list(wi.scope, wi.score)
	}

	// Trending: the ratio of smoothed daily rates, recent over baseline.
	// The baseline is as long as the data before the recent window allows.
	baseStart := max(to-recentSpan-baseSpan, h.from.Unix())
	baseDays := float64(to-recentSpan-baseStart) / day
	recentDays := float64(recentSpan) / day
	prior := opt.TrendPrior
	if prior <= 0 {
		var sum float64
		active := 0
		for i, b := range base {
			if h.active[i] {
				sum += b
				active++
			}
		}
		prior = 0.1
		if active > 0 && baseDays > 0 {
			prior = max(sum/float64(active)/baseDays, prior)
		}
	}
	trend := make([]float64, n)
	for i := range trend {
		if recent[i] < opt.TrendMinRecent {
			continue
		}
		baseRate := 0.0
		if baseDays > 0 {
			baseRate = base[i] / baseDays
		}
		if r := (recent[i]/recentDays + prior) / (baseRate + prior); r > 1 {
			trend[i] = r
		}
	}
	list(ScopeTrending, trend)

	// Per top-level category, from the 30-day scores.
	byCat := make([][]int32, len(h.cats))
	for i, s := range windows[2].score {
		if c := h.topCat[i]; c >= 0 && s > 0 && h.active[i] {
			byCat[c] = append(byCat[c], int32(i))
		}
	}
	cats := make([]int32, len(h.cats))
	for i := range cats {
		cats[i] = int32(i)
	}
	slices.SortFunc(cats, func(a, b int32) int { return strings.Compare(h.cats[a], h.cats[b]) })
	for _, c := range cats {
		top.reset()
		for _, i := range byCat[c] {
			top.push(i, windows[2].score[i])
		}
		emit(CategoryScope(h.cats[c]))
	}
	return out
}

func exp2(x float64) float64 { return math.Exp2(x) }

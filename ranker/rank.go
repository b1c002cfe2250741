package ranker

import (
	"cmp"
	"encoding/json"
	"fmt"
	"maps"
	"math"
	"slices"
	"time"

	"github.com/recs-server/recs/partial"
)

// Blend weighs purchase probability against expected margin for one
// placement: score = Prob*P + Margin*P*m, m the item's margin share of
// its price clamped to [0, 1] (0 when the cost is unknown).
type Blend struct {
	Prob   float64 `json:"prob"`
	Margin float64 `json:"margin"`
}

// Boost multiplies the score of the items it matches.
type Boost struct {
	ItemID   string  `json:"item_id,omitempty"`
	Brand    string  `json:"brand,omitempty"`
	Category string  `json:"category,omitempty"` // top-level
	Factor   float64 `json:"factor"`
}

// Config holds the business rules. The zero value takes DefaultConfig's
// values field by field (see WithDefaults).
type Config struct {
	// Blends by module id ("similar", "bought_together", "cross_sell",
	// "for_you", "trending", "rank"); "default" for the others.
	Blends map[string]Blend `json:"blends,omitempty"`
	// RecentPurchaseWindow hides items the visitor bought this recently,
	// unless consumable. Default 14 days; negative disables.
	RecentPurchaseWindow Duration `json:"recent_purchase_window,omitempty"`
	// MaxPerCategory and MaxPerBrand cap one module's items per top-level
	// category and per brand, for diversity; they give way only when the
	// module would otherwise be short. Defaults 0 (no cap) and 3;
	// negative: no cap.
	MaxPerCategory int `json:"max_per_category,omitempty"`
	MaxPerBrand    int `json:"max_per_brand,omitempty"`
	// Items with a refund rate above RefundRateAbove, or fewer than
	// LowStockBelow units left, have their score multiplied by the factor.
	// Defaults 0.15 and 0.5; 3 units and 0.8.
	RefundRateAbove float64 `json:"refund_rate_above,omitempty"`
	RefundFactor    float64 `json:"refund_factor,omitempty"`
	LowStockBelow   int     `json:"low_stock_below,omitempty"`
	LowStockFactor  float64 `json:"low_stock_factor,omitempty"`
	Boosts          []Boost `json:"boosts,omitempty"`
	// Pins put items first in a module, in order, by module id, when they
	// pass the hard filters.
	Pins map[string][]string `json:"pins,omitempty"`
	// Depths are how many fused candidates a module ranks, by module id
	// (more only when the filters leave it short); the server's
	// --rank-depth for the others. Fewer cost less CPU per page, at a
	// price in quality the README measures. MinDepth to MaxDepth.
	Depths map[string]int `json:"depths,omitempty"`
}

// MinDepth and MaxDepth bound a module's ranking depth (Config.Depths,
// recs serve --rank-depth).
const (
	MinDepth = 10
	MaxDepth = 10_000
)

// Duration is a time.Duration written as "336h" in JSON.
type Duration time.Duration

func (d *Duration) UnmarshalJSON(b []byte) error {
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		return fmt.Errorf("duration must be a string like \"336h\": %w", err)
	}
	v, err := time.ParseDuration(s)
	if err != nil {
		return err
	}
	*d = Duration(v)
	return nil
}

func (d Duration) MarshalJSON() ([]byte, error) { return json.Marshal(time.Duration(d).String()) }

// DefaultBlend favours conversion: 0.7*P + 0.3*P*margin.
var DefaultBlend = Blend{Prob: 0.7, Margin: 0.3}

// WithDefaults fills unset fields with the defaults.
func (c Config) WithDefaults() Config {
	if c.Blends == nil {
		c.Blends = map[string]Blend{}
	}
	if _, ok := c.Blends["default"]; !ok {
		c.Blends = maps.Clone(c.Blends)
		c.Blends["default"] = DefaultBlend
	}
	if c.RecentPurchaseWindow == 0 {
		c.RecentPurchaseWindow = Duration(14 * 24 * time.Hour)
	}
	if c.MaxPerBrand == 0 {
		c.MaxPerBrand = 3
	}
	if c.RefundRateAbove == 0 {
		c.RefundRateAbove = 0.15
	}
	if c.RefundFactor == 0 {
		c.RefundFactor = 0.5
	}
	if c.LowStockBelow == 0 {
		c.LowStockBelow = 3
	}
	if c.LowStockFactor == 0 {
		c.LowStockFactor = 0.8
	}
	return c
}

// Validate reports a configuration that cannot be meant.
func (c *Config) Validate() error {
	for id, b := range c.Blends {
		if b.Prob < 0 || b.Margin < 0 || b.Prob+b.Margin == 0 || math.IsNaN(b.Prob+b.Margin) {
			return fmt.Errorf("ranker: blend %q: prob and margin must be non-negative and not both 0", id)
		}
	}
	if c.LowStockBelow < 0 {
		return fmt.Errorf("ranker: low_stock_below must not be negative")
	}
	for _, f := range []float64{c.RefundFactor, c.LowStockFactor} {
		if f < 0 || f > 1 {
			return fmt.Errorf("ranker: demotion factors must be in [0, 1], got %g", f)
		}
	}
	for id, d := range c.Depths {
		if d < MinDepth || d > MaxDepth {
			return fmt.Errorf("ranker: depth of %q: want %d to %d candidates, got %d", id, MinDepth, MaxDepth, d)
		}
	}
	for _, b := range c.Boosts {
		if b.Factor <= 0 || (b.ItemID == "" && b.Brand == "" && b.Category == "") {
			return fmt.Errorf("ranker: a boost needs a positive factor and an item_id, brand or category: %+v", b)
		}
	}
	return nil
}

// Ranker scores and orders candidates. It is immutable once made, so a
// new build swaps in a new Ranker without locks.
type Ranker struct {
	cfg   Config
	model *Model // nil: rank by the candidates' prior order
	// logit is the model's logit with the standardisation folded in.
	logit linear
	stats *Stats
}

// New returns a ranker; model and stats may be nil (no build yet).
func New(cfg Config, model *Model, stats *Stats) *Ranker {
	r := &Ranker{cfg: cfg.WithDefaults(), model: model, stats: stats}
	if model != nil {
		r.logit = model.folded()
	}
	return r
}

// Model is the served model, nil if none.
func (r *Ranker) Model() *Model { return r.model }

// Stats are the served item statistics, nil if none.
func (r *Ranker) Stats() *Stats { return r.stats }

// Config is the ranker's configuration with defaults filled.
func (r *Ranker) Config() Config { return r.cfg }

// Pins are the items pinned first in a module.
func (r *Ranker) Pins(module string) []string { return r.cfg.Pins[module] }

// Depth is how many fused candidates the module ranks: its Config.Depths
// entry, else def.
func (r *Ranker) Depth(module string, def int) int {
	if d, ok := r.cfg.Depths[module]; ok {
		return d
	}
	return def
}

// Ranked is one candidate kept for a module.
type Ranked struct {
	Index   int // into the candidates passed to Rank
	Score   float64
	Prob    float64 // purchase probability; 0 without a model
	Reasons []string
}

// Drop says why a candidate may not be shown; "" when it may.
func (r *Ranker) Drop(c *Context, cand *Candidate) string {
	it := cand.Item
	switch {
	case it == nil:
		return "unknown"
	case !it.Active:
		return "inactive"
	case it.Stock <= 0:
		return "out_of_stock"
	case c.excluded(cand):
		return "excluded"
	}
	if w := time.Duration(r.cfg.RecentPurchaseWindow); w > 0 && !it.Consumable {
		if t, ok := c.LastPurchase(cand.ID); ok && c.Now.Sub(t) < w {
			return "recently_bought"
		}
	}
	// Declared either way round: a declaring item (Context.Declaring)
	// names the candidate, or the candidate names one.
	for _, d := range c.declarers {
		if d.DeclaresIncompatible(cand.ID) {
			return "incompatible"
		}
	}
	if it.DeclaresAnyIncompatible() {
		for _, id := range c.declaringIDs {
			if it.DeclaresIncompatible(id) {
				return "incompatible"
			}
		}
	}
	return ""
}

// Score is a candidate's blended score for a module, its purchase
// probability, and its features (written into x).
func (r *Ranker) Score(c *Context, module string, cand *Candidate, x *Vector) (score, prob float64) {
	return r.score(c, r.blend(module), cand, x)
}

// blend is the module's blend, the default one if it has none.
func (r *Ranker) blend(module string) Blend {
	if b, ok := r.cfg.Blends[module]; ok {
		return b
	}
	return r.cfg.Blends["default"]
}

func (r *Ranker) score(c *Context, b Blend, cand *Candidate, x *Vector) (score, prob float64) {
	st := r.stats.featuresOf(cand)
	Extract(x, c, cand, st)
	if r.model != nil {
		prob = sigmoid(r.logit.at(x))
	} else {
		prob = cand.Prior
	}
	margin := 0.0
	if cand.Item != nil && cand.Item.Cost > 0 {
		margin = min(1, max(0, cand.Item.Margin()))
	}
	score = b.Prob*prob + b.Margin*prob*margin
	if it := cand.Item; it != nil {
		if st.RefundRate > float32(r.cfg.RefundRateAbove) {
			score *= r.cfg.RefundFactor
		}
		if it.Stock < r.cfg.LowStockBelow {
			score *= r.cfg.LowStockFactor
		}
		for _, bo := range r.cfg.Boosts {
			if (bo.ItemID == "" || bo.ItemID == it.ID) && (bo.Brand == "" || bo.Brand == it.Brand) &&
				(bo.Category == "" || (len(it.Category) > 0 && it.Category[0] == bo.Category)) {
				score *= bo.Factor
			}
		}
	}
	return score, prob
}

// Scratch holds the buffers one Rank call needs; reuse it across calls of
// one goroutine to rank without allocating.
type Scratch struct {
	ranked []scored
	vecs   []Vector
	kept   []scored
	out    []Ranked
	// reasons backs the Reasons of out.
	reasons []string
	// ordered is how many of ranked are sorted.
	ordered int
	// Items kept so far by top category and by brand: two maps, as a key
	// joining kind and name costs a new string per kept item.
	perCategory, perBrand map[string]int
}

// Rank drops the candidates that may not be shown, scores the rest for
// the module and returns the best limit, pins first, with at most
// MaxPerCategory per category and MaxPerBrand per brand unless the module
// would otherwise be short. The result, Reasons included, aliases s: the
// next Rank with s overwrites it.
func (r *Ranker) Rank(c *Context, module string, cands []Candidate, limit int, s *Scratch) []Ranked {
	s.ranked = s.ranked[:0]
	if cap(s.vecs) < len(cands) {
		s.vecs = make([]Vector, len(cands))
	}
	vecs := s.vecs[:len(cands)]
	pins := r.Pins(module)
	b := r.blend(module)
	for i := range cands {
		if r.Drop(c, &cands[i]) != "" {
			continue
		}
		sc, p := r.score(c, b, &cands[i], &vecs[i])
		if k := slices.Index(pins, cands[i].ID); k >= 0 {
			// Pins sort first, in their configured order (by Prob).
			sc, p = math.Inf(1), float64(len(pins)-k)
		}
		s.ranked = append(s.ranked, scored{index: int32(i), score: sc, prob: p})
	}
	// Only the head is shown: order what diversify is likely to read,
	// and more only if it reads further.
	s.ordered = min(len(s.ranked), 2*limit)
	partial.SortPrefix(s.ranked, s.ordered, byScore)
	s.out, s.reasons = s.out[:0], s.reasons[:0]
	for _, k := range r.diversify(cands, s, limit) {
		s.out = append(s.out, Ranked{Index: int(k.index), Score: k.score, Prob: k.prob})
	}
	out := s.out
	for k := range out {
		cd := &cands[out[k].Index]
		if math.IsInf(out[k].Score, 1) {
			out[k].Score, out[k].Prob = 1, 0
			out[k].Reasons = append(cd.Reasons[:len(cd.Reasons):len(cd.Reasons)], "pinned")
			continue
		}
		start := len(s.reasons)
		s.reasons = r.appendReasons(s.reasons, cd, &vecs[out[k].Index])
		out[k].Reasons = s.reasons[start:len(s.reasons):len(s.reasons)]
	}
	return out
}

// scored is a candidate being ranked: small, as sorting moves it.
type scored struct {
	score, prob float64
	index       int32
}

// byScore orders best first; ties by probability (pins: configured
// order), then by the candidates' order, so ranking is deterministic.
func byScore(a, b scored) int {
	if c := cmp.Compare(b.score, a.score); c != 0 {
		return c
	}
	if c := cmp.Compare(b.prob, a.prob); c != 0 {
		return c
	}
	return cmp.Compare(a.index, b.index)
}

// diversify takes the best items under the caps, then, if short, the best
// of those the caps held back.
func (r *Ranker) diversify(cands []Candidate, s *Scratch, limit int) []scored {
	s.kept = s.kept[:0]
	if r.cfg.MaxPerCategory <= 0 && r.cfg.MaxPerBrand <= 0 {
		return append(s.kept, s.ranked[:min(limit, len(s.ranked))]...)
	}
	if s.perCategory == nil {
		s.perCategory, s.perBrand = make(map[string]int), make(map[string]int)
	}
	clear(s.perCategory)
	clear(s.perBrand)
	held := 0
	for k := range s.ranked {
		if len(s.kept) == limit {
			break
		}
		if k == s.ordered {
			s.ordered = min(len(s.ranked), 2*s.ordered)
			partial.SortPrefix(s.ranked[k:], s.ordered-k, byScore)
		}
		rk := s.ranked[k]
		it := cands[rk.index].Item
		cat, brand := "", it.Brand
		if len(it.Category) > 0 {
			cat = it.Category[0]
		}
		if (r.cfg.MaxPerCategory > 0 && cat != "" && s.perCategory[cat] >= r.cfg.MaxPerCategory) ||
			(r.cfg.MaxPerBrand > 0 && brand != "" && s.perBrand[brand] >= r.cfg.MaxPerBrand) {
			// Held back: marked by moving it to the front part of ranked.
			s.ranked[held], s.ranked[k] = s.ranked[k], s.ranked[held]
			held++
			continue
		}
		if cat != "" {
			s.perCategory[cat]++
		}
		if brand != "" {
			s.perBrand[brand]++
		}
		s.kept = append(s.kept, rk)
	}
	if len(s.kept) < limit && held > 0 {
		// Swapping kept the held-back items in score order only if we
		// sort them again.
		hb := s.ranked[:held]
		slices.SortFunc(hb, byScore)
		for _, rk := range hb {
			if len(s.kept) == limit {
				break
			}
			s.kept = append(s.kept, rk)
		}
	}
	return s.kept
}

// appendReasons appends the candidate's reasons to out: the lists that
// proposed the item and, with a model, the two features that raised its
// probability most ("feature:co_view_rank").
func (r *Ranker) appendReasons(out []string, cd *Candidate, x *Vector) []string {
	out = append(out, cd.Reasons...)
	if r.model == nil {
		return out
	}
	best, second := -1, -1
	var bv, sv float64
	for i := range NumFeatures {
		v := r.model.contribution(x, i)
		if v <= 0 {
			continue
		}
		switch {
		case best < 0 || v > bv:
			second, sv = best, bv
			best, bv = i, v
		case second < 0 || v > sv:
			second, sv = i, v
		}
	}
	for _, i := range []int{best, second} {
		if i >= 0 {
			out = append(out, featureReasons[i])
		}
	}
	return out
}

// featureReasons are the reasons naming each feature, made once.
var featureReasons = func() (r [NumFeatures]string) {
	for i, n := range FeatureNames {
		r[i] = "feature:" + n
	}
	return r
}()

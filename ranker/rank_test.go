package ranker

import (
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/recs-server/recs/catalog"
)

var now = time.Date(2026, 11, 1, 12, 0, 0, 0, time.UTC)

func item(id string, mods ...func(*catalog.Item)) *catalog.Item {
	it := &catalog.Item{ID: id, Title: id, Price: 10, Cost: 5, Stock: 10, Active: true, Category: []string{"Home"}}
	for _, m := range mods {
		m(it)
	}
	return it
}

// cands makes candidates in prior order: the first is the best.
func cands(items ...*catalog.Item) []Candidate {
	out := make([]Candidate, len(items))
	for i, it := range items {
		out[i] = Candidate{ID: it.ID, Item: it, Hits: NoHits, Prior: 1 / float64(i+1), Reasons: []string{"co_view"}}
		out[i].Hits[SrcCoView] = Hit{Rank: int32(i), Score: 0.5}
	}
	return out
}

func rankIDs(r *Ranker, c *Context, module string, cs []Candidate, limit int) string {
	c.Prepare()
	var s Scratch
	var ids []string
	for _, rk := range r.Rank(c, module, cs, limit, &s) {
		ids = append(ids, cs[rk.Index].ID)
	}
	return strings.Join(ids, ",")
}

func TestOutOfStockNeverReturned(t *testing.T) {
	r := New(Config{}, nil, nil)
	cs := cands(item("a", func(it *catalog.Item) { it.Stock = 0 }), item("b"), item("c", func(it *catalog.Item) { it.Stock = -2 }))
	if got := rankIDs(r, &Context{Now: now}, "similar", cs, 10); got != "b" {
		t.Fatalf("got %q, want only the item in stock", got)
	}
}

func TestInactiveAndUnknownNeverReturned(t *testing.T) {
	r := New(Config{}, nil, nil)
	cs := cands(item("a", func(it *catalog.Item) { it.Active = false }), item("b"))
	cs = append(cs, Candidate{ID: "ghost", Hits: NoHits, Prior: 5})
	if got := rankIDs(r, &Context{Now: now}, "similar", cs, 10); got != "b" {
		t.Fatalf("got %q, want b", got)
	}
}

func TestCartItemsExcluded(t *testing.T) {
	r := New(Config{}, nil, nil)
	cart := []*catalog.Item{item("a"), item("b")}
	c := &Context{Now: now, Anchors: cart, Exclude: map[string]bool{"a": true, "b": true}}
	if got := rankIDs(r, c, "cross_sell", cands(item("a"), item("c"), item("b"), item("d")), 10); got != "c,d" {
		t.Fatalf("got %q, want c,d", got)
	}
}

// With an item numbering, exclusions and the visitor's history match
// numbered candidates by number, and ids that had no number when the
// context was prepared (numbered later, or never) by id: the same answers
// as without a numbering.
func TestExclusionsAndHistoryMatchByNumberAsByID(t *testing.T) {
	numbered := map[string]uint32{"a": 1, "b": 2, "seen": 3}
	numberOf := func(id string) (uint32, bool) { k, ok := numbered[id]; return k, ok }
	ctx := func(withNumbers bool) *Context {
		c := &Context{Now: now, Exclude: map[string]bool{"a": true, "late": true, "loose": true, "kept": false},
			Recent: []Interaction{{ItemID: "seen", Time: now.Add(-time.Hour), Number: 3, Numbered: withNumbers}, {ItemID: "late-seen", Time: now.Add(-2 * time.Hour)}}}
		if withNumbers {
			c.NumberOf = numberOf
		}
		c.Prepare()
		return c
	}
	byID, byNumber := ctx(false), ctx(true)
	// Numbered after Prepare: the candidates carry numbers the context
	// never saw.
	numbered["late"], numbered["late-seen"] = 4, 5
	r := New(Config{}, nil, nil)
	for _, id := range []string{"a", "b", "late", "loose", "kept", "seen", "late-seen", "other"} {
		k, ok := numbered[id]
		cand := Candidate{ID: id, Item: item(id), Number: k, Numbered: ok, Hits: NoHits}
		for _, c := range []*Context{byID, byNumber} {
			var x Vector
			Extract(&x, c, &cand, ItemFeatures{})
			wantDrop := map[bool]string{true: "excluded", false: ""}[id == "a" || id == "late" || id == "loose"]
			wantSeen := id == "seen" || id == "late-seen"
			if got := r.Drop(c, &cand); got != wantDrop || (x[FInteracted] > 0) != wantSeen {
				t.Errorf("%s (numbered %v, context by number %v): drop %q, interacted %v; want %q, %v",
					id, ok, c.NumberOf != nil, got, x[FInteracted], wantDrop, wantSeen)
			}
		}
	}
	// A copy of the context without exclusions excludes nothing (the home
	// page's trending module).
	all := *byNumber
	all.Exclude = nil
	cand := Candidate{ID: "a", Item: item("a"), Number: 1, Numbered: true, Hits: NoHits}
	if got := r.Drop(&all, &cand); got != "" {
		t.Errorf("a context with Exclude cleared dropped a: %q", got)
	}
}

func TestRecentPurchaseSuppressed(t *testing.T) {
	r := New(Config{}, nil, nil)
	c := &Context{Now: now, Recent: []Interaction{
		{ItemID: "bought-yesterday", Type: catalog.EventPurchase, Time: now.Add(-24 * time.Hour)},
		{ItemID: "bought-long-ago", Type: catalog.EventPurchase, Time: now.Add(-20 * 24 * time.Hour)},
		{ItemID: "soap", Type: catalog.EventPurchase, Time: now.Add(-24 * time.Hour)},
		{ItemID: "viewed", Type: catalog.EventViewItem, Time: now.Add(-time.Hour)},
	}}
	cs := cands(item("bought-yesterday"), item("bought-long-ago"), item("soap", func(it *catalog.Item) { it.Consumable = true }), item("viewed"))
	if got := rankIDs(r, c, "for_you", cs, 10); got != "bought-long-ago,soap,viewed" {
		t.Fatalf("got %q", got)
	}
	// The window is configurable; negative turns the rule off.
	r = New(Config{RecentPurchaseWindow: Duration(-1)}, nil, nil)
	if got := rankIDs(r, c, "for_you", cs, 10); !strings.HasPrefix(got, "bought-yesterday") {
		t.Fatalf("rule off: got %q", got)
	}
}

func TestIncompatibleExcludedBothWays(t *testing.T) {
	r := New(Config{}, nil, nil)
	// As read from the store, and compacted as the item cache holds them.
	for _, compact := range []bool{false, true} {
		anchor := item("printer", func(it *catalog.Item) { it.IncompatibleWith = []string{"ink-x"} })
		inkY := item("ink-y", func(it *catalog.Item) { it.IncompatibleWith = []string{"scanner", "printer"} })
		if compact {
			anchor.CompactIncompatible()
			inkY.CompactIncompatible()
		}
		cs := cands(item("ink-x"), inkY, item("paper"))
		c := &Context{Now: now, Anchors: []*catalog.Item{anchor}}
		if got := rankIDs(r, c, "similar", cs, 10); got != "paper" {
			t.Fatalf("compact %v: got %q, want paper", compact, got)
		}
	}
}

// Items that declare beyond the anchors (a cart's older items) hide
// candidates either way round too; the anchors alone then do not.
func TestDeclaringItemsBeyondTheAnchors(t *testing.T) {
	r := New(Config{}, nil, nil)
	older := item("scanner", func(it *catalog.Item) { it.IncompatibleWith = []string{"ink-x"} })
	older.CompactIncompatible()
	inkY := item("ink-y", func(it *catalog.Item) { it.IncompatibleWith = []string{"scanner"} })
	inkY.CompactIncompatible()
	anchor := item("printer")
	c := &Context{Now: now, Anchors: []*catalog.Item{anchor}, Declaring: []*catalog.Item{anchor, older}}
	if got := rankIDs(r, c, "similar", cands(item("ink-x"), inkY, item("paper")), 10); got != "paper" {
		t.Fatalf("got %q, want paper", got)
	}
	c = &Context{Now: now, Anchors: []*catalog.Item{anchor}}
	if got := rankIDs(r, c, "similar", cands(item("ink-x"), inkY, item("paper")), 10); got != "ink-x,ink-y,paper" {
		t.Fatalf("anchors only: got %q, want all three", got)
	}
}

func TestMarginBlendPrefersMarginAtEqualProbability(t *testing.T) {
	cs := cands(item("thin", func(it *catalog.Item) { it.Cost = 9.5 }), item("fat", func(it *catalog.Item) { it.Cost = 2 }))
	cs[1].Prior = cs[0].Prior // equal probability
	r := New(Config{}, nil, nil)
	if got := rankIDs(r, &Context{Now: now}, "similar", cs, 10); got != "fat,thin" {
		t.Fatalf("got %q, want the higher margin first", got)
	}
	// A placement weighted on probability alone keeps the prior order.
	r = New(Config{Blends: map[string]Blend{"similar": {Prob: 1}}}, nil, nil)
	if got := rankIDs(r, &Context{Now: now}, "similar", cs, 10); got != "thin,fat" {
		t.Fatalf("prob only: got %q", got)
	}
}

func TestSoftRulesDemote(t *testing.T) {
	f := func(name string, cfg Config, st *Stats, mod func(*catalog.Item), want string) {
		t.Helper()
		cs := cands(item("a", mod), item("b"))
		cs[1].Prior = 0.9 // a is only a little better before the rule
		if got := rankIDs(New(cfg, nil, st), &Context{Now: now}, "similar", cs, 10); got != want {
			t.Fatalf("%s: got %q, want %q", name, got, want)
		}
	}
	f("low stock", Config{}, nil, func(it *catalog.Item) { it.Stock = 1 }, "b,a")
	f("enough stock", Config{}, nil, func(it *catalog.Item) { it.Stock = 3 }, "a,b")
	refunds := NewStats(time.Time{}, map[string]ItemStats{"a": {Purchases: 20, Refunds: 10}})
	f("refunds", Config{}, refunds, func(*catalog.Item) {}, "b,a")
	few := NewStats(time.Time{}, map[string]ItemStats{"a": {Purchases: 20, Refunds: 1}})
	f("few refunds", Config{}, few, func(*catalog.Item) {}, "a,b")
}

func TestDiversityCapsBrandUnlessShort(t *testing.T) {
	acme := func(it *catalog.Item) { it.Brand = "acme" }
	cs := cands(item("a1", acme), item("a2", acme), item("a3", acme), item("x"), item("a4", acme))
	r := New(Config{MaxPerBrand: 2}, nil, nil)
	if got := rankIDs(r, &Context{Now: now}, "similar", cs, 3); got != "a1,a2,x" {
		t.Fatalf("got %q, want the third acme item held back", got)
	}
	// Short of items: the held-back ones fill the module, best first.
	if got := rankIDs(r, &Context{Now: now}, "similar", cs, 5); got != "a1,a2,x,a3,a4" {
		t.Fatalf("short module: got %q", got)
	}
	// The cap holds back far more than the module shows: ranking reads
	// past the head it ordered first, in order.
	var many []*catalog.Item
	for i := range 30 {
		many = append(many, item(fmt.Sprint("b", i), acme))
	}
	many = append(many, item("y"), item("z"))
	one := New(Config{MaxPerBrand: 1}, nil, nil)
	if got := rankIDs(one, &Context{Now: now}, "similar", cands(many...), 3); got != "b0,y,z" {
		t.Fatalf("deep cap: got %q, want b0,y,z", got)
	}
	if got := rankIDs(one, &Context{Now: now}, "similar", cands(many[:30]...), 3); got != "b0,b1,b2" {
		t.Fatalf("deep cap, short: got %q, want the held-back b1, b2 in order", got)
	}
	byCat := New(Config{MaxPerCategory: 1}, nil, nil)
	cs = cands(item("h1"), item("h2"), item("g", func(it *catalog.Item) { it.Category = []string{"Garden"} }))
	if got := rankIDs(byCat, &Context{Now: now}, "similar", cs, 2); got != "h1,g" {
		t.Fatalf("category cap: got %q", got)
	}
}

func TestBoostsAndPins(t *testing.T) {
	cs := cands(item("a"), item("b"), item("c", func(it *catalog.Item) { it.Brand = "house" }), item("d"))
	r := New(Config{Boosts: []Boost{{Brand: "house", Factor: 10}}, Pins: map[string][]string{"trending": {"d", "b", "sold-out"}}}, nil, nil)
	if got := rankIDs(r, &Context{Now: now}, "similar", cs, 10); got != "c,a,b,d" {
		t.Fatalf("boost: got %q", got)
	}
	if got := rankIDs(r, &Context{Now: now}, "trending", cs, 10); got != "d,b,c,a" {
		t.Fatalf("pins: got %q", got)
	}
	// A pinned item still passes the hard filters.
	cs[3].Item.Stock = 0
	if got := rankIDs(r, &Context{Now: now}, "trending", cs, 10); got != "b,c,a" {
		t.Fatalf("pinned out of stock: got %q", got)
	}
}

func TestReasonsNameSourcesAndTopFeatures(t *testing.T) {
	x, y := synthetic(2000, 1)
	m, err := Train(x, y, TrainOptions{})
	if err != nil {
		t.Fatal(err)
	}
	r := New(Config{}, m, nil)
	cs := cands(item("a"), item("b"))
	c := &Context{Now: now}
	c.Prepare()
	var s Scratch
	out := r.Rank(c, "similar", cs, 2, &s)
	if len(out) != 2 {
		t.Fatalf("got %d items", len(out))
	}
	for _, rk := range out {
		if rk.Reasons[0] != "co_view" || !slices.ContainsFunc(rk.Reasons, func(s string) bool { return strings.HasPrefix(s, "feature:") }) {
			t.Fatalf("reasons %v: want the source and a feature", rk.Reasons)
		}
		if rk.Prob <= 0 || rk.Prob >= 1 {
			t.Fatalf("probability %v out of (0, 1)", rk.Prob)
		}
	}
}

func TestConfigValidate(t *testing.T) {
	bad := []Config{
		{Blends: map[string]Blend{"similar": {Prob: -1, Margin: 1}}},
		{Blends: map[string]Blend{"similar": {}}},
		{LowStockBelow: -1},
		{RefundFactor: 2},
		{Boosts: []Boost{{Factor: 2}}},
		{Depths: map[string]int{"similar": MinDepth - 1}},
		{Depths: map[string]int{"for_you": MaxDepth + 1}},
	}
	for i, c := range bad {
		if err := c.Validate(); err == nil {
			t.Errorf("config %d: want an error", i)
		}
	}
	good := Config{Depths: map[string]int{"similar": MinDepth, "for_you": MaxDepth}}.WithDefaults()
	if err := good.Validate(); err != nil {
		t.Fatal(err)
	}
	r := New(good, nil, nil)
	if r.Depth("similar", 100) != MinDepth || r.Depth("for_you", 100) != MaxDepth || r.Depth("cross_sell", 100) != 100 {
		t.Fatalf("depths: similar %d, for_you %d, cross_sell %d; want %d, %d and the default 100",
			r.Depth("similar", 100), r.Depth("for_you", 100), r.Depth("cross_sell", 100), MinDepth, MaxDepth)
	}
}

// BenchmarkRank ranks a module of 10 from 200 and 1,000 candidates with a
// trained model: features, prediction, blend, rules and diversity.
func BenchmarkRank(b *testing.B) {
	x, y := synthetic(5000, 2)
	m, err := Train(x, y, TrainOptions{})
	if err != nil {
		b.Fatal(err)
	}
	for _, n := range []int{200, 1000} {
		b.Run(fmt.Sprint(n), func(b *testing.B) {
			items := make([]*catalog.Item, n)
			st := NewStats(now, map[string]ItemStats{})
			for i := range items {
				items[i] = item(fmt.Sprintf("i%d", i), func(it *catalog.Item) {
					it.Brand = fmt.Sprintf("brand%d", i%7)
					it.Price = float64(1 + i%50)
				})
				st.put(items[i].ID, ItemStats{Views: float32(i % 100), Purchases: float32(i % 13)})
			}
			cs := cands(items...)
			r := New(Config{}, m, st)
			c := &Context{Now: now, Anchors: []*catalog.Item{item("anchor")}, Exclude: map[string]bool{"anchor": true},
				Recent: []Interaction{{ItemID: "i3", Type: catalog.EventViewItem, Time: now.Add(-time.Hour), Category: "Home", Brand: "brand3"}}}
			c.Prepare()
			var s Scratch
			b.ReportAllocs()
			b.ResetTimer()
			for b.Loop() {
				if out := r.Rank(c, "similar", cs, 10, &s); len(out) != 10 {
					b.Fatal(len(out))
				}
			}
		})
	}
}

// A Context reused with Reset, page after page, features and filters
// every candidate as a fresh one would: nothing of an earlier page
// (purchases, exclusions, affinities, anchors, numbering) carries over.
func TestAResetContextAnswersAsAFreshOne(t *testing.T) {
	numbered := map[string]uint32{"a": 1, "b": 2, "c": 3}
	numberOf := func(id string) (uint32, bool) { k, ok := numbered[id]; return k, ok }
	shoe := item("shoe", func(it *catalog.Item) { it.Category, it.Brand = []string{"Shoes", "Running"}, "Acme" })
	lamp := item("lamp", func(it *catalog.Item) { it.IncompatibleWith = []string{"b"} })
	pages := []func(c *Context){
		func(c *Context) {
			c.Now, c.Anchors, c.NumberOf = now, []*catalog.Item{shoe, lamp}, numberOf
			c.Exclude = map[string]bool{"a": true, "x": true}
			c.Recent = append(c.Recent,
				Interaction{ItemID: "b", Type: catalog.EventPurchase, Time: now.Add(-time.Hour), Category: "Shoes", Brand: "Acme", Number: 2, Numbered: true},
				Interaction{ItemID: "y", Type: catalog.EventViewItem, Time: now.Add(-2 * time.Hour), Category: "Home"})
		},
		func(c *Context) { c.Now = now.Add(5 * time.Hour) }, // nobody: no anchors, history or exclusions
		func(c *Context) {
			c.Now, c.Exclude = now, map[string]bool{"b": true}
			c.Recent = append(c.Recent, Interaction{ItemID: "c", Type: catalog.EventViewItem, Time: now.Add(-time.Minute), Brand: "Other"})
		},
		func(c *Context) {
			c.Now, c.NumberOf, c.Declaring = now, numberOf, []*catalog.Item{lamp}
			c.Recent = append(c.Recent, Interaction{ItemID: "a", Type: catalog.EventPurchase, Time: now.Add(-time.Hour), Number: 1, Numbered: true})
		},
	}
	r := New(Config{}, nil, nil)
	var reused Context
	for round := range 3 {
		for i, page := range pages {
			var fresh Context
			page(&fresh)
			fresh.Prepare()
			reused.Reset()
			page(&reused)
			reused.Prepare()
			for _, id := range []string{"a", "b", "c", "x", "y", "shoe", "other"} {
				k, ok := numbered[id]
				cand := Candidate{ID: id, Item: item(id, func(it *catalog.Item) { it.Category, it.Brand = []string{"Shoes", "Trail"}, "Acme" }),
					Number: k, Numbered: ok, Hits: NoHits}
				var xf, xr Vector
				Extract(&xf, &fresh, &cand, ItemFeatures{})
				Extract(&xr, &reused, &cand, ItemFeatures{})
				df, dr := r.Drop(&fresh, &cand), r.Drop(&reused, &cand)
				if xf != xr || df != dr {
					t.Fatalf("round %d, page %d, %s: reused context gives %v, drop %q; a fresh one %v, drop %q", round, i, id, xr, dr, xf, df)
				}
			}
		}
	}
}

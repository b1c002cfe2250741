package demo

import (
	"cmp"
	"math"
	"reflect"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/recs-server/recs/catalog"
)

// mediumOptions is big enough for the statistical properties to show and
// small enough to keep the tests fast under -race.
var mediumOptions = Options{Seed: 7, Items: 1200, Visitors: 3000, Days: 60}

var medium = sync.OnceValue(func() *Shop { return Generate(mediumOptions) })

// purchases returns the purchase events (one per order), in time order.
func purchases(s *Shop) []*catalog.Event {
	var out []*catalog.Event
	for i := range s.Events {
		if s.Events[i].Type == catalog.EventPurchase {
			out = append(out, &s.Events[i])
		}
	}
	return out
}

func itemsByID(s *Shop) map[string]*catalog.Item {
	m := make(map[string]*catalog.Item, len(s.Items))
	for i := range s.Items {
		m[s.Items[i].ID] = &s.Items[i]
	}
	return m
}

func TestGenerateIsDeterministic(t *testing.T) {
	opt := Options{Seed: 42, Items: 300, Visitors: 400, Days: 20}
	a, b := Generate(opt), Generate(opt)
	if !reflect.DeepEqual(a, b) {
		t.Fatal("two runs with the same options differ")
	}
	if len(a.Events) == 0 {
		t.Fatal("no events")
	}
	c := Generate(Options{Seed: 43, Items: 300, Visitors: 400, Days: 20})
	if reflect.DeepEqual(a.Items, c.Items) || reflect.DeepEqual(a.Events, c.Events) {
		t.Fatal("a different seed gives the same shop")
	}
}

func TestCatalogDoesNotDependOnHistoryOptions(t *testing.T) {
	a := Generate(Options{Seed: 3, Items: 200, Visitors: 100, Days: 10})
	b := Generate(Options{Seed: 3, Items: 200, Visitors: 300, Days: 30})
	if !reflect.DeepEqual(a.Items, b.Items) {
		t.Fatal("changing Days or Visitors changed the catalog")
	}
}

func TestZeroOptionsTakeDefaults(t *testing.T) {
	got := Options{}.withDefaults()
	want := Options{Seed: 1, Items: 3000, Days: 90, Visitors: 6000, End: time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("defaults: got %+v, want %+v", got, want)
	}
}

func TestGeneratedDataIsValid(t *testing.T) {
	s := medium()
	if len(s.Items) != mediumOptions.Items {
		t.Fatalf("got %d items, want %d", len(s.Items), mediumOptions.Items)
	}
	ids := itemsByID(s)
	if len(ids) != len(s.Items) {
		t.Fatal("duplicate item ids")
	}
	subs := map[string]map[string]bool{}
	for i := range s.Items {
		it := &s.Items[i]
		if err := it.Validate(); err != nil {
			t.Fatalf("item %s: %v", it.ID, err)
		}
		if len(it.Category) != 2 || it.Brand == "" || it.Currency != "EUR" || it.URL != "/demo/item/"+it.ID || it.ImageURL != "" {
			t.Fatalf("item %s: incomplete: %+v", it.ID, it)
		}
		if it.Price <= 0 || it.Price != math.Round(it.Price*100)/100 || it.Cost != math.Round(it.Cost*100)/100 {
			t.Fatalf("item %s: price %v cost %v not positive with 2 decimals", it.ID, it.Price, it.Cost)
		}
		if m := it.Margin(); m < 0.15 || m > 0.65 {
			t.Fatalf("item %s: margin %.3f outside 15-65 %%", it.ID, m)
		}
		if it.CreatedAt.After(it.UpdatedAt) || !it.UpdatedAt.Before(mediumOptions.withDefaults().End) {
			t.Fatalf("item %s: created %v updated %v", it.ID, it.CreatedAt, it.UpdatedAt)
		}
		for _, other := range it.IncompatibleWith {
			o, ok := ids[other]
			if !ok || !slices.Contains(o.IncompatibleWith, it.ID) {
				t.Fatalf("item %s: incompatible with %s, which is unknown or not incompatible back", it.ID, other)
			}
		}
		if subs[it.Category[0]] == nil {
			subs[it.Category[0]] = map[string]bool{}
		}
		subs[it.Category[0]][it.Category[1]] = true
	}
	if len(subs) != 8 {
		t.Fatalf("got %d departments, want 8", len(subs))
	}
	for d, ss := range subs {
		if len(ss) < 3 || len(ss) > 6 {
			t.Fatalf("department %s has %d subcategories, want 3-6", d, len(ss))
		}
	}
	eventIDs := make(map[string]bool, len(s.Events))
	for i := range s.Events {
		e := &s.Events[i]
		if err := e.Validate(); err != nil {
			t.Fatalf("event %s: %v", e.ID, err)
		}
		if e.Time != e.Time.UTC().Truncate(time.Microsecond) || slices.ContainsFunc(e.Items, func(l catalog.EventItem) bool { return l.Quantity < 1 }) {
			t.Fatalf("event %s is not normalized", e.ID)
		}
		if eventIDs[e.ID] {
			t.Fatalf("duplicate event id %s", e.ID)
		}
		eventIDs[e.ID] = true
	}
}

func TestIncompatibleAccessoriesFitSiblingModels(t *testing.T) {
	s := medium()
	ids := itemsByID(s)
	pairs := 0
	for i := range s.Items {
		it := &s.Items[i]
		fits := it.Attributes["compatible_model"]
		for _, other := range it.IncompatibleWith {
			o := ids[other]
			if fits == "" {
				continue // the device side of the pair
			}
			pairs++
			if o.Attributes["model"] == "" || o.Attributes["model"] == fits || o.Brand != ids[it.IncompatibleWith[0]].Brand {
				t.Fatalf("%s (%s) incompatible with %s (%s)", it.Title, fits, o.Title, o.Attributes["model"])
			}
		}
	}
	if pairs < 20 {
		t.Fatalf("only %d incompatible pairs", pairs)
	}
}

func TestEventsReferenceKnownItems(t *testing.T) {
	s := medium()
	ids := itemsByID(s)
	purchased := map[string][]catalog.EventItem{}
	for i := range s.Events {
		e := &s.Events[i]
		if e.Type == catalog.EventSearch {
			if len(e.Items) != 0 || e.Query == "" {
				t.Fatalf("search %s: items %v query %q", e.ID, e.Items, e.Query)
			}
			continue
		}
		for _, l := range e.Items {
			it, ok := ids[l.ItemID]
			if !ok {
				t.Fatalf("event %s references unknown item %q", e.ID, l.ItemID)
			}
			if e.Time.Before(it.CreatedAt) {
				t.Fatalf("event %s at %v is before item %s was created (%v)", e.ID, e.Time, it.ID, it.CreatedAt)
			}
			if !it.Active && !e.Time.Before(it.UpdatedAt) {
				t.Fatalf("event %s at %v is after item %s was deactivated (%v)", e.ID, e.Time, it.ID, it.UpdatedAt)
			}
			if l.Price != it.Price || l.Quantity < 1 {
				t.Fatalf("event %s line %+v, item price %v", e.ID, l, it.Price)
			}
		}
		switch e.Type {
		case catalog.EventPurchase:
			if e.OrderID == "" || purchased[e.OrderID] != nil {
				t.Fatalf("purchase %s: order id %q missing or reused", e.ID, e.OrderID)
			}
			purchased[e.OrderID] = e.Items
		case catalog.EventRefund:
			lines, ok := purchased[e.OrderID]
			if !ok {
				t.Fatalf("refund %s of order %q that was not purchased before", e.ID, e.OrderID)
			}
			for _, l := range e.Items {
				if !slices.Contains(lines, l) {
					t.Fatalf("refund %s returns %+v, not in order %s", e.ID, l, e.OrderID)
				}
			}
		default:
			if e.OrderID != "" {
				t.Fatalf("%s event %s has order id %q", e.Type, e.ID, e.OrderID)
			}
		}
	}
}

func TestTinyShopsAreValid(t *testing.T) {
	for _, opt := range []Options{
		{Items: 1, Visitors: 1, Days: 1},
		{Items: 7, Visitors: 3, Days: 2},
		{Items: 50, Visitors: 20, Days: 3, Seed: -9},
	} {
		s := Generate(opt)
		ids := itemsByID(s)
		if len(s.Items) != opt.Items {
			t.Fatalf("%+v: %d items", opt, len(s.Items))
		}
		for i := range s.Items {
			if err := s.Items[i].Validate(); err != nil {
				t.Fatalf("%+v: item %s: %v", opt, s.Items[i].ID, err)
			}
		}
		for i := range s.Events {
			e := &s.Events[i]
			if err := e.Validate(); err != nil {
				t.Fatalf("%+v: event %s: %v", opt, e.ID, err)
			}
			for _, l := range e.Items {
				if ids[l.ItemID] == nil {
					t.Fatalf("%+v: event %s references unknown item %q", opt, e.ID, l.ItemID)
				}
			}
		}
	}
}

func TestEventsAreTimeOrderedWithinWindow(t *testing.T) {
	end := time.Date(2025, 3, 14, 15, 9, 26, 535897000, time.FixedZone("CET", 3600))
	opt := Options{Seed: 5, Items: 200, Visitors: 300, Days: 9, End: end}
	s := Generate(opt)
	from, to := end.Add(-9*24*time.Hour), end
	if len(s.Events) < 500 {
		t.Fatalf("only %d events", len(s.Events))
	}
	for i := range s.Events {
		e := &s.Events[i]
		if e.Time.Location() != time.UTC || e.Time.Before(from) || !e.Time.Before(to) {
			t.Fatalf("event %s at %v outside [%v, %v) or not UTC", e.ID, e.Time, from, to)
		}
		if i > 0 {
			p := &s.Events[i-1]
			if c := cmp.Or(p.Time.Compare(e.Time), cmp.Compare(p.ID, e.ID)); c >= 0 {
				t.Fatalf("events %s (%v) and %s (%v) out of order", p.ID, p.Time, e.ID, e.Time)
			}
		}
	}
}

func TestCoPurchaseStructureIsNotJustPopularity(t *testing.T) {
	s := medium()
	ids := itemsByID(s)
	orders := purchases(s)
	if len(orders) < 500 {
		t.Fatalf("only %d orders", len(orders))
	}

	// Subcategory level: the complementary subcategories of the taxonomy
	// (phone -> case, coffee machine -> coffee, tent -> sleeping bag) go
	// together; unrelated ones do not.
	subsOf := make([]map[string]bool, len(orders))
	nSub := map[string]int{}
	for i, o := range orders {
		subsOf[i] = map[string]bool{}
		for _, l := range o.Items {
			subsOf[i][ids[l.ItemID].Category[1]] = true
		}
		for sub := range subsOf[i] {
			nSub[sub]++
		}
	}
	lift := func(a, b string) (float64, int) {
		nA, nAB := 0, 0
		for _, in := range subsOf {
			if in[a] {
				nA++
				if in[b] {
					nAB++
				}
			}
		}
		if nA == 0 || nSub[b] == 0 {
			return 0, nA
		}
		return (float64(nAB) / float64(nA)) / (float64(nSub[b]) / float64(len(orders))), nA
	}
	var compLifts []float64
	var otherSum float64
	var otherN int
	for i := range subcatTable {
		a := subcatTable[i].name
		for j := range subcatTable {
			b := subcatTable[j].name
			if a == b {
				continue
			}
			l, n := lift(a, b)
			if n < 10 {
				continue
			}
			if slices.Contains(subcatTable[i].complements, b) {
				compLifts = append(compLifts, l)
			} else if subcatTable[i].dept != subcatTable[j].dept && !slices.Contains(subcatTable[j].complements, a) {
				otherSum += l
				otherN++
			}
		}
	}
	slices.Sort(compLifts)
	if len(compLifts) < 10 || compLifts[len(compLifts)/2] < 5 {
		t.Errorf("lifts of complementary subcategory pairs with 10+ orders: %.1f, want a median >= 5", compLifts)
	}
	if avg := otherSum / float64(otherN); avg > 1.5 {
		t.Errorf("unrelated subcategory pairs have an average lift of %.2f, want about 1", avg)
	}
	for _, p := range [][2]string{{"Smartphones", "Phone cases"}, {"Tents", "Sleeping bags"}} {
		if l, n := lift(p[0], p[1]); n >= 10 && l < 3 {
			t.Errorf("P(%s | %s) / P(%s) = %.1f over %d orders", p[1], p[0], p[1], l, n)
		}
	}

	// Item level: an item's most frequent basket partner is far more likely
	// with it than on its own, and differs from item to item (a popularity
	// list would give everyone the same best sellers).
	count := map[string]int{}
	pair := map[[2]string]int{}
	for _, o := range orders {
		for _, a := range o.Items {
			count[a.ItemID]++
			for _, b := range o.Items {
				if a.ItemID != b.ItemID {
					pair[[2]string{a.ItemID, b.ItemID}]++
				}
			}
		}
	}
	bestSellers := make([]string, 0, len(count))
	for id := range count {
		bestSellers = append(bestSellers, id)
	}
	slices.SortFunc(bestSellers, func(a, b string) int { return cmp.Or(cmp.Compare(count[b], count[a]), cmp.Compare(a, b)) })
	checked, strong := 0, 0
	distinct := map[string]bool{}
	for _, a := range bestSellers {
		if count[a] < 6 {
			break
		}
		var best string
		for k, n := range pair {
			if k[0] == a && (best == "" || n > pair[[2]string{a, best}] || n == pair[[2]string{a, best}] && k[1] < best) {
				best = k[1]
			}
		}
		if best == "" {
			continue
		}
		checked++
		pBA := float64(pair[[2]string{a, best}]) / float64(count[a])
		pB := float64(count[best]) / float64(len(orders))
		if pBA/pB >= 10 {
			strong++
		}
		distinct[best] = true
	}
	if checked < 10 || strong < checked*3/4 || len(distinct) < checked*3/4 {
		t.Fatalf("of %d frequent items, %d have a top partner with lift >= 10 (want 3/4); %d distinct top partners (want 3/4)", checked, strong, len(distinct))
	}

	// Accessories put in the cart after a phone fit that phone.
	phoneOf := map[string]string{}
	fit, misfit := 0, 0
	for i := range s.Events {
		e := &s.Events[i]
		if e.Type != catalog.EventAddToCart {
			continue
		}
		it := ids[e.Items[0].ItemID]
		if it.Category[1] == "Smartphones" {
			phoneOf[e.SessionID] = it.Attributes["model"]
		} else if m, phone := it.Attributes["compatible_model"], phoneOf[e.SessionID]; m != "" && phone != "" {
			if m == phone {
				fit++
			} else {
				misfit++
			}
		}
	}
	if fit < 10 || misfit*4 > fit {
		t.Fatalf("accessories carted after a phone: %d fit the phone, %d do not", fit, misfit)
	}
}

func TestSomeItemsOutOfStockAndSomeNew(t *testing.T) {
	s := medium()
	end := mediumOptions.withDefaults().End
	var out, low, inactive, newItems, consumable int
	isNew := map[string]bool{}
	outIDs := map[string]bool{}
	for i := range s.Items {
		it := &s.Items[i]
		switch {
		case it.Stock == 0:
			out++
			outIDs[it.ID] = true
		case it.Stock <= 5:
			low++
		}
		if !it.Active {
			inactive++
		}
		if it.Consumable {
			consumable++
		}
		if it.CreatedAt.After(end.Add(-14 * 24 * time.Hour)) {
			newItems++
			isNew[it.ID] = true
		}
		if it.CreatedAt.Before(end.Add(-366*24*time.Hour)) || !it.CreatedAt.Before(end) {
			t.Fatalf("item %s created %v, not in the year before %v", it.ID, it.CreatedAt, end)
		}
	}
	n := float64(len(s.Items))
	share := func(k int) float64 { return float64(k) / n }
	if share(out) < 0.03 || share(out) > 0.10 || share(low) < 0.02 || share(low) > 0.10 {
		t.Errorf("out of stock %.3f, low stock %.3f; want about 0.06 and 0.05", share(out), share(low))
	}
	if share(inactive) < 0.005 || share(inactive) > 0.05 {
		t.Errorf("inactive %.3f, want about 0.02", share(inactive))
	}
	if share(newItems) < 0.02 || share(newItems) > 0.08 {
		t.Errorf("new in the last 14 days %.3f, want about 0.04", share(newItems))
	}
	if share(consumable) < 0.1 || share(consumable) > 0.4 {
		t.Errorf("consumables %.3f", share(consumable))
	}

	views := map[string]int{}
	soldOutSold := 0
	for i := range s.Events {
		e := &s.Events[i]
		for _, l := range e.Items {
			if e.Type == catalog.EventViewItem {
				views[l.ItemID]++
			}
			if e.Type == catalog.EventPurchase && outIDs[l.ItemID] {
				soldOutSold++
			}
		}
	}
	var newViews, oldViews int
	for id, v := range views {
		if isNew[id] {
			newViews += v
		} else {
			oldViews += v
		}
	}
	perNew := float64(newViews) / float64(newItems)
	perOld := float64(oldViews) / float64(len(s.Items)-newItems)
	if perNew > perOld/3 {
		t.Errorf("new items have %.1f views each, old %.1f: want cold-start items with few events", perNew, perOld)
	}
	if soldOutSold == 0 {
		t.Error("no out-of-stock item was ever bought")
	}
}

func TestEventCountsAreRealistic(t *testing.T) {
	s := medium()
	byType := map[catalog.EventType]int{}
	type sess struct{ views, events int }
	sessions := map[string]*sess{}
	signedIn := map[string]bool{}
	users := map[string]bool{}
	devices, channels := map[string]int{}, map[string]int{}
	views := map[string]int{}
	for i := range s.Events {
		e := &s.Events[i]
		byType[e.Type]++
		ss := sessions[e.SessionID]
		if ss == nil {
			ss = &sess{}
			sessions[e.SessionID] = ss
		}
		ss.events++
		if e.Type == catalog.EventViewItem {
			ss.views++
			views[e.Items[0].ItemID]++
		}
		if e.UserID != "" {
			signedIn[e.SessionID] = true
			users[e.UserID] = true
		}
		if e.Type != catalog.EventRefund {
			devices[e.Device]++
			channels[e.Channel]++
		}
	}
	nSess := float64(len(sessions))
	t.Logf("%d events, %d sessions, %d users, by type %v", len(s.Events), len(sessions), len(users), byType)
	for id, ss := range sessions {
		if ss.views < 1 || ss.views > 15 {
			t.Fatalf("session %s has %d views, want 1-15", id, ss.views)
		}
	}
	if perSess := float64(len(s.Events)) / nSess; perSess < 3 || perSess > 8 {
		t.Errorf("%.1f events per session", perSess)
	}
	if conv := float64(byType[catalog.EventPurchase]) / nSess; conv < 0.03 || conv > 0.055 {
		t.Errorf("conversion %.3f of sessions, want 3-5 %%", conv)
	}
	if si := float64(len(signedIn)) / nSess; si < 0.22 || si > 0.38 {
		t.Errorf("signed-in sessions %.3f, want about 0.3", si)
	}
	if r := float64(byType[catalog.EventRefund]) / float64(byType[catalog.EventPurchase]); r < 0.01 || r > 0.06 {
		t.Errorf("refunds %.3f of orders, want about 0.03", r)
	}
	if byType[catalog.EventRemoveFromCart] == 0 || byType[catalog.EventSearch] < len(sessions)/10 ||
		byType[catalog.EventBeginCheckout] < byType[catalog.EventPurchase] || byType[catalog.EventAddToCart] < byType[catalog.EventBeginCheckout] {
		t.Errorf("funnel out of shape: %v", byType)
	}
	for _, want := range []string{"mobile", "desktop", "tablet"} {
		if devices[want] == 0 {
			t.Errorf("no %s events", want)
		}
	}
	for _, want := range []string{"web", "app", "email"} {
		if channels[want] == 0 {
			t.Errorf("no %s events", want)
		}
	}
	if len(devices) != 3 || len(channels) != 3 || devices["mobile"] < devices["desktop"] || channels["web"] < channels["app"] {
		t.Errorf("devices %v, channels %v", devices, channels)
	}
	if float64(len(users)) < 0.15*float64(mediumOptions.Visitors) || len(users) > mediumOptions.Visitors/2 {
		t.Errorf("%d signed-in users of %d visitors", len(users), mediumOptions.Visitors)
	}

	// Popularity is skewed: the top tenth of items gets a large share of views.
	vs := make([]int, 0, len(views))
	for _, v := range views {
		vs = append(vs, v)
	}
	slices.SortFunc(vs, func(a, b int) int { return b - a })
	topViews := 0
	for _, v := range vs[:len(s.Items)/10] {
		topViews += v
	}
	if share := float64(topViews) / float64(byType[catalog.EventViewItem]); share < 0.35 || share > 0.8 {
		t.Errorf("top 10 %% of items get %.2f of views", share)
	}
}

func TestDefaultShopSize(t *testing.T) {
	if testing.Short() || raceEnabled {
		t.Skip("full-size shop: skipped with -short and -race")
	}
	s := Generate(Options{})
	if len(s.Items) != 3000 || len(s.Events) < 150_000 || len(s.Events) > 300_000 {
		t.Fatalf("%d items, %d events; want 3000 and 150k-300k", len(s.Items), len(s.Events))
	}
}

func TestSessionsStayWithinSubcategory(t *testing.T) {
	s := medium()
	ids := itemsByID(s)
	last := map[string]*catalog.Item{}
	sameSub, sameDept, pairs := 0, 0, 0
	for i := range s.Events {
		e := &s.Events[i]
		if e.Type != catalog.EventViewItem {
			continue
		}
		it := ids[e.Items[0].ItemID]
		if p := last[e.SessionID]; p != nil {
			pairs++
			if p.Category[0] == it.Category[0] {
				sameDept++
				if p.Category[1] == it.Category[1] {
					sameSub++
				}
			}
		}
		last[e.SessionID] = it
	}
	if fs, fd := float64(sameSub)/float64(pairs), float64(sameDept)/float64(pairs); fs < 0.45 || fd < 0.65 {
		t.Fatalf("consecutive views: %.2f same subcategory, %.2f same department", fs, fd)
	}
}

func TestSignedInShoppersHavePersistentTastes(t *testing.T) {
	s := medium()
	ids := itemsByID(s)
	depts := map[string]map[string]int{}
	for i := range s.Events {
		e := &s.Events[i]
		if e.UserID == "" || e.Type != catalog.EventViewItem {
			continue
		}
		if depts[e.UserID] == nil {
			depts[e.UserID] = map[string]int{}
		}
		depts[e.UserID][ids[e.Items[0].ItemID].Category[0]]++
	}
	var users int
	var topShare float64
	for _, m := range depts {
		total, top := 0, 0
		for _, n := range m {
			total += n
			top = max(top, n)
		}
		if total >= 20 {
			users++
			topShare += float64(top) / float64(total)
		}
	}
	if users < 50 {
		t.Fatalf("only %d users with 20+ views", users)
	}
	// Eight departments: without tastes the top one would get little more
	// than an eighth.
	if avg := topShare / float64(users); avg < 0.35 {
		t.Fatalf("a user's top department gets %.2f of their views on average", avg)
	}
}

func TestConsumablesAreBoughtAgain(t *testing.T) {
	s := medium()
	ids := itemsByID(s)
	type key struct{ user, item string }
	first := map[key]time.Time{}
	again := 0
	for _, o := range purchases(s) {
		if o.UserID == "" {
			continue
		}
		for _, l := range o.Items {
			if !ids[l.ItemID].Consumable {
				continue
			}
			k := key{o.UserID, l.ItemID}
			if t0, ok := first[k]; ok && o.Time.Sub(t0) >= 14*24*time.Hour {
				again++
			} else if !ok {
				first[k] = o.Time
			}
		}
	}
	if again < 5 {
		t.Fatalf("only %d repeat purchases of a consumable two weeks or more apart", again)
	}
}

func TestSomeItemsTrendInLastWeek(t *testing.T) {
	s := medium()
	end := mediumOptions.withDefaults().End
	week := 7 * 24 * time.Hour
	last, prev := map[string]int{}, map[string]int{}
	for i := range s.Events {
		e := &s.Events[i]
		if e.Type != catalog.EventViewItem {
			continue
		}
		switch age := end.Sub(e.Time); {
		case age <= week:
			last[e.Items[0].ItemID]++
		case age <= 2*week:
			prev[e.Items[0].ItemID]++
		}
	}
	rising := 0
	for id, n := range last {
		if n >= 30 && n >= 3*prev[id] {
			rising++
		}
	}
	if rising < 2 {
		t.Fatalf("%d items with 30+ views in the last week and three times the week before, want a few", rising)
	}
}

func TestSessionStartsFollowDailyAndWeeklyRhythm(t *testing.T) {
	s := medium()
	seen := map[string]bool{}
	var byHour [24]int
	var byDay [7]int
	for i := range s.Events {
		e := &s.Events[i]
		if seen[e.SessionID] || e.Type == catalog.EventRefund {
			continue
		}
		seen[e.SessionID] = true
		byHour[e.Time.Hour()]++
		byDay[e.Time.Weekday()]++
	}
	if byHour[20] < 5*byHour[3] {
		t.Errorf("sessions at 20h %d, at 3h %d: want a strong daily rhythm", byHour[20], byHour[3])
	}
	if byDay[time.Sunday] < byDay[time.Saturday]*11/10 {
		t.Errorf("sessions on Sunday %d, Saturday %d: want busier Sundays", byDay[time.Sunday], byDay[time.Saturday])
	}
}

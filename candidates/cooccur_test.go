package candidates

import (
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/recs-server/recs/catalog"
)

func TestCoPurchaseFindsItemsBoughtTogether(t *testing.T) {
	h := history(items("tent", "pegs", "mug", "stove"),
		order("o1", ago(1*day), "tent", "pegs"),
		order("o2", ago(2*day), "tent", "pegs", "mug"),
		order("o3", ago(3*day), "mug", "stove"),
	)
	l := h.CoPurchase(CoOptions{})
	if got := neighbours(l, "tent"); !slices.Equal(got, []string{"pegs", "mug"}) {
		t.Fatalf("tent: %v", got)
	}
	if got := neighbours(l, "stove"); !slices.Equal(got, []string{"mug"}) {
		t.Fatalf("stove: %v", got)
	}
	for _, nl := range l {
		if slices.Contains(neighbours(l, nl.ItemID), nl.ItemID) {
			t.Fatalf("%s is its own neighbour", nl.ItemID)
		}
		for _, n := range nl.Neighbors {
			if n.Score <= 0 || n.Score > 1 {
				t.Fatalf("score %v outside (0, 1]", n.Score)
			}
		}
	}
}

func TestCoPurchaseIgnoresRefundedOrders(t *testing.T) {
	h := history(items("a", "b", "c", "d"),
		order("o1", ago(5*day), "a", "b"),
		refundOf("o1", ago(4*day), "a", "b"), // whole order returned
		order("o2", ago(5*day), "c", "d"),
		refundOf("o2", ago(4*day), "d"), // d returned: c was bought alone
		refundOf("nope", ago(4*day), "a"),
	)
	if l := h.CoPurchase(CoOptions{}); len(l) != 0 {
		t.Fatalf("refunded lines still pair: %+v", l)
	}
	st := h.Stats()
	if st.RefundedLines != 3 || st.UnmatchedRefunds != 1 || st.Orders != 1 {
		t.Fatalf("stats %+v", st)
	}
}

func TestCoPurchaseKeepsPartlyRefundedLines(t *testing.T) {
	o := order("o1", ago(5*day), "a", "b")
	o.Items[1].Quantity = 3
	r := refundOf("o1", ago(4*day), "b") // 1 of 3 returned
	h := history(items("a", "b"), o, r)
	if got := neighbours(h.CoPurchase(CoOptions{}), "a"); !slices.Equal(got, []string{"b"}) {
		t.Fatalf("a: %v", got)
	}
}

func TestCoPurchaseMergesAnOrderSplitOverEvents(t *testing.T) {
	h := history(items("a", "b"), order("o1", ago(day), "a"), order("o1", ago(day).Add(time.Second), "b"))
	if got := neighbours(h.CoPurchase(CoOptions{}), "a"); !slices.Equal(got, []string{"b"}) {
		t.Fatalf("a: %v", got)
	}
}

func TestCoPurchaseScoreIsNotPopularity(t *testing.T) {
	// "bag" is in every order; each other item has one true partner.
	ids := []string{"bag"}
	var evs []catalog.Event
	for p := range 10 {
		x, y := fmt.Sprintf("x%d", p), fmt.Sprintf("y%d", p)
		ids = append(ids, x, y)
		for k := range 4 {
			evs = append(evs, order(fmt.Sprintf("o%d-%d", p, k), ago(time.Duration(k+1)*day), "bag", x, y))
		}
		for k := range 4 { // x and y also sell with the bag alone
			evs = append(evs, order(fmt.Sprintf("ox%d-%d", p, k), ago(time.Duration(k+1)*day), "bag", x))
			evs = append(evs, order(fmt.Sprintf("oy%d-%d", p, k), ago(time.Duration(k+1)*day), "bag", y))
		}
	}
	for k := range 200 {
		evs = append(evs, order(fmt.Sprintf("b%d", k), ago(time.Duration(k%20+1)*day), "bag"))
	}
	l := coPurchase(ids, evs)
	for p := range 10 {
		x, y := fmt.Sprintf("x%d", p), fmt.Sprintf("y%d", p)
		if got := neighbours(l, x); len(got) == 0 || got[0] != y {
			t.Fatalf("%s: %v; want %s first, not the ubiquitous bag", x, got, y)
		}
	}
}

func coPurchase(ids []string, evs []catalog.Event) []catalog.NeighborList {
	return history(items(ids...), evs...).CoPurchase(CoOptions{})
}

func TestCoPurchaseDecaysOldOrders(t *testing.T) {
	var evs []catalog.Event
	for k := range 3 {
		evs = append(evs, order(fmt.Sprintf("old%d", k), ago(120*day), "a", "old"))
		evs = append(evs, order(fmt.Sprintf("new%d", k), ago(2*day), "a", "new"))
	}
	l := coPurchase([]string{"a", "old", "new"}, evs)
	if got := neighbours(l, "a"); !slices.Equal(got, []string{"new", "old"}) {
		t.Fatalf("a: %v; recent co-purchases should rank first", got)
	}
	flat := history(items("a", "old", "new"), evs...).CoPurchase(CoOptions{HalfLife: -1})
	if a := flat[0].Neighbors; a[0].Score != a[1].Score {
		t.Fatalf("without decay both pairs should score alike: %+v", a)
	}
}

func TestCoPurchaseListsOnlyActiveNeighbours(t *testing.T) {
	its := items("a", "gone", "b")
	its[1].Active = false
	h := history(its, order("o1", ago(day), "a", "gone", "b"))
	l := h.CoPurchase(CoOptions{})
	if got := neighbours(l, "a"); !slices.Equal(got, []string{"b"}) {
		t.Fatalf("a: %v", got)
	}
	if got := neighbours(l, "gone"); !slices.Equal(got, []string{"a", "b"}) {
		t.Fatalf("an inactive item keeps its own list: %v", got)
	}
}

func TestCoPurchaseKeepsTopN(t *testing.T) {
	ids := []string{"hub"}
	var evs []catalog.Event
	for i := range 20 {
		id := fmt.Sprintf("n%02d", i)
		ids = append(ids, id)
		for k := range i + 1 { // n19 co-occurs most
			evs = append(evs, order(fmt.Sprintf("o%d-%d", i, k), ago(day), "hub", id))
		}
	}
	l := history(items(ids...), evs...).CoPurchase(CoOptions{TopN: 3, Workers: 3})
	if got := neighbours(l, "hub"); !slices.Equal(got, []string{"n19", "n18", "n17"}) {
		t.Fatalf("hub: %v", got)
	}
}

func TestCoViewPairsOnlyNearbyViewsInOneVisit(t *testing.T) {
	evs := views("s1", ago(3*day), "a", "b", "f1", "f2", "f3", "f4", "far")
	evs = append(evs, views("s1", ago(3*day).Add(3*time.Hour), "next")...) // new visit
	slow := views("s2", ago(2*day), "a", "late")
	slow[1].Time = slow[0].Time.Add(25 * time.Minute) // same visit...
	slow = append(slow, views("s2", slow[1].Time.Add(20*time.Minute), "later")...)
	evs = append(evs, slow...) // ... but "later" is 45 min after a
	h := history(items("a", "b", "f1", "f2", "f3", "f4", "far", "next", "late", "later"), evs...)
	got := neighbours(h.CoView(CoOptions{}), "a")
	slices.Sort(got)
	if want := []string{"b", "f1", "f2", "f3", "f4", "late"}; !slices.Equal(got, want) {
		t.Fatalf("a: %v, want %v", got, want)
	}
}

func TestCoViewCountsAPairOncePerVisit(t *testing.T) {
	evs := views("s1", ago(3*day), "a", "b", "a", "b", "a", "b")
	evs = append(evs, views("s2", ago(3*day), "a", "c")...)
	evs = append(evs, views("s3", ago(3*day), "a", "c")...)
	evs = append(evs, views("s4", ago(3*day), "b", "c")...)
	l := history(items("a", "b", "c"), evs...).CoView(CoOptions{})
	if got := neighbours(l, "a"); !slices.Equal(got, []string{"c", "b"}) {
		t.Fatalf("a: %v; two visits must beat one visit of ping-pong", got)
	}
}

func TestCoViewIgnoresCartsAndPurchases(t *testing.T) {
	h := history(items("a", "b"),
		ev(catalog.EventViewItem, ago(time.Hour), "s", "a"),
		ev(catalog.EventAddToCart, ago(time.Hour-time.Minute), "s", "b"),
	)
	if l := h.CoView(CoOptions{}); len(l) != 0 {
		t.Fatalf("a cart line paired in co-view: %+v", l)
	}
}

package candidates

import (
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/recs-server/recs/catalog"
)

func TestPopularityWeightsPurchasesAboveCartsAboveViews(t *testing.T) {
	h := history(items("viewed", "carted", "bought"),
		ev(catalog.EventViewItem, ago(time.Hour), "s1", "viewed"),
		ev(catalog.EventViewItem, ago(time.Hour), "s2", "viewed"),
		ev(catalog.EventAddToCart, ago(time.Hour), "s1", "carted"),
		order("o1", ago(time.Hour), "bought"),
	)
	pop := byScope(h.Popularity(PopularityOptions{}))
	for _, scope := range []string{ScopeAll24h, ScopeAll7d, ScopeAll30d, CategoryScope("Cat")} {
		if got := sortedIDs(pop[scope]); !slices.Equal(got, []string{"bought", "carted", "viewed"}) {
			t.Errorf("%s: %v", scope, got)
		}
	}
}

func TestPopularityWindowsForgetOldEvents(t *testing.T) {
	h := history(items("recent", "lastweek", "lastmonth", "ancient"),
		ev(catalog.EventViewItem, ago(time.Hour), "s", "recent"),
		ev(catalog.EventViewItem, ago(3*day), "s", "lastweek"),
		ev(catalog.EventViewItem, ago(20*day), "s", "lastmonth"),
		ev(catalog.EventViewItem, ago(90*day), "s", "ancient"),
	)
	pop := byScope(h.Popularity(PopularityOptions{}))
	f := func(scope string, want ...string) {
		t.Helper()
		if got := sortedIDs(pop[scope]); !slices.Equal(got, want) {
			t.Errorf("%s: %v, want %v", scope, got, want)
		}
	}
	f(ScopeAll24h, "recent")
	f(ScopeAll7d, "recent", "lastweek")
	f(ScopeAll30d, "recent", "lastweek", "lastmonth")
}

func TestPopularityDropsRefundedPurchases(t *testing.T) {
	h := history(items("kept", "returned"),
		order("o1", ago(2*day), "kept", "returned"),
		refundOf("o1", ago(day), "returned"),
	)
	if got := sortedIDs(byScope(h.Popularity(PopularityOptions{}))[ScopeAll7d]); !slices.Equal(got, []string{"kept"}) {
		t.Fatalf("all:7d: %v", got)
	}
}

func TestPopularityListsOnlyActiveItems(t *testing.T) {
	its := items("on", "off")
	its[1].Active = false
	h := history(its, order("o1", ago(day), "on", "off"), order("o2", ago(day), "off"))
	for _, l := range h.Popularity(PopularityOptions{}) {
		if slices.Contains(sortedIDs(l.Items), "off") {
			t.Fatalf("%s lists an inactive item: %v", l.Scope, sortedIDs(l.Items))
		}
	}
}

func TestPopularityKeepsTopN(t *testing.T) {
	var ids []string
	var evs []catalog.Event
	for i := range 30 {
		id := fmt.Sprintf("i%02d", i)
		ids = append(ids, id)
		for range i + 1 {
			evs = append(evs, ev(catalog.EventViewItem, ago(time.Hour), "s", id))
		}
	}
	got := byScope(history(items(ids...), evs...).Popularity(PopularityOptions{TopN: 3}))[ScopeAll7d]
	if ids := sortedIDs(got); !slices.Equal(ids, []string{"i29", "i28", "i27"}) {
		t.Fatalf("all:7d: %v", ids)
	}
}

func TestTrendingRanksRisingItemAboveSteadyOne(t *testing.T) {
	var evs []catalog.Event
	n := 0
	view := func(id string, at time.Time) {
		n++
		evs = append(evs, ev(catalog.EventViewItem, at, fmt.Sprintf("s%d", n), id))
	}
	for d := range 31 { // 15 views a day, every day, the last one too
		for k := range 15 {
			view("steady", ago(time.Duration(d)*day+time.Duration(k+1)*time.Hour))
		}
	}
	for d := 1; d < 31; d++ { // 1 view a day, then 12 in the last day
		view("rising", ago(time.Duration(d)*day+time.Hour))
	}
	for k := range 12 {
		view("rising", ago(time.Duration(k+1)*time.Hour))
	}
	for k := range 5 { // a brand-new item
		view("new", ago(time.Duration(k+1)*time.Hour))
	}
	view("blip", ago(time.Hour)) // one view is not a trend
	for d := 1; d < 31; d++ {    // "falling": busy before, quiet now
		for k := range 5 {
			view("falling", ago(time.Duration(d)*day+time.Duration(k+1)*time.Hour))
		}
	}
	h := history(items("steady", "rising", "new", "blip", "falling"), evs...)
	pop := byScope(h.Popularity(PopularityOptions{}))
	if got := sortedIDs(pop[ScopeTrending]); !slices.Equal(got, []string{"rising", "new"}) {
		t.Fatalf("trending: %v, want rising then new", got)
	}
	if got := sortedIDs(pop[ScopeAll24h]); got[0] != "steady" {
		t.Fatalf("all:24h: %v; steady is still the most popular", got)
	}
}

func TestCategoryScopesRankWithinTopLevelCategory(t *testing.T) {
	its := items("mug", "cup", "hose", "none")
	its[0].Category = []string{"Home", "Kitchen"}
	its[1].Category = []string{"Home", "Dining"}
	its[2].Category = []string{"Garden"}
	its[3].Category = nil
	h := history(its,
		order("o1", ago(time.Hour), "mug", "cup", "hose", "none"),
		order("o2", ago(time.Hour), "cup"),
	)
	pop := h.Popularity(PopularityOptions{})
	var scopes []string
	for _, l := range pop {
		scopes = append(scopes, l.Scope)
	}
	want := []string{ScopeAll24h, ScopeAll7d, ScopeAll30d, ScopeTrending, CategoryScope("Garden"), CategoryScope("Home")}
	if !slices.Equal(scopes, want) {
		t.Fatalf("scopes %v, want %v", scopes, want)
	}
	if got := sortedIDs(byScope(pop)["category:Home:30d"]); !slices.Equal(got, []string{"cup", "mug"}) {
		t.Fatalf("Home: %v", got)
	}
}

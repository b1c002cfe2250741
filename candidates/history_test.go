package candidates

import (
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/recs-server/recs/catalog"
)

// end is the end of every test window ("now").
var end = time.Date(2026, 10, 1, 0, 0, 0, 0, time.UTC)

func ago(d time.Duration) time.Time { return end.Add(-d) }

const day = 24 * time.Hour

func items(ids ...string) []catalog.Item {
	out := make([]catalog.Item, len(ids))
	for i, id := range ids {
		out[i] = catalog.Item{ID: id, Title: "Item " + id, Active: true, Category: []string{"Cat"}}
	}
	return out
}

var evSeq int

func ev(typ catalog.EventType, at time.Time, session string, ids ...string) catalog.Event {
	evSeq++
	e := catalog.Event{ID: fmt.Sprintf("e%d", evSeq), Type: typ, Time: at, SessionID: session}
	for _, id := range ids {
		e.Items = append(e.Items, catalog.EventItem{ItemID: id, Quantity: 1})
	}
	return e
}

func order(id string, at time.Time, ids ...string) catalog.Event {
	e := ev(catalog.EventPurchase, at, "s-"+id, ids...)
	e.OrderID = id
	return e
}

func refundOf(id string, at time.Time, ids ...string) catalog.Event {
	e := ev(catalog.EventRefund, at, "s-"+id, ids...)
	e.OrderID = id
	return e
}

// views is one session viewing ids a minute apart, starting at at.
func views(session string, at time.Time, ids ...string) []catalog.Event {
	out := make([]catalog.Event, len(ids))
	for i, id := range ids {
		out[i] = ev(catalog.EventViewItem, at.Add(time.Duration(i)*time.Minute), session, id)
	}
	return out
}

// history feeds the events in time order (as a store scans them) to a
// History over the 180 days before end.
func history(its []catalog.Item, evs ...catalog.Event) *History {
	slices.SortStableFunc(evs, func(a, b catalog.Event) int { return a.Time.Compare(b.Time) })
	h := NewHistory(its, end.Add(-180*day), end)
	for i := range evs {
		h.Add(&evs[i])
	}
	h.Finish()
	return h
}

func neighbours(lists []catalog.NeighborList, id string) []string {
	for _, l := range lists {
		if l.ItemID == id {
			var out []string
			for _, n := range l.Neighbors {
				out = append(out, n.ItemID)
			}
			return out
		}
	}
	return nil
}

func TestHistoryDropsEventsOutsideWindow(t *testing.T) {
	h := history(items("a", "b"),
		order("o1", end, "a", "b"),               // at the end: outside [from, to)
		order("o2", end.Add(-181*day), "a", "b"), // before the start
		ev(catalog.EventViewItem, end.Add(time.Hour), "s", "a"),
		ev(catalog.EventSearch, ago(time.Hour), "s"),
		ev(catalog.EventViewItem, ago(time.Hour), "s", "zz"),
	)
	st := h.Stats()
	if st.OutsideWindow != 3 || st.Orders != 0 || st.Ignored != 1 || st.UnknownItemLines != 1 || st.Lines != 0 {
		t.Fatalf("stats %+v", st)
	}
	if l := h.CoPurchase(CoOptions{}); len(l) != 0 {
		t.Fatalf("orders outside the window made neighbours: %+v", l)
	}
}

func TestSequencesFollowVisitsAndBaskets(t *testing.T) {
	evs := views("s1", ago(5*day), "a", "a", "b", "c")                       // repeat collapsed
	evs = append(evs, views("s1", ago(5*day).Add(2*time.Hour), "d", "e")...) // after a pause: a new visit
	evs = append(evs, views("s2", ago(4*day), "x")...)                       // one item: no sequence
	evs = append(evs, order("o1", ago(3*day), "c", "d", "e"), order("o2", ago(3*day), "a"))
	h := history(items("a", "b", "c", "d", "e", "x"), evs...)
	got := h.Sequences(50)
	idx := func(ids ...string) []int32 {
		var out []int32
		for _, id := range ids {
			i, _ := h.ItemIndex(id)
			out = append(out, i)
		}
		return out
	}
	want := [][]int32{idx("a", "b", "c"), idx("d", "e"), idx("c", "d", "e")}
	if !slices.EqualFunc(got, want, slices.Equal) {
		t.Fatalf("sequences %v, want %v", got, want)
	}
	if st := h.Stats(); st.Visits != 3 || st.Sessions != 2 {
		t.Fatalf("stats %+v", st)
	}
}

func TestHugeBasketIsSampledDeterministically(t *testing.T) {
	var ids []string
	for i := range 300 {
		ids = append(ids, fmt.Sprintf("i%03d", i))
	}
	h := history(items(ids...), order("big", ago(day), ids...))
	a, b := h.Sequences(50), h.Sequences(50)
	if len(a) != 1 || len(a[0]) != 50 || !slices.Equal(a[0], b[0]) {
		t.Fatalf("sampled basket: %d sequences of %d items", len(a), len(a[0]))
	}
	if !slices.IsSorted(a[0]) {
		t.Fatalf("the sample should keep basket order: %v", a[0])
	}
	for _, l := range h.CoPurchase(CoOptions{MaxBasket: 50}) {
		if len(l.Neighbors) > 49 {
			t.Fatalf("%s has %d neighbours from one capped basket", l.ItemID, len(l.Neighbors))
		}
	}
}

func TestCategoryScopeRoundTrips(t *testing.T) {
	for _, name := range []string{"Home", "Garden & Outdoor", "a:b"} {
		s := CategoryScope(name)
		if back, ok := ParseCategoryScope(s); !ok || back != name {
			t.Errorf("CategoryScope(%q) = %q parses back to %q, %v", name, s, back, ok)
		}
	}
	if _, ok := ParseCategoryScope(ScopeAll7d); ok {
		t.Error("all:7d parsed as a category scope")
	}
}

func sortedIDs(l []catalog.Scored) []string {
	out := make([]string, len(l))
	for i, s := range l {
		out[i] = s.ItemID
	}
	return out
}

func byScope(lists []catalog.PopularityList) map[string][]catalog.Scored {
	m := make(map[string][]catalog.Scored, len(lists))
	for _, l := range lists {
		m[l.Scope] = l.Items
	}
	return m
}

// Events stored without ids (sent without consent) are each a session of
// their own: two anonymous views never make a co-view pair, yet a named
// session's views still do.
func TestEventsWithoutIDsPairWithNothing(t *testing.T) {
	anon := views("", ago(day), "a", "b", "c")
	named := views("s1", ago(day), "x", "y")
	h := history(items("a", "b", "c", "x", "y"), append(anon, named...)...)
	lists := h.CoView(CoOptions{})
	for _, id := range []string{"a", "b", "c"} {
		if n := neighbours(lists, id); len(n) != 0 {
			t.Fatalf("anonymous item %s has co-view neighbours %v", id, n)
		}
	}
	if n := neighbours(lists, "x"); fmt.Sprint(n) != "[y]" {
		t.Fatalf("named session lost its pair: %v", n)
	}
	if got := h.Stats().Sessions; got != 4 {
		t.Fatalf("sessions %d, want 4 (three anonymous, one named)", got)
	}
}

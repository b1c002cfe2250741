package session

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"
	"time"

	"github.com/recs-server/recs/catalog"
)

var t0 = time.Date(2026, 11, 1, 10, 0, 0, 0, time.UTC)

func ev(session, user string, typ catalog.EventType, at time.Duration, items ...string) *catalog.Event {
	e := &catalog.Event{Type: typ, Time: t0.Add(at), SessionID: session, UserID: user}
	for _, it := range items {
		e.Items = append(e.Items, catalog.EventItem{ItemID: it, Quantity: 1})
	}
	return e
}

func ids(l []Interaction) string {
	s := ""
	for _, x := range l {
		s += x.ItemID + " "
	}
	return s
}

func TestRecentIsNewestFirstWithoutRepeats(t *testing.T) {
	s, _ := New(1000)
	s.Record(ev("s1", "", catalog.EventViewItem, 1, "a"))
	s.Record(ev("s1", "", catalog.EventViewItem, 2, "b"))
	s.Record(ev("s1", "", catalog.EventAddToCart, 3, "a"))
	s.Record(ev("s2", "", catalog.EventViewItem, 4, "z"))
	got := s.Recent("s1", "", nil)
	if ids(got) != "a b " || got[0].Type != catalog.EventAddToCart {
		t.Fatalf("recent = %+v", got)
	}
}

func TestUserHistoryFollowsAcrossSessions(t *testing.T) {
	s, _ := New(1000)
	s.Record(ev("s1", "u1", catalog.EventPurchase, 1, "a", "b"))
	s.Record(ev("s2", "", catalog.EventViewItem, 2, "c"))
	if got := ids(s.Recent("s2", "u1", nil)); got != "c a b " && got != "c b a " {
		t.Fatalf("recent of a new session of u1 = %q", got)
	}
	s.Forget("", "u1")
	if got := ids(s.Recent("s2", "u1", nil)); got != "c " {
		t.Fatalf("after forgetting u1: %q", got)
	}
}

func TestRecentKeepsOnlyTheLastInteractions(t *testing.T) {
	s, _ := New(1000)
	for i := range 50 {
		s.Record(ev("s1", "", catalog.EventViewItem, time.Duration(i)*time.Second, fmt.Sprint("i", i)))
	}
	got := s.Recent("s1", "", nil)
	if len(got) != MaxRecent || got[0].ItemID != "i49" || got[MaxRecent-1].ItemID != "i30" {
		t.Fatalf("recent = %s", ids(got))
	}
}

func TestStoreStaysBounded(t *testing.T) {
	s, _ := New(640)
	for i := range 5000 {
		s.Record(ev(fmt.Sprint("s", i), "", catalog.EventViewItem, 0, "a"))
	}
	n := 0
	for i := range s.shards {
		n += len(s.shards[i].m)
	}
	if n > 640 {
		t.Fatalf("%d visitors kept, bound is 640", n)
	}
	if got := ids(s.Recent("s4999", "", nil)); got != "a " {
		t.Fatalf("the newest visitor was evicted: %q", got)
	}
}

func TestEraseDropsStateAndRefusesEventsFromBeforeIt(t *testing.T) {
	s, _ := New(1000)
	s.Record(ev("s1", "", catalog.EventViewItem, 1, "anon"))
	s.Record(ev("s1", "u1", catalog.EventViewItem, 2, "a"))
	s.Record(ev("s2", "u2", catalog.EventViewItem, 3, "other"))
	at := t0.Add(10)
	s.Erase("u1", []string{"s1"}, at)
	if got := s.Recent("s1", "u1", nil); len(got) != 0 {
		t.Fatalf("erased visitor still has %v", ids(got))
	}
	// A late retry, an event that raced the erasure, a stale history load.
	s.Record(ev("s1", "u1", catalog.EventViewItem, 5, "late"))
	s.Record(ev("s1", "", catalog.EventViewItem, 6, "late-anon"))
	s.SeedUser("u1", []Interaction{{ItemID: "stale", Type: catalog.EventViewItem, Time: t0.Add(4)}})
	if got := s.Recent("s1", "u1", nil); len(got) != 0 {
		t.Fatalf("erased interactions came back: %v", ids(got))
	}
	// What happens after the erasure is new and kept; others are untouched.
	s.Record(ev("s9", "u1", catalog.EventViewItem, 11, "new"))
	s.SeedUser("u1", []Interaction{{ItemID: "loaded-new", Type: catalog.EventViewItem, Time: t0.Add(12)}})
	if got := ids(s.Recent("", "u1", nil)); got != "loaded-new new " {
		t.Fatalf("after the erasure: %q", got)
	}
	if got := ids(s.Recent("s2", "u2", nil)); got != "other " {
		t.Fatalf("another visitor: %q", got)
	}
}

// With a numbering, interactions carry the numbers their items had when
// recorded or seeded; items without one, none.
func TestInteractionsCarryItemNumbers(t *testing.T) {
	s, _ := New(1000)
	known := map[string]uint32{"a": 4, "b": 9}
	s.NumberItems(func(id string) (uint32, bool) { k, ok := known[id]; return k, ok })
	s.Record(ev("s1", "", catalog.EventViewItem, 1, "a", "ghost"))
	s.SeedUser("u1", []Interaction{{ItemID: "b", Type: catalog.EventPurchase, Time: t0}})
	got := map[string]Interaction{}
	for _, x := range s.Recent("s1", "u1", nil) {
		got[x.ItemID] = x
	}
	if x := got["a"]; !x.Numbered || x.Number != 4 {
		t.Errorf("a: %+v, want number 4", x)
	}
	if x := got["b"]; !x.Numbered || x.Number != 9 {
		t.Errorf("b (seeded): %+v, want number 9", x)
	}
	if x, ok := got["ghost"]; !ok || x.Numbered {
		t.Errorf("ghost: %+v (listed %v), want listed without a number", x, ok)
	}
}

// RecentAndUser says whether the store holds the user, as HasUser does;
// repeats of an item are dropped whether or not both have its number.
func TestRecentAndUserTellsAKnownUserAndDropsRepeats(t *testing.T) {
	s, _ := New(1000)
	if _, known := s.RecentAndUser("s1", "u1", nil); known || s.HasUser("u1") {
		t.Fatal("a user never seen is known")
	}
	s.Record(ev("s1", "", catalog.EventViewItem, 1, "a")) // before the item had a number
	numbered := map[string]uint32{"a": 3}
	s.NumberItems(func(id string) (uint32, bool) { k, ok := numbered[id]; return k, ok })
	s.Record(ev("s1", "u1", catalog.EventAddToCart, 2, "a"))
	got, known := s.RecentAndUser("s1", "u1", nil)
	if !known || !s.HasUser("u1") {
		t.Fatal("a user with interactions is not known")
	}
	if ids(got) != "a " || got[0].Type != catalog.EventAddToCart {
		t.Fatalf("recent = %+v, want a once, its newest interaction", got)
	}
}

// RecentAndUser orders as a stable sort of the session's and then the
// user's interactions, newest first, would: interactions of one time
// keep their order (which of an item's interactions of one time is kept
// depends on it).
func TestRecentAndUserOrdersAsAStableSortWould(t *testing.T) {
	r := rand.New(rand.NewPCG(7, 8))
	types := []catalog.EventType{catalog.EventViewItem, catalog.EventAddToCart, catalog.EventPurchase}
	for round := range 200 {
		s, _ := New(1000)
		for range r.IntN(3 * MaxRecent) {
			user := ""
			if r.IntN(2) == 0 {
				user = "u1"
			}
			at := time.Duration(r.IntN(8)) * time.Second // many ties
			s.Record(ev("s1", user, types[r.IntN(len(types))], at, fmt.Sprint("i", r.IntN(12))))
		}
		var want []Interaction
		for _, key := range []string{SessionKey("s1"), UserKey("u1")} {
			if st := s.get(key, false); st != nil {
				want = append(want, st.recent...)
			}
		}
		slices.SortStableFunc(want, func(a, b Interaction) int { return b.Time.Compare(a.Time) })
		seen := map[string]bool{}
		want = slices.DeleteFunc(want, func(x Interaction) bool {
			dup := seen[x.ItemID]
			seen[x.ItemID] = true
			return dup
		})
		got, _ := s.RecentAndUser("s1", "u1", nil)
		if !slices.Equal(got, want) {
			t.Fatalf("round %d:\n got %+v\nwant %+v", round, got, want)
		}
	}
}

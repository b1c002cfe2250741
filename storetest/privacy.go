package storetest

import (
	"errors"
	"fmt"
	"reflect"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/recs-server/recs/catalog"
)

// visit is an event of one visitor: a view of item at t0+minutes.
func visit(id, session, user string, minutes int) catalog.Event {
	return catalog.Event{ID: id, Type: catalog.EventViewItem, Time: t0.Add(time.Duration(minutes) * time.Minute),
		SessionID: session, UserID: user, Items: []catalog.EventItem{{ItemID: "a", Quantity: 1}}}
}

func eventIDs(evs []catalog.Event) []string {
	out := make([]string, len(evs))
	for i := range evs {
		out[i] = evs[i].ID
	}
	slices.Sort(out)
	return out
}

// shopperHistory is u1's history: events in two sessions, anonymous views
// in one of them before login, a profile naming a third session; and
// events of others that must survive u1's erasure.
func shopperHistory(t *testing.T, s Store) {
	t.Helper()
	_, err := s.AppendEvents(ctx(t), []catalog.Event{
		visit("anon-s1", "s1", "", 1), // u1 before logging in
		visit("u1-s1", "s1", "u1", 2), // u1
		visit("u1-s2", "s2", "u1", 3), // u1, another session
		visit("u1-app", "", "u1", 4),  // u1 without a session
		visit("anon-s4", "s4", "", 5), // u1's device, known from the profile
		visit("u2-s1", "s1", "u2", 6), // someone else on u1's computer
		visit("u2-s3", "s3", "u2", 7), // someone else
		visit("anon-s9", "s9", "", 8), // an unrelated anonymous visitor
	})
	must(t, err)
	must(t, s.UpsertUser(ctx(t), catalog.User{ID: "u1", AnonymousIDs: []string{"s4"}, Personalization: true}))
	must(t, s.UpsertUser(ctx(t), catalog.User{ID: "u2", Personalization: true}))
}

func testEraseUser(t *testing.T, s Store) {
	shopperHistory(t, s)
	at := t0.Add(time.Hour)
	er, err := s.EraseUser(ctx(t), "u1", at)
	must(t, err)
	want := catalog.Erasure{UserID: "u1", SessionIDs: []string{"s1", "s2", "s4"}, Events: 5, Profile: true, ErasedAt: at}
	if !reflect.DeepEqual(er, want) {
		t.Fatalf("erasure:\n got %+v\nwant %+v", er, want)
	}
	if got := eventIDs(scanAll(t, s, t0.Add(-time.Hour), t0.Add(2*time.Hour))); fmt.Sprint(got) != "[anon-s9 u2-s1 u2-s3]" {
		t.Fatalf("events left %v, want only other visitors'", got)
	}
	if evs, err := s.UserEvents(ctx(t), "u1", 50); err != nil || len(evs) != 0 {
		t.Fatalf("UserEvents(u1) after erasure: %v, %v", evs, err)
	}
	if _, err := s.User(ctx(t), "u1"); !errors.Is(err, catalog.ErrNotFound) {
		t.Fatalf("profile after erasure: %v", err)
	}
	if _, err := s.User(ctx(t), "u2"); err != nil {
		t.Fatalf("another profile was erased: %v", err)
	}
	if evs, _ := s.UserEvents(ctx(t), "u2", 50); len(evs) != 2 {
		t.Fatalf("u2 has %d events, want 2", len(evs))
	}
	// Erasing again finds nothing, and is no error.
	er, err = s.EraseUser(ctx(t), "u1", at.Add(time.Minute))
	must(t, err)
	if er.Events != 0 || er.Profile {
		t.Fatalf("second erasure: %+v", er)
	}
	if _, err := s.EraseUser(ctx(t), "", at); err == nil {
		t.Fatal("an empty user id was accepted")
	}
}

func testErasureTombstones(t *testing.T, s Store) {
	shopperHistory(t, s)
	at := t0.Add(time.Hour)
	_, err := s.EraseUser(ctx(t), "u1", at)
	must(t, err)
	// Late retries of erased events, and old events of the erased visitor
	// (a re-import), are refused; new events after the erasure are taken,
	// and so are other visitors' events in the erased sessions.
	n, err := s.AppendEvents(ctx(t), []catalog.Event{
		visit("u1-s1", "s1", "u1", 2),      // retry of an erased event
		visit("anon-s1", "s1", "", 1),      // retry of an erased anonymous event
		visit("u1-old", "s7", "u1", 30),    // an old event never seen before
		visit("anon-s2-old", "s2", "", 59), // an old anonymous event of an erased session
		visit("u1-new", "s5", "u1", 61),    // u1 came back after the erasure
		visit("anon-s2-new", "s2", "", 61), // the session goes on after it
		visit("u3-s1", "s1", "u3", 30),     // another user in an erased session
	})
	must(t, err)
	if n != 3 {
		t.Fatalf("stored %d events, want 3", n)
	}
	got := eventIDs(scanAll(t, s, t0.Add(-time.Hour), t0.Add(2*time.Hour)))
	if fmt.Sprint(got) != "[anon-s2-new anon-s9 u1-new u2-s1 u2-s3 u3-s1]" {
		t.Fatalf("events %v", got)
	}
}

func testErasureFutureEvents(t *testing.T, s Store) {
	// A client clock an hour fast stamped this event after the erasure.
	_, err := s.AppendEvents(ctx(t), []catalog.Event{visit("fast", "s1", "u1", 120)})
	must(t, err)
	er, err := s.EraseUser(ctx(t), "u1", t0.Add(time.Hour))
	must(t, err)
	if er.Events != 1 || !er.ErasedAt.Equal(t0.Add(2*time.Hour)) {
		t.Fatalf("erasure %+v: the tombstone must cover the newest erased event", er)
	}
	if n, err := s.AppendEvents(ctx(t), []catalog.Event{visit("fast", "s1", "u1", 120)}); err != nil || n != 0 {
		t.Fatalf("retry of a future-stamped erased event stored: %d, %v", n, err)
	}
}

// Appends of the shopper's events racing the erasure either land before
// it (and are erased) or after it (and are refused): none survives.
func testErasureRace(t *testing.T, s Store) {
	var wg sync.WaitGroup
	stop := make(chan struct{})
	for w := range 3 {
		wg.Go(func() {
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				e := visit(fmt.Sprintf("w%d-%d", w, i), fmt.Sprintf("s%d", w), "u1", i%50)
				if _, err := s.AppendEvents(ctx(t), []catalog.Event{e}); err != nil {
					t.Error(err)
					return
				}
			}
		})
	}
	time.Sleep(50 * time.Millisecond)
	_, err := s.EraseUser(ctx(t), "u1", t0.Add(time.Hour))
	time.Sleep(50 * time.Millisecond)
	close(stop)
	wg.Wait()
	must(t, err)
	if evs := scanAll(t, s, t0.Add(-time.Hour), t0.Add(2*time.Hour)); len(evs) != 0 {
		t.Fatalf("%d events of the erased shopper survived, e.g. %+v", len(evs), evs[0])
	}
}

func testEraseSession(t *testing.T, s Store) {
	shopperHistory(t, s)
	at := t0.Add(time.Hour)
	er, err := s.EraseSession(ctx(t), "s1", at)
	must(t, err)
	want := catalog.Erasure{SessionIDs: []string{"s1"}, Events: 1, ErasedAt: at}
	if !reflect.DeepEqual(er, want) {
		t.Fatalf("erasure:\n got %+v\nwant %+v", er, want)
	}
	// Signed-in users' events in the session are theirs, and stay.
	got := eventIDs(scanAll(t, s, t0.Add(-time.Hour), t0.Add(2*time.Hour)))
	if fmt.Sprint(got) != "[anon-s4 anon-s9 u1-app u1-s1 u1-s2 u2-s1 u2-s3]" {
		t.Fatalf("events left %v", got)
	}
	n, err := s.AppendEvents(ctx(t), []catalog.Event{
		visit("anon-s1", "s1", "", 1),      // a late retry
		visit("anon-s1-new", "s1", "", 61), // the session goes on
		visit("u5-s1", "s1", "u5", 30),     // a signed-in user in it
	})
	must(t, err)
	if n != 2 {
		t.Fatalf("stored %d, want 2 (not the retry)", n)
	}
	if _, err := s.EraseSession(ctx(t), "", at); err == nil {
		t.Fatal("an empty session id was accepted")
	}
}

func testAuditLog(t *testing.T, s Store) {
	b := catalog.AuditEntry{At: t0, Actor: "recs build (root)", Action: catalog.AuditBuild, ModelVersion: "v1",
		DataFrom: t0.Add(-24 * time.Hour), DataTo: t0, Counts: map[string]int64{"events": 10, "items": 3}}
	e := catalog.AuditEntry{At: t0.Add(time.Minute), Actor: "ops", Action: catalog.AuditEraseUser, ModelVersion: "v1",
		Counts: map[string]int64{"events": 2}}
	must(t, s.AppendAudit(ctx(t), b))
	must(t, s.AppendAudit(ctx(t), e))
	got, err := s.AuditLog(ctx(t), 10)
	must(t, err)
	if len(got) != 2 || got[0].Seq <= got[1].Seq {
		t.Fatalf("audit log %+v", got)
	}
	b.Seq, e.Seq = got[1].Seq, got[0].Seq
	if !reflect.DeepEqual(got, []catalog.AuditEntry{e, b}) {
		t.Fatalf("audit log:\n got %+v\nwant %+v", got, []catalog.AuditEntry{e, b})
	}
	if got, _ := s.AuditLog(ctx(t), 1); len(got) != 1 || got[0].Action != catalog.AuditEraseUser {
		t.Fatalf("limit 1: %+v", got)
	}
}

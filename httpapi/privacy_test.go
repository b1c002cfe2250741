package httpapi_test

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/recs-server/recs/apikey"
	"github.com/recs-server/recs/build"
	"github.com/recs-server/recs/catalog"
	"github.com/recs-server/recs/httpapi"
	"github.com/recs-server/recs/memstore"
	"github.com/recs-server/recs/pseudonym"
)

// syncBuffer collects a server's log lines.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (w *syncBuffer) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.b.Write(p)
}

func (w *syncBuffer) String() string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.b.String()
}

type eventScanner interface {
	ScanEvents(ctx context.Context, from, to time.Time, fn func(*catalog.Event) error) error
}

func storedEvents(t *testing.T, st testStore) []catalog.Event {
	t.Helper()
	var out []catalog.Event
	err := st.(eventScanner).ScanEvents(t.Context(), time.Time{}, time.Now().Add(24*time.Hour), func(e *catalog.Event) error {
		out = append(out, *e)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func viewEvent(id, session, user, item, extra string) string {
	return fmt.Sprintf(`{"event_id":%q,"type":"view_item","time":"2026-11-01T10:00:%02dZ","session_id":%q,"user_id":%q,"items":[{"item_id":%q}]%s}`,
		id, len(id)%60, session, user, item, extra)
}

func hasher(t *testing.T) *pseudonym.Hasher {
	h, err := pseudonym.New([]byte("test-key-0123456789abcdef"))
	if err != nil {
		t.Fatal(err)
	}
	return h
}

// Raw identifiers never reach the store or the logs; reads with the raw
// ids still find the visitor's history, since they are hashed the same way.
func TestVisitorIDsArePseudonymisedBeforeStorage(t *testing.T) {
	forEachStore(t, func(t *testing.T, _ string, st testStore) {
		logs := &syncBuffer{}
		ids := hasher(t)
		base := startServerWith(t, st, httpapi.Config{IDs: ids}, logs)
		call(t, "PUT", base+"/v1/items", "["+itemJSON("a", 5, "Home", "")+","+itemJSON("b", 5, "Home", "")+"]")
		body := `{"event_id":"p1","type":"purchase","time":"2026-11-01T10:00:00Z","session_id":"sess-alice","user_id":"alice@example.com","order_id":"order-77","items":[{"item_id":"a"}]}`
		if r := call(t, "POST", base+"/v1/events", body); r.status != 200 {
			t.Fatalf("event: %d %s", r.status, r.body)
		}
		evs := storedEvents(t, st)
		if len(evs) != 1 {
			t.Fatalf("%d events stored", len(evs))
		}
		e := evs[0]
		if e.UserID != ids.ID("alice@example.com") || e.SessionID != ids.ID("sess-alice") || e.OrderID != ids.ID("order-77") {
			t.Fatalf("stored ids %q %q %q are not the pseudonyms", e.UserID, e.SessionID, e.OrderID)
		}
		stored := fmt.Sprintf("%+v", e)
		for _, raw := range []string{"alice", "sess-alice", "order-77"} {
			if strings.Contains(stored, raw) {
				t.Fatalf("raw id %q stored: %s", raw, stored)
			}
		}
		// A signed-in read with the raw id finds the history (after a
		// restart it would come from the store: same pseudonym).
		r := call(t, "GET", base+"/v1/recommendations/home?user_id=alice@example.com&limit=5", "")
		if r.status != 200 || !strings.Contains(r.body, `"id":"for_you"`) {
			t.Fatalf("home: %d %s", r.status, r.body)
		}
		// A bad request and a failing one log nothing that names the shopper.
		call(t, "POST", base+"/v1/events", strings.Replace(body, `"type":"purchase"`, `"type":"teleport"`, 1))
		call(t, "DELETE", base+"/v1/users/alice@example.com", "")
		if l := logs.String(); strings.Contains(l, "alice") || strings.Contains(l, "sess-alice") {
			t.Fatalf("a raw id reached the log:\n%s", l)
		}
	})
}

// Without personalisation consent a visitor gets the non-personalised
// modules and leaves nothing behind: no ids stored, no session state.
func TestWithoutConsentNothingIsPersonalOrKept(t *testing.T) {
	forEachStore(t, func(t *testing.T, _ string, st testStore) {
		base := startServerWith(t, st, httpapi.Config{IDs: hasher(t)}, io.Discard)
		call(t, "PUT", base+"/v1/items", "["+itemJSON("a", 5, "Home", "")+","+itemJSON("b", 5, "Home", "")+"]")
		r := call(t, "POST", base+"/v1/events", viewEvent("n1", "s-no", "u-no", "a", `,"consent":false`)+"\n"+
			`{"event_id":"n2","type":"view_item","time":"2026-11-01T10:00:00Z","items":[{"item_id":"b"}],"consent":false}`)
		if r.status != 200 || !strings.Contains(r.body, `"accepted":2`) {
			t.Fatalf("events without consent: %d %s", r.status, r.body)
		}
		for _, e := range storedEvents(t, st) {
			if e.SessionID != "" || e.UserID != "" {
				t.Fatalf("an event sent without consent kept ids: %+v", e)
			}
		}
		r = call(t, "GET", base+"/v1/recommendations/home?session_id=s-no&user_id=u-no&limit=5", "")
		if !strings.Contains(r.body, `"id":"recently_viewed","items":[]`) {
			t.Fatalf("a visitor without consent has a history: %s", r.body)
		}
		// A visitor who consented earlier, reading without consent now,
		// gets non-personalised modules.
		call(t, "POST", base+"/v1/events", viewEvent("y1", "s-yes", "", "a", ""))
		r = call(t, "GET", base+"/v1/recommendations/home?session_id=s-yes&limit=5", "")
		if !strings.Contains(r.body, `"id":"recently_viewed","items":[{"item_id":"a"`) {
			t.Fatalf("with consent: %s", r.body)
		}
		r = call(t, "GET", base+"/v1/recommendations/home?session_id=s-yes&limit=5&consent=false", "")
		if !strings.Contains(r.body, `"id":"recently_viewed","items":[]`) {
			t.Fatalf("consent=false still personalised: %s", r.body)
		}
		r = call(t, "POST", base+"/v1/rank", `{"session_id":"s-yes","placement":"category","item_ids":["a","b"],"consent":false}`)
		if r.status != 200 || strings.Contains(r.body, "session_co_view") {
			t.Fatalf("rank without consent: %d %s", r.status, r.body)
		}
		wantError(t, call(t, "GET", base+"/v1/recommendations/home?consent=maybe", ""), 400, "consent must be true or false")
		wantError(t, call(t, "POST", base+"/v1/events", viewEvent("n3", "s", "", "a", `,"consent":"no"`)), 400, "consent")
		wantError(t, call(t, "POST", base+"/v1/events", viewEvent("n4", "s", "", "a", `,"email":"a@b.c"`)), 400, `unknown field "email"`)
	})
}

// DELETE /v1/users/{id} erases the shopper from the store and from memory
// at once; late retries of their events are acknowledged but not stored,
// and a build run afterwards has nothing of theirs to learn from.
func TestEraseUserEverywhereAndTheNextBuildCannotResurrect(t *testing.T) {
	forEachStore(t, func(t *testing.T, _ string, st testStore) {
		keys, _ := keysFile(t, "admin "+apikey.Hash(adminKey)+" privacy-desk")
		ids := hasher(t)
		logs := &syncBuffer{}
		base := startServerWith(t, st, httpapi.Config{Keys: keys, IDs: ids}, logs)
		adm := []string{"X-Api-Key", adminKey}
		do := func(method, path, body string) reply {
			t.Helper()
			r, _ := callWith(t, method, base+path, body, adm...)
			return r
		}
		do("PUT", "/v1/items", "["+itemJSON("a", 5, "Home", "")+","+itemJSON("b", 5, "Home", "")+","+itemJSON("c", 5, "Home", "")+"]")
		bob := []string{
			viewEvent("bob-anon", "s-bob", "", "a", ""),     // before logging in
			viewEvent("bob-1", "s-bob", "bob", "b", ""),     // signed in
			viewEvent("bob-2", "s-bob-app", "bob", "c", ""), // on another device
		}
		others := viewEvent("eve-1", "s-eve", "eve", "a", "")
		if r := do("POST", "/v1/events", strings.Join(append(bob, others), "\n")); r.status != 200 {
			t.Fatalf("events: %d %s", r.status, r.body)
		}
		r := do("GET", "/v1/recommendations/home?user_id=bob&session_id=s-bob&limit=5", "")
		if !strings.Contains(r.body, `"id":"recently_viewed","items":[{"item_id":"a"`) || !strings.Contains(r.body, `"item_id":"c"`) {
			t.Fatalf("before erasure: %s", r.body)
		}
		r = do("DELETE", "/v1/users/bob", "")
		if r.status != 200 || !strings.Contains(r.body, `"erased":true,"events":3,"sessions":2`) {
			t.Fatalf("erase: %d %s", r.status, r.body)
		}
		for _, q := range []string{"user_id=bob", "session_id=s-bob", "session_id=s-bob-app"} {
			r = do("GET", "/v1/recommendations/home?limit=5&"+q, "")
			if !strings.Contains(r.body, `"id":"recently_viewed","items":[]`) {
				t.Fatalf("%s still has a history after erasure: %s", q, r.body)
			}
		}
		// A client retries its old events after the erasure.
		if r := do("POST", "/v1/events", strings.Join(bob, "\n")); r.status != 200 {
			t.Fatalf("retry: %d %s", r.status, r.body)
		}
		evs := storedEvents(t, st)
		if len(evs) != 1 || evs[0].ID != "eve-1" {
			t.Fatalf("stored after erasure and retry: %+v", evs)
		}
		r = do("GET", "/v1/recommendations/home?user_id=bob&session_id=s-bob&limit=5", "")
		if !strings.Contains(r.body, `"id":"recently_viewed","items":[]`) {
			t.Fatalf("the retry brought bob back into memory: %s", r.body)
		}
		// The next build reads only what is left.
		b, rep, err := build.Run(t.Context(), st.(build.Source), build.Options{Seed: 1, SkipItem2Vec: true}, slog.New(slog.NewTextHandler(io.Discard, nil)))
		if err != nil {
			t.Fatal(err)
		}
		if rep.History.Events != 1 {
			t.Fatalf("the build read %d events, want eve's 1", rep.History.Events)
		}
		if err := st.PublishBuild(t.Context(), b); err != nil {
			t.Fatal(err)
		}
		do("GET", "/readyz", "")
		r = do("GET", "/v1/recommendations/home?user_id=bob&limit=5", "")
		if !strings.Contains(r.body, `"id":"recently_viewed","items":[]`) {
			t.Fatalf("after the build: %s", r.body)
		}
		// The audit log has the erasure, by the key's label, without bob.
		r = do("GET", "/v1/audit?limit=10", "")
		if !strings.Contains(r.body, `"actor":"key:privacy-desk","action":"erase_user"`) || !strings.Contains(r.body, `"events":3`) ||
			strings.Contains(r.body, "bob") || strings.Contains(r.body, ids.ID("bob")) {
			t.Fatalf("audit: %s", r.body)
		}
		if strings.Contains(logs.String(), "bob") {
			t.Fatalf("the log names the shopper:\n%s", logs.String())
		}
		wantError(t, do("DELETE", "/v1/users/"+strings.Repeat("x", 200), ""), 400, "limit is 128")
		wantError(t, do("GET", "/v1/users/bob", ""), 405, "needs DELETE")
	})
}

// Without an id key, an e-mail address as a visitor id is refused: it
// would be stored as sent. With a key it is hashed like any id.
func TestEmailAddressesAsIDsNeedPseudonymisation(t *testing.T) {
	st := memstore.New()
	base := startServer(t, st)
	wantError(t, call(t, "POST", base+"/v1/events", viewEvent("m1", "s1", "ann@example.com", "a", "")), 400, "user_id: looks like an e-mail address")
	wantError(t, call(t, "POST", base+"/v1/events", viewEvent("m2", "ann@example.com", "", "a", "")), 400, "session_id: looks like an e-mail address")
	if r := call(t, "POST", base+"/v1/events", viewEvent("m3", "s1", "ann@example.com", "a", `,"consent":false`)); r.status != 200 {
		t.Fatalf("without consent the id is dropped anyway: %d %s", r.status, r.body)
	}
	if r := call(t, "POST", base+"/v1/events", viewEvent("m4", "s1", "user@42", "a", "")); r.status != 200 {
		t.Fatalf("an opaque id with @: %d %s", r.status, r.body)
	}
	base = startServerWith(t, memstore.New(), httpapi.Config{IDs: hasher(t)}, io.Discard)
	if r := call(t, "POST", base+"/v1/events", viewEvent("m1", "s1", "ann@example.com", "a", "")); r.status != 200 {
		t.Fatalf("with a key: %d %s", r.status, r.body)
	}
}

// DELETE /v1/sessions/{id} forgets an anonymous visitor (who never signed
// in): the session's anonymous events, in the store and in memory; a
// signed-in shopper's events in the same session are theirs and stay.
func TestEraseAnonymousSession(t *testing.T) {
	forEachStore(t, func(t *testing.T, _ string, st testStore) {
		ids := hasher(t)
		base := startServerWith(t, st, httpapi.Config{IDs: ids}, io.Discard)
		call(t, "PUT", base+"/v1/items", "["+itemJSON("a", 5, "Home", "")+","+itemJSON("b", 5, "Home", "")+"]")
		anon := []string{viewEvent("an-1", "cookie-1", "", "a", ""), viewEvent("an-22", "cookie-1", "", "b", "")}
		signed := viewEvent("sg-1", "cookie-1", "carol", "b", "")
		if r := call(t, "POST", base+"/v1/events", strings.Join(append(anon, signed), "\n")); r.status != 200 {
			t.Fatalf("events: %d %s", r.status, r.body)
		}
		r := call(t, "DELETE", base+"/v1/sessions/cookie-1", "")
		if r.status != 200 || !strings.Contains(r.body, `"erased":true,"events":2,"sessions":1,"profile":false`) {
			t.Fatalf("erase session: %d %s", r.status, r.body)
		}
		if r := call(t, "GET", base+"/v1/recommendations/home?session_id=cookie-1&limit=5", ""); !strings.Contains(r.body, `"id":"recently_viewed","items":[]`) {
			t.Fatalf("the session still has a history: %s", r.body)
		}
		call(t, "POST", base+"/v1/events", strings.Join(anon, "\n")) // late retries
		evs := storedEvents(t, st)
		if len(evs) != 1 || evs[0].ID != "sg-1" || evs[0].UserID != ids.ID("carol") {
			t.Fatalf("stored after erasing the session: %+v", evs)
		}
		r = call(t, "GET", base+"/v1/audit", "")
		if !strings.Contains(r.body, `"action":"erase_session"`) || strings.Contains(r.body, "cookie-1") {
			t.Fatalf("audit: %s", r.body)
		}
	})
}

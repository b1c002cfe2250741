package postgres_test

import (
	"errors"
	"testing"
	"time"

	"github.com/recs-server/recs/catalog"
	"github.com/recs-server/recs/postgres"
	"github.com/recs-server/recs/postgres/pgtest"
)

func TestTheIDKeyCannotChangeUnderStoredIDs(t *testing.T) {
	s := pgtest.Open(t)
	ctx := t.Context()
	if err := s.CheckIDKey(ctx, "key-a"); err != nil {
		t.Fatalf("first use: %v", err)
	}
	if err := s.CheckIDKey(ctx, "key-a"); err != nil {
		t.Fatalf("same key: %v", err)
	}
	for _, other := range []string{"key-b", "none"} {
		if err := s.CheckIDKey(ctx, other); !errors.Is(err, postgres.ErrIDKeyChanged) {
			t.Fatalf("%s after key-a: %v", other, err)
		}
	}
	// A database filled before any key was recorded holds raw ids.
	raw := pgtest.Open(t)
	_, err := raw.AppendEvents(ctx, []catalog.Event{{ID: "e", Type: catalog.EventViewItem, Time: time.Now(), SessionID: "s",
		Items: []catalog.EventItem{{ItemID: "a", Quantity: 1}}}})
	if err != nil {
		t.Fatal(err)
	}
	if err := raw.CheckIDKey(ctx, "key-a"); !errors.Is(err, postgres.ErrIDKeyChanged) {
		t.Fatalf("a key over raw ids: %v", err)
	}
	if err := raw.CheckIDKey(ctx, "none"); err != nil {
		t.Fatalf("no key over raw ids: %v", err)
	}
}

package postgres_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/recs-server/recs/catalog"
	"github.com/recs-server/recs/postgres"
	"github.com/recs-server/recs/postgres/pgtest"
)

// The event insert runs with arrays as parameters: PostgreSQL must reuse
// its generic plan, not plan it again for every post (which was 38 % of
// the backends' CPU under mixed load).
func TestEventWritesReuseTheirPlan(t *testing.T) {
	ctx := t.Context()
	cfg := pgtest.Config(t)
	cfg.WriteConns = 1 // every write on the connection WritePlans asks
	s, err := postgres.Open(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	const posts = 12
	for i := range posts {
		evs := make([]catalog.Event, 1+i%3)
		for j := range evs {
			evs[j] = catalog.Event{ID: fmt.Sprintf("plan-%d-%d", i, j), Type: catalog.EventViewItem,
				Time: time.Now(), SessionID: "s1", Items: []catalog.EventItem{{ItemID: "i1"}}}
		}
		if _, err := s.AppendEvents(ctx, evs); err != nil {
			t.Fatal(err)
		}
	}
	custom, generic, err := s.WritePlans(ctx, "INSERT INTO events")
	if err != nil {
		t.Fatal(err)
	}
	if custom != 0 || generic < posts {
		t.Errorf("event insert planned %d times for its parameters and %d times reused its generic plan, want 0 and >= %d", custom, generic, posts)
	}
}

package dataimport_test

import (
	"context"
	"os"
	"testing"
	"time"

	"github.com/recs-server/recs/catalog"
	"github.com/recs-server/recs/dataimport"
	"github.com/recs-server/recs/postgres/pgtest"
)

const onlineRetail = "../../shared/data/online-retail/online_retail_2010-12_to_2011-10.csv.gz"

// TestOnlineRetailIntoPostgresIsCompleteAndIdempotent loads the whole UCI
// file into a real PostgreSQL store twice: the second run adds nothing and
// changes nothing.
func TestOnlineRetailIntoPostgresIsCompleteAndIdempotent(t *testing.T) {
	st := pgtest.Open(t)
	ctx := context.Background()
	load := func() *dataimport.Report {
		f, err := os.Open(onlineRetail)
		if err != nil {
			t.Fatalf("the shared data set must be beside the checkout: %v", err)
		}
		defer f.Close()
		rep, err := dataimport.ImportOnlineRetail(ctx, f, st, dataimport.Options{})
		if err != nil {
			t.Fatal(err)
		}
		return rep
	}
	first := load()
	t.Logf("first import:\n%s", first.Summary())
	if first.LinesRead != 431673 || first.ItemsImported < 3000 || first.EventsImported < 18000 {
		t.Fatalf("first import: %d lines, %d items, %d events", first.LinesRead, first.ItemsImported, first.EventsImported)
	}
	count := func() (items, events int, last time.Time) {
		if err := st.ScanItems(ctx, func(*catalog.Item) error { items++; return nil }); err != nil {
			t.Fatal(err)
		}
		err := st.ScanEvents(ctx, time.Time{}, time.Now(), func(e *catalog.Event) error {
			events++
			last = e.Time
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		return
	}
	items, events, last := count()
	if items != first.ItemsImported || events != first.EventsImported {
		t.Fatalf("store holds %d items, %d events; the report says %d, %d", items, events, first.ItemsImported, first.EventsImported)
	}
	second := load()
	if second.EventsImported != 0 || second.EventsDuplicate != first.EventsImported {
		t.Fatalf("re-import inserted %d events, %d duplicates; want 0, %d", second.EventsImported, second.EventsDuplicate, first.EventsImported)
	}
	items2, events2, last2 := count()
	if items2 != items || events2 != events || !last2.Equal(last) {
		t.Fatalf("re-import changed the store: %d/%d items, %d/%d events", items2, items, events2, events)
	}
}

package eval

import (
	"context"
	"errors"
	"fmt"
	"os"
	"time"

	"github.com/recs-server/recs/catalog"
	"github.com/recs-server/recs/dataimport"
	"github.com/recs-server/recs/memstore"
)

// RunJSONL evaluates a shop's own data in the JSON Lines interchange
// format (the file `recs import` reads): basket completion on its orders,
// or (Options.Task) the for_you home page of returning customers. The
// events are split by time at Options.Cutoff, by default at 80 % of the
// events' time span; the build sees only the part before it.
func RunJSONL(ctx context.Context, path string, opt Options) (*Report, error) {
	start := time.Now()
	opt = opt.withDefaults()
	if err := opt.validate(); err != nil {
		return nil, err
	}
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("eval: %w", err)
	}
	defer f.Close()
	all := memstore.New()
	imp, err := dataimport.ImportJSONL(ctx, f, all, dataimport.Options{Source: path, MaxErrors: -1})
	if err != nil {
		return nil, fmt.Errorf("eval: import %s: %w", path, err)
	}
	first, last := time.Time{}, time.Time{}
	err = all.ScanEvents(ctx, time.Time{}, time.Date(9999, 1, 1, 0, 0, 0, 0, time.UTC), func(e *catalog.Event) error {
		if first.IsZero() || e.Time.Before(first) {
			first = e.Time
		}
		if e.Time.After(last) {
			last = e.Time
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	if first.IsZero() {
		return nil, errors.New("eval: the file has no events")
	}
	cutoff := opt.Cutoff.UTC()
	if opt.Cutoff.IsZero() {
		cutoff = first.Add(last.Sub(first) * 4 / 5).Truncate(time.Second)
	}
	if !cutoff.After(first) || cutoff.After(last) {
		return nil, fmt.Errorf("eval: cut-off %s is outside the events' time span [%s, %s]", cutoff.Format(time.RFC3339), first.Format(time.RFC3339), last.Format(time.RFC3339))
	}
	from := first
	if opt.TrainWindow > 0 {
		from = cutoff.Add(-opt.TrainWindow)
	}
	trainStore, testStore, err := splitStore(ctx, all, from, cutoff)
	if err != nil {
		return nil, err
	}
	load := time.Since(start)
	opt.Log.Info("eval data loaded", "dataset", "jsonl", "items", imp.ItemsImported, "events", imp.EventsImported, "cutoff", cutoff, "took", load)
	tr, err := train(ctx, trainStore, from, cutoff, opt)
	if err != nil {
		return nil, err
	}
	var synthetic []string
	var rep *Report
	if opt.Task == TaskForYou {
		rep, err = forYou(ctx, trainStore, testStore, "jsonl", path, synthetic, from, cutoff, last, tr, opt)
	} else {
		rep, err = basket(ctx, testStore, "jsonl", path, synthetic, from, cutoff, last, tr, opt)
	}
	if err != nil {
		return nil, err
	}
	rep.Timings.Load = load.Seconds()
	rep.Timings.Total = time.Since(start).Seconds()
	return rep, nil
}

// splitStore copies the catalogue into two stores, the events of [from,
// cutoff) into the first and those from the cut-off on into the second:
// the build and every store read of the evaluation (a signed-in user's
// history, say) then cannot see the test period.
func splitStore(ctx context.Context, all *memstore.Store, from, cutoff time.Time) (*memstore.Store, *memstore.Store, error) {
	train, test := memstore.New(), memstore.New()
	var items []catalog.Item
	err := all.ScanItems(ctx, func(it *catalog.Item) error {
		items = append(items, *it)
		return nil
	})
	if err != nil {
		return nil, nil, err
	}
	for _, st := range []*memstore.Store{train, test} {
		if err := st.UpsertItems(ctx, items); err != nil {
			return nil, nil, err
		}
	}
	var before, after []catalog.Event
	err = all.ScanEvents(ctx, from, time.Date(9999, 1, 1, 0, 0, 0, 0, time.UTC), func(e *catalog.Event) error {
		if e.Time.Before(cutoff) {
			before = append(before, *e)
		} else {
			after = append(after, *e)
		}
		return nil
	})
	if err != nil {
		return nil, nil, err
	}
	if _, err := train.AppendEvents(ctx, before); err != nil {
		return nil, nil, err
	}
	if _, err := test.AppendEvents(ctx, after); err != nil {
		return nil, nil, err
	}
	return train, test, nil
}

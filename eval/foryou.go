package eval

import (
	"context"
	"fmt"
	"slices"
	"time"

	"github.com/recs-server/recs/catalog"
	"github.com/recs-server/recs/memstore"
)

// forYouStrategies run by default on the for_you task.
var forYouStrategies = []string{
	StrategyPopularity, StrategyPopularity7d, StrategyRandom,
	StrategyCoPurchase, StrategySession, StrategyEngineUnranked, StrategyEngine,
}

// forYou evaluates the home page's `for_you`: for each
// customer who bought before the cut-off and again after it, given their
// history up to the cut-off, find the items they bought in the test
// window. The engine answers its Home page; the lone sources take the
// customer's last items as the session (co_purchase sums their lists).
func forYou(ctx context.Context, trainStore, testStore *memstore.Store, dataset, source string, synthetic []string, from, cutoff, last time.Time, tr *trained, opt Options, notes ...string) (*Report, error) {
	tr.env.Module = "for_you"
	type history struct {
		items []string // bought before the cut-off, oldest first
		next  []string // bought from the cut-off on, known then
	}
	users := map[string]*history{}
	err := trainStore.ScanEvents(ctx, from, cutoff, func(e *catalog.Event) error {
		if e.Type != catalog.EventPurchase || e.UserID == "" {
			return nil
		}
		h := users[e.UserID]
		if h == nil {
			h = &history{}
			users[e.UserID] = h
		}
		for _, li := range e.Items {
			h.items = slices.DeleteFunc(h.items, func(id string) bool { return id == li.ItemID })
			h.items = append(h.items, li.ItemID)
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("eval: read training history: %w", err)
	}
	repeats, targets := 0, 0
	err = testStore.ScanEvents(ctx, cutoff, time.Date(9999, 1, 1, 0, 0, 0, 0, time.UTC), func(e *catalog.Event) error {
		h := users[e.UserID]
		if e.Type != catalog.EventPurchase || h == nil {
			return nil
		}
		for _, li := range e.Items {
			if it := tr.env.Items[li.ItemID]; it == nil || !it.Active || slices.Contains(h.next, li.ItemID) {
				continue
			}
			h.next = append(h.next, li.ItemID)
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("eval: read test orders: %w", err)
	}
	ids := make([]string, 0, len(users))
	for id, h := range users {
		if len(h.next) > 0 {
			ids = append(ids, id)
		}
	}
	slices.Sort(ids)
	cases := make([]Case, 0, len(ids))
	for _, id := range ids {
		h := users[id]
		sess := h.items[max(0, len(h.items)-20):]
		for _, t := range h.next {
			targets++
			if slices.Contains(h.items, t) {
				repeats++
			}
		}
		cases = append(cases, Case{
			Query:   Query{Anchors: slices.Clone(sess), Session: slices.Clone(sess), UserID: id, Time: cutoff},
			Targets: h.next,
		})
	}
	rep := newReport(dataset, source, TaskForYou, from, cutoff, tr, &opt)
	rep.Synthetic = synthetic
	rep.Notes = append(rep.Notes,
		fmt.Sprintf("test window [%s, %s]: %d customers who bought before and after the cut-off; %d target items, %d (%.0f %%) of them bought before too",
			cutoff.Format(time.DateOnly), last.UTC().Format(time.DateOnly), len(cases), targets, repeats, 100*ratio(repeats, targets)),
		"engine answers the server's home page for the customer (module for_you), which leaves out what they bought in the last 14 days and what is in their recent history; lone sources take their last 20 items as the session",
	)
	rep.Notes = append(rep.Notes, notes...)
	if err := evaluateInto(ctx, rep, tr, cases, &opt, forYouStrategies); err != nil {
		return nil, err
	}
	return rep, nil
}

package eval

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"context"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/recs-server/recs/catalog"
	"github.com/recs-server/recs/dataimport"
	"github.com/recs-server/recs/memstore"
)

// basketStrategies run by default on a basket-completion task.
var basketStrategies = []string{
	StrategyPopularity, StrategyPopularity7d, StrategyPopularityInCategory, StrategyRandom,
	StrategyCoPurchase, StrategyCoView, StrategyEmbedding, StrategySession,
	StrategyEngineUnranked, StrategyEngine,
}

// RunOnlineRetail evaluates basket completion on the UCI Online Retail CSV
// at path (gzip or plain): given one item of an order placed after the
// cut-off, find the order's other items.
//
// The file is split by invoice time before anything is imported: the rows
// before the cut-off are imported into the training store, the build reads
// them and nothing else (not even a later description of an item), and
// the rows from the cut-off on are imported separately as test orders.
// Every (order, item) pair of an order with two or more distinct items
// known at the cut-off is a test case: the item is the anchor (and is
// excluded from the list), the other known items are the targets. Items
// first sold after the cut-off are left out of the targets (nothing could
// recommend them); the report counts them.
func RunOnlineRetail(ctx context.Context, path string, opt Options) (*Report, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("eval: %w", err)
	}
	defer f.Close()
	return runOnlineRetail(ctx, f, path, opt)
}

func runOnlineRetail(ctx context.Context, r io.Reader, source string, opt Options) (*Report, error) {
	start := time.Now()
	opt = opt.withDefaults()
	if opt.Cutoff.IsZero() {
		opt.Cutoff = DefaultOnlineRetailCutoff
	}
	if err := opt.validate(); err != nil {
		return nil, err
	}
	cutoff := opt.Cutoff.UTC()
	var trainFrom time.Time
	if opt.TrainWindow > 0 {
		trainFrom = cutoff.Add(-opt.TrainWindow)
	}
	sp, err := splitRetail(ctx, r, cutoff, trainFrom)
	if err != nil {
		return nil, err
	}
	trainStore := memstore.New()
	impTrain, err := dataimport.ImportOnlineRetail(ctx, bytes.NewReader(sp.train), trainStore, dataimport.Options{Source: source + " (before the cut-off)", MaxErrors: -1})
	if err != nil {
		return nil, fmt.Errorf("eval: import training rows: %w", err)
	}
	testStore := memstore.New()
	_, err = dataimport.ImportOnlineRetail(ctx, bytes.NewReader(sp.test), testStore, dataimport.Options{Source: source + " (from the cut-off)", MaxErrors: -1})
	if err != nil {
		return nil, fmt.Errorf("eval: import test rows: %w", err)
	}
	sp.train, sp.test = nil, nil
	if sp.first.IsZero() {
		return nil, fmt.Errorf("eval: %s has no rows before the cut-off %s", source, cutoff.Format(time.RFC3339))
	}
	if trainFrom.IsZero() {
		trainFrom = sp.first
	}
	load := time.Since(start)
	opt.Log.Info("eval data loaded", "dataset", "online-retail", "train_items", impTrain.ItemsImported, "train_events", impTrain.EventsImported, "took", load)

	tr, err := train(ctx, trainStore, trainFrom, cutoff, opt)
	if err != nil {
		return nil, err
	}
	dataNote := "data: UCI Online Retail (Chen, Sain & Guo 2012), CC BY 4.0"
	var rep *Report
	if opt.Task == TaskForYou {
		rep, err = forYou(ctx, trainStore, testStore, "online-retail", source, impTrain.Synthetic, trainFrom, cutoff, sp.last, tr, opt, dataNote)
	} else {
		notes := []string{
			"Online Retail has purchases only: the co-view table is empty, so co_view is the popularity fill throughout",
			"stock and cost are synthetic (seeded from the stock code by the importer)",
			dataNote,
		}
		if sp.malformed > 0 {
			notes = append(notes, fmt.Sprintf("%d malformed CSV rows skipped while splitting", sp.malformed))
		}
		rep, err = basket(ctx, testStore, "online-retail", source, impTrain.Synthetic, trainFrom, cutoff, sp.last, tr, opt, notes...)
	}
	if err != nil {
		return nil, err
	}
	rep.Timings.Load = load.Seconds()
	rep.Timings.Total = time.Since(start).Seconds()
	return rep, nil
}

// basket evaluates basket completion on the orders of testStore: given
// one item of an order, find the others.
func basket(ctx context.Context, testStore *memstore.Store, dataset, source string, synthetic []string, from, cutoff, last time.Time, tr *trained, opt Options, notes ...string) (*Report, error) {
	tr.env.Module = "bought_together"
	cases, bs, err := basketCases(ctx, testStore, tr.env, cutoff)
	if err != nil {
		return nil, err
	}
	rep := newReport(dataset, source, TaskBasket, from, cutoff, tr, &opt)
	rep.Synthetic = synthetic
	rep.Notes = append(rep.Notes,
		fmt.Sprintf("test window [%s, %s]: %d orders, %d with 2+ distinct items known at the cut-off; %d order lines of %d items first sold after the cut-off left out of the targets",
			cutoff.Format(time.DateOnly), last.UTC().Format(time.DateOnly), bs.orders, bs.used, bs.newLines, bs.newItems),
		"metrics are averaged over (order, anchor item) pairs; the anchor is excluded from every list; Recall = hits / targets",
		"engine and engine_unranked answer through the server's request path (recommend.Engine, PDP module bought_together), which filters out-of-stock items; the other strategies do not",
	)
	rep.Notes = append(rep.Notes, notes...)
	if opt.MaxQueries > 0 {
		rep.Notes = append(rep.Notes, fmt.Sprintf("subsampled: at most %d test cases (seeded)", opt.MaxQueries))
	}
	if err := evaluateInto(ctx, rep, tr, cases, &opt, basketStrategies); err != nil {
		return nil, err
	}
	return rep, nil
}

// retailSplit is the Online Retail CSV cut in two at the cut-off, each
// part a CSV with the original header.
type retailSplit struct {
	train, test []byte
	first, last time.Time // earliest training row, latest row
	malformed   int
}

// splitRetail routes each row by its InvoiceDate (UK local time, as the
// importer reads it): before the cut-off (and not before from, when set)
// to the training part, from the cut-off on to the test part. Rows whose
// date cannot be read go to the training part, where the importer counts
// them as malformed.
func splitRetail(ctx context.Context, r io.Reader, cutoff, from time.Time) (*retailSplit, error) {
	br := bufio.NewReaderSize(r, 64<<10)
	var in io.Reader = br
	if magic, _ := br.Peek(2); len(magic) == 2 && magic[0] == 0x1f && magic[1] == 0x8b {
		zr, err := gzip.NewReader(br)
		if err != nil {
			return nil, fmt.Errorf("eval: online retail: %w", err)
		}
		defer zr.Close()
		in = zr
	}
	london, err := time.LoadLocation("Europe/London")
	if err != nil {
		london = time.UTC // the importer falls back the same way
	}
	cr := csv.NewReader(in)
	cr.FieldsPerRecord = -1
	cr.ReuseRecord = true
	cr.LazyQuotes = true
	header, err := cr.Read()
	if err != nil {
		return nil, fmt.Errorf("eval: online retail header: %w", err)
	}
	col := slices.IndexFunc(header, func(h string) bool {
		return strings.EqualFold(strings.TrimSpace(strings.TrimPrefix(h, "\uFEFF")), "InvoiceDate")
	})
	if col < 0 {
		return nil, errors.New("eval: not an Online Retail CSV: the header has no InvoiceDate column")
	}
	var trainBuf, testBuf bytes.Buffer
	trainW, testW := csv.NewWriter(&trainBuf), csv.NewWriter(&testBuf)
	if err := trainW.Write(header); err != nil {
		return nil, err
	}
	if err := testW.Write(header); err != nil {
		return nil, err
	}
	sp := &retailSplit{}
	var lastDate string
	var lastTime time.Time
	var lastErr error
	for n := 0; ; n++ {
		if n%4096 == 0 {
			if err := ctx.Err(); err != nil {
				return nil, err
			}
		}
		rec, err := cr.Read()
		if err == io.EOF {
			break
		}
		if err != nil {
			var pe *csv.ParseError
			if !errors.As(err, &pe) {
				return nil, fmt.Errorf("eval: read online retail csv: %w", err)
			}
			sp.malformed++
			continue
		}
		w := trainW
		if col < len(rec) {
			d := strings.TrimSpace(rec[col])
			if d != lastDate {
				lastDate = d
				lastTime, lastErr = time.ParseInLocation(time.DateTime, d, london)
				if lastErr != nil {
					lastTime, lastErr = time.ParseInLocation("2006-01-02 15:04", d, london)
				}
			}
			if lastErr == nil {
				t := lastTime
				if t.After(sp.last) {
					sp.last = t
				}
				switch {
				case !t.Before(cutoff):
					w = testW
				case !from.IsZero() && t.Before(from):
					continue
				case sp.first.IsZero() || t.Before(sp.first):
					sp.first = t
				}
			}
		}
		if err := w.Write(rec); err != nil {
			return nil, err
		}
	}
	trainW.Flush()
	testW.Flush()
	if err := cmpErr(trainW.Error(), testW.Error()); err != nil {
		return nil, err
	}
	sp.train, sp.test = trainBuf.Bytes(), testBuf.Bytes()
	sp.first = sp.first.UTC()
	return sp, nil
}

func cmpErr(a, b error) error {
	if a != nil {
		return a
	}
	return b
}

// basketStats counts what became of the test orders.
type basketStats struct {
	orders, used       int
	newLines, newItems int
}

// basketCases turns the purchases in st from the cut-off on into cases: one
// per (order, item known at the cut-off) of orders with two or more known
// distinct items. An order split over several events is joined by order id.
func basketCases(ctx context.Context, st *memstore.Store, env *Env, cutoff time.Time) ([]Case, basketStats, error) {
	type order struct {
		user  string
		t     time.Time
		items []string
	}
	var orders []*order
	byID := map[string]*order{}
	var bs basketStats
	newItems := map[string]struct{}{}
	err := st.ScanEvents(ctx, cutoff, time.Date(9999, 1, 1, 0, 0, 0, 0, time.UTC), func(e *catalog.Event) error {
		if e.Type != catalog.EventPurchase {
			return nil
		}
		key := e.OrderID
		if key == "" {
			key = "\x00" + e.ID
		}
		o := byID[key]
		if o == nil {
			o = &order{user: e.UserID, t: e.Time}
			byID[key] = o
			orders = append(orders, o)
		}
		for _, li := range e.Items {
			if it := env.Items[li.ItemID]; it == nil || !it.Active {
				bs.newLines++
				newItems[li.ItemID] = struct{}{}
				continue
			}
			if !slices.Contains(o.items, li.ItemID) {
				o.items = append(o.items, li.ItemID)
			}
		}
		return nil
	})
	if err != nil {
		return nil, bs, fmt.Errorf("eval: read test orders: %w", err)
	}
	bs.orders = len(orders)
	bs.newItems = len(newItems)
	var cases []Case
	for _, o := range orders {
		if len(o.items) < 2 {
			continue
		}
		bs.used++
		for i, a := range o.items {
			targets := make([]string, 0, len(o.items)-1)
			targets = append(targets, o.items[:i]...)
			targets = append(targets, o.items[i+1:]...)
			cases = append(cases, Case{
				Query:   Query{Anchors: []string{a}, UserID: o.user, Time: o.t, Exclude: []string{a}},
				Targets: targets,
			})
		}
	}
	return cases, bs, nil
}

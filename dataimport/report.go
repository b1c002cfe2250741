package dataimport

import (
	"cmp"
	"context"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/recs-server/recs/catalog"
)

// Sink is where imported records go (a store). Batches are at most
// Options.BatchSize long. The importer does not touch a batch after handing
// it over, so a sink may keep the slice.
type Sink interface {
	UpsertItems(ctx context.Context, items []catalog.Item) error
	// AppendEvents inserts the events whose id is new and returns how many
	// it inserted; duplicates by event id are not inserted.
	AppendEvents(ctx context.Context, events []catalog.Event) (inserted int, err error)
}

// Options tune an import; the zero value is usable.
type Options struct {
	BatchSize int // records per sink call; default 5000
	// MaxErrors is how many LineErrors to keep in the report (default 100,
	// negative keeps none); counting continues past it.
	MaxErrors int
	// Progress, if set, is called after each flushed batch with the report
	// so far. It runs on the importing goroutine: keep it quick.
	Progress func(r *Report)
	// Source names the input in the report, e.g. the file path; default
	// "jsonl" or "online-retail".
	Source string
}

const (
	defaultBatchSize = 5000
	defaultMaxErrors = 100
)

// LineError is one problem with one input line.
type LineError struct {
	Line   int    // 1-based line number in the input (a CSV header is line 1)
	Field  string // the field or column at fault; empty when the whole line is
	Reason string
}

func (e LineError) Error() string {
	if e.Field == "" {
		return "line " + strconv.Itoa(e.Line) + ": " + e.Reason
	}
	return "line " + strconv.Itoa(e.Line) + ": " + e.Field + ": " + e.Reason
}

// Report accounts for one import. Every line read is either used or
// skipped for exactly one reason:
//
//	LinesRead == LinesUsed + sum(Skipped)
//
// so a shop can reconcile the import with its own counts.
type Report struct {
	Source string
	// LinesRead counts data lines: non-blank JSONL lines, CSV records after
	// the header.
	LinesRead int
	// LinesUsed counts the lines that went into an imported item or event,
	// including events the sink already had.
	LinesUsed       int
	ItemsImported   int // items handed to the sink
	EventsImported  int // newly inserted events as reported by the sink
	EventsDuplicate int // events the sink already had (a re-import)
	// Skipped counts skipped lines by reason, e.g. "malformed json",
	// "unknown event type", "non-product code", "duplicate row".
	Skipped map[string]int
	// Errors are the first Options.MaxErrors problems, in line order;
	// ErrorCount counts all of them.
	Errors     []LineError
	ErrorCount int
	Elapsed    time.Duration
	// Synthetic names the fields that were made up rather than read (e.g.
	// cost and stock for the Online Retail data): results computed from
	// them must say so.
	Synthetic []string
	// Notes explain decisions that changed the shape of the data, such as
	// split orders.
	Notes []string
}

// SkippedTotal is the number of lines skipped for any reason.
func (r *Report) SkippedTotal() int {
	n := 0
	for _, c := range r.Skipped {
		n += c
	}
	return n
}

// maxSummaryErrors bounds the errors Summary prints: the first few show
// what is wrong; the full list is in Errors.
const maxSummaryErrors = 10

// Summary is a multi-line human summary: lines read, imported, skipped by
// reason (most frequent first), synthetic fields, notes and the first errors.
func (r *Report) Summary() string {
	var b strings.Builder
	fmt.Fprintf(&b, "import %s: %d lines read in %s\n", r.Source, r.LinesRead, r.Elapsed.Round(time.Millisecond))
	fmt.Fprintf(&b, "  imported: %d items, %d events new, %d events already present\n",
		r.ItemsImported, r.EventsImported, r.EventsDuplicate)
	fmt.Fprintf(&b, "  lines used: %d, skipped: %d\n", r.LinesUsed, r.SkippedTotal())
	reasons := make([]string, 0, len(r.Skipped))
	width := 0
	for k := range r.Skipped {
		reasons = append(reasons, k)
		width = max(width, len(k))
	}
	slices.SortFunc(reasons, func(a, b string) int {
		if c := cmp.Compare(r.Skipped[b], r.Skipped[a]); c != 0 {
			return c
		}
		return strings.Compare(a, b)
	})
	for _, k := range reasons {
		fmt.Fprintf(&b, "    %-*s %d\n", width, k, r.Skipped[k])
	}
	if len(r.Synthetic) > 0 {
		fmt.Fprintf(&b, "  synthetic fields (made up, not in the source): %s\n", strings.Join(r.Synthetic, ", "))
	}
	for _, n := range r.Notes {
		fmt.Fprintf(&b, "  note: %s\n", n)
	}
	if r.ErrorCount > 0 {
		shown := min(len(r.Errors), maxSummaryErrors)
		fmt.Fprintf(&b, "  errors: %d (first %d):\n", r.ErrorCount, shown)
		for _, e := range r.Errors[:shown] {
			fmt.Fprintf(&b, "    %s\n", e.Error())
		}
	}
	return b.String()
}

// batcher buffers records, flushes them to the sink and keeps the report.
type batcher struct {
	sink      Sink
	rep       *Report
	start     time.Time
	size      int
	maxErrors int
	progress  func(*Report)
	items     []catalog.Item
	events    []catalog.Event
}

func newBatcher(sink Sink, opt Options, defaultSource string) *batcher {
	b := &batcher{
		sink:      sink,
		rep:       &Report{Source: cmp.Or(opt.Source, defaultSource), Skipped: map[string]int{}},
		start:     time.Now(),
		size:      opt.BatchSize,
		maxErrors: opt.MaxErrors,
		progress:  opt.Progress,
	}
	if b.size <= 0 {
		b.size = defaultBatchSize
	}
	if b.maxErrors == 0 {
		b.maxErrors = defaultMaxErrors
	}
	return b
}

// skip counts n lines skipped for a reason that is a known quirk of the
// data rather than an error worth showing.
func (b *batcher) skip(reason string, n int) { b.rep.Skipped[reason] += n }

// fail counts one skipped line and records why.
func (b *batcher) fail(reason string, e LineError) {
	b.rep.Skipped[reason]++
	b.lineError(e)
}

func (b *batcher) lineError(e LineError) {
	b.rep.ErrorCount++
	if len(b.rep.Errors) < b.maxErrors {
		// A field name or a decoder message can quote a megabyte of input.
		e.Field = shorten(e.Field, 128)
		e.Reason = shorten(e.Reason, 512)
		b.rep.Errors = append(b.rep.Errors, e)
	}
}

// shorten cuts s to at most limit bytes at a rune boundary, marking the cut.
func shorten(s string, limit int) string {
	if len(s) <= limit {
		return s
	}
	limit -= len("...")
	for limit > 0 && !utf8.RuneStart(s[limit]) {
		limit--
	}
	return s[:limit] + "..."
}

func (b *batcher) addItem(ctx context.Context, it catalog.Item) error {
	b.items = append(b.items, it)
	if len(b.items) >= b.size {
		return b.flushItems(ctx)
	}
	return nil
}

func (b *batcher) addEvent(ctx context.Context, e catalog.Event) error {
	b.events = append(b.events, e)
	if len(b.events) >= b.size {
		return b.flush(ctx)
	}
	return nil
}

// flush sends items first so that events never refer to items still
// waiting in the buffer.
func (b *batcher) flush(ctx context.Context) error {
	if err := b.flushItems(ctx); err != nil {
		return err
	}
	return b.flushEvents(ctx)
}

func (b *batcher) flushItems(ctx context.Context) error {
	if len(b.items) == 0 {
		return nil
	}
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("dataimport: %w", err)
	}
	batch := b.items
	// A fresh buffer, because the sink may keep the batch.
	b.items = nil
	if err := b.sink.UpsertItems(ctx, batch); err != nil {
		return fmt.Errorf("dataimport: upsert %d items: %w", len(batch), err)
	}
	b.rep.ItemsImported += len(batch)
	b.report()
	return nil
}

func (b *batcher) flushEvents(ctx context.Context) error {
	if len(b.events) == 0 {
		return nil
	}
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("dataimport: %w", err)
	}
	batch := b.events
	b.events = nil
	n, err := b.sink.AppendEvents(ctx, batch)
	if err != nil {
		return fmt.Errorf("dataimport: append %d events: %w", len(batch), err)
	}
	if n < 0 || n > len(batch) {
		return fmt.Errorf("dataimport: sink reported %d of %d events inserted", n, len(batch))
	}
	b.rep.EventsImported += n
	b.rep.EventsDuplicate += len(batch) - n
	b.report()
	return nil
}

func (b *batcher) report() {
	b.rep.Elapsed = time.Since(b.start)
	if b.progress != nil {
		b.progress(b.rep)
	}
}

// finish flushes what is buffered and stamps the elapsed time; the report
// is returned even on error so the caller sees how far the import got.
func (b *batcher) finish(ctx context.Context, err error) (*Report, error) {
	if err == nil {
		err = b.flush(ctx)
	}
	b.rep.Elapsed = time.Since(b.start)
	return b.rep, err
}

package dataimport

import (
	"bytes"
	"context"
	"errors"
	"io"
	"reflect"
	"strings"
	"testing"
	"testing/iotest"
	"time"

	"github.com/recs-server/recs/catalog"
)

const (
	goodItem  = `{"kind":"item","id":"SKU-1","title":"Blue mug","category":["Home","Kitchen"],"brand":"Acme","price":12.5,"cost":5,"currency":"EUR","stock":40,"attributes":{"colour":"blue"}}`
	goodEvent = `{"kind":"event","event_id":"e1","type":"purchase","time":"2026-11-01T10:00:00Z","session_id":"s1","user_id":"u1","order_id":"o1","items":[{"item_id":"SKU-1","quantity":2,"price":12.5}],"channel":"web","device":"mobile"}`
)

func importJSONL(t testing.TB, s *testSink, in string, opt Options) *Report {
	t.Helper()
	r, err := ImportJSONL(context.Background(), strings.NewReader(in), s, opt)
	if err != nil {
		t.Fatalf("ImportJSONL: %v", err)
	}
	checkReconciles(t, r)
	return r
}

func TestImportJSONLLoadsTheDocumentedExample(t *testing.T) {
	s := newTestSink(t)
	r := importJSONL(t, s, goodItem+"\n"+goodEvent+"\n", Options{})
	if r.LinesRead != 2 || r.LinesUsed != 2 || r.ItemsImported != 1 || r.EventsImported != 1 || r.ErrorCount != 0 {
		t.Fatalf("report:\n%s", r.Summary())
	}
	it := s.items["SKU-1"]
	if !it.Active {
		t.Error("an item that does not mention active must be active")
	}
	if it.CreatedAt.IsZero() || !it.CreatedAt.Equal(it.UpdatedAt) {
		t.Errorf("created/updated should be the import time: %v %v", it.CreatedAt, it.UpdatedAt)
	}
	it.CreatedAt, it.UpdatedAt = time.Time{}, time.Time{}
	want := catalog.Item{ID: "SKU-1", Title: "Blue mug", Category: []string{"Home", "Kitchen"}, Brand: "Acme",
		Price: 12.5, Cost: 5, Currency: "EUR", Stock: 40, Attributes: map[string]string{"colour": "blue"}, Active: true}
	if !reflect.DeepEqual(it, want) {
		t.Errorf("item\n got %+v\nwant %+v", it, want)
	}
	wantEv := catalog.Event{ID: "e1", Type: catalog.EventPurchase, Time: time.Date(2026, 11, 1, 10, 0, 0, 0, time.UTC),
		SessionID: "s1", UserID: "u1", OrderID: "o1", Items: []catalog.EventItem{{ItemID: "SKU-1", Quantity: 2, Price: 12.5}},
		Channel: "web", Device: "mobile"}
	if !reflect.DeepEqual(s.events[0], wantEv) {
		t.Errorf("event\n got %+v\nwant %+v", s.events[0], wantEv)
	}
}

func TestImportJSONLNormalizesEvents(t *testing.T) {
	s := newTestSink(t)
	importJSONL(t, s, `{"kind":"event","event_id":"v","type":"view_item","time":"2026-11-01T11:00:00.1234567+01:00","session_id":"s","items":[{"item_id":"a"}]}`, Options{})
	e := s.events[0]
	if want := time.Date(2026, 11, 1, 10, 0, 0, 123456000, time.UTC); e.Time != want || e.Items[0].Quantity != 1 {
		t.Errorf("got time %v quantity %d, want %v (UTC, µs) and 1", e.Time, e.Items[0].Quantity, want)
	}
}

func TestImportJSONLKeepsSyntheticFieldsInTheReport(t *testing.T) {
	r := importJSONL(t, newTestSink(t), `{"kind":"item","id":"a","title":"A","stock":3,"synthetic":["stock"]}
{"kind":"item","id":"b","title":"B","cost":1,"synthetic":["stock","cost"]}`, Options{})
	if want := []string{"cost", "stock"}; !reflect.DeepEqual(r.Synthetic, want) {
		t.Errorf("Synthetic = %v, want %v", r.Synthetic, want)
	}
}

// Each bad line sits between two good ones: it is skipped for its reason,
// reported as line 2, and the good lines still load.
func TestImportJSONLSkipsBadLinesAndLoadsTheRest(t *testing.T) {
	f := func(bad, reason, wantErr string) {
		t.Helper()
		s := newTestSink(t)
		r := importJSONL(t, s, goodItem+"\n"+bad+"\n"+goodEvent+"\n", Options{})
		if r.ItemsImported != 1 || r.EventsImported != 1 || r.LinesRead != 3 || r.LinesUsed != 2 {
			t.Errorf("%s: good lines not loaded:\n%s", bad, r.Summary())
		}
		if want := map[string]int{reason: 1}; !reflect.DeepEqual(r.Skipped, want) {
			t.Errorf("%s: Skipped = %v, want %v", bad, r.Skipped, want)
		}
		if len(r.Errors) != 1 || r.ErrorCount != 1 {
			t.Fatalf("%s: errors %v, want one", bad, r.Errors)
		}
		if got := r.Errors[0].Error(); got != wantErr {
			t.Errorf("%s:\n got error %q\nwant error %q", bad, got, wantErr)
		}
	}
	// Malformed JSON.
	f(`{"kind":"item","id":"SKU-2",`, "malformed json", "line 2: unexpected end of JSON input (at byte 28)")
	f(`{"kind":"item","id":"SKU-2"} trailing`, "malformed json", "line 2: invalid character 't' after top-level value (at byte 30)")
	f(`[{"kind":"item"}]`, "malformed json", "line 2: is not a JSON object")
	f(`"kind"`, "malformed json", "line 2: is not a JSON object")
	// The kind.
	f(`{"id":"SKU-2","title":"Mug"}`, "missing kind", `line 2: kind: is required ("item" or "event")`)
	f(`{"kind":"user","id":"u"}`, "unknown kind", `line 2: kind: is "user", want "item" or "event"`)
	f(`{"kind":7,"id":"u"}`, "unknown kind", `line 2: kind: is a JSON number, want "item" or "event"`)
	// Strict decoding.
	f(`{"kind":"item","id":"SKU-2","title":"Mug","colour":"red"}`, "unknown field",
		"line 2: colour: is not a known field (the fields are those of catalog.Item or catalog.Event)")
	f(`{"kind":"event","event_id":"e2","type":"view_item","time":"2026-11-01T10:00:00Z","session_id":"s","title":"Mug","items":[{"item_id":"a"}]}`,
		"unknown field", "line 2: title: is not a known field (the fields are those of catalog.Item or catalog.Event)")
	f(`{"kind":"event","event_id":"e2","type":"view_item","time":"2026-11-01T10:00:00Z","session_id":"s","items":[{"item_id":"a","sku":"b"}]}`,
		"unknown field", "line 2: sku: is not a known field (the fields are those of catalog.Item or catalog.Event)")
	f(`{"kind":"item","id":"SKU-2","title":"Mug","price":"12.50"}`, "bad value", "line 2: price: is a JSON string, want float64")
	f(`{"kind":"event","event_id":"e2","type":"view_item","time":"2026-11-01T10:00:00Z","session_id":"s","items":[{"item_id":"a","quantity":1.5}]}`,
		"bad value", "line 2: items.quantity: is a JSON number 1.5, want int")
	// Event types and times.
	f(`{"kind":"event","event_id":"e2","type":"wishlist","time":"2026-11-01T10:00:00Z","session_id":"s","items":[{"item_id":"a"}]}`,
		"unknown event type", `line 2: type: is "wishlist", want one of view_item, add_to_cart, remove_from_cart, begin_checkout, purchase, search, refund`)
	f(`{"kind":"event","event_id":"e2","time":"2026-11-01T10:00:00Z","session_id":"s","items":[{"item_id":"a"}]}`,
		"invalid event: type", "line 2: type: is missing or unknown")
	f(`{"kind":"event","event_id":"e2","type":"view_item","time":"yesterday","session_id":"s","items":[{"item_id":"a"}]}`,
		"invalid event: time", `line 2: time: is "yesterday", want an RFC 3339 time such as 2026-11-23T10:00:00Z`)
	// Missing ids.
	f(`{"kind":"item","title":"Mug","price":3}`, "invalid item: id", "line 2: id: is required")
	f(`{"kind":"event","type":"view_item","time":"2026-11-01T10:00:00Z","session_id":"s","items":[{"item_id":"a"}]}`,
		"invalid event: event_id", "line 2: event_id: is required")
	f(`{"kind":"event","event_id":"e2","type":"view_item","time":"2026-11-01T10:00:00Z","items":[{"item_id":"a"}]}`,
		"invalid event: session_id", "line 2: session_id: session_id or user_id is required (or \"consent\": false)")
	f(`{"kind":"event","event_id":"e2","type":"view_item","time":"2026-11-01T10:00:00Z","session_id":"s","items":[{"item_id":"a"},{"quantity":1}]}`,
		"invalid event: items[].item_id", "line 2: items[1].item_id: is required")
	// Values out of range.
	f(`{"kind":"item","id":"SKU-2","title":"Mug","price":-3}`, "invalid item: price", "line 2: price: is negative (-3)")
	f(`{"kind":"event","event_id":"e2","type":"purchase","time":"2026-11-01T10:00:00Z","session_id":"s","items":[{"item_id":"a","quantity":1000000}]}`,
		"invalid event: items[].quantity", "line 2: items[0].quantity: is 1000000, want 0..100000")
	f(`{"kind":"item","id":"SKU-2","title":"`+strings.Repeat("x", 600)+`"}`, "invalid item: title", "line 2: title: is 600 bytes long, the limit is 512")
	f(`{"kind":"item","id":"SKU-2","title":"Mug","attributes":{"size":"`+strings.Repeat("x", 300)+`"}}`,
		"invalid item: attributes", "line 2: attributes.size: is 300 bytes long, the limit is 256")
}

func TestImportJSONLIgnoresBlankLinesButCountsThemInLineNumbers(t *testing.T) {
	in := "\uFEFF\n" + goodItem + "\r\n   \n\t\n" + `{"kind":"item","id":"SKU-2","title":"Mug","price":-3}` + "\n\n" + goodEvent // no final newline
	s := newTestSink(t)
	r := importJSONL(t, s, in, Options{})
	if r.LinesRead != 3 || r.ItemsImported != 1 || r.EventsImported != 1 {
		t.Errorf("report:\n%s", r.Summary())
	}
	if len(r.Errors) != 1 || r.Errors[0].Line != 5 {
		t.Errorf("errors %v, want one on line 5", r.Errors)
	}
}

func TestImportJSONLReportsErrorsInLineOrderUpToMaxErrors(t *testing.T) {
	var in strings.Builder
	for range 10 {
		in.WriteString(goodItem + "\n{bad\n")
	}
	r := importJSONL(t, newTestSink(t), in.String(), Options{MaxErrors: 3})
	var lines []int
	for _, e := range r.Errors {
		lines = append(lines, e.Line)
	}
	if !reflect.DeepEqual(lines, []int{2, 4, 6}) || r.ErrorCount != 10 || r.Skipped["malformed json"] != 10 {
		t.Errorf("error lines %v, count %d, skipped %v; want [2 4 6], 10, 10", lines, r.ErrorCount, r.Skipped)
	}
	if s := r.Summary(); !strings.Contains(s, "errors: 10 (first 3)") || !strings.Contains(s, "line 6: ") {
		t.Errorf("summary does not show the errors:\n%s", s)
	}
}

func TestImportJSONLSkipsLinesOverOneMiB(t *testing.T) {
	// Padding inside the object keeps the line valid JSON at any length.
	line := func(n int) string {
		head, tail := `{"kind":"item","id":"big","title":"Big"`, `}`
		return head + strings.Repeat(" ", n-len(head)-len(tail)) + tail
	}
	in := goodItem + "\n" + line(MaxLineLen) + "\r\n" + line(MaxLineLen+1) + "\n" + line(3*MaxLineLen) + "\n" + goodEvent + "\n"
	s := newTestSink(t)
	r := importJSONL(t, s, in, Options{})
	if r.LinesRead != 5 || r.ItemsImported != 2 || r.EventsImported != 1 || r.Skipped["line too long"] != 2 {
		t.Errorf("report:\n%s", r.Summary())
	}
	want := []LineError{
		{3, "", "is 1048577 bytes long, the limit is 1048576 (1 MiB)"},
		{4, "", "is 3145728 bytes long, the limit is 1048576 (1 MiB)"},
	}
	if !reflect.DeepEqual(r.Errors, want) {
		t.Errorf("errors %v, want %v", r.Errors, want)
	}
}

func TestImportJSONLKeepsErrorsShort(t *testing.T) {
	in := `{"kind":"item","` + strings.Repeat("f", 100000) + `":1}` + "\n" +
		`{"kind":"item","id":"a","title":"A","price":1` + strings.Repeat("0", 100000) + `}`
	r := importJSONL(t, newTestSink(t), in, Options{})
	if r.ErrorCount != 2 {
		t.Fatalf("errors %d, want 2", r.ErrorCount)
	}
	for _, e := range r.Errors {
		if len(e.Field) > 128 || len(e.Reason) > 512 {
			t.Errorf("error of %d + %d bytes: %.80s...", len(e.Field), len(e.Reason), e.Error())
		}
	}
}

func TestImportJSONLTwiceInsertsNoEventTwice(t *testing.T) {
	in := goodItem + "\n" + goodEvent + "\n" + strings.Replace(goodEvent, `"e1"`, `"e2"`, 1) + "\n"
	s := newTestSink(t)
	first := importJSONL(t, s, in, Options{})
	second := importJSONL(t, s, in, Options{})
	if first.EventsImported != 2 || first.EventsDuplicate != 0 {
		t.Errorf("first run: %d new, %d duplicate; want 2, 0", first.EventsImported, first.EventsDuplicate)
	}
	if second.EventsImported != 0 || second.EventsDuplicate != 2 || second.ItemsImported != 1 {
		t.Errorf("second run: %d new, %d duplicate, %d items; want 0, 2, 1", second.EventsImported, second.EventsDuplicate, second.ItemsImported)
	}
	if len(s.events) != 2 || len(s.items) != 1 {
		t.Errorf("sink has %d events, %d items; want 2, 1", len(s.events), len(s.items))
	}
}

func TestImportJSONLSendsItemsBeforeTheEventsThatFollowThem(t *testing.T) {
	var in strings.Builder
	for i := range 7 {
		id := string(rune('a' + i))
		in.WriteString(`{"kind":"item","id":"` + id + `","title":"T"}` + "\n")
		in.WriteString(`{"kind":"event","event_id":"` + id + `","type":"view_item","time":"2026-11-01T10:00:00Z","session_id":"s","items":[{"item_id":"` + id + `"}]}` + "\n")
	}
	s := newTestSink(t)
	s.batchSize, s.checkRefs = 3, true
	progress := 0
	r := importJSONL(t, s, in.String(), Options{BatchSize: 3, Progress: func(*Report) { progress++ }})
	want := []string{"items:3", "events:3", "items:3", "events:3", "items:1", "events:1"}
	if !reflect.DeepEqual(s.calls, want) {
		t.Errorf("sink calls %v, want %v", s.calls, want)
	}
	if progress != len(want) || r.ItemsImported != 7 || r.EventsImported != 7 {
		t.Errorf("progress called %d times, report:\n%s", progress, r.Summary())
	}
}

func TestImportJSONLReturnsSinkErrorsWithTheReportSoFar(t *testing.T) {
	s := newTestSink(t)
	s.failAt = 2
	r, err := ImportJSONL(context.Background(), strings.NewReader(goodItem+"\n"+goodEvent+"\n"), s, Options{})
	if !errors.Is(err, errSink) {
		t.Fatalf("err = %v, want the sink's error", err)
	}
	if r == nil || r.ItemsImported != 1 || r.EventsImported != 0 {
		t.Errorf("report = %+v, want the item counted and no event", r)
	}
}

func TestImportJSONLReturnsReadErrors(t *testing.T) {
	errRead := errors.New("disk on fire")
	in := io.MultiReader(strings.NewReader(goodItem+"\n"), iotest.ErrReader(errRead))
	r, err := ImportJSONL(context.Background(), in, newTestSink(t), Options{})
	if !errors.Is(err, errRead) || r.LinesRead != 1 {
		t.Errorf("err = %v, lines read %d; want the read error after 1 line", err, r.LinesRead)
	}
}

func TestImportJSONLStopsWhenTheContextIsCancelled(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	s := newTestSink(t)
	_, err := ImportJSONL(ctx, strings.NewReader(goodItem+"\n"), s, Options{})
	if !errors.Is(err, context.Canceled) || len(s.calls) != 0 {
		t.Errorf("err = %v, sink calls %v; want context.Canceled and none", err, s.calls)
	}
}

func TestLineErrorNamesLineAndField(t *testing.T) {
	f := func(e LineError, want string) {
		t.Helper()
		if got := e.Error(); got != want {
			t.Errorf("got %q, want %q", got, want)
		}
	}
	f(LineError{12, "price", "is negative (-3)"}, "line 12: price: is negative (-3)")
	f(LineError{3, "", "is not a JSON object"}, "line 3: is not a JSON object")
}

func TestFieldClassDropsIndicesAndKeys(t *testing.T) {
	f := func(in, want string) {
		t.Helper()
		if got := fieldClass(in); got != want {
			t.Errorf("fieldClass(%q) = %q, want %q", in, got, want)
		}
	}
	f("price", "price")
	f("items[12].quantity", "items[].quantity")
	f("category[0]", "category[]")
	f("attributes.colour", "attributes")
	f("attributes key", "attributes")
	f("odd]name[", "odd]name[")
}

func TestSummaryListsSkipReasonsMostFrequentFirst(t *testing.T) {
	r := &Report{Source: "x.jsonl", LinesRead: 10, LinesUsed: 4, ItemsImported: 1, EventsImported: 3,
		Skipped: map[string]int{"b reason": 1, "a reason": 1, "most frequent": 4}}
	s := r.Summary()
	i, j, k := strings.Index(s, "most frequent"), strings.Index(s, "a reason"), strings.Index(s, "b reason")
	if i < 0 || !(i < j && j < k) {
		t.Errorf("reasons not sorted by count then name:\n%s", s)
	}
	for _, want := range []string{"x.jsonl", "10 lines read", "1 items", "3 events new", "skipped: 6"} {
		if !strings.Contains(s, want) {
			t.Errorf("summary lacks %q:\n%s", want, s)
		}
	}
}

func FuzzImportJSONL(f *testing.F) {
	f.Add([]byte(goodItem + "\n" + goodEvent + "\n"))
	f.Add([]byte("{bad\n\n" + `{"kind":"event","type":"search","time":"2026-11-01T10:00:00Z","user_id":"u","event_id":"x","query":"mug"}`))
	f.Add([]byte(`{"kind":"item","id":"a","title":"A","attributes":{"":""},"category":[null],"created_at":"x"}`))
	f.Fuzz(func(t *testing.T, in []byte) {
		s := newTestSink(t)
		r, err := ImportJSONL(context.Background(), bytes.NewReader(in), s, Options{BatchSize: 2})
		if err != nil {
			t.Fatalf("no sink or read error, yet: %v", err)
		}
		checkReconciles(t, r)
		if r.ItemsImported+r.EventsImported+r.EventsDuplicate != r.LinesUsed {
			t.Errorf("%d lines used, %d records sent", r.LinesUsed, r.ItemsImported+r.EventsImported+r.EventsDuplicate)
		}
		for _, it := range s.items {
			if err := it.Validate(); err != nil {
				t.Errorf("imported an invalid item: %v", err)
			}
		}
		for _, e := range s.events {
			if err := e.Validate(); err != nil {
				t.Errorf("imported an invalid event: %v", err)
			}
		}
	})
}

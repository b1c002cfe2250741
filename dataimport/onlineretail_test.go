package dataimport

import (
	"bytes"
	"compress/gzip"
	"context"
	"fmt"
	"os"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/recs-server/recs/catalog"
)

// retailFixture has one row for each case the importer must handle; the
// comment after each row (stripped before use) says which.
const retailFixture = `InvoiceNo,StockCode,Description,Quantity,InvoiceDate,UnitPrice,CustomerID,Country
536365,85123A,WHITE HANGING HEART T-LIGHT HOLDER,6,2010-12-01 08:26:00,2.55,17850,United Kingdom   # line 2: sale
536365,71053,WHITE METAL LANTERN,6,2010-12-01 08:26:00,3.39,17850,United Kingdom                    # sale
536365,85123A,WHITE HANGING HEART T-LIGHT HOLDER,4,2010-12-01 08:26:00,2.55,17850,United Kingdom   # same code again: summed
536365,POST,POSTAGE,1,2010-12-01 08:26:00,18,17850,United Kingdom                                  # non-product code
536365,71053,WHITE METAL LANTERN,6,2010-12-01 08:26:00,3.39,17850,United Kingdom                    # duplicate row
536366,22633,"HAND WARMER UNION JACK, RED",6,2010-12-01 08:28:00,1.85,,United Kingdom              # guest: no CustomerID
536367,84879,ASSORTED COLOUR BIRD ORNAMENT,32,2011-06-01 08:34:00,1.69,13047.0,United Kingdom      # summer time; ".0" id
536367,22745,POPPY'S PLAYHOUSE BEDROOM,6,2011-06-01 08:34:00,0,13047.0,United Kingdom             # zero price
536368,22960,JAM MAKING SET WITH JARS,-10,2011-06-02 10:00:00,0,,United Kingdom                  # stock adjustment
C536379,85123A,WHITE HANGING HEART T-LIGHT HOLDER,-2,2011-06-03 09:41:00,2.55,17850,United Kingdom # cancellation
C536379,D,Discount,-1,2011-06-03 09:41:00,27.50,17850,United Kingdom                            # non-product code
C536379,99999,NEVER SOLD,-1,2011-06-03 09:41:00,1,17850,United Kingdom                          # refund of unsold item
536370,22728,ALARM CLOCK BAKELIKE PINK,abc,2011-06-04 10:00:00,3.75,12583,France                # line 14: malformed quantity
536370,22727,ALARM CLOCK BAKELIKE RED,24,2011-06-04 10:00:00,3.75,12583                           # line 15: 7 columns
536370,22726,ALARM CLOCK BAKELIKE GREEN,24,01/06/2011 10:00,3.75,12583,France                    # line 16: malformed date
536370,22726,ALARM CLOCK BAKELIKE GREEN,24,2011-06-04 10:00:00,3.75,12583,France                 # sale
536370,22726,ALARM CLOCK BAKELIKE GREEN,12,2011-06-04 10:00:00,4.05,12583,France                 # same code, other price
536370,85123a,WHITE HANGING HEART T-LIGHT HOLDER,1,2011-06-04 10:00:00,2.55,12583,France         # lower-case code
`

// csvRows strips the comments of a fixture.
func csvRows(s string) string {
	var b strings.Builder
	for line := range strings.Lines(s) {
		line, _, _ = strings.Cut(line, " #")
		b.WriteString(strings.TrimRight(line, " \n") + "\n")
	}
	return b.String()
}

func importRetail(t testing.TB, s *testSink, in []byte, opt Options) *Report {
	t.Helper()
	r, err := ImportOnlineRetail(context.Background(), bytes.NewReader(in), s, opt)
	if err != nil {
		t.Fatalf("ImportOnlineRetail: %v", err)
	}
	checkReconciles(t, r)
	return r
}

func TestImportOnlineRetailAccountsForEveryRow(t *testing.T) {
	s := newTestSink(t)
	s.checkRefs = true
	r := importRetail(t, s, []byte(csvRows(retailFixture)), Options{})
	if r.LinesRead != 18 || r.LinesUsed != 9 {
		t.Errorf("read %d, used %d; want 18, 9", r.LinesRead, r.LinesUsed)
	}
	wantSkipped := map[string]int{
		"non-product code": 2, "duplicate row": 1, "price not positive": 1, "stock adjustment": 1,
		"refund of unsold item": 1, "malformed row": 3,
	}
	if !reflect.DeepEqual(r.Skipped, wantSkipped) {
		t.Errorf("Skipped = %v, want %v", r.Skipped, wantSkipped)
	}
	wantErrs := []string{
		`line 14: Quantity: is not an integer ("abc")`,
		`line 15: has 7 columns, want 8`,
		`line 16: InvoiceDate: is not a YYYY-MM-DD HH:MM:SS time ("01/06/2011 10:00")`,
	}
	var errs []string
	for _, e := range r.Errors {
		errs = append(errs, e.Error())
	}
	if !reflect.DeepEqual(errs, wantErrs) {
		t.Errorf("errors\n got %q\nwant %q", errs, wantErrs)
	}
	if want := []string{"category", "cost", "stock"}; !reflect.DeepEqual(r.Synthetic, want) {
		t.Errorf("Synthetic = %v, want %v", r.Synthetic, want)
	}
	if r.ItemsImported != 5 || r.EventsImported != 5 {
		t.Errorf("%d items, %d events; want 5, 5", r.ItemsImported, r.EventsImported)
	}
	t.Log("\n" + r.Summary())
}

func TestImportOnlineRetailMapsInvoicesToEventsInTimeOrder(t *testing.T) {
	s := newTestSink(t)
	importRetail(t, s, []byte(csvRows(retailFixture)), Options{})
	ev := func(inv, user, tm string, typ catalog.EventType, items ...catalog.EventItem) catalog.Event {
		return catalog.Event{ID: "or-" + inv, Type: typ, Time: at(t, tm), SessionID: "or-inv-" + inv, UserID: user,
			Items: items, OrderID: inv, Channel: "web"}
	}
	li := func(id string, q int, p float64) catalog.EventItem {
		return catalog.EventItem{ItemID: id, Quantity: q, Price: p}
	}
	want := []catalog.Event{
		ev("536365", "17850", "2010-12-01 08:26:00", catalog.EventPurchase, li("85123A", 10, 2.55), li("71053", 6, 3.39)),
		ev("536366", "", "2010-12-01 08:28:00", catalog.EventPurchase, li("22633", 6, 1.85)),
		// London is on summer time (UTC+1) in June.
		ev("536367", "13047", "2011-06-01 07:34:00", catalog.EventPurchase, li("84879", 32, 1.69)),
		ev("C536379", "17850", "2011-06-03 08:41:00", catalog.EventRefund, li("85123A", 2, 2.55)),
		// (24 x 3.75 + 12 x 4.05) / 36: the mean keeps the revenue.
		ev("536370", "12583", "2011-06-04 09:00:00", catalog.EventPurchase, li("22726", 36, 3.85), li("85123A", 1, 2.55)),
	}
	if !reflect.DeepEqual(s.events, want) {
		t.Errorf("events\n got %+v\nwant %+v", s.events, want)
	}
}

func TestImportOnlineRetailBuildsOneItemPerSoldCode(t *testing.T) {
	s := newTestSink(t)
	importRetail(t, s, []byte(csvRows(retailFixture)), Options{})
	if want := []string{"22633", "22726", "71053", "84879", "85123A"}; !reflect.DeepEqual(s.itemOrder, want) {
		t.Fatalf("items %v, want %v", s.itemOrder, want)
	}
	it := s.items["85123A"]
	if it.Title != "WHITE HANGING HEART T-LIGHT HOLDER" || it.Price != 2.55 || it.Currency != "GBP" ||
		!reflect.DeepEqual(it.Category, []string{"HOLDER"}) || !it.Active ||
		!reflect.DeepEqual(it.Synthetic, []string{"category", "cost", "stock"}) {
		t.Errorf("item %+v", it)
	}
	if it.Cost < 0.35*it.Price || it.Cost > 0.75*it.Price {
		t.Errorf("cost %v outside 35..75 %% of price %v", it.Cost, it.Price)
	}
	if want := at(t, "2010-12-01 08:26:00"); !it.CreatedAt.Equal(want) {
		t.Errorf("CreatedAt %v, want the first sale %v", it.CreatedAt, want)
	}
	if want := at(t, "2011-06-04 09:00:00"); !it.UpdatedAt.Equal(want) {
		t.Errorf("UpdatedAt %v, want the last sale %v", it.UpdatedAt, want)
	}
}

func at(t testing.TB, s string) time.Time {
	t.Helper()
	tm, err := time.Parse(time.DateTime, s)
	if err != nil {
		t.Fatal(err)
	}
	return tm
}

func TestImportOnlineRetailTakesTheMostFrequentTitleAndPrice(t *testing.T) {
	in := `InvoiceNo,StockCode,Description,Quantity,InvoiceDate,UnitPrice,CustomerID,Country
1,11111,ZEBRA MUG,1,2011-01-01 10:00:00,2,,UK
2,11111,  APPLE MUG ,1,2011-01-01 10:00:00,1,,UK
3,11111,,1,2011-01-01 10:00:00,2,,UK
4,11111,,1,2011-01-01 10:00:00,1,,UK
5,22222,,1,2011-01-01 10:00:00,1,,UK
`
	s := newTestSink(t)
	importRetail(t, s, []byte(in), Options{})
	// Ties go to the smallest title and the lower price.
	if it := s.items["11111"]; it.Title != "APPLE MUG" || it.Price != 1 {
		t.Errorf("title %q price %v, want APPLE MUG, 1", it.Title, it.Price)
	}
	if it := s.items["22222"]; it.Title != "22222" || it.Category[0] != "OTHER" {
		t.Errorf("without descriptions: title %q category %v, want the code and OTHER", it.Title, it.Category)
	}
}

func TestImportOnlineRetailSplitsInvoicesOverTheEventItemLimit(t *testing.T) {
	var in strings.Builder
	in.WriteString("InvoiceNo,StockCode,Description,Quantity,InvoiceDate,UnitPrice,CustomerID,Country\n")
	for i := range 450 {
		fmt.Fprintf(&in, "581219,%d,THING %d,1,2011-10-01 10:00:00,1.5,,UK\n", 10000+i, i)
	}
	s := newTestSink(t)
	r := importRetail(t, s, []byte(in.String()), Options{BatchSize: 100})
	var got []string
	for _, e := range s.events {
		got = append(got, fmt.Sprintf("%s:%s:%d", e.ID, e.OrderID, len(e.Items)))
	}
	if want := []string{"or-581219:581219:200", "or-581219-2:581219:200", "or-581219-3:581219:50"}; !reflect.DeepEqual(got, want) {
		t.Errorf("events %v, want %v", got, want)
	}
	if r.LinesUsed != 450 || len(r.Notes) == 0 || !strings.Contains(r.Notes[0], "1 invoices with more than 200 products were split into 3 events") {
		t.Errorf("used %d, notes %q", r.LinesUsed, r.Notes)
	}
}

func TestImportOnlineRetailReadsGzipTransparently(t *testing.T) {
	plain := []byte(csvRows(retailFixture))
	var zipped bytes.Buffer
	zw := gzip.NewWriter(&zipped)
	zw.Write(plain)
	zw.Close()
	s1, s2 := newTestSink(t), newTestSink(t)
	r1 := importRetail(t, s1, plain, Options{})
	r2 := importRetail(t, s2, zipped.Bytes(), Options{})
	r1.Elapsed, r2.Elapsed = 0, 0
	if !reflect.DeepEqual(r1, r2) || !reflect.DeepEqual(s1.events, s2.events) || !reflect.DeepEqual(s1.items, s2.items) {
		t.Errorf("gzip import differs:\n%s\n%s", r1.Summary(), r2.Summary())
	}
}

func TestImportOnlineRetailTwiceInsertsNoEventTwice(t *testing.T) {
	in := []byte(csvRows(retailFixture))
	s := newTestSink(t)
	importRetail(t, s, in, Options{})
	r := importRetail(t, s, in, Options{})
	if r.EventsImported != 0 || r.EventsDuplicate != 5 || len(s.events) != 5 {
		t.Errorf("second run: %d new, %d duplicate, sink has %d; want 0, 5, 5", r.EventsImported, r.EventsDuplicate, len(s.events))
	}
}

func TestImportOnlineRetailFindsColumnsByName(t *testing.T) {
	in := "\uFEFFcountry,customerid,unitprice,invoicedate,quantity,description,stockcode,invoiceno\n" +
		"UK,12583,3.75,2011-06-04 10:00:00,2,ALARM CLOCK,22726,536370\n"
	s := newTestSink(t)
	importRetail(t, s, []byte(in), Options{})
	if e, ok := s.event("or-536370"); !ok || e.UserID != "12583" || e.Items[0] != (catalog.EventItem{ItemID: "22726", Quantity: 2, Price: 3.75}) {
		t.Errorf("events %+v", s.events)
	}
}

func TestImportOnlineRetailRefusesAnotherFormat(t *testing.T) {
	_, err := ImportOnlineRetail(context.Background(), strings.NewReader("id,title\n1,mug\n"), newTestSink(t), Options{})
	if err == nil || !strings.Contains(err.Error(), "InvoiceNo") {
		t.Errorf("err = %v, want one naming the missing InvoiceNo column", err)
	}
}

func TestImportOnlineRetailOfNothingIsEmpty(t *testing.T) {
	r := importRetail(t, newTestSink(t), nil, Options{})
	if r.LinesRead != 0 || r.ItemsImported != 0 {
		t.Errorf("report:\n%s", r.Summary())
	}
}

func TestIsNonProduct(t *testing.T) {
	f := func(code string, want bool) {
		t.Helper()
		if got := isNonProduct(code); got != want {
			t.Errorf("isNonProduct(%q) = %v, want %v", code, got, want)
		}
	}
	for _, c := range []string{"POST", "DOT", "M", "C2", "D", "S", "BANK CHARGES", "AMAZONFEE", "CRUK", "PADS", "B", "GIFT_0001_20", "NEWFEE"} {
		f(c, true)
	}
	for _, c := range []string{"85123A", "22423", "15056BL", "DCGS0003", "DCGSSGIRL"} {
		f(c, false)
	}
}

func TestCategoryOfTakesTheLastNoun(t *testing.T) {
	f := func(title, want string) {
		t.Helper()
		if got := categoryOf(title); got != want {
			t.Errorf("categoryOf(%q) = %q, want %q", title, got, want)
		}
	}
	f("WHITE HANGING HEART T-LIGHT HOLDER", "HOLDER")
	f("JUMBO BAG RED RETROSPOT", "BAG")
	f("FANCY FONT BIRTHDAY CARD,", "CARD")
	f("SET/6 PURPLE BUTTERFLY T-LIGHTS", "T-LIGHTS")
	f("CUSHION COVER 45x45cm", "COVER")
	f("Dotcomgiftshop mug", "MUG")
	f("123 456", "OTHER")
	f("", "OTHER")
}

func TestSynthesizeIsDeterministicAndInRange(t *testing.T) {
	zero := 0
	for i := range 10000 {
		code := fmt.Sprint(20000 + i)
		share, stock := synthesize(code)
		if s2, st2 := synthesize(code); s2 != share || st2 != stock {
			t.Fatalf("synthesize(%s) changed between calls", code)
		}
		if share < 0.35 || share >= 0.75 || stock < 0 || stock > 500 {
			t.Fatalf("synthesize(%s) = %v, %d", code, share, stock)
		}
		if stock == 0 {
			zero++
		}
	}
	if zero < 400 || zero > 600 {
		t.Errorf("%d of 10000 items out of stock, want about 5 %%", zero)
	}
}

const realFile = "../../shared/data/online-retail/online_retail_2010-12_to_2011-10.csv.gz"

// openRealFile opens the shared Online Retail file; it skips the test when
// the file is absent unless RECS_TEST_REQUIRE_DATA=1 (as in CI) makes that
// a failure.
func openRealFile(t testing.TB) *os.File {
	t.Helper()
	f, err := os.Open(realFile)
	if err != nil {
		if os.Getenv("RECS_TEST_REQUIRE_DATA") == "1" {
			t.Fatalf("shared data required: %v", err)
		}
		t.Skipf("shared data absent: %v", err)
	}
	t.Cleanup(func() { f.Close() })
	return f
}

func TestImportOnlineRetailRealFile(t *testing.T) {
	if testing.Short() {
		t.Skip("reads 430k rows")
	}
	f := openRealFile(t)
	s := newTestSink(t)
	s.checkRefs, s.batchSize = true, defaultBatchSize
	r, err := ImportOnlineRetail(context.Background(), f, s, Options{Source: realFile})
	if err != nil {
		t.Fatal(err)
	}
	t.Log("\n" + r.Summary())
	checkReconciles(t, r)
	types := map[catalog.EventType]int{}
	for _, e := range s.events {
		types[e.Type]++
	}
	t.Logf("%d purchase events, %d refund events", types[catalog.EventPurchase], types[catalog.EventRefund])
	if r.LinesRead != 431673 {
		t.Errorf("read %d rows, want 431673", r.LinesRead)
	}
	if n := len(s.items); n < 3000 || n > 5000 {
		t.Errorf("%d items, want 3000..5000", n)
	}
	if n := types[catalog.EventPurchase]; n <= 15000 {
		t.Errorf("%d purchase events, want > 15000", n)
	}
	if n := types[catalog.EventRefund]; n <= 2000 {
		t.Errorf("%d refund events, want > 2000", n)
	}
	if n := r.Skipped["duplicate row"]; n < 2000 || n > 6000 {
		t.Errorf("%d duplicate rows, want about 1 %%", n)
	}
	if r.ErrorCount != 0 {
		t.Errorf("the shared file has no malformed rows, got %v", r.Errors)
	}
	outOfStock := 0
	for _, it := range s.items {
		if err := it.Validate(); err != nil {
			t.Errorf("item %s: %v", it.ID, err)
		}
		if it.Stock == 0 {
			outOfStock++
		}
	}
	if share := float64(outOfStock) / float64(len(s.items)); share < 0.02 || share > 0.09 {
		t.Errorf("%.1f %% of items out of stock, want about 5 %%", 100*share)
	}
}

func FuzzImportOnlineRetail(f *testing.F) {
	f.Add([]byte(csvRows(retailFixture)[len("InvoiceNo,StockCode,Description,Quantity,InvoiceDate,UnitPrice,CustomerID,Country\n"):]))
	f.Add([]byte("1,\"A\nB\",x,1,2011-01-01 10:00:00,1,,UK\n"))
	f.Add([]byte("C1,1\x00,x,-1,2011-01-01 10:00,1e9,1.0,UK\n"))
	f.Fuzz(func(t *testing.T, rows []byte) {
		in := append([]byte("InvoiceNo,StockCode,Description,Quantity,InvoiceDate,UnitPrice,CustomerID,Country\n"), rows...)
		s := newTestSink(t)
		s.checkRefs = true
		r, err := ImportOnlineRetail(context.Background(), bytes.NewReader(in), s, Options{BatchSize: 3})
		if err != nil {
			t.Fatalf("no sink or read error, yet: %v", err)
		}
		checkReconciles(t, r)
		for _, e := range s.events {
			if err := e.Validate(); err != nil {
				t.Errorf("imported an invalid event: %v", err)
			}
		}
	})
}

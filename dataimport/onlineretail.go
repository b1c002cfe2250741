package dataimport

import (
	"bufio"
	"cmp"
	"compress/gzip"
	"context"
	"encoding/csv"
	"errors"
	"fmt"
	"hash/maphash"
	"io"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"
	_ "time/tzdata" // invoice times are UK local time: Europe/London must load on every machine
	"unicode"
	"unicode/utf8"

	"github.com/recs-server/recs/catalog"
)

// Skip reasons of the Online Retail importer.
const (
	reasonMalformedRow     = "malformed row"
	reasonDuplicateRow     = "duplicate row"
	reasonNonProduct       = "non-product code"
	reasonStockAdjustment  = "stock adjustment"
	reasonZeroQuantity     = "zero quantity"
	reasonPriceNotPositive = "price not positive"
	reasonQuantityRange    = "quantity out of range"
	reasonPriceRange       = "price out of range"
	reasonPositiveCancel   = "positive quantity on cancellation"
	reasonUnsoldRefund     = "refund of unsold item"
	reasonInvalidEvent     = "invalid event"
)

// retailSynthetic names the item fields the data set lacks and the
// importer makes up.
func retailSynthetic() []string { return []string{"category", "cost", "stock"} }

// The columns the importer reads, found by name in the header.
const (
	colInvoice = iota
	colCode
	colDescription
	colQuantity
	colDate
	colPrice
	colCustomer
	numCols
)

var columnNames = [numCols]string{"InvoiceNo", "StockCode", "Description", "Quantity", "InvoiceDate", "UnitPrice", "CustomerID"}

// maxInvoiceLen keeps "or-inv-" + InvoiceNo + a split suffix within
// catalog.MaxIDLen.
const maxInvoiceLen = 64

// ImportOnlineRetail reads the UCI Online Retail CSV (columns InvoiceNo,
// StockCode, Description, Quantity, InvoiceDate, UnitPrice, CustomerID,
// Country; gzip-compressed input is detected and decompressed) and imports
// it as catalog items, purchase events and refund events.
//
// The mapping:
//   - an invoice is an order: one purchase event "or-<InvoiceNo>" with order
//     id InvoiceNo, session id "or-inv-<InvoiceNo>" (a basket is a session),
//     user id CustomerID when present (guests have none), channel "web",
//     time InvoiceDate read as Europe/London time. Repeated lines of one
//     code are summed; the price of a line is its unit price (the
//     quantity-weighted mean when the repeats differ). An invoice with more
//     than catalog.MaxEventItems codes becomes several events
//     "or-<InvoiceNo>", "or-<InvoiceNo>-2", ... sharing the order id;
//   - a cancellation (InvoiceNo "C...") is one refund event with positive
//     quantities; refunds of codes never sold in the file are skipped;
//   - skipped rows: negative quantities on sales (stock adjustments), unit
//     prices <= 0, non-product codes (postage, fees, discounts, manual
//     entries, gift vouchers), exact duplicate rows and malformed rows;
//   - one item per product code with at least one valid sale: stock codes
//     are upper-cased (the data writes some suffixes in both cases), the
//     title is the most frequent description, the price the most frequent
//     unit price (ties: smallest), currency GBP, created and updated at the
//     first and last sale. Category, cost and stock are synthetic, see
//     synthesize and categoryOf.
//
// The whole file is read before anything is sent, so that items are
// complete before the events that refer to them, and events go out in time
// order.
func ImportOnlineRetail(ctx context.Context, r io.Reader, sink Sink, opt Options) (*Report, error) {
	b := newBatcher(sink, opt, "online-retail")
	br := bufio.NewReaderSize(r, 64<<10)
	var in io.Reader = br
	if magic, _ := br.Peek(2); len(magic) == 2 && magic[0] == 0x1f && magic[1] == 0x8b {
		zr, err := gzip.NewReader(br)
		if err != nil {
			return b.finish(ctx, fmt.Errorf("dataimport: online retail: %w", err))
		}
		defer zr.Close()
		in = zr
	}
	p := &retailParser{
		b:        b,
		codes:    map[string]int32{},
		invoices: map[string]int32{},
		lineOf:   map[uint64]int32{},
		seen:     map[[2]uint64]struct{}{},
	}
	loc, err := time.LoadLocation("Europe/London")
	if err != nil {
		loc = time.UTC
		b.rep.Notes = append(b.rep.Notes, "no time zone data for Europe/London: invoice times read as UTC")
	}
	p.loc = loc
	if err := p.read(ctx, in); err != nil {
		return b.finish(ctx, err)
	}
	return b.finish(ctx, p.emit(ctx))
}

// retailCode is what the file says about one product code.
type retailCode struct {
	id          string
	titles      map[string]int // description -> valid sale rows
	prices      map[float64]int
	first, last time.Time
	sold        bool
}

// retailInvoice is one order or cancellation, summed per code.
type retailInvoice struct {
	no        string
	user      string
	time      time.Time
	refund    bool
	firstLine int
	lines     []retailLine
}

type retailLine struct {
	code    int32
	rows    int32 // CSV rows summed into this line
	qty     int
	price   float64 // unit price of the first row
	revenue float64
	mixed   bool // rows at different unit prices
}

type retailParser struct {
	b        *batcher
	loc      *time.Location
	col      [numCols]int
	width    int // columns per row, as in the header
	codes    map[string]int32
	codeList []retailCode
	invoices map[string]int32
	invList  []retailInvoice
	lineOf   map[uint64]int32 // invoice<<32 | code -> index in the invoice's lines
	// seen holds a 128-bit hash of every row: exact duplicates are about 1 %
	// of the data, and hashes cost far less memory than the rows.
	seen           map[[2]uint64]struct{}
	h1, h2         maphash.Hash // zero values: two different random seeds
	lastDate       string
	lastTime       time.Time
	splitInvoices  int
	splitEventsOut int
}

func (p *retailParser) read(ctx context.Context, in io.Reader) error {
	cr := csv.NewReader(in)
	cr.FieldsPerRecord = -1 // a wrong column count is a bad row, not the end of the import
	cr.ReuseRecord = true
	cr.LazyQuotes = true // exports write 7" for inches unquoted
	header, err := cr.Read()
	if err == io.EOF {
		return nil
	}
	if err != nil {
		return fmt.Errorf("dataimport: online retail header: %w", err)
	}
	p.width = len(header)
	for i := range p.col {
		p.col[i] = -1
	}
	for j, h := range header {
		h = strings.TrimSpace(strings.TrimPrefix(h, "\uFEFF"))
		for i, name := range columnNames {
			if strings.EqualFold(h, name) && p.col[i] < 0 {
				p.col[i] = j
			}
		}
	}
	for i, j := range p.col {
		if j < 0 {
			return fmt.Errorf("dataimport: not an Online Retail CSV: the header has no %s column", columnNames[i])
		}
	}
	for n := 0; ; n++ {
		if n%4096 == 0 {
			if err := ctx.Err(); err != nil {
				return fmt.Errorf("dataimport: %w", err)
			}
		}
		rec, err := cr.Read()
		if err == io.EOF {
			return nil
		}
		if err != nil {
			var pe *csv.ParseError
			if !errors.As(err, &pe) {
				return fmt.Errorf("dataimport: read online retail csv: %w", err)
			}
			p.b.rep.LinesRead++
			p.b.fail(reasonMalformedRow, LineError{pe.StartLine, "", fmt.Sprintf("%v (line %d, column %d)", pe.Err, pe.Line, pe.Column)})
			continue
		}
		line, _ := cr.FieldPos(0)
		p.row(line, rec)
	}
}

// row classifies one CSV row: it is added to an invoice or counted under
// exactly one skip reason.
func (p *retailParser) row(line int, rec []string) {
	b := p.b
	b.rep.LinesRead++
	if len(rec) != p.width {
		b.fail(reasonMalformedRow, LineError{line, "", fmt.Sprintf("has %d columns, want %d", len(rec), p.width)})
		return
	}
	malformed := func(col int, format string, args ...any) {
		b.fail(reasonMalformedRow, LineError{line, columnNames[col], fmt.Sprintf(format, args...)})
	}
	inv := strings.TrimSpace(rec[p.col[colInvoice]])
	if err := catalog.CheckID("InvoiceNo", inv); err != nil {
		malformed(colInvoice, "%s", fieldReason(err))
		return
	}
	if len(inv) > maxInvoiceLen {
		malformed(colInvoice, "is %d bytes long, the limit is %d", len(inv), maxInvoiceLen)
		return
	}
	// Upper case: the data writes some suffixes both ways (85123a, 85123A)
	// for the same product.
	code := strings.ToUpper(strings.TrimSpace(rec[p.col[colCode]]))
	if err := catalog.CheckID("StockCode", code); err != nil {
		malformed(colCode, "%s", fieldReason(err))
		return
	}
	qs := strings.TrimSpace(rec[p.col[colQuantity]])
	qty, err := strconv.Atoi(qs)
	if err != nil {
		malformed(colQuantity, "is not an integer (%s)", quote(qs))
		return
	}
	ps := strings.TrimSpace(rec[p.col[colPrice]])
	price, err := strconv.ParseFloat(ps, 64)
	if err != nil || math.IsNaN(price) || math.IsInf(price, 0) {
		malformed(colPrice, "is not a number (%s)", quote(ps))
		return
	}
	t, err := p.date(rec[p.col[colDate]])
	if err != nil {
		malformed(colDate, "%v", err)
		return
	}
	user := strings.TrimSuffix(strings.TrimSpace(rec[p.col[colCustomer]]), ".0")
	if user != "" {
		if err := catalog.CheckID("CustomerID", user); err != nil {
			malformed(colCustomer, "%s", fieldReason(err))
			return
		}
	}
	if p.duplicate(rec) {
		b.skip(reasonDuplicateRow, 1)
		return
	}
	if isNonProduct(code) {
		b.skip(reasonNonProduct, 1)
		return
	}
	refund := strings.HasPrefix(inv, "C")
	switch {
	case refund && qty > 0:
		b.skip(reasonPositiveCancel, 1)
		return
	case !refund && qty < 0:
		b.skip(reasonStockAdjustment, 1)
		return
	case qty == 0:
		b.skip(reasonZeroQuantity, 1)
		return
	case price <= 0:
		b.skip(reasonPriceNotPositive, 1)
		return
	case qty > catalog.MaxQuantity || qty < -catalog.MaxQuantity:
		b.fail(reasonQuantityRange, LineError{line, columnNames[colQuantity], fmt.Sprintf("is %d, the limit is %d", qty, catalog.MaxQuantity)})
		return
	case price > catalog.MaxPrice:
		b.fail(reasonPriceRange, LineError{line, columnNames[colPrice], fmt.Sprintf("is %g, the limit is %g", price, catalog.MaxPrice)})
		return
	}
	if refund {
		qty = -qty
	}

	ci, ok := p.codes[code]
	if !ok {
		ci = int32(len(p.codeList))
		code = strings.Clone(code) // rec's strings share one allocation per row
		p.codes[code] = ci
		p.codeList = append(p.codeList, retailCode{id: code, titles: map[string]int{}, prices: map[float64]int{}})
	}
	c := &p.codeList[ci]
	if !refund {
		if !c.sold || t.Before(c.first) {
			c.first = t
		}
		if !c.sold || t.After(c.last) {
			c.last = t
		}
		c.sold = true
		c.prices[price]++
		if d := strings.TrimSpace(rec[p.col[colDescription]]); d != "" {
			if n, ok := c.titles[d]; ok {
				c.titles[d] = n + 1
			} else {
				c.titles[strings.Clone(d)] = 1
			}
		}
	}

	ii, ok := p.invoices[inv]
	if !ok {
		ii = int32(len(p.invList))
		inv = strings.Clone(inv)
		p.invoices[inv] = ii
		p.invList = append(p.invList, retailInvoice{no: inv, time: t, refund: refund, firstLine: line})
	}
	in := &p.invList[ii]
	if t.Before(in.time) {
		in.time = t
	}
	if in.user == "" && user != "" {
		in.user = strings.Clone(user)
	}
	key := uint64(ii)<<32 | uint64(ci)
	if li, ok := p.lineOf[key]; ok {
		l := &in.lines[li]
		l.rows++
		l.qty += qty
		l.revenue += float64(qty) * price
		l.mixed = l.mixed || price != l.price
		return
	}
	p.lineOf[key] = int32(len(in.lines))
	in.lines = append(in.lines, retailLine{code: ci, rows: 1, qty: qty, price: price, revenue: float64(qty) * price})
}

// fieldReason is the reason of a *catalog.FieldError, the message of any
// other error.
func fieldReason(err error) string {
	var fe *catalog.FieldError
	if errors.As(err, &fe) {
		return fe.Reason
	}
	return err.Error()
}

// date parses an InvoiceDate; consecutive rows of an invoice share it, so
// the last one is remembered.
func (p *retailParser) date(s string) (time.Time, error) {
	s = strings.TrimSpace(s)
	if s == p.lastDate && s != "" {
		return p.lastTime, nil
	}
	t, err := time.ParseInLocation(time.DateTime, s, p.loc)
	if err != nil {
		t, err = time.ParseInLocation("2006-01-02 15:04", s, p.loc)
	}
	if err != nil {
		return time.Time{}, fmt.Errorf("is not a YYYY-MM-DD HH:MM:SS time (%s)", quote(s))
	}
	if y := t.Year(); y < 1990 || y > 2200 {
		return time.Time{}, fmt.Errorf("year %d is out of range", y)
	}
	p.lastDate, p.lastTime = strings.Clone(s), t
	return t, nil
}

func (p *retailParser) duplicate(rec []string) bool {
	p.h1.Reset()
	p.h2.Reset()
	for _, f := range rec {
		p.h1.WriteString(f)
		p.h1.WriteByte(0)
		p.h2.WriteString(f)
		p.h2.WriteByte(0)
	}
	k := [2]uint64{p.h1.Sum64(), p.h2.Sum64()}
	if _, ok := p.seen[k]; ok {
		return true
	}
	p.seen[k] = struct{}{}
	return false
}

// isNonProduct reports whether an upper-cased stock code is postage, a fee,
// a discount, a manual entry or a voucher rather than goods.
func isNonProduct(code string) bool {
	switch code {
	case "POST", "DOT", "M", "C2", "D", "S", "BANK CHARGES", "AMAZONFEE", "CRUK", "PADS", "B":
		return true
	}
	if strings.HasPrefix(code, "GIFT_") { // gift_0001_20: a £20 voucher is money, not a product
		return true
	}
	// Product codes have digits (85123A, 22423); the digit-less rest of the
	// data is charges and adjustments, except the dotcomgiftshop's own
	// party bags (DCGSSBOY, DCGSSGIRL), which are goods.
	if strings.HasPrefix(code, "DCGS") {
		return false
	}
	return !strings.ContainsFunc(code, unicode.IsDigit)
}

// emit sends the items, then the events in time order (ties by invoice
// number).
func (p *retailParser) emit(ctx context.Context) error {
	b := p.b
	p.lineOf, p.seen = nil, nil // done with them: let the memory go before building events
	b.rep.Synthetic = retailSynthetic()
	order := make([]int32, 0, len(p.codeList))
	for i := range p.codeList {
		if p.codeList[i].sold {
			order = append(order, int32(i))
		}
	}
	slices.SortFunc(order, func(x, y int32) int { return strings.Compare(p.codeList[x].id, p.codeList[y].id) })
	for _, ci := range order {
		it := p.item(&p.codeList[ci])
		if err := it.Validate(); err != nil {
			// Every row was checked on the way in; an invalid item is a bug here.
			return fmt.Errorf("dataimport: online retail built an invalid item %q: %w", it.ID, err)
		}
		if err := b.addItem(ctx, it); err != nil {
			return err
		}
	}

	order = order[:0]
	for i := range p.invList {
		order = append(order, int32(i))
	}
	slices.SortFunc(order, func(x, y int32) int {
		a, c := &p.invList[x], &p.invList[y]
		return cmp.Or(a.time.Compare(c.time), strings.Compare(a.no, c.no))
	})
	for _, ii := range order {
		if err := p.emitInvoice(ctx, &p.invList[ii]); err != nil {
			return err
		}
	}
	if p.splitInvoices > 0 {
		b.rep.Notes = append(b.rep.Notes, fmt.Sprintf(
			"%d invoices with more than %d products were split into %d events (or-<InvoiceNo>, or-<InvoiceNo>-2, ...) sharing order and session id",
			p.splitInvoices, catalog.MaxEventItems, p.splitEventsOut))
	}
	b.rep.Notes = append(b.rep.Notes,
		"category is the last noun-like word of the description; cost = price x (0.35 + 0.4u) and stock (0 for about 5 % of items, else 1..500) "+
			"come from seeded FNV-1a hashes of the stock code: they are not in the data")
	return nil
}

func (p *retailParser) emitInvoice(ctx context.Context, in *retailInvoice) error {
	b := p.b
	items := make([]catalog.EventItem, 0, len(in.lines))
	rows := make([]int32, 0, len(in.lines))
	for i := range in.lines {
		l := &in.lines[i]
		c := &p.codeList[l.code]
		if !c.sold {
			// A refund of something the file never sold refers to no item.
			b.skip(reasonUnsoldRefund, int(l.rows))
			continue
		}
		if l.qty > catalog.MaxQuantity {
			b.fail(reasonQuantityRange, LineError{in.firstLine, columnNames[colQuantity], fmt.Sprintf(
				"invoice %s sums %d of %s, the limit is %d", in.no, l.qty, c.id, catalog.MaxQuantity)})
			b.skip(reasonQuantityRange, int(l.rows)-1)
			continue
		}
		price := l.price
		if l.mixed {
			price = math.Round(l.revenue/float64(l.qty)*1e4) / 1e4
		}
		items = append(items, catalog.EventItem{ItemID: c.id, Quantity: l.qty, Price: price})
		rows = append(rows, l.rows)
	}
	if len(items) == 0 {
		return nil
	}
	typ := catalog.EventPurchase
	if in.refund {
		typ = catalog.EventRefund
	}
	parts := (len(items) + catalog.MaxEventItems - 1) / catalog.MaxEventItems
	if parts > 1 {
		p.splitInvoices++
		p.splitEventsOut += parts
	}
	for part := range parts {
		lo, hi := part*catalog.MaxEventItems, min((part+1)*catalog.MaxEventItems, len(items))
		n := 0
		for _, r := range rows[lo:hi] {
			n += int(r)
		}
		ev := catalog.Event{
			ID:        "or-" + in.no,
			Type:      typ,
			Time:      in.time,
			SessionID: "or-inv-" + in.no,
			UserID:    in.user,
			Items:     items[lo:hi:hi],
			OrderID:   in.no,
			Channel:   "web",
		}
		if part > 0 {
			ev.ID += "-" + strconv.Itoa(part+1)
		}
		if err := ev.Validate(); err != nil {
			b.fail(reasonInvalidEvent, LineError{in.firstLine, "", fmt.Sprintf("invoice %s: %v", in.no, err)})
			b.skip(reasonInvalidEvent, n-1)
			continue
		}
		ev.Normalize()
		b.rep.LinesUsed += n
		if err := b.addEvent(ctx, ev); err != nil {
			return err
		}
	}
	return nil
}

func (p *retailParser) item(c *retailCode) catalog.Item {
	title := c.id
	best := 0
	for d, n := range c.titles {
		if n > best || n == best && d < title {
			title, best = d, n
		}
	}
	title = cleanText(title, catalog.MaxTitleLen)
	if strings.TrimSpace(title) == "" {
		title = c.id
	}
	var price float64
	best = 0
	for v, n := range c.prices {
		if n > best || n == best && v < price {
			price, best = v, n
		}
	}
	costShare, stock := synthesize(c.id)
	return catalog.Item{
		ID:        c.id,
		Title:     title,
		Category:  []string{categoryOf(title)},
		Price:     price,
		Cost:      math.Round(price*costShare*100) / 100,
		Currency:  "GBP",
		Stock:     stock,
		Active:    true,
		Synthetic: retailSynthetic(),
		CreatedAt: c.first.UTC(),
		UpdatedAt: c.last.UTC(),
	}
}

// synthesize derives the cost share of the price and the stock level the
// data lacks, from the stock code alone so that every import agrees:
// cost share = 0.35 + 0.4u with u in [0, 1); stock 0 for about 5 % of
// items (to exercise out-of-stock filtering), else 1..500.
func synthesize(code string) (costShare float64, stock int) {
	u := float64(mix(fnv1a("cost/"+code))>>11) / (1 << 53)
	h := mix(fnv1a("stock/" + code))
	if h%100 < 5 {
		return 0.35 + 0.4*u, 0
	}
	return 0.35 + 0.4*u, 1 + int((h/100)%500)
}

func fnv1a(s string) uint64 {
	h := uint64(14695981039346656037)
	for i := 0; i < len(s); i++ {
		h ^= uint64(s[i])
		h *= 1099511628211
	}
	return h
}

// mix is the splitmix64 finaliser: FNV's low bits are weak for short,
// similar codes, and the stock share is taken from them.
func mix(h uint64) uint64 {
	h ^= h >> 30
	h *= 0xbf58476d1ce4e5b9
	h ^= h >> 27
	h *= 0x94d049bb133111eb
	h ^= h >> 31
	return h
}

// notNoun reports whether w is a word that ends many descriptions without
// naming the product: a colour, size or pattern ("JUMBO BAG RED RETROSPOT"
// is a bag).
func notNoun(w string) bool {
	switch w {
	case "RED", "PINK", "WHITE", "BLUE", "GREEN", "CREAM", "BLACK", "IVORY", "GOLD", "SILVER", "PURPLE",
		"ORANGE", "YELLOW", "BROWN", "GREY", "LILAC", "SMALL", "LARGE", "MEDIUM", "MINI", "JUMBO",
		"DESIGN", "RETROSPOT", "POLKADOT", "PAISLEY", "ASSORTED", "VINTAGE", "COLOUR", "COLOURS":
		return true
	}
	return false
}

// categoryOf synthesises a one-level category from a description: its last
// word that looks like a noun ("WHITE HANGING HEART T-LIGHT HOLDER" ->
// "HOLDER"), skipping numbers, measures and colour, size and pattern words.
func categoryOf(title string) string {
	words := strings.FieldsFunc(title, func(r rune) bool {
		return !unicode.IsLetter(r) && !unicode.IsDigit(r) && r != '-' && r != '\''
	})
	for i := len(words) - 1; i >= 0; i-- {
		w := strings.ToUpper(strings.Trim(words[i], "-'"))
		if utf8.RuneCountInString(w) < 2 || strings.ContainsFunc(w, unicode.IsDigit) || notNoun(w) {
			continue
		}
		return cleanText(w, catalog.MaxNameLen)
	}
	return "OTHER"
}

// cleanText makes s valid for the catalog: UTF-8, no NUL, at most limit
// bytes cut at a rune boundary.
func cleanText(s string, limit int) string {
	s = strings.ReplaceAll(strings.ToValidUTF8(s, "\uFFFD"), "\x00", "")
	if len(s) <= limit {
		return s
	}
	for limit > 0 && !utf8.RuneStart(s[limit]) {
		limit--
	}
	return s[:limit]
}

// Package demo generates a realistic demo shop: a catalog of a few thousand
// items in eight departments and a few months of shopper events over it. The
// server loads it when it runs on its embedded store without a database,
// and tests use it as a shop that behaves like a real one.
//
// The output is a pure function of Options: the same options give the same
// items and events, byte for byte, on every machine and run. The data has
// the structure recommenders learn from and business rules act on:
//
//   - popularity is Zipf-skewed, and a few items rise steeply in the last
//     seven days (trending);
//   - sessions stay mostly within one subcategory and drift to related
//     accessories; sign-ins persist tastes (departments, brands, price band)
//     across sessions, and some shoppers sign in mid-session;
//   - items are bought with specific complementary items (a phone with a case
//     that fits it, a coffee machine with beans and descaler), so "bought
//     together" differs from "popular";
//   - consumables are bought again a few weeks later; about 3 % of orders
//     are refunded a few days after the purchase;
//   - some items are out of stock or low in stock, a few are inactive (no
//     events after they were deactivated), some are only days old (cold
//     start), accessories for one phone model are incompatible with its
//     sibling models.
//
// Every field of every item is made up; nothing comes from a real shop.
package demo

import (
	"math/rand/v2"
	"time"

	"github.com/recs-server/recs/catalog"
)

// Options sizes the demo shop. Zero fields take their defaults.
type Options struct {
	Seed     int64     // default 1 (0 means 1)
	Items    int       // default 3000
	Days     int       // default 90: how many days of history
	End      time.Time // history ends here (exclusive); default 2026-11-01T00:00:00Z
	Visitors int       // default 6000 distinct shoppers (some signed in, most anonymous)
}

// Defaults of Options.
const (
	defaultSeed     = 1
	defaultItems    = 3000
	defaultDays     = 90
	defaultVisitors = 6000
)

// defaultEnd is the default end of the history. It is fixed, not the
// current time, so the output does not depend on when it is generated.
func defaultEnd() time.Time { return time.Date(2026, time.November, 1, 0, 0, 0, 0, time.UTC) }

// Shop is a generated catalog and its event history. Events are sorted by
// (Time, ID), every event references generated items only, and both items
// and events pass Validate; events are already normalized.
type Shop struct {
	Items  []catalog.Item
	Events []catalog.Event
}

func (o Options) withDefaults() Options {
	if o.Seed == 0 {
		o.Seed = defaultSeed
	}
	if o.Items <= 0 {
		o.Items = defaultItems
	}
	if o.Days <= 0 {
		o.Days = defaultDays
	}
	if o.End.IsZero() {
		o.End = defaultEnd()
	}
	o.End = o.End.UTC().Truncate(time.Microsecond)
	if o.Visitors <= 0 {
		o.Visitors = defaultVisitors
	}
	return o
}

// Generate builds the demo shop described by opt.
func Generate(opt Options) *Shop {
	opt = opt.withDefaults()
	g := &gen{
		opt:   opt,
		end:   opt.End.UnixMicro(),
		start: opt.End.UnixMicro() - int64(opt.Days)*usPerDay,
	}
	// Separate streams: the catalog does not change when only the history
	// options (Days, Visitors) do.
	g.makeItems(rand.New(rand.NewPCG(uint64(opt.Seed), streamItems)))
	g.makeEvents(rand.New(rand.NewPCG(uint64(opt.Seed), streamEvents)))
	return &Shop{Items: g.items, Events: g.finishEvents()}
}

const (
	streamItems  = 0x6974656d73 // "items"
	streamEvents = 0x6576656e7473

	usPerSec  = int64(time.Second / time.Microsecond)
	usPerHour = 3600 * usPerSec
	usPerDay  = 24 * usPerHour
)

// gen holds the state of one Generate call.
type gen struct {
	opt        Options
	start, end int64 // history window [start, end) in Unix microseconds

	subs      []subcat
	depts     []dept
	items     []catalog.Item
	meta      []itemMeta
	globalCum []float64
	deptCum   []float64 // cumulative popularity over departments
	trending  []int32

	// events
	r        *rand.Rand
	raws     []rawEvent
	sessions []sessionInfo
	nOrders  int32
	lines    lineArena
	cart     []cartLine
	dayStart []int64
	dayCum   []float64
	hourCum  []float64
}

type subcat struct {
	spec        *subcatSpec
	dept        int
	brands      []int // brand indices that make this subcategory
	brandCum    []float64
	complements []int
	items       []int32
	cum         []float64 // cumulative popularity over items
	byBrand     []brandItems
}

type brandItems struct {
	brand int
	items []int32
}

type dept struct {
	name   string
	subs   []int
	cum    []float64 // cumulative popularity over subs
	brands []int
}

// itemMeta is what the event simulation needs to know about an item.
type itemMeta struct {
	sub, brand, model, noun int
	// from and until bound when the item is on sale: created, and
	// deactivated (or the end of history).
	from, until int64
	weight      float64
	pct         float64 // price percentile within the subcategory
	partners    []partner
}

// partner is an item bought together with another one with probability p
// once the other is in the cart.
type partner struct {
	item int32
	p    float64
}

func (g *gen) avail(it int32, t int64) bool {
	m := &g.meta[it]
	return m.from <= t && t < m.until
}

// pickCum returns the index i with probability (cum[i]-cum[i-1])/cum[last],
// or -1 when cum is empty or all zero.
func pickCum(r *rand.Rand, cum []float64) int {
	n := len(cum)
	if n == 0 || cum[n-1] <= 0 {
		return -1
	}
	x := r.Float64() * cum[n-1]
	lo, hi := 0, n-1
	for lo < hi {
		mid := int(uint(lo+hi) >> 1)
		if cum[mid] > x {
			hi = mid
		} else {
			lo = mid + 1
		}
	}
	return lo
}

func cumulate(dst []float64, w func(i int) float64, n int) []float64 {
	dst = dst[:0]
	s := 0.0
	for i := range n {
		s += w(i)
		dst = append(dst, s)
	}
	return dst
}

// idStrings returns n ids prefix+zero-padded number, numbered from 1, so
// that their byte order is their numeric order. They share one backing
// string: one allocation for all of them.
func idStrings(prefix string, n, width int) []string {
	if d := digits(n); d > width {
		width = d
	}
	l := len(prefix) + width
	buf := make([]byte, 0, n*l)
	for i := 1; i <= n; i++ {
		buf = append(buf, prefix...)
		buf = appendPadded(buf, uint64(i), width)
	}
	all := string(buf)
	ids := make([]string, n)
	for i := range ids {
		ids[i] = all[i*l : (i+1)*l]
	}
	return ids
}

func digits(n int) int {
	d := 1
	for n >= 10 {
		n /= 10
		d++
	}
	return d
}

func appendPadded(dst []byte, v uint64, width int) []byte {
	var tmp [20]byte
	i := len(tmp)
	for v > 0 || i == len(tmp) {
		i--
		tmp[i] = byte('0' + v%10)
		v /= 10
	}
	for pad := width - (len(tmp) - i); pad > 0; pad-- {
		dst = append(dst, '0')
	}
	return append(dst, tmp[i:]...)
}

// lineArena hands out event item lines from large blocks, so 200k
// one-line events do not mean 200k allocations.
type lineArena struct{ buf []catalog.EventItem }

func (a *lineArena) take(n int) []catalog.EventItem {
	if len(a.buf)+n > cap(a.buf) {
		a.buf = make([]catalog.EventItem, 0, max(8192, n))
	}
	l := len(a.buf)
	a.buf = a.buf[:l+n]
	return a.buf[l : l+n : l+n]
}

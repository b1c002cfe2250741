package candidates

import (
	"fmt"
	"math"
	"testing"
	"time"

	"github.com/recs-server/recs/catalog"
)

// zipf draws item numbers in [0, n) with a 1/x density.
type zipf struct{ s uint64 }

func (z *zipf) next(n int) int {
	z.s = mix64(z.s)
	u := float64(z.s>>11) / (1 << 53)
	return min(int(math.Exp(u*math.Log(float64(n)))-1), n-1)
}

// synthetic makes an Online-Retail-sized history: nItems items, nOrders
// orders of about 20 lines (a few of several hundred), and nViews views
// in visits of about 6.
func synthetic(nItems, nOrders, nViews int) *History {
	ids := make([]string, nItems)
	for i := range ids {
		ids[i] = fmt.Sprintf("i%06d", i)
	}
	h := NewHistory(items(ids...), end.Add(-365*day), end)
	z := zipf{s: 1}
	at := end.Add(-360 * day)
	step := 360 * day / time.Duration(nOrders+nViews/6+1)
	e := catalog.Event{}
	for o := range nOrders {
		n := 1 + z.next(40)
		if o%200 == 0 {
			n = 300 + z.next(300)
		}
		e = catalog.Event{Type: catalog.EventPurchase, Time: at, OrderID: fmt.Sprintf("o%d", o), SessionID: "s"}
		e.Items = e.Items[:0]
		for range n {
			e.Items = append(e.Items, catalog.EventItem{ItemID: ids[z.next(nItems)], Quantity: 1})
		}
		h.Add(&e)
		at = at.Add(step)
	}
	for v := 0; v < nViews; v += 6 {
		sess := fmt.Sprintf("v%d", v)
		for k := range 6 {
			e = catalog.Event{Type: catalog.EventViewItem, Time: at.Add(time.Duration(k) * time.Minute), SessionID: sess,
				Items: []catalog.EventItem{{ItemID: ids[z.next(nItems)], Quantity: 1}}}
			h.Add(&e)
		}
		at = at.Add(step)
	}
	h.Finish()
	return h
}

func BenchmarkCoPurchaseOnlineRetailSized(b *testing.B) {
	h := synthetic(4000, 20000, 0)
	b.ReportAllocs()
	for b.Loop() {
		h.CoPurchase(CoOptions{})
	}
}

func BenchmarkCoView250k(b *testing.B) {
	h := synthetic(5000, 0, 250000)
	b.ReportAllocs()
	for b.Loop() {
		h.CoView(CoOptions{})
	}
}

func BenchmarkPopularity250k(b *testing.B) {
	h := synthetic(5000, 10000, 250000)
	b.ReportAllocs()
	for b.Loop() {
		h.Popularity(PopularityOptions{})
	}
}

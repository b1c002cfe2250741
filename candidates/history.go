// Package candidates holds the sources that gather candidate items for a
// request, and the batch computations behind them: co-purchase and co-view
// neighbour tables and popularity lists, computed from the events of one
// build window.
package candidates

import (
	"cmp"
	"fmt"
	"slices"
	"time"

	"github.com/recs-server/recs/catalog"
)

// VisitGap splits a session into visits: a pause longer than this starts a
// new visit (the usual 30-minute web-analytics rule). Sequences and co-view
// windows never cross a visit boundary.
const VisitGap = 30 * time.Minute

// History is the interaction history of one build window in compact form:
// items mapped to dense indices once, event lines as small structs, orders
// as baskets with their refunds applied. Add events in time order (as
// stores scan them), call Finish, then compute tables from it.
type History struct {
	from, to time.Time
	ids      []string
	index    map[string]int32
	active   []bool
	topCat   []int32 // per item: index into cats, -1 when uncategorised
	cats     []string

	sessions map[string]int32
	// nSessions numbers sessions, those without ids included.
	nSessions int32
	lines     []line // view, cart and checkout lines, in Add order
	orders    map[string]int32
	baskets   []basket
	refunds   []refund

	// After Finish: lines grouped by session (time order kept), split into
	// visits at VisitGap.
	visitLines []line
	visitStart []int32 // len visits+1
	finished   bool

	stats Stats
}

// Stats counts what a History was given and what it made of it.
type Stats struct {
	Events           int // events accepted
	OutsideWindow    int // events dropped for lying outside [from, to)
	Ignored          int // events of types no table uses (search, remove_from_cart, ...)
	UnknownItemLines int // item lines naming an item not in the catalogue
	Lines            int // view, cart and checkout item lines kept
	Sessions         int
	Visits           int // after Finish
	Orders           int // baskets after refunds (after Finish)
	RefundedLines    int // basket lines removed or reduced by a refund
	UnmatchedRefunds int // refund lines whose order or item is not in the window
}

type line struct {
	t    int64 // unix seconds
	item int32
	sess int32
	typ  catalog.EventType
}

type basket struct {
	t     int64 // time of the first purchase event of the order
	lines []orderLine
}

type orderLine struct {
	item int32
	qty  int32
}

type refund struct {
	order string
	item  int32
	qty   int32
}

// NewHistory prepares a history over the window [from, to) for the given
// catalogue. Items are numbered in the order given; events naming other
// items are counted and otherwise ignored.
func NewHistory(items []catalog.Item, from, to time.Time) *History {
	h := &History{
		from: from, to: to,
		ids:      make([]string, len(items)),
		index:    make(map[string]int32, len(items)),
		active:   make([]bool, len(items)),
		topCat:   make([]int32, len(items)),
		sessions: make(map[string]int32),
		orders:   make(map[string]int32),
	}
	catIndex := make(map[string]int32)
	for i := range items {
		it := &items[i]
		h.ids[i] = it.ID
		h.index[it.ID] = int32(i)
		h.active[i] = it.Active
		h.topCat[i] = -1
		if len(it.Category) > 0 && it.Category[0] != "" {
			c, ok := catIndex[it.Category[0]]
			if !ok {
				c = int32(len(h.cats))
				catIndex[it.Category[0]] = c
				h.cats = append(h.cats, it.Category[0])
			}
			h.topCat[i] = c
		}
	}
	return h
}

// Items is the number of catalogue items; indices run from 0 to Items()-1.
func (h *History) Items() int { return len(h.ids) }

// ItemID returns the id of item index i.
func (h *History) ItemID(i int32) string { return h.ids[i] }

// ItemIndex returns the dense index of an item id.
func (h *History) ItemIndex(id string) (int32, bool) {
	i, ok := h.index[id]
	return i, ok
}

// Stats returns the counts so far.
func (h *History) Stats() Stats { return h.stats }

// Add records one event. Events outside the window are dropped (and
// counted), never used: the window is the build's guard against leakage.
// Add keeps no reference to e or its item slice.
func (h *History) Add(e *catalog.Event) {
	if h.finished {
		panic("candidates: History.Add after Finish")
	}
	if e.Time.Before(h.from) || !e.Time.Before(h.to) {
		h.stats.OutsideWindow++
		return
	}
	switch e.Type {
	case catalog.EventViewItem, catalog.EventAddToCart, catalog.EventBeginCheckout:
		h.addLines(e)
	case catalog.EventPurchase:
		h.addPurchase(e)
	case catalog.EventRefund:
		h.addRefund(e)
	default:
		h.stats.Ignored++
		return
	}
	h.stats.Events++
}

func (h *History) sessionOf(e *catalog.Event) int32 {
	if e.SessionID == "" && e.UserID == "" {
		// Sent without consent, so stored without ids: a session of its
		// own, counted for popularity but paired with nothing.
		h.stats.Sessions++
		h.nSessions++
		return h.nSessions - 1
	}
	key := e.SessionID
	if key == "" {
		key = "\x00u:" + e.UserID // cannot collide with a (validated) session id
	}
	s, ok := h.sessions[key]
	if !ok {
		s = h.nSessions
		h.nSessions++
		h.sessions[key] = s
		h.stats.Sessions++
	}
	return s
}

func (h *History) addLines(e *catalog.Event) {
	s := h.sessionOf(e)
	t := e.Time.Unix()
	for _, li := range e.Items {
		it, ok := h.index[li.ItemID]
		if !ok {
			h.stats.UnknownItemLines++
			continue
		}
		h.lines = append(h.lines, line{t: t, item: it, sess: s, typ: e.Type})
		h.stats.Lines++
	}
}

func (h *History) addPurchase(e *catalog.Event) {
	var b *basket
	if e.OrderID != "" {
		if bi, ok := h.orders[e.OrderID]; ok {
			b = &h.baskets[bi] // an order split over several events
		} else {
			h.orders[e.OrderID] = int32(len(h.baskets))
		}
	}
	if b == nil {
		h.baskets = append(h.baskets, basket{t: e.Time.Unix()})
		b = &h.baskets[len(h.baskets)-1]
	}
	for _, li := range e.Items {
		it, ok := h.index[li.ItemID]
		if !ok {
			h.stats.UnknownItemLines++
			continue
		}
		q := int32(max(li.Quantity, 1))
		if k := slices.IndexFunc(b.lines, func(l orderLine) bool { return l.item == it }); k >= 0 {
			b.lines[k].qty += q
		} else {
			b.lines = append(b.lines, orderLine{item: it, qty: q})
		}
	}
}

func (h *History) addRefund(e *catalog.Event) {
	if e.OrderID == "" {
		h.stats.UnmatchedRefunds += len(e.Items)
		return
	}
	for _, li := range e.Items {
		it, ok := h.index[li.ItemID]
		if !ok {
			h.stats.UnknownItemLines++
			continue
		}
		// Quantity 0 (not normalised) means the whole line.
		h.refunds = append(h.refunds, refund{order: e.OrderID, item: it, qty: int32(li.Quantity)})
	}
}

// Finish applies refunds to their orders and groups the lines into visits.
// It must be called once, after the last Add.
func (h *History) Finish() {
	if h.finished {
		return
	}
	h.finished = true
	for _, r := range h.refunds {
		bi, ok := h.orders[r.order]
		if !ok {
			h.stats.UnmatchedRefunds++
			continue
		}
		b := &h.baskets[bi]
		k := slices.IndexFunc(b.lines, func(l orderLine) bool { return l.item == r.item })
		if k < 0 {
			h.stats.UnmatchedRefunds++
			continue
		}
		h.stats.RefundedLines++
		if r.qty <= 0 || r.qty >= b.lines[k].qty {
			b.lines = slices.Delete(b.lines, k, k+1)
		} else {
			b.lines[k].qty -= r.qty
		}
	}
	h.refunds = nil
	h.baskets = slices.DeleteFunc(h.baskets, func(b basket) bool { return len(b.lines) == 0 })
	h.orders = nil
	h.stats.Orders = len(h.baskets)

	// Counting sort by session keeps each session's lines in Add (time)
	// order.
	nSess := int(h.nSessions)
	start := make([]int32, nSess+1)
	for _, l := range h.lines {
		start[l.sess+1]++
	}
	for s := range nSess {
		start[s+1] += start[s]
	}
	pos := slices.Clone(start[:nSess])
	h.visitLines = make([]line, len(h.lines))
	for _, l := range h.lines {
		h.visitLines[pos[l.sess]] = l
		pos[l.sess]++
	}
	h.sessions = nil
	gap := int64(VisitGap / time.Second)
	for i, l := range h.visitLines {
		if i == 0 || l.sess != h.visitLines[i-1].sess || l.t-h.visitLines[i-1].t > gap {
			h.visitStart = append(h.visitStart, int32(i))
		}
	}
	h.visitStart = append(h.visitStart, int32(len(h.visitLines)))
	h.stats.Visits = len(h.visitStart) - 1
}

func (h *History) mustBeFinished() {
	if !h.finished {
		panic("candidates: History used before Finish")
	}
}

// Sequences returns the item sequences behavioural embeddings learn from:
// every visit's viewed and carted items in order (immediate repeats
// removed), then every basket's items (at most maxBasket of them, sampled
// deterministically from larger orders). Sequences of one item are left
// out.
func (h *History) Sequences(maxBasket int) [][]int32 {
	h.mustBeFinished()
	var seqs [][]int32
	var buf []int32
	for v := range len(h.visitStart) - 1 {
		buf = buf[:0]
		for _, l := range h.visitLines[h.visitStart[v]:h.visitStart[v+1]] {
			if l.typ != catalog.EventViewItem && l.typ != catalog.EventAddToCart {
				continue
			}
			if n := len(buf); n > 0 && buf[n-1] == l.item {
				continue
			}
			buf = append(buf, l.item)
		}
		if len(buf) >= 2 {
			seqs = append(seqs, slices.Clone(buf))
		}
	}
	for bi := range h.baskets {
		buf = h.basketItems(bi, maxBasket, buf[:0])
		if len(buf) >= 2 {
			seqs = append(seqs, slices.Clone(buf))
		}
	}
	return seqs
}

// basketItems appends the distinct items of basket bi in their order, at
// most maxBasket (> 0) of them: larger baskets keep the items with the
// smallest hash of (basket, item), a fixed pseudo-random sample.
func (h *History) basketItems(bi, maxBasket int, dst []int32) []int32 {
	b := &h.baskets[bi]
	n := len(dst)
	for _, l := range b.lines {
		dst = append(dst, l.item)
	}
	if maxBasket <= 0 || len(b.lines) <= maxBasket {
		return dst
	}
	items := dst[n:]
	key := func(it int32) uint64 { return mix64(uint64(bi)<<32 | uint64(uint32(it))) }
	slices.SortFunc(items, func(a, b int32) int { return cmp.Compare(key(a), key(b)) })
	items = items[:maxBasket]
	// Back to basket order, so sequences keep the order lines were added.
	order := make(map[int32]int, len(b.lines))
	for i, l := range b.lines {
		order[l.item] = i
	}
	slices.SortFunc(items, func(a, b int32) int { return cmp.Compare(order[a], order[b]) })
	return dst[:n+maxBasket]
}

// mix64 is the SplitMix64 finaliser.
func mix64(x uint64) uint64 {
	x += 0x9e3779b97f4a7c15
	x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9
	x = (x ^ (x >> 27)) * 0x94d049bb133111eb
	return x ^ (x >> 31)
}

// decay returns the weight of an event at unix time t: 1 at the end of the
// window, halving every halfLife before it; 1 everywhere when halfLife <= 0.
func (h *History) decay(t int64, halfLife time.Duration) float64 {
	if halfLife <= 0 {
		return 1
	}
	age := float64(h.to.Unix()-t) / halfLife.Seconds()
	return exp2(-age)
}

func (h *History) String() string {
	return fmt.Sprintf("history [%s, %s): %d items, %+v", h.from.Format(time.RFC3339), h.to.Format(time.RFC3339), len(h.ids), h.stats)
}

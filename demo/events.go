package demo

import (
	"cmp"
	"math"
	"math/rand/v2"
	"slices"
	"strings"
	"time"

	"github.com/recs-server/recs/catalog"
)

// Behaviour knobs of the simulated shoppers.
const (
	sessionsPerVisitorDay = 0.075 // mean sessions per visitor and day
	shareRegistered       = 0.28  // visitors with an account
	shareSignedIn         = 0.9   // sessions of registered visitors that sign in
	shareLateLogin        = 0.3   // signed-in sessions that start anonymous
	maxViews              = 15    // view_item events per session
	baseCartRate          = 0.032 // add_to_cart per view, before modifiers
	checkoutRate          = 0.5   // begin_checkout per session with a cart
	purchaseRate          = 0.75  // purchase per begin_checkout
	removeRate            = 0.08  // remove_from_cart per cart line
	refundRate            = 0.03  // refunded orders
	trendDays             = 7
	trendPeak             = 0.3 // share of sessions starting at a trending item at the end
)

var (
	deviceNames  = [...]string{"mobile", "desktop", "tablet"}
	deviceCum    = []float64{0.58, 0.92, 1}
	deviceCart   = [...]float64{0.85, 1.2, 1}     // add-to-cart propensity by device
	deviceLength = [...]float64{0.33, 0.24, 0.28} // geometric p of extra views: mobile sessions are shorter

	// weekdayWeight, Sunday first: busy Sundays and Mondays, quiet Saturdays.
	weekdayWeight = [...]float64{1.2, 1.1, 1, 1, 1, 0.9, 0.85}
	// hourWeight by UTC hour: quiet nights, a lunch bump, an evening peak.
	hourWeight = [...]float64{2, 1.2, 0.8, 0.6, 0.6, 0.9, 1.8, 3, 4, 4.5, 4.8, 5,
		5.5, 5.2, 4.8, 4.8, 5, 5.5, 6.2, 7, 7.8, 7.5, 5.5, 3.5}
)

// rawEvent is an event before sorting: the session's ids and context are
// looked up in gen.sessions when the final events are built.
type rawEvent struct {
	t     int64
	lines []catalog.EventItem
	query string
	seq   int32
	sess  int32
	order int32 // index of the order, -1 for none
	typ   catalog.EventType
	user  bool // carries the session's user id
	ctx   bool // carries the session's channel and device
}

type sessionInfo struct {
	id, user, channel, device string
}

// visitor is one shopper with persistent tastes. Anonymous visitors have
// them too; only signed-in sessions make them visible.
type visitor struct {
	user       string
	pref       [2]int // preferred departments
	brandPref  []int  // per department: preferred brand, or -1
	band       float64
	propensity float64
	device     int
	last       int32 // item to come back to, or -1
	refill     int32 // consumable to buy again, or -1
	refillAt   int64
}

// session is the state of the session being simulated.
type session struct {
	v       *visitor
	idx     int32
	t       int64
	device  int
	app     bool
	email   bool
	user    bool // signed in from event number loginAt on
	loginAt int
	n       int // events emitted
	views   int
	refill  int32
	done    bool // ran past the end of history
}

func (g *gen) makeEvents(r *rand.Rand) {
	g.r = r
	g.setupCalendar()
	g.raws = make([]rawEvent, 0, g.opt.Visitors*g.opt.Days/2)
	sessKey := r.Uint64()
	var starts []int64
	v := visitor{brandPref: make([]int, len(g.depts))}
	users := 0
	for range g.opt.Visitors {
		registered := r.Float64() < shareRegistered
		v.user = ""
		if registered {
			users++
			var buf [16]byte
			v.user = string(appendPadded(append(buf[:0], "u-"...), uint64(users), 6))
		}
		g.newVisitor(&v, registered)

		activity := math.Exp(0.9*r.NormFloat64() - 0.405) // mean 1
		if registered {
			activity *= 1.6
		}
		n := max(1, poisson(r, sessionsPerVisitorDay*float64(g.opt.Days)*activity))
		n = min(n, 4*g.opt.Days)
		starts = starts[:0]
		for range n {
			starts = append(starts, g.sessionStart())
		}
		slices.Sort(starts)
		free := int64(math.MinInt64)
		for _, t := range starts {
			if t < free {
				t = free + int64(r.ExpFloat64()*float64(usPerHour))
			}
			if t >= g.end {
				break
			}
			var buf [18]byte
			id := string(appendHex(append(buf[:0], "s-"...), mix64(sessKey+uint64(len(g.sessions)))))
			last := g.session(&v, t, id)
			free = last + 30*60*usPerSec
		}
	}
}

func (g *gen) newVisitor(v *visitor, registered bool) {
	r := g.r
	v.pref[0] = max(0, pickCum(r, g.deptCum))
	v.pref[1] = v.pref[0]
	for try := 0; try < 10 && v.pref[1] == v.pref[0]; try++ {
		v.pref[1] = max(0, pickCum(r, g.deptCum))
	}
	for d := range v.brandPref {
		v.brandPref[d] = -1
		if bs := g.depts[d].brands; len(bs) > 0 && r.Float64() < 0.6 {
			v.brandPref[d] = bs[r.IntN(len(bs))]
		}
	}
	switch x := r.Float64(); {
	case x < 0.35:
		v.band = 0.2
	case x < 0.8:
		v.band = 0.5
	default:
		v.band = 0.8
	}
	v.propensity = min(4, math.Exp(0.5*r.NormFloat64()-0.125))
	if registered {
		v.propensity *= 1.3
	}
	v.device = pickCum(r, deviceCum)
	v.last, v.refill, v.refillAt = -1, -1, 0
}

// setupCalendar prepares the weekly and daily seasonality of session starts.
func (g *gen) setupCalendar() {
	first := g.start - mod(g.start, usPerDay)
	days := 0
	for d := first; d < g.end; d += usPerDay {
		days++
	}
	g.dayStart = g.dayStart[:0]
	g.dayCum = g.dayCum[:0]
	s := 0.0
	k := 0
	for d := first; d < g.end; d += usPerDay {
		w := weekdayWeight[time.UnixMicro(d).UTC().Weekday()]
		w *= 1 + 0.2*float64(k)/float64(days) // the shop grows a little
		lo, hi := max(d, g.start), min(d+usPerDay, g.end)
		w *= float64(hi-lo) / float64(usPerDay)
		s += w
		g.dayStart = append(g.dayStart, d)
		g.dayCum = append(g.dayCum, s)
		k++
	}
	g.hourCum = cumulate(g.hourCum, func(h int) float64 { return hourWeight[h] }, len(hourWeight))
}

func mod(a, b int64) int64 {
	m := a % b
	if m < 0 {
		m += b
	}
	return m
}

func (g *gen) sessionStart() int64 {
	r := g.r
	for range 20 {
		d := g.dayStart[pickCum(r, g.dayCum)]
		h := int64(pickCum(r, g.hourCum))
		t := d + h*usPerHour + r.Int64N(usPerHour)
		if t >= g.start && t < g.end {
			return t
		}
	}
	return g.start + r.Int64N(g.end-g.start)
}

// session simulates one visit starting at t and returns the time of its
// last event.
func (g *gen) session(v *visitor, t int64, id string) int64 {
	r := g.r
	s := session{v: v, idx: int32(len(g.sessions)), t: t, refill: -1}
	s.device = v.device
	if r.Float64() < 0.25 {
		s.device = pickCum(r, deviceCum)
	}
	info := sessionInfo{id: id, device: deviceNames[s.device], channel: "web"}
	switch x := r.Float64(); {
	case s.device != 1 && x < 0.25:
		s.app, info.channel = true, "app"
	case x > 0.92:
		s.email, info.channel = true, "email"
	}
	if v.user != "" && r.Float64() < shareSignedIn {
		s.user, info.user = true, v.user
		if r.Float64() < shareLateLogin {
			s.loginAt = 1 + r.IntN(5)
		}
	} else {
		s.loginAt = math.MaxInt
	}
	g.sessions = append(g.sessions, info)

	anchor := g.anchor(&s)
	if anchor < 0 {
		return t
	}
	intent := g.meta[anchor].sub
	searchP := 0.22
	if s.device == 1 {
		searchP = 0.32
	}
	if !s.email && r.Float64() < searchP {
		g.emit(&s, catalog.EventSearch, nil, g.query(anchor), -1)
		s.t += 5*usPerSec + int64(r.ExpFloat64()*float64(15*usPerSec))
	}

	nViews := 1
	if r.Float64() >= 0.22 { // not a bounce
		nViews = 2 + geometric(r, deviceLength[s.device])
	}
	cur := anchor
	for i := 0; i < nViews && !s.done; i++ {
		if !g.view(&s, cur) {
			break
		}
		g.maybeCart(&s, cur)
		s.t += dwell(r)
		next := g.next(&s, cur, &intent)
		if next < 0 {
			break
		}
		cur = next
	}
	g.checkout(&s)
	if v.last < 0 || r.Float64() < 0.5 {
		v.last = anchor
	}
	return s.t
}

func dwell(r *rand.Rand) int64 {
	return 8*usPerSec + min(int64(r.ExpFloat64()*float64(40*usPerSec)), 15*60*usPerSec)
}

// anchor picks the item a session starts at: a trending item, a consumable
// due again, the item the visitor looked at last time, or one from the
// visitor's departments, brands and price band.
func (g *gen) anchor(s *session) int32 {
	r, v := g.r, s.v
	if q := g.trendShare(s.t); q > 0 && len(g.trending) > 0 && r.Float64() < q {
		if it := g.trending[r.IntN(len(g.trending))]; g.avail(it, s.t) {
			return it
		}
	}
	if v.refill >= 0 && s.t >= v.refillAt && r.Float64() < 0.6 && g.avail(v.refill, s.t) {
		s.refill = v.refill
		v.refill = -1
		return s.refill
	}
	if v.last >= 0 && r.Float64() < 0.15 && g.avail(v.last, s.t) {
		return v.last
	}
	if sub := g.pickSub(g.pickDept(v)); sub >= 0 {
		if it := g.pickItem(v, sub, s.t); it >= 0 {
			return it
		}
	}
	return g.pickGlobal(s.t)
}

// trendShare is the share of sessions that start at a trending item: zero
// until trendDays before the end, then rising linearly.
func (g *gen) trendShare(t int64) float64 {
	from := g.end - trendDays*usPerDay
	if t < from {
		return 0
	}
	return trendPeak * float64(t-from) / float64(trendDays*usPerDay)
}

func (g *gen) pickDept(v *visitor) int {
	switch x := g.r.Float64(); {
	case x < 0.5:
		return v.pref[0]
	case x < 0.75:
		return v.pref[1]
	}
	return max(0, pickCum(g.r, g.deptCum))
}

func (g *gen) pickSub(d int) int {
	k := pickCum(g.r, g.depts[d].cum)
	if k < 0 {
		return -1
	}
	return g.depts[d].subs[k]
}

// pickItem draws an item of subcategory sub on sale at t, by popularity,
// leaning towards the visitor's brand and price band; -1 if none is found.
func (g *gen) pickItem(v *visitor, sub int, t int64) int32 {
	r := g.r
	sc := &g.subs[sub]
	if len(sc.items) == 0 {
		return -1
	}
	for try := range 8 {
		var it int32 = -1
		if b := v.brandPref[sc.dept]; b >= 0 && r.Float64() < 0.3 {
			for k := range sc.byBrand {
				if sc.byBrand[k].brand == b {
					l := sc.byBrand[k].items
					it = l[r.IntN(len(l))]
				}
			}
		}
		if it < 0 {
			it = sc.items[pickCum(r, sc.cum)]
		}
		if !g.avail(it, t) {
			continue
		}
		if try < 5 && math.Abs(g.meta[it].pct-v.band) > 0.3 && r.Float64() < 0.65 {
			continue // outside the visitor's price band
		}
		return it
	}
	return -1
}

func (g *gen) pickGlobal(t int64) int32 {
	for range 8 {
		k := pickCum(g.r, g.globalCum)
		if k < 0 {
			return -1
		}
		if it := int32(k); g.avail(it, t) {
			return it
		}
	}
	return -1
}

// next picks the item viewed after cur: mostly the same subcategory, then
// the same department, an accessory of cur, a new search, or something
// popular.
func (g *gen) next(s *session, cur int32, intent *int) int32 {
	r := g.r
	var it int32 = -1
	switch x := r.Float64(); {
	case x < 0.6:
		it = g.pickItem(s.v, *intent, s.t)
	case x < 0.74:
		if sub := g.pickSub(g.subs[*intent].dept); sub >= 0 {
			it = g.pickItem(s.v, sub, s.t)
		}
	case x < 0.86:
		if ps := g.meta[cur].partners; len(ps) > 0 {
			if p := ps[r.IntN(len(ps))].item; g.avail(p, s.t) {
				it = p
			}
		}
	case x < 0.93:
		if sub := g.pickSub(g.pickDept(s.v)); sub >= 0 {
			if it = g.pickItem(s.v, sub, s.t); it >= 0 {
				*intent = sub
				g.emit(s, catalog.EventSearch, nil, g.query(it), -1)
				s.t += 5*usPerSec + int64(r.ExpFloat64()*float64(10*usPerSec))
			}
		}
	default:
		it = g.pickGlobal(s.t)
	}
	if it < 0 || it == cur {
		it = g.pickItem(s.v, *intent, s.t)
	}
	return it
}

func (g *gen) view(s *session, it int32) bool {
	if s.views >= maxViews {
		return false
	}
	l := g.line(it, 1)
	if !g.emit(s, catalog.EventViewItem, l, "", -1) {
		return false
	}
	s.views++
	return true
}

func (g *gen) line(it int32, qty int) []catalog.EventItem {
	l := g.lines.take(1)
	l[0] = catalog.EventItem{ItemID: g.items[it].ID, Quantity: qty, Price: g.items[it].Price}
	return l
}

func (g *gen) inCart(it int32) bool {
	for i := range g.cart {
		if g.cart[i].item == it {
			return true
		}
	}
	return false
}

// maybeCart adds the viewed item to the cart with a probability that
// depends on the visitor, the device and the price, and then, with each
// partner's own probability, the items bought together with it.
func (g *gen) maybeCart(s *session, it int32) {
	r := g.r
	if g.inCart(it) {
		return
	}
	p := baseCartRate * s.v.propensity * deviceCart[s.device]
	switch pct := g.meta[it].pct; {
	case pct < 0.3:
		p *= 1.3
	case pct > 0.7:
		p *= 0.75
	}
	if s.app {
		p *= 1.2
	}
	if it == s.refill {
		p = 0.8 // came back to buy it again
	}
	if r.Float64() >= p {
		return
	}
	s.t += 3*usPerSec + int64(r.ExpFloat64()*float64(8*usPerSec))
	if !g.addToCart(s, it) {
		return
	}
	for _, pt := range g.meta[it].partners {
		if r.Float64() >= pt.p || g.inCart(pt.item) {
			continue
		}
		s.t += 5*usPerSec + int64(r.ExpFloat64()*float64(20*usPerSec))
		if !g.avail(pt.item, s.t) {
			continue
		}
		if r.Float64() < 0.6 {
			g.view(s, pt.item)
			s.t += 5*usPerSec + int64(r.ExpFloat64()*float64(20*usPerSec))
		}
		g.addToCart(s, pt.item)
	}
}

func (g *gen) addToCart(s *session, it int32) bool {
	qty := 1
	x := g.r.Float64()
	switch {
	case g.items[it].Consumable && x < 0.3:
		qty = 2 + g.r.IntN(2)
	case x < 0.04 && g.items[it].Price < 50:
		qty = 2
	}
	if !g.emit(s, catalog.EventAddToCart, g.line(it, qty), "", -1) {
		return false
	}
	g.cart = append(g.cart, cartLine{item: it, qty: qty})
	return true
}

// checkout ends a session with a cart: some lines are removed, the rest is
// abandoned or checked out, and most checkouts become orders.
func (g *gen) checkout(s *session) {
	r := g.r
	defer func() { g.cart = g.cart[:0] }()
	if len(g.cart) == 0 || s.done {
		return
	}
	for i := 0; i < len(g.cart); {
		if r.Float64() < removeRate {
			s.t += 5*usPerSec + int64(r.ExpFloat64()*float64(30*usPerSec))
			g.emit(s, catalog.EventRemoveFromCart, g.line(g.cart[i].item, g.cart[i].qty), "", -1)
			g.cart = slices.Delete(g.cart, i, i+1)
			continue
		}
		i++
	}
	if len(g.cart) == 0 {
		return
	}
	p := checkoutRate
	switch {
	case s.device == 1:
		p *= 1.15
	case s.device == 0:
		p *= 0.85
	}
	if s.app || s.email {
		p *= 1.15
	}
	if s.refill >= 0 && g.inCart(s.refill) {
		p = 0.85
	}
	abandon := func() { s.v.last = g.cart[0].item }
	if r.Float64() >= p {
		abandon()
		return
	}
	s.t += 20*usPerSec + int64(r.ExpFloat64()*float64(60*usPerSec))
	if s.user && s.n < s.loginAt {
		s.loginAt = s.n // signs in to check out
	}
	if !g.emit(s, catalog.EventBeginCheckout, g.cartLines(g.cart), "", -1) {
		return
	}
	if r.Float64() >= purchaseRate {
		abandon()
		return
	}
	s.t += 60*usPerSec + int64(r.ExpFloat64()*float64(120*usPerSec))
	// An item may have been deactivated while the shopper was paying.
	kept := g.cart[:0]
	for _, l := range g.cart {
		if g.avail(l.item, s.t) {
			kept = append(kept, l)
		}
	}
	g.cart = kept
	if len(kept) == 0 {
		return
	}
	order := g.nOrders
	if !g.emit(s, catalog.EventPurchase, g.cartLines(kept), "", order) {
		return
	}
	g.nOrders++
	signedIn := s.user && s.n > s.loginAt // the purchase carried the user id
	for _, l := range kept {
		if g.items[l.item].Consumable {
			s.v.refill = l.item
			s.v.refillAt = s.t + 18*usPerDay + r.Int64N(24*usPerDay)
		}
	}
	if r.Float64() < refundRate {
		g.refund(s, order, kept, signedIn)
	}
}

// refund returns an order, or one line of it, a few days later, unless
// that is after the end of history.
func (g *gen) refund(s *session, order int32, lines []cartLine, signedIn bool) {
	r := g.r
	t := s.t + usPerDay + r.Int64N(13*usPerDay)
	if t >= g.end {
		return
	}
	if len(lines) > 1 && r.Float64() < 0.3 {
		k := r.IntN(len(lines))
		lines = lines[k : k+1]
	}
	var refunded []cartLine
	for _, l := range lines {
		if g.avail(l.item, t) {
			refunded = append(refunded, l)
		}
	}
	if len(refunded) == 0 {
		return
	}
	g.raws = append(g.raws, rawEvent{
		t: t, lines: g.cartLines(refunded), seq: int32(len(g.raws)), sess: s.idx, order: order,
		typ: catalog.EventRefund, user: signedIn,
	})
}

// cartLine is one item in the cart being simulated.
type cartLine struct {
	item int32
	qty  int
}

func (g *gen) cartLines(cart []cartLine) []catalog.EventItem {
	l := g.lines.take(len(cart))
	for i, c := range cart {
		l[i] = catalog.EventItem{ItemID: g.items[c.item].ID, Quantity: c.qty, Price: g.items[c.item].Price}
	}
	return l
}

// emit appends an event of the session at the session's current time;
// it returns false, and ends the session, once that is past the history.
func (g *gen) emit(s *session, typ catalog.EventType, lines []catalog.EventItem, query string, order int32) bool {
	if s.done || s.t >= g.end {
		s.done = true
		return false
	}
	g.raws = append(g.raws, rawEvent{
		t: s.t, lines: lines, query: query, seq: int32(len(g.raws)), sess: s.idx, order: order,
		typ: typ, user: s.user && s.n >= s.loginAt, ctx: true,
	})
	s.n++
	return true
}

// query is what a shopper looking for it might type into the search box.
func (g *gen) query(it int32) string {
	r := g.r
	m := &g.meta[it]
	spec := g.subs[m.sub].spec
	noun := spec.nouns[m.noun]
	var q string
	switch x := r.Float64(); {
	case x < 0.45:
		q = noun
	case x < 0.6:
		q = brandTable[m.brand].name + " " + noun
	case x < 0.72 && m.model >= 0:
		q = modelTable[m.model].name + " " + noun
	case x < 0.82 && len(spec.colours) > 0:
		q = spec.colours[r.IntN(len(spec.colours))] + " " + noun
	case x < 0.9 && len(spec.adjs) > 0:
		q = spec.adjs[r.IntN(len(spec.adjs))] + " " + noun
	default:
		q = [...]string{"cheap ", "best ", "gift ", "sale "}[r.IntN(4)] + noun
	}
	return strings.ToLower(q)
}

// finishEvents sorts the raw events by time and builds the final events
// with ids that increase with time.
func (g *gen) finishEvents() []catalog.Event {
	raws := g.raws
	slices.SortFunc(raws, func(a, b rawEvent) int {
		if c := cmp.Compare(a.t, b.t); c != 0 {
			return c
		}
		return cmp.Compare(a.seq, b.seq)
	})
	ids := idStrings("ev-", len(raws), 7)
	orderIDs := idStrings("o-", int(g.nOrders), 6)
	orderOf := make([]int32, g.nOrders) // order index -> position in time, +1
	nextOrder := int32(0)
	out := make([]catalog.Event, len(raws))
	for k := range raws {
		rw := &raws[k]
		si := &g.sessions[rw.sess]
		e := &out[k]
		*e = catalog.Event{
			ID:        ids[k],
			Type:      rw.typ,
			Time:      time.UnixMicro(rw.t).UTC(),
			SessionID: si.id,
			Items:     rw.lines,
			Query:     rw.query,
		}
		if rw.user {
			e.UserID = si.user
		}
		if rw.ctx {
			e.Channel, e.Device = si.channel, si.device
		}
		if rw.order >= 0 {
			if orderOf[rw.order] == 0 {
				nextOrder++
				orderOf[rw.order] = nextOrder
			}
			e.OrderID = orderIDs[orderOf[rw.order]-1]
		}
	}
	g.raws = nil
	return out
}

// poisson draws a Poisson variate with mean lambda.
func poisson(r *rand.Rand, lambda float64) int {
	if lambda > 30 {
		return max(0, int(math.Round(lambda+math.Sqrt(lambda)*r.NormFloat64())))
	}
	l, k, p := math.Exp(-lambda), 0, 1.0
	for {
		p *= r.Float64()
		if p <= l {
			return k
		}
		k++
	}
}

// geometric draws the number of failures before the first success with
// success probability p.
func geometric(r *rand.Rand, p float64) int {
	return int(math.Floor(math.Log(1-r.Float64()) / math.Log(1-p)))
}

// mix64 is the SplitMix64 finalizer: a bijection, so distinct inputs give
// distinct session ids that still look random.
func mix64(x uint64) uint64 {
	x ^= x >> 30
	x *= 0xbf58476d1ce4e5b9
	x ^= x >> 27
	x *= 0x94d049bb133111eb
	x ^= x >> 31
	return x
}

func appendHex(dst []byte, v uint64) []byte {
	const hex = "0123456789abcdef"
	for shift := 60; shift >= 0; shift -= 4 {
		dst = append(dst, hex[(v>>uint(shift))&0xf])
	}
	return dst
}
